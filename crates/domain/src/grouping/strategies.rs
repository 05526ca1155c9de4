//! The `errhound:2026-11-25` grouping algorithm: Sentry's newstyle strategies (as of its
//! `newstyle:2025` config: exception values before stack traces, exception groups, crashed
//! threads, fixed JavaScript single-frame rule) with Errhound's per-platform frame normalization
//! (`platform.rs`), parameterization (`parameterization.rs`), stack trace rules and in-app
//! detection (`prepare.rs`).
//!
//! Strategies run in precedence order (checksum, chained exception, threads, stack trace, CSP
//! report, message); the first whose component contributes wins. Stack-based strategies produce
//! an `app` variant (in-app frames only) and a `system` variant (all frames); a variant without a
//! contributing stack trace steps aside when the other has one (Sentry's
//! `remove_non_stacktrace_variants`).

use std::borrow::Cow;

use serde_json::{Map, Value};

use super::component::{Component, Node, hash_from_values};
use super::fingerprint::{self, FingerprintSource};
use super::parameterization::normalize_message;
use super::platform::{
    CONTEXT_LINE_PLATFORMS, Family, FrameFields, MAX_CONTEXT_LINE_CHARS, clean_filename,
    clean_function, clean_module, has_url_origin,
};
use super::prepare::{Prepared, StackDecisions, StackId};
use super::stack_rules::{FrameDecision, InAppSource};
use super::{CONFIG_2026_11_25, Grouping, Variant, VariantKind};
use crate::value::{get_str, values};

/// Fields that must be equal between two frames for the second to be recursion.
const RECURSION_FIELDS: &[&str] = &[
    "abs_path", "package", "module", "filename", "function", "lineno", "colno",
];

/// Groups a normalized event with `errhound:2026-11-25`.
pub(crate) fn group(
    event: &Value,
    prepared: &Prepared<'_>,
    source: FingerprintSource<'_>,
) -> Grouping {
    if let Some(grouping) = checksum(event) {
        return grouping;
    }
    let platform = get_str(event, &["platform"]).unwrap_or("other");
    let mut result = exception_strategy(event, platform, prepared);
    if !result.as_ref().is_some_and(StrategyResult::contributes) {
        result = threads_strategy(event, platform, prepared).or(result);
    }
    if !result.as_ref().is_some_and(StrategyResult::contributes) {
        result = stacktrace_strategy(event, platform, prepared).or(result);
    }
    if !result.as_ref().is_some_and(StrategyResult::contributes) {
        result = csp_strategy(event).or(result);
    }
    if !result.as_ref().is_some_and(StrategyResult::contributes) {
        result = message_strategy(event).or(result);
    }
    let main_exception_id = result.as_ref().and_then(|r| r.main_exception_id);
    let component_variants: Vec<Variant> = result
        .map(|r| {
            r.variants
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
    let variants = fingerprint::apply(event, prepared, source, component_variants);
    let mut grouping = Grouping::from_variants(CONFIG_2026_11_25, variants);
    grouping.main_exception_id = main_exception_id;
    grouping
}

/// Sentry's checksum: a 32-hex `checksum` is the hash; anything else is hashed.
fn checksum(event: &Value) -> Option<Grouping> {
    let checksum = get_str(event, &["checksum"])?;
    let is_hash = checksum.len() == 32
        && checksum
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let (name, kind, hash) = if is_hash {
        ("checksum", VariantKind::Checksum, checksum.to_owned())
    } else {
        (
            "hashed-checksum",
            VariantKind::HashedChecksum,
            hash_from_values([checksum]),
        )
    };
    let variant = Variant {
        name,
        kind,
        hash: Some(hash),
        component: None,
        fingerprint: vec![checksum.to_owned()],
        matched_rule: None,
    };
    Some(Grouping::from_variants(CONFIG_2026_11_25, vec![variant]))
}

/// A strategy's components by variant name.
struct StrategyResult {
    variants: Vec<(&'static str, Component)>,
    /// The exception that names an exception group's issue.
    main_exception_id: Option<i64>,
}

impl StrategyResult {
    fn contributes(&self) -> bool {
        self.variants.iter().any(|(_, c)| c.contributes)
    }

    /// Sentry's `remove_non_stacktrace_variants`: when some variant has a contributing stack
    /// trace, variants without one do not contribute (an `app` variant without in-app frames
    /// would otherwise hash only the exception type and value).
    fn remove_non_stacktrace_variants(mut self) -> StrategyResult {
        let with_stack: Vec<bool> = self
            .variants
            .iter()
            .map(|(_, c)| has_contributing_stacktrace(c))
            .collect();
        if let Some(winner) = self
            .variants
            .iter()
            .zip(&with_stack)
            .find(|(_, has)| **has)
            .map(|((name, _), _)| *name)
        {
            for ((_, component), has) in self.variants.iter_mut().zip(&with_stack) {
                if !has && component.contributes {
                    component.exclude(format!(
                        "ignored because this variant does not have a contributing stacktrace, but the {winner} variant does"
                    ));
                }
            }
        }
        self
    }
}

fn has_contributing_stacktrace(component: &Component) -> bool {
    component.contributes
        && (component.id == "stacktrace"
            || component.values.iter().any(|node| match node {
                Node::Component(child) => has_contributing_stacktrace(child),
                Node::Value(_) => false,
            }))
}

// --- frames and stack traces ---------------------------------------------------------------------

/// One frame's component, before variant-specific exclusions.
fn frame_component(f: &FrameFields<'_>) -> Component {
    let mut children = Vec::with_capacity(4);
    let module = clean_module(f).map(|c| cleaned("module", c));
    let mut filename = clean_filename(f).map(|c| cleaned("filename", c));
    if let (Some(module), Some(filename)) = (&module, &mut filename)
        && module.contributes
        && filename.contributes
    {
        filename.exclude("ignored because module takes precedence");
    }
    let family = f.family();
    let context_line = match f.context_line {
        Some(line) if CONTEXT_LINE_PLATFORMS.contains(&f.platform) => {
            let mut component = Component::leaf("context-line", context_line_value(f, line));
            if line.chars().count() > MAX_CONTEXT_LINE_CHARS {
                component.exclude("ignored because line is too long");
            } else if family == Family::JavaScript
                && f.function.is_none()
                && has_url_origin(f.abs_path, true)
            {
                component
                    .exclude("ignored because file path is a URL and function name is missing");
            }
            (!component.values.is_empty()).then_some(component)
        }
        _ => None,
    };
    let mut function = clean_function(f).map(|c| cleaned("function", c));
    children.extend(module);
    children.extend(filename);
    if let Some(function) = &mut function
        && family == Family::JavaScript
        && f.sourcemap_used
        && !context_line.as_ref().is_some_and(|c| c.contributes)
        && function.hint.as_deref()
            == Some("ignored because sourcemap used and context line available")
    {
        // The context line that would replace the function name does not count.
        function.contributes = true;
        function.hint = None;
    }
    children.extend(function);
    children.extend(context_line);
    let mut frame = Component::parent("frame", children);
    if family == Family::JavaScript {
        // Whole frames that are only noise: `eval` and engine-internal code.
        let func = f
            .raw_function
            .or(f.function)
            .map(|n| n.rsplit('.').next().unwrap_or(n));
        if func == Some("eval")
            || matches!(
                f.abs_path,
                Some("[native code]" | "native code" | "eval code" | "<anonymous>")
            )
        {
            frame.exclude("ignored low quality javascript frame");
        }
    }
    frame
}

fn cleaned(id: &'static str, c: super::platform::Cleaned<'_>) -> Component {
    let mut component = Component::leaf(id, c.value.into_owned());
    component.contributes = c.contributes;
    component.hint = c.hint.map(Cow::Borrowed);
    component
}

/// Runs of whitespace become one space (Sentry's `" ".join(line.split())`). CPython's
/// multiprocessing bootstrap line carries per-process numbers; they are parameterized.
fn context_line_value(f: &FrameFields<'_>, line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    for word in line.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    if f.platform == "python"
        && f.module == Some("__main__")
        && f.filename == Some("<string>")
        && f.function == Some("<module>")
        && out.starts_with("from multiprocessing.spawn import spawn_main; spawn_main(")
    {
        let mut parameterized = String::with_capacity(out.len());
        let mut chars = out.chars().peekable();
        while let Some(c) = chars.next() {
            parameterized.push(c);
            if c == '=' && chars.peek().is_some_and(char::is_ascii_digit) {
                while chars.peek().is_some_and(char::is_ascii_digit) {
                    chars.next();
                }
                parameterized.push_str("<int>");
            }
        }
        return parameterized;
    }
    out
}

fn is_recursion(frame: &Map<String, Value>, previous: &Map<String, Value>) -> bool {
    RECURSION_FIELDS
        .iter()
        .all(|key| frame.get(*key) == previous.get(*key))
}

/// Hints about how a frame's in-app flag was decided, for the explanation.
fn in_app_hint(decision: &FrameDecision<'_>) -> Option<String> {
    let flag = |in_app: Option<bool>| {
        if in_app == Some(true) {
            "in-app"
        } else {
            "out of app"
        }
    };
    match decision.in_app_source {
        InAppSource::Sdk => None,
        InAppSource::Rule(rule) => Some(format!(
            "marked {} by stack trace rule ({})",
            flag(decision.in_app),
            rule.text
        )),
        InAppSource::Detection(reason) => Some(format!(
            "marked {} by in-app detection ({reason})",
            flag(decision.in_app)
        )),
        InAppSource::Builtin(what) => Some(format!("marked {} as {what}", flag(decision.in_app))),
    }
}

/// The `app` and `system` stack trace components.
fn stacktrace_components(
    stacktrace: &Value,
    platform: &str,
    decisions: &StackDecisions<'_>,
) -> (Component, Component) {
    let frames: &[Value] = stacktrace
        .get("frames")
        .and_then(Value::as_array)
        .map_or(&[], Vec::as_slice);
    let mut app_children = Vec::with_capacity(frames.len());
    let mut system_children = Vec::with_capacity(frames.len());
    let mut previous: Option<&Map<String, Value>> = None;
    let mut in_app_frames = 0;
    for (index, frame) in frames.iter().enumerate() {
        let Some(frame) = frame.as_object() else {
            continue;
        };
        let fields = FrameFields::read(frame, platform);
        let mut system = frame_component(&fields);
        if previous.is_some_and(|p| is_recursion(frame, p)) {
            system.exclude("ignored due to recursion");
        }
        let in_app = decisions.in_app(index, frame) == Some(true);
        let decision = decisions.decision(index);
        if let Some(hint) = decision.and_then(in_app_hint)
            && system.hint.is_none()
        {
            system.hint = Some(hint.into());
        }
        if let Some((flag, rule)) = decision.and_then(|d| d.group)
            && flag != system.contributes
        {
            system.contributes = flag;
            let verb = if flag { "un-ignored" } else { "ignored" };
            system.hint = Some(format!("{verb} by stack trace rule ({})", rule.text).into());
        }
        let mut app = system.clone();
        if in_app {
            in_app_frames += 1;
        } else {
            app.contributes = false;
            if app.hint.is_none() {
                app.hint = Some(Cow::Borrowed("ignored because the frame is not in-app"));
            }
        }
        app_children.push(app);
        system_children.push(system);
        previous = Some(frame);
    }
    // A lone JavaScript frame without a function, from a URL, is too weak to group on.
    if let ([only], [object]) = (system_children.as_mut_slice(), frames)
        && let Some(frame) = object.as_object()
    {
        let fields = FrameFields::read(frame, platform);
        if only.contributes
            && fields.family() == Family::JavaScript
            && fields.function.is_none()
            && has_url_origin(fields.abs_path, true)
        {
            only.exclude("ignored single frame without function from a URL");
            if let Some(app) = app_children.first_mut() {
                app.exclude("ignored single frame without function from a URL");
            }
        }
    }
    for children in [&mut app_children, &mut system_children] {
        apply_stack_vars(children, decisions);
    }
    let mut app = Component::parent("stacktrace", app_children);
    let mut system = Component::parent("stacktrace", system_children);
    if frames.is_empty() {
        app.exclude("ignored because it contains no frames");
        system.exclude("ignored because it contains no frames");
    } else {
        if !system.contributes {
            system.exclude("ignored because it contains no contributing frames");
        }
        if in_app_frames == 0 {
            app.exclude("ignored because it contains no in-app frames");
        } else if !app.contributes {
            app.exclude("ignored because it contains no contributing frames");
        }
    }
    (app, system)
}

/// `max-frames`: only the N contributing frames closest to the crash; `min-frames`: a stack
/// trace with fewer contributing frames does not group.
fn apply_stack_vars(children: &mut [Component], decisions: &StackDecisions<'_>) {
    if let Some((max, rule)) = decisions.vars.max_frames {
        let mut kept = 0;
        for component in children.iter_mut().rev().filter(|c| c.contributes) {
            kept += 1;
            if kept > max {
                component.exclude(format!(
                    "ignored because only {max} frames are considered (stack trace rule ({}))",
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
                    "discarded because the stack trace has fewer than {min} contributing frames (stack trace rule ({}))",
                    rule.text
                ));
            }
        }
    }
}

// --- exceptions ----------------------------------------------------------------------------------

/// `[type, value, ns-error, stacktrace]` for the `app` and `system` variants.
fn exception_components(
    exception: &Value,
    platform: &str,
    decisions: &StackDecisions<'_>,
) -> (Component, Component) {
    let (app_stack, system_stack) = match exception.get("stacktrace") {
        Some(stacktrace) => stacktrace_components(stacktrace, platform, decisions),
        None => {
            let mut empty = Component::parent("stacktrace", Vec::new());
            empty.exclude("ignored because there is no stack trace");
            (empty.clone(), empty)
        }
    };
    let mechanism = exception.get("mechanism");
    let ty = exception
        .get("type")
        .and_then(Value::as_str)
        .filter(|t| !t.is_empty())
        .map(|ty| {
            let mut component = Component::leaf("type", ty);
            if mechanism
                .and_then(|m| m.get("synthetic"))
                .and_then(Value::as_bool)
                == Some(true)
            {
                component.exclude("ignored because exception is synthetic");
            }
            component
        });
    let ns_error = mechanism
        .and_then(|m| m.get("meta"))
        .and_then(|m| m.get("ns_error"))
        .and_then(Value::as_object)
        .map(|ns| {
            let text = |v: Option<&Value>| match v {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => String::new(),
            };
            Component::parent(
                "ns-error",
                vec![
                    Component::leaf("domain", text(ns.get("domain"))),
                    Component::leaf("code", text(ns.get("code"))),
                ],
            )
        });
    let raw_value = exception
        .get("value")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty());
    let build = |stack: Component| {
        let mut children = Vec::with_capacity(4);
        children.extend(ty.clone());
        if let Some(raw) = raw_value {
            let component = if stack.contributes {
                // Parameterizing costs a regex pass: only done when the value is hashed.
                let mut c = Component::leaf("value", raw);
                c.exclude("ignored because stacktrace takes precedence");
                c
            } else if ns_error.as_ref().is_some_and(|n| n.contributes) {
                let mut c = Component::leaf("value", raw);
                c.exclude("ignored because ns-error info takes precedence");
                c
            } else {
                let normalized = normalize_message(raw);
                let changed = normalized != raw;
                let c = Component::leaf("value", normalized);
                if changed {
                    c.with_hint("stripped event-specific values")
                } else {
                    c
                }
            };
            children.push(component);
        }
        children.extend(ns_error.clone());
        children.push(stack);
        Component::parent("exception", children)
    };
    (build(app_stack), build(system_stack))
}

/// `chained-exception`: every exception in the event's order (causes first), after Sentry's
/// exception-group filter.
fn exception_strategy(
    event: &Value,
    platform: &str,
    prepared: &Prepared<'_>,
) -> Option<StrategyResult> {
    let exceptions = values(event.get("exception"));
    if exceptions.is_empty() {
        return None;
    }
    let components: Vec<(Component, Component)> = exceptions
        .iter()
        .enumerate()
        .map(|(i, e)| exception_components(e, platform, prepared.stack(StackId::Exception(i))))
        .collect();
    let (chosen, main_exception_id) = filter_exception_groups(exceptions, &components);
    let mut components: Vec<Option<(Component, Component)>> =
        components.into_iter().map(Some).collect();
    let mut take = |i: usize| components.get_mut(i).and_then(Option::take);
    let (app, system) = match chosen.as_slice() {
        [only] => take(*only)?,
        _ => {
            let (app, system): (Vec<Component>, Vec<Component>) =
                chosen.iter().filter_map(|&i| take(i)).unzip();
            (
                Component::parent("chained-exception", app),
                Component::parent("chained-exception", system),
            )
        }
    };
    Some(
        StrategyResult {
            variants: vec![("app", app), ("system", system)],
            main_exception_id,
        }
        .remove_non_stacktrace_variants(),
    )
}

/// The exceptions' tree from `mechanism.exception_id`/`parent_id`, if every exception has a
/// distinct id and none is its own parent.
struct ExceptionTree {
    /// Exception id per position.
    ids: Vec<i64>,
    /// Parent id per position.
    parents: Vec<Option<i64>>,
    groups: Vec<bool>,
}

impl ExceptionTree {
    fn build(exceptions: &[Value]) -> Option<ExceptionTree> {
        if exceptions.len() < 2 {
            return None;
        }
        let mut ids = Vec::with_capacity(exceptions.len());
        let mut parents = Vec::with_capacity(exceptions.len());
        let mut groups = Vec::with_capacity(exceptions.len());
        for exception in exceptions {
            let mechanism = exception.get("mechanism")?;
            let id = mechanism.get("exception_id")?.as_i64()?;
            let parent = mechanism.get("parent_id").and_then(Value::as_i64);
            if parent == Some(id) || ids.contains(&id) {
                return None;
            }
            ids.push(id);
            parents.push(parent);
            groups.push(mechanism.get("is_exception_group").and_then(Value::as_bool) == Some(true));
        }
        Some(ExceptionTree {
            ids,
            parents,
            groups,
        })
    }

    fn position(&self, id: i64) -> Option<usize> {
        self.ids.iter().position(|&i| i == id)
    }

    fn children(&self, position: usize) -> impl Iterator<Item = usize> + '_ {
        let id = self.ids[position];
        // Sentry walks the list from the end; children appear in that order.
        (0..self.ids.len())
            .rev()
            .filter(move |&i| self.parents[i] == Some(id))
    }

    /// The direct descendants of groups that are not groups themselves, from the root (id 0).
    fn top_level(&self, exceptions: &[Value]) -> Option<Vec<usize>> {
        let root = self.position(0)?;
        let mut out = Vec::new();
        let mut stack = vec![root];
        let mut visited = 0;
        while let Some(position) = stack.pop() {
            visited += 1;
            if visited > self.ids.len() {
                // A cycle: the tree is broken.
                return None;
            }
            if self.groups[position] {
                let children: Vec<usize> = self.children(position).collect();
                stack.extend(children.into_iter().rev());
            } else {
                out.push(position);
            }
        }
        // Sorted by type, descending, as Sentry does for a stable order.
        let ty = |i: usize| {
            exceptions[i]
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
        };
        out.sort_by(|a, b| ty(*b).cmp(ty(*a)));
        (!out.is_empty()).then_some(out)
    }

    /// The exception and its first children down to a leaf.
    fn first_path(&self, mut position: usize) -> Vec<usize> {
        let mut path = vec![position];
        while let Some(child) = self.children(position).next() {
            if path.contains(&child) {
                break;
            }
            path.push(child);
            position = child;
        }
        path
    }
}

/// Sentry's exception-group rule (RFC 79): group by the distinct top-level exceptions, not by the
/// wrapper groups; one distinct exception groups alone with its first children, and names the
/// issue (its `exception_id` is returned).
fn filter_exception_groups(
    exceptions: &[Value],
    components: &[(Component, Component)],
) -> (Vec<usize>, Option<i64>) {
    let all: Vec<usize> = (0..exceptions.len()).collect();
    let Some(tree) = ExceptionTree::build(exceptions) else {
        return (all, None);
    };
    let Some(top) = tree.top_level(exceptions) else {
        return (all, None);
    };
    // Distinct by what they hash to (the system variant's values).
    let mut seen: Vec<Option<String>> = Vec::new();
    let mut distinct = Vec::new();
    for i in top {
        let key = components[i].1.hash();
        if !seen.contains(&key) {
            seen.push(key);
            distinct.push(i);
        }
    }
    if let [only] = distinct.as_slice() {
        return (tree.first_path(*only), tree.ids.get(*only).copied());
    }
    if let Some(root) = tree.position(0) {
        distinct.push(root);
    }
    (distinct, None)
}

// --- threads, stack traces, CSP, messages ----------------------------------------------------------

/// `threads`: the crashed thread, else the current one, else the only one.
fn threads_strategy(
    event: &Value,
    platform: &str,
    prepared: &Prepared<'_>,
) -> Option<StrategyResult> {
    let threads = values(event.get("threads"));
    if threads.is_empty() {
        return None;
    }
    let flagged = |flag: &str| -> Vec<usize> {
        threads
            .iter()
            .enumerate()
            .filter(|(_, t)| t.get(flag).and_then(Value::as_bool) == Some(true))
            .map(|(i, _)| i)
            .collect()
    };
    let index = [
        flagged("crashed"),
        flagged("current"),
        (0..threads.len()).collect(),
    ]
    .into_iter()
    .find_map(|candidates| match candidates.as_slice() {
        [only] => Some(*only),
        _ => None,
    })?;
    let stacktrace = threads[index].get("stacktrace")?;
    let (app, system) =
        stacktrace_components(stacktrace, platform, prepared.stack(StackId::Thread(index)));
    Some(
        StrategyResult {
            variants: vec![
                ("app", Component::parent("threads", vec![app])),
                ("system", Component::parent("threads", vec![system])),
            ],
            main_exception_id: None,
        }
        .remove_non_stacktrace_variants(),
    )
}

/// A stack trace at the top level of the event (messages with `attach_stacktrace`).
fn stacktrace_strategy(
    event: &Value,
    platform: &str,
    prepared: &Prepared<'_>,
) -> Option<StrategyResult> {
    let stacktrace = event.get("stacktrace")?;
    let (app, system) = stacktrace_components(stacktrace, platform, prepared.stack(StackId::Top));
    Some(
        StrategyResult {
            variants: vec![("app", app), ("system", system)],
            main_exception_id: None,
        }
        .remove_non_stacktrace_variants(),
    )
}

/// Sentry's `csp:v1`: the directive, and either the local violation or the blocked origin.
fn csp_strategy(event: &Value) -> Option<StrategyResult> {
    let csp = event.get("csp")?.as_object()?;
    let field = |name: &str| {
        csp.get(name)
            .or_else(|| csp.get(&name.replace('_', "-")))
            .and_then(Value::as_str)
    };
    let violated = field("violated_directive").unwrap_or("");
    let directive = field("effective_directive")
        .filter(|d| !d.is_empty())
        .or_else(|| violated.split_ascii_whitespace().next())
        .unwrap_or("default-src");
    let blocked = field("blocked_uri").unwrap_or("");
    let local = matches!(blocked, "" | "self" | "'self'")
        || blocked.starts_with("inline")
        || blocked.starts_with("eval");
    let local_violation = (local && directive.starts_with("script-src")).then(|| {
        if violated.contains("'unsafe-inline'") || blocked.starts_with("inline") {
            "'unsafe-inline'"
        } else {
            "'unsafe-eval'"
        }
    });
    let uri = if local {
        "'self'".to_owned()
    } else {
        blocked_origin(blocked)
    };
    let mut violation = Component::leaf("violation", local_violation.unwrap_or(""));
    let mut uri_component = Component::leaf("uri", uri);
    if local_violation.is_some() {
        uri_component.exclude("violation takes precedence");
    } else {
        violation = Component::parent("violation", Vec::new());
        violation.exclude("not a local script violation");
    }
    let component = Component::parent(
        "csp",
        vec![Component::leaf("salt", directive), violation, uri_component],
    );
    Some(StrategyResult {
        variants: vec![("default", component)],
        main_exception_id: None,
    })
}

/// `https://cdn.example:443/x.js` -> `cdn.example`; other schemes keep `scheme://host`.
fn blocked_origin(uri: &str) -> String {
    let Some((scheme, rest)) = uri.split_once(':') else {
        return uri.to_ascii_lowercase();
    };
    let scheme = scheme.to_ascii_lowercase();
    let Some(authority) = rest.strip_prefix("//") else {
        return format!("{scheme}:");
    };
    let host_port = authority.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = host_port.rsplit_once('@').map_or(host_port, |(_, h)| h);
    let host_port = host_port.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "http" | "ws" => ":80",
        "https" | "wss" => ":443",
        _ => "",
    };
    let host = if default_port.is_empty() {
        host_port.as_str()
    } else {
        host_port.strip_suffix(default_port).unwrap_or(&host_port)
    };
    match scheme.as_str() {
        "http" | "https" => host.to_owned(),
        _ => format!("{scheme}://{host}"),
    }
}

/// `message`: the log template (preferred over the formatted text), parameters stripped.
fn message_strategy(event: &Value) -> Option<StrategyResult> {
    let logentry = event.get("logentry")?;
    let message = logentry
        .get("message")
        .and_then(Value::as_str)
        .filter(|m| !m.trim().is_empty())
        .or_else(|| logentry.get("formatted").and_then(Value::as_str))
        .filter(|m| !m.trim().is_empty())?;
    let normalized = normalize_message(message);
    let changed = normalized != message;
    let mut leaf = Component::leaf("message", normalized);
    if changed {
        leaf = leaf.with_hint("stripped event-specific values");
    }
    let component = Component::parent("message", vec![leaf]);
    Some(StrategyResult {
        variants: vec![("default", component)],
        main_exception_id: None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn csp_origins() {
        assert_eq!(
            blocked_origin("https://cdn.example:443/x.js?y"),
            "cdn.example"
        );
        assert_eq!(
            blocked_origin("http://cdn.example:8080/a.png"),
            "cdn.example:8080"
        );
        assert_eq!(blocked_origin("data:text/plain;base64,SGk="), "data:");
        assert_eq!(
            blocked_origin("wss://rt.example/socket"),
            "wss://rt.example"
        );
    }

    #[test]
    fn multiprocessing_context_line_is_parameterized() {
        let frame = json!({"module": "__main__", "filename": "<string>", "function": "<module>",
            "context_line": "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=11, pipe_handle=21)"});
        let f = FrameFields::read(frame.as_object().unwrap(), "python");
        assert_eq!(
            context_line_value(&f, f.context_line.unwrap()),
            "from multiprocessing.spawn import spawn_main; spawn_main(tracker_fd=<int>, pipe_handle=<int>)"
        );
    }

    #[test]
    fn exception_group_tree() {
        let exceptions = json!([
            {"type": "ValueError", "value": "a", "mechanism": {"exception_id": 2, "parent_id": 1}},
            {"type": "ValueError", "value": "a", "mechanism": {"exception_id": 1, "parent_id": 0}},
            {"type": "ExceptionGroup", "value": "2 errors", "mechanism": {"exception_id": 0, "is_exception_group": true}}
        ]);
        let exceptions = exceptions.as_array().unwrap();
        let tree = ExceptionTree::build(exceptions).unwrap();
        assert_eq!(tree.top_level(exceptions), Some(vec![1]));
        let cyclic = json!([
            {"type": "A", "mechanism": {"exception_id": 1, "parent_id": 0, "is_exception_group": true}},
            {"type": "B", "mechanism": {"exception_id": 0, "parent_id": 1, "is_exception_group": true}}
        ]);
        let cyclic = cyclic.as_array().unwrap();
        let tree = ExceptionTree::build(cyclic).unwrap();
        assert_eq!(tree.top_level(cyclic), None);
    }
}
