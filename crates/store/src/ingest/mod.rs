//! The ingest write path: one transaction per worker batch.
//!
//! For each batch the worker hands over processed events; this module
//! 0. drops events already stored (replays, SDK retries), so a duplicate opens no issue,
//!    attaches no hash and records no outbox job,
//! 1. resolves their grouping hashes to issues (an event joins the issue of its first known hash;
//!    events whose hashes are all new open issues, sharing one when they share a hash),
//! 2. inserts event index rows with `ON CONFLICT (project_id, event_id) DO NOTHING`, so a batch
//!    replayed after a crash stores nothing twice, and only counts what it really inserted,
//! 3. stores the compressed payloads,
//! 4. writes the counters coalesced in memory: one `UPDATE` for all issues of the batch, one
//!    upsert per distinct tag value, per issue-hour and per project, never one per event,
//! 5. reopens resolved issues that received events (regressions) and records outbox jobs for new
//!    and regressed issues.
//!
//! Statement sizes stay under both engines' parameter limits, and rows are written in key order so
//! concurrent PostgreSQL writers cannot deadlock.

use std::collections::{BTreeMap, HashMap, HashSet};

use errhound_domain::JobKind;

use crate::StoreError;
use crate::db::{Engine, Tx};
use reopen::reopen_resolved;

mod reopen;
use crate::query::{Arg, Query};

/// Rows per multi-row statement, largest first. Splitting every row set into these few sizes
/// keeps the number of distinct statements small, so prepared statements are reused from the
/// connection's cache instead of being parsed again for every batch. 512 rows of the widest
/// statement (13 columns) stay far below both engines' parameter limits.
const SHAPES: [usize; 5] = [512, 128, 32, 8, 1];

/// Splits `items` into chunks whose lengths are all in [`SHAPES`].
fn shaped<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = SHAPES
            .iter()
            .copied()
            .find(|&s| s <= rest.len())
            .unwrap_or(1);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}
use errhound_domain::time::HOUR_MS;

/// One processed event, ready to be written.
#[derive(Debug, Clone)]
pub struct NewEvent {
    /// The project it was sent to.
    pub project_id: i64,
    /// 32 lowercase hex digits.
    pub event_id: String,
    /// Event time, epoch ms.
    pub timestamp_ms: i64,
    /// Receive time, epoch ms.
    pub received_ms: i64,
    /// Grouping hashes in precedence order (never empty).
    pub hashes: Vec<String>,
    /// Hashes of the previous grouping config during a transition: they find existing issues
    /// but are never attached to new ones.
    pub secondary_hashes: Vec<String>,
    /// `error`, `warning`, ...
    pub level: String,
    /// `error` or `default`.
    pub event_type: String,
    /// Issue title for this event.
    pub title: String,
    /// Issue culprit for this event.
    pub culprit: String,
    /// Sentry metadata object as JSON text.
    pub metadata: String,
    /// Platform.
    pub platform: String,
    /// Logger name, if any.
    pub logger: Option<String>,
    /// Release, if any.
    pub release: Option<String>,
    /// Tags to count per issue (including `user`, `level`, `environment`, ...).
    pub tags: Vec<(String, String)>,
    /// The compressed payload ([`crate::payload::compress`]).
    pub payload: Vec<u8>,
}

/// What a batch did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BatchOutcome {
    /// Events stored.
    pub stored: usize,
    /// Events skipped because they were already stored (replays, client retries).
    pub duplicates: usize,
    /// Issues opened by this batch.
    pub new_issues: Vec<i64>,
    /// Resolved issues reopened by this batch.
    pub regressed_issues: Vec<i64>,
    /// Events dropped because their project was deleted (or is pending deletion) after they
    /// were accepted.
    pub discarded: usize,
}

/// Writes a batch inside `tx`. The caller commits.
pub async fn write_batch(
    tx: &mut Tx,
    mut events: Vec<NewEvent>,
    now_ms: i64,
) -> Result<BatchOutcome, StoreError> {
    let mut outcome = BatchOutcome::default();
    // The same event twice in one batch (an SDK retry that both landed): keep the first.
    let mut seen = HashSet::new();
    let before = events.len();
    events.retain(|e| seen.insert((e.project_id, e.event_id.clone())));
    outcome.duplicates += before - events.len();

    let mut by_project: BTreeMap<i64, Vec<NewEvent>> = BTreeMap::new();
    for event in events {
        by_project.entry(event.project_id).or_default().push(event);
    }
    for (project_id, events) in by_project {
        write_project_batch(tx, project_id, events, now_ms, &mut outcome).await?;
    }
    Ok(outcome)
}

async fn write_project_batch(
    tx: &mut Tx,
    project_id: i64,
    events: Vec<NewEvent>,
    now_ms: i64,
    outcome: &mut BatchOutcome,
) -> Result<(), StoreError> {
    if tx.engine() == Engine::Postgres {
        // Serializes issue creation per project across worker processes (SQLite has one writer).
        Query::new("SELECT pg_advisory_xact_lock(7231, CAST($1 AS INTEGER))")
            .bind(project_id)
            .execute(&mut tx.conn())
            .await?;
    }

    // Events accepted before their project was deleted: its data is being removed, and a
    // project row that is gone would fail the whole batch.
    let live: Option<crate::query::Int> =
        Query::new("SELECT id AS value FROM projects WHERE id = $1 AND deleting_at IS NULL")
            .bind(project_id)
            .fetch_optional(&mut tx.conn())
            .await?;
    if live.is_none() {
        tracing::info!(
            project.id = project_id,
            events = events.len(),
            "dropping events of a deleted project"
        );
        outcome.discarded += events.len();
        return Ok(());
    }

    let fresh = drop_stored(tx, project_id, events).await?;
    outcome.duplicates += fresh.duplicates;
    let events = fresh.events;
    let known = lookup_hashes(tx, project_id, &events).await?;
    let assignment = assign_issues(&events, &known);
    let new_issue_ids = create_issues(tx, project_id, &events, &assignment).await?;
    let issue_of = |index: usize| match assignment.per_event[index] {
        Target::Existing(id) => id,
        Target::New(group) => new_issue_ids[group],
    };
    attach_new_hashes(tx, project_id, &events, &known, &issue_of).await?;

    let inserted = insert_events(tx, project_id, &events, &issue_of).await?;
    outcome.duplicates += events.len() - inserted.len();
    outcome.stored += inserted.len();
    insert_payloads(tx, &events, &inserted).await?;

    let stored: Vec<(usize, i64)> = inserted
        .iter()
        .map(|&(index, _)| (index, issue_of(index)))
        .collect();
    update_issue_counters(tx, &events, &stored).await?;
    upsert_tag_values(tx, &events, &stored).await?;
    upsert_hourly_counts(tx, &events, &stored).await?;
    // After the counters: ignore conditions are tested against counts that include this batch.
    let release_order =
        upsert_releases_and_environments(tx, project_id, &events, &stored, &new_issue_ids, now_ms)
            .await?;
    let reopened = reopen_resolved(tx, &events, &stored, &release_order, now_ms).await?;
    let regressed = reopened.regressed;
    if let Some(first) = stored.iter().map(|&(i, _)| events[i].timestamp_ms).min() {
        Query::new(
            "UPDATE projects SET events_processed = events_processed + $1, \
             first_event_at = COALESCE(first_event_at, $2) WHERE id = $3",
        )
        .bind(stored.len() as i64)
        .bind(first)
        .bind(project_id)
        .execute(&mut tx.conn())
        .await?;
    }

    let mut jobs = Vec::new();
    for (group, &issue_id) in new_issue_ids.iter().enumerate() {
        let first_event = assignment.new_groups[group];
        jobs.push((
            JobKind::IssueCreated,
            issue_id,
            &events[first_event].event_id,
        ));
    }
    for &issue_id in &regressed {
        let event = stored
            .iter()
            .filter(|&&(_, id)| id == issue_id)
            .map(|&(i, _)| &events[i])
            .max_by_key(|e| e.timestamp_ms);
        if let Some(event) = event {
            jobs.push((JobKind::IssueRegressed, issue_id, &event.event_id));
        }
    }
    for &(issue_id, kind, index) in &reopened.unignored {
        jobs.push((kind, issue_id, &events[index].event_id));
    }
    if crate::alerts::rules::project_needs_counts(&mut tx.conn(), project_id).await? {
        // Rules that count events or users in a window are evaluated on every batch that
        // touches an issue, once per issue, with its newest event of the batch.
        let mut newest: BTreeMap<i64, &NewEvent> = BTreeMap::new();
        for &(index, issue_id) in &stored {
            let event = &events[index];
            let entry = newest.entry(issue_id).or_insert(event);
            if event.timestamp_ms > entry.timestamp_ms {
                *entry = event;
            }
        }
        let has_job: HashSet<i64> = jobs.iter().map(|&(_, issue, _)| issue).collect();
        for (issue_id, event) in newest {
            if !has_job.contains(&issue_id) {
                jobs.push((JobKind::IssueSeen, issue_id, &event.event_id));
            }
        }
    }
    insert_jobs(tx, project_id, &jobs, now_ms).await?;
    outcome.new_issues.extend(new_issue_ids);
    outcome.regressed_issues.extend(regressed);
    Ok(())
}

/// A project's events of a batch that are not stored yet.
struct Fresh {
    events: Vec<NewEvent>,
    /// Events dropped because they are stored already.
    duplicates: usize,
}

#[derive(sqlx::FromRow)]
struct StoredEventId {
    event_id: Vec<u8>,
}

/// Drops events already stored (replays after a crash, SDK retries) before anything is derived
/// from them: a duplicate's hashes must not open an issue, attach to one, or record an outbox
/// job. Exact because a project's batches are written one at a time (the advisory lock on
/// PostgreSQL, the single writer on SQLite); the insert's `ON CONFLICT` stays the last guard.
async fn drop_stored(
    tx: &mut Tx,
    project_id: i64,
    events: Vec<NewEvent>,
) -> Result<Fresh, StoreError> {
    let ids: Vec<Vec<u8>> = events.iter().map(|e| event_id_bytes(&e.event_id)).collect();
    let mut stored: HashSet<Vec<u8>> = HashSet::new();
    for chunk in shaped(&ids) {
        let mut query = Query::builder();
        query
            .push("SELECT event_id FROM events WHERE project_id = ")
            .push_bind(project_id)
            .push(" AND event_id IN (")
            .push_bind_list(chunk.iter().map(|id| Arg::Bytes(id.clone())))
            .push(")");
        let rows: Vec<StoredEventId> = query.fetch_all(&mut tx.conn()).await?;
        stored.extend(rows.into_iter().map(|r| r.event_id));
    }
    if stored.is_empty() {
        return Ok(Fresh {
            events,
            duplicates: 0,
        });
    }
    let before = events.len();
    let events: Vec<NewEvent> = events
        .into_iter()
        .zip(ids)
        .filter(|(_, id)| !stored.contains(id))
        .map(|(event, _)| event)
        .collect();
    Ok(Fresh {
        duplicates: before - events.len(),
        events,
    })
}

#[derive(sqlx::FromRow)]
struct HashRow {
    hash: String,
    issue_id: i64,
}

async fn lookup_hashes(
    tx: &mut Tx,
    project_id: i64,
    events: &[NewEvent],
) -> Result<HashMap<String, i64>, StoreError> {
    let mut hashes: Vec<&str> = events
        .iter()
        .flat_map(|e| {
            e.hashes
                .iter()
                .chain(&e.secondary_hashes)
                .map(String::as_str)
        })
        .collect();
    hashes.sort_unstable();
    hashes.dedup();
    let mut known = HashMap::new();
    for chunk in shaped(&hashes) {
        let mut query = Query::builder();
        query
            .push("SELECT hash, issue_id FROM group_hashes WHERE project_id = ")
            .push_bind(project_id)
            .push(" AND hash IN (")
            .push_bind_list(chunk.iter().copied())
            .push(")");
        let rows: Vec<HashRow> = query.fetch_all(&mut tx.conn()).await?;
        known.extend(rows.into_iter().map(|r| (r.hash, r.issue_id)));
    }
    Ok(known)
}

#[derive(Debug, Clone, Copy)]
enum Target {
    Existing(i64),
    /// Index into `Assignment::new_groups`.
    New(usize),
}

struct Assignment {
    per_event: Vec<Target>,
    /// For each new issue, the index of the event that opened it.
    new_groups: Vec<usize>,
}

/// An event joins the issue of its first known hash (in precedence order), else of its first
/// known secondary hash (a grouping config transition). Events without a known hash open a new
/// issue, shared with every other such event of the batch that has a hash in common with it.
fn assign_issues(events: &[NewEvent], known: &HashMap<String, i64>) -> Assignment {
    let mut pending: HashMap<&str, usize> = HashMap::new();
    let mut new_groups = Vec::new();
    let per_event = events
        .iter()
        .enumerate()
        .map(|(index, event)| {
            let known_issue = event
                .hashes
                .iter()
                .chain(&event.secondary_hashes)
                .find_map(|h| known.get(h));
            if let Some(&issue) = known_issue {
                return Target::Existing(issue);
            }
            let group = match event.hashes.iter().find_map(|h| pending.get(h.as_str())) {
                Some(&group) => group,
                None => {
                    new_groups.push(index);
                    new_groups.len() - 1
                }
            };
            for hash in &event.hashes {
                pending.entry(hash.as_str()).or_insert(group);
            }
            Target::New(group)
        })
        .collect();
    Assignment {
        per_event,
        new_groups,
    }
}

#[derive(sqlx::FromRow)]
struct CreatedIssue {
    id: i64,
    short_id: i64,
}

async fn create_issues(
    tx: &mut Tx,
    project_id: i64,
    events: &[NewEvent],
    assignment: &Assignment,
) -> Result<Vec<i64>, StoreError> {
    let count = assignment.new_groups.len();
    if count == 0 {
        return Ok(Vec::new());
    }
    let reserved: crate::query::Int = Query::new(
        "UPDATE projects SET next_short_id = next_short_id + $1 WHERE id = $2 \
         RETURNING next_short_id AS value",
    )
    .bind(count as i64)
    .bind(project_id)
    .fetch_one(&mut tx.conn())
    .await?;
    let first_short_id = reserved.value - count as i64;

    // Each new issue starts from the earliest of its events; counters are added afterwards by
    // the same code path as for existing issues.
    let mut earliest: Vec<usize> = assignment.new_groups.clone();
    for (index, target) in assignment.per_event.iter().enumerate() {
        if let Target::New(group) = *target
            && events[index].timestamp_ms < events[earliest[group]].timestamp_ms
        {
            earliest[group] = index;
        }
    }
    let mut ids = vec![0i64; count];
    let mut offset_base = 0;
    for chunk in shaped(&earliest) {
        let mut query = Query::builder();
        query.push(
            "INSERT INTO issues (project_id, short_id, status, substatus, level, event_type, title, \
             culprit, metadata, platform, logger, first_seen, last_seen, times_seen, user_count, \
             first_release, last_release) VALUES ",
        );
        for (offset, &index) in chunk.iter().enumerate() {
            let group = offset_base + offset;
            let e = &events[index];
            if offset > 0 {
                query.push(", ");
            }
            query.push("(").push_bind(project_id).push(", ");
            query.push_bind(first_short_id + group as i64);
            query
                .push(", 'unresolved', 'new', ")
                .push_bind(e.level.as_str());
            query.push(", ").push_bind(e.event_type.as_str());
            query.push(", ").push_bind(e.title.as_str());
            query.push(", ").push_bind(e.culprit.as_str());
            query.push(", ").push_bind(e.metadata.as_str());
            query.push(", ").push_bind(e.platform.as_str());
            query.push(", ").push_bind(e.logger.clone());
            query.push(", ").push_bind(e.timestamp_ms);
            query.push(", ").push_bind(e.timestamp_ms);
            query.push(", 0, 0, ").push_bind(e.release.clone());
            query.push(", ").push_bind(e.release.clone()).push(")");
        }
        query.push(" RETURNING id, short_id");
        offset_base += chunk.len();
        let created: Vec<CreatedIssue> = query.fetch_all(&mut tx.conn()).await?;
        for row in created {
            let group = (row.short_id - first_short_id) as usize;
            ids[group] = row.id;
        }
    }
    Ok(ids)
}

async fn attach_new_hashes(
    tx: &mut Tx,
    project_id: i64,
    events: &[NewEvent],
    known: &HashMap<String, i64>,
    issue_of: &impl Fn(usize) -> i64,
) -> Result<(), StoreError> {
    let mut new: BTreeMap<&str, i64> = BTreeMap::new();
    for (index, event) in events.iter().enumerate() {
        for hash in &event.hashes {
            if !known.contains_key(hash) {
                new.entry(hash.as_str()).or_insert_with(|| issue_of(index));
            }
        }
    }
    let rows: Vec<(&str, i64)> = new.into_iter().collect();
    for chunk in shaped(&rows) {
        let mut query = Query::builder();
        query.push("INSERT INTO group_hashes (project_id, hash, issue_id) VALUES ");
        for (i, (hash, issue)) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            query
                .push("(")
                .push_bind(project_id)
                .push(", ")
                .push_bind(*hash);
            query.push(", ").push_bind(*issue).push(")");
        }
        query.push(" ON CONFLICT (project_id, hash) DO NOTHING");
        query.execute(&mut tx.conn()).await?;
    }
    Ok(())
}

#[derive(sqlx::FromRow)]
struct InsertedEvent {
    id: i64,
    event_id: Vec<u8>,
}

/// The 16 bytes of a 32-hex-digit event id (ids are validated at ingest; anything else maps to
/// its raw bytes, still unique per text).
pub(crate) fn event_id_bytes(hex_id: &str) -> Vec<u8> {
    hex::decode(hex_id).unwrap_or_else(|_| hex_id.as_bytes().to_vec())
}

/// Inserts index rows; returns `(index into events, events.id)` for the rows really inserted.
async fn insert_events(
    tx: &mut Tx,
    project_id: i64,
    events: &[NewEvent],
    issue_of: &impl Fn(usize) -> i64,
) -> Result<Vec<(usize, i64)>, StoreError> {
    let index_of: HashMap<Vec<u8>, usize> = events
        .iter()
        .enumerate()
        .map(|(i, e)| (event_id_bytes(&e.event_id), i))
        .collect();
    let mut inserted = Vec::with_capacity(events.len());
    let indexes: Vec<usize> = (0..events.len()).collect();
    for chunk in shaped(&indexes) {
        let mut query = Query::builder();
        query.push(
            "INSERT INTO events (project_id, issue_id, event_id, timestamp, received) VALUES ",
        );
        for (i, &index) in chunk.iter().enumerate() {
            let e = &events[index];
            if i > 0 {
                query.push(", ");
            }
            query
                .push("(")
                .push_bind(project_id)
                .push(", ")
                .push_bind(issue_of(index));
            query
                .push(", ")
                .push_bind(Arg::Bytes(event_id_bytes(&e.event_id)))
                .push(", ")
                .push_bind(e.timestamp_ms);
            query.push(", ").push_bind(e.received_ms).push(")");
        }
        query.push(" ON CONFLICT (project_id, event_id) DO NOTHING RETURNING id, event_id");
        let rows: Vec<InsertedEvent> = query.fetch_all(&mut tx.conn()).await?;
        for row in rows {
            if let Some(&index) = index_of.get(&row.event_id) {
                inserted.push((index, row.id));
            }
        }
    }
    inserted.sort_unstable();
    Ok(inserted)
}

async fn insert_payloads(
    tx: &mut Tx,
    events: &[NewEvent],
    inserted: &[(usize, i64)],
) -> Result<(), StoreError> {
    // Payloads are compressed events (usually well under 3 KB), so a 512-row statement stays
    // around a megabyte or two.
    for chunk in shaped(inserted) {
        let mut query = Query::builder();
        query.push("INSERT INTO event_payloads (event_id, data) VALUES ");
        for (i, &(index, id)) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            query.push("(").push_bind(id).push(", ");
            query
                .push_bind(Arg::Bytes(events[index].payload.clone()))
                .push(")");
        }
        query.execute(&mut tx.conn()).await?;
    }
    Ok(())
}

/// Per-issue counters of a batch.
struct IssueDelta<'a> {
    count: i64,
    first_seen: i64,
    /// The newest event, whose level, title, culprit and release become the issue's.
    latest: &'a NewEvent,
}

async fn update_issue_counters(
    tx: &mut Tx,
    events: &[NewEvent],
    stored: &[(usize, i64)],
) -> Result<(), StoreError> {
    let mut deltas: BTreeMap<i64, IssueDelta<'_>> = BTreeMap::new();
    for &(index, issue) in stored {
        let e = &events[index];
        deltas
            .entry(issue)
            .and_modify(|d| {
                d.count += 1;
                d.first_seen = d.first_seen.min(e.timestamp_ms);
                if e.timestamp_ms >= d.latest.timestamp_ms {
                    d.latest = e;
                }
            })
            .or_insert(IssueDelta {
                count: 1,
                first_seen: e.timestamp_ms,
                latest: e,
            });
    }
    let rows: Vec<(i64, IssueDelta<'_>)> = deltas.into_iter().collect();
    for chunk in shaped(&rows) {
        let mut query = Query::builder();
        query.push(
            "WITH v (id, n, first_seen, last_seen, level, title, culprit, metadata, platform, \
             release) AS (VALUES ",
        );
        for (i, (issue, d)) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            let e = d.latest;
            query
                .push("(")
                .push_bind(*issue)
                .push(", ")
                .push_bind(d.count);
            query
                .push(", ")
                .push_bind(d.first_seen)
                .push(", ")
                .push_bind(e.timestamp_ms);
            query
                .push(", ")
                .push_bind(e.level.as_str())
                .push(", ")
                .push_bind(e.title.as_str());
            query.push(", ").push_bind(e.culprit.as_str());
            query.push(", ").push_bind(e.metadata.as_str());
            query.push(", ").push_bind(e.platform.as_str());
            query.push(", ").push_bind(e.release.clone()).push(")");
        }
        // Every SET expression sees the row as it was before the update, so the CASEs compare
        // the batch against the stored values; GREATEST/LEAST are not portable, CASE is.
        query.push(
            ") UPDATE issues SET \
             times_seen = issues.times_seen + v.n, \
             first_seen = CASE WHEN v.first_seen < issues.first_seen THEN v.first_seen ELSE issues.first_seen END, \
             last_seen = CASE WHEN v.last_seen > issues.last_seen THEN v.last_seen ELSE issues.last_seen END, \
             level = CASE WHEN v.last_seen >= issues.last_seen THEN v.level ELSE issues.level END, \
             title = CASE WHEN v.last_seen >= issues.last_seen THEN v.title ELSE issues.title END, \
             culprit = CASE WHEN v.last_seen >= issues.last_seen THEN v.culprit ELSE issues.culprit END, \
             metadata = CASE WHEN v.last_seen >= issues.last_seen THEN v.metadata ELSE issues.metadata END, \
             platform = CASE WHEN v.last_seen >= issues.last_seen THEN v.platform ELSE issues.platform END, \
             last_release = CASE WHEN v.last_seen >= issues.last_seen AND v.release IS NOT NULL \
                 THEN v.release ELSE issues.last_release END, \
             first_release = COALESCE(issues.first_release, v.release) \
             FROM v WHERE issues.id = v.id",
        );
        query.execute(&mut tx.conn()).await?;
    }
    Ok(())
}

/// A release's version and its place in the project's order, for the batch's releases.
type ReleaseOrders = HashMap<String, crate::workflow::ReleaseOrder>;

struct SeenDelta {
    count: i64,
    first_seen: i64,
    last_seen: i64,
    new_issues: i64,
}

#[derive(sqlx::FromRow)]
struct ReleaseOrderRow {
    id: i64,
    version: String,
    first_seen: i64,
}

/// The event's `environment` tag.
fn environment(e: &NewEvent) -> Option<&str> {
    e.tags
        .iter()
        .find(|(k, _)| k == "environment")
        .map(|(_, v)| v.as_str())
}

/// Upserts the batch's releases and environments (one statement per table per batch): event
/// counts, first/last seen, and the issues the batch opened (counted in the release and
/// environment of their earliest event). Returns the order of the batch's releases.
async fn upsert_releases_and_environments(
    tx: &mut Tx,
    project_id: i64,
    events: &[NewEvent],
    stored: &[(usize, i64)],
    new_issue_ids: &[i64],
    now_ms: i64,
) -> Result<ReleaseOrders, StoreError> {
    // The earliest stored event of each new issue.
    let new: HashSet<i64> = new_issue_ids.iter().copied().collect();
    let mut earliest: HashMap<i64, usize> = HashMap::new();
    for &(index, issue) in stored {
        if new.contains(&issue) {
            earliest
                .entry(issue)
                .and_modify(|e| {
                    if events[index].timestamp_ms < events[*e].timestamp_ms {
                        *e = index;
                    }
                })
                .or_insert(index);
        }
    }
    let mut releases: BTreeMap<&str, SeenDelta> = BTreeMap::new();
    let mut environments: BTreeMap<&str, SeenDelta> = BTreeMap::new();
    for &(index, _) in stored {
        let e = &events[index];
        let ts = e.timestamp_ms;
        for (map, key) in [
            (&mut releases, e.release.as_deref()),
            (&mut environments, environment(e)),
        ] {
            if let Some(key) = key {
                let d = map.entry(key).or_insert(SeenDelta {
                    count: 0,
                    first_seen: ts,
                    last_seen: ts,
                    new_issues: 0,
                });
                d.count += 1;
                d.first_seen = d.first_seen.min(ts);
                d.last_seen = d.last_seen.max(ts);
            }
        }
    }
    for &index in earliest.values() {
        let e = &events[index];
        if let Some(d) = e.release.as_deref().and_then(|r| releases.get_mut(r)) {
            d.new_issues += 1;
        }
        if let Some(d) = environment(e).and_then(|n| environments.get_mut(n)) {
            d.new_issues += 1;
        }
    }
    let mut orders = ReleaseOrders::new();
    for (table, key_column, rows) in [
        ("releases", "version", releases),
        ("environments", "name", environments),
    ] {
        let rows: Vec<(&str, SeenDelta)> = rows.into_iter().collect();
        for chunk in shaped(&rows) {
            let mut query = Query::builder();
            query
                .push("INSERT INTO ")
                .push(table)
                .push(" (project_id, ")
                .push(key_column)
                .push(", first_seen, last_seen, new_issues, event_count, created_at) VALUES ");
            for (i, (key, d)) in chunk.iter().enumerate() {
                if i > 0 {
                    query.push(", ");
                }
                query
                    .push("(")
                    .push_bind(project_id)
                    .push(", ")
                    .push_bind(*key);
                query
                    .push(", ")
                    .push_bind(d.first_seen)
                    .push(", ")
                    .push_bind(d.last_seen);
                query
                    .push(", ")
                    .push_bind(d.new_issues)
                    .push(", ")
                    .push_bind(d.count);
                query.push(", ").push_bind(now_ms).push(")");
            }
            query
                .push(" ON CONFLICT (project_id, ")
                .push(key_column)
                .push(") DO UPDATE SET ");
            query
                .push("first_seen = CASE WHEN excluded.first_seen < ")
                .push(table)
                .push(".first_seen THEN excluded.first_seen ELSE ")
                .push(table)
                .push(".first_seen END, ");
            query
                .push("last_seen = CASE WHEN excluded.last_seen > ")
                .push(table)
                .push(".last_seen THEN excluded.last_seen ELSE ")
                .push(table)
                .push(".last_seen END, ");
            query
                .push("new_issues = ")
                .push(table)
                .push(".new_issues + excluded.new_issues, event_count = ")
                .push(table)
                .push(".event_count + excluded.event_count");
            if table == "releases" {
                query.push(" RETURNING id, version, first_seen");
                let returned: Vec<ReleaseOrderRow> = query.fetch_all(&mut tx.conn()).await?;
                for row in returned {
                    orders.insert(row.version, (row.first_seen, row.id));
                }
            } else {
                query.execute(&mut tx.conn()).await?;
            }
        }
    }
    Ok(orders)
}

/// Splits ids into lists of at most 512 whose lengths are all in [`SHAPES`], padding the last
/// one by repeating its last id: for `IN (...)` lookups, where repeats change nothing.
pub(crate) fn padded(ids: &[i64]) -> Vec<Vec<i64>> {
    ids.chunks(SHAPES[0])
        .map(|chunk| {
            let size = SHAPES
                .iter()
                .copied()
                .rev()
                .find(|&s| s >= chunk.len())
                .unwrap_or(SHAPES[0]);
            let mut list = chunk.to_vec();
            if let Some(&last) = chunk.last() {
                list.resize(size, last);
            }
            list
        })
        .collect()
}

struct TagDelta {
    count: i64,
    first_seen: i64,
    last_seen: i64,
}

#[derive(sqlx::FromRow)]
struct UpsertedTag {
    issue_id: i64,
    times_seen: i64,
    value: String,
}

async fn upsert_tag_values(
    tx: &mut Tx,
    events: &[NewEvent],
    stored: &[(usize, i64)],
) -> Result<(), StoreError> {
    let mut deltas: BTreeMap<(i64, &str, &str), TagDelta> = BTreeMap::new();
    for &(index, issue) in stored {
        let e = &events[index];
        for (key, value) in &e.tags {
            deltas
                .entry((issue, key.as_str(), value.as_str()))
                .and_modify(|d| {
                    d.count += 1;
                    d.first_seen = d.first_seen.min(e.timestamp_ms);
                    d.last_seen = d.last_seen.max(e.timestamp_ms);
                })
                .or_insert(TagDelta {
                    count: 1,
                    first_seen: e.timestamp_ms,
                    last_seen: e.timestamp_ms,
                });
        }
    }
    // `user` rows also tell which users are new to an issue: a returned times_seen equal to the
    // batch's own count means the row did not exist before.
    let (users, others): (Vec<_>, Vec<_>) =
        deltas.into_iter().partition(|((_, k, _), _)| *k == "user");
    let mut new_users: BTreeMap<i64, i64> = BTreeMap::new();
    for (rows, returning) in [(users, true), (others, false)] {
        for chunk in shaped(&rows) {
            let mut query = Query::builder();
            query.push(
                "INSERT INTO issue_tag_values (issue_id, key, value, times_seen, first_seen, last_seen) VALUES ",
            );
            for (i, ((issue, key, value), d)) in chunk.iter().enumerate() {
                if i > 0 {
                    query.push(", ");
                }
                query.push("(").push_bind(*issue).push(", ").push_bind(*key);
                query
                    .push(", ")
                    .push_bind(*value)
                    .push(", ")
                    .push_bind(d.count);
                query
                    .push(", ")
                    .push_bind(d.first_seen)
                    .push(", ")
                    .push_bind(d.last_seen);
                query.push(")");
            }
            query.push(
                " ON CONFLICT (issue_id, key, value) DO UPDATE SET \
                 times_seen = issue_tag_values.times_seen + excluded.times_seen, \
                 first_seen = CASE WHEN excluded.first_seen < issue_tag_values.first_seen \
                     THEN excluded.first_seen ELSE issue_tag_values.first_seen END, \
                 last_seen = CASE WHEN excluded.last_seen > issue_tag_values.last_seen \
                     THEN excluded.last_seen ELSE issue_tag_values.last_seen END",
            );
            if returning {
                query.push(" RETURNING issue_id, times_seen, value");
                let rows: Vec<UpsertedTag> = query.fetch_all(&mut tx.conn()).await?;
                let batch_counts: HashMap<(i64, &str), i64> = chunk
                    .iter()
                    .map(|((issue, _, value), d)| ((*issue, *value), d.count))
                    .collect();
                for row in rows {
                    if batch_counts.get(&(row.issue_id, row.value.as_str()))
                        == Some(&row.times_seen)
                    {
                        *new_users.entry(row.issue_id).or_default() += 1;
                    }
                }
            } else {
                query.execute(&mut tx.conn()).await?;
            }
        }
    }
    let rows: Vec<(i64, i64)> = new_users.into_iter().collect();
    for chunk in shaped(&rows) {
        let mut query = Query::builder();
        query.push("WITH v (id, n) AS (VALUES ");
        for (i, (issue, n)) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            query
                .push("(")
                .push_bind(*issue)
                .push(", ")
                .push_bind(*n)
                .push(")");
        }
        query.push(") UPDATE issues SET user_count = issues.user_count + v.n FROM v WHERE issues.id = v.id");
        query.execute(&mut tx.conn()).await?;
    }
    Ok(())
}

async fn upsert_hourly_counts(
    tx: &mut Tx,
    events: &[NewEvent],
    stored: &[(usize, i64)],
) -> Result<(), StoreError> {
    let mut counts: BTreeMap<(i64, i64), i64> = BTreeMap::new();
    for &(index, issue) in stored {
        let hour = events[index].timestamp_ms.div_euclid(HOUR_MS);
        *counts.entry((issue, hour)).or_default() += 1;
    }
    let rows: Vec<((i64, i64), i64)> = counts.into_iter().collect();
    for chunk in shaped(&rows) {
        let mut query = Query::builder();
        query.push("INSERT INTO issue_hourly_counts (issue_id, hour, count) VALUES ");
        for (i, ((issue, hour), n)) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            query
                .push("(")
                .push_bind(*issue)
                .push(", ")
                .push_bind(*hour);
            query.push(", ").push_bind(*n).push(")");
        }
        query.push(
            " ON CONFLICT (issue_id, hour) DO UPDATE SET count = issue_hourly_counts.count + excluded.count",
        );
        query.execute(&mut tx.conn()).await?;
    }
    Ok(())
}

async fn insert_jobs(
    tx: &mut Tx,
    project_id: i64,
    jobs: &[(JobKind, i64, &String)],
    now_ms: i64,
) -> Result<(), StoreError> {
    for chunk in shaped(jobs) {
        let mut query = Query::builder();
        query.push("INSERT INTO jobs (kind, payload, run_at, created_at) VALUES ");
        for (i, (kind, issue, event_id)) in chunk.iter().enumerate() {
            if i > 0 {
                query.push(", ");
            }
            let payload = serde_json::json!({
                "project_id": project_id,
                "issue_id": issue,
                "event_id": event_id,
            })
            .to_string();
            query
                .push("(")
                .push_bind(kind.as_str())
                .push(", ")
                .push_bind(payload);
            query
                .push(", ")
                .push_bind(now_ms)
                .push(", ")
                .push_bind(now_ms)
                .push(")");
        }
        query.execute(&mut tx.conn()).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn event(id: &str, hashes: &[&str]) -> NewEvent {
        NewEvent {
            project_id: 1,
            event_id: id.into(),
            timestamp_ms: 0,
            received_ms: 0,
            hashes: hashes.iter().map(|h| (*h).to_owned()).collect(),
            secondary_hashes: vec![],
            level: "error".into(),
            event_type: "error".into(),
            title: String::new(),
            culprit: String::new(),
            metadata: "{}".into(),
            platform: "python".into(),
            logger: None,
            release: None,
            tags: vec![],
            payload: vec![],
        }
    }

    #[test]
    fn shapes_cover_every_row_once_with_few_sizes() {
        let items: Vec<usize> = (0..1337).collect();
        let chunks: Vec<&[usize]> = shaped(&items).collect();
        assert!(chunks.iter().all(|c| SHAPES.contains(&c.len())));
        let flat: Vec<usize> = chunks.concat();
        assert_eq!(flat, items);
        assert_eq!(shaped::<usize>(&[]).count(), 0);
    }

    #[test]
    fn padded_lookups_use_the_fixed_sizes() {
        let ids: Vec<i64> = (0..600).collect();
        let lists = padded(&ids);
        assert_eq!(
            lists.iter().map(Vec::len).collect::<Vec<_>>(),
            vec![512, 128]
        );
        assert_eq!(lists[1][87], 599);
        assert_eq!(lists[1][127], 599);
        assert_eq!(padded(&[7]), vec![vec![7]]);
        assert_eq!(padded(&[1, 2]), vec![vec![1, 2, 2, 2, 2, 2, 2, 2]]);
        assert!(padded(&[]).is_empty());
    }

    #[test]
    fn secondary_hashes_find_existing_issues_only() {
        let known: HashMap<String, i64> = [("old".to_owned(), 9)].into_iter().collect();
        let mut moved = event("1", &["new-a"]);
        moved.secondary_hashes = vec!["old".into()];
        let mut fresh = event("2", &["new-b"]);
        fresh.secondary_hashes = vec!["old-unknown".into()];
        let assignment = assign_issues(&[moved, fresh], &known);
        let targets: Vec<String> = assignment
            .per_event
            .iter()
            .map(|t| format!("{t:?}"))
            .collect();
        assert_eq!(targets, vec!["Existing(9)", "New(0)"]);
    }

    #[test]
    fn assignment_prefers_known_issues_and_shares_new_ones() {
        let known: HashMap<String, i64> = [("k".to_owned(), 7)].into_iter().collect();
        let events = vec![
            event("1", &["a", "s1"]),
            event("2", &["b", "s1"]),
            event("3", &["x", "k"]),
            event("4", &["c"]),
        ];
        let assignment = assign_issues(&events, &known);
        let targets: Vec<String> = assignment
            .per_event
            .iter()
            .map(|t| format!("{t:?}"))
            .collect();
        assert_eq!(targets, vec!["New(0)", "New(0)", "Existing(7)", "New(1)"]);
        assert_eq!(assignment.new_groups, vec![0, 3]);
    }
}
