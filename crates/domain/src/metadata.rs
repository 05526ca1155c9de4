//! What an issue is called: title, culprit and metadata, derived from a normalized event the way
//! Sentry's event types do (`ErrorEvent`, `DefaultEvent`, `CspEvent`, `get_culprit`), with the
//! CSP message and culprit rules Relay uses when it turns a report into an event.

use serde_json::{Map, Value, json};

use crate::grouping::crash_frame;
use crate::value::{get_str, truncate_chars, values};

/// Longest culprit, in characters.
const MAX_CULPRIT_CHARS: usize = 200;
/// Longest part of an exception value or message shown in a title, in characters.
const MAX_TITLE_VALUE_CHARS: usize = 100;
/// Longest metadata value, in characters.
const MAX_METADATA_VALUE_CHARS: usize = 1024;

/// Top-level event field holding a title set by server-side fingerprinting rules (Sentry's
/// `title` attribute of a matching rule). When it is a non-empty string, it is the event's title
/// and `metadata.title`, whatever the event type (Sentry's `BaseEvent.get_metadata` keeps a
/// custom title over the computed one). Normalization removes it from SDK payloads: only the
/// server sets it, after normalization and before [`derive_metadata`].
pub const CUSTOM_TITLE_FIELD: &str = "_custom_title";

/// Display fields of an event and of the issue it opens.
#[derive(Debug, Clone, PartialEq)]
pub struct EventMetadata {
    /// `error` (has an exception), `csp` (a CSP report) or `default`.
    pub event_type: &'static str,
    /// `KeyError: 'sku-123'`, the message's first line, or `Blocked 'script' from 'evil.example'`.
    pub title: String,
    /// Where it happened: `shopapp.orders in lookup`, the transaction, the URL, or the violated
    /// CSP directive.
    pub culprit: String,
    /// Sentry's metadata object (`type`, `value`, `filename`, `function`; `title`; or
    /// `directive`, `uri`, `message`).
    pub metadata: Value,
}

/// Derives the display fields of a normalized event.
pub fn derive_metadata(event: &Value) -> EventMetadata {
    let mut derived = derive_computed(event);
    if let Some(title) = get_str(event, &[CUSTOM_TITLE_FIELD]) {
        let title = title.trim();
        if !title.is_empty() {
            derived.title = title.to_owned();
            if let Value::Object(metadata) = &mut derived.metadata {
                metadata.insert("title".to_owned(), Value::from(title));
            }
        }
    }
    derived
}

fn derive_computed(event: &Value) -> EventMetadata {
    let exceptions = values(event.get("exception"));
    // An exception group grouped by one inner exception is named by it (grouping records its
    // `main_exception_id`); like Sentry, id 0 (the root) means the last exception.
    let main = event
        .get("main_exception_id")
        .and_then(Value::as_i64)
        .filter(|id| *id != 0)
        .and_then(|id| {
            exceptions
                .iter()
                .find(|e| e.pointer("/mechanism/exception_id").and_then(Value::as_i64) == Some(id))
        });
    let exception = main.or(exceptions.last());
    if exception.is_none()
        && let Some(Value::Object(csp)) = event.get("csp")
    {
        return csp_metadata(event, csp);
    }
    let culprit = culprit(event);
    match exception {
        Some(exception) => {
            // Like Sentry, a synthetic type is not the error's name: the crash function is.
            let synthetic = is_synthetic(exception);
            let ty = exception
                .get("type")
                .and_then(Value::as_str)
                .filter(|_| !synthetic);
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
                (None, _) if synthetic => synthetic_title(event),
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

/// Sentry's title of a synthetic error: the name of the function it happened in (its crash
/// frame, skipping frames without a known function), trimmed like grouping trims it.
fn synthetic_title(event: &Value) -> String {
    let platform = get_str(event, &["platform"]).unwrap_or("other");
    let frames = values(event.get("exception"))
        .iter()
        .rev()
        .find_map(|e| e.pointer("/stacktrace/frames").and_then(Value::as_array))
        .map_or(&[][..], Vec::as_slice);
    let named: Vec<&Value> = frames
        .iter()
        .filter(|f| {
            f.get("function")
                .and_then(Value::as_str)
                .is_some_and(|name| !matches!(name, "" | "<redacted>" | "<unknown>"))
        })
        .collect();
    let crash = named
        .iter()
        .rev()
        .find(|f| f.get("in_app").and_then(Value::as_bool) == Some(true))
        .or(named.last());
    crash
        .and_then(|f| f.get("function").and_then(Value::as_str))
        .map_or_else(
            || "<unknown>".to_owned(),
            |name| crate::grouping::platform::trim_function_name(name, platform).into_owned(),
        )
}

/// A CSP report's title (Relay's `get_message`), culprit (`get_culprit`) and Sentry's
/// `CspEvent` metadata (`directive`, `uri`, `message`). The report may use the stored snake_case
/// field names or the browser's kebab-case ones.
fn csp_metadata(event: &Value, csp: &Map<String, Value>) -> EventMetadata {
    let field = |name: &str| {
        csp.get(name)
            .or_else(|| csp.get(&name.replace('_', "-")))
            .and_then(Value::as_str)
    };
    let violated = field("violated_directive").unwrap_or("");
    // Firefox sends no effective directive; the violated one starts with it.
    let directive = field("effective_directive")
        .filter(|d| !d.is_empty())
        .or_else(|| violated.split_ascii_whitespace().next())
        .unwrap_or("default-src");
    let blocked = field("blocked_uri").unwrap_or("self");
    let message = csp_message(directive, blocked, violated);
    let uri = normalize_csp_uri(blocked);
    let culprit = match get_str(event, &["culprit"]) {
        Some(culprit) => culprit.to_owned(),
        None => csp_culprit(violated, field("document_uri").unwrap_or("")),
    };
    EventMetadata {
        event_type: "csp",
        metadata: json!({ "directive": directive, "uri": uri, "message": message }),
        title: message,
        culprit: truncate_chars(&culprit, MAX_CULPRIT_CHARS).to_owned(),
    }
}

fn is_local_uri(uri: &str) -> bool {
    matches!(uri, "" | "self" | "'self'")
}

/// Relay's CSP messages, per effective directive, for inline (local) and external resources.
fn csp_message(directive: &str, blocked: &str, violated: &str) -> String {
    if is_local_uri(blocked) {
        let text = match directive {
            "child-src" => "Blocked inline 'child'",
            "connect-src" => "Blocked inline 'connect'",
            "font-src" => "Blocked inline 'font'",
            "img-src" => "Blocked inline 'image'",
            "manifest-src" => "Blocked inline 'manifest'",
            "media-src" => "Blocked inline 'media'",
            "object-src" => "Blocked inline 'object'",
            "script-src-attr" => "Blocked unsafe 'script' element",
            "script-src-elem" => "Blocked inline script attribute",
            "style-src" => "Blocked inline 'style'",
            "style-src-elem" => "Blocked 'style' or 'link' element",
            "style-src-attr" => "Blocked style attribute",
            "script-src" if violated.contains("'unsafe-inline'") => {
                "Blocked unsafe inline 'script'"
            }
            "script-src" if violated.contains("'unsafe-eval'") => "Blocked unsafe eval() 'script'",
            "script-src" => "Blocked unsafe (eval() or inline) 'script'",
            other => return format!("Blocked inline '{other}'"),
        };
        return text.to_owned();
    }
    let uri = normalize_csp_uri(blocked);
    match directive {
        "child-src" => format!("Blocked 'child' from '{uri}'"),
        "connect-src" => format!("Blocked 'connect' from '{uri}'"),
        "font-src" => format!("Blocked 'font' from '{uri}'"),
        "form-action" => format!("Blocked 'form' action to '{uri}'"),
        "img-src" => format!("Blocked 'image' from '{uri}'"),
        "manifest-src" => format!("Blocked 'manifest' from '{uri}'"),
        "media-src" => format!("Blocked 'media' from '{uri}'"),
        "object-src" => format!("Blocked 'object' from '{uri}'"),
        "script-src" | "script-src-elem" => format!("Blocked 'script' from '{uri}'"),
        "script-src-attr" => format!("Blocked inline script attribute from '{uri}'"),
        "style-src" | "style-src-elem" => format!("Blocked 'style' from '{uri}'"),
        "style-src-attr" => format!("Blocked style attribute from '{uri}'"),
        other => format!("Blocked '{other}' from '{uri}'"),
    }
}

/// Python's `urlunsplit((scheme, host, "", "", ""))`, which Relay mimics.
fn unsplit(scheme: &str, host: &str) -> String {
    const WITH_HOST: &[&str] = &[
        "ftp", "http", "gopher", "nntp", "telnet", "imap", "wais", "file", "mms", "https", "shttp",
        "snews", "prospero", "rtsp", "rtspu", "rsync", "svn", "svn+ssh", "sftp", "nfs", "git",
        "git+ssh", "ws", "wss",
    ];
    if !host.is_empty() || WITH_HOST.contains(&scheme) {
        format!("{scheme}://{host}")
    } else if !scheme.is_empty() {
        format!("{scheme}:{host}")
    } else {
        String::new()
    }
}

/// A blocked URI as Sentry shows it: `'self'` for inline, the host (and a non-default port) for
/// web URLs, `scheme:` or `scheme://host` for the rest.
fn normalize_csp_uri(uri: &str) -> String {
    if is_local_uri(uri) {
        return "'self'".to_owned();
    }
    let Some((scheme, rest)) = uri.split_once(':') else {
        return unsplit(uri, "");
    };
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest
        .strip_prefix("//")
        .map(|r| r.split(['/', '?', '#']).next().unwrap_or(""))
        .unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !host.ends_with(']') || host.starts_with('[') => {
            if port.bytes().all(|b| b.is_ascii_digit()) && !host.is_empty() {
                (host, Some(port))
            } else {
                (host_port, None)
            }
        }
        _ => (host_port, None),
    };
    let host = host.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" | "ws" => Some("80"),
        "https" | "wss" => Some("443"),
        "ftp" => Some("21"),
        _ => None,
    };
    let port = port.filter(|p| Some(*p) != default_port && !p.is_empty());
    let base = match scheme.as_str() {
        "http" | "https" => host,
        _ => unsplit(&scheme, &host),
    };
    match port {
        Some(port) => format!("{base}:{port}"),
        None => base,
    }
}

/// Relay's CSP culprit: the violated directive with each source normalized against the
/// document's origin (`'self'` when they match).
fn csp_culprit(violated: &str, document_uri: &str) -> String {
    let mut bits = violated.split_ascii_whitespace();
    let Some(first) = bits.next() else {
        return String::new();
    };
    let document = normalize_csp_uri(document_uri);
    let document_scheme = document_uri.split(':').next().unwrap_or("");
    let mut culprit = first.to_owned();
    for bit in bits {
        culprit.push(' ');
        let normalized = match bit {
            "'none'" | "'self'" | "'unsafe-inline'" | "'unsafe-eval'" => bit.to_owned(),
            _ if [
                "data:",
                "mediastream:",
                "blob:",
                "filesystem:",
                "http:",
                "https:",
                "file:",
            ]
            .iter()
            .any(|p| bit.starts_with(p)) =>
            {
                if normalize_csp_uri(bit) == document {
                    "'self'".to_owned()
                } else {
                    bit.to_owned()
                }
            }
            _ if bit == document => "'self'".to_owned(),
            _ => match document_scheme {
                "http" | "https" => bit.to_owned(),
                scheme => unsplit(scheme, bit),
            },
        };
        culprit.push_str(&normalized);
    }
    culprit
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
        // Sentry's `generate_culprit`: synthetic errors (a signal or a Mach exception given a
        // made-up type) get no culprit.
        None if values(event.get("exception"))
            .last()
            .is_some_and(is_synthetic) =>
        {
            String::new()
        }
        None => frame_culprit(event)
            .or_else(|| get_str(event, &["request", "url"]).map(str::to_owned))
            .unwrap_or_default(),
    };
    truncate_chars(&culprit, MAX_CULPRIT_CHARS).to_owned()
}

/// `mechanism.synthetic`: the type was made up by the SDK and says little.
fn is_synthetic(exception: &Value) -> bool {
    exception
        .pointer("/mechanism/synthetic")
        .and_then(Value::as_bool)
        == Some(true)
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

    #[test]
    fn csp_reports_are_titled_like_sentry() {
        let event = json!({"type": "csp", "csp": {
            "effective_directive": "script-src",
            "blocked_uri": "https://evil.example:443/x.js?token=1",
            "document_uri": "https://shop.example/cart",
            "violated_directive": "script-src 'self' https://shop.example cdn.example"
        }});
        let meta = derive_metadata(&event);
        assert_eq!(meta.event_type, "csp");
        assert_eq!(meta.title, "Blocked 'script' from 'evil.example'");
        assert_eq!(meta.culprit, "script-src 'self' 'self' cdn.example");
        assert_eq!(
            meta.metadata,
            json!({"directive": "script-src", "uri": "evil.example",
                   "message": "Blocked 'script' from 'evil.example'"})
        );
        let title = |csp: Value| derive_metadata(&json!({ "csp": csp })).title;
        assert_eq!(
            title(
                json!({"effective-directive": "img-src", "blocked-uri": "http://cdn.example:8080/a.png"})
            ),
            "Blocked 'image' from 'cdn.example:8080'"
        );
        assert_eq!(
            title(json!({"effective_directive": "style-src", "blocked_uri": ""})),
            "Blocked inline 'style'"
        );
        assert_eq!(
            title(
                json!({"effective_directive": "script-src", "blocked_uri": "self",
                         "violated_directive": "script-src 'unsafe-eval'"})
            ),
            "Blocked unsafe eval() 'script'"
        );
        assert_eq!(
            title(
                json!({"effective_directive": "script-src", "blocked_uri": "data:text/plain;base64,SGk="})
            ),
            "Blocked 'script' from 'data:'"
        );
        assert_eq!(
            title(json!({"violated_directive": "frame-src https://x", "blocked_uri": "blob"})),
            "Blocked 'frame-src' from 'blob:'"
        );
        assert_eq!(
            title(
                json!({"effective_directive": "form-action", "blocked_uri": "https://pay.example/x"})
            ),
            "Blocked 'form' action to 'pay.example'"
        );
    }

    #[test]
    fn a_custom_title_from_server_rules_wins() {
        let error = json!({"_custom_title": "Payment provider down",
            "exception": {"values": [{"type": "ConnectionError", "value": "timeout"}]}});
        let meta = derive_metadata(&error);
        assert_eq!(meta.title, "Payment provider down");
        assert_eq!(meta.metadata["title"], "Payment provider down");
        assert_eq!(
            meta.metadata["type"], "ConnectionError",
            "the computed metadata stays"
        );
        let message =
            derive_metadata(&json!({"_custom_title": "Custom", "logentry": {"formatted": "m"}}));
        assert_eq!(message.title, "Custom");
        assert_eq!(message.metadata["title"], "Custom");
        let blank =
            derive_metadata(&json!({"_custom_title": "  ", "logentry": {"formatted": "m"}}));
        assert_eq!(blank.title, "m");
        let csp = derive_metadata(&json!({"_custom_title": "CSP noise",
            "csp": {"effective_directive": "img-src", "blocked_uri": "https://x.example/"}}));
        assert_eq!(csp.title, "CSP noise");
    }
}
