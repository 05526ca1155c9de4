//! The embedded spool: an SQLite file of its own, written by one task with group commit.
//!
//! Appends from concurrent requests queue up in a bounded channel; the writer task takes everything
//! waiting (up to a cap), inserts it in one transaction, commits with `synchronous=FULL` (one
//! fsync for the whole group) and only then answers each request. Acks ride along in the same
//! transactions. Ids are `AUTOINCREMENT`, so they never repeat even after the table empties, and
//! readers walk them with an in-memory cursor that starts at 0 after a restart (replaying whatever
//! was not acknowledged).

use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use sqlx::sqlite::{
    SqliteAutoVacuum, SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous,
};
use sqlx::{Connection, SqliteConnection, SqlitePool};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::{Backlog, Claimed, IngestQueue, QueueError, QueuedEvent, Receipt};

/// zstd level for spooled payloads: level 1 compresses event JSON ~3x at ~500 MB/s, which cuts the
/// bytes written (and fsynced) per event more than it costs in CPU.
const PAYLOAD_LEVEL: i32 = 1;
/// Rows per insert statement (7 parameters each, far below SQLite's limit).
const ROWS_PER_STATEMENT: usize = 500;

/// Spool tuning.
#[derive(Debug, Clone)]
pub struct SpoolOptions {
    /// Most appends committed together.
    pub max_group: usize,
    /// Capacity of the channel in front of the writer; appends wait when it is full.
    pub channel_capacity: usize,
}

impl Default for SpoolOptions {
    fn default() -> Self {
        SpoolOptions {
            max_group: 2048,
            channel_capacity: 8192,
        }
    }
}

enum Command {
    Append(Vec<u8>, EncodedRow, oneshot::Sender<Result<(), QueueError>>),
    Ack(Vec<Receipt>),
}

struct EncodedRow {
    project_id: i64,
    event_id: String,
    received_ms: i64,
    sent_at: Option<f64>,
    client_ip: Option<String>,
}

struct Shared {
    events: AtomicU64,
    bytes: AtomicU64,
    cursor: AtomicI64,
    notify: Notify,
}

/// The durable single-node ingest queue.
#[derive(Clone)]
pub struct Spool {
    commands: mpsc::Sender<Command>,
    readers: SqlitePool,
    shared: Arc<Shared>,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    project_id: i64,
    event_id: String,
    received_ms: i64,
    sent_at: Option<f64>,
    client_ip: Option<String>,
    payload: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct Totals {
    events: i64,
    bytes: i64,
}

impl Spool {
    /// Opens (or creates) the spool file and starts its writer task.
    pub async fn open(path: &Path, options: SpoolOptions) -> Result<Spool, QueueError> {
        let base = SqliteConnectOptions::new()
            .filename(path)
            .journal_mode(SqliteJournalMode::Wal)
            // Every commit is fsynced: a 2xx to an SDK promises the event survives power loss.
            .synchronous(SqliteSynchronous::Full)
            // Freed pages are returned to the OS when the spool drains (see `maintain`).
            .auto_vacuum(SqliteAutoVacuum::Incremental)
            .busy_timeout(Duration::from_secs(10));
        let mut writer = SqliteConnection::connect_with(&base.create_if_missing(true)).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS spool (\
             id INTEGER PRIMARY KEY AUTOINCREMENT, project_id INTEGER NOT NULL, \
             event_id TEXT NOT NULL, received_ms INTEGER NOT NULL, sent_at REAL, \
             client_ip TEXT, payload BLOB NOT NULL)",
        )
        .execute(&mut writer)
        .await?;
        let totals: Totals = sqlx::query_as(
            "SELECT count(*) AS events, coalesce(sum(length(payload)), 0) AS bytes FROM spool",
        )
        .fetch_one(&mut writer)
        .await?;
        // Readers only read: no pragma that would write (auto_vacuum, journal_mode) on connect.
        let reader_options = SqliteConnectOptions::new()
            .filename(path)
            .read_only(true)
            .busy_timeout(Duration::from_secs(10));
        let readers = SqlitePoolOptions::new()
            .max_connections(2)
            .connect_with(reader_options)
            .await?;
        let shared = Arc::new(Shared {
            events: AtomicU64::new(totals.events as u64),
            bytes: AtomicU64::new(totals.bytes as u64),
            cursor: AtomicI64::new(0),
            notify: Notify::new(),
        });
        if totals.events > 0 {
            tracing::info!(
                backlog.events = totals.events,
                "spool has unprocessed events from the previous run; they will be processed"
            );
        }
        let (commands, receiver) = mpsc::channel(options.channel_capacity);
        tokio::spawn(writer_task(
            writer,
            receiver,
            shared.clone(),
            options.max_group,
        ));
        Ok(Spool {
            commands,
            readers,
            shared,
        })
    }
}

impl IngestQueue for Spool {
    async fn append(&self, event: QueuedEvent) -> Result<(), QueueError> {
        let payload = zstd::bulk::compress(&event.payload, PAYLOAD_LEVEL)
            .map_err(|e| QueueError::Corrupt(e.to_string()))?;
        let row = EncodedRow {
            project_id: event.project_id,
            event_id: event.event_id,
            received_ms: event.received_ms,
            sent_at: event.sent_at,
            client_ip: event.client_ip,
        };
        let (done, committed) = oneshot::channel();
        self.commands
            .send(Command::Append(payload, row, done))
            .await
            .map_err(|_| QueueError::Closed)?;
        committed.await.map_err(|_| QueueError::Closed)?
    }

    async fn claim(&self, max: usize) -> Result<Vec<Claimed>, QueueError> {
        let cursor = self.shared.cursor.load(Ordering::Acquire);
        let rows: Vec<Row> = sqlx::query_as(
            "SELECT id, project_id, event_id, received_ms, sent_at, client_ip, payload \
             FROM spool WHERE id > $1 ORDER BY id LIMIT $2",
        )
        .bind(cursor)
        .bind(max as i64)
        .fetch_all(&self.readers)
        .await?;
        if let Some(last) = rows.last() {
            self.shared.cursor.store(last.id, Ordering::Release);
        }
        Ok(rows.into_iter().map(decode_row).collect())
    }

    async fn ack(&self, receipts: Vec<Receipt>) -> Result<(), QueueError> {
        if receipts.is_empty() {
            return Ok(());
        }
        self.commands
            .send(Command::Ack(receipts))
            .await
            .map_err(|_| QueueError::Closed)
    }

    fn backlog(&self) -> Backlog {
        Backlog {
            events: self.shared.events.load(Ordering::Relaxed),
            bytes: self.shared.bytes.load(Ordering::Relaxed),
        }
    }

    async fn wait(&self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.shared.notify.notified()).await;
    }
}

fn decode_row(row: Row) -> Claimed {
    let receipt = Receipt {
        id: row.id,
        bytes: row.payload.len() as u64,
    };
    let event = zstd::bulk::Decompressor::new()
        .and_then(|mut d| {
            let capacity = zstd::zstd_safe::get_frame_content_size(&row.payload)
                .ok()
                .flatten()
                .unwrap_or(0) as usize;
            d.decompress(&row.payload, capacity.min(64 << 20))
        })
        .map_err(|e| QueueError::Corrupt(format!("record {}: {e}", row.id)))
        .map(|payload| QueuedEvent {
            project_id: row.project_id,
            event_id: row.event_id,
            received_ms: row.received_ms,
            sent_at: row.sent_at,
            client_ip: row.client_ip,
            payload,
        });
    Claimed { receipt, event }
}

async fn writer_task(
    mut conn: SqliteConnection,
    mut commands: mpsc::Receiver<Command>,
    shared: Arc<Shared>,
    max_group: usize,
) {
    let mut pending_acks: Vec<Receipt> = Vec::new();
    let mut dirty = false;
    loop {
        let first = match tokio::time::timeout(Duration::from_secs(5), commands.recv()).await {
            Ok(Some(command)) => command,
            Ok(None) => break,
            Err(_idle) => {
                if dirty && shared.events.load(Ordering::Relaxed) == 0 {
                    maintain(&mut conn).await;
                    dirty = false;
                }
                continue;
            }
        };
        let mut appends = Vec::new();
        let mut take = |command: Command, appends: &mut Vec<_>| match command {
            Command::Append(payload, row, done) => appends.push((payload, row, done)),
            Command::Ack(receipts) => pending_acks.extend(receipts),
        };
        take(first, &mut appends);
        while appends.len() < max_group {
            match commands.try_recv() {
                Ok(command) => take(command, &mut appends),
                Err(_) => break,
            }
        }
        match write_group(&mut conn, &appends, &pending_acks).await {
            Ok(()) => {
                let added: u64 = appends.iter().map(|(p, _, _)| p.len() as u64).sum();
                let removed: u64 = pending_acks.iter().map(|r| r.bytes).sum();
                shared
                    .events
                    .fetch_add(appends.len() as u64, Ordering::Relaxed);
                shared.bytes.fetch_add(added, Ordering::Relaxed);
                let acked = pending_acks.len() as u64;
                // Saturating: a replayed record may be acked after a restart recount.
                let _ = shared
                    .events
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                        Some(v.saturating_sub(acked))
                    });
                let _ = shared
                    .bytes
                    .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                        Some(v.saturating_sub(removed))
                    });
                dirty |= !pending_acks.is_empty();
                pending_acks.clear();
                let appended = !appends.is_empty();
                for (_, _, done) in appends {
                    let _ = done.send(Ok(()));
                }
                if appended {
                    shared.notify.notify_one();
                }
            }
            Err(error) => {
                tracing::error!(error = %error, "failed to write to the spool; refusing these events");
                for (_, _, done) in appends {
                    let _ = done.send(Err(QueueError::Corrupt(format!(
                        "spool write failed: {error}"
                    ))));
                }
                // Acks are retried with the next group.
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
    let _ = conn.close().await;
}

async fn write_group(
    conn: &mut SqliteConnection,
    appends: &[(Vec<u8>, EncodedRow, oneshot::Sender<Result<(), QueueError>>)],
    acks: &[Receipt],
) -> Result<(), sqlx::Error> {
    let mut tx = conn.begin_with("BEGIN IMMEDIATE").await?;
    for chunk in appends.chunks(ROWS_PER_STATEMENT) {
        let mut builder = sqlx::QueryBuilder::<sqlx::Sqlite>::new(
            "INSERT INTO spool (project_id, event_id, received_ms, sent_at, client_ip, payload) ",
        );
        builder.push_values(chunk, |mut b, (payload, row, _)| {
            b.push_bind(row.project_id)
                .push_bind(row.event_id.clone())
                .push_bind(row.received_ms)
                .push_bind(row.sent_at)
                .push_bind(row.client_ip.clone())
                .push_bind(payload.as_slice());
        });
        builder.build().persistent(false).execute(&mut *tx).await?;
    }
    for chunk in acks.chunks(10_000) {
        let mut builder =
            sqlx::QueryBuilder::<sqlx::Sqlite>::new("DELETE FROM spool WHERE id IN (");
        let mut ids = builder.separated(", ");
        for receipt in chunk {
            ids.push_bind(receipt.id);
        }
        builder.push(")");
        builder.build().persistent(false).execute(&mut *tx).await?;
    }
    tx.commit().await
}

/// Once the spool has drained: give freed pages back and truncate the WAL, so an idle server's
/// disk use returns to near zero after a burst.
async fn maintain(conn: &mut SqliteConnection) {
    for pragma in [
        "PRAGMA incremental_vacuum",
        "PRAGMA wal_checkpoint(TRUNCATE)",
    ] {
        if let Err(error) = sqlx::query(pragma).execute(&mut *conn).await {
            tracing::warn!(error = %error, pragma, "spool maintenance failed");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(n: u32) -> QueuedEvent {
        QueuedEvent {
            project_id: 1,
            event_id: format!("{n:032x}"),
            received_ms: i64::from(n),
            sent_at: Some(1.5),
            client_ip: Some("127.0.0.1".into()),
            payload: format!(r#"{{"message":"event {n}"}}"#).into_bytes(),
        }
    }

    #[tokio::test]
    async fn appends_claims_acks_and_replays_after_reopen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spool.db");
        {
            let spool = Spool::open(&path, SpoolOptions::default()).await.unwrap();
            let mut handles = Vec::new();
            for n in 0..100 {
                let spool = spool.clone();
                handles.push(tokio::spawn(async move { spool.append(event(n)).await }));
            }
            for handle in handles {
                handle.await.unwrap().unwrap();
            }
            assert_eq!(spool.backlog().events, 100);
            let first = spool.claim(60).await.unwrap();
            assert_eq!(first.len(), 60);
            let second = spool.claim(60).await.unwrap();
            assert_eq!(second.len(), 40, "claims continue after the cursor");
            let got = first[0].event.as_ref().unwrap();
            assert_eq!(got.sent_at, Some(1.5));
            assert_eq!(got.client_ip.as_deref(), Some("127.0.0.1"));
            spool
                .ack(first.iter().map(|c| c.receipt).collect())
                .await
                .unwrap();
            // Acks are applied with the next write; push one through.
            spool.append(event(1000)).await.unwrap();
            assert_eq!(spool.backlog().events, 41);
        }
        // Reopen: everything not acknowledged is replayed from the start, nothing acked returns.
        let spool = Spool::open(&path, SpoolOptions::default()).await.unwrap();
        assert_eq!(spool.backlog().events, 41);
        let replay = spool.claim(1000).await.unwrap();
        let ids: Vec<String> = replay
            .into_iter()
            .map(|c| c.event.unwrap().event_id)
            .collect();
        assert_eq!(ids.len(), 41);
        assert_eq!(ids[0], format!("{:032x}", 60));
        assert_eq!(ids[40], format!("{:032x}", 1000));
    }

    #[tokio::test]
    async fn ids_keep_growing_after_the_spool_empties() {
        let dir = tempfile::tempdir().unwrap();
        let spool = Spool::open(&dir.path().join("spool.db"), SpoolOptions::default())
            .await
            .unwrap();
        spool.append(event(1)).await.unwrap();
        let claimed = spool.claim(10).await.unwrap();
        spool
            .ack(claimed.iter().map(|c| c.receipt).collect())
            .await
            .unwrap();
        spool.append(event(2)).await.unwrap();
        let next = spool.claim(10).await.unwrap();
        assert_eq!(
            next.len(),
            1,
            "a new record after an emptied table is still claimed"
        );
        assert!(next[0].receipt.id > claimed[0].receipt.id);
    }
}
