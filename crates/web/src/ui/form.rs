//! `application/x-www-form-urlencoded` bodies and query strings, with repeated fields
//! (`id=1&id=2`), which the bulk actions need and serde's form decoding does not support.

/// Decoded name/value pairs.
#[derive(Debug, Clone, Default)]
pub struct FormData {
    pairs: Vec<(String, String)>,
}

fn decode(text: &str) -> String {
    percent_encoding::percent_decode_str(&text.replace('+', " "))
        .decode_utf8_lossy()
        .into_owned()
}

impl FormData {
    /// Parses a body or query string.
    pub fn parse(text: &str) -> FormData {
        let pairs = text
            .split('&')
            .filter(|p| !p.is_empty())
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (decode(k), decode(v))
            })
            .collect();
        FormData { pairs }
    }

    /// Every pair, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// The first value of `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of `name`, trimmed, if not empty.
    pub fn text(&self, name: &str) -> Option<&str> {
        self.get(name).map(str::trim).filter(|v| !v.is_empty())
    }

    /// Every non-empty value of `name`.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.pairs
            .iter()
            .filter(|(k, v)| k == name && !v.is_empty())
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// A positive integer field; `Ok(None)` when absent or empty.
    pub fn positive(&self, name: &str) -> Result<Option<i64>, String> {
        match self.text(name) {
            None => Ok(None),
            Some(text) => match text.parse::<i64>() {
                Ok(n) if n > 0 => Ok(Some(n)),
                _ => Err(format!("{name} must be a whole number of at least 1")),
            },
        }
    }
}

/// Percent-encodes a query-string value.
pub fn encode(value: &str) -> String {
    const SET: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'_')
        .remove(b'.')
        .remove(b'~');
    percent_encoding::utf8_percent_encode(value, SET).to_string()
}

/// Builds `path?k=v&...` from pairs, skipping empty values.
pub fn url(path: &str, pairs: &[(&str, &str)]) -> String {
    let query: Vec<String> = pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect();
    if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", query.join("&"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_fields_and_encoding() {
        let form = FormData::parse("id=1&id=2&q=is%3Aunresolved+x&empty=&csrf=abc");
        assert_eq!(form.all("id"), vec!["1", "2"]);
        assert_eq!(form.get("q"), Some("is:unresolved x"));
        assert_eq!(form.text("empty"), None);
        assert_eq!(
            url("/x/", &[("query", "is:unresolved a&b"), ("sort", "")]),
            "/x/?query=is%3Aunresolved%20a%26b"
        );
    }
}
