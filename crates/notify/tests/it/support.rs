//! A notification as the sender builds it, with hostile text where event data goes.

use errhound_domain::Level;
use errhound_domain::alerts::{Reason, Trigger};
use errhound_domain::plugin::{
    FrameSummary, Notification, NotifiedIssue, ProjectSummary, Recipient, SettingValues,
};
use serde_json::{Map, Value};

pub const ISSUE_URL: &str = "https://errhound.example.com/organizations/acme/issues/42/";

/// One issue (id `id`) with hostile title, culprit and tags.
pub fn issue(id: i64) -> NotifiedIssue {
    NotifiedIssue {
        id,
        short_id: format!("SHOP-{id}"),
        title: format!("ZeroDivisionError: <b>boom</b> & <!channel> @everyone #{id}"),
        culprit: "app.checkout in <total>".to_owned(),
        level: Level::Error,
        url: ISSUE_URL.replace("42", &id.to_string()),
        times_seen: 3,
        reason: Reason::Alert(Trigger::Created),
        actor: None,
        detail: None,
        rules: vec!["New issue -> mail".to_owned()],
        event_id: "a".repeat(32),
        environment: Some("production".to_owned()),
        release: Some("shop@1.2.3".to_owned()),
        tags: vec![
            ("logger".to_owned(), "root".to_owned()),
            ("browser".to_owned(), "<script>alert(1)</script>".to_owned()),
        ],
        frames: vec![FrameSummary {
            function: Some("total".to_owned()),
            filename: Some("app/checkout.py".to_owned()),
            lineno: Some(17),
        }],
    }
}

/// A notification about the issues `ids` of the project Shop.
pub fn notification(ids: &[i64]) -> Notification {
    Notification {
        project: ProjectSummary {
            id: 7,
            slug: "shop".to_owned(),
            name: "Shop".to_owned(),
            org_slug: "acme".to_owned(),
        },
        issues: ids.iter().map(|id| issue(*id)).collect(),
    }
}

/// Setting values from `pairs`.
pub fn settings(pairs: &[(&str, &str)]) -> SettingValues {
    SettingValues(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
            .collect(),
    )
}

/// A JSON object from `pairs` (a `PUT` body).
pub fn body(pairs: &[(&str, &str)]) -> Map<String, Value> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), Value::String((*v).to_owned())))
        .collect()
}

/// A recipient.
pub fn recipient(user_id: i64, email: &str, settings: SettingValues) -> Recipient {
    Recipient {
        user_id,
        email: email.to_owned(),
        name: email.split('@').next().unwrap_or_default().to_owned(),
        settings,
    }
}
