//! End-to-end tests: a real `errhound serve` process, real SDKs, assertions through the REST API.
#![allow(clippy::unwrap_used, reason = "tests")]

mod access;
mod accounts;
mod alerts;
mod api;
mod backlog;
mod crash;
mod golden;
mod grouping;
mod hostile;
mod keys;
mod lifecycle;
mod maintenance;
mod members;
mod node_sdk;
mod outbox_crash;
mod plugin_settings;
mod plugins;
mod python_sdk;
mod rust_sdk;
mod scrubbing;
mod sentry_cli;
mod sessions;
mod sso;
mod sso_github;
mod sso_oidc;
mod sso_saml;
mod startup;
mod tickets;
mod ui;
mod workflow;
mod workflow_notices;

use std::path::Path;

/// The binary under test (built by cargo for this test target).
pub fn binary() -> &'static Path {
    Path::new(env!("CARGO_BIN_EXE_errhound"))
}
