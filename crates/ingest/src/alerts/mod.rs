//! Alert evaluation: turns the outbox jobs that ingest batches record into deliveries.
//!
//! Each run takes a few jobs inside one transaction ([`outbox::take_jobs`]), decides every rule of
//! the job's project for the job's event ([`decide`]), claims each rule that fires for the issue
//! once per its interval ([`rules::claim_fire`]) and writes one delivery per action
//! ([`outbox::enqueue`]), then commits. A crash before the commit leaves the jobs in place; after
//! it, the deliveries exist exactly once. A regression also writes the workflow notice to whoever
//! resolved the issue ([`notices`]). Sending is the notifier's (`errhound-notify`).

use std::collections::{BTreeSet, HashMap};

use errhound_domain::JobKind;
use errhound_domain::alerts::{
    AlertRule, EventFacts, Facts, Reason, Trigger, WorkflowNotice, decide,
};
use errhound_store::alerts::notices::{self, Notice};
use errhound_store::alerts::outbox::{self, Job, NewDelivery};
use errhound_store::alerts::rules::{self, StoredRule};
use errhound_store::payload::PayloadDictionaries;
use errhound_store::query::Conn;
use errhound_store::{Db, StoreError, events, issues, releases};

/// The longest a digest waits for its target to be quiet, in digest delays (Sentry's digests
/// wait 5 to 30 minutes by default: the same ratio).
const MAX_DIGEST_WAIT: i64 = 6;

/// Jobs evaluated per transaction: small, so the SQLite writer is not held for long.
const JOBS_PER_RUN: i64 = 50;

/// A parsed rule with its row.
#[derive(Debug, Clone)]
pub struct ProjectRule {
    /// The stored row.
    pub stored: StoredRule,
    /// The parsed rule.
    pub rule: AlertRule,
}

/// The project's rules that parse (a rule this version cannot read is skipped with a warning).
pub async fn project_rules(
    conn: &mut Conn<'_>,
    project_id: i64,
) -> Result<Vec<ProjectRule>, StoreError> {
    let mut parsed = Vec::new();
    for stored in rules::list(conn, project_id).await? {
        let body = serde_json::from_str::<serde_json::Value>(&stored.data);
        let rule = body
            .ok()
            .and_then(|v| v.as_object().cloned())
            .map(|object| AlertRule::from_sentry_json(&object));
        match rule {
            Some(Ok(rule)) => parsed.push(ProjectRule { stored, rule }),
            _ => tracing::warn!(rule.id = stored.id, "skipping an unreadable alert rule"),
        }
    }
    Ok(parsed)
}

/// Evaluates the jobs due, [`JOBS_PER_RUN`] a transaction, until none is left; returns how many
/// deliveries were written.
pub async fn evaluate_due(
    db: &Db,
    dictionaries: &PayloadDictionaries,
    digest_delay_ms: i64,
    now_ms: impl Fn() -> i64,
) -> Result<usize, StoreError> {
    let mut written = 0;
    loop {
        let now = now_ms();
        let mut tx = db.begin().await?;
        let jobs = outbox::take_jobs(&mut tx, JOBS_PER_RUN, now).await?;
        if jobs.is_empty() {
            return Ok(written);
        }
        let mut cache: HashMap<i64, Vec<ProjectRule>> = HashMap::new();
        let mut touched = BTreeSet::new();
        for job in &jobs {
            if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(job.project_id) {
                slot.insert(project_rules(&mut tx.conn(), job.project_id).await?);
            }
            let rules = cache
                .get(&job.project_id)
                .map(Vec::as_slice)
                .unwrap_or_default();
            let job_context = JobContext {
                rules,
                digest_delay_ms,
                now,
            };
            written += evaluate_job(
                &mut tx.conn(),
                dictionaries,
                &job_context,
                job,
                &mut touched,
            )
            .await?;
        }
        // A digest waits until its target has been quiet for the delay, but no longer than
        // MAX_DIGEST_WAIT delays: a burst is one digest, a steady stream still gets mail.
        let oldest_kept = now.saturating_sub(digest_delay_ms.saturating_mul(MAX_DIGEST_WAIT));
        for key in &touched {
            outbox::extend_digest(&mut tx.conn(), key, now + digest_delay_ms, oldest_kept).await?;
        }
        tx.commit().await?;
    }
}

/// The facts of the job's event, or `None` when its issue is gone.
async fn job_facts(
    conn: &mut Conn<'_>,
    dictionaries: &PayloadDictionaries,
    job: &Job,
) -> Result<Option<(issues::Issue, EventFacts)>, StoreError> {
    let Some(issue) = issues::get(conn, job.issue_id).await? else {
        return Ok(None);
    };
    if issue.project_id != job.project_id {
        return Ok(None);
    }
    let event = match events::find(conn, job.project_id, &job.event_id).await? {
        Some(stored) => match dictionaries.decode_json(conn, &stored.data).await {
            Ok(json) => EventFacts::from_event(&json),
            Err(error) => {
                tracing::warn!(%error, event.id = %job.event_id, "alerting on an unreadable event");
                EventFacts::default()
            }
        },
        None => EventFacts::default(),
    };
    Ok(Some((issue, event)))
}

/// The workflow notice of a regression: to whoever resolved the issue last, whatever the rules
/// (their own alert, if a rule fires, comes besides). Written with the rules' deliveries, so
/// the job turns into both exactly once.
async fn regression_notice(conn: &mut Conn<'_>, job: &Job, now: i64) -> Result<usize, StoreError> {
    let Some(issue) = issues::get(conn, job.issue_id).await? else {
        return Ok(0);
    };
    if issue.project_id != job.project_id {
        return Ok(0);
    }
    let resolver = notices::last_resolver(conn, issue.id).await?;
    let cause = format!("event:{}", job.event_id);
    let notice = Notice {
        kind: WorkflowNotice::ResolvedRegressed,
        project_id: job.project_id,
        issue_id: issue.id,
        event_id: &job.event_id,
        actor: None,
        detail: None,
        cause: &cause,
    };
    notices::enqueue(conn, &notice, &resolver, now).await
}

/// What every job of one run shares.
struct JobContext<'a> {
    rules: &'a [ProjectRule],
    digest_delay_ms: i64,
    now: i64,
}

async fn evaluate_job(
    conn: &mut Conn<'_>,
    dictionaries: &PayloadDictionaries,
    context: &JobContext<'_>,
    job: &Job,
    touched: &mut BTreeSet<String>,
) -> Result<usize, StoreError> {
    let JobContext {
        rules,
        digest_delay_ms,
        now,
    } = *context;
    let mut written = 0;
    if job.kind == JobKind::IssueRegressed {
        written += regression_notice(conn, job, now).await?;
    }
    if rules.is_empty() {
        return Ok(written);
    }
    let Some((issue, event)) = job_facts(conn, dictionaries, job).await? else {
        return Ok(written);
    };
    let latest_release = releases::latest(conn, job.project_id).await?;
    let assignee = rules::assignee(conn, issue.id).await?;
    let mut windows: Vec<_> = rules.iter().flat_map(|r| r.rule.windows()).collect();
    windows.sort_unstable();
    windows.dedup();
    let counts = rules::window_counts(conn, issue.id, &windows, now).await?;
    let trigger = Trigger::from(job.kind);
    let facts = Facts {
        trigger,
        level: event.level,
        environment: event.environment.as_deref(),
        release: event.release.as_deref(),
        latest_release: latest_release.as_ref().map(|r| r.version.as_str()),
        tags: &event.tags,
        attributes: &event.attributes,
        issue_first_seen_ms: issue.first_seen,
        issue_times_seen: u64::try_from(issue.times_seen).unwrap_or(0),
        assignee,
        now_ms: now,
    };
    for ProjectRule { stored, rule } in rules {
        if !decide(rule, &facts, &counts) {
            continue;
        }
        // A new issue, a regression or an ignored issue coming back starts a new episode and
        // always alerts; within an episode, repeats (frequency and every-event conditions) wait
        // the rule's interval. Each job is evaluated once, so no episode alerts twice.
        let interval_ms = match trigger {
            Trigger::Seen => i64::from(rule.frequency_minutes) * 60_000,
            Trigger::Created | Trigger::Regressed | Trigger::Reappeared => 0,
        };
        if !rules::claim_fire(conn, stored.id, issue.id, interval_ms, now).await? {
            continue;
        }
        tracing::info!(
            rule.id = stored.id,
            issue.id = issue.id,
            trigger = trigger.as_str(),
            "alert rule fired"
        );
        for (index, action) in rule.actions.iter().enumerate() {
            let target = action.to_json().to_string();
            // One fire per rule and issue per interval: the fire time makes the key unique.
            let key = format!(
                "rule:{}:issue:{}:at:{now}:action:{index}",
                stored.id, issue.id
            );
            let digest_key = format!("project:{}:{target}", job.project_id);
            let delivery = NewDelivery {
                idempotency_key: &key,
                project_id: job.project_id,
                rule_id: Some(stored.id),
                issue_id: issue.id,
                event_id: &job.event_id,
                reason: Reason::Alert(trigger),
                actor: None,
                detail: None,
                target: &target,
                digest_key: &digest_key,
                due_at: now + digest_delay_ms,
            };
            if outbox::enqueue(conn, &delivery, now).await? {
                written += 1;
                touched.insert(digest_key);
            }
        }
    }
    Ok(written)
}

#[cfg(test)]
mod tests;
