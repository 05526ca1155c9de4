//! Fingerprints in `errhound:2026-11-25`: the event's `fingerprint` (from the SDK, or written by
//! a fingerprinting rule) replaces the computed variants (custom) or salts them (`{{ default }}`
//! plus other parts), with Sentry's variables:
//!
//! | variable | value |
//! | --- | --- |
//! | `{{ default }}` | the computed grouping (salted fingerprints) |
//! | `{{ type }}`, `{{ error.type }}` | type of the last exception, else `<no-type>` |
//! | `{{ value }}`, `{{ error.value }}` | value of the last exception, else `<no-value>` |
//! | `{{ function }}`, `{{ stack.function }}` | the crash frame's function, else `<no-function>` |
//! | `{{ module }}`, `{{ stack.module }}` | the crash frame's module, else `<no-module>` |
//! | `{{ package }}`, `{{ stack.package }}` | the crash frame's package (last path part), else `<no-package>` |
//! | `{{ path }}`, `{{ stack.abs_path }}` | the crash frame's path, else `<no-abs-path>` |
//! | `{{ stack.filename }}` | the crash frame's file name, else `<no-filename>` |
//! | `{{ transaction }}` | the transaction, else `<no-transaction>` |
//! | `{{ level }}`, `{{ logger }}` | the level / logger, else `<no-level>` / `<no-logger>` |
//! | `{{ message }}` | the message (or exception value), parameterized, else `<no-message>` |
//! | `{{ tags.NAME }}` | the tag's value, else `<no-value-for-tag-NAME>` |
//!
//! Unknown variables become `<unrecognized-variable-NAME>`. A literal part equal to one of the
//! event's messages is parameterized like the message, so `fingerprint: [message]` still groups
//! messages that differ only in numbers or ids. The crash frame is the last in-app frame of the
//! last exception (or of the top-level or single thread's stack trace), else its last frame.
//!
//! Deliberate difference from Sentry (as in `errhound:2026-11`): a salted fingerprint on an event
//! where nothing contributes hashes its custom parts alone instead of the shared fallback.

use serde_json::{Map, Value};

use super::component::hash_from_values;
use super::parameterization::parameterize;
use super::prepare::{Prepared, StackId};
use super::{Variant, VariantKind};
use crate::value::{get_str, values};

/// Where the event's fingerprint came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FingerprintSource<'a> {
    /// The SDK sent it (or nobody did).
    Sdk,
    /// A fingerprinting rule wrote it; the rule's text.
    Rule(&'a str),
}

/// The canonical placeholder.
pub(crate) const DEFAULT_PART: &str = "{{ default }}";

/// The name inside `{{ name }}`, if the whole part is a variable (Sentry's
/// `\{\{\s*(\S+)\s*\}\}` matched against the whole part).
pub(crate) fn variable_name(part: &str) -> Option<&str> {
    let inner = part.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    (!inner.is_empty() && !inner.contains(char::is_whitespace)).then_some(inner)
}

/// Shapes the component variants by the event's fingerprint.
pub(crate) fn apply(
    event: &Value,
    prepared: &Prepared<'_>,
    source: FingerprintSource<'_>,
    component_variants: Vec<Variant>,
) -> Vec<Variant> {
    let parts: Vec<&str> = event
        .get("fingerprint")
        .and_then(Value::as_array)
        .map(|list| list.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let is_default = |p: &&str| variable_name(p) == Some("default");
    let rule = match source {
        FingerprintSource::Rule(text) => Some(text.to_owned()),
        FingerprintSource::Sdk => None,
    };
    let origin = if rule.is_some() {
        "custom server fingerprint"
    } else {
        "custom client fingerprint"
    };
    if parts.is_empty() || (parts.len() == 1 && is_default(&parts[0])) {
        return component_variants;
    }
    let resolver = Resolver::new(event, prepared);
    if !parts.iter().any(is_default) {
        let resolved: Vec<String> = parts.iter().map(|p| resolver.resolve(p)).collect();
        let hash = hash_from_values(resolved.iter().map(String::as_str));
        let mut variants = vec![Variant {
            name: "custom-fingerprint",
            kind: VariantKind::CustomFingerprint,
            hash: Some(hash),
            component: None,
            fingerprint: resolved,
            matched_rule: rule,
        }];
        variants.extend(component_variants.into_iter().map(|mut v| {
            v.hash = None;
            if let Some(c) = &mut v.component {
                c.exclude(format!("{origin} takes precedence"));
            }
            v
        }));
        return variants;
    }
    let salt = |default_values: &[&str]| -> Vec<String> {
        parts
            .iter()
            .flat_map(|part| {
                if is_default(part) {
                    default_values.iter().map(|v| (*v).to_owned()).collect()
                } else {
                    vec![resolver.resolve(part)]
                }
            })
            .collect()
    };
    if !component_variants.iter().any(|v| v.hash.is_some()) {
        let values = salt(&[]);
        return vec![Variant {
            name: "salted-fingerprint",
            kind: VariantKind::SaltedComponent,
            hash: Some(hash_from_values(values.iter().map(String::as_str))),
            component: None,
            fingerprint: values,
            matched_rule: rule,
        }];
    }
    component_variants
        .into_iter()
        .map(|mut v| {
            if let Some(component) = v.component.as_ref().filter(|c| c.contributes) {
                let values = salt(&component.contributing_values());
                v.hash = Some(hash_from_values(values.iter().map(String::as_str)));
                v.kind = VariantKind::SaltedComponent;
                v.fingerprint = parts
                    .iter()
                    .map(|p| {
                        if is_default(p) {
                            DEFAULT_PART.to_owned()
                        } else {
                            resolver.resolve(p)
                        }
                    })
                    .collect();
                v.matched_rule.clone_from(&rule);
            }
            v
        })
        .collect()
}

/// Resolves fingerprint variables of one event.
pub(crate) struct Resolver<'a> {
    event: &'a Value,
    prepared: &'a Prepared<'a>,
}

impl<'a> Resolver<'a> {
    pub(crate) fn new(event: &'a Value, prepared: &'a Prepared<'a>) -> Resolver<'a> {
        Resolver { event, prepared }
    }

    /// A fingerprint part: a variable's value, a parameterized copy of a message, or the part.
    pub(crate) fn resolve(&self, part: &str) -> String {
        match variable_name(part) {
            Some(name) => self.variable(name),
            None => {
                if self.messages().any(|m| m == part) {
                    parameterize(part)
                } else {
                    part.to_owned()
                }
            }
        }
    }

    fn messages(&self) -> impl Iterator<Item = &str> {
        let logentry = ["message", "formatted"]
            .into_iter()
            .filter_map(|key| get_str(self.event, &["logentry", key]));
        let exception_values = values(self.event.get("exception"))
            .iter()
            .filter_map(|e| e.get("value").and_then(Value::as_str));
        logentry.chain(exception_values)
    }

    /// A variable's value (Sentry's `resolve_fingerprint_variable`).
    pub(crate) fn variable(&self, name: &str) -> String {
        let event = self.event;
        let last_exception = values(event.get("exception")).last();
        let exception_text = |key: &str| {
            last_exception
                .and_then(|e| e.get(key))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let frame_text = |key: &str| {
            self.crash_frame()
                .and_then(|f| f.get(key))
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        let or = |value: Option<&str>, default: &str| value.unwrap_or(default).to_owned();
        match name {
            "transaction" => or(get_str(event, &["transaction"]), "<no-transaction>"),
            "message" | "raw_message" => match self.canonical_message() {
                Some(message) => parameterize(message),
                None => "<no-message>".to_owned(),
            },
            "type" | "error.type" => or(exception_text("type"), "<no-type>"),
            "value" | "raw_value" | "error.value" | "error.raw_value" => {
                or(exception_text("value"), "<no-value>")
            }
            "function" | "stack.function" => or(frame_text("function"), "<no-function>"),
            "path" | "stack.abs_path" => or(
                frame_text("abs_path").or_else(|| frame_text("filename")),
                "<no-abs-path>",
            ),
            "stack.filename" => or(
                frame_text("filename").or_else(|| frame_text("abs_path")),
                "<no-filename>",
            ),
            "module" | "stack.module" => or(frame_text("module"), "<no-module>"),
            "package" | "stack.package" => or(
                frame_text("package").map(|p| p.rsplit(['/', '\\']).next().unwrap_or(p)),
                "<no-package>",
            ),
            "level" => or(get_str(event, &["level"]), "<no-level>"),
            "logger" => or(get_str(event, &["logger"]), "<no-logger>"),
            other => match other.strip_prefix("tags.") {
                Some(tag) => event
                    .get("tags")
                    .and_then(Value::as_array)
                    .and_then(|pairs| {
                        pairs
                            .iter()
                            .find(|p| p.get(0).and_then(Value::as_str) == Some(tag))
                    })
                    .and_then(|p| p.get(1))
                    .and_then(Value::as_str)
                    .map_or_else(|| format!("<no-value-for-tag-{tag}>"), str::to_owned),
                None => format!("<unrecognized-variable-{other}>"),
            },
        }
    }

    fn canonical_message(&self) -> Option<&str> {
        get_str(self.event, &["logentry", "formatted"])
            .or_else(|| get_str(self.event, &["logentry", "message"]))
            .or_else(|| {
                values(self.event.get("exception"))
                    .last()
                    .and_then(|e| e.get("value"))
                    .and_then(Value::as_str)
                    .filter(|s| !s.is_empty())
            })
    }

    /// Sentry's `get_crash_frame_from_event_data`, with the in-app flags decided for grouping.
    pub(crate) fn crash_frame(&self) -> Option<&'a Map<String, Value>> {
        let event = self.event;
        let exceptions = values(event.get("exception"));
        let frames_of = |stacktrace: Option<&'a Value>| {
            stacktrace
                .and_then(|s| s.get("frames"))
                .and_then(Value::as_array)
                .filter(|f| !f.is_empty())
        };
        let (frames, id) = if let Some(frames) = exceptions
            .last()
            .and_then(|e| frames_of(e.get("stacktrace")))
        {
            (frames, StackId::Exception(exceptions.len() - 1))
        } else if let Some(frames) = frames_of(event.get("stacktrace")) {
            (frames, StackId::Top)
        } else {
            match values(event.get("threads")) {
                [only] => (frames_of(only.get("stacktrace"))?, StackId::Thread(0)),
                _ => return None,
            }
        };
        let decisions = self.prepared.stack(id);
        let mut fallback = None;
        for (index, frame) in frames.iter().enumerate().rev() {
            let Some(frame) = frame.as_object() else {
                continue;
            };
            if decisions.in_app(index, frame) == Some(true) {
                return Some(frame);
            }
            fallback.get_or_insert(frame);
        }
        fallback
    }

    /// Expands `{{ variable }}`s anywhere in a title template.
    pub(crate) fn expand_title(&self, template: &str) -> String {
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("{{") {
            let Some(len) = rest[start..].find("}}") else {
                break;
            };
            let end = start + len + 2;
            out.push_str(&rest[..start]);
            match variable_name(&rest[start..end]) {
                Some(name) => out.push_str(&self.variable(name)),
                None => out.push_str(&rest[start..end]),
            }
            rest = &rest[end..];
        }
        out.push_str(rest);
        out
    }
}
