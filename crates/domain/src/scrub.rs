//! Data scrubbing: sensitive values are replaced before anything is stored.
//!
//! The rules are Sentry's "data scrubber" defaults as Relay applies them (`relay-pii`
//! `@common:filter` plus the sensitive cookie names), reimplemented as plain byte scans so that a
//! value which needs no change is never copied:
//!
//! * **By key**: a value whose key contains one of [`DEFAULT_SENSITIVE_KEYS`] (ASCII
//!   case-insensitive substring, as Sentry matches) or equals one of [`DEFAULT_SENSITIVE_NAMES`],
//!   anywhere in a databag: request data, query string, cookies, headers and env, `extra`,
//!   contexts, frame `vars`, breadcrumb data, `user.data`, log parameters, tags. A container under
//!   such a key is replaced as a whole.
//! * **Inside strings** (the same places, plus messages, exception values, URLs): the value of a
//!   `key=value`, `key: value`, `"key": "value"` pair whose key is sensitive (query strings, form
//!   bodies, Python/JSON reprs), URL passwords (`scheme://user:PASSWORD@host`), bearer tokens,
//!   PEM key bodies and credit card numbers (13 to 19 digits, spaces or dashes allowed between
//!   digits, an issuer prefix 2-6 and a valid Luhn checksum).
//!
//! Every replacement is `[Filtered]` and is recorded in the event's `_meta` the way Relay does
//! (`{"rem": [["@password:filter", "s", 0, 10]], "len": 7}`); see [`crate::trim`], which walks
//! the event once for both scrubbing and trimming.

use std::sync::LazyLock;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What a scrubbed value is replaced with (Sentry's `FILTER_MASK`).
pub const FILTERED: &str = "[Filtered]";

/// Key fragments that mark a value as sensitive (case-insensitive substring match).
///
/// Relay's `@password` key pattern (`password|secret|passwd|api[-_]key|apikey|auth|credentials|
/// mysql_pwd|privatekey|private[-_]key|token`), plus what its sensitive-cookie list and Sentry's
/// older defaults cover: session and CSRF/XSRF identifiers, cookies (the `Cookie` and
/// `Set-Cookie` headers), JWTs. `auth` covers `Authorization`, `Proxy-Authorization`,
/// `X-Auth-Token`, `X-Sentry-Auth`; `api-key` covers `X-Api-Key`; `token` covers `access_token`,
/// `refresh_token`, `csrftoken`.
pub const DEFAULT_SENSITIVE_KEYS: &[&str] = &[
    "password",
    "passwd",
    "secret",
    "api_key",
    "api-key",
    "apikey",
    "auth",
    "credentials",
    "mysql_pwd",
    "privatekey",
    "private_key",
    "private-key",
    "token",
    "session",
    "sessid",
    "csrf",
    "xsrf",
    "cookie",
    "jwt",
];

/// Short names matched exactly (case-insensitive), too short for a substring match
/// (Relay's `^otp$` and `^two[-_]factor$`).
pub const DEFAULT_SENSITIVE_NAMES: &[&str] = &["otp", "two_factor", "two-factor"];

/// Headers that carry the client's address, scrubbed with `scrub_ip_addresses`.
const IP_HEADERS: &[&str] = &[
    "x-forwarded-for",
    "x-real-ip",
    "forwarded",
    "cf-connecting-ip",
    "true-client-ip",
    "x-client-ip",
];

/// Rule id of the built-in key list (Relay's name for it).
pub(crate) const RULE_PASSWORD: &str = "@password:filter";
/// Rule id of the project's extra sensitive fields (Relay's name for them).
pub(crate) const RULE_CUSTOM: &str = "strip-fields";
pub(crate) const RULE_CREDITCARD: &str = "@creditcard:filter";
pub(crate) const RULE_URLAUTH: &str = "@urlauth:legacy";
pub(crate) const RULE_BEARER: &str = "@bearer:filter";
pub(crate) const RULE_PEMKEY: &str = "@pemkey:filter";
/// Rule id of IP removal (Relay removes known IP fields with `@anything:remove`).
pub(crate) const RULE_IP_REMOVE: &str = "@anything:remove";
pub(crate) const RULE_IP_FILTER: &str = "@ip:filter";

/// A project's scrubbing settings (Sentry's project fields `dataScrubber`,
/// `dataScrubberDefaults`, `sensitiveFields`, `safeFields`, `scrubIPAddresses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScrubbingConfig {
    /// Scrub at all (on by default).
    pub enabled: bool,
    /// Use the built-in rules: the sensitive key names above and the in-string rules (credit
    /// cards, URL passwords, bearer tokens, PEM keys).
    pub use_defaults: bool,
    /// Extra field names to scrub (case-insensitive substrings, like the built-in names).
    pub sensitive_fields: Vec<String>,
    /// Field names never scrubbed (case-insensitive, exact); everything below them is kept.
    pub safe_fields: Vec<String>,
    /// Do not store IP addresses.
    pub scrub_ip_addresses: bool,
}

impl Default for ScrubbingConfig {
    fn default() -> Self {
        ScrubbingConfig {
            enabled: true,
            use_defaults: true,
            sensitive_fields: Vec::new(),
            safe_fields: Vec::new(),
            scrub_ip_addresses: false,
        }
    }
}

/// Scrubs a normalized event in place (no trimming); see [`crate::trim::trim_and_scrub`] for the
/// combined walk the pipeline runs.
pub fn scrub_event(event: &mut Value, config: &ScrubbingConfig) {
    crate::trim::walk_event(event, Some(config), false);
}

/// What a key says about its value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyClass {
    /// Nothing special.
    Normal,
    /// A safe field: the value and everything below it is left alone.
    Safe,
    /// The value is replaced; the rule id is recorded.
    Sensitive(&'static str),
}

/// One replacement inside a string: bytes `start..end` become `[Filtered]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Redaction {
    pub start: usize,
    pub end: usize,
    pub rule: &'static str,
}

/// Substring needles grouped by their first (lowercase) byte, so a key is checked with one
/// table lookup per position instead of one comparison per needle.
#[derive(Debug, Clone)]
struct Needles {
    /// Lowercase needles and their rule, sorted by first byte.
    needles: Vec<(Box<[u8]>, &'static str)>,
    /// For each first byte, the range of `needles` that start with it.
    by_first: Box<[(u16, u16)]>,
    /// The shortest needle's length.
    min_len: usize,
}

impl Needles {
    fn new(mut needles: Vec<(Box<[u8]>, &'static str)>) -> Needles {
        needles.retain(|(needle, _)| !needle.is_empty());
        needles.truncate(usize::from(u16::MAX));
        needles.sort_by_key(|(needle, _)| needle[0]);
        let mut by_first = vec![(0u16, 0u16); 256].into_boxed_slice();
        for (index, (needle, _)) in needles.iter().enumerate() {
            let index = u16::try_from(index).unwrap_or(u16::MAX);
            let range = &mut by_first[usize::from(needle[0])];
            if range.0 == range.1 {
                *range = (index, index + 1);
            } else {
                range.1 = index + 1;
            }
        }
        let min_len = needles
            .iter()
            .map(|(n, _)| n.len())
            .min()
            .unwrap_or(usize::MAX);
        Needles {
            needles,
            by_first,
            min_len,
        }
    }

    fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The rule of a needle found in `key`.
    fn find(&self, key: &[u8]) -> Option<&'static str> {
        if key.len() < self.min_len {
            return None;
        }
        for start in 0..=key.len() - self.min_len {
            let (from, to) = self.by_first[usize::from(key[start].to_ascii_lowercase())];
            if from == to {
                continue;
            }
            let rest = &key[start..];
            for (needle, rule) in &self.needles[usize::from(from)..usize::from(to)] {
                if rest.len() >= needle.len()
                    && rest[1..needle.len()].eq_ignore_ascii_case(&needle[1..])
                {
                    return Some(rule);
                }
            }
        }
        None
    }
}

/// A compiled [`ScrubbingConfig`].
#[derive(Debug, Clone)]
pub(crate) struct Scrubber {
    needles: Needles,
    exact: Vec<(Box<str>, &'static str)>,
    safe: Vec<Box<str>>,
    /// The in-string rules that are part of the defaults (cards, URL passwords, tokens, keys).
    value_rules: bool,
    /// Remove IP addresses.
    pub scrub_ip: bool,
}

static DEFAULT_SCRUBBER: LazyLock<Scrubber> =
    LazyLock::new(|| Scrubber::build(&ScrubbingConfig::default()));

impl Scrubber {
    /// The scrubber for a config, or `None` if nothing is to be scrubbed. The default config's
    /// scrubber is built once.
    pub(crate) fn for_config(
        config: &ScrubbingConfig,
    ) -> Option<std::borrow::Cow<'static, Scrubber>> {
        if !config.enabled {
            return None;
        }
        if *config == ScrubbingConfig::default() {
            return Some(std::borrow::Cow::Borrowed(&*DEFAULT_SCRUBBER));
        }
        Some(std::borrow::Cow::Owned(Scrubber::build(config)))
    }

    fn build(config: &ScrubbingConfig) -> Scrubber {
        let lower = |s: &str| s.trim().to_ascii_lowercase();
        let mut needles: Vec<(Box<[u8]>, &'static str)> = Vec::new();
        let mut exact = Vec::new();
        if config.use_defaults {
            needles.extend(
                DEFAULT_SENSITIVE_KEYS
                    .iter()
                    .map(|k| (k.as_bytes().into(), RULE_PASSWORD)),
            );
            exact.extend(
                DEFAULT_SENSITIVE_NAMES
                    .iter()
                    .map(|k| (Box::<str>::from(*k), RULE_PASSWORD)),
            );
        }
        for field in &config.sensitive_fields {
            let field = lower(field);
            if !field.is_empty() && needles.len() < usize::from(u16::MAX) {
                needles.push((field.into_bytes().into(), RULE_CUSTOM));
            }
        }
        let safe = config
            .safe_fields
            .iter()
            .map(|f| lower(f))
            .filter(|f| !f.is_empty())
            .map(String::into_boxed_str)
            .collect();
        Scrubber {
            needles: Needles::new(needles),
            exact,
            safe,
            value_rules: config.use_defaults,
            scrub_ip: config.scrub_ip_addresses,
        }
    }

    /// Classifies a key: safe fields win over sensitive names.
    pub(crate) fn classify(&self, key: &str) -> KeyClass {
        if !self.safe.is_empty() && self.safe.iter().any(|s| s.eq_ignore_ascii_case(key)) {
            return KeyClass::Safe;
        }
        match self.sensitive_rule(key.as_bytes()) {
            Some(rule) => KeyClass::Sensitive(rule),
            None => KeyClass::Normal,
        }
    }

    fn sensitive_rule(&self, key: &[u8]) -> Option<&'static str> {
        if let Some(rule) = self.needles.find(key) {
            return Some(rule);
        }
        self.exact
            .iter()
            .find(|(name, _)| name.as_bytes().eq_ignore_ascii_case(key))
            .map(|(_, rule)| *rule)
    }

    /// Whether a header carries a client address.
    pub(crate) fn is_ip_header(&self, name: &str) -> bool {
        self.scrub_ip && IP_HEADERS.iter().any(|h| h.eq_ignore_ascii_case(name))
    }

    /// Whether the in-string rules of the defaults (cards, URL passwords, tokens, keys) apply.
    pub(crate) fn value_rules(&self) -> bool {
        self.value_rules
    }

    /// Whether [`Scrubber::find_redactions`] can find anything at all.
    pub(crate) fn scans_strings(&self) -> bool {
        self.value_rules || !self.needles.is_empty()
    }

    /// Finds what to replace in `text`, in order and without overlaps (appended to `out`).
    /// One left-to-right pass over the bytes; only a few bytes (digits, `=`, `:`, `b`, `-`) start
    /// a closer look.
    pub(crate) fn find_redactions(&self, text: &str, out: &mut Vec<Redaction>) {
        let bytes = text.as_bytes();
        // Most strings hold nothing to look at: one branch-free (vectorizable) pass decides which
        // rules can match at all before the byte-by-byte look.
        let seen = Seen::of(bytes);
        let pairs = (!self.needles.is_empty() || !self.exact.is_empty()) && seen.separator;
        let cards = self.value_rules && seen.digits >= MIN_CARD_DIGITS;
        let urls = self.value_rules && seen.separator && seen.at;
        let bearer = self.value_rules && seen.b;
        let pem = self.value_rules && seen.dashes >= 10;
        if !(pairs || cards || urls || bearer || pem) {
            return;
        }
        let mut i = 0;
        while i < bytes.len() {
            let found = match bytes[i] {
                b'0'..=b'9' if cards && word_start(bytes, i) => card_at(bytes, i),
                b'=' if pairs => self.pair_value(bytes, i),
                b':' if pairs || urls => {
                    let url = if urls {
                        url_password_at(bytes, i)
                    } else {
                        None
                    };
                    url.or_else(|| {
                        if pairs {
                            self.pair_value(bytes, i)
                        } else {
                            None
                        }
                    })
                }
                b'b' | b'B' if bearer && word_start(bytes, i) => bearer_at(bytes, i),
                b'-' if pem => pem_body_at(bytes, i),
                _ => None,
            };
            match found {
                Some(redaction) if is_char_range(text, redaction) => {
                    out.push(redaction);
                    i = redaction.end.max(i + 1);
                }
                _ => i += 1,
            }
        }
    }

    /// For a separator (`=` or `:`) at `at`, the value after it if the key before it is sensitive.
    fn pair_value(&self, bytes: &[u8], at: usize) -> Option<Redaction> {
        let (key, quoted) = key_before(bytes, at)?;
        let rule = self.sensitive_rule(key)?;
        // An unquoted `key:` is only a pair when a space or a value follows, never `scheme://`.
        if bytes[at] == b':' && !quoted && bytes.get(at + 1) == Some(&b'/') {
            return None;
        }
        // `key: value` without quotes is a header-style line: the value runs to the line's end.
        let to_line_end = bytes[at] == b':' && !quoted;
        let (start, end) = value_after(bytes, at + 1, to_line_end)?;
        if bytes[start..].starts_with(FILTERED.as_bytes()) {
            return None;
        }
        Some(Redaction { start, end, rule })
    }
}

/// What a string contains, as far as the in-string rules care.
#[derive(Debug, Default)]
struct Seen {
    digits: usize,
    dashes: usize,
    separator: bool,
    at: bool,
    b: bool,
}

impl Seen {
    fn of(bytes: &[u8]) -> Seen {
        let mut digits = 0usize;
        let mut dashes = 0usize;
        let mut flags = 0u8;
        for &byte in bytes {
            digits += usize::from(byte.is_ascii_digit());
            dashes += usize::from(byte == b'-');
            flags |= u8::from(byte == b'=' || byte == b':')
                | (u8::from(byte == b'@') << 1)
                | (u8::from(byte | 0x20 == b'b') << 2);
        }
        Seen {
            digits,
            dashes,
            separator: flags & 1 != 0,
            at: flags & 2 != 0,
            b: flags & 4 != 0,
        }
    }
}

fn is_char_range(text: &str, r: Redaction) -> bool {
    r.start < r.end && text.is_char_boundary(r.start) && text.is_char_boundary(r.end)
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn word_start(bytes: &[u8], at: usize) -> bool {
    at == 0 || !is_word_byte(bytes[at - 1])
}

fn is_key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']' | b'%')
}

/// The key token before a separator at `at`: optional spaces, an optional closing quote, then
/// key characters. Returns the key and whether it was quoted.
fn key_before(bytes: &[u8], at: usize) -> Option<(&[u8], bool)> {
    let mut end = at;
    while end > 0 && bytes[end - 1] == b' ' && at - end < 4 {
        end -= 1;
    }
    let quoted = end > 0 && matches!(bytes[end - 1], b'"' | b'\'');
    if quoted {
        end -= 1;
    }
    let mut start = end;
    while start > 0 && is_key_byte(bytes[start - 1]) && end - start < 128 {
        start -= 1;
    }
    (start < end).then(|| (&bytes[start..end], quoted))
}

/// The value after a separator: a quoted string's content, or a bare token up to a delimiter
/// (with `to_line_end`, spaces do not end it).
fn value_after(bytes: &[u8], from: usize, to_line_end: bool) -> Option<(usize, usize)> {
    let mut start = from;
    while start < bytes.len() && bytes[start] == b' ' && start - from < 4 {
        start += 1;
    }
    let first = *bytes.get(start)?;
    if matches!(first, b'"' | b'\'') {
        let mut end = start + 1;
        while end < bytes.len() && bytes[end] != first {
            end += if bytes[end] == b'\\' { 2 } else { 1 };
        }
        let end = end.min(bytes.len());
        return (end > start + 1).then_some((start + 1, end));
    }
    let mut end = start;
    while end < bytes.len()
        && !(bytes[end].is_ascii_whitespace() && !(to_line_end && bytes[end] == b' '))
        && !matches!(
            bytes[end],
            b'&' | b';' | b',' | b'"' | b'\'' | b'}' | b']' | b')' | b'#' | b'<' | b'>'
        )
    {
        end += 1;
    }
    while to_line_end && end > start && bytes[end - 1] == b' ' {
        end -= 1;
    }
    (end > start).then_some((start, end))
}

/// `scheme://user:PASSWORD@host`: the password of a URL whose `://` starts at `at`.
fn url_password_at(bytes: &[u8], at: usize) -> Option<Redaction> {
    if !bytes[at..].starts_with(b"://") {
        return None;
    }
    let start = at + 3;
    let mut colon = None;
    let mut end = start;
    while end < bytes.len() {
        match bytes[end] {
            b'@' => break,
            b'/' | b'?' | b'#' | b'"' | b'\'' | b'<' | b'>' => return None,
            b if b.is_ascii_whitespace() => return None,
            b':' if colon.is_none() => colon = Some(end),
            _ => {}
        }
        end += 1;
    }
    let password = colon? + 1;
    if end >= bytes.len() || password >= end || &bytes[password..end] == FILTERED.as_bytes() {
        return None;
    }
    Some(Redaction {
        start: password,
        end,
        rule: RULE_URLAUTH,
    })
}

/// `Bearer TOKEN`: the token.
fn bearer_at(bytes: &[u8], at: usize) -> Option<Redaction> {
    const WORD: &[u8] = b"bearer";
    let rest = bytes.get(at..at + WORD.len())?;
    if !rest.eq_ignore_ascii_case(WORD) {
        return None;
    }
    let mut start = at + WORD.len();
    if !bytes.get(start).is_some_and(|b| *b == b' ' || *b == b'\t') {
        return None;
    }
    while start < bytes.len() && (bytes[start] == b' ' || bytes[start] == b'\t') {
        start += 1;
    }
    let mut end = start;
    while end < bytes.len()
        && !bytes[end].is_ascii_whitespace()
        && !matches!(bytes[end], b'"' | b'\'')
    {
        end += 1;
    }
    if end == start || &bytes[start..end] == FILTERED.as_bytes() {
        return None;
    }
    Some(Redaction {
        start,
        end,
        rule: RULE_BEARER,
    })
}

/// `-----BEGIN ... KEY-----` body `-----END ... KEY-----`: the body.
fn pem_body_at(bytes: &[u8], at: usize) -> Option<Redaction> {
    const BEGIN: &[u8] = b"-----BEGIN ";
    const DASHES: &[u8] = b"-----";
    if !bytes[at..].starts_with(BEGIN) {
        return None;
    }
    let label_start = at + BEGIN.len();
    let label_len = find(&bytes[label_start..], DASHES)?;
    let label = &bytes[label_start..label_start + label_len];
    if !label.ends_with(b"KEY") || label.len() > 64 {
        return None;
    }
    let start = label_start + label_len + DASHES.len();
    let end = start + find(&bytes[start..], b"-----END ")?;
    // Keep the line breaks around the body.
    let body = &bytes[start..end];
    let lead = body.iter().take_while(|b| b.is_ascii_whitespace()).count();
    let trail = body
        .iter()
        .rev()
        .take_while(|b| b.is_ascii_whitespace())
        .count();
    let (start, end) = (start + lead, end.saturating_sub(trail));
    (start < end).then_some(Redaction {
        start,
        end,
        rule: RULE_PEMKEY,
    })
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// Longest digit run considered a card number.
const MAX_CARD_DIGITS: usize = 19;
/// Shortest digit run considered a card number.
const MIN_CARD_DIGITS: usize = 13;

/// A credit card number starting at `at` (a digit at a word start): 13-19 digits, single spaces
/// or dashes allowed between digits, ending at a word end, issuer prefix 2-6 (Visa, Mastercard,
/// Amex, Discover, JCB, Diners, UnionPay, Maestro; this also keeps millisecond timestamps and
/// most numeric ids, which start with 1, from being taken for cards) and a valid Luhn checksum.
fn card_at(bytes: &[u8], at: usize) -> Option<Redaction> {
    let mut digits = [0u8; MAX_CARD_DIGITS];
    let mut count = 0;
    let mut end = at;
    let mut i = at;
    loop {
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            if count < MAX_CARD_DIGITS {
                digits[count] = bytes[i] - b'0';
            }
            count += 1;
            i += 1;
        }
        end = end.max(i);
        let separator = bytes.get(i).is_some_and(|b| *b == b' ' || *b == b'-');
        if separator && bytes.get(i + 1).is_some_and(u8::is_ascii_digit) && count <= MAX_CARD_DIGITS
        {
            i += 1;
            continue;
        }
        break;
    }
    let valid = (MIN_CARD_DIGITS..=MAX_CARD_DIGITS).contains(&count)
        && (2..=6).contains(&digits[0])
        && !bytes.get(end).copied().is_some_and(is_word_byte)
        && luhn(&digits[..count]);
    valid.then_some(Redaction {
        start: at,
        end,
        rule: RULE_CREDITCARD,
    })
}

/// A JSON integer that is a card number.
pub(crate) fn is_card_number(n: u64) -> bool {
    let text = n.to_string();
    card_at(text.as_bytes(), 0).is_some_and(|r| r.end == text.len())
}

fn luhn(digits: &[u8]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| {
            let d = u32::from(d);
            if i % 2 == 1 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scrubber(config: ScrubbingConfig) -> Scrubber {
        Scrubber::build(&config)
    }

    fn redacted(s: &Scrubber, text: &str) -> String {
        let mut found = Vec::new();
        s.find_redactions(text, &mut found);
        let mut out = String::new();
        let mut last = 0;
        for r in found {
            out.push_str(&text[last..r.start]);
            out.push_str(FILTERED);
            last = r.end;
        }
        out.push_str(&text[last..]);
        out
    }

    #[test]
    fn every_default_key_class_is_sensitive() {
        let s = scrubber(ScrubbingConfig::default());
        for key in [
            "password",
            "user_password",
            "PASSWD",
            "client_secret",
            "api_key",
            "X-Api-Key",
            "apiKey",
            "Authorization",
            "Proxy-Authorization",
            "X-Auth-Token",
            "credentials",
            "MYSQL_PWD",
            "privatekey",
            "private_key",
            "token",
            "access_token",
            "refresh_token",
            "csrftoken",
            "sessionid",
            "session",
            "PHPSESSID",
            "X-CSRF-Token",
            "XSRF-TOKEN",
            "Cookie",
            "Set-Cookie",
            "_vercel_jwt",
            "otp",
            "two-factor",
            "two_factor",
        ] {
            assert!(
                matches!(s.classify(key), KeyClass::Sensitive(_)),
                "{key} should be sensitive"
            );
        }
        for key in [
            "user",
            "email",
            "Accept",
            "User-Agent",
            "order_id",
            "otp_sent",
            "Host",
        ] {
            assert_eq!(s.classify(key), KeyClass::Normal, "{key}");
        }
    }

    #[test]
    fn safe_and_extra_sensitive_fields() {
        let s = scrubber(ScrubbingConfig {
            sensitive_fields: vec![" Order_Id ".into()],
            safe_fields: vec!["Session_Count".into()],
            ..ScrubbingConfig::default()
        });
        assert_eq!(s.classify("order_id"), KeyClass::Sensitive(RULE_CUSTOM));
        assert_eq!(s.classify("session_count"), KeyClass::Safe);
        assert_eq!(s.classify("sessionid"), KeyClass::Sensitive(RULE_PASSWORD));
        let custom_only = scrubber(ScrubbingConfig {
            use_defaults: false,
            sensitive_fields: vec!["order".into()],
            ..ScrubbingConfig::default()
        });
        assert_eq!(custom_only.classify("password"), KeyClass::Normal);
        assert_eq!(
            redacted(&custom_only, "card 4111 1111 1111 1111"),
            "card 4111 1111 1111 1111"
        );
        assert_eq!(
            redacted(&custom_only, "?order=7&x=1"),
            "?order=[Filtered]&x=1"
        );
    }

    #[test]
    fn credit_cards_need_a_valid_luhn_checksum() {
        let s = scrubber(ScrubbingConfig::default());
        for card in [
            "4111111111111111",
            "4111 1111 1111 1111",
            "4111-1111-1111-1111",
            "5500 0000 0000 0004",
            "378282246310005",
            "6011111111111117",
        ] {
            assert_eq!(
                redacted(&s, &format!("card={card}!")),
                "card=[Filtered]!",
                "{card}"
            );
            assert_eq!(
                redacted(&s, &format!("paid with {card}.")),
                "paid with [Filtered]."
            );
        }
        for not_card in [
            "4111111111111112",        // bad checksum
            "1767225600123",           // a millisecond timestamp (prefix 1)
            "41111111111",             // too short
            "41111111111111111111111", // too long
            "4111111111111111abc",     // not a whole word
            "v4111111111111111",
        ] {
            assert_eq!(redacted(&s, not_card), not_card, "{not_card}");
        }
        assert!(is_card_number(4_111_111_111_111_111));
        assert!(!is_card_number(4_111_111_111_111_112));
        assert!(!is_card_number(42));
    }

    #[test]
    fn pairs_urls_tokens_and_keys_inside_strings() {
        let s = scrubber(ScrubbingConfig::default());
        let cases = [
            (
                "https://api.example/v1?access_token=abc123&page=2",
                "https://api.example/v1?access_token=[Filtered]&page=2",
            ),
            (
                "postgres://app:hunter2@db:5432/shop",
                "postgres://app:[Filtered]@db:5432/shop",
            ),
            (
                "{'password': 'hunter2', 'user': 'bob'}",
                "{'password': '[Filtered]', 'user': 'bob'}",
            ),
            (
                r#"{"api_key":"k-1","n":1}"#,
                r#"{"api_key":"[Filtered]","n":1}"#,
            ),
            (
                "Authorization: Bearer eyJhbGci.x.y",
                "Authorization: [Filtered]",
            ),
            (
                "sent header Bearer eyJhbGci.x.y ok",
                "sent header Bearer [Filtered] ok",
            ),
            (
                "login failed password=hunter2 for bob",
                "login failed password=[Filtered] for bob",
            ),
            (
                "-----BEGIN RSA PRIVATE KEY-----\nMIIB\nabc\n-----END RSA PRIVATE KEY-----",
                "-----BEGIN RSA PRIVATE KEY-----\n[Filtered]\n-----END RSA PRIVATE KEY-----",
            ),
            (
                "https://shop.example/cart?item=1",
                "https://shop.example/cart?item=1",
            ),
            ("TypeError: x is undefined", "TypeError: x is undefined"),
            ("password=[Filtered]", "password=[Filtered]"),
        ];
        for (input, expected) in cases {
            assert_eq!(redacted(&s, input), expected, "{input}");
        }
    }

    #[test]
    fn odd_input_never_panics() {
        let s = scrubber(ScrubbingConfig::default());
        for text in [
            "",
            "=",
            ":",
            "'password':",
            "password=\"",
            "://",
            "a://b:@",
            "é=é",
            "-----BEGIN ",
            "bearer",
            "4",
            "token=é",
        ] {
            let _ = redacted(&s, text);
        }
    }
}
