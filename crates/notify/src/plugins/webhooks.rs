//! `webhooks`: a JSON `POST` shaped like Sentry's legacy webhook plugin to each URL of the
//! project's `urls` (one per line).
//!
//! The body is Sentry's (`id`, `project`, `project_name`, `project_slug`, `logger`, `level`,
//! `culprit`, `message`, `url`, `triggering_rules`, `event` with `event_id`, `id`, `tags` as
//! `[key, value]` pairs, ...), so receivers written for Sentry keep working. Headers:
//!
//! * `Sentry-Hook-Signature`: the HMAC-SHA256 hex of the body with the project's `secret` (as
//!   Sentry's integration platform signs), when a secret is set;
//! * `Sentry-Hook-Resource: event_alert`, `Sentry-Hook-Timestamp` (Unix seconds);
//! * `Idempotency-Key`: the same for every attempt of one delivery, so a receiver can drop a
//!   repeat after a crash mid-send.
//!
//! A digest sends **one request per issue** (each body the legacy shape of that issue; the
//! idempotency key then ends in `.ISSUE_ID`), since Sentry's payload describes one issue and
//! receivers expect that. Every URL gets every request; when some fail the delivery fails (and
//! is retried for all, which the idempotency key makes harmless).

use errhound_domain::plugin::{
    BoxFuture, Notification, NotificationPlugin, NotifiedIssue, PluginDescription, PluginError,
    PluginKind, Recipient, SettingKind, SettingSpec, SettingValues,
};
use serde_json::{Value, json};

use super::{VERSION, combine, part_key, unix_now};
use crate::http::{HttpClient, Request, hmac_sha256_hex};

/// The plugin's id.
pub const ID: &str = "webhooks";
/// The signature header.
pub const SIGNATURE_HEADER: &str = "Sentry-Hook-Signature";

/// The webhooks plugin.
#[derive(Debug, Clone)]
pub struct WebhooksPlugin {
    http: HttpClient,
    description: PluginDescription,
}

impl WebhooksPlugin {
    /// The plugin over the shared client.
    pub fn new(http: HttpClient) -> WebhooksPlugin {
        WebhooksPlugin {
            http,
            description: PluginDescription {
                id: ID.to_owned(),
                title: "WebHooks".to_owned(),
                version: VERSION.to_owned(),
                kind: PluginKind::Notification,
                project_settings: vec![
                    SettingSpec::new(
                        "urls",
                        "Callback URLs",
                        SettingKind::UrlList,
                        true,
                        "One URL per line; each gets a POST with Sentry's webhook JSON.",
                    ),
                    SettingSpec::new(
                        "secret",
                        "Signing secret",
                        SettingKind::Secret,
                        false,
                        "Signs each body: Sentry-Hook-Signature is the HMAC-SHA256 hex of the body.",
                    ),
                ],
                user_settings: vec![],
            },
        }
    }
}

/// Sentry's legacy webhook body for one issue.
pub fn payload(notification: &Notification, issue: &NotifiedIssue) -> Value {
    let project = &notification.project;
    let tag = |key: &str| {
        issue
            .tags
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
    };
    json!({
        "id": issue.id.to_string(),
        "project": project.slug,
        "project_name": project.name,
        "project_slug": project.slug,
        "logger": tag("logger"),
        "level": issue.level.as_str(),
        "culprit": issue.culprit,
        "message": issue.title,
        "url": issue.url,
        "triggering_rules": issue.rules,
        "event": {
            "event_id": issue.event_id,
            "id": issue.event_id,
            "title": issue.title,
            "level": issue.level.as_str(),
            "culprit": issue.culprit,
            "environment": issue.environment,
            "release": issue.release,
            "tags": issue.tags.iter().map(|(k, v)| [k, v]).collect::<Vec<_>>(),
            "issue_id": issue.id.to_string(),
            "short_id": issue.short_id,
            "times_seen": issue.times_seen,
        },
    })
}

impl NotificationPlugin for WebhooksPlugin {
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
            let urls = settings.lines("urls");
            if urls.is_empty() {
                return Err(PluginError::Config(
                    "webhooks: no callback URL is set".to_owned(),
                ));
            }
            let secret = settings.text("secret");
            let parts = notification.issues.len();
            let mut results = Vec::new();
            for issue in &notification.issues {
                let body = payload(notification, issue).to_string().into_bytes();
                let key = part_key(idempotency_key, issue.id, parts);
                for url in &urls {
                    let mut request = Request::post_json(url, body.clone())
                        .header("Sentry-Hook-Resource", "event_alert")
                        .header("Sentry-Hook-Timestamp", unix_now().to_string())
                        .header("Idempotency-Key", key.clone());
                    if let Some(secret) = secret {
                        request = request
                            .header(SIGNATURE_HEADER, hmac_sha256_hex(secret.as_bytes(), &body));
                    }
                    results.push(self.post(request).await);
                }
            }
            combine(results)
        })
    }
}

impl WebhooksPlugin {
    async fn post(&self, request: Request<'_>) -> Result<(), PluginError> {
        let target = self.http.check_url(request.url)?;
        let response = self.http.send(request).await?;
        if response.is_success() {
            Ok(())
        } else {
            Err(response.refusal(&crate::http::target_name(&target)))
        }
    }
}
