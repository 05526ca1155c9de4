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
//!    ([`errhound_domain::process_event`]) and compresses its payload. Each event is isolated
//!    (`failures`): a panic or a rejected payload fails that event alone, as a recorded failure.
//! 4. **Write stage** (here): writes the whole batch in one transaction
//!    ([`errhound_store::ingest::write_batch`]): issues resolved or opened, index rows inserted
//!    idempotently, payloads stored, counters coalesced, outbox jobs recorded, processing
//!    failures recorded ([`errhound_store::processing_failures`]). Then it acks the batch in the
//!    queue. A crash before the ack replays the batch, which stores nothing twice. So every
//!    acknowledged event ends up stored or recorded as a failure, exactly once.
//!
//! The two stages overlap: batch *n + 1* is prepared while batch *n* is written, so the database
//! writer and the CPU threads work at the same time. A channel of one batch between them bounds
//! memory; a slow database backs up into the queue, and from there into 429s at the endpoint.

pub mod alerts;
mod dictionaries;
mod failures;
mod pipeline;
mod settings;
#[cfg(test)]
mod tests;

pub use dictionaries::DictionaryTrainer;
pub use pipeline::{Pipeline, PipelineOptions, prepare_event};
pub use settings::SettingsCache;

/// Metric names, with what they count.
pub mod metrics_names {
    /// Counter: events written to the database.
    pub const EVENTS_PROCESSED: &str = "errhound_events_processed_total";
    /// Counter: events skipped as duplicates of stored ones.
    pub const EVENTS_DUPLICATE: &str = "errhound_events_duplicate_total";
    /// Counter, label `reason` (`panic`, `invalid_payload`, `refused_by_database`): events that
    /// could not be stored, each recorded in `processing_failures` and logged with its id.
    pub const EVENTS_FAILED: &str = "errhound_events_failed_total";
    /// Counter: events lost without a record: spool records that cannot be decoded, and failures
    /// the database refused to record (each logged).
    pub const EVENTS_DROPPED: &str = "errhound_events_dropped_total";
    /// Counter: issues opened.
    pub const ISSUES_CREATED: &str = "errhound_issues_created_total";
    /// Histogram: seconds to write one batch, commit included.
    pub const BATCH_WRITE_SECONDS: &str = "errhound_batch_write_seconds";
    /// Histogram: events per written batch.
    pub const BATCH_SIZE: &str = "errhound_batch_events";
}
