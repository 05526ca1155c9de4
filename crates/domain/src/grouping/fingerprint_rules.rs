//! Server-side fingerprinting rules (Sentry's `fingerprintingRules` project field), e.g.
//!
//! ```text
//! # database outages are one issue
//! error.type:DatabaseError -> database-error
//! message:"*connection refused*" -> connection-refused title="Connection refused"
//! stack.module:"myapp.payments.*" !app:no -> payments, {{ type }} title="Payment failed in {{ function }}"
//! tags.tenant:acme* level:error -> {{ default }} {{ tags.tenant }}
//! ```
//!
//! A rule is `matcher:value ... -> fingerprint-part ... [title="..."]`. Matchers: `error.type` /
//! `type`, `error.value` / `value`, `message` (the message or any exception value), `logger`,
//! `level`, `tags.NAME`, `stack.module` / `module`, `stack.function` / `function`,
//! `stack.abs_path` / `path`, `stack.package` / `package`, `app` / `stack.app` (the frame is
//! in-app), `family` (`native`, `javascript`, `other`), `sdk`, `release`. Values are globs (`*`,
//! `**`, `?`, `[...]`; path matchers ignore case and `*` stops at `/`; `message`, `value` and
//! `level` ignore case); quote values with spaces; `!` negates; `#` starts a comment. Frame
//! matchers of a rule must all match one frame; exception matchers one exception; `[ matcher ] |`
//! before the frame matchers tests the frame before it (its caller), `| [ matcher ]` after them
//! the frame after it.
//!
//! The first matching rule wins: its parts become the event's `fingerprint` (so `{{ default }}`
//! and the variables of `fingerprint.rs` work), and its `title` (variables expanded) the event's
//! title. Errors name the 1-based line and the reason.

use serde_json::Value;

use super::fingerprint::{DEFAULT_PART, Resolver, variable_name};
use super::glob::Glob;
use super::platform::{Family, trim_function_name};
use super::prepare::{Prepared, StackId};
use super::stack_rules::{Cursor, parse_bool, parse_families, strip_comment};
use crate::settings::{RuleError, parse_rule_lines};
use crate::value::{get_str, values};

/// A project's parsed fingerprinting rules, with the text they came from.
#[derive(Debug, Clone, Default)]
pub struct FingerprintingRules {
    text: String,
    rules: Vec<FingerprintRule>,
}

impl PartialEq for FingerprintingRules {
    fn eq(&self, other: &FingerprintingRules) -> bool {
        // Parsing is deterministic: equal texts are equal rules.
        self.text == other.text
    }
}

/// One rule.
#[derive(Debug, Clone)]
struct FingerprintRule {
    /// The rule as written (without comments), for grouping explanations.
    text: String,
    matchers: Vec<Matcher>,
    caller: Option<Matcher>,
    callee: Option<Matcher>,
    fingerprint: Vec<String>,
    title: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Type,
    Value,
    Message,
    Logger,
    Level,
    Tag,
    Module,
    Function,
    Path,
    Package,
    App,
    Family,
    Sdk,
    Release,
}

impl Field {
    fn is_frame(self) -> bool {
        matches!(
            self,
            Field::Module | Field::Function | Field::Path | Field::Package | Field::App
        )
    }
}

#[derive(Debug, Clone)]
struct Matcher {
    field: Field,
    negated: bool,
    tag: String,
    glob: Option<Glob>,
    families: u8,
    app: bool,
}

/// A matching rule's result.
#[derive(Debug, Clone, PartialEq)]
pub struct RuleMatch {
    /// The rule as written.
    pub rule: String,
    /// The fingerprint parts (variables unresolved).
    pub fingerprint: Vec<String>,
    /// The title template, if the rule sets one.
    pub title: Option<String>,
}

impl FingerprintingRules {
    /// Parses rule text; errors name the 1-based line and the reason.
    pub fn parse(text: &str) -> Result<FingerprintingRules, RuleError> {
        Ok(FingerprintingRules {
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

    /// The first rule matching the event, judging frames' in-app flags by `prepared`.
    pub(crate) fn first_match(&self, event: &Value, prepared: &Prepared<'_>) -> Option<RuleMatch> {
        if self.rules.is_empty() {
            return None;
        }
        let data = EventData::new(event, prepared);
        self.rules
            .iter()
            .find(|rule| rule.matches(&data))
            .map(|rule| RuleMatch {
                rule: rule.text.clone(),
                fingerprint: rule.fingerprint.clone(),
                title: rule.title.clone(),
            })
    }
}

/// Expands a rule's title template for an event.
pub(crate) fn expand_title(template: &str, event: &Value, prepared: &Prepared<'_>) -> String {
    Resolver::new(event, prepared).expand_title(template)
}

/// What rules see of an event.
struct EventData<'a> {
    family: Family,
    message: Option<&'a str>,
    exceptions: Vec<(Option<&'a str>, Option<&'a str>)>,
    logger: Option<&'a str>,
    level: Option<&'a str>,
    tags: Vec<(&'a str, &'a str)>,
    sdk: Option<&'a str>,
    release: Option<&'a str>,
    /// Frames per stack trace.
    stacks: Vec<Vec<FrameData<'a>>>,
}

struct FrameData<'a> {
    function: String,
    path: Option<&'a str>,
    filename: Option<&'a str>,
    module: Option<&'a str>,
    package: Option<&'a str>,
    in_app: bool,
}

impl<'a> EventData<'a> {
    fn new(event: &'a Value, prepared: &Prepared<'_>) -> EventData<'a> {
        let platform = get_str(event, &["platform"]).unwrap_or("other");
        let text = |v: Option<&'a Value>| v.and_then(Value::as_str).map(str::trim);
        let exception_list = values(event.get("exception"));
        let mut stacks = Vec::new();
        let mut push_stack = |stacktrace: Option<&'a Value>, id: StackId| {
            let Some(frames) = stacktrace
                .and_then(|s| s.get("frames"))
                .and_then(Value::as_array)
            else {
                return;
            };
            let decisions = prepared.stack(id);
            let stack = frames
                .iter()
                .enumerate()
                .filter_map(|(i, frame)| {
                    let object = frame.as_object()?;
                    let field = |key: &str| object.get(key).and_then(Value::as_str);
                    let frame_platform = field("platform").unwrap_or(platform);
                    let function = field("function").or(field("raw_function")).map_or_else(
                        || "<unknown>".to_owned(),
                        |f| trim_function_name(f, frame_platform).into_owned(),
                    );
                    Some(FrameData {
                        function,
                        path: field("abs_path").or(field("filename")),
                        filename: field("filename"),
                        module: field("module"),
                        package: field("package"),
                        in_app: decisions.in_app(i, object) == Some(true),
                    })
                })
                .collect();
            stacks.push(stack);
        };
        for (i, exception) in exception_list.iter().enumerate() {
            push_stack(exception.get("stacktrace"), StackId::Exception(i));
        }
        push_stack(event.get("stacktrace"), StackId::Top);
        for (i, thread) in values(event.get("threads")).iter().enumerate() {
            push_stack(thread.get("stacktrace"), StackId::Thread(i));
        }
        EventData {
            family: Family::of(platform),
            message: get_str(event, &["logentry", "formatted"])
                .or_else(|| get_str(event, &["logentry", "message"]))
                .map(str::trim),
            exceptions: exception_list
                .iter()
                .map(|e| {
                    (
                        e.get("type").and_then(Value::as_str),
                        text(e.get("value")).filter(|v| !v.is_empty()),
                    )
                })
                .collect(),
            logger: get_str(event, &["logger"]),
            level: get_str(event, &["level"]),
            tags: event
                .get("tags")
                .and_then(Value::as_array)
                .map(|pairs| {
                    pairs
                        .iter()
                        .filter_map(|p| Some((p.get(0)?.as_str()?, p.get(1)?.as_str()?.trim())))
                        .collect()
                })
                .unwrap_or_default(),
            sdk: get_str(event, &["sdk", "name"]),
            release: get_str(event, &["release"]),
            stacks,
        }
    }
}

impl FingerprintRule {
    fn matches(&self, data: &EventData<'_>) -> bool {
        let (frame_matchers, others): (Vec<&Matcher>, Vec<&Matcher>) =
            self.matchers.iter().partition(|m| m.field.is_frame());
        // Exception matchers must hold for one exception together.
        let (exception_matchers, others): (Vec<&Matcher>, Vec<&Matcher>) = others
            .into_iter()
            .partition(|m| matches!(m.field, Field::Type | Field::Value));
        if !exception_matchers.is_empty()
            && !data
                .exceptions
                .iter()
                .any(|e| exception_matchers.iter().all(|m| m.matches_exception(*e)))
        {
            return false;
        }
        if !others.iter().all(|m| m.matches_event(data)) {
            return false;
        }
        if frame_matchers.is_empty() && self.caller.is_none() && self.callee.is_none() {
            return true;
        }
        data.stacks.iter().any(|frames| {
            (0..frames.len()).any(|i| {
                frame_matchers.iter().all(|m| m.matches_frame(&frames[i]))
                    && self
                        .caller
                        .as_ref()
                        .is_none_or(|m| i > 0 && m.matches_frame(&frames[i - 1]))
                    && self
                        .callee
                        .as_ref()
                        .is_none_or(|m| frames.get(i + 1).is_some_and(|f| m.matches_frame(f)))
            })
        })
    }
}

impl Matcher {
    fn glob(&self, value: Option<&str>) -> bool {
        match (&self.glob, value) {
            (Some(glob), Some(value)) => glob.is_match(value),
            _ => false,
        }
    }

    fn path_glob(&self, value: Option<&str>) -> bool {
        match (&self.glob, value) {
            (Some(glob), Some(value)) => {
                glob.is_match(value)
                    || (!value.starts_with('/') && glob.is_match(&format!("/{value}")))
            }
            _ => false,
        }
    }

    fn matches_exception(&self, (ty, value): (Option<&str>, Option<&str>)) -> bool {
        let positive = match self.field {
            Field::Type => self.glob(ty),
            _ => self.glob(value),
        };
        positive != self.negated
    }

    fn matches_frame(&self, frame: &FrameData<'_>) -> bool {
        let positive = match self.field {
            Field::Function => self.glob(Some(&frame.function)),
            Field::Module => self.glob(frame.module),
            Field::Path => self.path_glob(frame.path) || self.path_glob(frame.filename),
            Field::Package => self.path_glob(frame.package),
            Field::App => frame.in_app == self.app,
            _ => false,
        };
        positive != self.negated
    }

    fn matches_event(&self, data: &EventData<'_>) -> bool {
        let positive = match self.field {
            // The message, or any exception value: what users see as "the message".
            Field::Message => {
                self.glob(data.message) || data.exceptions.iter().any(|(_, v)| self.glob(*v))
            }
            Field::Logger => self.glob(data.logger),
            Field::Level => self.glob(data.level),
            Field::Tag => data
                .tags
                .iter()
                .find(|(k, _)| *k == self.tag)
                .is_some_and(|(_, v)| self.glob(Some(v))),
            Field::Family => self.families & data.family.bit() != 0,
            Field::Sdk => self.glob(data.sdk),
            Field::Release => self.path_glob(data.release),
            _ => false,
        };
        positive != self.negated
    }
}

fn parse_rule(line: &str) -> Result<Option<FingerprintRule>, String> {
    let line = strip_comment(line).trim();
    if line.is_empty() {
        return Ok(None);
    }
    let mut cursor = Cursor::new(line);
    let mut matchers = Vec::new();
    let mut caller = None;
    let mut callee = None;
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
            return Err("expected \"->\" followed by the fingerprint".to_owned());
        }
        if cursor.eat("->") {
            break;
        }
        if cursor.rest().starts_with('|') {
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
            cursor.skip_spaces();
            if !cursor.rest().starts_with("->") {
                return Err("expected \"->\" after \"| [ callee ]\"".to_owned());
            }
            continue;
        }
        matchers.push(parse_matcher(&mut cursor)?);
    }
    if matchers.is_empty() {
        return Err("rule has no matchers before \"->\"".to_owned());
    }
    if (caller.is_some() || callee.is_some()) && !matchers.iter().any(|m| m.field.is_frame()) {
        return Err("\"[ caller ] |\" and \"| [ callee ]\" need a frame matcher".to_owned());
    }
    let mut fingerprint = Vec::new();
    let mut title = None;
    loop {
        cursor.skip_spaces();
        if cursor.done() {
            break;
        }
        let rest = cursor.rest();
        if rest.starts_with(',') {
            cursor.eat(",");
            continue;
        }
        if rest.starts_with("{{") {
            let Some(end) = rest.find("}}") else {
                return Err("unterminated \"{{\" in the fingerprint".to_owned());
            };
            let part = &rest[..end + 2];
            cursor.at += end + 2;
            if variable_name(part).is_none() {
                return Err(format!("invalid variable \"{part}\""));
            }
            fingerprint.push(if variable_name(part) == Some("default") {
                DEFAULT_PART.to_owned()
            } else {
                part.to_owned()
            });
            continue;
        }
        if rest.starts_with('"') {
            fingerprint.push(cursor.argument(&[','])?);
            continue;
        }
        // `key="value"` is an attribute; anything else a bare part.
        let word_len = rest
            .find(|c: char| c.is_whitespace() || c == ',')
            .unwrap_or(rest.len());
        let word = &rest[..word_len];
        if let Some((key, value)) = word.split_once('=')
            && value.starts_with('"')
            && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            cursor.at += key.len() + 1;
            let value = cursor.argument(&[])?;
            if key != "title" {
                return Err(format!(
                    "unknown attribute \"{key}\" (only title is supported)"
                ));
            }
            title = Some(value);
            continue;
        }
        cursor.at += word_len;
        fingerprint.push(word.to_owned());
    }
    if fingerprint.is_empty() {
        return Err("missing fingerprint after \"->\"".to_owned());
    }
    Ok(Some(FingerprintRule {
        text: line.split_whitespace().collect::<Vec<_>>().join(" "),
        matchers,
        caller,
        callee,
        fingerprint,
        title,
    }))
}

fn parse_matcher(cursor: &mut Cursor<'_>) -> Result<Matcher, String> {
    let negated = cursor.eat("!");
    let rest = cursor.rest();
    let Some(key) = cursor.key() else {
        let word = rest.split_whitespace().next().unwrap_or(rest);
        return Err(format!(
            "expected a matcher like error.type:Name, found \"{word}\""
        ));
    };
    if !cursor.eat(":") {
        return Err(format!(
            "expected \":\" after \"{key}\" (matchers are written key:value)"
        ));
    }
    let (field, tag) = match key {
        "error.type" | "type" => (Field::Type, ""),
        "error.value" | "value" => (Field::Value, ""),
        "message" => (Field::Message, ""),
        "logger" => (Field::Logger, ""),
        "level" => (Field::Level, ""),
        "stack.module" | "module" => (Field::Module, ""),
        "stack.function" | "function" => (Field::Function, ""),
        "stack.abs_path" | "path" => (Field::Path, ""),
        "stack.package" | "package" => (Field::Package, ""),
        "app" | "stack.app" => (Field::App, ""),
        "family" => (Field::Family, ""),
        "sdk" => (Field::Sdk, ""),
        "release" => (Field::Release, ""),
        other => match other.strip_prefix("tags.") {
            Some(tag) if !tag.is_empty() => (Field::Tag, tag),
            _ => return Err(format!("unknown matcher \"{other}\"")),
        },
    };
    let value = cursor.argument(&[']'])?;
    if value.is_empty() {
        return Err(format!("empty value for matcher \"{key}\""));
    }
    let mut matcher = Matcher {
        field,
        negated,
        tag: tag.to_owned(),
        glob: None,
        families: 0,
        app: false,
    };
    match field {
        Field::Family => matcher.families = parse_families(&value)?,
        Field::App => matcher.app = parse_bool(&value)?,
        Field::Path | Field::Package | Field::Release => {
            matcher.glob = Some(Glob::new(&value, true, true)?);
        }
        Field::Message | Field::Value | Field::Level => {
            matcher.glob = Some(Glob::new(&value, false, true)?);
        }
        _ => matcher.glob = Some(Glob::new(&value, false, false)?),
    }
    Ok(matcher)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::grouping::prepare::{Plan, prepare};
    use crate::grouping::stack_rules::Enhancements;

    fn first(rules: &str, event: &Value) -> Option<RuleMatch> {
        let empty = Enhancements::default();
        let prepared = prepare(
            event,
            &Plan {
                builtin: None,
                project: &empty,
                detect: true,
                legacy_panic: false,
            },
        );
        FingerprintingRules::parse(rules)
            .unwrap()
            .first_match(event, &prepared)
    }

    fn event() -> Value {
        json!({"platform": "python", "level": "error", "logger": "shop.db",
        "tags": [["region", "eu-west"], ["tenant", "acme"]],
        "exception": {"values": [
            {"type": "OperationalError", "value": "connection refused by 10.0.0.3"},
            {"type": "DatabaseError", "value": "Lost connection", "stacktrace": {"frames": [
                {"module": "shop.orders", "function": "place", "abs_path": "/srv/shop/orders.py"},
                {"module": "shop.db", "function": "execute", "abs_path": "/srv/shop/db.py"},
                {"module": "psycopg.cursor", "function": "execute", "abs_path": "/srv/venv/lib/python3.12/site-packages/psycopg/cursor.py"}
            ]}}
        ]}})
    }

    #[test]
    fn parses_sentry_syntax() {
        let rules = FingerprintingRules::parse(
            "# comment\n\
             error.type:DatabaseError -> database-error\n\
             message:\"*connection refused*\" -> connection-refused title=\"Connection refused\"\n\
             stack.module:\"shop.*\" !app:no -> shop, {{ type }},{{default}} title=\"In {{ function }}\"\n\
             [ function:place ] | function:execute -> sql\n\
             tags.tenant:acme* level:error -> \"tenant acme\" {{ tags.tenant }}\n",
        )
        .unwrap();
        assert_eq!(rules.rules.len(), 5);
        assert_eq!(
            rules.rules[2].fingerprint,
            vec!["shop", "{{ type }}", "{{ default }}"]
        );
        assert_eq!(rules.rules[2].title.as_deref(), Some("In {{ function }}"));
        assert_eq!(
            rules.rules[4].fingerprint,
            vec!["tenant acme", "{{ tags.tenant }}"]
        );
    }

    #[test]
    fn errors_name_line_and_reason() {
        let cases = [
            (
                "error.type:A -> a\n\nstack.modul:x -> y",
                3,
                "unknown matcher \"stack.modul\"",
            ),
            ("error.type:A", 1, "expected \"->\""),
            ("error.type:A ->", 1, "missing fingerprint"),
            ("-> a", 1, "rule has no matchers"),
            ("type:A -> a titel=\"x\"", 1, "unknown attribute \"titel\""),
            ("type:\"A -> a", 1, "unterminated quoted value"),
            ("family:natve -> a", 1, "unknown family \"natve\""),
            ("app:maybe -> a", 1, "invalid value \"maybe\""),
            ("type: -> a", 1, "empty value for matcher \"type\""),
            ("tags.:x -> a", 1, "unknown matcher \"tags.\""),
            ("type:A -> {{ default", 1, "unterminated \"{{\""),
            ("path:[x -> a", 1, "unclosed \"[\""),
        ];
        for (text, line, reason) in cases {
            let error = FingerprintingRules::parse(text).unwrap_err();
            assert_eq!(error.line, line, "{text}");
            assert!(
                error.message.starts_with(reason),
                "{text}: {}",
                error.message
            );
            assert_eq!(error.to_string(), format!("line {line}: {}", error.message));
        }
    }

    #[test]
    fn matching() {
        let e = event();
        let hit = |rules: &str| first(rules, &e).map(|m| m.fingerprint.join("|"));
        assert_eq!(hit("error.type:DatabaseError -> db"), Some("db".into()));
        assert_eq!(
            hit("error.type:database* -> db"),
            None,
            "types are case-sensitive"
        );
        assert_eq!(
            hit("message:\"*CONNECTION REFUSED*\" -> refused"),
            Some("refused".into())
        );
        assert_eq!(
            hit("error.type:DatabaseError error.value:\"*refused*\" -> x"),
            None,
            "one exception must match both"
        );
        assert_eq!(
            hit("stack.function:execute app:yes -> app-execute"),
            Some("app-execute".into())
        );
        assert_eq!(
            hit("stack.module:psycopg.* app:yes -> x"),
            None,
            "detection marked site-packages out of app"
        );
        assert_eq!(
            hit("stack.abs_path:**/site-packages/** -> lib"),
            Some("lib".into())
        );
        assert_eq!(
            hit("[ function:place ] | function:execute -> caller"),
            Some("caller".into())
        );
        assert_eq!(
            hit("function:place | [ function:execute ] -> callee"),
            Some("callee".into())
        );
        assert_eq!(hit("[ function:execute ] | function:place -> x"), None);
        assert_eq!(
            hit("tags.region:eu-* level:ERROR logger:shop.* family:other -> t"),
            Some("t".into())
        );
        assert_eq!(hit("!tags.region:us-* -> not-us"), Some("not-us".into()));
        assert_eq!(
            hit("family:native -> n\nerror.type:* -> any"),
            Some("any".into()),
            "first match wins"
        );
    }
}
