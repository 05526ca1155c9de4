//! Single sign-on, as Sentry's auth-provider pipeline: a **provider** (OpenID Connect, GitHub,
//! SAML 2.0, or any other) is a sequence of **steps**; every step answers a request at the one
//! callback path (`/auth/sso/`, GET or POST), binds what it learned to the login **attempt** and
//! either sends the browser somewhere (the identity provider) or hands over to the next step;
//! after the last step the provider builds the **identity** (id, e-mail, name, whether the
//! e-mail is verified, groups).
//!
//! This module holds what involves no I/O: the provider trait ([`SsoProvider`], implemented with
//! HTTP in `web`), the attempt and its validity ([`pipeline`]), who an identity logs in as
//! ([`linking`]) and which teams its groups put the member in ([`groups`]). The attempt itself is
//! kept server-side by `store`, found by its single-use `state` value.

pub mod groups;
pub mod linking;
pub mod pipeline;
pub mod providers;

use std::collections::BTreeMap;

pub use groups::{GroupMapping, TeamSync, team_sync};
pub use linking::{Found, LinkDecision, LinkRefusal, OrgSsoPolicy, UserRef, decide, email_domain};
pub use pipeline::{Advance, Attempt, AttemptError, Flow, advance};

use crate::plugin::BoxFuture;

/// Who the identity provider says the person is.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Identity {
    /// The provider's stable id for the person (OIDC `sub`, a GitHub user id, a SAML NameID).
    pub id: String,
    /// Their e-mail address.
    pub email: String,
    /// Their display name, when the provider gives one.
    pub name: Option<String>,
    /// Whether the provider vouches for the e-mail (OIDC `email_verified`, a GitHub primary
    /// verified address); only a verified address may link an existing account by itself.
    pub email_verified: bool,
    /// The groups the provider puts them in (OIDC `groups` claim, SAML attribute), for team sync.
    pub groups: Vec<String>,
}

/// A request at the callback path, as a step sees it: GET query and POST form alike (OIDC's
/// `form_post` and SAML's POST binding answer with a form).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallbackRequest {
    /// The query parameters, then the form fields (a form field wins over a query parameter of
    /// the same name).
    pub params: BTreeMap<String, String>,
    /// Whether it came as a POST.
    pub is_post: bool,
    /// The `state` value the attempt resumes under when this step sends the browser away: a
    /// provider passes it through the identity provider (OAuth's `state`, SAML's
    /// `RelayState`), and the callback finds the attempt by it. The web layer mints a new one
    /// for every request, so each value resumes the attempt once.
    pub resume_state: String,
}

impl CallbackRequest {
    /// The parameter `name`, when present.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params.get(name).map(String::as_str)
    }
}

/// What a step answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// Send the browser there (the identity provider's authorization or SSO page); the attempt
    /// stays on this step, which handles the answer that comes back.
    Redirect(String),
    /// This step is done (what it learned is bound to the attempt): run the next one now.
    Next,
}

/// Why a login through a provider failed: shown to the person on a clear page, logged, and the
/// attempt ends.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SsoError {
    /// The identity provider answered with an error (e.g. `access_denied`).
    #[error("the identity provider refused the login: {0}")]
    Refused(String),
    /// The answer is not what the attempt expects (a wrong `state`, nonce, audience or
    /// signature; an expired token or assertion; a replay).
    #[error("the identity provider's answer is not valid: {0}")]
    InvalidAnswer(String),
    /// The provider could not be reached or answered nonsense.
    #[error("the identity provider could not be used: {0}")]
    Unavailable(String),
    /// The identity lacks what a login needs (an id, an e-mail).
    #[error("the identity provider gave no {0}")]
    MissingClaim(&'static str),
    /// The attempt may not go on (expired, complete, the provider changed).
    #[error(transparent)]
    Attempt(#[from] AttemptError),
}

/// An identity provider's login, as a sequence of steps. Implementations do their own HTTP (the
/// token exchange, the JWKS); the pipeline ([`advance`]) only runs the steps in order.
pub trait SsoProvider: Send + Sync {
    /// The provider's key (`oidc`, `github`, `saml2`): the `provider` of Sentry's
    /// `auth-provider` API.
    fn key(&self) -> &str;

    /// The names of the steps, in order. They sign an attempt ([`Attempt::signature`]), so an
    /// attempt started before the provider's steps changed (an upgrade, a reconfiguration) is
    /// refused instead of resumed at the wrong step.
    fn steps(&self) -> &[&'static str];

    /// Runs step `index` for `request`, reading and binding state on `attempt`.
    fn run_step<'a>(
        &'a self,
        index: usize,
        request: &'a CallbackRequest,
        attempt: &'a mut Attempt,
    ) -> BoxFuture<'a, Result<StepOutcome, SsoError>>;

    /// The identity, from what the steps bound to `attempt`.
    fn build_identity(&self, attempt: &Attempt) -> Result<Identity, SsoError>;

    /// An answer no attempt asked for (SAML's IdP-initiated login), when the provider takes
    /// such answers: `None` (the default) when it does not. The caller accepts each answer once
    /// ([`Unsolicited::answer_id`]), since no single-use attempt protects it.
    fn unsolicited<'a>(
        &'a self,
        _request: &'a CallbackRequest,
    ) -> Option<BoxFuture<'a, Result<Unsolicited, SsoError>>> {
        None
    }
}

/// An answer no attempt asked for, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsolicited {
    /// Who it logs in.
    pub identity: Identity,
    /// The answer's own id (a SAML assertion's `ID`): accepted once.
    pub answer_id: String,
    /// Until when the answer could be presented, epoch ms (after it, it is refused anyway).
    pub valid_until_ms: i64,
}
