//! Managing an organization's members through the API: role changes within one's own role, the
//! last owner protected (also against two owners demoting each other at once), removal, and the
//! audit log entries each change leaves. On SQLite and PostgreSQL.

use errhound_store::Engine;
use errhound_test_utils::TestServer;
use errhound_test_utils::server::ADMIN_EMAIL;
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::binary;

async fn member_id(server: &TestServer, email: &str) -> String {
    let (status, members) = server.api_get("organizations/errhound/members/").await;
    assert_eq!(status, 200, "{members}");
    members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == email)
        .map(|m| m["id"].as_str().unwrap().to_owned())
        .unwrap_or_else(|| panic!("{email} is a member: {members}"))
}

async fn set_role(server: &TestServer, token: Option<&str>, id: &str, role: &str) -> (u16, Value) {
    server
        .api_send(
            Method::PUT,
            &format!("organizations/errhound/members/{id}/"),
            &json!({"orgRole": role}),
            token,
        )
        .await
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn roles_change_within_the_callers_own_role_and_an_owner_always_remains(
    #[case] engine: Engine,
) {
    let server = TestServer::start_on(binary(), engine).await;
    let manager = server.create_member("manager@a.test");
    let member = server.create_member("member@a.test");
    let admin_id = member_id(&server, ADMIN_EMAIL).await;
    let manager_id = member_id(&server, "manager@a.test").await;
    let member_id_ = member_id(&server, "member@a.test").await;

    // The only owner cannot step down or be removed.
    let (status, body) = set_role(&server, None, &admin_id, "member").await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(
        body["detail"],
        "An organization must keep at least one owner."
    );
    let (status, _) = server
        .api_send(
            Method::DELETE,
            &format!("organizations/errhound/members/{admin_id}/"),
            &Value::Null,
            None,
        )
        .await;
    assert_eq!(status, 403);

    let (status, body) = set_role(&server, None, &manager_id, "manager").await;
    assert_eq!((status, &body["role"]), (200, &json!("manager")), "{body}");
    // A manager gives roles up to their own, never above, and cannot touch an owner.
    let (status, body) = set_role(&server, Some(&manager), &member_id_, "owner").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = set_role(&server, Some(&manager), &admin_id, "member").await;
    assert_eq!(status, 403, "{body}");
    let (status, body) = set_role(&server, Some(&manager), &member_id_, "admin").await;
    assert_eq!((status, &body["role"]), (200, &json!("admin")), "{body}");
    let (status, _) = set_role(&server, Some(&manager), &member_id_, "superuser").await;
    assert_eq!(status, 400);
    // Admins do not manage members at all (no member:write).
    let (status, _) = set_role(&server, Some(&member), &manager_id, "member").await;
    assert_eq!(status, 403);

    // With a second owner, either may step down, but not both at once.
    let (status, _) = set_role(&server, None, &manager_id, "owner").await;
    assert_eq!(status, 200);
    let (a, b) = tokio::join!(
        set_role(&server, None, &admin_id, "member"),
        set_role(&server, None, &manager_id, "member"),
    );
    let mut statuses = [a.0, b.0];
    statuses.sort_unstable();
    assert_eq!(statuses, [200, 403], "{a:?} {b:?}");
    let (_, members) = server.api_get("organizations/errhound/members/").await;
    let owners = members
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["role"] == "owner")
        .count();
    assert_eq!(owners, 1, "{members}");

    // Removal takes the member out of the organization (and its teams): their token no longer
    // reaches it.
    let (status, _) = server
        .api_send(
            Method::DELETE,
            &format!("organizations/errhound/members/{member_id_}/"),
            &Value::Null,
            None,
        )
        .await;
    assert_eq!(status, 204);
    let (status, _) = server
        .api_send(
            Method::GET,
            "organizations/errhound/",
            &Value::Null,
            Some(&member),
        )
        .await;
    assert_eq!(status, 403);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn the_audit_log_records_who_changed_what_and_from_where(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let member = server.create_member("member@a.test");
    let id = member_id(&server, "member@a.test").await;
    assert_eq!(set_role(&server, None, &id, "admin").await.0, 200);
    let (status, _) = server
        .api_send(
            Method::POST,
            "organizations/errhound/teams/",
            &json!({"slug": "backend"}),
            None,
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = server
        .api_put("organizations/errhound/", &json!({"openMembership": false}))
        .await;
    assert_eq!(status, 200);

    let (status, log) = server.api_get("organizations/errhound/audit-logs/").await;
    assert_eq!(status, 200, "{log}");
    let rows = log["rows"].as_array().unwrap();
    let events: Vec<&str> = rows.iter().map(|r| r["event"].as_str().unwrap()).collect();
    assert_eq!(events, ["org.edit", "team.create", "member.edit"], "{log}");
    let edit = &rows[2];
    assert_eq!(edit["actor"]["email"], ADMIN_EMAIL);
    assert_eq!(edit["ipAddress"], "127.0.0.1");
    assert_eq!(edit["data"]["email"], "member@a.test");
    assert_eq!(edit["data"]["oldRole"], "member");
    assert_eq!(edit["data"]["role"], "admin");
    assert_eq!(rows[0]["data"]["openMembership"], false);
    // Pages follow Sentry's Link header.
    let (status, first) = server
        .api_get("organizations/errhound/audit-logs/?per_page=1")
        .await;
    assert_eq!(status, 200);
    assert_eq!(first["rows"][0]["event"], "org.edit");

    // Admins do not read the audit log; owners and managers do.
    let (status, _) = server
        .api_send(
            Method::GET,
            "organizations/errhound/audit-logs/",
            &Value::Null,
            Some(&member),
        )
        .await;
    assert_eq!(status, 403);

    // An organization token made on the command line is recorded as the CLI's.
    server.cli(&[
        "token",
        "create",
        "--organization",
        "errhound",
        "--name",
        "deploy",
    ]);
    let (_, log) = server.api_get("organizations/errhound/audit-logs/").await;
    let newest = &log["rows"][0];
    assert_eq!(newest["event"], "orgauthtoken.create");
    assert_eq!(newest["actor"]["name"], "errhound CLI");
    assert_eq!(newest["data"]["name"], "deploy");
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[tokio::test]
async fn invitations_through_the_api_respect_the_inviters_role(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    let manager = server.create_member("manager@a.test");
    let id = member_id(&server, "manager@a.test").await;
    assert_eq!(set_role(&server, None, &id, "manager").await.0, 200);
    let invite = |token: Option<String>, body: Value| {
        let server = &server;
        async move {
            server
                .api_send(
                    Method::POST,
                    "organizations/errhound/members/",
                    &body,
                    token.as_deref(),
                )
                .await
        }
    };
    let (status, made) = invite(
        Some(manager.clone()),
        json!({"email": "New@B.test", "orgRole": "admin", "teams": ["errhound"]}),
    )
    .await;
    assert_eq!(status, 201, "{made}");
    assert_eq!(made["email"], "new@b.test");
    assert_eq!(made["pending"], true);
    assert_eq!(made["inviteMailed"], false, "no [mail] on this server");
    let link = made["inviteLink"].as_str().unwrap();
    assert!(
        link.starts_with(&format!("{}/accept/", server.base_url)),
        "{link}"
    );
    let page = server.client().get(link).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200);
    // Not above one's own role; not someone who is a member already; only known teams.
    let (status, _) = invite(
        Some(manager.clone()),
        json!({"email": "boss@b.test", "role": "owner"}),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = invite(None, json!({"email": ADMIN_EMAIL})).await;
    assert_eq!(status, 400, "{body}");
    let (status, _) = invite(None, json!({"email": "x@b.test", "teams": ["nope"]})).await;
    assert_eq!(status, 400);
    let (status, _) = invite(None, json!({"email": "not-an-address"})).await;
    assert_eq!(status, 400);
    // A tampered link finds nothing.
    let tampered = format!(
        "{}0/",
        link.trim_end_matches('/')
            .trim_end_matches(char::is_alphanumeric)
    );
    let page = server.client().get(&tampered).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 404);
    let (_, log) = server.api_get("organizations/errhound/audit-logs/").await;
    assert_eq!(log["rows"][0]["event"], "member.invite");
    assert_eq!(log["rows"][0]["actor"]["email"], "manager@a.test");
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[tokio::test]
async fn moving_others_between_teams_needs_team_write_in_the_token_too(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    server.create_member("admin@a.test");
    server.create_member("other@a.test");
    let admin_id = member_id(&server, "admin@a.test").await;
    assert_eq!(set_role(&server, None, &admin_id, "admin").await.0, 200);
    let other = member_id(&server, "other@a.test").await;
    let token = |scopes: &str| {
        server
            .cli(&[
                "token",
                "create",
                "--email",
                "admin@a.test",
                "--scopes",
                scopes,
            ])
            .lines()
            .last()
            .unwrap()
            .trim()
            .to_owned()
    };
    let path = format!("organizations/errhound/members/{other}/teams/errhound/");
    // An admin's role has team:write, but a token limited to org:read does not.
    let narrow = token("org:read");
    let (status, _) = server
        .api_send(Method::POST, &path, &json!({}), Some(&narrow))
        .await;
    assert_eq!(status, 403);
    let full = token("org:read,team:write");
    let (status, body) = server
        .api_send(Method::POST, &path, &json!({}), Some(&full))
        .await;
    assert_eq!(status, 201, "{body}");
}
