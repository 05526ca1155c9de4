//! Project settings for the pipeline, cached for a few seconds so a batch costs at most one
//! settings read per project; a change through the API applies to events processed a few
//! seconds later.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use errhound_domain::ProjectSettings;
use errhound_store::{Db, StoreError, options, projects};

const TTL: Duration = Duration::from_secs(5);

/// Settings of a project and when they were read.
type Entry = (Arc<ProjectSettings>, Instant);

/// Settings by project, loaded on demand.
#[derive(Clone)]
pub struct SettingsCache {
    db: Db,
    entries: Arc<Mutex<HashMap<i64, Entry>>>,
}

impl SettingsCache {
    /// An empty cache over `db`.
    pub fn new(db: Db) -> SettingsCache {
        SettingsCache {
            db,
            entries: Arc::new(Mutex::new(HashMap::new())),
        }
    }

    /// The settings of every project in `project_ids`.
    pub async fn load(
        &self,
        project_ids: impl IntoIterator<Item = i64>,
    ) -> Result<HashMap<i64, Arc<ProjectSettings>>, StoreError> {
        let mut out = HashMap::new();
        for project_id in project_ids {
            if out.contains_key(&project_id) {
                continue;
            }
            let cached = self
                .entries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .get(&project_id)
                .filter(|(_, at)| at.elapsed() < TTL)
                .map(|(settings, _)| settings.clone());
            let settings = match cached {
                Some(settings) => settings,
                None => {
                    let settings = Arc::new(self.read(project_id).await?);
                    self.entries
                        .lock()
                        .unwrap_or_else(|e| e.into_inner())
                        .insert(project_id, (settings.clone(), Instant::now()));
                    settings
                }
            };
            out.insert(project_id, settings);
        }
        Ok(out)
    }

    /// Forgets a project's cached settings, so the next batch reads what was just saved.
    /// (Other servers sharing the database pick a change up within the TTL.)
    pub fn invalidate(&self, project_id: i64) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&project_id);
    }

    async fn read(&self, project_id: i64) -> Result<ProjectSettings, StoreError> {
        // The ingest path reads from the primary: a replica could serve old rules.
        let mut conn = self.db.read_latest().await?;
        let Some(project) = projects::get(&mut conn.conn(), project_id).await? else {
            return Ok(ProjectSettings::default());
        };
        let stored: Vec<(String, String)> = options::list(&mut conn.conn(), project_id)
            .await?
            .into_iter()
            .map(|o| (o.key, o.value))
            .collect();
        let (settings, warnings) = ProjectSettings::from_options(&project.grouping_config, &stored);
        for warning in warnings {
            tracing::warn!(project.id = project_id, %warning, "ignoring an unreadable project setting");
        }
        Ok(settings)
    }
}
