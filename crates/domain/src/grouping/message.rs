//! Message parameter stripping of the frozen `errhound:2026-11` config (Sentry's older
//! `normalize_message_for_grouping`); `errhound:2026-11-25` uses [`super::parameterization`].
//!
//! Keeps the first two non-empty lines, then replaces variable parts with placeholders in one
//! left-to-right pass over a single alternation, first alternative wins, in Sentry's order:
//! email, url, ip, uuid, sha1, md5, date, hex, float, int, quoted value after `=`, bool after `=`.
//! The `regex` crate has no look-behind, so `=` is matched and written back.

use std::sync::LazyLock;

use regex::{Captures, Regex};

static PARAMETERS: LazyLock<Regex> = LazyLock::new(|| {
    let ipv4 = r"(?:25[0-5]|2[0-4]\d|1?\d?\d)(?:\.(?:25[0-5]|2[0-4]\d|1?\d?\d)){3}";
    // Full and `::`-compressed IPv6 with hex groups on both sides of `::`, and a free-standing
    // `::1`; deliberately not matching Rust/C++ paths like `core::fmt`.
    let ipv6 = r"\b(?:[0-9a-fA-F]{1,4}:){7}[0-9a-fA-F]{1,4}\b|\b(?:[0-9a-fA-F]{1,4}:){1,6}(?::[0-9a-fA-F]{1,4}){1,6}\b|\B::1\b";
    let pattern = [
        r"(?P<email>[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]{0,61}[a-zA-Z0-9])?)+)".to_owned(),
        r"(?P<url>\b(?:wss?|https?|ftp)://[^\s/$.?#][^\s]*)".to_owned(),
        format!(r"(?P<ip>\b{ipv4}\b|{ipv6})"),
        r"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)".to_owned(),
        r"(?P<sha1>\b[0-9a-fA-F]{40}\b)".to_owned(),
        r"(?P<md5>\b[0-9a-fA-F]{32}\b)".to_owned(),
        concat!(
            r"(?P<date>",
            // ISO 8601 date, optionally with time and zone.
            r"\b\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?\b",
            // RFC 822/2822: Tue, 25 Nov 2026 00:16:07 +0000
            r"|\b(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun),\s\d{1,2}\s(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)\s\d{4}\s\d{2}:\d{2}(?::\d{2})?(?:\s[+-]\d{4}|\s[A-Z]{2,4})?",
            // Python's datetime repr.
            r"|datetime\.datetime\([^)]*\)",
            // Clock times 12:30:45(.123).
            r"|\b\d{1,2}:\d{2}:\d{2}(?:\.\d+)?\b",
            r")"
        )
        .to_owned(),
        r"(?P<hex>\b0[xX][0-9a-fA-F]+\b|\b[0-9a-fA-F]{8,128}\b)".to_owned(),
        r"(?P<float>-?\b\d+\.\d+\b)".to_owned(),
        r"(?P<int>-?\b\d+\b)".to_owned(),
        r#"(?P<quoted>=(?:'[^']*'|"[^"]*"))"#.to_owned(),
        r"(?P<bool>=(?:[Tt]rue|[Ff]alse)\b)".to_owned(),
    ]
    .join("|");
    Regex::new(&pattern).expect("the parameter pattern is valid")
});

/// Normalizes a message for grouping: first two non-empty lines, parameters replaced.
pub fn normalize_message(message: &str) -> String {
    let mut lines = message
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.trim().is_empty());
    let mut trimmed = String::new();
    if let Some(first) = lines.next() {
        trimmed.push_str(first);
    }
    if let Some(second) = lines.next() {
        trimmed.push('\n');
        trimmed.push_str(second);
    }
    if lines.next().is_some() {
        trimmed.push_str("...");
    }
    PARAMETERS
        .replace_all(&trimmed, |caps: &Captures<'_>| replacement(caps))
        .into_owned()
}

fn replacement(caps: &Captures<'_>) -> String {
    const SIMPLE: [(&str, &str); 8] = [
        ("email", "<email>"),
        ("url", "<url>"),
        ("ip", "<ip>"),
        ("uuid", "<uuid>"),
        ("sha1", "<sha1>"),
        ("md5", "<md5>"),
        ("date", "<date>"),
        ("float", "<float>"),
    ];
    for (name, placeholder) in SIMPLE {
        if caps.name(name).is_some() {
            return placeholder.to_owned();
        }
    }
    if let Some(hex) = caps.name("hex") {
        let text = hex.as_str();
        if text.starts_with("0x") || text.starts_with("0X") {
            return "<hex>".to_owned();
        }
        // A bare hex run counts only if it mixes digits and letters in one case (an id, not a
        // word like "deadbeef" or a plain number, which the int rule handles).
        let has_digit = text.bytes().any(|b| b.is_ascii_digit());
        let has_lower = text.bytes().any(|b| b.is_ascii_lowercase());
        let has_upper = text.bytes().any(|b| b.is_ascii_uppercase());
        return if !has_lower && !has_upper {
            "<int>".to_owned()
        } else if has_digit && has_lower != has_upper {
            "<hex>".to_owned()
        } else {
            text.to_owned()
        };
    }
    if caps.name("int").is_some() {
        return "<int>".to_owned();
    }
    if caps.name("quoted").is_some() {
        return "=<quoted_str>".to_owned();
    }
    if caps.name("bool").is_some() {
        return "=<bool>".to_owned();
    }
    caps[0].to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strips_every_parameter_kind() {
        let cases = [
            ("user 42 not found", "user <int> not found"),
            ("balance -3.5 too low", "balance <float> too low"),
            ("mail bob@example.org failed", "mail <email> failed"),
            (
                "GET https://api.example.com/v2/items/58997?x=1 failed",
                "GET <url> failed",
            ),
            ("connect to 10.0.0.12 refused", "connect to <ip> refused"),
            ("peer ::1 closed", "peer <ip> closed"),
            ("peer 2001:db8:0:0:0:0:2:1 closed", "peer <ip> closed"),
            (
                "order 8d318f70-1258-49e2-9dcf-2afa581ef54f lost",
                "order <uuid> lost",
            ),
            (
                "blob 8d318f70125849e29dcf2afa581ef54f missing",
                "blob <md5> missing",
            ),
            (
                "commit 356a192b7913b04c54574d18c28d46e6395428ab",
                "commit <sha1>",
            ),
            ("at 2026-11-25T00:16:07.5Z it broke", "at <date> it broke"),
            ("on 2026-11-25 it broke", "on <date> it broke"),
            ("Tue, 25 Nov 2026 00:16:07 +0000 broke", "<date> broke"),
            ("at 12:30:45 broke", "at <date> broke"),
            ("ptr 0x7f3a2c1e0b50 bad", "ptr <hex> bad"),
            ("trace 4bf92f3577b34da6 missing", "trace <hex> missing"),
            ("token abc123def expired", "token <hex> expired"),
            ("key='abc' rejected", "key=<quoted_str> rejected"),
            ("flag=true set", "flag=<bool> set"),
            ("order 12345678 lost", "order <int> lost"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_message(input), expected, "{input}");
        }
    }

    #[test]
    fn words_survive() {
        for text in [
            "Unexpected state: the dim falcon wobbled near the vivid quarry",
            "deadbeef is a word here",
            "called `Option::unwrap()` on a `None` value in core::fmt",
        ] {
            assert_eq!(normalize_message(text), text);
        }
    }

    #[test]
    fn keeps_two_lines() {
        assert_eq!(normalize_message("a\n\nb\nc"), "a\nb...");
        assert_eq!(normalize_message("a\nb"), "a\nb");
    }

    proptest::proptest! {
        #[test]
        fn numbers_inside_a_message_never_change_the_result(a in 0u64..10_000_000, b in 0u64..10_000_000) {
            proptest::prop_assert_eq!(
                normalize_message(&format!("user {a} lacks permission on store {b}")),
                normalize_message("user 1 lacks permission on store 2"),
            );
        }
    }
}
