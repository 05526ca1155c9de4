//! Per-project processing settings: which grouping algorithm, which server-side rules, what to
//! scrub. Stored per project (`project_options`, key -> JSON text), read by the ingest worker
//! for every batch.
//!
//! Each part is owned by the module that applies it; this struct only gathers them, with
//! defaults that describe a new project.

use serde::{Deserialize, Serialize};

use crate::grouping::CONFIG_ID;
use crate::grouping::fingerprint_rules::FingerprintingRules;
use crate::grouping::stack_rules::Enhancements;
use crate::scrub::ScrubbingConfig;

/// Option key of a grouping config transition ([`SecondaryGrouping`]).
pub const SECONDARY_GROUPING_KEY: &str = "grouping.secondary";
/// Option key of the fingerprinting rules (a JSON string holding the rule text).
pub const FINGERPRINTING_RULES_KEY: &str = "grouping.fingerprinting_rules";
/// Option key of the stack trace rules (a JSON string holding the rule text).
pub const ENHANCEMENTS_KEY: &str = "grouping.enhancements";
/// Option key of the scrubbing settings (a JSON object, [`ScrubbingConfig`]).
pub const SCRUBBING_KEY: &str = "scrubbing";

/// A grouping config this version can compute, as `GET /api/0/grouping-configs/` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct GroupingConfigInfo {
    /// The config id, e.g. `errhound:2026-11`.
    pub id: &'static str,
    /// Whether new projects get it.
    pub latest: bool,
    /// What changed compared to the previous config.
    pub changelog: &'static str,
}

/// Every grouping config this version can compute, oldest first.
pub fn grouping_configs() -> Vec<GroupingConfigInfo> {
    crate::grouping::CONFIGS
        .iter()
        .map(|&(id, changelog)| GroupingConfigInfo {
            id,
            latest: id == CONFIG_ID,
            changelog,
        })
        .collect()
}

/// Whether `id` names a grouping config this version can compute (projects may stay on, or
/// move back to, an older one).
pub fn is_known_grouping_config(id: &str) -> bool {
    crate::grouping::is_known_config(id)
}

/// A rule text that does not parse: the 1-based line and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct RuleError {
    /// 1-based line number in the rule text.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Parses rule text line by line with `parse_line` (`Ok(None)` for blank and comment lines);
/// the first error is reported with its 1-based line.
pub(crate) fn parse_rule_lines<T>(
    text: &str,
    parse_line: impl Fn(&str) -> Result<Option<T>, String>,
) -> Result<Vec<T>, RuleError> {
    let mut rules = Vec::new();
    for (index, line) in text.lines().enumerate() {
        if let Some(rule) = parse_line(line).map_err(|message| RuleError {
            line: index + 1,
            message,
        })? {
            rules.push(rule);
        }
    }
    Ok(rules)
}

/// Everything project-specific the pipeline applies to an event.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ProjectSettings {
    /// Grouping: algorithm version and the project's rules.
    pub grouping: GroupingSettings,
    /// What is scrubbed before storage.
    pub scrubbing: ScrubbingConfig,
}

/// Grouping settings of a project.
#[derive(Debug, Clone, PartialEq)]
pub struct GroupingSettings {
    /// The grouping config new events are hashed with (e.g. `errhound:2026-11`).
    pub config: String,
    /// The previous config during a transition: its hashes still find existing issues.
    pub secondary: Option<SecondaryGrouping>,
    /// Server-side fingerprinting rules.
    pub fingerprinting: FingerprintingRules,
    /// Stack trace rules.
    pub enhancements: Enhancements,
}

impl Default for GroupingSettings {
    fn default() -> Self {
        GroupingSettings {
            config: CONFIG_ID.to_owned(),
            secondary: None,
            fingerprinting: FingerprintingRules::default(),
            enhancements: Enhancements::default(),
        }
    }
}

/// A grouping config kept alive after a project switched to a newer one, until `expires_ms`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SecondaryGrouping {
    /// The previous config id.
    pub config: String,
    /// When the transition ends, epoch ms.
    pub expires_ms: i64,
}

impl ProjectSettings {
    /// Builds a project's settings from its grouping config and its stored options (`key`, JSON
    /// text). Options that do not parse are skipped and reported, so one bad value cannot stop
    /// a project's events from being processed.
    pub fn from_options(
        grouping_config: &str,
        options: &[(String, String)],
    ) -> (ProjectSettings, Vec<String>) {
        let mut settings = ProjectSettings::default();
        settings.grouping.config = grouping_config.to_owned();
        let mut warnings = Vec::new();
        let rule_text =
            |value: &str| serde_json::from_str::<String>(value).map_err(|e| e.to_string());
        for (key, value) in options {
            let result = match key.as_str() {
                SECONDARY_GROUPING_KEY => serde_json::from_str::<SecondaryGrouping>(value)
                    .map(|secondary| settings.grouping.secondary = Some(secondary))
                    .map_err(|e| e.to_string()),
                FINGERPRINTING_RULES_KEY => rule_text(value).and_then(|text| {
                    FingerprintingRules::parse(&text)
                        .map(|rules| settings.grouping.fingerprinting = rules)
                        .map_err(|e| e.to_string())
                }),
                ENHANCEMENTS_KEY => rule_text(value).and_then(|text| {
                    Enhancements::parse(&text)
                        .map(|rules| settings.grouping.enhancements = rules)
                        .map_err(|e| e.to_string())
                }),
                SCRUBBING_KEY => serde_json::from_str::<ScrubbingConfig>(value)
                    .map(|config| settings.scrubbing = config)
                    .map_err(|e| e.to_string()),
                _ => Ok(()),
            };
            if let Err(error) = result {
                warnings.push(format!("{key}: {error}"));
            }
        }
        (settings, warnings)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_fill_settings_and_bad_ones_are_reported() {
        let (settings, warnings) = ProjectSettings::from_options(
            "errhound:2026-11",
            &[(
                SECONDARY_GROUPING_KEY.to_owned(),
                r#"{"config":"errhound:2026-01","expires_ms":5}"#.to_owned(),
            )],
        );
        assert!(warnings.is_empty());
        assert_eq!(
            settings.grouping.secondary,
            Some(SecondaryGrouping {
                config: "errhound:2026-01".into(),
                expires_ms: 5
            })
        );
        let (settings, warnings) = ProjectSettings::from_options(
            "errhound:2026-11",
            &[(SECONDARY_GROUPING_KEY.to_owned(), "nonsense".to_owned())],
        );
        assert_eq!(settings.grouping.secondary, None);
        assert_eq!(warnings.len(), 1);
    }
}
