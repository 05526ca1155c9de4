//! Training per-project payload dictionaries from the events the pipeline sees.
//!
//! Until a project has a dictionary, the prepare stage keeps a copy of its normalized payloads
//! (bounded per project and in total); once enough are collected, one background task trains a
//! dictionary and stores it, and later payloads of that project compress about five times
//! smaller. A failed training is logged and retried after a fresh set of samples.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use errhound_store::payload::{self, PayloadDictionaries};
use errhound_store::{Db, StoreError, now_ms};

/// Samples needed before training (zstd wants ~100x the dictionary size of sample data).
const SAMPLES_PER_PROJECT: usize = 1000;
/// Sample bytes held per project.
const MAX_BYTES_PER_PROJECT: usize = 16 << 20;
/// Sample bytes held across all projects, so many new projects cannot exhaust memory.
const MAX_BYTES_TOTAL: usize = 48 << 20;

#[derive(Default)]
struct State {
    samples: HashMap<i64, Vec<Vec<u8>>>,
    bytes: HashMap<i64, usize>,
    total_bytes: usize,
    training: HashSet<i64>,
}

/// Collects samples and starts training.
#[derive(Clone)]
pub struct DictionaryTrainer {
    dictionaries: Arc<PayloadDictionaries>,
    state: Arc<Mutex<State>>,
}

impl DictionaryTrainer {
    /// A trainer feeding `dictionaries`.
    pub fn new(dictionaries: Arc<PayloadDictionaries>) -> DictionaryTrainer {
        DictionaryTrainer {
            dictionaries,
            state: Arc::new(Mutex::new(State::default())),
        }
    }

    /// The registry new payloads are compressed with.
    pub fn dictionaries(&self) -> &PayloadDictionaries {
        &self.dictionaries
    }

    /// Offers a normalized payload of a project that has no dictionary yet.
    pub fn offer(&self, project_id: i64, payload: &[u8]) {
        if self.dictionaries.has_project(project_id) {
            return;
        }
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.training.contains(&project_id)
            || state.total_bytes + payload.len() > MAX_BYTES_TOTAL
        {
            return;
        }
        let held = state.bytes.get(&project_id).copied().unwrap_or(0);
        let count = state.samples.get(&project_id).map_or(0, Vec::len);
        if count >= SAMPLES_PER_PROJECT || held + payload.len() > MAX_BYTES_PER_PROJECT {
            return;
        }
        state
            .samples
            .entry(project_id)
            .or_default()
            .push(payload.to_vec());
        *state.bytes.entry(project_id).or_default() += payload.len();
        state.total_bytes += payload.len();
    }

    /// Starts training for every project with enough samples.
    pub fn train_ready(&self, db: &Db) {
        let ready: Vec<(i64, Vec<Vec<u8>>)> = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            let projects: Vec<i64> = state
                .samples
                .iter()
                .filter(|(_, s)| s.len() >= SAMPLES_PER_PROJECT)
                .map(|(p, _)| *p)
                .collect();
            projects
                .into_iter()
                .filter_map(|project| {
                    let samples = state.samples.remove(&project)?;
                    let bytes = state.bytes.remove(&project).unwrap_or(0);
                    state.total_bytes -= bytes;
                    state.training.insert(project);
                    Some((project, samples))
                })
                .collect()
        };
        for (project_id, samples) in ready {
            let trainer = self.clone();
            let db = db.clone();
            tokio::spawn(async move {
                let result = async {
                    // Train without holding a connection: SQLite has one writer.
                    let trained = tokio::task::spawn_blocking(move || payload::train(&samples))
                        .await
                        .map_err(|e| StoreError::CorruptPayload(e.to_string()))??;
                    let mut conn = db.write().await?;
                    trainer
                        .dictionaries
                        .store_trained(&mut conn.conn(), project_id, trained, now_ms())
                        .await
                }
                .await;
                match result {
                    Ok(dict) => tracing::info!(
                        project.id = project_id,
                        dictionary.id = dict.id,
                        "trained a payload dictionary; new events of this project are stored smaller"
                    ),
                    Err(error) => tracing::warn!(
                        project.id = project_id,
                        error = %error,
                        "payload dictionary training failed; will retry with new samples"
                    ),
                }
                trainer
                    .state
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .training
                    .remove(&project_id);
            });
        }
    }
}
