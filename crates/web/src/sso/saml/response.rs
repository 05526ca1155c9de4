//! Validating a `SAMLResponse` (the Web Browser SSO profile, HTTP-POST binding): its status,
//! its signature, and the one assertion in it: issuer, audience, validity window, bearer
//! subject confirmation and the request it answers.
//!
//! Signature wrapping is guarded against by reading only what was verified: the assertion
//! read is the only `Assertion` element of the whole document, a child of the `Response`
//! root, and the signature accepted for it is an enveloped one that references by ID either
//! that assertion or the root it sits in.

use std::collections::BTreeMap;

use errhound_domain::sso::SsoError;
use time::format_description::well_known::Rfc3339;
use time::{Duration, OffsetDateTime};

use super::metadata::IdpMetadata;
use super::signature::{DSIG, SignatureError, verify_enveloped};
use super::xml::{Document, NodeId};

/// The SAML assertion namespace.
pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
/// The SAML protocol namespace.
pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";

/// How far the identity provider's clock may be from ours, either way, when validity windows
/// are checked.
pub const CLOCK_SKEW: Duration = Duration::seconds(120);
/// The largest decoded `SAMLResponse` read (real ones are a few KiB; large group lists make
/// them tens).
pub const MAX_RESPONSE_BYTES: usize = 256 * 1024;
/// How many values one attribute may have (a person's groups).
const MAX_ATTRIBUTE_VALUES: usize = 1_000;

/// What the response must match.
#[derive(Debug, Clone, Copy)]
pub struct Expected<'a> {
    /// This service provider's entity id: the audience.
    pub sp_entity_id: &'a str,
    /// The assertion consumer service URL: the `Destination` and `Recipient`.
    pub acs_url: &'a str,
    /// The identity provider: the issuer and its keys.
    pub idp: &'a IdpMetadata,
    /// The ID of the AuthnRequest the response answers; `None` for an unsolicited
    /// (IdP-initiated) response, which must then answer none.
    pub in_response_to: Option<&'a str>,
    /// The time now.
    pub now: OffsetDateTime,
}

/// What a valid response asserts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    /// The assertion's ID (for replay protection of unsolicited responses).
    pub id: String,
    /// Until when it may be used: the earliest of its `NotOnOrAfter` times.
    pub not_on_or_after: OffsetDateTime,
    /// The subject's NameID.
    pub name_id: String,
    /// The NameID's format, when given.
    pub name_id_format: Option<String>,
    /// The attributes by `Name` (an attribute with a `FriendlyName` is found by that too).
    pub attributes: BTreeMap<String, Vec<String>>,
}

fn invalid<T>(message: impl Into<String>) -> Result<T, SsoError> {
    Err(SsoError::InvalidAnswer(message.into()))
}

/// Decodes the base64 `SAMLResponse` form field.
pub fn decode(saml_response: &str) -> Result<String, SsoError> {
    // Base64 is 4/3 of the bytes it carries.
    if saml_response.len() > MAX_RESPONSE_BYTES / 3 * 4 + 1024 {
        return invalid("the SAML response is too large");
    }
    let bytes = super::signature::decode_base64(saml_response)
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML response is not base64".into()))?;
    String::from_utf8(bytes)
        .map_err(|_| SsoError::InvalidAnswer("the SAML response is not UTF-8 text".into()))
}

/// Validates the response `xml` against `expected` and returns its assertion.
pub fn validate(xml: &str, expected: &Expected<'_>) -> Result<Assertion, SsoError> {
    if xml.len() > MAX_RESPONSE_BYTES {
        return invalid("the SAML response is too large");
    }
    let doc = Document::parse(xml)
        .map_err(|e| SsoError::InvalidAnswer(format!("the SAML response is not valid: {e}")))?;
    let root = doc.root();
    let response = doc
        .element(root)
        .filter(|e| e.is(PROTOCOL, "Response"))
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML answer is not a Response".into()))?;
    let structure = |e: super::xml::XmlError| {
        SsoError::InvalidAnswer(format!("the SAML response is not valid: {e}"))
    };

    // The status first: an identity provider that refuses sends an (often unsigned) error.
    let (status, _) = doc
        .only_child(root, PROTOCOL, "Status")
        .map_err(structure)?
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML response has no Status".into()))?;
    let (code, code_element) = doc
        .only_child(status, PROTOCOL, "StatusCode")
        .map_err(structure)?
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML response has no StatusCode".into()))?;
    let value = code_element.attribute("Value").unwrap_or_default();
    if value != SUCCESS {
        let mut refusal = short_status(value).to_owned();
        if let Some((_, sub)) = doc.children_named(code, PROTOCOL, "StatusCode").next() {
            refusal.push_str(" / ");
            refusal.push_str(short_status(sub.attribute("Value").unwrap_or_default()));
        }
        if let Some((message, _)) = doc.children_named(status, PROTOCOL, "StatusMessage").next() {
            let message = doc.text(message);
            let message = message.trim();
            if !message.is_empty() {
                refusal.push_str(": ");
                refusal.extend(message.chars().take(200));
            }
        }
        return Err(SsoError::Refused(refusal));
    }

    // The signatures: every one present must verify, and one must cover the assertion.
    let assertions: Vec<NodeId> = doc.all_named(ASSERTION, "Assertion").collect();
    if doc
        .all_named(ASSERTION, "EncryptedAssertion")
        .next()
        .is_some()
    {
        return invalid(
            "the SAML response has an encrypted assertion, which is not supported: turn off \
             assertion encryption at the identity provider",
        );
    }
    let assertion = match assertions.as_slice() {
        [one] if doc.element(*one).and_then(|e| e.parent) == Some(root) => *one,
        [] => return invalid("the SAML response has no assertion"),
        [_] => return invalid("the SAML response's assertion is not where it belongs"),
        _ => return invalid("the SAML response has more than one assertion"),
    };
    let response_signed = check_signature(&doc, root, expected, "response")?;
    let assertion_signed = check_signature(&doc, assertion, expected, "assertion")?;
    if !response_signed && !assertion_signed {
        return invalid("the SAML assertion is not signed");
    }

    // The response.
    if let Some((issuer, _)) = doc
        .only_child(root, ASSERTION, "Issuer")
        .map_err(structure)?
        && doc.text(issuer).trim() != expected.idp.entity_id
    {
        return invalid("the SAML response is from another issuer than the identity provider");
    }
    if let Some(destination) = response.attribute("Destination")
        && destination != expected.acs_url
    {
        return invalid("the SAML response is for another destination than this server");
    }
    check_in_response_to(response.attribute("InResponseTo"), expected, "response")?;

    // The assertion.
    let element = doc
        .element(assertion)
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML response has no assertion".into()))?;
    let id = element
        .attribute("ID")
        .filter(|id| !id.is_empty())
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML assertion has no ID".into()))?
        .to_owned();
    let (issuer, _) = doc
        .only_child(assertion, ASSERTION, "Issuer")
        .map_err(structure)?
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML assertion has no Issuer".into()))?;
    if doc.text(issuer).trim() != expected.idp.entity_id {
        return invalid("the SAML assertion is from another issuer than the identity provider");
    }
    let (conditions, conditions_element) = doc
        .only_child(assertion, ASSERTION, "Conditions")
        .map_err(structure)?
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML assertion has no Conditions".into()))?;
    let mut not_on_or_after = check_window(
        conditions_element.attribute("NotBefore"),
        conditions_element.attribute("NotOnOrAfter"),
        expected.now,
        "the SAML assertion",
    )?;
    let restrictions: Vec<NodeId> = doc
        .children_named(conditions, ASSERTION, "AudienceRestriction")
        .map(|(id, _)| id)
        .collect();
    if restrictions.is_empty() {
        return invalid("the SAML assertion names no audience");
    }
    for restriction in restrictions {
        let ours = doc
            .children_named(restriction, ASSERTION, "Audience")
            .any(|(audience, _)| doc.text(audience).trim() == expected.sp_entity_id);
        if !ours {
            return invalid("the SAML assertion is for another audience");
        }
    }

    let (subject, _) = doc
        .only_child(assertion, ASSERTION, "Subject")
        .map_err(structure)?
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML assertion has no Subject".into()))?;
    let (name_id, name_id_element) = doc
        .only_child(subject, ASSERTION, "NameID")
        .map_err(structure)?
        .ok_or_else(|| SsoError::InvalidAnswer("the SAML assertion has no NameID".into()))?;
    let name_id_format = name_id_element.attribute("Format").map(str::to_owned);
    let name_id = doc.text(name_id).trim().to_owned();
    let confirmed = bearer_confirmation(&doc, subject, expected)?;
    not_on_or_after = not_on_or_after.map_or(Some(confirmed), |t| Some(t.min(confirmed)));
    let not_on_or_after = not_on_or_after.unwrap_or(confirmed);

    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (statement, _) in doc.children_named(assertion, ASSERTION, "AttributeStatement") {
        for (attribute, element) in doc.children_named(statement, ASSERTION, "Attribute") {
            let values: Vec<String> = doc
                .children_named(attribute, ASSERTION, "AttributeValue")
                .take(MAX_ATTRIBUTE_VALUES)
                .map(|(value, _)| doc.text(value).trim().to_owned())
                .collect();
            for name in [element.attribute("Name"), element.attribute("FriendlyName")]
                .into_iter()
                .flatten()
            {
                attributes
                    .entry(name.to_owned())
                    .or_default()
                    .extend(values.iter().cloned());
            }
        }
    }
    Ok(Assertion {
        id,
        not_on_or_after,
        name_id,
        name_id_format,
        attributes,
    })
}

/// The last part of a status URN (`Responder`, `AuthnFailed`).
fn short_status(value: &str) -> &str {
    value.rsplit(':').next().unwrap_or(value)
}

/// Verifies the signature that is a child of `element`, if there is one: whether there was.
fn check_signature(
    doc: &Document,
    element: NodeId,
    expected: &Expected<'_>,
    what: &str,
) -> Result<bool, SsoError> {
    let Some((signature, _)) = doc.only_child(element, DSIG, "Signature").map_err(|_| {
        SsoError::InvalidAnswer(format!("the SAML {what} has more than one signature"))
    })?
    else {
        return Ok(false);
    };
    verify_enveloped(doc, element, signature, &expected.idp.keys).map_err(|e| match e {
        SignatureError::Altered => SsoError::InvalidAnswer(format!(
            "the SAML {what} was altered (its digest does not match)"
        )),
        other => SsoError::InvalidAnswer(format!("the SAML {what} {other}")),
    })?;
    Ok(true)
}

fn check_in_response_to(
    value: Option<&str>,
    expected: &Expected<'_>,
    what: &str,
) -> Result<(), SsoError> {
    match (value, expected.in_response_to) {
        (None, _) => Ok(()),
        (Some(value), Some(ours)) if value == ours => Ok(()),
        (Some(_), Some(_)) => invalid(format!(
            "the SAML {what} answers another login request (it was used already, or started \
             elsewhere)"
        )),
        (Some(_), None) => invalid(format!(
            "the SAML {what} answers a login request, but none was made (an IdP-initiated login \
             must not name one)"
        )),
    }
}

/// Checks `NotBefore` / `NotOnOrAfter` against `now` with [`CLOCK_SKEW`]; the end, when given.
fn check_window(
    not_before: Option<&str>,
    not_on_or_after: Option<&str>,
    now: OffsetDateTime,
    what: &str,
) -> Result<Option<OffsetDateTime>, SsoError> {
    if let Some(not_before) = not_before
        && now + CLOCK_SKEW < instant(not_before, what)?
    {
        return invalid(format!("{what} is not valid yet (check the clocks)"));
    }
    let end = not_on_or_after.map(|t| instant(t, what)).transpose()?;
    if let Some(end) = end
        && now - CLOCK_SKEW >= end
    {
        return invalid(format!("{what} has expired"));
    }
    Ok(end)
}

fn instant(text: &str, what: &str) -> Result<OffsetDateTime, SsoError> {
    OffsetDateTime::parse(text.trim(), &Rfc3339)
        .map_err(|_| SsoError::InvalidAnswer(format!("{what} has a malformed time: {text}")))
}

/// The bearer `SubjectConfirmation` that confirms this delivery: its data names our ACS as
/// recipient, the request answered, and an end; the end is returned. Several confirmations may
/// be given; one valid is enough, else the first one's fault is told.
fn bearer_confirmation(
    doc: &Document,
    subject: NodeId,
    expected: &Expected<'_>,
) -> Result<OffsetDateTime, SsoError> {
    let mut first_error = None;
    for (confirmation, element) in doc.children_named(subject, ASSERTION, "SubjectConfirmation") {
        if element.attribute("Method") != Some(BEARER) {
            continue;
        }
        let result = (|| {
            let (_, data) = doc
                .only_child(confirmation, ASSERTION, "SubjectConfirmationData")
                .map_err(|e| SsoError::InvalidAnswer(format!("the SAML assertion: {e}")))?
                .ok_or_else(|| {
                    SsoError::InvalidAnswer(
                        "the SAML assertion's subject confirmation has no data".into(),
                    )
                })?;
            if data.attribute("Recipient") != Some(expected.acs_url) {
                return invalid("the SAML assertion is for another recipient than this server");
            }
            check_in_response_to(data.attribute("InResponseTo"), expected, "assertion")?;
            if expected.in_response_to.is_some() && data.attribute("InResponseTo").is_none() {
                return invalid("the SAML assertion does not say which login request it answers");
            }
            check_window(
                data.attribute("NotBefore"),
                data.attribute("NotOnOrAfter"),
                expected.now,
                "the SAML assertion",
            )?
            .ok_or_else(|| {
                SsoError::InvalidAnswer(
                    "the SAML assertion's subject confirmation has no end (NotOnOrAfter)".into(),
                )
            })
        })();
        match result {
            Ok(end) => return Ok(end),
            Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    Err(first_error.unwrap_or_else(|| {
        SsoError::InvalidAnswer("the SAML assertion has no bearer subject confirmation".into())
    }))
}
