//! Single sign-on attempts on both engines: a state value continues its attempt once, only in
//! the browser that began it and only before it expires; concurrent callbacks with the same
//! state continue it once; expired rows are deleted. Identities: one account per identity and
//! one identity per account at a provider, and they go with their provider.

use std::collections::BTreeMap;

use errhound_domain::Role;
use errhound_domain::sso::{Attempt, Flow};
use errhound_store::auth_providers::{self, ProviderSettings};
use errhound_store::expired::{self, Expiring};
use errhound_store::{Db, auth_identities, orgs, sso_attempts, users};
use errhound_test_utils::engines;

#[derive(sqlx::FromRow)]
struct StoredRow {
    id: String,
    binding: String,
}

const T: i64 = 1_800_000_000_000;
const BROWSER: &str = "cookie-of-the-browser-that-began";

fn attempt(organization_id: i64) -> Attempt {
    Attempt {
        organization_id,
        provider: "oidc".to_owned(),
        flow: Flow::Login,
        step: 1,
        signature: "login callback".to_owned(),
        user_id: None,
        state: BTreeMap::from([("nonce".to_owned(), "n-1".to_owned())]),
        expires_at: T + Attempt::LIFETIME_MS,
    }
}

async fn begin(db: &Db, attempt: &Attempt) -> String {
    let mut conn = db.write().await.unwrap();
    let state = sso_attempts::new_state();
    sso_attempts::begin(&mut conn.conn(), attempt, &state, BROWSER)
        .await
        .unwrap();
    state
}

async fn take(db: &Db, state: &str, binding: &str, now: i64) -> Option<Attempt> {
    let mut conn = db.write().await.unwrap();
    sso_attempts::take(&mut conn.conn(), state, binding, now)
        .await
        .unwrap()
}

async fn org(db: &Db) -> i64 {
    let mut conn = db.write().await.unwrap();
    orgs::create(&mut conn.conn(), "acme", "Acme", 1)
        .await
        .unwrap()
        .id
}

#[tokio::test]
async fn a_state_continues_its_attempt_once_in_its_browser_before_it_expires() {
    for t in engines().await {
        let org_id = org(&t.db).await;
        let begun = attempt(org_id);

        let state = begin(&t.db, &begun).await;
        assert_eq!(state.len(), 64, "{}", t.engine);
        assert_eq!(take(&t.db, &state, BROWSER, T).await, Some(begun.clone()));
        assert_eq!(
            take(&t.db, &state, BROWSER, T).await,
            None,
            "replayed: {}",
            t.engine
        );

        // Another browser (a forged or leaked state) continues nothing, and burns the state.
        let state = begin(&t.db, &begun).await;
        assert_eq!(take(&t.db, &state, "another-cookie", T).await, None);
        assert_eq!(take(&t.db, &state, BROWSER, T).await, None, "{}", t.engine);

        // Expired, or never begun.
        let state = begin(&t.db, &begun).await;
        assert_eq!(take(&t.db, &state, BROWSER, begun.expires_at).await, None);
        assert_eq!(take(&t.db, &"0".repeat(64), BROWSER, T).await, None);

        // Only hashes are stored: the database holds neither the state nor the binding.
        let state = begin(&t.db, &begun).await;
        let mut conn = t.db.read_latest().await.unwrap();
        let rows: Vec<StoredRow> =
            errhound_store::query::Query::new("SELECT id, binding FROM sso_attempts")
                .fetch_all(&mut conn.conn())
                .await
                .unwrap();
        drop(conn);
        assert!(!rows.is_empty());
        for row in rows {
            assert!(row.id != state && row.binding != BROWSER, "{}", t.engine);
        }
    }
}

#[tokio::test]
async fn concurrent_callbacks_with_one_state_continue_it_once() {
    for t in engines().await {
        let org_id = org(&t.db).await;
        let state = begin(&t.db, &attempt(org_id)).await;
        let callbacks = (0..4).map(|_| {
            let db = t.db.clone();
            let state = state.clone();
            tokio::spawn(async move { take(&db, &state, BROWSER, T).await })
        });
        let mut continued = 0;
        for callback in callbacks.collect::<Vec<_>>() {
            continued += usize::from(callback.await.unwrap().is_some());
        }
        assert_eq!(continued, 1, "{}", t.engine);
    }
}

#[tokio::test]
async fn expired_attempts_are_deleted() {
    for t in engines().await {
        let org_id = org(&t.db).await;
        let mut old = attempt(org_id);
        old.expires_at = T;
        begin(&t.db, &old).await;
        let fresh = begin(&t.db, &attempt(org_id)).await;
        let mut conn = t.db.write().await.unwrap();
        let deleted = expired::delete(&mut conn.conn(), Expiring::SsoAttempts, T, 10)
            .await
            .unwrap();
        drop(conn);
        assert_eq!(deleted, 1, "{}", t.engine);
        assert!(
            take(&t.db, &fresh, BROWSER, T).await.is_some(),
            "{}",
            t.engine
        );
    }
}

#[tokio::test]
async fn an_identity_links_one_account_and_goes_with_its_provider() {
    for t in engines().await {
        let org_id = org(&t.db).await;
        // Statement by statement: on PostgreSQL a refused link would abort a transaction.
        let mut conn = t.db.write().await.unwrap();
        let mut c = conn.conn();
        let settings = ProviderSettings {
            provider: "oidc",
            config: "{}",
            default_role: Role::Member,
            require_sso: false,
            allowed_domains: &[],
            group_mappings: &[],
        };
        let provider = auth_providers::create(&mut c, org_id, &settings, T)
            .await
            .unwrap();
        let ann = users::create(&mut c, "ann@corp.test", "Ann", None, false, T)
            .await
            .unwrap();
        let bob = users::create(&mut c, "bob@corp.test", "Bob", None, false, T)
            .await
            .unwrap();

        let linked = auth_identities::link(&mut c, provider.id, ann.id, "sub-1", "{}", T)
            .await
            .unwrap();
        assert_eq!(
            auth_identities::find(&mut c, provider.id, "sub-1")
                .await
                .unwrap(),
            Some(linked.clone())
        );
        assert_eq!(
            auth_identities::of_user(&mut c, provider.id, ann.id)
                .await
                .unwrap(),
            Some(linked.clone())
        );
        // The identity is Ann's, and Ann has one: neither can be linked again.
        for (user, ident) in [(bob.id, "sub-1"), (ann.id, "sub-2")] {
            let err = auth_identities::link(&mut c, provider.id, user, ident, "{}", T)
                .await
                .unwrap_err();
            assert!(err.is_unique_violation(), "{err} on {}", t.engine);
        }

        auth_identities::verified(&mut c, linked.id, r#"{"groups":["eng"]}"#, T + 5)
            .await
            .unwrap();
        let again = auth_identities::find(&mut c, provider.id, "sub-1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (again.last_verified, again.data.as_str()),
            (T + 5, r#"{"groups":["eng"]}"#)
        );

        assert!(
            auth_identities::unlink(&mut c, provider.id, ann.id)
                .await
                .unwrap()
        );
        assert!(
            !auth_identities::unlink(&mut c, provider.id, ann.id)
                .await
                .unwrap()
        );
        auth_identities::link(&mut c, provider.id, bob.id, "sub-1", "{}", T)
            .await
            .unwrap();
        // Removing the provider removes its links.
        assert!(auth_providers::delete(&mut c, org_id).await.unwrap());
        assert_eq!(
            auth_identities::find(&mut c, provider.id, "sub-1")
                .await
                .unwrap(),
            None,
            "{}",
            t.engine
        );
    }
}
