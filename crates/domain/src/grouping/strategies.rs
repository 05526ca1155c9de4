//! Grouping strategies (Sentry's newstyle `frame`, `stacktrace`, `single-exception`,
//! `chained-exception`, `threads` and `message`), each producing a component per variant.

use serde_json::{Map, Value};

use super::component::{Component, Node};
use super::message::normalize_message;
use crate::value::values;

/// Platforms whose context lines are stable enough to hash (source is shipped with the app).
const CONTEXT_LINE_PLATFORMS: &[&str] = &["javascript", "node", "python", "php", "ruby"];
/// Context lines longer than this are minified or generated and do not contribute.
const MAX_CONTEXT_LINE_CHARS: usize = 120;

/// Which frames a stack-trace component may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariantScope {
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
    let in_app = frame.get("in_app").and_then(Value::as_bool) == Some(true);
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
pub fn stacktrace_component(
    stacktrace: &Value,
    platform: &str,
    scope: VariantScope,
) -> Option<Component> {
    let frames = stacktrace.get("frames")?.as_array()?;
    let panic_start = crate::frames::panic_machinery_start(frames).unwrap_or(frames.len());
    let mut children = Vec::with_capacity(frames.len());
    let mut previous: Option<&Map<String, Value>> = None;
    for (index, frame) in frames.iter().enumerate() {
        let Some(frame) = frame.as_object() else {
            continue;
        };
        let mut component = frame_component(frame, platform, scope, previous);
        if index >= panic_start {
            component.exclude("ignored because it is part of the panic machinery");
        }
        children.push(component);
        previous = Some(frame);
    }
    let mut component = Component::parent("stacktrace", children);
    if !component.contributes {
        match scope {
            VariantScope::App => component.exclude("ignored because it contains no in-app frames"),
            VariantScope::System => component.exclude("ignored because no frame contributes"),
        }
    }
    Some(component)
}

fn exception_component(exception: &Value, platform: &str, scope: VariantScope) -> Component {
    let mut children = Vec::new();
    let stacktrace = exception
        .get("stacktrace")
        .and_then(|s| stacktrace_component(s, platform, scope));
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
pub struct StrategyResult {
    /// `(variant name, component)` pairs.
    pub variants: Vec<(&'static str, Component)>,
}

impl StrategyResult {
    pub(super) fn contributes(&self) -> bool {
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
pub fn exception_strategy(event: &Value, platform: &str) -> Option<StrategyResult> {
    let exceptions = values(event.get("exception"));
    if exceptions.is_empty() {
        return None;
    }
    Some(app_and_system(|scope| {
        let mut components: Vec<Component> = exceptions
            .iter()
            .map(|e| exception_component(e, platform, scope))
            .collect();
        if components.len() == 1 {
            components.remove(0)
        } else {
            Component::parent("chained-exception", components)
        }
    }))
}

/// `threads`: used when exactly one thread has a stack trace, or one is marked crashed.
pub fn threads_strategy(event: &Value, platform: &str) -> Option<StrategyResult> {
    let threads = values(event.get("threads"));
    let with_stack: Vec<&Value> = threads
        .iter()
        .filter(|t| t.get("stacktrace").is_some())
        .collect();
    let thread = match with_stack.as_slice() {
        [only] => *only,
        several => *several
            .iter()
            .find(|t| t.get("crashed").and_then(Value::as_bool) == Some(true))?,
    };
    let stacktrace = thread.get("stacktrace")?;
    Some(app_and_system(|scope| {
        let children = stacktrace_component(stacktrace, platform, scope)
            .into_iter()
            .collect();
        Component::parent("threads", children)
    }))
}

/// A stack trace at the top level of the event (old SDKs, `attach_stacktrace` messages).
pub fn stacktrace_strategy(event: &Value, platform: &str) -> Option<StrategyResult> {
    let stacktrace = event.get("stacktrace")?;
    stacktrace_component(stacktrace, platform, VariantScope::System)?;
    Some(app_and_system(|scope| {
        stacktrace_component(stacktrace, platform, scope)
            .unwrap_or_else(|| Component::parent("stacktrace", vec![]))
    }))
}

/// `message`: the log template (preferred over the formatted text), parameters stripped.
pub fn message_strategy(event: &Value) -> Option<StrategyResult> {
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

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

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
        );
        assert_eq!(c.hash(), c2.hash());
    }

    #[test]
    fn context_lines_only_on_source_platforms() {
        let frame =
            json!({"function": "main", "filename": "main.go", "context_line": "panic(err)"});
        let c = frame_component(frame.as_object().unwrap(), "go", VariantScope::System, None);
        assert_eq!(c.contributing_values(), vec!["main.go", "main"]);
    }

    #[test]
    fn app_variant_ignores_library_frames() {
        let st = json!({"frames": [
            {"module": "lib", "function": "helper"},
            {"module": "app", "function": "view", "in_app": true}
        ]});
        let app = stacktrace_component(&st, "python", VariantScope::App).unwrap();
        assert_eq!(app.contributing_values(), vec!["app", "view"]);
        let system = stacktrace_component(&st, "python", VariantScope::System).unwrap();
        assert_eq!(
            system.contributing_values(),
            vec!["lib", "helper", "app", "view"]
        );
    }
}
