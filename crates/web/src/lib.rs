//! HTTP: the ingest endpoints SDKs send to, the Sentry-compatible REST API, health and metrics.
//!
//! Handlers are thin: extract, call the store or the queue, render. The error policy lives in
//! [`error`]: every failure becomes a JSON `{"detail": ...}` body with the status Sentry uses,
//! and unexpected errors are logged once there and become 500.

pub mod alert_rules;
pub mod api;
pub mod error;
mod health;
pub mod ingest;
pub mod invitations;
pub mod lifecycle;
pub mod password;
pub mod plugin_settings;
pub mod routes;
pub mod rule_preview;
pub mod sso;
pub mod sso_settings;
pub mod tickets;
pub mod ui;

use std::sync::Arc;

use axum::Router;
use errhound_config::Config;
use errhound_queue::Queue;
use errhound_store::Db;
use errhound_store::payload::PayloadDictionaries;
use metrics_exporter_prometheus::PrometheusHandle;

/// Everything a request handler may need. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub db: Db,
    /// The ingest queue (whichever engine this process runs).
    pub queue: Queue,
    /// The effective configuration.
    pub config: Arc<Config>,
    /// DSN keys, cached in memory so ingest does no database read per event.
    pub keys: ingest::KeyCache,
    /// Per-key rate limit windows (this process's counts).
    pub key_quotas: ingest::KeyQuotas,
    /// The memory budget for request bodies in flight.
    pub budget: ingest::BodyBudget,
    /// Bounds concurrent body decodes (see `ingest::DECODE_SLOTS`).
    pub decode_slots: Arc<tokio::sync::Semaphore>,
    /// Payload compression dictionaries, to read stored events.
    pub dictionaries: Arc<PayloadDictionaries>,
    /// Renders Prometheus metrics; `None` when no recorder is installed (tests).
    pub metrics: Option<PrometheusHandle>,
    /// Called with a project id after its processing settings changed, so the ingest worker
    /// of this process applies them to the next batch.
    pub settings_changed: SettingsHook,
    /// Sends mail (invitations, password resets); `None` when `[mail]` is not configured.
    pub mailer: Option<errhound_notify::Mailer>,
    /// The notification sender, with the plugin registry and the server key (plugin settings,
    /// test notifications); `None` in tests that build the state without it.
    pub alerting: Option<errhound_notify::deliver::Sender>,
    /// The single sign-on providers this server runs.
    pub sso: sso::Registry,
    /// Seals and opens secret settings (plugins', single sign-on's); `None` in tests that build
    /// the state without it.
    pub server_key: Option<Arc<errhound_notify::ServerKey>>,
}

/// See [`AppState::settings_changed`].
pub type SettingsHook = Arc<dyn Fn(i64) + Send + Sync>;

impl AppState {
    /// Builds the state from its parts.
    pub fn new(
        db: Db,
        queue: Queue,
        dictionaries: Arc<PayloadDictionaries>,
        config: Config,
        metrics: Option<PrometheusHandle>,
    ) -> AppState {
        let allow_private_idp = config.auth.sso_allow_private_idp;
        AppState {
            dictionaries,
            keys: ingest::KeyCache::new(db.clone()),
            key_quotas: ingest::KeyQuotas::new(),
            budget: ingest::BodyBudget::new(config.ingest.max_inflight_bytes),
            decode_slots: Arc::new(tokio::sync::Semaphore::new(ingest::DECODE_SLOTS)),
            db,
            queue,
            config: Arc::new(config),
            metrics,
            settings_changed: Arc::new(|_| {}),
            mailer: None,
            alerting: None,
            sso: sso::Registry::standard().allowing_private(allow_private_idp),
            server_key: None,
        }
    }

    /// Sets the mail transport.
    pub fn with_mailer(mut self, mailer: Option<errhound_notify::Mailer>) -> AppState {
        self.mailer = mailer;
        self
    }

    /// Sets the notification sender (see [`AppState::alerting`]).
    pub fn with_alerting(mut self, sender: errhound_notify::deliver::Sender) -> AppState {
        self.server_key = Some(sender.key.clone());
        self.alerting = Some(sender);
        self
    }

    /// Sets the server key (see [`AppState::server_key`]); [`AppState::with_alerting`] sets
    /// the sender's.
    pub fn with_server_key(mut self, key: Arc<errhound_notify::ServerKey>) -> AppState {
        self.server_key = Some(key);
        self
    }

    /// Sets the single sign-on providers (tests add their own).
    pub fn with_sso(mut self, registry: sso::Registry) -> AppState {
        self.sso = registry;
        self
    }

    /// Sets the hook called after a project's processing settings change.
    pub fn with_settings_hook(mut self, hook: SettingsHook) -> AppState {
        self.settings_changed = hook;
        self
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(api::routes().into_router(&state))
        // The web UI: its own session, CSRF and security-header layers apply to its routes only.
        .merge(ui::routes(&state))
        // Ingest paths may carry any prefix (`/sub/path/api/42/envelope/`), so they are matched
        // by the fallback rather than by the route table.
        .fallback(ingest::dispatch)
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(
            error::panic_response,
        ))
        .with_state(state)
}
