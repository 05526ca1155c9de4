//! Rows that stop working at their `expires_at` (reads filter them out) and are deleted some
//! time after in bounded batches by the maintenance task, one table at a time.

use crate::StoreError;
use crate::query::{Conn, Query};

/// A table whose rows expire.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiring {
    /// UI sessions ([`crate::sessions`]).
    Sessions,
    /// Sign-up links ([`crate::registrations`]).
    Registrations,
    /// Single sign-on attempts ([`crate::sso_attempts`]).
    SsoAttempts,
    /// Unsolicited identity-provider answers seen ([`crate::sso_attempts::accept_once`]).
    SsoAnswers,
}

impl Expiring {
    /// Every such table.
    pub const ALL: [Expiring; 4] = [
        Expiring::Sessions,
        Expiring::Registrations,
        Expiring::SsoAttempts,
        Expiring::SsoAnswers,
    ];

    /// The table's name (for logs).
    pub fn table(self) -> &'static str {
        match self {
            Expiring::Sessions => "web_sessions",
            Expiring::Registrations => "registrations",
            Expiring::SsoAttempts => "sso_attempts",
            Expiring::SsoAnswers => "sso_answers",
        }
    }

    fn delete_sql(self) -> &'static str {
        match self {
            Expiring::Sessions => {
                "DELETE FROM web_sessions WHERE id IN \
                 (SELECT id FROM web_sessions WHERE expires_at <= $1 LIMIT $2)"
            }
            Expiring::Registrations => {
                "DELETE FROM registrations WHERE id IN \
                 (SELECT id FROM registrations WHERE expires_at <= $1 LIMIT $2)"
            }
            Expiring::SsoAttempts => {
                "DELETE FROM sso_attempts WHERE id IN \
                 (SELECT id FROM sso_attempts WHERE expires_at <= $1 LIMIT $2)"
            }
            Expiring::SsoAnswers => {
                "DELETE FROM sso_answers WHERE id IN \
                 (SELECT id FROM sso_answers WHERE expires_at <= $1 LIMIT $2)"
            }
        }
    }
}

/// Deletes up to `limit` rows of `table` that expired before `now_ms`; returns how many.
pub async fn delete(
    conn: &mut Conn<'_>,
    table: Expiring,
    now_ms: i64,
    limit: i64,
) -> Result<u64, StoreError> {
    Ok(Query::new(table.delete_sql())
        .bind(now_ms)
        .bind(limit)
        .execute(conn)
        .await?)
}
