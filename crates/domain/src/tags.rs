//! Tag normalization (Relay's `tags.rs` rules) and the tags Sentry derives from event fields.
//!
//! SDKs send tags as an object (`{"k": "v"}`) or a list of pairs (`[["k", "v"]]`). Keys are
//! trimmed, spaces become `-`, and only `a-zA-Z0-9_.:-` is allowed, at most 200 characters.
//! Values are trimmed, non-strings stringified (`true` -> `True`), at most 200 characters, no
//! `\n`. As in Relay, a too-long value is an error, not cut. Invalid parts are stored as `null`
//! with a recorded error; the first of duplicate keys wins; `release`, `dist`, `user`,
//! `filename` and `function` are reserved for the fields Sentry derives them from.
//!
//! Deliberate difference: Relay replaces spaces before trimming (`" my key "` becomes
//! `-my-key-`); Errhound trims first (`my-key`).

use serde_json::Value;

use crate::value::scalar_to_string;

/// Longest tag key and value, in characters.
pub const MAX_TAG_CHARS: usize = 200;

/// Keys SDKs sometimes put in tags that Sentry keeps as event fields instead.
const RESERVED_KEYS: &[&str] = &["release", "dist", "user", "filename", "function"];

/// A tag that did not survive normalization, for the event's `errors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidTag {
    /// The key as sent (possibly truncated for display).
    pub key: String,
    /// Why it was dropped.
    pub reason: &'static str,
}

/// One SDK tag in the order sent: a part that did not validate is `Err(reason)` and is stored
/// as `null` (Relay keeps such pairs, so `_meta` indexes line up with the stored list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagEntry {
    /// The normalized key.
    pub key: Result<String, &'static str>,
    /// The normalized value.
    pub value: Result<String, &'static str>,
}

/// Normalizes an SDK `tags` value into ordered, validated pairs (invalid tags left out).
pub fn normalize_tags(value: Option<&Value>) -> (Vec<(String, String)>, Vec<InvalidTag>) {
    let (entries, invalid) = normalize_tag_entries(value);
    let pairs = entries
        .into_iter()
        .filter_map(|e| Some((e.key.ok()?, e.value.ok()?)))
        .collect();
    (pairs, invalid)
}

/// Normalizes an SDK `tags` value into entries in the order sent, each part validated; every
/// invalid part, and every item that is not a pair at all, is also reported as an [`InvalidTag`].
/// Reserved keys are dropped; the first of duplicate keys wins.
pub fn normalize_tag_entries(value: Option<&Value>) -> (Vec<TagEntry>, Vec<InvalidTag>) {
    let mut entries: Vec<TagEntry> = Vec::new();
    let mut invalid = Vec::new();
    let mut bad_pairs = 0;
    let mut bad_shape = false;
    let mut push = |key: &str, value: &Value| {
        let shown = || crate::value::truncate_chars(key, 64).to_owned();
        let Some(key) = normalize_key(key) else {
            invalid.push(InvalidTag {
                key: shown(),
                reason: "invalid tag key",
            });
            entries.push(TagEntry {
                key: Err("invalid tag key"),
                value: Err("invalid tag key"),
            });
            return;
        };
        if RESERVED_KEYS.contains(&key.as_str())
            || entries.iter().any(|e| e.key.as_deref() == Ok(key.as_str()))
        {
            return;
        }
        // A null value is no tag at all (Relay keeps it silently; there is nothing to show).
        if value.is_null() {
            return;
        }
        let value = match scalar_to_string(value).and_then(|v| normalize_value(&v)) {
            Some(value) => Ok(value),
            None => {
                invalid.push(InvalidTag {
                    key: shown(),
                    reason: "invalid tag value",
                });
                Err("invalid tag value")
            }
        };
        entries.push(TagEntry {
            key: Ok(key),
            value,
        });
    };
    match value {
        Some(Value::Object(map)) => {
            for (key, value) in map {
                push(key, value);
            }
        }
        Some(Value::Array(list)) => {
            for pair in list {
                match pair.as_array().map(Vec::as_slice) {
                    Some([Value::String(key), value]) => push(key, value),
                    _ => bad_pairs += 1,
                }
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => bad_shape = true,
    }
    for _ in 0..bad_pairs {
        invalid.push(InvalidTag {
            key: String::new(),
            reason: NOT_A_PAIR,
        });
    }
    if bad_shape {
        invalid.push(InvalidTag {
            key: String::new(),
            reason: NOT_PAIRS,
        });
    }
    (entries, invalid)
}

/// Why a `tags` item was dropped entirely.
pub const NOT_A_PAIR: &str = "tag is not a [key, value] pair";
/// Why `tags` was dropped entirely.
pub const NOT_PAIRS: &str = "tags is not an object or a list of pairs";

/// Normalizes a tag key, or `None` if it cannot be made valid.
pub fn normalize_key(key: &str) -> Option<String> {
    let key = key.trim().replace(' ', "-");
    let valid = !key.is_empty()
        && key.chars().count() <= MAX_TAG_CHARS
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b':' | b'-'));
    valid.then_some(key)
}

/// Normalizes a tag value, or `None` if it is empty, too long or multi-line (Relay denies `\n`;
/// a lone `\r` is allowed).
pub fn normalize_value(value: &str) -> Option<String> {
    let value = value.trim();
    let valid = !value.is_empty()
        && (value.len() <= MAX_TAG_CHARS || value.chars().count() <= MAX_TAG_CHARS)
        && !value.contains('\n');
    valid.then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn object_and_pair_forms_agree() {
        let (from_object, _) = normalize_tags(Some(&json!({"region": "eu", "tier": "pro"})));
        let (from_pairs, _) = normalize_tags(Some(&json!([["region", "eu"], ["tier", "pro"]])));
        assert_eq!(from_object, pairs(&[("region", "eu"), ("tier", "pro")]));
        assert_eq!(from_object, from_pairs);
    }

    #[test]
    fn values_are_stringified_and_trimmed_keys_sanitized() {
        let (tags, invalid) = normalize_tags(Some(&json!({
            " my key ": " v ",
            "flag": true,
            "n": 42,
            "release": "x@1",
            "bad/key": "v",
            "multi": "a\nb",
            "empty": "",
            "obj": {"a": 1}
        })));
        assert_eq!(
            tags,
            pairs(&[("my-key", "v"), ("flag", "True"), ("n", "42")])
        );
        let reasons: Vec<_> = invalid.iter().map(|i| (i.key.as_str(), i.reason)).collect();
        assert_eq!(
            reasons,
            vec![
                ("bad/key", "invalid tag key"),
                ("empty", "invalid tag value"),
                ("multi", "invalid tag value"),
                ("obj", "invalid tag value"),
            ]
        );
    }

    #[test]
    fn first_duplicate_wins_and_long_values_are_dropped() {
        let long = "x".repeat(201);
        let (tags, invalid) = normalize_tags(Some(&json!([["a", "1"], ["a", "2"], ["b", long]])));
        assert_eq!(tags, pairs(&[("a", "1")]));
        assert_eq!(invalid.len(), 1);
    }
}
