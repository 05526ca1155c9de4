//! Request body decoding: `Content-Encoding` parsing and bounded decompression.
//!
//! Python sends gzip (or brotli when the `brotli` module is importable), Node sends gzip for bodies
//! over 32 KiB, and Relay also accepts deflate and zstd. Decompression output is capped, so a
//! decompression bomb costs at most `max_output + 1` bytes of memory before it is refused.

use std::io::{self, Read};

/// One content coding of a request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContentEncoding {
    /// Not compressed.
    Identity,
    /// gzip (RFC 1952), possibly several members.
    Gzip,
    /// HTTP `deflate`: zlib-wrapped (RFC 1950); raw deflate (RFC 1951) is accepted too, because
    /// some HTTP clients historically sent it under this name.
    Deflate,
    /// Brotli.
    Brotli,
    /// Zstandard.
    Zstd,
}

/// Why a body could not be decoded.
#[derive(Debug, thiserror::Error)]
pub enum DecodeError {
    /// A coding this server does not implement (HTTP 415).
    #[error("unsupported content encoding {0:?}")]
    Unsupported(String),
    /// The decompressed body is larger than the limit (HTTP 413).
    #[error("decompressed body exceeds {limit} bytes")]
    TooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The compressed stream is corrupt (HTTP 400).
    #[error("invalid {encoding:?} body: {source}")]
    Corrupt {
        /// The coding that failed.
        encoding: ContentEncoding,
        /// The decoder's error.
        source: io::Error,
    },
}

/// Parses a `Content-Encoding` header into the codings to undo, in the order they must be undone.
///
/// Junk values that real SDKs send are ignored: sentry-ruby 5 sends an empty string and
/// sentry-java android 2.0 sends `UTF-8` (Relay's `should_ignore_encoding`).
pub fn parse_content_encoding(header: Option<&str>) -> Result<Vec<ContentEncoding>, DecodeError> {
    let Some(header) = header else {
        return Ok(Vec::new());
    };
    let mut codings = Vec::new();
    for token in header.split(',') {
        let token = token.trim();
        let coding = match token.to_ascii_lowercase().as_str() {
            "" | "identity" | "utf-8" | "utf8" => continue,
            "gzip" | "x-gzip" => ContentEncoding::Gzip,
            "deflate" => ContentEncoding::Deflate,
            "br" => ContentEncoding::Brotli,
            "zstd" => ContentEncoding::Zstd,
            _ => return Err(DecodeError::Unsupported(token.to_owned())),
        };
        codings.push(coding);
    }
    // Codings are listed in the order they were applied; undo them last-first.
    codings.reverse();
    Ok(codings)
}

/// Undoes `codings` (as returned by [`parse_content_encoding`]) with at most `max_output` bytes
/// produced by each step.
pub fn decode_body(
    codings: &[ContentEncoding],
    body: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, DecodeError> {
    let Some((&first, rest)) = codings.split_first() else {
        if body.len() > max_output {
            return Err(DecodeError::TooLarge { limit: max_output });
        }
        return Ok(body.to_vec());
    };
    let mut data = decompress(first, body, max_output)?;
    for &coding in rest {
        data = decompress(coding, &data, max_output)?;
    }
    Ok(data)
}

/// Decompresses one coding, refusing to produce more than `max_output` bytes.
pub fn decompress(
    coding: ContentEncoding,
    input: &[u8],
    max_output: usize,
) -> Result<Vec<u8>, DecodeError> {
    let corrupt = |source| DecodeError::Corrupt {
        encoding: coding,
        source,
    };
    match coding {
        ContentEncoding::Identity => Ok(input.to_vec()),
        ContentEncoding::Gzip => read_bounded(
            flate2::read::MultiGzDecoder::new(input),
            max_output,
            input.len(),
        )
        .map_err(|e| e.into_decode_error(coding)),
        ContentEncoding::Deflate => {
            // Raw deflate has no header; a zlib stream starts with a CMF byte whose low nibble is 8
            // and whose two first bytes form a multiple of 31 (RFC 1950).
            let is_zlib = input.len() >= 2
                && input[0] & 0x0f == 8
                && (u16::from(input[0]) << 8 | u16::from(input[1])) % 31 == 0;
            let result = if is_zlib {
                read_bounded(
                    flate2::read::ZlibDecoder::new(input),
                    max_output,
                    input.len(),
                )
            } else {
                read_bounded(
                    flate2::read::DeflateDecoder::new(input),
                    max_output,
                    input.len(),
                )
            };
            result.map_err(|e| e.into_decode_error(coding))
        }
        ContentEncoding::Brotli => read_bounded(
            brotli::Decompressor::new(input, 4096),
            max_output,
            input.len(),
        )
        .map_err(|e| e.into_decode_error(coding)),
        ContentEncoding::Zstd => {
            let mut decoder = zstd::stream::read::Decoder::with_buffer(input).map_err(corrupt)?;
            // A frame may ask for a window of up to 128 MB; 8 MB is plenty for event bodies and
            // bounds the decoder's own memory.
            decoder.window_log_max(23).map_err(corrupt)?;
            read_bounded(decoder, max_output, input.len()).map_err(|e| e.into_decode_error(coding))
        }
    }
}

enum BoundedReadError {
    TooLarge(usize),
    Io(io::Error),
}

impl BoundedReadError {
    fn into_decode_error(self, encoding: ContentEncoding) -> DecodeError {
        match self {
            BoundedReadError::TooLarge(limit) => DecodeError::TooLarge { limit },
            BoundedReadError::Io(source) => DecodeError::Corrupt { encoding, source },
        }
    }
}

fn read_bounded(
    reader: impl Read,
    max_output: usize,
    _input_len: usize,
) -> Result<Vec<u8>, BoundedReadError> {
    // One allocation of the whole limit: untouched pages cost no memory, and the buffer never
    // reallocates (growing by doubling would briefly hold old and new copies, and round a 20 MB
    // limit up to 32 MB). Callers pass limits sized to what they expect.
    let limit = max_output.saturating_add(1);
    let mut out = Vec::with_capacity(limit);
    reader
        .take(limit as u64)
        .read_to_end(&mut out)
        .map_err(BoundedReadError::Io)?;
    if out.len() > max_output {
        return Err(BoundedReadError::TooLarge(max_output));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const TEXT: &[u8] = b"{\"message\":\"hello\"}\n{\"type\":\"event\"}\n{}";

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut enc = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut enc =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    fn brotli(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        {
            let mut enc = brotli::CompressorWriter::new(&mut out, 4096, 4, 22);
            enc.write_all(data).unwrap();
        }
        out
    }

    fn decode(header: &str, body: Vec<u8>) -> Result<Vec<u8>, DecodeError> {
        let codings = parse_content_encoding(Some(header))?;
        decode_body(&codings, &body, 1 << 20)
    }

    #[test]
    fn every_encoding_round_trips() {
        assert_eq!(decode("gzip", gzip(TEXT)).unwrap(), TEXT);
        assert_eq!(decode("deflate", zlib(TEXT)).unwrap(), TEXT);
        assert_eq!(decode("deflate", raw_deflate(TEXT)).unwrap(), TEXT);
        assert_eq!(decode("br", brotli(TEXT)).unwrap(), TEXT);
        assert_eq!(
            decode("zstd", zstd::encode_all(TEXT, 3).unwrap()).unwrap(),
            TEXT
        );
        assert_eq!(decode("identity", TEXT.to_vec()).unwrap(), TEXT);
    }

    #[test]
    fn junk_encodings_from_old_sdks_are_ignored() {
        // sentry-ruby 5.x sends "", sentry-java android 2.0.0 sends "UTF-8".
        assert_eq!(decode("", TEXT.to_vec()).unwrap(), TEXT);
        assert_eq!(decode("UTF-8", TEXT.to_vec()).unwrap(), TEXT);
    }

    #[test]
    fn output_buffer_never_grows_past_the_limit() {
        let data = vec![7u8; 3 << 20];
        let compressed = gzip(&data);
        let out = decode_body(&[ContentEncoding::Gzip], &compressed, 4 << 20).unwrap();
        assert_eq!(out, data);
        assert!(
            out.capacity() <= (4 << 20) + 1,
            "capacity {}",
            out.capacity()
        );
    }

    #[test]
    fn stacked_encodings_are_undone_last_first() {
        let body = brotli(&gzip(TEXT));
        assert_eq!(decode("gzip, br", body).unwrap(), TEXT);
    }

    #[test]
    fn unknown_encoding_is_unsupported() {
        assert!(matches!(
            decode("compress", TEXT.to_vec()),
            Err(DecodeError::Unsupported(_))
        ));
    }

    #[test]
    fn corrupt_streams_are_errors_not_panics() {
        for header in ["gzip", "deflate", "br", "zstd"] {
            let result = decode(header, b"definitely not compressed".to_vec());
            assert!(
                matches!(result, Err(DecodeError::Corrupt { .. })),
                "{header}: {result:?}"
            );
        }
        // A truncated gzip stream.
        let mut truncated = gzip(TEXT);
        truncated.truncate(truncated.len() / 2);
        assert!(matches!(
            decode("gzip", truncated),
            Err(DecodeError::Corrupt { .. })
        ));
    }

    #[test]
    fn bombs_stop_at_the_limit() {
        let zeros = vec![0u8; 50 << 20];
        let bombs = [
            ("gzip", gzip(&zeros)),
            ("deflate", zlib(&zeros)),
            ("br", brotli(&zeros)),
            ("zstd", zstd::encode_all(&zeros[..], 3).unwrap()),
        ];
        for (header, bomb) in bombs {
            assert!(bomb.len() < 1 << 20, "{header} bomb is small on the wire");
            let codings = parse_content_encoding(Some(header)).unwrap();
            let result = decode_body(&codings, &bomb, 1 << 20);
            assert!(
                matches!(result, Err(DecodeError::TooLarge { limit }) if limit == 1 << 20),
                "{header}"
            );
        }
    }
}
