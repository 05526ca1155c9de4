//! Starting the binary: environment variables that are command arguments are not mistaken for
//! configuration, and a PostgreSQL read replica that is down does not stop `serve`.

use std::process::Command;

use errhound_test_utils::{ServerOptions, TestServer, postgres};

use crate::binary;

/// Runs `errhound` with one extra environment variable; returns the output.
fn run(data_dir: &std::path::Path, args: &[&str], env: (&str, &str)) -> std::process::Output {
    Command::new(binary())
        .args(args)
        .arg("--data-dir")
        .arg(data_dir)
        .env("ERRHOUND_LOG__LEVEL", "warn")
        .env(env.0, env.1)
        .output()
        .expect("errhound runs")
}

#[test]
fn the_new_user_password_variable_is_an_argument_not_configuration() {
    let data_dir = tempfile::tempdir().unwrap();
    let password = ("ERRHOUND_NEW_USER_PASSWORD", "from-the-environment-1");
    for args in [&["config", "print"][..], &["migrate"]] {
        let output = run(data_dir.path(), args, password);
        assert!(output.status.success(), "errhound {args:?}: {output:?}");
    }
    let output = run(
        data_dir.path(),
        &["user", "create", "--email", "ops@errhound.test"],
        password,
    );
    assert!(output.status.success(), "{output:?}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        stdout.contains("Created user ops@errhound.test"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("Password (shown once)"),
        "the password came from the environment, none was generated: {stdout}"
    );

    // A misspelt configuration variable is still refused, naming the key.
    let output = run(
        data_dir.path(),
        &["config", "print"],
        ("ERRHOUND_BIDN", "x"),
    );
    assert!(!output.status.success(), "{output:?}");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("bidn"), "{stderr}");
}

#[tokio::test]
async fn serve_starts_and_answers_with_an_unreachable_replica() {
    let server = TestServer::start_with(
        binary(),
        ServerOptions {
            database_url: Some(postgres::fresh_database().await),
            env: vec![(
                "ERRHOUND_DATABASE__REPLICA_URLS".to_owned(),
                "[\"postgres://postgres@127.0.0.1:1/x\"]".to_owned(),
            )],
        },
    )
    .await;
    // API reads go through `read()`, which falls back to the primary.
    let (status, body) = server.api_get("organizations/").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body[0]["slug"], "errhound", "{body}");
}
