//! The audit log: who changed what in an organization, when and from where. Entries are written
//! in the transaction of the change they record, so a change and its entry land together.

use errhound_domain::AuditAction;
use serde_json::Value;

use crate::StoreError;
use crate::query::{Conn, Query};

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The user, when a user acted.
    pub user_id: Option<i64>,
    /// How to name the actor even after the user or token is gone (an e-mail, `organization
    /// token "CI"`, `errhound CLI`).
    pub label: String,
    /// The client address of the request.
    pub ip_address: Option<String>,
}

impl Actor {
    /// A user, acting from `ip_address`.
    pub fn user(user_id: i64, email: &str, ip_address: Option<&str>) -> Actor {
        Actor {
            user_id: Some(user_id),
            label: email.to_owned(),
            ip_address: ip_address.map(str::to_owned),
        }
    }

    /// The command line (someone with a shell on the server).
    pub fn cli() -> Actor {
        Actor {
            user_id: None,
            label: "errhound CLI".to_owned(),
            ip_address: None,
        }
    }
}

/// One entry.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Row id (entries are listed newest first by id).
    pub id: i64,
    /// The organization.
    pub organization_id: i64,
    /// Who acted.
    pub actor: Actor,
    /// What changed (`None` for an action a newer version wrote).
    pub action: Option<AuditAction>,
    /// The id of what changed (member, team, project, key, token), when it has one.
    pub target_id: Option<i64>,
    /// Details (names, old and new values).
    pub data: Value,
    /// When, epoch ms.
    pub created_at: i64,
}

/// Records a change.
pub async fn record(
    conn: &mut Conn<'_>,
    organization_id: i64,
    actor: &Actor,
    action: AuditAction,
    target_id: Option<i64>,
    data: &Value,
    now_ms: i64,
) -> Result<(), StoreError> {
    Query::new(
        "INSERT INTO audit_log (organization_id, actor_user_id, actor_label, ip_address, action, \
         target_id, data, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(organization_id)
    .bind(actor.user_id)
    .bind(actor.label.as_str())
    .bind(actor.ip_address.as_deref())
    .bind(action.as_str())
    .bind(target_id)
    .bind(data.to_string())
    .bind(now_ms)
    .execute(conn)
    .await?;
    Ok(())
}

#[derive(sqlx::FromRow)]
struct Row {
    id: i64,
    organization_id: i64,
    actor_user_id: Option<i64>,
    actor_label: String,
    ip_address: Option<String>,
    action: String,
    target_id: Option<i64>,
    data: String,
    created_at: i64,
}

/// The organization's entries older than `before_id` (all when `None`), newest first, at most
/// `limit`.
pub async fn list(
    conn: &mut Conn<'_>,
    organization_id: i64,
    before_id: Option<i64>,
    limit: i64,
) -> Result<Vec<Entry>, StoreError> {
    let rows: Vec<Row> = Query::new(
        "SELECT id, organization_id, actor_user_id, actor_label, ip_address, action, target_id, \
         data, created_at FROM audit_log WHERE organization_id = $1 AND id < $2 \
         ORDER BY id DESC LIMIT $3",
    )
    .bind(organization_id)
    .bind(before_id.unwrap_or(i64::MAX))
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(|r| Entry {
            id: r.id,
            organization_id: r.organization_id,
            actor: Actor {
                user_id: r.actor_user_id,
                label: r.actor_label,
                ip_address: r.ip_address,
            },
            action: AuditAction::parse(&r.action),
            target_id: r.target_id,
            data: serde_json::from_str(&r.data).unwrap_or(Value::Null),
            created_at: r.created_at,
        })
        .collect())
}
