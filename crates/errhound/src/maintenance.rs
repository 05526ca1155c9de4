//! The periodic maintenance tasks of `serve` (run by [`crate::tasks::Runner`]).
//!
//! They work in small batches, one short transaction each, so that on SQLite they never hold
//! the single writer long enough to delay an ingest batch noticeably.

use std::time::Duration;

use errhound_config::TasksConfig;
use errhound_store::deletion::{self, Purged};
use errhound_store::expired::{self, Expiring};
use errhound_store::{Db, now_ms, workflow};

use crate::tasks::Task;

/// Rows changed per transaction.
const BATCH: i64 = 500;
/// The time limit of each maintenance run; a run stopped by it continues next period, since
/// every batch it committed stays committed.
const TIME_LIMIT: Duration = Duration::from_secs(30);

/// Every maintenance task.
pub fn tasks(db: &Db, config: &TasksConfig) -> Vec<Task> {
    let snoozes = db.clone();
    let sessions = db.clone();
    let deletions = db.clone();
    vec![
        Task::new(
            "clear_expired_snoozes",
            Duration::from_secs(config.expired_snoozes_secs),
            TIME_LIMIT,
            move || clear_expired_snoozes(snoozes.clone()),
        ),
        Task::new(
            "delete_expired_sessions",
            Duration::from_secs(config.expired_sessions_secs),
            TIME_LIMIT,
            move || delete_expired_sessions(sessions.clone()),
        ),
        Task::new(
            "pending_deletions",
            Duration::from_secs(config.pending_deletions_secs),
            TIME_LIMIT,
            move || purge_pending_deletions(deletions.clone()),
        ),
    ]
}

/// Removes the data of deleted organizations and projects, [`BATCH`] rows a transaction,
/// until none is left (or the time limit stops the run; the next one goes on).
async fn purge_pending_deletions(db: Db) -> anyhow::Result<()> {
    loop {
        let mut tx = db.begin().await?;
        let purged = deletion::purge_step(&mut tx.conn(), BATCH).await?;
        tx.commit().await?;
        match purged {
            Purged::Nothing => return Ok(()),
            Purged::Project(id) => tracing::info!(project.id = id, "deleted project removed"),
            Purged::Organization(id) => {
                tracing::info!(organization.id = id, "deleted organization removed")
            }
            other => tracing::debug!(?other, "removing a deleted project's data"),
        }
    }
}

/// Reopens the issues ignored until a time that has passed.
async fn clear_expired_snoozes(db: Db) -> anyhow::Result<()> {
    loop {
        let mut tx = db.begin().await?;
        let reopened = workflow::clear_expired_snoozes(&mut tx, now_ms(), BATCH).await?;
        tx.commit().await?;
        if !reopened.is_empty() {
            tracing::info!(
                issues = reopened.len(),
                "reopened issues whose ignore period ended"
            );
        }
        if reopened.len() < BATCH as usize {
            return Ok(());
        }
    }
}

/// Deletes the UI sessions, sign-up links and single sign-on attempts that have expired.
async fn delete_expired_sessions(db: Db) -> anyhow::Result<()> {
    for table in Expiring::ALL {
        loop {
            let mut conn = db.write().await?;
            let deleted = expired::delete(&mut conn.conn(), table, now_ms(), BATCH).await?;
            drop(conn);
            tracing::debug!(table = table.table(), deleted, "deleted expired rows");
            if deleted < BATCH as u64 {
                break;
            }
        }
    }
    Ok(())
}
