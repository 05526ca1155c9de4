//! Stack trace rules (Sentry's `groupingEnhancements` project field), e.g.
//!
//! ```text
//! stack.module:myapp.** +app
//! stack.function:log_* -group
//! family:native stack.function:core::panicking::* ^-app -app ^-group
//! [ stack.function:dispatch ] | stack.module:myapp.handlers.* +group
//! error.type:TimeoutError stack.module:myapp.** max-frames=3
//! ```
//!
//! A rule is matchers (all must match one frame) and actions. Matchers: `stack.function` /
//! `function`, `stack.module` / `module`, `stack.abs_path` / `path`, `stack.package` / `package`
//! (path matchers ignore case; `*` stops at `/`, `**` does not), `family:native,javascript,other`,
//! `app:yes|no`, `category`, `error.type` / `type`, `error.value` / `value`, `error.mechanism` /
//! `mechanism`; `!` negates; `[ matcher ] |` before the frame matchers tests the caller (the frame
//! before it in the stack, oldest first) and `| [ matcher ]` after them the callee. Actions:
//! `+app` / `-app` (in-app flag), `+group` / `-group` (whether the frame takes part in grouping),
//! each applying to the matched frame, or with `^` to every frame after it (towards the crash),
//! or with `v` to every frame before it (towards `main`); `max-frames=N` (only the N frames
//! closest to the crash group), `min-frames=N` (a stack trace with fewer contributing frames does
//! not group), `category=NAME` (matched later by `category:`).
//!
//! Rules apply in order, later ones winning: first every in-app and category action (project
//! rules after Errhound's built-in [`BASE_RULES`]); then, once in-app detection has filled in the
//! frames nobody decided on, every grouping action. In-app changes are written into the stored
//! event; grouping actions only change hashing.

use std::borrow::Cow;
use std::cell::OnceCell;
use std::sync::LazyLock;

use super::glob::{Glob, prepare_value};
use super::platform::Family;
use crate::settings::{RuleError, parse_rule_lines};

/// Errhound's built-in stack trace rules, applied before every project's own rules by
/// `errhound:2026-11-25` (the role of Sentry's enhancement bases). Written for Errhound; they mark
/// runtime, SDK and panic machinery frames as not in-app and keep frames that differ between
/// runtime versions out of the hash.
pub const BASE_RULES: &str = r#"
## Rust: the standard library is not the application's code.
family:native stack.function:std::* -app
family:native stack.function:core::* -app
family:native stack.function:alloc::* -app
family:native stack.function:__rust_* -app
family:native stack.function:"<std::*" -app
family:native stack.function:"<core::*" -app
family:native stack.function:"<alloc::*" -app
## Rust panics: the frame where the panic starts and everything after it (the panic hook, the
## SDK capturing the event) is machinery that changes with Rust and SDK versions.
family:native stack.function:core::panicking::* ^-group -group ^-app -app
family:native stack.function:std::panicking::begin_panic* ^-group -group ^-app -app
family:native stack.function:std::panicking::rust_panic_with_hook ^-group -group ^-app -app
family:native stack.function:std::panicking::panic_with_hook ^-group -group ^-app -app
family:native stack.function:std::panicking::panic_handler ^-group -group ^-app -app
family:native stack.function:core::result::unwrap_failed ^-group -group ^-app -app
family:native stack.function:core::option::unwrap_failed ^-group -group ^-app -app
family:native stack.function:core::option::expect_failed ^-group -group ^-app -app
family:native stack.function:rust_begin_unwind ^-group -group ^-app -app
family:native stack.function:__rustc::rust_begin_unwind ^-group -group ^-app -app
family:native stack.function:failure::backtrace::Backtrace::new ^-group -group ^-app -app
family:native stack.function:error_chain::make_backtrace ^-group -group ^-app -app
family:native stack.function:backtrace::* -app -group
family:native stack.function:sentry::* -app -group
family:native stack.function:sentry_core::* -app -group
family:native stack.function:sentry_backtrace::* -app -group
family:native stack.function:sentry_panic::* -app -group
## C and C++: throw and assert machinery.
family:native stack.function:__cxa_throw ^-group -group ^-app -app
family:native stack.function:_CxxThrowException ^-group -group ^-app -app
family:native stack.function:__assert_rtn ^-group -group ^-app -app
family:native stack.function:__assert_fail ^-group -group ^-app -app
family:native stack.function:_NSRaiseError ^-group -group ^-app -app
family:native stack.function:objc_exception_throw ^-group -group ^-app -app
family:native stack.function:sentry__* -app -group
family:native stack.function:google_breakpad::* -app -group
family:native stack.function:crashpad::* -app -group
family:native stack.function:_mh_execute_header -app -group
## System libraries.
family:native stack.package:/lib/** -app
family:native stack.package:/usr/lib/** -app
family:native stack.package:/System/Library/** -app
family:native stack.package:linux-gate.so* -app
family:native stack.package:C:/Windows/** -app
## Go: a panic runs through the runtime into the deferred recovery; only what led to it groups.
family:other stack.module:runtime stack.function:gopanic ^-group -group ^-app -app
family:other stack.module:runtime stack.function:sigpanic ^-group -group ^-app -app
family:other stack.module:github.com/getsentry/sentry-go* -app -group
## JavaScript: the SDK's own frames.
family:javascript stack.module:@sentry/* -app -group
family:javascript stack.abs_path:**/node_modules/@sentry/** -app -group
family:javascript stack.abs_path:**/node_modules/@sentry-internal/** -app -group
## Python: the SDK's own frames.
stack.module:sentry_sdk.* -app -group
## JVM: the SDK, and reflection and method-handle frames, which differ between JVM versions.
stack.module:io.sentry.* -app -group
stack.module:sun.reflect.* -group
stack.module:jdk.internal.reflect.* -group
stack.module:java.lang.reflect.Method -group
stack.module:java.lang.invoke.* -group
## .NET: the SDK, and exception rethrow and async plumbing, which differ between runtimes.
stack.module:Sentry.* -app -group
stack.module:System.Runtime.ExceptionServices.* -group
stack.module:System.Runtime.CompilerServices.* -group
stack.module:System.Threading.ExecutionContext -group
"#;

/// The parsed [`BASE_RULES`].
pub(crate) static BASE: LazyLock<Enhancements> =
    LazyLock::new(|| Enhancements::parse(BASE_RULES).unwrap_or_default());

/// A project's parsed stack trace rules, with the text they came from.
#[derive(Debug, Clone, Default)]
pub struct Enhancements {
    text: String,
    rules: Vec<StackRule>,
}

impl PartialEq for Enhancements {
    fn eq(&self, other: &Enhancements) -> bool {
        // Parsing is deterministic: equal texts are equal rules.
        self.text == other.text
    }
}

impl Enhancements {
    /// Parses rule text; errors name the 1-based line and the reason.
    pub fn parse(text: &str) -> Result<Enhancements, RuleError> {
        Ok(Enhancements {
            text: text.to_owned(),
            rules: parse_rule_lines(text, parse_rule)?,
        })
    }

    /// The rule text as the user wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    pub(crate) fn rules(&self) -> &[StackRule] {
        &self.rules
    }
}

/// One rule.
#[derive(Debug, Clone)]
pub(crate) struct StackRule {
    /// The rule as written (without comments), for grouping explanations.
    pub text: String,
    matchers: Vec<Matcher>,
    caller: Option<Matcher>,
    callee: Option<Matcher>,
    actions: Vec<Action>,
    /// Families whose frames the rule can match.
    family_mask: u8,
    modifies: bool,
    updates: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Function,
    Module,
    Path,
    Package,
    Family,
    App,
    Category,
    ExceptionType,
    ExceptionValue,
    Mechanism,
}

#[derive(Debug, Clone)]
struct Matcher {
    field: Field,
    negated: bool,
    glob: Option<Glob>,
    families: u8,
    app: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Range {
    /// The matched frame.
    This,
    /// Every frame after it (towards the crash).
    Up,
    /// Every frame before it (towards `main`).
    Down,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Action {
    App(bool, Range),
    Group(bool, Range),
    MaxFrames(usize),
    MinFrames(usize),
    Category(String),
}

/// What rules see of a frame.
pub(crate) struct MatchFrame<'a> {
    pub family: Family,
    /// The trimmed function name, `<unknown>` without one.
    pub function: Cow<'a, str>,
    pub module: Option<&'a str>,
    pub path: Option<&'a str>,
    pub package: Option<&'a str>,
    pub in_app: Option<bool>,
    pub category: Option<Cow<'a, str>>,
    path_prepared: OnceCell<Option<String>>,
    package_prepared: OnceCell<Option<String>>,
}

impl<'a> MatchFrame<'a> {
    pub fn new(
        family: Family,
        function: Cow<'a, str>,
        module: Option<&'a str>,
        path: Option<&'a str>,
        package: Option<&'a str>,
        in_app: Option<bool>,
        category: Option<&'a str>,
    ) -> MatchFrame<'a> {
        MatchFrame {
            family,
            function,
            module,
            path,
            package,
            in_app,
            category: category.map(Cow::Borrowed),
            path_prepared: OnceCell::new(),
            package_prepared: OnceCell::new(),
        }
    }

    fn prepared_path(&self) -> Option<&str> {
        self.path_prepared
            .get_or_init(|| self.path.map(|p| prepare_value(p, true, true).into_owned()))
            .as_deref()
    }

    fn prepared_package(&self) -> Option<&str> {
        self.package_prepared
            .get_or_init(|| {
                self.package
                    .map(|p| prepare_value(p, true, true).into_owned())
            })
            .as_deref()
    }
}

/// The exception a stack trace belongs to, for `error.*` matchers.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct ExceptionData<'a> {
    pub ty: Option<&'a str>,
    pub value: Option<&'a str>,
    pub mechanism: Option<&'a str>,
}

/// Who decided a frame's in-app flag.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InAppSource<'r> {
    /// The SDK (or nobody).
    Sdk,
    /// A stack trace rule.
    Rule(&'r StackRule),
    /// Errhound's in-app detection, with the reason.
    Detection(&'static str),
    /// A built-in rule of the grouping config, with what it recognized.
    Builtin(&'static str),
}

impl PartialEq for StackRule {
    fn eq(&self, other: &StackRule) -> bool {
        std::ptr::eq(self, other)
    }
}
impl Eq for StackRule {}

/// The rules' decisions about one frame.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FrameDecision<'r> {
    pub in_app: Option<bool>,
    pub in_app_source: InAppSource<'r>,
    pub group: Option<(bool, &'r StackRule)>,
}

/// The rules' decisions about a stack trace as a whole.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct StackVars<'r> {
    pub max_frames: Option<(usize, &'r StackRule)>,
    pub min_frames: Option<(usize, &'r StackRule)>,
}

impl StackRule {
    fn matches(
        &self,
        frames: &[MatchFrame<'_>],
        index: usize,
        exception: &ExceptionData<'_>,
    ) -> bool {
        let Some(frame) = frames.get(index) else {
            return false;
        };
        if self.family_mask & frame.family.bit() == 0 {
            return false;
        }
        if !self.matchers.iter().all(|m| m.matches(frame, exception)) {
            return false;
        }
        if let Some(caller) = &self.caller
            && !(index > 0 && caller.matches(&frames[index - 1], exception))
        {
            return false;
        }
        if let Some(callee) = &self.callee
            && !frames
                .get(index + 1)
                .is_some_and(|f| callee.matches(f, exception))
        {
            return false;
        }
        true
    }
}

impl Matcher {
    fn matches(&self, frame: &MatchFrame<'_>, exception: &ExceptionData<'_>) -> bool {
        let glob = |value: Option<&str>| match (&self.glob, value) {
            (Some(glob), Some(value)) => glob.matches_prepared(value),
            _ => false,
        };
        let path_glob = |value: Option<&str>| match (&self.glob, value) {
            (Some(glob), Some(value)) => {
                glob.matches_prepared(value)
                    || (!value.starts_with('/') && glob.matches_prepared(&format!("/{value}")))
            }
            _ => false,
        };
        let positive = match self.field {
            Field::Function => glob(Some(&frame.function)),
            Field::Module => glob(frame.module),
            Field::Category => glob(frame.category.as_deref()),
            Field::Path => path_glob(frame.prepared_path()),
            Field::Package => path_glob(frame.prepared_package()),
            Field::Family => self.families & frame.family.bit() != 0,
            Field::App => frame.in_app.unwrap_or(false) == self.app,
            Field::ExceptionType => glob(Some(exception.ty.unwrap_or("<unknown>"))),
            Field::ExceptionValue => glob(Some(exception.value.unwrap_or("<unknown>"))),
            Field::Mechanism => glob(Some(exception.mechanism.unwrap_or("<unknown>"))),
        };
        positive != self.negated
    }
}

fn range_slice(len: usize, index: usize, range: Range) -> std::ops::Range<usize> {
    match range {
        Range::This => index..index + 1,
        Range::Up => index + 1..len,
        Range::Down => 0..index,
    }
}

/// First pass: in-app and category actions, in rule order; later rules see earlier changes.
pub(crate) fn apply_modifications<'r>(
    rules: &'r [StackRule],
    frames: &mut [MatchFrame<'_>],
    decisions: &mut [FrameDecision<'r>],
    exception: &ExceptionData<'_>,
    families: u8,
) {
    for rule in rules {
        if !rule.modifies || rule.family_mask & families == 0 {
            continue;
        }
        for index in 0..frames.len() {
            if !rule.matches(frames, index, exception) {
                continue;
            }
            for action in &rule.actions {
                match action {
                    Action::App(flag, range) => {
                        for i in range_slice(frames.len(), index, *range) {
                            frames[i].in_app = Some(*flag);
                            decisions[i].in_app = Some(*flag);
                            decisions[i].in_app_source = InAppSource::Rule(rule);
                        }
                    }
                    Action::Category(category) => {
                        frames[index].category = Some(Cow::Owned(category.clone()));
                    }
                    _ => {}
                }
            }
        }
    }
}

/// Second pass: grouping actions and stack variables, matched against the final in-app flags.
pub(crate) fn apply_updates<'r>(
    rules: &'r [StackRule],
    frames: &[MatchFrame<'_>],
    decisions: &mut [FrameDecision<'r>],
    vars: &mut StackVars<'r>,
    exception: &ExceptionData<'_>,
    families: u8,
) {
    for rule in rules {
        if !rule.updates || rule.family_mask & families == 0 {
            continue;
        }
        for index in 0..frames.len() {
            if !rule.matches(frames, index, exception) {
                continue;
            }
            for action in &rule.actions {
                match action {
                    Action::Group(flag, range) => {
                        for i in range_slice(frames.len(), index, *range) {
                            decisions[i].group = Some((*flag, rule));
                        }
                    }
                    Action::MaxFrames(n) => vars.max_frames = Some((*n, rule)),
                    Action::MinFrames(n) => vars.min_frames = Some((*n, rule)),
                    _ => {}
                }
            }
        }
    }
}

// --- parsing -----------------------------------------------------------------------------------

/// A cursor over one line.
pub(crate) struct Cursor<'a> {
    pub line: &'a str,
    pub at: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(line: &'a str) -> Cursor<'a> {
        Cursor { line, at: 0 }
    }

    pub fn rest(&self) -> &'a str {
        &self.line[self.at..]
    }

    pub fn skip_spaces(&mut self) {
        let rest = self.rest();
        self.at += rest.len() - rest.trim_start().len();
    }

    pub fn done(&self) -> bool {
        self.rest().trim().is_empty()
    }

    pub fn eat(&mut self, prefix: &str) -> bool {
        if self.rest().starts_with(prefix) {
            self.at += prefix.len();
            true
        } else {
            false
        }
    }

    /// The next run of non-space characters.
    pub fn word(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    /// A `"quoted"` value (with `\"` and `\\` escapes) or a bare run of non-space characters.
    pub fn argument(&mut self, stop_at: &[char]) -> Result<String, String> {
        if self.eat("\"") {
            let mut out = String::new();
            let mut chars = self.rest().char_indices();
            while let Some((i, c)) = chars.next() {
                match c {
                    '"' => {
                        self.at += i + 1;
                        return Ok(out);
                    }
                    '\\' => match chars.next() {
                        Some((_, 'n')) => out.push('\n'),
                        Some((_, 't')) => out.push('\t'),
                        Some((_, escaped)) => out.push(escaped),
                        None => break,
                    },
                    _ => out.push(c),
                }
            }
            return Err("unterminated quoted value".to_owned());
        }
        let rest = self.rest();
        let len = rest
            .find(|c: char| c.is_whitespace() || stop_at.contains(&c))
            .unwrap_or(rest.len());
        self.at += len;
        Ok(rest[..len].to_owned())
    }

    /// A matcher key: `[a-zA-Z0-9_.-]+`, or the same in quotes.
    pub fn key(&mut self) -> Option<&'a str> {
        let quoted = self.rest().starts_with('"');
        let start = self.at + usize::from(quoted);
        let rest = &self.line[start..];
        let len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-')))
            .unwrap_or(rest.len());
        if len == 0 {
            return None;
        }
        let key = &rest[..len];
        let mut end = start + len;
        if quoted {
            if !self.line[end..].starts_with('"') {
                return None;
            }
            end += 1;
        }
        self.at = end;
        Some(key)
    }
}

/// Cuts a trailing `# comment` that is not inside quotes.
pub(crate) fn strip_comment(line: &str) -> &str {
    let mut quoted = false;
    let mut escaped = false;
    for (i, c) in line.char_indices() {
        match c {
            _ if escaped => escaped = false,
            '\\' if quoted => escaped = true,
            '"' => quoted = !quoted,
            '#' if !quoted && (i == 0 || line[..i].ends_with(char::is_whitespace)) => {
                return &line[..i];
            }
            _ => {}
        }
    }
    line
}

fn parse_rule(line: &str) -> Result<Option<StackRule>, String> {
    let line = strip_comment(line).trim();
    if line.is_empty() {
        return Ok(None);
    }
    let mut cursor = Cursor::new(line);
    let mut caller = None;
    let mut callee = None;
    let mut matchers = Vec::new();
    let mut actions = Vec::new();
    cursor.skip_spaces();
    if cursor.eat("[") {
        cursor.skip_spaces();
        caller = Some(parse_matcher(&mut cursor)?);
        cursor.skip_spaces();
        if !cursor.eat("]") {
            return Err("expected \"]\" after the caller matcher".to_owned());
        }
        cursor.skip_spaces();
        if !cursor.eat("|") {
            return Err("expected \"|\" after \"[ caller ]\"".to_owned());
        }
    }
    loop {
        cursor.skip_spaces();
        if cursor.done() {
            break;
        }
        if cursor.rest().starts_with('|') {
            if !actions.is_empty() || matchers.is_empty() {
                return Err("\"| [ callee ]\" must follow the frame matchers".to_owned());
            }
            cursor.eat("|");
            cursor.skip_spaces();
            if !cursor.eat("[") {
                return Err("expected \"[\" after \"|\"".to_owned());
            }
            cursor.skip_spaces();
            callee = Some(parse_matcher(&mut cursor)?);
            cursor.skip_spaces();
            if !cursor.eat("]") {
                return Err("expected \"]\" after the callee matcher".to_owned());
            }
            continue;
        }
        if looks_like_action(cursor.rest()) {
            let word = cursor.word();
            actions.push(parse_action(word)?);
            continue;
        }
        if !actions.is_empty() {
            return Err(format!(
                "unexpected \"{}\" after the actions",
                cursor.word()
            ));
        }
        if callee.is_some() {
            return Err("frame matchers must come before \"| [ callee ]\"".to_owned());
        }
        matchers.push(parse_matcher(&mut cursor)?);
    }
    if matchers.is_empty() {
        return Err("rule has no matchers".to_owned());
    }
    if actions.is_empty() {
        return Err("rule has no actions (like +app, -group, ^-group or max-frames=N)".to_owned());
    }
    let family_mask = matchers
        .iter()
        .filter(|m| m.field == Field::Family && !m.negated)
        .fold(0b111, |mask, m| mask & m.families);
    let modifies = actions
        .iter()
        .any(|a| matches!(a, Action::App(..) | Action::Category(_)));
    let updates = actions.iter().any(|a| {
        matches!(
            a,
            Action::Group(..) | Action::MaxFrames(_) | Action::MinFrames(_)
        )
    });
    Ok(Some(StackRule {
        text: line.split_whitespace().collect::<Vec<_>>().join(" "),
        matchers,
        caller,
        callee,
        actions,
        family_mask,
        modifies,
        updates,
    }))
}

fn looks_like_action(rest: &str) -> bool {
    let word = rest.split_whitespace().next().unwrap_or("");
    let flag = word.trim_start_matches(['^', 'v']);
    (word.starts_with(['+', '-', '^']) || (word.starts_with('v') && flag.starts_with(['+', '-'])))
        || (!word.contains(':') && word.contains('='))
}

fn parse_action(word: &str) -> Result<Action, String> {
    if let Some((name, value)) = word.split_once('=') {
        let number = || {
            value
                .parse::<usize>()
                .map_err(|_| format!("invalid value \"{value}\" for {name} (expected a number)"))
        };
        return match name {
            "max-frames" => number().map(Action::MaxFrames),
            "min-frames" => number().map(Action::MinFrames),
            "category" if !value.is_empty() => Ok(Action::Category(value.to_owned())),
            "category" => Err("empty category".to_owned()),
            _ => Err(format!(
                "unknown action \"{name}\" (expected max-frames, min-frames or category)"
            )),
        };
    }
    let (range, rest) = match word.as_bytes().first() {
        Some(b'^') => (Range::Up, &word[1..]),
        Some(b'v') => (Range::Down, &word[1..]),
        _ => (Range::This, word),
    };
    let (flag, name) = match rest.as_bytes().first() {
        Some(b'+') => (true, &rest[1..]),
        Some(b'-') => (false, &rest[1..]),
        _ => return Err(format!("unknown action \"{word}\"")),
    };
    match name {
        "app" => Ok(Action::App(flag, range)),
        "group" => Ok(Action::Group(flag, range)),
        _ => Err(format!(
            "unknown action \"{word}\" (expected +app, -app, +group or -group, optionally after ^ or v)"
        )),
    }
}

fn parse_matcher(cursor: &mut Cursor<'_>) -> Result<Matcher, String> {
    let negated = cursor.eat("!");
    let Some(key) = cursor.key() else {
        return Err(format!(
            "expected a matcher like stack.function:name, found \"{}\"",
            cursor.clone_word()
        ));
    };
    if !cursor.eat(":") {
        return Err(format!(
            "expected \":\" after \"{key}\" (matchers are written key:value)"
        ));
    }
    let field = match key {
        "stack.function" | "function" => Field::Function,
        "stack.module" | "module" => Field::Module,
        "stack.abs_path" | "path" => Field::Path,
        "stack.package" | "package" => Field::Package,
        "family" => Field::Family,
        "app" | "stack.app" => Field::App,
        "category" => Field::Category,
        "error.type" | "type" => Field::ExceptionType,
        "error.value" | "value" => Field::ExceptionValue,
        "error.mechanism" | "mechanism" => Field::Mechanism,
        other => return Err(format!("unknown matcher \"{other}\"")),
    };
    let value = cursor.argument(&[']'])?;
    if value.is_empty() {
        return Err(format!("empty value for matcher \"{key}\""));
    }
    let mut matcher = Matcher {
        field,
        negated,
        glob: None,
        families: 0,
        app: false,
    };
    match field {
        Field::Family => matcher.families = parse_families(&value)?,
        Field::App => matcher.app = parse_bool(&value)?,
        Field::Path | Field::Package => matcher.glob = Some(Glob::new(&value, true, true)?),
        _ => matcher.glob = Some(Glob::new(&value, false, false)?),
    }
    Ok(matcher)
}

impl Cursor<'_> {
    fn clone_word(&self) -> &str {
        let rest = self.rest();
        rest.split_whitespace().next().unwrap_or(rest)
    }
}

/// `native,javascript` -> a family mask.
pub(crate) fn parse_families(value: &str) -> Result<u8, String> {
    let mut mask = 0;
    for name in value.split(',') {
        mask |= match name.trim() {
            "native" => Family::Native.bit(),
            "javascript" => Family::JavaScript.bit(),
            "other" => Family::Other.bit(),
            "all" => 0b111,
            other => {
                return Err(format!(
                    "unknown family \"{other}\" (expected native, javascript, other or all)"
                ));
            }
        };
    }
    Ok(mask)
}

/// `yes`/`no` and the usual synonyms.
pub(crate) fn parse_bool(value: &str) -> Result<bool, String> {
    match value.to_ascii_lowercase().as_str() {
        "yes" | "true" | "1" => Ok(true),
        "no" | "false" | "0" => Ok(false),
        _ => Err(format!("invalid value \"{value}\" (expected yes or no)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(function: &'static str, module: Option<&'static str>) -> MatchFrame<'static> {
        MatchFrame::new(
            Family::Other,
            Cow::Borrowed(function),
            module,
            None,
            None,
            None,
            None,
        )
    }

    #[test]
    fn base_rules_parse() {
        let base = Enhancements::parse(BASE_RULES).unwrap();
        assert!(base.rules().len() > 40);
        assert!(!BASE.is_empty());
    }

    #[test]
    fn parses_sentry_syntax() {
        let rules = Enhancements::parse(
            "# comment\n\
             stack.module:myapp.** +app\n\
             \n\
             stack.function:log_* -group  # trailing comment\n\
             family:native function:\"core::panicking::*\" ^-app -app ^-group\n\
             [ stack.function:dispatch ] | stack.module:myapp.* v+group\n\
             stack.function:handler | [ stack.function:inner ] max-frames=3 category=indirection\n\
             !app:yes -group\n",
        )
        .unwrap();
        assert_eq!(rules.rules().len(), 6);
        assert_eq!(rules.rules()[1].text, "stack.function:log_* -group");
        assert_eq!(rules.rules()[2].family_mask, Family::Native.bit());
    }

    #[test]
    fn errors_name_line_and_reason() {
        let cases = [
            (
                "stack.module:a +app\nstack.modul:b -app",
                2,
                "unknown matcher \"stack.modul\"",
            ),
            ("\n\nstack.function:x +ap", 3, "unknown action \"+ap\""),
            ("stack.function:x", 1, "rule has no actions"),
            ("+app", 1, "rule has no matchers"),
            ("family:nativ -app", 1, "unknown family \"nativ\""),
            ("app:maybe -app", 1, "invalid value \"maybe\""),
            ("function:\"x -app", 1, "unterminated quoted value"),
            (
                "function:x max-frames=lots",
                1,
                "invalid value \"lots\" for max-frames",
            ),
            ("[ function:x | function:y -app", 1, "expected \"]\""),
            ("path:[abc +app", 1, "unclosed \"[\""),
            ("function -app", 1, "expected \":\" after \"function\""),
        ];
        for (text, line, reason) in cases {
            let error = Enhancements::parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text}");
            assert!(
                error.message.starts_with(reason),
                "{text}: {}",
                error.message
            );
        }
    }

    #[test]
    fn actions_apply_with_ranges_and_later_rules_win() {
        let rules = Enhancements::parse(
            "stack.function:panic ^-app -app\n\
             stack.function:hook +app\n\
             stack.function:panic ^-group\n\
             app:no stack.function:main -group\n\
             [ stack.function:main ] | stack.function:run max-frames=2",
        )
        .unwrap();
        let mut frames = vec![
            frame("main", None),
            frame("run", None),
            frame("panic", None),
            frame("hook", None),
            frame("capture", None),
        ];
        let mut decisions = vec![
            FrameDecision {
                in_app: None,
                in_app_source: InAppSource::Sdk,
                group: None
            };
            5
        ];
        let exception = ExceptionData::default();
        apply_modifications(
            rules.rules(),
            &mut frames,
            &mut decisions,
            &exception,
            0b111,
        );
        let in_app: Vec<Option<bool>> = decisions.iter().map(|d| d.in_app).collect();
        assert_eq!(
            in_app,
            vec![None, None, Some(false), Some(true), Some(false)]
        );
        let mut vars = StackVars::default();
        apply_updates(
            rules.rules(),
            &frames,
            &mut decisions,
            &mut vars,
            &exception,
            0b111,
        );
        let group: Vec<Option<bool>> = decisions.iter().map(|d| d.group.map(|g| g.0)).collect();
        assert_eq!(
            group,
            vec![Some(false), None, None, Some(false), Some(false)]
        );
        assert_eq!(vars.max_frames.map(|m| m.0), Some(2));
    }

    #[test]
    fn path_matchers_ignore_case_and_accept_relative_paths() {
        let rules = Enhancements::parse("stack.abs_path:**/Vendor/** -app").unwrap();
        let mut frames = vec![MatchFrame::new(
            Family::Other,
            Cow::Borrowed("f"),
            None,
            Some("vendor\\Lib\\x.php"),
            None,
            Some(true),
            None,
        )];
        let mut decisions = vec![FrameDecision {
            in_app: Some(true),
            in_app_source: InAppSource::Sdk,
            group: None,
        }];
        apply_modifications(
            rules.rules(),
            &mut frames,
            &mut decisions,
            &ExceptionData::default(),
            0b111,
        );
        assert_eq!(decisions[0].in_app, Some(false));
    }
}
