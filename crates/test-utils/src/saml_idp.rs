//! A real SAML 2.0 identity provider on loopback: `tests/idp/saml_idp.py` (pysaml2, which signs
//! with the `xmlsec1` program), run by the Python in `SDK_PYTHON` (the test script's
//! virtualenv, with pysaml2 from `tests/sdk/python/requirements.txt`).
//!
//! The IdP reads this server's SP metadata (given at start), serves its own at
//! [`SamlIdp::metadata_url`], and answers the redirect the SP sends the browser to (the
//! HTTP-Redirect binding) with the signed `SAMLResponse` as JSON instead of an auto-submitting
//! form, so a test posts it where it wants. Knobs in the query of each request make the
//! negative cases (see the script's doc).
//!
//! [`TestKey`] makes the keys: an RSA key (the `rsa` crate, as ring cannot generate RSA) or an
//! ECDSA P-256 key, each with a self-signed certificate (rcgen), for the IdP above and for
//! responses a unit test signs itself.

use std::io::{BufRead, BufReader};
use std::process::{Child, ChildStdin, Command, Stdio};

use base64::Engine as _;
use rcgen::{CertificateParams, DnType, KeyPair, SigningKey as _};
use serde_json::Value;

use crate::sdk::repo_root;
use crate::smtp::sink_python;

/// A signing key with its self-signed certificate.
pub struct TestKey {
    key: KeyPair,
    ecdsa: bool,
    certificate_der: Vec<u8>,
    certificate_pem: String,
}

impl TestKey {
    /// A new 2048-bit RSA key (signs RSA-SHA256).
    pub fn rsa() -> TestKey {
        use rsa::Generate as _;
        use rsa::pkcs8::EncodePrivateKey as _;
        let private = rsa::PrivateKey::generate();
        let der = private.to_pkcs8_der().unwrap();
        // rcgen reads an RSA PKCS#8 key as RSA-SHA256 (through ring).
        let key = KeyPair::try_from(der.as_bytes()).unwrap();
        assert_eq!(key.algorithm(), &rcgen::PKCS_RSA_SHA256);
        TestKey::certified(key, false)
    }

    /// A new ECDSA P-256 key (signs ECDSA-SHA256).
    pub fn ecdsa() -> TestKey {
        let key = KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        TestKey::certified(key, true)
    }

    fn certified(key: KeyPair, ecdsa: bool) -> TestKey {
        let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
        params
            .distinguished_name
            .push(DnType::CommonName, "Errhound test identity provider");
        let certificate = params.self_signed(&key).unwrap();
        TestKey {
            key,
            ecdsa,
            certificate_der: certificate.der().to_vec(),
            certificate_pem: certificate.pem(),
        }
    }

    /// The XML-DSig `SignatureMethod` this key signs with.
    pub fn signature_method(&self) -> &'static str {
        if self.ecdsa {
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256"
        } else {
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
        }
    }

    /// The signature of `message` as XML-DSig writes it (for ECDSA, `r || s`, not DER).
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let signature = self.key.sign(message).unwrap();
        if self.ecdsa {
            ecdsa_der_to_fixed(&signature)
        } else {
            signature
        }
    }

    /// The certificate, base64 DER, as metadata's `X509Certificate` holds it.
    pub fn certificate_base64(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(&self.certificate_der)
    }

    /// The certificate, PEM.
    pub fn certificate_pem(&self) -> &str {
        &self.certificate_pem
    }

    /// The private key, PKCS#8 PEM.
    pub fn key_pem(&self) -> String {
        self.key.serialize_pem()
    }
}

/// An ECDSA-Sig-Value (`SEQUENCE { r INTEGER, s INTEGER }`) as the 64 bytes `r || s`.
fn ecdsa_der_to_fixed(der: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64);
    let mut rest = &der[2..];
    for _ in 0..2 {
        assert_eq!(rest[0], 0x02, "an INTEGER");
        let length = usize::from(rest[1]);
        let mut integer = &rest[2..2 + length];
        while integer.len() > 32 && integer[0] == 0 {
            integer = &integer[1..];
        }
        out.extend(std::iter::repeat_n(0, 32 - integer.len()));
        out.extend_from_slice(integer);
        rest = &rest[2 + length..];
    }
    out
}

/// The answer of the identity provider: what the browser would POST to the SP.
#[derive(Debug, Clone)]
pub struct IdpAnswer {
    /// The base64 `SAMLResponse`.
    pub saml_response: String,
    /// The `RelayState` it echoes (`None` for an IdP-initiated login).
    pub relay_state: Option<String>,
    /// The ID of the AuthnRequest it read (`None` for an IdP-initiated login).
    pub request_id: Option<String>,
    /// Where it would POST (the SP's assertion consumer service).
    pub acs_url: String,
}

/// A running pysaml2 identity provider; stopped when dropped.
pub struct SamlIdp {
    base_url: String,
    child: Child,
    stdin: Option<ChildStdin>,
    _dir: tempfile::TempDir,
    http: reqwest::Client,
}

impl SamlIdp {
    /// Starts an IdP that trusts the SP described by `sp_metadata`, signing with a new RSA key.
    /// Panics when no Python with pysaml2 is configured (run the tests through
    /// `scripts/test.sh`) or xmlsec1 is missing.
    pub fn start(sp_metadata: &str) -> SamlIdp {
        let python = sink_python().expect(
            "no Python with pysaml2: run the tests through scripts/test.sh (or set SDK_PYTHON)",
        );
        let dir = tempfile::tempdir().expect("a temporary directory");
        let key = TestKey::rsa();
        let key_file = dir.path().join("idp.key");
        let cert_file = dir.path().join("idp.pem");
        let sp_file = dir.path().join("sp.xml");
        std::fs::write(&key_file, key.key_pem()).unwrap();
        std::fs::write(&cert_file, key.certificate_pem()).unwrap();
        std::fs::write(&sp_file, sp_metadata).unwrap();
        let mut child = Command::new(&python)
            .arg(repo_root().join("tests/idp/saml_idp.py"))
            .arg("--key")
            .arg(&key_file)
            .arg("--cert")
            .arg(&cert_file)
            .arg("--sp-metadata")
            .arg(&sp_file)
            .arg("--work-dir")
            .arg(dir.path())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start tests/idp/saml_idp.py");
        let stdout = child.stdout.take().unwrap();
        let mut line = String::new();
        BufReader::new(stdout).read_line(&mut line).unwrap();
        let port: u16 = line
            .strip_prefix("PORT ")
            .and_then(|p| p.trim().parse().ok())
            .unwrap_or_else(|| panic!("the SAML IdP did not start: {line:?}"));
        let stdin = child.stdin.take();
        SamlIdp {
            base_url: format!("http://127.0.0.1:{port}"),
            child,
            stdin,
            _dir: dir,
            http: reqwest::Client::new(),
        }
    }

    /// Where the IdP serves its metadata.
    pub fn metadata_url(&self) -> String {
        format!("{}/metadata", self.base_url)
    }

    /// Its metadata.
    pub async fn metadata(&self) -> String {
        let response = self.http.get(self.metadata_url()).send().await.unwrap();
        assert!(response.status().is_success(), "{}", response.status());
        response.text().await.unwrap()
    }

    /// Follows the SP's redirect `redirect_url` (to the IdP's SSO URL) with the knobs `knobs`
    /// added to its query, and returns the IdP's answer.
    pub async fn answer(&self, redirect_url: &str, knobs: &[(&str, &str)]) -> IdpAnswer {
        assert!(
            redirect_url.starts_with(&self.base_url),
            "the SP redirected elsewhere: {redirect_url}"
        );
        self.get(self.http.get(redirect_url).query(knobs)).await
    }

    /// An IdP-initiated (unsolicited) response for `user`, with `knobs`.
    pub async fn unsolicited(&self, user: &str, knobs: &[(&str, &str)]) -> IdpAnswer {
        let url = format!("{}/unsolicited", self.base_url);
        self.get(self.http.get(url).query(&[("user", user)]).query(knobs))
            .await
    }

    async fn get(&self, request: reqwest::RequestBuilder) -> IdpAnswer {
        let response = request.send().await.unwrap();
        let status = response.status();
        let body = response.text().await.unwrap();
        assert!(
            status.is_success(),
            "the SAML IdP answered {status}: {body}"
        );
        let value: Value = serde_json::from_str(&body).unwrap();
        let text = |key: &str| value[key].as_str().map(str::to_owned);
        IdpAnswer {
            saml_response: text("SAMLResponse").unwrap(),
            relay_state: text("RelayState"),
            request_id: text("request_id"),
            acs_url: text("acs").unwrap_or_default(),
        }
    }
}

impl Drop for SamlIdp {
    fn drop(&mut self) {
        // Closing its standard input stops it; kill it if it lingers.
        drop(self.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
