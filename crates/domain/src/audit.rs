//! What the audit log records: the kinds of change, by Sentry's audit event names.

/// A kind of change recorded in an organization's audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AuditAction {
    /// `org.create`.
    OrgCreate,
    /// `org.edit`: settings changed.
    OrgEdit,
    /// `org.remove`: the organization was deleted (scheduled for removal).
    OrgRemove,
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
    /// `team.edit`: renamed.
    TeamEdit,
    /// `team.remove`.
    TeamRemove,
    /// `project.create`.
    ProjectCreate,
    /// `project.edit`: settings changed.
    ProjectEdit,
    /// `project.remove`: the project was deleted (scheduled for removal).
    ProjectRemove,
    /// `project-team.add`: a team now owns the project.
    ProjectTeamAdd,
    /// `project-team.remove`: a team no longer owns the project.
    ProjectTeamRemove,
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
    /// `rule.add`.
    RuleAdd,
    /// `rule.edit`.
    RuleEdit,
    /// `rule.remove`.
    RuleRemove,
    /// `integration.add`: a plugin enabled in a project (Sentry's legacy plugin API records
    /// its plugin changes under the integration events).
    IntegrationAdd,
    /// `integration.edit`: a plugin's project settings changed.
    IntegrationEdit,
    /// `integration.remove`: a plugin disabled in a project.
    IntegrationRemove,
    /// `sso.enable`: single sign-on set up for the organization.
    SsoEnable,
    /// `sso.edit`: its provider's configuration or policy changed.
    SsoEdit,
    /// `sso.disable`: single sign-on removed.
    SsoDisable,
    /// `sso-identity.link`: an identity at the provider was linked to an account.
    SsoIdentityLink,
    /// `sso-identity.unlink`: a member unlinked their identity.
    SsoIdentityUnlink,
    /// `sso.recovery-login`: a superuser used the organization without its single sign-on
    /// (a lock-out recovery).
    SsoRecoveryLogin,
}

impl AuditAction {
    /// Every action.
    pub const ALL: [AuditAction; 35] = [
        AuditAction::OrgCreate,
        AuditAction::OrgEdit,
        AuditAction::OrgRemove,
        AuditAction::MemberInvite,
        AuditAction::MemberAcceptInvite,
        AuditAction::MemberAdd,
        AuditAction::MemberEdit,
        AuditAction::MemberRemove,
        AuditAction::MemberJoinTeam,
        AuditAction::MemberLeaveTeam,
        AuditAction::TeamCreate,
        AuditAction::TeamEdit,
        AuditAction::TeamRemove,
        AuditAction::ProjectCreate,
        AuditAction::ProjectEdit,
        AuditAction::ProjectRemove,
        AuditAction::ProjectTeamAdd,
        AuditAction::ProjectTeamRemove,
        AuditAction::ProjectKeyCreate,
        AuditAction::ProjectKeyEdit,
        AuditAction::ProjectKeyRemove,
        AuditAction::OrgTokenCreate,
        AuditAction::OrgTokenRemove,
        AuditAction::RuleAdd,
        AuditAction::RuleEdit,
        AuditAction::RuleRemove,
        AuditAction::IntegrationAdd,
        AuditAction::IntegrationEdit,
        AuditAction::IntegrationRemove,
        AuditAction::SsoEnable,
        AuditAction::SsoEdit,
        AuditAction::SsoDisable,
        AuditAction::SsoIdentityLink,
        AuditAction::SsoIdentityUnlink,
        AuditAction::SsoRecoveryLogin,
    ];

    /// Sentry's event name (stored, and shown by the API).
    pub const fn as_str(self) -> &'static str {
        match self {
            AuditAction::OrgCreate => "org.create",
            AuditAction::OrgEdit => "org.edit",
            AuditAction::OrgRemove => "org.remove",
            AuditAction::MemberInvite => "member.invite",
            AuditAction::MemberAcceptInvite => "member.accept-invite",
            AuditAction::MemberAdd => "member.add",
            AuditAction::MemberEdit => "member.edit",
            AuditAction::MemberRemove => "member.remove",
            AuditAction::MemberJoinTeam => "member.join-team",
            AuditAction::MemberLeaveTeam => "member.leave-team",
            AuditAction::TeamCreate => "team.create",
            AuditAction::TeamEdit => "team.edit",
            AuditAction::TeamRemove => "team.remove",
            AuditAction::ProjectCreate => "project.create",
            AuditAction::ProjectEdit => "project.edit",
            AuditAction::ProjectRemove => "project.remove",
            AuditAction::ProjectTeamAdd => "project-team.add",
            AuditAction::ProjectTeamRemove => "project-team.remove",
            AuditAction::ProjectKeyCreate => "projectkey.create",
            AuditAction::ProjectKeyEdit => "projectkey.edit",
            AuditAction::ProjectKeyRemove => "projectkey.remove",
            AuditAction::OrgTokenCreate => "orgauthtoken.create",
            AuditAction::OrgTokenRemove => "orgauthtoken.remove",
            AuditAction::RuleAdd => "rule.add",
            AuditAction::RuleEdit => "rule.edit",
            AuditAction::RuleRemove => "rule.remove",
            AuditAction::IntegrationAdd => "integration.add",
            AuditAction::IntegrationEdit => "integration.edit",
            AuditAction::IntegrationRemove => "integration.remove",
            AuditAction::SsoEnable => "sso.enable",
            AuditAction::SsoEdit => "sso.edit",
            AuditAction::SsoDisable => "sso.disable",
            AuditAction::SsoIdentityLink => "sso-identity.link",
            AuditAction::SsoIdentityUnlink => "sso-identity.unlink",
            AuditAction::SsoRecoveryLogin => "sso.recovery-login",
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
