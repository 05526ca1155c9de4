//! The real state of issues in every read, in Sentry's shape: the workflow fields
//! (`issue_extras`: `status`, `substatus`, `statusDetails`, `assignedTo`, `isBookmarked`,
//! `numComments`), the linked tickets (`annotations`, `store::tickets`), plus the viewer's own
//! `hasSeen` and `isSubscribed` (`store::viewer`). Lists,
//! the detail and the `PUT` answer all go through [`decorate`], so they cannot disagree.
//!
//! Also the `hasSeen` / `isSubscribed` part of a `PUT` body, applied in the update's transaction.

use errhound_store::issues::Issue;
use errhound_store::users::User;
use errhound_store::{Conn, StoreError, tickets, viewer};
use serde_json::{Map, Value, json};

use super::issue_extras;
use super::views;
use crate::error::ApiError;

/// How many users `seenBy` lists.
const SEEN_BY_LIMIT: i64 = 100;

/// Fills the state fields of a page of rendered issues (`values[i]` renders `issues[i]`) as
/// `viewer` sees them: a fixed number of queries for the whole page.
pub async fn decorate(
    conn: &mut Conn<'_>,
    viewer: &User,
    issues: &[Issue],
    values: &mut [Value],
) -> Result<(), StoreError> {
    issue_extras::decorate(conn, viewer, issues, values).await?;
    let states = viewer::states(conn, issues, viewer.id).await?;
    let ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
    let links = tickets::of_issues(conn, &ids).await?;
    for (issue, value) in issues.iter().zip(values.iter_mut()) {
        value["annotations"] = links
            .get(&issue.id)
            .into_iter()
            .flatten()
            .map(|link| json!({"displayName": link.key, "url": link.url}))
            .collect();
        let state = states.get(&issue.id).copied().unwrap_or_default();
        value["hasSeen"] = json!(state.has_seen);
        value["isSubscribed"] = json!(state.is_subscribed());
        value["subscriptionDetails"] = state
            .subscription
            .map_or(Value::Null, |reason| json!({"reason": reason.as_str()}));
    }
    Ok(())
}

/// [`decorate`] for the issue detail, which also carries the activity timeline and `seenBy`.
pub async fn decorate_detail(
    conn: &mut Conn<'_>,
    viewer: &User,
    issue: &Issue,
    value: &mut Value,
) -> Result<(), StoreError> {
    issue_extras::decorate_detail(conn, viewer, issue, value).await?;
    decorate(
        conn,
        viewer,
        std::slice::from_ref(issue),
        std::slice::from_mut(value),
    )
    .await?;
    let seen_by = viewer::seen_by(conn, issue.id, SEEN_BY_LIMIT).await?;
    value["seenBy"] = seen_by
        .iter()
        .map(|seer| {
            let mut user = issue_extras::user_json(&seer.user);
            user["lastSeen"] = json!(views::date(seer.last_seen));
            user
        })
        .collect();
    Ok(())
}

/// The viewer's part of a `PUT` body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewerUpdate {
    /// `hasSeen`.
    pub has_seen: Option<bool>,
    /// `isSubscribed`.
    pub is_subscribed: Option<bool>,
}

/// Reads `hasSeen` and `isSubscribed` (booleans as Django REST Framework accepts them).
pub fn parse_update(body: &Map<String, Value>) -> Result<ViewerUpdate, ApiError> {
    let field = |name: &str| -> Result<Option<bool>, ApiError> {
        match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(value) => boolean(value)
                .map(Some)
                .ok_or_else(|| ApiError::invalid_field(name, "Must be a valid boolean.")),
        }
    };
    Ok(ViewerUpdate {
        has_seen: field("hasSeen")?,
        is_subscribed: field("isSubscribed")?,
    })
}

fn boolean(value: &Value) -> Option<bool> {
    match value {
        Value::Bool(b) => Some(*b),
        Value::Number(n) => match n.as_i64() {
            Some(0) => Some(false),
            Some(1) => Some(true),
            _ => None,
        },
        Value::String(s) => match s.to_ascii_lowercase().as_str() {
            "true" | "1" => Some(true),
            "false" | "0" => Some(false),
            _ => None,
        },
        _ => None,
    }
}

/// Applies `update` for `user_id` to `issues` and adds what it set to Sentry's result object.
pub async fn apply_update(
    conn: &mut Conn<'_>,
    issues: &[Issue],
    user_id: i64,
    update: ViewerUpdate,
    now: i64,
    result: &mut Map<String, Value>,
) -> Result<(), StoreError> {
    if let Some(seen) = update.has_seen {
        for issue in issues {
            if seen {
                viewer::mark_seen(conn, issue.id, user_id, now).await?;
            } else {
                viewer::mark_unseen(conn, issue.id, user_id).await?;
            }
        }
        result.insert("hasSeen".into(), json!(seen));
    }
    if let Some(subscribed) = update.is_subscribed {
        for issue in issues {
            viewer::set_subscribed(conn, issue.id, user_id, subscribed, now).await?;
        }
        result.insert("isSubscribed".into(), json!(subscribed));
    }
    Ok(())
}
