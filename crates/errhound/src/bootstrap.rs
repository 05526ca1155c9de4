//! Opening the database, and the first-start setup: an organization, a project, an admin and a
//! DSN key, so that a new user gets a working DSN from one command.

use anyhow::{Context, bail};
use errhound_config::Config;
use errhound_domain::grouping::CONFIG_ID;
use errhound_domain::{AuditAction, Role, ScopeSet};
use errhound_store::audit::{self, Actor};
use errhound_store::{Db, DbOptions, now_ms, orgs, projects, teams, tokens, users};

/// Default admin e-mail when `ERRHOUND_ADMIN_EMAIL` is not set.
const DEFAULT_ADMIN_EMAIL: &str = "admin@errhound.local";

/// Connects to the configured database (creating the data directory for SQLite) and migrates it.
pub async fn open_database(config: &Config) -> anyhow::Result<Db> {
    std::fs::create_dir_all(&config.data_dir).with_context(|| {
        format!(
            "cannot create the data directory {}",
            config.data_dir.display()
        )
    })?;
    let db = Db::connect(&DbOptions {
        url: config.database_url(),
        replica_urls: config
            .database
            .replica_urls
            .iter()
            .map(|u| u.expose().to_owned())
            .collect(),
        max_connections: config.database.max_connections,
    })
    .await
    .context("cannot connect to the database")?;
    db.migrate().await.context("cannot migrate the database")?;
    Ok(db)
}

/// What the first start created, to show the user once.
pub struct FirstStart {
    pub admin_email: String,
    /// The admin password when it was generated (never when it came from the environment).
    pub generated_password: Option<String>,
}

/// On an empty database: creates the organization `errhound`, the project `default`, the admin
/// and a DSN key. Returns `None` when the database was already set up.
pub async fn first_start(db: &Db, config: &Config) -> anyhow::Result<Option<FirstStart>> {
    let mut conn = db.write().await?;
    if orgs::exists_any(&mut conn.conn()).await? {
        return Ok(None);
    }
    drop(conn);
    let admin_email = config
        .admin_email
        .clone()
        .unwrap_or_else(|| DEFAULT_ADMIN_EMAIL.to_owned());
    let (password, generated) = match &config.admin_password {
        Some(secret) => (secret.expose().to_owned(), false),
        None => (errhound_web::password::random_password(20), true),
    };
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || errhound_web::password::hash_password(&password))
            .await?
            .map_err(anyhow::Error::msg)?
    };
    let now = now_ms();
    let mut tx = db.begin().await?;
    let org = orgs::create(&mut tx.conn(), "errhound", "Errhound", now).await?;
    let user = users::create(
        &mut tx.conn(),
        &admin_email,
        "Admin",
        Some(&hash),
        true,
        now,
    )
    .await?;
    orgs::add_member(&mut tx.conn(), org.id, user.id, Role::Owner, now).await?;
    let project = projects::create(
        &mut tx.conn(),
        org.id,
        "default",
        "Default",
        None,
        CONFIG_ID,
        now,
    )
    .await?;
    projects::create_key(&mut tx.conn(), project.id, "Default", now).await?;
    // Teams own projects: the first project gets a team, with the admin on it.
    let team = teams::create(&mut tx.conn(), org.id, "errhound", "Errhound", now).await?;
    teams::add_project(&mut tx.conn(), team.id, project.id, now).await?;
    teams::add_member(&mut tx.conn(), team.id, user.id, now)
        .await
        .map_err(anyhow::Error::msg)?;
    tx.commit().await?;
    tracing::info!(organization = "errhound", project = "default", user.email = %admin_email, "first start: created organization, project, admin and DSN key");
    Ok(Some(FirstStart {
        admin_email,
        generated_password: generated.then_some(password),
    }))
}

/// The DSN of the first active key of the first project, to print at start-up.
pub async fn default_dsn(db: &Db, public_url: &str) -> anyhow::Result<Option<String>> {
    let mut conn = db.read().await?;
    let Some(org) = orgs::list_for_user(&mut conn.conn(), 0, true).await?.pop() else {
        return Ok(None);
    };
    let Some(project) = projects::list_for_org(&mut conn.conn(), org.id)
        .await?
        .into_iter()
        .next()
    else {
        return Ok(None);
    };
    let keys = projects::list_keys(&mut conn.conn(), project.id).await?;
    let Some(key) = keys.iter().rev().find(|k| k.is_active) else {
        return Ok(None);
    };
    let (scheme, host) = public_url.split_once("://").unwrap_or(("http", public_url));
    Ok(Some(format!(
        "{scheme}://{}@{host}/{}",
        key.public_key, project.id
    )))
}

/// Creates a personal API token with `scopes` for the user with `email`.
pub async fn create_token(
    db: &Db,
    email: &str,
    name: Option<&str>,
    scopes: ScopeSet,
) -> anyhow::Result<String> {
    let mut conn = db.write().await?;
    let Some(user) = users::find_by_email(&mut conn.conn(), email).await? else {
        bail!("no user with e-mail {email}");
    };
    if !user.is_active {
        bail!("user {email} is disabled");
    }
    Ok(
        tokens::create_personal(&mut conn.conn(), user.id, name, scopes, now_ms())
            .await?
            .token,
    )
}

/// Creates an organization token (for CI: `org:ci` unless other scopes are given).
pub async fn create_org_token(
    db: &Db,
    org_slug: &str,
    name: &str,
    scopes: ScopeSet,
    public_url: &str,
) -> anyhow::Result<String> {
    let mut tx = db.begin().await?;
    let Some(org) = orgs::find_by_slug(&mut tx.conn(), org_slug).await? else {
        bail!("no organization {org_slug}");
    };
    let now = now_ms();
    let token = tokens::create_org_token(
        &mut tx.conn(),
        org.id,
        &org.slug,
        name,
        scopes,
        None,
        public_url,
        now,
    )
    .await?;
    let data = serde_json::json!({"name": name, "scopes": scopes.to_stored()});
    let action = AuditAction::OrgTokenCreate;
    audit::record(
        &mut tx.conn(),
        org.id,
        &Actor::cli(),
        action,
        Some(token.id),
        &data,
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(token.token)
}
