//! A login through an organization's provider, over the store: starting an attempt, resuming it
//! at the callback, and what the identity it ends with does (`domain::sso::linking` decides;
//! [`super::accounts`] applies). The UI handlers (`ui::sso`) only extract and render.
//!
//! The browser is bound to its attempt by a random value in a cookie of its own (`binding`):
//! the session cookie is `SameSite=Lax` and so absent from the identity provider's cross-site
//! form POST, while the binding cookie is sent with it (see `ui::sso`). The `state` value the
//! identity provider echoes finds the attempt; both must match, once.

use std::sync::Arc;

use errhound_domain::sso::{
    Advance, Attempt, CallbackRequest, Flow, Identity, SsoError, SsoProvider, advance,
};
use errhound_notify::deliver::settings_of;
use errhound_store::auth_providers::{self, AuthProvider};
use errhound_store::users::User;
use errhound_store::{StoreError, now_ms, orgs, sso_attempts, users};

use super::ProviderContext;
use super::accounts::{self, LoggedIn};
use crate::AppState;
use crate::password::verify_password;

/// Attempt state keys the pipeline itself uses (providers bind theirs without this prefix).
const NEXT: &str = "errhound.next";
/// The account whose password the attempt waits for (its identity is the provider's, rebuilt
/// from what the steps bound).
const PENDING_USER: &str = "errhound.user";
/// Wrong passwords so far on the confirmation page.
const PASSWORD_FAILURES: &str = "errhound.failures";
/// The configuration a setup test runs with (JSON: `provider`, `config` with its secrets
/// sealed): it is not saved yet, so the callback cannot read it from the organization.
const SETUP: &str = "errhound.setup";
/// Wrong passwords after which the attempt ends (the login page's throttle still applies to a
/// new one).
const MAX_PASSWORD_FAILURES: u32 = 5;

/// Why a login through a provider did not happen: every variant is shown on a page that says
/// what to do, and logged.
#[derive(Debug, thiserror::Error)]
pub enum SsoFailure {
    /// The organization does not exist or has no provider (or none this server runs).
    #[error("this organization has no single sign-on")]
    NoProvider,
    /// No open attempt has this state in this browser (tampered, replayed, expired, or started
    /// in another browser).
    #[error(
        "this login is not valid any more: it was used already, it expired, or it was started \
         in another browser. Start the login again."
    )]
    AttemptLost,
    /// The provider or its answer failed.
    #[error(transparent)]
    Sso(#[from] SsoError),
    /// The identity may not log in.
    #[error("single sign-on refused: {0}")]
    Refused(#[from] errhound_domain::sso::LinkRefusal),
    /// The server cannot open the provider's secrets.
    #[error("single sign-on needs the server key, which this server has not loaded")]
    NoServerKey,
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Where a request of the login leaves the browser.
#[derive(Debug)]
pub enum Step {
    /// Go there (the identity provider); the attempt waits under a new state.
    Redirect(String),
    /// An account has the identity's e-mail: its password must be given to link it. The form
    /// posts `state` and `password` to the callback.
    ConfirmPassword {
        /// The state the form resumes the attempt under.
        state: String,
        /// The account's e-mail.
        email: String,
        /// Whether a wrong password was given just now.
        failed: bool,
    },
    /// Logged in: the UI starts the session and goes to `next`.
    LoggedIn {
        /// Who, and what changed.
        login: LoggedIn,
        /// Where to go (a path on this server), when the login was started from a page.
        next: Option<String>,
    },
    /// A configuration test ended: who the provider says the person is (nobody logged in).
    Tested {
        /// The organization's slug.
        organization: String,
        /// The identity.
        identity: Identity,
    },
}

/// The organization's provider, configured, with what is stored of it.
struct Configured {
    stored: AuthProvider,
    provider: Arc<dyn SsoProvider>,
    organization: String,
}

/// The organization's provider as saved, or, for a setup test, as `setup` (the attempt's
/// [`SETUP`]) has it.
async fn configured(
    state: &AppState,
    organization_id: i64,
    slug: &str,
    setup: Option<&str>,
) -> Result<Configured, SsoFailure> {
    let stored = {
        let mut conn = state.db.read_latest().await?;
        auth_providers::get(&mut conn.conn(), organization_id).await?
    };
    let key = state.server_key.clone().ok_or(SsoFailure::NoServerKey)?;
    let (stored, provider_key, sealed) = match setup {
        Some(setup) => {
            let setup: serde_json::Value =
                serde_json::from_str(setup).map_err(|_| SsoFailure::AttemptLost)?;
            let provider_key = setup["provider"].as_str().unwrap_or_default().to_owned();
            // Before the first save there is no stored provider; a setup attempt ends on the
            // identity (`finish`) before the stored one would matter, so a blank one stands in.
            let stored = stored.unwrap_or_else(|| AuthProvider {
                id: 0,
                organization_id,
                provider: provider_key.clone(),
                config: String::new(),
                default_role: errhound_domain::Role::Member,
                require_sso: false,
                allowed_domains: vec![],
                group_mappings: vec![],
                created_at: 0,
                updated_at: 0,
            });
            (stored, provider_key, setup["config"].to_string())
        }
        None => {
            let stored = stored.ok_or(SsoFailure::NoProvider)?;
            let provider_key = stored.provider.clone();
            let sealed = stored.config.clone();
            (stored, provider_key, sealed)
        }
    };
    let kind = state
        .sso
        .find(&provider_key)
        .ok_or(SsoFailure::NoProvider)?;
    let description = kind.description().ok_or(SsoFailure::NoProvider)?;
    let opened = key
        .open_settings(&description.settings, &settings_of(&sealed))
        .map_err(|e| SsoError::Unavailable(format!("its saved secrets do not open: {e}")))?;
    let provider = kind.build(&opened, &ProviderContext::new(state, slug))?;
    Ok(Configured {
        stored,
        provider,
        organization: slug.to_owned(),
    })
}

/// Starts a login (or, for an owner, a configuration test) through the provider of the
/// organization `slug`, in the browser holding `binding`. `user` is who is logged in there.
pub async fn start(
    state: &AppState,
    slug: &str,
    flow: Flow,
    user: Option<&User>,
    next: Option<String>,
    binding: &str,
    client_addr: Option<&str>,
) -> Result<Step, SsoFailure> {
    let org = {
        let mut conn = state.db.read_latest().await?;
        orgs::find_by_slug(&mut conn.conn(), slug).await?
    };
    let org = org.ok_or(SsoFailure::NoProvider)?;
    let configured = configured(state, org.id, &org.slug, None).await?;
    let now = now_ms();
    let mut attempt = Attempt::start(
        configured.provider.as_ref(),
        org.id,
        flow,
        user.map(|u| u.id),
        now,
    );
    if let Some(next) = next {
        attempt.bind(NEXT, next);
    }
    run(
        state,
        &configured,
        attempt,
        CallbackRequest::default(),
        binding,
        client_addr,
    )
    .await
}

/// Starts a test of a configuration not saved yet (an owner's "test this configuration"):
/// the provider `provider` with `config` (secrets open) runs as it would for a login, and the
/// identity it ends with is shown, logging nobody in.
pub async fn start_test(
    state: &AppState,
    organization: &errhound_store::orgs::Organization,
    user: &User,
    provider: &errhound_domain::sso::providers::ProviderDescription,
    config: &errhound_domain::plugin::settings::SettingValues,
    binding: &str,
) -> Result<Step, SsoFailure> {
    let key = state.server_key.clone().ok_or(SsoFailure::NoServerKey)?;
    let setup = serde_json::json!({
        "provider": provider.key,
        "config": serde_json::from_str::<serde_json::Value>(
            &crate::sso_settings::sealed_json(&key, provider, config)
        ).unwrap_or_default(),
    })
    .to_string();
    let configured = configured(state, organization.id, &organization.slug, Some(&setup)).await?;
    let mut attempt = Attempt::start(
        configured.provider.as_ref(),
        organization.id,
        Flow::Setup,
        Some(user.id),
        now_ms(),
    );
    attempt.bind(SETUP, setup);
    run(
        state,
        &configured,
        attempt,
        CallbackRequest::default(),
        binding,
        None,
    )
    .await
}

/// Resumes the attempt the callback `request` names (its `state`, or SAML's `RelayState`) for
/// the browser holding `binding`.
pub async fn resume(
    state: &AppState,
    request: CallbackRequest,
    binding: &str,
    client_addr: Option<&str>,
) -> Result<Step, SsoFailure> {
    let named = request
        .param("state")
        .or_else(|| request.param("RelayState"))
        .unwrap_or_default()
        .to_owned();
    let attempt = if named.is_empty() || binding.is_empty() {
        None
    } else {
        let mut conn = state.db.write().await?;
        sso_attempts::take(&mut conn.conn(), &named, binding, now_ms()).await?
    };
    let Some(attempt) = attempt else {
        return unsolicited(state, &request, client_addr).await;
    };
    let org = {
        let mut conn = state.db.read_latest().await?;
        orgs::get(&mut conn.conn(), attempt.organization_id).await?
    };
    let org = org.ok_or(SsoFailure::NoProvider)?;
    let configured = configured(state, org.id, &org.slug, attempt.fetch(SETUP)).await?;
    if attempt.fetch(PENDING_USER).is_some() {
        return confirm_password(state, &configured, attempt, &request, binding, client_addr).await;
    }
    run(state, &configured, attempt, request, binding, client_addr).await
}

/// An answer that continues no attempt: an IdP-initiated login (SAML), when its `RelayState`
/// is the slug of an organization whose provider takes such answers (the IdP is set up to
/// send it); anything else continues nothing. Such an answer is bound to no browser, as
/// IdP-initiated logins are by nature; each is accepted once.
async fn unsolicited(
    state: &AppState,
    request: &CallbackRequest,
    client_addr: Option<&str>,
) -> Result<Step, SsoFailure> {
    let Some(slug) = request.param("RelayState").filter(|_| request.is_post) else {
        return Err(SsoFailure::AttemptLost);
    };
    let org = {
        let mut conn = state.db.read_latest().await?;
        orgs::find_by_slug(&mut conn.conn(), slug).await?
    };
    let org = org.ok_or(SsoFailure::AttemptLost)?;
    let configured = match configured(state, org.id, &org.slug, None).await {
        Ok(configured) => configured,
        Err(SsoFailure::NoProvider) => return Err(SsoFailure::AttemptLost),
        Err(other) => return Err(other),
    };
    let Some(answer) = configured.provider.unsolicited(request) else {
        return Err(SsoFailure::AttemptLost);
    };
    let answer = answer.await.inspect_err(|error| {
        tracing::warn!(organization.id = org.id, error = %error, "an IdP-initiated login failed");
    })?;
    let first = {
        let mut conn = state.db.write().await?;
        sso_attempts::accept_once(
            &mut conn.conn(),
            org.id,
            &answer.answer_id,
            answer.valid_until_ms,
        )
        .await?
    };
    if !first {
        tracing::warn!(
            organization.id = org.id,
            "an IdP-initiated answer came again (replay)"
        );
        return Err(SsoError::InvalidAnswer(
            "this answer of the identity provider was used already".to_owned(),
        )
        .into());
    }
    let attempt = Attempt::start(
        configured.provider.as_ref(),
        org.id,
        Flow::Login,
        None,
        now_ms(),
    );
    finish(
        state,
        &configured,
        attempt,
        answer.identity,
        "",
        client_addr,
    )
    .await
}

/// Runs the attempt's steps for `request` and stores it again when a step sends the browser away.
async fn run(
    state: &AppState,
    configured: &Configured,
    mut attempt: Attempt,
    mut request: CallbackRequest,
    binding: &str,
    client_addr: Option<&str>,
) -> Result<Step, SsoFailure> {
    request.resume_state = sso_attempts::new_state();
    match advance(
        configured.provider.as_ref(),
        &mut attempt,
        &request,
        now_ms(),
    )
    .await
    {
        Ok(Advance::Redirect(url)) => {
            let mut conn = state.db.write().await?;
            sso_attempts::begin(&mut conn.conn(), &attempt, &request.resume_state, binding).await?;
            Ok(Step::Redirect(url))
        }
        Ok(Advance::Finished(identity)) => {
            finish(state, configured, attempt, identity, binding, client_addr).await
        }
        Err(error) => {
            tracing::warn!(
                organization.id = attempt.organization_id,
                provider = %attempt.provider,
                error = %error,
                "single sign-on failed"
            );
            Err(error.into())
        }
    }
}

/// What the identity an attempt ended with does.
async fn finish(
    state: &AppState,
    configured: &Configured,
    mut attempt: Attempt,
    identity: Identity,
    binding: &str,
    client_addr: Option<&str>,
) -> Result<Step, SsoFailure> {
    let next = attempt.fetch(NEXT).map(str::to_owned);
    if attempt.flow == Flow::Setup {
        tracing::info!(
            organization.id = attempt.organization_id,
            provider = %attempt.provider,
            "single sign-on configuration tested"
        );
        return Ok(Step::Tested {
            organization: configured.organization.clone(),
            identity,
        });
    }
    match accounts::sign_in(
        state,
        &configured.stored,
        &identity,
        attempt.user_id,
        client_addr,
    )
    .await?
    {
        accounts::SignIn::Done(login) => Ok(Step::LoggedIn { login, next }),
        accounts::SignIn::NeedsPassword(_) if binding.is_empty() => {
            // An IdP-initiated answer is bound to no browser, so no confirmation page can
            // follow it: the person starts from this server once to link their account.
            Err(SsoError::Refused(format!(
                "an account with this e-mail exists: log in from {}/auth/login/{}/ once to link it",
                state.config.public_url().trim_end_matches('/'),
                configured.organization
            ))
            .into())
        }
        accounts::SignIn::NeedsPassword(user) => {
            attempt.bind(PENDING_USER, user.id.to_string());
            Ok(Step::ConfirmPassword {
                state: keep(state, &attempt, binding).await?,
                email: user.email,
                failed: false,
            })
        }
    }
}

/// Keeps `attempt` for the browser holding `binding` under a new state: the state its next
/// request (the confirmation form) resumes it under.
async fn keep(state: &AppState, attempt: &Attempt, binding: &str) -> Result<String, SsoFailure> {
    let attempt_state = sso_attempts::new_state();
    let mut conn = state.db.write().await?;
    sso_attempts::begin(&mut conn.conn(), attempt, &attempt_state, binding).await?;
    Ok(attempt_state)
}

/// The confirmation form came back: the password of the account with the identity's e-mail
/// links the identity to it.
async fn confirm_password(
    state: &AppState,
    configured: &Configured,
    mut attempt: Attempt,
    request: &CallbackRequest,
    binding: &str,
    client_addr: Option<&str>,
) -> Result<Step, SsoFailure> {
    // (`sso_attempts::take` refused it if it had expired.)
    let identity = configured.provider.build_identity(&attempt)?;
    let user_id: i64 = attempt
        .fetch(PENDING_USER)
        .and_then(|id| id.parse().ok())
        .ok_or(SsoFailure::AttemptLost)?;
    let user = {
        let mut conn = state.db.read_latest().await?;
        users::get(&mut conn.conn(), user_id).await?
    };
    let user = user.ok_or(SsoFailure::AttemptLost)?;
    let password = if request.is_post {
        request.param("password").unwrap_or_default().to_owned()
    } else {
        String::new()
    };
    let hash = user.password_hash.clone();
    let proven = match hash {
        Some(hash) if !password.is_empty() && user.is_active => {
            tokio::task::spawn_blocking(move || verify_password(&password, &hash))
                .await
                .unwrap_or(false)
        }
        _ => false,
    };
    if !proven {
        let failures = attempt
            .fetch(PASSWORD_FAILURES)
            .and_then(|n| n.parse::<u32>().ok())
            .unwrap_or(0)
            + u32::from(request.is_post);
        tracing::warn!(user.email = %user.email, "single sign-on link: wrong password");
        if failures >= MAX_PASSWORD_FAILURES {
            return Err(SsoFailure::AttemptLost);
        }
        attempt.bind(PASSWORD_FAILURES, failures.to_string());
        return Ok(Step::ConfirmPassword {
            state: keep(state, &attempt, binding).await?,
            email: user.email,
            failed: request.is_post,
        });
    }
    let next = attempt.fetch(NEXT).map(str::to_owned);
    let login =
        accounts::link_proven(state, &configured.stored, &identity, &user, client_addr).await?;
    Ok(Step::LoggedIn { login, next })
}
