//! XML-DSig, as SAML uses it: one enveloped signature on the element it signs, with one
//! reference to that element by its ID, exclusive canonicalization, and a key from the
//! identity provider's metadata (the signature's own `KeyInfo` is never trusted).
//!
//! Accepted: RSA PKCS#1 v1.5 with SHA-256, SHA-384 or SHA-512 (keys of 2048 bits or more),
//! ECDSA P-256/SHA-256 and P-384/SHA-384; RSA with SHA-1 only because older identity
//! providers still default to it. Digests SHA-256/384/512, and SHA-1 for the same reason.
//! Everything else (MD5, DSA, HMAC, which would turn a public certificate into a secret key)
//! is refused.

use ring::digest;
use ring::signature::{self, UnparsedPublicKey, VerificationAlgorithm};

use super::xml::{C14n, Document, NodeId};

/// The XML-DSig namespace.
pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
const ENVELOPED: &str = "http://www.w3.org/2000/09/xmldsig#enveloped-signature";
const EXC_C14N: &str = "http://www.w3.org/2001/10/xml-exc-c14n#";
const EXC_C14N_WITH_COMMENTS: &str = "http://www.w3.org/2001/10/xml-exc-c14n#WithComments";

/// Why a signature was not accepted: each reads as the end of "the SAML response ...".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    /// The signature's shape is not the one SAML uses, or uses an algorithm refused here.
    #[error("{0}")]
    Unsupported(String),
    /// The digest of the referenced element differs: the element changed after signing.
    #[error("was altered (its digest does not match)")]
    Altered,
    /// No key of the identity provider verifies the signature value.
    #[error(
        "is not signed by the identity provider (the signature does not verify with its certificate)"
    )]
    BadSignature,
}

fn unsupported<T>(message: impl Into<String>) -> Result<T, SignatureError> {
    Err(SignatureError::Unsupported(message.into()))
}

/// A public key of the identity provider, from a certificate in its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IdpKey {
    /// An RSA key (its PKCS#1 `RSAPublicKey`, DER).
    Rsa(Vec<u8>),
    /// An ECDSA P-256 key (the uncompressed point).
    EcP256(Vec<u8>),
    /// An ECDSA P-384 key (the uncompressed point).
    EcP384(Vec<u8>),
}

impl IdpKey {
    /// The key of the X.509 certificate `der`. The certificate's validity period and issuer
    /// are not looked at: SAML pins the key itself through the metadata, and identity
    /// providers commonly sign with long-expired self-signed certificates.
    pub fn from_certificate(der: &[u8]) -> Result<IdpKey, String> {
        let bad = |what: &str| format!("the certificate is not a valid X.509 certificate ({what})");
        let certificate = Der::new(der)
            .read(0x30)
            .and_then(|(content, _)| Der::new(content).read(0x30))
            .map(|(tbs, _)| tbs)
            .ok_or_else(|| bad("no to-be-signed part"))?;
        let mut tbs = Der::new(certificate);
        // version [0] EXPLICIT is optional (absent in a v1 certificate).
        if tbs.peek() == Some(0xa0) {
            tbs.read(0xa0).ok_or_else(|| bad("version"))?;
        }
        for what in [
            "serial number",
            "signature",
            "issuer",
            "validity",
            "subject",
        ] {
            tbs.skip().ok_or_else(|| bad(what))?;
        }
        let (spki, _) = tbs.read(0x30).ok_or_else(|| bad("public key"))?;
        let mut spki = Der::new(spki);
        let (algorithm, _) = spki.read(0x30).ok_or_else(|| bad("key algorithm"))?;
        let (bits, _) = spki.read(0x03).ok_or_else(|| bad("key bits"))?;
        let key = match bits.split_first() {
            Some((0, key)) => key.to_vec(),
            _ => return Err(bad("key bits")),
        };
        let mut algorithm = Der::new(algorithm);
        let (oid, _) = algorithm.read(0x06).ok_or_else(|| bad("key algorithm"))?;
        match oid {
            // rsaEncryption, 1.2.840.113549.1.1.1
            [0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01] => Ok(IdpKey::Rsa(key)),
            // id-ecPublicKey, 1.2.840.10045.2.1, with the curve as parameter
            [0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01] => {
                match algorithm.read(0x06).map(|(curve, _)| curve) {
                    // prime256v1, 1.2.840.10045.3.1.7
                    Some([0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07]) => {
                        Ok(IdpKey::EcP256(key))
                    }
                    // secp384r1, 1.3.132.0.34
                    Some([0x2b, 0x81, 0x04, 0x00, 0x22]) => Ok(IdpKey::EcP384(key)),
                    _ => Err(
                        "the certificate's elliptic curve is not supported (P-256 or P-384 are)"
                            .to_owned(),
                    ),
                }
            }
            _ => Err("the certificate's key is neither RSA nor ECDSA".to_owned()),
        }
    }

    fn verify(&self, method: SignatureMethod, message: &[u8], value: &[u8]) -> bool {
        let (algorithm, key): (&dyn VerificationAlgorithm, &[u8]) = match (method, self) {
            (SignatureMethod::RsaSha1, IdpKey::Rsa(key)) => (
                &signature::RSA_PKCS1_2048_8192_SHA1_FOR_LEGACY_USE_ONLY,
                key,
            ),
            (SignatureMethod::RsaSha256, IdpKey::Rsa(key)) => {
                (&signature::RSA_PKCS1_2048_8192_SHA256, key)
            }
            (SignatureMethod::RsaSha384, IdpKey::Rsa(key)) => {
                (&signature::RSA_PKCS1_2048_8192_SHA384, key)
            }
            (SignatureMethod::RsaSha512, IdpKey::Rsa(key)) => {
                (&signature::RSA_PKCS1_2048_8192_SHA512, key)
            }
            (SignatureMethod::EcdsaSha256, IdpKey::EcP256(key)) => {
                (&signature::ECDSA_P256_SHA256_FIXED, key)
            }
            (SignatureMethod::EcdsaSha384, IdpKey::EcP384(key)) => {
                (&signature::ECDSA_P384_SHA384_FIXED, key)
            }
            _ => return false,
        };
        UnparsedPublicKey::new(algorithm, key)
            .verify(message, value)
            .is_ok()
    }
}

/// A DER reader over one level of TLVs, enough to find a certificate's public key.
struct Der<'a> {
    rest: &'a [u8],
}

impl<'a> Der<'a> {
    fn new(bytes: &'a [u8]) -> Der<'a> {
        Der { rest: bytes }
    }

    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    /// The next TLV: its content and tag.
    fn next(&mut self) -> Option<(&'a [u8], u8)> {
        let (&tag, rest) = self.rest.split_first()?;
        let (&first, mut rest) = rest.split_first()?;
        let length = if first < 0x80 {
            usize::from(first)
        } else {
            let count = usize::from(first & 0x7f);
            if count == 0 || count > 4 || rest.len() < count {
                return None;
            }
            let (bytes, after) = rest.split_at(count);
            rest = after;
            bytes.iter().fold(0usize, |n, &b| (n << 8) | usize::from(b))
        };
        if rest.len() < length {
            return None;
        }
        let (content, after) = rest.split_at(length);
        self.rest = after;
        Some((content, tag))
    }

    fn read(&mut self, tag: u8) -> Option<(&'a [u8], u8)> {
        let (content, found) = self.next()?;
        (found == tag).then_some((content, found))
    }

    fn skip(&mut self) -> Option<()> {
        self.next().map(|_| ())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SignatureMethod {
    RsaSha1,
    RsaSha256,
    RsaSha384,
    RsaSha512,
    EcdsaSha256,
    EcdsaSha384,
}

impl SignatureMethod {
    fn from_uri(uri: &str) -> Result<SignatureMethod, SignatureError> {
        Ok(match uri {
            "http://www.w3.org/2000/09/xmldsig#rsa-sha1" => SignatureMethod::RsaSha1,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256" => SignatureMethod::RsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha384" => SignatureMethod::RsaSha384,
            "http://www.w3.org/2001/04/xmldsig-more#rsa-sha512" => SignatureMethod::RsaSha512,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha256" => SignatureMethod::EcdsaSha256,
            "http://www.w3.org/2001/04/xmldsig-more#ecdsa-sha384" => SignatureMethod::EcdsaSha384,
            other => {
                return unsupported(format!(
                    "is signed with {other}, which is refused (use RSA-SHA256)"
                ));
            }
        })
    }
}

fn digest_algorithm(uri: &str) -> Result<&'static digest::Algorithm, SignatureError> {
    Ok(match uri {
        "http://www.w3.org/2000/09/xmldsig#sha1" => &digest::SHA1_FOR_LEGACY_USE_ONLY,
        "http://www.w3.org/2001/04/xmlenc#sha256" => &digest::SHA256,
        "http://www.w3.org/2001/04/xmldsig-more#sha384" => &digest::SHA384,
        "http://www.w3.org/2001/04/xmlenc#sha512" => &digest::SHA512,
        other => {
            return unsupported(format!(
                "uses the digest {other}, which is refused (use SHA-256)"
            ));
        }
    })
}

/// The canonicalization an element names in its `Algorithm`, with its inclusive prefixes.
fn canonicalization(doc: &Document, method: NodeId) -> Result<C14n, SignatureError> {
    let element = doc.element(method).ok_or(SignatureError::Altered)?;
    let with_comments = match element.attribute("Algorithm") {
        Some(EXC_C14N) => false,
        Some(EXC_C14N_WITH_COMMENTS) => true,
        other => {
            return unsupported(format!(
                "is canonicalized with {}, which is not supported (exclusive canonicalization is)",
                other.unwrap_or("no algorithm")
            ));
        }
    };
    let inclusive_prefixes = doc
        .children_named(method, EXC_C14N, "InclusiveNamespaces")
        .filter_map(|(_, e)| e.attribute("PrefixList"))
        .flat_map(|list| list.split_ascii_whitespace().map(str::to_owned))
        .collect();
    Ok(C14n {
        with_comments,
        inclusive_prefixes,
    })
}

/// Decodes base64 that XML may have wrapped over lines.
pub fn decode_base64(text: &str) -> Option<Vec<u8>> {
    use base64::Engine as _;
    let compact: String = text.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact)
        .ok()
}

fn required<'d>(
    doc: &'d Document,
    parent: NodeId,
    local: &str,
) -> Result<(NodeId, &'d super::xml::Element), SignatureError> {
    doc.only_child(parent, DSIG, local)
        .map_err(|e| SignatureError::Unsupported(format!("has a malformed signature: {e}")))?
        .ok_or_else(|| SignatureError::Unsupported(format!("has a signature without {local}")))
}

/// Verifies the enveloped signature `signature`, a child of `signed`, with one of `keys`: it
/// must reference `signed` itself by its `ID` (so the element verified is the element read),
/// and nothing else.
pub fn verify_enveloped(
    doc: &Document,
    signed: NodeId,
    signature: NodeId,
    keys: &[IdpKey],
) -> Result<(), SignatureError> {
    let id = doc
        .element(signed)
        .and_then(|e| e.attribute("ID"))
        .filter(|id| !id.is_empty())
        .ok_or_else(|| SignatureError::Unsupported("has a signed element without an ID".into()))?;
    let (signed_info, _) = required(doc, signature, "SignedInfo")?;
    let (method, _) = required(doc, signed_info, "CanonicalizationMethod")?;
    let signed_info_c14n = canonicalization(doc, method)?;
    let (_, method) = required(doc, signed_info, "SignatureMethod")?;
    let method = SignatureMethod::from_uri(method.attribute("Algorithm").unwrap_or_default())?;
    let (reference, reference_element) = required(doc, signed_info, "Reference")?;
    if reference_element.attribute("URI") != Some(format!("#{id}").as_str()) {
        return unsupported(
            "has a signature that does not reference the element it is in (a wrapped signature?)",
        );
    }
    // Transforms: the enveloped-signature transform, then exclusive canonicalization.
    let (transforms, _) = required(doc, reference, "Transforms")?;
    let mut enveloped = false;
    let mut reference_c14n = None;
    for (transform, element) in doc.child_elements(transforms) {
        if !element.is(DSIG, "Transform") {
            return unsupported("has a malformed signature (Transforms)");
        }
        match element.attribute("Algorithm") {
            Some(ENVELOPED) if !enveloped && reference_c14n.is_none() => enveloped = true,
            Some(EXC_C14N | EXC_C14N_WITH_COMMENTS) if reference_c14n.is_none() => {
                reference_c14n = Some(canonicalization(doc, transform)?);
            }
            other => {
                return unsupported(format!(
                    "has a signature with the transform {}, which is not supported",
                    other.unwrap_or("(none)")
                ));
            }
        }
    }
    let Some(mut reference_c14n) = reference_c14n.filter(|_| enveloped) else {
        return unsupported(
            "has a signature that is not enveloped with exclusive canonicalization",
        );
    };
    // A same-document reference by ID selects the element without its comments, whatever
    // the canonicalization says (XML-DSig 4.4.3.3).
    reference_c14n.with_comments = false;
    let (_, digest_method) = required(doc, reference, "DigestMethod")?;
    let algorithm = digest_algorithm(digest_method.attribute("Algorithm").unwrap_or_default())?;
    let (digest_value, _) = required(doc, reference, "DigestValue")?;
    let expected = decode_base64(&doc.text(digest_value))
        .ok_or_else(|| SignatureError::Unsupported("has a digest that is not base64".into()))?;
    let canonical = reference_c14n.canonicalize(doc, signed, Some(signature));
    if digest::digest(algorithm, canonical.as_bytes()).as_ref() != expected.as_slice() {
        return Err(SignatureError::Altered);
    }
    let (value, _) = required(doc, signature, "SignatureValue")?;
    let value = decode_base64(&doc.text(value)).ok_or_else(|| {
        SignatureError::Unsupported("has a signature value that is not base64".into())
    })?;
    let message = signed_info_c14n.canonicalize(doc, signed_info, None);
    if keys
        .iter()
        .any(|key| key.verify(method, message.as_bytes(), &value))
    {
        Ok(())
    } else {
        Err(SignatureError::BadSignature)
    }
}
