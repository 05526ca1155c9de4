//! The alerting tasks of `serve`: the evaluator (outbox jobs -> deliveries, in
//! `errhound_ingest::alerts`) and the sender (deliveries -> plugins, in
//! `errhound_notify::deliver`), each polling every second. Both work in short transactions and
//! never hold one across network I/O, so a dead SMTP server or webhook leaves ingest alone.

use std::sync::Arc;
use std::time::Duration;

use errhound_config::Config;
use errhound_notify::deliver::Sender;
use errhound_store::payload::PayloadDictionaries;
use errhound_store::{Db, now_ms};

use crate::tasks::Task;

/// How often each task looks for work.
const PERIOD: Duration = Duration::from_secs(1);
/// A run stopped by this goes on at the next period (what it committed stays committed).
const TIME_LIMIT: Duration = Duration::from_secs(120);

/// The evaluator and the sender.
pub fn tasks(
    db: &Db,
    dictionaries: &Arc<PayloadDictionaries>,
    config: &Config,
    sender: Sender,
) -> Vec<Task> {
    let evaluator_db = db.clone();
    let evaluator_dictionaries = dictionaries.clone();
    let digest_delay_ms =
        i64::try_from(config.notify.digest_delay_s.saturating_mul(1000)).unwrap_or(i64::MAX);
    vec![
        Task::new("evaluate_alerts", PERIOD, TIME_LIMIT, move || {
            let db = evaluator_db.clone();
            let dictionaries = evaluator_dictionaries.clone();
            async move {
                let written = errhound_ingest::alerts::evaluate_due(
                    &db,
                    &dictionaries,
                    digest_delay_ms,
                    now_ms,
                )
                .await?;
                if written > 0 {
                    tracing::debug!(deliveries = written, "alert rules evaluated");
                }
                Ok(())
            }
        }),
        Task::new("send_notifications", PERIOD, TIME_LIMIT, move || {
            let sender = sender.clone();
            async move {
                sender.send_due(now_ms).await?;
                Ok(())
            }
        }),
    ]
}
