//! Query-string parameters, including repeated ones (`environment=a&environment=b`).

use axum::extract::{FromRequestParts, RawQuery};
use axum::http::request::Parts;
use std::convert::Infallible;

use crate::error::ApiError;

/// The decoded query string.
pub struct Params {
    pairs: Vec<(String, String)>,
    raw: Option<String>,
}

impl Params {
    /// Parses an `application/x-www-form-urlencoded` query string.
    pub fn parse(raw: Option<String>) -> Params {
        let decode = |s: &str| {
            percent_encoding::percent_decode_str(&s.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        };
        let pairs = raw
            .as_deref()
            .unwrap_or("")
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        Params { pairs, raw }
    }

    /// The first value of `name` (`Some("")` for `name=`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<String> {
        self.pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// The raw query string, for building links.
    pub fn raw(&self) -> Option<&str> {
        self.raw.as_deref()
    }

    /// The `per_page` parameter: `max` when absent, 400 when not a number in `1..=max`.
    pub fn per_page(&self, max: usize) -> Result<usize, ApiError> {
        match self.get("per_page").filter(|p| !p.is_empty()) {
            None => Ok(max),
            Some(text) => match text.parse::<usize>() {
                Ok(n) if n > max => Err(ApiError::bad_request(format!(
                    "Invalid per_page value. Cannot exceed {max}."
                ))),
                Ok(n) if n > 0 => Ok(n),
                _ => Err(ApiError::bad_request("Invalid per_page parameter.")),
            },
        }
    }

    /// Whether a boolean flag is on (`1` or `true`).
    pub fn flag(&self, name: &str) -> bool {
        matches!(self.get(name), Some("1" | "true" | "True"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Infallible> {
        let RawQuery(raw) = RawQuery::from_request_parts(parts, state).await?;
        Ok(Params::parse(raw))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_page_defaults_and_bounds() {
        let per_page = |q: &str| {
            Params::parse(Some(q.into()))
                .per_page(100)
                .map_err(|e| e.detail)
        };
        assert_eq!(per_page(""), Ok(100));
        assert_eq!(per_page("per_page="), Ok(100));
        assert_eq!(per_page("per_page=25"), Ok(25));
        assert_eq!(
            per_page("per_page=101"),
            Err("Invalid per_page value. Cannot exceed 100.".to_owned())
        );
        assert_eq!(
            per_page("per_page=0"),
            Err("Invalid per_page parameter.".to_owned())
        );
        assert_eq!(
            per_page("per_page=x"),
            Err("Invalid per_page parameter.".to_owned())
        );
    }

    #[test]
    fn repeated_and_encoded_values() {
        let p = Params::parse(Some(
            "environment=prod&environment=stage&query=is%3Aunresolved+x&cursor=".into(),
        ));
        assert_eq!(p.all("environment"), vec!["prod", "stage"]);
        assert_eq!(p.get("query"), Some("is:unresolved x"));
        assert_eq!(p.get("cursor"), Some(""));
        assert_eq!(p.get("missing"), None);
    }
}
