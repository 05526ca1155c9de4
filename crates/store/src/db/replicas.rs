//! PostgreSQL read replicas, kept from ever stopping or stalling the server.
//!
//! * Pools connect lazily: an unreachable replica at start-up is a warning, not a failed start.
//! * A background check ([`Replicas::check`], every [`CHECK_EVERY`]) marks each replica up or
//!   down; [`Replicas::acquire`] only tries replicas marked up, so a dead one costs nothing.
//! * A replica starts as down until its first check passes, and a failed acquire marks it down at
//!   once, so at most one read per failure waits, and for the short [`ACQUIRE_TIMEOUT`] only.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, Postgres};

use crate::error::StoreError;

/// How often every replica is checked.
pub const CHECK_EVERY: Duration = Duration::from_secs(5);
/// How long a read waits for a replica connection before it falls back to the primary. Short:
/// the primary can always answer instead.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(2);

struct Replica {
    /// The host and port, for logs (never the password).
    name: String,
    pool: PgPool,
    up: AtomicBool,
}

impl Replica {
    /// Records the replica's state; logs only changes, so a dead replica logs once.
    fn mark(&self, up: bool, error: Option<&dyn std::fmt::Display>) {
        if self.up.swap(up, Ordering::Relaxed) == up {
            return;
        }
        match error {
            Some(error) if !up => tracing::warn!(
                replica = %self.name,
                error = %error,
                "read replica is down; reads go to the primary until it answers again"
            ),
            _ if !up => tracing::warn!(replica = %self.name, "read replica is down"),
            _ => tracing::info!(replica = %self.name, "read replica is up"),
        }
    }
}

/// The replicas of a PostgreSQL primary.
pub struct Replicas {
    list: Vec<Replica>,
    next: AtomicUsize,
}

impl Replicas {
    /// Pools for `urls`, none connected yet; fails only for a URL that cannot be parsed.
    pub fn new(urls: &[String], max_connections: u32) -> Result<Replicas, StoreError> {
        let mut list = Vec::with_capacity(urls.len());
        for url in urls {
            let options = PgConnectOptions::from_str(url)?.application_name("errhound-replica");
            let name = format!("{}:{}", options.get_host(), options.get_port());
            let pool = PgPoolOptions::new()
                .max_connections(max_connections.max(2))
                .acquire_timeout(ACQUIRE_TIMEOUT)
                .connect_lazy_with(options);
            list.push(Replica {
                name,
                pool,
                up: AtomicBool::new(false),
            });
        }
        Ok(Replicas {
            list,
            next: AtomicUsize::new(0),
        })
    }

    /// Starts the background check (the first round at once); it ends when the replicas are
    /// dropped or closed.
    pub fn spawn_checks(self: &Arc<Self>) {
        if self.list.is_empty() {
            return;
        }
        let replicas: Weak<Replicas> = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut ticks = tokio::time::interval(CHECK_EVERY);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                ticks.tick().await;
                let Some(replicas) = replicas.upgrade() else {
                    break;
                };
                if replicas.is_closed() {
                    break;
                }
                replicas.check().await;
            }
        });
    }

    /// Checks every replica once (a `SELECT 1` within [`ACQUIRE_TIMEOUT`]) and marks it up or
    /// down.
    pub async fn check(&self) {
        for replica in &self.list {
            let probe = async {
                let mut conn = replica.pool.acquire().await?;
                sqlx::query("SELECT 1").execute(&mut *conn).await?;
                Ok::<_, sqlx::Error>(())
            };
            match tokio::time::timeout(ACQUIRE_TIMEOUT, probe).await {
                Ok(Ok(())) => replica.mark(true, None),
                Ok(Err(error)) => replica.mark(false, Some(&error)),
                Err(_) => replica.mark(false, Some(&"no answer in time")),
            }
        }
    }

    /// A connection to a replica marked up, taking turns; `None` when none is up or none
    /// answers (a replica that fails here is marked down until a check sees it answer).
    pub async fn acquire(&self) -> Option<PoolConnection<Postgres>> {
        let count = self.list.len();
        if count == 0 {
            return None;
        }
        let start = self.next.fetch_add(1, Ordering::Relaxed);
        for offset in 0..count {
            let replica = &self.list[(start + offset) % count];
            if !replica.up.load(Ordering::Relaxed) {
                continue;
            }
            match replica.pool.acquire().await {
                Ok(conn) => return Some(conn),
                Err(error) => replica.mark(false, Some(&error)),
            }
        }
        None
    }

    /// How many replicas are marked up.
    pub fn up_count(&self) -> usize {
        self.list
            .iter()
            .filter(|r| r.up.load(Ordering::Relaxed))
            .count()
    }

    fn is_closed(&self) -> bool {
        self.list.iter().all(|r| r.pool.is_closed())
    }

    /// Closes every replica pool.
    pub async fn close(&self) {
        for replica in &self.list {
            replica.pool.close().await;
        }
    }
}
