//! API tokens: personal tokens (a user's, `sntryu_` + 64 hex, limited to scopes) and
//! organization tokens (`sntrys_`, for CI, scoped to one organization, in the format sentry-cli
//! reads: `sntrys_<base64 JSON {iat, url, region_url, org}>_<base64 secret>`).
//!
//! A token is shown once; only its SHA-256 is stored, so a leaked database holds no usable
//! token. Last-used times are written at most once a minute per token, so a busy CI job does not
//! turn every API read into a write.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use errhound_domain::ScopeSet;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::StoreError;
use crate::query::{Conn, Query};
use crate::users::User;

/// Sentry's prefix of personal tokens.
pub const PERSONAL_PREFIX: &str = "sntryu_";
/// Sentry's prefix of organization tokens.
pub const ORGANIZATION_PREFIX: &str = "sntrys_";
/// How stale a stored last-used time may get before a use writes it again.
pub const TOUCH_INTERVAL_MS: i64 = 60_000;

/// A newly created token: the secret is shown to its creator once.
#[derive(Debug, Clone)]
pub struct NewToken {
    /// The token row id.
    pub id: i64,
    /// The bearer token.
    pub token: String,
}

/// A user's token, as listed (never with its secret).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonalToken {
    /// Row id.
    pub id: i64,
    /// The owner.
    pub user_id: i64,
    /// The name its owner gave it.
    pub name: Option<String>,
    /// The last characters of the token, to tell tokens apart.
    pub last_chars: String,
    /// What it may do (never more than its owner's role allows).
    pub scopes: ScopeSet,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last use, epoch ms (to within [`TOUCH_INTERVAL_MS`]).
    pub last_used_at: Option<i64>,
    /// Expiry, epoch ms.
    pub expires_at: Option<i64>,
}

/// An organization token, as listed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgToken {
    /// Row id.
    pub id: i64,
    /// The organization it acts in.
    pub organization_id: i64,
    /// Its name.
    pub name: String,
    /// The last characters of the token.
    pub last_chars: String,
    /// What it may do.
    pub scopes: ScopeSet,
    /// Who created it (gone when that user was deleted).
    pub created_by: Option<i64>,
    /// Creation time, epoch ms.
    pub created_at: i64,
    /// Last use, epoch ms.
    pub last_used_at: Option<i64>,
}

/// Who a bearer token belongs to.
#[derive(Debug, Clone)]
pub enum Bearer {
    /// A user's personal token.
    Personal {
        /// The (active) owner.
        user: User,
        /// The token.
        token: PersonalToken,
    },
    /// An organization token.
    Organization(OrgToken),
}

fn hash_token(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn last_chars(token: &str) -> String {
    token[token.len() - 4..].to_owned()
}

/// Scopes as stored. Only this code writes them, so an unknown name means a newer version wrote
/// it: it is dropped (a token never gains a scope by a misread).
fn stored_scopes(text: &str) -> ScopeSet {
    text.split_whitespace()
        .filter_map(errhound_domain::Scope::parse)
        .collect()
}

/// Creates a personal token for the user.
pub async fn create_personal(
    conn: &mut Conn<'_>,
    user_id: i64,
    name: Option<&str>,
    scopes: ScopeSet,
    now_ms: i64,
) -> Result<NewToken, StoreError> {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!("{PERSONAL_PREFIX}{}", hex::encode(bytes));
    let row: crate::query::Int = Query::new(
        "INSERT INTO api_tokens (user_id, token_hash, token_last_chars, name, scopes, created_at) \
         VALUES ($1, $2, $3, $4, $5, $6) RETURNING id AS value",
    )
    .bind(user_id)
    .bind(hash_token(&token))
    .bind(last_chars(&token))
    .bind(name)
    .bind(scopes.to_stored())
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(NewToken {
        id: row.value,
        token,
    })
}

#[derive(sqlx::FromRow)]
struct PersonalRow {
    id: i64,
    user_id: i64,
    name: Option<String>,
    token_last_chars: String,
    scopes: String,
    created_at: i64,
    last_used_at: Option<i64>,
    expires_at: Option<i64>,
}

impl From<PersonalRow> for PersonalToken {
    fn from(r: PersonalRow) -> PersonalToken {
        PersonalToken {
            id: r.id,
            user_id: r.user_id,
            name: r.name,
            last_chars: r.token_last_chars,
            scopes: stored_scopes(&r.scopes),
            created_at: r.created_at,
            last_used_at: r.last_used_at,
            expires_at: r.expires_at,
        }
    }
}

/// The user's tokens, newest first.
pub async fn list_personal(
    conn: &mut Conn<'_>,
    user_id: i64,
) -> Result<Vec<PersonalToken>, StoreError> {
    let rows: Vec<PersonalRow> = Query::new(
        "SELECT id, user_id, name, token_last_chars, scopes, created_at, last_used_at, expires_at \
         FROM api_tokens WHERE user_id = $1 ORDER BY id DESC",
    )
    .bind(user_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(PersonalToken::from).collect())
}

/// Revokes one of the user's tokens; returns whether it existed.
pub async fn revoke_personal(
    conn: &mut Conn<'_>,
    user_id: i64,
    token_id: i64,
) -> Result<bool, StoreError> {
    let removed = Query::new("DELETE FROM api_tokens WHERE id = $1 AND user_id = $2")
        .bind(token_id)
        .bind(user_id)
        .execute(conn)
        .await?;
    Ok(removed > 0)
}

/// What an organization token carries besides its secret (sentry-cli reads `url` and `org`).
#[derive(serde::Serialize)]
struct OrgTokenPayload<'a> {
    iat: f64,
    url: &'a str,
    region_url: &'a str,
    org: &'a str,
}

/// Creates an organization token. `public_url` is this server's URL, which sentry-cli uses
/// when `SENTRY_URL` is not set.
#[allow(clippy::too_many_arguments)]
pub async fn create_org_token(
    conn: &mut Conn<'_>,
    organization_id: i64,
    org_slug: &str,
    name: &str,
    scopes: ScopeSet,
    created_by: Option<i64>,
    public_url: &str,
    now_ms: i64,
) -> Result<NewToken, StoreError> {
    let payload = serde_json::to_string(&OrgTokenPayload {
        iat: now_ms as f64 / 1000.0,
        url: public_url,
        region_url: public_url,
        org: org_slug,
    })
    .map_err(|e| StoreError::CorruptPayload(e.to_string()))?;
    let mut secret = [0u8; 32];
    rand::rng().fill_bytes(&mut secret);
    let token = format!(
        "{ORGANIZATION_PREFIX}{}_{}",
        STANDARD.encode(payload),
        STANDARD_NO_PAD.encode(secret)
    );
    let row: crate::query::Int = Query::new(
        "INSERT INTO org_tokens (organization_id, token_hash, token_last_chars, name, scopes, \
         created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING id AS value",
    )
    .bind(organization_id)
    .bind(hash_token(&token))
    .bind(last_chars(&token))
    .bind(name)
    .bind(scopes.to_stored())
    .bind(created_by)
    .bind(now_ms)
    .fetch_one(conn)
    .await?;
    Ok(NewToken {
        id: row.value,
        token,
    })
}

#[derive(sqlx::FromRow)]
struct OrgTokenRow {
    id: i64,
    organization_id: i64,
    name: String,
    token_last_chars: String,
    scopes: String,
    created_by: Option<i64>,
    created_at: i64,
    last_used_at: Option<i64>,
}

impl From<OrgTokenRow> for OrgToken {
    fn from(r: OrgTokenRow) -> OrgToken {
        OrgToken {
            id: r.id,
            organization_id: r.organization_id,
            name: r.name,
            last_chars: r.token_last_chars,
            scopes: stored_scopes(&r.scopes),
            created_by: r.created_by,
            created_at: r.created_at,
            last_used_at: r.last_used_at,
        }
    }
}

/// The organization's tokens, newest first.
pub async fn list_org_tokens(
    conn: &mut Conn<'_>,
    organization_id: i64,
) -> Result<Vec<OrgToken>, StoreError> {
    let rows: Vec<OrgTokenRow> = Query::new(
        "SELECT id, organization_id, name, token_last_chars, scopes, created_by, created_at, \
         last_used_at FROM org_tokens WHERE organization_id = $1 ORDER BY id DESC",
    )
    .bind(organization_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(OrgToken::from).collect())
}

/// Revokes an organization token; returns whether it existed.
pub async fn revoke_org_token(
    conn: &mut Conn<'_>,
    organization_id: i64,
    token_id: i64,
) -> Result<bool, StoreError> {
    let removed = Query::new("DELETE FROM org_tokens WHERE id = $1 AND organization_id = $2")
        .bind(token_id)
        .bind(organization_id)
        .execute(conn)
        .await?;
    Ok(removed > 0)
}

/// Who `token` belongs to: an active user's unexpired personal token, or an organization token.
pub async fn authenticate(
    conn: &mut Conn<'_>,
    token: &str,
    now_ms: i64,
) -> Result<Option<Bearer>, StoreError> {
    let hash = hash_token(token);
    if token.starts_with(ORGANIZATION_PREFIX) {
        let row: Option<OrgTokenRow> = Query::new(
            "SELECT id, organization_id, name, token_last_chars, scopes, created_by, created_at, \
             last_used_at FROM org_tokens WHERE token_hash = $1",
        )
        .bind(hash)
        .fetch_optional(conn)
        .await?;
        return Ok(row.map(|r| Bearer::Organization(r.into())));
    }
    let row: Option<PersonalRow> = Query::new(
        "SELECT t.id, t.user_id, t.name, t.token_last_chars, t.scopes, t.created_at, \
         t.last_used_at, t.expires_at FROM api_tokens t JOIN users u ON u.id = t.user_id \
         WHERE t.token_hash = $1 AND u.is_active AND (t.expires_at IS NULL OR t.expires_at > $2)",
    )
    .bind(hash)
    .bind(now_ms)
    .fetch_optional(conn)
    .await?;
    let Some(row) = row else { return Ok(None) };
    let Some(user) = crate::users::get(conn, row.user_id).await? else {
        return Ok(None);
    };
    Ok(Some(Bearer::Personal {
        user,
        token: row.into(),
    }))
}

/// Whether a use now should write the token's last-used time.
pub fn needs_touch(last_used_at: Option<i64>, now_ms: i64) -> bool {
    last_used_at.is_none_or(|t| now_ms - t >= TOUCH_INTERVAL_MS)
}

/// Records that the bearer's token was used now.
pub async fn touch(conn: &mut Conn<'_>, bearer: &Bearer, now_ms: i64) -> Result<(), StoreError> {
    let (sql, id): (&'static str, i64) = match bearer {
        Bearer::Personal { token, .. } => (
            "UPDATE api_tokens SET last_used_at = $1 WHERE id = $2",
            token.id,
        ),
        Bearer::Organization(token) => (
            "UPDATE org_tokens SET last_used_at = $1 WHERE id = $2",
            token.id,
        ),
    };
    Query::new(sql).bind(now_ms).bind(id).execute(conn).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_use_is_written_at_most_once_a_minute() {
        assert!(needs_touch(None, 5));
        assert!(!needs_touch(Some(1_000), 1_000 + TOUCH_INTERVAL_MS - 1));
        assert!(needs_touch(Some(1_000), 1_000 + TOUCH_INTERVAL_MS));
    }
}
