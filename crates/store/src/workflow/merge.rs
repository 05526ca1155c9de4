//! Merging issues, unmerging hashes, and the redirects merged issues leave.

use std::collections::BTreeSet;

use errhound_domain::{IssueStatus, Substatus};
use serde_json::json;

use super::{WorkflowError, load_issue, lock_project};
use crate::StoreError;
use crate::activity::{self, ActivityType};
use crate::db::Tx;
use crate::issues::Issue;
use crate::query::{Conn, Int, Query};

/// The outcome of a merge (Sentry's `{"merge": {"parent", "children"}}`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Merged {
    /// The surviving issue.
    pub parent: i64,
    /// The issues merged into it (now deleted), ascending.
    pub children: Vec<i64>,
}

/// Merges issues of one project into the one with the most events (then the highest id), as
/// Sentry does: events, hashes, tag values, hourly counts, counters, activity (comments
/// included), bookmarks, linked tickets (one per plugin, the survivor's own first) and, if the
/// survivor has none, the assignee move to it; the others are
/// deleted and their ids and short ids redirect to it ([`redirect`]). Later events with the
/// merged hashes land in the survivor. Records `merge` on the survivor
/// (`{"issues": [{"id": ...}]}`).
pub async fn merge(
    tx: &mut Tx,
    issue_ids: &[i64],
    actor: Option<i64>,
    now_ms: i64,
) -> Result<Merged, WorkflowError> {
    let ids: BTreeSet<i64> = issue_ids.iter().copied().collect();
    if ids.len() < 2 {
        return Err(WorkflowError::Invalid(
            "Merging needs at least two issues.".into(),
        ));
    }
    let mut list = Vec::with_capacity(ids.len());
    for &id in &ids {
        list.push(load_issue(tx, id).await?);
    }
    let project_id = list[0].project_id;
    if list.iter().any(|i| i.project_id != project_id) {
        return Err(WorkflowError::Invalid(
            "Merging across multiple projects is not supported".into(),
        ));
    }
    lock_project(tx, project_id).await?;
    // Re-read under the lock: counters may have moved while waiting for it.
    let mut list = Vec::with_capacity(ids.len());
    for &id in &ids {
        list.push(load_issue(tx, id).await?);
    }
    list.sort_by_key(|i| std::cmp::Reverse((i.times_seen, i.id)));
    let parent = list[0].clone();
    let children: Vec<Issue> = list[1..].to_vec();
    let mut child_ids: Vec<i64> = children.iter().map(|i| i.id).collect();
    child_ids.sort_unstable();

    let in_children = |query: &mut Query, prefix: &'static str| {
        query.push(prefix).push(" IN (");
        query.push_bind_list(child_ids.iter().copied()).push(")");
    };

    for table in ["events", "group_hashes"] {
        let mut query = Query::builder();
        query
            .push("UPDATE ")
            .push(table)
            .push(" SET issue_id = ")
            .push_bind(parent.id);
        in_children(&mut query, " WHERE issue_id");
        query.execute(&mut tx.conn()).await?;
    }

    // Counters per row: aggregate the children first (one row per key), then add to the
    // parent's rows. The children's own rows go with them when they are deleted.
    let mut query = Query::builder();
    query
        .push(
            "INSERT INTO issue_tag_values (issue_id, key, value, times_seen, first_seen, last_seen) \
             SELECT ",
        )
        .push_bind(parent.id)
        .push(
            ", key, value, CAST(SUM(times_seen) AS BIGINT), MIN(first_seen), MAX(last_seen) \
             FROM issue_tag_values",
        );
    in_children(&mut query, " WHERE issue_id");
    query.push(
        " GROUP BY key, value ON CONFLICT (issue_id, key, value) DO UPDATE SET \
         times_seen = issue_tag_values.times_seen + excluded.times_seen, \
         first_seen = CASE WHEN excluded.first_seen < issue_tag_values.first_seen \
             THEN excluded.first_seen ELSE issue_tag_values.first_seen END, \
         last_seen = CASE WHEN excluded.last_seen > issue_tag_values.last_seen \
             THEN excluded.last_seen ELSE issue_tag_values.last_seen END",
    );
    query.execute(&mut tx.conn()).await?;

    let mut query = Query::builder();
    query
        .push("INSERT INTO issue_hourly_counts (issue_id, hour, count) SELECT ")
        .push_bind(parent.id)
        .push(", hour, CAST(SUM(count) AS BIGINT) FROM issue_hourly_counts");
    in_children(&mut query, " WHERE issue_id");
    query.push(
        " GROUP BY hour ON CONFLICT (issue_id, hour) DO UPDATE SET \
         count = issue_hourly_counts.count + excluded.count",
    );
    query.execute(&mut tx.conn()).await?;

    // Issue counters: events add up; users are the distinct `user` tag values after the merge.
    let times_seen: i64 = list.iter().map(|i| i.times_seen).sum();
    let first = list
        .iter()
        .min_by_key(|i| (i.first_seen, i.id))
        .unwrap_or(&parent);
    let last = list
        .iter()
        .max_by_key(|i| (i.last_seen, i.id))
        .unwrap_or(&parent);
    let first_release = list
        .iter()
        .filter(|i| i.first_release.is_some())
        .min_by_key(|i| (i.first_seen, i.id))
        .and_then(|i| i.first_release.clone());
    let last_release = list
        .iter()
        .filter(|i| i.last_release.is_some())
        .max_by_key(|i| (i.last_seen, i.id))
        .and_then(|i| i.last_release.clone());
    Query::new(
        "UPDATE issues SET times_seen = $1, first_seen = $2, last_seen = $3, \
         first_release = $4, last_release = $5, \
         user_count = (SELECT COUNT(*) FROM issue_tag_values t \
             WHERE t.issue_id = $6 AND t.key = 'user') \
         WHERE id = $6",
    )
    .bind(times_seen)
    .bind(first.first_seen)
    .bind(last.last_seen)
    .bind(first_release)
    .bind(last_release)
    .bind(parent.id)
    .execute(&mut tx.conn())
    .await?;

    // Comments and history follow the events.
    let mut query = Query::builder();
    query
        .push("UPDATE activity SET issue_id = ")
        .push_bind(parent.id);
    in_children(&mut query, " WHERE issue_id");
    query.execute(&mut tx.conn()).await?;

    let mut query = Query::builder();
    query
        .push("INSERT INTO issue_bookmarks (issue_id, user_id, created_at) SELECT ")
        .push_bind(parent.id)
        .push(", user_id, MIN(created_at) FROM issue_bookmarks");
    in_children(&mut query, " WHERE issue_id");
    query.push(" GROUP BY user_id ON CONFLICT (issue_id, user_id) DO NOTHING");
    query.execute(&mut tx.conn()).await?;

    // Linked tickets: the parent keeps its own per plugin, else takes one of a child's.
    let mut query = Query::builder();
    query
        .push("INSERT INTO issue_tickets (issue_id, plugin_id, key, url, created_at) SELECT ")
        .push_bind(parent.id)
        .push(", plugin_id, key, url, created_at FROM issue_tickets");
    in_children(&mut query, " WHERE issue_id");
    query.push(" ON CONFLICT (issue_id, plugin_id) DO NOTHING");
    query.execute(&mut tx.conn()).await?;

    let has_assignee: Option<Int> =
        Query::new("SELECT issue_id AS value FROM issue_assignees WHERE issue_id = $1")
            .bind(parent.id)
            .fetch_optional(&mut tx.conn())
            .await?;
    if has_assignee.is_none() {
        #[derive(sqlx::FromRow)]
        struct Row {
            user_id: Option<i64>,
            team_id: Option<i64>,
            assigned_by: Option<i64>,
            created_at: i64,
        }
        let mut query = Query::builder();
        query.push("SELECT user_id, team_id, assigned_by, created_at FROM issue_assignees");
        in_children(&mut query, " WHERE issue_id");
        query.push(" ORDER BY created_at DESC, issue_id DESC LIMIT 1");
        let row: Option<Row> = query.fetch_optional(&mut tx.conn()).await?;
        if let Some(row) = row {
            Query::new(
                "INSERT INTO issue_assignees (issue_id, user_id, team_id, assigned_by, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(parent.id)
            .bind(row.user_id)
            .bind(row.team_id)
            .bind(row.assigned_by)
            .bind(row.created_at)
            .execute(&mut tx.conn())
            .await?;
        }
    }

    // Redirects: earlier merges into a child now lead to the parent, and so do the children.
    let mut query = Query::builder();
    query
        .push("UPDATE issue_redirects SET issue_id = ")
        .push_bind(parent.id);
    in_children(&mut query, " WHERE issue_id");
    query.execute(&mut tx.conn()).await?;
    let mut query = Query::builder();
    query.push(
        "INSERT INTO issue_redirects (previous_issue_id, project_id, previous_short_id, issue_id, \
         created_at) VALUES ",
    );
    for (i, child) in children.iter().enumerate() {
        if i > 0 {
            query.push(", ");
        }
        query.push("(").push_bind(child.id).push(", ");
        query.push_bind(child.project_id).push(", ");
        query.push_bind(child.short_id).push(", ");
        query.push_bind(parent.id).push(", ");
        query.push_bind(now_ms).push(")");
    }
    query.push(" ON CONFLICT (previous_issue_id) DO UPDATE SET issue_id = excluded.issue_id");
    query.execute(&mut tx.conn()).await?;

    let mut query = Query::builder();
    query.push("DELETE FROM issues");
    in_children(&mut query, " WHERE id");
    query.execute(&mut tx.conn()).await?;

    let data = json!({
        "issues": child_ids.iter().map(|id| json!({"id": id.to_string()})).collect::<Vec<_>>(),
    });
    activity::record(
        &mut tx.conn(),
        parent.id,
        ActivityType::Merge,
        actor,
        &data,
        now_ms,
    )
    .await?;
    Ok(Merged {
        parent: parent.id,
        children: child_ids,
    })
}

/// Splits `hashes` off the issue into a new issue of the same project (unresolved, no events
/// yet, title and culprit copied): later events with those hashes land in it. Stored events
/// stay where they are (see the module documentation). Records `unmerge_source` on the issue
/// and `unmerge_destination` on the new one. Returns the new issue's id.
/// [`WorkflowError::Conflict`] when none of the hashes belongs to the issue (Sentry's 409).
pub async fn unmerge(
    tx: &mut Tx,
    issue_id: i64,
    hashes: &[String],
    actor: Option<i64>,
    now_ms: i64,
) -> Result<i64, WorkflowError> {
    let issue = load_issue(tx, issue_id).await?;
    if hashes.is_empty() {
        return Err(WorkflowError::Invalid("No hashes given.".into()));
    }
    lock_project(tx, issue.project_id).await?;
    #[derive(sqlx::FromRow)]
    struct HashRow {
        hash: String,
    }
    let wanted: BTreeSet<&str> = hashes.iter().map(String::as_str).collect();
    let mut query = Query::builder();
    query
        .push("SELECT hash FROM group_hashes WHERE issue_id = ")
        .push_bind(issue_id)
        .push(" AND hash IN (");
    query
        .push_bind_list(wanted.iter().copied())
        .push(") ORDER BY hash");
    let found: Vec<HashRow> = query.fetch_all(&mut tx.conn()).await?;
    let found: Vec<String> = found.into_iter().map(|r| r.hash).collect();
    if found.is_empty() {
        return Err(WorkflowError::Conflict("Already being unmerged".into()));
    }
    let reserved: Int = Query::new(
        "UPDATE projects SET next_short_id = next_short_id + 1 WHERE id = $1 \
         RETURNING next_short_id AS value",
    )
    .bind(issue.project_id)
    .fetch_one(&mut tx.conn())
    .await?;
    let created: Int = Query::new(
        "INSERT INTO issues (project_id, short_id, status, substatus, level, event_type, title, \
         culprit, metadata, platform, logger, first_seen, last_seen, times_seen, user_count) \
         SELECT project_id, $1, $2, $3, level, event_type, title, culprit, metadata, \
         platform, logger, $4, $4, 0, 0 FROM issues WHERE id = $5 RETURNING id AS value",
    )
    .bind(reserved.value - 1)
    .bind(IssueStatus::Unresolved.as_str())
    .bind(Substatus::New.as_str())
    .bind(now_ms)
    .bind(issue_id)
    .fetch_one(&mut tx.conn())
    .await?;
    let new_id = created.value;
    let mut query = Query::builder();
    query
        .push("UPDATE group_hashes SET issue_id = ")
        .push_bind(new_id)
        .push(" WHERE issue_id = ")
        .push_bind(issue_id)
        .push(" AND hash IN (");
    query
        .push_bind_list(found.iter().map(String::as_str))
        .push(")");
    query.execute(&mut tx.conn()).await?;
    activity::record(
        &mut tx.conn(),
        issue_id,
        ActivityType::UnmergeSource,
        actor,
        &json!({ "fingerprints": found, "destination_id": new_id.to_string() }),
        now_ms,
    )
    .await?;
    activity::record(
        &mut tx.conn(),
        new_id,
        ActivityType::UnmergeDestination,
        actor,
        &json!({ "fingerprints": found, "source_id": issue_id.to_string() }),
        now_ms,
    )
    .await?;
    Ok(new_id)
}

/// The issue a merged issue's id now leads to.
pub async fn redirect(
    conn: &mut Conn<'_>,
    previous_issue_id: i64,
) -> Result<Option<i64>, StoreError> {
    let row: Option<Int> =
        Query::new("SELECT issue_id AS value FROM issue_redirects WHERE previous_issue_id = $1")
            .bind(previous_issue_id)
            .fetch_optional(conn)
            .await?;
    Ok(row.map(|r| r.value))
}

/// The issue a merged issue's short id now leads to.
pub async fn redirect_short_id(
    conn: &mut Conn<'_>,
    project_id: i64,
    previous_short_id: i64,
) -> Result<Option<i64>, StoreError> {
    let row: Option<Int> = Query::new(
        "SELECT issue_id AS value FROM issue_redirects \
         WHERE project_id = $1 AND previous_short_id = $2 ORDER BY created_at DESC LIMIT 1",
    )
    .bind(project_id)
    .bind(previous_short_id)
    .fetch_optional(conn)
    .await?;
    Ok(row.map(|r| r.value))
}
