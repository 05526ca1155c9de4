//! SAML 2.0 single sign-on, the service-provider side (the Web Browser SSO profile).
//!
//! Two steps: `request` sends the browser to the identity provider with an `AuthnRequest`
//! (HTTP-Redirect binding, unsigned, `RelayState` = the attempt's resume state), and
//! `response` validates the `SAMLResponse` the identity provider POSTs back to the one
//! callback, the assertion consumer service (`ProviderContext::callback_url`), then binds the
//! NameID and attributes for [`SamlProvider::build_identity`].
//!
//! - This server's entity id is `<public url>/auth/saml/<org slug>/metadata/`, which serves
//!   [`sp_metadata`].
//! - The identity provider is known from its metadata, pasted (`idp_metadata_xml`) or fetched
//!   from `idp_metadata_url` (at most [`MAX_METADATA_BYTES`], cached for
//!   [`METADATA_CACHE_TTL`] per URL by the [`SamlKind`]).
//! - What a response must be to be accepted is in [`response`]; the XML reading and
//!   canonicalization in [`xml`]; XML signatures in [`signature`].
//! - The e-mail is taken as verified: the identity provider asserts it, signed, and the
//!   organization chose to trust that identity provider for its logins. Linking an existing
//!   account by that address still follows the organization's rules (`domain::sso::linking`).
//! - IdP-initiated logins (a response nobody asked for) go through
//!   [`SamlProvider::unsolicited`], outside the step pipeline.

pub mod metadata;
pub mod response;
pub mod signature;
#[cfg(test)]
mod tests;
pub mod xml;

use std::collections::{BTreeMap, HashMap};
use std::io::Write as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use errhound_domain::plugin::BoxFuture;
use errhound_domain::plugin::settings::SettingValues;
use errhound_domain::sso::providers::SAML2;
use errhound_domain::sso::{
    Attempt, CallbackRequest, Identity, SsoError, SsoProvider, StepOutcome, Unsolicited,
};
use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

pub use metadata::{IdpMetadata, parse_idp_metadata, sp_entity_id, sp_metadata};
pub use response::{Assertion, CLOCK_SKEW};

use super::{ProviderContext, ProviderKind};

/// The NameID format of an e-mail address.
pub const NAMEID_EMAIL: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress";
/// The NameID format that says nothing of the NameID.
pub const NAMEID_UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";
/// The largest IdP metadata document fetched (that of every call to an identity provider).
pub const MAX_METADATA_BYTES: usize = super::http::MAX_ANSWER_BYTES;
/// How long fetched IdP metadata is reused before it is fetched again.
pub const METADATA_CACHE_TTL: Duration = Duration::from_secs(5 * 60);

/// The steps' names.
const STEPS: &[&str] = &["request", "response"];
/// What the steps bind to the attempt.
const REQUEST_ID: &str = "saml.request_id";
const NAME_ID: &str = "saml.name_id";
const NAME_ID_FORMAT: &str = "saml.name_id_format";
const ATTRIBUTES: &str = "saml.attributes";

type MetadataCache = Arc<Mutex<HashMap<String, (Instant, Arc<IdpMetadata>)>>>;

/// The SAML 2.0 provider kind (`saml2`): builds an organization's [`SamlProvider`] and keeps
/// the identity providers' fetched metadata for a while.
#[derive(Default)]
pub struct SamlKind {
    cache: MetadataCache,
}

impl SamlKind {
    /// A kind with an empty metadata cache.
    pub fn new() -> SamlKind {
        SamlKind::default()
    }

    /// The provider for `config` in `context`, as its own type (for
    /// [`SamlProvider::unsolicited`]); [`ProviderKind::build`] gives the same behind the trait.
    pub fn provider(
        &self,
        config: &SettingValues,
        context: &ProviderContext,
    ) -> Result<SamlProvider, SsoError> {
        let source = match (
            config.text("idp_metadata_xml"),
            config.text("idp_metadata_url"),
        ) {
            (Some(xml), _) => Source::Xml(Arc::new(
                parse_idp_metadata(xml).map_err(SsoError::Unavailable)?,
            )),
            (None, Some(url)) => Source::Url(url.to_owned()),
            (None, None) => {
                return Err(SsoError::Unavailable(
                    "SAML needs the identity provider's metadata (its URL or XML)".into(),
                ));
            }
        };
        let attribute = |key: &str| config.text(key).map(|s| s.trim().to_owned());
        Ok(SamlProvider {
            source,
            sp_entity_id: sp_entity_id(context),
            acs_url: context.callback_url.clone(),
            email_attribute: attribute("email_attribute"),
            name_attribute: attribute("name_attribute"),
            groups_attribute: attribute("groups_attribute"),
            http: context.http.clone(),
            cache: self.cache.clone(),
        })
    }
}

impl ProviderKind for SamlKind {
    fn key(&self) -> &'static str {
        SAML2
    }

    fn build(
        &self,
        config: &SettingValues,
        context: &ProviderContext,
    ) -> Result<Arc<dyn SsoProvider>, SsoError> {
        Ok(Arc::new(self.provider(config, context)?))
    }
}

/// Where the identity provider's metadata comes from.
enum Source {
    Xml(Arc<IdpMetadata>),
    Url(String),
}

/// An organization's SAML 2.0 login.
pub struct SamlProvider {
    source: Source,
    sp_entity_id: String,
    acs_url: String,
    email_attribute: Option<String>,
    name_attribute: Option<String>,
    groups_attribute: Option<String>,
    http: super::http::IdpClient,
    cache: MetadataCache,
}

/// An IdP-initiated login that validated: who, and what the caller needs to refuse a replay
/// of the same assertion (keep its id until its end, refuse it when seen again).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsolicitedLogin {
    /// Who logged in.
    pub identity: Identity,
    /// The assertion's ID.
    pub assertion_id: String,
    /// Until when the assertion could be presented; after it, it is refused anyway.
    pub not_on_or_after: OffsetDateTime,
}

impl SamlProvider {
    /// This server's entity id for the organization.
    pub fn sp_entity_id(&self) -> &str {
        &self.sp_entity_id
    }

    /// The identity provider's metadata: the pasted one, or the one at its URL (cached).
    pub async fn idp(&self) -> Result<Arc<IdpMetadata>, SsoError> {
        let url = match &self.source {
            Source::Xml(metadata) => return Ok(metadata.clone()),
            Source::Url(url) => url,
        };
        if let Some(cached) = self.cached(url) {
            return Ok(cached);
        }
        let (status, body) = self.http.send(self.http.get(url), "metadata").await?;
        if !status.is_success() {
            return Err(SsoError::Unavailable(format!(
                "its metadata answered HTTP {status}"
            )));
        }
        let text = String::from_utf8(body)
            .map_err(|_| SsoError::Unavailable("its metadata is not UTF-8 text".into()))?;
        let metadata = Arc::new(parse_idp_metadata(&text).map_err(SsoError::Unavailable)?);
        if let Ok(mut cache) = self.cache.lock() {
            cache.retain(|_, (at, _)| at.elapsed() < METADATA_CACHE_TTL);
            cache.insert(url.clone(), (Instant::now(), metadata.clone()));
        }
        Ok(metadata)
    }

    fn cached(&self, url: &str) -> Option<Arc<IdpMetadata>> {
        let cache = self.cache.lock().ok()?;
        let (at, metadata) = cache.get(url)?;
        (at.elapsed() < METADATA_CACHE_TTL).then(|| metadata.clone())
    }

    /// Validates an unsolicited (IdP-initiated) `SAMLResponse` form field by the same rules as
    /// the `response` step, except that it must answer no request (no `InResponseTo`), and
    /// returns who it logs in.
    ///
    /// Nothing here remembers assertions: the caller must refuse a second use of
    /// [`UnsolicitedLogin::assertion_id`] until [`UnsolicitedLogin::not_on_or_after`] (the
    /// single-use attempt that protects SP-initiated logins does not exist here).
    pub async fn unsolicited(&self, saml_response: &str) -> Result<UnsolicitedLogin, SsoError> {
        let idp = self.idp().await?;
        let xml = response::decode(saml_response)?;
        let assertion = response::validate(&xml, &self.expected(&idp, None))?;
        let identity = self.identity(
            &assertion.name_id,
            assertion.name_id_format.as_deref(),
            &assertion.attributes,
        );
        Ok(UnsolicitedLogin {
            identity,
            assertion_id: assertion.id,
            not_on_or_after: assertion.not_on_or_after,
        })
    }

    fn expected<'a>(
        &'a self,
        idp: &'a IdpMetadata,
        in_response_to: Option<&'a str>,
    ) -> response::Expected<'a> {
        response::Expected {
            sp_entity_id: &self.sp_entity_id,
            acs_url: &self.acs_url,
            idp,
            in_response_to,
            now: OffsetDateTime::now_utc(),
        }
    }

    /// Step `request`: the AuthnRequest, by redirect.
    async fn request(
        &self,
        request: &CallbackRequest,
        attempt: &mut Attempt,
    ) -> Result<StepOutcome, SsoError> {
        let idp = self.idp().await?;
        let id = format!("_{}", hex::encode(rand::random::<[u8; 20]>()));
        let xml = authn_request(&id, &self.sp_entity_id, &self.acs_url, &idp.sso_url);
        attempt.bind(REQUEST_ID, &id);
        Ok(StepOutcome::Redirect(redirect_url(
            &idp.sso_url,
            &xml,
            &request.resume_state,
        )?))
    }

    /// Step `response`: the SAMLResponse, POSTed back.
    async fn response(
        &self,
        request: &CallbackRequest,
        attempt: &mut Attempt,
    ) -> Result<StepOutcome, SsoError> {
        if !request.is_post {
            return Err(SsoError::InvalidAnswer(
                "the SAML response must be POSTed (HTTP-POST binding), not sent in a link".into(),
            ));
        }
        let Some(saml_response) = request.param("SAMLResponse") else {
            return Err(SsoError::InvalidAnswer(
                "the identity provider sent no SAMLResponse".into(),
            ));
        };
        let request_id = attempt
            .fetch(REQUEST_ID)
            .ok_or_else(|| SsoError::InvalidAnswer("no SAML request was made".into()))?
            .to_owned();
        let idp = self.idp().await?;
        let xml = response::decode(saml_response)?;
        let assertion = response::validate(&xml, &self.expected(&idp, Some(&request_id)))?;
        let attributes = serde_json::to_string(&assertion.attributes)
            .map_err(|e| SsoError::Unavailable(format!("the SAML attributes: {e}")))?;
        attempt.bind(NAME_ID, assertion.name_id);
        if let Some(format) = assertion.name_id_format {
            attempt.bind(NAME_ID_FORMAT, format);
        }
        attempt.bind(ATTRIBUTES, attributes);
        Ok(StepOutcome::Next)
    }

    /// The identity from a NameID and attributes.
    fn identity(
        &self,
        name_id: &str,
        name_id_format: Option<&str>,
        attributes: &BTreeMap<String, Vec<String>>,
    ) -> Identity {
        let first = |name: &Option<String>| {
            name.as_ref()
                .and_then(|name| attributes.get(name))
                .and_then(|values| values.iter().find(|v| !v.is_empty()))
                .cloned()
        };
        let email = first(&self.email_attribute)
            .or_else(|| (name_id_format == Some(NAMEID_EMAIL)).then(|| name_id.to_owned()))
            .unwrap_or_default();
        let groups = self
            .groups_attribute
            .as_ref()
            .and_then(|name| attributes.get(name))
            .map(|values| values.iter().filter(|v| !v.is_empty()).cloned().collect())
            .unwrap_or_default();
        Identity {
            id: name_id.to_owned(),
            email,
            name: first(&self.name_attribute),
            email_verified: true,
            groups,
        }
    }
}

impl SsoProvider for SamlProvider {
    fn key(&self) -> &str {
        SAML2
    }

    fn steps(&self) -> &[&'static str] {
        STEPS
    }

    fn run_step<'a>(
        &'a self,
        index: usize,
        request: &'a CallbackRequest,
        attempt: &'a mut Attempt,
    ) -> BoxFuture<'a, Result<StepOutcome, SsoError>> {
        Box::pin(async move {
            match index {
                0 if attempt.fetch(REQUEST_ID).is_none() => self.request(request, attempt).await,
                // The request was sent: this callback carries its answer.
                0 => Ok(StepOutcome::Next),
                _ => self.response(request, attempt).await,
            }
        })
    }

    fn build_identity(&self, attempt: &Attempt) -> Result<Identity, SsoError> {
        let name_id = attempt
            .fetch(NAME_ID)
            .ok_or(SsoError::MissingClaim("NameID"))?;
        let attributes: BTreeMap<String, Vec<String>> = attempt
            .fetch(ATTRIBUTES)
            .and_then(|text| serde_json::from_str(text).ok())
            .unwrap_or_default();
        Ok(self.identity(name_id, attempt.fetch(NAME_ID_FORMAT), &attributes))
    }

    fn unsolicited<'a>(
        &'a self,
        request: &'a CallbackRequest,
    ) -> Option<BoxFuture<'a, Result<Unsolicited, SsoError>>> {
        let response = request.param("SAMLResponse").filter(|_| request.is_post)?;
        Some(Box::pin(async move {
            let login = SamlProvider::unsolicited(self, response).await?;
            let valid_until_ms =
                i64::try_from(login.not_on_or_after.unix_timestamp_nanos() / 1_000_000)
                    .unwrap_or(i64::MAX);
            Ok(Unsolicited {
                identity: login.identity,
                answer_id: login.assertion_id,
                valid_until_ms,
            })
        }))
    }
}

/// The AuthnRequest document (unsigned: the HTTP-Redirect binding allows it, and the
/// response's checks do not depend on it).
fn authn_request(id: &str, sp_entity_id: &str, acs_url: &str, destination: &str) -> String {
    let issued = OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_default();
    format!(
        "<samlp:AuthnRequest xmlns:samlp=\"{protocol}\" xmlns:saml=\"{assertion}\" ID=\"{id}\" \
         Version=\"2.0\" IssueInstant=\"{issued}\" Destination=\"{destination}\" \
         AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"{binding}\">\
         <saml:Issuer>{issuer}</saml:Issuer>\
         <samlp:NameIDPolicy Format=\"{format}\" AllowCreate=\"true\"/>\
         </samlp:AuthnRequest>",
        protocol = response::PROTOCOL,
        assertion = response::ASSERTION,
        id = xml::escape(id),
        destination = xml::escape(destination),
        acs = xml::escape(acs_url),
        binding = metadata::BINDING_POST,
        issuer = xml::escape(sp_entity_id),
        format = NAMEID_UNSPECIFIED,
    )
}

/// The HTTP-Redirect binding: `SAMLRequest` = base64 of the raw-DEFLATEd request, with the
/// `RelayState`, in the query of the identity provider's SSO URL.
fn redirect_url(sso_url: &str, request: &str, relay_state: &str) -> Result<String, SsoError> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let deflated = encoder
        .write_all(request.as_bytes())
        .and_then(|()| encoder.finish())
        .map_err(|e| SsoError::Unavailable(format!("the SAML request: {e}")))?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(deflated);
    let separator = if sso_url.contains('?') { '&' } else { '?' };
    Ok(format!(
        "{sso_url}{separator}SAMLRequest={}&RelayState={}",
        utf8_percent_encode(&encoded, NON_ALPHANUMERIC),
        utf8_percent_encode(relay_state, NON_ALPHANUMERIC),
    ))
}
