//! UI sessions: tower-sessions over a [`SessionStore`] in our own database (both engines), so
//! sessions survive restarts and are shared by every web process of a deployment.
//!
//! The session holds the user id (`uid`), the CSRF synchronizer token (`csrf`) and, from the
//! login, the client address (`addr`) and user agent (`ua`); the store copies the user id,
//! address and agent into the row's columns on every save ([`meta`]). Loading a session records
//! its use at most once a minute, in the background ([`sessions::touch`]). A session is
//! created on the first visit of the login page (to carry the login form's CSRF token; such an
//! anonymous session lives an hour) and its id is rotated at login. A login lasts
//! [`LOGGED_IN_FOR`] from the moment it was made (the row's expiry is written when the session
//! changes, and page views do not change it).

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use errhound_store::{Db, now_ms, sessions};
use tower_sessions::cookie::SameSite;
use tower_sessions::session::{Id, Record};
use tower_sessions::session_store::{self, SessionStore};
use tower_sessions::{Expiry, Session, SessionManagerLayer};

use crate::AppState;

/// The session cookie's name.
pub const COOKIE: &str = "errhound_session";
/// Session key of the logged-in user's id.
pub const USER_ID: &str = "uid";
/// Session key of the CSRF synchronizer token.
pub const CSRF: &str = "csrf";
/// Session key of the client address at login (shown in the user's session list).
pub const CLIENT_ADDR: &str = "addr";
/// Session key of the browser's `User-Agent` at login (shown in the user's session list).
pub const USER_AGENT: &str = "ua";
/// Longest `User-Agent` kept.
pub const MAX_USER_AGENT_CHARS: usize = 512;
/// How long a logged-in session lasts without being changed.
pub const LOGGED_IN_FOR: time::Duration = time::Duration::days(14);
/// How long an anonymous session (the login form's CSRF token) lasts.
pub const ANONYMOUS_FOR: time::Duration = time::Duration::hours(1);

/// Sessions stored in the `web_sessions` table.
#[derive(Clone)]
pub struct DbSessionStore {
    db: Db,
    /// Sessions whose last use is being recorded: a burst of page views of one session starts
    /// one write, not one each.
    touching: Arc<Mutex<HashSet<Id>>>,
}

impl std::fmt::Debug for DbSessionStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DbSessionStore")
    }
}

impl DbSessionStore {
    /// A store over `db`.
    pub fn new(db: Db) -> DbSessionStore {
        DbSessionStore {
            db,
            touching: Arc::default(),
        }
    }
}

fn backend(error: impl std::fmt::Display) -> session_store::Error {
    session_store::Error::Backend(error.to_string())
}

fn expiry_ms(record: &Record) -> i64 {
    i64::try_from(record.expiry_date.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

/// What the row records beside the data, read from the data.
fn meta(record: &Record) -> sessions::SessionMeta {
    let text = |key: &str| {
        record
            .data
            .get(key)
            .and_then(serde_json::Value::as_str)
            .map(str::to_owned)
    };
    sessions::SessionMeta {
        user_id: record.data.get(USER_ID).and_then(serde_json::Value::as_i64),
        client_addr: text(CLIENT_ADDR),
        user_agent: text(USER_AGENT),
    }
}

fn encode(record: &Record) -> session_store::Result<String> {
    serde_json::to_string(&record.data).map_err(|e| session_store::Error::Encode(e.to_string()))
}

#[async_trait]
impl SessionStore for DbSessionStore {
    async fn create(&self, record: &mut Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let meta = meta(record);
        let mut conn = self.db.write().await.map_err(backend)?;
        // Ids are 128 random bits; a collision is practically impossible, but never reuse one.
        while !sessions::insert(
            &mut conn.conn(),
            &record.id.to_string(),
            &data,
            &meta,
            expiry_ms(record),
            now_ms(),
        )
        .await
        .map_err(backend)?
        {
            record.id = Id::default();
        }
        Ok(())
    }

    async fn save(&self, record: &Record) -> session_store::Result<()> {
        let data = encode(record)?;
        let mut conn = self.db.write().await.map_err(backend)?;
        sessions::save(
            &mut conn.conn(),
            &record.id.to_string(),
            &data,
            &meta(record),
            expiry_ms(record),
            now_ms(),
        )
        .await
        .map_err(backend)
    }

    async fn load(&self, id: &Id) -> session_store::Result<Option<Record>> {
        // Every request loads its session: never a lagging replica (a login must be seen by the
        // very next request), and never SQLite's writer, which ingest batches hold.
        let mut conn = self.db.read_latest().await.map_err(backend)?;
        let now = now_ms();
        let Some(stored) = sessions::load(&mut conn.conn(), &id.to_string(), now)
            .await
            .map_err(backend)?
        else {
            return Ok(None);
        };
        drop(conn);
        let first = || self.touching.lock().is_ok_and(|mut set| set.insert(*id));
        if sessions::needs_touch(stored.last_seen_at, now) && first() {
            // In the background: a page view never waits for the writer (which ingest batches
            // hold), and at most one write a minute per session follows from page views.
            let db = self.db.clone();
            let touching = self.touching.clone();
            let id = *id;
            tokio::spawn(async move {
                let result = match db.write().await {
                    Ok(mut conn) => sessions::touch(&mut conn.conn(), &id.to_string(), now).await,
                    Err(error) => Err(error),
                };
                if let Err(error) = result {
                    tracing::warn!(%error, "could not record a session's last use");
                }
                if let Ok(mut set) = touching.lock() {
                    set.remove(&id);
                }
            });
        }
        let data = serde_json::from_str(&stored.data)
            .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        let expiry_date = time::OffsetDateTime::from_unix_timestamp_nanos(
            i128::from(stored.expires_at) * 1_000_000,
        )
        .map_err(|e| session_store::Error::Decode(e.to_string()))?;
        Ok(Some(Record {
            id: *id,
            data,
            expiry_date,
        }))
    }

    async fn delete(&self, id: &Id) -> session_store::Result<()> {
        let mut conn = self.db.write().await.map_err(backend)?;
        sessions::delete(&mut conn.conn(), &id.to_string())
            .await
            .map_err(backend)
    }
}

/// The session layer of the UI routes.
pub fn layer(state: &AppState) -> SessionManagerLayer<DbSessionStore> {
    let secure = state.config.public_url().starts_with("https://");
    SessionManagerLayer::new(DbSessionStore::new(state.db.clone()))
        .with_name(COOKIE)
        .with_http_only(true)
        .with_same_site(SameSite::Lax)
        .with_secure(secure)
        .with_path("/")
        .with_expiry(Expiry::OnInactivity(LOGGED_IN_FOR))
}

/// A fresh random CSRF token (256 bits, hex).
pub fn new_token() -> String {
    hex::encode(rand::random::<[u8; 32]>())
}

/// The session's CSRF token, created (and the session saved) if it has none yet.
pub async fn csrf_token(session: &Session) -> Result<String, tower_sessions::session::Error> {
    if let Some(token) = session.get::<String>(CSRF).await? {
        return Ok(token);
    }
    let token = new_token();
    session.insert(CSRF, &token).await?;
    Ok(token)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::time::Duration;

    use super::*;

    /// Far below SQLite's 60 s writer acquire timeout the old load waited out; a bound, not a
    /// benchmark.
    const BOUND: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn loading_a_session_does_not_queue_behind_a_write_transaction() {
        for t in errhound_test_utils::engines().await {
            let store = DbSessionStore::new(t.db.clone());
            let mut record = Record {
                id: Id::default(),
                data: [("uid".to_owned(), serde_json::json!(7))].into(),
                expiry_date: time::OffsetDateTime::now_utc() + ANONYMOUS_FOR,
            };
            store.create(&mut record).await.unwrap();
            // An ingest batch holding the writer (SQLite: the only write connection).
            let tx = t.db.begin().await.unwrap();
            let loaded = tokio::time::timeout(BOUND, store.load(&record.id))
                .await
                .unwrap_or_else(|_| panic!("{}: the session load waited for the writer", t.engine))
                .unwrap()
                .expect("the session just created");
            assert_eq!(loaded.data["uid"], 7, "{}", t.engine);
            drop(tx);
        }
    }

    #[tokio::test]
    async fn loading_a_session_records_its_use_once_a_minute_in_the_background() {
        for t in errhound_test_utils::engines().await {
            let store = DbSessionStore::new(t.db.clone());
            let id = Id::default();
            let mut conn = t.db.write().await.unwrap();
            let meta = sessions::SessionMeta::default();
            sessions::insert(
                &mut conn.conn(),
                &id.to_string(),
                "{}",
                &meta,
                now_ms() + 3_600_000,
                1000,
            )
            .await
            .unwrap();
            drop(conn);
            for _ in 0..5 {
                store.load(&id).await.unwrap().expect("the session");
            }
            let deadline = std::time::Instant::now() + BOUND;
            loop {
                let mut conn = t.db.read_latest().await.unwrap();
                let seen = sessions::load(&mut conn.conn(), &id.to_string(), 0)
                    .await
                    .unwrap()
                    .unwrap()
                    .last_seen_at
                    .unwrap();
                if seen > 1000 {
                    assert!(now_ms() - seen < BOUND.as_millis() as i64, "{}", t.engine);
                    break;
                }
                assert!(
                    std::time::Instant::now() < deadline,
                    "{}: the use was not recorded",
                    t.engine
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // The write is visible before its task forgets the session; wait for that too.
            while !store.touching.lock().unwrap().is_empty() {
                assert!(std::time::Instant::now() < deadline, "{}", t.engine);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            // Recorded just now: the next loads start no write.
            for _ in 0..5 {
                store.load(&id).await.unwrap().expect("the session");
            }
            assert!(store.touching.lock().unwrap().is_empty(), "{}", t.engine);
        }
    }
}
