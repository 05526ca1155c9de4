//! Accounts over raw HTTP against a running server: the list of one's own sessions and revoking
//! them, sessions ending when a user's privileges change (role change, removal, disabling by a
//! superuser on the admin page), and open sign-up (off by default; on, every address gets the
//! same answer and the mail decides). On SQLite and PostgreSQL where the store is involved.

use std::time::Duration;

use errhound_store::Engine;
use errhound_test_utils::TestServer;
use errhound_test_utils::server::{ADMIN_EMAIL, ADMIN_PASSWORD, ServerOptions};
use errhound_test_utils::smtp::SmtpSink;
use reqwest::Method;
use reqwest::header::LOCATION;
use rstest::rstest;
use serde_json::json;

use crate::binary;
use crate::ui::{Page, UiSession, csrf_of, session_cookie};

const PASSWORD: &str = "member-password-1";
const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0";
const SAFARI: &str = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 \
                      (KHTML, like Gecko) Version/17.2 Safari/605.1.15";

/// Whether a page sends the session to the login form (it ended).
fn to_login(page: &Page) -> bool {
    page.status == 303
        && page.headers[LOCATION]
            .to_str()
            .unwrap()
            .starts_with("/auth/login/")
}

/// The handles (`data-session`) of the sessions page, in order, with whether each is marked as
/// this session.
fn listed_sessions(html: &str) -> Vec<(String, bool)> {
    html.split("<tr data-session=\"")
        .skip(1)
        .map(|row| {
            let handle = row[..row.find('"').unwrap()].to_owned();
            let head = &row[..row.find('>').unwrap()];
            (handle, head.contains("aria-current"))
        })
        .collect()
}

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

async fn server_on(engine: Engine, env: Vec<(String, String)>) -> ServerOptions {
    ServerOptions {
        database_url: match engine {
            Engine::Sqlite => None,
            Engine::Postgres => Some(errhound_test_utils::postgres::fresh_database().await),
        },
        env,
    }
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn ui_sessions_are_listed_and_revoked_by_their_owner_only(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    server.create_member("member@a.test");
    let here =
        UiSession::login_with_agent(&server, ADMIN_EMAIL, ADMIN_PASSWORD, Some(FIREFOX)).await;
    let there =
        UiSession::login_with_agent(&server, ADMIN_EMAIL, ADMIN_PASSWORD, Some(SAFARI)).await;
    let member = UiSession::login_as(&server, "member@a.test", PASSWORD).await;

    let page = here.get("/settings/account/sessions/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let listed = listed_sessions(&page.body);
    assert_eq!(
        listed.len(),
        2,
        "the admin's two sessions only: {}",
        page.body
    );
    assert_eq!(
        listed.iter().filter(|(_, current)| *current).count(),
        1,
        "one is this session"
    );
    assert!(page.body.contains("this session"));
    assert!(page.body.contains("Firefox 128 on Linux"), "{}", page.body);
    assert!(page.body.contains("Safari 17 on macOS"), "{}", page.body);
    assert!(page.body.contains("127.0.0.1"), "the client address");
    // The handle is the stored key, which is no cookie.
    let (other, _) = listed.iter().find(|(_, current)| !current).unwrap().clone();
    assert!(!there.cookie.contains(&other));
    let as_cookie = UiSession::with_cookie(&server, &format!("errhound_session={other}"));
    assert!(to_login(
        &as_cookie.get("/organizations/errhound/issues/").await
    ));

    // Another user's session is not theirs to revoke: 404, and it lives on.
    let path = format!("/settings/account/sessions/{other}/revoke/");
    assert_eq!(member.post(&path, &[]).await.status, 404);
    assert_eq!(
        there.get("/organizations/errhound/issues/").await.status,
        200
    );
    // Without the CSRF token nothing happens.
    let refused = here
        .post_raw(&path, "", &[("sec-fetch-site", "same-origin")])
        .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        there.get("/organizations/errhound/issues/").await.status,
        200
    );

    let revoked = here.post(&path, &[]).await;
    assert_eq!(revoked.status, 303, "{}", revoked.body);
    assert_eq!(revoked.headers[LOCATION], "/settings/account/sessions/");
    let page = here.get("/settings/account/sessions/").await;
    assert_eq!(listed_sessions(&page.body).len(), 1);
    assert!(page.body.contains("Session revoked"), "{}", page.body);
    assert!(to_login(
        &there.get("/organizations/errhound/issues/").await
    ));
    assert_eq!(
        here.get("/organizations/errhound/issues/").await.status,
        200
    );
    assert_eq!(here.post(&path, &[]).await.status, 404, "revoked already");

    // Revoking this session is logging out.
    let (mine, _) = listed_sessions(&page.body)[0].clone();
    let out = here
        .post(&format!("/settings/account/sessions/{mine}/revoke/"), &[])
        .await;
    assert_eq!(out.headers[LOCATION], "/auth/login/");
    assert!(to_login(&here.get("/organizations/errhound/issues/").await));
    assert_eq!(
        member.get("/organizations/errhound/issues/").await.status,
        200
    );
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn a_role_change_or_removal_ends_the_members_sessions(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    server.create_member("member@a.test");
    server.cli(&[
        "user",
        "create",
        "--email",
        "manager@a.test",
        "--password",
        PASSWORD,
        "--organization",
        "errhound",
        "--role",
        "manager",
    ]);
    let member = UiSession::login_as(&server, "member@a.test", PASSWORD).await;
    let admin = UiSession::login(&server).await;

    // A role change by an owner through the API logs the member out; the owner stays.
    let id = member_id(&server, "member@a.test").await;
    let (status, body) = server
        .api_send(
            Method::PUT,
            &format!("organizations/errhound/members/{id}/"),
            &json!({"orgRole": "admin"}),
            None,
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(to_login(
        &member.get("/organizations/errhound/issues/").await
    ));
    assert_eq!(
        admin.get("/organizations/errhound/issues/").await.status,
        200
    );

    // So does a change through the settings page, and a removal.
    let member = UiSession::login_as(&server, "member@a.test", PASSWORD).await;
    let page = admin
        .post(
            &format!("/settings/errhound/members/{id}/"),
            &[("action", "role"), ("role", "member")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(to_login(
        &member.get("/organizations/errhound/issues/").await
    ));
    let member = UiSession::login_as(&server, "member@a.test", PASSWORD).await;
    let page = admin
        .post(
            &format!("/settings/errhound/members/{id}/"),
            &[("action", "remove")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    assert!(to_login(&member.get("/").await));

    // A manager who changes their own role goes on under a new session id; the old one is dead.
    let manager = UiSession::login_as(&server, "manager@a.test", PASSWORD).await;
    let own = member_id(&server, "manager@a.test").await;
    let page = manager
        .post(
            &format!("/settings/errhound/members/{own}/"),
            &[("action", "role"), ("role", "admin")],
        )
        .await;
    assert_eq!(page.status, 303, "{}", page.body);
    let renewed = session_cookie(&page.headers).expect("a new session cookie");
    assert_ne!(renewed, manager.cookie, "a new session id");
    assert!(to_login(
        &manager.get("/organizations/errhound/issues/").await
    ));
    let continued = UiSession::with_cookie(&server, &renewed);
    let page = continued.get("/settings/errhound/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("manager@a.test is now Admin"),
        "{}",
        page.body
    );
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn the_admin_page_lists_the_instance_and_disables_users(#[case] engine: Engine) {
    let server = TestServer::start_on(binary(), engine).await;
    server.create_member("member@a.test");
    server.cli(&["org", "create", "--slug", "borg", "--name", "Borg Inc"]);
    server.create_user("outsider@b.test", Some("borg"));
    let admin = UiSession::login(&server).await;
    let member = UiSession::login_as(&server, "member@a.test", PASSWORD).await;

    assert_eq!(member.get("/manage/").await.status, 403);
    let page = admin.get("/manage/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    for text in [
        "<code>borg</code>",
        "Borg Inc",
        "href=\"/settings/borg/\"",
        "outsider@b.test",
        "member@a.test",
    ] {
        assert!(page.body.contains(text), "{text} in {}", page.body);
    }
    let row = |body: &str, email: &str| {
        let start = body.find(&format!("<tr data-user=\"{email}\"")).unwrap();
        body[start..start + body[start..].find("</tr>").unwrap()].to_owned()
    };
    let member_row = row(&page.body, "member@a.test");
    assert!(member_row.contains(">errhound</a>"), "{member_row}");
    assert!(
        !member_row.contains("—</td>"),
        "member logged in: {member_row}"
    );
    assert!(
        row(&page.body, ADMIN_EMAIL).contains(">you<"),
        "no disabling oneself"
    );
    let action = |row: &str| {
        let start = row.find("action=\"/manage/users/").unwrap() + "action=\"".len();
        row[start..start + row[start..].find('"').unwrap()].to_owned()
    };
    let member_action = action(&member_row);

    // Disabling logs the member out at once and keeps them out.
    assert_eq!(
        member
            .post(&member_action, &[("action", "disable")])
            .await
            .status,
        403
    );
    let done = admin.post(&member_action, &[("action", "disable")]).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(to_login(
        &member.get("/organizations/errhound/issues/").await
    ));
    let again = admin.get("/manage/").await;
    assert!(
        again.body.contains("member@a.test is disabled"),
        "{}",
        again.body
    );
    assert!(row(&again.body, "member@a.test").contains("disabled"));
    let done = admin.post(&member_action, &[("action", "enable")]).await;
    assert_eq!(done.status, 303);
    let member = UiSession::login_as(&server, "member@a.test", PASSWORD).await;
    assert_eq!(
        member.get("/organizations/errhound/issues/").await.status,
        200
    );

    // A superuser cannot disable themselves.
    let (status, members) = server.api_get("organizations/errhound/members/").await;
    assert_eq!(status, 200);
    let me = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == ADMIN_EMAIL)
        .unwrap();
    let my_id = me["user"]["id"].as_str().unwrap().to_owned();
    let refused = admin
        .post(&format!("/manage/users/{my_id}/"), &[("action", "disable")])
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(admin.get("/manage/").await.status, 200);
}

/// What a sign-up answer looks like once the address and the CSRF token are taken out.
fn answer_shape(page: &Page, email: &str) -> (u16, bool, String) {
    let csrf = csrf_of(&page.body);
    (
        page.status,
        session_cookie(&page.headers).is_some(),
        page.body
            .replace(email, "<address>")
            .replace(&csrf, "<csrf>"),
    )
}

async fn anonymous_form(server: &TestServer, path: &str) -> (UiSession, Page) {
    let mut visitor = UiSession::anonymous(server);
    let page = visitor.get(path).await;
    visitor.adopt(&page);
    if page.status == 200 {
        visitor.csrf = csrf_of(&page.body);
    }
    (visitor, page)
}

#[tokio::test]
async fn sign_up_is_off_by_default_and_closed_without_mail() {
    let server = TestServer::start(binary()).await;
    let (visitor, login) = anonymous_form(&server, "/auth/login/").await;
    assert!(!login.body.contains("/auth/register/"), "no link when off");
    assert_eq!(visitor.get("/auth/register/").await.status, 404);
    let page = visitor
        .post("/auth/register/", &[("email", "new@a.test"), ("name", "N")])
        .await;
    assert_eq!(page.status, 404);
    drop(server);

    let server = TestServer::start_with(
        binary(),
        server_on(
            Engine::Sqlite,
            vec![("ERRHOUND_AUTH__ALLOW_REGISTRATION".into(), "true".into())],
        )
        .await,
    )
    .await;
    let (visitor, login) = anonymous_form(&server, "/auth/login/").await;
    assert!(
        !login.body.contains("/auth/register/"),
        "no link without mail"
    );
    assert_eq!(visitor.get("/auth/register/").await.status, 404);
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn sign_up_answers_alike_for_every_address_and_the_mailed_link_creates_the_account(
    #[case] engine: Engine,
) {
    let mut sink = SmtpSink::start(Default::default())
        .expect("the sign-up tests need the Python of scripts/test.sh (SDK_PYTHON)");
    let server = TestServer::start_with(
        binary(),
        server_on(
            engine,
            vec![
                ("ERRHOUND_AUTH__ALLOW_REGISTRATION".into(), "true".into()),
                ("ERRHOUND_MAIL__URL".into(), sink.url("smtp+plain")),
                (
                    "ERRHOUND_MAIL__FROM".into(),
                    "Errhound <errhound@test.local>".into(),
                ),
            ],
        )
        .await,
    )
    .await;
    let (_, login) = anonymous_form(&server, "/auth/login/").await;
    assert!(
        login.body.contains("href=\"/auth/register/\""),
        "the login page links to sign-up"
    );
    let (visitor, form) = anonymous_form(&server, "/auth/register/").await;
    assert_eq!(form.status, 200);

    // Without the CSRF token nothing is sent.
    let refused = visitor
        .post_raw(
            "/auth/register/",
            "email=new%40a.test",
            &[("sec-fetch-site", "same-origin")],
        )
        .await;
    assert_eq!(refused.status, 403);

    let new = visitor
        .post(
            "/auth/register/",
            &[("email", "New@A.test"), ("name", "New Person")],
        )
        .await;
    let existing = visitor
        .post(
            "/auth/register/",
            &[("email", ADMIN_EMAIL), ("name", "Impostor")],
        )
        .await;
    assert_eq!(new.status, 200, "{}", new.body);
    assert!(new.body.contains("Check your mail"), "{}", new.body);
    assert_eq!(
        answer_shape(&new, "new@a.test"),
        answer_shape(&existing, ADMIN_EMAIL),
        "the same answer whether or not the address has an account"
    );

    // The mail decides: a link for the new address, a notice for the existing one.
    let mails = [
        sink.next_mail(Duration::from_secs(10)).await,
        sink.next_mail(Duration::from_secs(10)).await,
    ];
    let notice = mails
        .iter()
        .find(|m| m.rcpt_tos == [ADMIN_EMAIL])
        .expect("a notice");
    let text = notice.part("text/plain").unwrap();
    assert!(text.contains("has one already"), "{text}");
    assert!(
        !text.contains("/auth/register/"),
        "no link for an existing account: {text}"
    );
    let invite = mails
        .iter()
        .find(|m| m.rcpt_tos == ["new@a.test"])
        .expect("a link");
    let text = invite.part("text/plain").unwrap();
    let start = text
        .find(&format!("{}/auth/register/", server.base_url))
        .expect("a link")
        + server.base_url.len();
    let link = text[start..].split_whitespace().next().unwrap().to_owned();
    assert!(link.starts_with("/auth/register/"), "{link}");
    let users = server.cli(&["user", "list"]);
    assert!(
        !users.contains("new@a.test"),
        "nothing is created before the link: {users}"
    );
    assert!(!users.contains("Impostor"), "{users}");

    // The link: the password policy, then the account, logged in, in no organization.
    let (mut newcomer, page) = anonymous_form(&server, &link).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("new@a.test"));
    let short = newcomer
        .post(&link, &[("password", "short"), ("confirm", "short")])
        .await;
    assert_eq!(short.status, 400);
    let done = newcomer
        .post(
            &link,
            &[
                ("password", "a-fine-password"),
                ("confirm", "a-fine-password"),
            ],
        )
        .await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.headers[LOCATION], "/");
    let before = newcomer.cookie.clone();
    newcomer.adopt(&done);
    assert_ne!(newcomer.cookie, before, "a new session id at login");
    let home = newcomer.get("/").await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(
        home.body.contains("not a member of any organization"),
        "{}",
        home.body
    );
    assert!(home.body.contains("invite"), "{}", home.body);
    let sessions = newcomer.get("/settings/account/sessions/").await;
    assert_eq!(
        sessions.status, 200,
        "account pages work without an organization: {}",
        sessions.body
    );
    assert_eq!(
        newcomer.get("/organizations/errhound/issues/").await.status,
        404
    );
    assert_eq!(newcomer.get(&link).await.status, 404, "the link works once");
    let users = server.cli(&["user", "list"]);
    assert!(
        users.contains("new@a.test") && users.contains("New Person"),
        "{users}"
    );
    UiSession::login_as(&server, "new@a.test", "a-fine-password").await;

    // Throttled per client address, whatever the addresses.
    let mut last = 0;
    for n in 0..25 {
        last = visitor
            .post("/auth/register/", &[("email", &format!("spray{n}@a.test"))])
            .await
            .status;
        if last == 429 {
            break;
        }
    }
    assert_eq!(last, 429, "throttled");
}
