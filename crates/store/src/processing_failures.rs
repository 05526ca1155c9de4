//! Events acknowledged to the SDK that processing could not store (`processing_failures`).
//!
//! The ingest worker records a failure in the same transaction as the batch the event came in,
//! so the batch's acknowledgement covers it: an acknowledged event is either stored or recorded
//! here, exactly once (a replay hits the unique `(project_id, event_id)` and records nothing).

use std::fmt;

use crate::StoreError;
use crate::query::{Arg, Conn, Query};

/// Why processing could not store an event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureReason {
    /// The processing code panicked on it (a bug; the panic message is the detail).
    Panic,
    /// Processing rejected the payload (only possible after corruption: ingest validated it).
    InvalidPayload,
    /// The database refused the event's rows even written alone.
    RefusedByDatabase,
}

impl FailureReason {
    /// Every reason.
    pub const ALL: [FailureReason; 3] = [
        FailureReason::Panic,
        FailureReason::InvalidPayload,
        FailureReason::RefusedByDatabase,
    ];

    /// The stored name, also the metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            FailureReason::Panic => "panic",
            FailureReason::InvalidPayload => "invalid_payload",
            FailureReason::RefusedByDatabase => "refused_by_database",
        }
    }

    /// The reason stored as `name`.
    pub fn parse(name: &str) -> Option<FailureReason> {
        FailureReason::ALL.into_iter().find(|r| r.as_str() == name)
    }
}

impl fmt::Display for FailureReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A failure to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewFailure {
    /// The project the event was sent to.
    pub project_id: i64,
    /// The id the SDK was answered with.
    pub event_id: String,
    /// Receive time, epoch ms.
    pub received_ms: i64,
    /// Why it failed.
    pub reason: FailureReason,
    /// The panic message or error.
    pub detail: String,
    /// The event JSON as received (for [`FailureReason::RefusedByDatabase`], the normalized event
    /// the database refused: the received bytes are no longer held by then).
    pub payload: Vec<u8>,
}

/// A recorded failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcessingFailure {
    /// Row id.
    pub id: i64,
    /// The failure as recorded.
    pub failure: NewFailure,
    /// When it was recorded, epoch ms.
    pub failed_ms: i64,
}

#[derive(sqlx::FromRow)]
struct FailureRow {
    id: i64,
    project_id: i64,
    event_id: String,
    reason: String,
    detail: String,
    payload: Vec<u8>,
    received_at: i64,
    failed_at: i64,
}

/// Records failures (one statement per failure: they are rare). A failure already recorded for
/// the same event is left as it is.
pub async fn record(
    conn: &mut Conn<'_>,
    failures: &[NewFailure],
    now_ms: i64,
) -> Result<(), StoreError> {
    for failure in failures {
        Query::new(
            "INSERT INTO processing_failures (project_id, event_id, reason, detail, payload, \
             received_at, failed_at) VALUES ($1, $2, $3, $4, $5, $6, $7) \
             ON CONFLICT (project_id, event_id) DO NOTHING",
        )
        .bind(failure.project_id)
        .bind(failure.event_id.as_str())
        .bind(failure.reason.as_str())
        .bind(failure.detail.as_str())
        .bind(Arg::Bytes(failure.payload.clone()))
        .bind(failure.received_ms)
        .bind(now_ms)
        .execute(conn)
        .await?;
    }
    Ok(())
}

/// A project's failures, newest first, at most `limit`.
pub async fn list(
    conn: &mut Conn<'_>,
    project_id: i64,
    limit: i64,
) -> Result<Vec<ProcessingFailure>, StoreError> {
    let rows: Vec<FailureRow> = Query::new(
        "SELECT id, project_id, event_id, reason, detail, payload, received_at, failed_at \
         FROM processing_failures WHERE project_id = $1 ORDER BY failed_at DESC, id DESC LIMIT $2",
    )
    .bind(project_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    rows.into_iter()
        .map(|row| {
            let reason = FailureReason::parse(&row.reason).ok_or_else(|| {
                StoreError::CorruptPayload(format!("unknown failure reason {:?}", row.reason))
            })?;
            Ok(ProcessingFailure {
                id: row.id,
                failed_ms: row.failed_at,
                failure: NewFailure {
                    project_id: row.project_id,
                    event_id: row.event_id,
                    received_ms: row.received_at,
                    reason,
                    detail: row.detail,
                    payload: row.payload,
                },
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_reads_back_from_its_stored_name() {
        for reason in FailureReason::ALL {
            assert_eq!(FailureReason::parse(reason.as_str()), Some(reason));
        }
        assert_eq!(FailureReason::parse("timeout"), None);
    }
}
