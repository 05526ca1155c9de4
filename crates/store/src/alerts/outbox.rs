//! The alerting outbox, in two stages.
//!
//! 1. **Jobs** (`jobs`, written by the ingest batch in its own transaction): [`take_jobs`]
//!    removes a few inside the evaluator's transaction, which also writes the deliveries the
//!    fired rules cause, so a job is turned into deliveries exactly once.
//! 2. **Deliveries**: [`enqueue`] is idempotent on the delivery's key; [`claim_batch`] claims
//!    every pending delivery of one target (a digest) under a batch id, with a lease. The batch id
//!    stays with those rows across retries and is the idempotency key the plugin gets, so a
//!    sender that dies after sending but before [`finish`] makes the next one resend with the same
//!    key, which the target drops.

use errhound_domain::JobKind;
use errhound_domain::alerts::{AttemptOutcome, DeliveryState, Reason};

use crate::StoreError;
use crate::db::{Engine, Tx};
use crate::query::{Conn, Int, Query};

/// A job of the outbox.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Its id.
    pub id: i64,
    /// What happened.
    pub kind: JobKind,
    /// The project.
    pub project_id: i64,
    /// The issue.
    pub issue_id: i64,
    /// The event that caused it (32 hex digits).
    pub event_id: String,
}

#[derive(sqlx::FromRow)]
struct JobRow {
    id: i64,
    kind: String,
    payload: String,
}

#[derive(serde::Deserialize)]
struct JobPayload {
    project_id: i64,
    issue_id: i64,
    event_id: String,
}

/// Removes up to `limit` jobs due by `now_ms`, oldest first, and returns them; the caller's
/// transaction decides (a rollback puts them back). On PostgreSQL, jobs another evaluator holds
/// are skipped. Jobs this version cannot read are dropped with a warning.
pub async fn take_jobs(tx: &mut Tx, limit: i64, now_ms: i64) -> Result<Vec<Job>, StoreError> {
    let query = match tx.engine() {
        Engine::Sqlite => Query::new(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE run_at <= $1 ORDER BY id \
             LIMIT $2) RETURNING id, kind, payload",
        ),
        Engine::Postgres => Query::new(
            "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE run_at <= $1 ORDER BY id \
             LIMIT $2 FOR UPDATE SKIP LOCKED) RETURNING id, kind, payload",
        ),
    };
    let mut rows: Vec<JobRow> = query
        .bind(now_ms)
        .bind(limit)
        .fetch_all(&mut tx.conn())
        .await?;
    rows.sort_by_key(|r| r.id);
    let mut jobs = Vec::with_capacity(rows.len());
    for row in rows {
        let kind = JobKind::parse(&row.kind);
        let payload = serde_json::from_str::<JobPayload>(&row.payload);
        match (kind, payload) {
            (Some(kind), Ok(p)) => jobs.push(Job {
                id: row.id,
                kind,
                project_id: p.project_id,
                issue_id: p.issue_id,
                event_id: p.event_id,
            }),
            _ => {
                tracing::warn!(job.id = row.id, job.kind = %row.kind, "dropping an unreadable job")
            }
        }
    }
    Ok(jobs)
}

/// A delivery to write.
#[derive(Debug, Clone)]
pub struct NewDelivery<'a> {
    /// Unique per (cause, target): writing it twice stores it once.
    pub idempotency_key: &'a str,
    /// The project.
    pub project_id: i64,
    /// The rule that fired (`None` for workflow notices).
    pub rule_id: Option<i64>,
    /// The issue.
    pub issue_id: i64,
    /// The event that caused it (empty for a notice no event caused).
    pub event_id: &'a str,
    /// Why it is sent: what happened to the issue, or a workflow notice.
    pub reason: Reason,
    /// Who did it, by name (workflow notices).
    pub actor: Option<&'a str>,
    /// A workflow notice's detail (the comment, the team assigned).
    pub detail: Option<&'a str>,
    /// Where it goes: the rule action's Sentry JSON (a workflow notice: mail to its user).
    pub target: &'a str,
    /// Deliveries with the same key are sent together (one digest).
    pub digest_key: &'a str,
    /// When it may be sent (the end of its digest window).
    pub due_at: i64,
}

/// Writes a pending delivery; `false` when one with its key exists already.
pub async fn enqueue(
    conn: &mut Conn<'_>,
    delivery: &NewDelivery<'_>,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let written = Query::new(
        "INSERT INTO deliveries (idempotency_key, project_id, rule_id, issue_id, event_id, reason, \
         target, digest_key, state, due_at, created_at, actor, detail) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13) \
         ON CONFLICT (idempotency_key) DO NOTHING",
    )
    .bind(delivery.idempotency_key)
    .bind(delivery.project_id)
    .bind(delivery.rule_id)
    .bind(delivery.issue_id)
    .bind(delivery.event_id)
    .bind(delivery.reason.as_str())
    .bind(delivery.target)
    .bind(delivery.digest_key)
    .bind(DeliveryState::Pending.as_str())
    .bind(delivery.due_at)
    .bind(now_ms)
    .bind(delivery.actor)
    .bind(delivery.detail)
    .execute(conn)
    .await?;
    Ok(written > 0)
}

/// Moves the waiting (unclaimed) deliveries of `digest_key` that were written after
/// `oldest_kept` to `due_at`, so the digest is sent once its target is quiet; older ones keep
/// their time, which bounds the wait (a claim takes every waiting delivery of the key).
pub async fn extend_digest(
    conn: &mut Conn<'_>,
    digest_key: &str,
    due_at: i64,
    oldest_kept: i64,
) -> Result<(), StoreError> {
    Query::new(
        "UPDATE deliveries SET due_at = $1 WHERE digest_key = $2 AND state = 'pending' \
         AND batch IS NULL AND created_at > $3 AND due_at < $1",
    )
    .bind(due_at)
    .bind(digest_key)
    .bind(oldest_kept)
    .execute(conn)
    .await?;
    Ok(())
}

/// A stored delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// Its id.
    pub id: i64,
    /// The project.
    pub project_id: i64,
    /// The rule that fired, if it still exists.
    pub rule_id: Option<i64>,
    /// The issue.
    pub issue_id: i64,
    /// The event that caused it (empty for a notice no event caused).
    pub event_id: String,
    /// Why it is sent.
    pub reason: Reason,
    /// Who did it, by name (workflow notices).
    pub actor: Option<String>,
    /// A workflow notice's detail (the comment, the team assigned).
    pub detail: Option<String>,
    /// Where it goes (the rule action's Sentry JSON).
    pub target: String,
    /// Where it is.
    pub state: DeliveryState,
    /// Attempts so far.
    pub attempts: i64,
    /// When it is (or was) due.
    pub due_at: i64,
    /// The last failure.
    pub last_error: Option<String>,
    /// When it was written.
    pub created_at: i64,
    /// When it was sent or given up on.
    pub finished_at: Option<i64>,
}

#[derive(sqlx::FromRow)]
struct DeliveryRow {
    id: i64,
    project_id: i64,
    rule_id: Option<i64>,
    issue_id: i64,
    event_id: String,
    reason: String,
    actor: Option<String>,
    detail: Option<String>,
    target: String,
    state: String,
    attempts: i64,
    due_at: i64,
    last_error: Option<String>,
    created_at: i64,
    finished_at: Option<i64>,
}

macro_rules! delivery_columns {
    () => {
        "id, project_id, rule_id, issue_id, event_id, reason, actor, detail, target, state, \
         attempts, due_at, last_error, created_at, finished_at"
    };
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;

    fn try_from(row: DeliveryRow) -> Result<Delivery, StoreError> {
        let invalid = |what: &str, value: &str| {
            StoreError::InvalidValue(format!("delivery {}: {what} {value:?}", row.id))
        };
        Ok(Delivery {
            reason: Reason::parse(&row.reason).ok_or_else(|| invalid("reason", &row.reason))?,
            state: DeliveryState::parse(&row.state).ok_or_else(|| invalid("state", &row.state))?,
            id: row.id,
            project_id: row.project_id,
            rule_id: row.rule_id,
            issue_id: row.issue_id,
            event_id: row.event_id,
            actor: row.actor,
            detail: row.detail,
            target: row.target,
            attempts: row.attempts,
            due_at: row.due_at,
            last_error: row.last_error,
            created_at: row.created_at,
            finished_at: row.finished_at,
        })
    }
}

fn deliveries(rows: Vec<DeliveryRow>) -> Result<Vec<Delivery>, StoreError> {
    let mut out: Vec<Delivery> = rows
        .into_iter()
        .map(Delivery::try_from)
        .collect::<Result<_, _>>()?;
    out.sort_by_key(|d| d.id);
    Ok(out)
}

/// Deliveries claimed together: one digest to one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Batch {
    /// The batch id, kept across retries: the idempotency key of the send.
    pub id: String,
    /// Its deliveries, oldest first (at least one).
    pub deliveries: Vec<Delivery>,
}

#[derive(sqlx::FromRow)]
struct Candidate {
    digest_key: String,
    batch: Option<String>,
}

/// Claims the next batch due at `now_ms` until `now_ms + lease_ms`: a batch that failed before
/// (or whose sender died: its lease ran out) with exactly its deliveries, else up to `max` pending
/// deliveries of the target of the oldest due one. `None` when nothing is due.
pub async fn claim_batch(
    tx: &mut Tx,
    now_ms: i64,
    lease_ms: i64,
    max: i64,
) -> Result<Option<Batch>, StoreError> {
    let pick = match tx.engine() {
        Engine::Sqlite => Query::new(
            "SELECT digest_key, batch FROM deliveries WHERE (state = 'pending' AND due_at <= $1) \
             OR (state = 'sending' AND lease_until <= $1) ORDER BY due_at, id LIMIT 1",
        ),
        Engine::Postgres => Query::new(
            "SELECT digest_key, batch FROM deliveries WHERE (state = 'pending' AND due_at <= $1) \
             OR (state = 'sending' AND lease_until <= $1) ORDER BY due_at, id LIMIT 1 \
             FOR UPDATE SKIP LOCKED",
        ),
    };
    let Some(candidate): Option<Candidate> =
        pick.bind(now_ms).fetch_optional(&mut tx.conn()).await?
    else {
        return Ok(None);
    };
    let lease_until = now_ms + lease_ms;
    let (id, rows): (String, Vec<DeliveryRow>) = match candidate.batch {
        Some(batch) => {
            let rows = Query::new(concat!(
                "UPDATE deliveries SET state = 'sending', lease_until = $1 WHERE batch = $2 \
                 AND state IN ('pending', 'sending') RETURNING ",
                delivery_columns!()
            ))
            .bind(lease_until)
            .bind(batch.as_str())
            .fetch_all(&mut tx.conn())
            .await?;
            (batch, rows)
        }
        None => {
            let batch = hex::encode(rand::random::<[u8; 16]>());
            let claim = match tx.engine() {
                Engine::Sqlite => Query::new(concat!(
                    "UPDATE deliveries SET state = 'sending', batch = $1, lease_until = $2 \
                     WHERE id IN (SELECT id FROM deliveries WHERE digest_key = $3 \
                     AND state = 'pending' AND batch IS NULL ORDER BY id LIMIT $4) RETURNING ",
                    delivery_columns!()
                )),
                Engine::Postgres => Query::new(concat!(
                    "UPDATE deliveries SET state = 'sending', batch = $1, lease_until = $2 \
                     WHERE id IN (SELECT id FROM deliveries WHERE digest_key = $3 \
                     AND state = 'pending' AND batch IS NULL ORDER BY id LIMIT $4 \
                     FOR UPDATE SKIP LOCKED) RETURNING ",
                    delivery_columns!()
                )),
            };
            let rows = claim
                .bind(batch.as_str())
                .bind(lease_until)
                .bind(candidate.digest_key.as_str())
                .bind(max)
                .fetch_all(&mut tx.conn())
                .await?;
            (batch, rows)
        }
    };
    let deliveries = deliveries(rows)?;
    if deliveries.is_empty() {
        return Ok(None);
    }
    Ok(Some(Batch { id, deliveries }))
}

/// How a batch's send ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finish<'a> {
    /// Delivered.
    Sent,
    /// Failed; try again at `due_at`.
    Retry {
        /// The next attempt.
        due_at: i64,
        /// What failed.
        error: &'a str,
    },
    /// Failed for good.
    Dead {
        /// What failed.
        error: &'a str,
    },
}

/// Records the attempt of `plugin_id` for every delivery of the batch and moves them on.
pub async fn finish(
    conn: &mut Conn<'_>,
    batch: &str,
    plugin_id: &str,
    finish: &Finish<'_>,
    now_ms: i64,
) -> Result<(), StoreError> {
    let (outcome, detail) = match finish {
        Finish::Sent => (AttemptOutcome::Sent, ""),
        Finish::Retry { error, .. } => (AttemptOutcome::Retrying, *error),
        Finish::Dead { error } => (AttemptOutcome::Failed, *error),
    };
    Query::new(
        "INSERT INTO delivery_attempts (delivery_id, at, plugin_id, outcome, detail) \
         SELECT id, $1, $2, $3, $4 FROM deliveries WHERE batch = $5 AND state = 'sending'",
    )
    .bind(now_ms)
    .bind(plugin_id)
    .bind(outcome.as_str())
    .bind(detail)
    .bind(batch)
    .execute(conn)
    .await?;
    let update = match finish {
        Finish::Sent => Query::new(
            "UPDATE deliveries SET state = 'sent', attempts = attempts + 1, lease_until = NULL, \
             finished_at = $1, last_error = NULL WHERE batch = $2 AND state = 'sending'",
        )
        .bind(now_ms)
        .bind(batch),
        Finish::Retry { due_at, error } => Query::new(
            "UPDATE deliveries SET state = 'pending', attempts = attempts + 1, lease_until = NULL, \
             due_at = $1, last_error = $2 WHERE batch = $3 AND state = 'sending'",
        )
        .bind(*due_at)
        .bind(*error)
        .bind(batch),
        Finish::Dead { error } => Query::new(
            "UPDATE deliveries SET state = 'dead', attempts = attempts + 1, lease_until = NULL, \
             finished_at = $1, last_error = $2 WHERE batch = $3 AND state = 'sending'",
        )
        .bind(now_ms)
        .bind(*error)
        .bind(batch),
    };
    update.execute(conn).await?;
    Ok(())
}

/// Makes a dead delivery (and the rest of its batch) due now ("retry now"); `false` when the
/// project has no such dead delivery.
pub async fn retry_now(
    conn: &mut Conn<'_>,
    project_id: i64,
    delivery_id: i64,
    now_ms: i64,
) -> Result<bool, StoreError> {
    let revived = Query::new(
        "UPDATE deliveries SET state = 'pending', due_at = $1, finished_at = NULL \
         WHERE state = 'dead' AND batch = (SELECT batch FROM deliveries WHERE id = $2 \
         AND project_id = $3 AND state = 'dead')",
    )
    .bind(now_ms)
    .bind(delivery_id)
    .bind(project_id)
    .execute(conn)
    .await?;
    Ok(revived > 0)
}

/// What a list of deliveries is about.
#[derive(Debug, Clone, Copy)]
pub enum Scope {
    /// One issue's.
    Issue(i64),
    /// One rule's.
    Rule(i64),
    /// The project's dead ones.
    DeadInProject(i64),
}

/// The newest `limit` deliveries of `scope`, newest first.
pub async fn list(
    conn: &mut Conn<'_>,
    scope: Scope,
    limit: i64,
) -> Result<Vec<Delivery>, StoreError> {
    let (query, key) = match scope {
        Scope::Issue(id) => (
            Query::new(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM deliveries WHERE issue_id = $1 ORDER BY id DESC LIMIT $2"
            )),
            id,
        ),
        Scope::Rule(id) => (
            Query::new(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM deliveries WHERE rule_id = $1 ORDER BY id DESC LIMIT $2"
            )),
            id,
        ),
        Scope::DeadInProject(id) => (
            Query::new(concat!(
                "SELECT ",
                delivery_columns!(),
                " FROM deliveries WHERE project_id = $1 AND state = 'dead' ORDER BY id DESC \
                 LIMIT $2"
            )),
            id,
        ),
    };
    let rows = query.bind(key).bind(limit).fetch_all(conn).await?;
    let mut out = deliveries(rows)?;
    out.reverse();
    Ok(out)
}

/// One attempt of a delivery.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Attempt {
    /// The delivery.
    pub delivery_id: i64,
    /// When, epoch ms.
    pub at: i64,
    /// The plugin that sent.
    pub plugin_id: String,
    /// `sent`, `retrying` or `failed` ([`AttemptOutcome`]).
    pub outcome: String,
    /// What failed (empty when sent).
    pub detail: String,
}

/// The attempts of the given deliveries, oldest first.
pub async fn attempts(
    conn: &mut Conn<'_>,
    delivery_ids: &[i64],
) -> Result<Vec<Attempt>, StoreError> {
    if delivery_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = Query::builder();
    query
        .push("SELECT delivery_id, at, plugin_id, outcome, detail FROM delivery_attempts WHERE delivery_id IN (")
        .push_bind_list(delivery_ids.iter().copied())
        .push(") ORDER BY id");
    Ok(query.fetch_all(conn).await?)
}

#[derive(sqlx::FromRow)]
struct StateCount {
    state: String,
    value: i64,
}

/// How many deliveries are in each unfinished state (the outbox depth, for `/metrics`), and
/// how many jobs wait for the evaluator.
pub async fn depth(conn: &mut Conn<'_>) -> Result<Depth, StoreError> {
    let rows: Vec<StateCount> = Query::new(
        "SELECT state, CAST(COUNT(*) AS BIGINT) AS value FROM deliveries \
         WHERE state IN ('pending', 'sending', 'dead') GROUP BY state",
    )
    .fetch_all(conn)
    .await?;
    let jobs: Int = Query::new("SELECT CAST(COUNT(*) AS BIGINT) AS value FROM jobs")
        .fetch_one(conn)
        .await?;
    let count = |state: DeliveryState| {
        rows.iter()
            .find(|r| r.state == state.as_str())
            .map_or(0, |r| r.value)
    };
    Ok(Depth {
        jobs: jobs.value,
        pending: count(DeliveryState::Pending),
        sending: count(DeliveryState::Sending),
        dead: count(DeliveryState::Dead),
    })
}

/// The outbox depth.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Depth {
    /// Jobs not yet evaluated.
    pub jobs: i64,
    /// Deliveries waiting.
    pub pending: i64,
    /// Deliveries being sent.
    pub sending: i64,
    /// Deliveries given up on.
    pub dead: i64,
}
