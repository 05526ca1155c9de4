//! Event and issue severity.

use std::fmt;

use serde_json::Value;

/// Severity, ordered from least to most severe.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Level {
    /// `debug`
    Debug,
    /// `info` (also what `log` breadcrumbs and `capture_message` default to)
    Info,
    /// `warning`
    Warning,
    /// `error`, the default for events without a level
    Error,
    /// `fatal`
    Fatal,
}

impl Level {
    /// The canonical lowercase name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Debug => "debug",
            Level::Info => "info",
            Level::Warning => "warning",
            Level::Error => "error",
            Level::Fatal => "fatal",
        }
    }

    /// Parses the names SDKs send, including aliases (`warn`, `log`, `critical`) and Python
    /// logging numbers (10 debug ... 50 fatal).
    pub fn parse(value: &Value) -> Option<Level> {
        match value {
            Value::String(s) => Level::from_name(s),
            Value::Number(n) => match n.as_i64()? {
                0..=10 => Some(Level::Debug),
                11..=20 => Some(Level::Info),
                21..=30 => Some(Level::Warning),
                31..=40 => Some(Level::Error),
                41.. => Some(Level::Fatal),
                _ => None,
            },
            _ => None,
        }
    }

    /// Parses a level name, case-insensitively.
    pub fn from_name(name: &str) -> Option<Level> {
        match name.trim().to_ascii_lowercase().as_str() {
            "debug" | "trace" => Some(Level::Debug),
            "info" | "log" | "notice" => Some(Level::Info),
            "warning" | "warn" => Some(Level::Warning),
            "error" | "err" => Some(Level::Error),
            "fatal" | "critical" => Some(Level::Fatal),
            _ => None,
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn parses_names_aliases_and_python_numbers() {
        assert_eq!(Level::parse(&json!("ERROR")), Some(Level::Error));
        assert_eq!(Level::parse(&json!("warn")), Some(Level::Warning));
        assert_eq!(Level::parse(&json!("log")), Some(Level::Info));
        assert_eq!(Level::parse(&json!(50)), Some(Level::Fatal));
        assert_eq!(Level::parse(&json!(20)), Some(Level::Info));
        assert_eq!(Level::parse(&json!("loud")), None);
        assert_eq!(Level::parse(&json!(null)), None);
    }
}
