//! The issue search box. It speaks exactly the API's language: the query is parsed by
//! [`errhound_domain::search`] and resolved into a filter by [`crate::api::search`], as for the
//! API's `query` parameter; only the way errors are shown differs (above the list, not a 400).

use errhound_store::issues::IssueFilter;
use errhound_store::{Conn, StoreError, now_ms};

use crate::api::search::{self, SearchError, Searcher};

/// Why a query was refused (shown above the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

/// Fills `filter` from `query` as `user_id` searching in organization `org_id` sees it.
/// `Ok(Err(..))` is a query the user should fix; `Err` a database failure.
pub async fn apply(
    conn: &mut Conn<'_>,
    org_id: i64,
    user_id: i64,
    query: &str,
    filter: &mut IssueFilter,
) -> Result<Result<(), QueryError>, StoreError> {
    let searcher = Searcher {
        org_id,
        user_id,
        now_ms: now_ms(),
    };
    match search::apply(conn, searcher, query, filter).await {
        Ok(()) => Ok(Ok(())),
        Err(SearchError::Query(error)) => Ok(Err(QueryError(error.to_string()))),
        Err(SearchError::Store(error)) => Err(error),
    }
}
