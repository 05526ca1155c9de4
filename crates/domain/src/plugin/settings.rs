//! The settings a plugin declares (per project and per user), their validation, and how they are
//! shown back: secrets are never shown, only that one is set.
//!
//! Bodies follow Sentry's legacy plugin API: `PUT .../plugins/{id}/` with a JSON object of option
//! values, answered 400 with `{"errors": {"option": "message"}}` when a value is invalid.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

/// The type of a setting's value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SettingKind {
    /// One line of text.
    Text,
    /// Several lines of text.
    TextArea,
    /// A secret (password, API token, signing key): stored encrypted, never shown back.
    Secret,
    /// An `http` or `https` URL.
    Url,
    /// One `http`/`https` URL per line.
    UrlList,
    /// An e-mail address.
    Email,
    /// On or off.
    Bool,
    /// One of the listed values.
    Choice(Vec<String>),
}

impl SettingKind {
    /// The field type as Sentry's plugin config shows it.
    pub fn sentry_type(&self) -> &'static str {
        match self {
            SettingKind::Text | SettingKind::Url => "text",
            SettingKind::TextArea | SettingKind::UrlList => "textarea",
            SettingKind::Secret => "secret",
            SettingKind::Email => "email",
            SettingKind::Bool => "bool",
            SettingKind::Choice(_) => "select",
        }
    }

    /// Whether values of this kind are secret.
    pub fn is_secret(&self) -> bool {
        matches!(self, SettingKind::Secret)
    }
}

/// One setting a plugin declares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingSpec {
    /// The option key (`urls`, `secret`, ...).
    pub key: String,
    /// The label shown in the UI.
    pub label: String,
    /// The value's type.
    pub kind: SettingKind,
    /// Whether a value must be given before the plugin can be enabled.
    pub required: bool,
    /// A line of help shown under the field.
    pub help: String,
}

impl SettingSpec {
    /// A setting `key` shown as `label`, of `kind`, `required` or not, with a line of `help`.
    pub fn new(
        key: &str,
        label: &str,
        kind: SettingKind,
        required: bool,
        help: &str,
    ) -> SettingSpec {
        SettingSpec {
            key: key.to_owned(),
            label: label.to_owned(),
            kind,
            required,
            help: help.to_owned(),
        }
    }
}

/// Longest value of a setting, in bytes (a URL list or a key fits easily).
pub const MAX_VALUE_BYTES: usize = 8 * 1024;
/// Most URLs in a [`SettingKind::UrlList`].
pub const MAX_URLS: usize = 20;

/// Validated setting values, by key. Secrets are held in clear here; the store keeps them
/// sealed (`notify::secrets`). `Debug` shows the keys only, so a secret never reaches a log.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SettingValues(pub BTreeMap<String, Value>);

impl std::fmt::Debug for SettingValues {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("SettingValues")
            .field(&self.0.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl SettingValues {
    /// The text value of `key` (`None` when unset or empty).
    pub fn text(&self, key: &str) -> Option<&str> {
        self.0
            .get(key)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    /// The boolean value of `key` (`false` when unset).
    pub fn flag(&self, key: &str) -> bool {
        self.0.get(key).and_then(Value::as_bool).unwrap_or(false)
    }

    /// The lines of `key` (a URL list), without blanks.
    pub fn lines(&self, key: &str) -> Vec<&str> {
        self.text(key)
            .map(|text| {
                text.lines()
                    .map(str::trim)
                    .filter(|line| !line.is_empty())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Invalid values, by key, as Sentry's `{"errors": {...}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingErrors(pub BTreeMap<String, String>);

impl SettingErrors {
    /// Sentry's error body.
    pub fn to_json(&self) -> Value {
        json!({ "errors": self.0 })
    }
}

impl std::fmt::Display for SettingErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.0.iter().map(|(k, m)| format!("{k}: {m}")).collect();
        f.write_str(&parts.join("; "))
    }
}

impl std::error::Error for SettingErrors {}

fn is_http_url(text: &str) -> bool {
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    rest.is_some_and(|rest| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
        !host.is_empty() && !rest.chars().any(char::is_whitespace)
    })
}

fn is_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !text
                    .chars()
                    .any(|c| c.is_whitespace() || c == '<' || c == '>')
        }
        None => false,
    }
}

/// The value of one setting from a body's `value`; `Ok(None)` for an empty value.
fn check(spec: &SettingSpec, value: &Value) -> Result<Option<Value>, String> {
    if let SettingKind::Bool = spec.kind {
        return match value {
            Value::Bool(b) => Ok(Some(Value::Bool(*b))),
            Value::String(s) if matches!(s.as_str(), "true" | "1" | "on") => {
                Ok(Some(Value::Bool(true)))
            }
            Value::String(s) if matches!(s.as_str(), "false" | "0" | "off" | "") => {
                Ok(Some(Value::Bool(false)))
            }
            Value::Null => Ok(None),
            _ => Err("Must be true or false.".into()),
        };
    }
    let text = match value {
        Value::Null => return Ok(None),
        Value::String(s) => s.trim(),
        Value::Number(_) => return check(spec, &Value::String(value.to_string())),
        _ => return Err("Must be text.".into()),
    };
    if text.is_empty() {
        return Ok(None);
    }
    if text.len() > MAX_VALUE_BYTES {
        return Err(format!("Must be at most {MAX_VALUE_BYTES} bytes."));
    }
    let single_line = !matches!(spec.kind, SettingKind::TextArea | SettingKind::UrlList);
    if single_line && text.contains(['\n', '\r']) {
        return Err("Must be one line.".into());
    }
    match &spec.kind {
        SettingKind::Url if !is_http_url(text) => {
            return Err("Must be an http:// or https:// URL.".into());
        }
        SettingKind::UrlList => {
            let urls: Vec<&str> = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect();
            if urls.len() > MAX_URLS {
                return Err(format!("At most {MAX_URLS} URLs."));
            }
            if let Some(bad) = urls.iter().find(|u| !is_http_url(u)) {
                return Err(format!("{bad} is not an http:// or https:// URL."));
            }
            return Ok(Some(Value::String(urls.join("\n"))));
        }
        SettingKind::Email if !is_email(text) => {
            return Err("Must be an e-mail address.".into());
        }
        SettingKind::Choice(choices) if !choices.iter().any(|c| c == text) => {
            return Err(format!("Must be one of {}.", choices.join(", ")));
        }
        _ => {}
    }
    Ok(Some(Value::String(text.to_owned())))
}

/// Validates `body` against `specs`, on top of the `current` values: keys the body leaves out
/// keep their value, and so does a secret sent empty (the form never holds the old secret); any
/// other value sent empty clears the setting. Unknown keys are refused, so a typo is not lost.
pub fn validate(
    specs: &[SettingSpec],
    current: &SettingValues,
    body: &Map<String, Value>,
) -> Result<SettingValues, SettingErrors> {
    let mut errors = SettingErrors::default();
    let mut values = current.clone();
    for key in body.keys() {
        if !specs.iter().any(|s| &s.key == key) {
            errors.0.insert(key.clone(), "Unknown option.".into());
        }
    }
    for spec in specs {
        let Some(value) = body.get(&spec.key) else {
            continue;
        };
        match check(spec, value) {
            Ok(Some(value)) => {
                values.0.insert(spec.key.clone(), value);
            }
            Ok(None) if spec.kind.is_secret() => {}
            Ok(None) => {
                values.0.remove(&spec.key);
            }
            Err(message) => {
                errors.0.insert(spec.key.clone(), message);
            }
        }
    }
    if errors.0.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

/// The required settings without a value (a plugin is usable only when this is empty).
pub fn missing<'a>(specs: &'a [SettingSpec], values: &SettingValues) -> Vec<&'a SettingSpec> {
    specs
        .iter()
        .filter(|s| {
            s.required
                && match values.0.get(&s.key) {
                    None => true,
                    Some(Value::String(text)) => text.is_empty(),
                    Some(_) => false,
                }
        })
        .collect()
}

/// The settings as Sentry's plugin `config` list shows them: secrets with an empty `value` and
/// `hasSavedValue`, so nothing secret ever leaves the server.
pub fn shown(specs: &[SettingSpec], values: &SettingValues) -> Value {
    Value::Array(
        specs
            .iter()
            .map(|spec| {
                let saved = values.0.get(&spec.key);
                let value = if spec.kind.is_secret() {
                    Value::String(String::new())
                } else {
                    saved.cloned().unwrap_or(Value::Null)
                };
                let mut field = json!({
                    "name": spec.key,
                    "label": spec.label,
                    "type": spec.kind.sentry_type(),
                    "required": spec.required,
                    "help": spec.help,
                    "value": value,
                    "hasSavedValue": saved.is_some(),
                });
                if let SettingKind::Choice(choices) = &spec.kind {
                    field["choices"] = json!(choices.iter().map(|c| [c, c]).collect::<Vec<_>>());
                }
                field
            })
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_keys_not_values() {
        let values = SettingValues(BTreeMap::from([(
            "secret".to_owned(),
            Value::String("hunter2".into()),
        )]));
        let debug = format!("{values:?}");
        assert!(
            debug.contains("secret") && !debug.contains("hunter2"),
            "{debug}"
        );
    }

    fn spec(key: &str, kind: SettingKind, required: bool) -> SettingSpec {
        SettingSpec {
            key: key.into(),
            label: key.into(),
            kind,
            required,
            help: String::new(),
        }
    }

    fn webhook_specs() -> Vec<SettingSpec> {
        vec![
            spec("urls", SettingKind::UrlList, true),
            spec("secret", SettingKind::Secret, false),
            spec("verbose", SettingKind::Bool, false),
            spec(
                "format",
                SettingKind::Choice(vec!["json".into(), "form".into()]),
                false,
            ),
        ]
    }

    fn body(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            _ => unreachable!("a test body is an object"),
        }
    }

    #[test]
    fn values_are_checked_by_kind_and_errors_take_sentrys_shape() {
        let specs = webhook_specs();
        let errors = validate(
            &specs,
            &SettingValues::default(),
            &body(json!({
                "urls": "https://hooks.example/a\nftp://files.example/",
                "verbose": "maybe",
                "format": "xml",
                "colour": "blue",
            })),
        )
        .unwrap_err();
        let keys: Vec<&str> = errors.0.keys().map(String::as_str).collect();
        assert_eq!(keys, ["colour", "format", "urls", "verbose"]);
        assert!(errors.0["urls"].contains("ftp://files.example/"));
        assert_eq!(
            errors.to_json()["errors"]["colour"],
            json!("Unknown option.")
        );
    }

    #[test]
    fn an_empty_secret_keeps_the_saved_one_and_is_never_shown() {
        let specs = webhook_specs();
        let first = validate(
            &specs,
            &SettingValues::default(),
            &body(json!({"urls": " https://hooks.example/a \n\n", "secret": "s3cret"})),
        )
        .unwrap();
        assert_eq!(first.lines("urls"), ["https://hooks.example/a"]);
        let second = validate(
            &specs,
            &first,
            &body(json!({"secret": "", "urls": "https://hooks.example/b"})),
        )
        .unwrap();
        assert_eq!(second.text("secret"), Some("s3cret"));
        assert_eq!(second.text("urls"), Some("https://hooks.example/b"));
        let shown = shown(&specs, &second);
        let secret = &shown[1];
        assert_eq!(secret["value"], json!(""));
        assert_eq!(secret["hasSavedValue"], json!(true));
        assert!(!shown.to_string().contains("s3cret"));
    }

    #[test]
    fn required_settings_without_a_value_are_missing() {
        let specs = webhook_specs();
        let names = |values: &SettingValues| -> Vec<String> {
            missing(&specs, values)
                .iter()
                .map(|s| s.key.clone())
                .collect()
        };
        assert_eq!(names(&SettingValues::default()), ["urls"]);
        let cleared = validate(
            &specs,
            &validate(
                &specs,
                &SettingValues::default(),
                &body(json!({"urls": "https://a.example/"})),
            )
            .unwrap(),
            &body(json!({"urls": ""})),
        )
        .unwrap();
        assert_eq!(names(&cleared), ["urls"], "an emptied value is cleared");
    }

    #[test]
    fn single_line_kinds_refuse_line_breaks_and_oversized_values() {
        let specs = vec![
            spec("key", SettingKind::Text, false),
            spec("to", SettingKind::Email, false),
        ];
        let refused =
            |value: Value| validate(&specs, &SettingValues::default(), &body(value)).is_err();
        assert!(refused(json!({"key": "a\r\nX-Injected: 1"})));
        assert!(refused(json!({"key": "x".repeat(MAX_VALUE_BYTES + 1)})));
        assert!(refused(json!({"to": "not an address"})));
        assert!(!refused(json!({"to": "ops@example.com", "key": 42})));
    }
}
