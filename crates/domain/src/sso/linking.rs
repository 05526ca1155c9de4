//! Who an identity from the organization's provider logs in as (Sentry's `finish_pipeline`
//! login flow), decided from what the store found: the account already linked to the identity,
//! an account with the identity's e-mail, the account logged in now, and the organization's
//! policy. The rule that matters: an existing account is never taken over by an identity alone.
//! It links only when its owner proves it (they are logged in, or log in with their password
//! first), or when the provider vouches for the e-mail and its domain is one the organization
//! allows.

use crate::Role;

/// An account, as far as the decision needs it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UserRef {
    /// Its id.
    pub id: i64,
    /// Not deactivated.
    pub active: bool,
}

/// The organization's SSO policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgSsoPolicy {
    /// The role of members the provider brings in.
    pub default_role: Role,
    /// E-mail domains whose people may join through the provider (lowercase). Empty: any.
    /// Only a domain listed here lets a verified e-mail link an existing account by itself.
    pub allowed_domains: Vec<String>,
}

impl OrgSsoPolicy {
    /// Whether `email`'s domain is listed (not merely "any").
    fn lists_domain_of(&self, email: &str) -> bool {
        email_domain(email).is_some_and(|domain| {
            self.allowed_domains
                .iter()
                .any(|allowed| allowed.eq_ignore_ascii_case(&domain))
        })
    }

    /// Whether `email` may join: any domain when none is listed.
    fn admits(&self, email: &str) -> bool {
        self.allowed_domains.is_empty() || self.lists_domain_of(email)
    }
}

/// The domain of `email`, lowercase; `None` without one.
pub fn email_domain(email: &str) -> Option<String> {
    let (local, domain) = email.trim().rsplit_once('@')?;
    (!local.is_empty() && !domain.is_empty()).then(|| domain.to_ascii_lowercase())
}

/// What the store found for an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Found {
    /// The account the identity is linked to.
    pub linked: Option<UserRef>,
    /// The account whose e-mail is the identity's.
    pub with_email: Option<UserRef>,
    /// The account logged in in this browser (they proved who they are).
    pub logged_in: Option<UserRef>,
}

/// What happens with an identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkDecision {
    /// Log in as the linked account (made a member again with the default role when they were
    /// removed from the organization, as Sentry does: the provider says they belong).
    LogIn {
        /// The account.
        user_id: i64,
    },
    /// Link the identity to the account logged in now, then log in.
    LinkLoggedIn {
        /// The account.
        user_id: i64,
    },
    /// Link the identity to the account with its e-mail, which the provider verified in a
    /// domain the organization lists.
    LinkVerified {
        /// The account.
        user_id: i64,
    },
    /// An account has the identity's e-mail but nothing proves it is theirs: ask for that
    /// account's password, then link.
    ConfirmPassword {
        /// The account.
        user_id: i64,
    },
    /// Nobody has this identity or e-mail: create the account as a member with this role.
    Provision {
        /// The policy's default role.
        role: Role,
    },
    /// Nobody logs in.
    Refuse(LinkRefusal),
}

/// Why an identity logs nobody in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkRefusal {
    /// The account it would be is deactivated.
    #[error("this account is deactivated")]
    Deactivated,
    /// Its e-mail's domain is not one the organization allows.
    #[error("this organization does not admit accounts of that e-mail domain")]
    DomainNotAllowed,
    /// The identity is linked to another account than the one logged in.
    #[error("this identity is linked to another account")]
    LinkedElsewhere,
}

/// Decides what the identity with `email` (`email_verified` by the provider) does, from what the
/// store `found`.
pub fn decide(
    email: &str,
    email_verified: bool,
    found: Found,
    policy: &OrgSsoPolicy,
) -> LinkDecision {
    use LinkDecision::*;
    if let Some(linked) = found.linked {
        if found.logged_in.is_some_and(|me| me.id != linked.id) {
            return Refuse(LinkRefusal::LinkedElsewhere);
        }
        return if linked.active {
            LogIn { user_id: linked.id }
        } else {
            Refuse(LinkRefusal::Deactivated)
        };
    }
    if let Some(me) = found.logged_in {
        return if me.active {
            LinkLoggedIn { user_id: me.id }
        } else {
            Refuse(LinkRefusal::Deactivated)
        };
    }
    if !policy.admits(email) {
        return Refuse(LinkRefusal::DomainNotAllowed);
    }
    match found.with_email {
        Some(owner) if !owner.active => Refuse(LinkRefusal::Deactivated),
        Some(owner) if email_verified && policy.lists_domain_of(email) => {
            LinkVerified { user_id: owner.id }
        }
        Some(owner) => ConfirmPassword { user_id: owner.id },
        None => Provision {
            role: policy.default_role,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANN: UserRef = UserRef {
        id: 1,
        active: true,
    };
    const BOB: UserRef = UserRef {
        id: 2,
        active: true,
    };
    const GONE: UserRef = UserRef {
        id: 3,
        active: false,
    };

    fn policy(domains: &[&str]) -> OrgSsoPolicy {
        OrgSsoPolicy {
            default_role: Role::Member,
            allowed_domains: domains.iter().map(|d| (*d).to_owned()).collect(),
        }
    }

    fn found(
        linked: Option<UserRef>,
        with_email: Option<UserRef>,
        logged_in: Option<UserRef>,
    ) -> Found {
        Found {
            linked,
            with_email,
            logged_in,
        }
    }

    #[test]
    fn a_linked_identity_logs_its_account_in_unless_it_is_deactivated() {
        let any = policy(&[]);
        let linked = found(Some(ANN), Some(ANN), None);
        assert_eq!(
            decide("ann@corp.test", false, linked, &any),
            LinkDecision::LogIn { user_id: 1 }
        );
        assert_eq!(
            decide("x@corp.test", false, found(Some(GONE), None, None), &any),
            LinkDecision::Refuse(LinkRefusal::Deactivated)
        );
        // Logged in as someone else: the identity is not moved to them.
        assert_eq!(
            decide(
                "ann@corp.test",
                true,
                found(Some(ANN), None, Some(BOB)),
                &any
            ),
            LinkDecision::Refuse(LinkRefusal::LinkedElsewhere)
        );
    }

    #[test]
    fn an_existing_account_links_only_with_proof() {
        let corp = policy(&["corp.test"]);
        let ann_exists = found(None, Some(ANN), None);
        // Unverified e-mail: the password must be given first.
        assert_eq!(
            decide("ann@corp.test", false, ann_exists, &corp),
            LinkDecision::ConfirmPassword { user_id: 1 }
        );
        // Verified, in a listed domain (case does not matter): linked.
        assert_eq!(
            decide("ann@CORP.test", true, ann_exists, &corp),
            LinkDecision::LinkVerified { user_id: 1 }
        );
        // Verified, but no domain listed ("any"): still the password.
        assert_eq!(
            decide("ann@corp.test", true, ann_exists, &policy(&[])),
            LinkDecision::ConfirmPassword { user_id: 1 }
        );
        // Logged in already (they proved it): linked to them.
        assert_eq!(
            decide(
                "ann@elsewhere.test",
                false,
                found(None, None, Some(ANN)),
                &corp
            ),
            LinkDecision::LinkLoggedIn { user_id: 1 }
        );
        assert_eq!(
            decide("x@corp.test", true, found(None, Some(GONE), None), &corp),
            LinkDecision::Refuse(LinkRefusal::Deactivated)
        );
    }

    #[test]
    fn newcomers_are_provisioned_with_the_default_role_from_admitted_domains_only() {
        let corp = OrgSsoPolicy {
            default_role: Role::Admin,
            allowed_domains: vec!["corp.test".to_owned()],
        };
        let nobody = found(None, None, None);
        assert_eq!(
            decide("new@corp.test", false, nobody, &corp),
            LinkDecision::Provision { role: Role::Admin }
        );
        for email in [
            "new@evil.test",
            "new@corp.test.evil.test",
            "corp.test",
            "@corp.test",
        ] {
            assert_eq!(
                decide(email, true, nobody, &corp),
                LinkDecision::Refuse(LinkRefusal::DomainNotAllowed),
                "{email}"
            );
        }
        assert_eq!(
            decide("new@any.test", false, nobody, &policy(&[])),
            LinkDecision::Provision { role: Role::Member }
        );
    }

    #[test]
    fn the_domain_is_after_the_last_at_sign() {
        assert_eq!(
            email_domain(" A@B@Corp.Test ").as_deref(),
            Some("corp.test")
        );
        assert_eq!(email_domain("nobody"), None);
        assert_eq!(email_domain("x@"), None);
    }
}
