//! `discord`: a Discord webhook message with embeds (one per issue, at most 10 as Discord
//! allows; a digest says how many more there were).
//!
//! Markdown characters of event text are escaped, and `allowed_mentions` is empty, so a title
//! with `@everyone` or `<@id>` pings nobody.

use errhound_domain::Level;
use errhound_domain::plugin::{
    BoxFuture, Notification, NotificationPlugin, NotifiedIssue, PluginDescription, PluginError,
    PluginKind, Recipient, SettingKind, SettingSpec, SettingValues,
};
use serde_json::{Value, json};

use super::{VERSION, digest_title, headline, one_line, required, truncate, what_happened};
use crate::http::{HttpClient, Request, target_name};

/// The plugin's id.
pub const ID: &str = "discord";
/// Most embeds in one message (Discord's limit).
pub const MAX_EMBEDS: usize = 10;

/// The Discord plugin.
#[derive(Debug, Clone)]
pub struct DiscordPlugin {
    http: HttpClient,
    description: PluginDescription,
}

impl DiscordPlugin {
    /// The plugin over the shared client.
    pub fn new(http: HttpClient) -> DiscordPlugin {
        DiscordPlugin {
            http,
            description: PluginDescription {
                id: ID.to_owned(),
                title: "Discord".to_owned(),
                version: VERSION.to_owned(),
                kind: PluginKind::Notification,
                project_settings: vec![SettingSpec::new(
                    "webhook",
                    "Webhook URL",
                    SettingKind::Url,
                    true,
                    "The channel's webhook (Server Settings, Integrations, Webhooks).",
                )],
                user_settings: vec![],
            },
        }
    }
}

/// `text` with Discord's markdown characters escaped.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(
            c,
            '\\' | '*'
                | '_'
                | '~'
                | '`'
                | '|'
                | '>'
                | '<'
                | '['
                | ']'
                | '('
                | ')'
                | '#'
                | '@'
                | ':'
                | '-'
        ) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn color(level: Level) -> u32 {
    match level {
        Level::Fatal => 0x00d1_2f1f,
        Level::Error => 0x00e0_3e2f,
        Level::Warning => 0x00f5_b000,
        Level::Info => 0x0026_88eb,
        Level::Debug => 0x0090_90a0,
    }
}

fn embed(notification: &Notification, issue: &NotifiedIssue) -> Value {
    let mut fields = vec![
        json!({"name": "Project", "value": escape(&truncate(&notification.project.name, 200)), "inline": true}),
        json!({"name": "Seen", "value": format!("{} times", issue.times_seen), "inline": true}),
    ];
    if let Some(env) = &issue.environment {
        fields.push(
            json!({"name": "Environment", "value": escape(&truncate(env, 200)), "inline": true}),
        );
    }
    json!({
        "title": truncate(&escape(&headline(issue)), 256),
        "url": issue.url,
        "description": truncate(&escape(&one_line(&issue.culprit)), 2000),
        "color": color(issue.level),
        "fields": fields,
        "footer": {"text": format!("{} · {}", what_happened(issue.reason), issue.short_id)},
    })
}

/// The message for `notification`.
pub fn message(notification: &Notification) -> Value {
    let issues = &notification.issues;
    let content = if issues.len() == 1 {
        String::new()
    } else if issues.len() > MAX_EMBEDS {
        format!(
            "{} (the first {MAX_EMBEDS} below)",
            escape(&digest_title(notification))
        )
    } else {
        escape(&digest_title(notification))
    };
    json!({
        "username": "Errhound",
        "content": content,
        "allowed_mentions": {"parse": []},
        "embeds": issues.iter().take(MAX_EMBEDS).map(|i| embed(notification, i)).collect::<Vec<_>>(),
    })
}

impl NotificationPlugin for DiscordPlugin {
    fn describe(&self) -> &PluginDescription {
        &self.description
    }

    fn notify<'a>(
        &'a self,
        notification: &'a Notification,
        settings: &'a SettingValues,
        _recipients: &'a [Recipient],
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), PluginError>> {
        Box::pin(async move {
            let url = required(settings, "webhook", ID)?;
            let target = target_name(&self.http.check_url(url)?);
            let body = message(notification).to_string().into_bytes();
            let request = Request::post_json(url, body).header("Idempotency-Key", idempotency_key);
            let response = self.http.send(request).await?;
            if response.is_success() {
                Ok(())
            } else {
                Err(response.refusal(&target))
            }
        })
    }
}
