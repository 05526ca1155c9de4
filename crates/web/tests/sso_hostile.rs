//! Hostile input to the single sign-on parsers, generated (bounded: a few hundred cases each, so
//! the suite stays fast): arbitrary text and mutations of real SAML documents given to the XML
//! reader, its canonicalization, the IdP metadata reader and the SAMLResponse decoder. Each
//! either answers or refuses with an error; none panics or runs away.

#![allow(clippy::unwrap_used, reason = "tests")]

use errhound_web::sso::saml::parse_idp_metadata;
use errhound_web::sso::saml::response::decode;
use errhound_web::sso::saml::xml::{C14n, Document};
use proptest::prelude::*;

/// A SAML response shaped like a real IdP's (namespaces on ancestors, a signature block, text
/// with entities), unsigned: the mutations start from it.
const RESPONSE: &str = r##"<samlp:Response xmlns:samlp="urn:oasis:names:tc:SAML:2.0:protocol" xmlns:saml="urn:oasis:names:tc:SAML:2.0:assertion" ID="_r1" Version="2.0" IssueInstant="2026-12-04T10:00:00Z" Destination="https://errhound.test/auth/sso/" InResponseTo="_q1"><saml:Issuer>https://idp.test/</saml:Issuer><samlp:Status><samlp:StatusCode Value="urn:oasis:names:tc:SAML:2.0:status:Success"/></samlp:Status><saml:Assertion ID="_a1" Version="2.0" IssueInstant="2026-12-04T10:00:00Z"><saml:Issuer>https://idp.test/</saml:Issuer><ds:Signature xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:SignedInfo><ds:CanonicalizationMethod Algorithm="http://www.w3.org/2001/10/xml-exc-c14n#"/><ds:Reference URI="#_a1"><ds:DigestValue>AAAA</ds:DigestValue></ds:Reference></ds:SignedInfo><ds:SignatureValue>AAAA</ds:SignatureValue></ds:Signature><saml:Subject><saml:NameID Format="urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress">ann@corp.test</saml:NameID></saml:Subject><saml:AttributeStatement><saml:Attribute Name="groups"><saml:AttributeValue>eng &amp; ops</saml:AttributeValue></saml:Attribute></saml:AttributeStatement></saml:Assertion></samlp:Response>"##;

const METADATA: &str = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.test/"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"><md:KeyDescriptor use="signing"><ds:KeyInfo xmlns:ds="http://www.w3.org/2000/09/xmldsig#"><ds:X509Data><ds:X509Certificate>MIIB</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor><md:SingleSignOnService Binding="urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect" Location="https://idp.test/sso"/></md:IDPSSODescriptor></md:EntityDescriptor>"#;

/// `text` with `edits` applied: each replaces, inserts or removes one byte (kept valid UTF-8 by
/// working on ASCII).
fn mutate(text: &str, edits: &[(usize, u8, u8)]) -> String {
    let mut bytes = text.as_bytes().to_vec();
    for &(at, byte, how) in edits {
        if bytes.is_empty() {
            break;
        }
        let at = at % bytes.len();
        const ALPHABET: &[u8] = b" <>/=\"'&;:#!?-_xmlns:aAZz09\n";
        let byte = ALPHABET[usize::from(byte) % ALPHABET.len()];
        match how % 3 {
            0 => bytes[at] = byte,
            1 => bytes.insert(at, byte),
            _ => {
                bytes.remove(at);
            }
        }
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Parses `text` and canonicalizes every element of it both ways, as signature checking does.
fn read_all(text: &str) {
    let Ok(doc) = Document::parse(text) else {
        return;
    };
    let with_comments = C14n {
        with_comments: true,
        inclusive_prefixes: vec!["#default".to_owned(), "saml".to_owned()],
    };
    let mut id = 0;
    while id < 10_000 {
        if doc.element(id).is_some() {
            let _ = C14n::default().canonicalize(&doc, id, None);
            let _ = with_comments.canonicalize(&doc, id, Some(doc.root()));
        }
        id += 1;
        if doc.element(id).is_none() && id > 400 {
            break;
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_saml_documents_are_read_or_refused(
        edits in prop::collection::vec((any::<usize>(), any::<u8>(), any::<u8>()), 1..12)
    ) {
        read_all(&mutate(RESPONSE, &edits));
        let _ = parse_idp_metadata(&mutate(METADATA, &edits));
    }

    #[test]
    fn arbitrary_text_is_read_or_refused(text in "(<[a-z:]{0,6}( [a-z:]{1,6}=\"[^\"]{0,8}\")*/?>|</[a-z:]{0,6}>|&[a-z#0-9]{0,6};|<!--|-->|<!DOCTYPE|<!\\[CDATA\\[|\\]\\]>|[^<&]{0,12}){0,60}") {
        read_all(&text);
        let _ = parse_idp_metadata(&text);
    }

    #[test]
    fn arbitrary_saml_response_fields_are_decoded_or_refused(text in ".{0,400}") {
        let _ = decode(&text);
    }
}

/// Deep nesting and a huge flat document are refused (a bound, not a crash or a stack
/// overflow); so is an entity expansion attempt.
#[test]
fn deep_huge_and_entity_laden_documents_are_refused() {
    let deep = format!("{}{}", "<a>".repeat(100_000), "</a>".repeat(100_000));
    assert!(Document::parse(&deep).is_err());
    let wide = format!("<r>{}</r>", "<a/>".repeat(100_000));
    assert!(Document::parse(&wide).is_err());
    let bomb = r#"<!DOCTYPE r [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><r>&b;</r>"#;
    assert!(Document::parse(bomb).is_err());
    assert!(
        Document::parse(RESPONSE).is_ok(),
        "the seed document is valid"
    );
}
