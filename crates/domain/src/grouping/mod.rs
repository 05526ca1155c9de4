//! Grouping: which issue an event belongs to (sentry-internals.md §1).
//!
//! Each event is hashed by a versioned **grouping config**, stored per project and in every event
//! (`grouping_config.id`):
//!
//! * `errhound:2026-11` (`legacy.rs`, frozen): the first algorithm. Projects created with it keep
//!   their hashes; only the project's own rules are threaded through.
//! * `errhound:2026-11-25` ([`CONFIG_ID`], the default for new projects; `strategies.rs`):
//!   Sentry's newstyle strategies plus checksums, exception groups, crashed/current threads, CSP
//!   reports, per-platform frame normalization (`platform.rs`, `demangle.rs`), Sentry's full
//!   message parameterization (`parameterization.rs`), built-in stack trace rules and in-app
//!   detection (`crate::frames`).
//!
//! Unknown config ids are grouped with the default.
//!
//! [`group_event_with`] runs, in order: the built-in stack trace rules and the project's
//! ([`stack_rules`]; in-app flips are written into the stored event, grouping flags only change
//! hashing), in-app detection for frames nobody marked, the project's fingerprinting rules
//! ([`fingerprint_rules`]; the first match replaces `fingerprint` and may set a title), then the config's
//! algorithm. Strategies run in precedence order; the first whose component contributes wins and
//! yields the variants: `app` (in-app frames only) and `system` (all frames) for stack-based
//! strategies, `default` for messages. Every contributing variant gives one hash (the MD5 of its
//! values concatenated without separators, as Sentry does); an event joins an issue if **any**
//! of its hashes is known, so in-app and full-stack grouping coexist. A fingerprint replaces
//! (custom) or salts (`{{ default }}` plus parts) the variants; when nothing contributes, the
//! event gets the fallback hash, the MD5 of nothing.
//!
//! During a config transition ([`crate::settings::SecondaryGrouping`], until it expires) the
//! previous config's hashes are computed too, on the event as the SDK sent it, and returned as
//! [`Grouping::secondary_hashes`]: they only find existing issues.
//!
//! Line and column numbers are never hashed, so an issue survives code moving up or down a file.

mod component;
mod demangle;
mod fingerprint;
pub mod fingerprint_rules;
mod glob;
mod legacy;
pub mod message;
pub mod parameterization;
pub(crate) mod platform;
mod prepare;
pub mod stack_rules;
mod strategies;

use serde_json::{Value, json};

pub use component::{Component, Node, hash_from_values};

use fingerprint::FingerprintSource;
use prepare::{Plan, Prepared, prepare};
use stack_rules::{BASE, Enhancements};

use crate::metadata::CUSTOM_TITLE_FIELD;
use crate::settings::GroupingSettings;

/// The first grouping config (frozen).
pub const CONFIG_2026_11: &str = "errhound:2026-11";
/// The grouping config with per-platform normalization, rules and in-app detection.
pub const CONFIG_2026_11_25: &str = "errhound:2026-11-25";
/// The grouping config new projects get.
pub const CONFIG_ID: &str = CONFIG_2026_11_25;

/// Every grouping config this version computes, oldest first: `(id, what changed)`.
pub const CONFIGS: &[(&str, &str)] = &[
    (
        CONFIG_2026_11,
        "The first grouping algorithm of Errhound, after Sentry's newstyle:2023-01-11.",
    ),
    (
        CONFIG_2026_11_25,
        "Per-platform frame normalization (bundle hashes, lambdas, closures, generated classes, \
         mangled names), in-app detection, built-in stack trace rules, exception groups, \
         crashed threads, CSP reports, checksums, and Sentry's full message parameterization.",
    ),
];

/// Whether this version can compute the grouping config `id`.
pub fn is_known_config(id: &str) -> bool {
    Config::from_id(id).is_some()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Config {
    V2026_11,
    V2026_11_25,
}

impl Config {
    fn from_id(id: &str) -> Option<Config> {
        match id {
            CONFIG_2026_11 => Some(Config::V2026_11),
            CONFIG_2026_11_25 => Some(Config::V2026_11_25),
            _ => None,
        }
    }

    /// Unknown ids fall back to the default.
    fn resolve(id: &str) -> Config {
        Config::from_id(id).unwrap_or(Config::V2026_11_25)
    }

    fn plan(self, project: &Enhancements) -> Plan<'_> {
        match self {
            Config::V2026_11 => Plan {
                builtin: None,
                project,
                detect: false,
                legacy_panic: true,
            },
            Config::V2026_11_25 => Plan {
                builtin: Some(&BASE),
                project,
                detect: true,
                legacy_panic: false,
            },
        }
    }

    fn group(
        self,
        event: &Value,
        prepared: &Prepared<'_>,
        source: FingerprintSource<'_>,
    ) -> Grouping {
        match self {
            Config::V2026_11 => {
                let mut grouping = legacy::group(event, prepared);
                if let FingerprintSource::Rule(rule) = source {
                    for variant in &mut grouping.variants {
                        if matches!(
                            variant.kind,
                            VariantKind::CustomFingerprint | VariantKind::SaltedComponent
                        ) {
                            variant.matched_rule = Some(rule.to_owned());
                        }
                    }
                }
                grouping
            }
            Config::V2026_11_25 => strategies::group(event, prepared, source),
        }
    }
}

/// How a variant was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantKind {
    /// From the component tree.
    Component,
    /// From a fingerprint without `{{ default }}` (SDK or fingerprinting rule).
    CustomFingerprint,
    /// From a component tree salted with fingerprint parts.
    SaltedComponent,
    /// The event's `checksum`, a 32-hex hash used as is.
    Checksum,
    /// The MD5 of the event's `checksum`.
    HashedChecksum,
    /// Nothing contributed.
    Fallback,
}

impl VariantKind {
    fn as_str(self) -> &'static str {
        match self {
            VariantKind::Component => "component",
            VariantKind::CustomFingerprint => "custom-fingerprint",
            VariantKind::SaltedComponent => "salted-component",
            VariantKind::Checksum => "checksum",
            VariantKind::HashedChecksum => "hashed-checksum",
            VariantKind::Fallback => "fallback",
        }
    }
}

/// One way of hashing the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// `app`, `system`, `default`, `custom-fingerprint`, `salted-fingerprint`, `checksum`,
    /// `hashed-checksum` or `fallback`.
    pub name: &'static str,
    /// How the hash was produced.
    pub kind: VariantKind,
    /// The hash, or `None` when the variant does not contribute.
    pub hash: Option<String>,
    /// The component tree behind the hash, if any.
    pub component: Option<Component>,
    /// The resolved fingerprint (or checksum) values for fingerprint variants.
    pub fingerprint: Vec<String>,
    /// The fingerprinting rule that set the fingerprint, if a rule did.
    pub matched_rule: Option<String>,
}

impl Variant {
    fn description(&self) -> String {
        let what = self.component.as_ref().map(|c| match c.id {
            "exception" => "exception",
            "chained-exception" => "chained exception",
            "threads" => "thread",
            "stacktrace" => "stack trace",
            "message" => "message",
            "csp" => "CSP report",
            other => other,
        });
        let origin = if self.matched_rule.is_some() {
            "custom server fingerprint"
        } else {
            "custom client fingerprint"
        };
        match (self.kind, self.name, what) {
            (VariantKind::Checksum, ..) => "checksum".to_owned(),
            (VariantKind::HashedChecksum, ..) => "hashed checksum".to_owned(),
            (VariantKind::Fallback, ..) => "fallback: nothing else contributed".to_owned(),
            (VariantKind::CustomFingerprint, ..) => origin.to_owned(),
            (VariantKind::SaltedComponent, "app", Some(w)) => {
                format!("{origin} salting the in-app {w}")
            }
            (VariantKind::SaltedComponent, "system", Some(w)) => {
                format!("{origin} salting the full {w}")
            }
            (VariantKind::SaltedComponent, ..) => origin.to_owned(),
            (_, "app", Some(w)) => format!("in-app {w} (in-app frames only)"),
            (_, "system", Some(w)) => format!("full {w} (all frames)"),
            (_, _, Some(w)) => w.to_owned(),
            (_, name, None) => name.to_owned(),
        }
    }
}

/// The result of grouping one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// The config the hashes come from.
    pub config: &'static str,
    /// Every variant, contributing or not (for the grouping explanation).
    pub variants: Vec<Variant>,
    /// The contributing hashes, in precedence order, without duplicates. Never empty.
    pub hashes: Vec<String>,
    /// During a grouping config transition, the hashes of the previous config that are not
    /// primary hashes: they only find existing issues, they are never attached to new ones.
    pub secondary_hashes: Vec<String>,
    /// The config the secondary hashes come from.
    pub secondary_config: Option<&'static str>,
    /// For an exception group grouped by one inner exception: that exception's
    /// `mechanism.exception_id` (Sentry's `main_exception_id`, which names the issue).
    pub main_exception_id: Option<i64>,
}

impl Grouping {
    /// Collects the hashes of `variants`, adding the fallback when none contributes.
    fn from_variants(config: &'static str, mut variants: Vec<Variant>) -> Grouping {
        let mut hashes: Vec<String> = Vec::new();
        for hash in variants.iter().filter_map(|v| v.hash.as_ref()) {
            if !hashes.contains(hash) {
                hashes.push(hash.clone());
            }
        }
        if hashes.is_empty() {
            let fallback = hash_from_values([]);
            hashes.push(fallback.clone());
            variants.push(Variant {
                name: "fallback",
                kind: VariantKind::Fallback,
                hash: Some(fallback),
                component: None,
                fingerprint: Vec::new(),
                matched_rule: None,
            });
        }
        Grouping {
            config,
            variants,
            hashes,
            secondary_hashes: Vec::new(),
            secondary_config: None,
            main_exception_id: None,
        }
    }

    /// The grouping explanation, shaped like Sentry's grouping info: per variant its type,
    /// description, hash, whether it contributes and why not, the component tree (every value,
    /// with a hint wherever something was ignored, normalized or decided by a rule or by in-app
    /// detection), fingerprint values and the matching fingerprinting rule.
    pub fn to_json(&self) -> Value {
        let variants: serde_json::Map<String, Value> = self
            .variants
            .iter()
            .map(|v| {
                let mut object = json!({
                    "type": v.kind.as_str(),
                    "description": v.description(),
                    "hash": v.hash,
                    "contributes": v.hash.is_some(),
                });
                if let Some(component) = &v.component {
                    object["component"] = component.to_json();
                    if v.hash.is_none() {
                        object["hint"] = json!(component.hint);
                    }
                }
                if !v.fingerprint.is_empty() {
                    object["values"] = json!(v.fingerprint);
                }
                if let Some(rule) = &v.matched_rule {
                    object["matched_rule"] = json!(rule);
                }
                (v.name.to_owned(), object)
            })
            .collect();
        let mut out = json!({ "config": self.config, "hashes": self.hashes, "variants": variants });
        if let Some(config) = self.secondary_config {
            out["secondary"] = json!({ "config": config, "hashes": self.secondary_hashes });
        }
        out
    }
}

/// Groups an event with the default config and no project rules, without changing it.
pub fn group_event(event: &Value) -> Grouping {
    group_event_as(event, CONFIG_ID)
}

/// Groups an event with the config `config_id` (unknown ids: the default) and no project rules,
/// without changing it.
pub fn group_event_as(event: &Value, config_id: &str) -> Grouping {
    let config = Config::resolve(config_id);
    let empty = Enhancements::default();
    let prepared = prepare(event, &config.plan(&empty));
    config.group(event, &prepared, FingerprintSource::Sdk)
}

/// Groups an event with a project's settings: built-in and project stack trace rules, in-app
/// detection, the project's fingerprinting rules, the configured algorithm, and during a
/// transition the previous algorithm's hashes. Changes the event, which is then stored as
/// grouped: in-app flags decided by rules and detection; `fingerprint` and `_custom_title`
/// ([`CUSTOM_TITLE_FIELD`]) when a fingerprinting rule matches; `main_exception_id` for an
/// exception group named by one inner exception.
pub fn group_event_with(event: &mut Value, settings: &GroupingSettings, now_ms: i64) -> Grouping {
    let primary = Config::resolve(&settings.config);
    let secondary = settings
        .secondary
        .as_ref()
        .filter(|s| s.expires_ms > now_ms)
        .and_then(|s| Config::from_id(&s.config))
        .filter(|c| *c != primary);
    // Both configs decide on the event as the SDK sent it.
    let primary_prepared = prepare(event, &primary.plan(&settings.enhancements));
    let secondary_prepared =
        secondary.map(|c| (c, prepare(event, &c.plan(&settings.enhancements))));

    let matched = settings
        .fingerprinting
        .first_match(event, &primary_prepared);
    if let (Some(matched), Value::Object(object)) = (&matched, &mut *event) {
        object.insert("fingerprint".to_owned(), json!(matched.fingerprint));
    }
    if let Some(template) = matched.as_ref().and_then(|m| m.title.as_deref()) {
        let title = fingerprint_rules::expand_title(template, event, &primary_prepared);
        if let Value::Object(object) = event
            && !title.trim().is_empty()
        {
            object.insert(CUSTOM_TITLE_FIELD.to_owned(), Value::from(title));
        }
    }
    let source = match &matched {
        Some(m) => FingerprintSource::Rule(&m.rule),
        None => FingerprintSource::Sdk,
    };

    let secondary =
        secondary_prepared.map(|(config, prepared)| config.group(event, &prepared, source));
    primary_prepared.write_in_app(event);
    let mut grouping = primary.group(event, &primary_prepared, source);
    if let (Some(id), Value::Object(object)) = (grouping.main_exception_id, &mut *event) {
        object.insert("main_exception_id".to_owned(), Value::from(id));
    }
    if let Some(secondary) = secondary {
        grouping.secondary_config = Some(secondary.config);
        for hash in secondary.hashes {
            if !grouping.hashes.contains(&hash) && !grouping.secondary_hashes.contains(&hash) {
                grouping.secondary_hashes.push(hash);
            }
        }
    }
    grouping
}

/// The frame where the error happened: the last in-app frame of the last exception, else its
/// last frame (as the event is stored, for titles and culprits).
pub fn crash_frame(event: &Value) -> Option<&Value> {
    legacy::crash_frame(event)
}

#[cfg(test)]
mod tests;
