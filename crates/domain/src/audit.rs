//! What the audit log records: the kinds of change, by Sentry's audit event names.

/// A kind of change recorded in an organization's audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// `org.create`.
    OrgCreate,
    /// `org.edit`: settings changed.
    OrgEdit,
    /// `member.invite`: an invitation was made.
    MemberInvite,
    /// `member.accept-invite`: an invitation was accepted.
    MemberAcceptInvite,
    /// `member.add`: a user was made a member.
    MemberAdd,
    /// `member.edit`: a member's role changed.
    MemberEdit,
    /// `member.remove`.
    MemberRemove,
    /// `member.join-team`.
    MemberJoinTeam,
    /// `member.leave-team`.
    MemberLeaveTeam,
    /// `team.create`.
    TeamCreate,
    /// `project.create`.
    ProjectCreate,
    /// `project.edit`: settings changed.
    ProjectEdit,
    /// `projectkey.create`.
    ProjectKeyCreate,
    /// `projectkey.edit`.
    ProjectKeyEdit,
    /// `projectkey.remove`.
    ProjectKeyRemove,
    /// `orgauthtoken.create`.
    OrgTokenCreate,
    /// `orgauthtoken.remove`.
    OrgTokenRemove,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 17] = [
        AuditAction::OrgCreate,
        AuditAction::OrgEdit,
        AuditAction::MemberInvite,
        AuditAction::MemberAcceptInvite,
        AuditAction::MemberAdd,
        AuditAction::MemberEdit,
        AuditAction::MemberRemove,
        AuditAction::MemberJoinTeam,
        AuditAction::MemberLeaveTeam,
        AuditAction::TeamCreate,
        AuditAction::ProjectCreate,
        AuditAction::ProjectEdit,
        AuditAction::ProjectKeyCreate,
        AuditAction::ProjectKeyEdit,
        AuditAction::ProjectKeyRemove,
        AuditAction::OrgTokenCreate,
        AuditAction::OrgTokenRemove,
    ];

    /// Sentry's event name (stored, and shown by the API).
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::OrgCreate => "org.create",
            AuditAction::OrgEdit => "org.edit",
            AuditAction::MemberInvite => "member.invite",
            AuditAction::MemberAcceptInvite => "member.accept-invite",
            AuditAction::MemberAdd => "member.add",
            AuditAction::MemberEdit => "member.edit",
            AuditAction::MemberRemove => "member.remove",
            AuditAction::MemberJoinTeam => "member.join-team",
            AuditAction::MemberLeaveTeam => "member.leave-team",
            AuditAction::TeamCreate => "team.create",
            AuditAction::ProjectCreate => "project.create",
            AuditAction::ProjectEdit => "project.edit",
            AuditAction::ProjectKeyCreate => "projectkey.create",
            AuditAction::ProjectKeyEdit => "projectkey.edit",
            AuditAction::ProjectKeyRemove => "projectkey.remove",
            AuditAction::OrgTokenCreate => "orgauthtoken.create",
            AuditAction::OrgTokenRemove => "orgauthtoken.remove",
        }
    }

    /// The action named `text`.
    pub fn parse(text: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
        }
        assert_eq!(AuditAction::parse("member.promote"), None);
    }
}
