//! What the alert-rule preview replays (`domain::alerts::preview`): a project's newest events
//! received since a time, with what alerting reads from each payload, and the history of
//! their issues.
//!
//! The events are read newest first along `events_project_received` (so the walk stops at its
//! limit) and returned oldest first. Their payloads are decoded with the project's
//! dictionaries and reduced to [`EventFacts`] at once: ten thousand decoded payloads would not
//! fit in memory, their facts do.

use std::collections::HashMap;

use errhound_domain::alerts::{Assignee, EventFacts, IssueHistory};
use serde_json::Value;

use crate::StoreError;
use crate::activity::ActivityType;
use crate::ingest::padded;
use crate::payload::PayloadDictionaries;
use crate::query::{Conn, Query};

/// One event to replay.
#[derive(Debug, Clone)]
pub struct PastEvent {
    /// Its issue.
    pub issue_id: i64,
    /// When it was received, epoch ms.
    pub received: i64,
    /// What alerting reads from its payload (empty when the payload is unreadable).
    pub facts: EventFacts,
    /// Its `user` tag, which unique-user conditions count.
    pub user: Option<String>,
}

/// A project's recent events and their issues.
#[derive(Debug, Clone, Default)]
pub struct PastEvents {
    /// The events, oldest first.
    pub events: Vec<PastEvent>,
    /// Whether older events received since the asked time were left out by the limit.
    pub truncated: bool,
    /// The history of every issue of `events`, by issue id.
    pub issues: HashMap<i64, IssueHistory>,
}

#[derive(sqlx::FromRow)]
struct EventRow {
    issue_id: i64,
    event_id: Vec<u8>,
    received: i64,
    data: Vec<u8>,
}

#[derive(sqlx::FromRow)]
struct IssueRow {
    id: i64,
    first_seen: i64,
    times_seen: i64,
    user_id: Option<i64>,
    team_id: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct ActivityRow {
    issue_id: i64,
    kind: String,
    user_id: Option<i64>,
    data: String,
    created_at: i64,
}

/// Payloads decoded between yields to the runtime, so a long read does not hold a worker.
const DECODED_PER_YIELD: usize = 256;

/// The newest `limit` events of the project received at or after `since_ms` (oldest first),
/// with their issues' first-seen time, count of earlier events, assignee, and the times they
/// regressed or came back from being ignored since the oldest returned event.
///
/// A regression's (or reappearance's) time is the receive time of the event that caused it
/// when that event is among those returned (the activity itself is written when the ingest
/// batch commits, a little later), else the activity's time.
pub async fn past_events(
    conn: &mut Conn<'_>,
    dictionaries: &PayloadDictionaries,
    project_id: i64,
    since_ms: i64,
    limit: usize,
) -> Result<PastEvents, StoreError> {
    let fetch = i64::try_from(limit).unwrap_or(i64::MAX).saturating_add(1);
    let mut rows: Vec<EventRow> = Query::new(
        "SELECT e.issue_id, e.event_id, e.received, p.data FROM events e \
         JOIN event_payloads p ON p.event_id = e.id \
         WHERE e.project_id = $1 AND e.received >= $2 \
         ORDER BY e.received DESC, e.id DESC LIMIT $3",
    )
    .bind(project_id)
    .bind(since_ms)
    .bind(fetch)
    .fetch_all(conn)
    .await?;
    let truncated = rows.len() > limit;
    rows.truncate(limit);
    rows.reverse();

    let mut received_of: HashMap<String, i64> = HashMap::with_capacity(rows.len());
    let mut replayed: HashMap<i64, u64> = HashMap::new();
    let mut events = Vec::with_capacity(rows.len());
    for (index, row) in rows.into_iter().enumerate() {
        if index % DECODED_PER_YIELD == DECODED_PER_YIELD - 1 {
            tokio::task::yield_now().await;
        }
        let event_id = hex::encode(&row.event_id);
        let facts = match dictionaries.decode_json(conn, &row.data).await {
            Ok(json) => EventFacts::from_event(&json),
            Err(error) => {
                tracing::warn!(%error, event.id = %event_id, "previewing an unreadable event");
                EventFacts::default()
            }
        };
        let user = facts
            .tags
            .iter()
            .find(|(key, _)| key == "user")
            .map(|(_, value)| value.clone());
        received_of.insert(event_id, row.received);
        *replayed.entry(row.issue_id).or_default() += 1;
        events.push(PastEvent {
            issue_id: row.issue_id,
            received: row.received,
            facts,
            user,
        });
    }
    let Some(oldest) = events.first().map(|e| e.received) else {
        return Ok(PastEvents {
            truncated,
            ..PastEvents::default()
        });
    };

    let mut ids: Vec<i64> = replayed.keys().copied().collect();
    ids.sort_unstable();
    let mut issues = HashMap::with_capacity(ids.len());
    for list in padded(&ids) {
        let mut query = Query::builder();
        query.push(
            "SELECT i.id, i.first_seen, i.times_seen, a.user_id, a.team_id FROM issues i \
             LEFT JOIN issue_assignees a ON a.issue_id = i.id WHERE i.id IN (",
        );
        query.push_bind_list(list.iter().copied()).push(")");
        let found: Vec<IssueRow> = query.fetch_all(conn).await?;
        for row in found {
            let before = u64::try_from(row.times_seen)
                .unwrap_or(0)
                .saturating_sub(replayed.get(&row.id).copied().unwrap_or(0));
            let assignee = match (row.user_id, row.team_id) {
                (Some(user), _) => Some(Assignee::User(user)),
                (None, Some(team)) => Some(Assignee::Team(team)),
                (None, None) => None,
            };
            issues.insert(
                row.id,
                IssueHistory {
                    first_seen_ms: row.first_seen,
                    times_seen_before: before,
                    assignee,
                    regressed_at_ms: Vec::new(),
                    reappeared_at_ms: Vec::new(),
                },
            );
        }
    }

    for list in padded(&ids) {
        let mut query = Query::builder();
        query.push(
            "SELECT issue_id, type AS kind, user_id, data, created_at FROM activity \
             WHERE type IN (",
        );
        query.push_bind_list([
            ActivityType::SetRegression.as_str(),
            ActivityType::SetEscalating.as_str(),
            ActivityType::SetUnresolved.as_str(),
        ]);
        query.push(") AND created_at >= ").push_bind(oldest);
        query.push(" AND issue_id IN (");
        query.push_bind_list(list.iter().copied()).push(")");
        let found: Vec<ActivityRow> = query.fetch_all(conn).await?;
        for row in found {
            let data: Value = serde_json::from_str(&row.data).unwrap_or(Value::Null);
            let event_id = data.get("event_id").and_then(Value::as_str);
            let regressed = match ActivityType::parse(&row.kind) {
                Some(ActivityType::SetRegression) => true,
                Some(ActivityType::SetEscalating) => false,
                // Only ingest's unresolve (an ignore that ran out when an event came) alerts;
                // a user's, or a snooze expiring on its own, does not.
                Some(ActivityType::SetUnresolved)
                    if row.user_id.is_none() && event_id.is_some() =>
                {
                    false
                }
                _ => continue,
            };
            let at = event_id
                .and_then(|id| received_of.get(id))
                .map_or(row.created_at, |&received| received.min(row.created_at));
            if let Some(issue) = issues.get_mut(&row.issue_id) {
                if regressed {
                    issue.regressed_at_ms.push(at);
                } else {
                    issue.reappeared_at_ms.push(at);
                }
            }
        }
    }
    for issue in issues.values_mut() {
        issue.regressed_at_ms.sort_unstable();
        issue.reappeared_at_ms.sort_unstable();
    }
    Ok(PastEvents {
        events,
        truncated,
        issues,
    })
}
