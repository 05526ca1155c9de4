//! Logging in through GitHub (against a stand-in that follows GitHub's OAuth flow and API
//! shapes): members of the configured GitHub organization get in, provisioned as members with
//! their GitHub teams mapped to teams; people outside it, a denial at GitHub and a replayed
//! callback log nobody in.

use errhound_test_utils::TestServer;
use errhound_test_utils::browser::{Browser, field_of, refresh_target};
use errhound_test_utils::github::{GithubStandIn, GithubUser};
use reqwest::Method;
use serde_json::json;

use crate::binary;

fn account(login: &str, id: i64, orgs: &[&str], teams: &[(&str, &str)]) -> GithubUser {
    GithubUser {
        id,
        login: login.to_owned(),
        email: format!("{login}@corp.test"),
        verified: true,
        orgs: orgs.iter().map(|o| (*o).to_owned()).collect(),
        teams: teams
            .iter()
            .map(|(o, t)| ((*o).to_owned(), (*t).to_owned()))
            .collect(),
    }
}

/// Starts the login of `errhound` and follows it to GitHub as `login`: GitHub's redirect back.
async fn through_github(browser: &mut Browser, login: &str) -> String {
    let page = browser.get("/auth/login/errhound/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Continue with GitHub"), "{}", page.body);
    let csrf = field_of(&page.body, "csrf").expect("a CSRF field");
    let started = browser
        .post("/auth/login/errhound/", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let target = refresh_target(&started.body).expect("a page that goes on to the IdP");
    assert!(target.contains("/login/oauth/authorize?"), "{}", target);
    assert!(target.contains("scope=read%3Auser+user%3Aemail+read%3Aorg"));
    let at_github = browser.get(&format!("{}&login={login}", target)).await;
    assert_eq!(at_github.status, 303, "{}", at_github.body);
    assert!(
        at_github
            .location
            .starts_with(&format!("{}/auth/sso/?", browser.base)),
        "{}",
        at_github.location
    );
    at_github.location
}

#[tokio::test]
async fn members_of_the_github_organization_log_in_and_others_do_not() {
    let server = TestServer::start(binary()).await;
    let github = GithubStandIn::start().await;
    github.set_user(account(
        "octo",
        101,
        &["acme-gh"],
        &[("acme-gh", "backend"), ("other", "x")],
    ));
    github.set_user(account("stranger", 102, &["elsewhere"], &[]));
    github.set_user(GithubUser {
        verified: false,
        ..account("unverified", 103, &["acme-gh"], &[])
    });
    let team = server.create_team("backend-team", "Backend").await;
    let (status, body) = server
        .api_send(
            Method::POST,
            "organizations/errhound/auth-provider/",
            &json!({
                "provider": "github",
                "config": {
                    "client_id": github.client_id,
                    "client_secret": github.client_secret,
                    "organization": "acme-gh",
                    "base_url": github.url,
                    "api_url": github.url,
                },
                "allowed_domains": ["corp.test"],
                "group_mappings": [{"group": "backend", "team": "backend-team"}],
            }),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body["group_mappings"],
        json!([{"group": "backend", "team": "backend-team"}])
    );

    // The login page's single sign-on form leads to the organization's login.
    let mut browser = Browser::new(&server.base_url);
    let login = browser.get("/auth/login/").await;
    assert!(
        login.body.contains("name=\"organization\""),
        "{}",
        login.body
    );
    let found = browser
        .get("/auth/login/?organization=Errhound&next=")
        .await;
    assert_eq!(found.status, 303);
    assert!(
        found.location.starts_with("/auth/login/errhound/"),
        "{}",
        found.location
    );

    // A member of the GitHub organization: provisioned, logged in, in the mapped team.
    let back = through_github(&mut browser, "octo").await;
    let done = browser.get(&back).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location, "/organizations/errhound/issues/");
    assert_eq!(
        browser.get("/organizations/errhound/issues/").await.status,
        200
    );
    let (_, members) = server.api_get("organizations/errhound/members/").await;
    let octo = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == "octo@corp.test")
        .unwrap_or_else(|| panic!("octo is no member: {members}"));
    assert_eq!(octo["role"], "member");
    let octo_id: i64 = octo["user"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a user id in {octo}"));
    let team_id: i64 = team["id"].as_str().unwrap().parse().unwrap();
    let db = server.db().await;
    let mut conn = db.read_latest().await.unwrap();
    let in_team = errhound_store::teams::members(&mut conn.conn(), team_id)
        .await
        .unwrap();
    drop(conn);
    assert!(
        in_team.iter().any(|m| m.id == octo_id),
        "the GitHub team maps to backend-team"
    );
    server
        .assert_audited(&["sso-identity.link", "member.add", "member.join-team"])
        .await;

    // The same callback again logs nobody in.
    let mut replayer = Browser::new(&server.base_url);
    replayer.cookies = browser.cookies.clone();
    replayer.cookies.remove("errhound_session");
    let replayed = replayer.get(&back).await;
    assert_eq!(replayed.status, 400, "{}", replayed.body);
    assert!(!replayer.cookies.contains_key("errhound_session"));

    // Someone outside the GitHub organization is refused, with the reason.
    let mut browser = Browser::new(&server.base_url);
    let back = through_github(&mut browser, "stranger").await;
    let refused = browser.get(&back).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("not a member of the GitHub organization acme-gh"),
        "{}",
        refused.body
    );
    assert!(
        !browser.cookies.contains_key("errhound_session") || {
            browser.get("/organizations/errhound/issues/").await.status != 200
        }
    );

    // An unverified primary address names nobody.
    let mut browser = Browser::new(&server.base_url);
    let back = through_github(&mut browser, "unverified").await;
    let refused = browser.get(&back).await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(
        refused.body.contains("no verified primary e-mail"),
        "{}",
        refused.body
    );

    // Denied at GitHub: a clear page, nobody logged in.
    let mut browser = Browser::new(&server.base_url);
    let back = through_github(&mut browser, "deny").await;
    let denied = browser.get(&back).await;
    assert_eq!(denied.status, 403, "{}", denied.body);
    assert!(denied.body.contains("denied"), "{}", denied.body);

    // Requiring single sign-on: a member's password session is sent to it, their API token
    // keeps working, and a server administrator gets in anyway, audited once per session.
    let (status, body) = server
        .api_put(
            "organizations/errhound/auth-provider/",
            &json!({"require_link": true}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = server.create_member("pat@corp.test");
    let (status, _) = server
        .api_send(
            Method::GET,
            "organizations/errhound/projects/",
            &json!(null),
            Some(&token),
        )
        .await;
    assert_eq!(status, 200, "an API token of a member keeps working");
    let mut pat = Browser::new(&server.base_url);
    assert_eq!(
        pat.log_in("pat@corp.test", "member-password-1")
            .await
            .status,
        303
    );
    let sent = pat.get("/organizations/errhound/issues/").await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    assert_eq!(
        sent.location,
        "/auth/login/errhound/?next=%2Forganizations%2Ferrhound%2Fissues%2F"
    );
    let mut admin = Browser::new(&server.base_url);
    admin.log_in_as_admin().await;
    for _ in 0..2 {
        assert_eq!(
            admin.get("/organizations/errhound/issues/").await.status,
            200
        );
    }
    let recoveries = server
        .audit_events()
        .await
        .into_iter()
        .filter(|e| e == "sso.recovery-login")
        .count();
    assert_eq!(recoveries, 1);
}
