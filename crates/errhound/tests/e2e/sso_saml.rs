//! Logging in through a real SAML identity provider (pysaml2, signing with xmlsec1) against the
//! running server: the IdP trusts the service-provider metadata the server publishes at
//! `/auth/saml/{org}/metadata/`; an SP-initiated login (HTTP-Redirect request, the signed
//! response POSTed cross-site to `/auth/sso/`) provisions the member with their mapped team;
//! an IdP-initiated one (RelayState: the organization's slug) logs in once and its replay is
//! refused; unsigned and altered responses log nobody in.

use errhound_test_utils::browser::{Browser, Page, field_of, refresh_target};
use errhound_test_utils::{IdpAnswer, SamlIdp, TestServer};
use reqwest::Method;
use serde_json::json;

use crate::binary;

/// POSTs `answer` to the callback from the IdP's origin, with `relay_state`.
async fn post_answer(browser: &mut Browser, answer: &IdpAnswer, relay_state: &str) -> Page {
    browser
        .post(
            "/auth/sso/",
            &[
                ("SAMLResponse", answer.saml_response.as_str()),
                ("RelayState", relay_state),
            ],
            Some("http://idp.example"),
        )
        .await
}

/// Starts the login of `errhound`: the URL of the IdP's SSO service with the AuthnRequest.
async fn start(browser: &mut Browser) -> String {
    let page = browser.get("/auth/login/errhound/").await;
    assert!(
        page.body.contains("Continue with SAML 2.0"),
        "{}",
        page.body
    );
    let csrf = field_of(&page.body, "csrf").expect("a CSRF field");
    let started = browser
        .post("/auth/login/errhound/", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    refresh_target(&started.body).expect("a page that goes on to the IdP")
}

async fn logged_in(browser: &mut Browser) -> bool {
    browser.get("/organizations/errhound/issues/").await.status == 200
}

#[tokio::test]
async fn a_real_saml_idp_logs_members_in_sp_and_idp_initiated_and_bad_answers_are_refused() {
    let server = TestServer::start(binary()).await;
    let metadata = server
        .client()
        .get(format!("{}/auth/saml/errhound/metadata/", server.base_url))
        .send()
        .await
        .unwrap();
    assert_eq!(metadata.status(), 200);
    let metadata = metadata.text().await.unwrap();
    assert!(
        metadata.contains(&format!(
            "entityID=\"{}/auth/saml/errhound/metadata/\"",
            server.base_url
        )),
        "{metadata}"
    );
    let idp = SamlIdp::start(&metadata);
    server.create_team("eng", "Engineering").await;
    let (status, body) = server
        .api_send(
            Method::POST,
            "organizations/errhound/auth-provider/",
            &json!({
                "provider": "saml2",
                "config": {
                    "idp_metadata_url": idp.metadata_url(),
                    "email_attribute": "mail",
                    "name_attribute": "displayName",
                    "groups_attribute": "eduPersonAffiliation",
                },
                "allowed_domains": ["corp.test"],
                "group_mappings": [{"group": "eng", "team": "eng"}],
            }),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");

    // SP-initiated: the signed response, POSTed from the IdP's origin, logs Ann in.
    let mut browser = Browser::new(&server.base_url);
    let to_idp = start(&mut browser).await;
    let answer = idp.answer(&to_idp, &[("user", "ann")]).await;
    let relay = answer
        .relay_state
        .clone()
        .expect("the RelayState comes back");
    let done = post_answer(&mut browser, &answer, &relay).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(logged_in(&mut browser).await);
    let (_, members) = server.api_get("organizations/errhound/members/").await;
    assert!(members.to_string().contains("ann@corp.test"), "{members}");
    server
        .assert_audited(&["sso-identity.link", "member.add", "member.join-team"])
        .await;
    // Its replay continues nothing.
    let mut replayer = Browser::new(&server.base_url);
    replayer.cookies = browser.cookies.clone();
    replayer.cookies.remove("errhound_session");
    assert_eq!(
        post_answer(&mut replayer, &answer, &relay).await.status,
        400
    );
    assert!(!logged_in(&mut replayer).await);

    // Unsigned, and altered after signing: refused, nobody logged in.
    for (knobs, expected) in [
        (vec![("user", "ann"), ("sign", "none")], "not signed"),
        (vec![("user", "ann"), ("alter", "nameid")], "altered"),
    ] {
        let mut browser = Browser::new(&server.base_url);
        let to_idp = start(&mut browser).await;
        let answer = idp.answer(&to_idp, &knobs).await;
        let relay = answer.relay_state.clone().unwrap();
        let page = post_answer(&mut browser, &answer, &relay).await;
        assert_eq!(page.status, 400, "{knobs:?}: {}", page.body);
        assert!(page.body.contains(expected), "{knobs:?}: {}", page.body);
        assert!(!logged_in(&mut browser).await);
    }

    // IdP-initiated (the IdP's default RelayState is the organization's slug): once.
    let unsolicited = idp.unsolicited("bob", &[]).await;
    let mut browser = Browser::new(&server.base_url);
    let done = post_answer(&mut browser, &unsolicited, "errhound").await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(logged_in(&mut browser).await);
    let mut again = Browser::new(&server.base_url);
    let replayed = post_answer(&mut again, &unsolicited, "errhound").await;
    assert_eq!(replayed.status, 400, "{}", replayed.body);
    assert!(replayed.body.contains("used already"), "{}", replayed.body);
    assert!(!logged_in(&mut again).await);
    // Naming an organization without SAML continues nothing.
    let mut elsewhere = Browser::new(&server.base_url);
    let page = post_answer(
        &mut elsewhere,
        &idp.unsolicited("bob", &[]).await,
        "no-such-org",
    )
    .await;
    assert_eq!(page.status, 400, "{}", page.body);
}
