//! Message parameterization for `errhound:2026-11-25` (Sentry's `grouping/parameterization.py`).
//!
//! Variable parts of messages and exception values are replaced by placeholders in one
//! left-to-right pass over a single alternation, the first alternative that matches at the
//! leftmost position winning, in Sentry's order: `<email>`, `<url>`, `<hostname>`, `<ip>` (v4 and
//! v6), `<traceparent>`, `<uuid>`, `<sha1>`, `<md5>`, `<date>` (RFC 822/1123/850/3339, ISO 8601,
//! JavaScript dates, clock times, `datetime.datetime(...)`), `<duration>`, `<swift_txn_id>`,
//! `<hex>` (`0x...`, or 8-128 hex digits in one case with a digit), `<git_sha>`, `<float>`,
//! `<int>` (up to 7 digits; longer runs are `<hex>`), `=<quoted_str>` and `=<bool>`.
//!
//! The `regex` crate is linear-time and has no look-around, so Sentry's look-arounds are
//! emulated: IPv6 boundaries become `\b`/`\B` per alternative; "contains a digit" is checked
//! after the match; a rejected match is retried one character later, which is what the
//! backtracking engine does when no later alternative matches at that position (the one case
//! where one does, a clock time right after a digit, is handled explicitly); `=` and the character
//! after a clock time are matched and written back. Known difference: `_` counts as a word
//! character around IPv6 addresses.

use std::sync::LazyLock;

use regex::{CaptureLocations, Regex};

const IPV4: &str =
    r"(?:(?:25[0-5]|(?:2[0-4]|1?[0-9])?[0-9])\.){3}(?:25[0-5]|(?:2[0-4]|1?[0-9])?[0-9])";
const H: &str = "[0-9a-fA-F]{1,4}";

/// The top 100 TLDs, both cases (Sentry's list).
const TLDS: &str = "COM|NET|ORG|JP|DE|UK|FR|BR|IT|RU|ES|ME|GOV|PL|CA|AU|CN|CO|IN|NL|EDU|INFO|EU|CH|ID|AT|KR|CZ|MX|BE|TV|SE|TR|TW|AL|UA|IR|VN|CL|SK|LY|CC|TO|NO|FI|US|PT|DK|AR|HU|TK|GR|IL|NEWS|RO|MY|BIZ|IE|ZA|NZ|SG|EE|TH|IO|XYZ|PE|BG|HK|RS|LT|LINK|PH|CLUB|SI|SITE|MOBI|BY|CAT|WIKI|LA|GA|XXX|CF|HR|NG|JOBS|ONLINE|KZ|UG|GQ|AE|IS|LV|PRO|FM|TIPS|MS|SA|APP";

const MONTH: &str = "(?:Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec)";
const DAY: &str = "(?:Sun|Mon|Tue|Wed|Thu|Fri|Sat)";
const ZONE: &str = "(?:UT|GMT|(?:E|C|M|P)(?:ST|DT)|[A-IK-Z])";

struct Parameterizer {
    regex: Regex,
    /// Capture group index -> kind, for the groups that identify an alternative.
    kinds: Vec<(usize, Kind)>,
    kitchen_tail: Vec<usize>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Email,
    Url,
    Hostname,
    Ip,
    Traceparent,
    Uuid,
    Sha1,
    Md5,
    Date,
    /// A clock time: must not follow a digit.
    Kitchen,
    Duration,
    SwiftTxnId,
    /// `0x...`
    HexPrefixed,
    /// Bare hex: must contain a digit.
    HexBare,
    /// Seven hex digits with a letter: must contain a digit.
    GitSha,
    Float,
    Int,
    /// `-123`: the minus must not join two words.
    NegativeInt,
    Quoted,
    Bool,
}

impl Kind {
    fn placeholder(self) -> &'static str {
        match self {
            Kind::Email => "<email>",
            Kind::Url => "<url>",
            Kind::Hostname => "<hostname>",
            Kind::Ip => "<ip>",
            Kind::Traceparent => "<traceparent>",
            Kind::Uuid => "<uuid>",
            Kind::Sha1 => "<sha1>",
            Kind::Md5 => "<md5>",
            Kind::Date | Kind::Kitchen => "<date>",
            Kind::Duration => "<duration>",
            Kind::SwiftTxnId => "<swift_txn_id>",
            Kind::HexPrefixed | Kind::HexBare => "<hex>",
            Kind::GitSha => "<git_sha>",
            Kind::Float => "<float>",
            Kind::Int | Kind::NegativeInt => "<int>",
            Kind::Quoted => "=<quoted_str>",
            Kind::Bool => "=<bool>",
        }
    }
}

static PARAMETERIZER: LazyLock<Parameterizer> = LazyLock::new(build);

fn build() -> Parameterizer {
    let lower_tlds = TLDS.to_lowercase();
    let ipv6 = [
        format!(r"\b(?:{H}:){{7}}{H}\b"),
        format!(r"\b(?:{H}:){{1,7}}:\B"),
        format!(r"\b(?:{H}:){{1,6}}:{H}\b"),
        format!(r"\b(?:{H}:){{1,5}}(?::{H}){{1,2}}\b"),
        format!(r"\b(?:{H}:){{1,4}}(?::{H}){{1,3}}\b"),
        format!(r"\b(?:{H}:){{1,3}}(?::{H}){{1,4}}\b"),
        format!(r"\b(?:{H}:){{1,2}}(?::{H}){{1,5}}\b"),
        format!(r"\b{H}:(?::{H}){{1,6}}\b"),
        format!(r"\B:(?::{H}){{1,7}}\b"),
        r"\B::\B".to_owned(),
        r"\bfe80:(?::[0-9a-fA-F]{0,4}){0,4}%[0-9a-zA-Z]+\b".to_owned(),
        format!(r"\B::(?:ffff(?::0{{1,4}})?:)?{IPV4}\b"),
        format!(r"\b(?:{H}:){{1,4}}:{IPV4}\b"),
    ]
    .join("|");
    let date = [
        // RFC 822, RFC 1123, RFC 1123Z
        format!(r"{DAY},\s\d{{1,2}}\s{MONTH}\s\d{{2,4}}\s\d{{1,2}}:\d{{1,2}}(?::\d{{1,2}})?\s(?:[-+]\d{{2}}[0-5]\d|{ZONE})"),
        // "Mon Jan 02, 1999", "Jan 02, 1999"
        format!(r"(?:{DAY}\s)?{MONTH}\s[0-3]\d,\s\d{{2,4}}"),
        // RFC 850
        format!(r"(?:Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday|{DAY}),\s\d{{2}}-{MONTH}-\d{{2}}\s\d{{2}}:\d{{2}}:\d{{2}}\s{ZONE}"),
        // RFC 3339
        r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?Z?(?:[+-]?\d{2}:\d{2})?".to_owned(),
        // JavaScript's Date.toString()
        format!(r"{DAY}\s{MONTH}\s\d{{2}}\s\d{{4}}\s\d{{2}}:\d{{2}}:\d{{2}}\sGMT[+-]\d{{4}}(?:\s\([^)]+\))?"),
        // Date and time with an offset, then without.
        r"\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d:?[0-5]\d\.\d+(?:[+-][0-2]\d:?[0-5]\d|Z)".to_owned(),
        r"\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d:?[0-5]\d(?:[+-][0-2]\d:?[0-5]\d|Z)".to_owned(),
        r"\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d(?:[+-][0-2]\d:?[0-5]\d|Z)".to_owned(),
        r"\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d:?[0-5]\d\.\d+".to_owned(),
        r"\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d:?[0-5]\d".to_owned(),
        r"\d{4}-?[01]\d-?[0-3]\d[\sT][0-2]\d:?[0-5]\d".to_owned(),
    ]
    .join("|");
    // Clock times: the character after must not be a digit or `:` (matched, then given back).
    let kitchen12 =
        r"(?P<kitchen12>(?:1[0-2]|[1-9]):[0-5]\d(?::[0-5]\d)?(?:\s?[aApP][Mm]|(?P<kt12>[^\d:])|$))";
    let kitchen24 =
        r"(?P<kitchen24>(?:1\d|2[0-3]|0?\d):[0-5]\d(?::[0-5]\d)?(?:(?P<kt24>[^\d:])|$))";
    let date_tail = [
        // Date, time
        r"\d{4}-[01]\d-[0-3]\d".to_owned(),
        r"[0-2]\d:[0-5]\d:[0-5]\d".to_owned(),
        // Older formats.
        format!(r"\b(?:{DAY}\s+)?{MONTH}\s+\d{{1,2}}\s+\d{{2}}:\d{{2}}:\d{{2}}\s+\d{{4}}"),
        format!(r"\b(?:{DAY},\s+)?(?:0[1-9]|[1-2]?\d|3[01])\s+{MONTH}\s+(?:19\d{{2}}|[2-9]\d{{3}})\s+(?:2[0-3]|[0-1]\d):[0-5]\d(?::(?:60|[0-5]\d))?\s+(?:[-+]\d{{2}}[0-5]\d|{ZONE})"),
        r"datetime\.datetime\(.*?\)".to_owned(),
    ]
    .join("|");
    let git_sha = (0..7)
        .map(|digits| format!("[0-9]{{{digits}}}[a-f][0-9a-f]{{{}}}", 6 - digits))
        .collect::<Vec<_>>()
        .join("|");
    let pattern = [
        r"(?P<email>[a-zA-Z0-9.!#$%&'*+/=?^_`{|}~-]+@[a-zA-Z0-9-]+(?:\.[a-zA-Z0-9-]+)*)".to_owned(),
        r"(?P<url>\b(?:wss?|https?|ftp)://[^\s/$.?#].[^\s]*)".to_owned(),
        format!(r"(?P<hostname>\b(?:[a-zA-Z0-9\-]{{1,63}}\.)+?(?:{TLDS}|{lower_tlds})\b)"),
        format!(r"(?P<ip>{ipv6}|\b{IPV4}\b)"),
        r"(?P<traceparent>\b00-[0-9a-f]{32}-[0-9a-f]{16}-0[01]\b|\b1-[0-9a-f]{8}-[0-9a-f]{24}\b)".to_owned(),
        r"(?P<uuid>\b[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}\b)".to_owned(),
        r"(?P<sha1>\b[0-9a-fA-F]{40}\b)".to_owned(),
        r"(?P<md5>\b[0-9a-fA-F]{32}\b)".to_owned(),
        format!(r"(?P<date>{date})"),
        kitchen12.to_owned(),
        kitchen24.to_owned(),
        format!(r"(?P<date2>{date_tail})"),
        r"(?P<duration>\b\d+ms|\d+(?:\.\d+)?s\b)".to_owned(),
        r"(?P<swift>\btx[0-9a-f]{21}-[0-9a-f]{10}\S*)".to_owned(),
        r"(?P<hex0x>\b0[xX][0-9a-fA-F]+\b)".to_owned(),
        r"(?P<hex>\b[0-9a-f]{8,128}\b|\b[0-9A-F]{8,128}\b)".to_owned(),
        format!(r"(?P<gitsha>\b(?:{git_sha})\b)"),
        r"(?P<float>-\d+\.\d+\b|\b\d+\.\d+\b)".to_owned(),
        r"(?P<int>\b\d{1,7}\b)".to_owned(),
        r"(?P<nint>-\d{1,7}\b)".to_owned(),
        r#"(?P<quoted>=(?:'[^']+'|"[^"]+"))"#.to_owned(),
        r"(?P<bool>=(?:True|true|False|false))".to_owned(),
    ]
    .join("|");
    let regex = Regex::new(&pattern).expect("the parameterization pattern is valid");
    let names = [
        ("email", Kind::Email),
        ("url", Kind::Url),
        ("hostname", Kind::Hostname),
        ("ip", Kind::Ip),
        ("traceparent", Kind::Traceparent),
        ("uuid", Kind::Uuid),
        ("sha1", Kind::Sha1),
        ("md5", Kind::Md5),
        ("date", Kind::Date),
        ("kitchen12", Kind::Kitchen),
        ("kitchen24", Kind::Kitchen),
        ("date2", Kind::Date),
        ("duration", Kind::Duration),
        ("swift", Kind::SwiftTxnId),
        ("hex0x", Kind::HexPrefixed),
        ("hex", Kind::HexBare),
        ("gitsha", Kind::GitSha),
        ("float", Kind::Float),
        ("int", Kind::Int),
        ("nint", Kind::NegativeInt),
        ("quoted", Kind::Quoted),
        ("bool", Kind::Bool),
    ];
    let index_of = |name: &str| {
        regex
            .capture_names()
            .position(|n| n == Some(name))
            .unwrap_or(usize::MAX)
    };
    let kinds = names
        .iter()
        .map(|(name, kind)| (index_of(name), *kind))
        .collect();
    let kitchen_tail = vec![index_of("kt12"), index_of("kt24")];
    Parameterizer {
        regex,
        kinds,
        kitchen_tail,
    }
}

/// What to do with a match.
enum Decision {
    /// Replace `start..end` (the end may stop before the match's end) and continue at `end`.
    Replace { end: usize, with: &'static str },
    /// Not a parameter: retry one character after the match's start.
    Retry,
}

/// Replaces parameters in `text` (no line trimming).
pub fn parameterize(text: &str) -> String {
    let p = &*PARAMETERIZER;
    let mut locations: CaptureLocations = p.regex.capture_locations();
    let mut out = String::with_capacity(text.len());
    let mut copied = 0;
    let mut at = 0;
    while at <= text.len() {
        let Some(found) = p.regex.captures_read_at(&mut locations, text, at) else {
            break;
        };
        let (start, end) = (found.start(), found.end());
        let kind = p
            .kinds
            .iter()
            .find(|(index, _)| locations.get(*index).is_some())
            .map(|(_, kind)| *kind);
        let decision = match kind {
            Some(kind) => decide(kind, text, start, end, &locations, &p.kitchen_tail),
            None => Decision::Retry,
        };
        match decision {
            Decision::Replace { end, with } if end > start => {
                out.push_str(&text[copied..start]);
                out.push_str(with);
                copied = end;
                at = end;
            }
            _ => {
                // Step over one character (not one byte) and search again.
                at = start + text[start..].chars().next().map_or(1, char::len_utf8);
            }
        }
    }
    out.push_str(&text[copied..]);
    out
}

fn decide(
    kind: Kind,
    text: &str,
    start: usize,
    end: usize,
    locations: &CaptureLocations,
    kitchen_tail: &[usize],
) -> Decision {
    let matched = &text[start..end];
    let before = text[..start].chars().next_back();
    let replace = |end: usize| Decision::Replace {
        end,
        with: kind.placeholder(),
    };
    match kind {
        Kind::HexBare | Kind::GitSha => {
            if matched.bytes().any(|b| b.is_ascii_digit()) {
                replace(end)
            } else {
                Decision::Retry
            }
        }
        Kind::NegativeInt => {
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_') {
                Decision::Retry
            } else {
                replace(end)
            }
        }
        Kind::Kitchen => {
            // The character after the time was only checked, not part of the match.
            let end = kitchen_tail
                .iter()
                .find_map(|i| locations.get(*i))
                .map_or(end, |(tail_start, _)| tail_start);
            if before.is_some_and(char::is_numeric) {
                // Sentry's next alternative at this position: a plain `HH:MM:SS` time.
                let b = text.as_bytes();
                let time = b.len() >= start + 8
                    && matches!(b[start], b'0'..=b'2')
                    && b[start + 1].is_ascii_digit()
                    && b[start + 2] == b':'
                    && matches!(b[start + 3], b'0'..=b'5')
                    && b[start + 4].is_ascii_digit()
                    && b[start + 5] == b':'
                    && matches!(b[start + 6], b'0'..=b'5')
                    && b[start + 7].is_ascii_digit();
                if time {
                    Decision::Replace {
                        end: start + 8,
                        with: "<date>",
                    }
                } else {
                    Decision::Retry
                }
            } else {
                replace(end)
            }
        }
        _ => replace(end),
    }
}

/// Sentry's `normalize_message_for_grouping`: the first two non-empty lines (`...` appended if
/// that changed the text), parameters replaced.
pub fn normalize_message(message: &str) -> String {
    parameterize(&trim_message(message))
}

/// The first two non-empty lines, with `...` if anything was dropped (Python's `splitlines`).
pub fn trim_message(message: &str) -> std::borrow::Cow<'_, str> {
    let mut lines = split_lines(message).filter(|l| !l.trim().is_empty());
    let mut trimmed = String::new();
    if let Some(first) = lines.next() {
        trimmed.push_str(first);
    }
    if let Some(second) = lines.next() {
        trimmed.push('\n');
        trimmed.push_str(second);
    }
    if trimmed == message {
        return std::borrow::Cow::Borrowed(message);
    }
    trimmed.push_str("...");
    std::borrow::Cow::Owned(trimmed)
}

/// Python's `str.splitlines()`: every line boundary it knows, `\r\n` as one.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    let is_break = |c: char| {
        matches!(
            c,
            '\n' | '\r'
                | '\u{0b}'
                | '\u{0c}'
                | '\u{1c}'
                | '\u{1d}'
                | '\u{1e}'
                | '\u{85}'
                | '\u{2028}'
                | '\u{2029}'
        )
    };
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        match rest.char_indices().find(|(_, c)| is_break(*c)) {
            Some((at, c)) => {
                let line = &rest[..at];
                let mut next = at + c.len_utf8();
                if c == '\r' && rest[next..].starts_with('\n') {
                    next += 1;
                }
                rest = &rest[next..];
                Some(line)
            }
            None => {
                let line = rest;
                rest = "";
                Some(line)
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentry_parameterization_cases() {
        let cases = [
            ("user 42 not found", "user <int> not found"),
            ("balance -3.5 too low", "balance <float> too low"),
            ("delta -5 and id-7", "delta <int> and id-<int>"),
            ("mail bob@example.org failed", "mail <email> failed"),
            (
                "GET https://api.example.com/v2/items/58997?x=1 failed",
                "GET <url> failed",
            ),
            (
                "connect to db.internal.example.com refused",
                "connect to <hostname> refused",
            ),
            ("connect to 10.0.0.12 refused", "connect to <ip> refused"),
            ("peer ::1 closed", "peer <ip> closed"),
            ("peer 2001:db8::1 closed", "peer <ip> closed"),
            ("peer 2001:db8:0:0:0:0:2:1 closed", "peer <ip> closed"),
            // Like Sentry's regex, the first IPv6 form that fits wins, not the longest.
            ("peer 2001:db8::2:1 closed", "peer <ip>:<int> closed"),
            ("call Foo::bar() failed", "call Foo::bar() failed"),
            ("called core::fmt::write", "called core::fmt::write"),
            (
                "trace 00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01 lost",
                "trace <traceparent> lost",
            ),
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
            ("at 2026-11-25 00:16:07 it broke", "at <date> it broke"),
            ("on 2026-11-25 it broke", "on <date> it broke"),
            ("Tue, 25 Nov 2026 00:16:07 +0000 broke", "<date> broke"),
            (
                "Tue Nov 25 2026 00:16:07 GMT+0100 (Central European Standard Time) broke",
                "<date> broke",
            ),
            ("at 12:30:45 broke", "at <date> broke"),
            ("at 9:30 pm broke", "at <date> broke"),
            ("at 9:30, 10:45 broke", "at <date>, <date> broke"),
            (
                "ts datetime.datetime(2026, 11, 25, 0, 16) bad",
                "ts <date> bad",
            ),
            ("took 1500ms", "took <duration>"),
            ("took 2.5s", "took <duration>"),
            ("ptr 0x7f3a2c1e0b50 bad", "ptr <hex> bad"),
            ("trace 4bf92f3577b34da6 missing", "trace <hex> missing"),
            ("order 12345678 lost", "order <hex> lost"),
            ("order 1234567 lost", "order <int> lost"),
            ("rev 3f2a9c1 deployed", "rev <git_sha> deployed"),
            ("deadbeef is a word here", "deadbeef is a word here"),
            ("key='abc' rejected", "key=<quoted_str> rejected"),
            ("key=\"a b\" rejected", "key=<quoted_str> rejected"),
            ("flag=true set", "flag=<bool> set"),
            (
                "tx tx0123456789abcdef01234-0123456789/x done",
                "tx <swift_txn_id> done",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(parameterize(input), expected, "{input}");
        }
    }

    #[test]
    fn look_around_emulation() {
        // A clock time right after a digit is not one (Sentry's look-behind); a plain
        // HH:MM:SS still is.
        assert_eq!(parameterize("a112:30"), "a112:<int>");
        assert_eq!(parameterize("a112:30:45"), "a1<date>");
        // The character after a clock time stays and may start the next parameter.
        assert_eq!(parameterize("10:30-11:00"), "<date>-<date>");
        // A minus between words is not a sign.
        assert_eq!(parameterize("abc-2024-01-01"), "abc-<date>");
        // Hex needs a digit.
        assert_eq!(parameterize("ABCDEF12 abcdefab"), "<hex> abcdefab");
        assert_eq!(parameterize("überschritten 42"), "überschritten <int>");
    }

    #[test]
    fn words_survive() {
        for text in [
            "Unexpected state: the dim falcon wobbled near the vivid quarry",
            "called `Option::unwrap()` on a `None` value",
            "'NoneType' object has no attribute 'width'",
        ] {
            assert_eq!(normalize_message(text), text);
        }
    }

    #[test]
    fn trims_like_python() {
        assert_eq!(normalize_message("a\n\nb\nc"), "a\nb...");
        assert_eq!(normalize_message("a\nb"), "a\nb");
        assert_eq!(normalize_message("a\r\nb"), "a\nb...");
        assert_eq!(normalize_message("a\n"), "a...");
        assert_eq!(normalize_message(""), "");
    }

    proptest::proptest! {
        #[test]
        fn never_panics(text in "\\PC{0,200}") {
            let _ = normalize_message(&text);
        }

        #[test]
        fn numbers_and_ids_never_change_the_result(
            a in 0u64..10_000_000,
            b in 0u64..u64::MAX,
            c in proptest::array::uniform16(proptest::prelude::any::<u8>()),
        ) {
            let uuid = {
                let h = hex::encode(c);
                format!("{}-{}-{}-{}-{}", &h[..8], &h[8..12], &h[12..16], &h[16..20], &h[20..])
            };
            proptest::prop_assert_eq!(
                normalize_message(&format!("user {a} failed order {uuid} from 10.0.{}.{} at 0x{b:x}", a % 256, b % 256)),
                normalize_message("user 1 failed order 00000000-0000-0000-0000-000000000000 from 10.0.0.1 at 0x1"),
            );
        }
    }
}
