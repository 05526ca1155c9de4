//! Who an identity from an organization's provider logs in as, applied to the store: the
//! decision is `domain::sso::linking::decide`; here the link is made, the account provisioned,
//! the membership kept and the mapped teams followed, each audited, in one transaction.

use std::collections::BTreeSet;

use errhound_domain::sso::{
    Found, GroupMapping, Identity, LinkDecision, OrgSsoPolicy, TeamSync, UserRef, decide, team_sync,
};
use errhound_domain::{AuditAction, Role};
use errhound_store::audit::{self, Actor};
use errhound_store::auth_providers::AuthProvider;
use errhound_store::users::User;
use errhound_store::{StoreError, Tx, auth_identities, now_ms, orgs, teams, users};
use serde_json::json;

use super::flow::SsoFailure;
use crate::AppState;

/// A login that happened.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The account.
    pub user: User,
    /// The organization.
    pub organization_id: i64,
    /// The account was created by this login.
    pub provisioned: bool,
    /// The identity was linked to the account by this login.
    pub linked: bool,
    /// The teams the provider's groups made the member join and leave.
    pub teams: TeamSync,
}

/// What [`sign_in`] came to.
#[derive(Debug)]
pub enum SignIn {
    /// Logged in.
    Done(LoggedIn),
    /// An account has the identity's e-mail and nothing proves it is theirs: its password must
    /// be given first ([`link_proven`]).
    NeedsPassword(User),
}

fn user_ref(user: &User) -> UserRef {
    UserRef {
        id: user.id,
        active: user.is_active,
    }
}

fn actor(user: &User, client_addr: Option<&str>) -> Actor {
    Actor::user(user.id, &user.email, client_addr)
}

/// What is kept of the identity with its link (shown to the member; refreshed at each login).
fn identity_data(identity: &Identity) -> String {
    json!({
        "email": identity.email,
        "name": identity.name,
        "email_verified": identity.email_verified,
        "groups": identity.groups,
    })
    .to_string()
}

/// Logs `identity` in to the organization of `provider`: as the account linked to it, or by
/// linking or provisioning one as the organization's policy allows. `logged_in` is who started
/// the attempt logged in (they link their own account).
pub async fn sign_in(
    state: &AppState,
    provider: &AuthProvider,
    identity: &Identity,
    logged_in: Option<i64>,
    client_addr: Option<&str>,
) -> Result<SignIn, SsoFailure> {
    let mut tx = state.db.begin().await?;
    let link = auth_identities::find(&mut tx.conn(), provider.id, &identity.id).await?;
    let linked = match &link {
        Some(link) => users::get(&mut tx.conn(), link.user_id).await?,
        None => None,
    };
    let with_email = users::find_by_email(&mut tx.conn(), &identity.email).await?;
    let me = match logged_in {
        Some(id) => users::get(&mut tx.conn(), id).await?,
        None => None,
    };
    let found = Found {
        linked: linked.as_ref().map(user_ref),
        with_email: with_email.as_ref().map(user_ref),
        logged_in: me.as_ref().map(user_ref),
    };
    let policy = OrgSsoPolicy {
        default_role: provider.default_role,
        allowed_domains: provider.allowed_domains.clone(),
    };
    let now = now_ms();
    // The decision names one of the accounts found.
    let pick = |id: i64| {
        [&linked, &with_email, &me]
            .into_iter()
            .flatten()
            .find(|u| u.id == id)
            .cloned()
            .ok_or(SsoFailure::AttemptLost)
    };
    let (user, provisioned, newly_linked) =
        match decide(&identity.email, identity.email_verified, found, &policy) {
            LinkDecision::LogIn { user_id } => {
                let user = pick(user_id)?;
                if let Some(link) = &link {
                    auth_identities::verified(
                        &mut tx.conn(),
                        link.id,
                        &identity_data(identity),
                        now,
                    )
                    .await?;
                }
                (user, false, false)
            }
            LinkDecision::LinkLoggedIn { user_id } | LinkDecision::LinkVerified { user_id } => {
                let user = pick(user_id)?;
                link_identity(&mut tx, provider, identity, &user, client_addr, now).await?;
                (user, false, true)
            }
            LinkDecision::ConfirmPassword { user_id } => {
                let user = pick(user_id)?;
                return Ok(SignIn::NeedsPassword(user));
            }
            LinkDecision::Provision { role } => {
                let name = identity.name.as_deref().unwrap_or("");
                let user =
                    users::create(&mut tx.conn(), &identity.email, name, None, false, now).await?;
                add_member(&mut tx, provider, &user, role, client_addr, now).await?;
                link_identity(&mut tx, provider, identity, &user, client_addr, now).await?;
                (user, true, true)
            }
            LinkDecision::Refuse(refusal) => {
                tracing::warn!(
                    organization.id = provider.organization_id,
                    user.email = %identity.email,
                    reason = %refusal,
                    "single sign-on refused"
                );
                return Err(refusal.into());
            }
        };
    let login = member_logs_in(&mut tx, provider, identity, user, client_addr, now).await?;
    tx.commit().await?;
    Ok(SignIn::Done(LoggedIn {
        provisioned,
        linked: newly_linked,
        ..login
    }))
}

/// Links `identity` to `user`, whose password was just given, and logs them in.
pub async fn link_proven(
    state: &AppState,
    provider: &AuthProvider,
    identity: &Identity,
    user: &User,
    client_addr: Option<&str>,
) -> Result<LoggedIn, SsoFailure> {
    let now = now_ms();
    let mut tx = state.db.begin().await?;
    link_identity(&mut tx, provider, identity, user, client_addr, now).await?;
    let login = member_logs_in(&mut tx, provider, identity, user.clone(), client_addr, now).await?;
    tx.commit().await?;
    Ok(LoggedIn {
        linked: true,
        ..login
    })
}

async fn link_identity(
    tx: &mut Tx,
    provider: &AuthProvider,
    identity: &Identity,
    user: &User,
    client_addr: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    let link = auth_identities::link(
        &mut tx.conn(),
        provider.id,
        user.id,
        &identity.id,
        &identity_data(identity),
        now,
    )
    .await?;
    audit::record(
        &mut tx.conn(),
        provider.organization_id,
        &actor(user, client_addr),
        AuditAction::SsoIdentityLink,
        Some(link.id),
        &json!({"provider": provider.provider, "ident": identity.id, "email": identity.email}),
        now,
    )
    .await?;
    tracing::info!(
        organization.id = provider.organization_id,
        user.id = user.id,
        provider = %provider.provider,
        "single sign-on identity linked"
    );
    Ok(())
}

async fn add_member(
    tx: &mut Tx,
    provider: &AuthProvider,
    user: &User,
    role: Role,
    client_addr: Option<&str>,
    now: i64,
) -> Result<(), StoreError> {
    orgs::add_member(&mut tx.conn(), provider.organization_id, user.id, role, now).await?;
    audit::record(
        &mut tx.conn(),
        provider.organization_id,
        &actor(user, client_addr),
        AuditAction::MemberAdd,
        Some(user.id),
        &json!({"email": user.email, "role": role.as_str(), "sso": provider.provider}),
        now,
    )
    .await?;
    tracing::info!(
        organization.id = provider.organization_id,
        user.id = user.id,
        role = role.as_str(),
        "member added by single sign-on"
    );
    Ok(())
}

/// The member side of every login: a linked person who is no member any more becomes one
/// again with the default role (the provider says they belong, as in Sentry), their mapped
/// teams follow the provider's groups, and the login is recorded.
async fn member_logs_in(
    tx: &mut Tx,
    provider: &AuthProvider,
    identity: &Identity,
    user: User,
    client_addr: Option<&str>,
    now: i64,
) -> Result<LoggedIn, StoreError> {
    let role = orgs::member_role(&mut tx.conn(), provider.organization_id, user.id).await?;
    if role.is_none() {
        add_member(tx, provider, &user, provider.default_role, client_addr, now).await?;
    }
    let teams = follow_groups(tx, provider, &provider.group_mappings, identity, &user, now).await?;
    users::record_login(&mut tx.conn(), user.id, now).await?;
    Ok(LoggedIn {
        user,
        organization_id: provider.organization_id,
        provisioned: false,
        linked: false,
        teams,
    })
}

/// Joins and leaves the mapped teams as the identity's groups say.
async fn follow_groups(
    tx: &mut Tx,
    provider: &AuthProvider,
    mappings: &[GroupMapping],
    identity: &Identity,
    user: &User,
    now: i64,
) -> Result<TeamSync, StoreError> {
    if mappings.is_empty() {
        return Ok(TeamSync::default());
    }
    let current: BTreeSet<i64> =
        teams::team_ids_of_user(&mut tx.conn(), provider.organization_id, user.id)
            .await?
            .into_iter()
            .collect();
    let sync = team_sync(mappings, &identity.groups, &current);
    let actor = actor(user, None);
    for (team_id, joins) in sync
        .join
        .iter()
        .map(|t| (*t, true))
        .chain(sync.leave.iter().map(|t| (*t, false)))
    {
        // A mapping may name a team deleted since: it joins nobody.
        let Some(team) = teams::get(&mut tx.conn(), team_id).await? else {
            continue;
        };
        if team.organization_id != provider.organization_id {
            continue;
        }
        let action = if joins {
            match teams::add_member(&mut tx.conn(), team_id, user.id, now).await {
                Ok(_) => {}
                Err(errhound_store::workflow::WorkflowError::Store(e)) => return Err(e),
                Err(_) => continue,
            }
            AuditAction::MemberJoinTeam
        } else {
            teams::remove_member(&mut tx.conn(), team_id, user.id).await?;
            AuditAction::MemberLeaveTeam
        };
        audit::record(
            &mut tx.conn(),
            provider.organization_id,
            &actor,
            action,
            Some(team_id),
            &json!({"team": team.slug, "email": user.email, "sso": provider.provider}),
            now,
        )
        .await?;
    }
    if !sync.is_empty() {
        tracing::info!(
            organization.id = provider.organization_id,
            user.id = user.id,
            joined = ?sync.join,
            left = ?sync.leave,
            "teams followed the identity provider's groups"
        );
    }
    Ok(sync)
}

/// Unlinks the identity `identity_id` of `user` (their own, from their account page); `false`
/// when they have no such identity. Audited in its organization.
pub async fn unlink(
    state: &AppState,
    user: &User,
    identity_id: i64,
    client_addr: Option<&str>,
) -> Result<bool, StoreError> {
    let mut tx = state.db.begin().await?;
    let linked = auth_identities::list_for_user(&mut tx.conn(), user.id).await?;
    let Some(identity) = linked.into_iter().find(|i| i.id == identity_id) else {
        return Ok(false);
    };
    auth_identities::unlink(&mut tx.conn(), identity.auth_provider_id, user.id).await?;
    audit::record(
        &mut tx.conn(),
        identity.organization_id,
        &actor(user, client_addr),
        AuditAction::SsoIdentityUnlink,
        Some(identity.id),
        &json!({"provider": identity.provider, "email": user.email}),
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    tracing::info!(
        user.id = user.id,
        organization.id = identity.organization_id,
        "single sign-on identity unlinked"
    );
    Ok(true)
}
