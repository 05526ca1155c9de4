//! Envelope framing (protocol.md §3).
//!
//! ```text
//! Envelope = Headers { "\n" Item } [ "\n" ]
//! Item     = Headers "\n" Payload
//! ```
//!
//! Each header is one line of JSON. An item with a `length` header has exactly that many payload
//! bytes, followed by a newline or the end of the body (Python and Rust send `length`); without
//! `length` the payload runs to the next newline or the end (Node omits it on JSON items).
//! Payloads are slices of the request body; nothing is copied.

use bytes::Bytes;
use serde::Deserialize;

use crate::EventId;

/// Parsing limits, so that a hostile body cannot make the server do unbounded work.
#[derive(Debug, Clone, Copy)]
pub struct EnvelopeLimits {
    /// Maximum number of items in one envelope.
    pub max_items: usize,
}

impl Default for EnvelopeLimits {
    fn default() -> Self {
        EnvelopeLimits { max_items: 1000 }
    }
}

/// A parsed envelope.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// The envelope header line.
    pub headers: EnvelopeHeaders,
    /// The items in order.
    pub items: Vec<Item>,
}

/// The envelope headers the server uses; unknown keys are tolerated and ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct EnvelopeHeaders {
    /// The id of the event item, if any (simple or hyphenated).
    #[serde(default)]
    pub event_id: Option<EventId>,
    /// A DSN, which relay-era clients may send instead of other authentication.
    #[serde(default)]
    pub dsn: Option<String>,
    /// When the SDK sent the envelope (RFC 3339); drives clock-drift correction.
    #[serde(default, deserialize_with = "lenient_string")]
    pub sent_at: Option<String>,
}

/// One envelope item.
#[derive(Debug, Clone)]
pub struct Item {
    /// The item type.
    pub ty: ItemType,
    /// The `content_type` header, if any.
    pub content_type: Option<String>,
    /// The `filename` header of attachments.
    pub filename: Option<String>,
    /// The payload bytes (a slice of the request body).
    pub payload: Bytes,
}

/// Item types (Relay's `ItemType`); anything else is [`ItemType::Unknown`] and must be tolerated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[allow(missing_docs)]
pub enum ItemType {
    Event,
    Transaction,
    Attachment,
    Session,
    Sessions,
    ClientReport,
    CheckIn,
    Log,
    Span,
    Feedback,
    UserReport,
    Profile,
    ProfileChunk,
    ReplayEvent,
    ReplayRecording,
    ReplayVideo,
    Statsd,
    MetricBuckets,
    TraceMetric,
    Unknown(String),
}

impl ItemType {
    /// Maps the `type` header value.
    pub fn from_name(name: &str) -> ItemType {
        match name {
            "event" => ItemType::Event,
            "transaction" => ItemType::Transaction,
            "attachment" => ItemType::Attachment,
            "session" => ItemType::Session,
            "sessions" => ItemType::Sessions,
            "client_report" => ItemType::ClientReport,
            "check_in" => ItemType::CheckIn,
            "log" => ItemType::Log,
            "span" => ItemType::Span,
            "feedback" => ItemType::Feedback,
            "user_report" => ItemType::UserReport,
            "profile" => ItemType::Profile,
            "profile_chunk" => ItemType::ProfileChunk,
            "replay_event" => ItemType::ReplayEvent,
            "replay_recording" => ItemType::ReplayRecording,
            "replay_video" => ItemType::ReplayVideo,
            "statsd" => ItemType::Statsd,
            "metric_buckets" => ItemType::MetricBuckets,
            "trace_metric" => ItemType::TraceMetric,
            other => ItemType::Unknown(other.to_owned()),
        }
    }

    /// The rate-limit data category of the item (protocol.md §3), as used in
    /// `X-Sentry-Rate-Limits` and client reports.
    pub fn data_category(&self) -> &'static str {
        match self {
            ItemType::Event => "error",
            ItemType::Transaction => "transaction",
            ItemType::Attachment => "attachment",
            ItemType::Session | ItemType::Sessions => "session",
            ItemType::ClientReport => "internal",
            ItemType::CheckIn => "monitor",
            ItemType::Log => "log_item",
            ItemType::Span => "span",
            ItemType::Feedback | ItemType::UserReport => "user_report_v2",
            ItemType::Profile => "profile",
            ItemType::ProfileChunk => "profile_chunk",
            ItemType::ReplayEvent | ItemType::ReplayRecording | ItemType::ReplayVideo => "replay",
            ItemType::Statsd | ItemType::MetricBuckets => "metric_bucket",
            ItemType::TraceMetric => "trace_metric",
            ItemType::Unknown(_) => "default",
        }
    }
}

/// Why an envelope did not parse. All of these are client errors (HTTP 400).
#[derive(Debug, thiserror::Error)]
pub enum EnvelopeError {
    /// The body is empty.
    #[error("empty envelope")]
    Empty,
    /// The envelope header line is not a JSON object of the expected shape.
    #[error("invalid envelope header: {0}")]
    InvalidHeader(serde_json::Error),
    /// An item header line is not a JSON object with a `type`.
    #[error("invalid item header: {0}")]
    InvalidItemHeader(serde_json::Error),
    /// A `length`-framed payload is not followed by a newline or the end of the body.
    #[error("missing newline after header or payload")]
    MissingNewline,
    /// A `length` header promises more bytes than the body has.
    #[error("unexpected end of file")]
    UnexpectedEof,
    /// More items than [`EnvelopeLimits::max_items`].
    #[error("envelope has more than {0} items")]
    TooManyItems(usize),
}

#[derive(Deserialize)]
struct RawItemHeader {
    #[serde(rename = "type")]
    ty: String,
    #[serde(default)]
    length: Option<u64>,
    #[serde(default, deserialize_with = "lenient_string")]
    content_type: Option<String>,
    #[serde(default, deserialize_with = "lenient_string")]
    filename: Option<String>,
}

/// Accepts a string, or treats any other JSON value as absent (headers we only read for hints).
fn lenient_string<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(match value {
        serde_json::Value::String(s) => Some(s),
        _ => None,
    })
}

impl Envelope {
    /// Parses an envelope body.
    pub fn parse(body: Bytes, limits: EnvelopeLimits) -> Result<Envelope, EnvelopeError> {
        if body.iter().all(u8::is_ascii_whitespace) {
            return Err(EnvelopeError::Empty);
        }
        let (header_line, mut pos) = next_line(&body, 0);
        let headers: EnvelopeHeaders =
            serde_json::from_slice(header_line).map_err(EnvelopeError::InvalidHeader)?;
        let mut items = Vec::new();
        while pos < body.len() {
            // Tolerate blank lines between items and at the end.
            if body[pos] == b'\n' || body[pos] == b'\r' && body.get(pos + 1) == Some(&b'\n') {
                pos += if body[pos] == b'\n' { 1 } else { 2 };
                continue;
            }
            if items.len() >= limits.max_items {
                return Err(EnvelopeError::TooManyItems(limits.max_items));
            }
            let (item_line, after_header) = next_line(&body, pos);
            let raw: RawItemHeader =
                serde_json::from_slice(item_line).map_err(EnvelopeError::InvalidItemHeader)?;
            let (payload, next) = match raw.length {
                Some(length) => {
                    let length =
                        usize::try_from(length).map_err(|_| EnvelopeError::UnexpectedEof)?;
                    let end = after_header
                        .checked_add(length)
                        .filter(|&end| end <= body.len())
                        .ok_or(EnvelopeError::UnexpectedEof)?;
                    let next = match body.get(end) {
                        None => end,
                        Some(b'\n') => end + 1,
                        Some(_) => return Err(EnvelopeError::MissingNewline),
                    };
                    (body.slice(after_header..end), next)
                }
                None => {
                    let (line, next) = next_line(&body, after_header);
                    let start = after_header.min(body.len());
                    (body.slice(start..start + line.len()), next)
                }
            };
            items.push(Item {
                ty: ItemType::from_name(&raw.ty),
                content_type: raw.content_type,
                filename: raw.filename,
                payload,
            });
            pos = next;
        }
        Ok(Envelope { headers, items })
    }
}

/// The line starting at `pos` (without its `\n`) and the position after the newline.
fn next_line(body: &[u8], pos: usize) -> (&[u8], usize) {
    if pos >= body.len() {
        return (&[], body.len());
    }
    match body[pos..].iter().position(|&b| b == b'\n') {
        Some(offset) => (&body[pos..pos + offset], pos + offset + 1),
        None => (&body[pos..], body.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &[u8]) -> Result<Envelope, EnvelopeError> {
        Envelope::parse(Bytes::copy_from_slice(text), EnvelopeLimits::default())
    }

    #[test]
    fn python_event_with_attachment_length_framed() {
        let body = b"{\"event_id\":\"ce1dc23d2a7f4bba8a1b2c3d4e5f6a7b\",\"sent_at\":\"2026-11-25T00:16:07.299599Z\",\"trace\":{\"trace_id\":\"8be3\",\"environment\":\"staging\"}}\n\
{\"type\":\"event\",\"content_type\":\"application/json\",\"length\":19}\n\
{\"message\":\"hello\"}\n\
{\"filename\":\"a.txt\",\"type\":\"attachment\",\"content_type\":\"text/plain\",\"length\":17}\n\
hello attachment\n\n";
        let env = parse(body).unwrap();
        assert_eq!(
            env.headers.event_id.unwrap().to_string(),
            "ce1dc23d2a7f4bba8a1b2c3d4e5f6a7b"
        );
        assert_eq!(
            env.headers.sent_at.as_deref(),
            Some("2026-11-25T00:16:07.299599Z")
        );
        assert_eq!(env.items.len(), 2);
        assert_eq!(env.items[0].ty, ItemType::Event);
        assert_eq!(&env.items[0].payload[..], b"{\"message\":\"hello\"}");
        assert_eq!(env.items[1].ty, ItemType::Attachment);
        assert_eq!(env.items[1].filename.as_deref(), Some("a.txt"));
        assert_eq!(&env.items[1].payload[..], b"hello attachment\n");
    }

    #[test]
    fn node_items_without_length_and_without_final_newline() {
        let body = b"{\"event_id\":\"5dd0f7644d3c4b0e9f1a2b3c4d5e6f70\",\"sent_at\":\"2026-11-25T00:16:37.298Z\",\"sdk\":{\"name\":\"sentry.javascript.node\",\"version\":\"11.12.0\"}}\n\
{\"type\":\"event\"}\n\
{\"exception\":{\"values\":[]}}\n\
{\"type\":\"session\"}\n\
{\"sid\":\"x\"}";
        let env = parse(body).unwrap();
        assert_eq!(env.items.len(), 2);
        assert_eq!(
            &env.items[0].payload[..],
            b"{\"exception\":{\"values\":[]}}"
        );
        assert_eq!(env.items[1].ty, ItemType::Session);
        assert_eq!(&env.items[1].payload[..], b"{\"sid\":\"x\"}");
    }

    #[test]
    fn rust_hyphenated_event_id_and_session_next_to_event() {
        let body = b"{\"event_id\":\"8d318f70-1258-49e2-9dcf-2afa581ef54f\"}\n\
{\"type\":\"event\",\"length\":2}\n{}\n{\"type\":\"session\",\"length\":2}\n{}";
        let env = parse(body).unwrap();
        assert_eq!(
            env.headers.event_id.unwrap().to_string(),
            "8d318f70125849e29dcf2afa581ef54f"
        );
        assert_eq!(env.items.len(), 2);
    }

    #[test]
    fn binary_attachment_containing_newlines() {
        let mut body = b"{}\n{\"type\":\"attachment\",\"length\":5}\n".to_vec();
        body.extend_from_slice(b"a\nb\r\n");
        body.extend_from_slice(b"\n{\"type\":\"event\",\"length\":2}\n{}\n");
        let env = parse(&body).unwrap();
        assert_eq!(&env.items[0].payload[..], b"a\nb\r\n");
        assert_eq!(env.items[1].ty, ItemType::Event);
    }

    #[test]
    fn empty_payloads() {
        // Header at EOF: implicit empty payload (relay test_deserialize_envelope_implicit_length_empty_eof).
        let env = parse(b"{}\n{\"type\":\"attachment\"}").unwrap();
        assert_eq!(env.items[0].payload.len(), 0);
        let env = parse(b"{}\n{\"type\":\"attachment\",\"length\":0}\n\n").unwrap();
        assert_eq!(env.items.len(), 1);
        assert_eq!(env.items[0].payload.len(), 0);
        let env = parse(b"{}\n{\"type\":\"attachment\",\"length\":0}").unwrap();
        assert_eq!(env.items[0].payload.len(), 0);
    }

    #[test]
    fn header_only_envelope_and_unknown_types() {
        assert_eq!(parse(b"{}").unwrap().items.len(), 0);
        assert_eq!(parse(b"{}\n").unwrap().items.len(), 0);
        let env = parse(b"{\"future\":1}\n{\"type\":\"hologram\",\"length\":3}\nabc").unwrap();
        assert_eq!(env.items[0].ty, ItemType::Unknown("hologram".into()));
    }

    #[test]
    fn carriage_return_is_payload() {
        let env = parse(b"{}\n{\"type\":\"event\"}\n{}\r\n").unwrap();
        assert_eq!(&env.items[0].payload[..], b"{}\r");
    }

    #[test]
    fn framing_errors() {
        assert!(matches!(parse(b""), Err(EnvelopeError::Empty)));
        assert!(matches!(parse(b"  \n"), Err(EnvelopeError::Empty)));
        assert!(matches!(
            parse(b"not json\n"),
            Err(EnvelopeError::InvalidHeader(_))
        ));
        assert!(matches!(
            parse(b"{\"event_id\":\"nope\"}\n"),
            Err(EnvelopeError::InvalidHeader(_))
        ));
        assert!(matches!(
            parse(b"{}\n{\"length\":2}\n{}"),
            Err(EnvelopeError::InvalidItemHeader(_))
        ));
        assert!(matches!(
            parse(b"{}\n{\"type\":\"event\",\"length\":10}\n{}"),
            Err(EnvelopeError::UnexpectedEof)
        ));
        assert!(matches!(
            parse(b"{}\n{\"type\":\"event\",\"length\":1}\n{}"),
            Err(EnvelopeError::MissingNewline)
        ));
        assert!(matches!(
            parse(b"{}\n{\"type\":\"event\",\"length\":18446744073709551615}\n{}"),
            Err(EnvelopeError::UnexpectedEof)
        ));
    }

    #[test]
    fn item_count_is_limited() {
        let mut body = b"{}\n".to_vec();
        for _ in 0..5 {
            body.extend_from_slice(b"{\"type\":\"client_report\"}\n{}\n");
        }
        let limits = EnvelopeLimits { max_items: 4 };
        assert!(matches!(
            Envelope::parse(Bytes::from(body), limits),
            Err(EnvelopeError::TooManyItems(4))
        ));
    }

    proptest::proptest! {
        #[test]
        fn never_panics_on_arbitrary_bytes(body in proptest::collection::vec(proptest::num::u8::ANY, 0..512)) {
            let _ = parse(&body);
        }

        #[test]
        fn length_framed_payloads_round_trip(payloads in proptest::collection::vec(proptest::collection::vec(proptest::num::u8::ANY, 0..64), 0..8)) {
            let mut body = b"{}\n".to_vec();
            for p in &payloads {
                body.extend_from_slice(format!("{{\"type\":\"attachment\",\"length\":{}}}\n", p.len()).as_bytes());
                body.extend_from_slice(p);
                body.push(b'\n');
            }
            let env = parse(&body).unwrap();
            let got: Vec<Vec<u8>> = env.items.iter().map(|i| i.payload.to_vec()).collect();
            proptest::prop_assert_eq!(got, payloads);
        }
    }
}
