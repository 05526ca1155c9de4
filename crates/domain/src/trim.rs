//! Relay-style trimming, and the one walk over an event that applies it together with data
//! scrubbing ([`crate::scrub`]), recording every change in the event's `_meta`.
//!
//! Limits follow Relay (`relay-event-schema` `MaxChars`/`BagSize` attributes and
//! `relay-event-normalization/src/trimming.rs`; own implementation):
//!
//! * Strings longer than their limit plus its allowance are cut to the limit, the last three
//!   characters being `...`: messages, exception and breadcrumb messages 8192 (+200), exception
//!   types and modules, function names 256 (+20), file paths and URLs 256 (+40), culprit and
//!   transaction 200, server name 256 (+20), breadcrumb type and category 128, user id, name and
//!   username 128, email 75, tag values 200, URL fragment 1024 (+100).
//! * Databags are bounded in depth (containers at the last level become JSON text) and in
//!   estimated JSON bytes (strings are cut to what is left, then later entries are dropped):
//!   `extra` 7 levels, 256 KiB in all and 16 KiB per entry; each context, request data, headers,
//!   env, `user.data` and CSP reports 7 levels, 8 KiB; frame `vars`, breadcrumb data,
//!   `mechanism.data`, log parameters and cookies 5 levels, 2 KiB; the query string 3 levels,
//!   1 KiB.
//! * At most 100 breadcrumbs (the newest) and 250 frames per stack trace (the first and the last
//!   125; the stack trace records `frames_omitted: [125, n - 125]`).
//!
//! `_meta` mirrors the event's paths, each annotated node holding an object under the key `""`:
//! `{"rem": [[rule, "s" | "x", start, end]], "len": original length, "err": [...], "val": ...}`.
//! Ranges count characters of the new value; `len` is the original length (characters for
//! strings, items for containers), kept from the first change.

use serde_json::{Map, Value};

use crate::scrub::{
    FILTERED, KeyClass, RULE_CREDITCARD, RULE_IP_FILTER, RULE_IP_REMOVE, Redaction, Scrubber,
    ScrubbingConfig, is_card_number,
};

/// A string limit: a trimmed string keeps `chars` characters (`...` included); strings up to
/// `chars + allowance` are left alone (Relay's `MaxChars` limit and allowance).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MaxChars {
    /// Characters kept when trimming.
    pub chars: usize,
    /// Extra characters tolerated before trimming.
    pub allowance: usize,
}

/// Messages, exception values, breadcrumb messages (Relay: 8192 + 200).
pub const MESSAGE: MaxChars = MaxChars {
    chars: 8192,
    allowance: 200,
};
/// Function names, exception types and modules (Relay: `Symbol`, 256 + 20).
pub const SYMBOL: MaxChars = MaxChars {
    chars: 256,
    allowance: 20,
};
/// File paths and URLs (Relay: `Path`, 256 + 40).
pub const PATH: MaxChars = MaxChars {
    chars: 256,
    allowance: 40,
};
/// Culprit and transaction (Relay: 200).
pub const CULPRIT: MaxChars = MaxChars {
    chars: 200,
    allowance: 0,
};
/// Server name (Relay: 256 + 20).
pub const SERVER_NAME: MaxChars = MaxChars {
    chars: 256,
    allowance: 20,
};
/// Breadcrumb type and category, user id, username and name (Relay: 128).
pub const ENUM_LIKE: MaxChars = MaxChars {
    chars: 128,
    allowance: 0,
};
/// User email (Relay: 75).
pub const EMAIL: MaxChars = MaxChars {
    chars: 75,
    allowance: 0,
};
/// Tag values (Relay: 200).
pub const TAG_VALUE: MaxChars = MaxChars {
    chars: 200,
    allowance: 0,
};
/// The URL fragment (Relay: 1024 + 100).
pub const FRAGMENT: MaxChars = MaxChars {
    chars: 1024,
    allowance: 100,
};

/// A databag limit: nesting depth and estimated JSON bytes (Relay's `BagSize`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BagSize {
    /// Levels below the bag; containers at the last level become JSON text.
    pub depth: usize,
    /// Estimated JSON bytes.
    pub bytes: usize,
}

/// The query string (Relay: `small`).
pub const SMALL: BagSize = BagSize {
    depth: 3,
    bytes: 1024,
};
/// Frame vars, breadcrumb data, mechanism data, log params, cookies (Relay: `medium`).
pub const MEDIUM: BagSize = BagSize {
    depth: 5,
    bytes: 2048,
};
/// Each context, request data, headers and env, user data (Relay: `large`).
pub const LARGE: BagSize = BagSize {
    depth: 7,
    bytes: 8192,
};
/// All of `extra` (Relay: 7 levels, 262 144 bytes).
pub const EXTRA: BagSize = BagSize {
    depth: 7,
    bytes: 262_144,
};
/// Each entry of `extra` (Relay's `ExtraValue`: 16 384 bytes).
pub const EXTRA_VALUE_BYTES: usize = 16_384;
/// Breadcrumbs kept, the newest (the SDKs' default maximum).
pub const MAX_BREADCRUMBS: usize = 100;
/// Frames kept per stack trace: the first and the last half.
pub const MAX_FRAMES: usize = 250;

/// Rule id of trimming in `_meta` (Relay's).
const RULE_LIMIT: &str = "!limit";
/// The mark of a cut string.
const ELLIPSIS: &str = "...";

/// Trims and scrubs a normalized event in one walk, before anything is stored.
pub fn trim_and_scrub(event: &mut Value, scrubbing: &ScrubbingConfig) {
    walk_event(event, Some(scrubbing), true);
}

/// Trims a normalized event (no scrubbing).
pub fn trim_event(event: &mut Value) {
    walk_event(event, None, true);
}

pub(crate) fn walk_event(event: &mut Value, scrubbing: Option<&ScrubbingConfig>, trim: bool) {
    let Value::Object(object) = event else {
        return;
    };
    let scrubber = scrubbing.and_then(Scrubber::for_config);
    let mut walker = Walker {
        scrubber: scrubber.as_deref(),
        trim,
        meta: Meta::take(object),
        found: Vec::new(),
    };
    walker.event(object);
    walker.meta.put(object);
}

/// One step of a path into the event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// The path of the value being walked, as a chain on the stack (nothing is allocated unless a
/// change is recorded).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Path<'a> {
    parent: Option<&'a Path<'a>>,
    seg: Option<Seg<'a>>,
}

impl<'a> Path<'a> {
    pub(crate) const ROOT: Path<'static> = Path {
        parent: None,
        seg: None,
    };

    pub(crate) fn key(&'a self, key: &'a str) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Key(key)),
        }
    }

    pub(crate) fn index(&'a self, index: usize) -> Path<'a> {
        Path {
            parent: Some(self),
            seg: Some(Seg::Index(index)),
        }
    }

    pub(crate) fn segments(&self) -> Vec<Seg<'a>> {
        let mut out = Vec::new();
        let mut current = Some(self);
        while let Some(path) = current {
            if let Some(seg) = path.seg {
                out.push(seg);
            }
            current = path.parent;
        }
        out.reverse();
        out
    }
}

/// One annotation of a value (Relay's remark): `rule`, `s` (substituted) or `x` (removed), and
/// the character range in the new value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remark {
    pub rule: &'static str,
    pub kind: &'static str,
    pub range: Option<(usize, usize)>,
}

/// The event's `_meta` tree being built.
#[derive(Debug, Default)]
pub(crate) struct Meta {
    root: Map<String, Value>,
}

/// Deepest `_meta` node kept from an SDK.
const MAX_SDK_META_DEPTH: usize = 32;

impl Meta {
    /// Takes the `_meta` written by normalization (trusted).
    pub(crate) fn take(object: &mut Map<String, Value>) -> Meta {
        match object.remove("_meta") {
            Some(Value::Object(root)) => Meta { root },
            _ => Meta::default(),
        }
    }

    /// Takes the `_meta` an SDK sent (the Python SDK annotates what it trimmed): only remarks and
    /// lengths are kept, never original values, since those would bypass scrubbing.
    pub(crate) fn take_untrusted(object: &mut Map<String, Value>) -> Meta {
        match object.remove("_meta") {
            Some(Value::Object(root)) => Meta {
                root: sanitize_sdk_meta(root, 0),
            },
            _ => Meta::default(),
        }
    }

    /// Stores the tree as the event's `_meta` (nothing if empty).
    pub(crate) fn put(self, object: &mut Map<String, Value>) {
        if !self.root.is_empty() {
            object.insert("_meta".to_owned(), Value::Object(self.root));
        }
    }

    /// The annotation object (`""`) of the node at `segs`, created as needed.
    fn node(&mut self, segs: &[Seg<'_>]) -> &mut Map<String, Value> {
        let mut map = &mut self.root;
        for seg in segs {
            let key = match seg {
                Seg::Key(key) => (*key).to_owned(),
                Seg::Index(index) => index.to_string(),
            };
            map = object_entry(map, key);
        }
        object_entry(map, String::new())
    }

    /// Adds a remark.
    pub(crate) fn remark(&mut self, segs: &[Seg<'_>], remark: &Remark) {
        let mut entry = vec![Value::from(remark.rule), Value::from(remark.kind)];
        if let Some((start, end)) = remark.range {
            entry.push(Value::from(start));
            entry.push(Value::from(end));
        }
        push_to(self.node(segs), "rem", Value::Array(entry));
    }

    /// Records the original length (the first one recorded wins).
    pub(crate) fn original_len(&mut self, segs: &[Seg<'_>], len: usize) {
        self.node(segs)
            .entry("len")
            .or_insert_with(|| Value::from(len));
    }

    /// Records an error (`["invalid_data", {"reason": ...}]`) and optionally the original value.
    pub(crate) fn error(
        &mut self,
        segs: &[Seg<'_>],
        kind: &str,
        reason: Option<&str>,
        original: Option<Value>,
    ) {
        let error = match reason {
            Some(reason) => {
                let mut data = Map::new();
                data.insert("reason".to_owned(), Value::from(reason));
                Value::Array(vec![Value::from(kind), Value::Object(data)])
            }
            None => Value::from(kind),
        };
        let node = self.node(segs);
        push_to(node, "err", error);
        if let Some(original) = original {
            node.entry("val").or_insert(original);
        }
    }
}

/// `map[key]` as an object, replacing anything else.
fn object_entry(map: &mut Map<String, Value>, key: String) -> &mut Map<String, Value> {
    let entry = map.entry(key).or_insert_with(|| Value::Object(Map::new()));
    if !entry.is_object() {
        *entry = Value::Object(Map::new());
    }
    match entry {
        Value::Object(map) => map,
        _ => unreachable!("replaced by an object above"),
    }
}

fn push_to(node: &mut Map<String, Value>, key: &str, item: Value) {
    let list = node.entry(key).or_insert_with(|| Value::Array(Vec::new()));
    if !list.is_array() {
        *list = Value::Array(Vec::new());
    }
    if let Value::Array(list) = list {
        list.push(item);
    }
}

fn sanitize_sdk_meta(tree: Map<String, Value>, depth: usize) -> Map<String, Value> {
    let mut out = Map::new();
    if depth > MAX_SDK_META_DEPTH {
        return out;
    }
    for (key, value) in tree {
        let Value::Object(node) = value else {
            continue;
        };
        if key.is_empty() {
            let mut kept = Map::new();
            if let Some(Value::Array(remarks)) = node.get("rem") {
                let remarks: Vec<Value> = remarks
                    .iter()
                    .filter(|r| is_sdk_remark(r))
                    .cloned()
                    .collect();
                if !remarks.is_empty() {
                    kept.insert("rem".to_owned(), Value::Array(remarks));
                }
            }
            if let Some(len) = node.get("len").and_then(Value::as_u64) {
                kept.insert("len".to_owned(), Value::from(len));
            }
            if !kept.is_empty() {
                out.insert(key, Value::Object(kept));
            }
        } else {
            let child = sanitize_sdk_meta(node, depth + 1);
            if !child.is_empty() {
                out.insert(key, Value::Object(child));
            }
        }
    }
    out
}

/// `[rule, type]` or `[rule, type, start, end]` with short strings and integers.
fn is_sdk_remark(remark: &Value) -> bool {
    match remark.as_array().map(Vec::as_slice) {
        Some([Value::String(rule), Value::String(kind), rest @ ..]) => {
            rule.len() <= 64
                && kind.len() <= 8
                && (rest.is_empty() || (rest.len() == 2 && rest.iter().all(Value::is_u64)))
        }
        _ => false,
    }
}

/// The remaining depth and size of the databag being walked.
#[derive(Debug)]
struct Bag {
    depth: usize,
    remaining: usize,
}

impl Bag {
    fn spend(&mut self, bytes: usize) {
        self.remaining = self.remaining.saturating_sub(bytes);
    }
}

/// Estimated JSON size of a value, not counting its children (they are counted as they are
/// walked).
fn flat_size(value: &Value) -> usize {
    match value {
        Value::String(s) => s.len() + 2,
        Value::Number(_) => 8,
        Value::Bool(_) => 5,
        Value::Null => 4,
        Value::Array(_) | Value::Object(_) => 2,
    }
}

struct Walker<'s> {
    scrubber: Option<&'s Scrubber>,
    trim: bool,
    meta: Meta,
    /// Scratch space for the redactions of one string.
    found: Vec<Redaction>,
}

impl<'s> Walker<'s> {
    fn event(&mut self, object: &mut Map<String, Value>) {
        let root = Path::ROOT;
        for (key, value) in object.iter_mut() {
            let path = root.key(key);
            match key.as_str() {
                "logentry" => self.logentry(value, &path),
                "exception" => self.values(value, &path, Walker::exception),
                "threads" => self.values(value, &path, Walker::thread),
                "stacktrace" => self.stacktrace(value, &path),
                "breadcrumbs" => self.breadcrumbs(value, &path),
                "request" => self.request(value, &path),
                "user" => self.user(value, &path),
                "contexts" => self.contexts(value, &path),
                "extra" => self.extra(value, &path),
                "tags" => self.tags(value, &path),
                "csp" => self.bag(value, &path, LARGE),
                "culprit" | "transaction" => self.limited(value, &path, CULPRIT, false),
                "server_name" => self.limited(value, &path, SERVER_NAME, false),
                _ => {}
            }
        }
    }

    fn values(
        &mut self,
        value: &mut Value,
        path: &Path<'_>,
        visit: fn(&mut Walker<'s>, &mut Value, &Path<'_>),
    ) {
        let Some(list) = value.get_mut("values").and_then(Value::as_array_mut) else {
            return;
        };
        let values = path.key("values");
        for (index, item) in list.iter_mut().enumerate() {
            visit(self, item, &values.index(index));
        }
    }

    fn logentry(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Object(entry) = value else {
            return;
        };
        for (key, value) in entry.iter_mut() {
            match key.as_str() {
                "formatted" | "message" => self.limited(value, &path.key(key), MESSAGE, true),
                "params" => self.bag(value, &path.key(key), MEDIUM),
                _ => {}
            }
        }
    }

    fn exception(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Object(exception) = value else {
            return;
        };
        for (key, value) in exception.iter_mut() {
            match key.as_str() {
                "type" | "module" => self.limited(value, &path.key(key), SYMBOL, false),
                "value" => self.limited(value, &path.key(key), MESSAGE, true),
                "stacktrace" | "raw_stacktrace" => self.stacktrace(value, &path.key(key)),
                "mechanism" => {
                    if let Some(data) = value.get_mut("data") {
                        let mechanism = path.key(key);
                        self.bag(data, &mechanism.key("data"), MEDIUM);
                    }
                }
                _ => {}
            }
        }
    }

    fn thread(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Object(thread) = value else {
            return;
        };
        for (key, value) in thread.iter_mut() {
            if matches!(key.as_str(), "stacktrace" | "raw_stacktrace") {
                self.stacktrace(value, &path.key(key));
            }
        }
    }

    fn stacktrace(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Object(stacktrace) = value else {
            return;
        };
        let mut omitted = None;
        if let Some(Value::Array(frames)) = stacktrace.get_mut("frames") {
            let frames_path = path.key("frames");
            let count = frames.len();
            if self.trim && count > MAX_FRAMES {
                // Keep where the stack starts and where it crashed; drop the middle.
                let head = MAX_FRAMES / 2;
                let tail_start = count - (MAX_FRAMES - head);
                frames.drain(head..tail_start);
                omitted = Some((head, tail_start));
                self.meta.original_len(&frames_path.segments(), count);
            }
            for (index, frame) in frames.iter_mut().enumerate() {
                self.frame(frame, &frames_path.index(index));
            }
        }
        if let Some((start, end)) = omitted {
            stacktrace.insert(
                "frames_omitted".to_owned(),
                Value::Array(vec![Value::from(start), Value::from(end)]),
            );
        }
    }

    fn frame(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Object(frame) = value else {
            return;
        };
        for (key, value) in frame.iter_mut() {
            match key.as_str() {
                "function" | "raw_function" | "symbol" => {
                    self.limited(value, &path.key(key), SYMBOL, false);
                }
                "filename" | "abs_path" => self.limited(value, &path.key(key), PATH, false),
                "vars" => self.bag(value, &path.key(key), MEDIUM),
                _ => {}
            }
        }
    }

    fn breadcrumbs(&mut self, value: &mut Value, path: &Path<'_>) {
        let Some(list) = value.get_mut("values").and_then(Value::as_array_mut) else {
            return;
        };
        let values = path.key("values");
        let count = list.len();
        if self.trim && count > MAX_BREADCRUMBS {
            list.drain(..count - MAX_BREADCRUMBS);
            self.meta.original_len(&values.segments(), count);
        }
        for (index, crumb) in list.iter_mut().enumerate() {
            let Value::Object(crumb) = crumb else {
                continue;
            };
            let crumb_path = values.index(index);
            for (key, value) in crumb.iter_mut() {
                match key.as_str() {
                    "type" | "category" => {
                        self.limited(value, &crumb_path.key(key), ENUM_LIKE, false);
                    }
                    "message" => self.limited(value, &crumb_path.key(key), MESSAGE, true),
                    "data" => self.bag(value, &crumb_path.key(key), MEDIUM),
                    _ => {}
                }
            }
        }
    }

    fn request(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Object(request) = value else {
            return;
        };
        if self.scrubber.is_some_and(|s| s.scrub_ip)
            && let Some(Value::Object(env)) = request.get_mut("env")
            && env.remove("REMOTE_ADDR").is_some()
        {
            let env_path = path.key("env");
            self.removed(&env_path.key("REMOTE_ADDR"), RULE_IP_REMOVE);
        }
        for (key, value) in request.iter_mut() {
            let field = path.key(key);
            match key.as_str() {
                "url" => self.limited(value, &field, PATH, true),
                "fragment" => self.limited(value, &field, FRAGMENT, true),
                "query_string" => self.pairs(value, &field, SMALL),
                "cookies" => self.pairs(value, &field, MEDIUM),
                "headers" => self.pairs(value, &field, LARGE),
                "env" | "data" => self.bag(value, &field, LARGE),
                _ => {}
            }
        }
    }

    fn user(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Object(user) = value else {
            return;
        };
        if self.scrubber.is_some_and(|s| s.scrub_ip) && user.remove("ip_address").is_some() {
            self.removed(&path.key("ip_address"), RULE_IP_REMOVE);
        }
        for (key, value) in user.iter_mut() {
            match key.as_str() {
                "id" | "username" | "name" => {
                    self.limited(value, &path.key(key), ENUM_LIKE, false);
                }
                "email" => self.limited(value, &path.key(key), EMAIL, false),
                "data" => self.bag(value, &path.key(key), LARGE),
                _ => {}
            }
        }
    }

    fn contexts(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Object(contexts) = value else {
            return;
        };
        for (name, context) in contexts.iter_mut() {
            let mut bag = self.bag_for(LARGE);
            self.bag_value(context, &path.key(name), Some(name), &mut bag, 0, false);
        }
    }

    /// `extra`: 16 KiB per entry, 256 KiB in all.
    fn extra(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Object(extra) = value else {
            return;
        };
        let mut whole = self.bag_for(EXTRA);
        let count = extra.len();
        let mut kept = 0;
        for (key, item) in extra.iter_mut() {
            if whole.remaining == 0 {
                break;
            }
            kept += 1;
            let budget = whole.remaining.min(EXTRA_VALUE_BYTES);
            let mut bag = Bag {
                depth: whole.depth,
                remaining: if self.trim { budget } else { usize::MAX },
            };
            self.bag_value(item, &path.key(key), Some(key), &mut bag, 1, false);
            whole.spend(budget.saturating_sub(bag.remaining) + key.len() + 4);
        }
        if kept < count {
            keep_first(extra, kept);
            self.meta.original_len(&path.segments(), count);
        }
    }

    fn tags(&mut self, value: &mut Value, path: &Path<'_>) {
        let Value::Array(pairs) = value else {
            return;
        };
        for (index, pair) in pairs.iter_mut().enumerate() {
            let Value::Array(pair) = pair else {
                continue;
            };
            let [Value::String(key), value] = pair.as_mut_slice() else {
                continue;
            };
            let pair_path = path.index(index);
            let value_path = pair_path.index(1);
            if let Some(scrubber) = self.scrubber {
                // The `user` tag of an event whose user is only known by address.
                if scrubber.scrub_ip
                    && key == "user"
                    && value.as_str().is_some_and(|v| v.starts_with("ip:"))
                {
                    *value = Value::Null;
                    self.removed(&value_path, RULE_IP_REMOVE);
                    continue;
                }
                match scrubber.classify(key) {
                    KeyClass::Sensitive(rule) => {
                        self.filter(value, &value_path, rule);
                        continue;
                    }
                    KeyClass::Safe => continue,
                    KeyClass::Normal => {}
                }
            }
            self.limited(value, &value_path, TAG_VALUE, true);
        }
    }

    /// A list of `[name, value]` pairs (headers, cookies, query string); anything else is walked
    /// as a databag.
    fn pairs(&mut self, value: &mut Value, path: &Path<'_>, size: BagSize) {
        let Value::Array(list) = value else {
            self.bag(value, path, size);
            return;
        };
        let mut bag = self.bag_for(size);
        let count = list.len();
        let mut kept = 0;
        for (index, pair) in list.iter_mut().enumerate() {
            if bag.remaining == 0 {
                break;
            }
            kept += 1;
            let Value::Array(pair) = pair else {
                continue;
            };
            let [Value::String(name), value] = pair.as_mut_slice() else {
                continue;
            };
            bag.spend(name.len() + 6);
            let pair_path = path.index(index);
            let value_path = pair_path.index(1);
            if self.scrubber.is_some_and(|s| s.is_ip_header(name)) {
                self.filter(value, &value_path, RULE_IP_FILTER);
                continue;
            }
            self.bag_value(value, &value_path, Some(name), &mut bag, 2, false);
        }
        if kept < count {
            list.truncate(kept);
            self.meta.original_len(&path.segments(), count);
        }
    }

    fn bag_for(&self, size: BagSize) -> Bag {
        if self.trim {
            Bag {
                depth: size.depth,
                remaining: size.bytes,
            }
        } else {
            Bag {
                depth: usize::MAX,
                remaining: usize::MAX,
            }
        }
    }

    fn bag(&mut self, value: &mut Value, path: &Path<'_>, size: BagSize) {
        let mut bag = self.bag_for(size);
        self.bag_value(value, path, None, &mut bag, 0, false);
    }

    /// A value in a databag at `depth` below its root, under `key` (`None` in lists).
    fn bag_value(
        &mut self,
        value: &mut Value,
        path: &Path<'_>,
        key: Option<&str>,
        bag: &mut Bag,
        depth: usize,
        safe: bool,
    ) {
        let mut safe = safe;
        if !safe && let (Some(scrubber), Some(key)) = (self.scrubber, key) {
            match scrubber.classify(key) {
                KeyClass::Safe => safe = true,
                KeyClass::Sensitive(rule) => {
                    self.filter(value, path, rule);
                    bag.spend(flat_size(value) + 1);
                    return;
                }
                KeyClass::Normal => {}
            }
        }
        let at_depth_limit = self.trim && depth + 1 >= bag.depth;
        match value {
            Value::String(text) => {
                let budget = self.trim.then_some(bag.remaining);
                self.string(text, path, None, budget, !safe);
            }
            Value::Number(number) => {
                let card = !safe
                    && self.scrubber.is_some_and(Scrubber::value_rules)
                    && number.as_u64().is_some_and(is_card_number);
                if card {
                    self.filter(value, path, RULE_CREDITCARD);
                }
            }
            Value::Object(map) if at_depth_limit && !map.is_empty() => {
                self.stringify(value, path, bag, safe);
            }
            Value::Array(list) if at_depth_limit && !list.is_empty() => {
                self.stringify(value, path, bag, safe);
            }
            Value::Object(map) => {
                let count = map.len();
                let mut kept = 0;
                for (key, item) in map.iter_mut() {
                    if bag.remaining == 0 {
                        break;
                    }
                    kept += 1;
                    bag.spend(key.len() + 3);
                    self.bag_value(item, &path.key(key), Some(key), bag, depth + 1, safe);
                }
                if kept < count {
                    keep_first(map, kept);
                    self.meta.original_len(&path.segments(), count);
                }
            }
            Value::Array(list) => {
                let count = list.len();
                let mut kept = 0;
                for (index, item) in list.iter_mut().enumerate() {
                    if bag.remaining == 0 {
                        break;
                    }
                    kept += 1;
                    self.bag_value(item, &path.index(index), None, bag, depth + 1, safe);
                }
                if kept < count {
                    list.truncate(kept);
                    self.meta.original_len(&path.segments(), count);
                }
            }
            Value::Bool(_) | Value::Null => {}
        }
        bag.spend(flat_size(value) + 1);
    }

    /// A container at the depth limit becomes its JSON text (Relay's rule). What is below is
    /// scrubbed first, so nothing sensitive hides in the text; such a change is recorded on the
    /// text itself.
    fn stringify(&mut self, value: &mut Value, path: &Path<'_>, bag: &Bag, safe: bool) {
        let mut rule = None;
        if !safe && self.scrubber.is_some() {
            self.scrub_detached(value, None, &mut rule, 0);
        }
        let text = serde_json::to_string(value).unwrap_or_default();
        *value = Value::String(text);
        if let Some(rule) = rule {
            self.meta.remark(
                &path.segments(),
                &Remark {
                    rule,
                    kind: "s",
                    range: None,
                },
            );
        }
        if let Value::String(text) = value {
            self.string(text, path, None, Some(bag.remaining), false);
        }
    }

    /// Scrubs a subtree without recording paths (it is about to become text).
    fn scrub_detached(
        &mut self,
        value: &mut Value,
        key: Option<&str>,
        hit: &mut Option<&'static str>,
        depth: usize,
    ) {
        let Some(scrubber) = self.scrubber else {
            return;
        };
        if let Some(key) = key {
            match scrubber.classify(key) {
                KeyClass::Safe => return,
                KeyClass::Sensitive(rule) => {
                    if !value.is_null() && value.as_str() != Some(FILTERED) {
                        *value = Value::from(FILTERED);
                        hit.get_or_insert(rule);
                    }
                    return;
                }
                KeyClass::Normal => {}
            }
        }
        match value {
            Value::String(text) => {
                self.found.clear();
                scrubber.find_redactions(text, &mut self.found);
                if let Some(first) = self.found.first() {
                    hit.get_or_insert(first.rule);
                    let (redacted, _) = apply_redactions(text, &self.found);
                    *text = redacted;
                }
            }
            Value::Number(number)
                if scrubber.value_rules() && number.as_u64().is_some_and(is_card_number) =>
            {
                *value = Value::from(FILTERED);
                hit.get_or_insert(RULE_CREDITCARD);
            }
            // serde_json refuses input nested deeper than 128 levels; this is a second fence.
            Value::Object(map) if depth < 256 => {
                for (key, item) in map.iter_mut() {
                    self.scrub_detached(item, Some(key), hit, depth + 1);
                }
            }
            Value::Array(list) if depth < 256 => {
                for item in list {
                    self.scrub_detached(item, None, hit, depth + 1);
                }
            }
            _ => {}
        }
    }

    /// A top-level-like string field with a limit; `scan` applies the in-string scrubbing rules.
    fn limited(&mut self, value: &mut Value, path: &Path<'_>, limit: MaxChars, scan: bool) {
        if let Value::String(text) = value {
            self.string(text, path, Some(limit), None, scan);
        }
    }

    /// Scrubs (if `scan`) and trims one string, recording what changed.
    fn string(
        &mut self,
        text: &mut String,
        path: &Path<'_>,
        limit: Option<MaxChars>,
        budget: Option<usize>,
        scan: bool,
    ) {
        let mut remarks = Vec::new();
        let mut original_len = None;
        if scan && let Some(scrubber) = self.scrubber.filter(|s| s.scans_strings()) {
            self.found.clear();
            scrubber.find_redactions(text, &mut self.found);
            if !self.found.is_empty() {
                original_len = Some(text.chars().count());
                let (redacted, applied) = apply_redactions(text, &self.found);
                *text = redacted;
                remarks = applied;
            }
        }
        if self.trim {
            if let Some(limit) = limit
                && let Some(len) = trim_string(text, limit.chars, limit.allowance, &mut remarks)
            {
                original_len.get_or_insert(len);
            }
            if let Some(budget) = budget
                && let Some(len) = trim_string(text, budget, 0, &mut remarks)
            {
                original_len.get_or_insert(len);
            }
        }
        if remarks.is_empty() {
            return;
        }
        let segs = path.segments();
        for remark in &remarks {
            self.meta.remark(&segs, remark);
        }
        if let Some(len) = original_len {
            self.meta.original_len(&segs, len);
        }
    }

    /// Replaces a whole value under a sensitive key.
    fn filter(&mut self, value: &mut Value, path: &Path<'_>, rule: &'static str) {
        if value.is_null() || value.as_str() == Some(FILTERED) {
            return;
        }
        let len = value.as_str().map(|s| s.chars().count());
        *value = Value::from(FILTERED);
        let segs = path.segments();
        self.meta.remark(
            &segs,
            &Remark {
                rule,
                kind: "s",
                range: Some((0, FILTERED.len())),
            },
        );
        if let Some(len) = len {
            self.meta.original_len(&segs, len);
        }
    }

    /// Records a value removed outright.
    fn removed(&mut self, path: &Path<'_>, rule: &'static str) {
        self.meta.remark(
            &path.segments(),
            &Remark {
                rule,
                kind: "x",
                range: None,
            },
        );
    }
}

/// Keeps the first `count` entries of an object.
fn keep_first(map: &mut Map<String, Value>, count: usize) {
    let mut seen = 0;
    map.retain(|_, _| {
        seen += 1;
        seen <= count
    });
}

/// Applies redactions (byte ranges, in order) and returns the new text and its remarks
/// (character ranges in the new text).
fn apply_redactions(text: &str, found: &[Redaction]) -> (String, Vec<Remark>) {
    let mut out = String::with_capacity(text.len());
    let mut remarks = Vec::with_capacity(found.len());
    let mut last = 0;
    let mut chars = 0;
    for redaction in found {
        let Some(before) = text.get(last..redaction.start) else {
            continue;
        };
        out.push_str(before);
        chars += before.chars().count();
        out.push_str(FILTERED);
        remarks.push(Remark {
            rule: redaction.rule,
            kind: "s",
            range: Some((chars, chars + FILTERED.len())),
        });
        chars += FILTERED.len();
        last = redaction.end;
    }
    out.push_str(text.get(last..).unwrap_or_default());
    (out, remarks)
}

/// Cuts `text` to `max` characters ending in `...` if it is longer than `max + allowance`,
/// without splitting a redaction; returns the original length in characters.
fn trim_string(
    text: &mut String,
    max: usize,
    allowance: usize,
    remarks: &mut Vec<Remark>,
) -> Option<usize> {
    let tolerated = max.saturating_add(allowance);
    // A string has at most as many characters as bytes.
    if text.len() <= tolerated {
        return None;
    }
    let chars = text.chars().count();
    if chars <= tolerated {
        return None;
    }
    let mut cut = max.saturating_sub(ELLIPSIS.len());
    for remark in remarks.iter() {
        if let Some((start, end)) = remark.range
            && start < cut
            && cut < end
        {
            cut = start;
        }
    }
    remarks.retain(|r| r.range.is_none_or(|(start, _)| start < cut));
    let byte = text.char_indices().nth(cut).map_or(text.len(), |(i, _)| i);
    text.truncate(byte);
    text.push_str(ELLIPSIS);
    remarks.push(Remark {
        rule: RULE_LIMIT,
        kind: "s",
        range: Some((cut, cut + ELLIPSIS.len())),
    });
    Some(chars)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn scrubbed(mut event: Value, config: &ScrubbingConfig) -> Value {
        trim_and_scrub(&mut event, config);
        event
    }

    fn defaults(event: Value) -> Value {
        scrubbed(event, &ScrubbingConfig::default())
    }

    /// The `_meta` annotation of a path.
    fn meta_at<'a>(event: &'a Value, path: &[&str]) -> &'a Value {
        let mut node = &event["_meta"];
        for key in path {
            node = &node[*key];
        }
        &node[""]
    }

    #[test]
    fn sensitive_keys_are_filtered_everywhere_with_meta() {
        let event = defaults(json!({
            "request": {
                "url": "https://shop.example/login",
                "data": {"username": "bob", "password": "hunter2", "nested": {"api_key": "k"}},
                "query_string": [["token", "abc"], ["page", "2"]],
                "cookies": [["sessionid", "s3cr3t"], ["theme", "dark"]],
                "headers": [["Authorization", "Bearer abc.def"], ["Cookie", "sessionid=s3cr3t"],
                            ["X-Api-Key", "k-1"], ["Accept", "text/html"]],
                "env": {"SECRET_KEY": "x", "SERVER_NAME": "web-1"}
            },
            "extra": {"credentials": {"user": "a", "pass": "b"}, "order": 7},
            "contexts": {"app": {"type": "app", "auth_token": "t"}},
            "exception": {"values": [{"type": "E", "stacktrace": {"frames": [
                {"function": "f", "vars": {"password": "'hunter2'", "n": "1"}}
            ]}}]},
            "breadcrumbs": {"values": [{"message": "GET https://api.example/x?access_token=abc&x=1",
                                         "data": {"refresh_token": "r", "url": "https://u:pw@api.example/"}}]},
            "user": {"id": "1", "data": {"mysql_pwd": "p"}},
            "tags": [["csrftoken", "t"], ["region", "eu"]]
        }));
        let request = &event["request"];
        assert_eq!(request["data"]["password"], FILTERED);
        assert_eq!(request["data"]["username"], "bob");
        assert_eq!(request["data"]["nested"]["api_key"], FILTERED);
        assert_eq!(
            request["query_string"],
            json!([["token", FILTERED], ["page", "2"]])
        );
        assert_eq!(
            request["cookies"],
            json!([["sessionid", FILTERED], ["theme", "dark"]])
        );
        assert_eq!(request["headers"][0][1], FILTERED);
        assert_eq!(request["headers"][1][1], FILTERED);
        assert_eq!(request["headers"][2][1], FILTERED);
        assert_eq!(request["headers"][3][1], "text/html");
        assert_eq!(request["env"]["SECRET_KEY"], FILTERED);
        assert_eq!(event["extra"]["credentials"], FILTERED);
        assert_eq!(event["extra"]["order"], 7);
        assert_eq!(event["contexts"]["app"]["auth_token"], FILTERED);
        let frame = &event["exception"]["values"][0]["stacktrace"]["frames"][0];
        assert_eq!(frame["vars"]["password"], FILTERED);
        assert_eq!(frame["vars"]["n"], "1");
        let crumb = &event["breadcrumbs"]["values"][0];
        assert_eq!(
            crumb["message"],
            "GET https://api.example/x?access_token=[Filtered]&x=1"
        );
        assert_eq!(crumb["data"]["refresh_token"], FILTERED);
        assert_eq!(crumb["data"]["url"], "https://u:[Filtered]@api.example/");
        assert_eq!(event["user"]["data"]["mysql_pwd"], FILTERED);
        assert_eq!(
            event["tags"],
            json!([["csrftoken", FILTERED], ["region", "eu"]])
        );

        // Relay's annotation: rule, substituted, range of `[Filtered]`, original length.
        assert_eq!(
            meta_at(&event, &["request", "data", "password"]),
            &json!({"rem": [["@password:filter", "s", 0, 10]], "len": 7})
        );
        assert_eq!(
            meta_at(&event, &["request", "headers", "0", "1"]),
            &json!({"rem": [["@password:filter", "s", 0, 10]], "len": 14})
        );
        assert_eq!(
            meta_at(&event, &["breadcrumbs", "values", "0", "message"]),
            &json!({"rem": [["@password:filter", "s", 39, 49]], "len": 46})
        );
        assert_eq!(
            meta_at(&event, &["breadcrumbs", "values", "0", "data", "url"]),
            &json!({"rem": [["@urlauth:legacy", "s", 10, 20]], "len": 25})
        );
        assert_eq!(
            meta_at(&event, &["extra", "credentials"]),
            &json!({"rem": [["@password:filter", "s", 0, 10]]})
        );
        assert!(event["_meta"]["request"]["data"].get("username").is_none());
    }

    #[test]
    fn credit_cards_in_strings_and_numbers() {
        let event = defaults(json!({
            "extra": {"note": "card 4111 1111 1111 1111 declined", "number": 4_111_111_111_111_111u64,
                      "not_a_card": "4111 1111 1111 1112", "ts": 1_767_225_600_123u64},
            "exception": {"values": [{"type": "CardError", "value": "declined: 5500-0000-0000-0004"}]},
            "logentry": {"formatted": "charging 4111111111111111"}
        }));
        assert_eq!(event["extra"]["note"], "card [Filtered] declined");
        assert_eq!(event["extra"]["number"], FILTERED);
        assert_eq!(event["extra"]["not_a_card"], "4111 1111 1111 1112");
        assert_eq!(event["extra"]["ts"], 1_767_225_600_123u64);
        assert_eq!(
            event["exception"]["values"][0]["value"],
            "declined: [Filtered]"
        );
        assert_eq!(event["logentry"]["formatted"], "charging [Filtered]");
        assert_eq!(
            meta_at(&event, &["extra", "note"]),
            &json!({"rem": [["@creditcard:filter", "s", 5, 15]], "len": 33})
        );
    }

    #[test]
    fn safe_fields_sensitive_fields_defaults_and_off() {
        let event = json!({"extra": {"password": "p", "session_count": 3, "order_id": "o-1",
                                     "wrapper": {"token": "t"}}});
        let custom = scrubbed(
            event.clone(),
            &ScrubbingConfig {
                sensitive_fields: vec!["order_id".into()],
                safe_fields: vec!["session_count".into(), "wrapper".into()],
                ..ScrubbingConfig::default()
            },
        );
        assert_eq!(custom["extra"]["password"], FILTERED);
        assert_eq!(custom["extra"]["session_count"], 3);
        assert_eq!(custom["extra"]["order_id"], FILTERED);
        assert_eq!(
            custom["extra"]["wrapper"]["token"], "t",
            "safe fields cover what is below"
        );
        assert_eq!(
            meta_at(&custom, &["extra", "order_id"])["rem"][0][0],
            "strip-fields"
        );
        let no_defaults = scrubbed(
            event.clone(),
            &ScrubbingConfig {
                use_defaults: false,
                sensitive_fields: vec!["order_id".into()],
                ..ScrubbingConfig::default()
            },
        );
        assert_eq!(no_defaults["extra"]["password"], "p");
        assert_eq!(no_defaults["extra"]["order_id"], FILTERED);
        let off = scrubbed(
            event.clone(),
            &ScrubbingConfig {
                enabled: false,
                scrub_ip_addresses: true,
                ..ScrubbingConfig::default()
            },
        );
        assert_eq!(off["extra"], event["extra"]);
        assert!(off.get("_meta").is_none());
    }

    #[test]
    fn ip_addresses_are_removed_with_the_ip_user_tag() {
        let event = json!({
            "user": {"ip_address": "203.0.113.7"},
            "request": {"env": {"REMOTE_ADDR": "203.0.113.7", "SERVER_PORT": "443"},
                        "headers": [["X-Forwarded-For", "203.0.113.7, 10.0.0.1"], ["Host", "shop"]]},
            "tags": [["user", "ip:203.0.113.7"], ["level", "error"]]
        });
        let kept = defaults(event.clone());
        assert_eq!(kept["user"]["ip_address"], "203.0.113.7");
        assert_eq!(kept["tags"][0][1], "ip:203.0.113.7");
        let config = ScrubbingConfig {
            scrub_ip_addresses: true,
            ..ScrubbingConfig::default()
        };
        let scrubbed = scrubbed(event, &config);
        assert!(scrubbed["user"].get("ip_address").is_none());
        assert!(scrubbed["request"]["env"].get("REMOTE_ADDR").is_none());
        assert_eq!(scrubbed["request"]["headers"][0][1], FILTERED);
        assert_eq!(scrubbed["request"]["headers"][1][1], "shop");
        assert_eq!(
            scrubbed["tags"],
            json!([["user", null], ["level", "error"]])
        );
        assert!(!scrubbed.to_string().contains("203.0.113.7"));
        assert_eq!(
            meta_at(&scrubbed, &["user", "ip_address"]),
            &json!({"rem": [["@anything:remove", "x"]]})
        );
        assert_eq!(
            meta_at(&scrubbed, &["request", "env", "REMOTE_ADDR"]),
            &json!({"rem": [["@anything:remove", "x"]]})
        );
    }

    #[test]
    fn long_strings_are_cut_with_an_ellipsis_and_meta() {
        let long = "x".repeat(300);
        let event = trimmed(json!({
            "culprit": long,
            "transaction": "t".repeat(201),
            "server_name": "s".repeat(276),
            "logentry": {"formatted": "m".repeat(8392), "message": "m".repeat(8393)},
            "exception": {"values": [{"type": "T".repeat(277), "value": "v".repeat(9000),
                "stacktrace": {"frames": [{"function": "f".repeat(300), "abs_path": "/".repeat(297)}]}}]},
            "breadcrumbs": {"values": [{"category": "c".repeat(129), "message": "m".repeat(8393)}]},
            "user": {"id": "i".repeat(129), "email": "e".repeat(76)},
            "request": {"url": format!("https://x/{}", "p".repeat(300)), "fragment": "f".repeat(1125)},
            "tags": [["k", "v".repeat(201)]]
        }));
        let cut = |value: &Value, chars: usize| {
            let text = value.as_str().unwrap();
            assert_eq!(text.chars().count(), chars, "{text}");
            assert!(text.ends_with("..."));
        };
        cut(&event["culprit"], 200);
        cut(&event["transaction"], 200);
        assert_eq!(
            event["server_name"].as_str().unwrap().len(),
            276,
            "within the allowance"
        );
        assert_eq!(event["logentry"]["formatted"].as_str().unwrap().len(), 8392);
        cut(&event["logentry"]["message"], 8192);
        let exception = &event["exception"]["values"][0];
        cut(&exception["type"], 256);
        cut(&exception["value"], 8192);
        cut(&exception["stacktrace"]["frames"][0]["function"], 256);
        cut(&exception["stacktrace"]["frames"][0]["abs_path"], 256);
        cut(&event["breadcrumbs"]["values"][0]["category"], 128);
        cut(&event["breadcrumbs"]["values"][0]["message"], 8192);
        cut(&event["user"]["id"], 128);
        cut(&event["user"]["email"], 75);
        cut(&event["request"]["url"], 256);
        cut(&event["request"]["fragment"], 1024);
        cut(&event["tags"][0][1], 200);
        assert_eq!(
            meta_at(&event, &["culprit"]),
            &json!({"rem": [["!limit", "s", 197, 200]], "len": 300})
        );
        assert_eq!(
            meta_at(&event, &["exception", "values", "0", "value"]),
            &json!({"rem": [["!limit", "s", 8189, 8192]], "len": 9000})
        );
    }

    fn trimmed(mut event: Value) -> Value {
        trim_event(&mut event);
        event
    }

    fn nested(depth: usize) -> Value {
        (0..depth).fold(json!("leaf"), |inner, i| json!({ format!("k{i}"): inner }))
    }

    #[test]
    fn databags_are_bounded_in_depth() {
        let event = trimmed(json!({
            "extra": {"deep": nested(8), "fits": nested(5)},
            "exception": {"values": [{"stacktrace": {"frames": [{"vars": {"deep": nested(5)}}]}}]}
        }));
        // `extra` keeps 7 levels: the container at the last level becomes its JSON text.
        let mut node = &event["extra"]["deep"];
        for i in (3..8).rev() {
            node = &node[format!("k{i}")];
        }
        assert_eq!(node, &json!(r#"{"k2":{"k1":{"k0":"leaf"}}}"#));
        assert_eq!(event["extra"]["fits"], nested(5));
        // Frame vars keep 5.
        let vars = &event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"];
        assert_eq!(
            vars["deep"]["k4"]["k3"]["k2"],
            json!(r#"{"k1":{"k0":"leaf"}}"#)
        );
    }

    #[test]
    fn secrets_below_the_depth_limit_are_scrubbed_before_becoming_text() {
        let mut deep = json!({"password": "hunter2", "card": "4111111111111111"});
        for i in 0..6 {
            deep = json!({ format!("k{i}"): deep });
        }
        let event = defaults(json!({ "extra": { "deep": deep } }));
        let text = event.to_string();
        assert!(
            !text.contains("hunter2") && !text.contains("4111111111111111"),
            "{text}"
        );
        assert!(text.contains("[Filtered]"));
    }

    #[test]
    fn databags_are_bounded_in_size() {
        let big = "b".repeat(3000);
        let event = trimmed(json!({
            "extra": {"a": "x".repeat(20_000), "b": "small"},
            "breadcrumbs": {"values": [{"data": {"a": big, "b": "dropped"}}]},
            "exception": {"values": [{"stacktrace": {"frames": [{"vars": {
                "list": (0..1000).map(|i| format!("item-{i}")).collect::<Vec<_>>()
            }}]}}]}
        }));
        // 16 KiB per `extra` entry.
        let a = event["extra"]["a"].as_str().unwrap();
        assert!(
            a.len() <= EXTRA_VALUE_BYTES && a.ends_with("..."),
            "{}",
            a.len()
        );
        assert_eq!(event["extra"]["b"], "small");
        assert_eq!(meta_at(&event, &["extra", "a"])["len"], 20_000);
        // 2 KiB per breadcrumb's data: the string is cut, what follows is dropped.
        let data = &event["breadcrumbs"]["values"][0]["data"];
        assert!(data["a"].as_str().unwrap().len() < 2048);
        assert!(data.get("b").is_none());
        assert_eq!(
            meta_at(&event, &["breadcrumbs", "values", "0", "data"]),
            &json!({"len": 2})
        );
        // A long list in frame vars keeps what fits and records the original count.
        let list = event["exception"]["values"][0]["stacktrace"]["frames"][0]["vars"]["list"]
            .as_array()
            .unwrap();
        assert!(list.len() < 1000 && list.len() > 100, "{}", list.len());
        assert_eq!(
            meta_at(
                &event,
                &[
                    "exception",
                    "values",
                    "0",
                    "stacktrace",
                    "frames",
                    "0",
                    "vars",
                    "list"
                ]
            ),
            &json!({"len": 1000})
        );
    }

    #[test]
    fn breadcrumbs_keep_the_newest_hundred() {
        let crumbs: Vec<Value> = (0..130)
            .map(|i| json!({"message": format!("m{i}")}))
            .collect();
        let event = trimmed(json!({ "breadcrumbs": { "values": crumbs } }));
        let values = event["breadcrumbs"]["values"].as_array().unwrap();
        assert_eq!(values.len(), 100);
        assert_eq!(values[0]["message"], "m30");
        assert_eq!(values[99]["message"], "m129");
        assert_eq!(
            meta_at(&event, &["breadcrumbs", "values"]),
            &json!({"len": 130})
        );
    }

    #[test]
    fn long_stacks_keep_their_first_and_last_frames() {
        let frames: Vec<Value> = (0..400)
            .map(|i| json!({"function": format!("f{i}")}))
            .collect();
        let event = trimmed(
            json!({"exception": {"values": [{"stacktrace": {"frames": frames}}]},
                                   "threads": {"values": [{"stacktrace": {"frames": [{"function": "t"}]}}]}}),
        );
        let stacktrace = &event["exception"]["values"][0]["stacktrace"];
        let frames = stacktrace["frames"].as_array().unwrap();
        assert_eq!(frames.len(), 250);
        assert_eq!(frames[124]["function"], "f124");
        assert_eq!(frames[125]["function"], "f275");
        assert_eq!(frames[249]["function"], "f399");
        assert_eq!(stacktrace["frames_omitted"], json!([125, 275]));
        assert_eq!(
            meta_at(
                &event,
                &["exception", "values", "0", "stacktrace", "frames"]
            ),
            &json!({"len": 400})
        );
        assert!(
            event["threads"]["values"][0]["stacktrace"]
                .get("frames_omitted")
                .is_none()
        );
    }

    #[test]
    fn a_cut_never_splits_a_redaction_and_len_is_the_original() {
        let text = format!("{} 4111111111111111 {}", "a".repeat(8184), "z".repeat(500));
        let event = defaults(json!({"logentry": {"formatted": text}}));
        let formatted = event["logentry"]["formatted"].as_str().unwrap();
        assert!(formatted.ends_with("aaa ..."), "cut before [Filtered]");
        assert!(!formatted.contains("4111"));
        let meta = meta_at(&event, &["logentry", "formatted"]);
        assert_eq!(meta["len"], 8185 + 16 + 501);
        assert_eq!(meta["rem"], json!([["!limit", "s", 8185, 8188]]));
    }

    #[test]
    fn sdk_meta_keeps_remarks_only_and_walks_merge_into_it() {
        let mut event = json!({
            "_meta": {"extra": {"big": {"": {"rem": [["!limit", "x"]], "len": 99999, "val": "secret"}}},
                      "junk": 3, "": {"err": ["x"]}},
            "extra": {"password": "p"}
        });
        if let Value::Object(object) = &mut event {
            let meta = Meta::take_untrusted(object);
            meta.put(object);
        }
        let event = defaults(event);
        assert_eq!(
            event["_meta"]["extra"]["big"][""],
            json!({"rem": [["!limit", "x"]], "len": 99999})
        );
        assert!(event["_meta"].get("junk").is_none());
        assert!(event["_meta"].get("").is_none());
        assert_eq!(meta_at(&event, &["extra", "password"])["len"], 1);
    }

    #[test]
    fn strings_that_need_nothing_are_left_alone() {
        let event = json!({"extra": {"a": "plain text 12:30, https://shop.example/x?y=1"},
                           "request": {"headers": [["Accept", "*/*"]]}, "tags": [["a", "b"]]});
        assert_eq!(defaults(event.clone()), event);
    }
}
