//! Single sign-on over HTTP: the providers that can run an organization's login (each a
//! [`ProviderKind`] that builds a configured [`SsoProvider`] from the organization's settings),
//! in one [`Registry`], and the HTTP client they share.
//!
//! The pipeline itself (steps, attempts, linking) is `domain::sso`; the routes are `ui::sso`.
//! A new provider is a new [`ProviderKind`] in [`Registry::standard`]: nothing else changes.

pub mod accounts;
pub mod flow;

use std::sync::Arc;
use std::time::Duration;

use errhound_domain::plugin::settings::SettingValues;
use errhound_domain::sso::{SsoError, SsoProvider};

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
    pub http: reqwest::Client,
}

/// A kind of provider (OpenID Connect, GitHub, SAML 2.0): builds the provider an organization
/// configured.
pub trait ProviderKind: Send + Sync {
    /// Its key, the `provider` of the `auth-provider` API (`domain::sso::providers`).
    fn key(&self) -> &'static str;

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
    http: reqwest::Client,
}

/// How long a call to an identity provider may take.
const IDP_TIMEOUT: Duration = Duration::from_secs(10);

impl Registry {
    /// The providers Errhound ships.
    pub fn standard() -> Registry {
        Registry::with_kinds(vec![])
    }

    /// A registry of `kinds` (tests add their own).
    pub fn with_kinds(kinds: Vec<Arc<dyn ProviderKind>>) -> Registry {
        Registry {
            kinds,
            http: idp_client(),
        }
    }

    /// The kind of `key`.
    pub fn find(&self, key: &str) -> Option<&Arc<dyn ProviderKind>> {
        self.kinds.iter().find(|kind| kind.key() == key)
    }

    /// The client providers use.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }
}

/// A client that follows no redirects (an identity provider's endpoint that redirects must not
/// lead a token exchange elsewhere; the oauth2 crate requires this against SSRF) and gives up
/// after [`IDP_TIMEOUT`].
fn idp_client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(IDP_TIMEOUT)
        .build()
        .unwrap_or_default()
}
