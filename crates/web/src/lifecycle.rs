//! Renaming and deleting organizations, teams and projects, creating teams and giving projects
//! to teams: one rule each for the API and the UI, each writing its audit entry in the
//! transaction of the change.
//!
//! Deleting an organization or a project marks it pending deletion
//! ([`errhound_store::deletion`]): it disappears from every read at once, its DSN keys are
//! refused from that commit on (this process's key cache forgets them here), and the
//! `pending_deletions` task removes its data in small batches afterwards.

use axum::http::StatusCode;
use errhound_domain::slug::{INVALID_SLUG_MESSAGE, is_valid_slug};
use errhound_domain::{AuditAction, Role};
use errhound_store::orgs::{self as org_store, Organization};
use errhound_store::projects::{self, Project};
use errhound_store::teams::{self as team_store, Team};
use errhound_store::{StoreError, Tx, audit, now_ms};
use serde_json::{Map, Value, json};

use crate::AppState;
use crate::api::access::{self, Grant};
use crate::error::ApiError;
use crate::ui::UiError;

/// Longest organization or team name (Sentry's limit).
pub const MAX_SHORT_NAME_CHARS: usize = 64;

/// Why a change was refused.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// A field is invalid.
    #[error("{field}: {message}")]
    Invalid {
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The slug is taken.
    #[error("{0}")]
    Conflict(&'static str),
    /// The caller may not do this.
    #[error("{0}")]
    Forbidden(&'static str),
    /// What the change names does not exist (for the caller).
    #[error("{0}")]
    NotFound(&'static str),
    /// The database failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl From<ChangeError> for ApiError {
    fn from(error: ChangeError) -> ApiError {
        match error {
            ChangeError::Invalid { field, message } => ApiError::invalid_field(field, message),
            ChangeError::Conflict(message) => ApiError::new(StatusCode::CONFLICT, message),
            ChangeError::Forbidden(message) => ApiError::new(StatusCode::FORBIDDEN, message),
            ChangeError::NotFound(message) => ApiError::new(StatusCode::NOT_FOUND, message),
            ChangeError::Store(error) => ApiError::from(error),
        }
    }
}

impl From<ChangeError> for UiError {
    fn from(error: ChangeError) -> UiError {
        match error {
            ChangeError::Invalid { message, .. } => UiError::bad_request(message),
            ChangeError::Conflict(message) => UiError::new(StatusCode::CONFLICT, message),
            ChangeError::Forbidden(message) => UiError::forbidden(message),
            ChangeError::NotFound(message) => UiError::new(StatusCode::NOT_FOUND, message),
            ChangeError::Store(error) => UiError::from(error),
        }
    }
}

/// A new name and slug (each `None` keeps the current one).
#[derive(Debug, Clone, Default)]
pub struct Rename {
    /// Display name.
    pub name: Option<String>,
    /// URL name.
    pub slug: Option<String>,
}

impl Rename {
    /// The `name` and `slug` string fields of a JSON body.
    pub fn from_json(body: &Map<String, Value>) -> Result<Rename, ChangeError> {
        let field = |name: &'static str| match body.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(ChangeError::Invalid {
                field: name,
                message: "Not a valid string.".to_owned(),
            }),
        };
        Ok(Rename {
            name: field("name")?,
            slug: field("slug")?,
        })
    }

    /// The name and slug after the change, validated as at creation.
    fn apply(
        &self,
        name: &str,
        slug: &str,
        max_name: usize,
    ) -> Result<(String, String), ChangeError> {
        let name = match &self.name {
            Some(new) => {
                let new = new.trim();
                if new.is_empty() || new.chars().count() > max_name {
                    return Err(ChangeError::Invalid {
                        field: "name",
                        message: format!("The name must be 1 to {max_name} characters long."),
                    });
                }
                new.to_owned()
            }
            None => name.to_owned(),
        };
        let slug = match &self.slug {
            Some(new) => {
                let new = new.trim();
                if !is_valid_slug(new) {
                    return Err(ChangeError::Invalid {
                        field: "slug",
                        message: INVALID_SLUG_MESSAGE.to_owned(),
                    });
                }
                new.to_owned()
            }
            None => slug.to_owned(),
        };
        Ok((name, slug))
    }
}

/// What changes in an organization.
#[derive(Debug, Clone, Default)]
pub struct OrgChanges {
    /// Name and slug.
    pub rename: Rename,
    /// Open membership (every member sees every project).
    pub open_membership: Option<bool>,
}

async fn record(
    tx: &mut Tx,
    grant: &Grant,
    action: AuditAction,
    target: i64,
    data: &Value,
) -> Result<(), StoreError> {
    audit::record(
        &mut tx.conn(),
        grant.org.id,
        &grant.audit_actor(),
        action,
        Some(target),
        data,
        now_ms(),
    )
    .await
}

/// Changes the organization's name, slug or open membership (`org.edit`). A slug change
/// answers the organization under its new slug; the old slug finds nothing from then on.
pub async fn edit_org(
    state: &AppState,
    grant: &Grant,
    changes: &OrgChanges,
) -> Result<Organization, ChangeError> {
    let mut org = grant.org.clone();
    let (name, slug) = changes
        .rename
        .apply(&org.name, &org.slug, MAX_SHORT_NAME_CHARS)?;
    let mut data = Map::new();
    if name != org.name {
        data.insert("name".into(), json!(name));
        data.insert("oldName".into(), json!(org.name));
    }
    if slug != org.slug {
        data.insert("slug".into(), json!(slug));
        data.insert("oldSlug".into(), json!(org.slug));
    }
    let open = changes.open_membership.unwrap_or(org.open_membership);
    if open != org.open_membership {
        data.insert("openMembership".into(), json!(open));
    }
    if data.is_empty() {
        return Ok(org);
    }
    let mut tx = state.db.begin().await?;
    if name != org.name || slug != org.slug {
        match org_store::rename(&mut tx.conn(), org.id, &name, &slug).await {
            Err(StoreError::AlreadyExists(_)) => {
                return Err(ChangeError::Conflict(
                    "An organization with this slug already exists.",
                ));
            }
            other => other?,
        }
    }
    if open != org.open_membership {
        org_store::set_open_membership(&mut tx.conn(), org.id, open).await?;
    }
    record(
        &mut tx,
        grant,
        AuditAction::OrgEdit,
        org.id,
        &Value::Object(data),
    )
    .await?;
    tx.commit().await?;
    (org.name, org.slug, org.open_membership) = (name, slug, open);
    tracing::info!(organization.id = org.id, organization = %org.slug, "organization changed");
    Ok(org)
}

/// Whether the caller may delete the organization: its owners and superusers (Sentry asks for
/// `org:admin`, which only owners hold; a token's narrowing applies through the route's scope).
fn may_delete_org(grant: &Grant) -> bool {
    grant.caller.user().is_some_and(|u| u.is_superuser) || grant.access.role() == Some(Role::Owner)
}

/// Ends the transaction that scheduled a deletion: records it, commits, and refuses the
/// deleted DSN keys at once (a cached key would accept events until it expired).
async fn finish_deletion(
    state: &AppState,
    grant: &Grant,
    mut tx: Tx,
    action: AuditAction,
    target: i64,
    data: &Value,
    keys: &[String],
) -> Result<(), ChangeError> {
    record(&mut tx, grant, action, target, data).await?;
    tx.commit().await?;
    for key in keys {
        state.keys.invalidate(key);
    }
    Ok(())
}

/// Deletes the organization (`org.remove`): hidden at once, its DSN keys refused at once, its
/// data removed by the `pending_deletions` task.
pub async fn delete_org(state: &AppState, grant: &Grant) -> Result<(), ChangeError> {
    if !may_delete_org(grant) {
        return Err(ChangeError::Forbidden(
            "Only an owner of the organization can delete it.",
        ));
    }
    let org = &grant.org;
    let mut tx = state.db.begin().await?;
    let keys = org_store::schedule_deletion(&mut tx.conn(), org.id, now_ms()).await?;
    let data = json!({"slug": org.slug, "name": org.name});
    let action = AuditAction::OrgRemove;
    finish_deletion(state, grant, tx, action, org.id, &data, &keys).await?;
    tracing::info!(
        organization.id = org.id,
        organization = %org.slug,
        caller = %grant.caller.label(),
        keys = keys.len(),
        "organization scheduled for deletion"
    );
    Ok(())
}

/// The organization's team with this slug.
pub async fn find_team(
    state: &AppState,
    org: &Organization,
    slug: &str,
) -> Result<Team, ChangeError> {
    let mut conn = state.db.read_latest().await?;
    team_store::find_by_slug(&mut conn.conn(), org.id, slug)
        .await?
        .ok_or(ChangeError::NotFound("The requested team does not exist."))
}

/// Creates a team (`team.create`); the name defaults to the slug.
pub async fn create_team(
    state: &AppState,
    grant: &Grant,
    rename: &Rename,
) -> Result<Team, ChangeError> {
    let slug = match (&rename.slug, &rename.name) {
        (Some(slug), _) => slug.clone(),
        (None, Some(name)) => errhound_domain::slug::slugify(name),
        (None, None) => {
            return Err(ChangeError::Invalid {
                field: "slug",
                message: "This field is required.".to_owned(),
            });
        }
    };
    let name = rename.name.clone().unwrap_or_else(|| slug.clone());
    let (name, slug) = Rename {
        name: Some(name),
        slug: Some(slug),
    }
    .apply("", "", MAX_SHORT_NAME_CHARS)?;
    let mut tx = state.db.begin().await?;
    let team = match team_store::create(&mut tx.conn(), grant.org.id, &slug, &name, now_ms()).await
    {
        Err(e) if e.is_unique_violation() => {
            return Err(ChangeError::Conflict(
                "A team with this slug already exists.",
            ));
        }
        other => other?,
    };
    let data = json!({"slug": team.slug, "name": team.name});
    record(&mut tx, grant, AuditAction::TeamCreate, team.id, &data).await?;
    tx.commit().await?;
    Ok(team)
}

/// Renames a team (`team.edit`).
pub async fn edit_team(
    state: &AppState,
    grant: &Grant,
    team: &Team,
    rename: &Rename,
) -> Result<Team, ChangeError> {
    let (name, slug) = rename.apply(&team.name, &team.slug, MAX_SHORT_NAME_CHARS)?;
    if name == team.name && slug == team.slug {
        return Ok(team.clone());
    }
    let mut tx = state.db.begin().await?;
    match team_store::rename(&mut tx.conn(), team.id, &name, &slug).await {
        Err(StoreError::AlreadyExists(_)) => {
            return Err(ChangeError::Conflict(
                "A team with this slug already exists.",
            ));
        }
        other => other?,
    }
    let data = json!({"name": name, "slug": slug, "oldName": team.name, "oldSlug": team.slug});
    record(&mut tx, grant, AuditAction::TeamEdit, team.id, &data).await?;
    let renamed = team_store::get(&mut tx.conn(), team.id)
        .await?
        .ok_or(ChangeError::NotFound("The requested team does not exist."))?;
    tx.commit().await?;
    Ok(renamed)
}

/// Deletes a team (`team.remove`): its projects stay, without this owner.
pub async fn delete_team(state: &AppState, grant: &Grant, team: &Team) -> Result<(), ChangeError> {
    let mut tx = state.db.begin().await?;
    team_store::delete(&mut tx.conn(), team.id).await?;
    let data = json!({"slug": team.slug, "name": team.name});
    record(&mut tx, grant, AuditAction::TeamRemove, team.id, &data).await?;
    tx.commit().await?;
    tracing::info!(team.id = team.id, team = %team.slug, "team deleted");
    Ok(())
}

/// Makes the team an owner of the project (`project-team.add`) or takes that away
/// (`project-team.remove`); the caller must reach the project. Whether anything changed.
pub async fn set_team_project(
    state: &AppState,
    grant: &Grant,
    team: &Team,
    project: &Project,
    owns: bool,
) -> Result<bool, ChangeError> {
    let mut tx = state.db.begin().await?;
    if project.organization_id != grant.org.id
        || !access::sees_project(&mut tx.conn(), &grant.access, project.id).await?
    {
        return Err(ChangeError::NotFound(
            "The requested project does not exist.",
        ));
    }
    let changed = if owns {
        team_store::add_project(&mut tx.conn(), team.id, project.id, now_ms()).await?
    } else {
        team_store::remove_project(&mut tx.conn(), team.id, project.id).await?
    };
    if changed {
        let action = if owns {
            AuditAction::ProjectTeamAdd
        } else {
            AuditAction::ProjectTeamRemove
        };
        let data = json!({"team_slug": team.slug, "project_slug": project.slug});
        record(&mut tx, grant, action, project.id, &data).await?;
    }
    tx.commit().await?;
    Ok(changed)
}

/// Deletes the project (`project.remove`): hidden at once, its DSN keys refused at once, its
/// data removed by the `pending_deletions` task.
pub async fn delete_project(
    state: &AppState,
    grant: &Grant,
    project: &Project,
) -> Result<(), ChangeError> {
    let mut tx = state.db.begin().await?;
    let keys = projects::schedule_deletion(&mut tx.conn(), project.id, now_ms()).await?;
    let data = json!({"slug": project.slug, "name": project.name});
    let action = AuditAction::ProjectRemove;
    finish_deletion(state, grant, tx, action, project.id, &data, &keys).await?;
    tracing::info!(
        project.id = project.id,
        project = %project.slug,
        caller = %grant.caller.label(),
        keys = keys.len(),
        "project scheduled for deletion"
    );
    Ok(())
}

/// Records a change of a project's settings (`project.edit`) in the change's transaction.
pub async fn record_project_edit(
    tx: &mut Tx,
    grant: &Grant,
    project_id: i64,
    data: &Value,
) -> Result<(), StoreError> {
    record(tx, grant, AuditAction::ProjectEdit, project_id, data).await
}
