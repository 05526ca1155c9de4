//! The test IdP through its handle, as a relying party meets it: discovery, an authorization
//! request with PKCE followed redirect by redirect (with `login_hint`, or through the HTML login
//! form), the code exchanged at the token endpoint, and the ID token's claims and `kid` checked
//! against the JWKS. Then each fault spoils what it names, and a rotation brings a new `kid`.
//! Signatures are not verified here: that is the relying party's job.
#![allow(clippy::unwrap_used, reason = "tests fail loudly")]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use errhound_test_utils::oidc_idp::{
    Account, AuthMethod, Client, ClientSpec, Fault, OidcIdp, SigningAlg,
};
use reqwest::{StatusCode, Url, header};
use serde_json::Value;
use sha2::{Digest, Sha256};

/// Nothing listens here: the flow stops at the redirect to it.
const REDIRECT_URI: &str = "http://127.0.0.1:9/auth/sso/";

fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

fn random() -> String {
    URL_SAFE_NO_PAD.encode(rand::random::<[u8; 32]>())
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// A unique account id, so parallel tests don't change each other's people.
fn account_id(name: &str) -> String {
    format!("{name}-{:08x}", rand::random::<u32>())
}

async fn get_json(http: &reqwest::Client, url: &str) -> Value {
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK, "GET {url}");
    response.json().await.unwrap()
}

/// A relying party's view of the IdP: its endpoints and a client registered there.
struct RelyingParty {
    idp: OidcIdp,
    http: reqwest::Client,
    discovery: Value,
    client: Client,
    spec: ClientSpec,
}

/// An authorization request's secrets, to check against what comes back.
struct Request {
    url: Url,
    verifier: String,
    nonce: String,
    state: String,
}

/// What the IdP sent to the redirect URI.
struct Callback {
    params: Vec<(String, String)>,
}

impl Callback {
    fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// A minimal cookie jar for the IdP's host (paths ignored), as a browser would keep.
#[derive(Default)]
struct Jar(Vec<(String, String)>);

impl Jar {
    fn header(&self) -> String {
        self.0
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ")
    }

    fn store(&mut self, response: &reqwest::Response) {
        for set in response.headers().get_all(header::SET_COOKIE) {
            let pair = set.to_str().unwrap().split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            self.0.retain(|(k, _)| k != name);
            if !value.is_empty() {
                self.0.push((name.to_owned(), value.to_owned()));
            }
        }
    }
}

impl RelyingParty {
    async fn new(spec: ClientSpec) -> RelyingParty {
        let idp = OidcIdp::shared();
        let http = http();
        let discovery = get_json(
            &http,
            &format!("{}/.well-known/openid-configuration", idp.issuer()),
        )
        .await;
        assert_eq!(discovery["issuer"], idp.issuer());
        let client = idp.register_client(&spec).await;
        RelyingParty {
            idp,
            http,
            discovery,
            client,
            spec,
        }
    }

    fn endpoint(&self, name: &str) -> &str {
        self.discovery[name].as_str().unwrap()
    }

    fn request(&self, extra: &[(&str, &str)]) -> Request {
        let verifier = random();
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let (nonce, state) = (random(), random());
        let mut url = Url::parse(self.endpoint("authorization_endpoint")).unwrap();
        url.query_pairs_mut()
            .append_pair("client_id", &self.client.id)
            .append_pair("response_type", "code")
            .append_pair("scope", "openid email profile")
            .append_pair("redirect_uri", REDIRECT_URI)
            .append_pair("state", &state)
            .append_pair("nonce", &nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256")
            .extend_pairs(extra);
        Request {
            url,
            verifier,
            nonce,
            state,
        }
    }

    /// Follows the IdP's redirects from `url` until the one to the redirect URI (or a form_post
    /// page aimed at it).
    async fn follow(&self, mut url: Url, mut jar: Option<&mut Jar>) -> Callback {
        for _ in 0..10 {
            let mut request = self.http.get(url.clone());
            if let Some(jar) = jar.as_deref() {
                request = request.header(header::COOKIE, jar.header());
            }
            let response = request.send().await.unwrap();
            if let Some(jar) = jar.as_deref_mut() {
                jar.store(&response);
            }
            match self.next(&url, response).await {
                Next::Callback(callback) => return callback,
                Next::Redirect(next) => url = next,
            }
        }
        panic!("more than 10 redirects from the IdP");
    }

    async fn next(&self, from: &Url, response: reqwest::Response) -> Next {
        let status = response.status();
        if status.is_redirection() {
            let location = response.headers()[header::LOCATION].to_str().unwrap();
            let next = from.join(location).unwrap();
            if next.as_str().starts_with(REDIRECT_URI) {
                let params = next.query_pairs().into_owned().collect();
                return Next::Callback(Callback { params });
            }
            return Next::Redirect(next);
        }
        let body = response.text().await.unwrap();
        assert!(
            body.contains(&format!(r#"action="{REDIRECT_URI}""#)),
            "{from}: {status} without a redirect: {body}"
        );
        let params = ["code", "state", "iss", "error"]
            .iter()
            .filter_map(|name| hidden_input(&body, name).map(|v| ((*name).to_owned(), v)))
            .collect();
        Next::Callback(Callback { params })
    }

    /// Logs `account` in by `login_hint` and returns the token endpoint's answer.
    async fn log_in(&self, account: &str) -> (Request, Value) {
        let request = self.request(&[("login_hint", account)]);
        let callback = self.follow(request.url.clone(), None).await;
        assert_eq!(callback.get("state"), Some(request.state.as_str()));
        assert_eq!(callback.get("iss"), Some(self.idp.issuer()));
        let tokens = self.exchange(&request, &callback).await;
        (request, tokens)
    }

    async fn exchange(&self, request: &Request, callback: &Callback) -> Value {
        let code = callback
            .get("code")
            .unwrap_or_else(|| panic!("no code in the callback: {:?}", callback.params));
        let mut form = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", REDIRECT_URI),
            ("code_verifier", &request.verifier),
        ];
        let token = self.http.post(self.endpoint("token_endpoint"));
        let token = match self.spec.auth_method {
            AuthMethod::ClientSecretBasic => {
                token.basic_auth(&self.client.id, Some(&self.client.secret))
            }
            AuthMethod::ClientSecretPost => {
                form.push(("client_id", &self.client.id));
                form.push(("client_secret", &self.client.secret));
                token
            }
        };
        let response = token.form(&form).send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap();
        assert_eq!(status, StatusCode::OK, "token endpoint: {body}");
        body
    }

    async fn jwks_kids(&self) -> Vec<(String, String)> {
        let jwks = get_json(&self.http, self.endpoint("jwks_uri")).await;
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|key| {
                assert!(key.get("d").is_none(), "a private key is published: {key}");
                let kid = key["kid"].as_str().unwrap().to_owned();
                (kid, key["alg"].as_str().unwrap().to_owned())
            })
            .collect()
    }
}

enum Next {
    Callback(Callback),
    Redirect(Url),
}

fn hidden_input(html: &str, name: &str) -> Option<String> {
    let start = html.find(&format!(r#"name="{name}" value=""#))? + name.len() + 15;
    let end = start + html[start..].find('"')?;
    Some(html[start..end].to_owned())
}

/// The ID token's header and claims, undecoded signature aside.
fn decode(tokens: &Value) -> (Value, Value) {
    let id_token = tokens["id_token"].as_str().unwrap();
    let parts: Vec<&str> = id_token.split('.').collect();
    assert_eq!(parts.len(), 3, "{id_token}");
    let part = |p: &str| serde_json::from_slice(&URL_SAFE_NO_PAD.decode(p).unwrap()).unwrap();
    (part(parts[0]), part(parts[1]))
}

async fn person(idp: &OidcIdp, name: &str) -> Account {
    let id = account_id(name);
    let account = Account::new(&id, format!("{id}@example.test"))
        .name(format!("{name} Example"))
        .groups(["engineering", "on-call"]);
    idp.set_account(&account).await;
    account
}

#[tokio::test]
async fn login_hint_logs_in_without_a_page_and_the_id_token_has_the_claims() {
    for (alg, auth_method) in [
        (SigningAlg::Rs256, AuthMethod::ClientSecretBasic),
        (SigningAlg::Es256, AuthMethod::ClientSecretPost),
        (SigningAlg::EdDsa, AuthMethod::ClientSecretBasic),
    ] {
        let rp = RelyingParty::new(
            ClientSpec::new(REDIRECT_URI)
                .alg(alg)
                .auth_method(auth_method),
        )
        .await;
        let account = person(&rp.idp, "ada").await;
        let (request, tokens) = rp.log_in(&account.id).await;
        let (header, claims) = decode(&tokens);

        assert_eq!(header["alg"], alg.as_str());
        let kid = header["kid"].as_str().unwrap();
        let kids = rp.jwks_kids().await;
        assert!(
            kids.iter().any(|(k, a)| k == kid && a == alg.as_str()),
            "{kid} ({}) is not in the JWKS {kids:?}",
            alg.as_str()
        );
        assert_eq!(claims["iss"], rp.idp.issuer());
        assert_eq!(claims["aud"], rp.client.id);
        assert_eq!(claims["sub"], account.id);
        assert_eq!(claims["nonce"], request.nonce);
        assert_eq!(claims["email"], account.email.clone().unwrap());
        assert_eq!(claims["email_verified"], true);
        assert_eq!(claims["name"], "ada Example");
        assert_eq!(
            claims["groups"],
            serde_json::json!(["engineering", "on-call"])
        );
        assert!(claims["exp"].as_i64().unwrap() > now());
        assert!(claims["iat"].as_i64().unwrap() <= now() + 5);
    }
}

#[tokio::test]
async fn an_account_changed_between_two_logins_shows_in_the_second_token() {
    let rp = RelyingParty::new(ClientSpec::new(REDIRECT_URI)).await;
    let mut account = person(&rp.idp, "grace").await;
    let (_, first) = rp.log_in(&account.id).await;
    assert_eq!(
        decode(&first).1["groups"],
        serde_json::json!(["engineering", "on-call"])
    );

    account = account.groups(["admins"]).unverified();
    account.name = None;
    rp.idp.set_account(&account).await;
    let (_, second) = rp.log_in(&account.id).await;
    let claims = decode(&second).1;
    assert_eq!(claims["groups"], serde_json::json!(["admins"]));
    assert_eq!(claims["email_verified"], false);
    assert!(claims.get("name").is_none(), "{claims}");
}

#[tokio::test]
async fn form_post_sends_the_code_in_a_self_submitting_form() {
    let rp = RelyingParty::new(ClientSpec::new(REDIRECT_URI)).await;
    let account = person(&rp.idp, "hedy").await;
    let request = rp.request(&[("login_hint", &account.id), ("response_mode", "form_post")]);
    let callback = rp.follow(request.url.clone(), None).await;
    assert_eq!(callback.get("state"), Some(request.state.as_str()));
    let tokens = rp.exchange(&request, &callback).await;
    assert_eq!(decode(&tokens).1["nonce"], request.nonce);
}

#[tokio::test]
async fn the_login_form_works_with_a_plain_form_post() {
    let rp = RelyingParty::new(ClientSpec::new(REDIRECT_URI)).await;
    let account = person(&rp.idp, "barbara").await;
    let request = rp.request(&[]);
    let mut jar = Jar::default();

    // The authorization endpoint sends the browser to the login page.
    let response = rp.http.get(request.url.clone()).send().await.unwrap();
    jar.store(&response);
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let page_url = request
        .url
        .join(response.headers()[header::LOCATION].to_str().unwrap())
        .unwrap();
    let page = |url: Url, jar: &Jar| rp.http.get(url).header(header::COOKIE, jar.header()).send();
    let response = page(page_url.clone(), &jar).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    for element in [
        r#"<input name="login""#,
        r#"<input name="password" type="password""#,
        r#"<button type="submit""#,
        r#"<a id="cancel""#,
    ] {
        assert!(html.contains(element), "no {element} in {html}");
    }
    let action = html.split(r#"action=""#).nth(1).unwrap();
    let action = page_url.join(&action[..action.find('"').unwrap()]).unwrap();

    let submit = |login: &str, jar: &Jar| {
        rp.http
            .post(action.clone())
            .header(header::COOKIE, jar.header())
            .form(&[("login", login), ("password", "anything")])
            .send()
    };
    // An unknown account: the form again, with the error.
    let response = submit("nobody-at-all", &jar).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = response.text().await.unwrap();
    assert!(html.contains(r#"class="error""#), "{html}");

    let response = submit(&account.id, &jar).await.unwrap();
    jar.store(&response);
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let next = action
        .join(response.headers()[header::LOCATION].to_str().unwrap())
        .unwrap();
    let callback = rp.follow(next, Some(&mut jar)).await;
    assert_eq!(callback.get("state"), Some(request.state.as_str()));
    let tokens = rp.exchange(&request, &callback).await;
    assert_eq!(decode(&tokens).1["sub"], account.id);
}

#[tokio::test]
async fn cancelling_the_login_ends_with_access_denied() {
    let rp = RelyingParty::new(ClientSpec::new(REDIRECT_URI)).await;
    let request = rp.request(&[]);
    let response = rp.http.get(request.url.clone()).send().await.unwrap();
    let page = request
        .url
        .join(response.headers()[header::LOCATION].to_str().unwrap())
        .unwrap();
    let cancel = page.join(&format!("{}/abort", page.path())).unwrap();
    let callback = rp.follow(cancel, None).await;
    assert_eq!(callback.get("error"), Some("access_denied"));
    assert_eq!(callback.get("state"), Some(request.state.as_str()));
}

#[tokio::test]
async fn pkce_is_required() {
    let rp = RelyingParty::new(ClientSpec::new(REDIRECT_URI)).await;
    let account = person(&rp.idp, "mary").await;
    let mut url = rp.request(&[("login_hint", &account.id)]).url;
    let without: Vec<(String, String)> = url
        .query_pairs()
        .into_owned()
        .filter(|(k, _)| !k.starts_with("code_challenge"))
        .collect();
    url.query_pairs_mut().clear().extend_pairs(without);
    let callback = rp.follow(url, None).await;
    assert_eq!(callback.get("error"), Some("invalid_request"));
}

#[tokio::test]
async fn each_fault_spoils_what_it_names() {
    for fault in [
        Fault::WrongNonce,
        Fault::Expired,
        Fault::WrongAudience,
        Fault::WrongIssuer,
        Fault::UnknownKey,
        Fault::BadSignature,
    ] {
        let rp = RelyingParty::new(
            ClientSpec::new(REDIRECT_URI)
                .alg(SigningAlg::Es256)
                .fault(fault),
        )
        .await;
        let account = person(&rp.idp, "katherine").await;
        let (request, tokens) = rp.log_in(&account.id).await;
        let (header, claims) = decode(&tokens);
        let kid = header["kid"].as_str().unwrap();
        let published = rp.jwks_kids().await.iter().any(|(k, _)| k == kid);
        let what = fault.as_str();

        assert_eq!(published, fault != Fault::UnknownKey, "{what}: kid {kid}");
        assert_eq!(header["alg"], "ES256", "{what}");
        assert_eq!(claims["sub"], account.id, "{what}");
        assert_eq!(
            claims["nonce"] == request.nonce.as_str(),
            fault != Fault::WrongNonce,
            "{what}: {claims}"
        );
        assert_eq!(
            claims["exp"].as_i64().unwrap() < now(),
            fault == Fault::Expired,
            "{what}: {claims}"
        );
        if fault == Fault::Expired {
            assert!(claims["iat"].as_i64() < claims["exp"].as_i64(), "{claims}");
        }
        assert_eq!(
            claims["aud"] == rp.client.id.as_str(),
            fault != Fault::WrongAudience,
            "{what}: {claims}"
        );
        assert_eq!(
            claims["iss"] == rp.idp.issuer(),
            fault != Fault::WrongIssuer,
            "{what}: {claims}"
        );
    }
}

#[tokio::test]
async fn a_rotation_publishes_new_keys_that_sign_from_then_on() {
    let rp = RelyingParty::new(ClientSpec::new(REDIRECT_URI).alg(SigningAlg::EdDsa)).await;
    let account = person(&rp.idp, "radia").await;
    let (_, before) = rp.log_in(&account.id).await;
    let old_kid = decode(&before).0["kid"].as_str().unwrap().to_owned();

    let rotated = rp.idp.rotate_keys().await;
    let new_kid = rotated.kid(SigningAlg::EdDsa);
    assert_ne!(new_kid, old_kid);
    let kids = rp.jwks_kids().await;
    for kid in [
        &old_kid,
        new_kid,
        rotated.kid(SigningAlg::Rs256),
        rotated.kid(SigningAlg::Es256),
    ] {
        assert!(kids.iter().any(|(k, _)| k == kid), "{kid} not in {kids:?}");
    }
    let (_, after) = rp.log_in(&account.id).await;
    let (header, _) = decode(&after);
    assert_eq!(header["kid"], new_kid);
    assert_eq!(header["alg"], "EdDSA");

    // One client's own rotation: its kid changes, another client's does not.
    let other = RelyingParty::new(ClientSpec::new(REDIRECT_URI).alg(SigningAlg::EdDsa)).await;
    let own_kid = rp.idp.rotate_client_key(&rp.client).await;
    assert!(rp.jwks_kids().await.iter().any(|(k, _)| *k == own_kid));
    let (_, mine) = rp.log_in(&account.id).await;
    assert_eq!(decode(&mine).0["kid"], own_kid);
    let (_, theirs) = other.log_in(&account.id).await;
    assert_ne!(decode(&theirs).0["kid"], own_kid);
}
