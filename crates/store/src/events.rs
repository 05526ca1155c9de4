//! Stored events: reads for the API and UI.

use crate::StoreError;
pub use crate::issues::Page;
use crate::query::{Arg, Conn, Query};

/// An event index row with its compressed payload.
#[derive(Debug, Clone)]
pub struct StoredEvent {
    /// Primary key.
    pub id: i64,
    /// Owning project.
    pub project_id: i64,
    /// The issue it belongs to.
    pub issue_id: i64,
    /// 32 lowercase hex digits.
    pub event_id: String,
    /// Event time, epoch ms.
    pub timestamp: i64,
    /// Receive time, epoch ms.
    pub received: i64,
    /// zstd-compressed normalized JSON ([`crate::payload`]).
    pub data: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    id: i64,
    project_id: i64,
    issue_id: i64,
    event_id: Vec<u8>,
    timestamp: i64,
    received: i64,
    data: Vec<u8>,
}

impl From<EventRow> for StoredEvent {
    fn from(row: EventRow) -> StoredEvent {
        StoredEvent {
            id: row.id,
            project_id: row.project_id,
            issue_id: row.issue_id,
            event_id: hex::encode(row.event_id),
            timestamp: row.timestamp,
            received: row.received,
            data: row.data,
        }
    }
}

const SELECT: &str = "SELECT e.id, e.project_id, e.issue_id, e.event_id, e.timestamp, e.received, \
    p.data FROM events e JOIN event_payloads p ON p.event_id = e.id";

/// Up to `limit` of an issue's events, newest first; `page` bounds are `(timestamp, id)`.
pub async fn list_for_issue(
    conn: &mut Conn<'_>,
    issue_id: i64,
    page: Page,
    limit: i64,
) -> Result<Vec<StoredEvent>, StoreError> {
    let mut query = Query::builder();
    query
        .push(SELECT)
        .push(" WHERE e.issue_id = ")
        .push_bind(issue_id);
    let (op, order) = match page {
        Page::First => ("", "DESC"),
        Page::After(..) => ("<", "DESC"),
        Page::Before(..) => (">", "ASC"),
    };
    if let Page::After(timestamp, id) | Page::Before(timestamp, id) = page {
        // `(timestamp, id)` beyond the boundary; the first term is a range of the
        // events_issue_timestamp index, so a deep page starts at the boundary.
        let inclusive = if op == "<" { " <= " } else { " >= " };
        query
            .push(" AND e.timestamp")
            .push(inclusive)
            .push_bind(timestamp);
        query
            .push(" AND (e.timestamp ")
            .push(op)
            .push(" ")
            .push_bind(timestamp);
        query
            .push(" OR e.id ")
            .push(op)
            .push(" ")
            .push_bind(id)
            .push(")");
    }
    query
        .push(" ORDER BY e.timestamp ")
        .push(order)
        .push(", e.id ")
        .push(order);
    query.push(" LIMIT ").push_bind(limit);
    let rows: Vec<EventRow> = query.fetch_all(conn).await?;
    let mut rows: Vec<StoredEvent> = rows.into_iter().map(StoredEvent::from).collect();
    if matches!(page, Page::Before(..)) {
        rows.reverse();
    }
    Ok(rows)
}

/// The newest (`latest = true`) or oldest event of an issue.
pub async fn edge_of_issue(
    conn: &mut Conn<'_>,
    issue_id: i64,
    latest: bool,
) -> Result<Option<StoredEvent>, StoreError> {
    let mut query = Query::builder();
    query
        .push(SELECT)
        .push(" WHERE e.issue_id = ")
        .push_bind(issue_id);
    query.push(if latest {
        " ORDER BY e.timestamp DESC, e.id DESC LIMIT 1"
    } else {
        " ORDER BY e.timestamp ASC, e.id ASC LIMIT 1"
    });
    let row: Option<EventRow> = query.fetch_optional(conn).await?;
    Ok(row.map(StoredEvent::from))
}

/// The event with this id in the project.
pub async fn find(
    conn: &mut Conn<'_>,
    project_id: i64,
    event_id: &str,
) -> Result<Option<StoredEvent>, StoreError> {
    let mut query = Query::builder();
    query
        .push(SELECT)
        .push(" WHERE e.project_id = ")
        .push_bind(project_id);
    query
        .push(" AND e.event_id = ")
        .push_bind(Arg::Bytes(crate::ingest::event_id_bytes(event_id)));
    let row: Option<EventRow> = query.fetch_optional(conn).await?;
    Ok(row.map(StoredEvent::from))
}

#[derive(sqlx::FromRow)]
struct EventIdRow {
    event_id: Vec<u8>,
}

/// The ids of the events just older and just newer than `event` within its issue. Each is one
/// step from `event` in the events_issue_timestamp index (the `timestamp <=` / `>=` terms make
/// the search start at the event instead of walking from the newest or oldest event).
pub async fn neighbours(
    conn: &mut Conn<'_>,
    event: &StoredEvent,
) -> Result<(Option<String>, Option<String>), StoreError> {
    let previous: Option<EventIdRow> = Query::new(
        "SELECT event_id FROM events WHERE issue_id = $1 \
         AND timestamp <= $2 AND (timestamp < $2 OR id < $3) \
         ORDER BY timestamp DESC, id DESC LIMIT 1",
    )
    .bind(event.issue_id)
    .bind(event.timestamp)
    .bind(event.id)
    .fetch_optional(conn)
    .await?;
    let next: Option<EventIdRow> = Query::new(
        "SELECT event_id FROM events WHERE issue_id = $1 \
         AND timestamp >= $2 AND (timestamp > $2 OR id > $3) \
         ORDER BY timestamp ASC, id ASC LIMIT 1",
    )
    .bind(event.issue_id)
    .bind(event.timestamp)
    .bind(event.id)
    .fetch_optional(conn)
    .await?;
    Ok((
        previous.map(|r| hex::encode(r.event_id)),
        next.map(|r| hex::encode(r.event_id)),
    ))
}
