//! The identity providers an organization can set up, and the configuration each declares (the
//! `config` of Sentry's `auth-provider` API), typed and validated like a plugin's settings, with
//! secrets marked so they are sealed at rest and never shown back.

use crate::plugin::settings::{SettingErrors, SettingKind, SettingSpec, SettingValues};

/// A provider's key, title and configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderDescription {
    /// `oidc`, `github`, `saml2`.
    pub key: &'static str,
    /// Shown to people.
    pub title: &'static str,
    /// Its configuration.
    pub settings: Vec<SettingSpec>,
}

/// The OpenID Connect provider's key.
pub const OIDC: &str = "oidc";
/// The GitHub provider's key.
pub const GITHUB: &str = "github";
/// The SAML 2.0 provider's key.
pub const SAML2: &str = "saml2";

/// Every provider, by key.
pub fn all() -> Vec<ProviderDescription> {
    use SettingKind::*;
    let spec = SettingSpec::new;
    vec![
        ProviderDescription {
            key: OIDC,
            title: "OpenID Connect",
            settings: vec![
                spec(
                    "issuer",
                    "Issuer",
                    Url,
                    true,
                    "Its discovery document is at <issuer>/.well-known/openid-configuration.",
                ),
                spec("client_id", "Client ID", Text, true, ""),
                spec("client_secret", "Client secret", Secret, true, ""),
                spec(
                    "scopes",
                    "Scopes",
                    Text,
                    false,
                    "Space-separated; default \"openid email profile\".",
                ),
                spec(
                    "response_mode",
                    "Response mode",
                    Choice(vec!["query".to_owned(), "form_post".to_owned()]),
                    false,
                    "How the provider answers: a redirect (query, the default) or a POSTed form.",
                ),
                spec(
                    "groups_claim",
                    "Groups claim",
                    Text,
                    false,
                    "The ID-token claim listing the person's groups; default \"groups\".",
                ),
            ],
        },
        ProviderDescription {
            key: GITHUB,
            title: "GitHub",
            settings: vec![
                spec(
                    "client_id",
                    "Client ID",
                    Text,
                    true,
                    "Of a GitHub OAuth app.",
                ),
                spec("client_secret", "Client secret", Secret, true, ""),
                spec(
                    "organization",
                    "GitHub organization",
                    Text,
                    true,
                    "Only its members may log in.",
                ),
                spec(
                    "base_url",
                    "GitHub URL",
                    Url,
                    false,
                    "For GitHub Enterprise; default https://github.com.",
                ),
                spec(
                    "api_url",
                    "GitHub API URL",
                    Url,
                    false,
                    "For GitHub Enterprise; default https://api.github.com.",
                ),
            ],
        },
        ProviderDescription {
            key: SAML2,
            title: "SAML 2.0",
            settings: vec![
                spec(
                    "idp_metadata_url",
                    "IdP metadata URL",
                    Url,
                    false,
                    "Where the identity provider publishes its metadata; or paste it below.",
                ),
                spec("idp_metadata_xml", "IdP metadata XML", TextArea, false, ""),
                spec(
                    "email_attribute",
                    "E-mail attribute",
                    Text,
                    false,
                    "Default: the NameID when it is an e-mail address.",
                ),
                spec("name_attribute", "Name attribute", Text, false, ""),
                spec("groups_attribute", "Groups attribute", Text, false, ""),
            ],
        },
    ]
}

/// The provider `key`.
pub fn find(key: &str) -> Option<ProviderDescription> {
    all().into_iter().find(|p| p.key == key)
}

/// What the settings' own checks cannot see: rules across settings (SAML needs its metadata
/// one way or the other).
pub fn check(provider: &ProviderDescription, values: &SettingValues) -> SettingErrors {
    let mut errors = SettingErrors::default();
    if provider.key == SAML2
        && values.text("idp_metadata_url").is_none()
        && values.text("idp_metadata_xml").is_none()
    {
        errors.0.insert(
            "idp_metadata_url".to_owned(),
            "Give the identity provider's metadata URL or its metadata XML.".to_owned(),
        );
    }
    errors
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plugin::settings::validate;
    use serde_json::json;

    #[test]
    fn the_three_providers_mark_their_secrets() {
        let keys: Vec<&str> = all().iter().map(|p| p.key).collect();
        assert_eq!(keys, [OIDC, GITHUB, SAML2]);
        let secrets: Vec<String> = all()
            .iter()
            .flat_map(|p| {
                p.settings
                    .iter()
                    .filter(|s| s.kind.is_secret())
                    .map(|s| format!("{}.{}", p.key, s.key))
            })
            .collect();
        assert_eq!(secrets, ["oidc.client_secret", "github.client_secret"]);
        assert!(find("ldap").is_none());
    }

    #[test]
    fn saml_needs_its_metadata_one_way_or_the_other() {
        let saml = find(SAML2).unwrap();
        let none = validate(
            &saml.settings,
            &SettingValues::default(),
            &json!({}).as_object().unwrap().clone(),
        )
        .unwrap();
        assert!(check(&saml, &none).0.contains_key("idp_metadata_url"));
        let body = json!({"idp_metadata_xml": "<EntityDescriptor/>"});
        let given = validate(
            &saml.settings,
            &SettingValues::default(),
            body.as_object().unwrap(),
        )
        .unwrap();
        assert!(check(&saml, &given).0.is_empty());
    }
}
