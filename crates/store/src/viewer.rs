//! What one user has to do with an issue: whether they have seen it since it last became active
//! (Sentry's `hasSeen`, from GroupSeen) and whether they are subscribed to it (`isSubscribed`).
//!
//! Subscriptions are derived the way Sentry's participants are: a user who commented on an
//! issue, is its assignee or bookmarked it is subscribed, unless they unsubscribed explicitly;
//! an explicit `PUT {"isSubscribed": ...}` always wins. (There are no notifications yet, so a
//! subscription only shows in the API.)

use std::collections::HashMap;

use crate::StoreError;
use crate::activity::{ActivityType, UserRef};
use crate::issues::Issue;
use crate::query::{Conn, Query};

/// Activities after which an issue counts as unseen again (Sentry resets `active_at` when an
/// issue reopens).
const REOPENING: [ActivityType; 3] = [
    ActivityType::SetRegression,
    ActivityType::SetUnresolved,
    ActivityType::SetEscalating,
];

/// Why a user is subscribed to an issue (Sentry's GroupSubscriptionReason).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriptionReason {
    /// `PUT {"isSubscribed": true}`.
    Explicit,
    /// They commented.
    Commented,
    /// It is assigned to them.
    Assigned,
    /// They bookmarked it.
    Bookmarked,
}

impl SubscriptionReason {
    /// Sentry's name of the reason (`subscriptionDetails.reason`).
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriptionReason::Explicit => "unknown",
            SubscriptionReason::Commented => "commented",
            SubscriptionReason::Assigned => "assigned",
            SubscriptionReason::Bookmarked => "bookmarked",
        }
    }
}

/// One user's relation to one issue.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewerState {
    /// Seen since it was first seen or last reopened.
    pub has_seen: bool,
    /// Why they are subscribed; `None`: not subscribed.
    pub subscription: Option<SubscriptionReason>,
}

impl ViewerState {
    /// Subscribed, explicitly or by taking part.
    pub fn is_subscribed(&self) -> bool {
        self.subscription.is_some()
    }
}

/// The state of each issue for `user_id`, in one query for a whole page of issues.
pub async fn states(
    conn: &mut Conn<'_>,
    issues: &[Issue],
    user_id: i64,
) -> Result<HashMap<i64, ViewerState>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        issue_id: i64,
        first_seen: i64,
        seen_at: Option<i64>,
        reopened_at: Option<i64>,
        subscription: Option<bool>,
        commented: bool,
        assigned: bool,
        bookmarked: bool,
    }
    if issues.is_empty() {
        return Ok(HashMap::new());
    }
    let mut query = Query::builder();
    query.push(
        "SELECT i.id AS issue_id, i.first_seen, \
         (SELECT s.last_seen FROM issue_seen s WHERE s.issue_id = i.id AND s.user_id = ",
    );
    query.push_bind(user_id).push(
        ") AS seen_at, (SELECT MAX(a.created_at) FROM activity a WHERE a.issue_id = i.id \
         AND a.type IN (",
    );
    query.push_bind_list(REOPENING.iter().map(|t| t.as_str()));
    query.push(
        ")) AS reopened_at, (SELECT sub.is_active FROM issue_subscriptions sub \
         WHERE sub.issue_id = i.id AND sub.user_id = ",
    );
    query.push_bind(user_id).push(
        ") AS subscription, EXISTS (SELECT 1 FROM activity a WHERE a.issue_id = i.id \
         AND a.user_id = ",
    );
    query
        .push_bind(user_id)
        .push(" AND a.type = ")
        .push_bind(ActivityType::Note.as_str());
    query.push(
        ") AS commented, EXISTS (SELECT 1 FROM issue_assignees x WHERE x.issue_id = i.id \
         AND x.user_id = ",
    );
    query.push_bind(user_id).push(
        ") AS assigned, EXISTS (SELECT 1 FROM issue_bookmarks b WHERE b.issue_id = i.id \
         AND b.user_id = ",
    );
    query
        .push_bind(user_id)
        .push(") AS bookmarked FROM issues i WHERE i.id IN (");
    query.push_bind_list(issues.iter().map(|i| i.id)).push(")");
    let rows: Vec<Row> = query.fetch_all(conn).await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            // Sentry: seen after the issue became active (first seen, or reopened since).
            let active_at = row
                .reopened_at
                .unwrap_or(row.first_seen)
                .max(row.first_seen);
            let taking_part = [
                (row.commented, SubscriptionReason::Commented),
                (row.assigned, SubscriptionReason::Assigned),
                (row.bookmarked, SubscriptionReason::Bookmarked),
            ]
            .into_iter()
            .find_map(|(yes, reason)| yes.then_some(reason));
            let subscription = match row.subscription {
                Some(true) => Some(SubscriptionReason::Explicit),
                Some(false) => None,
                None => taking_part,
            };
            let state = ViewerState {
                has_seen: row.seen_at.is_some_and(|seen| seen > active_at),
                subscription,
            };
            (row.issue_id, state)
        })
        .collect())
}

/// Records that `user_id` saw the issue at `now` (nothing if the issue is gone, e.g. merged
/// away meanwhile).
pub async fn mark_seen(
    conn: &mut Conn<'_>,
    issue_id: i64,
    user_id: i64,
    now: i64,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO issue_seen (issue_id, user_id, last_seen) \
         SELECT id, $2, $3 FROM issues WHERE id = $1 \
         ON CONFLICT (issue_id, user_id) DO UPDATE SET last_seen = excluded.last_seen",
    )
    .bind(issue_id)
    .bind(user_id)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// Forgets that `user_id` saw the issue (`hasSeen: false`).
pub async fn mark_unseen(
    conn: &mut Conn<'_>,
    issue_id: i64,
    user_id: i64,
) -> Result<(), StoreError> {
    Query::new("DELETE FROM issue_seen WHERE issue_id = $1 AND user_id = $2")
        .bind(issue_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Subscribes or unsubscribes `user_id` explicitly (nothing if the issue is gone).
pub async fn set_subscribed(
    conn: &mut Conn<'_>,
    issue_id: i64,
    user_id: i64,
    subscribed: bool,
    now: i64,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO issue_subscriptions (issue_id, user_id, is_active, created_at) \
         SELECT id, $2, $3, $4 FROM issues WHERE id = $1 ON CONFLICT (issue_id, user_id) \
         DO UPDATE SET is_active = excluded.is_active, created_at = excluded.created_at",
    )
    .bind(issue_id)
    .bind(user_id)
    .bind(subscribed)
    .bind(now)
    .execute(conn)
    .await?;
    Ok(())
}

/// A user who saw an issue, and when they last did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seer {
    /// The user.
    pub user: UserRef,
    /// When they last saw it, epoch ms.
    pub last_seen: i64,
}

/// The users who saw an issue, most recent first, at most `limit` (Sentry's `seenBy`).
pub async fn seen_by(
    conn: &mut Conn<'_>,
    issue_id: i64,
    limit: i64,
) -> Result<Vec<Seer>, StoreError> {
    #[derive(sqlx::FromRow)]
    struct Row {
        id: i64,
        email: String,
        name: String,
        last_seen: i64,
    }
    let rows: Vec<Row> = Query::new(
        "SELECT u.id, u.email, u.name, s.last_seen FROM issue_seen s \
         JOIN users u ON u.id = s.user_id WHERE s.issue_id = $1 \
         ORDER BY s.last_seen DESC, u.id LIMIT $2",
    )
    .bind(issue_id)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Seer {
            user: UserRef {
                id: r.id,
                email: r.email,
                name: r.name,
            },
            last_seen: r.last_seen,
        })
        .collect())
}
