//! The issue search language (the API's `query` parameter and the UI's search box) turned into
//! the store's [`IssueFilter`]. The language itself is parsed once, in
//! [`errhound_domain::search`]; this module only resolves what needs the database or the
//! searching user: `me`, `my_teams`, `#team` and e-mails of `assigned:`, `bookmarks:me`, and the
//! time window of `is:for_review`.

use errhound_domain::search::{self, AssigneeTerm, Term};
use errhound_store::issues::{IssueFilter, TagFilter};
use errhound_store::orgs::Organization;
use errhound_store::teams::{self, UserLookup};
use errhound_store::users::User;
use errhound_store::workflow::AssigneeFilter;
use errhound_store::{Conn, StoreError, now_ms};

use crate::error::ApiError;

pub use errhound_domain::search::QueryError;

const DAY_MS: i64 = 86_400_000;

/// Why a search could not become a filter: the query is at fault (400), or the database failed.
#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    /// A query the user should fix.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// A lookup failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<SearchError> for ApiError {
    fn from(error: SearchError) -> ApiError {
        match error {
            SearchError::Query(error) => ApiError::bad_request(error.to_string()),
            SearchError::Store(error) => error.into(),
        }
    }
}

/// Who searches, and when: what `me`, `my_teams` and "recently" mean.
#[derive(Debug, Clone, Copy)]
pub struct Searcher {
    /// The organization searched (e-mails and team slugs are looked up in it).
    pub org_id: i64,
    /// The searching user.
    pub user_id: i64,
    /// Now, epoch ms.
    pub now_ms: i64,
}

/// `user` searching in `org`, now.
pub fn search_as(org: &Organization, user: &User) -> Searcher {
    Searcher {
        org_id: org.id,
        user_id: user.id,
        now_ms: now_ms(),
    }
}

/// Parses `query` and adds its conditions to `filter`.
pub async fn apply(
    conn: &mut Conn<'_>,
    searcher: Searcher,
    query: &str,
    filter: &mut IssueFilter,
) -> Result<(), SearchError> {
    for term in search::parse(query)?.terms {
        apply_term(conn, searcher, term, filter).await?;
    }
    Ok(())
}

async fn apply_term(
    conn: &mut Conn<'_>,
    searcher: Searcher,
    term: Term,
    filter: &mut IssueFilter,
) -> Result<(), SearchError> {
    match term {
        Term::Status { status, negate } => {
            let statuses = if negate {
                &mut filter.excluded_statuses
            } else {
                &mut filter.statuses
            };
            statuses.push(status);
        }
        Term::Substatus(substatus) => filter.substatuses.push(substatus),
        Term::ForReview => {
            filter.for_review_since = Some(searcher.now_ms - search::FOR_REVIEW_DAYS * DAY_MS);
        }
        Term::Assigned(true) => set_assigned(filter, AssigneeFilter::Anyone)?,
        Term::Assigned(false) => set_assigned(filter, AssigneeFilter::Nobody)?,
        Term::AssignedTo(who) => {
            let assignee = resolve_assignee(conn, searcher, who).await?;
            set_assigned(filter, assignee)?;
        }
        Term::BookmarkedByMe => filter.bookmarked_by = Some(searcher.user_id),
        Term::Tag { key, value, negate } => filter.tags.push(TagFilter {
            key,
            values: vec![value],
            negate,
        }),
        Term::Text(text) => filter.text.push(text),
    }
    Ok(())
}

/// The store filters on one assignment condition; two different ones are refused rather than
/// one being dropped.
fn set_assigned(filter: &mut IssueFilter, assignee: AssigneeFilter) -> Result<(), QueryError> {
    match filter.assigned {
        Some(existing) if existing != assignee => Err(QueryError(
            "only one assignment condition (is:assigned, is:unassigned, assigned:) is supported"
                .to_owned(),
        )),
        _ => {
            filter.assigned = Some(assignee);
            Ok(())
        }
    }
}

async fn resolve_assignee(
    conn: &mut Conn<'_>,
    searcher: Searcher,
    who: AssigneeTerm,
) -> Result<AssigneeFilter, SearchError> {
    Ok(match who {
        AssigneeTerm::Me => AssigneeFilter::User(searcher.user_id),
        AssigneeTerm::Nobody => AssigneeFilter::Nobody,
        AssigneeTerm::MyTeams => AssigneeFilter::TeamsOf(searcher.user_id),
        AssigneeTerm::Team(slug) => {
            match teams::find_by_slug(conn, searcher.org_id, &slug).await? {
                Some(team) => AssigneeFilter::Team(team.id),
                None => return Err(QueryError(format!("unknown team #{slug}")).into()),
            }
        }
        AssigneeTerm::Email(email) => {
            match teams::find_org_user(conn, searcher.org_id, UserLookup::Email(&email)).await? {
                Some(user) => AssigneeFilter::User(user.id),
                None => {
                    return Err(QueryError(format!(
                        "{email} is not a member of this organization"
                    ))
                    .into());
                }
            }
        }
    })
}
