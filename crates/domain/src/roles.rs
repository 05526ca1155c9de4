//! Who may do what in an organization: member roles, and the scopes API tokens will carry.

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

    /// Whether the role may change the organization's projects, teams and settings, and other
    /// members' team memberships (Sentry's `project:write`): admins and above.
    pub fn can_administer(self) -> bool {
        self >= Role::Admin
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A permission an API token can be limited to (Sentry's scope names, `resource:level`).
/// Tokens do not carry scopes yet; this is the vocabulary they will use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scope {
    /// `org:read`.
    OrgRead,
    /// `org:write`.
    OrgWrite,
    /// `org:admin`.
    OrgAdmin,
    /// `project:read`.
    ProjectRead,
    /// `project:write`.
    ProjectWrite,
    /// `project:admin`.
    ProjectAdmin,
    /// `project:releases`.
    ProjectReleases,
    /// `team:read`.
    TeamRead,
    /// `team:write`.
    TeamWrite,
    /// `team:admin`.
    TeamAdmin,
    /// `member:read`.
    MemberRead,
    /// `member:write`.
    MemberWrite,
    /// `member:admin`.
    MemberAdmin,
    /// `event:read`.
    EventRead,
    /// `event:write`.
    EventWrite,
    /// `event:admin`.
    EventAdmin,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 16] = [
        Scope::OrgRead,
        Scope::OrgWrite,
        Scope::OrgAdmin,
        Scope::ProjectRead,
        Scope::ProjectWrite,
        Scope::ProjectAdmin,
        Scope::ProjectReleases,
        Scope::TeamRead,
        Scope::TeamWrite,
        Scope::TeamAdmin,
        Scope::MemberRead,
        Scope::MemberWrite,
        Scope::MemberAdmin,
        Scope::EventRead,
        Scope::EventWrite,
        Scope::EventAdmin,
    ];

    /// Sentry's name, e.g. `event:read`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Scope::OrgRead => "org:read",
            Scope::OrgWrite => "org:write",
            Scope::OrgAdmin => "org:admin",
            Scope::ProjectRead => "project:read",
            Scope::ProjectWrite => "project:write",
            Scope::ProjectAdmin => "project:admin",
            Scope::ProjectReleases => "project:releases",
            Scope::TeamRead => "team:read",
            Scope::TeamWrite => "team:write",
            Scope::TeamAdmin => "team:admin",
            Scope::MemberRead => "member:read",
            Scope::MemberWrite => "member:write",
            Scope::MemberAdmin => "member:admin",
            Scope::EventRead => "event:read",
            Scope::EventWrite => "event:write",
            Scope::EventAdmin => "event:admin",
        }
    }

    /// The scope named `text`.
    pub fn parse(text: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|s| s.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_admins_and_above_administer() {
        let admins: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|r| r.can_administer())
            .collect();
        assert_eq!(admins, [Role::Admin, Role::Manager, Role::Owner]);
        assert!(Role::Member < Role::Admin && Role::Manager < Role::Owner);
    }

    #[test]
    fn names_round_trip() {
        for role in Role::ALL {
            assert_eq!(Role::parse(role.as_str()), Some(role));
        }
        assert_eq!(Role::parse("Owner"), None);
        assert_eq!(Role::parse("superuser"), None);
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
        assert_eq!(Scope::parse("event:delete"), None);
    }
}
