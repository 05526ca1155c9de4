//! Health and metrics.
//!
//! * `GET /_health`: liveness, always 200 while the process serves requests.
//! * `GET /_health?ready`: readiness, 200 only when the database answers and the queue is open.
//! * `GET /metrics`: Prometheus text format (event counters, batch timings, queue backlog,
//!   notification deliveries by plugin and outcome, the outbox depth by state).

use axum::Router;
use axum::extract::{Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use errhound_queue::IngestQueue;
use errhound_store::alerts::outbox;
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
    // Not the writer: on SQLite a long ingest batch would make a healthy server look down.
    let database = match state.db.read_latest().await {
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

async fn outbox_depth(state: &AppState) -> Result<outbox::Depth, errhound_store::StoreError> {
    let mut conn = state.db.read().await?;
    outbox::depth(&mut conn.conn()).await
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    let backlog = state.queue.backlog();
    metrics::gauge!("errhound_queue_backlog_events").set(backlog.events as f64);
    metrics::gauge!("errhound_queue_backlog_bytes").set(backlog.bytes as f64);
    // The outbox depth is the database's: read it when scraped, so every process agrees.
    match outbox_depth(&state).await {
        Ok(depth) => {
            metrics::gauge!("errhound_alert_jobs").set(depth.jobs as f64);
            for (name, value) in [
                ("pending", depth.pending),
                ("sending", depth.sending),
                ("dead", depth.dead),
            ] {
                metrics::gauge!("errhound_outbox_deliveries", "state" => name).set(value as f64);
            }
        }
        Err(error) => tracing::warn!(%error, "outbox depth not read for /metrics"),
    }
    match &state.metrics {
        Some(handle) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            handle.render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "metrics are not enabled\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, reason = "tests")]

    use std::sync::Arc;
    use std::time::Duration;

    use errhound_queue::{Spool, SpoolOptions};
    use errhound_store::payload::PayloadDictionaries;

    use super::*;

    /// Far below SQLite's 60 s writer acquire timeout the old check waited out; a bound, not a
    /// benchmark.
    const BOUND: Duration = Duration::from_secs(5);

    #[tokio::test]
    async fn readiness_does_not_queue_behind_a_write_transaction() {
        for t in errhound_test_utils::engines().await {
            let dir = tempfile::tempdir().unwrap();
            let spool = Spool::open(dir.path(), SpoolOptions::default())
                .await
                .unwrap();
            let state = AppState::new(
                t.db.clone(),
                spool.into(),
                Arc::new(PayloadDictionaries::new()),
                errhound_config::Config::default(),
                None,
            );
            // An ingest batch holding the writer (SQLite: the only write connection).
            let tx = t.db.begin().await.unwrap();
            let ready = HashMap::from([("ready".to_owned(), String::new())]);
            let response = tokio::time::timeout(BOUND, health(State(state), Query(ready)))
                .await
                .unwrap_or_else(|_| panic!("{}: readiness waited for the writer", t.engine));
            assert_eq!(response.status(), StatusCode::OK, "{}", t.engine);
            drop(tx);
        }
    }
}
