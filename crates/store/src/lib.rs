//! The database: engines, read/write routing, repositories and migrations.
//!
//! One set of repositories serves SQLite and PostgreSQL: every query is written once in the SQL
//! both engines accept (`$n` placeholders, `ON CONFLICT`, `RETURNING`, CTEs; timestamps as epoch
//! milliseconds) and runs through [`query::Query`]. Migrations live in `migrations/sqlite` and
//! `migrations/postgres` with the same version numbers; a parity test compares the schemas.
//!
//! Repository functions take a [`query::Conn`], so the caller decides where a read goes
//! ([`Db::read`] for UI/API reads, [`Db::write`] or a [`Tx`] for the ingest path, which must
//! never read from a lagging replica).
#![warn(missing_docs)]

pub mod activity;
pub mod admin;
pub mod alerts;
pub mod audit;
pub mod auth_identities;
pub mod auth_providers;
mod db;
pub mod deletion;
mod error;
pub mod events;
pub mod expired;
pub mod ingest;
pub mod invitations;
pub mod issues;
pub mod keys;
mod link_secret;
pub mod members;
pub mod options;
pub mod orgs;
pub mod password_resets;
pub mod payload;
pub mod processing_failures;
pub mod projects;
pub mod query;
pub mod registrations;
pub mod releases;
pub mod schema;
pub mod sessions;
pub mod sso_attempts;
pub mod tag_values;
pub mod teams;
pub mod tickets;
pub mod tokens;
pub mod users;
pub mod viewer;
pub mod workflow;

pub use db::{Db, DbOptions, Engine, PoolConn, Tx};
pub use error::StoreError;
pub use query::Conn;

/// Milliseconds since the Unix epoch, the store's time unit.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}
