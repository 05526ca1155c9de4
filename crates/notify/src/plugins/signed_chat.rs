//! `signed-chat`: a company IM's HTTP API with signed requests (the seed's own plugin). Each
//! recipient gets one `POST` to the project's `url` with this JSON body:
//!
//! ```json
//! {"recipient": "jdoe", "project": "Shop", "message": "ERROR: ZeroDivisionError: division by zero",
//!  "url": "https://errhound.example.com/organizations/acme/issues/42/",
//!  "text": "[Shop] ERROR: ZeroDivisionError: division by zero\nhttps://...",
//!  "issues": [{"message": "...", "url": "..."}]}
//! ```
//!
//! (`issues` lists every issue of a digest; `message` and `url` are then the digest's title
//! and the first issue's link.) `recipient` is the user's `handle` setting for this plugin, or
//! else the local part of their e-mail address.
//!
//! **Signature.** Four headers, whose names are settings (defaults in brackets): the app key
//! (`X-App-Key`), the Unix time in seconds (`X-Timestamp`), a random nonce of 32 hex digits
//! (`X-Nonce`) and the signature (`X-Signature`): the lowercase hex HMAC-SHA256, keyed with the
//! app secret, of the canonical string
//!
//! ```text
//! METHOD "\n" PATH "\n" TIMESTAMP "\n" NONCE "\n" BODY
//! ```
//!
//! where METHOD is `POST`, PATH the URL's path with its query as sent (`/api/send?x=1`), and
//! BODY the exact bytes of the body. A receiver recomputes it, compares in constant time, and
//! refuses old timestamps and repeated nonces. `Idempotency-Key` is sent too (the delivery's
//! key and the user id).

use errhound_domain::plugin::{
    BoxFuture, Notification, NotificationPlugin, PluginDescription, PluginError, PluginKind,
    Recipient, SettingErrors, SettingKind, SettingSpec, SettingValues,
};
use serde_json::json;

use super::{VERSION, combine, digest_title, headline, one_line, part_key, required, unix_now};
use crate::http::{HttpClient, Request, hmac_sha256_hex, target_name};

/// The plugin's id.
pub const ID: &str = "signed-chat";

/// The header settings and their default names.
pub const HEADERS: [(&str, &str); 4] = [
    ("key_header", "X-App-Key"),
    ("timestamp_header", "X-Timestamp"),
    ("nonce_header", "X-Nonce"),
    ("signature_header", "X-Signature"),
];

/// The signed-chat plugin.
#[derive(Debug, Clone)]
pub struct SignedChatPlugin {
    http: HttpClient,
    description: PluginDescription,
}

impl SignedChatPlugin {
    /// The plugin over the shared client.
    pub fn new(http: HttpClient) -> SignedChatPlugin {
        let mut project_settings = vec![
            SettingSpec::new(
                "url",
                "API URL",
                SettingKind::Url,
                true,
                "Where messages are POSTed.",
            ),
            SettingSpec::new(
                "app_key",
                "App key",
                SettingKind::Text,
                true,
                "Sent in the app key header.",
            ),
            SettingSpec::new(
                "app_secret",
                "App secret",
                SettingKind::Secret,
                true,
                "Signs every request (HMAC-SHA256).",
            ),
        ];
        for (key, default) in HEADERS {
            let label = match key {
                "key_header" => "App key header",
                "timestamp_header" => "Timestamp header",
                "nonce_header" => "Nonce header",
                _ => "Signature header",
            };
            project_settings.push(SettingSpec::new(
                key,
                label,
                SettingKind::Text,
                false,
                &format!("Default {default}."),
            ));
        }
        SignedChatPlugin {
            http,
            description: PluginDescription {
                id: ID.to_owned(),
                title: "Signed chat".to_owned(),
                version: VERSION.to_owned(),
                kind: PluginKind::Notification,
                project_settings,
                user_settings: vec![SettingSpec::new(
                    "handle",
                    "Chat handle",
                    SettingKind::Text,
                    false,
                    "Your name in the chat; default the part of your e-mail before the @.",
                )],
            },
        }
    }
}

/// The canonical string that is signed (see the module's documentation).
pub fn canonical(method: &str, path: &str, timestamp: &str, nonce: &str, body: &[u8]) -> Vec<u8> {
    let mut out = format!("{method}\n{path}\n{timestamp}\n{nonce}\n").into_bytes();
    out.extend_from_slice(body);
    out
}

/// The header name of setting `key` (its value, or the default).
fn header_name<'a>(settings: &'a SettingValues, key: &str) -> &'a str {
    let default = HEADERS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or("X-Signature", |(_, d)| d);
    settings.text(key).unwrap_or(default)
}

/// Whether `name` is an HTTP header name (an RFC 9110 token).
fn is_header_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// Who a recipient is in the chat.
pub fn handle(recipient: &Recipient) -> String {
    match recipient.settings.text("handle") {
        Some(handle) => handle.trim().to_owned(),
        None => recipient
            .email
            .split('@')
            .next()
            .unwrap_or_default()
            .to_owned(),
    }
}

impl NotificationPlugin for SignedChatPlugin {
    fn describe(&self) -> &PluginDescription {
        &self.description
    }

    fn validate<'a>(
        &'a self,
        settings: &'a SettingValues,
    ) -> BoxFuture<'a, Result<SettingErrors, PluginError>> {
        let mut errors = SettingErrors::default();
        for (key, _) in HEADERS {
            if let Some(name) = settings.text(key)
                && !is_header_name(name)
            {
                errors
                    .0
                    .insert(key.to_owned(), "Must be an HTTP header name.".to_owned());
            }
        }
        Box::pin(std::future::ready(Ok(errors)))
    }

    fn notify<'a>(
        &'a self,
        notification: &'a Notification,
        settings: &'a SettingValues,
        recipients: &'a [Recipient],
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), PluginError>> {
        Box::pin(async move {
            let url = required(settings, "url", ID)?;
            let app_key = required(settings, "app_key", ID)?;
            let secret = required(settings, "app_secret", ID)?;
            let parsed = self.http.check_url(url)?;
            let target = target_name(&parsed);
            let path = match parsed.query() {
                Some(query) => format!("{}?{query}", parsed.path()),
                None => parsed.path().to_owned(),
            };
            let project = one_line(&notification.project.name);
            let (message, link) = match notification.issues.as_slice() {
                [issue] => (headline(issue), issue.url.clone()),
                issues => (
                    digest_title(notification),
                    issues.first().map(|i| i.url.clone()).unwrap_or_default(),
                ),
            };
            let mut text = format!("[{project}] {message}");
            for issue in &notification.issues {
                if notification.issues.len() > 1 {
                    text.push_str(&format!("\n- {}", headline(issue)));
                }
                text.push_str(&format!("\n{}", issue.url));
            }
            let issues: Vec<_> = notification
                .issues
                .iter()
                .map(|i| json!({"message": headline(i), "url": i.url}))
                .collect();
            let mut results = Vec::with_capacity(recipients.len());
            for recipient in recipients {
                let body = json!({
                    "recipient": handle(recipient),
                    "project": project,
                    "message": message,
                    "url": link,
                    "text": text,
                    "issues": issues,
                })
                .to_string()
                .into_bytes();
                let timestamp = unix_now().to_string();
                let nonce = hex::encode(rand::random::<[u8; 16]>());
                let signature = hmac_sha256_hex(
                    secret.as_bytes(),
                    &canonical("POST", &path, &timestamp, &nonce, &body),
                );
                let request = Request::post_json(url, body)
                    .header(header_name(settings, "key_header"), app_key)
                    .header(header_name(settings, "timestamp_header"), timestamp)
                    .header(header_name(settings, "nonce_header"), nonce)
                    .header(header_name(settings, "signature_header"), signature)
                    .header(
                        "Idempotency-Key",
                        part_key(idempotency_key, recipient.user_id, recipients.len()),
                    );
                let outcome = match self.http.send(request).await {
                    Ok(response) if response.is_success() => Ok(()),
                    Ok(response) => Err(response.refusal(&target)),
                    Err(e) => Err(e),
                };
                results.push(outcome);
            }
            combine(results)
        })
    }
}
