//! Engines, pools and read/write routing.
//!
//! Callers never see a pool. They ask for:
//!
//! * [`Db::write`]: the primary (SQLite's single writer connection, or the PostgreSQL primary),
//!   for writes only: on SQLite it is one connection, so whatever else uses it queues behind
//!   every ingest batch;
//! * [`Db::begin`]: a write transaction on the primary;
//! * [`Db::read_latest`]: reads that must see the latest committed write (sessions, DSN keys,
//!   project settings, readiness): SQLite's read-only pool (in WAL mode a reader sees every
//!   committed write and never waits for the writer), or the PostgreSQL primary;
//! * [`Db::read`]: reads that may lag slightly (UI and API pages): SQLite's read-only pool, or a
//!   PostgreSQL replica (see [`replicas`]), falling back to the primary when none is up.
//!
//! SQLite's one-writer/many-readers split has the same shape as a primary with replicas, so one
//! API serves both scales.

mod replicas;

use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::{Connection, PgPool, Postgres, Sqlite, SqlitePool, Transaction};

use crate::error::StoreError;
use crate::query::Conn;
use replicas::Replicas;

/// Which database engine backs the store.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Engine {
    /// Embedded SQLite (the default).
    Sqlite,
    /// PostgreSQL.
    Postgres,
}

/// How to connect.
#[derive(Debug, Clone)]
pub struct DbOptions {
    /// `sqlite:///path/errhound.db` (or a plain path) or `postgres://...`.
    pub url: String,
    /// PostgreSQL read replicas; ignored for SQLite.
    pub replica_urls: Vec<String>,
    /// Connections per PostgreSQL pool, and readers for SQLite.
    pub max_connections: u32,
}

enum Pools {
    Sqlite {
        write: SqlitePool,
        read: SqlitePool,
        /// Wakes the checkpointer to truncate the WAL now (the writer went idle).
        idle: Arc<tokio::sync::Notify>,
    },
    Postgres {
        primary: PgPool,
        replicas: Arc<Replicas>,
    },
}

/// The database handle, cheap to clone.
#[derive(Clone)]
pub struct Db {
    pools: Arc<Pools>,
}

/// A pooled connection of either engine.
pub enum PoolConn {
    /// SQLite.
    Sqlite(PoolConnection<Sqlite>),
    /// PostgreSQL.
    Postgres(PoolConnection<Postgres>),
}

impl PoolConn {
    /// Borrows the connection for queries.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            PoolConn::Sqlite(c) => Conn::Sqlite(c),
            PoolConn::Postgres(c) => Conn::Postgres(c),
        }
    }
}

/// A write transaction of either engine.
pub enum Tx {
    /// SQLite (`BEGIN IMMEDIATE`, so the write lock is taken up front).
    Sqlite(Transaction<'static, Sqlite>),
    /// PostgreSQL.
    Postgres(Transaction<'static, Postgres>),
}

impl Tx {
    /// Borrows the transaction's connection for queries.
    pub fn conn(&mut self) -> Conn<'_> {
        match self {
            Tx::Sqlite(t) => Conn::Sqlite(t),
            Tx::Postgres(t) => Conn::Postgres(t),
        }
    }

    /// Which engine runs the transaction.
    pub fn engine(&self) -> Engine {
        match self {
            Tx::Sqlite(_) => Engine::Sqlite,
            Tx::Postgres(_) => Engine::Postgres,
        }
    }

    /// Commits.
    pub async fn commit(self) -> Result<(), StoreError> {
        match self {
            Tx::Sqlite(t) => t.commit().await?,
            Tx::Postgres(t) => t.commit().await?,
        }
        Ok(())
    }
}

static SQLITE_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/sqlite");
static POSTGRES_MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("./migrations/postgres");

impl Db {
    /// Connects (creating an SQLite file if needed). Does not migrate. The primary must answer;
    /// replicas are connected on first use, so an unreachable one does not stop the start.
    pub async fn connect(options: &DbOptions) -> Result<Db, StoreError> {
        let url = options.url.trim();
        let pools = if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            let primary = pg_pool(url, options.max_connections).await?;
            let replicas = Arc::new(Replicas::new(
                &options.replica_urls,
                options.max_connections,
            )?);
            replicas.spawn_checks();
            Pools::Postgres { primary, replicas }
        } else {
            let path = url
                .strip_prefix("sqlite://")
                .or_else(|| url.strip_prefix("sqlite:"))
                .unwrap_or(url);
            sqlite_pools(Path::new(path), options.max_connections).await?
        };
        Ok(Db {
            pools: Arc::new(pools),
        })
    }

    /// The engine in use.
    pub fn engine(&self) -> Engine {
        match *self.pools {
            Pools::Sqlite { .. } => Engine::Sqlite,
            Pools::Postgres { .. } => Engine::Postgres,
        }
    }

    /// Applies pending migrations on the primary.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        match &*self.pools {
            Pools::Sqlite { write, .. } => SQLITE_MIGRATOR.run(write).await?,
            Pools::Postgres { primary, .. } => POSTGRES_MIGRATOR.run(primary).await?,
        }
        Ok(())
    }

    /// A connection to the primary, for writes. Reads go to [`Db::read_latest`] or [`Db::read`]:
    /// on SQLite this is the single writer connection, which ingest batches hold for seconds.
    pub async fn write(&self) -> Result<PoolConn, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { write, .. } => PoolConn::Sqlite(write.acquire().await?),
            Pools::Postgres { primary, .. } => PoolConn::Postgres(primary.acquire().await?),
        })
    }

    /// A connection for reads that must see every committed write, without queueing behind
    /// the writer: SQLite's read-only pool, the PostgreSQL primary.
    pub async fn read_latest(&self) -> Result<PoolConn, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { read, .. } => PoolConn::Sqlite(read.acquire().await?),
            Pools::Postgres { primary, .. } => PoolConn::Postgres(primary.acquire().await?),
        })
    }

    /// A connection for reads that may lag slightly (UI and API reads): a PostgreSQL replica
    /// that is up, else the primary.
    pub async fn read(&self) -> Result<PoolConn, StoreError> {
        match &*self.pools {
            Pools::Sqlite { read, .. } => Ok(PoolConn::Sqlite(read.acquire().await?)),
            Pools::Postgres { primary, replicas } => match replicas.acquire().await {
                Some(conn) => Ok(PoolConn::Postgres(conn)),
                None => Ok(PoolConn::Postgres(primary.acquire().await?)),
            },
        }
    }

    /// Checks every PostgreSQL replica now and marks it up or down (the background check does
    /// this every few seconds); returns how many are up. `0` on SQLite.
    pub async fn check_replicas(&self) -> usize {
        match &*self.pools {
            Pools::Sqlite { .. } => 0,
            Pools::Postgres { replicas, .. } => {
                replicas.check().await;
                replicas.up_count()
            }
        }
    }

    /// Begins a write transaction on the primary.
    pub async fn begin(&self) -> Result<Tx, StoreError> {
        Ok(match &*self.pools {
            Pools::Sqlite { write, .. } => Tx::Sqlite(write.begin_with("BEGIN IMMEDIATE").await?),
            Pools::Postgres { primary, .. } => Tx::Postgres(primary.begin().await?),
        })
    }

    /// Tells the store the ingest writer has nothing more to write for now; SQLite then truncates
    /// its WAL right away instead of after a few idle seconds. No-op on PostgreSQL.
    pub fn writer_idle(&self) {
        if let Pools::Sqlite { idle, .. } = &*self.pools {
            idle.notify_one();
        }
    }

    /// Closes every pool (flushes SQLite's WAL on the way).
    pub async fn close(&self) {
        match &*self.pools {
            Pools::Sqlite { write, read, .. } => {
                read.close().await;
                write.close().await;
            }
            Pools::Postgres { primary, replicas } => {
                replicas.close().await;
                primary.close().await;
            }
        }
    }
}

async fn pg_pool(url: &str, max_connections: u32) -> Result<PgPool, StoreError> {
    let options = PgConnectOptions::from_str(url)?.application_name("errhound");
    Ok(PgPoolOptions::new()
        .max_connections(max_connections.max(2))
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options)
        .await?)
}

async fn sqlite_pools(path: &Path, readers: u32) -> Result<Pools, StoreError> {
    let base = SqliteConnectOptions::new()
        .filename(path)
        // WAL lets readers run beside the single writer.
        .journal_mode(SqliteJournalMode::Wal)
        // FULL syncs the WAL on every commit: a committed batch survives power loss, which is
        // what lets the ingest spool forget it. Commits are per batch, so this costs little.
        .synchronous(SqliteSynchronous::Full)
        .busy_timeout(Duration::from_secs(10))
        .foreign_keys(true)
        .pragma("cache_size", "-16384")
        .pragma("temp_store", "memory");
    let write = SqlitePoolOptions::new()
        .max_connections(1)
        .min_connections(1)
        .acquire_timeout(Duration::from_secs(60))
        .connect_with(
            base.clone()
                .create_if_missing(true)
                // Checkpoints run in the background (see `checkpoint_task`), off the writer's
                // commit path; the writer only checkpoints itself if the WAL passes 64 MB.
                .pragma("wal_autocheckpoint", "16384")
                // After a checkpoint resets the WAL, trim the file back to 16 MB.
                .pragma("journal_size_limit", "16777216"),
        )
        .await?;
    let read = SqlitePoolOptions::new()
        .max_connections(readers.max(1))
        .acquire_timeout(Duration::from_secs(30))
        .connect_with(base.clone().read_only(true))
        .await?;
    let checkpointer = sqlx::SqliteConnection::connect_with(&base).await?;
    let idle = Arc::new(tokio::sync::Notify::new());
    tokio::spawn(checkpoint_task(checkpointer, write.clone(), idle.clone()));
    Ok(Pools::Sqlite { write, read, idle })
}

#[derive(sqlx::FromRow)]
struct CheckpointResult {
    busy: i64,
    log: i64,
    checkpointed: i64,
}

/// Copies committed WAL pages into the database file once a second, beside the writer (a
/// PASSIVE checkpoint never blocks it), so commits do not pay for checkpoints. When the writer
/// reports it went idle ([`Db::writer_idle`]), or nothing was written for three rounds, the WAL
/// is truncated, so an idle server's WAL takes no disk space.
async fn checkpoint_task(
    mut conn: sqlx::SqliteConnection,
    writer: SqlitePool,
    idle: Arc<tokio::sync::Notify>,
) {
    let mut idle_rounds = 0u32;
    let mut last_log = -1;
    loop {
        let woken = tokio::select! {
            () = tokio::time::sleep(Duration::from_secs(1)) => false,
            () = idle.notified() => true,
        };
        if writer.is_closed() {
            break;
        }
        if woken {
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await;
            last_log = 0;
            idle_rounds = 0;
            continue;
        }
        let result: Result<CheckpointResult, _> = sqlx::query_as("PRAGMA wal_checkpoint(PASSIVE)")
            .fetch_one(&mut conn)
            .await;
        match result {
            // Everything checkpointed and no new frames since the last round: idle.
            Ok(r) if r.busy == 0 && r.log == r.checkpointed && r.log == last_log => {
                idle_rounds += 1;
            }
            Ok(r) => {
                idle_rounds = 0;
                last_log = r.log;
                tracing::trace!(
                    wal.frames = r.log,
                    checkpointed = r.checkpointed,
                    "checkpoint"
                );
            }
            Err(error) => {
                tracing::warn!(error = %error, "background checkpoint failed");
                idle_rounds = 0;
            }
        }
        if idle_rounds == 3 {
            let _ = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(&mut conn)
                .await;
            last_log = 0;
        }
    }
}
