//! Issues: reads for the API and UI. (Issues are created and counted by [`crate::ingest`].)

use errhound_domain::{IssueStatus, Substatus};

use crate::StoreError;
use crate::query::{Conn, Query};

/// An issue (Sentry's group).
#[derive(Debug, Clone)]
pub struct Issue {
    /// Primary key.
    pub id: i64,
    /// Owning project.
    pub project_id: i64,
    /// Per-project sequence number (shown as `PROJECT-1A`).
    pub short_id: i64,
    /// Open, resolved or ignored.
    pub status: IssueStatus,
    /// Why it has its status (`new`, `ongoing`, `regressed`, ...); none for resolved issues.
    pub substatus: Option<Substatus>,
    /// Level of the latest event.
    pub level: String,
    /// `error` or `default`.
    pub event_type: String,
    /// Title of the latest event.
    pub title: String,
    /// Culprit of the latest event.
    pub culprit: String,
    /// Sentry metadata object, JSON text.
    pub metadata: String,
    /// Platform of the latest event.
    pub platform: Option<String>,
    /// Logger of the first event.
    pub logger: Option<String>,
    /// Earliest event time, epoch ms.
    pub first_seen: i64,
    /// Latest event time, epoch ms.
    pub last_seen: i64,
    /// Events stored.
    pub times_seen: i64,
    /// Distinct `user` tag values.
    pub user_count: i64,
    /// Release of the first event with one.
    pub first_release: Option<String>,
    /// Release of the latest event with one.
    pub last_release: Option<String>,
    /// When it was resolved, epoch ms.
    pub resolved_at: Option<i64>,
}

/// An `issues` row as stored; [`Issue`] is what the rest of the code sees.
#[derive(sqlx::FromRow)]
struct IssueRow {
    id: i64,
    project_id: i64,
    short_id: i64,
    status: String,
    substatus: Option<String>,
    level: String,
    event_type: String,
    title: String,
    culprit: String,
    metadata: String,
    platform: Option<String>,
    logger: Option<String>,
    first_seen: i64,
    last_seen: i64,
    times_seen: i64,
    user_count: i64,
    first_release: Option<String>,
    last_release: Option<String>,
    resolved_at: Option<i64>,
}

impl TryFrom<IssueRow> for Issue {
    type Error = StoreError;

    fn try_from(row: IssueRow) -> Result<Issue, StoreError> {
        let invalid = |what: &str, value: &str| {
            StoreError::InvalidValue(format!("issue {}: {what} {value:?}", row.id))
        };
        let status =
            IssueStatus::parse(&row.status).ok_or_else(|| invalid("status", &row.status))?;
        let substatus = match row.substatus.as_deref() {
            None => None,
            Some(text) => Some(Substatus::parse(text).ok_or_else(|| invalid("substatus", text))?),
        };
        Ok(Issue {
            id: row.id,
            project_id: row.project_id,
            short_id: row.short_id,
            status,
            substatus,
            level: row.level,
            event_type: row.event_type,
            title: row.title,
            culprit: row.culprit,
            metadata: row.metadata,
            platform: row.platform,
            logger: row.logger,
            first_seen: row.first_seen,
            last_seen: row.last_seen,
            times_seen: row.times_seen,
            user_count: row.user_count,
            first_release: row.first_release,
            last_release: row.last_release,
            resolved_at: row.resolved_at,
        })
    }
}

const ISSUE_COLUMNS: &str = "issues.id, issues.project_id, issues.short_id, issues.status, \
    issues.substatus, issues.level, issues.event_type, issues.title, issues.culprit, \
    issues.metadata, issues.platform, issues.logger, issues.first_seen, issues.last_seen, \
    issues.times_seen, issues.user_count, issues.first_release, issues.last_release, \
    issues.resolved_at";

/// Sort orders of the issue list (Sentry's `sort` parameter).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IssueSort {
    /// `date`: latest event first (the default).
    LastSeen,
    /// `new`: newest issue first.
    FirstSeen,
    /// `freq`: most events first.
    TimesSeen,
    /// `user`: most users first.
    UserCount,
}

impl IssueSort {
    fn column(self) -> &'static str {
        match self {
            IssueSort::LastSeen => "issues.last_seen",
            IssueSort::FirstSeen => "issues.first_seen",
            IssueSort::TimesSeen => "issues.times_seen",
            IssueSort::UserCount => "issues.user_count",
        }
    }

    /// The sort key of an issue, for cursors.
    pub fn key(self, issue: &Issue) -> i64 {
        match self {
            IssueSort::LastSeen => issue.last_seen,
            IssueSort::FirstSeen => issue.first_seen,
            IssueSort::TimesSeen => issue.times_seen,
            IssueSort::UserCount => issue.user_count,
        }
    }
}

/// A tag condition: issues with (or, negated, without) events carrying `key` with one of
/// `values`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagFilter {
    /// Tag key.
    pub key: String,
    /// Accepted values (any of them).
    pub values: Vec<String>,
    /// `!key:value`.
    pub negate: bool,
}

/// Which issues to list. All conditions are ANDed.
#[derive(Debug, Clone, Default)]
pub struct IssueFilter {
    /// Projects to search (required; empty matches nothing).
    pub project_ids: Vec<i64>,
    /// Allowed statuses; empty allows all.
    pub statuses: Vec<IssueStatus>,
    /// Excluded statuses.
    pub excluded_statuses: Vec<IssueStatus>,
    /// Case-insensitive substrings of the title or culprit.
    pub text: Vec<String>,
    /// Tag conditions.
    pub tags: Vec<TagFilter>,
    /// Only issues seen at or after this time, epoch ms.
    pub last_seen_after: Option<i64>,
    /// Allowed substatuses (`is:new`, `is:ongoing`, `is:regressed`, `is:escalating`,
    /// `is:archived_forever`, ...); empty allows all.
    pub substatuses: Vec<Substatus>,
    /// Assignment condition (`is:assigned`, `is:unassigned`, `assigned:...`).
    pub assigned: Option<crate::workflow::AssigneeFilter>,
    /// Only issues this user bookmarked (`bookmarks:me`).
    pub bookmarked_by: Option<i64>,
    /// `is:for_review` from this time on, epoch ms: unresolved, and substatus `new` and first
    /// seen since, or `regressed`/`escalating` and last seen since (see
    /// `domain::search::FOR_REVIEW_DAYS`).
    pub for_review_since: Option<i64>,
}

/// Escapes `%`, `_` and `\` for a `LIKE ... ESCAPE '\'` pattern.
fn like_pattern(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('%');
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('%');
    out
}

/// Where a page starts, in a list sorted descending by a key and then by id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Page {
    /// From the top.
    First,
    /// Rows after the `(key, id)` boundary (the next page).
    After(i64, i64),
    /// Rows before the `(key, id)` boundary (the previous page), still returned in list order.
    Before(i64, i64),
}

/// Lists up to `limit` issues matching `filter`, sorted descending by `sort` then id.
pub async fn list(
    conn: &mut Conn<'_>,
    filter: &IssueFilter,
    sort: IssueSort,
    page: Page,
    limit: i64,
) -> Result<Vec<Issue>, StoreError> {
    if filter.project_ids.is_empty() {
        return Ok(Vec::new());
    }
    let column = sort.column();
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(ISSUE_COLUMNS)
        .push(" FROM issues WHERE issues.project_id IN (");
    query
        .push_bind_list(filter.project_ids.iter().copied())
        .push(")");
    if !filter.statuses.is_empty() {
        query.push(" AND issues.status IN (");
        query
            .push_bind_list(filter.statuses.iter().map(|s| s.as_str()))
            .push(")");
    }
    if !filter.excluded_statuses.is_empty() {
        query.push(" AND issues.status NOT IN (");
        query
            .push_bind_list(filter.excluded_statuses.iter().map(|s| s.as_str()))
            .push(")");
    }
    for text in &filter.text {
        let pattern = like_pattern(text);
        query
            .push(" AND (LOWER(issues.title) LIKE ")
            .push_bind(pattern.clone());
        query
            .push(" ESCAPE '\\' OR LOWER(issues.culprit) LIKE ")
            .push_bind(pattern);
        query.push(" ESCAPE '\\')");
    }
    for tag in &filter.tags {
        query.push(if tag.negate {
            " AND issues.id NOT IN ("
        } else {
            " AND issues.id IN ("
        });
        query.push("SELECT issue_id FROM issue_tag_values WHERE key = ");
        query.push_bind(tag.key.as_str()).push(" AND value IN (");
        query
            .push_bind_list(tag.values.iter().map(String::as_str))
            .push("))");
    }
    if let Some(since) = filter.last_seen_after {
        // Sorted by anything but last_seen, the period is a filter, not an index range: the unary
        // plus keeps SQLite from walking the last_seen index and sorting every issue it covers
        // (the default 14-day period covers nearly all), so it walks the sort column's index
        // (migration 0006) and stops after a page.
        query.push(if sort == IssueSort::LastSeen {
            " AND issues.last_seen >= "
        } else {
            " AND +issues.last_seen >= "
        });
        query.push_bind(since);
    }
    if !filter.substatuses.is_empty() {
        query.push(" AND issues.substatus IN (");
        query
            .push_bind_list(filter.substatuses.iter().map(|s| s.as_str()))
            .push(")");
    }
    if let Some(assigned) = filter.assigned {
        use crate::workflow::AssigneeFilter;
        const TEAMS_OF: &str = "SELECT team_id FROM team_members WHERE user_id = ";
        match assigned {
            AssigneeFilter::Anyone => {
                query.push(" AND issues.id IN (SELECT issue_id FROM issue_assignees)");
            }
            AssigneeFilter::Nobody => {
                query.push(" AND issues.id NOT IN (SELECT issue_id FROM issue_assignees)");
            }
            AssigneeFilter::User(user) => {
                query.push(
                    " AND issues.id IN (SELECT issue_id FROM issue_assignees WHERE user_id = ",
                );
                query.push_bind(user).push(")");
            }
            AssigneeFilter::Team(team) => {
                query.push(
                    " AND issues.id IN (SELECT issue_id FROM issue_assignees WHERE team_id = ",
                );
                query.push_bind(team).push(")");
            }
            AssigneeFilter::UserOrTheirTeams(user) => {
                query.push(
                    " AND issues.id IN (SELECT issue_id FROM issue_assignees WHERE user_id = ",
                );
                query
                    .push_bind(user)
                    .push(" OR team_id IN (")
                    .push(TEAMS_OF);
                query.push_bind(user).push("))");
            }
            AssigneeFilter::TeamsOf(user) => {
                query.push(
                    " AND issues.id IN (SELECT issue_id FROM issue_assignees WHERE team_id IN (",
                );
                query.push(TEAMS_OF).push_bind(user).push("))");
            }
        }
    }
    if let Some(since) = filter.for_review_since {
        query.push(" AND issues.status = 'unresolved' AND ((issues.substatus = ");
        query.push_bind(Substatus::New.as_str());
        query.push(" AND issues.first_seen >= ").push_bind(since);
        query.push(") OR (issues.substatus IN (");
        query.push_bind_list([
            Substatus::Regressed.as_str(),
            Substatus::Escalating.as_str(),
        ]);
        query
            .push(") AND issues.last_seen >= ")
            .push_bind(since)
            .push("))");
    }
    if let Some(user) = filter.bookmarked_by {
        query.push(" AND issues.id IN (SELECT issue_id FROM issue_bookmarks WHERE user_id = ");
        query.push_bind(user).push(")");
    }
    let (op, order) = match page {
        Page::First => ("", "DESC"),
        Page::After(..) => ("<", "DESC"),
        Page::Before(..) => (">", "ASC"),
    };
    if let Page::After(key, id) | Page::Before(key, id) = page {
        // `(key, id)` beyond the boundary, written as `column <= key AND (column < key OR id <
        // id)` (or the mirror): the first term is an index range, so a deep page starts at the
        // boundary instead of walking the index from the top.
        let inclusive = if op == "<" { " <= " } else { " >= " };
        query
            .push(" AND ")
            .push(column)
            .push(inclusive)
            .push_bind(key);
        query
            .push(" AND (")
            .push(column)
            .push(" ")
            .push(op)
            .push(" ")
            .push_bind(key);
        query
            .push(" OR issues.id ")
            .push(op)
            .push(" ")
            .push_bind(id)
            .push(")");
    }
    query.push(" ORDER BY ").push(column).push(" ").push(order);
    query
        .push(", issues.id ")
        .push(order)
        .push(" LIMIT ")
        .push_bind(limit);
    let rows: Vec<IssueRow> = query.fetch_all(conn).await?;
    let mut rows = rows
        .into_iter()
        .map(Issue::try_from)
        .collect::<Result<Vec<_>, _>>()?;
    if matches!(page, Page::Before(..)) {
        rows.reverse();
    }
    Ok(rows)
}

/// The issue with this id.
pub async fn get(conn: &mut Conn<'_>, id: i64) -> Result<Option<Issue>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(ISSUE_COLUMNS)
        .push(" FROM issues WHERE issues.id = ")
        .push_bind(id);
    fetch_issue(query, conn).await
}

/// The project's issue seen last (for a test notification: a real issue to show).
pub async fn latest_seen(
    conn: &mut Conn<'_>,
    project_id: i64,
) -> Result<Option<Issue>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(ISSUE_COLUMNS)
        .push(" FROM issues WHERE issues.project_id = ")
        .push_bind(project_id)
        .push(" ORDER BY issues.last_seen DESC, issues.id DESC LIMIT 1");
    fetch_issue(query, conn).await
}

/// Events per hour of an issue.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HourlyCount {
    /// The issue.
    pub issue_id: i64,
    /// Unix hour (epoch ms / 3 600 000).
    pub hour: i64,
    /// Events in that hour.
    pub count: i64,
}

/// Hourly event counts of the given issues from `from_hour` on.
pub async fn hourly_counts(
    conn: &mut Conn<'_>,
    issue_ids: &[i64],
    from_hour: i64,
) -> Result<Vec<HourlyCount>, StoreError> {
    if issue_ids.is_empty() {
        return Ok(Vec::new());
    }
    let mut query = Query::builder();
    query.push("SELECT issue_id, hour, count FROM issue_hourly_counts WHERE hour >= ");
    query.push_bind(from_hour).push(" AND issue_id IN (");
    query
        .push_bind_list(issue_ids.iter().copied())
        .push(") ORDER BY issue_id, hour");
    Ok(query.fetch_all(conn).await?)
}

/// Event counts of the given issues per bucket of `bucket_hours` hours from `from_hour` on,
/// summed by the database (a 14-day sparkline of 25 issues is 350 rows, not 8 400). Each row's
/// `hour` is the first hour of its bucket (`bucket * bucket_hours`); buckets are aligned on
/// multiples of `bucket_hours` since the epoch, and `from_hour` should be one such multiple.
pub async fn bucketed_counts(
    conn: &mut Conn<'_>,
    issue_ids: &[i64],
    from_hour: i64,
    bucket_hours: i64,
) -> Result<Vec<HourlyCount>, StoreError> {
    if issue_ids.is_empty() {
        return Ok(Vec::new());
    }
    if bucket_hours <= 1 {
        return hourly_counts(conn, issue_ids, from_hour).await;
    }
    let mut query = Query::builder();
    query.push("SELECT issue_id, bucket * ");
    query.push_bind(bucket_hours);
    query.push(" AS hour, CAST(SUM(count) AS BIGINT) AS count FROM (SELECT issue_id, hour / ");
    query.push_bind(bucket_hours);
    query.push(" AS bucket, count FROM issue_hourly_counts WHERE hour >= ");
    query.push_bind(from_hour).push(" AND issue_id IN (");
    query
        .push_bind_list(issue_ids.iter().copied())
        .push(")) buckets GROUP BY issue_id, bucket ORDER BY issue_id, bucket");
    Ok(query.fetch_all(conn).await?)
}

/// The grouping hashes attached to an issue.
pub async fn hashes(conn: &mut Conn<'_>, issue_id: i64) -> Result<Vec<String>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        hash: String,
    }
    let rows: Vec<Row> =
        Query::new("SELECT hash FROM group_hashes WHERE issue_id = $1 ORDER BY id")
            .bind(issue_id)
            .fetch_all(conn)
            .await?;
    Ok(rows.into_iter().map(|r| r.hash).collect())
}

/// The issue with this per-project short id.
pub async fn get_by_short_id(
    conn: &mut Conn<'_>,
    project_id: i64,
    short_id: i64,
) -> Result<Option<Issue>, StoreError> {
    let mut query = Query::builder();
    query
        .push("SELECT ")
        .push(ISSUE_COLUMNS)
        .push(" FROM issues WHERE issues.project_id = ")
        .push_bind(project_id)
        .push(" AND issues.short_id = ")
        .push_bind(short_id);
    fetch_issue(query, conn).await
}

async fn fetch_issue(query: Query, conn: &mut Conn<'_>) -> Result<Option<Issue>, StoreError> {
    let row: Option<IssueRow> = query.fetch_optional(conn).await?;
    row.map(Issue::try_from).transpose()
}
