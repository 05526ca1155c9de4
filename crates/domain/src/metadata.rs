//! What an issue is called: title, culprit and metadata, derived from a normalized event the way
//! Sentry's event types do (`ErrorEvent`, `DefaultEvent`, `get_culprit`).

use serde_json::{Value, json};

use crate::grouping::crash_frame;
use crate::value::{get_str, truncate_chars, values};

/// Longest culprit, in characters.
const MAX_CULPRIT_CHARS: usize = 200;
/// Longest part of an exception value or message shown in a title, in characters.
const MAX_TITLE_VALUE_CHARS: usize = 100;
/// Longest metadata value, in characters.
const MAX_METADATA_VALUE_CHARS: usize = 1024;

/// Display fields of an event and of the issue it opens.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMetadata {
    /// `error` (has an exception) or `default`.
    pub event_type: &'static str,
    /// `KeyError: 'sku-123'`, or the message's first line.
    pub title: String,
    /// Where it happened: `shopapp.orders in lookup`, the transaction, or the URL.
    pub culprit: String,
    /// Sentry's metadata object (`type`, `value`, `filename`, `function` or `title`).
    pub metadata: Value,
}

/// Derives the display fields of a normalized event.
pub fn derive_metadata(event: &Value) -> EventMetadata {
    let exception = values(event.get("exception")).last();
    let culprit = culprit(event);
    match exception {
        Some(exception) => {
            let ty = exception.get("type").and_then(Value::as_str);
            let value = exception
                .get("value")
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|v| !v.is_empty());
            let frame = crash_frame(event);
            let filename = frame
                .and_then(|f| f.get("filename").or_else(|| f.get("abs_path")))
                .and_then(Value::as_str);
            let function = frame
                .and_then(|f| f.get("function"))
                .and_then(Value::as_str);
            let title = match (ty, value) {
                (Some(ty), Some(value)) => {
                    let first_line = value.lines().next().unwrap_or(value);
                    format!(
                        "{ty}: {}",
                        truncate_with_ellipsis(first_line, MAX_TITLE_VALUE_CHARS)
                    )
                }
                (Some(ty), None) => ty.to_owned(),
                (None, _) => function.unwrap_or("<unknown>").to_owned(),
            };
            let mut metadata = json!({});
            if let Some(ty) = ty {
                metadata["type"] = json!(ty);
            }
            if let Some(value) = value {
                metadata["value"] = json!(truncate_chars(value, MAX_METADATA_VALUE_CHARS));
            }
            if let Some(filename) = filename {
                metadata["filename"] = json!(filename);
            }
            if let Some(function) = function {
                metadata["function"] = json!(function);
            }
            EventMetadata {
                event_type: "error",
                title,
                culprit,
                metadata,
            }
        }
        None => {
            let message = get_str(event, &["logentry", "formatted"])
                .or_else(|| get_str(event, &["logentry", "message"]))
                .map(str::trim)
                .filter(|m| !m.is_empty());
            let title = match message {
                Some(message) => {
                    let first_line = message.lines().next().unwrap_or(message);
                    truncate_with_ellipsis(first_line, MAX_TITLE_VALUE_CHARS)
                }
                None => "<unlabeled event>".to_owned(),
            };
            EventMetadata {
                event_type: "default",
                metadata: json!({ "title": title }),
                title,
                culprit,
            }
        }
    }
}

fn truncate_with_ellipsis(text: &str, max_chars: usize) -> String {
    let cut = truncate_chars(text, max_chars);
    if cut.len() < text.len() {
        format!("{cut}...")
    } else {
        cut.to_owned()
    }
}

/// Sentry's `get_culprit`: the SDK's culprit, else the transaction, else the crash frame, else
/// the request URL.
fn culprit(event: &Value) -> String {
    let explicit = get_str(event, &["culprit"]).or_else(|| get_str(event, &["transaction"]));
    let culprit = match explicit {
        Some(c) => c.to_owned(),
        None => frame_culprit(event)
            .or_else(|| get_str(event, &["request", "url"]).map(str::to_owned))
            .unwrap_or_default(),
    };
    truncate_chars(&culprit, MAX_CULPRIT_CHARS).to_owned()
}

fn frame_culprit(event: &Value) -> Option<String> {
    let platform = get_str(event, &["platform"]).unwrap_or("other");
    let stacktrace = values(event.get("exception"))
        .iter()
        .rev()
        .filter_map(|e| e.get("stacktrace"))
        .find(|s| {
            s.get("frames")
                .and_then(Value::as_array)
                .is_some_and(|f| !f.is_empty())
        })
        .or_else(|| event.get("stacktrace"))?;
    let frames = stacktrace.get("frames")?.as_array()?;
    let mut fallback = None;
    for frame in frames.iter().rev() {
        let in_app = frame.get("in_app").and_then(Value::as_bool) == Some(true);
        if in_app {
            if let Some(culprit) = single_frame_culprit(frame, platform) {
                return Some(culprit);
            }
        } else if fallback.is_none() {
            fallback = Some(single_frame_culprit(frame, platform));
        }
    }
    fallback.flatten()
}

fn single_frame_culprit(frame: &Value, platform: &str) -> Option<String> {
    let text = |key: &str| {
        frame
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let platform = text("platform").unwrap_or(platform);
    let function = text("function").unwrap_or("?");
    if matches!(platform, "objc" | "cocoa" | "native") {
        return Some(function.to_owned());
    }
    let location = text("module").or_else(|| text("filename"))?;
    Some(if matches!(platform, "javascript" | "node") {
        format!("{function}({location})")
    } else {
        format!("{location} in {function}")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_title_and_culprit_from_the_in_app_crash_frame() {
        let event = json!({"platform": "python", "exception": {"values": [{
            "type": "KeyError", "value": "'sku-123'\nsecond line",
            "stacktrace": {"frames": [
                {"module": "shopapp.orders", "filename": "shopapp/orders.py", "function": "lookup", "in_app": true},
                {"module": "somelib", "function": "get"}
            ]}
        }]}});
        let meta = derive_metadata(&event);
        assert_eq!(meta.event_type, "error");
        assert_eq!(meta.title, "KeyError: 'sku-123'");
        assert_eq!(meta.culprit, "shopapp.orders in lookup");
        assert_eq!(meta.metadata["function"], "lookup");
        assert_eq!(meta.metadata["filename"], "shopapp/orders.py");
    }

    #[test]
    fn javascript_culprit_and_transaction_precedence() {
        let event = json!({"platform": "node", "exception": {"values": [{
            "type": "Error", "value": "boom",
            "stacktrace": {"frames": [{"filename": "/app/index.js", "function": "main", "in_app": true}]}
        }]}});
        assert_eq!(derive_metadata(&event).culprit, "main(/app/index.js)");
        let mut with_tx = event.clone();
        with_tx["transaction"] = json!("GET /checkout");
        assert_eq!(derive_metadata(&with_tx).culprit, "GET /checkout");
    }

    #[test]
    fn message_titles() {
        let long = "x".repeat(150);
        let meta = derive_metadata(&json!({"logentry": {"formatted": long}}));
        assert_eq!(meta.event_type, "default");
        assert_eq!(meta.title.len(), 103);
        assert!(meta.title.ends_with("..."));
        assert_eq!(derive_metadata(&json!({})).title, "<unlabeled event>");
        let no_value = derive_metadata(&json!({"exception": {"values": [{"type": "Panic"}]}}));
        assert_eq!(no_value.title, "Panic");
    }
}
