//! Running the official SDKs (installed by `scripts/test.sh`) against a test server.
//!
//! * Python: `SDK_PYTHON` names a Python with `sentry-sdk` installed (the test script creates a
//!   virtualenv at `target/sdk-venv`).
//! * Node: `SDK_NODE_DIR` names a directory with `node_modules/@sentry/node` (default
//!   `tests/sdk/node`).
//! * Rust: `SDK_RUST_SENDER` names the built `tests/sdk/rust` sender (default
//!   `tests/sdk/rust/target/debug/errhound-sdk-rust-sender`).
//!
//! A missing SDK fails the test with instructions, so an SDK test never passes by not running.

use std::path::PathBuf;
use std::process::{Command, Output};

/// The repository root.
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .canonicalize()
        .expect("repository root")
}

fn check(output: Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "{what} failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// Runs a Python script from `tests/sdk/python/` with the given arguments; returns stdout.
pub fn run_python(script: &str, args: &[&str]) -> String {
    let python = std::env::var("SDK_PYTHON").unwrap_or_else(|_| {
        let venv = repo_root().join("target/sdk-venv/bin/python");
        if venv.exists() {
            venv.display().to_string()
        } else {
            panic!("no Python with sentry-sdk: run the tests through scripts/test.sh (or set SDK_PYTHON)")
        }
    });
    let path = repo_root().join("tests/sdk/python").join(script);
    let output = Command::new(&python)
        .arg(&path)
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {python}: {e}"));
    check(output, &format!("python {script}"))
}

/// Runs a Node script from `tests/sdk/node/` with the given arguments; returns stdout.
pub fn run_node(script: &str, args: &[&str]) -> String {
    let dir = std::env::var("SDK_NODE_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("tests/sdk/node"));
    assert!(
        dir.join("node_modules/@sentry/node").exists(),
        "@sentry/node is not installed in {}: run the tests through scripts/test.sh",
        dir.display()
    );
    let output = Command::new("node")
        .arg(dir.join(script))
        .args(args)
        .current_dir(&dir)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .output()
        .unwrap_or_else(|e| panic!("cannot run node: {e}"));
    check(output, &format!("node {script}"))
}

/// Runs the prebuilt Rust SDK sender (`tests/sdk/rust`, the official `sentry` crate) with the
/// given arguments; returns stdout. `SDK_RUST_SENDER` names the binary; by default it is
/// `tests/sdk/rust/target/debug/errhound-sdk-rust-sender`, built by `scripts/test.sh`.
pub fn run_rust_sender(args: &[&str]) -> String {
    let binary = std::env::var("SDK_RUST_SENDER")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            repo_root().join("tests/sdk/rust/target/debug/errhound-sdk-rust-sender")
        });
    assert!(
        binary.exists(),
        "the Rust SDK sender {} is not built: run the tests through scripts/test.sh (or build \
         tests/sdk/rust with `cargo build` there, or set SDK_RUST_SENDER)",
        binary.display()
    );
    let output = Command::new(&binary)
        .args(args)
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        // The sender catches its panic; a short report keeps the test output readable.
        .env("RUST_BACKTRACE", "0")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    check(output, "the Rust SDK sender")
}

/// Runs the real `sentry-cli` (npm `@sentry/cli`, installed into `tests/cli` by
/// `scripts/test.sh`; `SENTRY_CLI` names another binary) with `args` and extra environment
/// (`SENTRY_URL`, `SENTRY_AUTH_TOKEN`, ...); returns stdout. Its configuration files, update
/// checks and telemetry are kept out of the way.
pub fn run_sentry_cli(args: &[&str], env: &[(&str, &str)]) -> String {
    let binary = std::env::var("SENTRY_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|_| repo_root().join("tests/cli/node_modules/.bin/sentry-cli"));
    assert!(
        binary.exists(),
        "sentry-cli {} is not installed: run the tests through scripts/test.sh (or \
         `npm ci` in tests/cli, or set SENTRY_CLI)",
        binary.display()
    );
    let home = tempfile_home();
    let output = Command::new(&binary)
        .args(args)
        .envs(env.iter().copied())
        .env("HOME", &home)
        .env("SENTRY_DISABLE_UPDATE_CHECK", "1")
        .env("NO_PROXY", "127.0.0.1,localhost")
        .env_remove("HTTP_PROXY")
        .env_remove("HTTPS_PROXY")
        .env_remove("http_proxy")
        .env_remove("https_proxy")
        .output()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", binary.display()));
    let _ = std::fs::remove_dir_all(&home);
    check(output, "sentry-cli")
}

/// An empty home directory, so no `~/.sentryclirc` of the machine is read.
fn tempfile_home() -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "errhound-sentry-cli-{}-{}",
        std::process::id(),
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary home");
    dir
}
