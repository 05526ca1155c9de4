//! The issue search box: the API's query language ([`crate::api::search`]: `is:` statuses,
//! `key:value` tags including `level:`, `release:`, `environment:`, free text, `!` negation)
//! plus the terms that need to know who is searching:
//!
//! * `is:assigned`, `is:unassigned` (and their negations);
//! * `assigned:me`, `assigned:none`, `assigned:my_teams`, `assigned:#team-slug`,
//!   `assigned:user@example.org`;
//! * `bookmarks:me`;
//! * `is:new`, `is:ongoing`, `is:regressed`, `is:escalating`, `is:archived_forever`,
//!   `is:archived_until_condition_met` (substatuses).
//!
//! These are taken out of the query first; the rest goes to the API's parser unchanged, so the
//! box and the API accept the same language.

use errhound_store::Conn;
use errhound_store::StoreError;
use errhound_store::issues::IssueFilter;
use errhound_store::teams::{self, UserLookup};
use errhound_store::workflow::AssigneeFilter;

use crate::api::search;

/// Why a query was refused (shown above the list).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError(pub String);

impl From<search::QueryError> for QueryError {
    fn from(error: search::QueryError) -> QueryError {
        QueryError(error.to_string())
    }
}

/// A term that depends on the searching user, before lookups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserTerm {
    /// `is:assigned` (true) or `is:unassigned` (false).
    Assigned(bool),
    /// `assigned:<who>`.
    AssignedTo(String),
    /// `bookmarks:me`.
    BookmarkedByMe,
    /// `is:<substatus>`.
    Substatus(&'static str),
}

/// Splits on whitespace outside double quotes, keeping the quotes (so the rest can be handed
/// to the API parser exactly as written).
fn raw_tokens(query: &str) -> Vec<&str> {
    let mut tokens = Vec::new();
    let mut start = None;
    let mut in_quotes = false;
    let mut escaped = false;
    for (i, c) in query.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match c {
            '\\' if in_quotes => escaped = true,
            '"' => {
                in_quotes = !in_quotes;
                start.get_or_insert(i);
            }
            c if c.is_whitespace() && !in_quotes => {
                if let Some(s) = start.take() {
                    tokens.push(&query[s..i]);
                }
            }
            _ => {
                start.get_or_insert(i);
            }
        }
    }
    if let Some(s) = start {
        tokens.push(&query[s..]);
    }
    tokens
}

fn unquote(value: &str) -> String {
    value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .unwrap_or(value)
        .replace("\\\"", "\"")
}

/// Takes the user-dependent terms out of `query`; returns them and the rest of the query.
pub fn split(query: &str) -> Result<(Vec<UserTerm>, String), QueryError> {
    let mut terms = Vec::new();
    let mut rest = Vec::new();
    for token in raw_tokens(query) {
        let (negate, term) = match token.strip_prefix('!') {
            Some(t) => (true, t),
            None => (false, token),
        };
        let Some((key, value)) = term.split_once(':') else {
            rest.push(token);
            continue;
        };
        let value = unquote(value);
        let substatus = match value.as_str() {
            "new" => Some("new"),
            "ongoing" => Some("ongoing"),
            "regressed" => Some("regressed"),
            "escalating" => Some("escalating"),
            "archived_forever" => Some("archived_forever"),
            "archived_until_condition_met" => Some("archived_until_condition_met"),
            _ => None,
        };
        match (key, value.as_str()) {
            ("is", "assigned") => terms.push(UserTerm::Assigned(!negate)),
            ("is", "unassigned") => terms.push(UserTerm::Assigned(negate)),
            ("is", _) if substatus.is_some() => {
                if negate {
                    return Err(QueryError(format!("!is:{value} is not supported")));
                }
                if let Some(s) = substatus {
                    terms.push(UserTerm::Substatus(s));
                }
            }
            ("assigned" | "assigned_to", who) => {
                if negate {
                    return Err(QueryError(format!(
                        "!{key}: is not supported; use is:unassigned"
                    )));
                }
                if who.is_empty() {
                    return Err(QueryError(format!("{key}: needs a value")));
                }
                terms.push(UserTerm::AssignedTo(who.to_owned()));
            }
            ("bookmarks", "me") if !negate => terms.push(UserTerm::BookmarkedByMe),
            ("bookmarks", _) => {
                return Err(QueryError("only bookmarks:me is supported".to_owned()));
            }
            _ => rest.push(token),
        }
    }
    Ok((terms, rest.join(" ")))
}

/// Fills `filter` from `query` as `user_id` searching in organization `org_id` sees it.
/// `Ok(Err(..))` is a query the user should fix; `Err` a database failure.
pub async fn apply(
    conn: &mut Conn<'_>,
    org_id: i64,
    user_id: i64,
    query: &str,
    filter: &mut IssueFilter,
) -> Result<Result<(), QueryError>, StoreError> {
    let (terms, rest) = match split(query) {
        Ok(split) => split,
        Err(error) => return Ok(Err(error)),
    };
    match search::parse(&rest) {
        Ok(parsed) => parsed.apply(filter),
        Err(error) => return Ok(Err(error.into())),
    }
    for term in terms {
        match term {
            UserTerm::Assigned(true) => filter.assigned = Some(AssigneeFilter::Anyone),
            UserTerm::Assigned(false) => filter.assigned = Some(AssigneeFilter::Nobody),
            UserTerm::BookmarkedByMe => filter.bookmarked_by = Some(user_id),
            UserTerm::Substatus(s) => filter.substatuses.push(s.to_owned()),
            UserTerm::AssignedTo(who) => {
                let assignee = match who.as_str() {
                    "me" => AssigneeFilter::User(user_id),
                    "none" => AssigneeFilter::Nobody,
                    "my_teams" => AssigneeFilter::TeamsOf(user_id),
                    team if team.starts_with('#') => {
                        match teams::find_by_slug(conn, org_id, &team[1..]).await? {
                            Some(team) => AssigneeFilter::Team(team.id),
                            None => {
                                return Ok(Err(QueryError(format!("unknown team {team}"))));
                            }
                        }
                    }
                    email => {
                        match teams::find_org_user(conn, org_id, UserLookup::Email(email)).await? {
                            Some(user) => AssigneeFilter::User(user.id),
                            None => {
                                return Ok(Err(QueryError(format!(
                                    "{email} is not a member of this organization"
                                ))));
                            }
                        }
                    }
                };
                filter.assigned = Some(assignee);
            }
        }
    }
    Ok(Ok(()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn user_terms_are_taken_out_and_the_rest_kept_verbatim() {
        let (terms, rest) = split(
            r#"is:unresolved is:assigned assigned:me browser:"Chrome 131" !level:info bookmarks:me is:regressed "a phrase""#,
        )
        .unwrap();
        assert_eq!(
            terms,
            vec![
                UserTerm::Assigned(true),
                UserTerm::AssignedTo("me".into()),
                UserTerm::BookmarkedByMe,
                UserTerm::Substatus("regressed"),
            ]
        );
        assert_eq!(
            rest,
            r#"is:unresolved browser:"Chrome 131" !level:info "a phrase""#
        );
    }

    #[test]
    fn negations_and_errors() {
        assert_eq!(
            split("!is:assigned").unwrap().0,
            vec![UserTerm::Assigned(false)]
        );
        assert_eq!(
            split("is:unassigned").unwrap().0,
            vec![UserTerm::Assigned(false)]
        );
        assert_eq!(
            split(r#"assigned:"jane@example.org""#).unwrap().0,
            vec![UserTerm::AssignedTo("jane@example.org".into())]
        );
        assert!(split("!assigned:me").is_err());
        assert!(split("!is:new").is_err());
        assert!(split("bookmarks:someone").is_err());
    }
}
