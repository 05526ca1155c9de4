//! Responses built and signed here (RSA and ECDSA keys with self-signed certificates), each
//! check shown to refuse what it is for. The same checks against a real identity provider are
//! in `tests/saml_idp.rs`.

use std::collections::BTreeMap;
use std::io::Read as _;

use errhound_domain::sso::{Advance, Attempt, CallbackRequest, Flow, Identity, advance};
use errhound_test_utils::TestKey;
use serde_json::json;

use super::signature::DSIG;
use super::xml::{C14n, Document};
use super::*;

const IDP: &str = "https://idp.corp.test/saml";
const SSO: &str = "https://idp.corp.test/sso";
const ACS: &str = "https://errhound.test/auth/sso/";
const SP: &str = "https://errhound.test/auth/saml/acme/metadata/";

fn context() -> ProviderContext {
    ProviderContext {
        callback_url: ACS.to_owned(),
        public_url: "https://errhound.test".to_owned(),
        organization: "acme".to_owned(),
        http: crate::sso::http::IdpClient::new(true),
    }
}

fn idp_metadata(key: &TestKey) -> String {
    format!(
        "<md:EntityDescriptor xmlns:md=\"urn:oasis:names:tc:SAML:2.0:metadata\" entityID=\"{IDP}\">\
         <md:IDPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\">\
         <md:KeyDescriptor use=\"encryption\"><ds:KeyInfo xmlns:ds=\"{DSIG}\"><ds:X509Data>\
         <ds:X509Certificate>not even base64!</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </md:KeyDescriptor>\
         <md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"{DSIG}\"><ds:X509Data>\
         <ds:X509Certificate>\n{}\n</ds:X509Certificate></ds:X509Data></ds:KeyInfo>\
         </md:KeyDescriptor>\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST\" \
         Location=\"{SSO}/post\"/>\
         <md:SingleSignOnService Binding=\"urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect\" \
         Location=\"{SSO}\"/>\
         </md:IDPSSODescriptor></md:EntityDescriptor>",
        key.certificate_base64()
    )
}

fn provider_with(key: &TestKey, extra: serde_json::Value) -> SamlProvider {
    let mut config = json!({
        "idp_metadata_xml": idp_metadata(key),
        "name_attribute": "displayName",
        "groups_attribute": "groups",
    });
    if let (Some(config), Some(extra)) = (config.as_object_mut(), extra.as_object()) {
        config.extend(extra.clone());
    }
    let values = SettingValues(config.as_object().unwrap().clone().into_iter().collect());
    SamlKind::new().provider(&values, &context()).unwrap()
}

fn provider(key: &TestKey) -> SamlProvider {
    provider_with(key, json!({}))
}

fn at(offset_seconds: i64) -> String {
    (OffsetDateTime::now_utc() + time::Duration::seconds(offset_seconds))
        .replace_nanosecond(0)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

/// What a response says; each field can be made wrong.
struct Answer {
    request_id: Option<String>,
    destination: String,
    issuer: String,
    audience: String,
    recipient: String,
    status: String,
    name_id: String,
    not_before: i64,
    not_on_or_after: i64,
}

impl Answer {
    fn to(request_id: &str) -> Answer {
        Answer {
            request_id: Some(request_id.to_owned()),
            destination: ACS.to_owned(),
            issuer: IDP.to_owned(),
            audience: SP.to_owned(),
            recipient: ACS.to_owned(),
            status: "urn:oasis:names:tc:SAML:2.0:status:Success".to_owned(),
            name_id: "ann@corp.test".to_owned(),
            not_before: -5,
            not_on_or_after: 300,
        }
    }

    /// The unsigned response; the assertion uses prefixes declared on the response, and an
    /// `xsi:type` the way real identity providers write attribute values.
    fn xml(&self) -> String {
        let in_response_to = self
            .request_id
            .as_ref()
            .map(|id| format!(" InResponseTo=\"{id}\""))
            .unwrap_or_default();
        format!(
            "<samlp:Response xmlns:samlp=\"urn:oasis:names:tc:SAML:2.0:protocol\" \
             xmlns:saml=\"urn:oasis:names:tc:SAML:2.0:assertion\" ID=\"_r1\" Version=\"2.0\" \
             IssueInstant=\"{now}\" Destination=\"{destination}\"{in_response_to}>\n\
             \x20 <saml:Issuer>{issuer}</saml:Issuer>\n\
             \x20 <samlp:Status><samlp:StatusCode Value=\"{status}\"/>\
             <samlp:StatusMessage>No such person</samlp:StatusMessage></samlp:Status>\n\
             \x20 <saml:Assertion xmlns:xs=\"http://www.w3.org/2001/XMLSchema\" \
             xmlns:xsi=\"http://www.w3.org/2001/XMLSchema-instance\" ID=\"_a1\" Version=\"2.0\" \
             IssueInstant=\"{now}\">\n\
             \x20   <saml:Issuer>{issuer}</saml:Issuer>\n\
             \x20   <saml:Subject>\n\
             \x20     <saml:NameID Format=\"{NAMEID_EMAIL}\">{name_id}</saml:NameID>\n\
             \x20     <saml:SubjectConfirmation Method=\"urn:oasis:names:tc:SAML:2.0:cm:bearer\">\
             <saml:SubjectConfirmationData{in_response_to} NotOnOrAfter=\"{end}\" \
             Recipient=\"{recipient}\"/></saml:SubjectConfirmation>\n\
             \x20   </saml:Subject>\n\
             \x20   <saml:Conditions NotBefore=\"{start}\" NotOnOrAfter=\"{end}\">\
             <saml:AudienceRestriction><saml:Audience>{audience}</saml:Audience>\
             </saml:AudienceRestriction></saml:Conditions>\n\
             \x20   <saml:AttributeStatement>\
             <saml:Attribute Name=\"displayName\"><saml:AttributeValue xsi:type=\"xs:string\">\
             Ann &amp; Co</saml:AttributeValue></saml:Attribute>\
             <saml:Attribute Name=\"urn:oid:groups\" FriendlyName=\"groups\">\
             <saml:AttributeValue>eng</saml:AttributeValue>\
             <saml:AttributeValue>ops</saml:AttributeValue></saml:Attribute>\
             </saml:AttributeStatement>\n\
             \x20 </saml:Assertion>\n\
             </samlp:Response>",
            now = at(0),
            destination = self.destination,
            issuer = self.issuer,
            status = self.status,
            name_id = self.name_id,
            end = at(self.not_on_or_after),
            start = at(self.not_before),
            recipient = self.recipient,
            audience = self.audience,
        )
    }
}

/// Signs the element of `id` in `xml` with `key`: an enveloped signature after its Issuer.
fn sign(xml: &str, id: &str, key: &TestKey) -> String {
    sign_with(xml, id, id, key, key.signature_method())
}

fn sign_with(xml: &str, id: &str, reference: &str, key: &TestKey, method: &str) -> String {
    const EXC: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
    let doc = Document::parse(xml).unwrap();
    let element = doc.by_id(reference).unwrap();
    let canonical = C14n::default().canonicalize(&doc, element, None);
    let digest = base64::engine::general_purpose::STANDARD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        canonical.as_bytes(),
    ));
    let signature = format!(
        "<ds:Signature xmlns:ds=\"{DSIG}\"><ds:SignedInfo>\
         <ds:CanonicalizationMethod Algorithm=\"{EXC}\"/>\
         <ds:SignatureMethod Algorithm=\"{method}\"/>\
         <ds:Reference URI=\"#{reference}\"><ds:Transforms>\
         <ds:Transform Algorithm=\"http://www.w3.org/2000/09/xmldsig#enveloped-signature\"/>\
         <ds:Transform Algorithm=\"{EXC}\"/></ds:Transforms>\
         <ds:DigestMethod Algorithm=\"http://www.w3.org/2001/04/xmlenc#sha256\"/>\
         <ds:DigestValue>{digest}</ds:DigestValue></ds:Reference></ds:SignedInfo>\
         <ds:SignatureValue>VALUE</ds:SignatureValue></ds:Signature>"
    );
    let start = xml.find(&format!("ID=\"{id}\"")).unwrap();
    let issuer_end = start + xml[start..].find("</saml:Issuer>").unwrap() + "</saml:Issuer>".len();
    let placed = format!("{}{signature}{}", &xml[..issuer_end], &xml[issuer_end..]);
    let doc = Document::parse(&placed).unwrap();
    let signed_info = doc.all_named(DSIG, "SignedInfo").last().unwrap();
    let signed_info = doc
        .all_named(DSIG, "SignedInfo")
        .find(|&n| {
            doc.element(n)
                .and_then(|e| e.parent)
                .and_then(|s| doc.element(s))
                .and_then(|s| s.parent)
                == doc.by_id(id)
        })
        .unwrap_or(signed_info);
    let message = C14n::default().canonicalize(&doc, signed_info, None);
    let value = base64::engine::general_purpose::STANDARD.encode(key.sign(message.as_bytes()));
    placed.replacen("VALUE", &value, 1)
}

/// Runs the request step; returns the attempt and its AuthnRequest's ID.
async fn requested(provider: &SamlProvider) -> (Attempt, String) {
    let mut attempt = Attempt::start(provider, 7, Flow::Login, None, 0);
    let start = CallbackRequest {
        resume_state: "s-1".to_owned(),
        ..CallbackRequest::default()
    };
    let outcome = advance(provider, &mut attempt, &start, 1).await.unwrap();
    assert!(matches!(outcome, Advance::Redirect(_)));
    let id = attempt.fetch(REQUEST_ID).unwrap().to_owned();
    (attempt, id)
}

fn posted(xml: &str) -> CallbackRequest {
    let mut params = BTreeMap::new();
    params.insert(
        "SAMLResponse".to_owned(),
        base64::engine::general_purpose::STANDARD.encode(xml),
    );
    params.insert("RelayState".to_owned(), "s-1".to_owned());
    CallbackRequest {
        params,
        is_post: true,
        resume_state: "s-2".to_owned(),
    }
}

/// Posts `xml` to a fresh attempt whose request ID `xml` was built with (`{id}` replaced).
async fn answer(
    provider: &SamlProvider,
    build: impl Fn(&str) -> String,
) -> Result<Identity, SsoError> {
    let (mut attempt, id) = requested(provider).await;
    match advance(provider, &mut attempt, &posted(&build(&id)), 2).await? {
        Advance::Finished(identity) => Ok(identity),
        Advance::Redirect(url) => panic!("redirected to {url}"),
    }
}

fn refusal(result: Result<Identity, SsoError>) -> String {
    match result {
        Err(SsoError::InvalidAnswer(message)) => message,
        other => panic!("expected an invalid answer: {other:?}"),
    }
}

fn rsa_key() -> &'static TestKey {
    static KEY: std::sync::OnceLock<TestKey> = std::sync::OnceLock::new();
    KEY.get_or_init(TestKey::rsa)
}

#[tokio::test]
async fn the_request_step_redirects_with_a_deflated_authn_request_bound_to_the_attempt() {
    let provider = provider(rsa_key());
    let mut attempt = Attempt::start(&provider, 7, Flow::Login, None, 0);
    let start = CallbackRequest {
        resume_state: "state/1+".to_owned(),
        ..CallbackRequest::default()
    };
    let Advance::Redirect(url) = advance(&provider, &mut attempt, &start, 1).await.unwrap() else {
        panic!("no redirect");
    };
    // The HTTP-Redirect location is preferred over the POST one.
    let query = url.strip_prefix(&format!("{SSO}?")).unwrap();
    let params: BTreeMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(params["RelayState"], "state/1+");
    let deflated = base64::engine::general_purpose::STANDARD
        .decode(&params["SAMLRequest"])
        .unwrap();
    let mut xml = String::new();
    flate2::read::DeflateDecoder::new(deflated.as_slice())
        .read_to_string(&mut xml)
        .unwrap();
    let doc = Document::parse(&xml).unwrap();
    let request = doc.element(doc.root()).unwrap();
    assert!(request.is(response::PROTOCOL, "AuthnRequest"));
    assert_eq!(request.attribute("ID"), attempt.fetch(REQUEST_ID));
    assert!(request.attribute("ID").unwrap().starts_with('_'));
    assert_eq!(request.attribute("Destination"), Some(SSO));
    assert_eq!(request.attribute("AssertionConsumerServiceURL"), Some(ACS));
    let issued = OffsetDateTime::parse(request.attribute("IssueInstant").unwrap(), &Rfc3339);
    assert!((OffsetDateTime::now_utc() - issued.unwrap()).abs() < time::Duration::minutes(1));
    let (issuer, _) = doc
        .only_child(doc.root(), response::ASSERTION, "Issuer")
        .unwrap()
        .unwrap();
    assert_eq!(doc.text(issuer), SP);
    assert_eq!(attempt.step, 0, "the attempt waits for the answer");
}

#[tokio::test]
async fn a_signed_assertion_logs_in_with_its_nameid_and_attributes() {
    let key = rsa_key();
    let signed = |id: &str| sign(&Answer::to(id).xml(), "_a1", key);
    let identity = answer(&provider(key), signed).await.unwrap();
    assert_eq!(
        identity,
        Identity {
            id: "ann@corp.test".to_owned(),
            // No e-mail attribute configured: the NameID, an e-mail address by its format.
            email: "ann@corp.test".to_owned(),
            name: Some("Ann & Co".to_owned()),
            email_verified: true,
            groups: vec!["eng".to_owned(), "ops".to_owned()],
        }
    );
    // The e-mail attribute, when configured, wins (found by Name or FriendlyName).
    let by_attribute = provider_with(key, json!({"email_attribute": "displayName"}));
    let identity = answer(&by_attribute, signed).await.unwrap();
    assert_eq!(identity.email, "Ann & Co");
}

#[tokio::test]
async fn a_signed_response_is_enough_and_ecdsa_keys_are_accepted() {
    let key = TestKey::ecdsa();
    let identity = answer(&provider(&key), |id| {
        sign(&Answer::to(id).xml(), "_r1", &key)
    })
    .await
    .unwrap();
    assert_eq!(identity.id, "ann@corp.test");
    // Both signed, the assertion first.
    let both = |id: &str| sign(&sign(&Answer::to(id).xml(), "_a1", &key), "_r1", &key);
    assert!(answer(&provider(&key), both).await.is_ok());
}

#[tokio::test]
async fn an_unsigned_altered_or_foreign_signature_is_refused() {
    let key = rsa_key();
    let provider = provider(key);
    assert_eq!(
        refusal(answer(&provider, |id| Answer::to(id).xml()).await),
        "the SAML assertion is not signed"
    );
    let altered = |id: &str| {
        sign(&Answer::to(id).xml(), "_a1", key).replace(">ann@corp.test<", ">bnn@corp.test<")
    };
    assert_eq!(
        refusal(answer(&provider, altered).await),
        "the SAML assertion was altered (its digest does not match)"
    );
    let other = TestKey::ecdsa();
    let foreign = |id: &str| sign(&Answer::to(id).xml(), "_a1", &other);
    assert!(
        refusal(answer(&provider, foreign).await)
            .contains("is not signed by the identity provider")
    );
    // A valid signature on the response does not excuse an invalid one on the assertion.
    let mixed = |id: &str| {
        let assertion = sign(&Answer::to(id).xml(), "_a1", &other);
        sign(&assertion, "_r1", key)
    };
    assert!(refusal(answer(&provider, mixed).await).starts_with("the SAML assertion"));
}

#[tokio::test]
async fn wrapped_or_misdirected_signatures_are_refused() {
    let key = rsa_key();
    let provider = provider(key);
    // The signed assertion kept (in Extensions) and a forged one added where it is read.
    let wrapped = |id: &str| {
        let signed = sign(&Answer::to(id).xml(), "_a1", key);
        let start = signed.find("<saml:Assertion").unwrap();
        let end = signed.find("</saml:Assertion>").unwrap() + "</saml:Assertion>".len();
        let original = &signed[start..end];
        let forged = original
            .replace("ID=\"_a1\"", "ID=\"_evil\"")
            .replace("ann@corp.test", "eve@corp.test");
        signed.replacen(
            original,
            &format!("<samlp:Extensions>{original}</samlp:Extensions>{forged}"),
            1,
        )
    };
    assert_eq!(
        refusal(answer(&provider, wrapped).await),
        "the SAML response has more than one assertion"
    );
    // A response signature that references the assertion instead of the response.
    let elsewhere = |id: &str| {
        sign_with(
            &Answer::to(id).xml(),
            "_r1",
            "_a1",
            key,
            key.signature_method(),
        )
    };
    assert!(refusal(answer(&provider, elsewhere).await).contains("does not reference"));
    // Two elements of one ID (the second to be found by a careless lookup).
    let twice = |id: &str| {
        sign(&Answer::to(id).xml(), "_a1", key).replace(
            "<samlp:Status>",
            "<samlp:Extensions><x ID=\"_a1\"/></samlp:Extensions><samlp:Status>",
        )
    };
    assert!(refusal(answer(&provider, twice).await).contains("the ID _a1"));
}

#[tokio::test]
async fn weak_algorithms_and_doctypes_are_refused() {
    let key = rsa_key();
    let provider = provider(key);
    for weak in [
        "http://www.w3.org/2000/09/xmldsig#hmac-sha1",
        "http://www.w3.org/2001/04/xmldsig-more#rsa-md5",
        "http://www.w3.org/2000/09/xmldsig#dsa-sha1",
    ] {
        let signed = |id: &str| sign_with(&Answer::to(id).xml(), "_a1", "_a1", key, weak);
        let message = refusal(answer(&provider, signed).await);
        assert!(message.contains("which is refused"), "{weak}: {message}");
    }
    let doctype = |id: &str| {
        format!(
            "<!DOCTYPE r [<!ENTITY e \"ann\">]>{}",
            sign(&Answer::to(id).xml(), "_a1", key)
        )
    };
    assert!(refusal(answer(&provider, doctype).await).contains("DOCTYPE"));
}

#[tokio::test]
async fn validity_windows_audience_recipient_destination_issuer_and_request_are_checked() {
    let key = rsa_key();
    let provider = provider(key);
    type Change = fn(&mut Answer);
    let cases: [(Change, &str); 8] = [
        (
            |a| a.not_on_or_after = -CLOCK_SKEW.whole_seconds() - 5,
            "the SAML assertion has expired",
        ),
        (
            |a| a.not_before = CLOCK_SKEW.whole_seconds() + 60,
            "the SAML assertion is not valid yet (check the clocks)",
        ),
        (
            |a| a.audience = "https://other.test/sp".into(),
            "the SAML assertion is for another audience",
        ),
        (
            |a| a.recipient = "https://other.test/acs".into(),
            "the SAML assertion is for another recipient than this server",
        ),
        (
            |a| a.destination = "https://other.test/acs".into(),
            "the SAML response is for another destination than this server",
        ),
        (
            |a| a.issuer = "https://evil.test".into(),
            "the SAML response is from another issuer than the identity provider",
        ),
        (
            |a| a.request_id = Some("_another".into()),
            "the SAML response answers another login request (it was used already, or started elsewhere)",
        ),
        (
            |a| a.request_id = None,
            "the SAML assertion does not say which login request it answers",
        ),
    ];
    for (change, expected) in cases {
        let built = |id: &str| {
            let mut answer = Answer::to(id);
            change(&mut answer);
            sign(&answer.xml(), "_a1", key)
        };
        assert_eq!(refusal(answer(&provider, built).await), expected);
    }
    // Within the clock skew, an answer just past its end still counts.
    let late = |id: &str| {
        let mut answer = Answer::to(id);
        answer.not_on_or_after = -CLOCK_SKEW.whole_seconds() / 2;
        sign(&answer.xml(), "_a1", key)
    };
    assert!(answer(&provider, late).await.is_ok());
}

#[tokio::test]
async fn an_error_status_is_a_refusal_and_a_get_is_not_an_answer() {
    let key = rsa_key();
    let provider = provider(key);
    let failed = |id: &str| {
        let mut answer = Answer::to(id);
        answer.status = "urn:oasis:names:tc:SAML:2.0:status:Responder".into();
        answer.xml()
    };
    assert_eq!(
        answer(&provider, failed).await,
        Err(SsoError::Refused("Responder: No such person".into()))
    );
    let (mut attempt, id) = requested(&provider).await;
    let mut get = posted(&sign(&Answer::to(&id).xml(), "_a1", key));
    get.is_post = false;
    let refused = advance(&provider, &mut attempt, &get, 2).await;
    assert!(matches!(refused, Err(SsoError::InvalidAnswer(m)) if m.contains("POSTed")));
}

#[tokio::test]
async fn a_comment_in_a_signed_nameid_does_not_shorten_it() {
    // Comments are not signed: one added inside the NameID must not make the part before it
    // the identity (the known comment-truncation attack on SAML libraries).
    let key = rsa_key();
    let commented = |id: &str| {
        let mut answer = Answer::to(id);
        answer.name_id = "ann@corp.test.evil.test".into();
        sign(&answer.xml(), "_a1", key).replace("ann@corp.test.evil", "ann@corp.test<!---->.evil")
    };
    let identity = answer(&provider(key), commented).await.unwrap();
    assert_eq!(identity.id, "ann@corp.test.evil.test");
}

#[tokio::test]
async fn unsolicited_responses_must_answer_no_request() {
    let key = rsa_key();
    let provider = provider(key);
    let xml = sign(
        &Answer {
            request_id: None,
            ..Answer::to("")
        }
        .xml(),
        "_a1",
        key,
    );
    let encoded = base64::engine::general_purpose::STANDARD.encode(&xml);
    let login = provider.unsolicited(&encoded).await.unwrap();
    assert_eq!(login.identity.id, "ann@corp.test");
    assert_eq!(login.assertion_id, "_a1");
    assert!(login.not_on_or_after > OffsetDateTime::now_utc());
    let solicited = sign(&Answer::to("_req").xml(), "_a1", key);
    let encoded = base64::engine::general_purpose::STANDARD.encode(&solicited);
    let refused = provider.unsolicited(&encoded).await;
    assert!(matches!(refused, Err(SsoError::InvalidAnswer(m)) if m.contains("none was made")));
    let unsigned = base64::engine::general_purpose::STANDARD.encode(
        Answer {
            request_id: None,
            ..Answer::to("")
        }
        .xml(),
    );
    assert_eq!(
        provider.unsolicited(&unsigned).await,
        Err(SsoError::InvalidAnswer(
            "the SAML assertion is not signed".into()
        ))
    );
}

#[test]
fn sp_metadata_names_this_server_and_its_assertion_consumer_service() {
    let xml = sp_metadata(&context());
    let doc = Document::parse(&xml).unwrap();
    let md = "urn:oasis:names:tc:SAML:2.0:metadata";
    assert_eq!(
        doc.element(doc.root()).unwrap().attribute("entityID"),
        Some(SP)
    );
    let (sp, descriptor) = doc
        .only_child(doc.root(), md, "SPSSODescriptor")
        .unwrap()
        .unwrap();
    assert_eq!(descriptor.attribute("WantAssertionsSigned"), Some("true"));
    let (_, acs) = doc
        .only_child(sp, md, "AssertionConsumerService")
        .unwrap()
        .unwrap();
    assert_eq!(acs.attribute("Binding"), Some(metadata::BINDING_POST));
    assert_eq!(acs.attribute("Location"), Some(ACS));
    let formats: Vec<String> = doc
        .children_named(sp, md, "NameIDFormat")
        .map(|(n, _)| doc.text(n))
        .collect();
    assert_eq!(formats, [NAMEID_EMAIL, NAMEID_UNSPECIFIED]);
}

#[test]
fn idp_metadata_gives_the_issuer_the_redirect_url_and_signing_keys_only() {
    let key = rsa_key();
    let metadata = parse_idp_metadata(&idp_metadata(key)).unwrap();
    assert_eq!(metadata.entity_id, IDP);
    assert_eq!(metadata.sso_url, SSO);
    assert_eq!(
        metadata.keys.len(),
        1,
        "the encryption certificate is skipped"
    );
    let post_only = idp_metadata(key).replace("HTTP-Redirect", "SOAP");
    assert_eq!(
        parse_idp_metadata(&post_only).unwrap().sso_url,
        format!("{SSO}/post")
    );
    let no_key = idp_metadata(key).replace("use=\"signing\"", "use=\"encryption\"");
    assert_eq!(
        parse_idp_metadata(&no_key).unwrap_err(),
        "the IdP metadata has no signing certificate"
    );
    assert!(parse_idp_metadata("<html/>").is_err());
    let config = SettingValues(
        json!({"idp_metadata_xml": "<EntityDescriptor/>"})
            .as_object()
            .unwrap()
            .clone()
            .into_iter()
            .collect(),
    );
    assert!(matches!(
        SamlKind::new().provider(&config, &context()),
        Err(SsoError::Unavailable(_))
    ));
}
