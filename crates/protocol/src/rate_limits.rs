//! The `X-Sentry-Rate-Limits` response header (protocol.md §5).
//!
//! Each limit is `retry_after:categories:scope:reason_code`; categories are `;`-separated and an
//! empty list means every category. SDKs stop sending the named categories for `retry_after`
//! seconds, so the server only ever emits it on purpose.

/// One rate limit to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimit {
    /// Seconds until the client may send again.
    pub retry_after_secs: u64,
    /// Data categories (`error`, `transaction`, ...); empty means all.
    pub categories: Vec<&'static str>,
    /// `organization`, `project` or `key`.
    pub scope: &'static str,
    /// A machine-readable reason, e.g. `backlog_full`.
    pub reason_code: &'static str,
}

impl RateLimit {
    /// Formats the limit as one entry of the header value.
    pub fn header_value(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.retry_after_secs,
            self.categories.join(";"),
            self.scope,
            self.reason_code
        )
    }
}

/// Formats several limits into one header value.
pub fn header_value(limits: &[RateLimit]) -> String {
    limits
        .iter()
        .map(RateLimit::header_value)
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_like_relay() {
        let limits = [
            RateLimit {
                retry_after_secs: 60,
                categories: vec!["error", "transaction"],
                scope: "organization",
                reason_code: "quota_exceeded",
            },
            RateLimit {
                retry_after_secs: 5,
                categories: vec![],
                scope: "organization",
                reason_code: "backlog_full",
            },
        ];
        assert_eq!(
            header_value(&limits),
            "60:error;transaction:organization:quota_exceeded, 5::organization:backlog_full"
        );
    }
}
