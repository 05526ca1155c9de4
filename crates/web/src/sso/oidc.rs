//! The generic OpenID Connect provider: the authorization code flow with PKCE against any
//! identity provider that publishes a discovery document (Keycloak, Okta, Entra ID, Google,
//! Authentik, Dex...).
//!
//! # The two steps
//!
//! 1. **authorize**: reads the discovery document, makes a PKCE verifier and a nonce, binds them
//!    (with the attempt's `state`) to the attempt and sends the browser to the authorization
//!    endpoint. The attempt stays on this step while the person is away, so the answer comes
//!    back here first and is handed on to the next step.
//! 2. **callback**: checks the answer (its `state`, how it came, an `error`, the `code`),
//!    exchanges the code at the token endpoint (with the PKCE verifier and the client secret),
//!    verifies the ID token and binds who it names; the userinfo endpoint fills in the e-mail
//!    when the ID token has none.
//!
//! # What the ID token must be
//!
//! A JWS (encrypted tokens are refused) signed with one of the identity provider's public keys
//! (RSA, P-256/P-384 or Ed25519, found in its JWKS by `kid`); `none` and HMAC (a token signed
//! with the client secret, which anyone holding the secret could forge) are refused. Its `iss`
//! is the configured issuer, its `aud` names this client (and `azp` does when there are several
//! audiences), it has not expired (give or take [`CLOCK_SKEW`]) and its `nonce` is the one this
//! attempt sent.
//!
//! # Response mode
//!
//! With `response_mode = form_post` the identity provider must answer with a POSTed form: a GET
//! answer is refused, since it would put the code in an address (history, logs, `Referer`)
//! where the configuration says it must not be. A POSTed answer under the default `query` mode
//! is accepted: it exposes less, not more, and the code is worthless without the PKCE verifier
//! and the client secret.
//!
//! # Caching and key rotation
//!
//! The kind keeps each issuer's discovery document and JWKS for [`CACHE_TTL`], shared by every
//! provider it builds (organizations using the same identity provider share them: both are
//! public). When an ID token names a key the cached JWKS lacks, the JWKS is fetched again once,
//! at most every [`JWKS_REFETCH_INTERVAL`] per issuer, so a provider that rotated its keys keeps
//! working while a stream of forged tokens cannot make us hammer it.
//!
//! Every answer read from the identity provider is cut off at [`super::http::MAX_ANSWER_BYTES`].

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use errhound_domain::plugin::BoxFuture;
use errhound_domain::plugin::settings::SettingValues;
use errhound_domain::sso::providers::OIDC;
use errhound_domain::sso::{
    Attempt, AttemptError, CallbackRequest, Identity, SsoError, SsoProvider, StepOutcome,
};
use jsonwebtoken::{Algorithm, DecodingKey};
use reqwest::header::{ACCEPT, AUTHORIZATION};
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use url::Url;
use url::form_urlencoded;

use super::http::{IdpClient, parse_json};
use super::{ProviderContext, ProviderKind};

#[cfg(test)]
mod tests;

/// How far an ID token's `exp` and `nbf` may be off this server's clock.
pub const CLOCK_SKEW: Duration = Duration::from_secs(60);
/// How long an issuer's discovery document and JWKS are used before they are fetched again.
pub const CACHE_TTL: Duration = Duration::from_secs(5 * 60);
/// The least time between two JWKS fetches of one issuer caused by a token naming an unknown key.
pub const JWKS_REFETCH_INTERVAL: Duration = Duration::from_secs(10);
/// How many issuers the cache keeps (the least recently used goes first).
const MAX_CACHED_ISSUERS: usize = 64;
/// How many keys of a JWKS are considered (a real one has a handful).
const MAX_KEYS: usize = 32;

const DEFAULT_SCOPES: &str = "openid email profile";
const DEFAULT_GROUPS_CLAIM: &str = "groups";
const STEPS: [&str; 2] = ["authorize", "callback"];

// What the steps bind to the attempt.
const BOUND_STATE: &str = "state";
const BOUND_NONCE: &str = "nonce";
const BOUND_VERIFIER: &str = "pkce_verifier";

/// The OpenID Connect provider kind (key [`OIDC`]); it holds the issuers' cached discovery
/// documents and key sets for the providers it builds.
#[derive(Default)]
pub struct OidcKind {
    issuers: Arc<IssuerCache>,
}

impl OidcKind {
    /// A kind with an empty cache.
    pub fn new() -> OidcKind {
        OidcKind::default()
    }
}

impl ProviderKind for OidcKind {
    fn key(&self) -> &'static str {
        OIDC
    }

    fn build(
        &self,
        config: &SettingValues,
        context: &ProviderContext,
    ) -> Result<Arc<dyn SsoProvider>, SsoError> {
        Ok(Arc::new(OidcProvider {
            config: OidcConfig::read(config)?,
            callback_url: context.callback_url.clone(),
            http: context.http.clone(),
            issuers: Arc::clone(&self.issuers),
        }))
    }
}

/// An organization's OpenID Connect settings, checked.
#[derive(Debug, Clone)]
struct OidcConfig {
    issuer: String,
    client_id: String,
    client_secret: String,
    scopes: String,
    form_post: bool,
    groups_claim: String,
}

impl OidcConfig {
    fn read(settings: &SettingValues) -> Result<OidcConfig, SsoError> {
        let required = |key: &str, title: &str| {
            settings
                .text(key)
                .map(str::trim)
                .filter(|value| !value.is_empty())
                .map(str::to_owned)
                .ok_or_else(|| SsoError::Unavailable(format!("its {title} is not configured")))
        };
        let issuer = required("issuer", "issuer")?;
        if !is_web_url(&issuer) {
            return Err(SsoError::Unavailable(format!(
                "its issuer ({issuer}) is not an http or https address"
            )));
        }
        let form_post = match settings.text("response_mode") {
            None | Some("query") => false,
            Some("form_post") => true,
            Some(other) => {
                return Err(SsoError::Unavailable(format!(
                    "its response mode {other:?} is neither query nor form_post"
                )));
            }
        };
        let mut scopes = settings.text("scopes").unwrap_or(DEFAULT_SCOPES).to_owned();
        // Without `openid` the identity provider answers as plain OAuth2, with no ID token.
        if !scopes.split_whitespace().any(|scope| scope == "openid") {
            scopes = format!("openid {scopes}");
        }
        Ok(OidcConfig {
            client_id: required("client_id", "client ID")?,
            client_secret: required("client_secret", "client secret")?,
            issuer,
            scopes: scopes.split_whitespace().collect::<Vec<_>>().join(" "),
            form_post,
            groups_claim: settings
                .text("groups_claim")
                .map(str::trim)
                .filter(|claim| !claim.is_empty())
                .unwrap_or(DEFAULT_GROUPS_CLAIM)
                .to_owned(),
        })
    }
}

/// One organization's OpenID Connect login.
struct OidcProvider {
    config: OidcConfig,
    callback_url: String,
    http: IdpClient,
    issuers: Arc<IssuerCache>,
}

impl SsoProvider for OidcProvider {
    fn key(&self) -> &str {
        OIDC
    }

    fn steps(&self) -> &[&'static str] {
        &STEPS
    }

    fn run_step<'a>(
        &'a self,
        index: usize,
        request: &'a CallbackRequest,
        attempt: &'a mut Attempt,
    ) -> BoxFuture<'a, Result<StepOutcome, SsoError>> {
        Box::pin(async move {
            match index {
                0 => self.authorize(request, attempt).await,
                1 => self.callback(request, attempt).await,
                _ => Err(SsoError::Attempt(AttemptError::Complete)),
            }
        })
    }

    fn build_identity(&self, attempt: &Attempt) -> Result<Identity, SsoError> {
        attempt.bound_identity()
    }
}

impl OidcProvider {
    async fn authorize(
        &self,
        request: &CallbackRequest,
        attempt: &mut Attempt,
    ) -> Result<StepOutcome, SsoError> {
        // Once the browser was sent away, whatever comes back (a code, an error, nothing) is
        // the callback's to judge.
        if attempt.fetch(BOUND_NONCE).is_some() {
            return Ok(StepOutcome::Next);
        }
        let metadata = self
            .issuers
            .metadata(&self.http, &self.config.issuer)
            .await?;
        let verifier = random_token();
        let nonce = random_token();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));

        let mut url = metadata.authorization_endpoint.clone();
        {
            let mut query = url.query_pairs_mut();
            query
                .append_pair("response_type", "code")
                .append_pair("client_id", &self.config.client_id)
                .append_pair("redirect_uri", &self.callback_url)
                .append_pair("scope", &self.config.scopes)
                .append_pair("state", &request.resume_state)
                .append_pair("nonce", &nonce)
                .append_pair("code_challenge", &challenge)
                .append_pair("code_challenge_method", "S256");
            if self.config.form_post {
                query.append_pair("response_mode", "form_post");
            }
        }
        attempt.bind(BOUND_STATE, &request.resume_state);
        attempt.bind(BOUND_NONCE, nonce);
        attempt.bind(BOUND_VERIFIER, verifier);
        Ok(StepOutcome::Redirect(url.into()))
    }

    async fn callback(
        &self,
        request: &CallbackRequest,
        attempt: &mut Attempt,
    ) -> Result<StepOutcome, SsoError> {
        let code = self.read_answer(request, attempt)?;
        let (Some(verifier), Some(nonce)) =
            (attempt.fetch(BOUND_VERIFIER), attempt.fetch(BOUND_NONCE))
        else {
            return Err(invalid(
                "the login attempt was not sent to the identity provider",
            ));
        };
        let metadata = self
            .issuers
            .metadata(&self.http, &self.config.issuer)
            .await?;
        let tokens = self.exchange(&metadata, code, verifier).await?;
        let Some(id_token) = tokens.id_token.as_deref() else {
            return Err(invalid(
                "the identity provider sent no ID token (is the \"openid\" scope allowed?)",
            ));
        };
        let claims = self.verify_id_token(&metadata, id_token, nonce).await?;

        let mut person = Person::from_claims(&claims, &self.config.groups_claim);
        if person.email.is_none()
            && let (Some(endpoint), Some(access_token)) =
                (&metadata.userinfo_endpoint, tokens.access_token.as_deref())
        {
            let info = self.userinfo(endpoint, access_token, &person.sub).await?;
            person.fill_from_userinfo(&info, &self.config.groups_claim);
        }
        person.bind(attempt);
        Ok(StepOutcome::Next)
    }

    /// The code of the identity provider's answer, after checking that it answers this
    /// attempt, came the configured way and is not a refusal.
    fn read_answer<'r>(
        &self,
        request: &'r CallbackRequest,
        attempt: &Attempt,
    ) -> Result<&'r str, SsoError> {
        let expected = attempt.fetch(BOUND_STATE).unwrap_or_default();
        let given = request.param("state").unwrap_or_default();
        if expected.is_empty() || !bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
            return Err(invalid("the answer does not belong to this login attempt"));
        }
        if self.config.form_post && !request.is_post {
            return Err(invalid(
                "the identity provider answered in the address, but it is set up to answer \
                 with a form (response mode form_post)",
            ));
        }
        if let Some(error) = request.param("error") {
            return Err(SsoError::Refused(describe_oauth_error(
                error,
                request.param("error_description"),
            )));
        }
        match request.param("code") {
            Some(code) if !code.is_empty() => Ok(code),
            _ => Err(invalid("the identity provider sent no authorization code")),
        }
    }

    /// Trades the code for the tokens at the token endpoint.
    async fn exchange(
        &self,
        metadata: &Metadata,
        code: &str,
        verifier: &str,
    ) -> Result<TokenAnswer, SsoError> {
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &self.callback_url),
            ("code_verifier", verifier),
        ];
        let mut call = self
            .http
            .post(metadata.token_endpoint.clone())
            .header(ACCEPT, "application/json")
            .header(
                reqwest::header::CONTENT_TYPE,
                "application/x-www-form-urlencoded",
            );
        match metadata.client_auth {
            ClientAuth::Basic => {
                call = call.header(
                    AUTHORIZATION,
                    basic_credentials(&self.config.client_id, &self.config.client_secret),
                );
            }
            ClientAuth::Post => {
                form.push(("client_id", &self.config.client_id));
                form.push(("client_secret", &self.config.client_secret));
            }
        }
        let (status, body) = self
            .http
            .send(call.body(form_body(&form)), "token endpoint")
            .await?;
        if !status.is_success() {
            return Err(token_refusal(status, &body));
        }
        parse_json(&body, "token endpoint's answer")
    }

    /// The claims of `token`, once it is shown to be signed by the issuer for this client and
    /// this attempt.
    async fn verify_id_token(
        &self,
        metadata: &Metadata,
        token: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, SsoError> {
        let jws = Jws::parse(token)?;
        let (keys, fetched_now) = self.issuers.keys(&self.http, metadata).await?;
        let mut verdict = jws.verify(&keys);
        if verdict == Verdict::UnknownKey
            && !fetched_now
            && let Some(fresh) = self.issuers.refetch_keys(&self.http, metadata).await?
        {
            verdict = jws.verify(&fresh);
        }
        match verdict {
            Verdict::Valid => {}
            Verdict::UnknownKey => {
                return Err(invalid("the ID token is signed with an unknown key"));
            }
            Verdict::BadSignature => return Err(invalid("the ID token's signature is not valid")),
        }
        let claims = jws.claims()?;
        check_claims(&claims, &self.config, nonce, unix_now())?;
        Ok(claims)
    }

    /// The userinfo endpoint's claims, for `sub`.
    async fn userinfo(
        &self,
        endpoint: &Url,
        access_token: &str,
        sub: &str,
    ) -> Result<Map<String, Value>, SsoError> {
        let call = self
            .http
            .get(endpoint.clone())
            .bearer_auth(access_token)
            .header(ACCEPT, "application/json");
        let info: Map<String, Value> = self.http.fetch_json(call, "userinfo endpoint").await?;
        // OpenID Connect Core §5.3.2: the answer must be about the ID token's subject, or it
        // may be about someone else (a token mix-up).
        if info.get("sub").and_then(Value::as_str) != Some(sub) {
            return Err(invalid(
                "the userinfo endpoint answered about someone other than the ID token",
            ));
        }
        Ok(info)
    }
}

fn invalid(message: &str) -> SsoError {
    SsoError::InvalidAnswer(message.to_owned())
}

/// A random value of 256 bits, URL-safe (a PKCE verifier is 43 such characters).
fn random_token() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

/// `pairs` as an `application/x-www-form-urlencoded` body.
fn form_body(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// `client_secret_basic`: RFC 6749 §2.3.1 form-encodes the id and secret before Base64.
fn basic_credentials(client_id: &str, client_secret: &str) -> String {
    let id: String = form_urlencoded::byte_serialize(client_id.as_bytes()).collect();
    let secret: String = form_urlencoded::byte_serialize(client_secret.as_bytes()).collect();
    format!("Basic {}", STANDARD.encode(format!("{id}:{secret}")))
}

/// An OAuth error code with its description, as a person reads it (both are chosen by the
/// identity provider, or by whoever forged the answer: kept short).
fn describe_oauth_error(error: &str, description: Option<&str>) -> String {
    match description.map(str::trim).filter(|d| !d.is_empty()) {
        Some(description) => format!("{} ({})", shorten(description, 300), shorten(error, 60)),
        None => shorten(error, 60),
    }
}

/// Why the token endpoint refused: a code that is no good is the answer's fault, anything else
/// (wrong client secret, misconfigured client) the setup's.
fn token_refusal(status: reqwest::StatusCode, body: &[u8]) -> SsoError {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
        error_description: Option<String>,
    }
    match serde_json::from_slice::<OAuthError>(body) {
        Ok(refusal) if refusal.error == "invalid_grant" => SsoError::InvalidAnswer(format!(
            "the identity provider did not accept the login code (used already, or expired?): {}",
            describe_oauth_error(&refusal.error, refusal.error_description.as_deref())
        )),
        Ok(refusal)
            if refusal.error == "invalid_client" || refusal.error == "unauthorized_client" =>
        {
            SsoError::Unavailable(format!(
                "the identity provider did not accept Errhound's client ID and secret: {}",
                describe_oauth_error(&refusal.error, refusal.error_description.as_deref())
            ))
        }
        Ok(refusal) => SsoError::Unavailable(format!(
            "the identity provider's token endpoint refused the login: {}",
            describe_oauth_error(&refusal.error, refusal.error_description.as_deref())
        )),
        Err(_) => SsoError::Unavailable(format!(
            "the identity provider's token endpoint answered HTTP {status}"
        )),
    }
}

/// At most `limit` characters of `text`, for the messages that quote what an answer said.
fn shorten(text: &str, limit: usize) -> String {
    match text.char_indices().nth(limit) {
        Some((end, _)) => format!("{}…", &text[..end]),
        None => text.to_owned(),
    }
}

fn is_web_url(text: &str) -> bool {
    Url::parse(text).is_ok_and(|url| matches!(url.scheme(), "http" | "https") && url.has_host())
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| since.as_secs())
}

// ---------------------------------------------------------------------------------------------
// The ID token.

/// Which algorithms an ID token may be signed with: the identity provider's public keys only.
fn accepted_algorithm(name: &str) -> Result<Algorithm, SsoError> {
    Ok(match name {
        "RS256" => Algorithm::RS256,
        "RS384" => Algorithm::RS384,
        "RS512" => Algorithm::RS512,
        "PS256" => Algorithm::PS256,
        "PS384" => Algorithm::PS384,
        "PS512" => Algorithm::PS512,
        "ES256" => Algorithm::ES256,
        "ES384" => Algorithm::ES384,
        // RFC 9864 names Ed25519 on its own; "EdDSA" is what providers send today.
        "EdDSA" | "Ed25519" => Algorithm::EdDSA,
        "none" => return Err(invalid("the ID token is not signed")),
        // Signed with the client secret: whoever holds the secret could mint tokens.
        "HS256" | "HS384" | "HS512" => {
            return Err(invalid(
                "the ID token is signed with the client secret (HMAC); set the identity \
                 provider to sign with a key pair (RS256, ES256 or EdDSA)",
            ));
        }
        other => {
            return Err(SsoError::InvalidAnswer(format!(
                "the ID token is signed with {}, which Errhound does not accept",
                shorten(other, 20)
            )));
        }
    })
}

/// A compact JWS, split and its header read; the payload is trusted only after [`Jws::verify`].
struct Jws<'t> {
    algorithm: Algorithm,
    kid: Option<String>,
    signing_input: &'t str,
    payload: &'t str,
    signature: &'t str,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Valid,
    /// No key of the set is the token's (none with its `kid`, or none that verifies it).
    UnknownKey,
    /// The key named by `kid` does not verify the signature.
    BadSignature,
}

impl<'t> Jws<'t> {
    fn parse(token: &'t str) -> Result<Jws<'t>, SsoError> {
        #[derive(Deserialize)]
        struct Header {
            alg: String,
            kid: Option<String>,
            crit: Option<Value>,
        }
        let malformed = || invalid("the ID token is malformed");
        let token = token.trim();
        let parts: Vec<&str> = token.splitn(6, '.').collect();
        let [encoded_header, payload, signature] = parts[..] else {
            return Err(if parts.len() == 5 {
                invalid("the ID token is encrypted, which Errhound does not support")
            } else {
                malformed()
            });
        };
        let header: Header =
            serde_json::from_slice(&decode_base64url(encoded_header).ok_or_else(malformed)?)
                .map_err(|_| malformed())?;
        let algorithm = accepted_algorithm(&header.alg)?;
        // RFC 7515 §4.1.11: extensions marked critical must be understood; we know none.
        if header.crit.is_some() {
            return Err(invalid(
                "the ID token requires extensions Errhound does not know",
            ));
        }
        Ok(Jws {
            algorithm,
            kid: header.kid,
            // What the signature covers: `header.payload`, as sent.
            signing_input: &token[..encoded_header.len() + 1 + payload.len()],
            payload,
            signature,
        })
    }

    /// Whether a key of `keys` signed it.
    fn verify(&self, keys: &KeySet) -> Verdict {
        let mut named_key_seen = false;
        for key in keys.keys.iter().filter(|key| key.signs(self)) {
            named_key_seen |= self.kid.is_some() && key.kid == self.kid;
            let valid = jsonwebtoken::crypto::verify(
                self.signature,
                self.signing_input.as_bytes(),
                &key.key,
                self.algorithm,
            );
            if valid.unwrap_or(false) {
                return Verdict::Valid;
            }
        }
        if named_key_seen {
            Verdict::BadSignature
        } else {
            Verdict::UnknownKey
        }
    }

    /// The claims (call only once the signature is verified).
    fn claims(&self) -> Result<Map<String, Value>, SsoError> {
        let malformed = || invalid("the ID token's claims are malformed");
        serde_json::from_slice(&decode_base64url(self.payload).ok_or_else(malformed)?)
            .map_err(|_| malformed())
    }
}

/// Base64url without padding (RFC 7515), tolerating the padding some encoders add.
fn decode_base64url(text: &str) -> Option<Vec<u8>> {
    URL_SAFE_NO_PAD.decode(text.trim_end_matches('=')).ok()
}

/// The checks of OpenID Connect Core §3.1.3.7 on verified claims, at `now` (Unix seconds).
fn check_claims(
    claims: &Map<String, Value>,
    config: &OidcConfig,
    nonce: &str,
    now: u64,
) -> Result<(), SsoError> {
    if claims.get("iss").and_then(Value::as_str) != Some(config.issuer.as_str()) {
        return Err(invalid("the ID token comes from another issuer"));
    }
    let audiences: Vec<&str> = match claims.get("aud") {
        Some(Value::String(one)) => vec![one.as_str()],
        Some(Value::Array(many)) => many.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    };
    if !audiences.contains(&config.client_id.as_str()) {
        return Err(invalid("the ID token's audience is not this client"));
    }
    // With several audiences, the authorized party says which one the token was issued to.
    let azp = claims.get("azp").and_then(Value::as_str);
    if (audiences.len() > 1 && azp.is_none()) || azp.is_some_and(|azp| azp != config.client_id) {
        return Err(invalid("the ID token was issued to another client"));
    }
    let skew = CLOCK_SKEW.as_secs();
    match claims.get("exp").and_then(Value::as_f64) {
        Some(exp) if exp + skew as f64 >= now as f64 => {}
        Some(_) => return Err(invalid("the ID token has expired")),
        None => return Err(invalid("the ID token has no expiry time")),
    }
    if claims
        .get("nbf")
        .and_then(Value::as_f64)
        .is_some_and(|nbf| nbf > (now + skew) as f64)
    {
        return Err(invalid("the ID token is not valid yet (is a clock wrong?)"));
    }
    let given = claims
        .get("nonce")
        .and_then(Value::as_str)
        .unwrap_or_default();
    if nonce.is_empty() || !bool::from(given.as_bytes().ct_eq(nonce.as_bytes())) {
        return Err(invalid(
            "the ID token's nonce does not match this login attempt",
        ));
    }
    Ok(())
}

/// Who the claims name.
#[derive(Debug, Default)]
struct Person {
    sub: String,
    email: Option<String>,
    email_verified: bool,
    name: Option<String>,
    groups: Option<Vec<String>>,
}

impl Person {
    fn from_claims(claims: &Map<String, Value>, groups_claim: &str) -> Person {
        Person {
            sub: text_claim(claims, "sub").unwrap_or_default(),
            email: text_claim(claims, "email"),
            email_verified: is_true(claims.get("email_verified")),
            name: text_claim(claims, "name"),
            groups: groups(claims.get(groups_claim)),
        }
    }

    /// Takes what the ID token lacked from the userinfo answer (the e-mail with its
    /// verification, which belong together).
    fn fill_from_userinfo(&mut self, info: &Map<String, Value>, groups_claim: &str) {
        if self.email.is_none() {
            self.email = text_claim(info, "email");
            self.email_verified = is_true(info.get("email_verified"));
        }
        if self.name.is_none() {
            self.name = text_claim(info, "name");
        }
        if self.groups.is_none() {
            self.groups = groups(info.get(groups_claim));
        }
    }

    fn bind(self, attempt: &mut Attempt) {
        attempt.bind_identity(&Identity {
            id: self.sub,
            email: self.email.unwrap_or_default(),
            name: self.name,
            email_verified: self.email_verified,
            groups: self.groups.unwrap_or_default(),
        });
    }
}

fn text_claim(claims: &Map<String, Value>, name: &str) -> Option<String> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
        .map(str::to_owned)
}

/// `true`, or the string `"true"` some providers (AWS Cognito) send.
fn is_true(value: Option<&Value>) -> bool {
    matches!(value, Some(Value::Bool(true))) || value.and_then(Value::as_str) == Some("true")
}

/// The groups claim: an array of strings (anything else in it is skipped) or one string.
fn groups(value: Option<&Value>) -> Option<Vec<String>> {
    match value? {
        Value::String(one) => Some(vec![one.clone()]),
        Value::Array(many) => Some(
            many.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect(),
        ),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// The identity provider's documents.

/// How the client authenticates at the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ClientAuth {
    /// `client_secret_basic`: HTTP Basic (the default of OpenID Connect Discovery).
    Basic,
    /// `client_secret_post`: in the form.
    Post,
}

/// The parts of a discovery document the login uses, checked.
#[derive(Debug)]
struct Metadata {
    /// The issuer, exactly as configured (and as the document names itself).
    issuer: String,
    authorization_endpoint: Url,
    token_endpoint: Url,
    jwks_uri: Url,
    userinfo_endpoint: Option<Url>,
    client_auth: ClientAuth,
}

impl Metadata {
    fn read(body: &[u8], issuer: &str) -> Result<Metadata, SsoError> {
        #[derive(Deserialize)]
        struct Document {
            issuer: String,
            authorization_endpoint: String,
            token_endpoint: String,
            jwks_uri: String,
            userinfo_endpoint: Option<String>,
            token_endpoint_auth_methods_supported: Option<Vec<String>>,
        }
        let document: Document = parse_json(body, "discovery document")?;
        // OpenID Connect Discovery §4.3: a document for another issuer is not this one's
        // (it could be an impostor's served from the configured address).
        if document.issuer != issuer {
            return Err(SsoError::Unavailable(format!(
                "its discovery document is for the issuer {}, not {issuer} (the configured issuer \
                 must be exactly the provider's)",
                shorten(&document.issuer, 200)
            )));
        }
        // An https issuer keeps every endpoint on https: no downgrade through the document.
        let https_only = issuer.starts_with("https:");
        let endpoint = |address: &str, what: &str| {
            Url::parse(address)
                .ok()
                .filter(|url| {
                    url.has_host()
                        && (url.scheme() == "https" || (!https_only && url.scheme() == "http"))
                })
                .ok_or_else(|| {
                    SsoError::Unavailable(format!(
                        "its discovery document gives an unusable {what} ({})",
                        shorten(address, 200)
                    ))
                })
        };
        let methods = document.token_endpoint_auth_methods_supported;
        let offers = |method: &str| {
            methods
                .as_ref()
                .is_some_and(|m| m.iter().any(|x| x == method))
        };
        let client_auth = if methods.is_none() || offers("client_secret_basic") {
            ClientAuth::Basic
        } else if offers("client_secret_post") {
            ClientAuth::Post
        } else {
            return Err(SsoError::Unavailable(
                "its token endpoint accepts neither client_secret_basic nor client_secret_post"
                    .into(),
            ));
        };
        Ok(Metadata {
            issuer: document.issuer.clone(),
            authorization_endpoint: endpoint(
                &document.authorization_endpoint,
                "authorization endpoint",
            )?,
            token_endpoint: endpoint(&document.token_endpoint, "token endpoint")?,
            jwks_uri: endpoint(&document.jwks_uri, "JWKS address")?,
            userinfo_endpoint: document
                .userinfo_endpoint
                .as_deref()
                .map(|address| endpoint(address, "userinfo endpoint"))
                .transpose()?,
            client_auth,
        })
    }
}

/// What the token endpoint answers.
#[derive(Deserialize)]
struct TokenAnswer {
    id_token: Option<String>,
    access_token: Option<String>,
}

/// An issuer's signing keys, from its JWKS.
struct KeySet {
    /// The JWKS address they came from (the discovery document may move it).
    from: Url,
    keys: Vec<SigningKey>,
}

/// One public key of a JWKS.
struct SigningKey {
    kid: Option<String>,
    /// The JWK's `alg`, when it restricts the key to one algorithm.
    alg: Option<Algorithm>,
    curve: Curve,
    key: DecodingKey,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Curve {
    Rsa,
    P256,
    P384,
    Ed25519,
}

impl SigningKey {
    /// Whether this key may have signed `jws` (the algorithm is the key's and so is the `kid`):
    /// a key is never used with another algorithm than its own.
    fn signs(&self, jws: &Jws<'_>) -> bool {
        let fits = match self.curve {
            Curve::Rsa => matches!(
                jws.algorithm,
                Algorithm::RS256
                    | Algorithm::RS384
                    | Algorithm::RS512
                    | Algorithm::PS256
                    | Algorithm::PS384
                    | Algorithm::PS512
            ),
            Curve::P256 => jws.algorithm == Algorithm::ES256,
            Curve::P384 => jws.algorithm == Algorithm::ES384,
            Curve::Ed25519 => jws.algorithm == Algorithm::EdDSA,
        };
        let same_alg = self.alg.is_none_or(|alg| alg == jws.algorithm);
        // A key without a kid may sign any token; a token without one may be any key's.
        let same_kid = match (&jws.kid, &self.kid) {
            (Some(wanted), Some(kid)) => wanted == kid,
            _ => true,
        };
        fits && same_alg && same_kid
    }

    /// The signing key of a JWK, when it is one we can use (encryption keys, other key types
    /// and malformed keys are skipped). The sizes are checked here: the crypto underneath
    /// must never see a key of the wrong length.
    fn from_jwk(jwk: &Value) -> Option<SigningKey> {
        #[derive(Deserialize)]
        struct Jwk {
            kty: String,
            kid: Option<String>,
            alg: Option<String>,
            #[serde(rename = "use")]
            usage: Option<String>,
            crv: Option<String>,
            n: Option<String>,
            e: Option<String>,
            x: Option<String>,
            y: Option<String>,
        }
        let jwk: Jwk = Jwk::deserialize(jwk).ok()?;
        if jwk.usage.as_deref().is_some_and(|usage| usage != "sig") {
            return None;
        }
        // A key meant for another algorithm (say RSA-OAEP) is not a signing key of ours.
        let alg = match jwk.alg.as_deref() {
            Some(name) => Some(accepted_algorithm(name).ok()?),
            None => None,
        };
        let bytes = |part: &Option<String>, length: usize| {
            decode_base64url(part.as_deref()?).filter(|bytes| bytes.len() == length)
        };
        let (curve, key) = match (jwk.kty.as_str(), jwk.crv.as_deref()) {
            ("RSA", _) => {
                let n = decode_base64url(jwk.n.as_deref()?)?;
                let e = decode_base64url(jwk.e.as_deref()?)?;
                let n = strip_leading_zeros(&n);
                let e = strip_leading_zeros(&e);
                // 2048 to 4096 bits: smaller keys are breakable, larger ones refused by `rsa`.
                if !(256..=512).contains(&n.len()) || e.is_empty() || e.len() > 8 {
                    return None;
                }
                (Curve::Rsa, DecodingKey::from_rsa_raw_components(n, e))
            }
            ("EC", Some(curve @ ("P-256" | "P-384"))) => {
                let (curve, length) = if curve == "P-256" {
                    (Curve::P256, 32)
                } else {
                    (Curve::P384, 48)
                };
                let x = URL_SAFE_NO_PAD.encode(bytes(&jwk.x, length)?);
                let y = URL_SAFE_NO_PAD.encode(bytes(&jwk.y, length)?);
                (curve, DecodingKey::from_ec_components(&x, &y).ok()?)
            }
            ("OKP", Some("Ed25519")) => {
                let x = URL_SAFE_NO_PAD.encode(bytes(&jwk.x, 32)?);
                (Curve::Ed25519, DecodingKey::from_ed_components(&x).ok()?)
            }
            _ => return None,
        };
        Some(SigningKey {
            kid: jwk.kid,
            alg,
            curve,
            key,
        })
    }
}

fn strip_leading_zeros(bytes: &[u8]) -> &[u8] {
    let start = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    &bytes[start..]
}

fn read_key_set(body: &[u8], from: &Url) -> Result<KeySet, SsoError> {
    #[derive(Deserialize)]
    struct Jwks {
        keys: Vec<Value>,
    }
    let jwks: Jwks = parse_json(body, "key set (JWKS)")?;
    Ok(KeySet {
        from: from.clone(),
        keys: jwks
            .keys
            .iter()
            .take(MAX_KEYS)
            .filter_map(SigningKey::from_jwk)
            .collect(),
    })
}

// ---------------------------------------------------------------------------------------------
// The cache.

/// Each issuer's discovery document and key set, shared by the providers of one kind.
#[derive(Default)]
struct IssuerCache {
    issuers: Mutex<HashMap<String, CachedIssuer>>,
}

#[derive(Default)]
struct CachedIssuer {
    metadata: Option<Fetched<Arc<Metadata>>>,
    keys: Option<Fetched<Arc<KeySet>>>,
    /// When a token naming an unknown key last made us fetch the key set.
    last_refetch: Option<Instant>,
    /// When a login last used it (the least recently used issuer is dropped first).
    used: Option<Instant>,
}

struct Fetched<T> {
    value: T,
    at: Instant,
}

impl<T: Clone> Fetched<T> {
    fn now(value: T) -> Fetched<T> {
        Fetched {
            value,
            at: Instant::now(),
        }
    }

    fn fresh(&self) -> Option<T> {
        (self.at.elapsed() < CACHE_TTL).then(|| self.value.clone())
    }
}

impl IssuerCache {
    /// Runs `change` on the entry of `issuer` (made, dropping the least recently used issuer
    /// when the cache is full); the lock is never held across a request.
    fn with<R>(&self, issuer: &str, change: impl FnOnce(&mut CachedIssuer) -> R) -> R {
        let mut issuers = self.issuers.lock().unwrap_or_else(PoisonError::into_inner);
        if !issuers.contains_key(issuer) && issuers.len() >= MAX_CACHED_ISSUERS {
            let least_used = issuers
                .iter()
                .min_by_key(|(_, cached)| cached.used)
                .map(|(name, _)| name.clone());
            if let Some(name) = least_used {
                issuers.remove(&name);
            }
        }
        let cached = issuers.entry(issuer.to_owned()).or_default();
        cached.used = Some(Instant::now());
        change(cached)
    }

    async fn metadata(&self, http: &IdpClient, issuer: &str) -> Result<Arc<Metadata>, SsoError> {
        let cached = self.with(issuer, |cached| {
            cached.metadata.as_ref().and_then(Fetched::fresh)
        });
        if let Some(metadata) = cached {
            return Ok(metadata);
        }
        let address = format!(
            "{}/.well-known/openid-configuration",
            issuer.trim_end_matches('/')
        );
        let call = http.get(address).header(ACCEPT, "application/json");
        let (status, body) = http.send(call, "discovery document").await?;
        if !status.is_success() {
            return Err(SsoError::Unavailable(format!(
                "its discovery document answered HTTP {status} (is the issuer right?)"
            )));
        }
        let metadata = Arc::new(Metadata::read(&body, issuer)?);
        self.with(issuer, |cached| {
            cached.metadata = Some(Fetched::now(Arc::clone(&metadata)));
        });
        Ok(metadata)
    }

    /// The issuer's key set, and whether it was fetched just now (then fetching it again for
    /// an unknown key would be pointless).
    async fn keys(
        &self,
        http: &IdpClient,
        metadata: &Metadata,
    ) -> Result<(Arc<KeySet>, bool), SsoError> {
        let cached = self.with(&metadata.issuer, |cached| {
            cached
                .keys
                .as_ref()
                .and_then(Fetched::fresh)
                .filter(|keys| keys.from == metadata.jwks_uri)
        });
        match cached {
            Some(keys) => Ok((keys, false)),
            None => Ok((self.fetch_keys(http, metadata).await?, true)),
        }
    }

    /// A freshly fetched key set after a token named a key the cached one lacks, unless that
    /// happened less than [`JWKS_REFETCH_INTERVAL`] ago.
    async fn refetch_keys(
        &self,
        http: &IdpClient,
        metadata: &Metadata,
    ) -> Result<Option<Arc<KeySet>>, SsoError> {
        let allowed = self.with(&metadata.issuer, |cached| {
            let recent = cached
                .last_refetch
                .is_some_and(|at| at.elapsed() < JWKS_REFETCH_INTERVAL);
            if !recent {
                cached.last_refetch = Some(Instant::now());
            }
            !recent
        });
        if !allowed {
            return Ok(None);
        }
        Ok(Some(self.fetch_keys(http, metadata).await?))
    }

    async fn fetch_keys(
        &self,
        http: &IdpClient,
        metadata: &Metadata,
    ) -> Result<Arc<KeySet>, SsoError> {
        let call = http
            .get(metadata.jwks_uri.clone())
            .header(ACCEPT, "application/json");
        let (status, body) = http.send(call, "key set (JWKS)").await?;
        if !status.is_success() {
            return Err(SsoError::Unavailable(format!(
                "its key set (JWKS) answered HTTP {status}"
            )));
        }
        let keys = Arc::new(read_key_set(&body, &metadata.jwks_uri)?);
        self.with(&metadata.issuer, |cached| {
            cached.keys = Some(Fetched::now(Arc::clone(&keys)));
        });
        Ok(keys)
    }
}
