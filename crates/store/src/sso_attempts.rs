//! Single sign-on attempts between their steps ([`Attempt`]), kept server-side.
//!
//! [`begin`] stores an attempt under a new random `state` value ([`new_state`]) (it goes into the identity
//! provider's redirect and comes back in the callback) and a browser binding (the value of a
//! cookie the web layer set in the browser that started it). [`take`] deletes the row it reads:
//! each state value continues its attempt once, so a replayed or concurrent second callback
//! finds nothing, and a callback from another browser (the binding differs) or after
//! `expires_at` continues nothing either. A step that sends the browser away again stores the
//! attempt anew with [`begin`]. Only SHA-256 hashes of the state and the binding are stored, so
//! a copy of the database continues no attempt. Expired rows are removed by
//! [`crate::expired::delete`].

use errhound_domain::sso::Attempt;

use crate::StoreError;
use crate::link_secret;
use crate::query::{Conn, Query};

#[derive(sqlx::FromRow)]
struct AttemptRow {
    binding: String,
    data: String,
    expires_at: i64,
}

/// A new single-use state value for an attempt (256 random bits in hex). The caller mints it
/// before running a step, because the step puts it in its redirect to the identity provider.
pub fn new_state() -> String {
    link_secret::mint().0
}

/// Stores `attempt` under `state` (from [`new_state`]), continued by the browser holding
/// `binding`.
pub async fn begin(
    conn: &mut Conn<'_>,
    attempt: &Attempt,
    state: &str,
    binding: &str,
) -> Result<(), StoreError> {
    let id = link_secret::hash(state);
    let data = serde_json::to_string(attempt)
        .map_err(|e| StoreError::InvalidValue(format!("an SSO attempt: {e}")))?;
    Query::new(
        "INSERT INTO sso_attempts (id, organization_id, binding, data, expires_at) \
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(id)
    .bind(attempt.organization_id)
    .bind(link_secret::hash(binding))
    .bind(data)
    .bind(attempt.expires_at)
    .execute(conn)
    .await?;
    Ok(())
}

/// Takes the attempt of `state` for the browser holding `binding` at `now_ms`: the row is gone
/// afterwards whatever the answer. `None` when no such attempt is open (unknown, already taken,
/// expired, or begun in another browser).
pub async fn take(
    conn: &mut Conn<'_>,
    state: &str,
    binding: &str,
    now_ms: i64,
) -> Result<Option<Attempt>, StoreError> {
    let row: Option<AttemptRow> =
        Query::new("DELETE FROM sso_attempts WHERE id = $1 RETURNING binding, data, expires_at")
            .bind(link_secret::hash(state))
            .fetch_optional(conn)
            .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if row.expires_at <= now_ms || !link_secret::same(&row.binding, &link_secret::hash(binding)) {
        return Ok(None);
    }
    let attempt = serde_json::from_str(&row.data)
        .map_err(|e| StoreError::InvalidValue(format!("a stored SSO attempt: {e}")))?;
    Ok(Some(attempt))
}

/// Accepts the unsolicited answer `answer_id` of the organization's provider once: `true` the
/// first time, `false` for a replay (until `expires_at`, after which the answer is refused
/// anyway and the row is removed by [`crate::expired::delete`]).
pub async fn accept_once(
    conn: &mut Conn<'_>,
    organization_id: i64,
    answer_id: &str,
    expires_at: i64,
) -> Result<bool, StoreError> {
    let id = link_secret::hash(&format!("{organization_id}:{answer_id}"));
    let inserted = Query::new(
        "INSERT INTO sso_answers (id, expires_at) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING",
    )
    .bind(id)
    .bind(expires_at)
    .execute(conn)
    .await?;
    Ok(inserted > 0)
}
