//! What every page's frame shows: the user, the organization switcher, the project picker, the
//! navigation and the CSRF token for forms.

use errhound_store::orgs::{self, Organization};
use errhound_store::projects::Project;

use crate::api::access;

use super::error::UiResult;
use super::login::UiUser;

/// Session key of the one-time message shown by the next page.
pub const FLASH: &str = "flash";
use crate::AppState;

/// The page frame's data.
pub struct Nav {
    /// The user's display name (or e-mail).
    pub user_name: String,
    /// The user's e-mail.
    pub user_email: String,
    /// The user administers the instance (the "Admin" link).
    pub is_superuser: bool,
    /// CSRF token for the page's forms (and the `csrf-token` meta tag htmx reads).
    pub csrf: String,
    /// The current organization's slug (empty on account pages of a user in no organization).
    pub org_slug: String,
    /// The current organization's name.
    pub org_name: String,
    /// Organizations the user can switch to: `(slug, name)`.
    pub orgs: Vec<(String, String)>,
    /// The organization's projects.
    pub projects: Vec<Project>,
    /// Highlighted navigation entry: `issues`, `releases`, `environments` or `settings`.
    pub section: &'static str,
    /// The project the page is about, if one.
    pub project_id: Option<i64>,
    /// A one-time message from the previous action ("3 issues resolved").
    pub flash: Option<String>,
}

impl Nav {
    /// The frame for a page of `org`.
    pub async fn new(
        state: &AppState,
        user: &UiUser,
        org: &Organization,
        section: &'static str,
        project_id: Option<i64>,
    ) -> UiResult<Nav> {
        let mut conn = state.db.read().await?;
        let orgs = orgs::list_for_user(&mut conn.conn(), user.user.id, user.user.is_superuser)
            .await?
            .into_iter()
            .map(|o| (o.slug, o.name))
            .collect();
        let projects = match access::user_access(&mut conn.conn(), &user.user, org, None).await? {
            Some(access) => access::visible_projects(&mut conn.conn(), &access, org).await?,
            None => Vec::new(),
        };
        let user_name = user.user.display_name().to_owned();
        // Read first: removing marks the session modified, and a save per page view would be
        // a database write per page view.
        let flash = user.session.get::<String>(FLASH).await.unwrap_or_default();
        if flash.is_some() {
            let _ = user.session.remove_value(FLASH).await;
        }
        Ok(Nav {
            flash,
            user_name,
            user_email: user.user.email.clone(),
            is_superuser: user.user.is_superuser,
            csrf: user.csrf.clone(),
            org_slug: org.slug.clone(),
            org_name: org.name.clone(),
            orgs,
            projects,
            section,
            project_id,
        })
    }

    /// The frame of a page that belongs to no organization (account and admin pages): the
    /// user's first organization, or none for a user who belongs to none yet.
    pub async fn outside_org(
        state: &AppState,
        user: &UiUser,
        section: &'static str,
    ) -> UiResult<Nav> {
        let mut conn = state.db.read().await?;
        let first = orgs::list_for_user(&mut conn.conn(), user.user.id, user.user.is_superuser)
            .await?
            .pop();
        drop(conn);
        if let Some(org) = first {
            return Nav::new(state, user, &org, section, None).await;
        }
        let placeholder = Organization {
            id: 0,
            slug: String::new(),
            name: "No organization".to_owned(),
            created_at: 0,
            open_membership: false,
        };
        Nav::new(state, user, &placeholder, section, None).await
    }

    /// Whether the page belongs to an organization (the frame shows its menus).
    pub fn has_org(&self) -> bool {
        !self.org_slug.is_empty()
    }

    /// The project the page is about, if one.
    pub fn project(&self) -> Option<&Project> {
        self.project_id
            .and_then(|id| self.projects.iter().find(|p| p.id == id))
    }

    /// Whether `project` is the current one (for `aria-current` in the picker).
    pub fn is_project(&self, project: &Project) -> bool {
        self.project_id == Some(project.id)
    }

    /// The current page's URL for `project` (the picker's links).
    pub fn link_for(&self, project: &Project) -> String {
        self.project_link(Some(project.id))
    }

    /// The current page's URL for another project (`None`: all projects).
    pub fn project_link(&self, id: Option<i64>) -> String {
        let query = id.map(|id| format!("?project={id}")).unwrap_or_default();
        match (self.section, id) {
            ("settings", Some(id)) => match self.projects.iter().find(|p| p.id == id) {
                Some(p) => format!("/settings/{}/projects/{}/", self.org_slug, p.slug),
                None => format!("/organizations/{}/issues/", self.org_slug),
            },
            ("settings", None) => format!("/organizations/{}/issues/", self.org_slug),
            (section, _) => format!("/organizations/{}/{section}/{query}", self.org_slug),
        }
    }

    /// The link of a section for the current project (if one) and organization.
    pub fn link(&self, section: &str) -> String {
        let project = self
            .project_id
            .map(|id| format!("?project={id}"))
            .unwrap_or_default();
        match section {
            "settings" => match self.project().or(self.projects.first()) {
                Some(p) => format!("/settings/{}/projects/{}/", self.org_slug, p.slug),
                None => format!("/organizations/{}/issues/", self.org_slug),
            },
            other => format!("/organizations/{}/{other}/{project}", self.org_slug),
        }
    }
}
