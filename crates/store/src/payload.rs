//! Event payload encoding: normalized JSON compressed with zstd, stored apart from index rows.

use crate::StoreError;

/// zstd level for stored payloads: level 3 is zstd's default, a good ratio at ~300 MB/s.
const LEVEL: i32 = 3;
/// Decompressed payloads larger than this are refused (events are capped far below at ingest).
const MAX_DECOMPRESSED: usize = 64 << 20;

/// Compresses a normalized event for storage.
pub fn compress(json: &[u8]) -> Vec<u8> {
    // Compressing in memory does not fail in practice; if it ever did, the raw JSON is stored,
    // which `decompress` tells apart from a zstd frame by its first byte.
    zstd::bulk::compress(json, LEVEL).unwrap_or_else(|_| json.to_vec())
}

/// Restores the JSON bytes of a stored payload.
pub fn decompress(data: &[u8]) -> Result<Vec<u8>, StoreError> {
    if data.first() == Some(&b'{') {
        return Ok(data.to_vec());
    }
    let mut decoder =
        zstd::bulk::Decompressor::new().map_err(|e| StoreError::CorruptPayload(e.to_string()))?;
    let capacity = zstd::zstd_safe::get_frame_content_size(data)
        .ok()
        .flatten()
        .map_or(MAX_DECOMPRESSED, |n| (n as usize).min(MAX_DECOMPRESSED));
    decoder
        .decompress(data, capacity)
        .map_err(|e| StoreError::CorruptPayload(e.to_string()))
}

/// Decodes a stored payload into JSON.
pub fn decode_json(data: &[u8]) -> Result<serde_json::Value, StoreError> {
    let bytes = decompress(data)?;
    serde_json::from_slice(&bytes).map_err(|e| StoreError::CorruptPayload(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_compresses() {
        let json = serde_json::to_vec(&serde_json::json!({
            "message": "hello ".repeat(200),
            "tags": [["a", "b"]]
        }))
        .unwrap();
        let stored = compress(&json);
        assert!(stored.len() < json.len() / 4);
        assert_eq!(decompress(&stored).unwrap(), json);
        assert!(decompress(b"\x28\xb5\x2f\xfdgarbage").is_err());
    }
}
