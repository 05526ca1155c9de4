//! The built-in plugins, one module each, and what they share: reading settings, wording an
//! alert, escaping, and adding up the outcome of several sends.

pub mod discord;
pub mod jira;
pub mod mail;
pub mod signed_chat;
pub mod slack;
pub mod webhooks;

use errhound_domain::alerts::{Reason, Trigger, WorkflowNotice};
use errhound_domain::plugin::{Notification, NotifiedIssue, PluginError, SettingValues};

/// The version of every built-in plugin: Errhound's own.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The text value of a required setting, or a configuration error naming it.
pub(crate) fn required<'a>(
    settings: &'a SettingValues,
    key: &str,
    plugin: &str,
) -> Result<&'a str, PluginError> {
    settings
        .text(key)
        .ok_or_else(|| PluginError::Config(format!("{plugin}: the setting {key} is not set")))
}

/// "ERROR: title".
pub(crate) fn headline(issue: &NotifiedIssue) -> String {
    format!(
        "{}: {}",
        issue.level.as_str().to_uppercase(),
        one_line(&issue.title)
    )
}

/// What happened, as a phrase.
pub(crate) fn what_happened(reason: Reason) -> &'static str {
    match reason {
        Reason::Alert(Trigger::Created) => "New issue",
        Reason::Alert(Trigger::Regressed) => "Regression",
        Reason::Alert(Trigger::Reappeared) => "Issue came back",
        Reason::Alert(Trigger::Seen) => "Issue seen",
        Reason::Workflow(WorkflowNotice::Assigned) => "Assigned",
        Reason::Workflow(WorkflowNotice::Commented) => "New comment",
        Reason::Workflow(WorkflowNotice::ResolvedRegressed) => {
            "Regression of an issue you resolved"
        }
    }
}

/// The digest's title: "3 new alerts from Shop".
pub(crate) fn digest_title(notification: &Notification) -> String {
    let n = notification.issues.len();
    let alerts = if n == 1 { "alert" } else { "alerts" };
    format!(
        "{n} new {alerts} from {}",
        one_line(&notification.project.name)
    )
}

/// `text` on one line (line breaks become spaces).
pub(crate) fn one_line(text: &str) -> String {
    text.replace(['\r', '\n'], " ")
}

/// At most `max` characters of `text`, with `…` when cut.
pub(crate) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max.saturating_sub(1)).collect();
    cut.push('…');
    cut
}

/// `text` escaped for HTML (element content and quoted attribute values).
pub(crate) fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A frame as one line: `function in file:line`.
pub(crate) fn frame_line(frame: &errhound_domain::plugin::FrameSummary) -> String {
    let function = frame.function.as_deref().unwrap_or("?");
    match (&frame.filename, frame.lineno) {
        (Some(file), Some(line)) => format!("{function} in {file}:{line}"),
        (Some(file), None) => format!("{function} in {file}"),
        _ => function.to_owned(),
    }
}

/// The outcome of sending to several targets: success when all succeeded, else the first
/// failure (a retryable one first, so the delivery is retried when any target may still
/// succeed), saying how many failed.
pub(crate) fn combine(results: Vec<Result<(), PluginError>>) -> Result<(), PluginError> {
    let total = results.len();
    let failures: Vec<PluginError> = results.into_iter().filter_map(Result::err).collect();
    if failures.is_empty() {
        return Ok(());
    }
    let count = failures.len();
    let first = failures
        .iter()
        .find(|e| e.is_retryable())
        .unwrap_or(&failures[0])
        .clone();
    if total == 1 {
        return Err(first);
    }
    let prefix = format!("{count} of {total} sends failed; ");
    Err(match first {
        PluginError::Config(m) => PluginError::Config(format!("{prefix}{m}")),
        PluginError::Unreachable(m) => PluginError::Unreachable(format!("{prefix}{m}")),
        PluginError::Refused { detail, retry } => PluginError::Refused {
            detail: format!("{prefix}{detail}"),
            retry,
        },
        PluginError::Misbehaved(m) => PluginError::Misbehaved(format!("{prefix}{m}")),
    })
}

/// The idempotency key of one part of a delivery (one issue of a digest, one recipient):
/// the delivery's key alone when there is one part, else the key and the part.
pub(crate) fn part_key(
    idempotency_key: &str,
    part: impl std::fmt::Display,
    parts: usize,
) -> String {
    if parts == 1 {
        idempotency_key.to_owned()
    } else {
        format!("{idempotency_key}.{part}")
    }
}

/// The current time in Unix seconds.
pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use super::*;

    #[test]
    fn html_is_escaped_and_text_cut() {
        assert_eq!(
            escape_html("<script>\"x\" & 'y'</script>"),
            "&lt;script&gt;&quot;x&quot; &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(truncate("abcdef", 4), "abc…");
        assert_eq!(truncate("abc", 4), "abc");
    }

    #[test]
    fn several_failures_report_a_retryable_one_first() {
        let outcome = combine(vec![
            Ok(()),
            Err(PluginError::Refused {
                detail: "400".into(),
                retry: false,
            }),
            Err(PluginError::Unreachable("down".into())),
        ]);
        let err = outcome.unwrap_err();
        assert!(err.is_retryable());
        assert!(err.to_string().contains("2 of 3"), "{err}");
        assert!(combine(vec![Ok(()), Ok(())]).is_ok());
    }
}
