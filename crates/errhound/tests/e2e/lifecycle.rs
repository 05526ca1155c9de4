//! Renaming and deleting organizations, teams and projects through the API, on both engines:
//! a rename keeps the data reachable under the new slug (the old one finds nothing), a taken
//! slug is a 409; a deletion hides everything at once, refuses the old DSN at once, frees the
//! slug, and the `pending_deletions` task removes the rows; callers without the scope (or, for
//! an organization, who are not its owners) are refused; every change is in the audit log.

use std::time::{Duration, Instant};

use errhound_domain::Role;
use errhound_store::query::{Int, Query};
use errhound_store::{Db, Engine};
use errhound_test_utils::TestServer;
use errhound_test_utils::server::ServerOptions;
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::binary;
use crate::hostile::{Answer, event_envelope, new_event_id};

/// A server whose `pending_deletions` task runs every `period` seconds.
async fn server_with_deletions(engine: Engine, period: u64) -> TestServer {
    let database_url = match engine {
        Engine::Sqlite => None,
        Engine::Postgres => Some(errhound_test_utils::postgres::fresh_database().await),
    };
    TestServer::start_with(
        binary(),
        ServerOptions {
            database_url,
            env: vec![(
                "ERRHOUND_TASKS__PENDING_DELETIONS_SECS".to_owned(),
                period.to_string(),
            )],
        },
    )
    .await
}

/// A count the test reads beside the running server.
async fn count(db: &Db, sql: &'static str, id: i64) -> i64 {
    let mut conn = db.read_latest().await.unwrap();
    let row: Int = Query::new(sql)
        .bind(id)
        .fetch_one(&mut conn.conn())
        .await
        .unwrap();
    row.value
}

async fn send(server: &TestServer, method: Method, path: &str, body: Value) -> (u16, Value) {
    server.api_send(method, path, &body, None).await
}

/// Creates a project owned by `team` and answers (its id, its DSN public key).
async fn create_project(server: &TestServer, org: &str, team: &str, slug: &str) -> (i64, String) {
    let (status, project) = send(
        server,
        Method::POST,
        &format!("teams/{org}/{team}/projects/"),
        json!({"name": slug, "slug": slug}),
    )
    .await;
    assert_eq!(status, 201, "{project}");
    let (status, keys) = server
        .api_get(&format!("projects/{org}/{slug}/keys/"))
        .await;
    assert_eq!(status, 200, "{keys}");
    (
        project["id"].as_str().unwrap().parse().unwrap(),
        keys[0]["public"].as_str().unwrap().to_owned(),
    )
}

/// Posts an event to project `project_id` with the DSN key `public_key`.
async fn ingest(server: &TestServer, project_id: i64, public_key: &str) -> (String, Answer) {
    let id = new_event_id();
    let response = server
        .client()
        .post(format!("{}/api/{project_id}/envelope/", server.base_url))
        .header(
            "x-sentry-auth",
            format!("Sentry sentry_key={public_key}, sentry_version=7"),
        )
        .body(event_envelope(&id, "lifecycle"))
        .send()
        .await
        .expect("the server answers");
    (id.clone(), Answer::read(response).await)
}

/// Waits until `path` (an event's API path) answers 200.
async fn wait_for(server: &TestServer, path: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = server.api_get(path).await;
        if status == 200 {
            return;
        }
        assert_eq!(status, 404, "{path}: {body}");
        assert!(Instant::now() < deadline, "{path} not found within 30 s");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The audit log's entries of `event`, newest first.
async fn audit_entries(server: &TestServer, org: &str, event: &str) -> Vec<Value> {
    let (status, log) = server
        .api_get(&format!("organizations/{org}/audit-logs/"))
        .await;
    assert_eq!(status, 200, "{log}");
    log["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["event"] == event)
        .cloned()
        .collect()
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn a_renamed_organization_answers_under_its_new_slug_only(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let (id, answer) = ingest(&server, server.project_id as i64, &server.public_key).await;
    answer.assert_accepted(&id);
    wait_for(&server, &format!("projects/errhound/default/events/{id}/")).await;
    let member = server.create_member("member@a.test");

    // A member (org:read only) may not rename; a bad slug and a taken one are refused.
    let (status, _) = server
        .api_send(
            Method::PUT,
            "organizations/errhound/",
            &json!({"slug": "acme"}),
            Some(&member),
        )
        .await;
    assert_eq!(status, 403);
    let (status, body) = server
        .api_put("organizations/errhound/", &json!({"slug": "Not A Slug"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["slug"].is_array(), "{body}");
    let (status, _) = send(
        &server,
        Method::POST,
        "organizations/",
        json!({"name": "Taken", "slug": "taken"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = server
        .api_put("organizations/errhound/", &json!({"slug": "taken"}))
        .await;
    assert_eq!(status, 409, "{body}");

    let (status, org) = server
        .api_put(
            "organizations/errhound/",
            &json!({"name": "Acme Corp", "slug": "acme"}),
        )
        .await;
    assert_eq!(status, 200, "{org}");
    assert_eq!(
        (&org["slug"], &org["name"]),
        (&json!("acme"), &json!("Acme Corp"))
    );
    // The data is under the new slug; the old slug finds nothing.
    let (status, event) = server
        .api_get(&format!("projects/acme/default/events/{id}/"))
        .await;
    assert_eq!((status, &event["eventID"]), (200, &json!(id)), "{event}");
    let (status, issues) = server.api_get("organizations/acme/issues/").await;
    assert_eq!(status, 200, "{issues}");
    assert_eq!(issues.as_array().unwrap().len(), 1, "{issues}");
    for path in [
        "organizations/errhound/".to_owned(),
        format!("projects/errhound/default/events/{id}/"),
    ] {
        let (status, _) = server.api_get(&path).await;
        assert_eq!(status, 404, "{path}");
    }
    // The DSN names the project by id: ingest goes on.
    let (next, answer) = ingest(&server, server.project_id as i64, &server.public_key).await;
    answer.assert_accepted(&next);
    wait_for(&server, &format!("projects/acme/default/events/{next}/")).await;

    let edits = audit_entries(&server, "acme", "org.edit").await;
    assert_eq!(edits.len(), 1, "{edits:?}");
    assert_eq!(
        edits[0]["data"],
        json!({"name": "Acme Corp", "oldName": "Errhound", "slug": "acme", "oldSlug": "errhound"}),
        "{edits:?}"
    );
    assert_eq!(edits[0]["actor"]["email"], "admin@errhound.test");
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn a_deleted_project_is_gone_at_once_its_dsn_refused_and_its_rows_removed(
    #[case] engine: Engine,
) {
    let server = server_with_deletions(engine, 1).await;
    let (project_id, key) = create_project(&server, "errhound", "errhound", "web").await;
    let (id, answer) = ingest(&server, project_id, &key).await;
    answer.assert_accepted(&id);
    wait_for(&server, &format!("projects/errhound/web/events/{id}/")).await;

    // project:admin: a member, and an admin-scoped token without it, are refused.
    let member = server.create_member("member@a.test");
    crate::access::join_team(&server, "member@a.test").await;
    let (status, _) = server
        .api_send(
            Method::DELETE,
            "projects/errhound/web/",
            &json!({}),
            Some(&member),
        )
        .await;
    assert_eq!(status, 403);
    let (status, _) = send(&server, Method::DELETE, "projects/errhound/web/", json!({})).await;
    assert_eq!(status, 204);

    // Gone from every read at once, and its DSN is refused.
    for path in [
        "projects/errhound/web/".to_owned(),
        format!("projects/errhound/web/events/{id}/"),
        "projects/errhound/web/keys/".to_owned(),
    ] {
        let (status, _) = server.api_get(&path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, projects) = server.api_get("organizations/errhound/projects/").await;
    assert!(
        projects
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["slug"] != "web"),
        "{projects}"
    );
    let (_, answer) = ingest(&server, project_id, &key).await;
    answer.assert_error(403, "unknown DSN key");

    let removed = audit_entries(&server, "errhound", "project.remove").await;
    assert_eq!(removed.len(), 1, "{removed:?}");
    assert_eq!(removed[0]["data"], json!({"slug": "web", "name": "web"}));
    assert_eq!(removed[0]["targetObject"], json!(project_id));

    // The task removes its rows; its slug is free at once.
    let db = server.db().await;
    let deadline = Instant::now() + Duration::from_secs(30);
    let live = "SELECT COUNT(*) AS value FROM projects WHERE id = $1 AND purged_at IS NULL";
    while count(&db, live, project_id).await > 0 {
        assert!(Instant::now() < deadline, "the project row was not removed");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for sql in [
        "SELECT COUNT(*) AS value FROM events WHERE project_id = $1",
        "SELECT COUNT(*) AS value FROM issues WHERE project_id = $1",
        "SELECT COUNT(*) AS value FROM project_keys WHERE project_id = $1",
    ] {
        assert_eq!(count(&db, sql, project_id).await, 0, "{sql}");
    }
    // A new project takes the slug, never the id (the old DSN names it).
    let (again, _) = create_project(&server, "errhound", "errhound", "web").await;
    assert!(again > project_id, "{again} after {project_id}");
    // The other project was untouched.
    let (status, _) = server.api_get("projects/errhound/default/").await;
    assert_eq!(status, 200);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn only_an_owner_deletes_an_organization_which_disappears_with_its_dsns(
    #[case] engine: Engine,
) {
    // A period long enough that the removal cannot race the checks of what it leaves behind.
    let server = server_with_deletions(engine, 3600).await;
    let (status, _) = send(
        &server,
        Method::POST,
        "organizations/",
        json!({"name": "B Org", "slug": "borg"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = send(
        &server,
        Method::POST,
        "organizations/borg/teams/",
        json!({"slug": "bteam"}),
    )
    .await;
    assert_eq!(status, 201);
    let (project_id, key) = create_project(&server, "borg", "bteam", "bproj").await;
    let (id, answer) = ingest(&server, project_id, &key).await;
    answer.assert_accepted(&id);
    wait_for(&server, &format!("projects/borg/bproj/events/{id}/")).await;

    // A member, and a manager (org:write, member:admin, but not the owner), are refused.
    let outsider = server.create_user("member@b.test", Some("borg"));
    server.cli(&[
        "user",
        "create",
        "--email",
        "manager@b.test",
        "--password",
        "member-password-1",
        "--organization",
        "borg",
        "--role",
        Role::Manager.as_str(),
    ]);
    let manager = server.create_token_for("manager@b.test");
    for token in [&outsider, &manager] {
        let (status, body) = server
            .api_send(
                Method::DELETE,
                "organizations/borg/",
                &json!({}),
                Some(token),
            )
            .await;
        assert_eq!(status, 403, "{body}");
    }
    let (status, org) = send(&server, Method::DELETE, "organizations/borg/", json!({})).await;
    assert_eq!(status, 202, "{org}");
    assert_eq!(org["status"]["id"], "pending_deletion");

    for path in [
        "organizations/borg/".to_owned(),
        "organizations/borg/projects/".to_owned(),
        "projects/borg/bproj/".to_owned(),
        format!("projects/borg/bproj/events/{id}/"),
    ] {
        let (status, _) = server.api_get(&path).await;
        assert_eq!(status, 404, "{path}");
    }
    let (_, orgs) = server.api_get("organizations/").await;
    assert!(
        orgs.as_array().unwrap().iter().all(|o| o["slug"] != "borg"),
        "{orgs}"
    );
    let (status, mine) = server
        .api_send(Method::GET, "organizations/", &Value::Null, Some(&outsider))
        .await;
    assert_eq!((status, mine), (200, json!([])));
    let (_, answer) = ingest(&server, project_id, &key).await;
    answer.assert_error(403, "unknown DSN key");

    // The entry was written with the change (it goes with the organization's data).
    let db = server.db().await;
    assert_eq!(
        count(
            &db,
            "SELECT COUNT(*) AS value FROM audit_log a JOIN organizations o \
             ON o.id = a.organization_id WHERE a.action = 'org.remove' AND o.id = \
             (SELECT organization_id FROM projects WHERE id = $1)",
            project_id
        )
        .await,
        1
    );
    // The slug is free at once; the first organization is untouched.
    let (status, _) = send(
        &server,
        Method::POST,
        "organizations/",
        json!({"name": "B again", "slug": "borg"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = server.api_get("projects/errhound/default/").await;
    assert_eq!(status, 200);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn teams_are_read_renamed_and_deleted_and_their_projects_stay(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let member = server.create_member("member@a.test");
    let (status, team) = send(
        &server,
        Method::POST,
        "organizations/errhound/teams/",
        json!({"name": "Backend", "slug": "backend"}),
    )
    .await;
    assert_eq!(status, 201, "{team}");

    // The detail: `access` is the caller's scopes, `isMember` whether the caller is on it.
    let (status, team) = server.api_get("teams/errhound/backend/").await;
    assert_eq!(status, 200, "{team}");
    assert_eq!(team["isMember"], false);
    assert!(
        team["access"]
            .as_array()
            .unwrap()
            .contains(&json!("team:admin")),
        "{team}"
    );
    let (status, body) = send(
        &server,
        Method::POST,
        "organizations/errhound/members/me/teams/backend/",
        json!({}),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let (_, team) = server.api_get("teams/errhound/backend/").await;
    assert_eq!(team["isMember"], true, "{team}");
    let (status, as_member) = server
        .api_send(
            Method::GET,
            "teams/errhound/backend/",
            &Value::Null,
            Some(&member),
        )
        .await;
    assert_eq!(status, 200, "{as_member}");
    let mut expected: Vec<&str> = Role::Member.scopes().names().collect();
    let mut got: Vec<&str> = as_member["access"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    expected.sort_unstable();
    got.sort_unstable();
    assert_eq!(got, expected);
    assert_eq!(as_member["isMember"], false);
    for method in [Method::PUT, Method::DELETE] {
        let (status, _) = server
            .api_send(
                method.clone(),
                "teams/errhound/backend/",
                &json!({"slug": "mine"}),
                Some(&member),
            )
            .await;
        assert_eq!(status, 403, "{method}");
    }

    // The team takes a project, is renamed (a taken slug refused), and deleted: the project stays.
    let (status, project) = send(
        &server,
        Method::POST,
        "projects/errhound/default/teams/backend/",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, &project["slug"]),
        (201, &json!("default")),
        "{project}"
    );
    let (status, _) = server
        .api_put("teams/errhound/backend/", &json!({"slug": "errhound"}))
        .await;
    assert_eq!(status, 409);
    let (status, team) = server
        .api_put(
            "teams/errhound/backend/",
            &json!({"name": "Platform", "slug": "platform"}),
        )
        .await;
    assert_eq!(status, 200, "{team}");
    assert_eq!(
        (&team["slug"], &team["name"]),
        (&json!("platform"), &json!("Platform"))
    );
    let (status, _) = server.api_get("teams/errhound/backend/").await;
    assert_eq!(status, 404);
    let (status, team) = server.api_get("teams/errhound/platform/").await;
    assert_eq!((status, &team["memberCount"]), (200, &json!(1)), "{team}");
    let (status, _) = send(
        &server,
        Method::DELETE,
        "teams/errhound/platform/",
        json!({}),
    )
    .await;
    assert_eq!(status, 204);
    let (status, _) = server.api_get("teams/errhound/platform/").await;
    assert_eq!(status, 404);
    let (status, _) = server.api_get("projects/errhound/default/").await;
    assert_eq!(status, 200);

    let events: Vec<Value> = {
        let (_, log) = server.api_get("organizations/errhound/audit-logs/").await;
        log["rows"].as_array().unwrap().clone()
    };
    let names: Vec<&str> = events
        .iter()
        .map(|e| e["event"].as_str().unwrap())
        .collect();
    for expected in [
        "team.create",
        "member.join-team",
        "project-team.add",
        "team.edit",
        "team.remove",
    ] {
        assert!(names.contains(&expected), "{expected} in {names:?}");
    }
    let edit = events.iter().find(|e| e["event"] == "team.edit").unwrap();
    assert_eq!(edit["data"]["oldSlug"], "backend");
    assert_eq!(edit["data"]["slug"], "platform");
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn a_renamed_project_keeps_its_events_and_every_settings_edit_is_audited(
    #[case] engine: Engine,
) {
    let server = TestServer::start_on(binary(), engine).await;
    let (id, answer) = ingest(&server, server.project_id as i64, &server.public_key).await;
    answer.assert_accepted(&id);
    wait_for(&server, &format!("projects/errhound/default/events/{id}/")).await;
    let (status, _) = send(
        &server,
        Method::POST,
        "teams/errhound/errhound/projects/",
        json!({"name": "Taken", "slug": "taken"}),
    )
    .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .api_put("projects/errhound/default/", &json!({"slug": "taken"}))
        .await;
    assert_eq!(status, 409);

    let (status, project) = server
        .api_put(
            "projects/errhound/default/",
            &json!({"name": "Shop", "slug": "shop"}),
        )
        .await;
    assert_eq!(status, 200, "{project}");
    assert_eq!(project["slug"], "shop");
    let (status, event) = server
        .api_get(&format!("projects/errhound/shop/events/{id}/"))
        .await;
    assert_eq!((status, &event["eventID"]), (200, &json!(id)), "{event}");
    let (status, _) = server
        .api_get(&format!("projects/errhound/default/events/{id}/"))
        .await;
    assert_eq!(status, 404);
    let (next, answer) = ingest(&server, server.project_id as i64, &server.public_key).await;
    answer.assert_accepted(&next);
    wait_for(&server, &format!("projects/errhound/shop/events/{next}/")).await;

    let (status, _) = server
        .api_put("projects/errhound/shop/", &json!({"dataScrubber": false}))
        .await;
    assert_eq!(status, 200);
    // A PUT that changes nothing records nothing.
    let (status, _) = server
        .api_put("projects/errhound/shop/", &json!({"dataScrubber": false}))
        .await;
    assert_eq!(status, 200);
    let edits = audit_entries(&server, "errhound", "project.edit").await;
    let data: Vec<&Value> = edits.iter().map(|e| &e["data"]).collect();
    assert_eq!(
        data,
        [
            &json!({"dataScrubber": false}),
            &json!({"name": "Shop", "slug": "shop"})
        ],
        "{edits:?}"
    );
}
