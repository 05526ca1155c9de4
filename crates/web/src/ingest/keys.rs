//! DSN keys cached in memory, so the ingest path does not read the database per request.
//!
//! Known keys are re-read after 30 s (a key changed in another process stops or starts working
//! within that time; changes through this process's API and UI apply at once, see
//! [`KeyCache::key_changed`]); unknown keys are remembered for 5 s, so a client hammering with
//! a wrong key costs one query per 5 s.
//! The cache is cleared when it passes 100 000 entries, which bounds the memory random keys
//! could take.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use errhound_domain::rate_limit::KeyRateLimit;
use errhound_store::projects::{self, ProjectKey};
use errhound_store::{Db, StoreError};

const KNOWN_TTL: Duration = Duration::from_secs(30);
const UNKNOWN_TTL: Duration = Duration::from_secs(5);
const MAX_ENTRIES: usize = 100_000;

/// What ingest needs to know about a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyInfo {
    /// The key's id.
    pub id: i64,
    /// The project the key belongs to.
    pub project_id: i64,
    /// Disabled keys are refused.
    pub active: bool,
    /// Events beyond it are refused with 429.
    pub rate_limit: Option<KeyRateLimit>,
}

impl From<&ProjectKey> for KeyInfo {
    fn from(key: &ProjectKey) -> KeyInfo {
        KeyInfo {
            id: key.id,
            project_id: key.project_id,
            active: key.is_active,
            rate_limit: key.rate_limit,
        }
    }
}

#[derive(Clone, Copy)]
struct Entry {
    key: Option<KeyInfo>,
    fetched: Instant,
}

/// The cache.
#[derive(Clone)]
pub struct KeyCache {
    db: Db,
    entries: Arc<RwLock<HashMap<String, Entry>>>,
}

impl KeyCache {
    /// An empty cache over `db`.
    pub fn new(db: Db) -> KeyCache {
        KeyCache {
            db,
            entries: Arc::new(RwLock::new(HashMap::new())),
        }
    }

    /// Looks a public key up, from memory when fresh.
    pub async fn get(&self, public_key: &str) -> Result<Option<KeyInfo>, StoreError> {
        if let Some(entry) = self.cached(public_key) {
            return Ok(entry);
        }
        // Never a replica: a key created a moment ago must work, and a disabled one must stop.
        let mut conn = self.db.read_latest().await?;
        let found = projects::find_key(&mut conn.conn(), public_key)
            .await?
            .as_ref()
            .map(KeyInfo::from);
        let mut entries = self.entries.write().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(
            public_key.to_owned(),
            Entry {
                key: found,
                fetched: Instant::now(),
            },
        );
        Ok(found)
    }

    fn cached(&self, public_key: &str) -> Option<Option<KeyInfo>> {
        let entries = self.entries.read().unwrap_or_else(|e| e.into_inner());
        let entry = entries.get(public_key)?;
        let ttl = if entry.key.is_some() {
            KNOWN_TTL
        } else {
            UNKNOWN_TTL
        };
        (entry.fetched.elapsed() < ttl).then_some(entry.key)
    }

    /// Forgets a key at once (after it was created, disabled or deleted here).
    pub fn invalidate(&self, public_key: &str) {
        self.entries
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .remove(public_key);
    }

    /// What every change of a key (through the API or the UI) must be followed by: ingest
    /// forgets the key's public key as it was before the change (a rotated key's old DSN, a
    /// deleted key's), so the change applies to the next envelope; and the change is logged
    /// once. A changed rate limit needs nothing more: [`super::KeyQuotas`] starts a new window
    /// when it meets a key under another limit.
    pub fn key_changed(&self, before: &ProjectKey, caller: &str, change: &str) {
        self.invalidate(&before.public_key);
        tracing::info!(
            project.id = before.project_id,
            key.id = before.id,
            caller,
            change,
            "DSN key changed"
        );
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use errhound_store::{DbOptions, orgs};
    use errhound_test_utils::postgres;

    use super::*;

    #[tokio::test]
    async fn a_key_is_looked_up_on_the_primary_not_on_a_replica() {
        // The "replica" is an empty database: a key read there is not found, as a key created a
        // moment ago on a lagging replica would not be.
        let replica = postgres::fresh_database().await;
        let db = Db::connect(&DbOptions {
            url: postgres::fresh_database().await,
            replica_urls: vec![replica.clone()],
            max_connections: 4,
        })
        .await
        .unwrap();
        db.migrate().await.unwrap();
        let lagging = Db::connect(&DbOptions {
            url: replica,
            replica_urls: vec![],
            max_connections: 2,
        })
        .await
        .unwrap();
        lagging.migrate().await.unwrap();
        lagging.close().await;
        assert_eq!(db.check_replicas().await, 1, "the replica is up");

        let mut conn = db.write().await.unwrap();
        let org = orgs::create(&mut conn.conn(), "acme", "Acme", 1)
            .await
            .unwrap();
        let project = projects::create(&mut conn.conn(), org.id, "shop", "Shop", None, "g", 1)
            .await
            .unwrap();
        let key = projects::create_key(&mut conn.conn(), project.id, "Default", 1)
            .await
            .unwrap();
        drop(conn);

        let found = KeyCache::new(db.clone())
            .get(&key.public_key)
            .await
            .unwrap();
        assert_eq!(
            found,
            Some(KeyInfo {
                id: key.id,
                project_id: project.id,
                active: true,
                rate_limit: None,
            })
        );
        db.close().await;
    }
}
