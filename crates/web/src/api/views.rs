//! Sentry's JSON shapes for organizations, projects, keys, issues and events.
//!
//! Field names, id types (strings, except `ProjectKey.projectId`) and date format follow
//! Sentry's serializers, so sentry-cli and scripts written against Sentry keep working.

use errhound_domain::Substatus;
use errhound_store::events::StoredEvent;
use errhound_store::issues::Issue;
use errhound_store::orgs::Organization;
use errhound_store::projects::{Project, ProjectKey};
use serde_json::{Map, Value, json};
use time::OffsetDateTime;
use time::macros::format_description;

/// Formats epoch milliseconds as Sentry's API does (Django REST Framework's ISO 8601: `Z`,
/// microseconds only when non-zero).
pub fn date(millis: i64) -> String {
    let Ok(dt) = OffsetDateTime::from_unix_timestamp_nanos(i128::from(millis) * 1_000_000) else {
        return "1970-01-01T00:00:00Z".to_owned();
    };
    let result = if millis.rem_euclid(1000) == 0 {
        dt.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second]Z"
        ))
    } else {
        dt.format(format_description!(
            "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z"
        ))
    };
    result.unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_owned())
}

/// Seconds (float) as a date.
fn date_from_seconds(seconds: f64) -> String {
    date((seconds * 1000.0).round() as i64)
}

pub use errhound_domain::short_id::{parse_short_id, short_id};

/// An organization list item.
pub fn organization(org: &Organization, public_url: &str) -> Value {
    json!({
        "id": org.id.to_string(),
        "slug": org.slug,
        "status": {"id": "active", "name": "active"},
        "name": org.name,
        "dateCreated": date(org.created_at),
        "isEarlyAdopter": false,
        "require2FA": false,
        "requireEmailVerification": false,
        "avatar": {"avatarType": "letter_avatar", "avatarUuid": null, "avatarUrl": null},
        "allowMemberInvite": true,
        "allowMemberProjectCreation": false,
        "openMembership": org.open_membership,
        "allowSuperuserAccess": true,
        "links": {"organizationUrl": public_url, "regionUrl": public_url},
        "hasAuthProvider": false,
        "features": [],
        "extraOptions": {},
    })
}

/// A project (summary shape).
pub fn project(project: &Project) -> Value {
    json!({
        "id": project.id.to_string(),
        "slug": project.slug,
        "name": project.name,
        "platform": project.platform,
        "platforms": project.platform.iter().collect::<Vec<_>>(),
        "dateCreated": date(project.created_at),
        "isBookmarked": false,
        "isMember": true,
        "hasAccess": true,
        "firstEvent": project.first_event_at.map(date),
        "firstTransactionEvent": false,
        "hasSessions": false,
        "hasProfiles": false,
        "hasReplays": false,
        "hasMonitors": false,
        "hasUserReports": false,
        "team": null,
        "teams": [],
        "environments": [],
        "features": [],
        "latestRelease": null,
        "latestDeploys": null,
        "status": "active",
    })
}

/// A DSN key (`id` is the public key, `projectId` an integer, as in Sentry).
pub fn project_key(key: &ProjectKey, public_url: &str) -> Value {
    let (scheme, host) = public_url.split_once("://").unwrap_or(("http", public_url));
    let pid = key.project_id;
    let public = &key.public_key;
    json!({
        "id": public,
        "name": key.name(),
        // Sentry keeps `label` for compatibility, with the same value.
        "label": key.name(),
        "public": public,
        "secret": key.secret_key,
        "projectId": pid,
        "isActive": key.is_active,
        "rateLimit": key.rate_limit.map(|limit| json!({
            "window": limit.window_secs(),
            "count": limit.count(),
        })),
        "dsn": {
            "public": format!("{scheme}://{public}@{host}/{pid}"),
            "secret": format!("{scheme}://{public}:{}@{host}/{pid}", key.secret_key),
            "csp": format!("{public_url}/api/{pid}/csp-report/?sentry_key={public}"),
            "security": format!("{public_url}/api/{pid}/security/?sentry_key={public}"),
            "minidump": format!("{public_url}/api/{pid}/minidump/?sentry_key={public}"),
            "nel": format!("{public_url}/api/{pid}/nel/?sentry_key={public}"),
            "unreal": format!("{public_url}/api/{pid}/unreal/{public}/"),
            "crons": format!("{public_url}/api/{pid}/cron/___MONITOR_SLUG___/{public}/"),
            "cdn": format!("{public_url}/js-sdk-loader/{public}.min.js"),
        },
        "browserSdkVersion": "latest",
        "browserSdk": {"choices": [["latest", "latest"]]},
        "dateCreated": date(key.created_at),
        "dynamicSdkLoaderOptions": {"hasReplay": false, "hasPerformance": false, "hasDebug": false},
    })
}

/// The fields every issue shape shares (Sentry's `BaseGroupSerializer` plus seen stats). The
/// workflow and per-user fields here are only placeholders for their shape: every route that
/// answers an issue fills them with the real state through `issue_state::decorate`.
pub fn issue(issue: &Issue, project: &Project, org: &Organization, public_url: &str) -> Value {
    let metadata: Value = serde_json::from_str(&issue.metadata).unwrap_or_else(|_| json!({}));
    json!({
        "id": issue.id.to_string(),
        "shareId": null,
        "shortId": short_id(&project.slug, issue.short_id),
        "title": issue.title,
        "culprit": issue.culprit,
        "permalink": format!("{public_url}/organizations/{}/issues/{}/", org.slug, issue.id),
        "logger": issue.logger,
        "level": issue.level,
        "status": issue.status.as_str(),
        "statusDetails": {},
        "substatus": issue.substatus.map(Substatus::as_str),
        "isPublic": false,
        "platform": issue.platform,
        "project": {
            "id": project.id.to_string(),
            "name": project.name,
            "slug": project.slug,
            "platform": project.platform,
        },
        "type": issue.event_type,
        "metadata": metadata,
        "numComments": 0,
        "assignedTo": null,
        "isBookmarked": false,
        "isSubscribed": false,
        "subscriptionDetails": null,
        "hasSeen": false,
        "annotations": [],
        "issueType": "error",
        "issueCategory": "error",
        "priority": null,
        "priorityLockedAt": null,
        "isUnhandled": false,
        "count": issue.times_seen.to_string(),
        "userCount": issue.user_count,
        "firstSeen": date(issue.first_seen),
        "lastSeen": date(issue.last_seen),
    })
}

/// `[[lineno, line], ...]` from a frame's pre/post context.
fn frame_context(frame: &Value) -> Value {
    let Some(lineno) = frame.get("lineno").and_then(Value::as_i64) else {
        return json!([]);
    };
    let lines = |key: &str| -> Vec<String> {
        frame
            .get(key)
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .map(|v| v.as_str().unwrap_or("").to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    let pre = lines("pre_context");
    let post = lines("post_context");
    let mut out = Vec::new();
    let start = lineno - pre.len() as i64;
    for (i, line) in pre.into_iter().enumerate() {
        out.push(json!([start + i as i64, line]));
    }
    if let Some(line) = frame.get("context_line").and_then(Value::as_str) {
        out.push(json!([lineno, line]));
    }
    for (i, line) in post.into_iter().enumerate() {
        out.push(json!([lineno + 1 + i as i64, line]));
    }
    Value::Array(out)
}

fn frame(frame: &Value) -> Value {
    let f = |key: &str| frame.get(key).cloned().unwrap_or(Value::Null);
    json!({
        "filename": f("filename"),
        "absPath": f("abs_path"),
        "module": f("module"),
        "package": f("package"),
        "platform": f("platform"),
        "instructionAddr": f("instruction_addr"),
        "symbolAddr": f("symbol_addr"),
        "function": f("function"),
        "rawFunction": f("raw_function"),
        "symbol": f("symbol"),
        "context": frame_context(frame),
        "lineNo": f("lineno"),
        "colNo": f("colno"),
        "inApp": frame.get("in_app").and_then(Value::as_bool).unwrap_or(false),
        "trust": f("trust"),
        "errors": null,
        "lock": null,
        "sourceLink": null,
        "vars": f("vars"),
    })
}

fn stacktrace(stacktrace: Option<&Value>) -> Value {
    let Some(stacktrace) = stacktrace else {
        return Value::Null;
    };
    let frames: Vec<Value> = stacktrace
        .get("frames")
        .and_then(Value::as_array)
        .map(|frames| frames.iter().map(frame).collect())
        .unwrap_or_default();
    let has_system = frames.iter().any(|f| f["inApp"] == json!(true));
    json!({
        "frames": frames,
        "framesOmitted": stacktrace.get("frames_omitted").cloned(),
        "registers": stacktrace.get("registers").cloned(),
        "hasSystemFrames": has_system,
    })
}

fn values_of<'a>(event: &'a Value, key: &str) -> &'a [Value] {
    event
        .get(key)
        .and_then(|v| v.get("values"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Query strings and cookies as `[[key, value], ...]`.
fn pairs(value: Option<&Value>, separator: char) -> Value {
    match value {
        Some(Value::String(text)) => Value::Array(
            text.trim_start_matches('?')
                .split(separator)
                .map(str::trim)
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    let decode = |s: &str| {
                        percent_encoding::percent_decode_str(&s.replace('+', " "))
                            .decode_utf8_lossy()
                            .into_owned()
                    };
                    json!([decode(k), decode(v)])
                })
                .collect(),
        ),
        Some(Value::Object(map)) => Value::Array(
            map.iter()
                .map(|(k, v)| json!([k, v.as_str().map_or_else(|| v.to_string(), str::to_owned)]))
                .collect(),
        ),
        Some(Value::Array(list)) => Value::Array(list.clone()),
        _ => json!([]),
    }
}

/// The `entries` list, in Sentry's display order.
#[cfg(test)]
fn entries(event: &Value) -> Vec<Value> {
    entries_with_meta(event).0
}

/// The `entries` list, in Sentry's display order, and the API `_meta` of each entry by index
/// (`{"0": {"data": ...}}`), mapped from the stored `_meta` the way Sentry's interfaces do.
fn entries_with_meta(event: &Value) -> (Vec<Value>, Map<String, Value>) {
    let stored_meta = event.get("_meta");
    let meta_of = |key: &str| stored_meta.and_then(|m| m.get(key));
    let mut entries = Vec::new();
    let mut entry_meta = Map::new();
    let mut add_meta = |entries: &Vec<Value>, meta: Option<Value>| {
        let (Some(meta), Some(entry)) = (meta, entries.last()) else {
            return;
        };
        let meta = with_chunks(entry.get("data"), &meta);
        entry_meta.insert((entries.len() - 1).to_string(), json!({ "data": meta }));
    };
    if let Some(logentry) = event.get("logentry").and_then(Value::as_object) {
        let mut data = Map::new();
        for key in ["formatted", "message", "params"] {
            if let Some(v) = logentry.get(key).filter(|v| !v.is_null()) {
                data.insert(key.to_owned(), v.clone());
            }
        }
        entries.push(json!({"type": "message", "data": data}));
        add_meta(&entries, meta_of("logentry").cloned());
    }
    let exceptions = values_of(event, "exception");
    if !exceptions.is_empty() {
        let values: Vec<Value> = exceptions
            .iter()
            .map(|e| {
                json!({
                    "type": e.get("type"),
                    "value": e.get("value"),
                    "mechanism": e.get("mechanism"),
                    "threadId": e.get("thread_id"),
                    "module": e.get("module"),
                    "stacktrace": stacktrace(e.get("stacktrace")),
                    "rawStacktrace": stacktrace(e.get("raw_stacktrace")),
                })
            })
            .collect();
        let has_system = values
            .iter()
            .any(|v| v["stacktrace"]["hasSystemFrames"] == json!(true));
        entries.push(json!({
            "type": "exception",
            "data": {"values": values, "hasSystemFrames": has_system, "excOmitted": null},
        }));
        add_meta(
            &entries,
            meta_of("exception").map(|m| values_meta(m, exception_meta)),
        );
    }
    if event.get("stacktrace").is_some() {
        entries.push(json!({"type": "stacktrace", "data": stacktrace(event.get("stacktrace"))}));
        add_meta(&entries, meta_of("stacktrace").map(stacktrace_meta));
    }
    let threads = values_of(event, "threads");
    if !threads.is_empty() {
        let values: Vec<Value> = threads
            .iter()
            .map(|t| {
                json!({
                    "id": t.get("id"),
                    "current": t.get("current").and_then(Value::as_bool).unwrap_or(false),
                    "crashed": t.get("crashed").and_then(Value::as_bool).unwrap_or(false),
                    "name": t.get("name"),
                    "state": t.get("state"),
                    "heldLocks": t.get("held_locks"),
                    "stacktrace": stacktrace(t.get("stacktrace")),
                    "rawStacktrace": stacktrace(t.get("raw_stacktrace")),
                })
            })
            .collect();
        entries.push(json!({"type": "threads", "data": {"values": values}}));
        add_meta(
            &entries,
            meta_of("threads").map(|m| values_meta(m, thread_meta)),
        );
    }
    let breadcrumbs = values_of(event, "breadcrumbs");
    if !breadcrumbs.is_empty() {
        let values: Vec<Value> = breadcrumbs
            .iter()
            .map(|b| {
                json!({
                    "type": b.get("type").and_then(Value::as_str).unwrap_or("default"),
                    "timestamp": b.get("timestamp").and_then(Value::as_f64).map(date_from_seconds),
                    "level": b.get("level").and_then(Value::as_str).unwrap_or("info"),
                    "message": b.get("message"),
                    "category": b.get("category"),
                    "data": b.get("data").filter(|d| d.as_object().is_some_and(|o| !o.is_empty())),
                    "event_id": b.get("event_id"),
                })
            })
            .collect();
        entries.push(json!({"type": "breadcrumbs", "data": {"values": values}}));
        add_meta(&entries, meta_of("breadcrumbs").cloned());
    }
    if let Some(request) = event.get("request").filter(|r| r.is_object()) {
        let url = request.get("url").and_then(Value::as_str);
        let (base, url_query) = match url.map(|u| u.split_once('?')) {
            Some(Some((base, query))) => (Some(base.to_owned()), Some(Value::from(query))),
            _ => (url.map(str::to_owned), None),
        };
        let query = request.get("query_string").cloned().or(url_query);
        entries.push(json!({
            "type": "request",
            "data": {
                "apiTarget": null,
                "method": request.get("method"),
                "url": base,
                "query": pairs(query.as_ref(), '&'),
                "fragment": request.get("fragment"),
                "data": request.get("data"),
                "headers": request.get("headers").cloned().unwrap_or_else(|| json!([])),
                "cookies": pairs(request.get("cookies"), ';'),
                "env": request.get("env"),
                "inferredContentType": request.get("inferred_content_type"),
            },
        }));
        add_meta(&entries, meta_of("request").map(request_meta));
    }
    (entries, entry_meta)
}

/// Picks annotations from a stored `_meta` node under API names: `(api name, stored name)`.
fn renamed(meta: &Value, names: &[(&str, &str)]) -> Value {
    let mut out = Map::new();
    for (api, stored) in names {
        if let Some(value) = meta.get(*stored) {
            out.insert((*api).to_owned(), value.clone());
        }
    }
    Value::Object(out)
}

/// `{"values": {"<i>": item_meta}}` of a `{values: [...]}` interface.
fn values_meta(meta: &Value, item: fn(&Value) -> Value) -> Value {
    let mut values = Map::new();
    if let Some(Value::Object(stored)) = meta.get("values") {
        for (index, value) in stored {
            values.insert(
                index.clone(),
                if index.is_empty() {
                    value.clone()
                } else {
                    item(value)
                },
            );
        }
    }
    json!({ "values": values })
}

fn exception_meta(meta: &Value) -> Value {
    let mut out = renamed(
        meta,
        &[
            ("", ""),
            ("type", "type"),
            ("value", "value"),
            ("mechanism", "mechanism"),
            ("threadId", "thread_id"),
            ("module", "module"),
        ],
    );
    add_stacktraces(&mut out, meta);
    out
}

fn thread_meta(meta: &Value) -> Value {
    let mut out = renamed(meta, &[("", ""), ("id", "id"), ("name", "name")]);
    add_stacktraces(&mut out, meta);
    out
}

fn add_stacktraces(out: &mut Value, meta: &Value) {
    for (api, stored) in [
        ("stacktrace", "stacktrace"),
        ("rawStacktrace", "raw_stacktrace"),
    ] {
        if let (Some(stacktrace), Value::Object(out)) = (meta.get(stored), &mut *out) {
            out.insert(api.to_owned(), stacktrace_meta(stacktrace));
        }
    }
}

/// Sentry's `Stacktrace.get_api_meta`: frames by index under API field names.
fn stacktrace_meta(meta: &Value) -> Value {
    let mut frames = Map::new();
    if let Some(Value::Object(stored)) = meta.get("frames") {
        for (index, frame) in stored {
            let mapped = if index.is_empty() {
                frame.clone()
            } else {
                renamed(
                    frame,
                    &[
                        ("", ""),
                        ("absPath", "abs_path"),
                        ("filename", "filename"),
                        ("function", "function"),
                        ("rawFunction", "raw_function"),
                        ("symbol", "symbol"),
                        ("module", "module"),
                        ("package", "package"),
                        ("platform", "platform"),
                        ("instructionAddr", "instruction_addr"),
                        ("symbolAddr", "symbol_addr"),
                        ("lineNo", "lineno"),
                        ("colNo", "colno"),
                        ("inApp", "in_app"),
                        ("trust", "trust"),
                        ("vars", "vars"),
                    ],
                )
            };
            frames.insert(index.clone(), mapped);
        }
    }
    json!({
        "": meta.get(""),
        "frames": frames,
        "framesOmitted": meta.get("frames_omitted"),
        "registers": meta.get("registers"),
    })
}

/// Sentry's `Http.get_api_meta`.
fn request_meta(meta: &Value) -> Value {
    renamed(
        meta,
        &[
            ("", ""),
            ("method", "method"),
            ("url", "url"),
            ("query", "query_string"),
            ("fragment", "fragment"),
            ("data", "data"),
            ("headers", "headers"),
            ("cookies", "cookies"),
            ("env", "env"),
            ("inferredContentType", "inferred_content_type"),
        ],
    )
}

/// Sentry's `meta_with_chunks`: every annotated string gets `chunks`, its text split into plain
/// parts and the parts a rule replaced, so a client can show what `[Filtered]` stands for.
fn with_chunks(data: Option<&Value>, meta: &Value) -> Value {
    let Value::Object(meta) = meta else {
        return meta.clone();
    };
    let mut out = Map::new();
    for (key, item) in meta {
        if key.is_empty() {
            let mut node = item.clone();
            if let (Value::Object(node), Some(Value::String(text))) = (&mut node, data)
                && let Some(Value::Array(remarks)) = node.get("rem")
            {
                let chunks = split_chunks(text, remarks);
                node.insert("chunks".to_owned(), chunks);
            }
            out.insert(String::new(), node);
        } else {
            let child = match data {
                Some(Value::Object(map)) => map.get(key),
                Some(Value::Array(list)) => key.parse::<usize>().ok().and_then(|i| list.get(i)),
                _ => None,
            };
            out.insert(key.clone(), with_chunks(child, item));
        }
    }
    Value::Object(out)
}

/// Text and redaction chunks of a string from its remarks' character ranges.
fn split_chunks(text: &str, remarks: &[Value]) -> Value {
    let mut ranged: Vec<(usize, usize, &Value, &Value)> = remarks
        .iter()
        .filter_map(|r| {
            let start = usize::try_from(r.get(2)?.as_u64()?).ok()?;
            let end = usize::try_from(r.get(3)?.as_u64()?).ok()?;
            Some((start, end, r.get(0)?, r.get(1)?))
        })
        .collect();
    ranged.sort_by_key(|r| r.0);
    let chars: Vec<char> = text.chars().collect();
    let slice = |from: usize, to: usize| -> String {
        chars
            .get(from.min(chars.len())..to.min(chars.len()))
            .map(|c| c.iter().collect())
            .unwrap_or_default()
    };
    let mut chunks = Vec::new();
    let mut last = 0;
    for (start, end, rule, kind) in ranged {
        if start < last || end < start {
            continue;
        }
        if last < start {
            chunks.push(json!({"type": "text", "text": slice(last, start)}));
        }
        chunks.push(json!({
            "type": "redaction",
            "text": slice(start, end),
            "rule_id": rule,
            "remark": kind,
        }));
        last = end;
    }
    if last < chars.len() {
        chunks.push(json!({"type": "text", "text": slice(last, chars.len())}));
    }
    Value::Array(chunks)
}

/// Tags as Sentry lists them: `[{key, value}]`, sorted by key.
fn tags(event: &Value) -> Value {
    tags_with_meta(event).0
}

/// Tags as Sentry lists them, and their API `_meta`: `{"<position in the sorted list>":
/// {"value": meta}}` from the stored `_meta.tags.<stored index>.1`.
fn tags_with_meta(event: &Value) -> (Value, Value) {
    let mut list: Vec<(String, String, usize)> = event
        .get("tags")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .enumerate()
                .filter_map(|(i, p)| {
                    Some((
                        p.get(0)?.as_str()?.to_owned(),
                        p.get(1)?.as_str()?.to_owned(),
                        i,
                    ))
                })
                .collect()
        })
        .unwrap_or_default();
    list.sort();
    let stored_meta = event.get("_meta").and_then(|m| m.get("tags"));
    let mut meta = Map::new();
    for (position, (_, value, index)) in list.iter().enumerate() {
        let Some(value_meta) = stored_meta
            .and_then(|m| m.get(index.to_string()))
            .and_then(|m| m.get("1"))
        else {
            continue;
        };
        let value_meta = with_chunks(Some(&Value::from(value.as_str())), value_meta);
        meta.insert(position.to_string(), json!({ "value": value_meta }));
    }
    let tags = list
        .into_iter()
        .map(|(key, value, _)| json!({"key": key, "value": value}))
        .collect();
    (Value::Array(tags), Value::Object(meta))
}

/// The event's API `_meta` (Sentry's `EventSerializer`): per entry, message, user, contexts,
/// sdk, context (`extra`), packages (`modules`) and tags.
fn api_meta(data: &Value, entries_meta: Map<String, Value>, tags_meta: Value) -> Value {
    let stored = data.get("_meta");
    let part = |key: &str| -> Value {
        match stored.and_then(|m| m.get(key)) {
            Some(meta) => with_chunks(data.get(key), meta),
            None => Value::Null,
        }
    };
    let message_meta = {
        let logentry = stored.and_then(|m| m.get("logentry"));
        let formatted = data
            .get("logentry")
            .and_then(|l| l.get("formatted"))
            .and_then(Value::as_str);
        let (text, meta) = match formatted {
            Some(text) => (Some(text), logentry.and_then(|l| l.get("formatted"))),
            None => (
                data.get("logentry")
                    .and_then(|l| l.get("message"))
                    .and_then(Value::as_str),
                logentry.and_then(|l| l.get("message")),
            ),
        };
        meta.map_or(Value::Null, |meta| {
            with_chunks(text.map(Value::from).as_ref(), meta)
        })
    };
    json!({
        "entries": entries_meta,
        "message": message_meta,
        "user": part("user"),
        "contexts": part("contexts"),
        "sdk": part("sdk"),
        "context": part("extra"),
        "packages": part("modules"),
        "tags": tags_meta,
    })
}

fn user(event: &Value) -> Value {
    match event.get("user").and_then(Value::as_object) {
        Some(user) => json!({
            "id": user.get("id"),
            "email": user.get("email"),
            "username": user.get("username"),
            "ip_address": user.get("ip_address"),
            "name": user.get("name"),
            "geo": user.get("geo"),
            "data": user.get("data"),
        }),
        None => Value::Null,
    }
}

fn message_text(event: &Value) -> String {
    event
        .get("logentry")
        .and_then(|l| l.get("formatted").or_else(|| l.get("message")))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned()
}

/// An event in the short list shape (`SimpleEventSerializer`).
pub fn event_summary(stored: &StoredEvent, data: &Value) -> Value {
    json!({
        "id": stored.event_id,
        "event.type": data.get("type").and_then(Value::as_str).unwrap_or("default"),
        "groupID": stored.issue_id.to_string(),
        "eventID": stored.event_id,
        "projectID": stored.project_id.to_string(),
        "message": message_text(data),
        "title": data.get("title"),
        "location": data.get("metadata").and_then(|m| m.get("filename")),
        "culprit": data.get("culprit"),
        "user": user(data),
        "tags": tags(data),
        "platform": data.get("platform"),
        "dateCreated": date(stored.timestamp),
        "crashFile": null,
        "metadata": data.get("metadata"),
    })
}

/// An event in the full shape (`EventSerializer`), with entries and `_meta`.
pub fn event_full(stored: &StoredEvent, data: &Value) -> Value {
    let (entries, entries_meta) = entries_with_meta(data);
    let (tags, tags_meta) = tags_with_meta(data);
    let errors: Vec<Value> = data
        .get("errors")
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .map(|e| {
                    json!({
                        "type": e.get("type"),
                        "message": e.get("type").and_then(Value::as_str).map(error_message),
                        "data": {"name": e.get("name"), "value": e.get("value")},
                    })
                })
                .collect()
        })
        .unwrap_or_default();
    json!({
        "id": stored.event_id,
        "groupID": stored.issue_id.to_string(),
        "eventID": stored.event_id,
        "projectID": stored.project_id.to_string(),
        "size": stored.data.len(),
        "entries": entries,
        "dist": data.get("dist"),
        "message": message_text(data),
        "title": data.get("title"),
        "location": data.get("metadata").and_then(|m| m.get("filename")),
        "user": user(data),
        "contexts": data.get("contexts").cloned().unwrap_or_else(|| json!({})),
        "sdk": data.get("sdk"),
        "context": data.get("extra").cloned().unwrap_or_else(|| json!({})),
        "packages": data.get("modules").cloned().unwrap_or_else(|| json!({})),
        "type": data.get("type").and_then(Value::as_str).unwrap_or("default"),
        "metadata": data.get("metadata"),
        "tags": tags,
        "platform": data.get("platform"),
        "dateReceived": date(stored.received),
        "errors": errors,
        "occurrence": null,
        "_meta": api_meta(data, entries_meta, tags_meta),
        "crashFile": null,
        "culprit": data.get("culprit"),
        "dateCreated": date(stored.timestamp),
        "fingerprints": data.get("hashes").cloned().unwrap_or_else(|| json!([])),
        "groupingConfig": data.get("grouping_config"),
        "release": data.get("release").and_then(Value::as_str).map(|v| json!({"version": v})),
    })
}

fn error_message(kind: &str) -> &'static str {
    match kind {
        "clock_drift" => "Clock drift detected in SDK",
        "future_timestamp" => "Invalid timestamp (in future)",
        "past_timestamp" => "Invalid timestamp (too old)",
        _ => "Discarded invalid value",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_like_django_rest_framework() {
        assert_eq!(date(1_795_565_767_000), "2026-11-25T00:16:07Z");
        assert_eq!(date(1_795_565_767_299), "2026-11-25T00:16:07.299000Z");
    }

    #[test]
    fn frame_context_lines_are_numbered_around_the_error_line() {
        let f = json!({"lineno": 10, "pre_context": ["a", "b"], "context_line": "c", "post_context": ["d"]});
        assert_eq!(
            frame_context(&f),
            json!([[8, "a"], [9, "b"], [10, "c"], [11, "d"]])
        );
        assert_eq!(frame_context(&json!({})), json!([]));
    }

    #[test]
    fn request_query_and_cookies_become_pairs() {
        let entries = entries(&json!({"request": {
            "url": "https://shop.example/cart?item=1&x=a%20b",
            "cookies": "session=abc; theme=dark",
            "headers": [["Host", "shop.example"]]
        }}));
        let data = &entries[0]["data"];
        assert_eq!(data["url"], "https://shop.example/cart");
        assert_eq!(data["query"], json!([["item", "1"], ["x", "a b"]]));
        assert_eq!(
            data["cookies"],
            json!([["session", "abc"], ["theme", "dark"]])
        );
    }

    #[test]
    fn stored_meta_is_mapped_onto_the_api_shape_with_chunks() {
        let data = json!({
            "logentry": {"formatted": "paid with [Filtered]"},
            "exception": {"values": [{"type": "E", "value": "v", "stacktrace": {
                "frames": [{"function": "f", "abs_path": "/a.py", "vars": {"password": "[Filtered]"}}],
                "frames_omitted": [1, 2]
            }}]},
            "request": {"url": "https://x/login", "headers": [["Authorization", "[Filtered]"]],
                        "query_string": [["token", "[Filtered]"]]},
            "user": {"id": "1"},
            "extra": {"api_key": "[Filtered]"},
            "tags": [["z", "[Filtered]"], ["a", "b"]],
            "_meta": {
                "logentry": {"formatted": {"": {"rem": [["@creditcard:filter", "s", 10, 20]], "len": 26}}},
                "exception": {"values": {"0": {"stacktrace": {"frames": {"0": {
                    "abs_path": {"": {"rem": [["!limit", "s", 0, 3]]}},
                    "vars": {"password": {"": {"rem": [["@password:filter", "s", 0, 10]], "len": 7}}}
                }}}}}},
                "request": {"headers": {"0": {"1": {"": {"rem": [["@password:filter", "s", 0, 10]]}}}},
                            "query_string": {"0": {"1": {"": {"rem": [["@password:filter", "s", 0, 10]]}}}}},
                "user": {"ip_address": {"": {"rem": [["@anything:remove", "x"]]}}},
                "extra": {"api_key": {"": {"rem": [["@password:filter", "s", 0, 10]], "len": 3}}},
                "tags": {"0": {"1": {"": {"rem": [["@password:filter", "s", 0, 10]]}}}}
            }
        });
        let (entries, entries_meta) = entries_with_meta(&data);
        let (tags, tags_meta) = tags_with_meta(&data);
        let meta = api_meta(&data, entries_meta, tags_meta);
        assert_eq!(entries[0]["type"], "message");
        assert_eq!(
            meta["message"][""]["chunks"],
            json!([
                {"type": "text", "text": "paid with "},
                {"type": "redaction", "text": "[Filtered]", "rule_id": "@creditcard:filter", "remark": "s"}
            ])
        );
        assert_eq!(meta["entries"]["0"]["data"]["formatted"][""]["len"], 26);
        assert_eq!(entries[1]["type"], "exception");
        let frame = &meta["entries"]["1"]["data"]["values"]["0"]["stacktrace"]["frames"]["0"];
        assert_eq!(frame["vars"]["password"][""]["len"], 7);
        assert_eq!(frame["absPath"][""]["rem"][0][0], "!limit");
        assert_eq!(
            entries[1]["data"]["values"][0]["stacktrace"]["framesOmitted"],
            json!([1, 2])
        );
        assert_eq!(entries[2]["type"], "request");
        let request = &meta["entries"]["2"]["data"];
        assert_eq!(
            request["headers"]["0"]["1"][""]["rem"][0][0],
            "@password:filter"
        );
        assert_eq!(
            request["query"]["0"]["1"][""]["rem"][0][0],
            "@password:filter"
        );
        assert_eq!(
            entries[2]["data"]["query"],
            json!([["token", "[Filtered]"]])
        );
        assert_eq!(meta["user"]["ip_address"][""]["rem"][0][1], "x");
        assert_eq!(meta["context"]["api_key"][""]["len"], 3);
        assert_eq!(meta["contexts"], Value::Null);
        // Tags are listed sorted; their meta follows them to their new position.
        assert_eq!(tags[1], json!({"key": "z", "value": "[Filtered]"}));
        assert_eq!(
            meta["tags"]["1"]["value"][""]["rem"][0][0],
            "@password:filter"
        );
        assert!(meta["tags"].get("0").is_none());
    }

    #[test]
    fn events_without_meta_have_sentrys_empty_meta() {
        let (entries, entries_meta) = entries_with_meta(&json!({"logentry": {"formatted": "m"}}));
        assert_eq!(entries.len(), 1);
        let meta = api_meta(&json!({}), entries_meta, json!({}));
        assert_eq!(
            meta,
            json!({"entries": {}, "message": null, "user": null, "contexts": null, "sdk": null,
                   "context": null, "packages": null, "tags": {}})
        );
    }
}
