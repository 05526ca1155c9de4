//! Organizations' single sign-on providers: at most one per organization, its configuration (a
//! JSON object whose secrets the caller sealed) and the policy that goes with it.

use errhound_domain::Role;
use errhound_domain::sso::GroupMapping;

use crate::StoreError;
use crate::query::{Conn, Query};

/// An organization's provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthProvider {
    /// Its id.
    pub id: i64,
    /// The organization.
    pub organization_id: i64,
    /// The provider's key (`oidc`, `github`, `saml2`).
    pub provider: String,
    /// Its settings, a JSON object, secrets sealed.
    pub config: String,
    /// The role of members it brings in.
    pub default_role: Role,
    /// Whether members must log in through it (API tokens keep working).
    pub require_sso: bool,
    /// E-mail domains it admits (lowercase); empty: any.
    pub allowed_domains: Vec<String>,
    /// The provider's groups whose members belong to teams.
    pub group_mappings: Vec<GroupMapping>,
    /// When set up, epoch ms.
    pub created_at: i64,
    /// When last changed, epoch ms.
    pub updated_at: i64,
}

/// What is saved of a provider.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderSettings<'a> {
    /// The provider's key.
    pub provider: &'a str,
    /// Its settings, a JSON object, secrets sealed.
    pub config: &'a str,
    /// See [`AuthProvider::default_role`].
    pub default_role: Role,
    /// See [`AuthProvider::require_sso`].
    pub require_sso: bool,
    /// See [`AuthProvider::allowed_domains`].
    pub allowed_domains: &'a [String],
    /// See [`AuthProvider::group_mappings`].
    pub group_mappings: &'a [GroupMapping],
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    organization_id: i64,
    provider: String,
    config: String,
    default_role: String,
    require_sso: bool,
    allowed_domains: String,
    group_mappings: String,
    created_at: i64,
    updated_at: i64,
}

impl TryFrom<Row> for AuthProvider {
    type Error = StoreError;

    fn try_from(row: Row) -> Result<AuthProvider, StoreError> {
        let default_role = Role::parse(&row.default_role).ok_or_else(|| {
            StoreError::InvalidValue(format!("auth provider role {:?}", row.default_role))
        })?;
        let allowed_domains = serde_json::from_str(&row.allowed_domains)
            .map_err(|e| StoreError::InvalidValue(format!("auth provider domains: {e}")))?;
        let group_mappings = serde_json::from_str(&row.group_mappings)
            .map_err(|e| StoreError::InvalidValue(format!("auth provider groups: {e}")))?;
        Ok(AuthProvider {
            id: row.id,
            organization_id: row.organization_id,
            provider: row.provider,
            config: row.config,
            default_role,
            require_sso: row.require_sso,
            allowed_domains,
            group_mappings,
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// The columns of [`Row`], in the static SQL of every query.
macro_rules! columns {
    () => {
        "id, organization_id, provider, config, default_role, require_sso, allowed_domains, \
         group_mappings, created_at, updated_at"
    };
}

/// The organization's provider, if it has one.
pub async fn get(
    conn: &mut Conn<'_>,
    organization_id: i64,
) -> Result<Option<AuthProvider>, StoreError> {
    let row: Option<Row> = Query::new(concat!(
        "SELECT ",
        columns!(),
        " FROM auth_providers WHERE organization_id = $1"
    ))
    .bind(organization_id)
    .fetch_optional(conn)
    .await?;
    row.map(AuthProvider::try_from).transpose()
}

/// Sets up the organization's provider; [`StoreError::AlreadyExists`] when it has one.
pub async fn create(
    conn: &mut Conn<'_>,
    organization_id: i64,
    settings: &ProviderSettings<'_>,
    now_ms: i64,
) -> Result<AuthProvider, StoreError> {
    let row: Row = with_settings(
        Query::new(concat!(
            "INSERT INTO auth_providers (organization_id, provider, config, default_role, \
         require_sso, allowed_domains, group_mappings, created_at, updated_at) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8) RETURNING ",
            columns!()
        )),
        organization_id,
        settings,
        now_ms,
    )
    .fetch_one(conn)
    .await
    .map_err(StoreError::taken(
        "a single sign-on provider of this organization",
    ))?;
    row.try_into()
}

/// Changes the organization's provider; `None` when it has none.
pub async fn update(
    conn: &mut Conn<'_>,
    organization_id: i64,
    settings: &ProviderSettings<'_>,
    now_ms: i64,
) -> Result<Option<AuthProvider>, StoreError> {
    let row: Option<Row> = with_settings(
        Query::new(concat!(
            "UPDATE auth_providers SET provider = $2, config = $3, default_role = $4, \
         require_sso = $5, allowed_domains = $6, group_mappings = $7, updated_at = $8 \
         WHERE organization_id = $1 RETURNING ",
            columns!()
        )),
        organization_id,
        settings,
        now_ms,
    )
    .fetch_optional(conn)
    .await?;
    row.map(AuthProvider::try_from).transpose()
}

/// Removes the organization's provider; whether it had one.
pub async fn delete(conn: &mut Conn<'_>, organization_id: i64) -> Result<bool, StoreError> {
    let deleted = Query::new("DELETE FROM auth_providers WHERE organization_id = $1")
        .bind(organization_id)
        .execute(conn)
        .await?;
    Ok(deleted > 0)
}

/// `query` with `$1`..`$8`: the organization, the settings' six columns, the time.
fn with_settings(
    query: Query,
    organization_id: i64,
    settings: &ProviderSettings<'_>,
    now_ms: i64,
) -> Query {
    query
        .bind(organization_id)
        .bind(settings.provider)
        .bind(settings.config)
        .bind(settings.default_role.as_str())
        .bind(settings.require_sso)
        .bind(serde_json::Value::from(settings.allowed_domains.to_vec()).to_string())
        .bind(serde_json::to_string(settings.group_mappings).unwrap_or_else(|_| "[]".to_owned()))
        .bind(now_ms)
}
