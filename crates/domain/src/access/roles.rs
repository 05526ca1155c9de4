//! Members' roles in an organization and the scopes each grants (Sentry's default roles).

use super::scopes::{Scope, ScopeSet};

/// A member's role in an organization (Sentry's organization roles), least privileged first, so
/// `Ord` follows privilege.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees the organization and works on its issues.
    Member,
    /// Also changes projects, teams and settings.
    Admin,
    /// Also manages members.
    Manager,
    /// Everything, including the organization itself.
    Owner,
}

impl Role {
    /// Every role, least privileged first.
    pub const ALL: [Role; 4] = [Role::Member, Role::Admin, Role::Manager, Role::Owner];

    /// The stored and API name (`member`, `admin`, `manager`, `owner`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Role::Member => "member",
            Role::Admin => "admin",
            Role::Manager => "manager",
            Role::Owner => "owner",
        }
    }

    /// The role named `text` (its [`Role::as_str`] name).
    pub fn parse(text: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == text)
    }

    /// The name shown to people (Sentry's `roleName`).
    pub const fn display_name(self) -> &'static str {
        match self {
            Role::Member => "Member",
            Role::Admin => "Admin",
            Role::Manager => "Manager",
            Role::Owner => "Owner",
        }
    }

    /// The scopes the role grants (Sentry's role table): members read the organization and work
    /// on issues; admins also change projects and teams; managers also manage members and the
    /// organization's settings; owners also delete the organization.
    pub const fn scopes(self) -> ScopeSet {
        use Scope::*;
        const MEMBER: &[Scope] = &[
            OrgRead,
            ProjectRead,
            ProjectReleases,
            TeamRead,
            MemberRead,
            EventRead,
            EventWrite,
            EventAdmin,
            AlertsRead,
            AlertsWrite,
        ];
        match self {
            Role::Member => ScopeSet::of(MEMBER),
            Role::Admin => ScopeSet::of(MEMBER)
                .with(ProjectWrite)
                .with(ProjectAdmin)
                .with(TeamWrite)
                .with(TeamAdmin),
            Role::Manager => Role::Admin
                .scopes()
                .with(OrgWrite)
                .with(MemberWrite)
                .with(MemberAdmin),
            Role::Owner => Role::Manager.scopes().with(OrgAdmin),
        }
    }

    /// Whether the role sees every project of the organization whatever teams the member is on
    /// (Sentry's `is_global`): managers and owners.
    pub const fn sees_all_projects(self) -> bool {
        matches!(self, Role::Manager | Role::Owner)
    }

    /// Whether a member with this role may give `other` to someone (or change or remove a member
    /// who has it): never a role above one's own, as in Sentry.
    pub fn can_grant(self, other: Role) -> bool {
        other <= self
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_and_above_administer() {
        let admins: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.scopes().contains(Scope::ProjectWrite))
            .collect();
        assert_eq!(admins, [Role::Admin, Role::Manager, Role::Owner]);
        assert!(Role::Member < Role::Admin && Role::Manager < Role::Owner);
    }

    #[test]
    fn each_role_has_the_scopes_of_the_roles_below_it() {
        for pair in Role::ALL.windows(2) {
            let (lower, higher) = (pair[0].scopes(), pair[1].scopes());
            assert_eq!(
                lower.intersection(higher),
                lower,
                "{} ⊂ {}",
                pair[0],
                pair[1]
            );
            assert_ne!(lower, higher);
        }
        assert!(!Role::Member.scopes().contains(Scope::ProjectWrite));
        assert!(!Role::Admin.scopes().contains(Scope::MemberWrite));
        assert!(!Role::Manager.scopes().contains(Scope::OrgAdmin));
        assert!(Role::Owner.scopes().contains(Scope::OrgAdmin));
        // A role's scopes already hold everything they imply.
        for role in Role::ALL {
            assert_eq!(role.scopes().expanded(), role.scopes(), "{role}");
        }
        assert!(Role::Admin.can_grant(Role::Member) && !Role::Admin.can_grant(Role::Manager));
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Owner"), None);
        assert_eq!(Role::parse("superuser"), None);
    }
}
