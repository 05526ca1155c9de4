//! Server-side fingerprinting rules (Sentry's `fingerprintingRules` project field), e.g.
//!
//! ```text
//! # database outages are one issue
//! error.type:DatabaseError -> database-error
//! message:"*connection refused*" -> connection-refused title="Connection refused"
//! ```
//!
//! Matched rules overwrite the event's `fingerprint` before grouping.

use crate::settings::RuleError;

/// A project's parsed fingerprinting rules, with the text they came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FingerprintingRules {
    text: String,
}

impl FingerprintingRules {
    /// Parses rule text; errors name the line and the reason.
    pub fn parse(text: &str) -> Result<FingerprintingRules, RuleError> {
        match text.lines().enumerate().find(|(_, l)| {
            let l = l.trim();
            !l.is_empty() && !l.starts_with('#')
        }) {
            None => Ok(FingerprintingRules {
                text: text.to_owned(),
            }),
            Some((index, _)) => Err(RuleError {
                line: index + 1,
                message: "fingerprinting rules are not supported yet".to_owned(),
            }),
        }
    }

    /// The rule text as the user wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }
}
