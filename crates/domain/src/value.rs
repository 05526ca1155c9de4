//! Small helpers for walking untrusted JSON.

use serde_json::{Map, Value};

/// Follows a path of object keys.
pub(crate) fn get<'a>(value: &'a Value, path: &[&str]) -> Option<&'a Value> {
    let mut current = value;
    for key in path {
        current = current.as_object()?.get(*key)?;
    }
    Some(current)
}

/// A non-empty string at `path`.
pub(crate) fn get_str<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    get(value, path)?.as_str().filter(|s| !s.is_empty())
}

/// The elements of a `{"values": [...]}` container (the normalized shape).
pub(crate) fn values(value: Option<&Value>) -> &[Value] {
    value
        .and_then(|v| v.get("values"))
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice)
}

/// Rewrites a list-or-`{values}` container in place into `{"values": [...]}`; a single object that
/// looks like an element (`looks_like_element`) becomes a one-element list. Anything else is
/// removed, and `false` is returned so the caller can record the error.
pub(crate) fn normalize_values(
    object: &mut Map<String, Value>,
    key: &str,
    looks_like_element: impl Fn(&Map<String, Value>) -> bool,
) -> bool {
    let Some(value) = object.get_mut(key) else {
        return true;
    };
    let list = match value.take() {
        Value::Array(list) => list,
        Value::Object(mut map) => match map.remove("values") {
            Some(Value::Array(list)) => list,
            Some(Value::Null) | None if !looks_like_element(&map) => Vec::new(),
            None => vec![Value::Object(map)],
            Some(_) => {
                object.remove(key);
                return false;
            }
        },
        Value::Null => {
            object.remove(key);
            return true;
        }
        _ => {
            object.remove(key);
            return false;
        }
    };
    let list: Vec<Value> = list.into_iter().filter(Value::is_object).collect();
    let mut container = Map::new();
    container.insert("values".to_owned(), Value::Array(list));
    *value = Value::Object(container);
    true
}

/// Stringifies a scalar the way Sentry does for tags and similar text fields.
pub(crate) fn scalar_to_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Bool(true) => Some("True".to_owned()),
        Value::Bool(false) => Some("False".to_owned()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Truncates to at most `max_chars` characters, on a character boundary.
pub(crate) fn truncate_chars(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((byte, _)) => &text[..byte],
        None => text,
    }
}

/// Decodes `%XX` escapes (and `+` as a space, for forms); invalid escapes are kept as they are
/// and invalid UTF-8 is replaced.
pub(crate) fn percent_decode(text: &str, plus_as_space: bool) -> String {
    if !(text.contains('%') || plus_as_space && text.contains('+')) {
        return text.to_owned();
    }
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                    (Some(high), Some(low)) => {
                        // Two hex digits make a byte; the cast cannot truncate.
                        out.push((high * 16 + low) as u8);
                        i += 3;
                        continue;
                    }
                    _ => out.push(b'%'),
                }
            }
            b'+' if plus_as_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}
