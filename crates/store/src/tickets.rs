//! Tickets in issue trackers linked to issues (`issue_tickets`): at most one per plugin per
//! issue, as Sentry's legacy plugins keep it, so linking again through a plugin replaces its
//! link. A new link records a `create_issue` activity in the same transaction, as Sentry's
//! plugins do for both creating and linking; unlinking records none (Sentry neither).

use std::collections::HashMap;

use serde_json::json;

use crate::StoreError;
use crate::activity::{self, ActivityType};
use crate::db::Tx;
use crate::query::{Conn, Query};

/// A ticket linked to an issue.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TicketLink {
    /// The issue.
    pub issue_id: i64,
    /// The issue-tracking plugin (`jira`).
    pub plugin_id: String,
    /// The ticket's key (`OPS-12`).
    pub key: String,
    /// The ticket's page.
    pub url: String,
    /// When it was linked, epoch ms.
    pub created_at: i64,
}

/// What a new link records in the issue's activity.
#[derive(Debug, Clone, Copy)]
pub struct LinkActivity<'a> {
    /// Who linked it.
    pub user_id: i64,
    /// The plugin's name shown to people (`Jira`): Sentry's `provider`.
    pub provider: &'a str,
    /// The title the ticket was created with; `None` when an existing ticket was linked.
    pub title: Option<&'a str>,
}

/// Links `link`'s ticket to its issue, replacing the plugin's previous link there, and records
/// the activity.
pub async fn link(tx: &mut Tx, link: &TicketLink, by: &LinkActivity<'_>) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO issue_tickets (issue_id, plugin_id, key, url, created_at) \
         VALUES ($1, $2, $3, $4, $5) \
         ON CONFLICT (issue_id, plugin_id) DO UPDATE SET \
         key = excluded.key, url = excluded.url, created_at = excluded.created_at",
    )
    .bind(link.issue_id)
    .bind(&link.plugin_id)
    .bind(&link.key)
    .bind(&link.url)
    .bind(link.created_at)
    .execute(&mut tx.conn())
    .await?;
    // Sentry's CREATE_ISSUE data: the tracker, the ticket's page and key, and its title.
    let mut data = json!({"provider": by.provider, "location": link.url, "label": link.key});
    if let Some(title) = by.title {
        data["title"] = json!(title);
    }
    activity::record(
        &mut tx.conn(),
        link.issue_id,
        ActivityType::CreateIssue,
        Some(by.user_id),
        &data,
        link.created_at,
    )
    .await?;
    Ok(())
}

/// Removes the plugin's link from the issue; the link removed, if there was one.
pub async fn unlink(
    conn: &mut Conn<'_>,
    issue_id: i64,
    plugin_id: &str,
) -> Result<Option<TicketLink>, StoreError> {
    Ok(Query::new(
        "DELETE FROM issue_tickets WHERE issue_id = $1 AND plugin_id = $2 \
         RETURNING issue_id, plugin_id, key, url, created_at",
    )
    .bind(issue_id)
    .bind(plugin_id)
    .fetch_optional(conn)
    .await?)
}

/// The links of the given issues (a page of a list: one query per 500 issues), by issue, each
/// issue's in plugin order.
pub async fn of_issues(
    conn: &mut Conn<'_>,
    issue_ids: &[i64],
) -> Result<HashMap<i64, Vec<TicketLink>>, StoreError> {
    let mut out: HashMap<i64, Vec<TicketLink>> = HashMap::new();
    for chunk in issue_ids.chunks(500) {
        let mut query = Query::builder();
        query
            .push(
                "SELECT issue_id, plugin_id, key, url, created_at FROM issue_tickets \
                 WHERE issue_id IN (",
            )
            .push_bind_list(chunk.iter().copied())
            .push(") ORDER BY issue_id, plugin_id");
        let rows: Vec<TicketLink> = query.fetch_all(conn).await?;
        for row in rows {
            out.entry(row.issue_id).or_default().push(row);
        }
    }
    Ok(out)
}
