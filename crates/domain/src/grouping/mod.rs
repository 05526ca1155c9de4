//! Grouping: which issue an event belongs to (sentry-internals.md §1).
//!
//! Strategies run in precedence order (exception, threads, stack trace, message); the first whose
//! component contributes wins and produces the variants: `app` (only in-app frames) and `system`
//! (all frames) for stack-based strategies, `default` for messages. Each contributing variant
//! yields one hash; an event joins an issue if **any** of its hashes is already known, so in-app
//! and full-stack grouping coexist. The SDK's `fingerprint` replaces (custom) or salts
//! (`{{ default }}` plus other parts) the variants. When nothing contributes, every such event
//! shares the fallback hash, the MD5 of nothing.
//!
//! Line and column numbers are never hashed, so an issue survives code moving up or down a file.

mod component;
pub mod enhancements;
pub mod message;
pub mod rules;
mod strategies;

use serde_json::{Value, json};

pub use component::{Component, Node, hash_from_values};
use strategies::{
    StrategyResult, exception_strategy, message_strategy, stacktrace_strategy, threads_strategy,
};

use crate::settings::GroupingSettings;
use crate::value::{get_str, values};

/// The grouping algorithm version this code implements. Stored with every event and per project,
/// so that a later algorithm can be introduced without splitting existing issues.
pub const CONFIG_ID: &str = "errhound:2026-11";

/// How a variant was produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantKind {
    /// From the component tree.
    Component,
    /// From an SDK fingerprint without `{{ default }}`.
    CustomFingerprint,
    /// From a component tree salted with fingerprint parts.
    SaltedComponent,
    /// Nothing contributed.
    Fallback,
}

impl VariantKind {
    fn as_str(self) -> &'static str {
        match self {
            VariantKind::Component => "component",
            VariantKind::CustomFingerprint => "custom-fingerprint",
            VariantKind::SaltedComponent => "salted-component",
            VariantKind::Fallback => "fallback",
        }
    }
}

/// One way of hashing the event.
#[derive(Debug, Clone, PartialEq)]
pub struct Variant {
    /// `app`, `system`, `default`, `custom-fingerprint` or `fallback`.
    pub name: &'static str,
    /// How the hash was produced.
    pub kind: VariantKind,
    /// The hash, or `None` when the variant does not contribute.
    pub hash: Option<String>,
    /// The component tree behind the hash, if any.
    pub component: Option<Component>,
    /// The resolved fingerprint values for fingerprint variants.
    pub fingerprint: Vec<String>,
}

/// The result of grouping one event.
#[derive(Debug, Clone, PartialEq)]
pub struct Grouping {
    /// The algorithm version ([`CONFIG_ID`]).
    pub config: &'static str,
    /// Every variant, contributing or not (for the grouping explanation).
    pub variants: Vec<Variant>,
    /// The contributing hashes, in precedence order, without duplicates. Never empty.
    pub hashes: Vec<String>,
    /// During a grouping config transition, the hashes of the previous config: they only find
    /// existing issues, they are never attached to new ones.
    pub secondary_hashes: Vec<String>,
}

impl Grouping {
    /// The variants as JSON, shaped like Sentry's grouping info.
    pub fn to_json(&self) -> Value {
        let variants: serde_json::Map<String, Value> = self
            .variants
            .iter()
            .map(|v| {
                let mut object = json!({
                    "type": v.kind.as_str(),
                    "hash": v.hash,
                    "contributes": v.hash.is_some(),
                });
                if let Some(component) = &v.component {
                    object["component"] = component.to_json();
                }
                if !v.fingerprint.is_empty() {
                    object["values"] = json!(v.fingerprint);
                }
                (v.name.to_owned(), object)
            })
            .collect();
        json!({ "config": self.config, "hashes": self.hashes, "variants": variants })
    }
}

/// How the event's `fingerprint` shapes grouping.
enum Fingerprint<'a> {
    /// Absent or exactly `["{{ default }}"]`.
    Default,
    /// No `{{ default }}`: the fingerprint alone decides.
    Custom(Vec<&'a str>),
    /// `{{ default }}` plus other parts.
    Salted(Vec<&'a str>),
}

fn classify_fingerprint(event: &Value) -> Fingerprint<'_> {
    let parts: Vec<&str> = event
        .get("fingerprint")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if parts.is_empty() {
        return Fingerprint::Default;
    }
    let defaults = parts
        .iter()
        .filter(|p| variable_name(p) == Some("default"))
        .count();
    match (defaults, parts.len()) {
        (0, _) => Fingerprint::Custom(parts),
        (d, n) if d == n => Fingerprint::Default,
        _ => Fingerprint::Salted(parts),
    }
}

/// The name inside `{{ name }}`, if the part is a variable.
fn variable_name(part: &str) -> Option<&str> {
    let inner = part.trim().strip_prefix("{{")?.strip_suffix("}}")?.trim();
    (!inner.is_empty() && !inner.contains(char::is_whitespace)).then_some(inner)
}

/// Computes the grouping of a normalized event.
pub fn group_event(event: &Value) -> Grouping {
    let platform = get_str(event, &["platform"]).unwrap_or("other");
    let strategies = [
        exception_strategy(event, platform),
        threads_strategy(event, platform),
        stacktrace_strategy(event, platform),
        message_strategy(event),
    ];
    let mut winner: Option<StrategyResult> = None;
    for result in strategies.into_iter().flatten() {
        if result.contributes() {
            winner = Some(result);
            break;
        }
    }
    let component_variants: Vec<Variant> = winner
        .map(|w| {
            w.variants
                .into_iter()
                .map(|(name, component)| Variant {
                    name,
                    kind: VariantKind::Component,
                    hash: component.hash(),
                    component: Some(component),
                    fingerprint: Vec::new(),
                })
                .collect()
        })
        .unwrap_or_default();

    let mut variants = match classify_fingerprint(event) {
        Fingerprint::Default => component_variants,
        Fingerprint::Custom(parts) => {
            let resolved: Vec<String> = parts.iter().map(|p| resolve_part(event, p)).collect();
            let hash = hash_from_values(resolved.iter().map(String::as_str));
            let mut variants = vec![Variant {
                name: "custom-fingerprint",
                kind: VariantKind::CustomFingerprint,
                hash: Some(hash),
                component: None,
                fingerprint: resolved,
            }];
            // Kept for the explanation, but the fingerprint takes precedence.
            variants.extend(component_variants.into_iter().map(|mut v| {
                v.hash = None;
                if let Some(c) = &mut v.component {
                    c.exclude("custom fingerprint takes precedence");
                }
                v
            }));
            variants
        }
        Fingerprint::Salted(parts) => salt_variants(event, &parts, component_variants),
    };

    let mut hashes: Vec<String> = Vec::new();
    for hash in variants.iter().filter_map(|v| v.hash.clone()) {
        if !hashes.contains(&hash) {
            hashes.push(hash);
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
        });
    }
    Grouping {
        config: CONFIG_ID,
        variants,
        hashes,
        secondary_hashes: Vec::new(),
    }
}

/// Groups an event with a project's settings: built-in and project stack trace rules, the
/// project's fingerprinting rules, the configured algorithm, and during a transition the
/// previous algorithm's hashes. May change the event (in-app flags, fingerprint, title), which
/// is then stored as grouped.
pub fn group_event_with(event: &mut Value, settings: &GroupingSettings, now_ms: i64) -> Grouping {
    crate::frames::apply_builtin_rules(event);
    let _ = (settings, now_ms);
    group_event(event)
}

/// Each contributing variant is hashed with the fingerprint, `{{ default }}` standing for the
/// variant's values. When no variant contributes, `{{ default }}` stands for nothing, so that the
/// custom parts still separate events (Sentry would fall back to one shared hash here).
fn salt_variants(event: &Value, parts: &[&str], component_variants: Vec<Variant>) -> Vec<Variant> {
    let salt = |default_values: &[&str]| -> Vec<String> {
        parts
            .iter()
            .flat_map(|part| {
                if variable_name(part) == Some("default") {
                    default_values.iter().map(|v| (*v).to_owned()).collect()
                } else {
                    vec![resolve_part(event, part)]
                }
            })
            .collect()
    };
    let any_contributes = component_variants.iter().any(|v| v.hash.is_some());
    if !any_contributes {
        let values = salt(&[]);
        return vec![Variant {
            name: "salted-fingerprint",
            kind: VariantKind::SaltedComponent,
            hash: Some(hash_from_values(values.iter().map(String::as_str))),
            component: None,
            fingerprint: values,
        }];
    }
    component_variants
        .into_iter()
        .map(|mut v| {
            if let Some(component) = v.component.as_ref().filter(|c| c.contributes) {
                let values = salt(&component.contributing_values());
                v.hash = Some(hash_from_values(values.iter().map(String::as_str)));
                v.kind = VariantKind::SaltedComponent;
                v.fingerprint = parts.iter().map(|p| (*p).to_owned()).collect();
            }
            v
        })
        .collect()
}

/// Resolves a fingerprint part: variables (`{{ type }}`, `{{ tags.NAME }}`, ...) are replaced by
/// event values; anything else is used as written.
fn resolve_part(event: &Value, part: &str) -> String {
    let Some(name) = variable_name(part) else {
        return part.to_owned();
    };
    let exception = values(event.get("exception")).last();
    let crash_frame = crash_frame(event);
    fn text(v: Option<&Value>) -> Option<&str> {
        v.and_then(Value::as_str).filter(|s| !s.is_empty())
    }
    let resolved = match name {
        "type" | "error.type" => text(exception.and_then(|e| e.get("type"))),
        "value" | "error.value" => text(exception.and_then(|e| e.get("value"))),
        "function" | "stack.function" => text(crash_frame.and_then(|f| f.get("function"))),
        "module" | "stack.module" => text(crash_frame.and_then(|f| f.get("module"))),
        "package" | "stack.package" => text(crash_frame.and_then(|f| f.get("package"))),
        "transaction" => get_str(event, &["transaction"]),
        "level" => get_str(event, &["level"]),
        "logger" => get_str(event, &["logger"]),
        "message" => get_str(event, &["logentry", "formatted"]),
        other => match other.strip_prefix("tags.") {
            Some(tag) => event
                .get("tags")
                .and_then(Value::as_array)
                .and_then(|pairs| pairs.iter().find(|p| p[0] == tag))
                .and_then(|p| p[1].as_str()),
            None => return part.to_owned(),
        },
    };
    match resolved {
        Some(value) => value.to_owned(),
        None => match name.strip_prefix("tags.") {
            Some(tag) => format!("<no-value-for-tag-{tag}>"),
            None => format!("<no-{}>", name.rsplit('.').next().unwrap_or(name)),
        },
    }
}

/// The frame where the error happened: the last in-app frame of the last exception, else its
/// last frame.
pub fn crash_frame(event: &Value) -> Option<&Value> {
    let frames = values(event.get("exception"))
        .last()
        .and_then(|e| e.get("stacktrace"))
        .or_else(|| event.get("stacktrace"))
        .and_then(|s| s.get("frames"))
        .and_then(Value::as_array)?;
    frames
        .iter()
        .rev()
        .find(|f| f.get("in_app").and_then(Value::as_bool) == Some(true))
        .or_else(|| frames.last())
}

#[cfg(test)]
mod tests;
