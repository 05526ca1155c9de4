//! Body decoding on arbitrary bytes: the first byte picks a `Content-Encoding` header, the rest
//! is the body. Never panics, and never returns more than the output limit.
#![no_main]

use errhound_protocol::decode::{DecodeError, decode_body, parse_content_encoding};
use errhound_protocol::store::decode_store_body;
use libfuzzer_sys::fuzz_target;

const MAX_OUTPUT: usize = 1 << 20;

const HEADERS: [Option<&str>; 14] = [
    None,
    Some("identity"),
    Some("gzip"),
    Some("x-gzip"),
    Some("deflate"),
    Some("br"),
    Some("zstd"),
    Some("gzip, br"),
    Some("deflate, zstd"),
    Some("br, br"),
    Some(""),
    Some("UTF-8"),
    Some(" GZIP ,identity"),
    Some("compress"),
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, body)) = data.split_first() else {
        return;
    };
    let header = HEADERS[usize::from(selector) % HEADERS.len()];
    let codings = match parse_content_encoding(header) {
        Ok(codings) => codings,
        Err(DecodeError::Unsupported(_)) => return,
        Err(other) => panic!("parsing a header can only fail as unsupported: {other:?}"),
    };
    match decode_body(&codings, body, MAX_OUTPUT) {
        Ok(decoded) => {
            assert!(decoded.len() <= MAX_OUTPUT);
            if codings.is_empty() {
                assert_eq!(decoded, body);
            }
        }
        Err(DecodeError::TooLarge { limit }) => assert_eq!(limit, MAX_OUTPUT),
        Err(DecodeError::Corrupt { .. }) => assert!(!codings.is_empty()),
        Err(DecodeError::Unsupported(coding)) => panic!("unsupported {coding} after parsing"),
    }
    // The legacy store body (JSON, base64 JSON or base64 zlib JSON) on the same bytes.
    if selector & 0x80 != 0
        && let Ok(json) = decode_store_body(body.to_vec(), MAX_OUTPUT)
    {
        assert!(json.len() <= MAX_OUTPUT.max(body.len()));
    }
});
