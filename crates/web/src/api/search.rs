//! The issue search language (the `query` parameter), a subset of Sentry's:
//!
//! * `is:unresolved`, `is:resolved`, `is:ignored` (alias `archived`, `muted`); `!is:...` negates
//! * `key:value` and `key:"quoted value"` match issues with an event carrying that tag; `!key:value`
//!   matches issues without one. Every tag works, including the derived `level`, `release`,
//!   `environment`, `server_name`, `transaction`, `url`, `os`, `browser`, `runtime`, `handled`;
//!   `user.id:13`, `user.email:`, `user.username:`, `user.ip:` match the `user` tag
//! * free text (words or `"a phrase"`) matches the title or culprit, case-insensitively;
//!   `message:text` does the same
//!
//! Terms are ANDed. Anything else (wildcards, comparisons, `has:`) is refused with a 400 that says
//! what is not supported, never silently ignored.

use errhound_store::issues::{IssueFilter, TagFilter};

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Error parsing search query: {0}")]
pub struct QueryError(pub String);

/// What a query asks for (projects and time range come from other parameters).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParsedQuery {
    /// Allowed statuses (empty: any).
    pub statuses: Vec<String>,
    /// Excluded statuses.
    pub excluded_statuses: Vec<String>,
    /// Free-text terms.
    pub text: Vec<String>,
    /// Tag conditions.
    pub tags: Vec<TagFilter>,
}

impl ParsedQuery {
    /// Fills the query part of a store filter.
    pub fn apply(self, filter: &mut IssueFilter) {
        filter.statuses = self.statuses;
        filter.excluded_statuses = self.excluded_statuses;
        filter.text = self.text;
        filter.tags.extend(self.tags);
    }
}

/// Splits on whitespace, keeping `"quoted parts"` together (quotes removed).
fn tokenize(query: &str) -> Result<Vec<String>, QueryError> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut in_quotes = false;
    let mut chars = query.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => in_quotes = !in_quotes,
            '\\' if in_quotes && chars.peek() == Some(&'"') => {
                current.push('"');
                chars.next();
            }
            c if c.is_whitespace() && !in_quotes => {
                if !current.is_empty() {
                    tokens.push(std::mem::take(&mut current));
                }
            }
            c => current.push(c),
        }
    }
    if in_quotes {
        return Err(QueryError("unterminated quote".to_owned()));
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    Ok(tokens)
}

fn status_name(value: &str) -> Result<&'static str, QueryError> {
    match value.to_ascii_lowercase().as_str() {
        "unresolved" => Ok("unresolved"),
        "resolved" => Ok("resolved"),
        "ignored" | "archived" | "muted" => Ok("ignored"),
        other => Err(QueryError(format!("is:{other} is not supported"))),
    }
}

/// Parses a query.
pub fn parse(query: &str) -> Result<ParsedQuery, QueryError> {
    let mut parsed = ParsedQuery::default();
    for token in tokenize(query)? {
        let (negate, term) = match token.strip_prefix('!') {
            Some(rest) => (true, rest),
            None => (false, token.as_str()),
        };
        let Some((key, value)) = term.split_once(':').filter(|(k, _)| is_key(k)) else {
            if negate {
                return Err(QueryError(format!(
                    "negated free text {token:?} is not supported"
                )));
            }
            parsed.text.push(term.to_owned());
            continue;
        };
        if value.is_empty() {
            return Err(QueryError(format!("{key}: needs a value")));
        }
        if value.contains('*') {
            return Err(QueryError(format!("wildcards are not supported ({token})")));
        }
        if value.starts_with(['<', '>']) || value.starts_with('[') {
            return Err(QueryError(format!(
                "comparisons and lists are not supported ({token})"
            )));
        }
        match key {
            "is" => {
                let status = status_name(value)?.to_owned();
                if negate {
                    parsed.excluded_statuses.push(status);
                } else {
                    parsed.statuses.push(status);
                }
            }
            "message" | "title" => {
                if negate {
                    return Err(QueryError(format!("!{key}: is not supported")));
                }
                parsed.text.push(value.to_owned());
            }
            "has" | "firstSeen" | "lastSeen" | "age" | "times_seen" | "timesSeen" | "assigned"
            | "bookmarks" | "issue.priority" => {
                return Err(QueryError(format!("{key}: is not supported yet")));
            }
            _ => {
                let (key, value) = match key {
                    "user.id" => ("user".to_owned(), format!("id:{value}")),
                    "user.email" => ("user".to_owned(), format!("email:{value}")),
                    "user.username" => ("user".to_owned(), format!("username:{value}")),
                    "user.ip" | "user.ip_address" => ("user".to_owned(), format!("ip:{value}")),
                    "server" => ("server_name".to_owned(), value.to_owned()),
                    _ => (key.to_owned(), value.to_owned()),
                };
                parsed.tags.push(TagFilter {
                    key,
                    values: vec![value],
                    negate,
                });
            }
        }
    }
    Ok(parsed)
}

/// A `key:` prefix that names a field: tag key characters only (so `http://x` stays text).
fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !matches!(key, "http" | "https")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tag(key: &str, value: &str, negate: bool) -> TagFilter {
        TagFilter {
            key: key.into(),
            values: vec![value.into()],
            negate,
        }
    }

    #[test]
    fn statuses_tags_and_text() {
        let parsed =
            parse(r#"is:unresolved server:web-8 browser:"Chrome 131" !level:info example error"#)
                .unwrap();
        assert_eq!(parsed.statuses, vec!["unresolved"]);
        assert_eq!(
            parsed.tags,
            vec![
                tag("server_name", "web-8", false),
                tag("browser", "Chrome 131", false),
                tag("level", "info", true)
            ]
        );
        assert_eq!(parsed.text, vec!["example", "error"]);
    }

    #[test]
    fn user_fields_map_onto_the_user_tag() {
        let parsed = parse("user.id:13 user.email:a@b.c").unwrap();
        assert_eq!(
            parsed.tags,
            vec![
                tag("user", "id:13", false),
                tag("user", "email:a@b.c", false)
            ]
        );
    }

    #[test]
    fn aliases_and_negated_status() {
        let parsed = parse("is:archived !is:resolved").unwrap();
        assert_eq!(parsed.statuses, vec!["ignored"]);
        assert_eq!(parsed.excluded_statuses, vec!["resolved"]);
    }

    #[test]
    fn phrases_and_urls_are_text() {
        let parsed = parse(r#""division by zero" http://shop.example/cart"#).unwrap();
        assert_eq!(
            parsed.text,
            vec!["division by zero", "http://shop.example/cart"]
        );
    }

    #[test]
    fn unsupported_syntax_is_refused_clearly() {
        for bad in [
            "is:everything",
            "browser:Chr*",
            "times_seen:>10",
            "key:",
            "\"open",
            "!word",
        ] {
            let err = parse(bad).unwrap_err();
            assert!(
                err.to_string().starts_with("Error parsing search query"),
                "{bad}: {err}"
            );
        }
    }

    #[test]
    fn empty_query_matches_everything() {
        assert_eq!(parse("").unwrap(), ParsedQuery::default());
        assert_eq!(parse("   ").unwrap(), ParsedQuery::default());
    }
}
