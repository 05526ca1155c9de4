//! One change applied to one or many issues (status, assignee, bookmark, merge), as the API's
//! `PUT` bodies and the UI's forms ask for it. The handlers only parse their input into an
//! [`IssueChange`] and render the [`ChangeOutcome`]; the rules between (which changes may span
//! projects, who an assignee may be, the order of the steps) live here, once.

use std::collections::BTreeSet;

use super::{
    AssigneeRef, Merged, ResolutionKind, StatusChange, WorkflowError, assign, change_status, merge,
    set_bookmark, unassign,
};
use crate::StoreError;
use crate::db::Tx;
use crate::issues::Issue;
use crate::teams::{self, UserLookup};

/// Who to assign issues to, as a request names them (resolved within the organization by
/// [`apply_changes`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AssigneeName {
    /// A user by id.
    UserId(i64),
    /// A team by id.
    TeamId(i64),
    /// A team by slug.
    TeamSlug(String),
    /// A user by e-mail.
    Email(String),
    /// The caller.
    Me,
}

/// What to change on a set of issues; `None` fields are left alone.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IssueChange {
    /// A status change.
    pub status: Option<StatusChange>,
    /// A new assignee; `Some(None)` unassigns.
    pub assignee: Option<Option<AssigneeName>>,
    /// Bookmark (or un-bookmark) for the caller.
    pub bookmarked: Option<bool>,
    /// Merge the issues into one.
    pub merge: bool,
}

/// What [`apply_changes`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChangeOutcome {
    /// How many issues' status changed.
    pub status_changed: usize,
    /// For a resolution in a release: its kind and version.
    pub resolution: Option<(ResolutionKind, String)>,
    /// The assignee the issues got (`None` when unassigned or not asked for).
    pub assignee: Option<AssigneeRef>,
    /// The merge, when one was asked for.
    pub merged: Option<Merged>,
}

/// Why a change was refused (nothing was written), or failed.
#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    /// A resolution in a (next) release names a release of one project; the issues span several.
    #[error("cannot resolve in a release across projects")]
    ReleaseAcrossProjects {
        /// In the next release (else in a given release).
        next: bool,
    },
    /// Merged issues must belong to one project.
    #[error("cannot merge across projects")]
    MergeAcrossProjects,
    /// A merge needs two issues or more.
    #[error("a merge needs at least two issues")]
    MergeNeedsTwoIssues,
    /// The user is not a member of the organization (or does not exist).
    #[error("cannot assign to non-member")]
    NotAMember,
    /// The team is not one of the organization's.
    #[error("unknown team")]
    UnknownTeam,
    /// The workflow refused a step, or the database failed.
    #[error(transparent)]
    Workflow(#[from] WorkflowError),
}

impl From<StoreError> for ChangeError {
    fn from(error: StoreError) -> ChangeError {
        ChangeError::Workflow(WorkflowError::Store(error))
    }
}

impl IssueChange {
    /// The rules that depend only on the issues' projects (`project_ids`: one per issue):
    /// resolutions in a release and merges stay within one project; a merge needs two issues.
    pub fn check(&self, issue_ids: &[i64], project_ids: &[i64]) -> Result<(), ChangeError> {
        let projects: BTreeSet<i64> = project_ids.iter().copied().collect();
        match &self.status {
            Some(StatusChange::ResolveInRelease(_)) if projects.len() > 1 => {
                return Err(ChangeError::ReleaseAcrossProjects { next: false });
            }
            Some(StatusChange::ResolveInNextRelease) if projects.len() > 1 => {
                return Err(ChangeError::ReleaseAcrossProjects { next: true });
            }
            _ => {}
        }
        if self.merge {
            let issues: BTreeSet<i64> = issue_ids.iter().copied().collect();
            if issues.len() < 2 {
                return Err(ChangeError::MergeNeedsTwoIssues);
            }
            if projects.len() > 1 {
                return Err(ChangeError::MergeAcrossProjects);
            }
        }
        Ok(())
    }
}

/// The user or team `name` stands for within organization `org_id` (`Me` is `caller`).
pub async fn resolve_assignee(
    tx: &mut Tx,
    org_id: i64,
    caller: i64,
    name: &AssigneeName,
) -> Result<AssigneeRef, ChangeError> {
    let user = match name {
        AssigneeName::UserId(id) => UserLookup::Id(*id),
        AssigneeName::Me => UserLookup::Id(caller),
        AssigneeName::Email(email) => UserLookup::Email(email),
        AssigneeName::TeamId(id) => {
            return teams::get(&mut tx.conn(), *id)
                .await?
                .filter(|t| t.organization_id == org_id)
                .map(|t| AssigneeRef::Team(t.id))
                .ok_or(ChangeError::UnknownTeam);
        }
        AssigneeName::TeamSlug(slug) => {
            return teams::find_by_slug(&mut tx.conn(), org_id, slug)
                .await?
                .map(|t| AssigneeRef::Team(t.id))
                .ok_or(ChangeError::UnknownTeam);
        }
    };
    teams::find_org_user(&mut tx.conn(), org_id, user)
        .await?
        .map(|u| AssigneeRef::User(u.id))
        .ok_or(ChangeError::NotAMember)
}

/// Applies `change` to `issues` (all of organization `org_id`, already checked to be visible
/// to `caller`) in the caller's transaction, with `caller` as the actor: status, then assignee,
/// then bookmark, then merge. On an error the caller drops the transaction, so nothing of the
/// change is kept.
pub async fn apply_changes(
    tx: &mut Tx,
    org_id: i64,
    caller: i64,
    issues: &[Issue],
    change: &IssueChange,
    now_ms: i64,
) -> Result<ChangeOutcome, ChangeError> {
    let issue_ids: Vec<i64> = issues.iter().map(|i| i.id).collect();
    let project_ids: Vec<i64> = issues.iter().map(|i| i.project_id).collect();
    change.check(&issue_ids, &project_ids)?;
    let actor = Some(caller);
    let mut outcome = ChangeOutcome::default();
    if let Some(status) = &change.status {
        for &id in &issue_ids {
            let done = change_status(tx, id, status, actor, now_ms).await?;
            outcome.status_changed += usize::from(done.changed);
            outcome.resolution = outcome.resolution.or(done.resolution);
        }
    }
    match &change.assignee {
        None => {}
        Some(None) => {
            for &id in &issue_ids {
                unassign(tx, id, actor, now_ms).await?;
            }
        }
        Some(Some(name)) => {
            let target = resolve_assignee(tx, org_id, caller, name).await?;
            for &id in &issue_ids {
                assign(tx, id, target, actor, now_ms).await?;
            }
            outcome.assignee = Some(target);
        }
    }
    if let Some(bookmarked) = change.bookmarked {
        for &id in &issue_ids {
            set_bookmark(tx, id, caller, bookmarked, now_ms).await?;
        }
    }
    if change.merge {
        outcome.merged = Some(merge(tx, &issue_ids, actor, now_ms).await?);
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve_in(version: &str) -> IssueChange {
        IssueChange {
            status: Some(StatusChange::ResolveInRelease(version.into())),
            ..IssueChange::default()
        }
    }

    #[test]
    fn resolutions_in_a_release_stay_within_one_project() {
        assert!(resolve_in("1.0").check(&[1, 2], &[7, 7]).is_ok());
        assert!(matches!(
            resolve_in("1.0").check(&[1, 2], &[7, 8]),
            Err(ChangeError::ReleaseAcrossProjects { next: false })
        ));
        let next = IssueChange {
            status: Some(StatusChange::ResolveInNextRelease),
            ..IssueChange::default()
        };
        assert!(matches!(
            next.check(&[1, 2], &[7, 8]),
            Err(ChangeError::ReleaseAcrossProjects { next: true })
        ));
        let plain = IssueChange {
            status: Some(StatusChange::Resolve),
            ..IssueChange::default()
        };
        assert!(plain.check(&[1, 2], &[7, 8]).is_ok());
    }

    #[test]
    fn merges_need_two_issues_of_one_project() {
        let merge = IssueChange {
            merge: true,
            ..IssueChange::default()
        };
        assert!(merge.check(&[1, 2], &[7, 7]).is_ok());
        assert!(matches!(
            merge.check(&[1], &[7]),
            Err(ChangeError::MergeNeedsTwoIssues)
        ));
        assert!(matches!(
            merge.check(&[1, 1], &[7, 7]),
            Err(ChangeError::MergeNeedsTwoIssues)
        ));
        assert!(matches!(
            merge.check(&[1, 2], &[7, 8]),
            Err(ChangeError::MergeAcrossProjects)
        ));
        assert!(IssueChange::default().check(&[1, 2], &[7, 8]).is_ok());
    }
}
