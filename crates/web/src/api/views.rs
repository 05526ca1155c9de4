//! Sentry's JSON shapes for organizations, projects, keys, issues and events.
//!
//! Field names, id types (strings, except `ProjectKey.projectId`) and date format follow
//! Sentry's serializers, so sentry-cli and scripts written against Sentry keep working.

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

/// Sentry's short id: the project slug upper-cased and the per-project number in base 32
/// (Crockford's alphabet), e.g. `SHOP-1A`.
pub fn short_id(project_slug: &str, number: i64) -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut n = number.max(0) as u64;
    let mut digits = Vec::new();
    loop {
        digits.push(ALPHABET[(n % 32) as usize]);
        n /= 32;
        if n == 0 {
            break;
        }
    }
    digits.reverse();
    format!(
        "{}-{}",
        project_slug.to_uppercase(),
        String::from_utf8_lossy(&digits)
    )
}

/// Parses a short id's number part (inverse of [`short_id`]).
pub fn parse_short_id(text: &str) -> Option<(String, i64)> {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let (slug, number) = text.rsplit_once('-')?;
    let mut n: i64 = 0;
    for c in number.to_ascii_uppercase().bytes() {
        let digit = ALPHABET.iter().position(|&a| a == c)? as i64;
        n = n.checked_mul(32)?.checked_add(digit)?;
    }
    Some((slug.to_lowercase(), n))
}

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
        "allowMemberProjectCreation": true,
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
        "name": key.label,
        "label": key.label,
        "public": public,
        "secret": key.secret_key,
        "projectId": pid,
        "isActive": key.is_active,
        "rateLimit": null,
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

/// The fields every issue shape shares (Sentry's `BaseGroupSerializer` plus seen stats).
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
        "status": issue.status,
        "statusDetails": {},
        "substatus": issue.substatus,
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
        "framesOmitted": null,
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
fn entries(event: &Value) -> Vec<Value> {
    let mut entries = Vec::new();
    if let Some(logentry) = event.get("logentry").and_then(Value::as_object) {
        let mut data = Map::new();
        for key in ["formatted", "message", "params"] {
            if let Some(v) = logentry.get(key).filter(|v| !v.is_null()) {
                data.insert(key.to_owned(), v.clone());
            }
        }
        entries.push(json!({"type": "message", "data": data}));
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
    }
    if event.get("stacktrace").is_some() {
        entries.push(json!({"type": "stacktrace", "data": stacktrace(event.get("stacktrace"))}));
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
                "inferredContentType": null,
            },
        }));
    }
    entries
}

/// Tags as Sentry lists them: `[{key, value}]`, sorted by key.
fn tags(event: &Value) -> Value {
    let mut list: Vec<(String, String)> = event
        .get("tags")
        .and_then(Value::as_array)
        .map(|pairs| {
            pairs
                .iter()
                .filter_map(|p| Some((p[0].as_str()?.to_owned(), p[1].as_str()?.to_owned())))
                .collect()
        })
        .unwrap_or_default();
    list.sort();
    Value::Array(
        list.into_iter()
            .map(|(key, value)| json!({"key": key, "value": value}))
            .collect(),
    )
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

/// An event in the full shape (`EventSerializer`), with entries.
pub fn event_full(stored: &StoredEvent, data: &Value) -> Value {
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
        "entries": entries(data),
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
        "tags": tags(data),
        "platform": data.get("platform"),
        "dateReceived": date(stored.received),
        "errors": errors,
        "occurrence": null,
        "_meta": {},
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
    fn short_ids_round_trip() {
        assert_eq!(short_id("shop", 1), "SHOP-1");
        assert_eq!(short_id("shop", 42), "SHOP-1A");
        assert_eq!(parse_short_id("SHOP-1A"), Some(("shop".to_owned(), 42)));
        assert_eq!(parse_short_id("shop-1a"), Some(("shop".to_owned(), 42)));
        assert_eq!(parse_short_id("nodash"), None);
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
}
