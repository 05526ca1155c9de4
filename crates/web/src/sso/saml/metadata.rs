//! SAML metadata: what this service provider publishes about itself ([`sp_metadata`]), and
//! what is read from the identity provider's (its entity id, its single sign-on URL, its
//! signing certificates).
//!
//! The identity provider's metadata is trusted as the organization's owner configured it
//! (pasted, or fetched from the URL they gave); a signature on the metadata itself is not
//! checked.

use super::signature::{DSIG, IdpKey, decode_base64};
use super::xml::{Document, NodeId, escape};
use super::{NAMEID_EMAIL, NAMEID_UNSPECIFIED};
use crate::sso::ProviderContext;

/// The SAML metadata namespace.
const MD: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
/// The protocol namespace, as `protocolSupportEnumeration` names it.
const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
/// The HTTP-Redirect binding (how the AuthnRequest is sent).
pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
/// The HTTP-POST binding (how the response comes back).
pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";

/// This service provider's entity id for the organization: `<public url>/auth/saml/<org
/// slug>/metadata/`, which also serves [`sp_metadata`].
pub fn sp_entity_id(context: &ProviderContext) -> String {
    format!(
        "{}/auth/saml/{}/metadata/",
        context.public_url, context.organization
    )
}

/// This service provider's metadata for the organization of `context`, to give to the
/// identity provider: its entity id, the assertion consumer service (the callback, HTTP-POST
/// binding), signed assertions wanted, and the NameID formats it reads.
pub fn sp_metadata(context: &ProviderContext) -> String {
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <md:EntityDescriptor xmlns:md=\"{MD}\" entityID=\"{entity}\">\n\
         \x20 <md:SPSSODescriptor protocolSupportEnumeration=\"{PROTOCOL}\" \
         AuthnRequestsSigned=\"false\" WantAssertionsSigned=\"true\">\n\
         \x20   <md:NameIDFormat>{NAMEID_EMAIL}</md:NameIDFormat>\n\
         \x20   <md:NameIDFormat>{NAMEID_UNSPECIFIED}</md:NameIDFormat>\n\
         \x20   <md:AssertionConsumerService Binding=\"{BINDING_POST}\" Location=\"{acs}\" \
         index=\"0\" isDefault=\"true\"/>\n\
         \x20 </md:SPSSODescriptor>\n\
         </md:EntityDescriptor>\n",
        entity = escape(&sp_entity_id(context)),
        acs = escape(&context.callback_url),
    )
}

/// What this service provider needs of the identity provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpMetadata {
    /// Its entity id: the `Issuer` of its responses.
    pub entity_id: String,
    /// Where the browser is sent with the AuthnRequest.
    pub sso_url: String,
    /// The keys of its signing certificates (several while it rolls its key over).
    pub keys: Vec<IdpKey>,
}

/// Reads the identity provider's metadata: an `EntityDescriptor` (or the first with an
/// `IDPSSODescriptor` in an `EntitiesDescriptor`). The single sign-on service of the
/// HTTP-Redirect binding is preferred, else that of HTTP-POST (identity providers commonly
/// serve both bindings at one URL). The certificates used for signing (`use="signing"` or no
/// `use`) are kept.
pub fn parse_idp_metadata(text: &str) -> Result<IdpMetadata, String> {
    let doc = Document::parse(text).map_err(|e| format!("the IdP metadata: {e}"))?;
    let root = doc.root();
    let entity = match doc.element(root) {
        Some(e) if e.is(MD, "EntityDescriptor") => root,
        Some(e) if e.is(MD, "EntitiesDescriptor") => doc
            .all_named(MD, "EntityDescriptor")
            .find(|&id| {
                doc.children_named(id, MD, "IDPSSODescriptor")
                    .next()
                    .is_some()
            })
            .ok_or("the IdP metadata describes no identity provider (IDPSSODescriptor)")?,
        _ => return Err("the IdP metadata is not SAML metadata (EntityDescriptor)".to_owned()),
    };
    let entity_id = doc
        .element(entity)
        .and_then(|e| e.attribute("entityID"))
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .ok_or("the IdP metadata has no entityID")?
        .to_owned();
    let (descriptor, _) = doc
        .children_named(entity, MD, "IDPSSODescriptor")
        .next()
        .ok_or("the IdP metadata describes no identity provider (IDPSSODescriptor)")?;
    let service = |binding: &str| {
        doc.children_named(descriptor, MD, "SingleSignOnService")
            .find(|(_, e)| e.attribute("Binding") == Some(binding))
            .and_then(|(_, e)| e.attribute("Location"))
            .map(|l| l.trim().to_owned())
    };
    let sso_url = service(BINDING_REDIRECT)
        .or_else(|| service(BINDING_POST))
        .filter(|url| url.starts_with("https://") || url.starts_with("http://"))
        .ok_or(
            "the IdP metadata has no single sign-on URL for the HTTP-Redirect or POST binding",
        )?;
    let mut keys = Vec::new();
    for (key_descriptor, element) in doc.children_named(descriptor, MD, "KeyDescriptor") {
        if !matches!(element.attribute("use"), None | Some("signing")) {
            continue;
        }
        for certificate in certificates(&doc, key_descriptor) {
            let der = decode_base64(&certificate)
                .ok_or("the IdP metadata has a certificate that is not base64")?;
            keys.push(
                IdpKey::from_certificate(&der).map_err(|e| format!("the IdP metadata: {e}"))?,
            );
        }
    }
    if keys.is_empty() {
        return Err("the IdP metadata has no signing certificate".to_owned());
    }
    Ok(IdpMetadata {
        entity_id,
        sso_url,
        keys,
    })
}

/// The `KeyInfo/X509Data/X509Certificate` texts under `key_descriptor`.
fn certificates(doc: &Document, key_descriptor: NodeId) -> Vec<String> {
    doc.children_named(key_descriptor, DSIG, "KeyInfo")
        .flat_map(|(info, _)| doc.children_named(info, DSIG, "X509Data"))
        .flat_map(|(data, _)| doc.children_named(data, DSIG, "X509Certificate"))
        .map(|(certificate, _)| doc.text(certificate))
        .collect()
}
