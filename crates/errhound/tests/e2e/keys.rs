//! DSN keys through the API (`/api/0/projects/{org}/{project}/keys/`) and their rate limits at
//! the ingest endpoints: create, read, change and delete with a bearer token, validation, keys
//! of other projects, N events per window then 429 with Relay's headers, a disabled key
//! refused, changes applied to the next envelope, and the real Python SDK against a limited
//! key.

use errhound_store::{Engine, now_ms, orgs, projects};
use errhound_test_utils::TestServer;
use errhound_test_utils::sdk::run_python;
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::api::sent_by_tag;
use crate::binary;
use crate::hostile::{Answer, event_envelope, new_event_id, wait_for_event};

const KEYS: &str = "projects/errhound/default/keys/";

fn key_path(public_key: &str) -> String {
    format!("{KEYS}{public_key}/")
}

/// `POST .../keys/` with the admin token; the key must be created.
async fn create_key(server: &TestServer, body: Value) -> Value {
    let (status, key) = server.api_send(Method::POST, KEYS, &body, None).await;
    assert_eq!(status, 201, "{key}");
    key
}

/// Posts an envelope authenticated with `public_key`.
pub(crate) async fn post_with_key(server: &TestServer, public_key: &str, body: Vec<u8>) -> Answer {
    let response = server
        .client()
        .post(server.envelope_url())
        .header(
            "x-sentry-auth",
            format!("Sentry sentry_key={public_key}, sentry_version=7"),
        )
        .body(body)
        .send()
        .await
        .expect("the server answers");
    Answer::read(response).await
}

/// An envelope with a client report and no event (an SDK sends these after being limited).
fn client_report_envelope() -> Vec<u8> {
    let payload = r#"{"timestamp":1795565900,"discarded_events":[{"reason":"ratelimit_backoff","category":"error","quantity":1}]}"#;
    format!(
        "{{}}\n{{\"type\":\"client_report\",\"length\":{}}}\n{payload}\n",
        payload.len()
    )
    .into_bytes()
}

/// Checks a key rate limit refusal: 429, `Retry-After: s` with `1 <= s <= window`, and
/// `X-Sentry-Rate-Limits: s:default;error;security:key:key_quota` as Relay writes a key quota.
#[track_caller]
fn assert_key_quota(answer: &Answer, window: u64) {
    answer.assert_error(429, "KeyQuota");
    let retry_after: u64 = answer
        .header("retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=window).contains(&retry_after),
        "Retry-After {retry_after} for a {window} s window"
    );
    let limits = answer.header("x-sentry-rate-limits");
    let parts: Vec<&str> = limits.split(':').collect();
    assert_eq!(
        parts.len(),
        4,
        "retry_after:categories:scope:reason_code in {limits:?}"
    );
    assert_eq!(
        parts[0].parse::<u64>().ok(),
        Some(retry_after),
        "{limits:?}"
    );
    assert_eq!(
        parts[1].split(';').collect::<Vec<_>>(),
        ["default", "error", "security"],
        "{limits:?}"
    );
    assert_eq!(parts[2], "key", "{limits:?}");
    assert_eq!(parts[3], "key_quota", "{limits:?}");
    assert!(answer.header("x-sentry-error").contains("KeyQuota"));
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn keys_are_created_read_changed_and_deleted_in_sentrys_shape(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;

    let key = create_key(
        &server,
        json!({"name": "CI", "rateLimit": {"window": 60, "count": 10}, "unknown": [1, 2]}),
    )
    .await;
    let public = key["public"].as_str().expect("public").to_owned();
    assert_eq!(public.len(), 32, "{key}");
    assert_eq!(key["id"], public.as_str(), "the id is the public key");
    assert_eq!(key["name"], "CI");
    assert_eq!(key["label"], "CI");
    assert_eq!(key["secret"].as_str().map(str::len), Some(32));
    assert_eq!(key["projectId"].as_u64(), Some(server.project_id));
    assert_eq!(key["isActive"], true);
    assert_eq!(key["rateLimit"], json!({"window": 60, "count": 10}));
    let dsn_host = server.base_url.trim_start_matches("http://");
    assert_eq!(
        key["dsn"]["public"],
        format!("http://{public}@{dsn_host}/{}", server.project_id)
    );
    for field in [
        "secret", "csp", "security", "minidump", "nel", "unreal", "cdn",
    ] {
        let value = key["dsn"][field].as_str().unwrap_or_default();
        assert!(value.contains(&public), "dsn.{field} in {key}");
    }
    let created = key["dateCreated"].as_str().expect("dateCreated");
    assert!(
        time::OffsetDateTime::parse(created, &time::format_description::well_known::Rfc3339)
            .is_ok(),
        "RFC 3339: {created}"
    );

    // The key reads back alone and in the list, newest first, with the status filter.
    let (status, read) = server.api_get(&key_path(&public)).await;
    assert_eq!(status, 200, "{read}");
    assert_eq!(read, key);
    let (status, list) = server.api_get(KEYS).await;
    assert_eq!(status, 200);
    let listed: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["id"].as_str().unwrap())
        .collect();
    assert_eq!(listed, [public.as_str(), server.public_key.as_str()]);
    let (_, inactive) = server.api_get(&format!("{KEYS}?status=inactive")).await;
    assert_eq!(inactive, json!([]));

    // PUT changes what it is given and keeps the rest; `rateLimit: null` removes the limit.
    let (status, changed) = server
        .api_put(
            &key_path(&public),
            &json!({"name": "Renamed", "isActive": false}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["name"], "Renamed");
    assert_eq!(changed["isActive"], false);
    assert_eq!(changed["rateLimit"], json!({"window": 60, "count": 10}));
    let (_, inactive) = server.api_get(&format!("{KEYS}?status=inactive")).await;
    assert_eq!(inactive.as_array().map(Vec::len), Some(1));
    let (status, changed) = server
        .api_put(
            &key_path(&public),
            &json!({"rateLimit": {"window": 3600, "count": 1}}),
        )
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["rateLimit"], json!({"window": 3600, "count": 1}));
    assert_eq!(changed["name"], "Renamed");
    let (status, changed) = server
        .api_put(&key_path(&public), &json!({"rateLimit": null}))
        .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(changed["rateLimit"], Value::Null);
    let (_, read) = server.api_get(&key_path(&public)).await;
    assert_eq!(read, changed);

    // A member reads keys but may not change them.
    let member = server.create_member("member@errhound.test");
    let url = |path: &str| format!("{}/api/0/{path}", server.base_url);
    let response = server
        .client()
        .get(url(&key_path(&public)))
        .bearer_auth(&member)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    for (method, path, body) in [
        (Method::POST, KEYS.to_owned(), json!({"name": "Mine"})),
        (Method::PUT, key_path(&public), json!({"name": "Mine"})),
        (Method::DELETE, key_path(&public), json!({})),
    ] {
        let (status, body) = server
            .api_send(method.clone(), &path, &body, Some(&member))
            .await;
        assert_eq!(status, 403, "{method} {path}: {body}");
    }

    // DELETE is 204, then the key is gone.
    let response = server
        .client()
        .delete(url(&key_path(&public)))
        .bearer_auth(&server.token)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 204);
    assert!(response.text().await.unwrap().is_empty());
    let (status, body) = server.api_get(&key_path(&public)).await;
    assert_eq!(status, 404, "{body}");
    assert!(body["detail"].is_string());
    let (status, _) = server
        .api_send(Method::DELETE, &key_path(&public), &json!({}), None)
        .await;
    assert_eq!(status, 404);

    // A key created without a name is called by the start of its public key, as in Sentry.
    let unnamed = create_key(&server, json!({})).await;
    let prefix = &unnamed["public"].as_str().unwrap()[..14];
    assert_eq!(unnamed["name"], prefix);
    assert_eq!(unnamed["rateLimit"], Value::Null);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn a_key_of_another_project_is_404(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    // Another project in the same organization and one in another organization, written
    // beside the running server (the API cannot create projects yet).
    let db = server.db().await;
    let mut conn = db.write().await.unwrap();
    let errhound = orgs::find_by_slug(&mut conn.conn(), "errhound")
        .await
        .unwrap()
        .unwrap();
    let web = projects::create(
        &mut conn.conn(),
        errhound.id,
        "web",
        "Web",
        None,
        "g",
        now_ms(),
    )
    .await
    .unwrap();
    let web_key = projects::create_key(&mut conn.conn(), web.id, "Web", now_ms())
        .await
        .unwrap();
    let globex = orgs::create(&mut conn.conn(), "globex", "Globex", now_ms())
        .await
        .unwrap();
    let shop = projects::create(
        &mut conn.conn(),
        globex.id,
        "shop",
        "Shop",
        None,
        "g",
        now_ms(),
    )
    .await
    .unwrap();
    let shop_key = projects::create_key(&mut conn.conn(), shop.id, "Shop", now_ms())
        .await
        .unwrap();
    drop(conn);
    db.close().await;

    let (status, read) = server
        .api_get(&format!(
            "projects/errhound/web/keys/{}/",
            web_key.public_key
        ))
        .await;
    assert_eq!(status, 200, "{read}");
    for public in [&web_key.public_key, &shop_key.public_key] {
        let path = key_path(public);
        let (status, body) = server.api_get(&path).await;
        assert_eq!(status, 404, "GET {path}: {body}");
        let (status, _) = server
            .api_put(&path, &json!({"name": "Taken", "isActive": false}))
            .await;
        assert_eq!(status, 404, "PUT {path}");
        let (status, _) = server
            .api_send(Method::DELETE, &path, &json!({}), None)
            .await;
        assert_eq!(status, 404, "DELETE {path}");
    }
    // Nothing was changed through the wrong project.
    let (_, read) = server
        .api_get(&format!(
            "projects/globex/shop/keys/{}/",
            shop_key.public_key
        ))
        .await;
    assert_eq!(read["name"], "Shop", "{read}");
    assert_eq!(read["isActive"], true);
    let (status, _) = server
        .api_get(&key_path("0123456789abcdef0123456789abcdef"))
        .await;
    assert_eq!(status, 404);
    let (status, _) = server.api_get("projects/errhound/nope/keys/").await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn invalid_key_requests_are_400_with_the_field_at_fault() {
    let server = TestServer::start(binary()).await;
    let cases = [
        (json!({"name": "x".repeat(65)}), "name", None),
        (json!({"name": 7}), "name", None),
        (
            json!({"rateLimit": {"window": 0, "count": 5}}),
            "rateLimit",
            Some("window"),
        ),
        (
            json!({"rateLimit": {"window": 86_401, "count": 5}}),
            "rateLimit",
            Some("window"),
        ),
        (
            json!({"rateLimit": {"window": 60, "count": 0}}),
            "rateLimit",
            Some("count"),
        ),
        (
            json!({"rateLimit": {"window": 60, "count": "many"}}),
            "rateLimit",
            Some("count"),
        ),
        (
            json!({"rateLimit": {"window": 60}}),
            "rateLimit",
            Some("count"),
        ),
        (
            json!({"rateLimit": "10/min"}),
            "rateLimit",
            Some("non_field_errors"),
        ),
        (json!({"isActive": "no"}), "isActive", None),
    ];
    for method in [Method::POST, Method::PUT] {
        let path = match method {
            Method::POST => KEYS.to_owned(),
            _ => key_path(&server.public_key),
        };
        for (body, field, inner) in &cases {
            let (status, answer) = server.api_send(method.clone(), &path, body, None).await;
            assert_eq!(status, 400, "{method} {body}: {answer}");
            assert!(answer["detail"].is_string(), "{method} {body}: {answer}");
            let errors = match inner {
                Some(inner) => &answer[field][inner],
                None => &answer[field],
            };
            assert!(
                errors.is_array(),
                "{method} {body}: no error for {field} in {answer}"
            );
        }
    }
    // Not JSON, or not an object.
    for body in ["{", "[1, 2]"] {
        let response = server
            .client()
            .post(format!("{}/api/0/{KEYS}", server.base_url))
            .bearer_auth(&server.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .unwrap();
        let answer = Answer::read(response).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.body);
        assert!(answer.json()["detail"].is_string());
    }
    // Nothing was created, and the default key is as it was.
    let (_, list) = server.api_get(KEYS).await;
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");
    assert_eq!(list[0]["rateLimit"], Value::Null);
    assert_eq!(list[0]["isActive"], true);
}

#[tokio::test]
async fn a_limited_key_accepts_n_events_per_window_then_429_and_changes_apply_at_once() {
    const N: usize = 3;
    const WINDOW: u64 = 3600;
    let server = TestServer::start(binary()).await;
    let key = create_key(
        &server,
        json!({"name": "limited", "rateLimit": {"window": WINDOW, "count": N}}),
    )
    .await;
    let public = key["public"].as_str().unwrap().to_owned();

    let mut accepted = Vec::new();
    for _ in 0..N {
        let id = new_event_id();
        post_with_key(&server, &public, event_envelope(&id, "limited"))
            .await
            .assert_accepted(&id);
        accepted.push(id);
    }
    let mut refused = Vec::new();
    for _ in 0..2 {
        let id = new_event_id();
        let answer = post_with_key(&server, &public, event_envelope(&id, "limited")).await;
        assert_key_quota(&answer, WINDOW);
        refused.push(id);
    }
    // Envelopes without an event are not counted, and other keys are not limited.
    post_with_key(&server, &public, client_report_envelope())
        .await
        .assert_accepted_without_event();
    let id = new_event_id();
    post_with_key(
        &server,
        &server.public_key,
        event_envelope(&id, "unlimited"),
    )
    .await
    .assert_accepted(&id);
    accepted.push(id);

    // Removing the limit applies to the next envelope, and so does disabling the key.
    let (status, _) = server
        .api_put(&key_path(&public), &json!({"rateLimit": null}))
        .await;
    assert_eq!(status, 200);
    let id = new_event_id();
    post_with_key(&server, &public, event_envelope(&id, "limited"))
        .await
        .assert_accepted(&id);
    accepted.push(id);
    let (status, _) = server
        .api_put(&key_path(&public), &json!({"isActive": false}))
        .await;
    assert_eq!(status, 200);
    let id = new_event_id();
    post_with_key(&server, &public, event_envelope(&id, "limited"))
        .await
        .assert_error(403, "DisabledKey");
    refused.push(id);
    // A limit set on a key that already sent events starts its own window.
    let (status, _) = server
        .api_put(
            &key_path(&public),
            &json!({"isActive": true, "rateLimit": {"window": WINDOW, "count": 1}}),
        )
        .await;
    assert_eq!(status, 200);
    let id = new_event_id();
    post_with_key(&server, &public, event_envelope(&id, "limited"))
        .await
        .assert_accepted(&id);
    accepted.push(id);
    let id = new_event_id();
    assert_key_quota(
        &post_with_key(&server, &public, event_envelope(&id, "limited")).await,
        WINDOW,
    );
    refused.push(id);
    // A deleted key is refused at once.
    let (status, _) = server
        .api_send(Method::DELETE, &key_path(&public), &json!({}), None)
        .await;
    assert_eq!(status, 204);
    let id = new_event_id();
    post_with_key(&server, &public, event_envelope(&id, "limited"))
        .await
        .assert_error(403, "unknown DSN key");
    refused.push(id);

    // The queue is processed in order: once the last accepted event is stored, every accepted
    // one is, and no refused one ever will be.
    wait_for_event(&server, accepted.last().unwrap()).await;
    for id in &accepted {
        let (status, _) = server
            .api_get(&format!("projects/errhound/default/events/{id}/"))
            .await;
        assert_eq!(status, 200, "accepted event {id} is stored");
    }
    for id in &refused {
        let (status, _) = server
            .api_get(&format!("projects/errhound/default/events/{id}/"))
            .await;
        assert_eq!(status, 404, "refused event {id} was stored");
    }
}

#[tokio::test]
async fn the_python_sdk_sending_past_a_key_limit_stores_exactly_the_limit() {
    const N: usize = 3;
    const SENT: usize = 8;
    let server = TestServer::start(binary()).await;
    let key = create_key(
        &server,
        json!({"name": "python", "rateLimit": {"window": 3600, "count": N}}),
    )
    .await;
    let dsn = key["dsn"]["public"].as_str().unwrap().to_owned();
    let output = run_python("send_events.py", &[&dsn, "burst", &SENT.to_string()]);
    let sent = sent_by_tag(&output);
    let ids = &sent["burst"];
    assert_eq!(ids.len(), SENT, "{output}");

    // A sentinel through the unlimited key, processed after everything accepted before it.
    let sentinel = new_event_id();
    let response = server
        .client()
        .post(server.envelope_url())
        .header("x-sentry-auth", server.auth_header())
        .body(event_envelope(&sentinel, "sentinel"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    wait_for_event(&server, &sentinel).await;

    // The SDK sends in order, so the first N are the ones admitted.
    let mut stored = Vec::new();
    for id in ids {
        let (status, _) = server
            .api_get(&format!("projects/errhound/default/events/{id}/"))
            .await;
        assert!(status == 200 || status == 404, "{status}");
        if status == 200 {
            stored.push(id.clone());
        }
    }
    assert_eq!(
        stored,
        ids[..N].to_vec(),
        "exactly the first {N} of {SENT} stored"
    );
    let total: u64 = server
        .issues()
        .await
        .iter()
        .filter_map(|i| i["count"].as_str()?.parse::<u64>().ok())
        .sum();
    assert_eq!(total, N as u64 + 1, "the limit's events and the sentinel");
}
