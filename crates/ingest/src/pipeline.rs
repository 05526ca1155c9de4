//! The two-stage worker: prepare (CPU) and write (database), connected by a one-batch channel.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use errhound_domain::{ProcessContext, ProjectSettings, process_event};
use errhound_queue::{Claimed, IngestQueue, QueuedEvent, Receipt};
use errhound_store::ingest::{BatchOutcome, NewEvent, write_batch};
use errhound_store::payload::{self, PayloadDictionaries};
use errhound_store::processing_failures::{self, FailureReason, NewFailure};
use errhound_store::{Db, StoreError, now_ms};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

use crate::dictionaries::DictionaryTrainer;
use crate::failures::{self, prepare_isolated};
use crate::metrics_names as m;
use crate::settings::SettingsCache;

/// Worker tuning.
#[derive(Debug, Clone)]
pub struct PipelineOptions {
    /// Events claimed and written per batch.
    pub batch_size: usize,
    /// CPU threads for the prepare stage.
    pub threads: usize,
    /// How long to wait for a fuller batch while events trickle in.
    pub linger: Duration,
}

/// A running pipeline.
pub struct Pipeline {
    stop: watch::Sender<bool>,
    tasks: Vec<JoinHandle<()>>,
    settings: SettingsCache,
}

/// A batch ready to be written: its events, the failures among them, and the receipts of all
/// its records (failed and unreadable ones included: the batch's commit covers them all).
struct Prepared {
    events: Vec<NewEvent>,
    failures: Vec<NewFailure>,
    receipts: Vec<Receipt>,
}

impl Prepared {
    /// An empty batch: the queue ran dry, so the write stage reports the store idle after it.
    fn idle() -> Prepared {
        Prepared {
            events: Vec::new(),
            failures: Vec::new(),
            receipts: Vec::new(),
        }
    }
}

impl Pipeline {
    /// Starts consuming `queue` into `db`; payloads are compressed with `dictionaries`, which the
    /// pipeline also trains for projects that have none.
    pub fn start<Q: IngestQueue + Clone>(
        queue: Q,
        db: Db,
        dictionaries: Arc<PayloadDictionaries>,
        options: PipelineOptions,
    ) -> Pipeline {
        let (stop, stopped) = watch::channel(false);
        let (batches, incoming) = mpsc::channel::<Prepared>(1);
        let dictionaries_for_writes = dictionaries.clone();
        let trainer = DictionaryTrainer::new(dictionaries);
        let settings = SettingsCache::new(db.clone());
        let prepare = tokio::spawn(prepare_loop(
            queue.clone(),
            db.clone(),
            settings.clone(),
            trainer,
            options,
            batches,
            stopped,
        ));
        let write = tokio::spawn(write_loop(queue, db, dictionaries_for_writes, incoming));
        Pipeline {
            stop,
            tasks: vec![prepare, write],
            settings,
        }
    }

    /// The project settings the pipeline applies; invalidate an entry after changing it.
    pub fn settings(&self) -> &SettingsCache {
        &self.settings
    }

    /// Stops claiming new events and waits for the batches in flight to be written.
    pub async fn shutdown(self) {
        let _ = self.stop.send(true);
        for task in self.tasks {
            let _ = task.await;
        }
    }
}

async fn prepare_loop<Q: IngestQueue>(
    queue: Q,
    db: Db,
    settings: SettingsCache,
    trainer: DictionaryTrainer,
    options: PipelineOptions,
    batches: mpsc::Sender<Prepared>,
    mut stopped: watch::Receiver<bool>,
) {
    let mut busy = false;
    while !*stopped.borrow() {
        let started = Instant::now();
        let mut claimed = match queue.claim(options.batch_size).await {
            Ok(claimed) => claimed,
            Err(error) => {
                tracing::error!(error = %error, "cannot read the ingest queue; retrying in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                continue;
            }
        };
        if claimed.is_empty() {
            if std::mem::take(&mut busy) {
                // Ask the write stage to report idleness once it has written what it has.
                let _ = batches.send(Prepared::idle()).await;
            }
            tokio::select! {
                () = queue.wait() => {}
                _ = stopped.changed() => {}
            }
            continue;
        }
        // Linger: while events trickle in, wait a little for a fuller batch. Each batch costs a
        // commit (an fsync) and a round of statements, so a few large batches are much cheaper
        // than many small ones; visibility is delayed by at most `linger`.
        while claimed.len() < options.batch_size && started.elapsed() < options.linger {
            tokio::time::sleep((options.linger - started.elapsed()).min(Duration::from_millis(20)))
                .await;
            match queue.claim(options.batch_size - claimed.len()).await {
                Ok(more) => claimed.extend(more),
                Err(error) => {
                    tracing::warn!(error = %error, "cannot read the ingest queue while filling a batch");
                    break;
                }
            }
        }
        let project_ids: Vec<i64> = claimed
            .iter()
            .filter_map(|c| c.event.as_ref().ok().map(|e| e.project_id))
            .collect();
        // The events stay claimed in memory until their projects' settings are read: processing
        // them with the wrong rules would group them wrongly for good.
        let project_settings = loop {
            match settings.load(project_ids.iter().copied()).await {
                Ok(loaded) => break Arc::new(loaded),
                Err(error) => {
                    tracing::warn!(error = %error, "cannot read project settings; retrying");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                }
            }
        };
        let Some(prepared) = prepare(claimed, options.threads, &trainer, &project_settings).await
        else {
            // The runtime is going down. The batch is not acknowledged, so it stays in the queue
            // (no later ack can cover it) and is processed at the next start.
            tracing::warn!("processing cancelled by shutdown; the batch stays in the queue");
            break;
        };
        busy = true;
        trainer.train_ready(&db);
        if batches.send(prepared).await.is_err() {
            break;
        }
    }
}

/// Processes claimed events on `threads` blocking-pool threads (long-lived, so their allocator
/// caches and zstd contexts are reused across batches). Each event is isolated: one that cannot
/// be processed becomes a failure of the batch, and its receipt is still acknowledged with the
/// batch, so it cannot block the queue. `None` when the runtime cancelled the work (shutdown).
async fn prepare(
    claimed: Vec<Claimed>,
    threads: usize,
    trainer: &DictionaryTrainer,
    settings: &Arc<HashMap<i64, Arc<ProjectSettings>>>,
) -> Option<Prepared> {
    let receipts: Vec<Receipt> = claimed.iter().map(|c| c.receipt).collect();
    let count = claimed.len();
    let chunk_size = count.div_ceil(threads.max(1)).max(1);
    // Shared rather than split, so a chunk whose task fails is still at hand to record.
    let claimed = Arc::new(claimed);
    let tasks: Vec<_> = (0..count)
        .step_by(chunk_size)
        .map(|start| {
            let range = start..(start + chunk_size).min(count);
            let (claimed, trainer, settings) = (claimed.clone(), trainer.clone(), settings.clone());
            let task = tokio::task::spawn_blocking({
                let range = range.clone();
                move || {
                    claimed[range]
                        .iter()
                        .map(|c| prepare_claimed(c, &trainer, &settings))
                        .collect::<Vec<_>>()
                }
            });
            (range, task)
        })
        .collect();
    let mut prepared = Prepared {
        events: Vec::with_capacity(count),
        failures: Vec::new(),
        receipts,
    };
    for (range, task) in tasks {
        match task.await {
            Ok(results) => {
                for result in results.into_iter().flatten() {
                    match result {
                        Ok(event) => prepared.events.push(event),
                        Err(failure) => prepared.failures.push(failure),
                    }
                }
            }
            Err(error) if error.is_cancelled() => return None,
            // Events are isolated one by one, so only the code around them could have panicked:
            // the chunk's events are recorded rather than lost.
            Err(error) => {
                let detail = format!("processing task failed: {error}");
                for event in claimed[range].iter().filter_map(|c| c.event.as_ref().ok()) {
                    let failure = failures::failure(event, FailureReason::Panic, detail.clone());
                    prepared.failures.push(failure);
                }
            }
        }
    }
    Some(prepared)
}

/// Prepares one claimed record: `None` for a record the queue could not decode (logged and
/// dropped: without its project nothing can be recorded).
fn prepare_claimed(
    claimed: &Claimed,
    trainer: &DictionaryTrainer,
    settings: &HashMap<i64, Arc<ProjectSettings>>,
) -> Option<Result<NewEvent, NewFailure>> {
    let event = match &claimed.event {
        Ok(event) => event,
        Err(error) => {
            tracing::error!(error = %error, spool.record = claimed.receipt.id, "dropping unreadable queue record");
            metrics::counter!(m::EVENTS_DROPPED).increment(1);
            return None;
        }
    };
    // Every project of the batch was loaded; a missing one gets the defaults.
    static DEFAULT: std::sync::LazyLock<ProjectSettings> =
        std::sync::LazyLock::new(ProjectSettings::default);
    let project_settings = settings
        .get(&event.project_id)
        .map_or(&*DEFAULT, |s| s.as_ref());
    Some(prepare_isolated(event, trainer, project_settings))
}

/// Turns a queued event into a row set ready for the store.
pub fn prepare_event(
    event: &QueuedEvent,
    trainer: &DictionaryTrainer,
    settings: &ProjectSettings,
) -> Result<NewEvent, errhound_domain::process::InvalidPayload> {
    let processed = process_event(
        &event.payload,
        &ProcessContext {
            event_id: &event.event_id,
            received_ms: event.received_ms,
            sent_at: event.sent_at,
            client_ip: event.client_ip.as_deref(),
            settings,
        },
    )?;
    let dictionary = trainer.dictionaries().for_project(event.project_id);
    if dictionary.is_none() {
        trainer.offer(event.project_id, &processed.payload);
    }
    Ok(NewEvent {
        project_id: event.project_id,
        event_id: processed.event_id,
        timestamp_ms: processed.timestamp_ms,
        received_ms: processed.received_ms,
        hashes: processed.grouping.hashes,
        secondary_hashes: processed.grouping.secondary_hashes,
        level: processed.level.as_str().to_owned(),
        event_type: processed.display.event_type.to_owned(),
        title: processed.display.title,
        culprit: processed.display.culprit,
        metadata: processed.display.metadata.to_string(),
        platform: processed.platform,
        logger: processed.logger,
        release: processed.release,
        tags: processed.tags,
        payload: payload::compress(&processed.payload, dictionary.as_deref()),
    })
}

async fn write_loop<Q: IngestQueue>(
    queue: Q,
    db: Db,
    dictionaries: Arc<PayloadDictionaries>,
    mut incoming: mpsc::Receiver<Prepared>,
) {
    while let Some(batch) = incoming.recv().await {
        if batch.receipts.is_empty() {
            db.writer_idle();
            continue;
        }
        let started = Instant::now();
        let size = batch.events.len();
        let outcome = write_reliably(&db, &dictionaries, batch.events, batch.failures).await;
        metrics::histogram!(m::BATCH_WRITE_SECONDS).record(started.elapsed().as_secs_f64());
        metrics::histogram!(m::BATCH_SIZE).record(size as f64);
        metrics::counter!(m::EVENTS_PROCESSED).increment(outcome.stored as u64);
        metrics::counter!(m::EVENTS_DUPLICATE).increment(outcome.duplicates as u64);
        metrics::counter!(m::ISSUES_CREATED).increment(outcome.new_issues.len() as u64);
        if let Err(error) = queue.ack(batch.receipts).await {
            // Not fatal: unacknowledged events are replayed and deduplicated after a restart.
            tracing::warn!(error = %error, "cannot acknowledge a written batch");
        }
    }
}

/// Writes events and failures in one transaction, so one commit (and the ack after it) covers
/// both.
async fn write_once(
    db: &Db,
    events: Vec<NewEvent>,
    failures: &[NewFailure],
) -> Result<BatchOutcome, StoreError> {
    let mut tx = db.begin().await?;
    let now = now_ms();
    processing_failures::record(&mut tx.conn(), failures, now).await?;
    let outcome = write_batch(&mut tx, events, now).await?;
    tx.commit().await?;
    Ok(outcome)
}

/// Writes a batch, surviving database outages and isolating events that cannot be written.
///
/// While the database is unreachable this retries forever (the queue keeps the events and the
/// endpoint sheds load with 429s). If the database is healthy but the batch keeps failing, events
/// are written one by one, and an event that fails alone is recorded as a processing failure.
async fn write_reliably(
    db: &Db,
    dictionaries: &PayloadDictionaries,
    events: Vec<NewEvent>,
    failures: Vec<NewFailure>,
) -> BatchOutcome {
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut last_error = None;
        for _ in 0..3 {
            match write_once(db, events.clone(), &failures).await {
                Ok(outcome) => return outcome,
                Err(error) => {
                    tracing::warn!(error = %error, batch.events = events.len(), "batch write failed; retrying");
                    last_error = Some(error);
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                }
            }
        }
        if !database_is_healthy(db).await {
            tracing::error!(error = ?last_error, "database unavailable; holding the batch until it returns");
            tokio::time::sleep(backoff).await;
            continue;
        }
        return write_one_by_one(db, dictionaries, events, failures).await;
    }
}

async fn write_one_by_one(
    db: &Db,
    dictionaries: &PayloadDictionaries,
    events: Vec<NewEvent>,
    mut failures: Vec<NewFailure>,
) -> BatchOutcome {
    let mut total = BatchOutcome::default();
    for event in events {
        match write_once(db, vec![event.clone()], &[]).await {
            Ok(outcome) => {
                total.stored += outcome.stored;
                total.duplicates += outcome.duplicates;
                total.new_issues.extend(outcome.new_issues);
                total.regressed_issues.extend(outcome.regressed_issues);
                total.discarded += outcome.discarded;
            }
            Err(error) => {
                // Keep the event readable in the failure without the project's dictionary.
                let dictionary = dictionaries.for_project(event.project_id);
                let payload = payload::decompress(&event.payload, dictionary.as_deref())
                    .unwrap_or_else(|_| event.payload.clone());
                failures.push(failures::refused(&event, error.to_string(), payload));
            }
        }
    }
    // One at a time, so a failure the database refuses to record costs only itself.
    for failure in failures {
        if let Err(error) = write_once(db, Vec::new(), std::slice::from_ref(&failure)).await {
            tracing::error!(error = %error, event.id = %failure.event_id, project.id = failure.project_id, "dropping an event whose processing failure cannot be recorded");
            metrics::counter!(m::EVENTS_DROPPED).increment(1);
        }
    }
    total
}

async fn database_is_healthy(db: &Db) -> bool {
    match db.write().await {
        Ok(mut conn) => errhound_store::query::Query::new("SELECT CAST(1 AS BIGINT) AS value")
            .fetch_one::<errhound_store::query::Int>(&mut conn.conn())
            .await
            .is_ok(),
        Err(_) => false,
    }
}
