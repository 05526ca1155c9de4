//! Store tests. Every test runs its body on SQLite and on a real PostgreSQL.
#![allow(clippy::unwrap_used, reason = "tests")]

mod accounts;
mod deletion;
mod fixtures;
mod ingest;
mod keys;
mod migrations;
mod preview;
mod queries;
mod routing;
mod sso;
mod tickets;
mod viewer;
mod workflow;
