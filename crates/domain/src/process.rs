//! The per-event pipeline step the ingest worker runs: parse, normalize, group, describe.

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::{Value, json};

use crate::Level;
use crate::grouping::{Grouping, group_event_with};
use crate::metadata::{EventMetadata, derive_metadata};
use crate::normalize::{NormalizeContext, normalize_event};
use crate::settings::ProjectSettings;

/// What the worker knows about an event besides its payload.
#[derive(Debug, Clone)]
pub struct ProcessContext<'a> {
    /// The event id the SDK was acknowledged with (32 hex).
    pub event_id: &'a str,
    /// Receive time, Unix milliseconds.
    pub received_ms: i64,
    /// The envelope's `sent_at`, Unix seconds.
    pub sent_at: Option<f64>,
    /// The client address, for `{{auto}}` user IPs.
    pub client_ip: Option<&'a str>,
    /// The project's processing settings.
    pub settings: &'a ProjectSettings,
}

/// A normalized, grouped event, ready to be stored.
#[derive(Debug, Clone)]
pub struct ProcessedEvent {
    /// 32 lowercase hex digits.
    pub event_id: String,
    /// Event time, Unix milliseconds.
    pub timestamp_ms: i64,
    /// Receive time, Unix milliseconds.
    pub received_ms: i64,
    /// Severity.
    pub level: Level,
    /// Platform (`python`, `node`, `native`, ...).
    pub platform: String,
    /// Logger name, if any.
    pub logger: Option<String>,
    /// Title, culprit, type and metadata.
    pub display: EventMetadata,
    /// The release, if any.
    pub release: Option<String>,
    /// The environment, if any.
    pub environment: Option<String>,
    /// The `user` tag value (`id:13`), which counts distinct users.
    pub user_tag: Option<String>,
    /// Every tag, SDK-sent and derived, as stored on the event.
    pub tags: Vec<(String, String)>,
    /// The grouping result; `grouping.hashes` decides the issue.
    pub grouping: Grouping,
    /// The normalized event as JSON bytes.
    pub payload: Vec<u8>,
}

/// Text bound for database columns. PostgreSQL's `text` cannot hold NUL, which SDKs can send in
/// any string: it becomes U+FFFD on both engines, so an event is stored the same everywhere instead
/// of being refused by one of them. (The payload is compressed bytes, where NUL is harmless.)
fn storable(text: String) -> String {
    if text.contains('\0') {
        text.replace('\0', "\u{FFFD}")
    } else {
        text
    }
}

/// The payload is not JSON (ingest validates this, so it means a corrupted queue record).
#[derive(Debug, thiserror::Error)]
#[error("event payload is not valid JSON: {0}")]
pub struct InvalidPayload(#[from] serde_json::Error);

/// Top-level fields that normalization, grouping or description read or write. They are parsed
/// into a tree; every other field (`modules`, `sdk`, `spans`, ...) is copied through as
/// the JSON text the SDK sent, which saves building and re-serializing a tree for a large part
/// of each event.
const NORMALIZED_FIELDS: &[&str] = &[
    "_custom_title",
    "_meta",
    "breadcrumbs",
    "contexts",
    "csp",
    "culprit",
    "dist",
    "environment",
    "errors",
    "event_id",
    "exception",
    "extra",
    "fingerprint",
    "grouping_config",
    "hashes",
    "level",
    "logentry",
    "logger",
    "message",
    "metadata",
    "platform",
    "received",
    "release",
    "request",
    "server_name",
    "stacktrace",
    "start_timestamp",
    "tags",
    "threads",
    "timestamp",
    "title",
    "transaction",
    "type",
    "user",
];

/// The event's top-level fields as raw JSON, in order (borrowed from the payload).
struct TopLevel<'a>(Vec<(Cow<'a, str>, &'a RawValue)>);

impl<'de> Deserialize<'de> for TopLevel<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Fields;
        impl<'de> Visitor<'de> for Fields {
            type Value = TopLevel<'de>;

            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an event object")
            }

            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel<'de>, A::Error> {
                let mut fields = Vec::new();
                while let Some(key) = map.next_key::<Cow<'de, str>>()? {
                    fields.push((key, map.next_value::<&'de RawValue>()?));
                }
                Ok(TopLevel(fields))
            }
        }
        deserializer.deserialize_map(Fields)
    }
}

/// Writes the normalized fields and the passed-through ones as one JSON object.
fn serialize(
    event: &Value,
    passthrough: &[(Cow<'_, str>, &RawValue)],
    size_hint: usize,
) -> Result<Vec<u8>, serde_json::Error> {
    let mut out = Vec::with_capacity(size_hint + 512);
    out.push(b'{');
    let mut first = true;
    let mut separate = |out: &mut Vec<u8>| {
        if !std::mem::take(&mut first) {
            out.push(b',');
        }
    };
    if let Value::Object(fields) = event {
        for (key, value) in fields {
            separate(&mut out);
            serde_json::to_writer(&mut out, key)?;
            out.push(b':');
            serde_json::to_writer(&mut out, value)?;
        }
    }
    for (key, raw) in passthrough {
        separate(&mut out);
        serde_json::to_writer(&mut out, key.as_ref())?;
        out.push(b':');
        out.extend_from_slice(raw.get().as_bytes());
    }
    out.push(b'}');
    Ok(out)
}

/// Runs normalization, grouping and metadata derivation on one event payload.
pub fn process_event(
    payload: &[u8],
    ctx: &ProcessContext<'_>,
) -> Result<ProcessedEvent, InvalidPayload> {
    let TopLevel(fields) = serde_json::from_slice(payload)?;
    let mut parsed = serde_json::Map::new();
    let mut passthrough: Vec<(Cow<'_, str>, &RawValue)> = Vec::new();
    for (key, raw) in fields {
        if NORMALIZED_FIELDS.contains(&key.as_ref()) {
            parsed.insert(key.into_owned(), serde_json::from_str(raw.get())?);
        } else {
            passthrough.retain(|(k, _)| *k != key);
            passthrough.push((key, raw));
        }
    }
    let mut event = Value::Object(parsed);
    let received = ctx.received_ms as f64 / 1000.0;
    normalize_event(
        &mut event,
        &NormalizeContext {
            event_id: ctx.event_id,
            received,
            sent_at: ctx.sent_at,
            client_ip: ctx.client_ip,
        },
    );
    // One walk: sensitive values scrubbed, oversized values trimmed, both recorded in `_meta`,
    // before grouping and description see the event.
    crate::trim::trim_and_scrub(&mut event, &ctx.settings.scrubbing);
    let grouping = group_event_with(&mut event, &ctx.settings.grouping, ctx.received_ms);
    let mut display = derive_metadata(&event);
    display.title = storable(std::mem::take(&mut display.title));
    display.culprit = storable(std::mem::take(&mut display.culprit));

    let text = |key: &str| {
        event
            .get(key)
            .and_then(Value::as_str)
            .map(|v| storable(v.to_owned()))
    };
    let tags: Vec<(String, String)> = event
        .get("tags")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|p| {
                    let (key, value) = (p[0].as_str()?, p[1].as_str()?);
                    Some((storable(key.to_owned()), storable(value.to_owned())))
                })
                .collect()
        })
        .unwrap_or_default();
    let user_tag = tags
        .iter()
        .find(|(k, _)| k == "user")
        .map(|(_, v)| v.clone());
    let timestamp = event
        .get("timestamp")
        .and_then(Value::as_f64)
        .unwrap_or(received);
    let level = event
        .get("level")
        .and_then(Level::parse)
        .unwrap_or(Level::Error);
    let release = text("release");
    let environment = text("environment");
    let platform = text("platform").unwrap_or_else(|| "other".to_owned());
    let logger = text("logger");

    if let Value::Object(object) = &mut event {
        object.insert("title".into(), json!(display.title));
        object.insert("culprit".into(), json!(display.culprit));
        object.insert("metadata".into(), display.metadata.clone());
        object.insert("grouping_config".into(), json!({ "id": grouping.config }));
        object.insert("hashes".into(), json!(grouping.hashes));
    }
    let payload = serialize(&event, &passthrough, payload.len())?;
    Ok(ProcessedEvent {
        event_id: ctx.event_id.to_owned(),
        timestamp_ms: (timestamp * 1000.0).round() as i64,
        received_ms: ctx.received_ms,
        level,
        platform,
        logger,
        display,
        release,
        environment,
        user_tag,
        tags,
        grouping,
        payload,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nul_characters_never_reach_database_text() {
        let payload = br#"{"message":"nul \u0000 inside","release":"a\u0000b",
            "logger":"log\u0000ger","tags":{"shop":"x\u0000y"}}"#;
        let settings = ProjectSettings::default();
        let event = process_event(
            payload,
            &ProcessContext {
                event_id: "0123456789abcdef0123456789abcdef",
                received_ms: 1_795_565_800_000,
                sent_at: None,
                client_ip: None,
                settings: &settings,
            },
        )
        .unwrap();
        assert_eq!(event.display.title, "nul \u{FFFD} inside");
        let mut texts = vec![event.display.title.clone(), event.display.culprit.clone()];
        texts.extend(event.release.clone());
        texts.extend(event.logger.clone());
        texts.extend(event.tags.iter().flat_map(|(k, v)| [k.clone(), v.clone()]));
        assert!(texts.iter().all(|t| !t.contains('\0')), "{texts:?}");
        assert!(
            event
                .tags
                .iter()
                .any(|(k, v)| k == "shop" && v == "x\u{FFFD}y"),
            "{:?}",
            event.tags
        );
    }

    #[test]
    fn processes_a_python_sdk_event_end_to_end() {
        let payload = br#"{"level":"error","platform":"python","timestamp":"2026-11-25T00:16:07.5Z",
            "exception":{"values":[{"type":"ZeroDivisionError","value":"division by zero",
              "stacktrace":{"frames":[{"module":"app","function":"main","lineno":3,"in_app":true}]}}]},
            "user":{"id":"13"},"tags":{"region":"eu"},"release":"shop@1.0","environment":"prod"}"#;
        let ctx = ProcessContext {
            event_id: "8d318f70125849e29dcf2afa581ef54f",
            received_ms: 1_795_565_800_000,
            sent_at: None,
            client_ip: None,
            settings: &ProjectSettings::default(),
        };
        let event = process_event(payload, &ctx).unwrap();
        assert_eq!(event.timestamp_ms, 1_795_565_767_500);
        assert_eq!(event.display.title, "ZeroDivisionError: division by zero");
        assert_eq!(event.display.culprit, "app in main");
        assert_eq!(event.user_tag.as_deref(), Some("id:13"));
        assert_eq!(event.release.as_deref(), Some("shop@1.0"));
        assert_eq!(event.level, Level::Error);
        assert!(event.tags.contains(&("region".into(), "eu".into())));
        let stored: Value = serde_json::from_slice(&event.payload).unwrap();
        assert_eq!(stored["hashes"], json!(event.grouping.hashes));
        assert_eq!(stored["title"], "ZeroDivisionError: division by zero");
        assert!(process_event(b"{not json", &ctx).is_err());
        assert!(
            process_event(b"[1, 2]", &ctx).is_err(),
            "ingest refuses non-objects"
        );
    }

    #[test]
    fn unnormalized_fields_pass_through_and_normalized_ones_win() {
        let payload = br#"{"extra":{"order":{"id":42,"items":[1,2]}},"modules":{"django":"5.1"},
            "sdk":{"name":"sentry.python","version":"2.75.0"},"message":"hello","tags":{"a":"b"},
            "custom_field":"kept","extra":{"dup":"last wins"}}"#;
        let ctx = ProcessContext {
            event_id: "8d318f70125849e29dcf2afa581ef54f",
            received_ms: 1_795_565_800_000,
            sent_at: None,
            client_ip: None,
            settings: &ProjectSettings::default(),
        };
        let event = process_event(payload, &ctx).unwrap();
        let stored: Value = serde_json::from_slice(&event.payload).unwrap();
        assert_eq!(stored["extra"], json!({"dup": "last wins"}));
        assert_eq!(stored["modules"]["django"], "5.1");
        assert_eq!(stored["sdk"]["version"], "2.75.0");
        assert_eq!(stored["custom_field"], "kept");
        assert_eq!(stored["logentry"]["formatted"], "hello");
        assert!(stored.get("message").is_none());
        assert_eq!(stored["event_id"], "8d318f70125849e29dcf2afa581ef54f");
        let text = String::from_utf8(event.payload).unwrap();
        assert_eq!(text.matches("\"extra\"").count(), 1, "{text}");
    }
}
