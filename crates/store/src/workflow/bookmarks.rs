//! Personal bookmarks of issues.

use super::{WorkflowError, load_issue};
use crate::db::Tx;
use crate::query::Query;

/// Bookmarks (or un-bookmarks) the issue for `user_id`; returns whether that changed anything.
/// Bookmarks are personal: no activity is recorded (as in Sentry).
pub async fn set_bookmark(
    tx: &mut Tx,
    issue_id: i64,
    user_id: i64,
    bookmarked: bool,
    now_ms: i64,
) -> Result<bool, WorkflowError> {
    load_issue(tx, issue_id).await?;
    let affected = if bookmarked {
        Query::new(
            "INSERT INTO issue_bookmarks (issue_id, user_id, created_at) VALUES ($1, $2, $3) \
             ON CONFLICT (issue_id, user_id) DO NOTHING",
        )
        .bind(issue_id)
        .bind(user_id)
        .bind(now_ms)
        .execute(&mut tx.conn())
        .await?
    } else {
        Query::new("DELETE FROM issue_bookmarks WHERE issue_id = $1 AND user_id = $2")
            .bind(issue_id)
            .bind(user_id)
            .execute(&mut tx.conn())
            .await?
    };
    Ok(affected > 0)
}
