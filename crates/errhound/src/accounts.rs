//! The account commands: `errhound user ...` and `errhound org ...`.
//!
//! Each command is one transaction, so a failure (an unknown organization or team, a taken
//! e-mail or slug) leaves nothing half-made. Errors name what is wrong; `main` prints them and
//! exits non-zero.

use anyhow::{Context, bail};
use errhound_domain::Role;
use errhound_domain::slug::{INVALID_SLUG_MESSAGE, is_valid_slug};
use errhound_store::{Conn, Db, StoreError, now_ms, orgs, teams, users};

/// Shortest password the commands accept.
pub const MIN_PASSWORD_CHARS: usize = 8;

/// Where a new user goes: an organization, with a role, and some of its teams.
pub struct Membership<'a> {
    /// The organization's slug.
    pub organization: &'a str,
    /// The role in it.
    pub role: Role,
    /// Slugs of teams of that organization to join.
    pub teams: &'a [String],
}

/// A role from its name, for the command line (`member`, `admin`, `manager`, `owner`).
pub fn parse_role(text: &str) -> Result<Role, String> {
    Role::parse(text).ok_or_else(|| {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("unknown role {text:?}: one of {}", names.join(", "))
    })
}

fn check_password(password: &str) -> anyhow::Result<()> {
    if password.chars().count() < MIN_PASSWORD_CHARS {
        bail!("the password must have at least {MIN_PASSWORD_CHARS} characters");
    }
    Ok(())
}

/// Argon2id, off the async workers (it takes tens of milliseconds of CPU).
async fn hash(password: &str) -> anyhow::Result<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || errhound_web::password::hash_password(&password))
        .await?
        .map_err(anyhow::Error::msg)
        .context("cannot hash the password")
}

/// Creates a user, optionally a member of an organization with a role and in some of its
/// teams.
pub async fn create_user(
    db: &Db,
    email: &str,
    password: &str,
    superuser: bool,
    membership: Option<Membership<'_>>,
) -> anyhow::Result<()> {
    check_password(password)?;
    let hash = hash(password).await?;
    let now = now_ms();
    let mut tx = db.begin().await?;
    let user = match users::create(&mut tx.conn(), email, email, Some(&hash), superuser, now).await
    {
        Err(StoreError::AlreadyExists(_)) => bail!("a user with e-mail {email} already exists"),
        other => other?,
    };
    if let Some(membership) = membership {
        let slug = membership.organization;
        let Some(org) = orgs::find_by_slug(&mut tx.conn(), slug).await? else {
            bail!("no organization {slug}");
        };
        orgs::add_member(&mut tx.conn(), org.id, user.id, membership.role, now).await?;
        for team_slug in membership.teams {
            let Some(team) = teams::find_by_slug(&mut tx.conn(), org.id, team_slug).await? else {
                bail!("no team {team_slug} in organization {slug}");
            };
            teams::add_member(&mut tx.conn(), team.id, user.id, now).await?;
        }
    }
    tx.commit().await?;
    Ok(())
}

/// The user with this e-mail, or an error naming it.
async fn user_by_email(conn: &mut Conn<'_>, email: &str) -> anyhow::Result<users::User> {
    users::find_by_email(conn, email)
        .await?
        .with_context(|| format!("no user with e-mail {email}"))
}

/// Every user as aligned lines: e-mail, name, superuser, active, created (UTC), with a header.
pub async fn list_users(db: &Db) -> anyhow::Result<String> {
    let mut conn = db.read_latest().await?;
    let users = users::list(&mut conn.conn()).await?;
    let yes_no = |b: bool| if b { "yes" } else { "no" }.to_owned();
    let rows = users
        .into_iter()
        .map(|u| {
            vec![
                u.email,
                u.name,
                yes_no(u.is_superuser),
                yes_no(u.is_active),
                created(u.created_at),
            ]
        })
        .collect();
    Ok(table(
        &["EMAIL", "NAME", "SUPERUSER", "ACTIVE", "CREATED"],
        rows,
    ))
}

/// Sets a user's password and logs them out everywhere (a reset is often because the old one
/// leaked). API tokens are not touched.
pub async fn set_password(db: &Db, email: &str, password: &str) -> anyhow::Result<u64> {
    check_password(password)?;
    let hash = hash(password).await?;
    let mut tx = db.begin().await?;
    let user = user_by_email(&mut tx.conn(), email).await?;
    let logged_out = users::set_password(&mut tx.conn(), user.id, &hash)
        .await?
        .unwrap_or(0);
    tx.commit().await?;
    Ok(logged_out)
}

/// Disables a user: no more logins or API tokens, and every web session is deleted at once.
/// Returns how many sessions were ended.
pub async fn disable_user(db: &Db, email: &str) -> anyhow::Result<u64> {
    let mut tx = db.begin().await?;
    let user = user_by_email(&mut tx.conn(), email).await?;
    let logged_out = users::set_active(&mut tx.conn(), user.id, false)
        .await?
        .unwrap_or(0);
    tx.commit().await?;
    tracing::info!(user.id = user.id, user.email = %user.email, sessions = logged_out, "user disabled");
    Ok(logged_out)
}

/// Enables a disabled user again.
pub async fn enable_user(db: &Db, email: &str) -> anyhow::Result<()> {
    let mut tx = db.begin().await?;
    let user = user_by_email(&mut tx.conn(), email).await?;
    users::set_active(&mut tx.conn(), user.id, true).await?;
    tx.commit().await?;
    Ok(())
}

/// Creates an organization; the name defaults to the slug.
pub async fn create_org(db: &Db, slug: &str, name: Option<&str>) -> anyhow::Result<()> {
    if !is_valid_slug(slug) {
        bail!("invalid organization slug {slug:?}: {INVALID_SLUG_MESSAGE}");
    }
    let name = name
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(slug);
    let mut conn = db.write().await?;
    match orgs::create(&mut conn.conn(), slug, name, now_ms()).await {
        Err(StoreError::AlreadyExists(_)) => bail!("organization {slug} already exists"),
        other => other?,
    };
    Ok(())
}

/// Every organization as aligned lines: slug, name, members, projects, with a header.
pub async fn list_orgs(db: &Db) -> anyhow::Result<String> {
    let mut conn = db.read_latest().await?;
    let rows = orgs::list_all(&mut conn.conn())
        .await?
        .into_iter()
        .map(|o| {
            vec![
                o.slug,
                o.name,
                o.member_count.to_string(),
                o.project_count.to_string(),
            ]
        })
        .collect();
    Ok(table(&["SLUG", "NAME", "MEMBERS", "PROJECTS"], rows))
}

/// A creation time to the second, UTC.
fn created(ms: i64) -> String {
    errhound_store::activity::iso8601(ms.div_euclid(1000) * 1000)
}

/// Rows under a header, each column as wide as its widest cell, two spaces apart.
pub(crate) fn table(header: &[&str], rows: Vec<Vec<String>>) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header = header.iter().map(|h| (*h).to_owned()).collect();
    let mut out = String::new();
    for row in std::iter::once(header).chain(rows) {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(cell, width)| format!("{cell:<width$}"))
            .collect();
        out.push_str(line.join("  ").trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_on_the_widest_cell() {
        let text = table(
            &["SLUG", "NAME"],
            vec![
                vec!["a".to_owned(), "Long name".to_owned()],
                vec!["longer-slug".to_owned(), "B".to_owned()],
            ],
        );
        assert_eq!(
            text,
            "SLUG         NAME\na            Long name\nlonger-slug  B\n"
        );
    }

    #[test]
    fn roles_parse_by_name_and_others_are_named() {
        assert_eq!(parse_role("manager"), Ok(Role::Manager));
        let err = parse_role("boss").unwrap_err();
        assert!(err.contains("member, admin, manager, owner"), "{err}");
    }
}
