//! The real sentry-cli (npm `@sentry/cli` 3.x) against a running server: `sentry-cli info` with a
//! personal token and with an organization token prints who calls and the token's scopes.

use errhound_test_utils::TestServer;
use errhound_test_utils::sdk::run_sentry_cli;
use errhound_test_utils::server::ADMIN_EMAIL;

use crate::binary;

#[tokio::test]
async fn sentry_cli_info_prints_the_user_and_scopes_of_personal_and_organization_tokens() {
    let server = TestServer::start(binary()).await;
    let personal = server
        .cli(&[
            "token",
            "create",
            "--email",
            ADMIN_EMAIL,
            "--scopes",
            "project:releases,org:read",
        ])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    let out = run_sentry_cli(
        &["info"],
        &[
            ("SENTRY_URL", &server.base_url),
            ("SENTRY_AUTH_TOKEN", &personal),
            ("SENTRY_ORG", "errhound"),
        ],
    );
    assert!(out.contains(&format!("User: {ADMIN_EMAIL}")), "{out}");
    assert!(
        out.contains("org:read") && out.contains("project:releases"),
        "{out}"
    );
    assert!(
        !out.contains("event:read"),
        "only the token's scopes: {out}"
    );

    let org_token = server
        .cli(&["token", "create", "--organization", "errhound"])
        .lines()
        .last()
        .unwrap()
        .trim()
        .to_owned();
    // The organization token carries the server URL: sentry-cli needs no SENTRY_URL.
    let out = run_sentry_cli(&["info"], &[("SENTRY_AUTH_TOKEN", &org_token)]);
    assert!(out.contains("org:ci"), "{out}");
    assert!(
        out.contains(&server.base_url),
        "the URL from the token: {out}"
    );
}
