//! Event normalization: every shape real SDKs send (protocol.md §6) becomes one canonical shape.
//!
//! Lenient by design (the Relay lesson): a field that cannot be understood is removed and recorded
//! in the event's `errors` list, never a reason to reject the event. The canonical shape is
//! Sentry's stored event schema: containers as `{"values": [...]}`, tags as `[key, value]`
//! pairs, `logentry` instead of `message`, timestamps as Unix seconds (floats).

use serde_json::{Map, Value, json};

use crate::Level;
use crate::tags::{normalize_tags, normalize_value};
use crate::value::{normalize_values, scalar_to_string, truncate_chars};

/// Clock drift at or beyond which every timestamp in the event is corrected by `received -
/// sent_at` (Relay's 55 minutes).
const CLOCK_DRIFT_THRESHOLD_SECS: f64 = 55.0 * 60.0;
/// Events from further in the future than this are moved to the receive time.
const MAX_SECS_IN_FUTURE: f64 = 60.0;
/// Events older than this are moved to the receive time.
const MAX_SECS_IN_PAST: f64 = 30.0 * 24.0 * 3600.0;
/// Longest `logentry` message or formatted text, in characters.
const MAX_MESSAGE_CHARS: usize = 8192;

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
    fn invalid(name: impl Into<String>) -> Self {
        ProcessingError {
            kind: "invalid_data",
            name: name.into(),
            value: None,
        }
    }

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

/// Normalizes `event` in place and returns the errors it also appended to `event.errors`.
pub fn normalize_event(event: &mut Value, ctx: &NormalizeContext<'_>) -> Vec<ProcessingError> {
    let mut errors = Vec::new();
    if !event.is_object() {
        errors.push(ProcessingError::invalid("event"));
        *event = Value::Object(Map::new());
    }
    let Value::Object(object) = event else {
        unreachable!("replaced by an object above")
    };

    object.insert("event_id".into(), Value::from(ctx.event_id));
    let drift = normalize_timestamps(object, ctx, &mut errors);
    normalize_level(object, &mut errors);
    normalize_short_strings(object, &mut errors);
    normalize_logentry(object, &mut errors);
    for key in ["exception", "threads", "breadcrumbs"] {
        let looks_like = |m: &Map<String, Value>| match key {
            "exception" => m.contains_key("type") || m.contains_key("value"),
            "breadcrumbs" => m.contains_key("message") || m.contains_key("category"),
            _ => m.contains_key("stacktrace") || m.contains_key("id"),
        };
        if !normalize_values(object, key, looks_like) {
            errors.push(ProcessingError::invalid(key));
        }
    }
    normalize_exceptions(object, &mut errors);
    normalize_threads(object);
    normalize_breadcrumbs(object, ctx.received, drift, &mut errors);
    normalize_contexts(object, &mut errors);
    normalize_user(object, ctx.client_ip, &mut errors);
    normalize_request(object, &mut errors);
    normalize_fingerprint(object, &mut errors);
    normalize_all_tags(object, &mut errors);

    let event_type = if object
        .get("exception")
        .and_then(|e| e.get("values"))
        .and_then(Value::as_array)
        .is_some_and(|v| !v.is_empty())
    {
        "error"
    } else {
        "default"
    };
    object.insert("type".into(), Value::from(event_type));

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
    errors
}

/// Sets `timestamp` and `received`; returns the clock drift applied (seconds, usually 0).
fn normalize_timestamps(
    object: &mut Map<String, Value>,
    ctx: &NormalizeContext<'_>,
    errors: &mut Vec<ProcessingError>,
) -> f64 {
    let received = ctx.received;
    let mut timestamp = match object.get("timestamp") {
        None | Some(Value::Null) => received,
        Some(value) => errhound_protocol::timestamp::parse_value(value).unwrap_or_else(|| {
            errors.push(ProcessingError {
                kind: "invalid_data",
                name: "timestamp".into(),
                value: Some(value.clone()),
            });
            received
        }),
    };
    // A client clock off by an hour or more shifts everything it stamped (Relay's clock_drift).
    let mut drift = 0.0;
    if let Some(sent_at) = ctx.sent_at {
        let delta = received - sent_at;
        if delta.abs() >= CLOCK_DRIFT_THRESHOLD_SECS {
            drift = delta;
            timestamp += drift;
            errors.push(ProcessingError {
                kind: "clock_drift",
                name: "sent_at".into(),
                value: Some(Value::from(sent_at)),
            });
        }
    }
    if timestamp > received + MAX_SECS_IN_FUTURE {
        errors.push(ProcessingError {
            kind: "future_timestamp",
            name: "timestamp".into(),
            value: Some(Value::from(timestamp)),
        });
        timestamp = received;
    } else if timestamp < received - MAX_SECS_IN_PAST {
        errors.push(ProcessingError {
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
                object.remove("start_timestamp");
            }
        }
    }
    drift
}

fn normalize_level(object: &mut Map<String, Value>, errors: &mut Vec<ProcessingError>) {
    let level = match object.get("level") {
        None | Some(Value::Null) => Level::Error,
        Some(value) => Level::parse(value).unwrap_or_else(|| {
            errors.push(ProcessingError {
                kind: "invalid_data",
                name: "level".into(),
                value: Some(value.clone()),
            });
            Level::Error
        }),
    };
    object.insert("level".into(), Value::from(level.as_str()));
}

/// Trims and bounds the short top-level strings (Relay's limits); invalid ones are dropped.
fn normalize_short_strings(object: &mut Map<String, Value>, errors: &mut Vec<ProcessingError>) {
    let platform = object
        .get("platform")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|p| {
            !p.is_empty()
                && p.len() <= 64
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .unwrap_or("other")
        .to_ascii_lowercase();
    object.insert("platform".into(), Value::from(platform));

    let limits: [(&str, usize); 6] = [
        ("logger", 64),
        ("transaction", 200),
        ("server_name", 256),
        ("environment", 64),
        ("culprit", 200),
        ("dist", 64),
    ];
    for (key, max) in limits {
        let Some(value) = object.get(key) else {
            continue;
        };
        let cleaned = scalar_to_string(value)
            .map(|s| truncate_chars(s.trim(), max).to_owned())
            .filter(|s| !s.is_empty() && !s.contains(['\n', '\r']));
        match cleaned {
            Some(text) => {
                object.insert(key.into(), Value::from(text));
            }
            None => {
                if !value.is_null() {
                    errors.push(ProcessingError::invalid(key));
                }
                object.remove(key);
            }
        }
    }
    if let Some(dist) = object.get("dist").and_then(Value::as_str)
        && !dist
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
    {
        errors.push(ProcessingError::invalid("dist"));
        object.remove("dist");
    }
    if let Some(release) = object.get("release") {
        let valid = release
            .as_str()
            .map(str::trim)
            .filter(|r| is_valid_release(r))
            .map(str::to_owned);
        match valid {
            Some(release) => {
                object.insert("release".into(), Value::from(release));
            }
            None => {
                if !release.is_null() {
                    errors.push(ProcessingError {
                        kind: "invalid_data",
                        name: "release".into(),
                        value: Some(release.clone()),
                    });
                }
                object.remove("release");
            }
        }
    }
}

/// Relay's `validate_release`: no slashes, no control whitespace, not a reserved name.
fn is_valid_release(release: &str) -> bool {
    !release.is_empty()
        && release.chars().count() <= 200
        && !release.contains(['/', '\\', '\n', '\r', '\t'])
        && !matches!(release, "." | ".." | " " | "latest")
}

/// `message` (string or object) and `logentry` become one `logentry {message, params, formatted}`.
fn normalize_logentry(object: &mut Map<String, Value>, errors: &mut Vec<ProcessingError>) {
    let legacy = object.remove("message");
    let source = match object.remove("logentry") {
        Some(Value::Null) | None => legacy,
        logentry => logentry,
    };
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
                errors.push(ProcessingError::invalid("logentry"));
                return;
            }
        },
    };
    let message = entry
        .get("message")
        .and_then(Value::as_str)
        .map(|m| truncate_chars(m, MAX_MESSAGE_CHARS).to_owned());
    let formatted = entry
        .get("formatted")
        .and_then(Value::as_str)
        .map(|f| truncate_chars(f, MAX_MESSAGE_CHARS).to_owned());
    let params = entry.get("params").cloned();
    let formatted = formatted.or_else(|| {
        let template = message.as_deref()?;
        Some(format_params(template, params.as_ref()))
    });
    let Some(formatted) = formatted.filter(|f| !f.is_empty()) else {
        errors.push(ProcessingError::invalid("logentry"));
        return;
    };
    entry.insert("formatted".into(), Value::from(formatted.clone()));
    match message {
        // Only keep the template when it differs from what was shown.
        Some(message) if message != formatted => {
            entry.insert("message".into(), Value::from(message));
        }
        _ => {
            entry.remove("message");
        }
    }
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

fn normalize_exceptions(object: &mut Map<String, Value>, errors: &mut Vec<ProcessingError>) {
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
                        errors.push(ProcessingError::invalid(format!(
                            "exception.values.{index}.{key}"
                        )));
                        exc.remove(key);
                    }
                },
            }
        }
        for key in ["stacktrace", "raw_stacktrace"] {
            normalize_stacktrace(exc, key);
        }
        if exc.get("mechanism").is_some_and(|m| !m.is_object()) {
            exc.remove("mechanism");
        }
    }
}

fn normalize_threads(object: &mut Map<String, Value>) {
    if let Some(list) = object
        .get_mut("threads")
        .and_then(|e| e.get_mut("values"))
        .and_then(Value::as_array_mut)
    {
        for thread in list.iter_mut().filter_map(Value::as_object_mut) {
            normalize_stacktrace(thread, "stacktrace");
        }
    }
    normalize_stacktrace(object, "stacktrace");
}

/// Keeps `frames` as a list of frame objects with sane field types; drops an empty stacktrace.
fn normalize_stacktrace(parent: &mut Map<String, Value>, key: &str) {
    let Some(stacktrace) = parent.get_mut(key) else {
        return;
    };
    // Some SDKs send a bare frame list.
    if stacktrace.is_array() {
        let frames = stacktrace.take();
        *stacktrace = json!({ "frames": frames });
    }
    let Some(frames) = stacktrace.get_mut("frames").and_then(Value::as_array_mut) else {
        parent.remove(key);
        return;
    };
    frames.retain(Value::is_object);
    for frame in frames.iter_mut().filter_map(Value::as_object_mut) {
        for key in ["lineno", "colno"] {
            if let Some(value) = frame.get(key)
                && value.as_i64().is_none()
            {
                let parsed = value.as_str().and_then(|s| s.trim().parse::<i64>().ok());
                match parsed {
                    Some(n) => frame.insert(key.into(), Value::from(n)),
                    None => frame.remove(key),
                };
            }
        }
        if let Some(value) = frame.get("in_app")
            && !value.is_boolean()
        {
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
            if frame.get(key).is_some_and(|v| !v.is_string()) {
                frame.remove(key);
            }
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
    errors: &mut Vec<ProcessingError>,
) {
    let Some(list) = object
        .get_mut("breadcrumbs")
        .and_then(|e| e.get_mut("values"))
        .and_then(Value::as_array_mut)
    else {
        return;
    };
    let mut dropped = 0;
    list.retain_mut(|crumb| {
        let Value::Object(crumb) = crumb else {
            return false;
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
                Some(text) => crumb.insert("message".into(), Value::from(text)),
                None => {
                    dropped += 1;
                    crumb.remove("message")
                }
            };
        }
        true
    });
    if dropped > 0 {
        errors.push(ProcessingError::invalid("breadcrumbs.values.message"));
    }
}

fn normalize_contexts(object: &mut Map<String, Value>, errors: &mut Vec<ProcessingError>) {
    match object.get_mut("contexts") {
        None => {}
        Some(Value::Object(contexts)) => {
            let before = contexts.len();
            contexts.retain(|_, v| v.is_object());
            if contexts.len() != before {
                errors.push(ProcessingError::invalid("contexts"));
            }
            for (name, context) in contexts.iter_mut() {
                if let Value::Object(context) = context
                    && !context.get("type").is_some_and(Value::is_string)
                {
                    context.insert("type".into(), Value::from(name.as_str()));
                }
            }
        }
        Some(_) => {
            errors.push(ProcessingError::invalid("contexts"));
            object.remove("contexts");
        }
    }
}

fn normalize_user(
    object: &mut Map<String, Value>,
    client_ip: Option<&str>,
    errors: &mut Vec<ProcessingError>,
) {
    let remote_addr = object
        .get("request")
        .and_then(|r| r.get("env"))
        .and_then(|e| e.get("REMOTE_ADDR"))
        .and_then(Value::as_str)
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
                        }
                    },
                }
            }
            let ip = user.get("ip_address").and_then(Value::as_str);
            if ip == Some("{{auto}}") {
                match client_ip {
                    Some(addr) => user.insert("ip_address".into(), Value::from(addr)),
                    None => user.remove("ip_address"),
                };
            } else if ip.is_none() {
                if let Some(addr) = remote_addr {
                    user.insert("ip_address".into(), Value::from(addr));
                } else if infer_ip && let Some(addr) = client_ip {
                    user.insert("ip_address".into(), Value::from(addr));
                }
            }
            if user.is_empty() {
                object.remove("user");
            }
        }
        Some(Value::Null) => {
            object.remove("user");
        }
        Some(_) => {
            errors.push(ProcessingError::invalid("user"));
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

fn normalize_request(object: &mut Map<String, Value>, errors: &mut Vec<ProcessingError>) {
    let Some(request) = object.get_mut("request") else {
        return;
    };
    let Value::Object(request) = request else {
        errors.push(ProcessingError::invalid("request"));
        object.remove("request");
        return;
    };
    // Headers as an object become pairs, Sentry's stored shape; non-string values are dropped.
    if let Some(headers) = request.get_mut("headers") {
        let pairs: Vec<Value> = match headers.take() {
            Value::Object(map) => map
                .into_iter()
                .filter_map(|(k, v)| scalar_to_string(&v).map(|v| json!([k, v])))
                .collect(),
            Value::Array(list) => list
                .into_iter()
                .filter(|pair| {
                    matches!(
                        pair.as_array().map(Vec::as_slice),
                        Some([Value::String(_), Value::String(_)])
                    )
                })
                .collect(),
            _ => Vec::new(),
        };
        *headers = Value::Array(pairs);
    }
    if let Some(method) = request.get("method").and_then(Value::as_str) {
        let method = method.trim().to_ascii_uppercase();
        request.insert("method".into(), Value::from(method));
    }
}

fn normalize_fingerprint(object: &mut Map<String, Value>, errors: &mut Vec<ProcessingError>) {
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
            errors.push(ProcessingError::invalid("fingerprint"));
            object.remove("fingerprint");
        }
    }
}

/// Validates SDK tags and adds the tags Sentry derives from event fields, so that every tag a
/// user can search on is stored as a pair on the event.
fn normalize_all_tags(object: &mut Map<String, Value>, errors: &mut Vec<ProcessingError>) {
    let (mut tags, invalid) = normalize_tags(object.get("tags"));
    for tag in invalid {
        errors.push(ProcessingError {
            kind: "invalid_data",
            name: format!("tags.{}", tag.key),
            value: Some(Value::from(tag.reason)),
        });
    }
    // Legacy SDKs put the environment into tags; Relay moves it to the field.
    if !object.contains_key("environment")
        && let Some(pos) = tags.iter().position(|(k, _)| k == "environment")
    {
        let (_, environment) = tags.remove(pos);
        object.insert("environment".into(), Value::from(environment));
    }
    let derived = derived_tags(object);
    for (key, value) in derived {
        if let Some(value) = normalize_value(&value) {
            tags.retain(|(k, _)| *k != key);
            tags.push((key.to_owned(), value));
        }
    }
    let pairs = tags.into_iter().map(|(k, v)| json!([k, v])).collect();
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
            "contexts",
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
}
