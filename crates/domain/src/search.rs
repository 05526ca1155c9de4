//! The issue search language, shared by the REST API's `query` parameter and the web UI's search
//! box: one parser, one typed result. It is a subset of Sentry's:
//!
//! * `is:unresolved`, `is:resolved`, `is:ignored` (alias `archived`, `muted`); `!is:...` negates
//! * `is:new`, `is:ongoing`, `is:regressed`, `is:escalating`, `is:archived_forever`,
//!   `is:archived_until_condition_met` (substatuses)
//! * `is:for_review`: unresolved issues that are new or regressed/escalating recently (Sentry's
//!   inbox; see [`FOR_REVIEW_DAYS`])
//! * `is:assigned`, `is:unassigned` (and their negations); `assigned:me`, `assigned:none`,
//!   `assigned:my_teams`, `assigned:#team-slug`, `assigned:user@example.org` (alias `assigned_to`)
//! * `bookmarks:me`
//! * `key:value` and `key:"quoted value"` match issues with an event carrying that tag; `!key:value`
//!   matches issues without one. Every tag works, including the derived `level`, `release`,
//!   `environment`, `server_name`, `transaction`, `url`, `os`, `browser`, `runtime`, `handled`;
//!   `user.id:13`, `user.email:`, `user.username:`, `user.ip:` match the `user` tag
//! * free text (words or `"a phrase"`) matches the title or culprit, case-insensitively;
//!   `message:text` does the same
//!
//! Terms are ANDed. Anything else (wildcards, comparisons, `has:`, negations without a meaning
//! here) is refused with an error that says what is not supported, never silently ignored.

use std::fmt;

use crate::issue_status::{IssueStatus, Substatus};

/// Sentry's inbox window: `is:for_review` covers unresolved issues that became new, regressed
/// or escalating within this many days (Sentry drops inbox entries after 7 days). Errhound keeps
/// no inbox: a new issue counts from its first event, a reopened one from its latest event.
pub const FOR_REVIEW_DAYS: i64 = 7;

/// Why a query was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Error parsing search query: {0}")]
pub struct QueryError(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, QueryError> {
    Err(QueryError(message.into()))
}

/// Whom `assigned:` names, before it is looked up in an organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeTerm {
    /// `assigned:me`: the searching user.
    Me,
    /// `assigned:none`.
    Nobody,
    /// `assigned:my_teams`: a team of the searching user.
    MyTeams,
    /// `assigned:#slug`.
    Team(String),
    /// `assigned:user@example.org`.
    Email(String),
}

/// One condition of a query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Term {
    /// `is:<status>` (or, negated, `!is:<status>`).
    Status {
        /// The status.
        status: IssueStatus,
        /// `!is:`.
        negate: bool,
    },
    /// `is:<substatus>`.
    Substatus(Substatus),
    /// `is:for_review`.
    ForReview,
    /// `is:assigned` (true) or `is:unassigned` (false).
    Assigned(bool),
    /// `assigned:<who>`.
    AssignedTo(AssigneeTerm),
    /// `bookmarks:me`.
    BookmarkedByMe,
    /// `key:value` on a tag, or `!key:value`.
    Tag {
        /// Tag key (`user.id:` and friends already mapped onto `user`).
        key: String,
        /// Value, as the tag stores it.
        value: String,
        /// `!key:value`.
        negate: bool,
    },
    /// A word or phrase of the title or culprit.
    Text(String),
}

/// A parsed query: its terms, ANDed, in the order written.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchQuery {
    /// The terms.
    pub terms: Vec<Term>,
}

/// Parses a query.
pub fn parse(query: &str) -> Result<SearchQuery, QueryError> {
    let terms = tokenize(query)?
        .into_iter()
        // `""` asks for nothing.
        .filter(|t| t.negate || t.key.is_some() || !t.value.is_empty())
        .map(parse_token)
        .collect::<Result<_, _>>()?;
    Ok(SearchQuery { terms })
}

/// A token: a key (when the token starts with an unquoted `key:`) and its unquoted value.
#[derive(Debug, PartialEq, Eq)]
struct Token {
    negate: bool,
    key: Option<String>,
    value: String,
}

/// Splits on whitespace outside double quotes. A quote only groups (`browser:"Chrome 131"`,
/// `"a phrase"`); `\"` and `\\` inside quotes are a literal quote and backslash. A `key:` counts only when it comes
/// before any quote, so `"a:b"` is text.
fn tokenize(query: &str) -> Result<Vec<Token>, QueryError> {
    let mut tokens = Vec::new();
    let mut chars = query.chars().peekable();
    loop {
        while chars.next_if(|c| c.is_whitespace()).is_some() {}
        if chars.peek().is_none() {
            return Ok(tokens);
        }
        let negate = chars.next_if_eq(&'!').is_some();
        let mut key = None;
        let mut value = String::new();
        let mut quoted = false;
        let mut in_quotes = false;
        while let Some(c) = chars.next() {
            match c {
                '"' => {
                    in_quotes = !in_quotes;
                    quoted = true;
                }
                '\\' if in_quotes && matches!(chars.peek(), Some('"' | '\\')) => {
                    value.extend(chars.next());
                }
                c if c.is_whitespace() && !in_quotes => break,
                ':' if key.is_none() && !quoted && is_key(&value) => {
                    key = Some(std::mem::take(&mut value));
                }
                c => value.push(c),
            }
        }
        if in_quotes {
            return refuse("unterminated quote");
        }
        tokens.push(Token { negate, key, value });
    }
}

/// A `key:` prefix that names a field: tag key characters only (so `http://x` stays text).
fn is_key(key: &str) -> bool {
    !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'))
        && !matches!(key, "http" | "https")
}

fn parse_token(token: Token) -> Result<Term, QueryError> {
    let Token { negate, key, value } = token;
    let Some(key) = key else {
        if negate {
            return refuse(format!("negated free text !{value:?} is not supported"));
        }
        return Ok(Term::Text(value));
    };
    let bang = if negate { "!" } else { "" };
    if value.is_empty() {
        return refuse(format!("{bang}{key}: needs a value"));
    }
    if value.contains('*') {
        return refuse(format!("wildcards are not supported ({key}:{value})"));
    }
    if value.starts_with(['<', '>', '[']) {
        return refuse(format!(
            "comparisons and lists are not supported ({key}:{value})"
        ));
    }
    match key.as_str() {
        "is" => parse_is(&value, negate),
        "assigned" | "assigned_to" => {
            if negate {
                return refuse(format!("!{key}: is not supported; use is:unassigned"));
            }
            Ok(Term::AssignedTo(match value.as_str() {
                "me" => AssigneeTerm::Me,
                "none" => AssigneeTerm::Nobody,
                "my_teams" => AssigneeTerm::MyTeams,
                _ => match value.strip_prefix('#') {
                    Some("") => return refuse(format!("{key}:# needs a team slug")),
                    Some(slug) => AssigneeTerm::Team(slug.to_owned()),
                    None => AssigneeTerm::Email(value),
                },
            }))
        }
        "bookmarks" => match (value.as_str(), negate) {
            ("me", false) => Ok(Term::BookmarkedByMe),
            _ => refuse("only bookmarks:me is supported"),
        },
        "message" | "title" => {
            if negate {
                return refuse(format!("!{key}: is not supported"));
            }
            Ok(Term::Text(value))
        }
        "has" | "firstSeen" | "lastSeen" | "age" | "times_seen" | "timesSeen"
        | "issue.priority" => refuse(format!("{key}: is not supported yet")),
        _ => {
            let (key, value) = match key.as_str() {
                "user.id" => ("user".to_owned(), format!("id:{value}")),
                "user.email" => ("user".to_owned(), format!("email:{value}")),
                "user.username" => ("user".to_owned(), format!("username:{value}")),
                "user.ip" | "user.ip_address" => ("user".to_owned(), format!("ip:{value}")),
                "server" => ("server_name".to_owned(), value),
                _ => (key, value),
            };
            Ok(Term::Tag { key, value, negate })
        }
    }
}

fn parse_is(value: &str, negate: bool) -> Result<Term, QueryError> {
    let value = value.to_ascii_lowercase();
    let status = match value.as_str() {
        "unresolved" => Some(IssueStatus::Unresolved),
        "resolved" => Some(IssueStatus::Resolved),
        "ignored" | "archived" | "muted" => Some(IssueStatus::Ignored),
        _ => None,
    };
    if let Some(status) = status {
        return Ok(Term::Status { status, negate });
    }
    match value.as_str() {
        "assigned" => return Ok(Term::Assigned(!negate)),
        "unassigned" => return Ok(Term::Assigned(negate)),
        _ => {}
    }
    let flag = if value == "for_review" {
        Some(Term::ForReview)
    } else {
        Substatus::ALL
            .into_iter()
            .find(|s| s.as_str() == value)
            .map(Term::Substatus)
    };
    match flag {
        Some(_) if negate => refuse(format!("!is:{value} is not supported")),
        Some(term) => Ok(term),
        None => refuse(format!("is:{value} is not supported")),
    }
}

/// Writes `value` in quotes, escaped so that [`parse`] reads it back.
fn write_quoted(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    let escaped = value.replace('\\', "\\\\").replace('"', "\\\"");
    write!(f, "\"{escaped}\"")
}

/// Writes a value, quoted only when it needs to be.
fn write_value(f: &mut fmt::Formatter<'_>, value: &str) -> fmt::Result {
    if value.is_empty() || value.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        write_quoted(f, value)
    } else {
        f.write_str(value)
    }
}

impl fmt::Display for Term {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Term::Status { status, negate } => {
                let bang = if *negate { "!" } else { "" };
                write!(f, "{bang}is:{}", status.as_str())
            }
            Term::Substatus(substatus) => write!(f, "is:{}", substatus.as_str()),
            Term::ForReview => f.write_str("is:for_review"),
            Term::Assigned(true) => f.write_str("is:assigned"),
            Term::Assigned(false) => f.write_str("is:unassigned"),
            Term::AssignedTo(who) => match who {
                AssigneeTerm::Me => f.write_str("assigned:me"),
                AssigneeTerm::Nobody => f.write_str("assigned:none"),
                AssigneeTerm::MyTeams => f.write_str("assigned:my_teams"),
                AssigneeTerm::Team(slug) => {
                    f.write_str("assigned:")?;
                    write_value(f, &format!("#{slug}"))
                }
                AssigneeTerm::Email(email) => {
                    f.write_str("assigned:")?;
                    write_value(f, email)
                }
            },
            Term::BookmarkedByMe => f.write_str("bookmarks:me"),
            Term::Tag { key, value, negate } => {
                let bang = if *negate { "!" } else { "" };
                write!(f, "{bang}{key}:")?;
                write_value(f, value)
            }
            // Always quoted, so text that looks like a term stays text.
            Term::Text(text) => write_quoted(f, text),
        }
    }
}

impl fmt::Display for SearchQuery {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, term) in self.terms.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{term}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn terms(query: &str) -> Vec<Term> {
        parse(query)
            .unwrap_or_else(|e| panic!("{query}: {e}"))
            .terms
    }

    fn tag(key: &str, value: &str, negate: bool) -> Term {
        Term::Tag {
            key: key.into(),
            value: value.into(),
            negate,
        }
    }

    #[test]
    fn statuses_tags_and_text() {
        assert_eq!(
            terms(r#"is:unresolved server:web-8 browser:"Chrome 131" !level:info example error"#),
            vec![
                Term::Status {
                    status: IssueStatus::Unresolved,
                    negate: false
                },
                tag("server_name", "web-8", false),
                tag("browser", "Chrome 131", false),
                tag("level", "info", true),
                Term::Text("example".into()),
                Term::Text("error".into()),
            ]
        );
    }

    #[test]
    fn user_fields_map_onto_the_user_tag() {
        assert_eq!(
            terms("user.id:13 user.email:a@b.c"),
            vec![
                tag("user", "id:13", false),
                tag("user", "email:a@b.c", false)
            ]
        );
    }

    #[test]
    fn aliases_and_negated_status() {
        assert_eq!(
            terms("is:archived !is:resolved is:Muted"),
            vec![
                Term::Status {
                    status: IssueStatus::Ignored,
                    negate: false
                },
                Term::Status {
                    status: IssueStatus::Resolved,
                    negate: true
                },
                Term::Status {
                    status: IssueStatus::Ignored,
                    negate: false
                },
            ]
        );
    }

    #[test]
    fn assignment_bookmarks_substatus_and_review() {
        assert_eq!(
            terms(
                r#"is:assigned !is:assigned is:unassigned !is:unassigned assigned:me assigned_to:none assigned:my_teams assigned:#backend assigned:"jane@example.org" bookmarks:me is:regressed is:archived_until_condition_met is:for_review"#
            ),
            vec![
                Term::Assigned(true),
                Term::Assigned(false),
                Term::Assigned(false),
                Term::Assigned(true),
                Term::AssignedTo(AssigneeTerm::Me),
                Term::AssignedTo(AssigneeTerm::Nobody),
                Term::AssignedTo(AssigneeTerm::MyTeams),
                Term::AssignedTo(AssigneeTerm::Team("backend".into())),
                Term::AssignedTo(AssigneeTerm::Email("jane@example.org".into())),
                Term::BookmarkedByMe,
                Term::Substatus(Substatus::Regressed),
                Term::Substatus(Substatus::UntilConditionMet),
                Term::ForReview,
            ]
        );
    }

    #[test]
    fn phrases_urls_and_quoted_keys_are_text() {
        assert_eq!(
            terms(r#""division by zero" http://shop.example/cart "is:resolved" message:"a \"b\"""#),
            vec![
                Term::Text("division by zero".into()),
                Term::Text("http://shop.example/cart".into()),
                Term::Text("is:resolved".into()),
                Term::Text("a \"b\"".into()),
            ]
        );
    }

    #[test]
    fn unsupported_syntax_is_refused_with_the_reason() {
        for (bad, reason) in [
            ("is:everything", "is:everything is not supported"),
            ("browser:Chr*", "wildcards are not supported (browser:Chr*)"),
            ("times_seen:>10", "comparisons and lists are not supported"),
            ("key:", "key: needs a value"),
            ("\"open", "unterminated quote"),
            ("!word", "negated free text"),
            ("!is:new", "!is:new is not supported"),
            ("!is:for_review", "!is:for_review is not supported"),
            ("!assigned:me", "use is:unassigned"),
            ("assigned:#", "needs a team slug"),
            ("bookmarks:someone", "only bookmarks:me"),
            ("!bookmarks:me", "only bookmarks:me"),
            ("has:user", "has: is not supported yet"),
        ] {
            let err = parse(bad).expect_err(bad).to_string();
            assert!(
                err.starts_with("Error parsing search query: "),
                "{bad}: {err}"
            );
            assert!(err.contains(reason), "{bad}: {err}");
        }
    }

    #[test]
    fn empty_query_matches_everything() {
        assert_eq!(parse("").unwrap(), SearchQuery::default());
        assert_eq!(parse(" \t ").unwrap(), SearchQuery::default());
    }

    fn text_value() -> impl Strategy<Value = String> {
        // Printable text with spaces, quotes, colons, backslashes and non-ASCII.
        "[a-zA-Z0-9 :\"\\\\!#@.é-]{1,12}"
    }

    fn term() -> impl Strategy<Value = Term> {
        let status = prop_oneof![
            Just(IssueStatus::Unresolved),
            Just(IssueStatus::Resolved),
            Just(IssueStatus::Ignored)
        ];
        let tag_key = "[a-z][a-z0-9_.-]{0,8}".prop_filter("reserved keys", |k| {
            !matches!(
                k.as_str(),
                "is" | "assigned"
                    | "assigned_to"
                    | "bookmarks"
                    | "message"
                    | "title"
                    | "has"
                    | "age"
                    | "times_seen"
                    | "server"
                    | "http"
                    | "https"
            ) && !k.starts_with("user.")
        });
        let tag_value = text_value().prop_filter("plain values", |v| {
            !v.contains('*') && !v.starts_with(['<', '>', '['])
        });
        prop_oneof![
            (status, any::<bool>()).prop_map(|(status, negate)| Term::Status { status, negate }),
            proptest::sample::select(Substatus::ALL.to_vec()).prop_map(Term::Substatus),
            Just(Term::ForReview),
            any::<bool>().prop_map(Term::Assigned),
            Just(Term::AssignedTo(AssigneeTerm::Me)),
            Just(Term::AssignedTo(AssigneeTerm::MyTeams)),
            "[a-z0-9-]{1,8}".prop_map(|s| Term::AssignedTo(AssigneeTerm::Team(s))),
            "[a-z]{1,6}@[a-z]{1,6}\\.org".prop_map(|e| Term::AssignedTo(AssigneeTerm::Email(e))),
            Just(Term::BookmarkedByMe),
            (tag_key, tag_value, any::<bool>()).prop_map(|(key, value, negate)| Term::Tag {
                key,
                value,
                negate
            }),
            text_value().prop_map(Term::Text),
        ]
    }

    proptest! {
        #[test]
        fn any_input_parses_or_is_refused_without_panicking(input in "\\PC{0,40}") {
            let _ = parse(&input);
        }

        #[test]
        fn written_queries_parse_back_to_the_same_terms(
            terms in proptest::collection::vec(term(), 0..6)
        ) {
            let query = SearchQuery { terms };
            let text = query.to_string();
            prop_assert_eq!(parse(&text), Ok(query), "{}", text);
        }
    }
}
