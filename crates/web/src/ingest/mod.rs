//! The ingest endpoints: `POST {any prefix}/api/{project_id}/envelope/` and `.../store/`.
//!
//! Relay's fast path: authenticate from the key cache, read the body within limits, decode,
//! frame, validate the event item, check the backlog and the key's rate limit, append to the
//! queue, answer. Statuses follow Relay (protocol.md §5): 400 malformed, 401 missing auth, 403
//! unknown or disabled key, 413 too large, 415 unknown encoding, 429 backlog full or key rate
//! limit reached, 503 busy. Every response carries the CORS headers browser SDKs need.

mod body;
mod keys;
mod quota;

use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use errhound_protocol::decode::{DecodeError, decode_body, parse_content_encoding};
use errhound_protocol::dsn::Dsn;
use errhound_protocol::envelope::{Envelope, EnvelopeError, EnvelopeLimits, ItemType};
use errhound_protocol::rate_limits::{RateLimit, header_value};
use errhound_protocol::sentry_auth::{self, AuthError, AuthSources, ClientAuth};
use errhound_protocol::{EventId, store};
use errhound_queue::{IngestQueue, QueuedEvent};

pub use body::{BodyBudget, BodyError};
pub use keys::{KeyCache, KeyInfo};
pub use quota::KeyQuotas;

use crate::AppState;
use crate::error::ApiError;

/// Bodies larger than this are decoded on the blocking pool, off the async workers.
const INLINE_DECODE_LIMIT: usize = 256 * 1024;
/// Decodes running at once. Besides their output (reserved from the body budget), decoders keep
/// a window of their own (up to 16 MB for brotli, 8 MB for zstd as configured), so their number
/// is bounded too; decoding is CPU work, so a few at a time lose nothing on throughput.
pub const DECODE_SLOTS: usize = 4;

/// Which ingest endpoint a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Endpoint {
    Envelope,
    Store,
}

/// Recognizes `{prefix}/api/{project_id}/{envelope|store}[/]`. Returns `Err` for a matching path
/// with a non-numeric project id.
fn match_path(path: &str) -> Option<Result<(u64, Endpoint), ()>> {
    let trimmed = path.strip_suffix('/').unwrap_or(path);
    let (rest, endpoint) = if let Some(rest) = trimmed.strip_suffix("/envelope") {
        (rest, Endpoint::Envelope)
    } else if let Some(rest) = trimmed.strip_suffix("/store") {
        (rest, Endpoint::Store)
    } else {
        return None;
    };
    let (before, project) = rest.rsplit_once('/')?;
    if !before.ends_with("/api") && before != "/api" {
        return None;
    }
    Some(
        project
            .parse::<u64>()
            .map(|id| (id, endpoint))
            .map_err(|_| ()),
    )
}

/// The router's fallback: ingest paths under any prefix; 404 for everything else.
pub async fn dispatch(State(state): State<AppState>, request: Request) -> Response {
    let Some(matched) = match_path(request.uri().path()) else {
        return ApiError::not_found().into_response();
    };
    let mut response = match (matched, request.method()) {
        (_, &Method::OPTIONS) => StatusCode::OK.into_response(),
        (Err(()), _) => ApiError::bad_request("bad project path parameter").into_response(),
        (Ok((project_id, endpoint)), &Method::POST) => {
            match handle(&state, project_id, endpoint, request).await {
                Ok(response) => response,
                Err(error) => error.into_response(),
            }
        }
        _ => ApiError::new(StatusCode::METHOD_NOT_ALLOWED, "method not allowed").into_response(),
    };
    add_cors_headers(response.headers_mut());
    response
}

/// Relay's CORS policy for ingest routes (`middlewares/cors.rs`).
fn add_cors_headers(headers: &mut HeaderMap) {
    let pairs = [
        (header::ACCESS_CONTROL_ALLOW_ORIGIN, "*"),
        (header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"),
        (
            header::ACCESS_CONTROL_ALLOW_HEADERS,
            "x-sentry-auth, x-requested-with, x-forwarded-for, origin, referer, accept, \
             content-type, authentication, authorization, content-encoding, transfer-encoding",
        ),
        (
            header::ACCESS_CONTROL_EXPOSE_HEADERS,
            "x-sentry-error, x-sentry-rate-limits, retry-after",
        ),
        (header::ACCESS_CONTROL_MAX_AGE, "3600"),
    ];
    for (name, value) in pairs {
        headers.insert(name, HeaderValue::from_static(value));
    }
}

fn reject(status: StatusCode, detail: impl Into<String>) -> ApiError {
    let detail = detail.into();
    tracing::info!(status = status.as_u16(), reason = %detail, "ingest request rejected");
    refusal(status, detail)
}

/// A refusal as SDKs read it (`X-Sentry-Error` repeats the detail), without a log line.
fn refusal(status: StatusCode, detail: String) -> ApiError {
    let mut error = ApiError::new(status, detail.clone());
    if let Ok(value) = HeaderValue::from_str(&detail) {
        error = error.with_header(header::HeaderName::from_static("x-sentry-error"), value);
    }
    error
}

/// Adds `Retry-After` and `X-Sentry-Rate-Limits` for `limit` to a 429.
fn with_rate_limit(error: ApiError, limit: &RateLimit) -> ApiError {
    let mut error = error.with_header(
        header::RETRY_AFTER,
        HeaderValue::from(limit.retry_after_secs),
    );
    if let Ok(value) = HeaderValue::from_str(&header_value(std::slice::from_ref(limit))) {
        error = error.with_header(
            header::HeaderName::from_static("x-sentry-rate-limits"),
            value,
        );
    }
    error
}

fn auth_error(error: AuthError) -> ApiError {
    let status = if error.is_unauthorized() {
        StatusCode::UNAUTHORIZED
    } else {
        StatusCode::BAD_REQUEST
    };
    reject(status, error.to_string())
}

fn body_error(error: BodyError) -> ApiError {
    match error {
        BodyError::TooLarge { limit } => reject(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body exceeds the size limit of {limit} bytes"),
        ),
        BodyError::Busy => reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "server is busy; retry later",
        ),
        BodyError::Read(message) => reject(StatusCode::BAD_REQUEST, message),
    }
}

fn decode_error(error: DecodeError) -> ApiError {
    match error {
        DecodeError::Unsupported(_) => {
            reject(StatusCode::UNSUPPORTED_MEDIA_TYPE, error.to_string())
        }
        DecodeError::TooLarge { .. } => reject(StatusCode::PAYLOAD_TOO_LARGE, error.to_string()),
        DecodeError::Corrupt { .. } => reject(StatusCode::BAD_REQUEST, error.to_string()),
    }
}

fn envelope_error(error: EnvelopeError) -> ApiError {
    match error {
        EnvelopeError::TooManyItems(_) => reject(StatusCode::PAYLOAD_TOO_LARGE, error.to_string()),
        _ => reject(
            StatusCode::BAD_REQUEST,
            format!("invalid event envelope: {error}"),
        ),
    }
}

/// What the request must carry to be accepted, checked against the key cache; returns the key.
async fn check_key(
    state: &AppState,
    project_id: u64,
    auth: &ClientAuth,
) -> Result<KeyInfo, ApiError> {
    let key = state
        .keys
        .get(&auth.public_key)
        .await
        .map_err(ApiError::internal)?;
    match key {
        None => Err(reject(
            StatusCode::FORBIDDEN,
            "event submission rejected with_reason: ProjectId (unknown DSN key)",
        )),
        Some(key) if !key.active => Err(reject(
            StatusCode::FORBIDDEN,
            "event submission rejected with_reason: DisabledKey",
        )),
        Some(key) if u64::try_from(key.project_id).ok() != Some(project_id) => Err(reject(
            StatusCode::FORBIDDEN,
            "event submission rejected with_reason: ProjectId (key belongs to another project)",
        )),
        Some(key) => Ok(key),
    }
}

/// Validates an event item as the workers will parse it (see `errhound_protocol::event`) and
/// reads its `event_id`.
fn inspect_event(payload: &[u8]) -> Result<Option<EventId>, ApiError> {
    errhound_protocol::event::inspect(payload)
        .map(|peek| peek.event_id)
        .map_err(|e| reject(StatusCode::BAD_REQUEST, e.to_string()))
}

/// Everything needed to decode a body and extract its event, so it can run on another thread.
#[derive(Clone)]
struct DecodeJob {
    endpoint: Endpoint,
    content_type: Option<String>,
    project_id: u64,
    codings: Vec<errhound_protocol::decode::ContentEncoding>,
    max_event: usize,
}

enum DecodeFailure {
    /// Decoding produced more than the limit it was given.
    TooLarge,
    /// Any other refusal, final.
    Rejected(ApiError),
}

impl DecodeJob {
    /// Decodes `raw` with at most `limit` bytes of output and extracts the event item.
    fn run(&self, raw: &[u8], limit: usize) -> Result<Extracted, DecodeFailure> {
        let classify = |error: DecodeError| match error {
            DecodeError::TooLarge { .. } => DecodeFailure::TooLarge,
            other => DecodeFailure::Rejected(decode_error(other)),
        };
        let decoded = decode_body(&self.codings, raw, limit).map_err(classify)?;
        extract(
            self.endpoint,
            self.content_type.as_deref(),
            self.project_id,
            decoded,
            limit,
            self.max_event,
        )
        .map_err(|error| match error {
            ExtractError::TooLarge => DecodeFailure::TooLarge,
            ExtractError::Rejected(error) => DecodeFailure::Rejected(error),
        })
    }
}

/// The decoded request, reduced to what is kept: the event item (copied out of the body, so the
/// rest of the body can be freed) and the envelope header fields that matter.
struct Extracted {
    event: Option<(EventId, Vec<u8>)>,
    dsn_key: Option<String>,
    sent_at: Option<f64>,
}

enum ExtractError {
    TooLarge,
    Rejected(ApiError),
}

impl From<ApiError> for ExtractError {
    fn from(error: ApiError) -> Self {
        ExtractError::Rejected(error)
    }
}

fn extract(
    endpoint: Endpoint,
    content_type: Option<&str>,
    project_id: u64,
    body: Vec<u8>,
    max_decompressed: usize,
    max_event: usize,
) -> Result<Extracted, ExtractError> {
    let is_envelope = endpoint == Endpoint::Envelope
        || content_type.is_some_and(|c| c.starts_with("application/x-sentry-envelope"));
    if !is_envelope {
        let json = store::decode_store_body(body, max_decompressed).map_err(|e| match e {
            DecodeError::TooLarge { .. } => ExtractError::TooLarge,
            other => ExtractError::Rejected(decode_error(other)),
        })?;
        if json.len() > max_event {
            return Err(event_too_large().into());
        }
        let id = inspect_event(&json)?.unwrap_or_else(EventId::new_random);
        return Ok(Extracted {
            event: Some((id, json)),
            dsn_key: None,
            sent_at: None,
        });
    }
    let envelope =
        Envelope::parse(Bytes::from(body), EnvelopeLimits::default()).map_err(envelope_error)?;
    let dsn_key = match &envelope.headers.dsn {
        Some(text) => {
            let dsn = Dsn::parse(text).map_err(|e| {
                reject(
                    StatusCode::BAD_REQUEST,
                    format!("invalid event envelope: dsn: {e}"),
                )
            })?;
            if dsn.project_id != project_id {
                return Err(reject(
                    StatusCode::BAD_REQUEST,
                    "invalid event envelope: dsn does not match the project in the URL",
                )
                .into());
            }
            Some(dsn.public_key)
        }
        None => None,
    };
    let sent_at = envelope
        .headers
        .sent_at
        .as_deref()
        .and_then(errhound_protocol::timestamp::parse_str);
    // Only `event` items are processed today; every other type (sessions, client reports,
    // transactions, attachments, ...) is accepted and dropped until a feature uses it.
    let mut events = envelope
        .items
        .iter()
        .filter(|item| item.ty == ItemType::Event);
    let event = match events.next() {
        None => None,
        Some(item) => {
            if item.payload.len() > max_event {
                return Err(event_too_large().into());
            }
            let payload_id = inspect_event(&item.payload)?;
            let id = envelope
                .headers
                .event_id
                .or(payload_id)
                .unwrap_or_else(EventId::new_random);
            Some((id, item.payload.to_vec()))
        }
    };
    if events.next().is_some() {
        tracing::debug!("envelope carries more than one event item; only the first is kept");
    }
    Ok(Extracted {
        event,
        dsn_key,
        sent_at,
    })
}

fn event_too_large() -> ApiError {
    reject(
        StatusCode::PAYLOAD_TOO_LARGE,
        "envelope exceeded size limits for type 'event' (https://develop.sentry.dev/sdk/envelopes/#size-limits)",
    )
}

fn client_ip(request: &Request) -> Option<String> {
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(',').next())
        .map(str::trim)
        .filter(|v| v.parse::<std::net::IpAddr>().is_ok());
    forwarded.map(str::to_owned).or_else(|| {
        request
            .extensions()
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_string())
    })
}

async fn handle(
    state: &AppState,
    project_id: u64,
    endpoint: Endpoint,
    request: Request,
) -> Result<Response, ApiError> {
    let headers = request.headers();
    let header_text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let request_auth = sentry_auth::from_request(AuthSources {
        x_sentry_auth: header_text("x-sentry-auth"),
        authorization: header_text("authorization"),
        query: request.uri().query(),
    })
    .map_err(auth_error)?;
    let request_key = match &request_auth {
        Some(auth) => Some(check_key(state, project_id, auth).await?),
        None => None,
    };
    let codings = parse_content_encoding(header_text("content-encoding")).map_err(decode_error)?;
    let content_type = header_text("content-type").map(str::to_owned);
    let declared_length = header_text("content-length").and_then(|v| v.parse::<usize>().ok());
    let client_ip = client_ip(&request);
    let limits = &state.config.ingest;

    let (raw, reservation) = state
        .budget
        .read(
            request.into_body(),
            declared_length,
            limits.max_compressed_bytes,
        )
        .await
        .map_err(body_error)?;
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Err(reject(StatusCode::BAD_REQUEST, "empty request body"));
    }
    let (max_decompressed, max_event) = (limits.max_decompressed_bytes, limits.max_event_bytes);
    // Decoding memory comes out of the same budget as bodies. A first attempt reserves what a
    // normal event needs (JSON compresses 3-5x); only a body that decodes past that gets a
    // second attempt with the full limit, so a burst of decompression bombs can hold at most
    // the budget, not one full limit per request.
    let raw = std::sync::Arc::new(raw);
    let estimate = raw
        .len()
        .saturating_mul(16)
        .saturating_add(64 * 1024)
        .min(max_decompressed);
    let job = DecodeJob {
        endpoint,
        content_type,
        project_id,
        codings,
        max_event,
    };
    let first_reservation = state.budget.reserve(estimate).await.map_err(body_error)?;
    let slot = state
        .decode_slots
        .acquire()
        .await
        .map_err(ApiError::internal)?;
    let first = if raw.len() <= INLINE_DECODE_LIMIT {
        job.run(&raw, estimate)
    } else {
        let (job, raw) = (job.clone(), raw.clone());
        tokio::task::spawn_blocking(move || job.run(&raw, estimate))
            .await
            .map_err(ApiError::internal)?
    };
    drop(slot);
    let (extracted, decode_reservation) = match first {
        Ok(extracted) => (extracted, first_reservation),
        Err(DecodeFailure::TooLarge) if estimate < max_decompressed => {
            drop(first_reservation);
            let full = state
                .budget
                .reserve(max_decompressed)
                .await
                .map_err(body_error)?;
            let _slot = state
                .decode_slots
                .acquire()
                .await
                .map_err(ApiError::internal)?;
            let retry = tokio::task::spawn_blocking(move || job.run(&raw, max_decompressed))
                .await
                .map_err(ApiError::internal)?;
            match retry {
                Ok(extracted) => (extracted, full),
                Err(DecodeFailure::TooLarge) => {
                    return Err(decode_error(DecodeError::TooLarge {
                        limit: max_decompressed,
                    }));
                }
                Err(DecodeFailure::Rejected(error)) => return Err(error),
            }
        }
        Err(DecodeFailure::TooLarge) => {
            return Err(decode_error(DecodeError::TooLarge {
                limit: max_decompressed,
            }));
        }
        Err(DecodeFailure::Rejected(error)) => return Err(error),
    };
    // The decoded body was dropped inside `run`: only the event item (copied out) remains.
    drop(reservation);
    drop(decode_reservation);

    let auth = sentry_auth::merge_envelope_dsn(request_auth.clone(), extracted.dsn_key.as_deref())
        .map_err(|e| match e {
            AuthError::Conflicting => reject(
                StatusCode::BAD_REQUEST,
                "invalid event envelope: dsn does not match the request's key",
            ),
            other => auth_error(other),
        })?;
    let key = match request_key {
        Some(key) => key,
        None => check_key(state, project_id, &auth).await?,
    };

    let Some((event_id, payload)) = extracted.event else {
        return Ok(json_ok(None));
    };
    let _held = state
        .budget
        .reserve(payload.len())
        .await
        .map_err(body_error)?;
    admit(state)?;
    within_key_limit(state, &key)?;
    let event = QueuedEvent {
        project_id: project_id as i64,
        event_id: event_id.to_simple(),
        received_ms: errhound_store::now_ms(),
        sent_at: extracted.sent_at,
        client_ip,
        payload,
    };
    state.queue.append(event).await.map_err(|error| {
        tracing::error!(error = %error, "cannot queue an accepted event");
        reject(
            StatusCode::SERVICE_UNAVAILABLE,
            "cannot store the event right now; retry later",
        )
    })?;
    metrics::counter!("errhound_events_accepted_total").increment(1);
    Ok(json_ok(Some(event_id)))
}

/// Admission control: refuse new events while the processing backlog is over its bound.
fn admit(state: &AppState) -> Result<(), ApiError> {
    let backlog = state.queue.backlog();
    let limits = &state.config.ingest;
    if backlog.events < limits.max_backlog_events && backlog.bytes < limits.max_backlog_bytes {
        return Ok(());
    }
    metrics::counter!("errhound_events_rejected_backlog_total").increment(1);
    // Short enough that clients resume soon after the backlog drains; SDKs stop sending the
    // named categories (here: all) for this long.
    let limit = RateLimit {
        retry_after_secs: 10,
        categories: vec![],
        scope: "organization",
        reason_code: "backlog_full",
    };
    let error = reject(
        StatusCode::TOO_MANY_REQUESTS,
        "the server is processing a backlog; retry later",
    );
    Err(with_rate_limit(error, &limit))
}

/// Sentry's data categories of error events, which a key quota limits
/// (`DataCategory.error_categories()` in `sentry.quotas`): SDKs keep sending sessions,
/// transactions and client reports, which a key quota does not count.
const ERROR_CATEGORIES: [&str; 3] = ["default", "error", "security"];

/// The key's rate limit: count this event, or refuse it with 429 as Relay does for a key quota
/// (`X-Sentry-Rate-Limits: <secs>:default;error;security:key:key_quota`). Logged once per
/// window at info, then at debug.
fn within_key_limit(state: &AppState, key: &KeyInfo) -> Result<(), ApiError> {
    let Some(rate_limit) = key.rate_limit else {
        return Ok(());
    };
    let Err(refused) = state.key_quotas.admit(key.id, rate_limit) else {
        return Ok(());
    };
    metrics::counter!("errhound_events_rejected_key_quota_total").increment(1);
    if refused.first {
        tracing::info!(
            key.id = key.id,
            project.id = key.project_id,
            count = rate_limit.count(),
            window_secs = rate_limit.window_secs(),
            retry_after_secs = refused.retry_after_secs,
            "DSN key rate limit reached: refusing its events until the window ends"
        );
    } else {
        tracing::debug!(key.id = key.id, "event refused by the DSN key's rate limit");
    }
    let limit = RateLimit {
        retry_after_secs: refused.retry_after_secs,
        categories: ERROR_CATEGORIES.to_vec(),
        scope: "key",
        reason_code: "key_quota",
    };
    let error = refusal(
        StatusCode::TOO_MANY_REQUESTS,
        "event submission rejected with_reason: KeyQuota (the DSN key's rate limit is reached)"
            .to_owned(),
    );
    Err(with_rate_limit(error, &limit))
}

fn json_ok(event_id: Option<EventId>) -> Response {
    let body = match event_id {
        Some(id) => format!("{{\"id\":\"{id}\"}}"),
        None => "{}".to_owned(),
    };
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from(body),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_under_any_prefix() {
        assert_eq!(
            match_path("/api/42/envelope/"),
            Some(Ok((42, Endpoint::Envelope)))
        );
        assert_eq!(
            match_path("/api/42/envelope"),
            Some(Ok((42, Endpoint::Envelope)))
        );
        assert_eq!(
            match_path("/sub/path/api/42/envelope/"),
            Some(Ok((42, Endpoint::Envelope)))
        );
        assert_eq!(match_path("/api/7/store/"), Some(Ok((7, Endpoint::Store))));
        assert_eq!(match_path("/api/abc/envelope/"), Some(Err(())));
        assert_eq!(match_path("/api/0/projects/"), None);
        assert_eq!(match_path("/notapi/42/envelope/"), None);
        assert_eq!(match_path("/xapi/42/envelope/"), None);
    }
}
