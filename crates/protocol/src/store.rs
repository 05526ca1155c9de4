//! The legacy `/api/{project_id}/store/` body: one event as JSON, or, from ancient raven clients,
//! base64 of JSON or base64 of zlib-compressed JSON (Relay's `endpoints/store.rs`).

use base64::Engine as _;

use crate::decode::{ContentEncoding, DecodeError, decompress};

/// Unwraps a store body into event JSON bytes, with at most `max_output` bytes produced.
pub fn decode_store_body(body: Vec<u8>, max_output: usize) -> Result<Vec<u8>, DecodeError> {
    if starts_with_brace(&body) {
        return Ok(body);
    }
    let trimmed: Vec<u8> = body
        .iter()
        .copied()
        .filter(|b| !b.is_ascii_whitespace())
        .collect();
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(&trimmed)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(&trimmed))
        .map_err(|e| DecodeError::Corrupt {
            encoding: ContentEncoding::Identity,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })?;
    if starts_with_brace(&decoded) {
        return Ok(decoded);
    }
    decompress(ContentEncoding::Deflate, &decoded, max_output)
}

fn starts_with_brace(data: &[u8]) -> bool {
    data.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{')
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    #[test]
    fn plain_base64_and_base64_zlib() {
        let json = br#"{"message":"hi"}"#;
        assert_eq!(decode_store_body(json.to_vec(), 1024).unwrap(), json);
        let b64 = base64::engine::general_purpose::STANDARD.encode(json);
        assert_eq!(decode_store_body(b64.into_bytes(), 1024).unwrap(), json);
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(json).unwrap();
        let b64z = base64::engine::general_purpose::STANDARD.encode(enc.finish().unwrap());
        assert_eq!(decode_store_body(b64z.into_bytes(), 1024).unwrap(), json);
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode_store_body(b"%%%".to_vec(), 1024).is_err());
    }
}
