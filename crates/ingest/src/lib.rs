//! The event processing pipeline.
//!
//! # Path of an event
//!
//! 1. **Endpoint** (`errhound-web`, `routes/ingest`): authenticates the DSN key from an in-memory
//!    cache, reads the body within the size and memory budgets, decompresses it with a cap,
//!    frames the envelope, validates the event item's JSON, checks the backlog (429 when full),
//!    and appends the event to the queue. It answers `{"id": ...}` only after the queue
//!    reports the event durable. No database work happens on this path.
//! 2. **Queue** (`errhound-queue`): the spool file commits appends in groups with one fsync.
//! 3. **Prepare stage** (here, [`Pipeline`]): claims a batch of events in order and, on the
//!    CPU threads, parses, normalizes, groups and describes each one
//!    ([`errhound_domain::process_event`]) and compresses its payload.
//! 4. **Write stage** (here): writes the whole batch in one transaction
//!    ([`errhound_store::ingest::write_batch`]): issues resolved or opened, index rows inserted
//!    idempotently, payloads stored, counters coalesced, outbox jobs recorded. Then it acks the
//!    batch in the queue. A crash before the ack replays the batch, which stores nothing twice.
//!
//! The two stages overlap: batch *n + 1* is prepared while batch *n* is written, so the database
//! writer and the CPU threads work at the same time. A channel of one batch between them bounds
//! memory; a slow database backs up into the queue, and from there into 429s at the endpoint.

mod dictionaries;
mod pipeline;
mod settings;

pub use dictionaries::DictionaryTrainer;
pub use pipeline::{Pipeline, PipelineOptions, prepare_event};
pub use settings::SettingsCache;

/// Metric names, with what they count.
pub mod metrics_names {
    /// Counter: events written to the database.
    pub const EVENTS_PROCESSED: &str = "errhound_events_processed_total";
    /// Counter: events skipped as duplicates of stored ones.
    pub const EVENTS_DUPLICATE: &str = "errhound_events_duplicate_total";
    /// Counter: events dropped because they could not be processed (logged with their id).
    pub const EVENTS_DROPPED: &str = "errhound_events_dropped_total";
    /// Counter: issues opened.
    pub const ISSUES_CREATED: &str = "errhound_issues_created_total";
    /// Histogram: seconds to write one batch, commit included.
    pub const BATCH_WRITE_SECONDS: &str = "errhound_batch_write_seconds";
    /// Histogram: events per written batch.
    pub const BATCH_SIZE: &str = "errhound_batch_events";
}
