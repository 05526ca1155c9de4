//! Hostile and unusual input at the ingest endpoints: decompression bombs, oversized and endless
//! bodies, deep nesting, broken UTF-8 and framing, bad authentication, every item type, CORS,
//! every content coding, the legacy store endpoint, and a burst mixing good and bad requests.
//!
//! Every test checks the exact status (protocol.md §5 and §8) and then that the server still
//! serves: `/_health` answers and a valid event is accepted and processed.

use std::io::Write;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use base64::Engine as _;
use errhound_test_utils::TestServer;
use reqwest::header::HeaderMap;
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::binary;

const KIB: usize = 1 << 10;
const MIB: usize = 1 << 20;
/// Decompressed size of every bomb.
const BOMB_BYTES: usize = 128 * MIB;
/// The server's memory may never come near the size of a bomb.
const RSS_LIMIT: u64 = 300 * MIB as u64;
/// The default `ingest.max_decompressed_bytes`.
const MAX_DECOMPRESSED: u64 = 20 * MIB as u64;
/// The default `ingest.max_inflight_bytes`.
const INFLIGHT_BUDGET: u64 = 128 * MIB as u64;
/// What decoders keep besides their output: up to 4 at once (`DECODE_SLOTS`), each with a window
/// of at most 16 MiB (brotli; zstd is capped at 8 MiB).
const DECODER_WINDOWS: u64 = 4 * 16 * MIB as u64;
/// What processing events adds to an idle server: the worker's batch and zstd contexts, SQLite's
/// page caches, the allocator's per-thread heaps of the blocking pool that decoded and
/// processed them. The whole burst measured 150-165 MiB above idle alone and up to ~200 MiB on
/// a loaded machine; a leak or an unbounded decode costs multiples of a bomb (128 MiB) instead.
const PROCESSING_WORKING_SET: u64 = 48 * MIB as u64;
/// What a 200 MB upload declares or streams.
const HUGE_BODY: usize = 200_000_000;
/// The default `ingest.max_compressed_bytes`.
const MAX_COMPRESSED: usize = 20 * MIB;
/// Content codings the server decodes, as sent in `Content-Encoding`.
const CODINGS: [&str; 4] = ["gzip", "deflate", "br", "zstd"];

/// A response, read completely.
pub(crate) struct Answer {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

impl Answer {
    pub async fn read(response: reqwest::Response) -> Answer {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.text().await.expect("a response body");
        Answer {
            status,
            headers,
            body,
        }
    }

    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("response is not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name} header in {:?}", self.headers))
            .to_str()
            .unwrap()
    }

    /// Why this is not an error `status` with Relay's `{"detail": ...}` JSON body mentioning
    /// `needle`; `None` when it is.
    pub fn error_mismatch(&self, status: u16, needle: &str) -> Option<String> {
        if self.status != status {
            return Some(format!("status {} (body {})", self.status, self.body));
        }
        let detail = serde_json::from_str::<Value>(&self.body)
            .ok()
            .and_then(|v| v["detail"].as_str().map(str::to_owned));
        let Some(detail) = detail else {
            return Some(format!("no JSON detail in {:?}", self.body));
        };
        if !detail.contains(needle) {
            return Some(format!("detail {detail:?} does not mention {needle:?}"));
        }
        let content_type = self
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        if !content_type.starts_with("application/json") {
            return Some(format!("content type {content_type:?}"));
        }
        None
    }

    /// Asserts an error status with Relay's `{"detail": ...}` body mentioning `needle`.
    #[track_caller]
    pub fn assert_error(&self, status: u16, needle: &str) {
        if let Some(problem) = self.error_mismatch(status, needle) {
            panic!("expected {status}: {problem}");
        }
    }

    /// Asserts `200 {}`: accepted, no event.
    #[track_caller]
    pub fn assert_accepted_without_event(&self) {
        assert_eq!(self.status, 200, "body: {}", self.body);
        assert_eq!(self.json(), json!({}));
    }

    /// Asserts `200 {"id": id}`.
    #[track_caller]
    pub fn assert_accepted(&self, id: &str) {
        assert_eq!(self.status, 200, "body: {}", self.body);
        assert_eq!(self.json(), json!({ "id": id }));
    }
}

pub(crate) fn new_event_id() -> String {
    format!("{:032x}", rand::random::<u128>())
}

/// An error event whose grouping depends on `site` (the function of its only frame).
pub(crate) fn event_payload(id: &str, site: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "event_id": id,
        "platform": "python",
        "level": "error",
        "logger": "hostile",
        "exception": {"values": [{
            "type": "HostileInputError",
            "value": format!("raised in {site} for {id}"),
            "stacktrace": {"frames": [{
                "function": site,
                "module": "hostile.sites",
                "filename": "hostile/sites.py",
                "lineno": 42,
                "in_app": true,
            }]},
        }]},
        "tags": {"suite": "hostile"},
    }))
    .unwrap()
}

/// An envelope with one length-framed event item.
pub(crate) fn event_envelope(id: &str, site: &str) -> Vec<u8> {
    let payload = event_payload(id, site);
    let mut body = format!("{{\"event_id\":\"{id}\"}}\n").into_bytes();
    push_item(
        &mut body,
        "{\"type\":\"event\",\"content_type\":\"application/json\"",
        &payload,
    );
    body
}

/// Appends an item with a `length` header: `header_start` is the header JSON without its
/// closing brace.
fn push_item(body: &mut Vec<u8>, header_start: &str, payload: &[u8]) {
    body.extend_from_slice(format!("{header_start},\"length\":{}}}\n", payload.len()).as_bytes());
    body.extend_from_slice(payload);
    body.push(b'\n');
}

/// An envelope whose only event item is `payload`, exactly as given.
fn envelope_with_event_bytes(payload: &[u8]) -> Vec<u8> {
    let mut body = b"{}\n".to_vec();
    push_item(&mut body, "{\"type\":\"event\"", payload);
    body
}

async fn send(request: reqwest::RequestBuilder) -> Answer {
    Answer::read(request.send().await.expect("the server answers")).await
}

/// POSTs `body` to the envelope endpoint with the DSN key in `X-Sentry-Auth` and `headers`.
pub(crate) async fn post_envelope(
    server: &TestServer,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> Answer {
    let mut request = server
        .client()
        .post(server.envelope_url())
        .header("x-sentry-auth", server.auth_header())
        .body(body);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    send(request).await
}

/// POSTs without any authentication header.
async fn post_unauthenticated(server: &TestServer, url: &str, body: Vec<u8>) -> Answer {
    send(server.client().post(url).body(body)).await
}

/// Waits until the event is stored and returns it.
pub(crate) async fn wait_for_event(server: &TestServer, id: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, event) = server
            .api_get(&format!("projects/errhound/default/events/{id}/"))
            .await;
        if status == 200 {
            assert_eq!(event["eventID"], id, "{event}");
            return event;
        }
        assert_eq!(status, 404, "{event}");
        assert!(
            Instant::now() < deadline,
            "event {id} not processed within 30 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Collects wrong answers so that one run reports every case, not only the first.
#[derive(Default)]
struct Checks {
    failures: Vec<String>,
    /// Events acknowledged where a refusal was expected: (case, event id).
    acknowledged: Vec<(String, String)>,
}

impl Checks {
    fn error(&mut self, what: &str, answer: &Answer, status: u16, needle: &str) {
        if let Some(problem) = answer.error_mismatch(status, needle) {
            self.failures
                .push(format!("{what}: expected {status}, got {problem}"));
            let id = serde_json::from_str::<Value>(&answer.body)
                .ok()
                .and_then(|v| v["id"].as_str().map(str::to_owned));
            if let (200, Some(id)) = (answer.status, id) {
                self.acknowledged.push((what.to_owned(), id));
            }
        }
    }

    /// An acknowledgement is a promise to store the event: checks that every event that was
    /// acknowledged against expectations was at least kept. Call once later events are stored
    /// (the queue is processed in order).
    async fn acknowledged_events_are_stored(&mut self, server: &TestServer) {
        for (what, id) in &self.acknowledged {
            let (status, _) = server
                .api_get(&format!("projects/errhound/default/events/{id}/"))
                .await;
            if status != 200 {
                self.failures.push(format!(
                    "{what}: acknowledged as {id} but never stored (GET answered {status})"
                ));
            }
        }
    }

    #[track_caller]
    fn finish(self) {
        assert!(
            self.failures.is_empty(),
            "{} wrong answers:\n{}",
            self.failures.len(),
            self.failures.join("\n")
        );
    }
}

/// The server still serves: liveness answers, and a valid event is accepted and processed.
pub(crate) async fn assert_still_serves(server: &TestServer) {
    let health = send(server.client().get(format!("{}/_health", server.base_url))).await;
    assert_eq!(health.status, 200, "{}", health.body);
    let id = new_event_id();
    post_envelope(server, &[], event_envelope(&id, "still_serving"))
        .await
        .assert_accepted(&id);
    wait_for_event(server, &id).await;
}

/// `VmRSS` and `VmHWM` (peak RSS) of the server process, in bytes.
fn memory(server: &TestServer) -> (u64, u64) {
    let pid = server.pid().expect("a running server");
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        let line = status
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("no {name} in /proc/{pid}/status"));
        let kib: u64 = line
            .trim_start_matches(name)
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .unwrap();
        kib * 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[track_caller]
fn assert_memory_bounded(server: &TestServer, after: &str) {
    let (rss, peak) = memory(server);
    eprintln!(
        "memory after {after}: RSS {} MiB, peak {} MiB",
        rss >> 20,
        peak >> 20
    );
    assert!(
        rss < RSS_LIMIT && peak < RSS_LIMIT,
        "after {after}: RSS {} MiB, peak {} MiB (limit {} MiB)",
        rss >> 20,
        peak >> 20,
        RSS_LIMIT >> 20
    );
}

/// Writes `prefix` followed by `zeros` zero bytes into `out`, a megabyte at a time.
fn feed(out: &mut impl Write, prefix: &[u8], zeros: usize) {
    out.write_all(prefix).unwrap();
    let chunk = vec![0u8; MIB];
    let mut left = zeros;
    while left > 0 {
        let n = left.min(MIB);
        out.write_all(&chunk[..n]).unwrap();
        left -= n;
    }
}

/// Compresses `prefix` + `zeros` zero bytes with a content coding.
fn compress_stream(coding: &str, prefix: &[u8], zeros: usize) -> Vec<u8> {
    use flate2::Compression;
    match coding {
        "gzip" => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), Compression::best());
            feed(&mut e, prefix, zeros);
            e.finish().unwrap()
        }
        "deflate" => {
            let mut e = flate2::write::ZlibEncoder::new(Vec::new(), Compression::best());
            feed(&mut e, prefix, zeros);
            e.finish().unwrap()
        }
        "br" => {
            let mut out = Vec::new();
            {
                let mut e = brotli::CompressorWriter::new(&mut out, 64 * KIB, 5, 22);
                feed(&mut e, prefix, zeros);
            }
            out
        }
        "zstd" => {
            let mut e = zstd::stream::write::Encoder::new(Vec::new(), 3).unwrap();
            feed(&mut e, prefix, zeros);
            e.finish().unwrap()
        }
        "identity" => {
            let mut out = Vec::new();
            feed(&mut out, prefix, zeros);
            out
        }
        other => panic!("no encoder for {other}"),
    }
}

fn compress(coding: &str, data: &[u8]) -> Vec<u8> {
    compress_stream(coding, data, 0)
}

/// One bomb per coding: an envelope with a 128 MiB attachment of zeros, compressed. Built once
/// per test process.
fn bombs() -> &'static [(&'static str, Vec<u8>)] {
    static BOMBS: OnceLock<Vec<(&'static str, Vec<u8>)>> = OnceLock::new();
    BOMBS.get_or_init(|| {
        let prefix = format!("{{}}\n{{\"type\":\"attachment\",\"length\":{BOMB_BYTES}}}\n");
        CODINGS
            .iter()
            .map(|&coding| {
                let bomb = compress_stream(coding, prefix.as_bytes(), BOMB_BYTES);
                assert!(
                    bomb.len() < 256 * KIB,
                    "{coding} bomb is {} bytes on the wire",
                    bomb.len()
                );
                (coding, bomb)
            })
            .collect()
    })
}

/// A bomb padded past the inline-decoding threshold (256 KiB), so the server decodes it on the
/// blocking pool: the compressed stream repeated (the first copy alone exceeds the limit).
fn large_bomb(bomb: &[u8]) -> Vec<u8> {
    let copies = (300 * KIB).div_ceil(bomb.len());
    bomb.repeat(copies)
}

#[tokio::test]
async fn decompression_bombs_are_refused_with_bounded_memory() {
    let server = TestServer::start(binary()).await;
    let (idle_rss, _) = memory(&server);
    for (n, (coding, bomb)) in bombs().iter().enumerate() {
        let answer = post_envelope(&server, &[("content-encoding", coding)], bomb.clone()).await;
        answer.assert_error(413, "exceeds");
        if n == 0 {
            // Refusing one bomb costs about the decompression limit, as the server's memory
            // budget assumes (it reserves `max_decompressed_bytes` per decode), not a multiple.
            let (_, peak) = memory(&server);
            assert!(
                peak < idle_rss + MAX_DECOMPRESSED + 24 * MIB as u64,
                "one {coding} bomb took the server from {} MiB to a peak of {} MiB, more than \
                 the {} MiB decompression limit above idle",
                idle_rss >> 20,
                peak >> 20,
                MAX_DECOMPRESSED >> 20
            );
        }
        assert_memory_bounded(&server, &format!("a {coding} bomb"));

        // The same bomb above the inline threshold takes the blocking-pool path.
        let large = large_bomb(bomb);
        assert!(large.len() > 256 * KIB && large.len() < MIB);
        let answer = post_envelope(&server, &[("content-encoding", coding)], large).await;
        answer.assert_error(413, "exceeds");
        assert_memory_bounded(&server, &format!("a large {coding} bomb"));
    }
    // A bomb wrapped in a second coding is unwrapped layer by layer and still stopped.
    let (_, gzip_bomb) = &bombs()[0];
    let wrapped = compress("br", gzip_bomb);
    let answer = post_envelope(&server, &[("content-encoding", "gzip, br")], wrapped).await;
    answer.assert_error(413, "exceeds");
    // Through the legacy store endpoint as base64 of a zlib bomb.
    let (_, zlib_bomb) = &bombs()[1];
    let encoded = base64::engine::general_purpose::STANDARD.encode(zlib_bomb);
    let answer = send(
        server
            .client()
            .post(format!(
                "{}/api/{}/store/",
                server.base_url, server.project_id
            ))
            .header("x-sentry-auth", server.auth_header())
            .body(encoded),
    )
    .await;
    answer.assert_error(413, "exceeds");
    assert_memory_bounded(&server, "every bomb");
    assert_still_serves(&server).await;
}

/// Reads an HTTP/1.1 response head from a raw connection: status code and header block.
async fn read_response_head(
    stream: &mut (impl tokio::io::AsyncRead + Unpin),
    timeout: Duration,
) -> (u16, String) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        let n = tokio::time::timeout(timeout, stream.read(&mut byte))
            .await
            .unwrap_or_else(|_| panic!("no response within {timeout:?}"))
            .expect("readable connection");
        assert_eq!(n, 1, "connection closed before a response: {head:?}");
        head.push(byte[0]);
    }
    let head = String::from_utf8(head).unwrap();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("bad status line in {head:?}"));
    (status, head)
}

fn request_head(server: &TestServer, framing: &str) -> String {
    format!(
        "POST /api/{}/envelope/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Sentry-Auth: {}\r\n\
         Content-Type: application/x-sentry-envelope\r\n{framing}\r\n",
        server.project_id,
        server.auth_header()
    )
}

fn server_addr(server: &TestServer) -> String {
    server.base_url.trim_start_matches("http://").to_owned()
}

/// A lazily produced body of junk, 64 KiB at a time: `total` bytes, or, with `stall_after`, that
/// many bytes and then nothing more, ever (the stream stays pending). Counts what was produced.
fn lazy_body(
    total: usize,
    stall_after: Option<usize>,
    produced: Arc<AtomicUsize>,
) -> reqwest::Body {
    let stream = futures_util::stream::unfold(0usize, move |sent| {
        let produced = produced.clone();
        async move {
            if sent >= total {
                return None;
            }
            if stall_after.is_some_and(|stall| sent >= stall) {
                std::future::pending::<()>().await;
            }
            let n = (64 * KIB).min(total - sent);
            produced.fetch_add(n, Ordering::SeqCst);
            Some((Ok::<_, std::io::Error>(vec![b'x'; n]), sent + n))
        }
    });
    reqwest::Body::wrap_stream(stream)
}

/// Whether a failed request failed while writing its body into a connection the server had
/// closed (EPIPE or ECONNRESET).
fn is_body_write_to_closed_connection(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut body_write = false;
    let mut closed = false;
    while let Some(current) = source {
        body_write |= format!("{current:?}").contains("BodyWrite");
        if let Some(io) = current.downcast_ref::<std::io::Error>() {
            closed |= matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            );
        }
        source = current.source();
    }
    body_write && closed
}

/// Uploads `total` bytes of junk with the HTTP client, `declared` or chunked, optionally stalling
/// after `stall_after` bytes. Returns the outcome and how many bytes the body produced.
async fn upload(
    server: &TestServer,
    total: usize,
    declared: bool,
    stall_after: Option<usize>,
) -> (Result<Answer, reqwest::Error>, usize) {
    let produced = Arc::new(AtomicUsize::new(0));
    let mut request = server
        .client()
        .post(server.envelope_url())
        .header("x-sentry-auth", server.auth_header())
        .body(lazy_body(total, stall_after, produced.clone()));
    if declared {
        request = request.header("content-length", total.to_string());
    }
    let result = match request.send().await {
        Ok(response) => Ok(Answer::read(response).await),
        Err(error) => Err(error),
    };
    (result, produced.load(Ordering::SeqCst))
}

#[tokio::test]
async fn a_declared_200_mb_body_is_refused_before_it_is_read() {
    let server = TestServer::start(binary()).await;

    // Raw HTTP: send the head and 64 KiB of a body declared as 200 MB, then wait. The server
    // must answer 413 from the declaration alone, without waiting for the rest.
    let mut stream = TcpStream::connect(server_addr(&server)).await.unwrap();
    let head = request_head(&server, &format!("Content-Length: {HUGE_BODY}\r\n"));
    stream.write_all(head.as_bytes()).await.unwrap();
    stream.write_all(&vec![b'x'; 64 * KIB]).await.unwrap();
    let (status, head) = read_response_head(&mut stream, Duration::from_secs(10)).await;
    assert_eq!(status, 413, "{head}");
    let lower = head.to_ascii_lowercase();
    assert!(lower.contains("access-control-allow-origin: *"), "{head}");
    drop(stream);

    // Through an HTTP client whose body has not produced a byte yet: the 413 comes from the
    // declaration alone.
    let (result, produced) = upload(&server, HUGE_BODY, true, Some(0)).await;
    result
        .expect("a 413 before any body byte")
        .assert_error(413, "size limit");
    assert_eq!(produced, 0);
    // Streaming at full speed: the server answers 413 and closes the connection without reading
    // on. hyper's client is still writing when the connection closes, so it reports the write
    // error (EPIPE/ECONNRESET) instead of the answer it never got to read; the raw exchange above
    // shows that the 413 was sent first. Either way far less than 200 MB was produced.
    let (result, produced) = upload(&server, HUGE_BODY, true, None).await;
    match result {
        Ok(answer) => answer.assert_error(413, "size limit"),
        Err(error) => assert!(
            is_body_write_to_closed_connection(&error),
            "expected a 413 or a write into the closed connection, got {error:?}"
        ),
    }
    assert!(
        produced < MAX_COMPRESSED,
        "{produced} bytes of a declared-oversize body were produced"
    );
    assert_memory_bounded(&server, "a declared 200 MB body");
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn a_streamed_200_mb_body_is_cut_off_at_the_limit() {
    let server = TestServer::start(binary()).await;

    // Raw HTTP, chunked: keep sending 1 MiB chunks while watching for the answer. The server
    // reads up to the 20 MiB limit, answers 413 and stops reading.
    let stream = TcpStream::connect(server_addr(&server)).await.unwrap();
    let (mut reader, mut writer) = stream.into_split();
    let head = request_head(&server, "Transfer-Encoding: chunked\r\n");
    writer.write_all(head.as_bytes()).await.unwrap();
    let sent = Arc::new(AtomicUsize::new(0));
    let sender = {
        let sent = sent.clone();
        tokio::spawn(async move {
            let chunk = vec![b'x'; MIB];
            let frame_head = format!("{:x}\r\n", chunk.len());
            while sent.load(Ordering::SeqCst) < HUGE_BODY {
                let write = async {
                    writer.write_all(frame_head.as_bytes()).await?;
                    writer.write_all(&chunk).await?;
                    writer.write_all(b"\r\n").await
                };
                match tokio::time::timeout(Duration::from_secs(5), write).await {
                    Ok(Ok(())) => {
                        sent.fetch_add(MIB, Ordering::SeqCst);
                    }
                    // Closed by the server, or no longer read: either way the upload is over.
                    Ok(Err(_)) | Err(_) => return false,
                }
            }
            true
        })
    };
    let (status, head) = read_response_head(&mut reader, Duration::from_secs(30)).await;
    let sent_at_answer = sent.load(Ordering::SeqCst);
    assert_eq!(status, 413, "{head}");
    assert!(
        sent_at_answer > MAX_COMPRESSED - 4 * MIB && sent_at_answer < HUGE_BODY / 2,
        "answered after {} MiB were sent",
        sent_at_answer >> 20
    );
    let finished = sender.await.unwrap();
    assert!(
        !finished,
        "the server kept reading all 200 MB after answering 413"
    );
    drop(reader);

    // Through an HTTP client streaming chunked, stalling just past the limit: the server has
    // seen more than it accepts and answers 413, which the client reads cleanly.
    let stall = MAX_COMPRESSED + 128 * KIB;
    let (result, produced) = upload(&server, HUGE_BODY, false, Some(stall)).await;
    result
        .expect("a 413 while the upload stalls")
        .assert_error(413, "size limit");
    assert_eq!(produced, stall);
    // At full speed: as with a declared length, the client may report its write into the closed
    // connection instead of the 413 (see the raw exchange above for what the server sends).
    let (result, produced) = upload(&server, HUGE_BODY, false, None).await;
    match result {
        Ok(answer) => answer.assert_error(413, "size limit"),
        Err(error) => assert!(
            is_body_write_to_closed_connection(&error),
            "expected a 413 or a write into the closed connection, got {error:?}"
        ),
    }
    assert!(
        produced > MAX_COMPRESSED && produced < HUGE_BODY / 2,
        "{produced} bytes produced"
    );
    assert_memory_bounded(&server, "streamed 200 MB bodies");
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn deep_nesting_invalid_utf8_and_broken_framing_are_400() {
    let server = TestServer::start(binary()).await;
    let mut checks = Checks::default();

    // 100 000 levels of arrays, and of objects, as the event item.
    let arrays = "[".repeat(100_000);
    let answer = post_envelope(&server, &[], envelope_with_event_bytes(arrays.as_bytes())).await;
    checks.error("100k open arrays", &answer, 400, "invalid event payload");
    let objects = "{\"a\":".repeat(100_000);
    let answer = post_envelope(&server, &[], envelope_with_event_bytes(objects.as_bytes())).await;
    checks.error("100k open objects", &answer, 400, "invalid event payload");
    // Well-formed (closed) nesting, at the top level and under a field of the event: only the
    // depth is wrong.
    let closed = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let answer = post_envelope(&server, &[], envelope_with_event_bytes(closed.as_bytes())).await;
    checks.error("100k closed arrays", &answer, 400, "invalid event payload");
    let id = new_event_id();
    let nested = format!("{{\"event_id\":\"{id}\",\"extra\":{{\"deep\":{closed}}}}}");
    let answer = post_envelope(&server, &[], envelope_with_event_bytes(nested.as_bytes())).await;
    checks.error(
        "100k closed arrays under extra.deep",
        &answer,
        400,
        "invalid event payload",
    );
    // Deep nesting in the envelope header and in an item header.
    let header = format!("{{\"x\":{}\n", "[".repeat(100_000));
    let answer = post_envelope(&server, &[], header.into_bytes()).await;
    checks.error(
        "deep envelope header",
        &answer,
        400,
        "invalid envelope header",
    );
    // Closed deep nesting under an unknown envelope header key: such keys must be tolerated
    // and are never read, so either a refusal or `200 {}` is right; what matters is an answer.
    let header = format!("{{\"x\":{}{}}}\n", "[".repeat(100_000), "]".repeat(100_000));
    let answer = post_envelope(&server, &[], header.into_bytes()).await;
    if answer.status != 200 || answer.body != "{}" {
        checks.error(
            "closed deep nesting in an unknown envelope header",
            &answer,
            400,
            "invalid envelope header",
        );
    }
    let item = format!("{{}}\n{{\"type\":{}\n", "[".repeat(100_000));
    let answer = post_envelope(&server, &[], item.into_bytes()).await;
    checks.error("deep item header", &answer, 400, "invalid item header");
    // Deep nesting through the legacy store endpoint.
    let answer = send(
        server
            .client()
            .post(format!(
                "{}/api/{}/store/",
                server.base_url, server.project_id
            ))
            .header("x-sentry-auth", server.auth_header())
            .header("content-type", "application/json")
            .body(format!("{{\"a\":{arrays}")),
    )
    .await;
    checks.error("deep store body", &answer, 400, "invalid event payload");

    // Invalid UTF-8 inside a JSON string of the event.
    let mut payload = b"{\"message\":\"caf".to_vec();
    payload.extend_from_slice(&[0xc3, 0x28, 0xff, 0xfe]);
    payload.extend_from_slice(b"\"}");
    let answer = post_envelope(&server, &[], envelope_with_event_bytes(&payload)).await;
    checks.error(
        "invalid UTF-8 in a string",
        &answer,
        400,
        "invalid event payload",
    );
    // A lone surrogate escape is valid JSON syntax but not a valid string.
    let answer = post_envelope(
        &server,
        &[],
        envelope_with_event_bytes(br#"{"message":"\ud800"}"#),
    )
    .await;
    checks.error(
        "lone surrogate escape",
        &answer,
        400,
        "invalid event payload",
    );

    // Event items that are not JSON objects.
    for payload in [
        &b"[]"[..],
        b"[null]",
        b"\"text\"",
        b"42",
        b"null",
        b"not json",
    ] {
        let answer = post_envelope(&server, &[], envelope_with_event_bytes(payload)).await;
        let what = format!("event item {}", String::from_utf8_lossy(payload));
        checks.error(&what, &answer, 400, "invalid event payload");
    }

    // Framing errors.
    let cases: [(&str, &[u8], &str); 8] = [
        (
            "bad header JSON",
            b"{\"event_id\":\n{\"type\":\"event\"}\n{}\n",
            "invalid envelope header",
        ),
        (
            "header not an object",
            b"[1,2]\n",
            "invalid envelope header",
        ),
        (
            "bad event_id",
            b"{\"event_id\":\"not-an-id\"}\n",
            "invalid envelope header",
        ),
        (
            "item header without type",
            b"{}\n{\"length\":2}\n{}\n",
            "invalid item header",
        ),
        (
            "item length beyond the body",
            b"{}\n{\"type\":\"event\",\"length\":1000}\n{}\n",
            "unexpected end of file",
        ),
        (
            "huge item length",
            b"{}\n{\"type\":\"event\",\"length\":18446744073709551615}\n{}",
            "unexpected end of file",
        ),
        (
            "no newline after a framed payload",
            b"{}\n{\"type\":\"event\",\"length\":2}\n{}{\"type\":\"session\"}\n{}\n",
            "missing newline",
        ),
        ("whitespace only", b" \n\r\n\t", "empty"),
    ];
    for (what, body, needle) in cases {
        let answer = post_envelope(&server, &[], body.to_vec()).await;
        checks.error(what, &answer, 400, needle);
    }
    let answer = post_envelope(&server, &[], Vec::new()).await;
    checks.error("empty body", &answer, 400, "empty request body");
    // The envelope `dsn` header must be a DSN.
    let answer = post_envelope(&server, &[], b"{\"dsn\":\"not a dsn\"}\n".to_vec()).await;
    checks.error("malformed dsn header", &answer, 400, "dsn");
    // A corrupt compressed body.
    for coding in CODINGS {
        let answer = post_envelope(
            &server,
            &[("content-encoding", coding)],
            b"certainly not compressed data".to_vec(),
        )
        .await;
        checks.error(&format!("corrupt {coding}"), &answer, 400, "invalid");
    }
    assert_still_serves(&server).await;
    checks.acknowledged_events_are_stored(&server).await;
    checks.finish();
}

#[tokio::test]
async fn oversized_items_many_items_and_unknown_codings() {
    let server = TestServer::start(binary()).await;
    // An event item over 1 MiB.
    let padding = "p".repeat(MIB + 10);
    let big = format!("{{\"message\":\"{padding}\"}}");
    post_envelope(&server, &[], envelope_with_event_bytes(big.as_bytes()))
        .await
        .assert_error(413, "size limits for type 'event'");
    // More items than an envelope may carry.
    let mut many = b"{}\n".to_vec();
    for _ in 0..1001 {
        many.extend_from_slice(b"{\"type\":\"client_report\"}\n{}\n");
    }
    post_envelope(&server, &[], many)
        .await
        .assert_error(413, "items");
    // Unsupported content codings.
    let body = event_envelope(&new_event_id(), "unsupported");
    for coding in ["compress", "x-unknown", "gzip, compress", "deflate;q=1"] {
        let answer = post_envelope(&server, &[("content-encoding", coding)], body.clone()).await;
        assert_eq!(answer.status, 415, "{coding}: {}", answer.body);
        answer.assert_error(415, "unsupported content encoding");
    }
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn authentication_statuses_and_every_auth_form() {
    let server = TestServer::start(binary()).await;
    let url = server.envelope_url();
    let key = server.public_key.clone();
    let body = |id: &str| event_envelope(id, "auth_form");

    // Missing auth: 401.
    post_unauthenticated(&server, &url, body(&new_event_id()))
        .await
        .assert_error(401, "missing authorization");
    // Unknown well-formed key: 403.
    let unknown = "0123456789abcdef0123456789abcdef";
    assert_ne!(unknown, key);
    let answer = send(
        server
            .client()
            .post(&url)
            .header(
                "x-sentry-auth",
                format!("Sentry sentry_key={unknown}, sentry_version=7"),
            )
            .body(body(&new_event_id())),
    )
    .await;
    answer.assert_error(403, "rejected");
    // Malformed keys: 400.
    for bad in [
        "abc",
        "0123456789abcdef0123456789abcdeg!",
        "0123456789abcdef0123456789abcdef0",
    ] {
        let answer = send(
            server
                .client()
                .post(&url)
                .header(
                    "x-sentry-auth",
                    format!("Sentry sentry_key={bad}, sentry_version=7"),
                )
                .body(body(&new_event_id())),
        )
        .await;
        assert_eq!(answer.status, 400, "key {bad:?}: {}", answer.body);
        answer.assert_error(400, "public key");
    }
    // Unparsable header: 401.
    let answer = send(
        server
            .client()
            .post(&url)
            .header("x-sentry-auth", "Sentry garbage")
            .body(body(&new_event_id())),
    )
    .await;
    answer.assert_error(401, "x-sentry-auth");
    // Protocol version 8: 400.
    let answer = send(
        server
            .client()
            .post(&url)
            .header(
                "x-sentry-auth",
                format!("Sentry sentry_key={key}, sentry_version=8"),
            )
            .body(body(&new_event_id())),
    )
    .await;
    answer.assert_error(400, "unsupported protocol version");
    // The key of another project: 403.
    let other = format!("{}/api/999/envelope/", server.base_url);
    let answer = send(
        server
            .client()
            .post(&other)
            .header("x-sentry-auth", server.auth_header())
            .body(body(&new_event_id())),
    )
    .await;
    answer.assert_error(403, "rejected");
    // A non-numeric project id: 400.
    let answer = send(
        server
            .client()
            .post(format!("{}/api/abc/envelope/", server.base_url))
            .header("x-sentry-auth", server.auth_header())
            .body(body(&new_event_id())),
    )
    .await;
    answer.assert_error(400, "project");
    // Two different keys: 401.
    let answer = send(
        server
            .client()
            .post(format!("{url}?sentry_key={unknown}"))
            .header("x-sentry-auth", server.auth_header())
            .body(body(&new_event_id())),
    )
    .await;
    answer.assert_error(401, "multiple authorization");
    // An envelope dsn with another key than the request's: 400.
    let mut mismatched = format!(
        "{{\"dsn\":\"http://{unknown}@127.0.0.1/{}\"}}\n",
        server.project_id
    )
    .into_bytes();
    push_item(
        &mut mismatched,
        "{\"type\":\"event\"",
        &event_payload(&new_event_id(), "auth_form"),
    );
    let answer = send(
        server
            .client()
            .post(&url)
            .header("x-sentry-auth", server.auth_header())
            .body(mismatched),
    )
    .await;
    answer.assert_error(400, "invalid event envelope");

    // Every accepted form, each answered 200 {"id"} and processed.
    let mut accepted = Vec::new();
    let id = new_event_id();
    send(
        server
            .client()
            .post(&url)
            .header("x-sentry-auth", server.auth_header())
            .body(body(&id)),
    )
    .await
    .assert_accepted(&id);
    accepted.push(id);
    let id = new_event_id();
    send(
        server
            .client()
            .post(&url)
            .header(
                "authorization",
                format!("Sentry sentry_key={key}, sentry_version=7, sentry_client=raw/1.0"),
            )
            .body(body(&id)),
    )
    .await
    .assert_accepted(&id);
    accepted.push(id);
    let id = new_event_id();
    send(
        server
            .client()
            .post(format!(
                "{url}?sentry_version=7&sentry_key={key}&sentry_client=sentry.javascript.node%2F11.12.0"
            ))
            .body(body(&id)),
    )
    .await
    .assert_accepted(&id);
    accepted.push(id);
    let id = new_event_id();
    let basic = base64::engine::general_purpose::STANDARD.encode(format!("{key}:"));
    send(
        server
            .client()
            .post(&url)
            .header("authorization", format!("Basic {basic}"))
            .body(body(&id)),
    )
    .await
    .assert_accepted(&id);
    accepted.push(id);
    let id = new_event_id();
    let mut with_dsn =
        format!("{{\"event_id\":\"{id}\",\"dsn\":\"{}\"}}\n", server.dsn).into_bytes();
    push_item(
        &mut with_dsn,
        "{\"type\":\"event\"",
        &event_payload(&id, "auth_form"),
    );
    post_unauthenticated(&server, &url, with_dsn)
        .await
        .assert_accepted(&id);
    accepted.push(id);
    // A prefixed path and no trailing slash.
    let id = new_event_id();
    send(
        server
            .client()
            .post(format!(
                "{}/sub/path/api/{}/envelope",
                server.base_url, server.project_id
            ))
            .header("x-sentry-auth", server.auth_header())
            .body(body(&id)),
    )
    .await
    .assert_accepted(&id);
    accepted.push(id);

    for id in &accepted {
        wait_for_event(&server, id).await;
    }
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn every_item_type_is_answered_200() {
    let server = TestServer::start(binary()).await;
    let now = "2026-11-25T00:16:07.299599Z";
    let items: [(&str, String); 11] = [
        ("session", format!("{{\"sid\":\"{}\",\"status\":\"ok\",\"started\":\"{now}\",\"attrs\":{{\"release\":\"r@1\"}}}}", new_event_id())),
        ("sessions", format!("{{\"aggregates\":[{{\"started\":\"{now}\",\"exited\":3}}],\"attrs\":{{\"release\":\"r@1\"}}}}")),
        ("client_report", "{\"timestamp\":1795565900,\"discarded_events\":[{\"reason\":\"queue_overflow\",\"category\":\"error\",\"quantity\":2}]}".to_owned()),
        ("transaction", format!("{{\"type\":\"transaction\",\"transaction\":\"/checkout\",\"start_timestamp\":1795565900.0,\"timestamp\":1795565901.5,\"contexts\":{{\"trace\":{{\"trace_id\":\"{}\",\"span_id\":\"0123456789abcdef\"}}}}}}", new_event_id())),
        ("span", "{\"version\":2,\"items\":[{\"name\":\"db\",\"span_id\":\"0123456789abcdef\"}]}".to_owned()),
        ("log", "{\"items\":[{\"timestamp\":1795565900.5,\"level\":\"info\",\"body\":\"hello\"}]}".to_owned()),
        ("check_in", "{\"check_in_id\":\"83a7c03ed0a04e1b97e2e3b18d38f244\",\"monitor_slug\":\"nightly\",\"status\":\"ok\"}".to_owned()),
        ("attachment", "plain attachment\nwith two lines".to_owned()),
        ("profile", "{\"version\":\"1\",\"platform\":\"python\",\"profile\":{\"samples\":[]}}".to_owned()),
        ("replay_event", format!("{{\"type\":\"replay_event\",\"replay_id\":\"{}\",\"segment_id\":0}}", new_event_id())),
        ("hologram", "{\"from\":\"the future\"}".to_owned()),
    ];
    for (ty, payload) in &items {
        let mut body = b"{\"sent_at\":\"2026-11-25T00:16:07Z\"}\n".to_vec();
        let header = if *ty == "attachment" {
            format!("{{\"type\":\"{ty}\",\"filename\":\"a.txt\"")
        } else {
            format!("{{\"type\":\"{ty}\"")
        };
        push_item(&mut body, &header, payload.as_bytes());
        let answer = post_envelope(&server, &[], body).await;
        assert_eq!(answer.status, 200, "{ty}: {}", answer.body);
        answer.assert_accepted_without_event();
    }
    // All of them in one envelope, some without `length` (node's framing).
    let mut body = b"{}\n".to_vec();
    for (ty, payload) in &items {
        if *ty == "attachment" {
            push_item(&mut body, "{\"type\":\"attachment\"", payload.as_bytes());
        } else {
            body.extend_from_slice(format!("{{\"type\":\"{ty}\"}}\n{payload}\n").as_bytes());
        }
    }
    post_envelope(&server, &[], body)
        .await
        .assert_accepted_without_event();

    // Event, a binary attachment containing newlines, and a session: {"id": header event_id}.
    let id = new_event_id();
    let mut body = format!("{{\"event_id\":\"{id}\",\"sent_at\":\"{now}\"}}\n").into_bytes();
    // The payload's own event_id differs: the header's wins.
    push_item(
        &mut body,
        "{\"type\":\"event\",\"content_type\":\"application/json\"",
        &event_payload(&id, "with_attachment"),
    );
    let binary: Vec<u8> = (0u8..=255).chain(b"\n\n\r\n".iter().copied()).collect();
    push_item(
        &mut body,
        "{\"type\":\"attachment\",\"filename\":\"blob.bin\",\"content_type\":\"application/octet-stream\"",
        &binary,
    );
    push_item(&mut body, "{\"type\":\"session\"", items[0].1.as_bytes());
    post_envelope(&server, &[], body).await.assert_accepted(&id);
    let event = wait_for_event(&server, &id).await;
    assert_eq!(event["eventID"], id);

    // Without an event_id anywhere, the server makes one up and answers with it.
    let answer = post_envelope(
        &server,
        &[],
        envelope_with_event_bytes(b"{\"message\":\"no id\"}"),
    )
    .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
    let generated = answer.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
    wait_for_event(&server, &generated).await;
    // A hyphenated header id (the Rust SDK's) is answered in simple form.
    let id = new_event_id();
    let hyphenated = format!(
        "{}-{}-{}-{}-{}",
        &id[..8],
        &id[8..12],
        &id[12..16],
        &id[16..20],
        &id[20..]
    );
    let mut body = format!("{{\"event_id\":\"{hyphenated}\"}}\n").into_bytes();
    push_item(
        &mut body,
        "{\"type\":\"event\"",
        &event_payload(&id, "hyphenated"),
    );
    post_envelope(&server, &[], body).await.assert_accepted(&id);
    wait_for_event(&server, &id).await;
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn cors_preflight_and_exposed_headers() {
    let server = TestServer::start(binary()).await;
    let preflight = send(
        server
            .client()
            .request(reqwest::Method::OPTIONS, server.envelope_url())
            .header("origin", "https://shop.example")
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "x-sentry-auth, content-type, content-encoding",
            ),
    )
    .await;
    assert!(
        (200..300).contains(&preflight.status),
        "preflight answered {}",
        preflight.status
    );
    assert_eq!(preflight.header("access-control-allow-origin"), "*");
    let allowed = preflight
        .header("access-control-allow-headers")
        .to_ascii_lowercase();
    for name in [
        "x-sentry-auth",
        "content-type",
        "content-encoding",
        "authorization",
    ] {
        assert!(allowed.contains(name), "{name} not allowed: {allowed}");
    }
    assert!(
        preflight
            .header("access-control-allow-methods")
            .contains("POST")
    );
    // A prefixed store path gets the same preflight answer.
    let store = send(server.client().request(
        reqwest::Method::OPTIONS,
        format!("{}/sub/api/{}/store/", server.base_url, server.project_id),
    ))
    .await;
    assert!((200..300).contains(&store.status));
    assert_eq!(store.header("access-control-allow-origin"), "*");

    // Accepted and refused answers both let browsers read the rate-limit headers.
    let id = new_event_id();
    let ok = post_envelope(
        &server,
        &[("origin", "https://shop.example")],
        event_envelope(&id, "cors"),
    )
    .await;
    ok.assert_accepted(&id);
    let refused = post_unauthenticated(&server, &server.envelope_url(), b"{}\n".to_vec()).await;
    refused.assert_error(401, "missing");
    for answer in [&ok, &refused] {
        assert_eq!(answer.header("access-control-allow-origin"), "*");
        let exposed = answer
            .header("access-control-expose-headers")
            .to_ascii_lowercase();
        for name in ["x-sentry-rate-limits", "retry-after", "x-sentry-error"] {
            assert!(exposed.contains(name), "{name} not exposed: {exposed}");
        }
    }
    wait_for_event(&server, &id).await;
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn every_content_coding_and_the_store_endpoint_are_accepted() {
    let server = TestServer::start(binary()).await;
    let mut ids = Vec::new();
    for coding in [
        "identity", "gzip", "x-gzip", "deflate", "br", "zstd", "", "UTF-8",
    ] {
        let id = new_event_id();
        let plain = event_envelope(&id, "codings");
        let encoder = match coding {
            "x-gzip" => "gzip",
            "" | "UTF-8" => "identity",
            other => other,
        };
        let answer = post_envelope(
            &server,
            &[("content-encoding", coding)],
            compress(encoder, &plain),
        )
        .await;
        assert_eq!(answer.status, 200, "{coding:?}: {}", answer.body);
        answer.assert_accepted(&id);
        ids.push(id);
    }
    // Raw deflate under the `deflate` name, and two stacked codings.
    let id = new_event_id();
    let mut raw = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    raw.write_all(&event_envelope(&id, "codings")).unwrap();
    post_envelope(
        &server,
        &[("content-encoding", "deflate")],
        raw.finish().unwrap(),
    )
    .await
    .assert_accepted(&id);
    ids.push(id);
    let id = new_event_id();
    let stacked = compress("br", &compress("gzip", &event_envelope(&id, "codings")));
    post_envelope(&server, &[("content-encoding", "gzip, br")], stacked)
        .await
        .assert_accepted(&id);
    ids.push(id);
    // Chunked upload (node's framing), gzip-compressed.
    let id = new_event_id();
    let gz = compress("gzip", &event_envelope(&id, "codings"));
    let parts: Vec<Result<Vec<u8>, std::io::Error>> =
        gz.chunks(7).map(|part| Ok(part.to_vec())).collect();
    let answer = send(
        server
            .client()
            .post(server.envelope_url())
            .header("x-sentry-auth", server.auth_header())
            .header("content-encoding", "gzip")
            .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
                parts,
            ))),
    )
    .await;
    answer.assert_accepted(&id);
    ids.push(id);

    // The legacy store endpoint: JSON, base64 JSON, base64 zlib JSON, and gzip JSON.
    let store = format!("{}/api/{}/store/", server.base_url, server.project_id);
    let b64 = base64::engine::general_purpose::STANDARD;
    for form in ["json", "base64", "base64+zlib", "gzip"] {
        let id = new_event_id();
        let json = event_payload(&id, "store");
        let (body, coding) = match form {
            "json" => (json, None),
            "base64" => (b64.encode(&json).into_bytes(), None),
            "base64+zlib" => (b64.encode(compress("deflate", &json)).into_bytes(), None),
            _ => (compress("gzip", &json), Some("gzip")),
        };
        let mut request = server
            .client()
            .post(&store)
            .header("x-sentry-auth", server.auth_header())
            .header("content-type", "application/json")
            .body(body);
        if let Some(coding) = coding {
            request = request.header("content-encoding", coding);
        }
        let answer = send(request).await;
        assert_eq!(answer.status, 200, "store {form}: {}", answer.body);
        answer.assert_accepted(&id);
        ids.push(id);
    }
    // The store endpoint also takes an envelope when told so.
    let id = new_event_id();
    let answer = send(
        server
            .client()
            .post(&store)
            .header("x-sentry-auth", server.auth_header())
            .header("content-type", "application/x-sentry-envelope")
            .body(event_envelope(&id, "store")),
    )
    .await;
    answer.assert_accepted(&id);
    ids.push(id);

    for id in &ids {
        wait_for_event(&server, id).await;
    }
    assert_still_serves(&server).await;
}

#[tokio::test]
async fn a_burst_of_bombs_does_not_cost_neighbouring_events() {
    let server = TestServer::start(binary()).await;
    let bombs = bombs();
    let (idle_rss, _) = memory(&server);
    let mut wire = 0;
    let client = server.client().clone();
    let url = server.envelope_url();
    let auth = server.auth_header();
    let mut tasks = Vec::new();
    let mut valid_ids = Vec::new();
    for i in 0..70 {
        let request = client.post(&url).header("x-sentry-auth", &auth);
        if i % 7 < 2 {
            // 20 bombs, every coding, half of them above the inline-decoding threshold.
            let (coding, bomb) = &bombs[i % 4];
            let body = if i % 2 == 0 {
                bomb.clone()
            } else {
                large_bomb(bomb)
            };
            wire += body.len() as u64;
            let request = request.header("content-encoding", *coding).body(body);
            tasks.push(tokio::spawn(async move { (None, send(request).await) }));
        } else {
            let id = new_event_id();
            valid_ids.push(id.clone());
            let coding = ["identity", "gzip", "br", "zstd", "deflate"][i % 5];
            let body = compress(coding, &event_envelope(&id, &format!("burst_{}", i % 3)));
            let request = request.header("content-encoding", coding).body(body);
            tasks.push(tokio::spawn(async move { (Some(id), send(request).await) }));
        }
    }
    assert_eq!(valid_ids.len(), 50);
    let (mut bombs_refused, mut valid_accepted) = (0, 0);
    for task in tasks {
        let (id, answer) = task.await.unwrap();
        match id {
            Some(id) => {
                answer.assert_accepted(&id);
                valid_accepted += 1;
            }
            None => {
                answer.assert_error(413, "exceeds");
                bombs_refused += 1;
            }
        }
    }
    assert_eq!((valid_accepted, bombs_refused), (50, 20));
    server.wait_for_events(50, Duration::from_secs(30)).await;
    for id in &valid_ids {
        wait_for_event(&server, id).await;
    }
    assert_still_serves(&server).await;
    // `ingest.max_inflight_bytes` (128 MiB by default) bounds the memory of every request body
    // in flight, decompressed ones included, and decoders' own windows are bounded by the number
    // of decodes at once: "memory stays bounded under any load". The 50 events processed
    // meanwhile add the worker's working set.
    let (_, peak) = memory(&server);
    let bound = INFLIGHT_BUDGET + DECODER_WINDOWS + PROCESSING_WORKING_SET;
    eprintln!(
        "peak {} MiB above an idle {} MiB",
        (peak - idle_rss) >> 20,
        idle_rss >> 20
    );
    assert!(
        peak < idle_rss + bound,
        "20 concurrent bombs ({} KiB on the wire in all) took the server from {} MiB to a peak of \
         {} MiB, more than the {} MiB in-flight budget, decoder windows and processing working \
         set above idle",
        wire >> 10,
        idle_rss >> 20,
        peak >> 20,
        bound >> 20
    );
}
