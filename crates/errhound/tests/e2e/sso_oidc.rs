//! Logging in through a real OpenID provider (npm `oidc-provider`, started once per run by
//! `scripts/test.sh`, or by the first test that needs it): authorization code with PKCE, query
//! and form_post answers, RS256, ES256 and EdDSA ID tokens, key rotation, and each broken answer
//! (tampered state, replayed callback, wrong nonce, expired token, wrong audience, unknown
//! signing key) refused with a clear page and nobody logged in. In a real browser too: see
//! `ui_browser_logs_in_through_the_openid_provider`.

use errhound_test_utils::TestServer;
use errhound_test_utils::browser::{Browser, Page, field_of, refresh_target};
use errhound_test_utils::oidc_idp::{Account, Client, ClientSpec, Fault, OidcIdp, SigningAlg};
use reqwest::Method;
use serde_json::{Value, json};

use crate::binary;

const PROVIDER: &str = "organizations/errhound/auth-provider/";

fn callback_of(server: &TestServer) -> String {
    format!("{}/auth/sso/", server.base_url)
}

/// Points the organization's provider at `client` (setting it up the first time).
async fn use_client(server: &TestServer, idp: &OidcIdp, client: &Client, response_mode: &str) {
    let body = json!({
        "provider": "oidc",
        "config": {
            "issuer": idp.issuer(),
            "client_id": client.id,
            "client_secret": client.secret,
            "response_mode": response_mode,
        },
        "allowed_domains": ["corp.test"],
        "group_mappings": [{"group": "engineers", "team": "eng"}],
    });
    let (status, _) = server.api_get(PROVIDER).await;
    let method = if status == 204 {
        Method::POST
    } else {
        Method::PUT
    };
    let (status, answer) = server.api_send(method, PROVIDER, &body, None).await;
    assert!(status == 200 || status == 201, "{status} {answer}");
}

/// The hidden fields of the first form in `html` (an auto-submitting form_post page).
fn hidden_fields(html: &str) -> (String, Vec<(String, String)>) {
    let action = html
        .split("action=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .replace("&amp;", "&");
    let fields = html
        .split("<input")
        .skip(1)
        .filter_map(|tag| {
            let tag = tag.split('>').next()?;
            let attr = |name: &str| {
                let needle = format!("{name}=\"");
                let at = tag.find(&needle)? + needle.len();
                Some(tag[at..at + tag[at..].find('"')?].to_owned())
            };
            Some((attr("name")?, attr("value").unwrap_or_default()))
        })
        .collect();
    (action, fields)
}

/// How the identity provider's answer reaches the callback.
enum Answer {
    /// A redirect to the callback with the code in the query.
    Query(String),
    /// A page that POSTs the code to the callback (form_post).
    Form(Vec<(String, String)>),
}

/// Starts the login in `browser` and follows the IdP (logging `account` in by `login_hint`)
/// up to its answer.
async fn to_the_idp_and_back(browser: &mut Browser, account: &str) -> Answer {
    let page = browser.get("/auth/login/errhound/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    let csrf = field_of(&page.body, "csrf").expect("a CSRF field");
    let started = browser
        .post("/auth/login/errhound/", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let target = refresh_target(&started.body).expect("a page that goes on to the IdP");
    for parameter in [
        "code_challenge_method=S256",
        "code_challenge=",
        "nonce=",
        "state=",
    ] {
        assert!(target.contains(parameter), "{}", target);
    }
    let mut next = format!("{}&login_hint={account}", target);
    let callback = format!("{}/auth/sso/", browser.base);
    for _ in 0..10 {
        if next.starts_with(&callback) {
            return Answer::Query(next);
        }
        let page = browser.get(&next).await;
        match page.status {
            302 | 303 => {
                next = if page.location.starts_with('/') {
                    let origin: String = next.split('/').take(3).collect::<Vec<_>>().join("/");
                    format!("{origin}{}", page.location)
                } else {
                    page.location
                };
            }
            200 if page.body.contains("<form") => {
                let (action, fields) = hidden_fields(&page.body);
                assert_eq!(action, callback, "{}", page.body);
                return Answer::Form(fields);
            }
            status => panic!("the IdP answered {status} at {next}: {}", page.body),
        }
    }
    panic!("the IdP never answered to the callback")
}

/// Delivers the answer as the browser would: the redirect as a GET, the form as a POST from the
/// IdP's origin (cross-site, without the session's CSRF token).
async fn deliver(browser: &mut Browser, answer: &Answer, idp: &OidcIdp) -> Page {
    match answer {
        Answer::Query(url) => browser.get(url).await,
        Answer::Form(fields) => {
            let pairs: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            browser.post("/auth/sso/", &pairs, Some(idp.issuer())).await
        }
    }
}

/// Whether `browser` is logged in to the organization.
async fn logged_in(browser: &mut Browser) -> bool {
    browser.get("/organizations/errhound/issues/").await.status == 200
}

async fn refused(server: &TestServer, idp: &OidcIdp, account: &str, fault: Fault, expected: &str) {
    let faulty = idp
        .register_client(&ClientSpec::new(callback_of(server)).fault(fault))
        .await;
    use_client(server, idp, &faulty, "query").await;
    let mut browser = Browser::new(&server.base_url);
    let answer = to_the_idp_and_back(&mut browser, account).await;
    let page = deliver(&mut browser, &answer, idp).await;
    assert_eq!(page.status, 400, "{fault:?}: {}", page.body);
    assert!(
        page.body.contains(expected),
        "{fault:?}: expected {expected:?} in {}",
        page.body
    );
    assert!(!logged_in(&mut browser).await, "{fault:?} logged in");
}

#[tokio::test]
async fn a_real_openid_provider_logs_members_in_and_every_broken_answer_is_refused() {
    let server = TestServer::start(binary()).await;
    let idp = OidcIdp::shared();
    let team = server.create_team("eng", "Engineering").await;
    // Ids unique to this test: the IdP is shared by the run.
    let ann_id = format!("ann-{}", std::process::id());
    idp.set_account(
        &Account::new(&ann_id, format!("{ann_id}@corp.test"))
            .name("Ann Example")
            .groups(["engineers"]),
    )
    .await;

    // Query mode, RS256: the new person is provisioned as a member, in the mapped team.
    let rs256 = idp
        .register_client(&ClientSpec::new(callback_of(&server)))
        .await;
    use_client(&server, &idp, &rs256, "query").await;
    let mut browser = Browser::new(&server.base_url);
    let answer = to_the_idp_and_back(&mut browser, &ann_id).await;
    let Answer::Query(callback) = &answer else {
        panic!("query mode answered with a form")
    };
    let done = deliver(&mut browser, &answer, &idp).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location, "/organizations/errhound/issues/");
    assert!(logged_in(&mut browser).await);
    let (_, members) = server.api_get("organizations/errhound/members/").await;
    let ann = members
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["email"] == format!("{ann_id}@corp.test"))
        .unwrap_or_else(|| panic!("not provisioned: {members}"))
        .clone();
    assert_eq!(ann["role"], "member");
    assert_eq!(team_members(&server, &team).await, [user_id(&ann)]);

    // The same callback again (a replay) logs nobody in.
    let mut replayer = Browser::new(&server.base_url);
    replayer.cookies = browser.cookies.clone();
    replayer.cookies.remove("errhound_session");
    let replayed = replayer.get(callback).await;
    assert_eq!(replayed.status, 400, "{}", replayed.body);
    assert!(
        replayed.body.contains("not valid any more"),
        "{}",
        replayed.body
    );
    assert!(!logged_in(&mut replayer).await);

    // A tampered state names no attempt.
    let mut browser = Browser::new(&server.base_url);
    let Answer::Query(callback) = to_the_idp_and_back(&mut browser, &ann_id).await else {
        panic!("query mode answered with a form")
    };
    let at = callback.find("state=").unwrap() + 6;
    let mut tampered = callback.clone();
    let flipped = if &callback[at..=at] == "a" { "b" } else { "a" };
    tampered.replace_range(at..=at, flipped);
    let page = browser.get(&tampered).await;
    assert_eq!(page.status, 400, "{}", page.body);
    assert!(!logged_in(&mut browser).await);

    // form_post with ES256, after the IdP left the group: the POST from the IdP's origin is
    // accepted at the callback, and the member leaves the mapped team.
    idp.set_account(&Account::new(&ann_id, format!("{ann_id}@corp.test")).name("Ann Example"))
        .await;
    let es256 = idp
        .register_client(&ClientSpec::new(callback_of(&server)).alg(SigningAlg::Es256))
        .await;
    use_client(&server, &idp, &es256, "form_post").await;
    let mut browser = Browser::new(&server.base_url);
    let answer = to_the_idp_and_back(&mut browser, &ann_id).await;
    assert!(
        matches!(answer, Answer::Form(_)),
        "form_post answers with a form"
    );
    let done = deliver(&mut browser, &answer, &idp).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert!(logged_in(&mut browser).await);
    assert!(team_members(&server, &team).await.is_empty());

    // EdDSA, then a rotated key: the relying party fetches the new key set and goes on.
    let eddsa = idp
        .register_client(&ClientSpec::new(callback_of(&server)).alg(SigningAlg::EdDsa))
        .await;
    use_client(&server, &idp, &eddsa, "query").await;
    for round in ["before", "after"] {
        if round == "after" {
            idp.rotate_client_key(&eddsa).await;
        }
        let mut browser = Browser::new(&server.base_url);
        let answer = to_the_idp_and_back(&mut browser, &ann_id).await;
        let done = deliver(&mut browser, &answer, &idp).await;
        assert_eq!(done.status, 303, "{round} the rotation: {}", done.body);
    }

    for (fault, expected) in [
        (Fault::WrongNonce, "nonce"),
        (Fault::Expired, "expired"),
        (Fault::WrongAudience, "audience"),
        (Fault::UnknownKey, "unknown key"),
    ] {
        refused(&server, &idp, &ann_id, fault, expected).await;
    }

    server
        .assert_audited(&[
            "sso.enable",
            "sso-identity.link",
            "member.add",
            "member.join-team",
            "member.leave-team",
        ])
        .await;
}

fn user_id(member: &Value) -> i64 {
    member["user"]["id"]
        .as_str()
        .and_then(|id| id.parse().ok())
        .unwrap_or_else(|| panic!("a user id in {member}"))
}

/// The user ids in `team` (as the API created it).
async fn team_members(server: &TestServer, team: &Value) -> Vec<i64> {
    let team_id: i64 = team["id"].as_str().unwrap().parse().unwrap();
    let db = server.db().await;
    let mut conn = db.read_latest().await.unwrap();
    errhound_store::teams::members(&mut conn.conn(), team_id)
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.id)
        .collect()
}

/// In headless Chromium: the organization's login page, the provider's own login form, and
/// back logged in, with the answer as a redirect and as a cross-site form POST.
#[tokio::test]
async fn ui_browser_logs_in_through_the_openid_provider() {
    let server = TestServer::start(binary()).await;
    let idp = OidcIdp::shared();
    server.create_team("eng", "Engineering").await;
    for mode in ["query", "form_post"] {
        let account = format!("browser-{mode}-{}", std::process::id());
        let email = format!("{account}@corp.test");
        idp.set_account(&Account::new(&account, &email)).await;
        let client = idp
            .register_client(&ClientSpec::new(callback_of(&server)))
            .await;
        use_client(&server, &idp, &client, mode).await;
        crate::ui::run_browser_tests(
            &server,
            "sso.test.mjs",
            &[
                ("OIDC_ISSUER", idp.issuer().to_owned()),
                ("OIDC_MODE", mode.to_owned()),
                ("OIDC_ACCOUNT", account),
                ("OIDC_EMAIL", email),
            ],
        );
    }
}

/// The settings page: an owner tries a configuration through the real provider before saving
/// it (the identity is shown, nothing is saved, nobody else is logged in), then saves it.
#[tokio::test]
async fn owners_test_a_configuration_on_the_settings_page_before_saving_it() {
    let server = TestServer::start(binary()).await;
    let idp = OidcIdp::shared();
    let account = format!("tester-{}", std::process::id());
    idp.set_account(
        &Account::new(&account, format!("{account}@corp.test"))
            .name("Tess Tester")
            .groups(["qa"]),
    )
    .await;
    let client = idp
        .register_client(&ClientSpec::new(callback_of(&server)))
        .await;
    let mut browser = Browser::new(&server.base_url);
    browser.log_in_as_admin().await;
    let page = browser.get("/settings/errhound/sso/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("OpenID Connect"), "{}", page.body);
    let page = browser.get("/settings/errhound/sso/?provider=oidc").await;
    assert!(page.body.contains("name=\"issuer\""), "{}", page.body);
    let csrf = field_of(&page.body, "csrf").expect("a CSRF field");
    let form = [
        ("csrf", csrf.as_str()),
        ("provider", "oidc"),
        ("issuer", idp.issuer()),
        ("client_id", client.id.as_str()),
        ("client_secret", client.secret.as_str()),
        ("response_mode", "query"),
        ("default_role", "member"),
        ("allowed_domains", "corp.test"),
        ("group_mappings", ""),
    ];

    // An invalid configuration is shown again with its errors, nothing started.
    let mut invalid = form.to_vec();
    invalid[2] = ("issuer", "not a url");
    let refused = browser
        .post("/settings/errhound/sso/test/", &invalid, None)
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);

    let started = browser
        .post("/settings/errhound/sso/test/", &form, None)
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    let target = refresh_target(&started.body).expect("a page that goes on to the IdP");
    let mut next = format!("{target}&login_hint={account}");
    let callback = callback_of(&server);
    for _ in 0..10 {
        if next.starts_with(&callback) {
            break;
        }
        let page = browser.get(&next).await;
        assert!([302, 303].contains(&page.status), "{}", page.body);
        next = if page.location.starts_with('/') {
            format!("{}{}", idp.issuer(), page.location)
        } else {
            page.location
        };
    }
    let tested = browser.get(&next).await;
    assert_eq!(tested.status, 200, "{}", tested.body);
    assert!(
        tested.body.contains("Single sign-on works"),
        "{}",
        tested.body
    );
    for shown in [account.as_str(), "Tess Tester", "qa", "(verified)"] {
        assert!(tested.body.contains(shown), "{shown} in {}", tested.body);
    }
    let (status, _) = server.api_get(PROVIDER).await;
    assert_eq!(status, 204, "a test saves nothing");
    let (_, members) = server.api_get("organizations/errhound/members/").await;
    assert!(
        !members.to_string().contains(&account),
        "nobody provisioned"
    );

    let saved = browser.post("/settings/errhound/sso/", &form, None).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let (status, provider) = server.api_get(PROVIDER).await;
    assert_eq!(status, 200, "{provider}");
    assert_eq!(provider["allowed_domains"], json!(["corp.test"]));
    let page = browser.get("/settings/errhound/sso/").await;
    assert!(
        page.body.contains("saved; leave blank to keep it"),
        "{}",
        page.body
    );
    assert!(
        !page.body.contains(&client.secret),
        "the secret is never shown back"
    );
}

/// By default an identity provider on a private address is refused before anything is sent
/// (an organization's owner must not make the server fetch from its network), with the key
/// that allows it named.
#[tokio::test]
async fn an_identity_provider_on_a_private_address_is_refused_by_default() {
    let options = errhound_test_utils::ServerOptions {
        env: vec![(
            "ERRHOUND_AUTH__SSO_ALLOW_PRIVATE_IDP".to_owned(),
            "false".to_owned(),
        )],
        ..Default::default()
    };
    let server = TestServer::start_with(binary(), options).await;
    server.create_team("eng", "Engineering").await;
    let idp = OidcIdp::shared();
    let client = idp
        .register_client(&ClientSpec::new(callback_of(&server)))
        .await;
    use_client(&server, &idp, &client, "query").await;
    let mut browser = Browser::new(&server.base_url);
    let page = browser.get("/auth/login/errhound/").await;
    let csrf = field_of(&page.body, "csrf").expect("a CSRF field");
    let refused = browser
        .post("/auth/login/errhound/", &[("csrf", &csrf)], None)
        .await;
    assert_eq!(refused.status, 502, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("not a public address; set auth.sso_allow_private_idp"),
        "{}",
        refused.body
    );
}

/// In headless Chromium: an owner finds the settings page, tries an OpenID Connect
/// configuration through the real provider's login form, sees the identity, and saves it.
#[tokio::test]
async fn ui_browser_an_owner_tests_and_saves_a_configuration() {
    let server = TestServer::start(binary()).await;
    let idp = OidcIdp::shared();
    let account = format!("owner-test-{}", std::process::id());
    idp.set_account(&Account::new(&account, format!("{account}@corp.test")))
        .await;
    let client = idp
        .register_client(&ClientSpec::new(callback_of(&server)))
        .await;
    crate::ui::run_browser_tests(
        &server,
        "sso.test.mjs",
        &[
            ("OIDC_ISSUER", idp.issuer().to_owned()),
            ("OIDC_MODE", "settings".to_owned()),
            ("OIDC_ACCOUNT", account),
            ("OIDC_CLIENT_ID", client.id.clone()),
            ("OIDC_CLIENT_SECRET", client.secret.clone()),
        ],
    );
    let (status, provider) = server.api_get(PROVIDER).await;
    assert_eq!(status, 200, "saved: {provider}");
    assert_eq!(provider["allowed_domains"], serde_json::json!([]));
}
