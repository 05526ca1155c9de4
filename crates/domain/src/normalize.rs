//! Event normalization: every shape real SDKs send (protocol.md §6) becomes one canonical shape.
//!
//! Lenient by design (the Relay lesson): a field that cannot be understood is removed and recorded
//! in the event's `errors` list and in `_meta` (Relay's `{"err": [...]}` annotations), never a
//! reason to reject the event. The canonical shape is Sentry's stored event schema: containers as
//! `{"values": [...]}`, tags, headers, cookies and query strings as `[key, value]` pairs,
//! `logentry` instead of `message`, timestamps as Unix seconds (floats).
//!
//! Sizes are not bounded here: [`crate::trim`] trims (and scrubs) after normalization.

use serde_json::{Map, Value, json};

use crate::Level;
use crate::metadata::CUSTOM_TITLE_FIELD;
use crate::tags::{NOT_A_PAIR, NOT_PAIRS, normalize_tag_entries, normalize_value};
use crate::trim::{Meta, Seg};
use crate::value::{normalize_values, percent_decode, scalar_to_string};

/// Clock drift at or beyond which every timestamp in the event is corrected by `received -
/// sent_at` (Relay's 55 minutes).
const CLOCK_DRIFT_THRESHOLD_SECS: f64 = 55.0 * 60.0;
/// Events from further in the future than this are moved to the receive time.
const MAX_SECS_IN_FUTURE: f64 = 60.0;
/// Events older than this are moved to the receive time.
const MAX_SECS_IN_PAST: f64 = 30.0 * 24.0 * 3600.0;
/// Longest logger name; longer ones are shortened from the front (Relay's `MaxChars::Logger`).
const MAX_LOGGER_CHARS: usize = 64;
/// Longest environment and dist (Relay; longer ones are invalid, not cut).
const MAX_ENVIRONMENT_CHARS: usize = 64;
const MAX_DIST_CHARS: usize = 64;
/// Longest release (Relay's `validate_release`).
const MAX_RELEASE_CHARS: usize = 200;

/// The platforms Relay accepts (`relay-event-schema` `VALID_PLATFORMS`); others become `other`.
pub const VALID_PLATFORMS: &[&str] = &[
    "as3",
    "c",
    "cfml",
    "cocoa",
    "csharp",
    "elixir",
    "go",
    "groovy",
    "haskell",
    "java",
    "javascript",
    "native",
    "node",
    "objc",
    "other",
    "perl",
    "php",
    "python",
    "ruby",
];

/// User fields Sentry knows; anything else an SDK puts on the user moves into `user.data`.
const USER_FIELDS: &[&str] = &[
    "id",
    "email",
    "ip_address",
    "username",
    "name",
    "geo",
    "segment",
    "data",
    "sentry_user",
];

/// What the normalizer knows besides the payload.
#[derive(Debug, Clone)]
pub struct NormalizeContext<'a> {
    /// The id the event was acknowledged with (authoritative over the payload's).
    pub event_id: &'a str,
    /// When the server received the event, Unix seconds.
    pub received: f64,
    /// The envelope's `sent_at`, Unix seconds.
    pub sent_at: Option<f64>,
    /// The client's address, for `{{auto}}` user IPs.
    pub client_ip: Option<&'a str>,
}

/// A problem found while normalizing, kept on the event as Sentry's `errors[]`.
#[derive(Debug, Clone, PartialEq)]
pub struct ProcessingError {
    /// Sentry's error type (`invalid_data`, `clock_drift`, `future_timestamp`, ...).
    pub kind: &'static str,
    /// The field concerned.
    pub name: String,
    /// The offending value, when small enough to be useful.
    pub value: Option<Value>,
}

impl ProcessingError {
    fn to_json(&self) -> Value {
        let mut object = Map::new();
        object.insert("type".into(), Value::from(self.kind));
        object.insert("name".into(), Value::from(self.name.clone()));
        if let Some(value) = &self.value {
            object.insert("value".into(), value.clone());
        }
        Value::Object(object)
    }
}

/// The errors and `_meta` annotations collected while normalizing.
struct Problems {
    errors: Vec<ProcessingError>,
    meta: Meta,
}

impl Problems {
    /// A value at `path` was invalid and removed (or replaced by a default): an `errors` entry
    /// named by the dotted path, and an `invalid_data` error in `_meta`. `original` goes into
    /// both; pass it only for small values that cannot hold secrets (they bypass scrubbing).
    fn invalid(&mut self, path: &[Seg<'_>], reason: &str, original: Option<Value>) {
        self.errors.push(ProcessingError {
            kind: "invalid_data",
            name: dotted(path),
            value: original.clone(),
        });
        self.meta
            .error(path, "invalid_data", Some(reason), original);
    }
}

fn dotted(path: &[Seg<'_>]) -> String {
    let mut name = String::new();
    for (i, seg) in path.iter().enumerate() {
        if i > 0 {
            name.push('.');
        }
        match seg {
            Seg::Key(key) => name.push_str(key),
            Seg::Index(index) => name.push_str(&index.to_string()),
        }
    }
    name
}

/// Normalizes `event` in place and returns the errors it also appended to `event.errors`.
pub fn normalize_event(event: &mut Value, ctx: &NormalizeContext<'_>) -> Vec<ProcessingError> {
    let mut problems = Problems {
        errors: Vec::new(),
        meta: Meta::default(),
    };
    if let Value::Object(object) = event {
        // The SDK's own annotations (what it trimmed) are kept, never their original values.
        problems.meta = Meta::take_untrusted(object);
    } else {
        problems.errors.push(ProcessingError {
            kind: "invalid_data",
            name: "event".into(),
            value: None,
        });
        problems
            .meta
            .error(&[], "invalid_data", Some("expected an object"), None);
        *event = Value::Object(Map::new());
    }
    let Value::Object(object) = event else {
        unreachable!("replaced by an object above")
    };
    // Set by server-side rules only.
    object.remove(CUSTOM_TITLE_FIELD);

    object.insert("event_id".into(), Value::from(ctx.event_id));
    let drift = normalize_timestamps(object, ctx, &mut problems);
    normalize_level(object, &mut problems);
    normalize_platform(object, &mut problems);
    normalize_short_strings(object, &mut problems);
    normalize_logentry(object, &mut problems);
    for key in ["exception", "threads", "breadcrumbs"] {
        let looks_like = |m: &Map<String, Value>| match key {
            "exception" => m.contains_key("type") || m.contains_key("value"),
            "breadcrumbs" => m.contains_key("message") || m.contains_key("category"),
            _ => m.contains_key("stacktrace") || m.contains_key("id"),
        };
        if !normalize_values(object, key, looks_like) {
            problems.invalid(
                &[Seg::Key(key)],
                "expected a list or {\"values\": [...]}",
                None,
            );
        }
    }
    normalize_exceptions(object, &mut problems);
    normalize_threads(object, &mut problems);
    normalize_breadcrumbs(object, ctx.received, drift, &mut problems);
    normalize_contexts(object, &mut problems);
    normalize_request(object, &mut problems);
    normalize_user(object, ctx.client_ip, &mut problems);
    normalize_fingerprint(object, &mut problems);
    normalize_all_tags(object, &mut problems);

    let has_exception = object
        .get("exception")
        .and_then(|e| e.get("values"))
        .and_then(Value::as_array)
        .is_some_and(|v| !v.is_empty());
    // Relay's inference: exceptions first, then security reports.
    let event_type = if has_exception {
        "error"
    } else if object.get("csp").is_some_and(Value::is_object) {
        "csp"
    } else {
        "default"
    };
    object.insert("type".into(), Value::from(event_type));

    let Problems { errors, meta } = problems;
    if !errors.is_empty() {
        let list = object
            .entry("errors")
            .or_insert_with(|| Value::Array(Vec::new()));
        if !list.is_array() {
            *list = Value::Array(Vec::new());
        }
        if let Value::Array(list) = list {
            list.extend(errors.iter().map(ProcessingError::to_json));
        }
    }
    meta.put(object);
    errors
}

/// Sets `timestamp` and `received`; returns the clock drift applied (seconds, usually 0).
fn normalize_timestamps(
    object: &mut Map<String, Value>,
    ctx: &NormalizeContext<'_>,
    problems: &mut Problems,
) -> f64 {
    let received = ctx.received;
    let mut timestamp = match object.get("timestamp") {
        None | Some(Value::Null) => received,
        Some(value) => match errhound_protocol::timestamp::parse_value(value) {
            Some(timestamp) => timestamp,
            None => {
                let original = small_scalar(value);
                problems.invalid(&[Seg::Key("timestamp")], "invalid timestamp", original);
                received
            }
        },
    };
    // A client clock off by an hour or more shifts everything it stamped (Relay's clock_drift).
    let mut drift = 0.0;
    if let Some(sent_at) = ctx.sent_at {
        let delta = received - sent_at;
        if delta.abs() >= CLOCK_DRIFT_THRESHOLD_SECS {
            drift = delta;
            timestamp += drift;
            problems.errors.push(ProcessingError {
                kind: "clock_drift",
                name: "sent_at".into(),
                value: Some(Value::from(sent_at)),
            });
        }
    }
    if timestamp > received + MAX_SECS_IN_FUTURE {
        problems.errors.push(ProcessingError {
            kind: "future_timestamp",
            name: "timestamp".into(),
            value: Some(Value::from(timestamp)),
        });
        timestamp = received;
    } else if timestamp < received - MAX_SECS_IN_PAST {
        problems.errors.push(ProcessingError {
            kind: "past_timestamp",
            name: "timestamp".into(),
            value: Some(Value::from(timestamp)),
        });
        timestamp = received;
    }
    object.insert("timestamp".into(), Value::from(timestamp));
    object.insert("received".into(), Value::from(received));
    if let Some(start) = object.get("start_timestamp") {
        match errhound_protocol::timestamp::parse_value(start) {
            Some(start) => {
                object.insert("start_timestamp".into(), Value::from(start + drift));
            }
            None => {
                if !start.is_null() {
                    let original = small_scalar(start);
                    problems.invalid(
                        &[Seg::Key("start_timestamp")],
                        "invalid timestamp",
                        original,
                    );
                }
                object.remove("start_timestamp");
            }
        }
    }
    drift
}

/// A copy of a short scalar, for error reports.
fn small_scalar(value: &Value) -> Option<Value> {
    match value {
        Value::String(s) if s.len() <= 64 => Some(value.clone()),
        Value::Number(_) | Value::Bool(_) => Some(value.clone()),
        _ => None,
    }
}

fn normalize_level(object: &mut Map<String, Value>, problems: &mut Problems) {
    let level = match object.get("level") {
        None | Some(Value::Null) => Level::Error,
        Some(value) => Level::parse(value).unwrap_or_else(|| {
            let original = small_scalar(value);
            problems.invalid(&[Seg::Key("level")], "invalid level", original);
            Level::Error
        }),
    };
    object.insert("level".into(), Value::from(level.as_str()));
}

/// Relay accepts only its list of platforms; anything else becomes `other` (recorded).
fn normalize_platform(object: &mut Map<String, Value>, problems: &mut Problems) {
    let platform = match object.get("platform") {
        None | Some(Value::Null) => "other",
        Some(value) => {
            let known = value.as_str().and_then(|p| {
                VALID_PLATFORMS
                    .iter()
                    .find(|v| v.eq_ignore_ascii_case(p.trim()))
            });
            match known {
                Some(platform) => platform,
                None => {
                    let original = small_scalar(value);
                    problems.invalid(&[Seg::Key("platform")], "unknown platform", original);
                    "other"
                }
            }
        }
    };
    object.insert("platform".into(), Value::from(platform));
}

/// Validates the short top-level strings the way Relay does: `transaction`, `server_name` and
/// `culprit` are trimmed (their length is bounded by [`crate::trim`]); `logger` is shortened from
/// the front; `environment`, `dist` and `release` are dropped when invalid, never cut.
fn normalize_short_strings(object: &mut Map<String, Value>, problems: &mut Problems) {
    for key in [
        "transaction",
        "server_name",
        "culprit",
        "logger",
        "environment",
        "dist",
    ] {
        let Some(value) = object.get(key) else {
            continue;
        };
        if value.is_null() {
            object.remove(key);
            continue;
        }
        let Some(text) = scalar_to_string(value) else {
            problems.invalid(&[Seg::Key(key)], "expected a string", None);
            object.remove(key);
            continue;
        };
        let text = text.trim();
        // Empty values are absent values (Relay removes them without an error).
        if text.is_empty() {
            object.remove(key);
            continue;
        }
        let invalid = match key {
            "logger" => text.contains(['\n', '\r']).then_some("invalid characters"),
            "environment" => {
                if text.chars().count() > MAX_ENVIRONMENT_CHARS {
                    Some("value too long")
                } else if text.contains(['/', '\n', '\r', '\x0c']) || matches!(text, "." | "..") {
                    Some("invalid environment name")
                } else {
                    None
                }
            }
            "dist" => {
                if text.chars().count() > MAX_DIST_CHARS {
                    Some("value too long")
                } else if !text
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
                {
                    Some("invalid characters")
                } else {
                    None
                }
            }
            _ => None,
        };
        if let Some(reason) = invalid {
            let original = (key != "logger").then(|| small_scalar(value)).flatten();
            problems.invalid(&[Seg::Key(key)], reason, original);
            object.remove(key);
            continue;
        }
        let text = if key == "logger" {
            shorten_logger(text, &mut problems.meta)
        } else {
            text.to_owned()
        };
        if object.get(key).and_then(Value::as_str) != Some(text.as_str()) {
            object.insert(key.into(), Value::from(text));
        }
    }
    if let Some(release) = object.get("release") {
        let valid = scalar_to_string(release)
            .map(|r| r.trim().to_owned())
            .filter(|r| is_valid_release(r));
        match valid {
            Some(release) => {
                object.insert("release".into(), Value::from(release));
            }
            None => {
                if !release.is_null() {
                    let original = small_scalar(release);
                    problems.invalid(&[Seg::Key("release")], "invalid release", original);
                }
                object.remove("release");
            }
        }
    }
}

/// Relay's logger shortening: a logger longer than 64 characters keeps its end, cut at a `.` if
/// the cut fell inside a word, and is marked with a leading `*`.
fn shorten_logger(logger: &str, meta: &mut Meta) -> String {
    if logger.len() <= MAX_LOGGER_CHARS {
        return logger.to_owned();
    }
    let chars: Vec<char> = logger.chars().collect();
    if chars.len() <= MAX_LOGGER_CHARS {
        return logger.to_owned();
    }
    // One character is left for the `*`.
    let removed = chars.len() - (MAX_LOGGER_CHARS - 1);
    let mut kept = &chars[removed..];
    let cut_inside_word = chars[removed - 1] != '.';
    if cut_inside_word && let Some(dot) = kept.iter().position(|c| *c == '.') {
        kept = &kept[dot..];
    }
    let mut out = String::with_capacity(kept.len() + 1);
    out.push('*');
    out.extend(kept);
    let path = [Seg::Key("logger")];
    meta.remark(
        &path,
        &crate::trim::Remark {
            rule: "@logger:replace",
            kind: "s",
            range: Some((0, chars.len() - kept.len())),
        },
    );
    meta.original_len(&path, chars.len());
    out
}

/// Sentry's release validation: no slashes or control whitespace, not a reserved name, at most
/// 200 characters.
fn is_valid_release(release: &str) -> bool {
    !release.is_empty()
        && release.chars().count() <= MAX_RELEASE_CHARS
        && !release.contains(['/', '\\', '\n', '\r', '\t', '\x0c'])
        && !matches!(release, "." | "..")
        && !release.eq_ignore_ascii_case("latest")
}

/// `message` (string or object) and `logentry` become one `logentry {message, params, formatted}`.
fn normalize_logentry(object: &mut Map<String, Value>, problems: &mut Problems) {
    let legacy = object.remove("message");
    let source = match object.remove("logentry") {
        Some(Value::Null) | None => legacy,
        logentry => logentry,
    };
    let path = [Seg::Key("logentry")];
    let mut entry = match source {
        None | Some(Value::Null) | Some(Value::Bool(false)) => return,
        Some(Value::String(text)) => {
            let mut entry = Map::new();
            entry.insert("formatted".into(), Value::from(text));
            entry
        }
        Some(Value::Object(map)) => map,
        Some(other) => match scalar_to_string(&other) {
            Some(text) => {
                let mut entry = Map::new();
                entry.insert("formatted".into(), Value::from(text));
                entry
            }
            None => {
                problems.invalid(&path, "expected a string or an object", None);
                return;
            }
        },
    };
    let message = entry
        .get("message")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let formatted = entry
        .get("formatted")
        .and_then(Value::as_str)
        .map(str::to_owned);
    let params = entry.get("params").cloned();
    let formatted = formatted.or_else(|| {
        let template = message.as_deref()?;
        Some(format_params(template, params.as_ref()))
    });
    let Some(formatted) = formatted.filter(|f| !f.is_empty()) else {
        problems.invalid(&path, "no message", None);
        return;
    };
    match message {
        // Only keep the template when it differs from what was shown.
        Some(message) if message != formatted => {
            entry.insert("message".into(), Value::from(message));
        }
        _ => {
            entry.remove("message");
        }
    }
    entry.insert("formatted".into(), Value::from(formatted));
    if entry.get("params").is_some_and(Value::is_null) {
        entry.remove("params");
    }
    object.insert("logentry".into(), Value::Object(entry));
}

/// Fills `%s`-style (Python logging) or `{}`-style placeholders with params.
fn format_params(template: &str, params: Option<&Value>) -> String {
    let params: Vec<String> = match params {
        Some(Value::Array(list)) => list
            .iter()
            .map(|p| scalar_to_string(p).unwrap_or_else(|| p.to_string()))
            .collect(),
        _ => return template.to_owned(),
    };
    let mut out = String::with_capacity(template.len());
    let mut params = params.into_iter();
    let mut chars = template.chars().peekable();
    while let Some(c) = chars.next() {
        match (c, chars.peek()) {
            ('%', Some('%')) => {
                chars.next();
                out.push('%');
            }
            ('%', Some(spec)) if "sdrifx".contains(*spec) => {
                let spec = *spec;
                chars.next();
                match params.next() {
                    Some(p) => out.push_str(&p),
                    None => {
                        out.push('%');
                        out.push(spec);
                    }
                }
            }
            _ => out.push(c),
        }
    }
    out
}

fn normalize_exceptions(object: &mut Map<String, Value>, problems: &mut Problems) {
    let Some(list) = object
        .get_mut("exception")
        .and_then(|e| e.get_mut("values"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for (index, exception) in list.iter_mut().enumerate() {
        let Value::Object(exc) = exception else {
            continue;
        };
        let path = [Seg::Key("exception"), Seg::Key("values"), Seg::Index(index)];
        for key in ["type", "value", "module"] {
            match exc.get(key) {
                None | Some(Value::String(_)) => {}
                Some(Value::Null) => {
                    exc.remove(key);
                }
                Some(other) => match scalar_to_string(other) {
                    Some(text) => {
                        exc.insert(key.into(), Value::from(text));
                    }
                    None => {
                        problems.invalid(
                            &[&path[..], &[Seg::Key(key)]].concat(),
                            "expected a string",
                            None,
                        );
                        exc.remove(key);
                    }
                },
            }
        }
        for key in ["stacktrace", "raw_stacktrace"] {
            normalize_stacktrace(exc, key, &[&path[..], &[Seg::Key(key)]].concat(), problems);
        }
        if exc.get("mechanism").is_some_and(|m| !m.is_object()) {
            exc.remove("mechanism");
            problems.invalid(
                &[&path[..], &[Seg::Key("mechanism")]].concat(),
                "expected an object",
                None,
            );
        }
    }
}

fn normalize_threads(object: &mut Map<String, Value>, problems: &mut Problems) {
    if let Some(list) = object
        .get_mut("threads")
        .and_then(|e| e.get_mut("values"))
        .and_then(Value::as_array_mut)
    {
        for (index, thread) in list.iter_mut().enumerate() {
            if let Value::Object(thread) = thread {
                let path = [
                    Seg::Key("threads"),
                    Seg::Key("values"),
                    Seg::Index(index),
                    Seg::Key("stacktrace"),
                ];
                normalize_stacktrace(thread, "stacktrace", &path, problems);
            }
        }
    }
    normalize_stacktrace(object, "stacktrace", &[Seg::Key("stacktrace")], problems);
}

/// Keeps `frames` as a list of frame objects with sane field types; drops an empty stacktrace.
fn normalize_stacktrace(
    parent: &mut Map<String, Value>,
    key: &str,
    path: &[Seg<'_>],
    problems: &mut Problems,
) {
    let Some(stacktrace) = parent.get_mut(key) else {
        return;
    };
    // Some SDKs send a bare frame list.
    if stacktrace.is_array() {
        let frames = stacktrace.take();
        *stacktrace = json!({ "frames": frames });
    }
    let Some(frames) = stacktrace.get_mut("frames").and_then(Value::as_array_mut) else {
        if !stacktrace.is_null() {
            problems.invalid(path, "expected a stack trace with frames", None);
        }
        parent.remove(key);
        return;
    };
    let frames_path = [path, &[Seg::Key("frames")]].concat();
    let before = frames.len();
    frames.retain(Value::is_object);
    if frames.len() != before {
        problems.meta.error(
            &frames_path,
            "invalid_data",
            Some("frames must be objects"),
            None,
        );
    }
    for (index, frame) in frames.iter_mut().enumerate() {
        let Value::Object(frame) = frame else {
            continue;
        };
        let mut removed: Vec<&'static str> = Vec::new();
        for key in ["lineno", "colno"] {
            if let Some(value) = frame.get(key)
                && value.as_i64().is_none()
            {
                let parsed = value.as_str().and_then(|s| s.trim().parse::<i64>().ok());
                match parsed {
                    Some(n) => {
                        frame.insert(key.into(), Value::from(n));
                    }
                    None => {
                        if !value.is_null() {
                            removed.push(key);
                        }
                        frame.remove(key);
                    }
                }
            }
        }
        if let Some(value) = frame.get("in_app")
            && !value.is_boolean()
        {
            if !value.is_null() {
                removed.push("in_app");
            }
            frame.remove("in_app");
        }
        for key in [
            "filename",
            "abs_path",
            "function",
            "raw_function",
            "module",
            "package",
            "context_line",
            "platform",
        ] {
            if let Some(value) = frame.get(key)
                && !value.is_string()
            {
                if !value.is_null() {
                    removed.push(key);
                }
                frame.remove(key);
            }
        }
        for key in removed {
            let field = [&frames_path[..], &[Seg::Index(index), Seg::Key(key)]].concat();
            problems
                .meta
                .error(&field, "invalid_data", Some("wrong type"), None);
        }
    }
    if frames.is_empty() {
        parent.remove(key);
    }
}

fn normalize_breadcrumbs(
    object: &mut Map<String, Value>,
    received: f64,
    drift: f64,
    problems: &mut Problems,
) {
    let Some(list) = object
        .get_mut("breadcrumbs")
        .and_then(|e| e.get_mut("values"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    for (index, crumb) in list.iter_mut().enumerate() {
        let Value::Object(crumb) = crumb else {
            continue;
        };
        let timestamp = crumb
            .get("timestamp")
            .and_then(errhound_protocol::timestamp::parse_value)
            .map_or(received, |t| t + drift);
        crumb.insert("timestamp".into(), Value::from(timestamp));
        if let Some(level) = crumb.get("level") {
            match Level::parse(level) {
                Some(level) => crumb.insert("level".into(), Value::from(level.as_str())),
                None => crumb.remove("level"),
            };
        }
        if crumb.get("message").is_some_and(|m| !m.is_string()) {
            match crumb.get("message").and_then(scalar_to_string) {
                Some(text) => {
                    crumb.insert("message".into(), Value::from(text));
                }
                None => {
                    if crumb.get("message").is_some_and(|m| !m.is_null()) {
                        let path = [
                            Seg::Key("breadcrumbs"),
                            Seg::Key("values"),
                            Seg::Index(index),
                            Seg::Key("message"),
                        ];
                        problems.invalid(&path, "expected a string", None);
                    }
                    crumb.remove("message");
                }
            }
        }
    }
}

fn normalize_contexts(object: &mut Map<String, Value>, problems: &mut Problems) {
    match object.get_mut("contexts") {
        None => {}
        Some(Value::Object(contexts)) => {
            let invalid: Vec<String> = contexts
                .iter()
                .filter(|(_, v)| !v.is_object())
                .map(|(k, _)| k.clone())
                .collect();
            for name in invalid {
                contexts.remove(&name);
                problems.invalid(
                    &[Seg::Key("contexts"), Seg::Key(&name)],
                    "expected an object",
                    None,
                );
            }
            for (name, context) in contexts.iter_mut() {
                if let Value::Object(context) = context
                    && !context.get("type").is_some_and(Value::is_string)
                {
                    context.insert("type".into(), Value::from(name.as_str()));
                }
            }
        }
        Some(Value::Null) => {
            object.remove("contexts");
        }
        Some(_) => {
            problems.invalid(&[Seg::Key("contexts")], "expected an object", None);
            object.remove("contexts");
        }
    }
}

fn normalize_user(
    object: &mut Map<String, Value>,
    client_ip: Option<&str>,
    problems: &mut Problems,
) {
    let remote_addr = object
        .get("request")
        .and_then(|r| r.get("env"))
        .and_then(|e| e.get("REMOTE_ADDR"))
        .and_then(Value::as_str)
        .filter(|a| is_ip_address(a))
        .map(str::to_owned);
    let infer_ip = matches!(
        object.get("platform").and_then(Value::as_str),
        Some("javascript" | "cocoa" | "objc")
    );
    match object.get_mut("user") {
        Some(Value::Object(user)) => {
            for key in ["id", "email", "username", "name", "ip_address", "segment"] {
                match user.get(key) {
                    None | Some(Value::String(_)) => {}
                    Some(Value::Null) => {
                        user.remove(key);
                    }
                    Some(other) => match scalar_to_string(other) {
                        Some(text) => {
                            user.insert(key.into(), Value::from(text));
                        }
                        None => {
                            user.remove(key);
                            problems.invalid(
                                &[Seg::Key("user"), Seg::Key(key)],
                                "expected a string",
                                None,
                            );
                        }
                    },
                }
            }
            // Fields Sentry does not know belong in `user.data` (Relay moves them there).
            if user.keys().any(|k| !USER_FIELDS.contains(&k.as_str())) {
                let others: Vec<String> = user
                    .keys()
                    .filter(|k| !USER_FIELDS.contains(&k.as_str()))
                    .cloned()
                    .collect();
                if !user.get("data").is_some_and(Value::is_object) {
                    user.insert("data".into(), Value::Object(Map::new()));
                }
                for key in others {
                    if let Some(value) = user.remove(&key)
                        && let Some(Value::Object(data)) = user.get_mut("data")
                    {
                        data.entry(key).or_insert(value);
                    }
                }
            }
            let ip = user.get("ip_address").and_then(Value::as_str);
            if ip == Some("{{auto}}") {
                match client_ip {
                    Some(addr) => user.insert("ip_address".into(), Value::from(addr)),
                    None => user.remove("ip_address"),
                };
            } else if let Some(ip) = ip {
                if !is_ip_address(ip) {
                    user.remove("ip_address");
                    problems.invalid(
                        &[Seg::Key("user"), Seg::Key("ip_address")],
                        "expected an IP address",
                        None,
                    );
                }
            } else if let Some(addr) = remote_addr {
                user.insert("ip_address".into(), Value::from(addr));
            } else if infer_ip && let Some(addr) = client_ip {
                user.insert("ip_address".into(), Value::from(addr));
            }
            if user.is_empty() {
                object.remove("user");
            }
        }
        Some(Value::Null) => {
            object.remove("user");
        }
        Some(_) => {
            problems.invalid(&[Seg::Key("user")], "expected an object", None);
            object.remove("user");
        }
        None => {
            let ip = remote_addr.or_else(|| infer_ip.then(|| client_ip.map(str::to_owned))?);
            if let Some(ip) = ip {
                object.insert("user".into(), json!({ "ip_address": ip }));
            }
        }
    }
}

fn is_ip_address(text: &str) -> bool {
    text.parse::<std::net::IpAddr>().is_ok()
}

/// Relay's request normalization: headers, cookies and the query string become pairs, the URL
/// loses its query and fragment to `query_string` and `fragment`, a JSON or form body given as
/// text becomes structured data, and the method must look like one.
fn normalize_request(object: &mut Map<String, Value>, problems: &mut Problems) {
    let Some(request) = object.get_mut("request") else {
        return;
    };
    let Value::Object(request) = request else {
        if !request.is_null() {
            problems.invalid(&[Seg::Key("request")], "expected an object", None);
        }
        object.remove("request");
        return;
    };
    // Headers as an object become pairs, Sentry's stored shape; non-string values are dropped.
    if let Some(headers) = request.get_mut("headers") {
        let mut dropped = 0;
        let pairs: Vec<Value> = match headers.take() {
            Value::Object(map) => map
                .into_iter()
                .filter_map(|(k, v)| match scalar_to_string(&v) {
                    Some(v) => Some(json!([header_name(k), v])),
                    None => {
                        dropped += 1;
                        None
                    }
                })
                .collect(),
            Value::Array(list) => list
                .into_iter()
                .filter_map(|pair| match pair {
                    Value::Array(mut pair)
                        if pair.len() == 2 && pair.iter().all(Value::is_string) =>
                    {
                        if let Some(Value::String(name)) = pair.first_mut() {
                            *name = header_name(std::mem::take(name));
                        }
                        Some(Value::Array(pair))
                    }
                    _ => {
                        dropped += 1;
                        None
                    }
                })
                .collect(),
            Value::Null => Vec::new(),
            _ => {
                dropped += 1;
                Vec::new()
            }
        };
        *headers = Value::Array(pairs);
        if dropped > 0 {
            problems.invalid(
                &[Seg::Key("request"), Seg::Key("headers")],
                "headers must be string pairs",
                None,
            );
        }
    }
    // The URL's query and fragment belong in their own fields (the fields win if both are set).
    if let Some(Value::String(url)) = request.get_mut("url") {
        let mut fragment = None;
        let mut query = None;
        if let Some(hash) = url.find('#') {
            fragment = Some(url[hash + 1..].to_owned());
            url.truncate(hash);
        }
        if let Some(question) = url.find('?') {
            query = Some(url[question + 1..].to_owned());
            url.truncate(question);
        }
        if let Some(fragment) = fragment.filter(|f| !f.is_empty())
            && !request.contains_key("fragment")
        {
            request.insert("fragment".into(), Value::from(fragment));
        }
        if let Some(query) = query.filter(|q| !q.is_empty())
            && request.get("query_string").is_none_or(Value::is_null)
        {
            request.insert("query_string".into(), Value::from(query));
        }
    }
    for (key, separator) in [("query_string", '&'), ("cookies", ';')] {
        if let Some(value) = request.get_mut(key) {
            match to_pairs(value.take(), separator, key == "query_string") {
                Some(pairs) => *value = pairs,
                None => {
                    request.remove(key);
                    problems.invalid(
                        &[Seg::Key("request"), Seg::Key(key)],
                        "expected a string, an object or pairs",
                        None,
                    );
                }
            }
        }
    }
    if let Some(Value::String(text)) = request.get("data")
        && let Some((content_type, data)) = parse_body(text)
    {
        request.insert("data".into(), data);
        request.insert("inferred_content_type".into(), Value::from(content_type));
    }
    if let Some(method) = request.get("method") {
        let method = method.as_str().map(|m| m.trim().to_ascii_uppercase());
        match method.filter(|m| is_valid_method(m)) {
            Some(method) => {
                request.insert("method".into(), Value::from(method));
            }
            None => {
                if !request.get("method").is_some_and(Value::is_null) {
                    problems.invalid(
                        &[Seg::Key("request"), Seg::Key("method")],
                        "invalid method",
                        None,
                    );
                }
                request.remove("method");
            }
        }
    }
}

/// Relay's method pattern `^[A-Z\-_]{3,32}$`.
fn is_valid_method(method: &str) -> bool {
    (3..=32).contains(&method.len())
        && method
            .bytes()
            .all(|b| b.is_ascii_uppercase() || b == b'-' || b == b'_')
}

/// Header names in Sentry's stored form: each `-`-separated word capitalized
/// (`x-api-key` -> `X-Api-Key`).
fn header_name(name: String) -> String {
    let mut upper_next = true;
    let needs_change = name.chars().any(|c| {
        let wrong = if upper_next {
            c.is_lowercase()
        } else {
            c.is_uppercase()
        };
        upper_next = c == '-';
        wrong
    });
    if !needs_change {
        return name;
    }
    let mut out = String::with_capacity(name.len());
    let mut upper_next = true;
    for c in name.chars() {
        if upper_next {
            out.extend(c.to_uppercase());
        } else {
            out.extend(c.to_lowercase());
        }
        upper_next = c == '-';
    }
    out
}

/// A query string or cookie header (`a=1&b=2`, `a=1; b=2`), an object, or a list of pairs, as a
/// list of string pairs. Query strings are percent-decoded like a form; cookies are kept as sent.
fn to_pairs(value: Value, separator: char, decode: bool) -> Option<Value> {
    let pair = |k: String, v: String| Value::Array(vec![Value::from(k), Value::from(v)]);
    let text = |v: &Value| match v {
        Value::Null => Some(String::new()),
        Value::String(s) => Some(s.clone()),
        Value::Array(_) | Value::Object(_) => Some(v.to_string()),
        other => scalar_to_string(other),
    };
    match value {
        Value::String(raw) => {
            let raw = raw.strip_prefix('?').unwrap_or(&raw);
            let pairs = raw
                .split(separator)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    if decode {
                        pair(percent_decode(k, true), percent_decode(v, true))
                    } else {
                        pair(k.trim().to_owned(), v.trim().to_owned())
                    }
                })
                .collect();
            Some(Value::Array(pairs))
        }
        Value::Object(map) => Some(Value::Array(
            map.into_iter()
                .filter_map(|(k, v)| Some(pair(k, text(&v)?)))
                .collect(),
        )),
        Value::Array(list) => Some(Value::Array(
            list.into_iter()
                .filter_map(|p| match p.as_array().map(Vec::as_slice) {
                    Some([Value::String(k), v]) => Some(pair(k.clone(), text(v)?)),
                    _ => None,
                })
                .collect(),
        )),
        _ => None,
    }
}

/// A request body sent as text that is JSON or a form (Relay's `normalize_data`).
fn parse_body(text: &str) -> Option<(&'static str, Value)> {
    let trimmed = text.trim_start();
    if trimmed.starts_with(['{', '[']) {
        return serde_json::from_str::<Value>(text)
            .ok()
            .map(|v| ("application/json", v));
    }
    // A form: ASCII `k=v` pairs; a lone token or base64 padding is not one.
    if !text.is_ascii() || trimmed.starts_with('<') || !text.contains('=') {
        return None;
    }
    let pairs: Vec<(String, String)> = text
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k, true), percent_decode(v, true))
        })
        .collect();
    let valid = pairs.len() > 1
        || pairs
            .first()
            .is_some_and(|(k, v)| !k.is_empty() && !v.is_empty() && v != "=");
    if !valid || pairs.iter().any(|(k, _)| k.is_empty()) {
        return None;
    }
    let mut form = Map::new();
    for (k, v) in pairs {
        form.entry(k).or_insert(Value::from(v));
    }
    Some(("application/x-www-form-urlencoded", Value::Object(form)))
}

fn normalize_fingerprint(object: &mut Map<String, Value>, problems: &mut Problems) {
    let Some(fingerprint) = object.get("fingerprint") else {
        return;
    };
    let parts: Option<Vec<Value>> = match fingerprint {
        Value::Array(list) => list
            .iter()
            .filter(|v| !v.is_null())
            .map(|v| scalar_to_string(v).map(Value::from))
            .collect(),
        Value::String(s) => Some(vec![Value::from(s.clone())]),
        _ => None,
    };
    match parts.filter(|p| !p.is_empty()) {
        Some(parts) => {
            object.insert("fingerprint".into(), Value::Array(parts));
        }
        None => {
            problems.invalid(
                &[Seg::Key("fingerprint")],
                "expected a list of strings",
                None,
            );
            object.remove("fingerprint");
        }
    }
}

/// Validates SDK tags and adds the tags Sentry derives from event fields, so that every tag a
/// user can search on is stored as a pair on the event. An invalid tag part is stored as `null`
/// (Relay's shape) with its error in `_meta` at `tags.<index>.<0|1>`.
fn normalize_all_tags(object: &mut Map<String, Value>, problems: &mut Problems) {
    let (mut entries, invalid) = normalize_tag_entries(object.get("tags"));
    for tag in &invalid {
        problems.errors.push(ProcessingError {
            kind: "invalid_data",
            name: format!("tags.{}", tag.key),
            value: Some(Value::from(tag.reason)),
        });
        if matches!(tag.reason, NOT_A_PAIR | NOT_PAIRS) {
            problems
                .meta
                .error(&[Seg::Key("tags")], "invalid_data", Some(tag.reason), None);
        }
    }
    // Legacy SDKs put the environment into tags; Relay moves it to the field and always drops
    // the tag (the derived tag below restores it from the field).
    if let Some(pos) = entries
        .iter()
        .position(|e| e.key.as_deref() == Ok("environment"))
    {
        let entry = entries.remove(pos);
        if !object.contains_key("environment")
            && let Ok(environment) = entry.value
        {
            object.insert("environment".into(), Value::from(environment));
        }
    }
    let derived = derived_tags(object);
    for (key, value) in derived {
        if let Some(value) = normalize_value(&value) {
            entries.retain(|e| e.key.as_deref() != Ok(key));
            entries.push(crate::tags::TagEntry {
                key: Ok(key.to_owned()),
                value: Ok(value),
            });
        }
    }
    let mut pairs = Vec::with_capacity(entries.len());
    for (index, entry) in entries.into_iter().enumerate() {
        if let Err(reason) = entry.key {
            let path = [Seg::Key("tags"), Seg::Index(index), Seg::Index(0)];
            problems
                .meta
                .error(&path, "invalid_data", Some(reason), None);
        } else if let Err(reason) = entry.value {
            let path = [Seg::Key("tags"), Seg::Index(index), Seg::Index(1)];
            problems
                .meta
                .error(&path, "invalid_data", Some(reason), None);
        }
        let key = entry.key.map_or(Value::Null, Value::from);
        let value = match (&key, entry.value) {
            (Value::String(_), Ok(value)) => Value::from(value),
            _ => Value::Null,
        };
        pairs.push(Value::Array(vec![key, value]));
    }
    object.insert("tags".into(), Value::Array(pairs));
}

fn derived_tags(object: &Map<String, Value>) -> Vec<(&'static str, String)> {
    let mut tags = Vec::new();
    let text = |key: &str| object.get(key).and_then(Value::as_str).map(str::to_owned);
    for key in [
        "level",
        "environment",
        "release",
        "dist",
        "server_name",
        "transaction",
        "logger",
    ] {
        if let Some(value) = text(key) {
            let key = match key {
                "level" => "level",
                "environment" => "environment",
                "release" => "release",
                "dist" => "dist",
                "server_name" => "server_name",
                "transaction" => "transaction",
                _ => "logger",
            };
            tags.push((key, value));
        }
    }
    if let Some(user) = object.get("user").and_then(user_tag_value) {
        tags.push(("user", user));
    }
    if let Some(url) = object
        .get("request")
        .and_then(|r| r.get("url"))
        .and_then(Value::as_str)
    {
        // Sentry's url tag drops the query string.
        let url = url.split(['?', '#']).next().unwrap_or(url);
        tags.push(("url", url.to_owned()));
    }
    if let Some(contexts) = object.get("contexts") {
        for (name, tag) in [("browser", "browser"), ("os", "os"), ("runtime", "runtime")] {
            let Some(context) = contexts.get(name) else {
                continue;
            };
            let context_name = context.get("name").and_then(Value::as_str);
            let version = context.get("version").and_then(Value::as_str);
            if let Some(context_name) = context_name {
                let full = match version {
                    Some(version) => format!("{context_name} {version}"),
                    None => context_name.to_owned(),
                };
                tags.push((tag, full));
                let name_tag = match name {
                    "browser" => "browser.name",
                    "os" => "os.name",
                    _ => "runtime.name",
                };
                tags.push((name_tag, context_name.to_owned()));
            }
        }
        if let Some(family) = contexts
            .get("device")
            .and_then(|d| d.get("family"))
            .and_then(Value::as_str)
        {
            tags.push(("device.family", family.to_owned()));
        }
    }
    let exceptions = object
        .get("exception")
        .and_then(|e| e.get("values"))
        .and_then(Value::as_array);
    if let Some(mechanism) = exceptions
        .and_then(|list| list.last())
        .and_then(|e| e.get("mechanism"))
    {
        if let Some(handled) = mechanism.get("handled").and_then(Value::as_bool) {
            tags.push(("handled", if handled { "yes" } else { "no" }.to_owned()));
        }
        if let Some(kind) = mechanism.get("type").and_then(Value::as_str) {
            tags.push(("mechanism", kind.to_owned()));
        }
    }
    tags
}

/// Sentry's `user` tag: `id:…`, else `username:…`, `email:…`, `ip:…`.
pub fn user_tag_value(user: &Value) -> Option<String> {
    for (field, prefix) in [
        ("id", "id"),
        ("username", "username"),
        ("email", "email"),
        ("ip_address", "ip"),
    ] {
        if let Some(value) = user.get(field).and_then(Value::as_str)
            && !value.is_empty()
        {
            return Some(format!("{prefix}:{value}"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    const RECEIVED: f64 = 1_795_565_800.0;

    fn ctx() -> NormalizeContext<'static> {
        NormalizeContext {
            event_id: "8d318f70125849e29dcf2afa581ef54f",
            received: RECEIVED,
            sent_at: None,
            client_ip: Some("203.0.113.7"),
        }
    }

    fn normalize(mut event: Value, ctx: &NormalizeContext<'_>) -> (Value, Vec<ProcessingError>) {
        let errors = normalize_event(&mut event, ctx);
        (event, errors)
    }

    fn tag<'a>(event: &'a Value, key: &str) -> Option<&'a str> {
        event["tags"]
            .as_array()?
            .iter()
            .find(|p| p[0] == key)
            .and_then(|p| p[1].as_str())
    }

    #[test]
    fn string_and_float_timestamps_and_defaults() {
        let (py, errors) = normalize(json!({"timestamp": "2026-11-25T00:16:07.5Z"}), &ctx());
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(py["timestamp"], json!(1_795_565_767.5));
        assert_eq!(py["level"], "error");
        assert_eq!(py["platform"], "other");
        assert_eq!(py["type"], "default");
        assert_eq!(py["event_id"], "8d318f70125849e29dcf2afa581ef54f");
        let (node, _) = normalize(json!({"timestamp": 1795565797.197}), &ctx());
        assert_eq!(node["timestamp"], json!(1795565797.197));
        let (missing, _) = normalize(json!({}), &ctx());
        assert_eq!(missing["timestamp"], json!(RECEIVED));
    }

    #[test]
    fn clock_drift_shifts_event_and_breadcrumbs() {
        let sent_at = RECEIVED - 7200.0;
        let ctx = NormalizeContext {
            sent_at: Some(sent_at),
            ..ctx()
        };
        let (event, errors) = normalize(
            json!({"timestamp": sent_at - 10.0, "breadcrumbs": [{"timestamp": sent_at - 20.0, "message": "x"}]}),
            &ctx,
        );
        assert_eq!(event["timestamp"], json!(RECEIVED - 10.0));
        assert_eq!(
            event["breadcrumbs"]["values"][0]["timestamp"],
            json!(RECEIVED - 20.0)
        );
        assert_eq!(errors[0].kind, "clock_drift");
    }

    #[test]
    fn future_and_ancient_timestamps_are_clamped() {
        let (future, errors) = normalize(json!({"timestamp": RECEIVED + 3600.0}), &ctx());
        assert_eq!(future["timestamp"], json!(RECEIVED));
        assert_eq!(errors[0].kind, "future_timestamp");
        let (past, errors) = normalize(json!({"timestamp": 1000.0}), &ctx());
        assert_eq!(past["timestamp"], json!(RECEIVED));
        assert_eq!(errors[0].kind, "past_timestamp");
    }

    #[test]
    fn list_or_values_containers() {
        let (node, _) = normalize(
            json!({"breadcrumbs": [{"message": "a"}], "exception": [{"type": "E", "value": "v"}]}),
            &ctx(),
        );
        assert_eq!(node["breadcrumbs"]["values"][0]["message"], "a");
        assert_eq!(node["exception"]["values"][0]["type"], "E");
        assert_eq!(node["type"], "error");
        let (py, _) = normalize(
            json!({"breadcrumbs": {"values": [{"message": "a"}]}, "exception": {"values": []}}),
            &ctx(),
        );
        assert_eq!(py["breadcrumbs"]["values"][0]["message"], "a");
        assert_eq!(py["type"], "default");
        let (single, _) = normalize(json!({"exception": {"type": "E"}}), &ctx());
        assert_eq!(single["exception"]["values"][0]["type"], "E");
    }

    #[test]
    fn message_string_or_object() {
        let (py, _) = normalize(json!({"message": "hello %s"}), &ctx());
        assert_eq!(py["logentry"], json!({"formatted": "hello %s"}));
        assert!(py.get("message").is_none());
        let (logging, _) = normalize(
            json!({"logentry": {"message": "User %s failed %d times", "params": ["bob", 3]}}),
            &ctx(),
        );
        assert_eq!(logging["logentry"]["formatted"], "User bob failed 3 times");
        assert_eq!(logging["logentry"]["message"], "User %s failed %d times");
        let (both, _) = normalize(
            json!({"message": {"message": "m", "formatted": "f"}}),
            &ctx(),
        );
        assert_eq!(both["logentry"], json!({"message": "m", "formatted": "f"}));
        let (falsy, errors) = normalize(json!({"message": false}), &ctx());
        assert!(falsy.get("logentry").is_none());
        assert!(errors.is_empty());
    }

    #[test]
    fn tags_object_or_pairs_and_derived_tags() {
        let (event, _) = normalize(
            json!({
                "tags": [["region", "eu"], ["flag", true]],
                "server_name": "web-08",
                "environment": " production ",
                "release": "shop@1.5.0",
                "user": {"id": 13, "ip_address": "{{auto}}"},
                "request": {"url": "https://shop.example/cart?x=1"},
                "contexts": {"os": {"name": "Linux", "version": "6.1"}},
                "exception": {"values": [{"type": "E", "mechanism": {"type": "generic", "handled": true}}]}
            }),
            &ctx(),
        );
        assert_eq!(tag(&event, "region"), Some("eu"));
        assert_eq!(tag(&event, "flag"), Some("True"));
        assert_eq!(tag(&event, "server_name"), Some("web-08"));
        assert_eq!(tag(&event, "environment"), Some("production"));
        assert_eq!(tag(&event, "level"), Some("error"));
        assert_eq!(tag(&event, "release"), Some("shop@1.5.0"));
        assert_eq!(tag(&event, "user"), Some("id:13"));
        assert_eq!(tag(&event, "url"), Some("https://shop.example/cart"));
        assert_eq!(tag(&event, "os"), Some("Linux 6.1"));
        assert_eq!(tag(&event, "os.name"), Some("Linux"));
        assert_eq!(tag(&event, "handled"), Some("yes"));
        assert_eq!(tag(&event, "mechanism"), Some("generic"));
        assert_eq!(event["user"]["ip_address"], "203.0.113.7");
        assert_eq!(event["user"]["id"], "13");
        assert_eq!(event["contexts"]["os"]["type"], "os");
    }

    #[test]
    fn legacy_environment_tag_moves_to_the_field() {
        let (event, _) = normalize(json!({"tags": {"environment": "staging"}}), &ctx());
        assert_eq!(event["environment"], "staging");
    }

    #[test]
    fn invalid_fields_are_dropped_and_recorded_not_fatal() {
        let (event, errors) = normalize(
            json!({
                "release": "a/b",
                "level": "loud",
                "contexts": {"os": "linux"},
                "user": "bob",
                "fingerprint": {},
                "timestamp": "soon"
            }),
            &ctx(),
        );
        assert!(event.get("release").is_none());
        assert_eq!(event["level"], "error");
        assert!(event.get("user").is_none());
        assert!(event.get("fingerprint").is_none());
        let names: Vec<_> = errors.iter().map(|e| e.name.as_str()).collect();
        for name in [
            "release",
            "level",
            "contexts.os",
            "user",
            "fingerprint",
            "timestamp",
        ] {
            assert!(names.contains(&name), "{name} missing from {names:?}");
        }
        assert_eq!(event["errors"].as_array().unwrap().len(), errors.len());
    }

    #[test]
    fn non_object_payload_becomes_an_empty_event() {
        let (event, errors) = normalize(json!([1, 2]), &ctx());
        assert!(event.is_object());
        assert_eq!(errors[0].name, "event");
    }

    #[test]
    fn frames_are_cleaned() {
        let (event, _) = normalize(
            json!({"exception": {"values": [{"type": "E", "stacktrace": {"frames": [
                {"function": "f", "lineno": "12", "in_app": "yes", "module": 3},
                "garbage"
            ]}}]}}),
            &ctx(),
        );
        let frames = &event["exception"]["values"][0]["stacktrace"]["frames"];
        assert_eq!(frames.as_array().unwrap().len(), 1);
        assert_eq!(frames[0]["lineno"], 12);
        assert!(frames[0].get("in_app").is_none());
        assert!(frames[0].get("module").is_none());
    }

    #[test]
    fn request_headers_become_pairs() {
        let (event, _) = normalize(
            json!({"request": {"method": "post", "headers": {"Host": "x", "N": 1}}}),
            &ctx(),
        );
        assert_eq!(
            event["request"]["headers"],
            json!([["Host", "x"], ["N", "1"]])
        );
        assert_eq!(event["request"]["method"], "POST");
    }

    fn meta<'a>(event: &'a Value, path: &[&str]) -> &'a Value {
        let mut node = &event["_meta"];
        for key in path {
            node = &node[*key];
        }
        &node[""]
    }

    #[test]
    fn platforms_outside_relays_list_become_other() {
        let (event, _) = normalize(json!({"platform": "Python"}), &ctx());
        assert_eq!(event["platform"], "python");
        let (event, errors) = normalize(json!({"platform": "rust"}), &ctx());
        assert_eq!(event["platform"], "other");
        assert_eq!(errors[0].name, "platform");
        assert_eq!(
            meta(&event, &["platform"]),
            &json!({"err": [["invalid_data", {"reason": "unknown platform"}]], "val": "rust"})
        );
    }

    #[test]
    fn environment_dist_and_release_are_validated_not_cut() {
        let (event, errors) = normalize(
            json!({
                "environment": "e".repeat(65),
                "dist": "d".repeat(65),
                "release": "r".repeat(201),
                "transaction": "  /checkout  ",
                "server_name": ""
            }),
            &ctx(),
        );
        for key in ["environment", "dist", "release"] {
            assert!(event.get(key).is_none(), "{key}");
            assert!(errors.iter().any(|e| e.name == key), "{key}");
            assert!(meta(&event, &[key])["err"].is_array(), "{key}");
        }
        assert_eq!(event["transaction"], "/checkout");
        assert!(
            event.get("server_name").is_none(),
            "empty values are absent"
        );
        let (event, _) = normalize(
            json!({"environment": "prod/eu", "dist": "a b", "release": "Latest"}),
            &ctx(),
        );
        assert!(event.get("environment").is_none());
        assert!(event.get("dist").is_none());
        assert!(event.get("release").is_none());
        let (event, errors) = normalize(
            json!({"environment": " staging ", "dist": "42", "release": " shop@1.0 "}),
            &ctx(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        assert_eq!(event["environment"], "staging");
        assert_eq!(event["dist"], "42");
        assert_eq!(event["release"], "shop@1.0");
    }

    #[test]
    fn long_loggers_are_shortened_from_the_front() {
        let logger = format!("{}.orders.checkout", "shopapp".repeat(10));
        let (event, _) = normalize(json!({ "logger": logger }), &ctx());
        assert_eq!(event["logger"], "*.orders.checkout");
        assert_eq!(meta(&event, &["logger"])["len"], logger.len());
        let (event, _) = normalize(json!({"logger": "x".repeat(70)}), &ctx());
        assert_eq!(event["logger"], format!("*{}", "x".repeat(63)));
        let (event, _) = normalize(json!({"logger": "django.request"}), &ctx());
        assert_eq!(event["logger"], "django.request");
    }

    #[test]
    fn invalid_tags_stay_in_place_as_null_with_meta() {
        let (event, errors) = normalize(
            json!({"tags": [["ok", "1"], ["bad key!", "v"], ["long", "x".repeat(201)], ["n", null], 7],
                   "level": "warning"}),
            &ctx(),
        );
        let tags = event["tags"].as_array().unwrap();
        assert_eq!(tags[0], json!(["ok", "1"]));
        assert_eq!(tags[1], json!([null, null]));
        assert_eq!(tags[2], json!(["long", null]));
        assert_eq!(tag(&event, "level"), Some("warning"));
        assert!(tags.iter().all(|t| t[0] != "n"), "a null value is no tag");
        assert_eq!(
            meta(&event, &["tags", "1", "0"]),
            &json!({"err": [["invalid_data", {"reason": "invalid tag key"}]]})
        );
        assert_eq!(
            meta(&event, &["tags", "2", "1"]),
            &json!({"err": [["invalid_data", {"reason": "invalid tag value"}]]})
        );
        assert_eq!(
            meta(&event, &["tags"]),
            &json!({"err": [["invalid_data", {"reason": "tag is not a [key, value] pair"}]]})
        );
        let names: Vec<_> = errors.iter().map(|e| e.name.as_str()).collect();
        assert!(
            names.contains(&"tags.bad key!") && names.contains(&"tags.long"),
            "{names:?}"
        );
    }

    #[test]
    fn requests_take_relays_shape() {
        let (event, errors) = normalize(
            json!({"request": {
                "url": "https://shop.example/cart?item=1&q=a%20b+c#top",
                "method": "post",
                "headers": {"x-api-key": "k", "content-type": "text/plain"},
                "cookies": "sessionid=abc; theme=dark",
                "data": "{\"password\": \"hunter2\"}"
            }}),
            &ctx(),
        );
        assert!(errors.is_empty(), "{errors:?}");
        let request = &event["request"];
        assert_eq!(request["url"], "https://shop.example/cart");
        assert_eq!(
            request["query_string"],
            json!([["item", "1"], ["q", "a b c"]])
        );
        assert_eq!(request["fragment"], "top");
        assert_eq!(request["method"], "POST");
        assert_eq!(
            request["headers"],
            json!([["Content-Type", "text/plain"], ["X-Api-Key", "k"]])
        );
        assert_eq!(
            request["cookies"],
            json!([["sessionid", "abc"], ["theme", "dark"]])
        );
        assert_eq!(request["data"], json!({"password": "hunter2"}));
        assert_eq!(request["inferred_content_type"], "application/json");
        assert_eq!(tag(&event, "url"), Some("https://shop.example/cart"));

        let (event, _) = normalize(
            json!({"request": {"url": "https://x/?a=1", "query_string": {"b": 2},
                               "data": "user=bob&password=x", "method": "!!"}}),
            &ctx(),
        );
        assert_eq!(event["request"]["query_string"], json!([["b", "2"]]));
        assert_eq!(
            event["request"]["data"],
            json!({"password": "x", "user": "bob"})
        );
        assert!(event["request"].get("method").is_none());
        assert!(meta(&event, &["request", "method"])["err"].is_array());
    }

    #[test]
    fn users_have_valid_addresses_and_unknown_fields_in_data() {
        let (event, errors) = normalize(
            json!({"user": {"id": 1, "ip_address": "not an ip", "plan": "pro", "data": {"a": 1}}}),
            &ctx(),
        );
        assert_eq!(
            event["user"],
            json!({"id": "1", "data": {"a": 1, "plan": "pro"}})
        );
        assert_eq!(errors[0].name, "user.ip_address");
        assert!(meta(&event, &["user", "ip_address"])["err"].is_array());
        let (event, _) = normalize(
            json!({"user": {"id": "1"}, "request": {"env": {"REMOTE_ADDR": "whoops"}}}),
            &ctx(),
        );
        assert!(event["user"].get("ip_address").is_none());
    }

    #[test]
    fn security_reports_and_server_only_fields() {
        let (event, _) = normalize(
            json!({"csp": {"effective_directive": "script-src"}, "_custom_title": "from the SDK"}),
            &ctx(),
        );
        assert_eq!(event["type"], "csp");
        assert!(event.get("_custom_title").is_none());
    }

    #[test]
    fn removed_values_are_recorded_in_meta() {
        let (event, _) = normalize(
            json!({
                "timestamp": "soon",
                "level": "loud",
                "user": "bob",
                "contexts": {"os": "linux"},
                "fingerprint": {},
                "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
                    {"function": "f", "lineno": "x", "module": 3}]}}]}
            }),
            &ctx(),
        );
        assert_eq!(
            meta(&event, &["timestamp"]),
            &json!({"err": [["invalid_data", {"reason": "invalid timestamp"}]], "val": "soon"})
        );
        assert_eq!(meta(&event, &["level"])["val"], "loud");
        for path in [&["user"][..], &["contexts", "os"], &["fingerprint"]] {
            assert!(meta(&event, path)["err"].is_array(), "{path:?}");
        }
        let frame = ["exception", "values", "0", "stacktrace", "frames", "0"];
        assert!(meta(&event, &[&frame[..], &["lineno"]].concat())["err"].is_array());
        assert!(meta(&event, &[&frame[..], &["module"]].concat())["err"].is_array());
        assert_eq!(event["errors"].as_array().unwrap().len(), 5);
    }
}
