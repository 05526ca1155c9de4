//! Creating, changing and deleting a project's alert rules: one rule for the API and the UI.
//! Each checks that the rule's targets exist in the organization and writes its audit entry in
//! the transaction of the change.

use errhound_domain::AuditAction;
use errhound_domain::alerts::{Action, AlertRule, AssignedTarget, EmailTarget, Filter, RuleErrors};
use errhound_notify::deliver::{TestNotification, TestOutcome};
use errhound_store::alerts::rules::{self, StoredRule};
use errhound_store::query::Conn;
use errhound_store::{Tx, audit, events, issues, now_ms, orgs, teams};
use serde_json::json;

use crate::AppState;
use crate::api::access::Grant;
use crate::lifecycle::ChangeError;

/// Why a rule was not saved.
#[derive(Debug, thiserror::Error)]
pub enum RuleChangeError {
    /// Fields are invalid (Sentry's `{"field": ["message"]}`).
    #[error("invalid rule")]
    Invalid(RuleErrors),
    /// Anything else.
    #[error(transparent)]
    Change(#[from] ChangeError),
}

impl From<errhound_store::StoreError> for RuleChangeError {
    fn from(error: errhound_store::StoreError) -> RuleChangeError {
        RuleChangeError::Change(ChangeError::Store(error))
    }
}

/// The teams and members a rule names must be the organization's.
async fn check_targets(
    conn: &mut Conn<'_>,
    organization_id: i64,
    rule: &AlertRule,
) -> Result<(), RuleChangeError> {
    let mut errors = RuleErrors::default();
    let mut named = Vec::new();
    for action in &rule.actions {
        match action {
            Action::NotifyEmail(EmailTarget::Team(id)) => named.push(("actions", true, *id)),
            Action::NotifyEmail(EmailTarget::Member(id)) => named.push(("actions", false, *id)),
            _ => {}
        }
    }
    for filter in &rule.filters {
        match filter {
            Filter::AssignedTo(AssignedTarget::Team(id)) => named.push(("filters", true, *id)),
            Filter::AssignedTo(AssignedTarget::Member(id)) => named.push(("filters", false, *id)),
            _ => {}
        }
    }
    for (field, is_team, id) in named {
        let exists = if is_team {
            teams::get(conn, id)
                .await?
                .is_some_and(|t| t.organization_id == organization_id)
        } else {
            orgs::member_role(conn, organization_id, id)
                .await?
                .is_some()
        };
        if !exists {
            let what = if is_team { "team" } else { "member" };
            errors.add(
                field,
                format!("The {what} {id} is not in this organization."),
            );
        }
    }
    if errors.0.is_empty() {
        Ok(())
    } else {
        Err(RuleChangeError::Invalid(errors))
    }
}

async fn record(
    tx: &mut Tx,
    grant: &Grant,
    action: AuditAction,
    stored: &StoredRule,
) -> Result<(), RuleChangeError> {
    let project = grant
        .project()
        .map_err(|_| ChangeError::NotFound("project"))?;
    let data = json!({"id": stored.id, "label": stored.name, "project": project.slug});
    audit::record(
        &mut tx.conn(),
        grant.org.id,
        &grant.audit_actor(),
        action,
        Some(stored.id),
        &data,
        now_ms(),
    )
    .await?;
    Ok(())
}

async fn begin(state: &AppState) -> Result<Tx, RuleChangeError> {
    Ok(state.db.begin().await?)
}

/// Saves a new rule in the path's project.
pub async fn create(
    state: &AppState,
    grant: &Grant,
    rule: &AlertRule,
) -> Result<StoredRule, RuleChangeError> {
    let project = grant
        .project()
        .map_err(|_| ChangeError::NotFound("project"))?;
    let mut tx = begin(state).await?;
    check_targets(&mut tx.conn(), grant.org.id, rule).await?;
    let created_by = grant.caller.user().map(|u| u.id);
    let stored = rules::create(&mut tx.conn(), project.id, rule, created_by, now_ms()).await?;
    record(&mut tx, grant, AuditAction::RuleAdd, &stored).await?;
    tx.commit().await?;
    tracing::info!(
        project.id = project.id,
        rule.id = stored.id,
        "alert rule created"
    );
    Ok(stored)
}

/// Replaces a rule of the path's project.
pub async fn update(
    state: &AppState,
    grant: &Grant,
    rule_id: i64,
    rule: &AlertRule,
) -> Result<StoredRule, RuleChangeError> {
    let project = grant
        .project()
        .map_err(|_| ChangeError::NotFound("project"))?;
    let mut tx = begin(state).await?;
    check_targets(&mut tx.conn(), grant.org.id, rule).await?;
    if !rules::update(&mut tx.conn(), project.id, rule_id, rule, now_ms()).await? {
        return Err(ChangeError::NotFound("The requested rule does not exist.").into());
    }
    let stored = rules::get(&mut tx.conn(), project.id, rule_id)
        .await?
        .ok_or(ChangeError::NotFound("The requested rule does not exist."))?;
    record(&mut tx, grant, AuditAction::RuleEdit, &stored).await?;
    tx.commit().await?;
    tracing::info!(
        project.id = project.id,
        rule.id = rule_id,
        "alert rule changed"
    );
    Ok(stored)
}

/// Deletes a rule of the path's project.
pub async fn delete(state: &AppState, grant: &Grant, rule_id: i64) -> Result<(), RuleChangeError> {
    let project = grant
        .project()
        .map_err(|_| ChangeError::NotFound("project"))?;
    let mut tx = begin(state).await?;
    let stored = rules::get(&mut tx.conn(), project.id, rule_id)
        .await?
        .ok_or(ChangeError::NotFound("The requested rule does not exist."))?;
    rules::delete(&mut tx.conn(), project.id, rule_id).await?;
    record(&mut tx, grant, AuditAction::RuleRemove, &stored).await?;
    tx.commit().await?;
    tracing::info!(
        project.id = project.id,
        rule.id = rule_id,
        "alert rule deleted"
    );
    Ok(())
}

/// "Send test notification": the actions of a rule (saved or not) run once now for the
/// project's latest issue, through the plugins and recipients a real alert would use.
pub async fn send_test(
    state: &AppState,
    grant: &Grant,
    rule_name: &str,
    actions: &[Action],
) -> Result<Vec<TestOutcome>, RuleChangeError> {
    let project = grant
        .project()
        .map_err(|_| ChangeError::NotFound("project"))?;
    let rule = AlertRule {
        actions: actions.to_vec(),
        ..AlertRule::project_default()
    };
    let mut conn = state.db.read_latest().await?;
    check_targets(&mut conn.conn(), grant.org.id, &rule).await?;
    let issue = issues::latest_seen(&mut conn.conn(), project.id).await?;
    let event = match &issue {
        Some(issue) => events::edge_of_issue(&mut conn.conn(), issue.id, true).await?,
        None => None,
    };
    drop(conn);
    let (Some(issue), Some(event)) = (issue, event) else {
        let mut errors = RuleErrors::default();
        errors.add(
            "actions",
            "This project has no issue yet to send a test notification about; send an error first.",
        );
        return Err(RuleChangeError::Invalid(errors));
    };
    let sender = state.alerting.as_ref().ok_or(ChangeError::Forbidden(
        "alerting is not running in this process",
    ))?;
    let test = TestNotification {
        project_id: project.id,
        issue_id: issue.id,
        event_id: &event.event_id,
        rule_name,
    };
    let outcomes = sender.send_test(&test, actions, now_ms()).await;
    tracing::info!(
        project.id = project.id,
        failed = outcomes.iter().filter(|o| o.error.is_some()).count(),
        "test notification sent"
    );
    Ok(outcomes)
}
