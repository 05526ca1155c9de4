//! Test helpers shared by the workspace's integration tests (a dev-dependency only).
//!
//! * [`engines`] gives a fresh, migrated store per engine, so a test body runs on SQLite and on a
//!   real PostgreSQL. PostgreSQL comes from `TEST_POSTGRES_URL` (a server the test script
//!   started on loopback); without it a private cluster is started on demand with the local
//!   PostgreSQL binaries, so a store test is never silently skipped.
//! * [`SmtpSink`] is a real SMTP server (aiosmtpd) on loopback that records what it receives.
//! * [`SamlIdp`] is a real SAML 2.0 identity provider (pysaml2) on loopback; [`TestKey`] makes
//!   signing keys with self-signed certificates for tests that sign SAML themselves.
//! * [`HttpReceiver`] is an HTTP server on loopback that records requests and checks their
//!   signatures (webhooks, signed chat); [`JiraStandIn`] follows Jira's REST API shapes.
//! * [`OidcIdp`] is a real OpenID provider (oidc-provider on node) for the single-sign-on tests:
//!   clients and accounts registered at run time, login by `login_hint` or an HTML form, and
//!   per-client ID token faults.
#![allow(clippy::unwrap_used, reason = "test helpers fail loudly")]

pub mod browser;
pub mod github;
pub mod http_receiver;
pub mod oidc_idp;
pub mod postgres;
pub mod saml_idp;
pub mod sdk;
pub mod server;
pub mod smtp;

pub use http_receiver::{HttpReceiver, JiraStandIn, ReceivedRequest, Verify};
pub use oidc_idp::OidcIdp;
pub use saml_idp::{IdpAnswer, SamlIdp, TestKey};
pub use server::{ServerOptions, TestServer};
pub use smtp::{SinkTls, SmtpSink, SmtpSinkOptions};

use errhound_store::{Db, DbOptions};

/// A migrated store and whatever keeps it alive.
pub struct TestDb {
    /// The store.
    pub db: Db,
    /// `sqlite` or `postgres`.
    pub engine: &'static str,
    /// The connection URL.
    pub url: String,
    _dir: Option<tempfile::TempDir>,
}

/// A fresh migrated SQLite store in a temporary directory.
pub async fn sqlite() -> TestDb {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("test.db").display());
    let db = Db::connect(&DbOptions {
        url: url.clone(),
        replica_urls: vec![],
        max_connections: 4,
    })
    .await
    .unwrap();
    db.migrate().await.unwrap();
    TestDb {
        db,
        engine: "sqlite",
        url,
        _dir: Some(dir),
    }
}

/// A fresh migrated PostgreSQL database on the test server.
pub async fn postgres() -> TestDb {
    let url = postgres::fresh_database().await;
    let db = Db::connect(&DbOptions {
        url: url.clone(),
        replica_urls: vec![],
        max_connections: 4,
    })
    .await
    .unwrap();
    db.migrate().await.unwrap();
    TestDb {
        db,
        engine: "postgres",
        url,
        _dir: None,
    }
}

/// One fresh store per engine.
pub async fn engines() -> Vec<TestDb> {
    vec![sqlite().await, postgres().await]
}
