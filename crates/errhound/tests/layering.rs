//! The crate layering of docs/ARCHITECTURE.md, checked against `cargo metadata`: dependencies
//! point downward only, the pure crates stay free of HTTP, databases and async I/O, and the web
//! layer never reaches into the worker.
#![allow(clippy::unwrap_used, reason = "tests")]

use std::collections::BTreeMap;
use std::process::Command;

use serde_json::Value;

const HTTP: &[&str] = &[
    "axum",
    "hyper",
    "http",
    "tower",
    "tower-http",
    "tower-sessions",
    "reqwest",
];
const DATABASE: &[&str] = &["sqlx"];
const ASYNC_IO: &[&str] = &["tokio"];

/// What each crate must not depend on (normal dependencies; tests may use anything).
fn forbidden() -> BTreeMap<&'static str, Vec<&'static str>> {
    let internal = |names: &[&'static str]| names.to_vec();
    let mut rules = BTreeMap::new();
    let pure = [HTTP, DATABASE, ASYNC_IO].concat();
    rules.insert(
        "errhound-config",
        [
            pure.as_slice(),
            &internal(&["errhound-protocol", "errhound-domain", "errhound-store"]),
        ]
        .concat(),
    );
    rules.insert(
        "errhound-protocol",
        [
            pure.as_slice(),
            &internal(&["errhound-domain", "errhound-store", "errhound-web"]),
        ]
        .concat(),
    );
    rules.insert(
        "errhound-domain",
        [
            pure.as_slice(),
            &internal(&["errhound-store", "errhound-queue", "errhound-web"]),
        ]
        .concat(),
    );
    rules.insert(
        "errhound-store",
        [
            HTTP,
            &internal(&["errhound-web", "errhound-ingest", "errhound-queue"]),
        ]
        .concat(),
    );
    rules.insert(
        "errhound-queue",
        [
            HTTP,
            DATABASE,
            &internal(&["errhound-store", "errhound-web", "errhound-ingest"]),
        ]
        .concat(),
    );
    rules.insert(
        "errhound-ingest",
        [HTTP, &internal(&["errhound-web"])].concat(),
    );
    rules.insert("errhound-web", internal(&["errhound-ingest"]));
    // Notifications are sent by the server's jobs; the HTTP server and the ingest path are
    // callers, never dependencies.
    rules.insert(
        "errhound-notify",
        [
            &["axum", "tower-http", "tower-sessions"][..],
            &internal(&["errhound-web", "errhound-ingest", "errhound-queue"]),
        ]
        .concat(),
    );
    rules
}

/// `(crate, [normal dependencies])` for every workspace member.
fn workspace_dependencies() -> Vec<(String, Vec<String>)> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let normal = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].is_null())
                .map(|d| d["name"].as_str().unwrap().to_owned())
                .collect();
            (package["name"].as_str().unwrap().to_owned(), normal)
        })
        .collect()
}

#[test]
fn crates_depend_only_downward() {
    let packages = workspace_dependencies();
    let rules = forbidden();
    // Every rule names a real member, so a renamed crate cannot silently escape its rule.
    for name in rules.keys() {
        assert!(
            packages.iter().any(|(p, _)| p == name),
            "rule for unknown crate {name}"
        );
    }
    let mut violations = Vec::new();
    for (package, dependencies) in &packages {
        for dependency in dependencies {
            if rules
                .get(package.as_str())
                .is_some_and(|banned| banned.contains(&dependency.as_str()))
            {
                violations.push(format!("{package} depends on {dependency}"));
            }
            if dependency == "errhound-test-utils" {
                violations.push(format!(
                    "{package} depends on errhound-test-utils outside its tests"
                ));
            }
        }
    }
    assert!(
        violations.is_empty(),
        "layering broken (see docs/ARCHITECTURE.md):\n  {}",
        violations.join("\n  ")
    );
}
