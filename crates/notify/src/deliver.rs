//! The sender: claims due batches of the delivery outbox ([`outbox::claim_batch`]), sends each
//! through its plugin, and records the outcome ([`outbox::finish`]).
//!
//! A claim is committed before the send, so no transaction is held during network I/O (which
//! would stall SQLite's single writer and so ingest). A send that fails in a way a retry may fix
//! is tried again with exponential backoff ([`retry_delay_ms`]); a lasting failure, or the last
//! attempt, makes the batch dead (shown in the UI, with "retry now"). A sender that dies mid-send
//! leaves its lease (`notify.lease_s`) to run out; the next one resends the same batch with the
//! same idempotency key.

use std::collections::BTreeMap;
use std::sync::Arc;

use errhound_domain::Level;
use errhound_domain::alerts::{
    Action, DeliveryState, EmailTarget, EventFacts, Reason, Trigger, retry_delay_ms,
};
use errhound_domain::plugin::settings::SettingValues;
use errhound_domain::plugin::{
    Notification, NotificationPlugin, NotifiedIssue, PluginDescription, PluginError,
    ProjectSummary, Recipient,
};
use errhound_domain::short_id::short_id;
use errhound_store::alerts::outbox::{self, Batch, Delivery, Finish};
use errhound_store::alerts::plugins;
use errhound_store::alerts::recipients::{self, Purpose, Within};
use errhound_store::alerts::rules;
use errhound_store::payload::PayloadDictionaries;
use errhound_store::query::Conn;
use errhound_store::{Db, StoreError, events, issues, orgs, projects};
use serde_json::Value;

use crate::registry::PluginRegistry;
use crate::secrets::ServerKey;

/// Metric: notification sends, by `plugin` and `outcome` (`sent`, `retrying`, `failed`).
pub const DELIVERIES_METRIC: &str = "errhound_notification_deliveries_total";

/// The mail plugin's id: on in every project unless turned off there.
pub const MAIL: &str = "mail";

/// Sends what the outbox holds.
#[derive(Clone)]
pub struct Sender {
    /// The database.
    pub db: Db,
    /// To read event payloads.
    pub dictionaries: Arc<PayloadDictionaries>,
    /// The plugins.
    pub registry: Arc<PluginRegistry>,
    /// Opens the secret settings.
    pub key: Arc<ServerKey>,
    /// Links point here.
    pub public_url: String,
    /// Most issues in one digest (`notify.digest_max`).
    pub digest_max: i64,
    /// How long a claimed batch is this sender's (`notify.lease_s`), in milliseconds.
    pub lease_ms: i64,
}

/// What a test notification is about.
#[derive(Debug, Clone, Copy)]
pub struct TestNotification<'a> {
    /// The project.
    pub project_id: i64,
    /// The issue shown (the project's latest).
    pub issue_id: i64,
    /// Its event shown.
    pub event_id: &'a str,
    /// The rule being tested (saved or not).
    pub rule_name: &'a str,
}

/// What one action of a test notification did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TestOutcome {
    /// The action, in words.
    pub action: String,
    /// The plugin(s) that sent, or that failed.
    pub plugin: String,
    /// Why it was not sent.
    pub error: Option<String>,
}

/// Why one batch could not be sent, and whether trying again may help.
struct Failure {
    plugin_id: String,
    error: PluginError,
}

impl Sender {
    /// Sends every batch due at `now_ms()`; returns how many were handled.
    pub async fn send_due(&self, now_ms: impl Fn() -> i64) -> Result<usize, StoreError> {
        let mut handled = 0;
        loop {
            let now = now_ms();
            let mut tx = self.db.begin().await?;
            let Some(batch) =
                outbox::claim_batch(&mut tx, now, self.lease_ms, self.digest_max).await?
            else {
                return Ok(handled);
            };
            tx.commit().await?;
            let outcome = self.send(&batch, None).await;
            let end = now_ms();
            let (plugin_id, finish_with, error_text);
            match &outcome {
                Ok(plugin) => {
                    plugin_id = plugin.clone();
                    finish_with = Ok(());
                    error_text = String::new();
                }
                Err(failure) => {
                    plugin_id = failure.plugin_id.clone();
                    error_text = failure.error.to_string();
                    finish_with = Err(failure.error.is_retryable());
                }
            }
            let attempts = batch
                .deliveries
                .iter()
                .map(|d| d.attempts)
                .max()
                .unwrap_or(0)
                + 1;
            let finish = match finish_with {
                Ok(()) => Finish::Sent,
                Err(true) => match retry_delay_ms(u32::try_from(attempts).unwrap_or(u32::MAX)) {
                    Some(delay) => Finish::Retry {
                        due_at: end + delay,
                        error: &error_text,
                    },
                    None => Finish::Dead { error: &error_text },
                },
                Err(false) => Finish::Dead { error: &error_text },
            };
            let label = match &finish {
                Finish::Sent => "sent",
                Finish::Retry { .. } => "retrying",
                Finish::Dead { .. } => "failed",
            };
            metrics::counter!(DELIVERIES_METRIC, "plugin" => plugin_id.clone(), "outcome" => label)
                .increment(1);
            match &finish {
                Finish::Sent => {
                    tracing::info!(batch = %batch.id, plugin = %plugin_id, issues = batch.deliveries.len(), "notification sent")
                }
                _ => {
                    tracing::warn!(batch = %batch.id, plugin = %plugin_id, outcome = label, error = %error_text, "notification not sent")
                }
            }
            let mut conn = self.db.write().await?;
            outbox::finish(&mut conn.conn(), &batch.id, &plugin_id, &finish, end).await?;
            handled += 1;
        }
    }

    /// "Send test notification": each of `actions` once, now, for the issue `issue_id` (its
    /// event `event_id`), through the same plugins, settings and recipients as a real alert, and
    /// labelled `Test notification: {rule_name}`. Nothing goes through the outbox: nothing is
    /// recorded, retried or digested; the outcome of each action is returned.
    pub async fn send_test(
        &self,
        test: &TestNotification<'_>,
        actions: &[Action],
        now_ms: i64,
    ) -> Vec<TestOutcome> {
        let label = format!("Test notification: {}", test.rule_name);
        let mut outcomes = Vec::with_capacity(actions.len());
        for (index, action) in actions.iter().enumerate() {
            let target = action.to_json();
            let batch = unsent_batch(
                // Unique per test, so a receiver that drops repeated keys still shows each test.
                format!("test:{}:{now_ms}:{index}", test.project_id),
                (test.project_id, test.issue_id, test.event_id),
                target.to_string(),
                now_ms,
            );
            let sent = self.send(&batch, Some(&label)).await;
            let action_name = target
                .get("name")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            outcomes.push(match sent {
                Ok(plugin) => TestOutcome {
                    action: action_name,
                    plugin,
                    error: None,
                },
                Err(failure) => {
                    tracing::warn!(plugin = %failure.plugin_id, error = %failure.error, "test notification not sent");
                    TestOutcome {
                        action: action_name,
                        plugin: failure.plugin_id,
                        error: Some(failure.error.to_string()),
                    }
                }
            });
        }
        outcomes
    }

    /// Sends one batch; the plugin that took it, or why none did. `label`, when given, is
    /// shown as the rule that fired (a test notification).
    async fn send(&self, batch: &Batch, label: Option<&str>) -> Result<String, Failure> {
        let first = &batch.deliveries[0];
        let action = serde_json::from_str::<Value>(&first.target)
            .ok()
            .and_then(|v| v.as_object().cloned())
            .ok_or_else(|| "unreadable target".to_owned())
            .and_then(|object| Action::parse(&object));
        let action = action.map_err(|e| Failure {
            plugin_id: String::new(),
            error: PluginError::Config(e),
        })?;
        let (plugin_id, within) = match &action {
            Action::NotifyEmail(EmailTarget::IssueOwners) => (MAIL.to_owned(), Within::Project),
            Action::NotifyEmail(EmailTarget::Team(id)) => (MAIL.to_owned(), Within::Team(*id)),
            Action::NotifyEmail(EmailTarget::Member(id)) => (MAIL.to_owned(), Within::User(*id)),
            Action::NotifyService { service } => (service.clone(), Within::Project),
            Action::NotifyAllPlugins => return self.send_to_all(batch, label).await,
        };
        self.send_via(batch, &plugin_id, within, &batch.id, label)
            .await?;
        Ok(plugin_id)
    }

    /// Sentry's "all legacy integrations": every notification plugin on in the project but
    /// mail, each with its own idempotency key; the first failure fails the batch (a retry
    /// repeats the sends that worked with the same keys, which their targets drop).
    async fn send_to_all(&self, batch: &Batch, label: Option<&str>) -> Result<String, Failure> {
        let project_id = batch.deliveries[0].project_id;
        let enabled = async {
            let mut conn = self.db.read_latest().await?;
            plugins::project_plugins(&mut conn.conn(), project_id).await
        }
        .await
        .map_err(|e| Failure {
            plugin_id: String::new(),
            error: PluginError::Unreachable(format!("database: {e}")),
        })?;
        let ids: Vec<String> = enabled
            .into_iter()
            .filter(|row| row.enabled && row.plugin_id != MAIL)
            .map(|row| row.plugin_id)
            .filter(|id| self.registry.notification(id).is_some())
            .collect();
        for id in &ids {
            let key = format!("{}:{id}", batch.id);
            self.send_via(batch, id, Within::Project, &key, label)
                .await?;
        }
        Ok(ids.join(","))
    }

    /// Sends the batch through `plugin_id` to those `within` the project.
    async fn send_via(
        &self,
        batch: &Batch,
        plugin_id: &str,
        within: Within,
        idempotency_key: &str,
        label: Option<&str>,
    ) -> Result<(), Failure> {
        let first = &batch.deliveries[0];
        let fail = |error: PluginError| Failure {
            plugin_id: plugin_id.to_owned(),
            error,
        };
        let store = |e: StoreError| fail(PluginError::Unreachable(format!("database: {e}")));
        let Some(plugin) = self.registry.notification(plugin_id) else {
            return Err(fail(PluginError::Config(format!(
                "no notification plugin {plugin_id:?} is installed"
            ))));
        };
        let mut conn = self.db.read_latest().await.map_err(store)?;
        let mut c = conn.conn();
        let purpose = match first.reason {
            Reason::Alert(_) => Purpose::Alert,
            Reason::Workflow(_) => Purpose::Workflow,
        };
        let settings = match self
            .opened_settings(&mut c, first.project_id, plugin.describe())
            .await
            .map_err(store)?
        {
            Ok(settings) => settings,
            Err(refusal) => return workflow_tolerates(purpose, refusal).map_err(fail),
        };
        let Some(notification) = self
            .notification(&mut c, batch, label)
            .await
            .map_err(store)?
        else {
            // The project or its issues are gone: nothing to say, nobody to say it to.
            return Ok(());
        };
        let recipients = self
            .recipients(&mut c, first.project_id, within, purpose, plugin.as_ref())
            .await
            .map_err(store)?;
        drop(conn);
        if plugin_id == MAIL && recipients.is_empty() {
            return Ok(());
        }
        match plugin
            .notify(&notification, &settings, &recipients, idempotency_key)
            .await
        {
            Ok(()) => Ok(()),
            Err(error) => workflow_tolerates(purpose, error).map_err(fail),
        }
    }

    /// The project settings of the plugin `description` describes, opened (secrets readable);
    /// a [`PluginError::Config`] when it is not on in the project. For a plugin of either kind.
    pub async fn opened_settings(
        &self,
        conn: &mut Conn<'_>,
        project_id: i64,
        description: &PluginDescription,
    ) -> Result<Result<SettingValues, PluginError>, StoreError> {
        let stored = plugins::project_plugin(conn, project_id, &description.id).await?;
        if !enabled_in_project(&description.id, stored.as_ref()) {
            return Ok(Err(PluginError::Config(format!(
                "the {} plugin is not enabled in this project",
                description.id
            ))));
        }
        let values = stored
            .map(|row| settings_of(&row.settings))
            .unwrap_or_default();
        Ok(self
            .key
            .open_settings(&description.project_settings, &values)
            .map_err(|e| PluginError::Config(format!("cannot open the saved secrets: {e}"))))
    }

    /// One issue as plugins are told about it (its event `event_id` gives the environment,
    /// release, tags and frames; an unknown one gives none), for an issue-tracking plugin's
    /// ticket: the notification alerts are made of, so a ticket links the same page. `None`
    /// when the issue or its project is gone.
    pub async fn issue_notification(
        &self,
        conn: &mut Conn<'_>,
        project_id: i64,
        issue_id: i64,
        event_id: &str,
        now_ms: i64,
    ) -> Result<Option<Notification>, StoreError> {
        let batch = unsent_batch(
            String::new(),
            (project_id, issue_id, event_id),
            String::new(),
            now_ms,
        );
        self.notification(conn, &batch, None).await
    }

    /// The notification of a batch, one entry per issue (its newest delivery), oldest first;
    /// `label` replaces the names of the rules that fired.
    async fn notification(
        &self,
        conn: &mut Conn<'_>,
        batch: &Batch,
        label: Option<&str>,
    ) -> Result<Option<Notification>, StoreError> {
        let first = &batch.deliveries[0];
        let Some(project) = projects::get(conn, first.project_id).await? else {
            return Ok(None);
        };
        let Some(org) = orgs::get(conn, project.organization_id).await? else {
            return Ok(None);
        };
        let mut newest = BTreeMap::new();
        for delivery in &batch.deliveries {
            newest.insert(delivery.issue_id, delivery);
        }
        let mut rule_names: BTreeMap<i64, String> = BTreeMap::new();
        let mut notified = Vec::new();
        for (issue_id, delivery) in newest {
            let Some(issue) = issues::get(conn, issue_id).await? else {
                continue;
            };
            if let Some(rule_id) = delivery.rule_id
                && !rule_names.contains_key(&rule_id)
                && let Some(rule) = rules::get(conn, project.id, rule_id).await?
            {
                rule_names.insert(rule_id, rule.name);
            }
            let facts = match events::find(conn, project.id, &delivery.event_id).await? {
                Some(stored) => match self.dictionaries.decode_json(conn, &stored.data).await {
                    Ok(json) => EventFacts::from_event(&json),
                    Err(_) => EventFacts::default(),
                },
                None => EventFacts::default(),
            };
            notified.push(NotifiedIssue {
                id: issue.id,
                short_id: short_id(&project.slug, issue.short_id),
                title: issue.title.clone(),
                culprit: issue.culprit.clone(),
                level: Level::from_name(&issue.level).unwrap_or(Level::Error),
                url: format!(
                    "{}/organizations/{}/issues/{}/",
                    self.public_url.trim_end_matches('/'),
                    org.slug,
                    issue.id
                ),
                times_seen: u64::try_from(issue.times_seen).unwrap_or(0),
                reason: delivery.reason,
                actor: delivery.actor.clone(),
                detail: delivery.detail.clone(),
                rules: match label {
                    Some(label) => vec![label.to_owned()],
                    None => delivery
                        .rule_id
                        .and_then(|id| rule_names.get(&id).cloned())
                        .into_iter()
                        .collect(),
                },
                event_id: delivery.event_id.clone(),
                environment: facts.environment,
                release: facts.release,
                tags: facts.tags,
                frames: facts.frames,
            });
        }
        if notified.is_empty() {
            return Ok(None);
        }
        Ok(Some(Notification {
            project: ProjectSummary {
                id: project.id,
                slug: project.slug,
                name: project.name,
                org_slug: org.slug,
            },
            issues: notified,
        }))
    }

    /// Who receives it: those `within` the project a message for `purpose` may reach, minus
    /// those who turned this plugin off for themselves, each with their own settings for it.
    async fn recipients(
        &self,
        conn: &mut Conn<'_>,
        project_id: i64,
        within: Within,
        purpose: Purpose,
        plugin: &dyn NotificationPlugin,
    ) -> Result<Vec<Recipient>, StoreError> {
        let reachable = recipients::reachable(conn, project_id, within, purpose).await?;
        let ids: Vec<i64> = reachable.iter().map(|r| r.user_id).collect();
        let plugin_id = &plugin.describe().id;
        let choices: BTreeMap<i64, plugins::UserPlugin> =
            plugins::user_plugins(conn, plugin_id, &ids)
                .await?
                .into_iter()
                .map(|row| (row.user_id, row))
                .collect();
        Ok(reachable
            .into_iter()
            .filter(|r| choices.get(&r.user_id).is_none_or(|c| c.enabled))
            .map(|r| Recipient {
                settings: choices
                    .get(&r.user_id)
                    .map(|c| self.opened_user_settings(plugin, r.user_id, &c.settings))
                    .unwrap_or_default(),
                user_id: r.user_id,
                email: r.email,
                name: r.name,
            })
            .collect())
    }

    /// A user's saved settings for `plugin`, secrets opened. A secret that does not open (a
    /// changed server key) is left out, with a warning: the user is still notified, as far as
    /// the plugin can without it.
    fn opened_user_settings(
        &self,
        plugin: &dyn NotificationPlugin,
        user_id: i64,
        stored: &str,
    ) -> SettingValues {
        let specs = &plugin.describe().user_settings;
        let mut stored = settings_of(stored);
        match self.key.open_settings(specs, &stored) {
            Ok(opened) => opened,
            Err(error) => {
                tracing::warn!(
                    user.id = user_id,
                    plugin.id = %plugin.describe().id,
                    %error,
                    "a user's saved plugin secret does not open; their other settings are used"
                );
                stored
                    .0
                    .retain(|key, _| !specs.iter().any(|s| s.kind.is_secret() && &s.key == key));
                stored
            }
        }
    }
}

/// A batch of one delivery that is not in the outbox, about the issue and event of `about`
/// (project, issue, event), to `target`: what a test notification sends and a ticket is made
/// of.
fn unsent_batch(id: String, about: (i64, i64, &str), target: String, now_ms: i64) -> Batch {
    let (project_id, issue_id, event_id) = about;
    Batch {
        id,
        deliveries: vec![Delivery {
            id: 0,
            project_id,
            rule_id: None,
            issue_id,
            event_id: event_id.to_owned(),
            reason: Reason::Alert(Trigger::Created),
            actor: None,
            detail: None,
            target,
            state: DeliveryState::Pending,
            attempts: 0,
            due_at: now_ms,
            last_error: None,
            created_at: now_ms,
            finished_at: None,
        }],
    }
}

/// A configuration refusal (mail off in the project, or no mail server) drops a workflow
/// notice quietly: the alerts of the project show that refusal as dead letters already, and
/// every assignment and comment should not add one. Other failures stay failures.
fn workflow_tolerates(purpose: Purpose, error: PluginError) -> Result<(), PluginError> {
    match (purpose, error) {
        (Purpose::Workflow, PluginError::Config(reason)) => {
            tracing::debug!(%reason, "workflow notice not sent");
            Ok(())
        }
        (_, error) => Err(error),
    }
}

/// Whether `plugin_id` is on in a project whose row for it is `stored`: the row's switch, and
/// without a row only mail (on unless a project turns it off).
pub fn enabled_in_project(plugin_id: &str, stored: Option<&plugins::ProjectPlugin>) -> bool {
    match stored {
        Some(row) => row.enabled,
        None => plugin_id == MAIL,
    }
}

/// Stored settings JSON as values (anything but an object is no settings).
pub fn settings_of(json: &str) -> SettingValues {
    match serde_json::from_str::<Value>(json) {
        Ok(Value::Object(map)) => SettingValues(map.into_iter().collect()),
        _ => SettingValues::default(),
    }
}
