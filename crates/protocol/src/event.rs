//! Validating an event item at the door.
//!
//! Ingest answers 200 only for events the workers can process, so it checks what the workers'
//! parser would refuse: not UTF-8, not JSON, not an object, nesting deeper than serde_json's 128
//! levels, or invalid string escapes (such as a lone UTF-16 surrogate) anywhere in the document,
//! known field or not. The walk allocates nothing for strings without escapes.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use crate::EventId;

/// Why an event item was refused (HTTP 400).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event payload: {0}")]
pub struct InvalidEvent(pub String);

/// What ingest reads from a valid event item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EventPeek {
    /// The payload's `event_id`, when it is a valid one.
    pub event_id: Option<EventId>,
}

/// Checks an event item and reads its `event_id`.
pub fn inspect(payload: &[u8]) -> Result<EventPeek, InvalidEvent> {
    let text = std::str::from_utf8(payload).map_err(|_| InvalidEvent("not UTF-8".to_owned()))?;
    let mut deserializer = serde_json::Deserializer::from_str(text);
    let peek = TopLevel::deserialize(&mut deserializer).map_err(|e| InvalidEvent(e.to_string()))?;
    deserializer
        .end()
        .map_err(|e| InvalidEvent(e.to_string()))?;
    Ok(peek.0)
}

/// The top level: must be an object.
struct TopLevel(EventPeek);

impl<'de> Deserialize<'de> for TopLevel {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_map(TopLevelVisitor)
    }
}

struct TopLevelVisitor;

impl<'de> Visitor<'de> for TopLevelVisitor {
    type Value = TopLevel;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an event object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TopLevel, A::Error> {
        let mut peek = EventPeek::default();
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == "event_id" {
                let value = map.next_value::<Checked>()?;
                peek.event_id = value.text.and_then(|t| EventId::parse(&t).ok());
            } else {
                map.next_value::<Checked>()?;
            }
        }
        Ok(TopLevel(peek))
    }
}

/// Any JSON value, fully walked (strings decoded, nesting counted by serde_json). Keeps the text
/// of a string value, for `event_id`.
struct Checked {
    text: Option<String>,
}

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(CheckedVisitor)
    }
}

struct CheckedVisitor;

impl<'de> Visitor<'de> for CheckedVisitor {
    type Value = Checked;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Checked, E> {
        Ok(Checked { text: None })
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Checked, E> {
        Ok(Checked { text: None })
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Checked, E> {
        Ok(Checked { text: None })
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Checked, E> {
        Ok(Checked { text: None })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Checked, E> {
        Ok(Checked { text: None })
    }
    fn visit_borrowed_str<E: de::Error>(self, value: &'de str) -> Result<Checked, E> {
        Ok(Checked {
            text: (value.len() <= 64).then(|| value.to_owned()),
        })
    }
    fn visit_str<E: de::Error>(self, value: &str) -> Result<Checked, E> {
        Ok(Checked {
            text: (value.len() <= 64).then(|| value.to_owned()),
        })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
        while seq.next_element::<Checked>()?.is_some() {}
        Ok(Checked { text: None })
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
        while map.next_key::<IgnoredKey>()?.is_some() {
            map.next_value::<Checked>()?;
        }
        Ok(Checked { text: None })
    }
}

/// An object key: decoded (so bad escapes are caught) and dropped.
struct IgnoredKey;

impl<'de> Deserialize<'de> for IgnoredKey {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let _ = deserializer.deserialize_str(CheckedVisitor)?;
        Ok(IgnoredKey)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_event_id_of_a_valid_event() {
        let peek =
            inspect(br#"{"event_id":"8d318f70125849e29dcf2afa581ef54f","message":"hi"}"#).unwrap();
        assert_eq!(
            peek.event_id.unwrap().to_string(),
            "8d318f70125849e29dcf2afa581ef54f"
        );
        assert_eq!(inspect(br#"{"message":"hi"}"#).unwrap().event_id, None);
        assert_eq!(inspect(br#"{"event_id":"nope"}"#).unwrap().event_id, None);
    }

    #[test]
    fn refuses_what_the_worker_could_not_parse() {
        let deep = format!(
            "{{\"extra\":{{\"deep\":{}{}}}}}",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        let cases: Vec<(&str, Vec<u8>)> = vec![
            ("deep nesting under an unknown key", deep.into_bytes()),
            ("lone surrogate", br#"{"message":"\ud800"}"#.to_vec()),
            (
                "lone surrogate in a key",
                br#"{"extra":{"\udc00":1}}"#.to_vec(),
            ),
            ("array", b"[]".to_vec()),
            ("null", b"null".to_vec()),
            ("trailing garbage", b"{} x".to_vec()),
            ("invalid UTF-8", b"{\"message\":\"\xff\"}".to_vec()),
            ("truncated", br#"{"message":"#.to_vec()),
        ];
        for (name, payload) in cases {
            assert!(inspect(&payload).is_err(), "{name} must be refused");
            // The worker's parser refuses them too (the invariant this check keeps).
            assert!(
                serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&payload)
                    .is_err(),
                "{name}"
            );
        }
    }

    #[test]
    fn accepts_what_the_worker_parses() {
        let ok = br#"{"a":[1,2.5,-3,true,null,{"b":"\u00e9\n"}],"c":"\ud83d\ude00"}"#;
        assert!(inspect(ok).is_ok());
        assert!(serde_json::from_slice::<serde_json::Value>(ok).is_ok());
    }
}
