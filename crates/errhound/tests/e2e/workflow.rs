//! The issue workflow through the REST API of a real server, with raw envelopes: resolve and a
//! new event regresses the issue; ignore until N more events; merge, then later events of the
//! merged hash land in the survivor; unmerge; assignment, bookmarks, teams and members;
//! comments; the activity timeline; releases and environments.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use errhound_store::Engine;
use errhound_test_utils::TestServer;
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::api::{PROCESSING, event, send_event};
use crate::binary;

fn new_event_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64()
}

/// An error event whose issue is decided by `exception_type` and `function`.
fn error_event(exception_type: &str, function: &str, release: &str) -> (String, Value) {
    let id = new_event_id();
    let event = json!({
        "event_id": id,
        "timestamp": now_secs(),
        "platform": "python",
        "level": "error",
        "environment": "production",
        "release": release,
        "user": {"id": format!("u{}", rand::random::<u16>())},
        "exception": {"values": [{
            "type": exception_type,
            "value": format!("{function} failed"),
            "module": "shop.errors",
            "stacktrace": {"frames": [
                {
                    "module": "shop.jobs",
                    "filename": "shop/jobs.py",
                    "function": "run",
                    "lineno": 7,
                    "context_line": "    step()",
                    "in_app": true
                },
                {
                    "module": "shop.steps",
                    "filename": "shop/steps.py",
                    "function": function,
                    "lineno": 21,
                    "context_line": format!("    raise {exception_type}()"),
                    "in_app": true
                }
            ]}
        }]}
    });
    (id, event)
}

/// Sends one event and returns its id.
async fn send(server: &TestServer, exception_type: &str, function: &str, release: &str) -> String {
    let (id, event) = error_event(exception_type, function, release);
    send_event(server, &event).await;
    id
}

/// Any API request with a token (the admin's when `None`); returns status and JSON (`null` for
/// an empty body).
async fn call(
    server: &TestServer,
    token: Option<&str>,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let url = format!("{}/api/0/{}", server.base_url, path.trim_start_matches('/'));
    let mut request = server
        .client()
        .request(method.clone(), &url)
        .bearer_auth(token.unwrap_or(&server.token));
    if let Some(body) = body {
        request = request.json(&body);
    }
    let response = request.send().await.expect("API request");
    let status = response.status().as_u16();
    let text = response.text().await.expect("a body");
    let body = if text.is_empty() {
        Value::Null
    } else {
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {url}: {status} non-JSON ({e}): {text:?}"))
    };
    (status, body)
}

async fn put(server: &TestServer, path: &str, body: Value) -> (u16, Value) {
    call(server, None, Method::PUT, path, Some(body)).await
}

/// Waits until an event is stored; returns its issue id.
async fn issue_id_of(server: &TestServer, event_id: &str) -> String {
    let deadline = Instant::now() + PROCESSING;
    loop {
        let (status, body) = server
            .api_get(&format!("projects/errhound/default/events/{event_id}/"))
            .await;
        if status == 200 {
            return body["groupID"].as_str().expect("groupID").to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "event {event_id} not stored in time"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn get_issue(server: &TestServer, id: &str) -> Value {
    let (status, issue) = server.api_get(&format!("issues/{id}/")).await;
    assert_eq!(status, 200, "issue {id}: {issue}");
    issue
}

/// The issue with its workflow fields (`statusDetails`, `assignedTo`, `isBookmarked`,
/// `numComments`, `activity`) as `token`'s user sees it: a `PUT` without changes answers the
/// issue, as in Sentry. (Once the list and detail `GET`s carry these fields too, this can be a
/// `GET`.)
async fn workflow_view(server: &TestServer, token: Option<&str>, id: &str) -> Value {
    let (status, issue) = call(
        server,
        token,
        Method::PUT,
        &format!("issues/{id}/"),
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 200, "issue {id}: {issue}");
    issue
}

/// Polls the issue until `check` holds.
async fn wait_for_issue(server: &TestServer, id: &str, check: impl Fn(&Value) -> bool) -> Value {
    let deadline = Instant::now() + PROCESSING;
    loop {
        let issue = get_issue(server, id).await;
        if check(&issue) {
            return issue;
        }
        assert!(
            Instant::now() < deadline,
            "issue {id} never matched: {issue}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn activity_types(server: &TestServer, id: &str) -> Vec<String> {
    let (status, body) = server.api_get(&format!("issues/{id}/activities/")).await;
    assert_eq!(status, 200, "{body}");
    body["activity"]
        .as_array()
        .expect("activity list")
        .iter()
        .map(|a| a["type"].as_str().expect("type").to_owned())
        .collect()
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn resolve_then_a_new_event_regresses_with_activity(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let first = send(&server, "CheckoutError", "pay", "shop@1.0").await;
    let id = issue_id_of(&server, &first).await;

    let (status, body) = put(
        &server,
        &format!("issues/{id}/"),
        json!({"status": "resolved"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["id"], id.as_str(), "the detail PUT answers the issue");
    assert_eq!(body["status"], "resolved");
    assert_eq!(body["statusDetails"], json!({}));
    assert_eq!(body["activity"][0]["type"], "set_resolved");
    assert_eq!(body["activity"][0]["user"]["email"], "admin@errhound.test");
    let (status, resolved) = server
        .api_get("projects/errhound/default/issues/?query=is:resolved")
        .await;
    assert_eq!(status, 200);
    assert_eq!(resolved.as_array().map(Vec::len), Some(1));

    let second = send(&server, "CheckoutError", "pay", "shop@1.1").await;
    assert_eq!(issue_id_of(&server, &second).await, id);
    let issue = wait_for_issue(&server, &id, |i| i["status"] == "unresolved").await;
    assert_eq!(issue["substatus"], "regressed");
    assert_eq!(issue["count"], "2");
    let types = activity_types(&server, &id).await;
    assert_eq!(types, vec!["set_regression", "set_resolved", "first_seen"]);
    let (_, body) = server.api_get(&format!("issues/{id}/activities/")).await;
    let regression = &body["activity"][0];
    assert_eq!(regression["user"], Value::Null);
    assert_eq!(regression["data"]["version"], "shop@1.1", "{body}");
    assert!(
        regression["dateCreated"]
            .as_str()
            .is_some_and(|d| d.ends_with('Z'))
    );

    // Resolved in release 1.1: an event of the older 1.0 does not reopen it, 1.2 does.
    let (status, body) = put(
        &server,
        &format!("organizations/errhound/issues/{id}/"),
        json!({"status": "resolved", "statusDetails": {"inRelease": "shop@1.1"}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["statusDetails"]["inRelease"], "shop@1.1");
    assert_eq!(
        body["statusDetails"]["actor"]["email"],
        "admin@errhound.test"
    );
    let old = send(&server, "CheckoutError", "pay", "shop@1.0").await;
    assert_eq!(issue_id_of(&server, &old).await, id);
    let issue = workflow_view(&server, None, &id).await;
    assert_eq!(issue["status"], "resolved", "{issue}");
    assert_eq!(issue["statusDetails"]["inRelease"], "shop@1.1");
    send(&server, "CheckoutError", "pay", "shop@1.2").await;
    wait_for_issue(&server, &id, |i| i["status"] == "unresolved").await;

    // An unknown release is refused in Sentry's shape.
    let (status, body) = put(
        &server,
        &format!("issues/{id}/"),
        json!({"status": "resolved", "statusDetails": {"inRelease": "nope"}}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["statusDetails"]["inRelease"].is_array(), "{body}");
    let (status, body) = put(
        &server,
        &format!("issues/{id}/"),
        json!({"status": "bogus"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["status"].is_array(), "{body}");

    // Releases and environments seen in the events.
    let (status, releases) = server.api_get("projects/errhound/default/releases/").await;
    assert_eq!(status, 200, "{releases}");
    let versions: Vec<&str> = releases
        .as_array()
        .expect("a list")
        .iter()
        .map(|r| r["version"].as_str().expect("version"))
        .collect();
    assert_eq!(versions, vec!["shop@1.2", "shop@1.1", "shop@1.0"]);
    assert_eq!(releases[2]["newGroups"], 1);
    assert_eq!(releases[2]["eventCount"], 2);
    let (status, environments) = server
        .api_get("projects/errhound/default/environments/")
        .await;
    assert_eq!(status, 200);
    assert_eq!(environments[0]["name"], "production");
    assert_eq!(environments[0]["eventCount"], 4);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn ignore_until_two_more_events_then_escalates(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let first = send(&server, "QuotaError", "reserve", "shop@1.0").await;
    let id = issue_id_of(&server, &first).await;
    let (status, body) = put(
        &server,
        &format!("issues/{id}/"),
        json!({"status": "ignored", "statusDetails": {"ignoreCount": 2}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ignored");
    assert_eq!(body["substatus"], "archived_until_condition_met");
    assert_eq!(body["statusDetails"]["ignoreCount"], 2);
    let (_, listed) = server
        .api_get("projects/errhound/default/issues/?query=is:ignored")
        .await;
    assert_eq!(listed[0]["id"], id.as_str(), "{listed}");
    let view = workflow_view(&server, None, &id).await;
    assert_eq!(view["statusDetails"]["ignoreCount"], 2, "{view}");
    assert_eq!(
        view["statusDetails"]["actor"]["email"],
        "admin@errhound.test"
    );

    send(&server, "QuotaError", "reserve", "shop@1.0").await;
    server.wait_for_events(2, PROCESSING).await;
    assert_eq!(get_issue(&server, &id).await["status"], "ignored");
    send(&server, "QuotaError", "reserve", "shop@1.0").await;
    let issue = wait_for_issue(&server, &id, |i| i["status"] == "unresolved").await;
    assert_eq!(issue["substatus"], "escalating");
    assert_eq!(
        workflow_view(&server, None, &id).await["statusDetails"],
        json!({})
    );
    let types = activity_types(&server, &id).await;
    assert_eq!(types[..2], ["set_escalating", "set_ignored"]);

    // Ignored for 30 minutes: the response carries the end; unresolving clears it.
    let (status, body) = put(
        &server,
        &format!("issues/{id}/"),
        json!({"status": "ignored", "statusDetails": {"ignoreDuration": 30}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let until = body["statusDetails"]["ignoreUntil"]
        .as_str()
        .expect("ignoreUntil");
    assert!(until.ends_with('Z'), "{until}");
    let (status, body) = put(
        &server,
        &format!("issues/{id}/"),
        json!({"status": "unresolved"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "unresolved");
    assert_eq!(body["statusDetails"], json!({}));
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn merge_then_new_events_of_the_merged_hash_land_in_the_parent(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let a1 = send(&server, "TimeoutError", "fetch_rates", "shop@1.0").await;
    send(&server, "TimeoutError", "fetch_rates", "shop@1.0").await;
    let b1 = send(&server, "KeyError", "lookup_customer", "shop@1.0").await;
    server.wait_for_events(3, PROCESSING).await;
    let a = issue_id_of(&server, &a1).await;
    let b = issue_id_of(&server, &b1).await;
    assert_ne!(a, b);
    let (status, _) = call(
        &server,
        None,
        Method::POST,
        &format!("issues/{b}/notes/"),
        Some(json!({"text": "on b"})),
    )
    .await;
    assert_eq!(status, 201);

    let (status, body) = put(
        &server,
        &format!("projects/errhound/default/issues/?id={a}&id={b}"),
        json!({"merge": 1}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["merge"], json!({"parent": a, "children": [b]}));
    let (status, _) = server.api_get(&format!("issues/{b}/")).await;
    assert_eq!(status, 404, "the merged issue is gone");
    let merged = workflow_view(&server, None, &a).await;
    assert_eq!(merged["count"], "3");
    assert_eq!(merged["numComments"], 1);
    let (_, hashes) = server.api_get(&format!("issues/{a}/hashes/")).await;
    let hash_count = hashes.as_array().map_or(0, Vec::len);
    assert!(hash_count >= 2, "{hashes}");

    // A later event with the merged hash lands in the parent.
    let b2 = send(&server, "KeyError", "lookup_customer", "shop@1.0").await;
    assert_eq!(issue_id_of(&server, &b2).await, a);
    wait_for_issue(&server, &a, |i| i["count"] == "4").await;
    let types = activity_types(&server, &a).await;
    assert_eq!(types, vec!["merge", "note", "first_seen"]);

    // Unmerge one of b's hashes: later events with it go to a new issue.
    let b_hashes: Vec<String> = event(&server, &b2).await["fingerprints"]
        .as_array()
        .expect("fingerprints")
        .iter()
        .map(|h| h.as_str().expect("hash").to_owned())
        .collect();
    let query: Vec<String> = b_hashes.iter().map(|h| format!("id={h}")).collect();
    let (status, body) = put(
        &server,
        &format!("issues/{a}/hashes/?{}", query.join("&")),
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = call(
        &server,
        None,
        Method::DELETE,
        &format!("issues/{a}/hashes/?{}", query.join("&")),
        None,
    )
    .await;
    assert_eq!(status, 409, "already unmerged: {body}");
    let b3 = send(&server, "KeyError", "lookup_customer", "shop@1.0").await;
    let split = issue_id_of(&server, &b3).await;
    assert_ne!(split, a);
    assert_eq!(
        activity_types(&server, &split).await[0],
        "unmerge_destination"
    );
    let a3 = send(&server, "TimeoutError", "fetch_rates", "shop@1.0").await;
    assert_eq!(issue_id_of(&server, &a3).await, a);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn assignment_bookmarks_teams_and_comments(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let dana_token = server.create_user("dana@errhound.test", Some("errhound"));
    let eve_token = server.create_user("eve@outside.test", None);
    let first = send(&server, "LedgerError", "post_entry", "shop@1.0").await;
    let id = issue_id_of(&server, &first).await;
    let path = format!("issues/{id}/");

    // Members, to assign to.
    let (status, members) = server.api_get("organizations/errhound/members/").await;
    assert_eq!(status, 200, "{members}");
    let dana = members
        .as_array()
        .expect("a list")
        .iter()
        .find(|m| m["email"] == "dana@errhound.test")
        .unwrap_or_else(|| panic!("dana is a member: {members}"));
    let dana_id = dana["user"]["id"].as_str().expect("user id").to_owned();

    let (status, body) = put(&server, &path, json!({"assignedTo": "dana@errhound.test"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assignedTo"]["type"], "user", "{body}");
    assert_eq!(body["assignedTo"]["id"], dana_id.as_str());
    assert_eq!(body["assignedTo"]["email"], "dana@errhound.test");
    assert_eq!(
        workflow_view(&server, None, &id).await["assignedTo"],
        body["assignedTo"]
    );
    let (status, body) = put(
        &server,
        &path,
        json!({"assignedTo": format!("user:{dana_id}")}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assignedTo"]["id"], dana_id.as_str());
    let (status, body) = put(&server, &path, json!({"assignedTo": "eve@outside.test"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["assignedTo"], json!(["Cannot assign to non-member"]));

    // Teams.
    let (status, team) = call(
        &server,
        None,
        Method::POST,
        "organizations/errhound/teams/",
        Some(json!({"name": "Backend"})),
    )
    .await;
    assert_eq!(status, 201, "{team}");
    assert_eq!(team["slug"], "backend");
    let (status, _) = call(
        &server,
        Some(&dana_token),
        Method::POST,
        "organizations/errhound/teams/",
        Some(json!({"slug": "dana-team"})),
    )
    .await;
    assert_eq!(status, 403, "members do not create teams");
    let (status, joined) = call(
        &server,
        Some(&dana_token),
        Method::POST,
        "organizations/errhound/members/me/teams/backend/",
        None,
    )
    .await;
    assert_eq!(status, 201, "{joined}");
    let (_, teams) = call(
        &server,
        Some(&dana_token),
        Method::GET,
        "organizations/errhound/teams/",
        None,
    )
    .await;
    assert_eq!(teams[0]["isMember"], true, "{teams}");
    assert_eq!(teams[0]["memberCount"], 1);
    let team_id = team["id"].as_str().expect("team id");
    let (status, body) = put(
        &server,
        &path,
        json!({"assignedTo": format!("team:{team_id}")}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        body["assignedTo"],
        json!({"type": "team", "id": team_id, "name": "backend"})
    );

    // Bookmarks are per user.
    let (status, body) = call(
        &server,
        Some(&dana_token),
        Method::PUT,
        &path,
        Some(json!({"isBookmarked": true})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["isBookmarked"], true);
    assert_eq!(
        workflow_view(&server, None, &id).await["isBookmarked"],
        false,
        "not the admin's"
    );
    assert_eq!(
        workflow_view(&server, Some(&dana_token), &id).await["isBookmarked"],
        true
    );

    // Bulk: unassign and resolve through the project list endpoint.
    let (status, body) = put(
        &server,
        &format!("projects/errhound/default/issues/?id={id}"),
        json!({"assignedTo": "", "status": "resolved"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["assignedTo"], Value::Null);
    assert_eq!(body["status"], "resolved");
    let issue = workflow_view(&server, None, &id).await;
    assert_eq!(issue["assignedTo"], Value::Null);
    assert_eq!(issue["status"], "resolved");
    let types = activity_types(&server, &id).await;
    assert_eq!(
        types,
        vec![
            "unassigned",
            "set_resolved",
            "assigned",
            "assigned",
            "first_seen"
        ]
    );

    // Comments.
    let notes = format!("issues/{id}/notes/");
    let (status, note) = call(
        &server,
        Some(&dana_token),
        Method::POST,
        &notes,
        Some(json!({"text": "Seen after the deploy."})),
    )
    .await;
    assert_eq!(status, 201, "{note}");
    assert_eq!(note["type"], "note");
    assert_eq!(note["data"]["text"], "Seen after the deploy.");
    assert_eq!(note["user"]["email"], "dana@errhound.test");
    let note_id = note["id"].as_str().expect("note id").to_owned();
    let (status, body) = call(
        &server,
        Some(&dana_token),
        Method::POST,
        &notes,
        Some(json!({"text": "Seen after the deploy."})),
    )
    .await;
    assert_eq!(status, 400, "a repeated comment: {body}");
    let (status, body) = call(
        &server,
        None,
        Method::POST,
        &notes,
        Some(json!({"text": ""})),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["text"].is_array());
    let (status, list) = server.api_get(&format!("issues/{id}/comments/")).await;
    assert_eq!(status, 200);
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    // The same routes under the organization.
    let (status, in_org) = server
        .api_get(&format!("organizations/errhound/issues/{id}/comments/"))
        .await;
    assert_eq!(status, 200);
    assert_eq!(in_org, list);
    let (status, _) = server
        .api_get(&format!("organizations/elsewhere/issues/{id}/comments/"))
        .await;
    assert_eq!(status, 404);
    assert_eq!(workflow_view(&server, None, &id).await["numComments"], 1);
    // Only the author edits or deletes.
    let note_path = format!("issues/{id}/notes/{note_id}/");
    let (status, _) = put(&server, &note_path, json!({"text": "admin edit"})).await;
    assert_eq!(status, 404);
    let in_org_note = format!("organizations/errhound/issues/{id}/notes/{note_id}/");
    let (status, _) = put(&server, &in_org_note, json!({"text": "admin edit"})).await;
    assert_eq!(status, 404);
    let (status, edited) = call(
        &server,
        Some(&dana_token),
        Method::PUT,
        &note_path,
        Some(json!({"text": "Seen after deploy 42."})),
    )
    .await;
    assert_eq!(status, 200, "{edited}");
    assert_eq!(edited["data"]["text"], "Seen after deploy 42.");
    let (status, _) = call(&server, Some(&dana_token), Method::DELETE, &note_path, None).await;
    assert_eq!(status, 204);
    assert_eq!(workflow_view(&server, None, &id).await["numComments"], 0);

    // Outsiders see none of it.
    for (method, path) in [
        (Method::GET, format!("issues/{id}/notes/")),
        (Method::GET, format!("issues/{id}/activities/")),
        (Method::PUT, format!("issues/{id}/")),
    ] {
        let (status, _) = call(&server, Some(&eve_token), method, &path, Some(json!({}))).await;
        assert_eq!(status, 404, "{path}");
    }
    let (status, _) = call(
        &server,
        Some(&eve_token),
        Method::GET,
        "organizations/errhound/members/",
        None,
    )
    .await;
    assert_eq!(status, 403);
}
