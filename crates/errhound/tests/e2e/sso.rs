//! An organization's single sign-on provider through Sentry's `auth-provider` API: owners set
//! it up, read it (the client secret never comes back, and is sealed at rest), change it (an
//! empty secret keeps the saved one) and remove it; invalid settings are 400 in Sentry's shape;
//! members are refused; each change is in the audit log. (Which role may call is checked for
//! every route by `access`.)

use errhound_notify::ServerKey;
use errhound_store::{Engine, auth_providers};
use errhound_test_utils::TestServer;
use reqwest::Method;
use rstest::rstest;
use serde_json::{Value, json};

use crate::binary;

const PROVIDER: &str = "organizations/errhound/auth-provider/";
const SECRET: &str = "oidc-client-secret-of-acme";

fn field<'a>(body: &'a Value, name: &str) -> &'a Value {
    body["config"]
        .as_array()
        .and_then(|c| c.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("no {name} in {body}"))
}

async fn stored_config(server: &TestServer) -> Value {
    let (_, org) = server.api_get("organizations/errhound/").await;
    let org_id: i64 = org["id"].as_str().unwrap().parse().unwrap();
    let db = server.db().await;
    let mut conn = db.read_latest().await.unwrap();
    let stored = auth_providers::get(&mut conn.conn(), org_id)
        .await
        .unwrap()
        .expect("a stored provider");
    serde_json::from_str(&stored.config).unwrap()
}

#[rstest]
#[case::sqlite(Engine::Sqlite)]
#[case::postgres(Engine::Postgres)]
#[tokio::test]
async fn owners_set_up_read_change_and_remove_the_provider_and_its_secret_stays_sealed(
    #[case] engine: Engine,
) {
    let server = TestServer::start_on(binary(), engine).await;
    let (status, _) = server.api_get(PROVIDER).await;
    assert_eq!(status, 204, "none yet: a valid state, as Sentry answers");

    // Invalid settings: Sentry's {"errors": {...}}, each by name.
    let (status, body) = server
        .api_send(
            Method::POST,
            PROVIDER,
            &json!({"provider": "oidc", "config": {"issuer": "not a url"}, "default_role": "owner"}),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    for name in ["issuer", "client_id", "client_secret", "default_role"] {
        assert!(body["errors"][name].is_string(), "{name} in {body}");
    }
    let (status, body) = server
        .api_send(Method::POST, PROVIDER, &json!({"provider": "ldap"}), None)
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"]["provider"].is_string(), "{body}");

    let setup = json!({
        "provider": "oidc",
        "config": {
            "issuer": "https://idp.corp.example",
            "client_id": "errhound",
            "client_secret": SECRET,
            "response_mode": "form_post",
        },
        "default_role": "admin",
        "require_link": true,
        "allowed_domains": ["Corp.Example"],
    });
    let (status, body) = server.api_send(Method::POST, PROVIDER, &setup, None).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["provider"], "oidc");
    assert_eq!(body["default_role"], "admin");
    assert_eq!(body["require_link"], true);
    assert_eq!(body["allowed_domains"], json!(["corp.example"]));
    assert!(
        body["login_url"]
            .as_str()
            .unwrap()
            .ends_with("/auth/login/errhound/"),
        "{body}"
    );
    assert_eq!(field(&body, "issuer")["value"], "https://idp.corp.example");
    assert_eq!(field(&body, "client_secret")["value"], "");
    assert_eq!(field(&body, "client_secret")["hasSavedValue"], true);
    assert!(!body.to_string().contains(SECRET), "{body}");

    // One provider per organization.
    let (status, body) = server.api_send(Method::POST, PROVIDER, &setup, None).await;
    assert_eq!(status, 409, "{body}");

    // Read back: the secret is never shown, and is sealed at rest with the server key.
    let (status, body) = server.api_get(PROVIDER).await;
    assert_eq!(status, 200, "{body}");
    assert!(!body.to_string().contains(SECRET), "{body}");
    let stored = stored_config(&server).await;
    let sealed = stored["client_secret"].as_str().unwrap().to_owned();
    assert!(!sealed.contains(SECRET), "{stored}");
    let key = ServerKey::load_or_create(&server.data_dir().join("server.key")).unwrap();
    assert_eq!(key.open(&sealed).unwrap().expose(), SECRET);

    // Changed: an empty secret keeps the saved one; the provider itself cannot change.
    let (status, body) = server
        .api_put(
            PROVIDER,
            &json!({"config": {"client_id": "errhound-2", "client_secret": ""}, "require_link": false}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(field(&body, "client_id")["value"], "errhound-2");
    assert_eq!(body["require_link"], false);
    assert_eq!(body["default_role"], "admin", "kept");
    let stored = stored_config(&server).await;
    assert_eq!(
        key.open(stored["client_secret"].as_str().unwrap())
            .unwrap()
            .expose(),
        SECRET
    );
    let (status, body) = server
        .api_put(PROVIDER, &json!({"provider": "github"}))
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"]["provider"].is_string(), "{body}");

    // A member may neither read nor change it.
    let member = server.create_member("member@sso.test");
    let (status, _) = server
        .api_send(Method::GET, PROVIDER, &json!({}), Some(&member))
        .await;
    assert_eq!(status, 403);
    let (status, _) = server
        .api_send(Method::DELETE, PROVIDER, &json!({}), Some(&member))
        .await;
    assert_eq!(status, 403);

    let (status, _) = server
        .api_send(Method::DELETE, PROVIDER, &json!({}), None)
        .await;
    assert_eq!(status, 204);
    let (status, _) = server.api_get(PROVIDER).await;
    assert_eq!(status, 204, "gone");
    let (status, _) = server
        .api_send(Method::DELETE, PROVIDER, &json!({}), None)
        .await;
    assert_eq!(status, 404, "nothing to remove");

    let events = server.audit_events().await;
    for wanted in ["sso.enable", "sso.edit", "sso.disable"] {
        assert_eq!(
            events.iter().filter(|e| *e == wanted).count(),
            1,
            "{wanted} in {events:?}"
        );
    }
    let (_, log) = server.api_get("organizations/errhound/audit-logs/").await;
    assert!(!log.to_string().contains(SECRET), "{log}");
}

#[tokio::test]
async fn saml_needs_its_metadata_and_github_its_organization() {
    let server = TestServer::start(binary()).await;
    let (status, body) = server
        .api_send(
            Method::POST,
            PROVIDER,
            &json!({"provider": "saml2", "config": {}}),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"]["idp_metadata_url"].is_string(), "{body}");
    let (status, body) = server
        .api_send(
            Method::POST,
            PROVIDER,
            &json!({"provider": "github", "config": {"client_id": "a", "client_secret": "b"}}),
            None,
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert!(body["errors"]["organization"].is_string(), "{body}");
    let (status, body) = server
        .api_send(
            Method::POST,
            PROVIDER,
            &json!({"provider": "saml2", "config": {"idp_metadata_url": "https://idp.corp.example/metadata"}}),
            None,
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["default_role"], "member");
    assert_eq!(body["require_link"], false);
    assert_eq!(body["allowed_domains"], json!([]));
}
