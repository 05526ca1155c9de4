//! The ingest queue between the HTTP endpoint and the processing workers.
//!
//! The contract ([`IngestQueue`]): `append` returns only once the event is durable, so the
//! endpoint may answer 2xx; `claim` hands out events in order, at least once; `ack` forgets
//! events whose processing committed. A crash between commit and ack replays the events, which is
//! safe because processing is idempotent on `(project_id, event_id)`.
//!
//! [`Spool`] is the single-node implementation: an append-only log of segment files with group
//! commit.
//! A distributed implementation (Redis Streams) plugs in behind the same trait.
#![warn(missing_docs)]

mod spool;

use std::future::Future;

pub use spool::{CORRUPT_RECORDS, Spool, SpoolOptions};

/// The queue engines behind one type, for holders of "whichever queue this process runs" (the
/// web state, the pipeline). [`IngestQueue`] returns futures, so it is not object-safe; a new
/// engine (Redis Streams) is a new variant here.
#[derive(Clone)]
pub enum Queue {
    /// The embedded single-node spool.
    Spool(Spool),
}

impl From<Spool> for Queue {
    fn from(spool: Spool) -> Self {
        Queue::Spool(spool)
    }
}

impl IngestQueue for Queue {
    async fn append(&self, event: QueuedEvent) -> Result<(), QueueError> {
        match self {
            Queue::Spool(spool) => spool.append(event).await,
        }
    }

    async fn claim(&self, max: usize) -> Result<Vec<Claimed>, QueueError> {
        match self {
            Queue::Spool(spool) => spool.claim(max).await,
        }
    }

    async fn ack(&self, receipts: Vec<Receipt>) -> Result<(), QueueError> {
        match self {
            Queue::Spool(spool) => spool.ack(receipts).await,
        }
    }

    fn backlog(&self) -> Backlog {
        match self {
            Queue::Spool(spool) => spool.backlog(),
        }
    }

    async fn wait(&self) {
        match self {
            Queue::Spool(spool) => spool.wait().await,
        }
    }
}

impl From<std::io::Error> for QueueError {
    fn from(error: std::io::Error) -> Self {
        QueueError::Io(error.to_string())
    }
}

/// An event accepted at ingest and waiting to be processed.
#[derive(Debug, Clone, PartialEq)]
pub struct QueuedEvent {
    /// The project the event was sent to.
    pub project_id: i64,
    /// The id the SDK was answered with (32 hex).
    pub event_id: String,
    /// Receive time, epoch ms.
    pub received_ms: i64,
    /// The envelope's `sent_at`, Unix seconds, for clock-drift correction.
    pub sent_at: Option<f64>,
    /// The client address, for `{{auto}}` user IPs.
    pub client_ip: Option<String>,
    /// The event JSON as sent.
    pub payload: Vec<u8>,
}

/// A claimed event and the receipt that acknowledges it.
#[derive(Debug)]
pub struct Claimed {
    /// Hand this back to [`IngestQueue::ack`] once processing committed.
    pub receipt: Receipt,
    /// The event, or why its record could not be decoded (the worker acknowledges and drops
    /// it, so it cannot block the queue). Records failing their checksum never get here: the
    /// queue skips them itself.
    pub event: Result<QueuedEvent, QueueError>,
}

/// Identifies a claimed record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Receipt {
    /// Record id.
    pub id: i64,
    /// Bytes the record occupies, for the backlog gauge.
    pub bytes: u64,
}

/// Work waiting in the queue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Backlog {
    /// Events appended and not yet acknowledged.
    pub events: u64,
    /// Their stored size in bytes.
    pub bytes: u64,
}

/// Why a queue operation failed.
#[derive(Debug, thiserror::Error)]
pub enum QueueError {
    /// The storage failed.
    #[error("queue storage error: {0}")]
    Io(String),
    /// The queue is shutting down.
    #[error("the queue is closed")]
    Closed,
    /// A stored record is unreadable.
    #[error("corrupt queue record: {0}")]
    Corrupt(String),
}

/// The ingest queue contract.
pub trait IngestQueue: Send + Sync + 'static {
    /// Stores an event durably; returns once it would survive a crash.
    fn append(&self, event: QueuedEvent) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// Takes up to `max` unclaimed events, oldest first.
    fn claim(&self, max: usize) -> impl Future<Output = Result<Vec<Claimed>, QueueError>> + Send;

    /// Forgets processed events. Acknowledgements may come in any order; an event is forgotten
    /// only with every event claimed before it, so an ack never covers an event that was not.
    fn ack(&self, receipts: Vec<Receipt>) -> impl Future<Output = Result<(), QueueError>> + Send;

    /// What is waiting.
    fn backlog(&self) -> Backlog;

    /// Resolves when new events may have arrived (or after a short timeout).
    fn wait(&self) -> impl Future<Output = ()> + Send;
}
