//! The frozen `errhound:2026-11` grouping config: the first algorithm, kept byte for byte so
//! that projects created with it keep their hashes. Do not change how it hashes; improvements go
//! into a new config (see `strategies.rs`).
//!
//! Relative to the original code, only two things were threaded through, both without effect
//! when a project has no stack trace rules: in-app flags come from [`Prepared`] (which holds this
//! config's Rust panic rule, formerly applied to the event first), and project stack trace rules'
//! grouping actions (`-group`, `max-frames`, ...) are applied to frame components.

use serde_json::{Map, Value};

use super::component::{Component, Node, hash_from_values};
use super::message::normalize_message;
use super::prepare::{Prepared, StackDecisions, StackId};
use super::stack_rules::FrameDecision;
use super::{CONFIG_2026_11, Grouping, Variant, VariantKind};
use crate::value::{get_str, values};

/// Functions through which a Rust panic starts (not `std::panicking::catch_unwind`, which is
/// on every thread's stack below `main`).
const RUST_PANIC_ENTRY: &[&str] = &[
    "core::panicking::",
    "std::panicking::begin_panic",
    "std::panicking::rust_panic_with_hook",
    "std::panicking::panic_with_hook",
    "std::panicking::panic_handler",
    "core::result::unwrap_failed",
    "core::option::unwrap_failed",
    "core::option::expect_failed",
    "rust_begin_unwind",
    "__rustc::rust_begin_unwind",
];

/// The index of the first frame (frames are oldest first) that belongs to the panic machinery,
/// if any: it and every later frame are not the application's.
pub(crate) fn panic_machinery_start(frames: &[Value]) -> Option<usize> {
    frames.iter().position(|frame| {
        frame
            .get("function")
            .and_then(Value::as_str)
            .is_some_and(|f| RUST_PANIC_ENTRY.iter().any(|entry| f.starts_with(entry)))
    })
}

/// Platforms whose context lines are stable enough to hash (source is shipped with the app).
const CONTEXT_LINE_PLATFORMS: &[&str] = &["javascript", "node", "python", "php", "ruby"];
/// Context lines longer than this are minified or generated and do not contribute.
const MAX_CONTEXT_LINE_CHARS: usize = 120;

/// Which frames a stack-trace component may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum VariantScope {
    /// Only frames marked `in_app: true` contribute.
    App,
    /// Every frame contributes.
    System,
}

/// The frame component: module (or filename), function, context line; never line numbers.
fn frame_component(
    frame: &Map<String, Value>,
    platform: &str,
    scope: VariantScope,
    previous: Option<&Map<String, Value>>,
    in_app: bool,
) -> Component {
    let text = |key: &str| {
        frame
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let platform = text("platform").unwrap_or(platform);
    let abs_path = text("abs_path");
    let mut children = Vec::new();

    let module = text("module").and_then(|m| clean_module(m, platform, abs_path));
    if let Some(module) = &module {
        children.push(Component::leaf("module", module.clone()));
    }

    if let Some(filename) = text("filename").or(abs_path) {
        let basename = filename
            .rsplit(['/', '\\'])
            .next()
            .unwrap_or(filename)
            .to_lowercase();
        let mut component = Component::leaf("filename", basename);
        if module.is_some() {
            component.exclude("module takes precedence");
        } else if abs_path.is_some_and(is_url) || filename.starts_with("http") {
            component.exclude("ignored because frame points to a URL");
        } else if matches!(filename, "<anonymous>" | "[native code]" | "native code") {
            component.exclude("ignored because the file name is not real");
        }
        children.push(component);
    }

    let function = text("function").or(text("raw_function"));
    if let Some(function) = function {
        let mut component = Component::leaf("function", trim_function(function, platform));
        if is_ignored_function(function, platform) {
            component.exclude("ignored unknown or generated function");
        }
        children.push(component);
    }

    if CONTEXT_LINE_PLATFORMS.contains(&platform)
        && let Some(line) = text("context_line")
    {
        let mut component = Component::leaf("context-line", collapse_whitespace(line));
        if line.chars().count() > MAX_CONTEXT_LINE_CHARS {
            component.exclude("discarded because line too long");
        } else if abs_path.is_some_and(is_url) && function.is_none() {
            component.exclude("discarded because from URL origin");
        }
        children.push(component);
    }

    let mut component = Component::parent("frame", children);
    if scope == VariantScope::App && !in_app {
        component.exclude("non app frame");
    } else if previous.is_some_and(|p| is_recursion(frame, p)) {
        component.exclude("ignored due to recursion");
    }
    component
}

/// Sentry's `" ".join(line.split())`: runs of whitespace become one space, ends trimmed.
fn collapse_whitespace(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for word in line.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

fn is_url(path: &str) -> bool {
    path.starts_with("http://") || path.starts_with("https://") || path.starts_with("blob:")
}

/// A frame identical to the previous one is recursion and hashed once.
fn is_recursion(frame: &Map<String, Value>, previous: &Map<String, Value>) -> bool {
    [
        "abs_path", "package", "module", "filename", "function", "lineno", "colno",
    ]
    .iter()
    .all(|key| frame.get(*key) == previous.get(*key))
}

/// Module names that carry generated parts are reduced to their stable prefix.
fn clean_module(module: &str, platform: &str, abs_path: Option<&str>) -> Option<String> {
    match platform {
        // A JavaScript "module" that is really a URL fragment says nothing about the code.
        "javascript" | "node"
            if module.contains('/') && abs_path.is_some_and(|p| p.ends_with(module)) =>
        {
            None
        }
        "java" if module.contains("$$Lambda") => Some("<module>".to_owned()),
        _ => Some(module.to_owned()),
    }
}

/// Strips generated suffixes that change between builds.
fn trim_function(function: &str, platform: &str) -> String {
    let function = function.trim();
    // Rust legacy mangling leaves `::h<16 hex>` on demangled names.
    if let Some((head, hash)) = function.rsplit_once("::h")
        && hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        return head.to_owned();
    }
    if matches!(platform, "ruby") && function.starts_with("block ") {
        return "block".to_owned();
    }
    function.to_owned()
}

fn is_ignored_function(function: &str, platform: &str) -> bool {
    match platform {
        "java" => function.starts_with("lambda$"),
        "javascript" | "node" => matches!(
            function,
            "?" | "<anonymous>" | "<anonymous function>" | "Anonymous function"
        ),
        "native" | "cocoa" | "objc" => matches!(function, "<redacted>" | "<unknown>"),
        _ => false,
    }
}

/// The stack-trace component for one variant.
fn stacktrace_component(
    stacktrace: &Value,
    platform: &str,
    scope: VariantScope,
    decisions: &StackDecisions<'_>,
) -> Option<Component> {
    let frames = stacktrace.get("frames")?.as_array()?;
    let panic_start = panic_machinery_start(frames).unwrap_or(frames.len());
    let mut children = Vec::with_capacity(frames.len());
    let mut previous: Option<&Map<String, Value>> = None;
    for (index, frame) in frames.iter().enumerate() {
        let Some(frame) = frame.as_object() else {
            continue;
        };
        let in_app = decisions.in_app(index, frame) == Some(true);
        let mut component = frame_component(frame, platform, scope, previous, in_app);
        if index >= panic_start {
            component.exclude("ignored because it is part of the panic machinery");
        }
        // Project stack trace rules (absent when a project has none, leaving this unchanged).
        if let Some(decision) = decisions.decision(index) {
            apply_group_rule(
                &mut component,
                decision,
                scope == VariantScope::App && !in_app,
            );
        }
        children.push(component);
        previous = Some(frame);
    }
    apply_stack_vars(&mut children, decisions);
    let mut component = Component::parent("stacktrace", children);
    if !component.contributes {
        match scope {
            VariantScope::App => component.exclude("ignored because it contains no in-app frames"),
            VariantScope::System => component.exclude("ignored because no frame contributes"),
        }
    }
    Some(component)
}

fn exception_component(
    exception: &Value,
    platform: &str,
    scope: VariantScope,
    decisions: &StackDecisions<'_>,
) -> Component {
    let mut children = Vec::new();
    let stacktrace = exception
        .get("stacktrace")
        .and_then(|s| stacktrace_component(s, platform, scope, decisions));
    let stack_contributes = stacktrace.as_ref().is_some_and(|s| s.contributes);
    if let Some(stacktrace) = stacktrace {
        children.push(stacktrace);
    }
    if let Some(ty) = exception.get("type").and_then(Value::as_str) {
        let mut component = Component::leaf("type", ty);
        let synthetic = exception
            .get("mechanism")
            .and_then(|m| m.get("synthetic"))
            .and_then(Value::as_bool)
            == Some(true);
        if synthetic {
            component.exclude("ignored because exception is synthetic");
        }
        children.push(component);
    }
    if let Some(value) = exception.get("value").and_then(Value::as_str) {
        // Stripping parameters costs a regex pass; only do it when the value is hashed.
        let component = if stack_contributes {
            let mut component = Component::leaf("value", value);
            component.exclude("ignored because stack trace takes precedence");
            component
        } else {
            Component::leaf("value", normalize_message(value))
        };
        children.push(component);
    }
    Component::parent("exception", children)
}

/// One component per variant; `None` when the strategy does not apply to the event.
struct StrategyResult {
    /// `(variant name, component)` pairs.
    variants: Vec<(&'static str, Component)>,
}

impl StrategyResult {
    fn contributes(&self) -> bool {
        self.variants.iter().any(|(_, c)| c.contributes)
    }
}

fn app_and_system(build: impl Fn(VariantScope) -> Component) -> StrategyResult {
    let mut app = build(VariantScope::App);
    // An app variant without any in-app frame would hash only type and value, and merge
    // unrelated library crashes; it steps aside for the system variant.
    if app.contributes && !has_contributing_frame(&app) {
        app.exclude("ignored because it contains no in-app frames");
    }
    let system = build(VariantScope::System);
    StrategyResult {
        variants: vec![("app", app), ("system", system)],
    }
}

fn has_contributing_frame(component: &Component) -> bool {
    component.contributes
        && (component.id == "frame"
            || component.values.iter().any(|node| match node {
                Node::Component(child) => has_contributing_frame(child),
                Node::Value(_) => false,
            }))
}

/// `chained-exception`: every exception of the chain, cause first, in the event's order.
fn exception_strategy(
    event: &Value,
    platform: &str,
    prepared: &Prepared<'_>,
) -> Option<StrategyResult> {
    let exceptions = values(event.get("exception"));
    if exceptions.is_empty() {
        return None;
    }
    Some(app_and_system(|scope| {
        let mut components: Vec<Component> = exceptions
            .iter()
            .enumerate()
            .map(|(i, e)| {
                exception_component(e, platform, scope, prepared.stack(StackId::Exception(i)))
            })
            .collect();
        if components.len() == 1 {
            components.remove(0)
        } else {
            Component::parent("chained-exception", components)
        }
    }))
}

/// `threads`: used when exactly one thread has a stack trace, or one is marked crashed.
fn threads_strategy(
    event: &Value,
    platform: &str,
    prepared: &Prepared<'_>,
) -> Option<StrategyResult> {
    let threads = values(event.get("threads"));
    let with_stack: Vec<(usize, &Value)> = threads
        .iter()
        .enumerate()
        .filter(|(_, t)| t.get("stacktrace").is_some())
        .collect();
    let (index, thread) = match with_stack.as_slice() {
        [only] => *only,
        several => *several
            .iter()
            .find(|(_, t)| t.get("crashed").and_then(Value::as_bool) == Some(true))?,
    };
    let stacktrace = thread.get("stacktrace")?;
    let decisions = prepared.stack(StackId::Thread(index));
    Some(app_and_system(|scope| {
        let children = stacktrace_component(stacktrace, platform, scope, decisions)
            .into_iter()
            .collect();
        Component::parent("threads", children)
    }))
}

/// A stack trace at the top level of the event (old SDKs, `attach_stacktrace` messages).
fn stacktrace_strategy(
    event: &Value,
    platform: &str,
    prepared: &Prepared<'_>,
) -> Option<StrategyResult> {
    let stacktrace = event.get("stacktrace")?;
    let decisions = prepared.stack(StackId::Top);
    stacktrace_component(stacktrace, platform, VariantScope::System, decisions)?;
    Some(app_and_system(|scope| {
        stacktrace_component(stacktrace, platform, scope, decisions)
            .unwrap_or_else(|| Component::parent("stacktrace", vec![]))
    }))
}

/// `message`: the log template (preferred over the formatted text), parameters stripped.
fn message_strategy(event: &Value) -> Option<StrategyResult> {
    let logentry = event.get("logentry")?;
    let message = logentry
        .get("message")
        .and_then(Value::as_str)
        .or_else(|| logentry.get("formatted").and_then(Value::as_str))
        .filter(|m| !m.trim().is_empty())?;
    let component = Component::parent(
        "message",
        vec![Component::leaf("message", normalize_message(message))],
    );
    Some(StrategyResult {
        variants: vec![("default", component)],
    })
}

/// A project rule's `+group`/`-group` on a frame; a frame outside the app variant stays out.
fn apply_group_rule(component: &mut Component, decision: &FrameDecision<'_>, outside_app: bool) {
    if let Some((flag, rule)) = decision.group
        && flag != component.contributes
        && !outside_app
    {
        component.contributes = flag;
        let verb = if flag { "un-ignored" } else { "ignored" };
        component.hint = Some(format!("{verb} by stack trace rule ({})", rule.text).into());
    }
}

/// `max-frames` and `min-frames` of project rules.
fn apply_stack_vars(children: &mut [Component], decisions: &StackDecisions<'_>) {
    if let Some((max, rule)) = decisions.vars.max_frames {
        let mut kept = 0;
        for component in children.iter_mut().rev().filter(|c| c.contributes) {
            kept += 1;
            if kept > max {
                component.exclude(format!(
                    "ignored because only {max} frames are considered by stack trace rule ({})",
                    rule.text
                ));
            }
        }
    }
    if let Some((min, rule)) = decisions.vars.min_frames {
        let contributing = children.iter().filter(|c| c.contributes).count();
        if contributing > 0 && contributing < min {
            for component in children.iter_mut().filter(|c| c.contributes) {
                component.exclude(format!(
                    "discarded because the stack trace has fewer than {min} frames (stack trace rule ({}))",
                    rule.text
                ));
            }
        }
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

/// Groups a normalized event with `errhound:2026-11`. `prepared` carries the project's stack
/// trace rules and this config's Rust panic rule.
pub(crate) fn group(event: &Value, prepared: &Prepared<'_>) -> Grouping {
    let platform = get_str(event, &["platform"]).unwrap_or("other");
    let strategies = [
        exception_strategy(event, platform, prepared),
        threads_strategy(event, platform, prepared),
        stacktrace_strategy(event, platform, prepared),
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
                    matched_rule: None,
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
                matched_rule: None,
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
            matched_rule: None,
        });
    }
    Grouping {
        config: CONFIG_2026_11,
        variants,
        hashes,
        secondary_hashes: Vec::new(),
        secondary_config: None,
        main_exception_id: None,
    }
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
            matched_rule: None,
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
pub(crate) fn crash_frame(event: &Value) -> Option<&Value> {
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
mod tests {
    use serde_json::json;

    use super::*;
    use crate::grouping::stack_rules::InAppSource;

    #[test]
    fn rust_hash_suffix_is_trimmed() {
        assert_eq!(
            trim_function("myapp::handler::h0123456789abcdef", "native"),
            "myapp::handler"
        );
        assert_eq!(trim_function("myapp::handler", "native"), "myapp::handler");
    }

    #[test]
    fn frame_uses_module_over_filename_and_never_line_numbers() {
        let frame = json!({"module": "shopapp.auth", "filename": "shopapp/auth.py", "function": "verify", "lineno": 15, "context_line": "  return x  "});
        let c = frame_component(
            frame.as_object().unwrap(),
            "python",
            VariantScope::System,
            None,
            false,
        );
        assert_eq!(
            c.contributing_values(),
            vec!["shopapp.auth", "verify", "return x"]
        );
        let moved = json!({"module": "shopapp.auth", "filename": "shopapp/auth.py", "function": "verify", "lineno": 99, "context_line": "return x"});
        let c2 = frame_component(
            moved.as_object().unwrap(),
            "python",
            VariantScope::System,
            None,
            false,
        );
        assert_eq!(c.hash(), c2.hash());
    }

    #[test]
    fn context_lines_only_on_source_platforms() {
        let frame =
            json!({"function": "main", "filename": "main.go", "context_line": "panic(err)"});
        let c = frame_component(
            frame.as_object().unwrap(),
            "go",
            VariantScope::System,
            None,
            false,
        );
        assert_eq!(c.contributing_values(), vec!["main.go", "main"]);
    }

    #[test]
    fn app_variant_ignores_library_frames() {
        let st = json!({"frames": [
            {"module": "lib", "function": "helper"},
            {"module": "app", "function": "view", "in_app": true}
        ]});
        let decisions = StackDecisions {
            frames: vec![
                FrameDecision {
                    in_app: None,
                    in_app_source: InAppSource::Sdk,
                    group: None,
                },
                FrameDecision {
                    in_app: Some(true),
                    in_app_source: InAppSource::Sdk,
                    group: None,
                },
            ],
            vars: Default::default(),
        };
        let app = stacktrace_component(&st, "python", VariantScope::App, &decisions).unwrap();
        assert_eq!(app.contributing_values(), vec!["app", "view"]);
        let system = stacktrace_component(&st, "python", VariantScope::System, &decisions).unwrap();
        assert_eq!(
            system.contributing_values(),
            vec!["lib", "helper", "app", "view"]
        );
    }
}
