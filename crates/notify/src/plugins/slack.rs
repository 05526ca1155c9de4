//! `slack`: a Slack incoming webhook (also Mattermost's and Rocket.Chat's, which accept
//! Slack's format): a Block Kit message with a `text` fallback.
//!
//! Event text is escaped as Slack asks (`&`, `<`, `>`), so a title cannot form a link or a
//! `<!channel>` mention. A digest is one message: a header and one section per issue, at most
//! [`MAX_ISSUES`] (Slack allows 50 blocks), then "and N more".

use errhound_domain::plugin::{
    BoxFuture, Notification, NotificationPlugin, NotifiedIssue, PluginDescription, PluginError,
    PluginKind, Recipient, SettingKind, SettingSpec, SettingValues,
};
use serde_json::{Value, json};

use super::{VERSION, digest_title, headline, one_line, required, truncate, what_happened};
use crate::http::{HttpClient, Request, target_name};

/// The plugin's id.
pub const ID: &str = "slack";
/// Most issues listed in one message.
pub const MAX_ISSUES: usize = 40;

/// The Slack plugin.
#[derive(Debug, Clone)]
pub struct SlackPlugin {
    http: HttpClient,
    description: PluginDescription,
}

impl SlackPlugin {
    /// The plugin over the shared client.
    pub fn new(http: HttpClient) -> SlackPlugin {
        SlackPlugin {
            http,
            description: PluginDescription {
                id: ID.to_owned(),
                title: "Slack".to_owned(),
                version: VERSION.to_owned(),
                kind: PluginKind::Notification,
                project_settings: vec![SettingSpec::new(
                    "webhook",
                    "Webhook URL",
                    SettingKind::Url,
                    true,
                    "An incoming webhook of Slack, Mattermost or Rocket.Chat.",
                )],
                user_settings: vec![],
            },
        }
    }
}

/// `text` escaped for Slack's mrkdwn.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn issue_section(issue: &NotifiedIssue) -> Value {
    let mut text = format!(
        "*<{}|{}>*",
        issue.url,
        escape(&truncate(&headline(issue), 300))
    );
    if !issue.culprit.is_empty() {
        text.push_str(&format!(
            "\n`{}`",
            escape(&truncate(&one_line(&issue.culprit), 300)).replace('`', "'")
        ));
    }
    json!({"type": "section", "text": {"type": "mrkdwn", "text": text}})
}

fn context(notification: &Notification, issue: &NotifiedIssue) -> Value {
    let mut parts = vec![
        what_happened(issue.reason).to_owned(),
        escape(&notification.project.name),
        escape(&issue.short_id),
        format!("seen {} times", issue.times_seen),
    ];
    if let Some(env) = &issue.environment {
        parts.push(escape(env));
    }
    json!({"type": "context", "elements": [{"type": "mrkdwn", "text": parts.join(" · ")}]})
}

/// The message for `notification`.
pub fn message(notification: &Notification) -> Value {
    match notification.issues.as_slice() {
        [issue] => json!({
            "text": format!("[{}] {}", notification.project.name, headline(issue)),
            "blocks": [issue_section(issue), context(notification, issue)],
        }),
        issues => {
            let title = digest_title(notification);
            let mut blocks = vec![json!({
                "type": "header",
                "text": {"type": "plain_text", "text": truncate(&title, 150)},
            })];
            blocks.extend(issues.iter().take(MAX_ISSUES).map(issue_section));
            if issues.len() > MAX_ISSUES {
                blocks.push(json!({"type": "context", "elements": [
                    {"type": "mrkdwn", "text": format!("and {} more", issues.len() - MAX_ISSUES)}
                ]}));
            }
            json!({"text": title, "blocks": blocks})
        }
    }
}

impl NotificationPlugin for SlackPlugin {
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
