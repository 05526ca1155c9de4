//! External plugins: executables named `errhound-plugin-<id>` on `plugins.path`, speaking the
//! JSON protocol of `docs/plugins.md`: one request on standard input, one answer on standard
//! output, one process per request.
//!
//! Every run is bounded: the whole exchange has `plugins.timeout_s` (after which the child is
//! killed; `describe` at start-up gets at least [`MIN_DESCRIBE_TIMEOUT`]), standard output is read up to [`MAX_STDOUT_BYTES`] and standard error up to
//! [`MAX_STDERR_BYTES`] (logged). A child that exits non-zero, prints something that is not the
//! answer, or says too much fails with [`PluginError::Misbehaved`] and a message saying which.
//! The child gets a small environment (`PATH`, `HOME`, `LANG`, `LC_ALL`, `TZ`, `TMPDIR`), never
//! Errhound's own variables, which may hold the database password or the server key.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use errhound_domain::alerts::{Reason, Trigger, WorkflowNotice};
use errhound_domain::plugin::{
    BoxFuture, IssueTrackingPlugin, Notification, NotificationPlugin, PluginDescription,
    PluginError, PluginKind, Recipient, SettingErrors, SettingKind, SettingSpec, SettingValues,
    Ticket, is_valid_id,
};
use serde_json::{Map, Value, json};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};

/// The version of the protocol, sent in every request.
pub const PROTOCOL_VERSION: u64 = 1;
/// The prefix of an external plugin's file name.
pub const EXECUTABLE_PREFIX: &str = "errhound-plugin-";
/// Most bytes read from a plugin's standard output.
pub const MAX_STDOUT_BYTES: usize = 1 << 20;
/// Most bytes of a plugin's standard error kept for the log.
pub const MAX_STDERR_BYTES: usize = 16 << 10;
/// The least time `describe` gets at start-up, whatever `plugins.timeout_s` says: an
/// interpreter starting on a loaded machine is slow, and a plugin that fails to describe itself
/// is unusable until the next restart.
pub const MIN_DESCRIBE_TIMEOUT: Duration = Duration::from_secs(10);
/// Environment variables a plugin is given (when set).
const PASSED_ENV: [&str; 6] = ["PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR"];

/// A plugin that runs as an executable.
#[derive(Debug, Clone)]
pub struct ExternalPlugin {
    path: PathBuf,
    timeout: Duration,
    description: PluginDescription,
}

impl ExternalPlugin {
    /// Runs `describe` on the executable at `path` and checks the answer: its id must be the
    /// one in the file name (`errhound-plugin-<id>`). `timeout` bounds every later request;
    /// `describe` itself gets at least [`MIN_DESCRIBE_TIMEOUT`].
    pub async fn describe_at(path: &Path, timeout: Duration) -> Result<ExternalPlugin, String> {
        let file_id = id_of(path).ok_or_else(|| {
            format!(
                "{} is not named {EXECUTABLE_PREFIX}<id> with a valid id",
                path.display()
            )
        })?;
        let answer = run(
            path,
            timeout.max(MIN_DESCRIBE_TIMEOUT),
            &json!({"method": "describe"}),
        )
        .await
        .map_err(|e| e.to_string())?;
        let description = parse_description(&answer)?;
        if description.id != file_id {
            return Err(format!(
                "describes itself as {:?}, but its file name says {file_id:?}",
                description.id
            ));
        }
        Ok(ExternalPlugin {
            path: path.to_owned(),
            timeout,
            description,
        })
    }

    /// The executable.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// What it said about itself.
    pub fn description(&self) -> &PluginDescription {
        &self.description
    }

    async fn call(&self, request: Value) -> Result<Value, PluginError> {
        let answer = run(&self.path, self.timeout, &request).await;
        if let Err(e) = &answer {
            tracing::warn!(plugin.id = %self.description.id, plugin.path = %self.path.display(), error = %e, "an external plugin failed");
        }
        answer
    }
}

/// The id in an executable's file name.
pub fn id_of(path: &Path) -> Option<String> {
    let name = path.file_name()?.to_str()?;
    let id = name.strip_prefix(EXECUTABLE_PREFIX)?;
    is_valid_id(id).then(|| id.to_owned())
}

/// Reads at most `limit` bytes of `reader`, and whether there was more (the rest is drained
/// and dropped, so the child never blocks on a full pipe).
async fn read_bounded<R: AsyncRead + Unpin>(mut reader: R, limit: usize) -> (Vec<u8>, bool) {
    let mut kept = Vec::new();
    let mut buffer = [0u8; 8192];
    let mut more = false;
    loop {
        match reader.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = limit.saturating_sub(kept.len());
                if n > room {
                    more = true;
                }
                kept.extend_from_slice(&buffer[..n.min(room)]);
            }
        }
    }
    (kept, more)
}

/// Runs the plugin at `path` on one `request` and returns its answer: the JSON object it
/// printed, or the error it reported (`{"error": {"message", "retryable"}}`) as a refusal.
pub async fn run(path: &Path, timeout: Duration, request: &Value) -> Result<Value, PluginError> {
    let mut request = request.clone();
    request["protocol"] = json!(PROTOCOL_VERSION);
    let input = request.to_string().into_bytes();
    let mut command = tokio::process::Command::new(path);
    command
        .env_clear()
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    for name in PASSED_ENV {
        if let Some(value) = std::env::var_os(name) {
            command.env(name, value);
        }
    }
    let mut child = command
        .spawn()
        .map_err(|e| PluginError::Misbehaved(format!("cannot run {}: {e}", path.display())))?;
    let (Some(mut stdin), Some(stdout), Some(stderr)) =
        (child.stdin.take(), child.stdout.take(), child.stderr.take())
    else {
        return Err(PluginError::Misbehaved(format!(
            "cannot talk to {}",
            path.display()
        )));
    };
    let exchange = async {
        let write = async {
            // A plugin may exit without reading its input; its answer still counts.
            let _ = stdin.write_all(&input).await;
            drop(stdin);
        };
        let ((), out, err) = tokio::join!(
            write,
            read_bounded(stdout, MAX_STDOUT_BYTES),
            read_bounded(stderr, MAX_STDERR_BYTES)
        );
        let status = child.wait().await;
        (out, err, status)
    };
    let outcome = tokio::time::timeout(timeout, exchange).await;
    let ((stdout, stdout_more), (stderr, _), status) = match outcome {
        Ok(done) => done,
        Err(_elapsed) => {
            // Kill and reap it now (kill_on_drop covers a caller that gives up earlier).
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(PluginError::Misbehaved(format!(
                "{} did not answer within {} s and was stopped",
                path.display(),
                timeout.as_secs_f64()
            )));
        }
    };
    let stderr_text = String::from_utf8_lossy(&stderr);
    let stderr_tail = stderr_text.trim();
    if !stderr_tail.is_empty() {
        tracing::info!(plugin.path = %path.display(), stderr = %stderr_tail, "an external plugin wrote to its standard error");
    }
    let with_stderr = |message: String| {
        if stderr_tail.is_empty() {
            message
        } else {
            let last = stderr_tail.lines().last().unwrap_or_default();
            format!("{message} (its last line of stderr: {last})")
        }
    };
    let status = status
        .map_err(|e| PluginError::Misbehaved(format!("cannot wait for {}: {e}", path.display())))?;
    if !status.success() {
        return Err(PluginError::Misbehaved(with_stderr(format!(
            "{} exited with {status}",
            path.display()
        ))));
    }
    if stdout_more {
        return Err(PluginError::Misbehaved(format!(
            "{} printed more than {} KiB",
            path.display(),
            MAX_STDOUT_BYTES >> 10
        )));
    }
    let answer: Value = match serde_json::from_slice(&stdout) {
        Ok(Value::Object(map)) => Value::Object(map),
        Ok(_) | Err(_) => {
            let shown: String = String::from_utf8_lossy(&stdout).chars().take(120).collect();
            return Err(PluginError::Misbehaved(with_stderr(format!(
                "{} did not print one JSON object (it printed {shown:?})",
                path.display()
            ))));
        }
    };
    if let Some(error) = answer.get("error") {
        let message = error["message"]
            .as_str()
            .unwrap_or("the plugin reported an error without a message");
        return Err(PluginError::Refused {
            detail: message.chars().take(1000).collect(),
            retry: error["retryable"].as_bool().unwrap_or(false),
        });
    }
    Ok(answer)
}

/// The protocol's name of a setting type.
pub fn kind_name(kind: &SettingKind) -> &'static str {
    match kind {
        SettingKind::Text => "text",
        SettingKind::TextArea => "textarea",
        SettingKind::Secret => "secret",
        SettingKind::Url => "url",
        SettingKind::UrlList => "url-list",
        SettingKind::Email => "email",
        SettingKind::Bool => "bool",
        SettingKind::Choice(_) => "choice",
    }
}

fn parse_spec(value: &Value) -> Result<SettingSpec, String> {
    let text = |key: &str| value[key].as_str().unwrap_or_default().to_owned();
    let key = text("key");
    if key.is_empty() || key.len() > 64 {
        return Err(format!("a setting without a valid key: {value}"));
    }
    let kind = match value["type"].as_str().unwrap_or("text") {
        "text" => SettingKind::Text,
        "textarea" => SettingKind::TextArea,
        "secret" => SettingKind::Secret,
        "url" => SettingKind::Url,
        "url-list" => SettingKind::UrlList,
        "email" => SettingKind::Email,
        "bool" => SettingKind::Bool,
        "choice" => SettingKind::Choice(
            value["choices"]
                .as_array()
                .map(|c| {
                    c.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        ),
        other => return Err(format!("setting {key} has an unknown type {other:?}")),
    };
    Ok(SettingSpec {
        label: Some(text("label"))
            .filter(|l| !l.is_empty())
            .unwrap_or_else(|| key.clone()),
        help: text("help"),
        required: value["required"].as_bool().unwrap_or(false),
        kind,
        key,
    })
}

fn parse_specs(value: &Value) -> Result<Vec<SettingSpec>, String> {
    match value {
        Value::Null => Ok(Vec::new()),
        Value::Array(list) => list.iter().map(parse_spec).collect(),
        _ => Err("settings must be a list".to_owned()),
    }
}

/// The description in a `describe` answer.
pub fn parse_description(answer: &Value) -> Result<PluginDescription, String> {
    let text = |key: &str| answer[key].as_str().unwrap_or_default().trim().to_owned();
    let id = text("id");
    if !is_valid_id(&id) {
        return Err(format!(
            "describe gave no valid id (got {:?})",
            answer["id"]
        ));
    }
    let kind = PluginKind::parse(&text("kind")).ok_or_else(|| {
        format!(
            "describe gave kind {:?}; expected \"notification\" or \"issue-tracking\"",
            answer["kind"]
        )
    })?;
    Ok(PluginDescription {
        title: Some(text("title"))
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| id.clone()),
        version: Some(text("version"))
            .filter(|v| !v.is_empty())
            .unwrap_or_else(|| "unknown".to_owned()),
        project_settings: parse_specs(&answer["project_settings"])?,
        user_settings: parse_specs(&answer["user_settings"])?,
        kind,
        id,
    })
}

/// The protocol's name of a reason: a trigger's, or a workflow notice's.
fn reason_name(reason: Reason) -> &'static str {
    match reason {
        Reason::Alert(Trigger::Seen) => "seen",
        Reason::Alert(Trigger::Created) => "created",
        Reason::Alert(Trigger::Regressed) => "regressed",
        Reason::Alert(Trigger::Reappeared) => "reappeared",
        Reason::Workflow(WorkflowNotice::Assigned) => "assigned",
        Reason::Workflow(WorkflowNotice::Commented) => "commented",
        Reason::Workflow(WorkflowNotice::ResolvedRegressed) => "resolved_regressed",
    }
}

/// A notification as the protocol sends it.
pub fn notification_json(notification: &Notification) -> Value {
    let project = &notification.project;
    json!({
        "project": {
            "id": project.id,
            "slug": project.slug,
            "name": project.name,
            "organization": project.org_slug,
        },
        "issues": notification.issues.iter().map(|issue| json!({
            "id": issue.id,
            "short_id": issue.short_id,
            "title": issue.title,
            "culprit": issue.culprit,
            "level": issue.level.as_str(),
            "url": issue.url,
            "times_seen": issue.times_seen,
            "trigger": reason_name(issue.reason),
            "rules": issue.rules,
            "event_id": issue.event_id,
            "environment": issue.environment,
            "release": issue.release,
            "tags": issue.tags.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
            "frames": issue.frames.iter().map(|f| json!({
                "function": f.function,
                "filename": f.filename,
                "lineno": f.lineno,
            })).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
    })
}

fn settings_json(settings: &SettingValues) -> Value {
    Value::Object(
        settings
            .0
            .clone()
            .into_iter()
            .collect::<Map<String, Value>>(),
    )
}

fn ticket(answer: &Value) -> Result<Ticket, PluginError> {
    let key = answer["ticket"]["key"].as_str().unwrap_or_default();
    let url = answer["ticket"]["url"].as_str().unwrap_or_default();
    if key.is_empty()
        || key.len() > 200
        || !(url.starts_with("https://") || url.starts_with("http://"))
    {
        return Err(PluginError::Misbehaved(format!(
            "the answer has no ticket with a key and an http(s) url: {}",
            answer.to_string().chars().take(200).collect::<String>()
        )));
    }
    Ok(Ticket {
        key: key.to_owned(),
        url: url.to_owned(),
    })
}

impl ExternalPlugin {
    fn validate_settings<'a>(
        &'a self,
        settings: &'a SettingValues,
    ) -> BoxFuture<'a, Result<SettingErrors, PluginError>> {
        Box::pin(async move {
            let answer = self
                .call(json!({"method": "validate", "settings": settings_json(settings)}))
                .await?;
            let mut errors = SettingErrors::default();
            if let Some(map) = answer["errors"].as_object() {
                for (key, message) in map {
                    let message = message.as_str().unwrap_or("Invalid value.");
                    errors
                        .0
                        .insert(key.clone(), message.chars().take(500).collect());
                }
            }
            Ok(errors)
        })
    }
}

impl NotificationPlugin for ExternalPlugin {
    fn describe(&self) -> &PluginDescription {
        &self.description
    }

    fn validate<'a>(
        &'a self,
        settings: &'a SettingValues,
    ) -> BoxFuture<'a, Result<SettingErrors, PluginError>> {
        self.validate_settings(settings)
    }

    fn notify<'a>(
        &'a self,
        notification: &'a Notification,
        settings: &'a SettingValues,
        recipients: &'a [Recipient],
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), PluginError>> {
        Box::pin(async move {
            let recipients: Vec<Value> = recipients
                .iter()
                .map(|r| {
                    json!({
                        "user_id": r.user_id,
                        "email": r.email,
                        "name": r.name,
                        "settings": settings_json(&r.settings),
                    })
                })
                .collect();
            self.call(json!({
                "method": "notify",
                "settings": settings_json(settings),
                "notification": notification_json(notification),
                "recipients": recipients,
                "idempotency_key": idempotency_key,
            }))
            .await
            .map(|_| ())
        })
    }
}

impl IssueTrackingPlugin for ExternalPlugin {
    fn describe(&self) -> &PluginDescription {
        &self.description
    }

    fn validate<'a>(
        &'a self,
        settings: &'a SettingValues,
    ) -> BoxFuture<'a, Result<SettingErrors, PluginError>> {
        self.validate_settings(settings)
    }

    fn create_ticket<'a>(
        &'a self,
        issue: &'a Notification,
        settings: &'a SettingValues,
        title: &'a str,
        description: &'a str,
    ) -> BoxFuture<'a, Result<Ticket, PluginError>> {
        Box::pin(async move {
            let answer = self
                .call(json!({
                    "method": "create-ticket",
                    "settings": settings_json(settings),
                    "notification": notification_json(issue),
                    "title": title,
                    "description": description,
                }))
                .await?;
            ticket(&answer)
        })
    }

    fn find_ticket<'a>(
        &'a self,
        settings: &'a SettingValues,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Ticket, PluginError>> {
        Box::pin(async move {
            let answer = self
                .call(json!({
                    "method": "find-ticket",
                    "settings": settings_json(settings),
                    "key": key,
                }))
                .await?;
            ticket(&answer)
        })
    }
}
