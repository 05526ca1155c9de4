//! Timestamps as SDKs send them: Unix seconds (int or float) or RFC 3339 strings, sometimes mixed
//! within one payload (the Rust SDK's transactions). A string without a zone is UTC.

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::{OffsetDateTime, PrimitiveDateTime, UtcOffset};

/// Parses a JSON timestamp value into Unix seconds. Returns `None` for anything unparsable,
/// non-finite or negative (Relay rejects negative timestamps as "too stale").
pub fn parse_value(value: &Value) -> Option<f64> {
    let seconds = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => parse_str(s)?,
        _ => return None,
    };
    (seconds.is_finite() && seconds >= 0.0).then_some(seconds)
}

/// Parses an RFC 3339 string (zone optional) or a numeric string into Unix seconds.
pub fn parse_str(text: &str) -> Option<f64> {
    let text = text.trim();
    if let Ok(seconds) = text.parse::<f64>() {
        return (seconds.is_finite() && seconds >= 0.0).then_some(seconds);
    }
    let datetime = OffsetDateTime::parse(text, &Rfc3339).ok().or_else(|| {
        let naive = format_description!(
            version = 2,
            "[year]-[month]-[day][first [T] [ ]][hour]:[minute]:[second][optional [.[subsecond]]]"
        );
        PrimitiveDateTime::parse(text, naive)
            .ok()
            .map(|dt| dt.assume_offset(UtcOffset::UTC))
    })?;
    let seconds = datetime.unix_timestamp_nanos() as f64 / 1e9;
    (seconds >= 0.0).then_some(seconds)
}

/// Formats Unix milliseconds as RFC 3339 UTC with microseconds, as Sentry's API prints dates
/// (`2026-11-25T00:16:07.299000Z`).
pub fn format_millis(millis: i64) -> String {
    let nanos = i128::from(millis) * 1_000_000;
    let Ok(dt) = OffsetDateTime::from_unix_timestamp_nanos(nanos) else {
        return "1970-01-01T00:00:00.000000Z".to_owned();
    };
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:6]Z");
    dt.format(format)
        .unwrap_or_else(|_| "1970-01-01T00:00:00.000000Z".to_owned())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn sdk_timestamp_shapes() {
        // python
        let py = parse_value(&json!("2026-11-25T00:16:07.293346Z")).unwrap();
        assert!((py - 1_795_565_767.293_346).abs() < 1e-5, "{py}");
        // node
        assert_eq!(parse_value(&json!(1795565797.197)), Some(1795565797.197));
        // rust transaction: nanosecond string
        let rs = parse_value(&json!("2026-11-25T00:16:07.764575431Z")).unwrap();
        assert!((rs - 1_795_565_767.764_575).abs() < 1e-5);
        // offsets, no zone, integers
        assert_eq!(
            parse_value(&json!("2026-11-25T01:16:07+01:00")),
            parse_value(&json!("2026-11-25T00:16:07Z"))
        );
        assert_eq!(
            parse_value(&json!("2026-11-25T00:16:07")),
            parse_value(&json!("2026-11-25T00:16:07Z"))
        );
        assert_eq!(parse_value(&json!(1795565767)), Some(1795565767.0));
    }

    #[test]
    fn garbage_is_none() {
        for bad in [
            json!("yesterday"),
            json!(-5),
            json!(null),
            json!({}),
            json!("NaN"),
        ] {
            assert_eq!(parse_value(&bad), None, "{bad}");
        }
    }

    #[test]
    fn formats_like_sentry() {
        assert_eq!(
            format_millis(1_795_565_767_299),
            "2026-11-25T00:16:07.299000Z"
        );
    }
}
