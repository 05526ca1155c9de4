//! SAML 2.0 login against a real identity provider (pysaml2, signing with xmlsec1) on loopback,
//! driven through the SSO pipeline (`domain::sso::advance`) as the web layer drives it: the
//! `request` step redirects to the IdP, the IdP reads that AuthnRequest and answers, and the
//! answer is POSTed to the `response` step. No web server is needed.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::time::{SystemTime, UNIX_EPOCH};

use errhound_domain::plugin::settings::SettingValues;
use errhound_domain::sso::{Advance, Attempt, CallbackRequest, Flow, Identity, SsoError, advance};
use errhound_test_utils::{IdpAnswer, SamlIdp};
use errhound_web::sso::ProviderContext;
use errhound_web::sso::saml::{SamlKind, SamlProvider, sp_metadata};
use serde_json::json;

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn context() -> ProviderContext {
    ProviderContext {
        callback_url: "https://errhound.test/auth/sso/".to_owned(),
        public_url: "https://errhound.test".to_owned(),
        organization: "acme".to_owned(),
        http: errhound_web::sso::http::IdpClient::new(true),
    }
}

/// The IdP, trusting this SP, and the organization's provider, reading the IdP's metadata from
/// its URL.
fn setup() -> (SamlIdp, SamlProvider) {
    let idp = SamlIdp::start(&sp_metadata(&context()));
    let config = SettingValues(
        json!({
            "idp_metadata_url": idp.metadata_url(),
            "email_attribute": "mail",
            "name_attribute": "displayName",
            "groups_attribute": "eduPersonAffiliation",
        })
        .as_object()
        .unwrap()
        .clone()
        .into_iter()
        .collect(),
    );
    let provider = SamlKind::new().provider(&config, &context()).unwrap();
    (idp, provider)
}

/// Starts an attempt: the `request` step's redirect, followed to the IdP with `knobs`.
async fn sp_initiated(
    idp: &SamlIdp,
    provider: &SamlProvider,
    state: &str,
    knobs: &[(&str, &str)],
) -> (Attempt, IdpAnswer) {
    let mut attempt = Attempt::start(provider, 7, Flow::Login, None, now_ms());
    let start = CallbackRequest {
        resume_state: state.to_owned(),
        ..CallbackRequest::default()
    };
    let Ok(Advance::Redirect(url)) = advance(provider, &mut attempt, &start, now_ms()).await else {
        panic!("the request step did not redirect");
    };
    let answer = idp.answer(&url, knobs).await;
    assert_eq!(answer.relay_state.as_deref(), Some(state));
    assert_eq!(answer.acs_url, "https://errhound.test/auth/sso/");
    (attempt, answer)
}

/// POSTs `answer` to the callback of `attempt`.
async fn post(
    provider: &SamlProvider,
    attempt: &mut Attempt,
    answer: &IdpAnswer,
) -> Result<Identity, SsoError> {
    let mut params = std::collections::BTreeMap::new();
    params.insert("SAMLResponse".to_owned(), answer.saml_response.clone());
    if let Some(relay_state) = &answer.relay_state {
        params.insert("RelayState".to_owned(), relay_state.clone());
    }
    let callback = CallbackRequest {
        params,
        is_post: true,
        resume_state: "next-state".to_owned(),
    };
    match advance(provider, attempt, &callback, now_ms()).await? {
        Advance::Finished(identity) => Ok(identity),
        Advance::Redirect(url) => panic!("redirected again to {url}"),
    }
}

fn invalid(result: Result<Identity, SsoError>) -> String {
    match result {
        Err(SsoError::InvalidAnswer(message)) => message,
        other => panic!("expected an invalid answer, got {other:?}"),
    }
}

fn ann() -> Identity {
    Identity {
        id: "ann@corp.test".to_owned(),
        email: "ann@corp.test".to_owned(),
        name: Some("Ann Example".to_owned()),
        email_verified: true,
        groups: vec!["eng".to_owned(), "ops".to_owned()],
    }
}

#[tokio::test]
async fn a_signed_assertion_from_the_idp_logs_in_with_its_attributes() {
    let (idp, provider) = setup();
    let (mut attempt, answer) = sp_initiated(&idp, &provider, "s-1", &[]).await;
    assert!(answer.request_id.as_deref().unwrap().starts_with('_'));
    assert_eq!(post(&provider, &mut attempt, &answer).await, Ok(ann()));
}

#[tokio::test]
async fn a_signed_response_with_an_unsigned_assertion_logs_in_too() {
    let (idp, provider) = setup();
    for sign in ["response", "both"] {
        let (mut attempt, answer) =
            sp_initiated(&idp, &provider, "s-1", &[("sign", sign), ("user", "bob")]).await;
        let identity = post(&provider, &mut attempt, &answer).await.unwrap();
        assert_eq!(identity.email, "bob@corp.test", "signed: {sign}");
        assert_eq!(identity.groups, ["sales"]);
    }
}

#[tokio::test]
async fn an_unsigned_or_altered_answer_is_refused() {
    let (idp, provider) = setup();
    let (mut attempt, answer) = sp_initiated(&idp, &provider, "s-1", &[("sign", "none")]).await;
    assert_eq!(
        invalid(post(&provider, &mut attempt, &answer).await),
        "the SAML assertion is not signed"
    );
    for sign in ["assertion", "response"] {
        let knobs = [("sign", sign), ("alter", "nameid")];
        let (mut attempt, answer) = sp_initiated(&idp, &provider, "s-2", &knobs).await;
        assert_eq!(
            invalid(post(&provider, &mut attempt, &answer).await),
            format!("the SAML {sign} was altered (its digest does not match)")
        );
    }
}

#[tokio::test]
async fn an_answer_replayed_to_another_attempt_is_refused() {
    let (idp, provider) = setup();
    let (mut first, answer) = sp_initiated(&idp, &provider, "s-1", &[]).await;
    let (mut second, _) = sp_initiated(&idp, &provider, "s-2", &[]).await;
    // The answer to the first request, presented to the second attempt.
    let message = invalid(post(&provider, &mut second, &answer).await);
    assert!(
        message.contains("answers another login request"),
        "{message}"
    );
    // It was good for its own attempt.
    assert_eq!(post(&provider, &mut first, &answer).await, Ok(ann()));
}

#[tokio::test]
async fn an_expired_assertion_or_one_for_another_audience_is_refused() {
    let (idp, provider) = setup();
    let (mut attempt, answer) = sp_initiated(&idp, &provider, "s-1", &[("lifetime", "-10")]).await;
    assert_eq!(
        invalid(post(&provider, &mut attempt, &answer).await),
        "the SAML assertion has expired"
    );
    let knobs = [("audience", "https://elsewhere.test/sp")];
    let (mut attempt, answer) = sp_initiated(&idp, &provider, "s-2", &knobs).await;
    assert_eq!(
        invalid(post(&provider, &mut attempt, &answer).await),
        "the SAML assertion is for another audience"
    );
}

#[tokio::test]
async fn an_idp_initiated_login_is_accepted_by_unsolicited() {
    let (idp, provider) = setup();
    let answer = idp.unsolicited("ann", &[]).await;
    let login = provider.unsolicited(&answer.saml_response).await.unwrap();
    assert_eq!(login.identity, ann());
    assert!(!login.assertion_id.is_empty());
    let remaining = login.not_on_or_after - time::OffsetDateTime::now_utc();
    assert!(
        remaining > time::Duration::minutes(10) && remaining <= time::Duration::minutes(16),
        "{remaining}"
    );
    // An unsolicited response must answer no request, and is checked by the same rules.
    let (_, solicited) = sp_initiated(&idp, &provider, "s-1", &[]).await;
    let refused = provider.unsolicited(&solicited.saml_response).await;
    assert!(
        matches!(&refused, Err(SsoError::InvalidAnswer(m)) if m.contains("none was made")),
        "{refused:?}"
    );
    let expired = idp.unsolicited("ann", &[("lifetime", "-10")]).await;
    assert_eq!(
        provider.unsolicited(&expired.saml_response).await,
        Err(SsoError::InvalidAnswer(
            "the SAML assertion has expired".into()
        ))
    );
}
