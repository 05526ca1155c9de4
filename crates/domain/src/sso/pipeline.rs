//! A login attempt through a provider and the run of its steps (Sentry's `AuthHelper`): which
//! step is next, what the steps bound, and whether the attempt may go on at all.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{CallbackRequest, Identity, SsoError, SsoProvider, StepOutcome};

/// What an attempt is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Flow {
    /// A person logs in (or links their account) through the organization's provider.
    Login,
    /// An owner tries a provider's configuration before it is saved ("test this
    /// configuration"): the identity is shown, nobody is logged in.
    Setup,
}

/// One login attempt: kept server-side between the steps, found by its single-use `state`
/// value and bound to the browser that started it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attempt {
    /// The organization whose provider runs.
    pub organization_id: i64,
    /// The provider's key.
    pub provider: String,
    /// Login or setup.
    pub flow: Flow,
    /// The step that handles the next request (the steps' count when all ran).
    pub step: usize,
    /// The provider's step names when the attempt started, space-separated.
    pub signature: String,
    /// Who started it when they were logged in (linking an account, testing a setup).
    pub user_id: Option<i64>,
    /// What the steps bound (`state`, `nonce`, PKCE verifier, tokens...).
    pub state: BTreeMap<String, String>,
    /// When it stops being usable, epoch ms.
    pub expires_at: i64,
}

/// Why an attempt may not go on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AttemptError {
    /// Older than [`Attempt::LIFETIME_MS`].
    #[error("the login attempt expired; start again")]
    Expired,
    /// The provider's steps are not those the attempt started with.
    #[error("the organization's login changed during the attempt; start again")]
    ProviderChanged,
    /// Every step ran already: a callback came again.
    #[error("the login attempt is already complete")]
    Complete,
}

/// Where [`Attempt::bind_identity`] keeps the identity.
const IDENTITY: &str = "identity";

impl Attempt {
    /// How long an attempt lives: the time to log in at the identity provider.
    pub const LIFETIME_MS: i64 = 10 * 60_000;

    /// A new attempt at the first step of `provider`.
    pub fn start(
        provider: &dyn SsoProvider,
        organization_id: i64,
        flow: Flow,
        user_id: Option<i64>,
        now_ms: i64,
    ) -> Attempt {
        Attempt {
            organization_id,
            provider: provider.key().to_owned(),
            flow,
            step: 0,
            signature: signature(provider),
            user_id,
            state: BTreeMap::new(),
            expires_at: now_ms.saturating_add(Self::LIFETIME_MS),
        }
    }

    /// Binds `value` to `key` for the later steps.
    pub fn bind(&mut self, key: &str, value: impl Into<String>) {
        self.state.insert(key.to_owned(), value.into());
    }

    /// What a step bound to `key`.
    pub fn fetch(&self, key: &str) -> Option<&str> {
        self.state.get(key).map(String::as_str)
    }

    /// Binds who the provider says the person is, for [`Attempt::bound_identity`] (a provider
    /// whose last step learns the whole identity at once).
    pub fn bind_identity(&mut self, identity: &Identity) {
        if let Ok(json) = serde_json::to_string(identity) {
            self.bind(IDENTITY, json);
        }
    }

    /// The identity [`Attempt::bind_identity`] bound: a provider's `build_identity`.
    pub fn bound_identity(&self) -> Result<Identity, SsoError> {
        self.fetch(IDENTITY)
            .and_then(|json| serde_json::from_str(json).ok())
            .ok_or(SsoError::MissingClaim("identity"))
    }

    /// Whether the attempt may go on with `provider` at `now_ms`.
    pub fn check(&self, provider: &dyn SsoProvider, now_ms: i64) -> Result<(), AttemptError> {
        if now_ms >= self.expires_at {
            return Err(AttemptError::Expired);
        }
        if self.provider != provider.key() || self.signature != signature(provider) {
            return Err(AttemptError::ProviderChanged);
        }
        if self.step >= provider.steps().len() {
            return Err(AttemptError::Complete);
        }
        Ok(())
    }
}

fn signature(provider: &dyn SsoProvider) -> String {
    provider.steps().join(" ")
}

/// Where a request at the callback leaves the attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Advance {
    /// Send the browser there; keep the attempt for the answer.
    Redirect(String),
    /// All steps ran: this is who logged in. The attempt is used up.
    Finished(Identity),
}

/// Runs `attempt`'s current step for `request`, and the following ones as long as each hands
/// over (a step that redirects waits for the next request).
pub async fn advance(
    provider: &dyn SsoProvider,
    attempt: &mut Attempt,
    request: &CallbackRequest,
    now_ms: i64,
) -> Result<Advance, SsoError> {
    attempt.check(provider, now_ms)?;
    while attempt.step < provider.steps().len() {
        match provider.run_step(attempt.step, request, attempt).await? {
            StepOutcome::Redirect(url) => return Ok(Advance::Redirect(url)),
            StepOutcome::Next => attempt.step += 1,
        }
    }
    let identity = provider.build_identity(attempt)?;
    if identity.id.trim().is_empty() {
        return Err(SsoError::MissingClaim("id"));
    }
    if identity.email.trim().is_empty() {
        return Err(SsoError::MissingClaim("e-mail"));
    }
    Ok(Advance::Finished(identity))
}

#[cfg(test)]
mod tests {
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll, Waker};

    use super::*;
    use crate::plugin::BoxFuture;

    /// Sentry's dummy provider: one step asks for an e-mail (a form POSTed to the callback).
    struct AskEmail;

    impl SsoProvider for AskEmail {
        fn key(&self) -> &str {
            "dummy"
        }
        fn steps(&self) -> &[&'static str] {
            &["ask-email"]
        }
        fn run_step<'a>(
            &'a self,
            _index: usize,
            request: &'a CallbackRequest,
            attempt: &'a mut Attempt,
        ) -> BoxFuture<'a, Result<StepOutcome, SsoError>> {
            Box::pin(async move {
                match request.param("email") {
                    Some(email) if request.is_post => {
                        attempt.bind("email", email);
                        Ok(StepOutcome::Next)
                    }
                    _ => Ok(StepOutcome::Redirect("/auth/sso/ask-email/".to_owned())),
                }
            })
        }
        fn build_identity(&self, attempt: &Attempt) -> Result<Identity, SsoError> {
            let email = attempt.fetch("email").unwrap_or_default().to_owned();
            Ok(Identity {
                id: email.clone(),
                email,
                name: Some("Dummy".to_owned()),
                email_verified: false,
                groups: vec![],
            })
        }
    }

    /// A redirect-and-callback provider shaped like OAuth2: the first step sends the browser
    /// away with a `state`, the second checks it and reads the code.
    struct Redirecting;

    impl SsoProvider for Redirecting {
        fn key(&self) -> &str {
            "redirecting"
        }
        fn steps(&self) -> &[&'static str] {
            &["login", "callback"]
        }
        fn run_step<'a>(
            &'a self,
            index: usize,
            request: &'a CallbackRequest,
            attempt: &'a mut Attempt,
        ) -> BoxFuture<'a, Result<StepOutcome, SsoError>> {
            Box::pin(async move {
                match index {
                    0 if request.param("code").is_none() => {
                        attempt.bind("state", &request.resume_state);
                        Ok(StepOutcome::Redirect(format!(
                            "https://idp.test/authorize?state={}",
                            request.resume_state
                        )))
                    }
                    0 => Ok(StepOutcome::Next),
                    _ => {
                        if request.param("state") != attempt.fetch("state") {
                            return Err(SsoError::InvalidAnswer("state".into()));
                        }
                        let code = request.param("code").unwrap_or_default();
                        attempt.bind("sub", format!("user-of-{code}"));
                        Ok(StepOutcome::Next)
                    }
                }
            })
        }
        fn build_identity(&self, attempt: &Attempt) -> Result<Identity, SsoError> {
            Ok(Identity {
                id: attempt.fetch("sub").unwrap_or_default().to_owned(),
                email: "ann@corp.test".to_owned(),
                name: None,
                email_verified: true,
                groups: vec!["eng".to_owned()],
            })
        }
    }

    /// The steps never wait on anything real: one poll finishes them.
    fn now<F: Future>(future: F) -> F::Output {
        let mut future = pin!(future);
        match future
            .as_mut()
            .poll(&mut Context::from_waker(Waker::noop()))
        {
            Poll::Ready(output) => output,
            Poll::Pending => panic!("a test step waited"),
        }
    }

    fn request(is_post: bool, params: &[(&str, &str)]) -> CallbackRequest {
        CallbackRequest {
            params: params
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
            is_post,
            resume_state: "s-1".to_owned(),
        }
    }

    #[test]
    fn a_one_step_provider_asks_then_finishes_with_the_identity() {
        let mut attempt = Attempt::start(&AskEmail, 7, Flow::Login, None, 1_000);
        let asked = now(advance(
            &AskEmail,
            &mut attempt,
            &request(false, &[]),
            1_001,
        ));
        assert_eq!(asked, Ok(Advance::Redirect("/auth/sso/ask-email/".into())));
        assert_eq!(attempt.step, 0);
        let answered = request(true, &[("email", "ann@corp.test")]);
        let done = now(advance(&AskEmail, &mut attempt, &answered, 1_002)).unwrap();
        let Advance::Finished(identity) = done else {
            panic!("{done:?}")
        };
        assert_eq!(identity.email, "ann@corp.test");
        // Used up: the same callback again is refused.
        let again = now(advance(&AskEmail, &mut attempt, &answered, 1_003));
        assert_eq!(again, Err(SsoError::Attempt(AttemptError::Complete)));
    }

    #[test]
    fn a_redirecting_provider_goes_away_and_comes_back_to_the_second_step() {
        let mut attempt = Attempt::start(&Redirecting, 7, Flow::Login, None, 0);
        let away = now(advance(&Redirecting, &mut attempt, &request(false, &[]), 1));
        assert_eq!(
            away,
            Ok(Advance::Redirect(
                "https://idp.test/authorize?state=s-1".into()
            ))
        );
        // A form_post answer: the POST carries code and state.
        let back = request(true, &[("code", "c9"), ("state", "s-1")]);
        let done = now(advance(&Redirecting, &mut attempt, &back, 2)).unwrap();
        let Advance::Finished(identity) = done else {
            panic!("{done:?}")
        };
        assert_eq!(identity.id, "user-of-c9");
        assert_eq!(identity.groups, ["eng"]);
    }

    #[test]
    fn a_wrong_state_an_expired_attempt_or_changed_steps_stop_the_attempt() {
        let mut attempt = Attempt::start(&Redirecting, 7, Flow::Login, None, 0);
        now(advance(&Redirecting, &mut attempt, &request(false, &[]), 1)).unwrap();
        let forged = request(false, &[("code", "c9"), ("state", "s-2")]);
        assert_eq!(
            now(advance(&Redirecting, &mut attempt, &forged, 2)),
            Err(SsoError::InvalidAnswer("state".into()))
        );

        let late = request(false, &[("code", "c9"), ("state", "s-1")]);
        let at = attempt.expires_at;
        assert_eq!(
            now(advance(&Redirecting, &mut attempt.clone(), &late, at)),
            Err(SsoError::Attempt(AttemptError::Expired))
        );

        // An attempt of another provider (or of older steps) is not resumed.
        let mut other = Attempt::start(&AskEmail, 7, Flow::Login, None, 0);
        assert_eq!(
            now(advance(&Redirecting, &mut other, &late, 1)),
            Err(SsoError::Attempt(AttemptError::ProviderChanged))
        );
        attempt.signature = "login".to_owned();
        assert_eq!(
            now(advance(&Redirecting, &mut attempt, &late, 1)),
            Err(SsoError::Attempt(AttemptError::ProviderChanged))
        );
    }

    #[test]
    fn an_identity_without_an_id_or_e_mail_logs_nobody_in() {
        let mut attempt = Attempt::start(&AskEmail, 7, Flow::Login, None, 0);
        let blank = request(true, &[("email", "  ")]);
        assert_eq!(
            now(advance(&AskEmail, &mut attempt, &blank, 1)),
            Err(SsoError::MissingClaim("id"))
        );
    }

    #[test]
    fn an_attempt_is_stored_as_json_and_read_back_the_same() {
        let mut attempt = Attempt::start(&Redirecting, 7, Flow::Setup, Some(3), 0);
        attempt.bind("nonce", "n-1");
        let text = serde_json::to_string(&attempt).unwrap();
        assert!(text.contains("\"flow\":\"setup\""), "{text}");
        assert_eq!(serde_json::from_str::<Attempt>(&text).unwrap(), attempt);
    }
}
