//! Health and metrics.
//!
//! * `GET /_health`: liveness, always 200 while the process serves requests.
//! * `GET /_health?ready`: readiness, 200 only when the database answers and the queue is open.
//! * `GET /metrics`: Prometheus text format (event counters, batch timings, queue backlog).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use errhound_queue::IngestQueue;
use errhound_store::query::{Int, Query as Sql};
use std::collections::HashMap;

use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/_health", get(health))
        .route("/_health/", get(health))
        .route("/metrics", get(metrics_text))
}

async fn health(
    State(state): State<AppState>,
    Query(params): Query<HashMap<String, String>>,
) -> Response {
    if !params.contains_key("ready") {
        return (StatusCode::OK, "ok\n").into_response();
    }
    let database = match state.db.write().await {
        Ok(mut conn) => Sql::new("SELECT CAST(1 AS BIGINT) AS value")
            .fetch_one::<Int>(&mut conn.conn())
            .await
            .is_ok(),
        Err(_) => false,
    };
    let backlog = state.queue.backlog();
    let status = if database {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({
        "database": if database { "ok" } else { "unavailable" },
        "queue": { "backlog_events": backlog.events, "backlog_bytes": backlog.bytes },
    });
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let backlog = state.queue.backlog();
    metrics::gauge!("errhound_queue_backlog_events").set(backlog.events as f64);
    metrics::gauge!("errhound_queue_backlog_bytes").set(backlog.bytes as f64);
    match &state.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}
