//! The REST API under `/api/0/` over raw HTTP: authentication, organizations, projects and DSN
//! keys, membership, the issue list (pagination, search, stats), an issue's events and hashes; each
//! on SQLite and on PostgreSQL. Also the helpers the SDK tests share (reading the API, sending raw
//! envelopes).

use std::collections::{HashMap, HashSet};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use errhound_store::Engine;
use errhound_test_utils::TestServer;
use errhound_test_utils::server::ADMIN_EMAIL;
use reqwest::header::{HeaderMap, LINK, WWW_AUTHENTICATE};
use rstest::rstest;
use serde_json::{Value, json};

use crate::binary;

/// How long the worker may take to process what a test sent.
pub(crate) const PROCESSING: Duration = Duration::from_secs(30);

// ------------------------------------------------------------------------------------------------
// Helpers shared with the SDK tests.

/// Scenario tag -> event ids, from an SDK script's `<tag> <event_id>` lines.
pub(crate) fn sent_by_tag(output: &str) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for line in output.lines() {
        if let Some((tag, id)) = line.trim().split_once(' ') {
            map.entry(tag.to_owned()).or_default().push(id.to_owned());
        }
    }
    map
}

/// `GET /api/0/projects/errhound/default/events/{id}/`, which must exist.
pub(crate) async fn event(server: &TestServer, event_id: &str) -> Value {
    let (status, event) = server
        .api_get(&format!("projects/errhound/default/events/{event_id}/"))
        .await;
    assert_eq!(status, 200, "event {event_id}: {event}");
    event
}

/// The issue that holds `event_id`.
pub(crate) async fn issue_of(server: &TestServer, event_id: &str) -> Value {
    let event = event(server, event_id).await;
    let issue_id = event["groupID"].as_str().expect("groupID is a string");
    let (status, issue) = server.api_get(&format!("issues/{issue_id}/")).await;
    assert_eq!(status, 200, "issue {issue_id}: {issue}");
    issue
}

/// An event's tags as `(key, value)` pairs.
pub(crate) fn tags(event: &Value) -> Vec<(String, String)> {
    event["tags"]
        .as_array()
        .expect("tags is a list")
        .iter()
        .map(|t| {
            (
                t["key"].as_str().expect("tag key").to_owned(),
                t["value"].as_str().expect("tag value").to_owned(),
            )
        })
        .collect()
}

/// Asserts that `event` carries every tag in `expected`.
pub(crate) fn assert_tags(event: &Value, expected: &[(&str, &str)]) {
    let tags = tags(event);
    for (key, value) in expected {
        assert!(
            tags.iter().any(|(k, v)| k == key && v == value),
            "missing tag {key}={value} in {tags:?}"
        );
    }
}

/// The frames of the (last) exception of a full event from the API.
pub(crate) fn exception_frames(event: &Value) -> Vec<Value> {
    let entry = event["entries"]
        .as_array()
        .expect("entries is a list")
        .iter()
        .find(|e| e["type"] == "exception")
        .unwrap_or_else(|| panic!("no exception entry in {}", event["entries"]));
    let values = entry["data"]["values"]
        .as_array()
        .expect("exception values");
    values.last().expect("an exception")["stacktrace"]["frames"]
        .as_array()
        .expect("frames")
        .clone()
}

fn new_event_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64()
}

/// Posts one event in an envelope, framed the way the Python and Rust SDKs do (with `length`),
/// authenticated with `X-Sentry-Auth`.
pub(crate) async fn send_event(server: &TestServer, event: &Value) {
    let payload = event.to_string();
    let body = format!(
        "{}\n{}\n{payload}\n",
        json!({"event_id": event["event_id"], "sdk": {"name": "errhound.tests", "version": "1.0"}}),
        json!({"type": "event", "content_type": "application/json", "length": payload.len()}),
    );
    let response = server
        .client()
        .post(server.envelope_url())
        .header("X-Sentry-Auth", server.auth_header())
        .header("Content-Type", "application/x-sentry-envelope")
        .body(body)
        .send()
        .await
        .expect("envelope request");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "envelope rejected: {text}");
}

/// A Python-style error event whose crashing in-app frame is `function` (one issue per distinct
/// `exception_type`/`function`), with source context around line 42.
fn error_event(event_id: &str, exception_type: &str, function: &str, timestamp: f64) -> Value {
    json!({
        "event_id": event_id,
        "timestamp": timestamp,
        "platform": "python",
        "level": "error",
        "environment": "production",
        "release": "billing@3.1.0",
        "exception": {"values": [{
            "type": exception_type,
            "value": format!("{function} failed for invoice {}", rand::random::<u16>()),
            "module": "billing.errors",
            "mechanism": {"type": "generic", "handled": true},
            "stacktrace": {"frames": [
                {
                    "module": "billing.jobs",
                    "filename": "billing/jobs.py",
                    "abs_path": "/srv/billing/jobs.py",
                    "function": "run",
                    "lineno": 12,
                    "in_app": true
                },
                {
                    "module": "billing.invoices",
                    "filename": "billing/invoices.py",
                    "abs_path": "/srv/billing/invoices.py",
                    "function": function,
                    "lineno": 42,
                    "colno": 5,
                    "pre_context": ["def charge(card):", "    amount = card.amount", "    fee = amount * RATE"],
                    "context_line": "    return amount / card.installments",
                    "post_context": ["", "def refund(card):"],
                    "in_app": true
                }
            ]}
        }]}
    })
}

/// A `GET` with an optional bearer token; `url` is absolute. Returns status, headers and JSON.
async fn get(server: &TestServer, token: Option<&str>, url: &str) -> (u16, HeaderMap, Value) {
    let mut request = server.client().get(url);
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("API request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.text().await.expect("a response body");
    let body = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("GET {url} answered {status} with non-JSON ({e}): {text:?}"));
    (status, headers, body)
}

fn api_url(server: &TestServer, path: &str) -> String {
    format!("{}/api/0/{}", server.base_url, path.trim_start_matches('/'))
}

/// One `Link` header entry.
#[derive(Debug)]
struct Link {
    url: String,
    rel: String,
    results: bool,
    cursor: String,
}

/// Parses Sentry's `Link` header: `<url>; rel="previous"; results="false"; cursor="..", <url>; ...`.
fn links(headers: &HeaderMap) -> Vec<Link> {
    let value = headers
        .get(LINK)
        .expect("a Link header")
        .to_str()
        .expect("an ASCII Link header");
    value
        .split(", <")
        .map(|part| {
            let part = part.trim().trim_start_matches('<');
            let (url, params) = part.split_once('>').expect("<url> in a Link entry");
            let mut link = Link {
                url: url.to_owned(),
                rel: String::new(),
                results: false,
                cursor: String::new(),
            };
            for param in params.split(';').map(str::trim).filter(|p| !p.is_empty()) {
                let (key, value) = param.split_once('=').expect("key=value in a Link entry");
                let value = value.trim_matches('"');
                match key {
                    "rel" => value.clone_into(&mut link.rel),
                    "results" => link.results = value == "true",
                    "cursor" => value.clone_into(&mut link.cursor),
                    _ => {}
                }
            }
            link
        })
        .collect()
}

fn link<'a>(links: &'a [Link], rel: &str) -> &'a Link {
    links
        .iter()
        .find(|l| l.rel == rel)
        .unwrap_or_else(|| panic!("no rel={rel} link in {links:?}"))
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON list")
        .iter()
        .map(|i| i["id"].as_str().expect("id is a string").to_owned())
        .collect()
}

// ------------------------------------------------------------------------------------------------
// Tests.

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn requests_without_a_valid_token_are_401_with_a_challenge(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let url = api_url(&server, "organizations/");
    for token in [None, Some("not-a-token"), Some("")] {
        let (status, headers, body) = get(&server, token, &url).await;
        assert_eq!(status, 401, "token {token:?}: {body}");
        // Sentry's challenge: "xBasic", so browsers do not pop up a login dialog.
        assert_eq!(
            headers
                .get(WWW_AUTHENTICATE)
                .map(|v| v.to_str().unwrap_or("")),
            Some("xBasic realm=\"api\""),
            "token {token:?}"
        );
        let detail = body["detail"].as_str().expect("a detail string");
        assert!(!detail.is_empty());
        if token.is_none() {
            assert_eq!(detail, "Authentication credentials were not provided.");
        }
    }
    // Another scheme is no token either.
    let response = server
        .client()
        .get(&url)
        .header("Authorization", format!("Basic {}", server.token))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 401);
    // Every route is protected, not just the list.
    for path in [
        "organizations/errhound/projects/",
        "projects/errhound/default/issues/",
        "issues/1/",
    ] {
        let (status, _, _) = get(&server, None, &api_url(&server, path)).await;
        assert_eq!(status, 401, "{path}");
    }
    // The admin token works.
    let (status, _, _) = get(&server, Some(&server.token), &url).await;
    assert_eq!(status, 200);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn organizations_projects_and_keys_have_the_shapes_sentry_cli_reads(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;

    let (status, orgs) = server.api_get("organizations/").await;
    assert_eq!(status, 200, "{orgs}");
    let orgs = orgs.as_array().expect("a list");
    assert_eq!(orgs.len(), 1, "{orgs:?}");
    let org = &orgs[0];
    assert_eq!(org["slug"], "errhound");
    let id = org["id"].as_str().expect("organization id is a string");
    assert!(id.parse::<u64>().is_ok(), "numeric id {id}");
    assert!(org["name"].as_str().is_some_and(|n| !n.is_empty()));
    let created = org["dateCreated"].as_str().expect("dateCreated");
    assert!(
        created.len() >= 20 && created.ends_with('Z') && created.as_bytes()[10] == b'T',
        "ISO 8601 UTC date: {created}"
    );
    for flag in ["isEarlyAdopter", "require2FA", "requireEmailVerification"] {
        assert!(org[flag].is_boolean(), "{flag} in {org}");
    }
    assert!(org["features"].is_array(), "features in {org}");

    let (status, detail) = server.api_get("organizations/errhound/").await;
    assert_eq!(status, 200);
    assert_eq!(detail["id"], org["id"]);

    let (status, projects) = server.api_get("organizations/errhound/projects/").await;
    assert_eq!(status, 200, "{projects}");
    let projects = projects.as_array().expect("a list");
    let default = projects
        .iter()
        .find(|p| p["slug"] == "default")
        .unwrap_or_else(|| panic!("no default project in {projects:?}"));
    assert_eq!(
        default["id"].as_str(),
        Some(server.project_id.to_string().as_str()),
        "project ids are strings"
    );

    let (status, keys) = server.api_get("projects/errhound/default/keys/").await;
    assert_eq!(status, 200, "{keys}");
    let keys = keys.as_array().expect("a list");
    let key = keys
        .iter()
        .find(|k| k["public"] == server.public_key.as_str())
        .unwrap_or_else(|| panic!("the DSN key is not listed: {keys:?}"));
    assert_eq!(key["dsn"]["public"], server.dsn.as_str());
    assert_eq!(
        key["projectId"].as_u64(),
        Some(server.project_id),
        "projectId is an integer"
    );
    assert_eq!(key["isActive"], true);

    // Unknown organizations and projects are 404.
    let (status, body) = server.api_get("organizations/nope/projects/").await;
    assert_eq!(status, 404, "{body}");
    assert!(body["detail"].is_string());
    let (status, _) = server.api_get("projects/errhound/nope/keys/").await;
    assert_eq!(status, 404);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn only_members_of_the_organization_see_it(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let event_id = new_event_id();
    send_event(
        &server,
        &error_event(&event_id, "LedgerError", "post_entry", now_secs()),
    )
    .await;
    server.wait_for_events(1, PROCESSING).await;
    let issue_id = issue_of(&server, &event_id).await["id"]
        .as_str()
        .unwrap()
        .to_owned();

    let outsider = server.create_user("outsider@errhound.test", None);
    let member = server.create_user("member@errhound.test", Some("errhound"));

    // Not a member: no organizations listed, 403 on the organization, 404 on its issues.
    let (status, _, orgs) = get(
        &server,
        Some(&outsider),
        &api_url(&server, "organizations/"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(orgs, json!([]));
    for path in [
        "organizations/errhound/",
        "organizations/errhound/projects/",
        "projects/errhound/default/issues/",
    ] {
        let (status, _, body) = get(&server, Some(&outsider), &api_url(&server, path)).await;
        assert_eq!(status, 403, "{path}: {body}");
        assert!(body["detail"].is_string(), "{path}: {body}");
    }
    for path in [
        format!("issues/{issue_id}/"),
        format!("issues/{issue_id}/events/"),
        format!("issues/{issue_id}/events/latest/"),
    ] {
        let (status, _, body) = get(&server, Some(&outsider), &api_url(&server, &path)).await;
        assert_eq!(status, 404, "{path}: {body}");
    }

    // A member sees everything.
    let (status, _, orgs) = get(&server, Some(&member), &api_url(&server, "organizations/")).await;
    assert_eq!(status, 200);
    assert_eq!(ids_by_slug(&orgs), vec!["errhound"]);
    let (status, _, projects) = get(
        &server,
        Some(&member),
        &api_url(&server, "organizations/errhound/projects/"),
    )
    .await;
    assert_eq!(status, 200);
    assert!(ids_by_slug(&projects).contains(&"default".to_owned()));
    let (status, _, issue) = get(
        &server,
        Some(&member),
        &api_url(&server, &format!("issues/{issue_id}/")),
    )
    .await;
    assert_eq!(status, 200, "{issue}");
    assert_eq!(issue["id"], issue_id.as_str());
    assert_eq!(
        issue["title"]
            .as_str()
            .map(|t| t.starts_with("LedgerError: ")),
        Some(true)
    );
}

fn ids_by_slug(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a JSON list")
        .iter()
        .map(|o| o["slug"].as_str().expect("slug").to_owned())
        .collect()
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn issue_list_pages_searches_and_stats(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    // Seven issues, seen one second apart (the oldest first).
    let start = now_secs() - 60.0;
    let mut event_ids = Vec::new();
    for i in 0..7 {
        let id = new_event_id();
        let event = error_event(
            &id,
            &format!("PageError{i}"),
            &format!("step_{i}"),
            start + f64::from(i),
        );
        send_event(&server, &event).await;
        event_ids.push(id);
    }
    server.wait_for_events(7, PROCESSING).await;
    let mut expected = Vec::new();
    for id in event_ids.iter().rev() {
        let issue = issue_of(&server, id).await;
        assert_eq!(issue["count"], "1");
        expected.push(issue["id"].as_str().unwrap().to_owned());
    }
    let unique: HashSet<&String> = expected.iter().collect();
    assert_eq!(unique.len(), 7, "seven different issues: {expected:?}");

    // Following rel="next" while results="true" yields every issue once, newest lastSeen first.
    let first_url = api_url(
        &server,
        "projects/errhound/default/issues/?query=&limit=3&statsPeriod=",
    );
    let mut url = first_url.clone();
    let mut pages: Vec<(Vec<String>, Vec<Link>)> = Vec::new();
    loop {
        let (status, headers, body) = get(&server, Some(&server.token), &url).await;
        assert_eq!(status, 200, "{url}: {body}");
        let page_links = links(&headers);
        let next = link(&page_links, "next");
        let (has_next, next_url) = (next.results, next.url.clone());
        assert!(
            next_url.starts_with(&server.base_url),
            "absolute link: {next_url}"
        );
        pages.push((ids(&body), page_links));
        if !has_next {
            break;
        }
        assert!(pages.len() < 5, "pagination does not end: {pages:?}");
        url = next_url;
    }
    let sizes: Vec<usize> = pages.iter().map(|(ids, _)| ids.len()).collect();
    assert_eq!(sizes, vec![3, 3, 1]);
    let all: Vec<String> = pages.iter().flat_map(|(ids, _)| ids.clone()).collect();
    assert_eq!(all, expected, "every issue once, in lastSeen order");
    assert!(
        !link(&pages[0].1, "previous").results,
        "nothing before page 1"
    );
    assert!(link(&pages[0].1, "next").cursor.len() > 2);

    // Page 2's previous link leads back to page 1.
    let previous = link(&pages[1].1, "previous");
    assert!(previous.results, "page 2 has a previous page");
    let (status, _, body) = get(&server, Some(&server.token), &previous.url).await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body), pages[0].0);

    // The unpaginated list has the same order.
    let listed: Vec<String> = server
        .issues()
        .await
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(listed, expected);

    // Search.
    let (status, body) = server
        .api_get("projects/errhound/default/issues/?query=is:resolved")
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!([]));
    let (status, body) = server
        .api_get("projects/errhound/default/issues/?query=is%3Aunresolved")
        .await;
    assert_eq!(status, 200);
    assert_eq!(ids(&body).len(), 7);
    let (status, body) = server
        .api_get("projects/errhound/default/issues/?query=times_seen%3A%3E10")
        .await;
    assert_eq!(status, 400, "{body}");
    let detail = body["detail"].as_str().expect("a detail");
    assert!(detail.starts_with("Error parsing search query"), "{detail}");
    let (status, body) = server
        .api_get("projects/errhound/default/issues/?query=PageError3")
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        ids(&body),
        vec![expected[3].clone()],
        "free text matches the title"
    );

    // Stats: 24 hourly buckets ending with the current hour, one event per issue.
    let (status, body) = server
        .api_get("projects/errhound/default/issues/?statsPeriod=24h")
        .await;
    assert_eq!(status, 200, "{body}");
    let now = now_secs();
    for issue in body.as_array().expect("a list") {
        let series = issue["stats"]["24h"].as_array().expect("a 24h series");
        assert_eq!(series.len(), 24, "{issue}");
        let buckets: Vec<(i64, i64)> = series
            .iter()
            .map(|b| {
                let pair = b.as_array().expect("[ts, count]");
                assert_eq!(pair.len(), 2);
                (pair[0].as_i64().unwrap(), pair[1].as_i64().unwrap())
            })
            .collect();
        for pair in buckets.windows(2) {
            assert_eq!(pair[1].0 - pair[0].0, 3600, "hourly buckets, oldest first");
        }
        let last = buckets[23].0 as f64;
        assert!(
            last <= now && now - last < 3600.0 + 30.0,
            "the last bucket holds now"
        );
        assert_eq!(buckets.iter().map(|b| b.1).sum::<i64>(), 1, "{issue}");
    }
    let (status, body) = server
        .api_get("projects/errhound/default/issues/?statsPeriod=14d")
        .await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["stats"]["14d"].as_array().map(Vec::len), Some(14));
    let (status, body) = server
        .api_get("projects/errhound/default/issues/?statsPeriod=bogus")
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["detail"].is_string());
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn issue_events_latest_event_and_hashes(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let start = now_secs() - 30.0;
    let older = new_event_id();
    let newer = new_event_id();
    send_event(
        &server,
        &error_event(&older, "ZeroDivisionError", "charge", start),
    )
    .await;
    send_event(
        &server,
        &error_event(&newer, "ZeroDivisionError", "charge", start + 5.0),
    )
    .await;
    server.wait_for_events(2, PROCESSING).await;
    let issue = issue_of(&server, &older).await;
    let issue_id = issue["id"].as_str().unwrap().to_owned();
    assert_eq!(issue_of(&server, &newer).await["id"], issue_id.as_str());
    assert_eq!(issue["count"], "2");
    assert_eq!(issue["culprit"], "billing.invoices in charge");

    // The issue's events, newest first.
    let (status, list) = server.api_get(&format!("issues/{issue_id}/events/")).await;
    assert_eq!(status, 200, "{list}");
    let listed: Vec<&str> = list
        .as_array()
        .expect("a list")
        .iter()
        .map(|e| e["eventID"].as_str().expect("eventID"))
        .collect();
    assert_eq!(listed, vec![newer.as_str(), older.as_str()]);
    assert_eq!(list[0]["groupID"], issue_id.as_str());

    // The latest event, with camelCase frames and numbered source context.
    let (status, latest) = server
        .api_get(&format!("issues/{issue_id}/events/latest/"))
        .await;
    assert_eq!(status, 200, "{latest}");
    assert_eq!(latest["eventID"], newer.as_str());
    assert_eq!(latest["groupID"], issue_id.as_str());
    let frames = exception_frames(&latest);
    assert_eq!(frames.len(), 2);
    let crash = &frames[1];
    assert_eq!(crash["function"], "charge");
    assert_eq!(crash["module"], "billing.invoices");
    assert_eq!(crash["filename"], "billing/invoices.py");
    assert_eq!(crash["absPath"], "/srv/billing/invoices.py");
    assert_eq!(crash["lineNo"], 42);
    assert_eq!(crash["colNo"], 5);
    assert_eq!(crash["inApp"], true);
    assert_eq!(
        crash["context"],
        json!([
            [39, "def charge(card):"],
            [40, "    amount = card.amount"],
            [41, "    fee = amount * RATE"],
            [42, "    return amount / card.installments"],
            [43, ""],
            [44, "def refund(card):"]
        ])
    );
    assert_eq!(frames[0]["lineNo"], 12);
    assert_eq!(frames[0]["context"], json!([]));
    let (status, oldest) = server
        .api_get(&format!("issues/{issue_id}/events/oldest/"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(oldest["eventID"], older.as_str());
    let (status, by_id) = server
        .api_get(&format!("issues/{issue_id}/events/{older}/"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(by_id["eventID"], older.as_str());

    // The grouping hashes of the issue are the hashes its events were grouped by.
    let (status, hashes) = server.api_get(&format!("issues/{issue_id}/hashes/")).await;
    assert_eq!(status, 200, "{hashes}");
    let hash_ids: HashSet<String> = ids(&hashes).into_iter().collect();
    assert!(!hash_ids.is_empty());
    for hash in &hash_ids {
        assert!(
            hash.len() == 32 && hash.bytes().all(|b| b.is_ascii_hexdigit()),
            "hash {hash}"
        );
    }
    let event_hashes: HashSet<String> = latest["fingerprints"]
        .as_array()
        .expect("fingerprints")
        .iter()
        .map(|h| h.as_str().unwrap().to_owned())
        .collect();
    assert!(!event_hashes.is_empty());
    assert!(
        event_hashes.is_subset(&hash_ids),
        "event hashes {event_hashes:?} are issue hashes {hash_ids:?}"
    );

    // Unknown ids are 404.
    let unknown = new_event_id();
    let (status, _) = server
        .api_get(&format!("projects/errhound/default/events/{unknown}/"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = server
        .api_get(&format!("issues/{issue_id}/events/{unknown}/"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = server.api_get("issues/987654321/").await;
    assert_eq!(status, 404);

    // The organization-scoped route finds the issue by its short id and by its id.
    let short_id = server.issues().await[0]["shortId"]
        .as_str()
        .expect("shortId")
        .to_owned();
    assert!(short_id.starts_with("DEFAULT-"), "{short_id}");
    assert_eq!(issue["shortId"], short_id.as_str());
    for reference in [short_id.as_str(), issue_id.as_str()] {
        let (status, found) = server
            .api_get(&format!("organizations/errhound/issues/{reference}/"))
            .await;
        assert_eq!(status, 200, "{reference}: {found}");
        assert_eq!(found["id"], issue_id.as_str());
    }
    let (status, events) = server
        .api_get(&format!("organizations/errhound/issues/{short_id}/events/"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(events.as_array().map(Vec::len), Some(2));
}

/// Grouping and counts end to end on both engines (on PostgreSQL the readiness probe once failed
/// to decode an `INT4` and kept the server unready).
#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn grouping_and_counts(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let start = now_secs() - 20.0;
    let mut repeated = Vec::new();
    for i in 0..3 {
        let id = new_event_id();
        send_event(
            &server,
            &error_event(&id, "TimeoutError", "fetch_rates", start + f64::from(i)),
        )
        .await;
        repeated.push(id);
    }
    let single = new_event_id();
    send_event(
        &server,
        &error_event(&single, "KeyError", "lookup_customer", start + 5.0),
    )
    .await;
    let issues = server.wait_for_events(4, PROCESSING).await;
    assert_eq!(issues.len(), 2, "{issues:?}");

    let first = issue_of(&server, &repeated[0]).await;
    for id in &repeated {
        assert_eq!(issue_of(&server, id).await["id"], first["id"]);
    }
    assert_eq!(first["count"], "3");
    assert!(
        first["title"]
            .as_str()
            .is_some_and(|t| t.starts_with("TimeoutError: fetch_rates failed")),
        "{first}"
    );
    assert_eq!(first["firstRelease"]["version"], "billing@3.1.0");
    let other = issue_of(&server, &single).await;
    assert_ne!(other["id"], first["id"]);
    assert_eq!(other["count"], "1");
    // Newest lastSeen first.
    assert_eq!(
        ids(&Value::Array(issues)),
        vec![
            other["id"].as_str().unwrap().to_owned(),
            first["id"].as_str().unwrap().to_owned()
        ]
    );

    let (status, latest) = server
        .api_get(&format!(
            "issues/{}/events/latest/",
            first["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(status, 200, "{latest}");
    assert_eq!(latest["eventID"], repeated[2].as_str());
    assert_eq!(exception_frames(&latest)[1]["lineNo"], 42);
    assert_tags(
        &latest,
        &[("environment", "production"), ("level", "error")],
    );
}

/// Sends one event of a new issue (named by `exception_type`) and returns the issue's id.
async fn new_issue(server: &TestServer, exception_type: &str) -> String {
    let id = new_event_id();
    send_event(
        server,
        &error_event(&id, exception_type, "charge", now_secs() - 5.0),
    )
    .await;
    let deadline = std::time::Instant::now() + PROCESSING;
    loop {
        let (status, body) = server
            .api_get(&format!("projects/errhound/default/events/{id}/"))
            .await;
        if status == 200 {
            return body["groupID"].as_str().expect("groupID").to_owned();
        }
        assert!(
            std::time::Instant::now() < deadline,
            "event {id} not stored"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The entry of issue `id` in a list answer.
fn listed<'a>(list: &'a Value, id: &str) -> &'a Value {
    list.as_array()
        .expect("a list")
        .iter()
        .find(|i| i["id"] == id)
        .unwrap_or_else(|| panic!("issue {id} not in {list}"))
}

/// The fields that carry an issue's workflow state and the viewer's relation to it.
const STATE_FIELDS: [&str; 8] = [
    "status",
    "substatus",
    "statusDetails",
    "assignedTo",
    "isBookmarked",
    "numComments",
    "hasSeen",
    "isSubscribed",
];

fn state_of(issue: &Value) -> Value {
    STATE_FIELDS
        .iter()
        .map(|f| ((*f).to_owned(), issue[*f].clone()))
        .collect::<serde_json::Map<_, _>>()
        .into()
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn issue_lists_and_detail_show_the_state_the_put_answers(#[case] engine: Engine) {
    reads_show_the_state_the_put_answers(TestServer::start_on(binary(), engine).await).await;
}

/// After assigning, bookmarking, commenting, resolving in a release and snoozing, every read of
/// an issue (detail, detail in the organization, both lists) shows what a `PUT` answers.
async fn reads_show_the_state_the_put_answers(server: TestServer) {
    let resolved = new_issue(&server, "ResolvedError").await;
    let snoozed = new_issue(&server, "SnoozedError").await;
    let member = server.create_member("dev@errhound.test");

    // Assigned, bookmarked, commented, seen, then resolved in a release.
    for body in [
        json!({"assignedTo": "me", "isBookmarked": true, "hasSeen": true}),
        json!({"status": "resolved", "statusDetails": {"inRelease": "billing@3.1.0"}}),
    ] {
        let (status, answer) = server.api_put(&format!("issues/{resolved}/"), &body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let (status, note) = server
        .api_send(
            reqwest::Method::POST,
            &format!("issues/{resolved}/comments/"),
            &json!({"text": "fixed by the retry"}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{note}");
    // Snoozed until five more events within an hour.
    let (status, answer) = server
        .api_put(
            &format!("issues/{snoozed}/"),
            &json!({"status": "ignored", "hasSeen": true,
                    "statusDetails": {"ignoreCount": 5, "ignoreWindow": 60}}),
        )
        .await;
    assert_eq!(status, 200, "{answer}");

    for (id, query) in [(&resolved, "is:resolved"), (&snoozed, "is:ignored")] {
        // A PUT without changes answers the issue as it is (Sentry does the same).
        let (status, truth) = server.api_put(&format!("issues/{id}/"), &json!({})).await;
        assert_eq!(status, 200, "{truth}");
        let (_, detail) = server.api_get(&format!("issues/{id}/")).await;
        let (_, in_org) = server
            .api_get(&format!("organizations/errhound/issues/{id}/"))
            .await;
        let (_, project_list) = server
            .api_get(&format!("projects/errhound/default/issues/?query={query}"))
            .await;
        let (_, org_list) = server
            .api_get("organizations/errhound/issues/?query=")
            .await;
        for (read, issue) in [
            ("detail", &detail),
            ("detail in the organization", &in_org),
            ("project list", listed(&project_list, id)),
            ("organization list", listed(&org_list, id)),
        ] {
            assert_eq!(state_of(issue), state_of(&truth), "{read} of {id}");
        }
        assert_eq!(detail["activity"], truth["activity"], "{id}");
    }

    // The state itself is the real one.
    let (_, issue) = server.api_get(&format!("issues/{resolved}/")).await;
    assert_eq!(issue["status"], "resolved");
    assert_eq!(issue["statusDetails"]["inRelease"], "billing@3.1.0");
    assert_eq!(issue["statusDetails"]["actor"]["email"], ADMIN_EMAIL);
    assert_eq!(issue["assignedTo"]["email"], ADMIN_EMAIL);
    assert_eq!(issue["isBookmarked"], true);
    assert_eq!(issue["numComments"], 1);
    assert_eq!(issue["hasSeen"], true);
    assert_eq!(
        issue["isSubscribed"], true,
        "assigned, bookmarked, commented"
    );
    assert_eq!(issue["seenBy"][0]["email"], ADMIN_EMAIL, "{issue}");
    let types: Vec<&str> = issue["activity"]
        .as_array()
        .expect("activity")
        .iter()
        .map(|a| a["type"].as_str().expect("type"))
        .collect();
    assert_eq!(
        types,
        ["note", "set_resolved_in_release", "assigned", "first_seen"]
    );
    let (_, issue) = server.api_get(&format!("issues/{snoozed}/")).await;
    assert_eq!(issue["status"], "ignored");
    assert_eq!(issue["substatus"], "archived_until_condition_met");
    assert_eq!(issue["statusDetails"]["ignoreCount"], 5);
    assert_eq!(issue["statusDetails"]["ignoreWindow"], 60);
    assert_eq!(
        issue["isSubscribed"], false,
        "changing a status is not taking part"
    );

    // Per user: another member sees no bookmark, has not seen it, is not subscribed ...
    let url = api_url(&server, "projects/errhound/default/issues/?query=");
    let (status, _, list) = get(&server, Some(&member), &url).await;
    assert_eq!(status, 200, "{list}");
    let theirs = listed(&list, &resolved);
    assert_eq!(theirs["isBookmarked"], false);
    assert_eq!(theirs["hasSeen"], false);
    assert_eq!(theirs["isSubscribed"], false);
    assert_eq!(theirs["assignedTo"]["email"], ADMIN_EMAIL);
    // ... until they view the detail (seen) and subscribe.
    let detail_url = api_url(&server, &format!("issues/{resolved}/"));
    let (_, _, detail) = get(&server, Some(&member), &detail_url).await;
    assert_eq!(detail["hasSeen"], true, "viewing the detail marks it seen");
    let (status, answer) = server
        .api_send(
            reqwest::Method::PUT,
            &format!("issues/{resolved}/"),
            &json!({"isSubscribed": true, "hasSeen": false}),
            Some(&member),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        (&answer["isSubscribed"], &answer["hasSeen"]),
        (&json!(true), &json!(false))
    );
    let (_, _, list) = get(&server, Some(&member), &url).await;
    let theirs = listed(&list, &resolved);
    assert_eq!(
        (&theirs["isSubscribed"], &theirs["hasSeen"]),
        (&json!(true), &json!(false))
    );
    let (status, body) = server
        .api_put(&format!("issues/{resolved}/"), &json!({"hasSeen": "maybe"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["hasSeen"], json!(["Must be a valid boolean."]));
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn the_api_searches_with_the_ui_language(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let mine = new_issue(&server, "MineError").await;
    let teams = new_issue(&server, "TeamError").await;
    let nobodys = new_issue(&server, "NobodysError").await;
    let (status, team) = server
        .api_send(
            reqwest::Method::POST,
            "organizations/errhound/teams/",
            &json!({"slug": "backend"}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{team}");
    for (id, body) in [
        (&mine, json!({"assignedTo": "me", "isBookmarked": true})),
        (&teams, json!({"assignedTo": "#backend"})),
    ] {
        let (status, answer) = server.api_put(&format!("issues/{id}/"), &body).await;
        assert_eq!(status, 200, "{answer}");
    }
    let search = async |query: &str| -> Vec<String> {
        let url = format!("projects/errhound/default/issues/?query={query}");
        let (status, body) = server.api_get(&url).await;
        assert_eq!(status, 200, "{query}: {body}");
        let mut found = ids(&body);
        found.sort();
        found
    };
    let sorted = |ids: &[&String]| {
        let mut ids: Vec<String> = ids.iter().map(|s| (*s).clone()).collect();
        ids.sort();
        ids
    };
    assert_eq!(search("is:assigned").await, sorted(&[&mine, &teams]));
    assert_eq!(search("!is:unassigned").await, sorted(&[&mine, &teams]));
    assert_eq!(search("is:unassigned").await, sorted(&[&nobodys]));
    assert_eq!(search("assigned:me").await, sorted(&[&mine]));
    assert_eq!(
        search(&format!("assigned:{ADMIN_EMAIL}")).await,
        sorted(&[&mine])
    );
    assert_eq!(search("assigned:%23backend").await, sorted(&[&teams]));
    assert_eq!(search("assigned:none").await, sorted(&[&nobodys]));
    assert_eq!(search("bookmarks:me").await, sorted(&[&mine]));
    assert_eq!(
        search("is:for_review").await,
        sorted(&[&mine, &teams, &nobodys])
    );
    assert_eq!(search("is:new%20TeamError").await, sorted(&[&teams]));
    assert_eq!(search("is:regressed").await, Vec::<String>::new());

    // Bulk changes take the same language.
    let (status, body) = server
        .api_put(
            "projects/errhound/default/issues/?query=assigned:me",
            &json!({"status": "resolved"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(search("is:resolved").await, sorted(&[&mine]));
    assert_eq!(search("is:for_review").await, sorted(&[&teams, &nobodys]));
    assert_eq!(
        search("is:for_review%20is:resolved").await,
        Vec::<String>::new()
    );

    // What cannot be answered is a 400 that says why.
    for (query, reason) in [
        (
            "assigned:nobody@example.org",
            "nobody@example.org is not a member",
        ),
        ("assigned:%23frontend", "unknown team #frontend"),
        ("bookmarks:someone", "only bookmarks:me is supported"),
        ("!is:for_review", "!is:for_review is not supported"),
        ("is:assigned%20assigned:me", "only one assignment condition"),
    ] {
        let (status, body) = server
            .api_get(&format!("projects/errhound/default/issues/?query={query}"))
            .await;
        assert_eq!(status, 400, "{query}: {body}");
        let detail = body["detail"].as_str().expect("a detail");
        assert!(
            detail.starts_with("Error parsing search query: ") && detail.contains(reason),
            "{query}: {detail}"
        );
    }
}
