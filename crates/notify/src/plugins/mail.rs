//! `mail`: one mail per recipient through the server of `[mail]`.
//!
//! * Subject as Sentry's: `[Project] ERROR: title` (after the project's `subject_prefix`, if
//!   set); a digest: `N new alerts from Project`.
//! * Text and HTML bodies: what happened, title, culprit, the top in-app frames, tags, how often
//!   it was seen, the rules that fired and the link to the issue (a digest lists each issue).
//!   Everything from the event is escaped in the HTML.
//! * `List-Id: "Project" <project.org.host>` so filters can sort per project; `Message-ID`
//!   `<key.user@host>` from the delivery's idempotency key (the same for every attempt); every
//!   mail about one issue has `In-Reply-To` and `References` `<issue-ID@host>`, so mail clients
//!   thread one issue's alerts (a digest, about several issues, starts no thread);
//!   `Auto-Submitted: auto-generated`.
//! * A user setting `email` sends to another address than the account's (Sentry's `mail:email`).
//! * A workflow notice (one issue, one recipient) says what the person did instead:
//!   "Ann assigned SHOP-1 to you", "New comment by Ann on SHOP-1" with the comment, "SHOP-1,
//!   which you resolved, regressed", with the same link and headers (so it joins the issue's
//!   thread).

use errhound_domain::alerts::WorkflowNotice;
use errhound_domain::plugin::{
    BoxFuture, Notification, NotificationPlugin, NotifiedIssue, PluginDescription, PluginError,
    PluginKind, Recipient, SettingKind, SettingSpec, SettingValues,
};

use super::{
    VERSION, combine, digest_title, escape_html, frame_line, headline, one_line, what_happened,
};
use crate::{Mail, MailError, MailHeaders, Mailer};

/// The plugin's id.
pub const ID: &str = "mail";

/// The mail plugin.
#[derive(Debug, Clone)]
pub struct MailPlugin {
    mailer: Option<Mailer>,
    description: PluginDescription,
}

impl MailPlugin {
    /// The plugin over `mailer` (`None` when `[mail]` is not configured: every send is then a
    /// configuration error saying so).
    pub fn new(mailer: Option<Mailer>) -> MailPlugin {
        MailPlugin {
            mailer,
            description: PluginDescription {
                id: ID.to_owned(),
                title: "Mail".to_owned(),
                version: VERSION.to_owned(),
                kind: PluginKind::Notification,
                project_settings: vec![SettingSpec::new(
                    "subject_prefix",
                    "Subject prefix",
                    SettingKind::Text,
                    false,
                    "Put before every subject, e.g. [Production].",
                )],
                user_settings: vec![SettingSpec::new(
                    "email",
                    "Send to",
                    SettingKind::Email,
                    false,
                    "Another address than your account's for this project's alerts.",
                )],
            },
        }
    }
}

impl NotificationPlugin for MailPlugin {
    fn describe(&self) -> &PluginDescription {
        &self.description
    }

    fn notify<'a>(
        &'a self,
        notification: &'a Notification,
        settings: &'a SettingValues,
        recipients: &'a [Recipient],
        idempotency_key: &'a str,
    ) -> BoxFuture<'a, Result<(), PluginError>> {
        Box::pin(async move {
            let Some(mailer) = &self.mailer else {
                return Err(PluginError::Config(
                    "mail is not configured: set [mail] url and from".to_owned(),
                ));
            };
            let mut results = Vec::with_capacity(recipients.len());
            for recipient in recipients {
                let (mail, headers) = compose(notification, settings, recipient, idempotency_key);
                let sent = mailer.send_with(&mail, &headers).await;
                results.push(sent.map_err(|e| plugin_error(&e)));
            }
            combine(results)
        })
    }
}

/// The plugin error of a mail error.
fn plugin_error(error: &MailError) -> PluginError {
    match error {
        MailError::Config(m) => PluginError::Config(m.clone()),
        MailError::Connection { .. } | MailError::Timeout { .. } => {
            PluginError::Unreachable(error.to_string())
        }
        _ => PluginError::Refused {
            detail: error.to_string(),
            retry: error.is_retryable(),
        },
    }
}

/// The host of the issue links (the server's public URL), for ids and the list id.
fn link_host(notification: &Notification) -> String {
    notification
        .issues
        .first()
        .and_then(|issue| url::Url::parse(&issue.url).ok())
        .and_then(|url| url.host_str().map(str::to_owned))
        .filter(|host| !host.is_empty())
        .unwrap_or_else(|| "errhound.invalid".to_owned())
        .trim_start_matches('[')
        .trim_end_matches(']')
        .replace(':', "-")
}

/// The mail for one recipient, and its headers.
pub fn compose(
    notification: &Notification,
    settings: &SettingValues,
    recipient: &Recipient,
    idempotency_key: &str,
) -> (Mail, MailHeaders) {
    let project = &notification.project;
    let host = link_host(notification);
    let prefix = settings
        .text("subject_prefix")
        .map(|p| format!("{} ", one_line(p.trim())))
        .unwrap_or_default();
    let single = match notification.issues.as_slice() {
        [issue] => Some(issue),
        _ => None,
    };
    let notice = single.and_then(|issue| issue.reason.notice().map(|n| (issue, n)));
    let subject = match (notice, single) {
        (Some((issue, notice)), _) => format!(
            "{prefix}[{}] {}",
            one_line(&project.name),
            notice_line(issue, notice)
        ),
        (None, Some(issue)) => {
            format!("{prefix}[{}] {}", one_line(&project.name), headline(issue))
        }
        (None, None) => format!("{prefix}{}", digest_title(notification)),
    };
    let to = recipient
        .settings
        .text("email")
        .unwrap_or(&recipient.email)
        .to_owned();
    let (text, html) = match (notice, single) {
        (Some((issue, notice)), _) => (notice_text(issue, notice), notice_html(issue, notice)),
        (None, Some(issue)) => (
            issue_text(notification, issue),
            issue_html(notification, issue),
        ),
        (None, None) => (digest_text(notification), digest_html(notification)),
    };
    let id_part: String = idempotency_key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        .collect();
    let thread = single.map(|issue| format!("<issue-{}@{host}>", issue.id));
    let headers = MailHeaders {
        message_id: Some(format!("<{id_part}.{}@{host}>", recipient.user_id)),
        in_reply_to: thread.clone(),
        references: thread,
        list_id: Some(format!(
            "\"{}\" <{}.{}.{host}>",
            one_line(&project.name).replace(['"', '\\'], ""),
            project.slug,
            project.org_slug
        )),
        auto_generated: true,
    };
    (
        Mail {
            to,
            subject,
            text,
            html: Some(html),
        },
        headers,
    )
}

/// What the person did, in one line: the subject and the first line of a workflow notice.
fn notice_line(issue: &NotifiedIssue, notice: WorkflowNotice) -> String {
    let actor = one_line(issue.actor.as_deref().unwrap_or("Someone"));
    match notice {
        WorkflowNotice::Assigned => match &issue.detail {
            Some(team) => format!("{actor} assigned {} to #{}", issue.short_id, one_line(team)),
            None => format!("{actor} assigned {} to you", issue.short_id),
        },
        WorkflowNotice::Commented => format!("New comment by {actor} on {}", issue.short_id),
        WorkflowNotice::ResolvedRegressed => {
            format!("{}, which you resolved, regressed", issue.short_id)
        }
    }
}

/// How to stop workflow notices, at the end of each.
const OPT_OUT: &str =
    "Workflow notifications can be turned off in your account's notification settings.";

/// Why the recipient gets it.
fn notice_footer(notice: WorkflowNotice) -> &'static str {
    match notice {
        WorkflowNotice::Assigned => {
            "You receive this because the issue was assigned to you or your team."
        }
        WorkflowNotice::Commented => "You receive this because you took part in this issue.",
        WorkflowNotice::ResolvedRegressed => "You receive this because you resolved this issue.",
    }
}

fn notice_text(issue: &NotifiedIssue, notice: WorkflowNotice) -> String {
    let mut out = format!("{}.\n", notice_line(issue, notice));
    if let (WorkflowNotice::Commented, Some(comment)) = (notice, &issue.detail) {
        out.push('\n');
        for line in comment.lines() {
            out.push_str(&format!("> {line}\n"));
        }
    }
    out.push_str(&format!("\n{}\n", headline(issue)));
    if !issue.culprit.is_empty() {
        out.push_str(&format!("{}\n", one_line(&issue.culprit)));
    }
    out.push_str(&format!("\n{}: {}\n", issue.short_id, issue.url));
    out.push_str(&format!("\n{} {OPT_OUT}\n", notice_footer(notice)));
    out
}

/// The issue's title, linked to its page, and its culprit: the head of both kinds of mail.
fn issue_heading_html(out: &mut String, issue: &NotifiedIssue) {
    let e = escape_html;
    out.push_str(&format!(
        "<h2><a href=\"{}\">{}</a></h2>\n",
        e(&issue.url),
        e(&headline(issue))
    ));
    if !issue.culprit.is_empty() {
        out.push_str(&format!("<p><code>{}</code></p>\n", e(&issue.culprit)));
    }
}

fn notice_html(issue: &NotifiedIssue, notice: WorkflowNotice) -> String {
    let e = escape_html;
    let mut out = String::from("<!DOCTYPE html>\n<html><body>\n");
    out.push_str(&format!("<p>{}.</p>\n", e(&notice_line(issue, notice))));
    if let (WorkflowNotice::Commented, Some(comment)) = (notice, &issue.detail) {
        out.push_str(&format!(
            "<blockquote style=\"white-space: pre-wrap\">{}</blockquote>\n",
            e(comment)
        ));
    }
    issue_heading_html(&mut out, issue);
    out.push_str(&format!(
        "<p><a href=\"{}\">View {} in Errhound</a></p>\n",
        e(&issue.url),
        e(&issue.short_id)
    ));
    out.push_str(&format!(
        "<p><small>{} {OPT_OUT}</small></p>\n",
        e(notice_footer(notice))
    ));
    out.push_str("</body></html>\n");
    out
}

fn context_line(notification: &Notification, issue: &NotifiedIssue) -> String {
    let mut parts = vec![format!("project {}", notification.project.name)];
    if let Some(env) = &issue.environment {
        parts.push(format!("environment {env}"));
    }
    if let Some(release) = &issue.release {
        parts.push(format!("release {release}"));
    }
    format!(
        "{} in {}. Seen {} time{}.",
        what_happened(issue.reason),
        parts.join(", "),
        issue.times_seen,
        if issue.times_seen == 1 { "" } else { "s" }
    )
}

fn issue_text(notification: &Notification, issue: &NotifiedIssue) -> String {
    let mut out = format!("{}\n", headline(issue));
    if !issue.culprit.is_empty() {
        out.push_str(&format!("{}\n", one_line(&issue.culprit)));
    }
    out.push_str(&format!("\n{}\n", context_line(notification, issue)));
    if !issue.frames.is_empty() {
        out.push_str("\nStack trace (most recent call first):\n");
        for frame in &issue.frames {
            out.push_str(&format!("  {}\n", one_line(&frame_line(frame))));
        }
    }
    if !issue.tags.is_empty() {
        out.push_str("\nTags:\n");
        for (key, value) in &issue.tags {
            out.push_str(&format!("  {} = {}\n", one_line(key), one_line(value)));
        }
    }
    out.push_str(&format!("\n{}: {}\n", issue.short_id, issue.url));
    if !issue.rules.is_empty() {
        out.push_str(&format!(
            "\nThis alert was sent by the rule{} {}.\n",
            if issue.rules.len() == 1 { "" } else { "s" },
            issue
                .rules
                .iter()
                .map(|r| one_line(r))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    out
}

fn issue_html(notification: &Notification, issue: &NotifiedIssue) -> String {
    let e = escape_html;
    let mut out = String::from("<!DOCTYPE html>\n<html><body>\n");
    issue_heading_html(&mut out, issue);
    out.push_str(&format!(
        "<p>{}</p>\n",
        e(&context_line(notification, issue))
    ));
    if !issue.frames.is_empty() {
        out.push_str("<h3>Stack trace (most recent call first)</h3>\n<pre>");
        for frame in &issue.frames {
            out.push_str(&format!("{}\n", e(&frame_line(frame))));
        }
        out.push_str("</pre>\n");
    }
    if !issue.tags.is_empty() {
        out.push_str("<h3>Tags</h3>\n<table>\n");
        for (key, value) in &issue.tags {
            out.push_str(&format!(
                "<tr><th>{}</th><td>{}</td></tr>\n",
                e(key),
                e(value)
            ));
        }
        out.push_str("</table>\n");
    }
    out.push_str(&format!(
        "<p><a href=\"{}\">View {} in Errhound</a></p>\n",
        e(&issue.url),
        e(&issue.short_id)
    ));
    if !issue.rules.is_empty() {
        out.push_str(&format!("<p>Sent by: {}</p>\n", e(&issue.rules.join(", "))));
    }
    out.push_str("</body></html>\n");
    out
}

fn digest_text(notification: &Notification) -> String {
    let mut out = format!("{}\n\n", digest_title(notification));
    for issue in &notification.issues {
        out.push_str(&format!(
            "- {} ({}, seen {} times)\n  {}\n",
            headline(issue),
            what_happened(issue.reason),
            issue.times_seen,
            issue.url
        ));
        if !issue.culprit.is_empty() {
            out.push_str(&format!("  {}\n", one_line(&issue.culprit)));
        }
    }
    out
}

fn digest_html(notification: &Notification) -> String {
    let e = escape_html;
    let mut out = format!(
        "<!DOCTYPE html>\n<html><body>\n<h2>{}</h2>\n<ul>\n",
        e(&digest_title(notification))
    );
    for issue in &notification.issues {
        out.push_str(&format!(
            "<li><a href=\"{}\">{}</a> ({}, seen {} times)<br><code>{}</code></li>\n",
            e(&issue.url),
            e(&headline(issue)),
            e(what_happened(issue.reason)),
            issue.times_seen,
            e(&issue.culprit)
        ));
    }
    out.push_str("</ul>\n</body></html>\n");
    out
}
