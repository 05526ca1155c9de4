//! Inviting someone to an organization, one rule for the API and the UI: the store records the
//! invitation (within the inviter's role), the link is built from the public URL, and when
//! `[mail]` is configured the invitee gets it by mail. The inviter always gets the link, so an
//! instance without mail still works (and a failed delivery loses nothing).

use errhound_domain::Role;
use errhound_notify::Mail;
use errhound_store::invitations::{self, Invitation};
use errhound_store::members::MemberError;
use errhound_store::now_ms;
use errhound_store::orgs::Organization;

use crate::AppState;
use crate::api::access::Grant;

/// An invitation made.
#[derive(Debug, Clone)]
pub struct Invited {
    /// The invitation.
    pub invitation: Invitation,
    /// The link that accepts it.
    pub link: String,
    /// Whether the link was mailed to the invitee.
    pub mailed: bool,
}

/// The path of an invitation's acceptance page.
pub fn accept_path(id: i64, secret: &str) -> String {
    format!("/accept/{id}/{secret}/")
}

/// Invites `email` into `grant`'s organization with `role` and `team_ids`.
pub async fn invite(
    state: &AppState,
    grant: &Grant,
    email: &str,
    role: Role,
    team_ids: &[i64],
) -> Result<Invited, MemberError> {
    let mut tx = state.db.begin().await?;
    let made = invitations::create(
        &mut tx.conn(),
        grant.org.id,
        email,
        role,
        team_ids,
        grant.role_ceiling(),
        &grant.audit_actor(),
        now_ms(),
    )
    .await?;
    tx.commit().await?;
    let link = format!(
        "{}{}",
        state.config.public_url(),
        accept_path(made.invitation.id, &made.secret)
    );
    let mailed = send(
        state,
        &grant.org,
        &made.invitation,
        &link,
        &grant.audit_actor().label,
    )
    .await;
    tracing::info!(
        organization = %grant.org.slug,
        invitation.id = made.invitation.id,
        role = %role,
        mailed,
        "invitation made"
    );
    Ok(Invited {
        invitation: made.invitation,
        link,
        mailed,
    })
}

/// Mails the invitation; whether it was sent.
async fn send(
    state: &AppState,
    org: &Organization,
    invitation: &Invitation,
    link: &str,
    inviter: &str,
) -> bool {
    let Some(mailer) = &state.mailer else {
        return false;
    };
    let mail = Mail {
        to: invitation.email.clone(),
        subject: format!("Join {} on Errhound", org.name),
        text: format!(
            "{inviter} invited you to the organization {} on Errhound, as {}.\n\n\
             Accept the invitation (valid for 7 days):\n{link}\n",
            org.name,
            invitation.role.display_name()
        ),
        html: None,
    };
    match mailer.send(&mail).await {
        Ok(()) => true,
        Err(error) => {
            tracing::warn!(invitation.id = invitation.id, %error, "the invitation mail was not sent");
            false
        }
    }
}
