//! Golden JSON of every REST route in README.md's API table, from a real server fed with raw
//! envelopes: a change of a response's shape shows up as a snapshot diff in review.
//!
//! What varies between runs is redacted: the server's address and DSN keys (in the strings that
//! carry them), dates, epoch timestamps and event sizes (by key, with insta redactions), and
//! stats series (summarized). Everything else (ids of a fresh database, event ids, hashes, counts) is fixed
//! by the scenario and kept, so a snapshot also shows which issue an answer is about.
//!
//! New snapshots are never written when `CI` is set or `INSTA_UPDATE=no`: the test fails
//! instead, so every snapshot is reviewed and committed.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use errhound_test_utils::TestServer;
use insta::internals::{Content, ContentPath};
use reqwest::Method;
use serde_json::{Value, json};

use crate::api::{PROCESSING, send_event};
use crate::binary;

const PAY: &str = "0000000000000000000000000000e001";
const PAY_AGAIN: &str = "0000000000000000000000000000e002";
const QUOTA: &str = "0000000000000000000000000000e003";
const TIMEOUT: &str = "0000000000000000000000000000e004";

fn now_secs() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs_f64()
}

/// A Python error event; `exception_type` and `function` decide its issue.
fn error_event(event_id: &str, exception_type: &str, function: &str, release: &str) -> Value {
    json!({
        "event_id": event_id,
        "timestamp": now_secs() - 10.0,
        "platform": "python",
        "level": "error",
        "logger": "shop.jobs",
        "environment": "production",
        "release": release,
        "server_name": "web-1",
        "user": {"id": "42", "email": "customer@example.org"},
        "tags": {"feature": "checkout"},
        "exception": {"values": [{
            "type": exception_type,
            "value": format!("{function} failed"),
            "module": "shop.errors",
            "mechanism": {"type": "generic", "handled": false},
            "stacktrace": {"frames": [
                {"module": "shop.jobs", "filename": "shop/jobs.py", "abs_path": "/srv/shop/jobs.py",
                 "function": "run", "lineno": 7, "context_line": "    step()", "in_app": true},
                {"module": "shop.steps", "filename": "shop/steps.py",
                 "abs_path": "/srv/shop/steps.py", "function": function, "lineno": 21,
                 "pre_context": ["def step():"], "context_line": "    raise Error()",
                 "post_context": [""], "in_app": true}
            ]}
        }]}
    })
}

/// One scenario's server and what varies in its answers.
struct Golden {
    server: TestServer,
    /// `(text, placeholder)` replaced inside every string of an answer.
    replacements: Vec<(String, &'static str)>,
}

impl Golden {
    /// `{method} /api/0/{path}` as the admin; the answer as `{"status", "body"}`, normalized.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> Value {
        let url = format!("{}/api/0/{path}", self.server.base_url);
        let mut request = self
            .server
            .client()
            .request(method.clone(), &url)
            .bearer_auth(&self.server.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.expect("API request");
        let status = response.status().as_u16();
        let text = response.text().await.expect("a body");
        let mut body: Value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("{method} {path}: {status} non-JSON ({e}): {text}"))
        };
        self.normalize(&mut body);
        json!({"status": status, "body": body})
    }

    async fn get(&self, path: &str) -> Value {
        self.call(Method::GET, path, None).await
    }

    fn normalize(&self, value: &mut Value) {
        match value {
            Value::String(text) => {
                for (from, to) in &self.replacements {
                    if text.contains(from.as_str()) {
                        *text = text.replace(from.as_str(), to);
                    }
                }
            }
            Value::Array(items) => items.iter_mut().for_each(|v| self.normalize(v)),
            Value::Object(map) => map.values_mut().for_each(|v| self.normalize(v)),
            _ => {}
        }
    }

    /// Waits until the worker stored `event_id`; returns its issue id.
    async fn stored(&self, event_id: &str) -> String {
        let deadline = Instant::now() + PROCESSING;
        loop {
            let (status, body) = self
                .server
                .api_get(&format!("projects/errhound/default/events/{event_id}/"))
                .await;
            if status == 200 {
                return body["groupID"].as_str().expect("groupID").to_owned();
            }
            assert!(Instant::now() < deadline, "event {event_id} not stored");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// A stats series becomes `"[n buckets, m events]"`: the shape without the moving clock.
fn summarize_series(value: Content, _: ContentPath<'_>) -> Content {
    let Some(buckets) = value.as_slice() else {
        return value;
    };
    let events: u64 = buckets
        .iter()
        .filter_map(|b| b.as_slice()?.get(1)?.as_u64())
        .sum();
    Content::from(format!("[{} buckets, {events} events]", buckets.len()))
}

fn settings() -> insta::Settings {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("snapshots/golden");
    settings.set_prepend_module_to_snapshot(false);
    for key in [
        "dateCreated",
        "dateReceived",
        "dateUpdated",
        "dateReleased",
        "firstSeen",
        "lastSeen",
        "firstEvent",
        "lastEvent",
        "ignoreUntil",
        "datetime",
        "timestamp",
        "received",
        "start_timestamp",
    ] {
        settings.add_redaction(&format!(".**.{key}"), "[date]");
    }
    // The stored size of an event follows the digits of its timestamp.
    settings.add_redaction(".body.size", "[size]");
    // Lists and details (a deep wildcard would also match shorter paths).
    settings.add_dynamic_redaction(".body[].stats.*", summarize_series);
    settings.add_dynamic_redaction(".body.stats.*", summarize_series);
    settings
}

#[tokio::test]
async fn every_route_answers_its_golden_json() {
    let server = TestServer::start(binary()).await;
    let mut golden = Golden {
        replacements: vec![
            // The address, also inside DSNs (`http://key@127.0.0.1:PORT/1`).
            (
                server.base_url.trim_start_matches("http://").to_owned(),
                "errhound.test",
            ),
            (server.public_key.clone(), "[public-key]"),
        ],
        server,
    };
    let _guard = settings().bind_to_scope();

    // The read-only routes, before any change.
    macro_rules! snap {
        ($name:literal, $answer:expr) => {
            insta::assert_json_snapshot!($name, $answer)
        };
    }
    snap!("organizations", golden.get("organizations/").await);
    snap!("organization", golden.get("organizations/errhound/").await);
    snap!(
        "organization_projects",
        golden.get("organizations/errhound/projects/").await
    );
    let mut keys = golden.get("projects/errhound/default/keys/").await;
    if let Some(secret) = keys["body"][0]["secret"].as_str() {
        golden
            .replacements
            .push((secret.to_owned(), "[secret-key]"));
    }
    golden.normalize(&mut keys);
    snap!("project_keys", keys);
    snap!("grouping_configs", golden.get("grouping-configs/").await);

    // Three issues: pay (two events), quota, timeout.
    for (id, kind, function, release) in [
        (PAY, "CheckoutError", "pay", "shop@1.0"),
        (PAY_AGAIN, "CheckoutError", "pay", "shop@1.1"),
        (QUOTA, "QuotaError", "reserve", "shop@1.1"),
        (TIMEOUT, "TimeoutError", "fetch", "shop@1.1"),
    ] {
        send_event(&golden.server, &error_event(id, kind, function, release)).await;
        golden.stored(id).await;
    }
    let pay = golden.stored(PAY).await;
    let quota = golden.stored(QUOTA).await;
    let timeout = golden.stored(TIMEOUT).await;

    snap!("project", golden.get("projects/errhound/default/").await);
    snap!(
        "project_update",
        golden
            .call(
                Method::PUT,
                "projects/errhound/default/",
                Some(json!({"sensitiveFields": ["card_number"]})),
            )
            .await
    );
    snap!(
        "event",
        golden
            .get(&format!("projects/errhound/default/events/{PAY}/"))
            .await
    );
    snap!(
        "event_json",
        golden
            .get(&format!("projects/errhound/default/events/{PAY}/json/"))
            .await
    );
    snap!(
        "event_grouping_info",
        golden
            .get(&format!(
                "projects/errhound/default/events/{PAY}/grouping-info/"
            ))
            .await
    );
    snap!(
        "issue_events",
        golden.get(&format!("issues/{pay}/events/")).await
    );
    snap!(
        "issue_latest_event",
        golden.get(&format!("issues/{pay}/events/latest/")).await
    );
    snap!(
        "issue_oldest_event_id",
        golden.get(&format!("issues/{pay}/events/oldest/")).await["body"]["id"]
    );
    snap!(
        "issue_hashes",
        golden.get(&format!("issues/{pay}/hashes/")).await
    );

    // Workflow: assign, bookmark, comment (add, edit, list), resolve in a release, snooze.
    snap!(
        "issue_update_assign_bookmark",
        golden
            .call(
                Method::PUT,
                &format!("issues/{pay}/"),
                Some(json!({"assignedTo": "me", "isBookmarked": true})),
            )
            .await
    );
    let note = golden
        .call(
            Method::POST,
            &format!("issues/{pay}/comments/"),
            Some(json!({"text": "Looks like the **retry** bug."})),
        )
        .await;
    let note_id = note["body"]["id"].as_str().expect("a note id").to_owned();
    snap!("issue_comment_add", note);
    snap!(
        "issue_comment_edit",
        golden
            .call(
                Method::PUT,
                &format!("issues/{pay}/comments/{note_id}/"),
                Some(json!({"text": "It is the retry bug."})),
            )
            .await
    );
    snap!(
        "issue_comments",
        golden.get(&format!("issues/{pay}/comments/")).await
    );
    snap!(
        "issue_update_resolve_in_release",
        golden
            .call(
                Method::PUT,
                &format!("issues/{pay}/"),
                Some(json!({"status": "resolved", "statusDetails": {"inRelease": "shop@1.1"}})),
            )
            .await
    );
    snap!(
        "issue_update_snooze",
        golden
            .call(
                Method::PUT,
                &format!("organizations/errhound/issues/{quota}/"),
                Some(json!({"status": "ignored",
                            "statusDetails": {"ignoreCount": 10, "ignoreWindow": 60}})),
            )
            .await
    );
    snap!(
        "issue_activities",
        golden.get(&format!("issues/{pay}/activities/")).await
    );

    // Reads after the changes: lists and details carry the state.
    snap!(
        "project_issues",
        golden
            .get("projects/errhound/default/issues/?query=&statsPeriod=24h")
            .await
    );
    snap!(
        "organization_issues",
        golden
            .get("organizations/errhound/issues/?query=is:unresolved")
            .await
    );
    let detail = golden.get(&format!("issues/{pay}/")).await;
    let short_id = detail["body"]["shortId"]
        .as_str()
        .expect("shortId")
        .to_owned();
    snap!("issue", detail);
    snap!(
        "issue_by_short_id",
        golden
            .get(&format!("organizations/errhound/issues/{short_id}/"))
            .await
    );

    // Teams and members.
    golden.server.create_member("dev@errhound.test");
    snap!(
        "team_create",
        golden
            .call(
                Method::POST,
                "organizations/errhound/teams/",
                Some(json!({"slug": "backend", "name": "Backend"})),
            )
            .await
    );
    let members = golden.get("organizations/errhound/members/").await;
    let dev = members["body"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["email"] == "dev@errhound.test")
        .expect("the new member")["id"]
        .as_str()
        .expect("a member id")
        .to_owned();
    snap!(
        "member_join_team",
        golden
            .call(
                Method::POST,
                &format!("organizations/errhound/members/{dev}/teams/backend/"),
                None,
            )
            .await
    );
    snap!("teams", golden.get("organizations/errhound/teams/").await);
    snap!(
        "members",
        golden.get("organizations/errhound/members/").await
    );
    snap!(
        "member_leave_team",
        golden
            .call(
                Method::DELETE,
                &format!("organizations/errhound/members/{dev}/teams/backend/"),
                None,
            )
            .await
    );
    snap!("team_detail", golden.get("teams/errhound/backend/").await);
    snap!(
        "team_update",
        golden
            .call(
                Method::PUT,
                "teams/errhound/backend/",
                Some(json!({"name": "Backend Services"})),
            )
            .await
    );
    snap!(
        "project_team_add",
        golden
            .call(
                Method::POST,
                "projects/errhound/default/teams/backend/",
                None,
            )
            .await
    );
    snap!(
        "project_team_remove",
        golden
            .call(
                Method::DELETE,
                "projects/errhound/default/teams/backend/",
                None,
            )
            .await
    );
    snap!(
        "team_delete",
        golden
            .call(Method::DELETE, "teams/errhound/backend/", None)
            .await
    );

    // Bulk: a status change by id, a merge, then an unmerge of the merged hash.
    snap!(
        "bulk_update",
        golden
            .call(
                Method::PUT,
                &format!("organizations/errhound/issues/?id={quota}"),
                Some(json!({"status": "unresolved"})),
            )
            .await
    );
    let merged = golden
        .call(
            Method::PUT,
            &format!("projects/errhound/default/issues/?id={quota}&id={timeout}"),
            Some(json!({"merge": 1})),
        )
        .await;
    let parent = merged["body"]["merge"]["parent"]
        .as_str()
        .expect("a parent")
        .to_owned();
    snap!("bulk_merge", merged);
    let hashes = golden.get(&format!("issues/{parent}/hashes/")).await;
    let last_hash = hashes["body"]
        .as_array()
        .and_then(|h| h.last())
        .and_then(|h| h["id"].as_str())
        .expect("a hash")
        .to_owned();
    snap!(
        "issue_unmerge",
        golden
            .call(
                Method::DELETE,
                &format!("issues/{parent}/hashes/?id={last_hash}"),
                None,
            )
            .await
    );
    snap!(
        "issue_comment_delete",
        golden
            .call(
                Method::DELETE,
                &format!("issues/{pay}/comments/{note_id}/"),
                None,
            )
            .await
    );

    snap!(
        "releases",
        golden.get("projects/errhound/default/releases/").await
    );
    snap!(
        "environments",
        golden.get("projects/errhound/default/environments/").await
    );

    // A DSN key's life: created with a rate limit, changed, read, deleted.
    let (status, mut created) = golden
        .server
        .api_send(
            Method::POST,
            "projects/errhound/default/keys/",
            &json!({"name": "CI", "rateLimit": {"window": 60, "count": 100}}),
            None,
        )
        .await;
    let public = created["public"].as_str().expect("a public key").to_owned();
    let secret = created["secret"].as_str().expect("a secret key").to_owned();
    golden
        .replacements
        .push((public.clone(), "[new-public-key]"));
    golden.replacements.push((secret, "[new-secret-key]"));
    golden.normalize(&mut created);
    snap!(
        "project_key_create",
        json!({"status": status, "body": created})
    );
    let key = format!("projects/errhound/default/keys/{public}/");
    snap!(
        "project_key_update",
        golden
            .call(
                Method::PUT,
                &key,
                Some(json!({"name": "CI (paused)", "isActive": false, "rateLimit": null})),
            )
            .await
    );
    snap!("project_key", golden.get(&key).await);
    snap!(
        "project_key_delete",
        golden.call(Method::DELETE, &key, None).await
    );
}
