//! Per-platform normalization of frame values, so that an issue survives redeploys: generated,
//! numbered or hashed parts of function, module and file names are removed or replaced by a
//! placeholder, and values that carry no identity (anonymous functions, addresses) are ignored.
//!
//! Each cleaner returns the value to hash, whether it contributes, and a hint for the grouping
//! explanation. Sentry's newstyle rules (Ruby blocks and erb suffixes, PHP anonymous classes, Java
//! lambdas and codegen markers, native `<unknown>`, JavaScript "fuzzing") are extended with:
//! bundler chunk hashes and query strings in JavaScript file names; bound/async/`new` prefixes and
//! minifier-mangled names in JavaScript functions; JDK hidden classes, ByteBuddy/Mockito/JDK
//! proxies and synthetic accessors in Java; Go closure and wrapper numbers; .NET async state
//! machines, display classes and lambda numbers; PHP 8.4 closure line numbers; Erlang/Elixir fun
//! numbers; Rust legacy/v0 mangled names and hash suffixes; GCC clone suffixes in native names.

use std::borrow::Cow;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Map, Value};

use super::demangle::demangle_rust;

/// Sentry's behaviour families: rules with `family:` match on them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Family {
    /// `native`, `c`, `cocoa`, `objc`, `swift`.
    Native,
    /// `javascript`, `node`.
    JavaScript,
    /// Everything else.
    Other,
}

impl Family {
    /// The family of a platform name.
    pub fn of(platform: &str) -> Family {
        match platform {
            "native" | "c" | "cocoa" | "objc" | "swift" => Family::Native,
            "javascript" | "node" => Family::JavaScript,
            _ => Family::Other,
        }
    }

    /// A bit for family masks.
    pub fn bit(self) -> u8 {
        match self {
            Family::Native => 1,
            Family::JavaScript => 2,
            Family::Other => 4,
        }
    }
}

/// Platforms whose context lines are hashed (source is shipped with the application, so the line
/// is what the developer wrote).
pub const CONTEXT_LINE_PLATFORMS: &[&str] = &["javascript", "node", "python", "php", "ruby"];
/// Context lines longer than this are minified or generated and do not contribute.
pub const MAX_CONTEXT_LINE_CHARS: usize = 120;

/// A frame's string fields, borrowed.
#[derive(Debug, Clone, Copy)]
pub struct FrameFields<'a> {
    /// `function`
    pub function: Option<&'a str>,
    /// `raw_function`
    pub raw_function: Option<&'a str>,
    /// `module`
    pub module: Option<&'a str>,
    /// `filename`
    pub filename: Option<&'a str>,
    /// `abs_path`
    pub abs_path: Option<&'a str>,
    /// `package`
    pub package: Option<&'a str>,
    /// `context_line`
    pub context_line: Option<&'a str>,
    /// The frame's platform, else the event's.
    pub platform: &'a str,
    /// `lineno`
    pub lineno: Option<i64>,
    /// `colno`
    pub colno: Option<i64>,
    /// Whether a source map resolved the frame (`data.sourcemap`).
    pub sourcemap_used: bool,
}

impl<'a> FrameFields<'a> {
    /// Reads a frame object; empty strings count as absent.
    pub fn read(frame: &'a Map<String, Value>, event_platform: &'a str) -> FrameFields<'a> {
        let text = |key: &str| {
            frame
                .get(key)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
        };
        FrameFields {
            function: text("function"),
            raw_function: text("raw_function"),
            module: text("module"),
            filename: text("filename"),
            abs_path: text("abs_path"),
            package: text("package"),
            context_line: text("context_line"),
            platform: text("platform").unwrap_or(event_platform),
            lineno: frame.get("lineno").and_then(Value::as_i64),
            colno: frame.get("colno").and_then(Value::as_i64),
            sourcemap_used: frame
                .get("data")
                .and_then(|d| d.get("sourcemap"))
                .is_some_and(|s| !s.is_null()),
        }
    }

    /// The frame's behaviour family.
    pub fn family(&self) -> Family {
        Family::of(self.platform)
    }
}

/// A cleaned frame value.
#[derive(Debug, Clone, PartialEq)]
pub struct Cleaned<'a> {
    /// What is hashed.
    pub value: Cow<'a, str>,
    /// Whether it contributes.
    pub contributes: bool,
    /// Why it was changed or ignored.
    pub hint: Option<&'static str>,
}

impl<'a> Cleaned<'a> {
    fn keep(value: Cow<'a, str>) -> Cleaned<'a> {
        Cleaned {
            value,
            contributes: true,
            hint: None,
        }
    }

    fn changed(value: Cow<'a, str>, original: &str, hint: &'static str) -> Cleaned<'a> {
        let hint = (value != original).then_some(hint);
        Cleaned {
            value,
            contributes: true,
            hint,
        }
    }

    fn ignored(value: Cow<'a, str>, hint: &'static str) -> Cleaned<'a> {
        Cleaned {
            value,
            contributes: false,
            hint: Some(hint),
        }
    }
}

/// Sentry's `has_url_origin`: web URLs always; `file:` URLs only where files count as URLs.
pub fn has_url_origin(path: Option<&str>, files_count_as_urls: bool) -> bool {
    let Some(path) = path else {
        return false;
    };
    ["http:", "https:", "applewebdata:", "blob:"]
        .iter()
        .any(|scheme| path.starts_with(scheme))
        || (files_count_as_urls && path.starts_with("file:"))
}

/// The last `/` or `\` separated part.
pub fn basename(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// The function name rules match on and grouping starts from: native names lose argument lists,
/// return types, template arguments and hashes; C# names lose their signature.
pub fn trim_function_name<'a>(function: &'a str, platform: &str) -> Cow<'a, str> {
    if platform == "csharp" {
        return Cow::Borrowed(function.split(" (").next().unwrap_or(function));
    }
    if Family::of(platform) == Family::Native {
        return trim_native_function(function);
    }
    Cow::Borrowed(function)
}

/// The function component's value.
pub fn clean_function<'a>(f: &FrameFields<'a>) -> Option<Cleaned<'a>> {
    let original = f.function.or(f.raw_function)?;
    let func = trim_function_name(original, f.platform);
    let family = f.family();
    let cleaned = match f.platform {
        "ruby" => clean_ruby_function(func),
        "php" => clean_php_function(func),
        "java" => clean_java_function(func),
        "go" => clean_go_function(func),
        "csharp" => {
            let value = clean_dotnet_name(func);
            let hint = "removed generated .NET name parts";
            Cleaned::changed(value.clone(), original, hint)
        }
        "elixir" => {
            let value = replace_cow(func, &ERLANG_FUN, "${1}");
            Cleaned::changed(value.clone(), original, "removed fun number")
        }
        _ if family == Family::Native => {
            if is_unknown_native_function(&func) {
                Cleaned::ignored(func, "ignored unknown function")
            } else {
                Cleaned::changed(func.clone(), original, "isolated function name")
            }
        }
        _ if family == Family::JavaScript => clean_javascript_function(f, func),
        _ => Cleaned::keep(func),
    };
    if cleaned.value.is_empty() {
        return None;
    }
    Some(cleaned)
}

fn is_unknown_native_function(func: &str) -> bool {
    matches!(func, "<redacted>" | "<unknown>" | "??" | "?")
        || is_address(func)
        || func.starts_with("<unknown>+")
}

/// `0x7fff5fbff8c0` and friends: an address, not a name.
fn is_address(text: &str) -> bool {
    text.strip_prefix("0x")
        .or_else(|| text.strip_prefix("0X"))
        .is_some_and(|hex| !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

static RUBY_BLOCK_LEVELS: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^block \(\d+ levels\) in ").expect("a valid pattern"));
static RUBY_ERB: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"__\d{4,}_\d{4,}$").expect("a valid pattern"));

fn clean_ruby_function(func: Cow<'_, str>) -> Cleaned<'_> {
    // `block (2 levels) in charge` is `block in charge` one nesting level up: the level count
    // changes when blocks are added around the call, the enclosing method does not.
    if func.starts_with("block ") {
        let value = replace_cow(func.clone(), &RUBY_BLOCK_LEVELS, "block in ");
        return Cleaned::changed(value, &func, "ruby block");
    }
    let value = replace_cow(func.clone(), &RUBY_ERB, "");
    Cleaned::changed(value, &func, "removed generated erb template suffix")
}

static PHP_CLOSURE_LINE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\{closure:(.*?):\d+\}").expect("a valid pattern"));

fn clean_php_function(func: Cow<'_, str>) -> Cleaned<'_> {
    if func.starts_with("class@anonymous") {
        // `class@anonymous\0/app/Foo.php:12$0::handle`: the file, line and counter move.
        if let Some((_, method)) = func.rsplit_once("::") {
            return Cleaned {
                value: Cow::Owned(method.to_owned()),
                contributes: true,
                hint: Some("anonymous class method"),
            };
        }
        return Cleaned::ignored(func, "ignored anonymous function");
    }
    if func.starts_with("[Anonymous") {
        return Cleaned::ignored(func, "ignored anonymous function");
    }
    if func.contains("{closure:") {
        // PHP 8.4 names closures `{closure:Scope::method():57}`; the line moves.
        let value = replace_cow(func.clone(), &PHP_CLOSURE_LINE, "{closure:${1}}");
        return Cleaned::changed(value, &func, "removed closure line number");
    }
    Cleaned::keep(func)
}

static JAVA_ACCESSOR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^access\$\d+$").expect("a valid pattern"));
static KOTLIN_LAMBDA: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\$lambda[-$]\d+").expect("a valid pattern"));

fn clean_java_function(func: Cow<'_, str>) -> Cleaned<'_> {
    if func.starts_with("lambda$") {
        return Cleaned::ignored(func, "ignored lambda function");
    }
    if func.starts_with("access$") {
        let value = replace_cow(func.clone(), &JAVA_ACCESSOR, "access$<auto>");
        return Cleaned::changed(value, &func, "removed synthetic accessor number");
    }
    if func.contains("$lambda") {
        let value = replace_cow(func.clone(), &KOTLIN_LAMBDA, "$$lambda");
        return Cleaned::changed(value, &func, "removed lambda number");
    }
    Cleaned::keep(func)
}

/// Go names closures by position (`handler.func2`, `glob..func1`, nested `func1.3`) and
/// numbers `go`/`defer` wrappers and range-over-func bodies: adding one renumbers the rest.
fn clean_go_function(func: Cow<'_, str>) -> Cleaned<'_> {
    if !func.bytes().any(|b| b.is_ascii_digit()) {
        return Cleaned::keep(func);
    }
    let mut out = String::with_capacity(func.len());
    for (i, segment) in func.split('.').enumerate() {
        if i > 0 {
            out.push('.');
        }
        let digits_at = segment.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        let (head, tail) = segment.split_at(digits_at);
        if tail.is_empty() {
            out.push_str(segment);
        } else if head.is_empty() && i > 0 {
            // A nested closure number (`func1.2`).
            out.push_str("func");
        } else if matches!(head, "func" | "gowrap" | "deferwrap") || head.ends_with("-range") {
            out.push_str(head);
        } else {
            out.push_str(segment);
        }
    }
    let hint = "removed closure number";
    Cleaned::changed(Cow::Owned(out), &func, hint)
}

static DOTNET_GENERATED: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        // <Method>d__12 (async/iterator state machine), <Method>b__3_0 (lambda),
        // <Method>g__Local|2_0 (local function)
        r"(>[a-z])__\d+(?:_\d+)?",
        r"|(g__[A-Za-z0-9_]+)\|\d+(?:_\d+)?",
        // <>c__DisplayClass12_0 (closure class)
        r"|(c__DisplayClass)\d+(?:_\d+)?",
        // lambda_method123 (expression trees)
        r"|(lambda_method)\d+",
    ))
    .expect("a valid pattern")
});

/// Removes the numbers the C# compiler gives to state machines, lambdas and closure classes.
pub fn clean_dotnet_name(name: Cow<'_, str>) -> Cow<'_, str> {
    if !(name.contains("__") || name.contains("lambda_method")) {
        return name;
    }
    replace_cow(name, &DOTNET_GENERATED, "${1}${2}${3}${4}")
}

static ERLANG_FUN: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(-fun-)\d+-").expect("a valid pattern"));

/// JavaScript "fuzzing": the same function is named differently by engines and bundlers.
fn clean_javascript_function<'a>(f: &FrameFields<'a>, func: Cow<'a, str>) -> Cleaned<'a> {
    let mut name: &str = &func;
    // `bound handler`, `async handler`, `new Foo`: call-site decorations.
    loop {
        let stripped = name
            .strip_prefix("bound ")
            .or_else(|| name.strip_prefix("async "))
            .or_else(|| name.strip_prefix("new "));
        match stripped {
            Some(rest) => name = rest.trim_start(),
            None => break,
        }
    }
    // `Promise.all (index 3)` and `Foo.bar [as baz]`: per-call annotations.
    if let Some(at) = name.find(" (index ") {
        name = &name[..at];
    }
    if let Some(at) = name.find(" [as ") {
        name = &name[..at];
    }
    let name = name.trim();
    // `Object.foo` and `Foo.foo` are one function in different engines.
    let short = name.rsplit('.').next().unwrap_or(name);
    let changed = short != func.as_ref();
    let value: Cow<'a, str> = if changed {
        Cow::Owned(short.to_owned())
    } else {
        func.clone()
    };
    if short.is_empty()
        || matches!(
            short,
            "?" | "<anonymous function>"
                | "<anonymous>"
                | "Anonymous function"
                | "anonymous"
                | "(anonymous)"
        )
        || short.ends_with("/<")
    {
        return Cleaned::ignored(value, "ignored unknown function name");
    }
    if f.sourcemap_used
        && f.context_line
            .is_some_and(|l| l.chars().count() <= MAX_CONTEXT_LINE_CHARS)
    {
        return Cleaned::ignored(
            value,
            "ignored because sourcemap used and context line available",
        );
    }
    if is_mangled_name(short) && looks_minified(f) {
        return Cleaned::ignored(value, "ignored minified function name");
    }
    if changed {
        Cleaned {
            value,
            contributes: true,
            hint: Some("trimmed javascript function"),
        }
    } else {
        Cleaned::keep(value)
    }
}

/// A name a minifier made up: one or two characters, or three with a digit or `$`.
fn is_mangled_name(name: &str) -> bool {
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '$';
    let len = name.chars().count();
    name.chars().all(ident)
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && (len <= 2 || (len == 3 && name.chars().any(|c| c.is_ascii_digit() || c == '$')))
}

/// Whether a JavaScript frame comes from minified code that no source map resolved.
pub fn looks_minified(f: &FrameFields<'_>) -> bool {
    if f.sourcemap_used {
        return false;
    }
    let path = f.abs_path.or(f.filename).unwrap_or("");
    let name = strip_query(basename(path));
    name.contains(".min.")
        || f.context_line
            .is_some_and(|l| l.chars().count() > MAX_CONTEXT_LINE_CHARS)
        || (f.lineno.is_some_and(|l| l <= 5) && f.colno.is_some_and(|c| c > 300))
        || matches!(normalize_bundle_name(name), Cow::Owned(_))
}

/// Drops `?query` and `#fragment`.
pub fn strip_query(path: &str) -> &str {
    path.split(['?', '#']).next().unwrap_or(path)
}

/// The module component's value.
pub fn clean_module<'a>(f: &FrameFields<'a>) -> Option<Cleaned<'a>> {
    let module = f.module?;
    let cleaned = match f.family() {
        Family::JavaScript => {
            // A "module" that is really a URL fragment says nothing about the code.
            if module.contains('/') && f.abs_path.is_some_and(|p| p.ends_with(module)) {
                return Some(Cleaned::ignored(
                    Cow::Borrowed(module),
                    "ignored bad javascript module",
                ));
            }
            // Node derives modules from file names (`dist:main.3f2a9c1b`).
            let (head, last) = match module.rfind([':', '/']) {
                Some(at) => module.split_at(at + 1),
                None => ("", module),
            };
            match normalize_hashed_name(last, false) {
                Cow::Borrowed(_) => Cleaned::keep(Cow::Borrowed(module)),
                Cow::Owned(last) => Cleaned {
                    value: Cow::Owned(format!("{head}{last}")),
                    contributes: true,
                    hint: Some("removed bundle hash"),
                },
            }
        }
        _ => match f.platform {
            "java" => clean_java_module(module),
            "csharp" => {
                let value = clean_dotnet_name(Cow::Borrowed(module));
                Cleaned::changed(value.clone(), module, "removed generated .NET name parts")
            }
            _ => Cleaned::keep(Cow::Borrowed(module)),
        },
    };
    Some(cleaned)
}

/// Java code generation markers (Sentry's list, plus JDK hidden classes, proxies, ByteBuddy and
/// Mockito): the generated part changes per run or build.
static JAVA_CODEGEN: LazyLock<Vec<(Regex, &'static str)>> =
    LazyLock::new(|| {
        [
        (
            r"((?:sun|jdk\.internal)\.reflect\.Generated(?:Serialization)?ConstructorAccessor)\d+",
            "${1}<auto>",
        ),
        (r"(\$\$[\w]+?CGLIB\$\$)[a-fA-F0-9]+(?:_[0-9]+)?", "${1}<auto>"),
        (r"(\$\$_javassist)(?:_seam)?(?:_[0-9]+)?", "${1}<auto>"),
        (r"(\$fn__)\d+", "${1}<auto>"),
        (r"(\$\$?EnhancerBy[\w]+?\$?\$)[a-fA-F0-9]+(?:_[0-9]+)?", "${1}<auto>"),
        (r"(\$\$?FastClassBy[\w]+?\$?\$)[a-fA-F0-9]+(?:_[0-9]+)?", "${1}<auto>"),
        (r"(\$\$?HibernateProxy\$?\$)\w+(?:_[0-9]+)?", "${1}<auto>"),
        (r"(\$\$?ByteBuddy\$?\$)\w+", "${1}<auto>"),
        (r"(\$MockitoMock\$)\w+", "${1}<auto>"),
        (r"(\$Proxy)\d+", "${1}<auto>"),
        // JDK 15+ hidden classes: `LambdaForm$MH/0x0000000800c0c000`.
        (r"(/)0x[0-9a-fA-F]+", "${1}<auto>"),
    ]
    .into_iter()
    .map(|(pattern, replacement)| {
        (
            Regex::new(pattern).expect("a valid pattern"),
            replacement,
        )
    })
    .collect()
    });

fn clean_java_module(module: &str) -> Cleaned<'_> {
    // `Foo$$Lambda$12/0x...` (JDK 8-20) and `Foo$$Lambda/0x...` (JDK 21+).
    if module.contains("$$Lambda") {
        return Cleaned::ignored(Cow::Borrowed(module), "ignored java lambda");
    }
    for prefix in [
        "sun.reflect.GeneratedMethodAccessor",
        "jdk.internal.reflect.GeneratedMethodAccessor",
    ] {
        if module.starts_with(prefix) {
            return Cleaned::changed(Cow::Borrowed(prefix), module, "removed reflection marker");
        }
    }
    if !(module.contains('$') || module.contains("/0x") || module.contains("Accessor")) {
        return Cleaned::keep(Cow::Borrowed(module));
    }
    let mut value = Cow::Borrowed(module);
    for (regex, replacement) in JAVA_CODEGEN.iter() {
        value = replace_cow(value, regex, replacement);
    }
    Cleaned::changed(value.clone(), module, "removed codegen marker")
}

/// The filename component's value: the lowercased base name.
pub fn clean_filename<'a>(f: &FrameFields<'a>) -> Option<Cleaned<'a>> {
    let path = f.filename.or(f.abs_path)?;
    let family = f.family();
    let path = if family == Family::JavaScript {
        strip_query(path)
    } else {
        path
    };
    let name = basename(path).to_lowercase();
    if has_url_origin(f.abs_path, false) || has_url_origin(f.filename, false) {
        return Some(Cleaned::ignored(
            Cow::Owned(name),
            "ignored because frame points to a URL",
        ));
    }
    if name == "<anonymous>" {
        return Some(Cleaned::ignored(
            Cow::Owned(name),
            "ignored because filename is anonymous",
        ));
    }
    if name == "[native code]" || name == "native code" {
        return Some(Cleaned::ignored(
            Cow::Owned(name),
            "ignored because filename suggests native code",
        ));
    }
    // The hash is found in the name as written: Vite's are mixed-case letters
    // (`index-BWxGqBIf.js`), which lowercasing would make indistinguishable from a word.
    if family == Family::JavaScript
        && let Cow::Owned(normalized) = normalize_bundle_name(basename(path))
    {
        let normalized = normalized.to_lowercase();
        return Some(Cleaned {
            value: Cow::Owned(normalized),
            contributes: true,
            hint: Some("removed bundle hash"),
        });
    }
    if f.platform == "java" && name.contains("$$_javassist") {
        let value = replace_cow(
            Cow::Borrowed(name.as_str()),
            &JAVA_CODEGEN[2].0,
            "${1}<auto>",
        )
        .into_owned();
        return Some(Cleaned {
            value: Cow::Owned(value),
            contributes: true,
            hint: Some("cleaned javassist parts"),
        });
    }
    Some(Cleaned::keep(Cow::Owned(name)))
}

/// Replaces the content hashes bundlers put into file names (`main.3f2a9c1b.js`,
/// `chunk-ABCD1234.js`, `index-BWxGqBIf.js`, `_app-3f8b2c1d4e5f6a7b.js`) with `<hash>`.
pub fn normalize_bundle_name(name: &str) -> Cow<'_, str> {
    if let Some(normalized) = rollup_hash(name) {
        return Cow::Owned(normalized);
    }
    normalize_hashed_name(name, true)
}

/// Rollup's (and so Vite's) `[name]-[hash].js`: the default hash is 8 characters of url-safe
/// base64, which contains `-` or `_` in about one build out of five (`index-B_x-Gq1f.js`), and
/// the segment rule cannot see a hash split by those. Recognized when the 8 characters before
/// the extension follow a `-`, contain a `-` or `_`, and a digit or an uppercase letter.
fn rollup_hash(name: &str) -> Option<String> {
    let (stem, extension) = name.rsplit_once('.')?;
    if extension.is_empty() || !extension.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let split = stem.len().checked_sub(8)?;
    if !stem.is_char_boundary(split) {
        return None;
    }
    let (head, hash) = stem.split_at(split);
    let head = head.strip_suffix('-').filter(|h| !h.is_empty())?;
    let bytes = hash.as_bytes();
    let is_hash = bytes
        .iter()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_'))
        && bytes.iter().any(|b| matches!(b, b'-' | b'_'))
        && bytes
            .iter()
            .any(|b| b.is_ascii_digit() || b.is_ascii_uppercase());
    is_hash.then(|| format!("{head}-<hash>.{extension}"))
}

/// [`normalize_bundle_name`] for a name with (file) or without (module) an extension.
fn normalize_hashed_name(name: &str, has_extension: bool) -> Cow<'_, str> {
    let mut out: Option<String> = None;
    let mut start = 0;
    let bytes = name.as_bytes();
    let ends = (0..=bytes.len())
        .filter(|&i| i == bytes.len() || matches!(bytes[i], b'.' | b'-' | b'~' | b'_'));
    for (index, end) in ends.enumerate() {
        let segment = &name[start..end];
        // The last `.` segment is the extension, never a hash.
        let is_extension =
            has_extension && end == bytes.len() && start > 0 && bytes[start - 1] == b'.';
        if !is_extension && is_hash_segment(segment, index == 0) {
            let out = out.get_or_insert_with(|| name[..start].to_owned());
            out.push_str("<hash>");
        } else if let Some(out) = out.as_mut() {
            out.push_str(segment);
        }
        if end < bytes.len()
            && let Some(out) = out.as_mut()
        {
            out.push(char::from(bytes[end]));
        }
        start = end + 1;
    }
    match out {
        Some(out) => Cow::Owned(out),
        None => Cow::Borrowed(name),
    }
}

fn is_hash_segment(segment: &str, first: bool) -> bool {
    if segment.len() < 8
        || segment.len() > 64
        || !segment.bytes().all(|b| b.is_ascii_alphanumeric())
    {
        return false;
    }
    let digits = segment.bytes().filter(u8::is_ascii_digit).count();
    let upper = segment.bytes().filter(u8::is_ascii_uppercase).count();
    let lower = segment.bytes().filter(u8::is_ascii_lowercase).count();
    let hex = segment.bytes().all(|b| b.is_ascii_hexdigit());
    // A leading segment is the chunk's name unless it is plainly a hex hash.
    if first {
        return hex && digits > 0 && (upper == 0 || lower == 0);
    }
    (hex && digits > 0 && (upper == 0 || lower == 0))
        || (digits > 0 && upper + lower > 0)
        || (segment.len() == 8 && upper >= 3 && lower >= 2)
}

fn replace_cow<'a>(text: Cow<'a, str>, regex: &Regex, replacement: &str) -> Cow<'a, str> {
    match regex.replace_all(&text, replacement) {
        Cow::Borrowed(_) => text,
        Cow::Owned(changed) => Cow::Owned(changed),
    }
}

// --- native function names -------------------------------------------------------------------

/// Placeholders that keep operator names out of the bracket balancing.
const OP_SHL: char = '\u{E000}';
const OP_LT: char = '\u{E001}';
const OP_CALL: char = '\u{E002}';
const OP_ARROW: char = '\u{E003}';
const ARROW: char = '\u{E004}';
const ANON_NS: char = '\u{E005}';

static NATIVE_LAMBDA: LazyLock<Regex> = LazyLock::new(|| {
    // gcc `{lambda(int)#1}`, msvc `lambda_<32 hex>`, clang `$_0`.
    Regex::new(r"\{lambda\([^)]*\)#\d+\}|\blambda_[a-f0-9]{32}\b|\$_\d+\b")
        .expect("a valid pattern")
});
static MSVC_ANON_NAMESPACE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\?A0x[a-f0-9]{8}::").expect("a valid pattern"));

/// Sentry's `trim_native_function_name`, reimplemented: the bare function name of a demangled
/// C/C++/Rust/Swift symbol.
pub fn trim_native_function(function: &str) -> Cow<'_, str> {
    let trimmed = function.trim();
    if matches!(trimmed, "<redacted>" | "<unknown>") || trimmed.starts_with(['[', '+', '-']) {
        // Objective-C `-[Class method:]` stays as is.
        return Cow::Borrowed(trimmed);
    }
    let demangled = demangle_rust(trimmed);
    let name: &str = demangled.as_deref().unwrap_or(trimmed);
    let simple = !name.contains(['(', '<', '[', ' ', '@', '`', '$', '?'])
        && !name.contains("::h")
        && !name.contains(".cold")
        && !name.contains(".part.")
        && !name.contains(".isra.")
        && !name.contains(".constprop.");
    if simple {
        return match demangled {
            Some(d) => Cow::Owned(d),
            None => Cow::Borrowed(trimmed),
        };
    }
    Cow::Owned(trim_native_slow(name))
}

fn trim_native_slow(name: &str) -> String {
    // `[clone .constprop.0]` annotations and `.cold`/`.part.N` clone suffixes.
    let mut s = replace_enclosed(name, '[', ']', |inner, _| {
        if inner.starts_with("clone .") {
            String::new()
        } else {
            format!("[{inner}]")
        }
    });
    loop {
        let before = s.len();
        for suffix in [".cold", ".part", ".isra", ".constprop", ".lto_priv"] {
            let trimmed_digits = s.trim_end_matches(|c: char| c.is_ascii_digit() || c == '.');
            if let Some(stem) = trimmed_digits.strip_suffix(suffix)
                && !stem.is_empty()
            {
                s.truncate(stem.len());
            }
        }
        if s.len() == before {
            break;
        }
    }
    let mut s = s.trim_end().to_owned();
    // C++ trailers.
    loop {
        let t = s.trim_end();
        let stripped = t.strip_suffix('&').or_else(|| {
            t.strip_suffix("const")
                .filter(|rest| rest.is_empty() || rest.ends_with([' ', ')']))
        });
        match stripped {
            Some(rest) => s = rest.trim_end().to_owned(),
            None => break,
        }
    }
    let mut s = s
        .replace("operator<<", &format!("operator{OP_SHL}"))
        .replace("operator<", &format!("operator{OP_LT}"))
        .replace("operator()", &format!("operator{OP_CALL}"))
        .replace("operator->", &format!("operator{OP_ARROW}"))
        .replace(" -> ", &format!(" {ARROW} "))
        .replace("`anonymous namespace'", &ANON_NS.to_string());
    if s.contains("lambda") || s.contains("$_") {
        s = NATIVE_LAMBDA.replace_all(&s, "lambda").into_owned();
    }
    if s.contains("?A0x") {
        s = MSVC_ANON_NAMESPACE
            .replace_all(&s, format!("{ANON_NS}::").as_str())
            .into_owned();
    }
    // Argument lists.
    let s = replace_enclosed(&s, '(', ')', |inner, _| {
        let inner = inner.trim();
        if inner == "anonymous namespace" || inner == "operator" {
            format!("({inner})")
        } else {
            String::new()
        }
    });
    // Template arguments: `<T>`, except a leading `<Foo as Bar>` (Rust trait impls), which
    // becomes `Foo`.
    let s = process_generics(&s, 0);
    let tokens = split_tokens(&s);
    let arrow = ARROW.to_string();
    let function = match tokens.iter().rposition(|t| *t == arrow) {
        Some(at) if at > 0 => {
            let mut candidate = tokens[at - 1].as_str();
            if candidate == "throws" && at > 1 {
                candidate = tokens[at - 2].as_str();
            }
            candidate.to_owned()
        }
        _ => tokens.last().cloned().unwrap_or_default(),
    };
    let function = if tokens.iter().any(|t| t == "closure") && function != "closure" {
        format!("closure in {function}")
    } else {
        function
    };
    let mut function = function
        .replace(OP_SHL, "<<")
        .replace(OP_LT, "<")
        .replace(OP_CALL, "()")
        .replace([OP_ARROW, ARROW], "->")
        .replace(ANON_NS, "`anonymous namespace'");
    if function.is_empty() {
        return name.to_owned();
    }
    // Rust `::h<16 hex>`, glibc symbol versions, Windows `@N` decorations.
    if let Some((head, hash)) = function.rsplit_once("::h")
        && hash.len() == 16
        && hash.bytes().all(|b| b.is_ascii_hexdigit())
    {
        function.truncate(head.len());
    }
    if let Some(at) = function.find("@GLIBC_") {
        let at = if function[..at].ends_with('@') {
            at - 1
        } else {
            at
        };
        function.truncate(at);
    }
    if let Some((head, tail)) = function.rsplit_once('@')
        && !tail.is_empty()
        && tail.bytes().all(|b| b.is_ascii_digit())
    {
        let head = head.strip_prefix('@').unwrap_or(head);
        if !head.is_empty() {
            function = head.to_owned();
        }
    }
    function
}

fn process_generics(s: &str, depth: usize) -> String {
    replace_enclosed(s, '<', '>', |inner, start| {
        if inner == "lambda" || NATIVE_LAMBDA.is_match(inner) {
            return format!("<{inner}>");
        }
        if start > 0 || depth > 8 {
            return "<T>".to_owned();
        }
        // `<F as Trait>::call`: prefer the implementing type; blanket impls (`<T as Foo>`)
        // keep the trait.
        let inner = match inner.as_bytes() {
            [c, b' ', b'a', b's', b' ', ..] if c.is_ascii_uppercase() => &inner[5..],
            _ => inner,
        };
        let inner = process_generics(inner, depth + 1);
        inner.split(" as ").next().unwrap_or("").to_owned()
    })
}

/// Replaces each top-level `open ... close` group with `f(inner, start)`; unbalanced closers are
/// kept as text.
fn replace_enclosed(
    s: &str,
    open: char,
    close: char,
    mut f: impl FnMut(&str, usize) -> String,
) -> String {
    if !s.contains(open) {
        return s.to_owned();
    }
    let mut out = String::with_capacity(s.len());
    let mut depth = 0usize;
    let mut group_start = 0;
    for (at, c) in s.char_indices() {
        if c == open {
            if depth == 0 {
                group_start = at;
            }
            depth += 1;
        } else if c == close && depth > 0 {
            depth -= 1;
            if depth == 0 {
                out.push_str(&f(&s[group_start + open.len_utf8()..at], group_start));
            }
        } else if depth == 0 {
            out.push(c);
        }
    }
    if depth > 0 {
        // An unclosed group: keep it as written.
        out.push_str(&s[group_start..]);
    }
    out
}

/// Whitespace-separated tokens, not splitting inside brackets.
fn split_tokens(s: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut current = String::new();
    let mut stack: Vec<char> = Vec::new();
    for c in s.chars() {
        let closer = match c {
            '(' => Some(')'),
            '{' => Some('}'),
            '[' => Some(']'),
            '<' => Some('>'),
            _ => None,
        };
        if let Some(closer) = closer {
            stack.push(closer);
            current.push(c);
        } else if stack.last() == Some(&c) {
            stack.pop();
            current.push(c);
        } else if stack.is_empty() && c.is_whitespace() {
            if !current.is_empty() {
                tokens.push(std::mem::take(&mut current));
            }
        } else {
            current.push(c);
        }
    }
    if !current.is_empty() {
        tokens.push(current);
    }
    tokens
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn fields(frame: &Value, platform: &'static str) -> FrameFields<'static> {
        let frame: &'static Value = Box::leak(Box::new(frame.clone()));
        FrameFields::read(frame.as_object().unwrap(), platform)
    }

    fn function(frame: Value, platform: &'static str) -> (String, bool) {
        let c = clean_function(&fields(&frame, platform)).unwrap();
        (c.value.into_owned(), c.contributes)
    }

    #[test]
    fn every_pattern_compiles() {
        for regex in [
            &*RUBY_BLOCK_LEVELS,
            &*RUBY_ERB,
            &*PHP_CLOSURE_LINE,
            &*JAVA_ACCESSOR,
            &*KOTLIN_LAMBDA,
            &*DOTNET_GENERATED,
            &*ERLANG_FUN,
            &*NATIVE_LAMBDA,
            &*MSVC_ANON_NAMESPACE,
        ] {
            assert!(!regex.as_str().is_empty());
        }
        assert_eq!(JAVA_CODEGEN.len(), 11);
    }

    #[test]
    fn native_names() {
        let cases = [
            ("myapp::handler::h0123456789abcdef", "myapp::handler"),
            ("_ZN5myapp7handler17h0123456789abcdefE", "myapp::handler"),
            ("_RNvCs1234_5myapp7handler", "myapp::handler"),
            (
                "std::rt::lang_start::{{closure}}",
                "std::rt::lang_start::{{closure}}",
            ),
            (
                "<alloc::boxed::Box<F,A> as core::ops::function::FnOnce<Args>>::call_once",
                "alloc::boxed::Box<T>::call_once",
            ),
            (
                "void foo::bar<int>(std::string const&) const",
                "foo::bar<T>",
            ),
            (
                "std::vector<int>::push_back(int&&)",
                "std::vector<T>::push_back",
            ),
            ("operator<<(std::ostream&, Foo const&)", "operator<<"),
            ("Foo::operator()(int)", "Foo::operator()"),
            (
                "main::{lambda(int)#1}::operator()(int) const",
                "main::lambda::operator()",
            ),
            ("compute(int) [clone .constprop.0]", "compute"),
            ("compute.cold", "compute"),
            ("memcpy@@GLIBC_2.14", "memcpy"),
            ("_foo@12", "_foo"),
            ("-[NSObject description]", "-[NSObject description]"),
            (
                "(anonymous namespace)::helper(int)",
                "(anonymous namespace)::helper",
            ),
        ];
        for (input, expected) in cases {
            assert_eq!(trim_native_function(input), expected, "{input}");
        }
        assert!(!function(json!({"function": "<unknown>"}), "native").1);
        assert!(!function(json!({"function": "0x7fff5fbff8c0"}), "native").1);
        assert!(!function(json!({"function": "<redacted>"}), "cocoa").1);
    }

    #[test]
    fn javascript_functions() {
        let f = |name: &str| {
            function(
                json!({"function": name, "abs_path": "/app/src/a.js"}),
                "node",
            )
        };
        assert_eq!(f("bound handleClick"), ("handleClick".into(), true));
        assert_eq!(f("async Promise.all (index 3)"), ("all".into(), true));
        assert!(!f("Object.<anonymous>").1);
        assert!(!f("?").1);
        assert_eq!(
            f("Router.handle [as handle_request]"),
            ("handle".into(), true)
        );
        assert!(!f("outer/<").1);
        let minified = json!({"function": "t", "abs_path": "https://shop.example/static/js/main.3f2a9c1b.js", "lineno": 1, "colno": 48213});
        assert!(!function(minified, "javascript").1);
        let minified_method = json!({"function": "r.handleClick", "abs_path": "https://shop.example/static/js/main.3f2a9c1b.js", "lineno": 1, "colno": 48213});
        assert_eq!(
            function(minified_method, "javascript"),
            ("handleClick".into(), true)
        );
        let plain_short =
            json!({"function": "go", "abs_path": "/app/src/a.js", "lineno": 10, "colno": 3});
        assert!(
            function(plain_short, "node").1,
            "short names in unminified code count"
        );
    }

    #[test]
    fn bundle_names() {
        let cases = [
            ("main.3f2a9c1b.js", "main.<hash>.js"),
            ("main.3f2a9c1b.chunk.js", "main.<hash>.chunk.js"),
            ("chunk-ABCD1234.js", "chunk-<hash>.js"),
            ("index-BWxGqBIf.js", "index-<hash>.js"),
            ("_app-3f8b2c1d4e5f6a7b.js", "_app-<hash>.js"),
            ("2d4f3b1a.9c8e7f6d.js", "<hash>.<hash>.js"),
            ("runtime~main.8d3f1c2a.js", "runtime~main.<hash>.js"),
            ("app.js", "app.js"),
            ("jquery.min.js", "jquery.min.js"),
            ("lodash.4.17.21.js", "lodash.4.17.21.js"),
            ("ListView-Settings.js", "ListView-Settings.js"),
            ("analytics-bootstrap.js", "analytics-bootstrap.js"),
            ("index-B_x-Gq1f.js", "index-<hash>.js"),
            ("vendor-react-9kQ_2-Lm.js", "vendor-react-<hash>.js"),
            ("use-auth-hook.js", "use-auth-hook.js"),
            ("date-fns_locale.js", "date-fns_locale.js"),
        ];
        for (input, expected) in cases {
            assert_eq!(normalize_bundle_name(input), expected, "{input}");
        }
        let f = fields(
            &json!({"filename": "/srv/dist/main.3f2a9c1b.js?v=12#x"}),
            "node",
        );
        assert_eq!(clean_filename(&f).unwrap().value, "main.<hash>.js");
        // Vite's letter-only hashes are recognized before the name is lowercased.
        let f = fields(
            &json!({"filename": "app:///assets/index-BWxGqBIf.js"}),
            "javascript",
        );
        assert_eq!(clean_filename(&f).unwrap().value, "index-<hash>.js");
        let f = fields(
            &json!({"module": "dist:main.3f2a9c1b", "abs_path": "/srv/dist/main.3f2a9c1b.js"}),
            "node",
        );
        assert_eq!(clean_module(&f).unwrap().value, "dist:main.<hash>");
    }

    #[test]
    fn java_names() {
        let m = |module: &str| {
            let c = clean_module(&fields(&json!({"module": module}), "java")).unwrap();
            (c.value.into_owned(), c.contributes)
        };
        assert!(!m("com.shop.Orders$$Lambda$123/0x0000000800c0c000").1);
        assert!(!m("com.shop.Orders$$Lambda/0x0000000800c0c000").1);
        assert_eq!(
            m("sun.reflect.GeneratedMethodAccessor123").0,
            "sun.reflect.GeneratedMethodAccessor"
        );
        assert_eq!(
            m("com.shop.OrderService$$EnhancerBySpringCGLIB$$3f2a9c1b").0,
            "com.shop.OrderService$$EnhancerBySpringCGLIB$$<auto>"
        );
        assert_eq!(
            m("com.shop.OrderService$$SpringCGLIB$$0").0,
            "com.shop.OrderService$$SpringCGLIB$$<auto>"
        );
        assert_eq!(
            m("com.shop.OrderService$$FastClassBySpringCGLIB$$8e7d6c5b").0,
            "com.shop.OrderService$$FastClassBySpringCGLIB$$<auto>"
        );
        assert_eq!(
            m("com.shop.User$HibernateProxy$oRWxjAWT").0,
            "com.shop.User$HibernateProxy$<auto>"
        );
        assert_eq!(m("com.sun.proxy.$Proxy123").0, "com.sun.proxy.$Proxy<auto>");
        assert_eq!(
            m("java.lang.invoke.LambdaForm$MH/0x0000000800c0c000").0,
            "java.lang.invoke.LambdaForm$MH/<auto>"
        );
        assert_eq!(
            m("com.shop.Api_$$_javassist_74").0,
            "com.shop.Api_$$_javassist<auto>"
        );
        assert_eq!(m("com.shop.Orders$Inner").0, "com.shop.Orders$Inner");
        let f = |name: &str| function(json!({"function": name}), "java");
        assert!(!f("lambda$placeOrder$0").1);
        assert_eq!(f("access$000").0, "access$<auto>");
        assert_eq!(f("placeOrder$lambda-2").0, "placeOrder$lambda");
    }

    #[test]
    fn go_dotnet_ruby_php_names() {
        let go = |name: &str| function(json!({"function": name}), "go").0;
        assert_eq!(go("handler.func2"), "handler.func");
        assert_eq!(go("glob..func1"), "glob..func");
        assert_eq!(go("(*Server).Serve.func1.3"), "(*Server).Serve.func.func");
        assert_eq!(go("main.gowrap1"), "main.gowrap");
        assert_eq!(go("Process-range1"), "Process-range");
        assert_eq!(go("http2Server"), "http2Server");
        let net = |name: &str| function(json!({"function": name}), "csharp").0;
        assert_eq!(
            net("<ProcessAsync>d__12.MoveNext"),
            "<ProcessAsync>d.MoveNext"
        );
        assert_eq!(net("<Main>b__0_0"), "<Main>b");
        assert_eq!(net("<Run>g__Local|2_0"), "<Run>g__Local");
        assert_eq!(net("lambda_method42"), "lambda_method");
        assert_eq!(
            net("Checkout(Order order, Int32 retries)"),
            "Checkout(Order order, Int32 retries)"
                .split(" (")
                .next()
                .unwrap()
        );
        let module = clean_module(&fields(
            &json!({"module": "Shop.Orders+<>c__DisplayClass12_0"}),
            "csharp",
        ))
        .unwrap();
        assert_eq!(module.value, "Shop.Orders+<>c__DisplayClass");
        let ruby = |name: &str| function(json!({"function": name}), "ruby").0;
        assert_eq!(ruby("block (2 levels) in charge"), "block in charge");
        assert_eq!(ruby("block in charge"), "block in charge");
        assert_eq!(
            ruby("_app_views_orders_show_html_erb__1234567_89012345"),
            "_app_views_orders_show_html_erb"
        );
        assert_eq!(ruby("rescue in charge"), "rescue in charge");
        let php = |name: &str| function(json!({"function": name}), "php");
        assert_eq!(
            php("class@anonymous\u{0}/app/Foo.php:12$0::handle"),
            ("handle".into(), true)
        );
        assert_eq!(
            php("{closure:App\\Http\\OrderController::store():57}").0,
            "{closure:App\\Http\\OrderController::store()}"
        );
        assert_eq!(php("{closure}").0, "{closure}");
        assert_eq!(
            function(json!({"function": "-handle_call/3-fun-2-"}), "elixir").0,
            "-handle_call/3-fun-"
        );
    }
}
