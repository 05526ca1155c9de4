//! The alert-rule preview: "on the last 7 days of this project's events, this rule would have
//! fired N times, for these issues". One function for the API (`POST .../rules/preview/`) and
//! the UI: it reads the project's recent events ([`past_events`]) and replays them through
//! the worker's decision ([`simulate`]; its module doc lists where a replay differs from what
//! the worker did).

use errhound_domain::alerts::{AlertRule, PastEvent, simulate};
use errhound_domain::short_id::short_id;
use errhound_domain::time::DAY_MS;
use errhound_store::alerts::preview::past_events;
use errhound_store::projects::Project;
use errhound_store::{StoreError, issues, releases};

use crate::AppState;

/// How far back the preview looks, in days.
pub const DAYS: i64 = 7;
/// The most events replayed: the newest of the range. Older ones are left out and the report
/// says so ([`PreviewReport::truncated`]).
pub const MAX_EVENTS: usize = 10_000;
/// The most issues the report lists (those with the most fires).
pub const MAX_LISTED: usize = 50;

/// One issue the rule would have fired for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewedIssue {
    /// Its id.
    pub id: i64,
    /// Its short id (`SHOP-1A`).
    pub short_id: String,
    /// Its title.
    pub title: String,
    /// How often the rule would have fired for it.
    pub fires: u64,
    /// The first of those fires, epoch ms.
    pub first_fire_ms: i64,
    /// The last, epoch ms.
    pub last_fire_ms: i64,
}

/// What the preview found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PreviewReport {
    /// Fires over all issues.
    pub fires: u64,
    /// Events replayed.
    pub events_examined: usize,
    /// Whether older events of the range were left out ([`MAX_EVENTS`]).
    pub truncated: bool,
    /// Where the replay starts, epoch ms: [`DAYS`] before now, or the oldest replayed event
    /// when truncated.
    pub since_ms: i64,
    /// The issues with the most fires, at most [`MAX_LISTED`], most fires first.
    pub issues: Vec<PreviewedIssue>,
}

/// Replays the project's events of the last [`DAYS`] days before `now_ms` against `rule`.
pub async fn preview(
    state: &AppState,
    project: &Project,
    rule: &AlertRule,
    now_ms: i64,
) -> Result<PreviewReport, StoreError> {
    let start_ms = now_ms - DAYS * DAY_MS;
    let mut conn = state.db.read().await?;
    let past = past_events(
        &mut conn.conn(),
        &state.dictionaries,
        project.id,
        start_ms,
        MAX_EVENTS,
    )
    .await?;
    let latest_release = releases::latest(&mut conn.conn(), project.id).await?;
    let replayed: Vec<PastEvent<'_>> = past
        .events
        .iter()
        .map(|e| PastEvent {
            issue_id: e.issue_id,
            received_ms: e.received,
            facts: &e.facts,
            user: e.user.as_deref(),
        })
        .collect();
    let simulation = simulate(
        rule,
        &replayed,
        &past.issues,
        latest_release.as_ref().map(|r| r.version.as_str()),
    );
    let mut listed = Vec::new();
    for fired in simulation.issues.iter().take(MAX_LISTED) {
        // An issue deleted since its events were read is listed without a name.
        let issue = issues::get(&mut conn.conn(), fired.issue_id)
            .await?
            .filter(|issue| issue.project_id == project.id);
        let (short, title) = issue.map_or_else(Default::default, |issue| {
            (short_id(&project.slug, issue.short_id), issue.title)
        });
        listed.push(PreviewedIssue {
            id: fired.issue_id,
            short_id: short,
            title,
            fires: fired.fires,
            first_fire_ms: fired.first_fire_ms,
            last_fire_ms: fired.last_fire_ms,
        });
    }
    let since_ms = match past.events.first() {
        Some(oldest) if past.truncated => oldest.received,
        _ => start_ms,
    };
    Ok(PreviewReport {
        fires: simulation.fires,
        events_examined: simulation.events,
        truncated: past.truncated,
        since_ms,
        issues: listed,
    })
}
