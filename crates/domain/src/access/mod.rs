//! Who may do what in an organization: member roles, scopes, and the access a caller has in one
//! organization ([`OrgAccess`]), the one rule the API, the UI and the workers ask.
//!
//! A caller's scopes are their role's scopes, narrowed by the token they call with (a personal
//! token never grants more than its owner's role); an organization token has exactly its own
//! scopes. Which projects a caller sees: every project for managers, owners, superusers,
//! organization tokens and any member when the organization has open membership (Sentry's
//! "global access"); otherwise only the projects of the teams the member is on.

mod roles;
mod scopes;

pub use roles::Role;
pub use scopes::{Scope, ScopeSet, UnknownScope};

/// A user's membership in one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// Their role.
    pub role: Role,
    /// The ids of the organization's teams they are on.
    pub teams: Vec<i64>,
}

/// What a caller may do in one organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccess {
    scopes: ScopeSet,
    global: bool,
    teams: Vec<i64>,
    role: Option<Role>,
}

impl OrgAccess {
    /// A user's access: `None` when they are neither a member nor a superuser.
    /// `token_scopes` narrows what they may do when they call with a personal token.
    pub fn for_user(
        membership: Option<&Membership>,
        is_superuser: bool,
        open_membership: bool,
        token_scopes: Option<ScopeSet>,
    ) -> Option<OrgAccess> {
        let (granted, global, teams, role) = match membership {
            _ if is_superuser => (
                ScopeSet::all(),
                true,
                membership.map(|m| m.teams.clone()).unwrap_or_default(),
                membership.map(|m| m.role),
            ),
            Some(m) => (
                m.role.scopes(),
                m.role.sees_all_projects() || open_membership,
                m.teams.clone(),
                Some(m.role),
            ),
            None => return None,
        };
        let scopes = match token_scopes {
            Some(token) => granted.intersection(token.expanded()),
            None => granted,
        };
        Some(OrgAccess {
            scopes,
            global,
            teams,
            role,
        })
    }

    /// An organization token's access: its own scopes, over every project.
    pub fn for_organization_token(scopes: ScopeSet) -> OrgAccess {
        OrgAccess {
            scopes: scopes.expanded(),
            global: true,
            teams: Vec::new(),
            role: None,
        }
    }

    /// Whether the caller holds `scope`.
    pub fn has(&self, scope: Scope) -> bool {
        self.scopes.contains(scope)
    }

    /// Every scope the caller holds.
    pub fn scopes(&self) -> ScopeSet {
        self.scopes
    }

    /// The member's role (`None` for a superuser who is not a member, or a token).
    pub fn role(&self) -> Option<Role> {
        self.role
    }

    /// Whether the caller sees every project of the organization.
    pub fn is_global(&self) -> bool {
        self.global
    }

    /// The teams the caller is on.
    pub fn teams(&self) -> &[i64] {
        &self.teams
    }

    /// Whether the caller sees a project owned by `project_teams`.
    pub fn sees_project(&self, project_teams: &[i64]) -> bool {
        self.global || project_teams.iter().any(|t| self.teams.contains(t))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(role: Role, teams: &[i64]) -> Membership {
        Membership {
            role,
            teams: teams.to_vec(),
        }
    }

    #[test]
    fn members_see_only_their_teams_projects_unless_membership_is_open() {
        let m = member(Role::Member, &[1]);
        let closed = OrgAccess::for_user(Some(&m), false, false, None).unwrap();
        assert!(closed.sees_project(&[1, 2]) && !closed.sees_project(&[2]));
        assert!(!closed.sees_project(&[]));
        let open = OrgAccess::for_user(Some(&m), false, true, None).unwrap();
        assert!(open.sees_project(&[2]) && open.sees_project(&[]));
        let manager = member(Role::Manager, &[]);
        let manager = OrgAccess::for_user(Some(&manager), false, false, None).unwrap();
        assert!(manager.sees_project(&[2]));
        assert_eq!(OrgAccess::for_user(None, false, true, None), None);
        let superuser = OrgAccess::for_user(None, true, false, None).unwrap();
        assert!(superuser.sees_project(&[9]) && superuser.has(Scope::OrgAdmin));
    }

    #[test]
    fn a_token_narrows_its_owners_role_and_never_widens_it() {
        let admin = member(Role::Admin, &[1]);
        let token = ScopeSet::of(&[Scope::EventAdmin, Scope::MemberAdmin]);
        let access = OrgAccess::for_user(Some(&admin), false, false, Some(token)).unwrap();
        assert!(access.has(Scope::EventRead) && access.has(Scope::EventAdmin));
        assert!(
            !access.has(Scope::MemberWrite),
            "admins cannot manage members"
        );
        assert!(
            !access.has(Scope::ProjectRead),
            "the token does not carry it"
        );
        let ci = OrgAccess::for_organization_token(ScopeSet::of(&[Scope::OrgCi]));
        assert!(ci.has(Scope::ProjectReleases) && !ci.has(Scope::EventRead));
        assert!(ci.sees_project(&[]));
    }
}
