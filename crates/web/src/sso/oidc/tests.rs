//! The OpenID Connect provider against a small identity provider served here on 127.0.0.1:
//! discovery, JWKS, token and userinfo endpoints, ID tokens signed with keys made per run.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use axum::Router;
use axum::extract::{Form, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Json, Response};
use axum::routing::{get, post};
use errhound_domain::sso::{Advance, Flow, advance};
use jsonwebtoken::{EncodingKey, Header};
use percent_encoding::percent_decode_str;
use rsa::pkcs1::EncodeRsaPrivateKey;
use rsa::traits::PublicKeyParts;
use rsa::{Generate, PrivateKey};
use serde_json::json;

use super::*;
use crate::sso::Registry;
use crate::sso::http::MAX_ANSWER_BYTES;

const CLIENT_ID: &str = "errhound-client";
/// With characters that `client_secret_basic` must form-encode.
const CLIENT_SECRET: &str = "s3cret/with+odd=chars";
const CALLBACK: &str = "http://errhound.test/auth/sso/";

// ---------------------------------------------------------------------------------------------
// Keys.

/// A signing key of the identity provider, with its JWK.
#[derive(Clone)]
struct TestKey {
    kid: String,
    alg: Algorithm,
    private_der: Vec<u8>,
    jwk: Value,
}

impl TestKey {
    /// One RSA key per test run: making one takes a while.
    fn rsa(kid: &str) -> TestKey {
        static RSA: OnceLock<(Vec<u8>, Vec<u8>, Vec<u8>)> = OnceLock::new();
        let (der, n, e) = RSA.get_or_init(|| {
            let key = PrivateKey::generate();
            let der = key.to_pkcs1_der().unwrap().as_bytes().to_vec();
            (der, key.n_bytes().to_vec(), key.e_bytes().to_vec())
        });
        TestKey {
            kid: kid.to_owned(),
            alg: Algorithm::RS256,
            private_der: der.clone(),
            jwk: json!({
                "kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
                "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e),
            }),
        }
    }

    fn p256(kid: &str) -> TestKey {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        // The uncompressed point: 0x04, x, y.
        let point = pair.public_key_raw();
        TestKey {
            kid: kid.to_owned(),
            alg: Algorithm::ES256,
            private_der: pair.serialize_der(),
            jwk: json!({
                "kty": "EC", "crv": "P-256", "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&point[1..33]),
                "y": URL_SAFE_NO_PAD.encode(&point[33..65]),
            }),
        }
    }

    fn ed25519(kid: &str) -> TestKey {
        let pair = rcgen::KeyPair::generate_for(&rcgen::PKCS_ED25519).unwrap();
        TestKey {
            kid: kid.to_owned(),
            alg: Algorithm::EdDSA,
            private_der: pair.serialize_der(),
            jwk: json!({
                "kty": "OKP", "crv": "Ed25519", "kid": kid, "alg": "EdDSA",
                "x": URL_SAFE_NO_PAD.encode(pair.public_key_raw()),
            }),
        }
    }

    fn sign(&self, claims: &Value) -> String {
        let key = match self.alg {
            Algorithm::RS256 => EncodingKey::from_rsa_der(&self.private_der),
            Algorithm::ES256 => EncodingKey::from_ec_der(&self.private_der),
            _ => EncodingKey::from_ed_der(&self.private_der),
        };
        let mut header = Header::new(self.alg);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &key).unwrap()
    }
}

// ---------------------------------------------------------------------------------------------
// The identity provider.

struct IdpState {
    issuer: String,
    /// The issuer its discovery document names, when not its own.
    claimed_issuer: Option<String>,
    signer: TestKey,
    published: Vec<Value>,
    /// A JWKS body served instead of `published`.
    raw_jwks: Option<String>,
    /// Whether `raw_jwks` is streamed in chunks, with no Content-Length.
    stream_jwks: bool,
    auth_methods: Vec<&'static str>,
    /// Codes handed out, with the PKCE challenge they were asked with and their ID token.
    grants: HashMap<String, (String, String)>,
    userinfo: Option<Value>,
    discovery_fetches: usize,
    jwks_fetches: usize,
    client_auth_used: Option<&'static str>,
}

type Shared = Arc<Mutex<IdpState>>;

#[derive(Clone)]
struct Idp {
    issuer: String,
    state: Shared,
}

impl Idp {
    async fn start(signer: TestKey) -> Idp {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let issuer = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(IdpState {
            issuer: issuer.clone(),
            claimed_issuer: None,
            published: vec![signer.jwk.clone()],
            signer,
            raw_jwks: None,
            stream_jwks: false,
            auth_methods: vec!["client_secret_basic", "client_secret_post"],
            grants: HashMap::new(),
            userinfo: None,
            discovery_fetches: 0,
            jwks_fetches: 0,
            client_auth_used: None,
        }));
        let router = Router::new()
            .route("/.well-known/openid-configuration", get(discovery))
            .route("/jwks", get(jwks))
            .route("/token", post(token))
            .route("/userinfo", get(userinfo))
            .with_state(Arc::clone(&state));
        tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Idp { issuer, state }
    }

    fn lock(&self) -> MutexGuard<'_, IdpState> {
        self.state.lock().unwrap()
    }

    /// What a login at the identity provider hands back: a code for `id_token`.
    fn grant(&self, redirect: &BTreeMap<String, String>, id_token: String) -> String {
        let code = format!("code-{}", rand::random::<u32>());
        self.lock()
            .grants
            .insert(code.clone(), (redirect["code_challenge"].clone(), id_token));
        code
    }

    fn sign(&self, claims: &Value) -> String {
        self.lock().signer.sign(claims)
    }

    /// The claims of a good ID token for the attempt that sent `nonce`.
    fn claims(&self, nonce: &str) -> Value {
        json!({
            "iss": self.issuer, "sub": "user-42", "aud": CLIENT_ID,
            "exp": unix_now() + 300, "iat": unix_now(), "nonce": nonce,
            "email": "ann@corp.test", "email_verified": true, "name": "Ann Example",
            "groups": ["eng", "ops"],
        })
    }
}

async fn discovery(State(state): State<Shared>) -> Json<Value> {
    let mut idp = state.lock().unwrap();
    idp.discovery_fetches += 1;
    let base = idp.issuer.clone();
    Json(json!({
        "issuer": idp.claimed_issuer.clone().unwrap_or_else(|| base.clone()),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/token"),
        "jwks_uri": format!("{base}/jwks"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "token_endpoint_auth_methods_supported": idp.auth_methods,
        "id_token_signing_alg_values_supported": ["RS256", "ES256", "EdDSA"],
    }))
}

async fn jwks(State(state): State<Shared>) -> Response {
    let mut idp = state.lock().unwrap();
    idp.jwks_fetches += 1;
    match &idp.raw_jwks {
        Some(body) if idp.stream_jwks => {
            let chunks: Vec<Result<String, std::io::Error>> = body
                .as_bytes()
                .chunks(64 * 1024)
                .map(|chunk| Ok(String::from_utf8_lossy(chunk).into_owned()))
                .collect();
            axum::body::Body::from_stream(futures_util::stream::iter(chunks)).into_response()
        }
        Some(body) => body.clone().into_response(),
        None => Json(json!({ "keys": idp.published })).into_response(),
    }
}

fn oauth_error(status: StatusCode, error: &str) -> Response {
    (status, Json(json!({ "error": error }))).into_response()
}

fn form_decode(text: &str) -> String {
    percent_decode_str(&text.replace('+', " "))
        .decode_utf8()
        .unwrap()
        .into_owned()
}

async fn token(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<HashMap<String, String>>,
) -> Response {
    let mut idp = state.lock().unwrap();
    let basic = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Basic "))
        .map(|encoded| String::from_utf8(STANDARD.decode(encoded).unwrap()).unwrap());
    let (method, id, secret) = match &basic {
        Some(pair) => {
            let (id, secret) = pair.split_once(':').unwrap();
            ("client_secret_basic", form_decode(id), form_decode(secret))
        }
        None => (
            "client_secret_post",
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned().unwrap_or_default(),
        ),
    };
    if !idp.auth_methods.contains(&method) || id != CLIENT_ID || secret != CLIENT_SECRET {
        return oauth_error(StatusCode::UNAUTHORIZED, "invalid_client");
    }
    idp.client_auth_used = Some(method);
    let field = |name: &str| form.get(name).map(String::as_str).unwrap_or_default();
    if field("grant_type") != "authorization_code" || field("redirect_uri") != CALLBACK {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_request");
    }
    let Some((challenge, id_token)) = idp.grants.remove(field("code")) else {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    };
    // PKCE: the verifier must be the one the challenge was made from.
    if URL_SAFE_NO_PAD.encode(Sha256::digest(field("code_verifier"))) != challenge {
        return oauth_error(StatusCode::BAD_REQUEST, "invalid_grant");
    }
    Json(json!({
        "access_token": format!("at-{}", field("code")),
        "token_type": "Bearer",
        "id_token": id_token,
    }))
    .into_response()
}

async fn userinfo(State(state): State<Shared>, headers: HeaderMap) -> Response {
    let idp = state.lock().unwrap();
    let bearer = headers
        .get("authorization")
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| value.starts_with("Bearer at-code-"));
    match (&idp.userinfo, bearer) {
        (Some(info), true) => Json(info.clone()).into_response(),
        (_, false) => StatusCode::UNAUTHORIZED.into_response(),
        (None, true) => StatusCode::NOT_FOUND.into_response(),
    }
}

// ---------------------------------------------------------------------------------------------
// Driving a login.

fn settings(idp: &Idp, extra: &[(&str, &str)]) -> SettingValues {
    let mut values = BTreeMap::from([
        ("issuer".to_owned(), json!(idp.issuer)),
        ("client_id".to_owned(), json!(CLIENT_ID)),
        ("client_secret".to_owned(), json!(CLIENT_SECRET)),
    ]);
    for (key, value) in extra {
        values.insert((*key).to_owned(), json!(value));
    }
    SettingValues(values)
}

fn context() -> ProviderContext {
    ProviderContext {
        callback_url: CALLBACK.to_owned(),
        public_url: "http://errhound.test".to_owned(),
        organization: "acme".to_owned(),
        http: crate::sso::http::IdpClient::new(true),
    }
}

fn build(kind: &OidcKind, idp: &Idp, extra: &[(&str, &str)]) -> Arc<dyn SsoProvider> {
    kind.build(&settings(idp, extra), &context()).unwrap()
}

fn now_ms() -> i64 {
    i64::try_from(unix_now() * 1000).unwrap()
}

/// Starts an attempt: the redirect's address and its parameters.
async fn start(provider: &dyn SsoProvider) -> (Attempt, Url, BTreeMap<String, String>) {
    let mut attempt = Attempt::start(provider, 1, Flow::Login, None, now_ms());
    let request = CallbackRequest {
        resume_state: "state-1".to_owned(),
        ..CallbackRequest::default()
    };
    let outcome = advance(provider, &mut attempt, &request, now_ms()).await;
    let Ok(Advance::Redirect(address)) = outcome else {
        panic!("{outcome:?}")
    };
    let url = Url::parse(&address).unwrap();
    let params = url.query_pairs().into_owned().collect();
    (attempt, url, params)
}

/// The identity provider's answer arriving at the callback.
async fn answer(
    provider: &dyn SsoProvider,
    attempt: &mut Attempt,
    params: &[(&str, &str)],
    is_post: bool,
) -> Result<Identity, SsoError> {
    let request = CallbackRequest {
        params: params
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
        is_post,
        resume_state: "state-2".to_owned(),
    };
    match advance(provider, attempt, &request, now_ms()).await? {
        Advance::Finished(identity) => Ok(identity),
        other => panic!("{other:?}"),
    }
}

/// A whole login whose ID token is `make`'s, from the good claims for the attempt.
async fn login_with(
    provider: &dyn SsoProvider,
    idp: &Idp,
    make: impl FnOnce(Value) -> String,
) -> Result<Identity, SsoError> {
    let (mut attempt, _, redirect) = start(provider).await;
    let code = idp.grant(&redirect, make(idp.claims(&redirect["nonce"])));
    answer(
        provider,
        &mut attempt,
        &[("code", &code), ("state", &redirect["state"])],
        false,
    )
    .await
}

/// A whole login whose ID token has the good claims changed by `patch` (a `null` removes one),
/// signed with the identity provider's current key.
async fn login(provider: &dyn SsoProvider, idp: &Idp, patch: Value) -> Result<Identity, SsoError> {
    login_with(provider, idp, |claims| idp.sign(&patched(claims, patch))).await
}

fn patched(mut claims: Value, patch: Value) -> Value {
    let (Some(claims_map), Value::Object(changes)) = (claims.as_object_mut(), patch) else {
        return claims;
    };
    for (name, value) in changes {
        if value.is_null() {
            claims_map.remove(&name);
        } else {
            claims_map.insert(name, value);
        }
    }
    claims
}

fn refused(message: &str) -> Result<Identity, SsoError> {
    Err(SsoError::InvalidAnswer(message.to_owned()))
}

fn ann(groups: &[&str]) -> Identity {
    Identity {
        id: "user-42".to_owned(),
        email: "ann@corp.test".to_owned(),
        name: Some("Ann Example".to_owned()),
        email_verified: true,
        groups: groups.iter().map(|g| (*g).to_owned()).collect(),
    }
}

// ---------------------------------------------------------------------------------------------
// Good logins.

#[tokio::test]
async fn an_rs256_login_sends_the_browser_with_pkce_and_a_nonce_then_verifies_the_token() {
    let idp = Idp::start(TestKey::rsa("rsa-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    let (mut attempt, url, redirect) = start(&*provider).await;

    assert_eq!(
        url.as_str().split('?').next(),
        Some(&*format!("{}/authorize", idp.issuer))
    );
    assert_eq!(redirect["response_type"], "code");
    assert_eq!(redirect["client_id"], CLIENT_ID);
    assert_eq!(redirect["redirect_uri"], CALLBACK);
    assert_eq!(redirect["scope"], "openid email profile");
    assert_eq!(redirect["state"], "state-1");
    assert_eq!(redirect["code_challenge_method"], "S256");
    assert!(!redirect.contains_key("response_mode"));
    // 32 random bytes each: 43 base64url characters.
    assert_eq!(redirect["nonce"].len(), 43);
    assert_eq!(redirect["code_challenge"].len(), 43);
    assert_eq!(attempt.fetch("nonce"), Some(redirect["nonce"].as_str()));
    assert_ne!(
        attempt.fetch("pkce_verifier"),
        Some(redirect["code_challenge"].as_str())
    );
    // A second attempt gets other values.
    let (_, _, other) = start(&*provider).await;
    assert_ne!(other["nonce"], redirect["nonce"]);
    assert_ne!(other["code_challenge"], redirect["code_challenge"]);

    let token = idp.sign(&idp.claims(&redirect["nonce"]));
    let code = idp.grant(&redirect, token);
    let identity = answer(
        &*provider,
        &mut attempt,
        &[("code", &code), ("state", "state-1")],
        false,
    )
    .await
    .unwrap();
    assert_eq!(identity, ann(&["eng", "ops"]));
    // Discovery offered both methods: Basic is preferred.
    assert_eq!(idp.lock().client_auth_used, Some("client_secret_basic"));
}

#[tokio::test]
async fn an_es256_login_works() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    assert_eq!(
        login(&*provider, &idp, json!({})).await,
        Ok(ann(&["eng", "ops"]))
    );
}

#[tokio::test]
async fn an_eddsa_login_works() {
    let idp = Idp::start(TestKey::ed25519("ed-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    assert_eq!(
        login(&*provider, &idp, json!({})).await,
        Ok(ann(&["eng", "ops"]))
    );
}

#[tokio::test]
async fn form_post_asks_for_a_posted_answer_and_refuses_one_in_the_address() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[("response_mode", "form_post")]);

    let (mut attempt, _, redirect) = start(&*provider).await;
    assert_eq!(redirect["response_mode"], "form_post");
    let code = idp.grant(&redirect, idp.sign(&idp.claims(&redirect["nonce"])));
    let params = [("code", code.as_str()), ("state", "state-1")];
    let posted = answer(&*provider, &mut attempt, &params, true).await;
    assert_eq!(posted, Ok(ann(&["eng", "ops"])));

    let (mut attempt, _, redirect) = start(&*provider).await;
    let code = idp.grant(&redirect, idp.sign(&idp.claims(&redirect["nonce"])));
    let params = [("code", code.as_str()), ("state", "state-1")];
    let in_address = answer(&*provider, &mut attempt, &params, false).await;
    assert_eq!(
        in_address,
        refused(
            "the identity provider answered in the address, but it is set up to answer with a \
             form (response mode form_post)"
        )
    );
}

#[tokio::test]
async fn client_secret_post_is_used_when_the_provider_offers_only_that() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    idp.lock().auth_methods = vec!["client_secret_post"];
    let provider = build(&OidcKind::new(), &idp, &[]);
    assert!(login(&*provider, &idp, json!({})).await.is_ok());
    assert_eq!(idp.lock().client_auth_used, Some("client_secret_post"));

    // Neither method: the login cannot start.
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    idp.lock().auth_methods = vec!["private_key_jwt"];
    let provider = build(&OidcKind::new(), &idp, &[]);
    let mut attempt = Attempt::start(&*provider, 1, Flow::Login, None, now_ms());
    let outcome = advance(
        &*provider,
        &mut attempt,
        &CallbackRequest::default(),
        now_ms(),
    )
    .await;
    assert_eq!(
        outcome,
        Err(SsoError::Unavailable(
            "its token endpoint accepts neither client_secret_basic nor client_secret_post".into()
        ))
    );
}

#[tokio::test]
async fn the_userinfo_endpoint_gives_the_e_mail_the_id_token_lacks() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    let no_email = json!({ "email": null, "email_verified": null });

    idp.lock().userinfo = Some(json!({
        "sub": "user-42", "email": "ann@userinfo.test", "email_verified": "true",
    }));
    let identity = login(&*provider, &idp, no_email.clone()).await.unwrap();
    assert_eq!(identity.email, "ann@userinfo.test");
    assert!(identity.email_verified);

    // About someone else: refused, not mixed into Ann's login.
    idp.lock().userinfo = Some(json!({ "sub": "user-7", "email": "eve@corp.test" }));
    assert_eq!(
        login(&*provider, &idp, no_email).await,
        refused("the userinfo endpoint answered about someone other than the ID token")
    );
}

#[tokio::test]
async fn groups_come_from_the_configured_claim_as_an_array_or_one_string() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[("groups_claim", "roles")]);
    let one = login(&*provider, &idp, json!({ "roles": "admin" }))
        .await
        .unwrap();
    assert_eq!(one.groups, ["admin"]);
    let many = login(&*provider, &idp, json!({ "roles": ["a", 7, "b"] }))
        .await
        .unwrap();
    assert_eq!(many.groups, ["a", "b"]);
    let none = login(&*provider, &idp, json!({})).await.unwrap();
    assert!(none.groups.is_empty(), "{none:?}");
}

// ---------------------------------------------------------------------------------------------
// Refusals.

#[tokio::test]
async fn a_token_with_another_nonce_is_refused() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    assert_eq!(
        login(
            &*provider,
            &idp,
            json!({ "nonce": "replayed-from-another-login" })
        )
        .await,
        refused("the ID token's nonce does not match this login attempt")
    );
    assert_eq!(
        login(&*provider, &idp, json!({ "nonce": null })).await,
        refused("the ID token's nonce does not match this login attempt")
    );
}

#[tokio::test]
async fn an_expired_token_is_refused_beyond_the_clock_skew() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    let skew = CLOCK_SKEW.as_secs();
    assert_eq!(
        login(&*provider, &idp, json!({ "exp": unix_now() - skew - 30 })).await,
        refused("the ID token has expired")
    );
    // Within the skew: a clock a little behind the identity provider's is not an expiry.
    let late = login(&*provider, &idp, json!({ "exp": unix_now() - skew / 2 })).await;
    assert!(late.is_ok(), "{late:?}");
    assert_eq!(
        login(&*provider, &idp, json!({ "exp": null })).await,
        refused("the ID token has no expiry time")
    );
}

#[tokio::test]
async fn a_token_for_another_audience_is_refused() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    assert_eq!(
        login(&*provider, &idp, json!({ "aud": "another-client" })).await,
        refused("the ID token's audience is not this client")
    );
    // Several audiences: the authorized party must be this client.
    let both = json!([CLIENT_ID, "another-client"]);
    assert_eq!(
        login(&*provider, &idp, json!({ "aud": both })).await,
        refused("the ID token was issued to another client")
    );
    assert_eq!(
        login(
            &*provider,
            &idp,
            json!({ "aud": both, "azp": "another-client" })
        )
        .await,
        refused("the ID token was issued to another client")
    );
    let ours = login(&*provider, &idp, json!({ "aud": both, "azp": CLIENT_ID })).await;
    assert!(ours.is_ok(), "{ours:?}");
}

#[tokio::test]
async fn a_token_from_another_issuer_is_refused() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    assert_eq!(
        login(&*provider, &idp, json!({ "iss": "https://impostor.test" })).await,
        refused("the ID token comes from another issuer")
    );
}

#[tokio::test]
async fn a_discovery_document_for_another_issuer_is_refused() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    idp.lock().claimed_issuer = Some("https://impostor.test".to_owned());
    let provider = build(&OidcKind::new(), &idp, &[]);
    let mut attempt = Attempt::start(&*provider, 1, Flow::Login, None, now_ms());
    let outcome = advance(
        &*provider,
        &mut attempt,
        &CallbackRequest::default(),
        now_ms(),
    )
    .await;
    let Err(SsoError::Unavailable(message)) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        message.starts_with("its discovery document is for the issuer https://impostor.test"),
        "{message}"
    );
}

#[tokio::test]
async fn a_token_signed_with_an_unknown_key_is_refused_after_one_jwks_refetch() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    assert!(login(&*provider, &idp, json!({})).await.is_ok());
    assert_eq!(idp.lock().jwks_fetches, 1);

    let stranger = TestKey::p256("stranger");
    let forged = login_with(&*provider, &idp, |claims| stranger.sign(&claims)).await;
    assert_eq!(
        forged,
        refused("the ID token is signed with an unknown key")
    );
    assert_eq!(
        idp.lock().jwks_fetches,
        2,
        "the JWKS is fetched again, once"
    );

    // Right after: no new fetch (at most one per JWKS_REFETCH_INTERVAL), still refused.
    let again = login_with(&*provider, &idp, |claims| stranger.sign(&claims)).await;
    assert_eq!(again, refused("the ID token is signed with an unknown key"));
    assert_eq!(idp.lock().jwks_fetches, 2);

    // A stranger's key under a known kid: a bad signature.
    let impostor = TestKey::p256("ec-1");
    let bad = login_with(&*provider, &idp, |claims| impostor.sign(&claims)).await;
    assert_eq!(bad, refused("the ID token's signature is not valid"));
}

#[tokio::test]
async fn a_rotated_key_is_fetched_once_and_the_next_login_works() {
    let idp = Idp::start(TestKey::p256("2026-01")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    assert!(login(&*provider, &idp, json!({})).await.is_ok());
    assert_eq!(idp.lock().jwks_fetches, 1);

    let rotated = TestKey::ed25519("2026-02");
    {
        let mut state = idp.lock();
        state.published = vec![rotated.jwk.clone()];
        state.signer = rotated;
    }
    let after_rotation = login(&*provider, &idp, json!({})).await;
    assert_eq!(after_rotation, Ok(ann(&["eng", "ops"])));
    assert_eq!(idp.lock().jwks_fetches, 2, "exactly one extra JWKS fetch");

    // The new set is cached.
    assert!(login(&*provider, &idp, json!({})).await.is_ok());
    assert_eq!(idp.lock().jwks_fetches, 2);
}

#[tokio::test]
async fn the_kind_shares_discovery_and_keys_among_its_providers() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let kind = OidcKind::new();
    let acme = build(&kind, &idp, &[]);
    let globex = build(&kind, &idp, &[("scopes", "email groups")]);
    assert!(login(&*acme, &idp, json!({})).await.is_ok());
    assert!(login(&*globex, &idp, json!({})).await.is_ok());
    let state = idp.lock();
    assert_eq!((state.discovery_fetches, state.jwks_fetches), (1, 1));
}

#[tokio::test]
async fn an_unsigned_token_is_refused() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    let unsigned = |claims: Value| {
        let header = URL_SAFE_NO_PAD.encode(r#"{"alg":"none","kid":"ec-1"}"#);
        let body = URL_SAFE_NO_PAD.encode(claims.to_string());
        format!("{header}.{body}.")
    };
    assert_eq!(
        login_with(&*provider, &idp, unsigned).await,
        refused("the ID token is not signed")
    );
}

#[tokio::test]
async fn a_token_signed_with_the_client_secret_is_refused() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    let hmac = |claims: Value| {
        let key = EncodingKey::from_secret(CLIENT_SECRET.as_bytes()).unwrap();
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key).unwrap()
    };
    assert_eq!(
        login_with(&*provider, &idp, hmac).await,
        refused(
            "the ID token is signed with the client secret (HMAC); set the identity provider \
             to sign with a key pair (RS256, ES256 or EdDSA)"
        )
    );
}

#[tokio::test]
async fn an_identity_provider_error_is_a_refusal_with_its_description() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    let (mut attempt, _, _) = start(&*provider).await;
    let denied = [
        ("error", "access_denied"),
        ("error_description", "The user said no"),
        ("state", "state-1"),
    ];
    assert_eq!(
        answer(&*provider, &mut attempt, &denied, false).await,
        Err(SsoError::Refused("The user said no (access_denied)".into()))
    );
    let (mut attempt, _, _) = start(&*provider).await;
    let bare = [("error", "access_denied"), ("state", "state-1")];
    assert_eq!(
        answer(&*provider, &mut attempt, &bare, false).await,
        Err(SsoError::Refused("access_denied".into()))
    );
}

#[tokio::test]
async fn an_answer_without_a_code_or_for_another_attempt_is_refused() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    let (mut attempt, _, _) = start(&*provider).await;
    assert_eq!(
        answer(&*provider, &mut attempt, &[("state", "state-1")], false).await,
        refused("the identity provider sent no authorization code")
    );

    let (mut attempt, _, redirect) = start(&*provider).await;
    let code = idp.grant(&redirect, idp.sign(&idp.claims(&redirect["nonce"])));
    let elsewhere = [
        ("code", code.as_str()),
        ("state", "state-of-another-attempt"),
    ];
    assert_eq!(
        answer(&*provider, &mut attempt, &elsewhere, false).await,
        refused("the answer does not belong to this login attempt")
    );
}

#[tokio::test]
async fn a_code_the_token_endpoint_refuses_and_a_wrong_secret_are_told_apart() {
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    let (mut attempt, _, _) = start(&*provider).await;
    let unknown_code = answer(
        &*provider,
        &mut attempt,
        &[("code", "never-issued"), ("state", "state-1")],
        false,
    )
    .await;
    assert_eq!(
        unknown_code,
        refused(
            "the identity provider did not accept the login code (used already, or expired?): \
             invalid_grant"
        )
    );

    let mut wrong = settings(&idp, &[]);
    wrong.0.insert("client_secret".to_owned(), json!("guess"));
    let provider = OidcKind::new().build(&wrong, &context()).unwrap();
    let outcome = login(&*provider, &idp, json!({})).await;
    assert_eq!(
        outcome,
        Err(SsoError::Unavailable(
            "the identity provider did not accept Errhound's client ID and secret: invalid_client"
                .into()
        ))
    );
}

#[tokio::test]
async fn hostile_answers_end_in_clear_errors() {
    // A malformed and an encrypted ID token.
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    let provider = build(&OidcKind::new(), &idp, &[]);
    let malformed = login_with(&*provider, &idp, |_| "not.a.token".to_owned()).await;
    assert_eq!(malformed, refused("the ID token is malformed"));
    let encrypted = login_with(&*provider, &idp, |_| "a.b.c.d.e".to_owned()).await;
    assert_eq!(
        encrypted,
        refused("the ID token is encrypted, which Errhound does not support")
    );

    // A JWKS whose Ed25519 key is too short (the crypto underneath would panic on it) is
    // skipped: the token's key is unknown.
    let signer = TestKey::ed25519("ed-1");
    let idp = Idp::start(signer.clone()).await;
    idp.lock().published =
        vec![json!({"kty": "OKP", "crv": "Ed25519", "kid": "ed-1", "x": "AAAA"})];
    let provider = build(&OidcKind::new(), &idp, &[]);
    assert_eq!(
        login(&*provider, &idp, json!({})).await,
        refused("the ID token is signed with an unknown key")
    );

    // A JWKS over the size limit, announced by its Content-Length or streamed without one.
    for streamed in [false, true] {
        let idp = Idp::start(TestKey::p256("ec-1")).await;
        idp.lock().raw_jwks = Some(format!(
            "{{\"keys\":[],\"padding\":\"{}\"}}",
            "x".repeat(MAX_ANSWER_BYTES)
        ));
        idp.lock().stream_jwks = streamed;
        let provider = build(&OidcKind::new(), &idp, &[]);
        assert_eq!(
            login(&*provider, &idp, json!({})).await,
            Err(SsoError::Unavailable(
                "its key set (JWKS) sent an answer larger than 1024 KiB".into()
            )),
            "streamed: {streamed}"
        );
    }

    // A JWKS that is not JSON.
    let idp = Idp::start(TestKey::p256("ec-1")).await;
    idp.lock().raw_jwks = Some("<html>".to_owned());
    let provider = build(&OidcKind::new(), &idp, &[]);
    let outcome = login(&*provider, &idp, json!({})).await;
    let Err(SsoError::Unavailable(message)) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        message.starts_with("its key set (JWKS) is not the JSON expected"),
        "{message}"
    );
}

#[tokio::test]
async fn an_unreachable_identity_provider_is_unavailable() {
    // A port nobody listens on any more.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let mut values = BTreeMap::new();
    values.insert("issuer".to_owned(), json!(format!("http://{address}")));
    values.insert("client_id".to_owned(), json!(CLIENT_ID));
    values.insert("client_secret".to_owned(), json!(CLIENT_SECRET));
    let provider = OidcKind::new()
        .build(&SettingValues(values), &context())
        .unwrap();
    let mut attempt = Attempt::start(&*provider, 1, Flow::Login, None, now_ms());
    let outcome = advance(
        &*provider,
        &mut attempt,
        &CallbackRequest::default(),
        now_ms(),
    )
    .await;
    let Err(SsoError::Unavailable(message)) = outcome else {
        panic!("{outcome:?}")
    };
    assert!(
        message.starts_with("its discovery document could not be reached"),
        "{message}"
    );
}

#[test]
fn a_provider_needs_an_issuer_a_client_id_and_a_secret() {
    let kind = OidcKind::new();
    let build = |values: &[(&str, &str)]| {
        let values = values
            .iter()
            .map(|(k, v)| ((*k).to_owned(), json!(v)))
            .collect();
        kind.build(&SettingValues(values), &context()).map(|_| ())
    };
    let full = [
        ("issuer", "https://idp.test"),
        ("client_id", CLIENT_ID),
        ("client_secret", CLIENT_SECRET),
    ];
    assert_eq!(build(&full), Ok(()));
    assert_eq!(
        build(&full[1..]),
        Err(SsoError::Unavailable("its issuer is not configured".into()))
    );
    assert_eq!(
        build(&full[..2]),
        Err(SsoError::Unavailable(
            "its client secret is not configured".into()
        ))
    );
    assert_eq!(
        build(&[("issuer", "ftp://idp.test"), full[1], full[2]]),
        Err(SsoError::Unavailable(
            "its issuer (ftp://idp.test) is not an http or https address".into()
        ))
    );
}

#[test]
fn scopes_always_include_openid() {
    let settings = |scopes: &str| {
        SettingValues(BTreeMap::from([
            ("issuer".to_owned(), json!("https://idp.test")),
            ("client_id".to_owned(), json!(CLIENT_ID)),
            ("client_secret".to_owned(), json!(CLIENT_SECRET)),
            ("scopes".to_owned(), json!(scopes)),
        ]))
    };
    let scopes = |text| OidcConfig::read(&settings(text)).unwrap().scopes;
    assert_eq!(scopes("email  groups"), "openid email groups");
    assert_eq!(scopes("groups openid"), "groups openid");
}

#[test]
fn the_standard_registry_runs_openid_connect() {
    assert!(Registry::standard().find(OIDC).is_some());
}
