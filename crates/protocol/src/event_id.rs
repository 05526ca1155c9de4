use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An event id: a UUID written as 32 lowercase hex digits.
///
/// SDKs send it simple (`fc6d8c0c43fc4630ad850ee518f1b9d0`) or hyphenated (the Rust SDK's envelope
/// header); both parse, and it always prints simple, as Relay stores it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EventId(uuid::Uuid);

/// The text given as an event id is not a UUID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid event id")]
pub struct InvalidEventId;

impl EventId {
    /// A new random (v4) id, for events that arrive without one.
    pub fn new_random() -> Self {
        EventId(uuid::Uuid::new_v4())
    }

    /// The nil id (all zeros); SDKs never send it, so it is rejected by [`EventId::parse`].
    pub fn is_nil(&self) -> bool {
        self.0.is_nil()
    }

    /// Parses a simple or hyphenated UUID; rejects the nil UUID and other spellings.
    pub fn parse(text: &str) -> Result<Self, InvalidEventId> {
        let text = text.trim();
        if text.len() != 32 && text.len() != 36 {
            return Err(InvalidEventId);
        }
        let id = uuid::Uuid::try_parse(text).map_err(|_| InvalidEventId)?;
        if id.is_nil() {
            return Err(InvalidEventId);
        }
        Ok(EventId(id))
    }

    /// The 16 raw bytes.
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// The id as 32 lowercase hex digits.
    pub fn to_simple(&self) -> String {
        self.0.simple().to_string()
    }
}

impl fmt::Display for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0.simple(), f)
    }
}

impl fmt::Debug for EventId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EventId({})", self.0.simple())
    }
}

impl FromStr for EventId {
    type Err = InvalidEventId;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        EventId::parse(s)
    }
}

impl Serialize for EventId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0.simple())
    }
}

impl<'de> Deserialize<'de> for EventId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        EventId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_simple_and_hyphenated_forms_to_the_same_id() {
        let simple = EventId::parse("8d318f70125849e29dcf2afa581ef54f").unwrap();
        // The Rust SDK's envelope header spelling.
        let hyphenated = EventId::parse("8d318f70-1258-49e2-9dcf-2afa581ef54f").unwrap();
        assert_eq!(simple, hyphenated);
        assert_eq!(hyphenated.to_string(), "8d318f70125849e29dcf2afa581ef54f");
    }

    #[test]
    fn uppercase_is_accepted_and_printed_lowercase() {
        let id = EventId::parse("8D318F70125849E29DCF2AFA581EF54F").unwrap();
        assert_eq!(id.to_simple(), "8d318f70125849e29dcf2afa581ef54f");
    }

    #[test]
    fn rejects_garbage_nil_and_other_spellings() {
        for bad in [
            "",
            "xyz",
            "00000000000000000000000000000000",
            "8d318f70125849e29dcf2afa581ef54",
            "{8d318f70-1258-49e2-9dcf-2afa581ef54f}",
            "urn:uuid:8d318f70-1258-49e2-9dcf-2afa581ef54f",
            "8d318f70125849e29dcf2afa581ef54g",
        ] {
            assert!(EventId::parse(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
