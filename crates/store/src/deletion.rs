//! Removing the data of organizations and projects pending deletion.
//!
//! Deleting an organization or a project ([`crate::orgs::schedule_deletion`],
//! [`crate::projects::schedule_deletion`]) only marks its row, in one short transaction: every
//! read filters marked rows out, and ingest refuses their DSN keys from that commit on. Its data
//! (possibly millions of events) is removed afterwards by [`purge_step`], a bounded amount per
//! transaction, so neither the request nor the removal holds the writer long enough to stall
//! ingest batches: events first, then issues (with what hangs off them), then the project row
//! (its keys, settings, releases and the rest go with it), and once an organization has no
//! project left its row (members, teams, tokens, invitations and audit log with it).

use crate::StoreError;
use crate::query::{Conn, Int, Query};

/// A DSN key's public key.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct PublicKey {
    pub(crate) public_key: String,
}

/// The public keys of every project of the organization.
pub(crate) async fn public_keys_of_org(
    conn: &mut Conn<'_>,
    organization_id: i64,
) -> Result<Vec<String>, StoreError> {
    let rows: Vec<PublicKey> = Query::new(
        "SELECT k.public_key FROM project_keys k JOIN projects p ON p.id = k.project_id \
         WHERE p.organization_id = $1",
    )
    .bind(organization_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.public_key).collect())
}

/// What one [`purge_step`] removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purged {
    /// Nothing is pending deletion.
    Nothing,
    /// Up to the limit of events of a project.
    Events(u64),
    /// Up to the limit of issues of a project, with their hashes, counters and activity.
    Issues(u64),
    /// Up to the limit of processing failures of a project.
    Failures(u64),
    /// A project row and what is left of it (keys, settings, releases, environments).
    Project(i64),
    /// An organization row with its members, teams, tokens, invitations and audit log.
    Organization(i64),
}

/// Removes at most `limit` rows (plus what cascades from them) of one organization or project
/// pending deletion. Run it in its own short transaction, again until it answers
/// [`Purged::Nothing`].
pub async fn purge_step(conn: &mut Conn<'_>, limit: i64) -> Result<Purged, StoreError> {
    let project: Option<Int> = Query::new(
        "SELECT id AS value FROM projects WHERE deleting_at IS NOT NULL ORDER BY id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    if let Some(Int { value: project_id }) = project {
        let events = Query::new(
            "DELETE FROM events WHERE id IN \
             (SELECT id FROM events WHERE project_id = $1 ORDER BY id LIMIT $2)",
        )
        .bind(project_id)
        .bind(limit)
        .execute(conn)
        .await?;
        if events > 0 {
            return Ok(Purged::Events(events));
        }
        let issues = Query::new(
            "DELETE FROM issues WHERE id IN \
             (SELECT id FROM issues WHERE project_id = $1 ORDER BY id LIMIT $2)",
        )
        .bind(project_id)
        .bind(limit)
        .execute(conn)
        .await?;
        if issues > 0 {
            return Ok(Purged::Issues(issues));
        }
        let failures = Query::new(
            "DELETE FROM processing_failures WHERE id IN \
             (SELECT id FROM processing_failures WHERE project_id = $1 ORDER BY id LIMIT $2)",
        )
        .bind(project_id)
        .bind(limit)
        .execute(conn)
        .await?;
        if failures > 0 {
            return Ok(Purged::Failures(failures));
        }
        Query::new("DELETE FROM projects WHERE id = $1")
            .bind(project_id)
            .execute(conn)
            .await?;
        return Ok(Purged::Project(project_id));
    }
    let org: Option<Int> = Query::new(
        "SELECT o.id AS value FROM organizations o WHERE o.deleting_at IS NOT NULL \
         AND NOT EXISTS (SELECT 1 FROM projects p WHERE p.organization_id = o.id) \
         ORDER BY o.id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    match org {
        Some(Int { value: org_id }) => {
            Query::new("DELETE FROM organizations WHERE id = $1")
                .bind(org_id)
                .execute(conn)
                .await?;
            Ok(Purged::Organization(org_id))
        }
        None => Ok(Purged::Nothing),
    }
}
