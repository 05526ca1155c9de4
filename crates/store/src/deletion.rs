//! Removing the data of organizations and projects pending deletion.
//!
//! Deleting an organization or a project ([`crate::orgs::schedule_deletion`],
//! [`crate::projects::schedule_deletion`]) only marks its row, in one short transaction: every
//! read filters marked rows out, and ingest refuses their DSN keys from that commit on. Its data
//! (possibly millions of events) is removed afterwards by [`purge_step`], a bounded amount per
//! transaction, so neither the request nor the removal holds the writer long enough to stall
//! ingest batches: events first, then issues (with what hangs off them), processing failures,
//! then the rest of the project (keys, settings, releases, environments, dictionaries, team
//! ownership, alert rules, plugin settings), and once an organization's projects are all purged
//! its members, teams, tokens, invitations and audit log. The organization and project rows stay as tombstones
//! (`purged_at` set, their slugs already freed): SQLite gives the largest rowid of a table
//! again once its row is deleted, and a new project must never answer to an old DSN's project
//! id.

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
    /// What is left of a project (keys, settings, releases, environments); its row stays as a
    /// tombstone.
    Project(i64),
    /// An organization's members, teams, tokens, invitations and audit log; its row stays as a
    /// tombstone.
    Organization(i64),
}

/// A large table of a project, emptied a bounded batch a step (`$1` the project, `$2` the
/// limit), and what a step that removed rows from it answers.
type BatchedTable = (&'static str, fn(u64) -> Purged);

/// Removes at most `limit` rows (plus what cascades from them) of one organization or project
/// pending deletion. Run it in its own short transaction, again until it answers
/// [`Purged::Nothing`].
pub async fn purge_step(conn: &mut Conn<'_>, limit: i64) -> Result<Purged, StoreError> {
    let project: Option<Int> = Query::new(
        "SELECT id AS value FROM projects WHERE deleting_at IS NOT NULL AND purged_at IS NULL \
         ORDER BY id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    if let Some(Int { value: project_id }) = project {
        // The large tables, a bounded batch a step; issues take their hashes, counters and
        // activity with them.
        let batched: [BatchedTable; 3] = [
            (
                "DELETE FROM events WHERE id IN \
                 (SELECT id FROM events WHERE project_id = $1 ORDER BY id LIMIT $2)",
                Purged::Events,
            ),
            (
                "DELETE FROM issues WHERE id IN \
                 (SELECT id FROM issues WHERE project_id = $1 ORDER BY id LIMIT $2)",
                Purged::Issues,
            ),
            (
                "DELETE FROM processing_failures WHERE id IN \
                 (SELECT id FROM processing_failures WHERE project_id = $1 ORDER BY id LIMIT $2)",
                Purged::Failures,
            ),
        ];
        for (sql, purged) in batched {
            let removed = Query::new(sql)
                .bind(project_id)
                .bind(limit)
                .execute(conn)
                .await?;
            if removed > 0 {
                return Ok(purged(removed));
            }
        }
        // The rest is small (a handful of rows per release, environment and key); the row
        // stays as a tombstone.
        for sql in [
            "DELETE FROM issue_redirects WHERE project_id = $1",
            "DELETE FROM group_hashes WHERE project_id = $1",
            "DELETE FROM releases WHERE project_id = $1",
            "DELETE FROM environments WHERE project_id = $1",
            "DELETE FROM project_keys WHERE project_id = $1",
            "DELETE FROM project_options WHERE project_id = $1",
            "DELETE FROM payload_dicts WHERE project_id = $1",
            "DELETE FROM project_teams WHERE project_id = $1",
            "DELETE FROM alert_rules WHERE project_id = $1",
            "DELETE FROM project_plugins WHERE project_id = $1",
            "DELETE FROM user_project_alerts WHERE project_id = $1",
            "UPDATE projects SET purged_at = deleting_at WHERE id = $1",
        ] {
            Query::new(sql).bind(project_id).execute(conn).await?;
        }
        return Ok(Purged::Project(project_id));
    }
    let org: Option<Int> = Query::new(
        "SELECT o.id AS value FROM organizations o \
         WHERE o.deleting_at IS NOT NULL AND o.purged_at IS NULL AND NOT EXISTS \
         (SELECT 1 FROM projects p WHERE p.organization_id = o.id AND p.purged_at IS NULL) \
         ORDER BY o.id LIMIT 1",
    )
    .fetch_optional(conn)
    .await?;
    match org {
        Some(Int { value: org_id }) => {
            // Teams take their memberships and project ownership with them.
            for sql in [
                "DELETE FROM teams WHERE organization_id = $1",
                "DELETE FROM organization_members WHERE organization_id = $1",
                "DELETE FROM org_tokens WHERE organization_id = $1",
                "DELETE FROM invitations WHERE organization_id = $1",
                "DELETE FROM audit_log WHERE organization_id = $1",
                "UPDATE organizations SET purged_at = deleting_at WHERE id = $1",
            ] {
                Query::new(sql).bind(org_id).execute(conn).await?;
            }
            Ok(Purged::Organization(org_id))
        }
        None => Ok(Purged::Nothing),
    }
}
