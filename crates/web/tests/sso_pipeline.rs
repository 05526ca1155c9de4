//! The single sign-on pipeline over HTTP with a provider of the test's own (an "identity
//! provider" that is a form the test fills in): the web layer runs any provider registered in
//! the registry, and everything around it (the single-use state bound to the browser, the
//! callback outside CSRF, linking, provisioning, require-SSO, group sync) holds whatever the
//! provider. The real providers (OpenID Connect, GitHub, SAML) are tested end to end in the
//! `errhound` e2e suite.

#![allow(clippy::unwrap_used, clippy::expect_used, reason = "tests")]

use std::net::SocketAddr;
use std::sync::Arc;

use errhound_domain::Role;
use errhound_domain::plugin::BoxFuture;
use errhound_domain::plugin::settings::SettingValues;
use errhound_domain::sso::providers::ProviderDescription;
use errhound_domain::sso::{
    Attempt, CallbackRequest, GroupMapping, Identity, SsoError, SsoProvider, StepOutcome,
};
use errhound_queue::{Spool, SpoolOptions};
use errhound_store::auth_providers::{self, ProviderSettings};
use errhound_store::payload::PayloadDictionaries;
use errhound_store::{Db, audit, orgs, teams, users};
use errhound_test_utils::browser::{Browser, Page, field_of, refresh_target};
use errhound_web::AppState;
use errhound_web::sso::{ProviderContext, ProviderKind, Registry};

/// Where the test's "identity provider" lives: never contacted, the test plays it.
const IDP: &str = "http://idp.invalid/form";

/// A provider in one step: it sends the browser to a form and takes what comes back as the
/// identity (`sub`, `email`, `verified`, `name`, `groups` comma-separated).
struct FormProvider;

impl SsoProvider for FormProvider {
    fn key(&self) -> &str {
        "form"
    }
    fn steps(&self) -> &[&'static str] {
        &["form"]
    }
    fn run_step<'a>(
        &'a self,
        _index: usize,
        request: &'a CallbackRequest,
        attempt: &'a mut Attempt,
    ) -> BoxFuture<'a, Result<StepOutcome, SsoError>> {
        Box::pin(async move {
            if !request.is_post || request.param("sub").is_none() {
                return Ok(StepOutcome::Redirect(format!(
                    "{IDP}?state={}",
                    request.resume_state
                )));
            }
            for field in ["sub", "email", "verified", "name", "groups"] {
                if let Some(value) = request.param(field) {
                    attempt.bind(field, value);
                }
            }
            Ok(StepOutcome::Next)
        })
    }
    fn build_identity(&self, attempt: &Attempt) -> Result<Identity, SsoError> {
        let field = |name: &str| attempt.fetch(name).unwrap_or_default().to_owned();
        Ok(Identity {
            id: field("sub"),
            email: field("email"),
            name: attempt.fetch("name").map(str::to_owned),
            email_verified: field("verified") == "1",
            groups: field("groups")
                .split(',')
                .filter(|g| !g.is_empty())
                .map(str::to_owned)
                .collect(),
        })
    }
}

struct FormKind;

impl ProviderKind for FormKind {
    fn key(&self) -> &'static str {
        "form"
    }
    fn description(&self) -> Option<ProviderDescription> {
        Some(ProviderDescription {
            key: "form",
            title: "The test form",
            settings: vec![],
        })
    }
    fn build(
        &self,
        _config: &SettingValues,
        _context: &ProviderContext,
    ) -> Result<Arc<dyn SsoProvider>, SsoError> {
        Ok(Arc::new(FormProvider))
    }
}

/// A running web server with the form provider, organization `acme` set up with it.
struct World {
    db: Db,
    base: String,
    org_id: i64,
    provider_id: i64,
    _spool_dir: tempfile::TempDir,
    _database: errhound_test_utils::TestDb,
}

async fn world(
    database: errhound_test_utils::TestDb,
    require_sso: bool,
    mappings: &[GroupMapping],
) -> World {
    let db = database.db.clone();
    let _ = tracing_subscriber::fmt().with_test_writer().try_init();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let spool_dir = tempfile::tempdir().unwrap();
    let spool = Spool::open(spool_dir.path(), SpoolOptions::default())
        .await
        .unwrap();
    let config = errhound_config::Config {
        public_url: Some(format!("http://{addr}")),
        ..errhound_config::Config::default()
    };
    let state = AppState::new(
        db.clone(),
        spool.into(),
        Arc::new(PayloadDictionaries::new()),
        config,
        None,
    )
    .with_server_key(Arc::new(errhound_notify::ServerKey::generate()))
    .with_sso(Registry::with_kinds(vec![Arc::new(FormKind)]));
    let app = errhound_web::router(state);
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let mut conn = db.write().await.unwrap();
    let org = orgs::create(&mut conn.conn(), "acme", "Acme", 1)
        .await
        .unwrap();
    let provider = auth_providers::create(
        &mut conn.conn(),
        org.id,
        &ProviderSettings {
            provider: "form",
            config: "{}",
            default_role: Role::Member,
            require_sso,
            allowed_domains: &["corp.test".to_owned()],
            group_mappings: mappings,
        },
        1,
    )
    .await
    .unwrap();
    drop(conn);
    World {
        db,
        base: format!("http://{addr}"),
        org_id: org.id,
        provider_id: provider.id,
        _spool_dir: spool_dir,
        _database: database,
    }
}

/// The steps of a login through the form provider.
trait FormLogin {
    /// Starts the SSO login of `acme`: the state the identity provider got.
    async fn start_login(&mut self) -> String;
    /// The identity provider's answer: a cross-site form POST to the callback.
    async fn answer(&mut self, state: &str, identity: &[(&str, &str)]) -> Page;
}

impl FormLogin for Browser {
    async fn start_login(&mut self) -> String {
        let page = self.get("/auth/login/acme/").await;
        assert_eq!(page.status, 200, "{}", page.body);
        assert!(page.body.contains("The test form"), "{}", page.body);
        let csrf = csrf_of(&page.body);
        let started = self
            .post("/auth/login/acme/", &[("csrf", &csrf)], None)
            .await;
        // A page that goes on by itself (a redirect would break the CSP's form-action).
        assert_eq!(started.status, 200, "{}", started.body);
        let target = refresh_target(&started.body).expect("a page that goes on");
        let state = target
            .strip_prefix(&format!("{IDP}?state="))
            .unwrap_or_else(|| panic!("went to {target}"))
            .to_owned();
        assert!(self.cookies.contains_key("errhound_sso"));
        state
    }

    async fn answer(&mut self, state: &str, identity: &[(&str, &str)]) -> Page {
        let mut form = vec![("state", state)];
        form.extend_from_slice(identity);
        self.post("/auth/sso/", &form, Some("http://idp.invalid"))
            .await
    }
}

fn csrf_of(html: &str) -> String {
    field_of(html, "csrf").expect("a CSRF field")
}

async fn audit_actions(db: &Db, org_id: i64) -> Vec<String> {
    let mut conn = db.read_latest().await.unwrap();
    let mut actions: Vec<String> = audit::list(&mut conn.conn(), org_id, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|e| e.action.map(|a| a.as_str().to_owned()))
        .collect();
    actions.sort();
    actions
}

const ANN: [(&str, &str); 4] = [
    ("sub", "ann-1"),
    ("email", "ann@corp.test"),
    ("verified", "0"),
    ("name", "Ann"),
];

#[tokio::test]
async fn a_new_person_is_provisioned_and_the_state_continues_once_in_its_browser() {
    for database in errhound_test_utils::engines().await {
        provisioned_once(database).await;
    }
}

async fn provisioned_once(database: errhound_test_utils::TestDb) {
    let world = world(database, false, &[]).await;
    let mut browser = Browser::new(&world.base);
    let state = browser.start_login().await;

    // Another browser with the same state (leaked, or forged) continues nothing, and the
    // attempt is gone for the right browser too.
    let mut thief = Browser::new(&world.base);
    let stolen = thief.answer(&state, &ANN).await;
    assert_eq!(stolen.status, 400, "{}", stolen.body);
    assert!(
        stolen.body.contains("not valid any more"),
        "{}",
        stolen.body
    );
    let after_theft = browser.answer(&state, &ANN).await;
    assert_eq!(after_theft.status, 400);

    // A tampered state continues nothing.
    let state = browser.start_login().await;
    let tampered = format!("{}0", &state[..state.len() - 1]);
    assert_eq!(browser.answer(&tampered, &ANN).await.status, 400);

    // The identity provider's cross-site POST logs the new person in as a member.
    let state = browser.start_login().await;
    let done = browser.answer(&state, &ANN).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(done.location, "/organizations/acme/issues/");
    assert_eq!(browser.get("/organizations/acme/issues/").await.status, 200);
    let mut conn = world.db.read_latest().await.unwrap();
    let ann = users::find_by_email(&mut conn.conn(), "ann@corp.test")
        .await
        .unwrap()
        .expect("provisioned");
    assert!(ann.password_hash.is_none());
    assert_eq!(
        orgs::member_role(&mut conn.conn(), world.org_id, ann.id)
            .await
            .unwrap(),
        Some(Role::Member)
    );
    drop(conn);
    assert_eq!(
        audit_actions(&world.db, world.org_id).await,
        ["member.add", "sso-identity.link"]
    );

    // The same callback again (a replay) logs nobody in.
    let mut replayer = Browser::new(&world.base);
    replayer.cookies = browser.cookies.clone();
    replayer.cookies.remove("errhound_session");
    let replayed = replayer.answer(&state, &ANN).await;
    assert_eq!(replayed.status, 400, "{}", replayed.body);
    assert!(
        !replayer.cookies.contains_key("errhound_session") || {
            replayer.get("/organizations/acme/issues/").await.status != 200
        }
    );

    // The next login finds the link: nothing new is made.
    let mut again = Browser::new(&world.base);
    let state = again.start_login().await;
    assert_eq!(again.answer(&state, &ANN).await.status, 303);
    assert_eq!(
        audit_actions(&world.db, world.org_id).await,
        ["member.add", "sso-identity.link"]
    );
}

#[tokio::test]
async fn an_existing_account_links_only_with_its_password_or_a_verified_allowed_address() {
    let world = world(errhound_test_utils::sqlite().await, false, &[]).await;
    let hash = errhound_web::password::hash_password("bob-password-1").unwrap();
    let mut conn = world.db.write().await.unwrap();
    for email in ["bob@corp.test", "cy@corp.test"] {
        users::create(&mut conn.conn(), email, "", Some(&hash), false, 1)
            .await
            .unwrap();
    }
    drop(conn);

    // An unverified address: the account's password is asked for.
    let mut browser = Browser::new(&world.base);
    let state = browser.start_login().await;
    let bob = [
        ("sub", "bob-1"),
        ("email", "bob@corp.test"),
        ("verified", "0"),
    ];
    let confirm = browser.answer(&state, &bob).await;
    assert_eq!(confirm.status, 200, "{}", confirm.body);
    assert!(
        confirm.body.contains("Link your account"),
        "{}",
        confirm.body
    );
    let form_state = field_of(&confirm.body, "state").unwrap();
    let wrong = browser
        .post(
            "/auth/sso/",
            &[("state", &form_state), ("password", "guess")],
            None,
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.body);
    // The first form's state is used up; the new page's state continues.
    let stale = browser
        .post(
            "/auth/sso/",
            &[("state", &form_state), ("password", "bob-password-1")],
            None,
        )
        .await;
    assert_eq!(stale.status, 400);
    let state = browser.start_login().await;
    let confirm = browser.answer(&state, &bob).await;
    let form_state = field_of(&confirm.body, "state").unwrap();
    let linked = browser
        .post(
            "/auth/sso/",
            &[("state", &form_state), ("password", "bob-password-1")],
            None,
        )
        .await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    assert_eq!(browser.get("/organizations/acme/issues/").await.status, 200);

    // A verified address in an allowed domain links by itself.
    let mut browser = Browser::new(&world.base);
    let state = browser.start_login().await;
    let cy = [
        ("sub", "cy-1"),
        ("email", "cy@corp.test"),
        ("verified", "1"),
    ];
    assert_eq!(browser.answer(&state, &cy).await.status, 303);

    // Another domain is refused.
    let mut browser = Browser::new(&world.base);
    let state = browser.start_login().await;
    let eve = [
        ("sub", "eve-1"),
        ("email", "eve@else.test"),
        ("verified", "1"),
    ];
    let refused = browser.answer(&state, &eve).await;
    assert_eq!(refused.status, 403, "{}", refused.body);

    assert_eq!(
        audit_actions(&world.db, world.org_id).await,
        [
            "member.add",
            "member.add",
            "sso-identity.link",
            "sso-identity.link"
        ]
    );

    // Unlinking from the account page (CSRF-protected like every other page) is audited.
    let page = browser_logged_in_as_cy(&world).await;
    let (mut cy_browser, identities) = page;
    let id = identities
        .split("data-identity=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("an identity row")
        .to_owned();
    let csrf = csrf_of(&identities);
    let path = format!("/settings/account/identities/{id}/unlink/");
    let forged = cy_browser
        .post(&path, &[("csrf", &csrf)], Some("http://evil.example"))
        .await;
    assert_eq!(forged.status, 403);
    let unlinked = cy_browser.post(&path, &[("csrf", &csrf)], None).await;
    assert_eq!(unlinked.status, 303, "{}", unlinked.body);
    assert!(
        audit_actions(&world.db, world.org_id)
            .await
            .contains(&"sso-identity.unlink".to_owned())
    );
}

async fn browser_logged_in_as_cy(world: &World) -> (Browser, String) {
    let mut browser = Browser::new(&world.base);
    let state = browser.start_login().await;
    let cy = [
        ("sub", "cy-1"),
        ("email", "cy@corp.test"),
        ("verified", "1"),
    ];
    assert_eq!(browser.answer(&state, &cy).await.status, 303);
    let page = browser.get("/settings/account/identities/").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Acme"), "{}", page.body);
    (browser, page.body)
}

#[tokio::test]
async fn a_required_sso_sends_password_sessions_to_it_and_teams_follow_the_groups() {
    let world = world(errhound_test_utils::sqlite().await, true, &[]).await;
    let mut conn = world.db.write().await.unwrap();
    let eng = teams::create(&mut conn.conn(), world.org_id, "eng", "Engineering", 1)
        .await
        .unwrap();
    let ops = teams::create(&mut conn.conn(), world.org_id, "ops", "Operations", 1)
        .await
        .unwrap();
    let mappings = [
        GroupMapping {
            group: "engineers".into(),
            team_id: eng.id,
        },
        GroupMapping {
            group: "oncall".into(),
            team_id: ops.id,
        },
    ];
    let stored = auth_providers::get(&mut conn.conn(), world.org_id)
        .await
        .unwrap()
        .unwrap();
    auth_providers::update(
        &mut conn.conn(),
        world.org_id,
        &ProviderSettings {
            provider: "form",
            config: "{}",
            default_role: Role::Member,
            require_sso: true,
            allowed_domains: &stored.allowed_domains,
            group_mappings: &mappings,
        },
        2,
    )
    .await
    .unwrap();
    let hash = errhound_web::password::hash_password("dan-password-1").unwrap();
    let dan = users::create(&mut conn.conn(), "dan@corp.test", "", Some(&hash), false, 1)
        .await
        .unwrap();
    orgs::add_member(&mut conn.conn(), world.org_id, dan.id, Role::Member, 1)
        .await
        .unwrap();
    drop(conn);
    assert_eq!(world.provider_id, stored.id);

    // A password session is sent to the organization's login.
    let mut browser = Browser::new(&world.base);
    let page = browser.get("/auth/login/").await;
    let csrf = csrf_of(&page.body);
    let login = browser
        .post(
            "/auth/login/",
            &[
                ("csrf", &csrf),
                ("email", "dan@corp.test"),
                ("password", "dan-password-1"),
            ],
            None,
        )
        .await;
    assert_eq!(login.status, 303, "{}", login.body);
    let issues = browser.get("/organizations/acme/issues/").await;
    assert_eq!(issues.status, 303);
    assert_eq!(
        issues.location,
        "/auth/login/acme/?next=%2Forganizations%2Facme%2Fissues%2F"
    );

    // Logged in through it (linking their account, logged in here), the page opens, and the
    // teams follow the groups at each login.
    let state = browser.start_login().await;
    let dan_in = |groups: &'static str| {
        [
            ("sub", "dan-1"),
            ("email", "dan@corp.test"),
            ("verified", "0"),
            ("groups", groups),
        ]
    };
    let done = browser.answer(&state, &dan_in("engineers,oncall")).await;
    assert_eq!(done.status, 303, "{}", done.body);
    assert_eq!(browser.get("/organizations/acme/issues/").await.status, 200);
    let team_ids = |db: Db| async move {
        let mut conn = db.read_latest().await.unwrap();
        teams::team_ids_of_user(&mut conn.conn(), world.org_id, dan.id)
            .await
            .unwrap()
    };
    let mut joined = team_ids(world.db.clone()).await;
    joined.sort();
    assert_eq!(joined, [eng.id, ops.id]);

    let mut browser = Browser::new(&world.base);
    let state = browser.start_login().await;
    assert_eq!(
        browser.answer(&state, &dan_in("engineers")).await.status,
        303
    );
    assert_eq!(team_ids(world.db.clone()).await, [eng.id]);
    let actions = audit_actions(&world.db, world.org_id).await;
    assert_eq!(
        actions
            .iter()
            .filter(|a| a.as_str() == "member.join-team")
            .count(),
        2
    );
    assert!(actions.contains(&"member.leave-team".to_owned()));
}
