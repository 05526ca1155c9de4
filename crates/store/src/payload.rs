//! Event payload encoding: normalized JSON compressed with zstd, stored apart from index rows.
//!
//! Events of one project repeat most of their bytes (module lists, stack frames, context lines,
//! SDK info), so each project gets a zstd **dictionary** trained on its own first events
//! ([`PayloadDictionaries`]). With it a 7 KB Python event stores in ~0.5 KB instead of ~2.8 KB.
//! Every payload is a standard zstd frame whose header names the dictionary it needs (the
//! dictionary id is the `payload_dicts` row id), so old payloads stay readable forever and
//! payloads written before a dictionary existed simply have none.
//!
//! Compression contexts are per thread and reused: creating one zeroes about a megabyte.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use zstd::zstd_safe::{CCtx, CDict, DCtx, DDict};

use crate::StoreError;
use crate::query::{Conn, Int, Query};

/// zstd level for stored payloads (zstd's default: a good ratio at several hundred MB/s).
const LEVEL: i32 = 3;
/// Decompressed payloads larger than this are refused (events are capped far below at ingest).
const MAX_DECOMPRESSED: usize = 64 << 20;
/// Size of trained dictionaries (zstd's recommended ~100 KB).
pub const DICTIONARY_BYTES: usize = 112 * 1024;

thread_local! {
    static CCTX: RefCell<CCtx<'static>> = RefCell::new(CCtx::create());
    static DCTX: RefCell<DCtx<'static>> = RefCell::new(DCtx::create());
}

/// A trained dictionary, prepared for compression and decompression.
pub struct Dictionary {
    /// The `payload_dicts` row id, also written into every frame that uses it.
    pub id: u32,
    cdict: CDict<'static>,
    ddict: DDict<'static>,
}

impl Dictionary {
    /// Prepares raw dictionary bytes (whose header already carries `id`).
    pub fn from_bytes(id: u32, bytes: &[u8]) -> Result<Dictionary, StoreError> {
        let corrupt = || StoreError::CorruptPayload(format!("dictionary {id} is unusable"));
        Ok(Dictionary {
            id,
            cdict: CDict::try_create(bytes, LEVEL).ok_or_else(corrupt)?,
            ddict: DDict::try_create(bytes).ok_or_else(corrupt)?,
        })
    }
}

/// Compresses a normalized event for storage, with the project's dictionary when it has one.
pub fn compress(json: &[u8], dictionary: Option<&Dictionary>) -> Vec<u8> {
    let mut out = Vec::with_capacity(zstd::zstd_safe::compress_bound(json.len()));
    let result = CCTX.with(|cctx| {
        let mut cctx = cctx.borrow_mut();
        match dictionary {
            Some(dict) => cctx.compress_using_cdict(&mut out, json, &dict.cdict),
            None => cctx.compress(&mut out, json, LEVEL),
        }
    });
    match result {
        Ok(_) => out,
        // Compressing in memory does not fail in practice; if it ever did, the raw JSON is
        // stored, which `decompress` tells apart from a zstd frame by its first byte.
        Err(_) => json.to_vec(),
    }
}

/// Restores the JSON bytes of a stored payload. `dictionary` must be the one named in the
/// frame (see [`dictionary_id`]).
pub fn decompress(data: &[u8], dictionary: Option<&Dictionary>) -> Result<Vec<u8>, StoreError> {
    if data.first() == Some(&b'{') {
        return Ok(data.to_vec());
    }
    let capacity = zstd::zstd_safe::get_frame_content_size(data)
        .ok()
        .flatten()
        .ok_or_else(|| StoreError::CorruptPayload("payload frame has no size".to_owned()))?;
    let capacity = usize::try_from(capacity)
        .ok()
        .filter(|&n| n <= MAX_DECOMPRESSED)
        .ok_or_else(|| StoreError::CorruptPayload("payload too large".to_owned()))?;
    let mut out = Vec::with_capacity(capacity);
    DCTX.with(|dctx| {
        let mut dctx = dctx.borrow_mut();
        match dictionary {
            Some(dict) => dctx.decompress_using_ddict(&mut out, data, &dict.ddict),
            None => dctx.decompress(&mut out, data),
        }
    })
    .map_err(|code| StoreError::CorruptPayload(zstd::zstd_safe::get_error_name(code).to_owned()))?;
    Ok(out)
}

/// The dictionary a stored payload needs, if any.
pub fn dictionary_id(data: &[u8]) -> Option<u32> {
    if data.first() == Some(&b'{') {
        return None;
    }
    zstd::zstd_safe::get_dict_id_from_frame(data).map(|id| id.get())
}

/// The dictionaries known to this process, by id and by project. Loaded lazily from the
/// `payload_dicts` table, so several processes sharing a database see each other's.
#[derive(Default)]
pub struct PayloadDictionaries {
    by_id: RwLock<HashMap<u32, Arc<Dictionary>>>,
    by_project: RwLock<HashMap<i64, u32>>,
}

#[derive(sqlx::FromRow)]
struct DictRow {
    id: i64,
    project_id: i64,
    data: Vec<u8>,
}

impl PayloadDictionaries {
    /// An empty registry.
    pub fn new() -> PayloadDictionaries {
        PayloadDictionaries::default()
    }

    /// Loads every dictionary (they are few: at most one or two per project).
    pub async fn load_all(&self, conn: &mut Conn<'_>) -> Result<(), StoreError> {
        let rows: Vec<DictRow> =
            Query::new("SELECT id, project_id, data FROM payload_dicts ORDER BY id")
                .fetch_all(conn)
                .await?;
        for row in rows {
            self.remember(row)?;
        }
        Ok(())
    }

    fn remember(&self, row: DictRow) -> Result<Arc<Dictionary>, StoreError> {
        let id = u32::try_from(row.id).map_err(|_| {
            StoreError::CorruptPayload(format!("dictionary id {} too large", row.id))
        })?;
        let dict = Arc::new(Dictionary::from_bytes(id, &row.data)?);
        self.by_id
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(id, dict.clone());
        let mut by_project = self.by_project.write().unwrap_or_else(|e| e.into_inner());
        let current = by_project.entry(row.project_id).or_insert(id);
        *current = (*current).max(id);
        Ok(dict)
    }

    /// The dictionary new payloads of `project_id` are compressed with.
    pub fn for_project(&self, project_id: i64) -> Option<Arc<Dictionary>> {
        let id = *self
            .by_project
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&project_id)?;
        self.by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
            .cloned()
    }

    /// Whether `project_id` has a dictionary.
    pub fn has_project(&self, project_id: i64) -> bool {
        self.by_project
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(&project_id)
    }

    /// Decodes a stored payload, loading its dictionary from the database if needed.
    pub async fn decode(&self, conn: &mut Conn<'_>, data: &[u8]) -> Result<Vec<u8>, StoreError> {
        let dictionary = match dictionary_id(data) {
            None => None,
            Some(id) => Some(self.get_or_load(conn, id).await?),
        };
        decompress(data, dictionary.as_deref())
    }

    /// Decodes a stored payload into JSON.
    pub async fn decode_json(
        &self,
        conn: &mut Conn<'_>,
        data: &[u8],
    ) -> Result<serde_json::Value, StoreError> {
        let bytes = self.decode(conn, data).await?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::CorruptPayload(e.to_string()))
    }

    async fn get_or_load(
        &self,
        conn: &mut Conn<'_>,
        id: u32,
    ) -> Result<Arc<Dictionary>, StoreError> {
        if let Some(dict) = self
            .by_id
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(&id)
        {
            return Ok(dict.clone());
        }
        let row: Option<DictRow> =
            Query::new("SELECT id, project_id, data FROM payload_dicts WHERE id = $1")
                .bind(i64::from(id))
                .fetch_optional(conn)
                .await?;
        let row =
            row.ok_or_else(|| StoreError::CorruptPayload(format!("dictionary {id} is missing")))?;
        self.remember(row)
    }

    /// Stores a dictionary from [`train`] and makes it the project's current one.
    pub async fn store_trained(
        &self,
        conn: &mut Conn<'_>,
        project_id: i64,
        mut trained: Vec<u8>,
        now_ms: i64,
    ) -> Result<Arc<Dictionary>, StoreError> {
        // Reserve the row first: the dictionary carries its row id in its header (bytes 4..8 of
        // the zstd dictionary format), which zstd then writes into every frame it produces.
        let row: Int = Query::new(
            "INSERT INTO payload_dicts (project_id, data, created_at) VALUES ($1, $2, $3) \
             RETURNING id AS value",
        )
        .bind(project_id)
        .bind(Vec::new())
        .bind(now_ms)
        .fetch_one(conn)
        .await?;
        let id = u32::try_from(row.value)
            .map_err(|_| StoreError::CorruptPayload("dictionary id overflow".to_owned()))?;
        if trained.len() < 8 {
            return Err(StoreError::CorruptPayload(
                "trained dictionary is empty".to_owned(),
            ));
        }
        trained[4..8].copy_from_slice(&id.to_le_bytes());
        Query::new("UPDATE payload_dicts SET data = $1 WHERE id = $2")
            .bind(trained.clone())
            .bind(row.value)
            .execute(conn)
            .await?;
        self.remember(DictRow {
            id: row.value,
            project_id,
            data: trained,
        })
    }
}

/// Trains a dictionary from sample payloads. CPU-heavy (about a second for a thousand events):
/// call it on a blocking thread.
pub fn train(samples: &[Vec<u8>]) -> Result<Vec<u8>, StoreError> {
    zstd::dict::from_samples(samples, DICTIONARY_BYTES)
        .map_err(|e| StoreError::CorruptPayload(format!("dictionary training failed: {e}")))
}

/// Decodes a payload stored without a dictionary (tests, tools).
pub fn decode_plain_json(data: &[u8]) -> Result<serde_json::Value, StoreError> {
    let bytes = decompress(data, None)?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::CorruptPayload(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_without_a_dictionary() {
        let json = serde_json::to_vec(&serde_json::json!({
            "message": "hello ".repeat(200),
            "tags": [["a", "b"]]
        }))
        .unwrap();
        let stored = compress(&json, None);
        assert!(stored.len() < json.len() / 4);
        assert_eq!(dictionary_id(&stored), None);
        assert_eq!(decompress(&stored, None).unwrap(), json);
        assert!(decompress(b"\x28\xb5\x2f\xfdgarbage", None).is_err());
    }
}
