//! Sentry-style cursor pagination: `cursor=value:offset:is_prev` and the `Link` header.
//!
//! Our cursors are keyset cursors in Sentry's three-part syntax: `value` is the sort key of the
//! boundary row, `offset` its id (the tie-breaker), `is_prev` the direction. Clients treat cursors
//! as opaque and follow `rel="next"` while `results="true"` (sentry-cli does exactly that).

use axum::http::{HeaderValue, header};
use errhound_store::issues::Page;

use crate::error::ApiError;

/// Most rows one page of a paginated list holds (Sentry's `per_page` limit).
pub const MAX_PER_PAGE: usize = 100;

/// A parsed cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    /// Sort key of the boundary row.
    pub key: i64,
    /// Id of the boundary row.
    pub id: i64,
    /// Whether the page lies before the boundary (a "previous" link).
    pub is_prev: bool,
}

impl Cursor {
    /// Parses `key:id:is_prev`. An empty cursor (sentry-cli sends `cursor=` first) means none.
    pub fn parse(text: Option<&str>) -> Result<Option<Cursor>, ApiError> {
        let Some(text) = text.map(str::trim).filter(|t| !t.is_empty()) else {
            return Ok(None);
        };
        let invalid = || ApiError::bad_request("Invalid cursor parameter.");
        let mut parts = text.split(':');
        let (Some(key), Some(id), Some(prev), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(invalid());
        };
        // Sentry allows float values; keyset keys here are integers.
        let key = key
            .parse::<i64>()
            .or_else(|_| key.parse::<f64>().map(|f| f as i64))
            .map_err(|_| invalid())?;
        let id = id.parse::<i64>().map_err(|_| invalid())?;
        let is_prev = match prev {
            "0" => false,
            "1" => true,
            _ => return Err(invalid()),
        };
        Ok(Some(Cursor { key, id, is_prev }))
    }

    fn format(&self) -> String {
        format!("{}:{}:{}", self.key, self.id, u8::from(self.is_prev))
    }
}

/// The links of one page.
pub struct PageLinks {
    /// Cursor to the page before, and whether it has results.
    pub previous: (Cursor, bool),
    /// Cursor to the page after, and whether it has results.
    pub next: (Cursor, bool),
}

/// The store page a cursor asks for.
pub fn page_for(cursor: Option<Cursor>) -> Page {
    match cursor {
        None => Page::First,
        Some(c) if c.is_prev => Page::Before(c.key, c.id),
        Some(c) => Page::After(c.key, c.id),
    }
}

/// Trims rows fetched with `limit + 1` to one page and works out both links.
/// `key` gives the `(sort key, id)` of a row.
pub fn finish_page<T>(
    mut rows: Vec<T>,
    limit: usize,
    cursor: Option<Cursor>,
    key: impl Fn(&T) -> (i64, i64),
) -> (Vec<T>, PageLinks) {
    let backwards = cursor.is_some_and(|c| c.is_prev);
    let more = rows.len() > limit;
    if more {
        if backwards {
            rows.remove(0);
        } else {
            rows.truncate(limit);
        }
    }
    let boundary = |row: Option<&T>, is_prev: bool| match row {
        Some(row) => {
            let (key, id) = key(row);
            Cursor { key, id, is_prev }
        }
        None => cursor.map_or(
            Cursor {
                key: 0,
                id: 0,
                is_prev,
            },
            |c| Cursor { is_prev, ..c },
        ),
    };
    let links = PageLinks {
        previous: (
            boundary(rows.first(), true),
            if backwards {
                more
            } else {
                cursor.is_some() && !rows.is_empty()
            },
        ),
        next: (
            boundary(rows.last(), false),
            if backwards { !rows.is_empty() } else { more },
        ),
    };
    (rows, links)
}

/// Builds Sentry's `Link` header: previous first, then next, each with `results` and `cursor`.
/// `base` is the absolute URL of the endpoint and `query` the request's query string; its
/// `cursor` parameter is replaced.
pub fn link_header(
    base: &str,
    query: Option<&str>,
    links: &PageLinks,
) -> (header::HeaderName, HeaderValue) {
    let kept: Vec<&str> = query
        .unwrap_or("")
        .split('&')
        .filter(|pair| !pair.is_empty() && !pair.starts_with("cursor=") && *pair != "cursor")
        .collect();
    let prefix = format!("{base}?{}", kept.join("&"));
    let link = |name: &str, (cursor, has): &(Cursor, bool)| {
        let cursor = cursor.format();
        format!(
            "<{prefix}&cursor={cursor}>; rel=\"{name}\"; results=\"{has}\"; cursor=\"{cursor}\""
        )
    };
    let value = format!(
        "{}, {}",
        link("previous", &links.previous),
        link("next", &links.next)
    );
    (
        header::LINK,
        HeaderValue::from_str(&value).unwrap_or_else(|_| HeaderValue::from_static("")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_middle_and_previous_pages() {
        let key = |n: &i64| (*n, *n);
        let (rows, links) = finish_page(vec![9, 8, 7], 2, None, key);
        assert_eq!(rows, vec![9, 8]);
        assert_eq!(
            links.next,
            (
                Cursor {
                    key: 8,
                    id: 8,
                    is_prev: false
                },
                true
            )
        );
        assert!(!links.previous.1);
        let after = Some(Cursor {
            key: 8,
            id: 8,
            is_prev: false,
        });
        let (rows, links) = finish_page(vec![7], 2, after, key);
        assert_eq!(rows, vec![7]);
        assert!(!links.next.1);
        assert_eq!(
            links.previous,
            (
                Cursor {
                    key: 7,
                    id: 7,
                    is_prev: true
                },
                true
            )
        );
        let before = Some(Cursor {
            key: 7,
            id: 7,
            is_prev: true,
        });
        let (rows, links) = finish_page(vec![10, 9, 8], 2, before, key);
        assert_eq!(rows, vec![9, 8]);
        assert!(links.previous.1, "there is a row before 9");
        assert!(links.next.1);
    }

    #[test]
    fn parses_sentry_cursor_syntax() {
        assert_eq!(Cursor::parse(None).unwrap(), None);
        assert_eq!(Cursor::parse(Some("")).unwrap(), None);
        assert_eq!(
            Cursor::parse(Some("1700000000000:42:0")).unwrap(),
            Some(Cursor {
                key: 1_700_000_000_000,
                id: 42,
                is_prev: false
            })
        );
        assert!(Cursor::parse(Some("1:2")).is_err());
        assert!(Cursor::parse(Some("a:b:c")).is_err());
        assert!(Cursor::parse(Some("1:2:3")).is_err());
    }

    #[test]
    fn link_header_keeps_other_parameters_and_orders_previous_first() {
        let links = PageLinks {
            previous: (
                Cursor {
                    key: 5,
                    id: 9,
                    is_prev: true,
                },
                false,
            ),
            next: (
                Cursor {
                    key: 3,
                    id: 7,
                    is_prev: false,
                },
                true,
            ),
        };
        let (_, value) = link_header(
            "http://127.0.0.1:9000/api/0/projects/acme/shop/issues/",
            Some("query=is%3Aunresolved&cursor=1:2:0"),
            &links,
        );
        assert_eq!(
            value.to_str().unwrap(),
            "<http://127.0.0.1:9000/api/0/projects/acme/shop/issues/?query=is%3Aunresolved&cursor=5:9:1>; rel=\"previous\"; results=\"false\"; cursor=\"5:9:1\", \
             <http://127.0.0.1:9000/api/0/projects/acme/shop/issues/?query=is%3Aunresolved&cursor=3:7:0>; rel=\"next\"; results=\"true\"; cursor=\"3:7:0\""
        );
        let (_, bare) = link_header("http://h/x/", None, &links);
        assert!(
            bare.to_str()
                .unwrap()
                .starts_with("<http://h/x/?&cursor=5:9:1>")
        );
    }
}
