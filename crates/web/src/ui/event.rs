//! The view of one stored event (normalized JSON, see `domain::normalize`): exceptions with
//! their stack traces, message, breadcrumbs, tags, user, request (with a cURL rendition),
//! contexts, SDK and extra data.
//!
//! Everything here is plain text taken from hostile input; templates escape it. Nothing in this
//! module builds markup.

use serde_json::{Map, Value};

use super::format;

/// One line of source context around a frame.
pub struct ContextLine {
    /// Line number, when known.
    pub lineno: Option<i64>,
    /// The source text.
    pub code: String,
    /// The line the frame points at.
    pub current: bool,
}

/// One stack frame.
pub struct FrameView {
    /// File name (or absolute path, or module).
    pub filename: String,
    /// Function name.
    pub function: String,
    /// Module or package, when it adds something to the file name.
    pub module: String,
    /// Line and column, e.g. `:42:7`.
    pub location: String,
    /// Application code (highlighted) or library/system code (collapsed).
    pub in_app: bool,
    /// Source context.
    pub context: Vec<ContextLine>,
    /// Local variables, `(name, value as text)`.
    pub vars: Vec<(String, String)>,
    /// Expanded when the page opens (the most recent application frame).
    pub open: bool,
}

impl FrameView {
    /// Whether there is anything to show when the frame is expanded.
    pub fn has_details(&self) -> bool {
        !self.context.is_empty() || !self.vars.is_empty()
    }
}

/// Consecutive frames of one kind: application frames are shown, runs of system frames are
/// folded into one collapsible group (when the trace has application frames at all).
pub struct FrameGroup {
    /// A run of folded system frames.
    pub folded: bool,
    /// The frames, most recent call first.
    pub frames: Vec<FrameView>,
}

/// One exception of the chain.
pub struct ExceptionView {
    /// Exception type.
    pub kind: String,
    /// Exception value (message).
    pub value: String,
    /// Module of the type.
    pub module: String,
    /// Mechanism type (`excepthook`, `onunhandledrejection`, ...).
    pub mechanism: String,
    /// `Some(false)` for unhandled exceptions.
    pub handled: Option<bool>,
    /// Frames grouped for display, most recent call first.
    pub groups: Vec<FrameGroup>,
    /// Number of frames.
    pub frame_count: usize,
}

/// One breadcrumb.
pub struct CrumbView {
    /// Time of day (UTC).
    pub time: String,
    /// `default`, `http`, `navigation`, ...
    pub kind: String,
    /// Category.
    pub category: String,
    /// Level.
    pub level: String,
    /// Message.
    pub message: String,
    /// Data as compact JSON.
    pub data: String,
}

/// The request.
pub struct RequestView {
    /// Method.
    pub method: String,
    /// URL.
    pub url: String,
    /// Query string pairs.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: Vec<(String, String)>,
    /// Cookies.
    pub cookies: Vec<(String, String)>,
    /// Body, pretty JSON or text.
    pub data: String,
    /// Environment (`REMOTE_ADDR`, ...).
    pub env: Vec<(String, String)>,
    /// The request as a cURL command.
    pub curl: String,
}

/// A context (os, runtime, browser, device, ...).
pub struct ContextView {
    /// Its name (the key in `contexts`).
    pub name: String,
    /// Its fields.
    pub rows: Vec<(String, String)>,
}

/// The whole event.
pub struct EventView {
    /// 32 hex digits.
    pub event_id: String,
    /// Event time.
    pub timestamp: String,
    /// Received time.
    pub received: String,
    /// Level.
    pub level: String,
    /// Platform.
    pub platform: String,
    /// Release.
    pub release: String,
    /// Environment.
    pub environment: String,
    /// The message (`logentry`).
    pub message: String,
    /// Exceptions, outermost first.
    pub exceptions: Vec<ExceptionView>,
    /// Thread stack traces, when there is no exception stack trace.
    pub threads: Vec<(String, ExceptionView)>,
    /// Breadcrumbs, oldest first (after the filter).
    pub breadcrumbs: Vec<CrumbView>,
    /// Breadcrumbs before filtering.
    pub breadcrumb_total: usize,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// User fields.
    pub user: Vec<(String, String)>,
    /// The request.
    pub request: Option<RequestView>,
    /// Contexts.
    pub contexts: Vec<ContextView>,
    /// SDK fields.
    pub sdk: Vec<(String, String)>,
    /// Extra data.
    pub extra: Vec<(String, String)>,
    /// Other top-level fields worth showing (server name, transaction, logger, dist, ...).
    pub details: Vec<(String, String)>,
}

/// A JSON value as text: strings as they are, everything else as JSON.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        Value::Number(_) | Value::Bool(_) => value.to_string(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn field(value: &Value, key: &str) -> String {
    value.get(key).map(text).unwrap_or_default()
}

fn values<'a>(event: &'a Value, key: &str) -> &'a [Value] {
    match event.get(key) {
        Some(Value::Object(o)) => o
            .get("values")
            .and_then(Value::as_array)
            .map_or(&[], Vec::as_slice),
        Some(Value::Array(a)) => a.as_slice(),
        _ => &[],
    }
}

/// `[[k, v], ...]` pairs, an object, or a query string, as rows.
fn pairs(value: Option<&Value>) -> Vec<(String, String)> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|item| {
                let pair = item.as_array()?;
                Some((
                    pair.first().map(text).unwrap_or_default(),
                    pair.get(1).map(text).unwrap_or_default(),
                ))
            })
            .collect(),
        Some(Value::Object(map)) => rows(map),
        Some(Value::String(s)) => s
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect(),
        _ => Vec::new(),
    }
}

fn rows(map: &Map<String, Value>) -> Vec<(String, String)> {
    map.iter()
        .filter(|(_, v)| !v.is_null())
        .map(|(k, v)| (k.clone(), text(v)))
        .collect()
}

fn seconds_to_ms(value: Option<&Value>) -> Option<i64> {
    value
        .and_then(Value::as_f64)
        .map(|secs| (secs * 1000.0) as i64)
}

fn frame(value: &Value) -> FrameView {
    let filename = ["filename", "abs_path", "module", "package"]
        .iter()
        .map(|k| field(value, k))
        .find(|s| !s.is_empty())
        .unwrap_or_else(|| "<unknown>".to_owned());
    let module = field(value, "module");
    let module = if filename.contains(&module) {
        String::new()
    } else {
        module
    };
    let lineno = value.get("lineno").and_then(Value::as_i64);
    let mut location = String::new();
    if let Some(line) = lineno {
        location.push_str(&format!(":{line}"));
        if let Some(col) = value.get("colno").and_then(Value::as_i64) {
            location.push_str(&format!(":{col}"));
        }
    }
    let lines = |key: &str| -> Vec<String> {
        value
            .get(key)
            .and_then(Value::as_array)
            .map(|a| a.iter().map(text).collect())
            .unwrap_or_default()
    };
    let pre = lines("pre_context");
    let post = lines("post_context");
    let mut context = Vec::new();
    if let Some(line) = value.get("context_line") {
        let number = |offset: i64| lineno.map(|l| l + offset);
        for (i, code) in pre.iter().enumerate() {
            context.push(ContextLine {
                lineno: number(i as i64 - pre.len() as i64),
                code: code.clone(),
                current: false,
            });
        }
        context.push(ContextLine {
            lineno,
            code: text(line),
            current: true,
        });
        for (i, code) in post.iter().enumerate() {
            context.push(ContextLine {
                lineno: number(i as i64 + 1),
                code: code.clone(),
                current: false,
            });
        }
    }
    let vars = match value.get("vars") {
        Some(Value::Object(map)) => map.iter().map(|(k, v)| (k.clone(), text(v))).collect(),
        _ => Vec::new(),
    };
    let function = field(value, "function");
    FrameView {
        filename,
        function: if function.is_empty() {
            "?".to_owned()
        } else {
            function
        },
        module,
        location,
        in_app: value.get("in_app").and_then(Value::as_bool) == Some(true),
        context,
        vars,
        open: false,
    }
}

/// Frames of a stack trace, most recent call first, grouped for display.
fn frame_groups(stacktrace: Option<&Value>) -> (Vec<FrameGroup>, usize) {
    let frames: Vec<FrameView> = stacktrace
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)
        .map(|frames| frames.iter().rev().map(frame).collect())
        .unwrap_or_default();
    let count = frames.len();
    let any_app = frames.iter().any(|f| f.in_app);
    let mut groups: Vec<FrameGroup> = Vec::new();
    let mut opened = false;
    for mut f in frames {
        if !opened && (f.in_app || !any_app) && f.has_details() {
            f.open = true;
            opened = true;
        }
        let folded = any_app && !f.in_app;
        match groups.last_mut() {
            Some(group) if group.folded == folded => group.frames.push(f),
            _ => groups.push(FrameGroup {
                folded,
                frames: vec![f],
            }),
        }
    }
    (groups, count)
}

fn exception(value: &Value) -> ExceptionView {
    let mechanism = value.get("mechanism");
    let (groups, frame_count) = frame_groups(value.get("stacktrace"));
    ExceptionView {
        kind: field(value, "type"),
        value: field(value, "value"),
        module: field(value, "module"),
        mechanism: mechanism.map(|m| field(m, "type")).unwrap_or_default(),
        handled: mechanism
            .and_then(|m| m.get("handled"))
            .and_then(Value::as_bool),
        groups,
        frame_count,
    }
}

fn breadcrumbs(event: &Value, filter: &str) -> (Vec<CrumbView>, usize) {
    let all = values(event, "breadcrumbs");
    let needle = filter.trim().to_lowercase();
    let crumbs = all
        .iter()
        .map(|c| CrumbView {
            time: seconds_to_ms(c.get("timestamp"))
                .map(format::time_of_day)
                .unwrap_or_default(),
            kind: field(c, "type"),
            category: field(c, "category"),
            level: field(c, "level"),
            message: field(c, "message"),
            data: c
                .get("data")
                .filter(|d| !d.is_null())
                .map(|d| serde_json::to_string(d).unwrap_or_default())
                .unwrap_or_default(),
        })
        .filter(|c| {
            needle.is_empty()
                || [&c.kind, &c.category, &c.level, &c.message, &c.data]
                    .iter()
                    .any(|s| s.to_lowercase().contains(&needle))
        })
        .collect();
    (crumbs, all.len())
}

/// Quotes a word for a POSIX shell.
fn shell_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

fn request(event: &Value) -> Option<RequestView> {
    let request = event.get("request").filter(|r| r.is_object())?;
    let method = field(request, "method");
    let url = field(request, "url");
    let query = pairs(request.get("query_string"));
    let headers = pairs(request.get("headers"));
    let data = match request.get("data") {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(other) => serde_json::to_string_pretty(other).unwrap_or_default(),
    };
    let mut curl = String::from("curl");
    if !method.is_empty() && !method.eq_ignore_ascii_case("GET") {
        curl.push_str(&format!(" -X {}", shell_quote(&method)));
    }
    let full_url = if query.is_empty() {
        url.clone()
    } else {
        let qs: Vec<String> = query
            .iter()
            .map(|(k, v)| {
                if v.is_empty() {
                    k.clone()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        format!("{url}?{}", qs.join("&"))
    };
    curl.push_str(&format!(" {}", shell_quote(&full_url)));
    for (name, value) in &headers {
        if !name.eq_ignore_ascii_case("content-length") {
            curl.push_str(&format!(
                " \\\n  -H {}",
                shell_quote(&format!("{name}: {value}"))
            ));
        }
    }
    if !data.is_empty() {
        let body = match request.get("data") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => serde_json::to_string(other).unwrap_or_default(),
            None => String::new(),
        };
        curl.push_str(&format!(" \\\n  --data {}", shell_quote(&body)));
    }
    Some(RequestView {
        method,
        url,
        query,
        headers,
        cookies: pairs(request.get("cookies")),
        data,
        env: pairs(request.get("env")),
        curl,
    })
}

fn contexts(event: &Value) -> Vec<ContextView> {
    let Some(Value::Object(map)) = event.get("contexts") else {
        return Vec::new();
    };
    let order = |name: &str| match name {
        "os" => 0,
        "runtime" => 1,
        "browser" => 2,
        "device" => 3,
        _ => 4,
    };
    let mut names: Vec<&String> = map.keys().collect();
    names.sort_by_key(|n| (order(n), n.to_string()));
    names
        .into_iter()
        .filter_map(|name| {
            let rows: Vec<(String, String)> = match map.get(name)? {
                Value::Object(fields) => rows(fields),
                other => vec![(String::new(), text(other))],
            };
            Some(ContextView {
                name: name.clone(),
                rows,
            })
        })
        .collect()
}

fn sdk(event: &Value) -> Vec<(String, String)> {
    let Some(sdk) = event.get("sdk").filter(|s| s.is_object()) else {
        return Vec::new();
    };
    let mut out = vec![
        ("name".to_owned(), field(sdk, "name")),
        ("version".to_owned(), field(sdk, "version")),
    ];
    if let Some(Value::Array(list)) = sdk.get("integrations") {
        let names: Vec<String> = list.iter().map(text).collect();
        out.push(("integrations".to_owned(), names.join(", ")));
    }
    if let Some(Value::Array(list)) = sdk.get("packages") {
        let names: Vec<String> = list
            .iter()
            .map(|p| format!("{}@{}", field(p, "name"), field(p, "version")))
            .collect();
        out.push(("packages".to_owned(), names.join(", ")));
    }
    out.retain(|(_, v)| !v.is_empty());
    out
}

/// Builds the view of `event`; `crumb_filter` keeps only matching breadcrumbs.
pub fn build(event_id: &str, received_ms: i64, event: &Value, crumb_filter: &str) -> EventView {
    let exceptions: Vec<ExceptionView> = values(event, "exception")
        .iter()
        .rev()
        .map(exception)
        .collect();
    let has_exception_trace = exceptions.iter().any(|e| e.frame_count > 0);
    let threads = if has_exception_trace {
        Vec::new()
    } else {
        values(event, "threads")
            .iter()
            .filter(|t| t.get("stacktrace").is_some())
            .map(|t| {
                let name = [field(t, "name"), field(t, "id")]
                    .into_iter()
                    .find(|s| !s.is_empty())
                    .unwrap_or_else(|| "thread".to_owned());
                let crashed = t.get("crashed").and_then(Value::as_bool) == Some(true);
                let (groups, frame_count) = frame_groups(t.get("stacktrace"));
                let label = if crashed {
                    format!("{name} (crashed)")
                } else {
                    name
                };
                (
                    label,
                    ExceptionView {
                        kind: String::new(),
                        value: String::new(),
                        module: String::new(),
                        mechanism: String::new(),
                        handled: None,
                        groups,
                        frame_count,
                    },
                )
            })
            .collect()
    };
    let message = event
        .get("logentry")
        .map(|l| {
            let formatted = field(l, "formatted");
            if formatted.is_empty() {
                field(l, "message")
            } else {
                formatted
            }
        })
        .unwrap_or_default();
    let (breadcrumbs, breadcrumb_total) = breadcrumbs(event, crumb_filter);
    let user = match event.get("user") {
        Some(Value::Object(map)) => rows(map),
        _ => Vec::new(),
    };
    let extra = match event.get("extra") {
        Some(Value::Object(map)) => rows(map),
        _ => Vec::new(),
    };
    let details = ["server_name", "transaction", "logger", "dist", "culprit"]
        .iter()
        .map(|k| ((*k).to_owned(), field(event, k)))
        .filter(|(_, v)| !v.is_empty())
        .collect();
    EventView {
        event_id: event_id.to_owned(),
        timestamp: seconds_to_ms(event.get("timestamp"))
            .map(format::datetime)
            .unwrap_or_default(),
        received: format::datetime(received_ms),
        level: field(event, "level"),
        platform: field(event, "platform"),
        release: field(event, "release"),
        environment: field(event, "environment"),
        message,
        exceptions,
        threads,
        breadcrumbs,
        breadcrumb_total,
        tags: pairs(event.get("tags")),
        user,
        request: request(event),
        contexts: contexts(event),
        sdk: sdk(event),
        extra,
        details,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn frames_context_and_grouping() {
        let event = json!({
            "exception": {"values": [
                {"type": "KeyError", "value": "'sku'"},
                {"type": "ValueError", "value": "bad", "mechanism": {"type": "excepthook", "handled": false},
                 "stacktrace": {"frames": [
                    {"filename": "lib/a.py", "function": "outer", "in_app": false},
                    {"filename": "app/b.py", "function": "mid", "lineno": 10, "in_app": true,
                     "pre_context": ["a", "b"], "context_line": "c", "post_context": ["d"],
                     "vars": {"x": 1, "s": "t"}},
                    {"filename": "lib/c.py", "function": "inner", "in_app": false},
                    {"filename": "lib/d.py", "function": "deepest", "in_app": false}
                 ]}}
            ]}
        });
        let view = build("e", 0, &event, "");
        assert_eq!(view.exceptions[0].kind, "ValueError", "outermost first");
        assert_eq!(view.exceptions[0].handled, Some(false));
        let groups = &view.exceptions[0].groups;
        assert_eq!(groups.len(), 3);
        assert!(groups[0].folded && groups[0].frames.len() == 2);
        let app = &groups[1].frames[0];
        assert!(app.in_app && app.open);
        let numbers: Vec<_> = app.context.iter().map(|l| l.lineno).collect();
        assert_eq!(numbers, vec![Some(8), Some(9), Some(10), Some(11)]);
        assert!(app.context[2].current);
        assert_eq!(
            app.vars,
            vec![("s".into(), "t".into()), ("x".into(), "1".into())]
        );
    }

    #[test]
    fn curl_is_shell_quoted() {
        let event = json!({"request": {
            "method": "POST", "url": "https://shop.example/cart",
            "query_string": [["a", "1"]],
            "headers": [["X-Test", "it's"], ["Content-Length", "3"]],
            "data": {"k": "v"}
        }});
        let view = build("e", 0, &event, "");
        let curl = view.request.unwrap().curl;
        assert_eq!(
            curl,
            "curl -X 'POST' 'https://shop.example/cart?a=1' \\\n  -H 'X-Test: it'\\''s' \\\n  --data '{\"k\":\"v\"}'"
        );
    }

    #[test]
    fn breadcrumb_filter() {
        let event = json!({"breadcrumbs": {"values": [
            {"timestamp": 1.5, "category": "http", "message": "GET /a"},
            {"timestamp": 2.0, "category": "query", "message": "SELECT 1"}
        ]}});
        let view = build("e", 0, &event, "select");
        assert_eq!(view.breadcrumb_total, 2);
        assert_eq!(view.breadcrumbs.len(), 1);
        assert_eq!(view.breadcrumbs[0].category, "query");
        assert_eq!(
            build("e", 0, &event, "").breadcrumbs[0].time,
            "00:00:01.500"
        );
    }
}
