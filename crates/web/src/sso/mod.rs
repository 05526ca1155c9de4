//! Single sign-on over HTTP: the providers that can run an organization's login (each a
//! [`ProviderKind`] that builds a configured [`SsoProvider`] from the organization's settings),
//! in one [`Registry`], and the HTTP client they share.
//!
//! The pipeline itself (steps, attempts, linking) is `domain::sso`; the routes are `ui::sso`.
//! A new provider is a new [`ProviderKind`] in [`Registry::standard`]: nothing else changes.

pub mod accounts;
pub mod flow;
pub mod github;
pub mod http;
pub mod oidc;
pub mod saml;

use std::sync::Arc;

use errhound_domain::plugin::settings::SettingValues;
use errhound_domain::sso::providers::{self, ProviderDescription};
use errhound_domain::sso::{SsoError, SsoProvider};

pub use oidc::OidcKind;

/// What a provider needs to know about this server and the organization it logs in to.
#[derive(Clone)]
pub struct ProviderContext {
    /// The one callback URL (`<public url>/auth/sso/`), registered at the identity provider as
    /// the redirect URI (OIDC, GitHub) or the assertion consumer service (SAML).
    pub callback_url: String,
    /// This server's public URL, without a trailing slash.
    pub public_url: String,
    /// The organization's slug.
    pub organization: String,
    /// The client for calls to the identity provider (discovery, token exchange, JWKS).
    pub http: http::IdpClient,
}

impl ProviderContext {
    /// The context of the organization `organization` (its slug) on this server.
    pub fn new(state: &crate::AppState, organization: &str) -> ProviderContext {
        let public_url = state.config.public_url().trim_end_matches('/').to_owned();
        ProviderContext {
            callback_url: format!("{public_url}/auth/sso/"),
            public_url,
            organization: organization.to_owned(),
            http: state.sso.http().clone(),
        }
    }
}

/// A kind of provider (OpenID Connect, GitHub, SAML 2.0): builds the provider an organization
/// configured.
pub trait ProviderKind: Send + Sync {
    /// Its key, the `provider` of the `auth-provider` API (`domain::sso::providers`).
    fn key(&self) -> &'static str;

    /// Its title and configuration; the standard providers' are in `domain::sso::providers`.
    fn description(&self) -> Option<ProviderDescription> {
        providers::find(self.key())
    }

    /// The provider for `config` (the organization's settings with their secrets opened).
    fn build(
        &self,
        config: &SettingValues,
        context: &ProviderContext,
    ) -> Result<Arc<dyn SsoProvider>, SsoError>;
}

/// The provider kinds this server runs, by key.
#[derive(Clone)]
pub struct Registry {
    kinds: Vec<Arc<dyn ProviderKind>>,
    http: http::IdpClient,
}

impl Registry {
    /// The providers Errhound ships.
    pub fn standard() -> Registry {
        Registry::with_kinds(vec![
            Arc::new(OidcKind::new()),
            Arc::new(github::GithubKind),
            Arc::new(saml::SamlKind::new()),
        ])
    }

    /// A registry of `kinds` (tests add their own).
    pub fn with_kinds(kinds: Vec<Arc<dyn ProviderKind>>) -> Registry {
        Registry {
            kinds,
            http: http::IdpClient::new(false),
        }
    }

    /// The same, its identity providers allowed on private addresses or not
    /// (`auth.sso_allow_private_idp`; not by default).
    pub fn allowing_private(mut self, allow: bool) -> Registry {
        self.http = http::IdpClient::new(allow);
        self
    }

    /// The kind of `key`.
    pub fn find(&self, key: &str) -> Option<&Arc<dyn ProviderKind>> {
        self.kinds.iter().find(|kind| kind.key() == key)
    }

    /// The description of the provider `key`: of its kind here, else of the standard list (a
    /// provider can be set up before this server runs it).
    pub fn description(&self, key: &str) -> Option<ProviderDescription> {
        self.find(key)
            .and_then(|kind| kind.description())
            .or_else(|| providers::find(key))
    }

    /// The keys of every provider that can be set up.
    pub fn keys(&self) -> Vec<&'static str> {
        let mut keys: Vec<&'static str> = providers::all().iter().map(|p| p.key).collect();
        for kind in &self.kinds {
            if !keys.contains(&kind.key()) {
                keys.push(kind.key());
            }
        }
        keys
    }

    /// The client providers use.
    pub fn http(&self) -> &http::IdpClient {
        &self.http
    }
}
