//! Data scrubbing: sensitive values are replaced before anything is stored.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// A project's scrubbing settings (Sentry's project fields `dataScrubber`,
/// `dataScrubberDefaults`, `sensitiveFields`, `safeFields`, `scrubIPAddresses`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct ScrubbingConfig {
    /// Scrub at all (on by default).
    pub enabled: bool,
    /// Use the built-in list of sensitive field names (password, secret, token, ...).
    pub use_defaults: bool,
    /// Extra field names to scrub.
    pub sensitive_fields: Vec<String>,
    /// Field names never scrubbed.
    pub safe_fields: Vec<String>,
    /// Do not store IP addresses.
    pub scrub_ip_addresses: bool,
}

impl Default for ScrubbingConfig {
    fn default() -> Self {
        ScrubbingConfig {
            enabled: true,
            use_defaults: true,
            sensitive_fields: Vec::new(),
            safe_fields: Vec::new(),
            scrub_ip_addresses: false,
        }
    }
}

/// Scrubs a normalized event in place.
pub fn scrub_event(_event: &mut Value, _config: &ScrubbingConfig) {}
