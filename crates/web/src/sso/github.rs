//! GitHub as an organization's login (OAuth 2.0, not OpenID Connect): the person authorizes
//! the organization's OAuth app at GitHub, and only members of the configured GitHub
//! organization get in. Their GitHub teams in that organization are their groups (for team
//! sync). GitHub Enterprise works with `base_url` and `api_url`.
//!
//! Steps: `authorize` sends the browser to `<base_url>/login/oauth/authorize` with the state;
//! `callback` exchanges the code at `<base_url>/login/oauth/access_token`, then reads
//! `/user`, `/user/emails`, `/user/orgs` and `/user/teams` from the API.

use std::sync::Arc;

use errhound_domain::plugin::BoxFuture;
use errhound_domain::plugin::settings::SettingValues;
use errhound_domain::sso::providers::GITHUB;
use errhound_domain::sso::{
    Attempt, CallbackRequest, Identity, SsoError, SsoProvider, StepOutcome,
};
use serde::Deserialize;
use serde_json::Value;

use super::http::{IdpClient, query_string};
use super::{ProviderContext, ProviderKind};

/// The scopes asked for: the profile, the e-mail addresses, and organization membership.
const SCOPES: &str = "read:user user:email read:org";
const DEFAULT_BASE_URL: &str = "https://github.com";
const DEFAULT_API_URL: &str = "https://api.github.com";

/// The GitHub provider kind.
pub struct GithubKind;

impl ProviderKind for GithubKind {
    fn key(&self) -> &'static str {
        GITHUB
    }

    fn build(
        &self,
        config: &SettingValues,
        context: &ProviderContext,
    ) -> Result<Arc<dyn SsoProvider>, SsoError> {
        let setting = |key: &str| config.text(key).map(str::to_owned);
        let required = |key: &'static str| {
            setting(key).ok_or_else(|| SsoError::Unavailable(format!("its {key} is not set")))
        };
        let url = |key: &str, default: &str| {
            setting(key)
                .unwrap_or_else(|| default.to_owned())
                .trim_end_matches('/')
                .to_owned()
        };
        Ok(Arc::new(Github {
            client_id: required("client_id")?,
            client_secret: required("client_secret")?,
            organization: required("organization")?,
            base_url: url("base_url", DEFAULT_BASE_URL),
            api_url: url("api_url", DEFAULT_API_URL),
            callback_url: context.callback_url.clone(),
            http: context.http.clone(),
        }))
    }
}

/// An organization's GitHub login.
struct Github {
    client_id: String,
    client_secret: String,
    organization: String,
    base_url: String,
    api_url: String,
    callback_url: String,
    http: IdpClient,
}

/// Bound once the browser was sent to GitHub.
const SENT: &str = "sent_to_github";

#[derive(Deserialize)]
struct User {
    id: i64,
    login: String,
    name: Option<String>,
}

#[derive(Deserialize)]
struct Email {
    email: String,
    primary: bool,
    verified: bool,
}

#[derive(Deserialize)]
struct Org {
    login: String,
}

#[derive(Deserialize)]
struct Team {
    slug: String,
    organization: Org,
}

impl Github {
    fn authorize_url(&self, state: &str) -> String {
        let mut url = format!("{}/login/oauth/authorize?", self.base_url);
        let query = [
            ("client_id", self.client_id.as_str()),
            ("redirect_uri", self.callback_url.as_str()),
            ("scope", SCOPES),
            ("state", state),
            ("allow_signup", "false"),
        ];
        url.push_str(&query_string(&query));
        url
    }

    async fn access_token(&self, code: &str) -> Result<String, SsoError> {
        let request = self
            .http
            .post(format!("{}/login/oauth/access_token", self.base_url))
            .header(reqwest::header::ACCEPT, "application/json")
            .form(&[
                ("client_id", self.client_id.as_str()),
                ("client_secret", self.client_secret.as_str()),
                ("code", code),
                ("redirect_uri", self.callback_url.as_str()),
            ]);
        let answer: Value = self.http.fetch_json(request, "token endpoint").await?;
        if let Some(error) = answer.get("error").and_then(Value::as_str) {
            let detail = answer
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or(error);
            return Err(SsoError::InvalidAnswer(format!(
                "GitHub did not accept the login code: {detail}"
            )));
        }
        answer
            .get("access_token")
            .and_then(Value::as_str)
            .filter(|token| !token.is_empty())
            .map(str::to_owned)
            .ok_or_else(|| SsoError::Unavailable("GitHub gave no access token".to_owned()))
    }

    async fn api<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        path: &str,
    ) -> Result<T, SsoError> {
        let request = self
            .http
            .get(format!("{}{path}", self.api_url))
            .bearer_auth(token)
            .header(reqwest::header::ACCEPT, "application/vnd.github+json")
            .header(reqwest::header::USER_AGENT, "errhound");
        self.http.fetch_json(request, &format!("API {path}")).await
    }

    async fn callback(
        &self,
        request: &CallbackRequest,
        attempt: &mut Attempt,
    ) -> Result<StepOutcome, SsoError> {
        if let Some(error) = request.param("error") {
            let detail = request.param("error_description").unwrap_or(error);
            return Err(SsoError::Refused(detail.to_owned()));
        }
        let code = request
            .param("code")
            .filter(|code| !code.is_empty())
            .ok_or_else(|| SsoError::InvalidAnswer("GitHub sent no login code".to_owned()))?;
        let token = self.access_token(code).await?;
        let user: User = self.api(&token, "/user").await?;
        let orgs: Vec<Org> = self.api(&token, "/user/orgs").await?;
        if !orgs
            .iter()
            .any(|org| org.login.eq_ignore_ascii_case(&self.organization))
        {
            return Err(SsoError::Refused(format!(
                "{} is not a member of the GitHub organization {}",
                user.login, self.organization
            )));
        }
        let emails: Vec<Email> = self.api(&token, "/user/emails").await?;
        // As Sentry's GitHub login: only a verified primary address names the person (anyone can
        // add an unverified address to a GitHub account).
        let Some(primary) = emails.iter().find(|e| e.primary && e.verified) else {
            return Err(SsoError::Refused(format!(
                "{} has no verified primary e-mail address at GitHub",
                user.login
            )));
        };
        let email = primary.email.clone();
        // Teams are groups for team sync; a GitHub that refuses the list leaves them empty.
        let teams: Vec<Team> = self.api(&token, "/user/teams").await.unwrap_or_default();
        let groups: Vec<String> = teams
            .into_iter()
            .filter(|t| {
                t.organization
                    .login
                    .eq_ignore_ascii_case(&self.organization)
            })
            .map(|t| t.slug)
            .collect();
        attempt.bind_identity(&Identity {
            id: user.id.to_string(),
            email,
            name: Some(user.name.unwrap_or(user.login)),
            email_verified: true,
            groups,
        });
        Ok(StepOutcome::Next)
    }
}

impl SsoProvider for Github {
    fn key(&self) -> &str {
        GITHUB
    }

    fn steps(&self) -> &[&'static str] {
        &["authorize", "callback"]
    }

    fn run_step<'a>(
        &'a self,
        index: usize,
        request: &'a CallbackRequest,
        attempt: &'a mut Attempt,
    ) -> BoxFuture<'a, Result<StepOutcome, SsoError>> {
        Box::pin(async move {
            match index {
                // The attempt stays on a step that redirects (Sentry's pipeline): GitHub's
                // answer comes back here and goes on to the callback step.
                0 if attempt.fetch(SENT).is_some() => Ok(StepOutcome::Next),
                0 => {
                    attempt.bind(SENT, "1");
                    Ok(StepOutcome::Redirect(
                        self.authorize_url(&request.resume_state),
                    ))
                }
                _ => self.callback(request, attempt).await,
            }
        })
    }

    fn build_identity(&self, attempt: &Attempt) -> Result<Identity, SsoError> {
        attempt.bound_identity()
    }
}
