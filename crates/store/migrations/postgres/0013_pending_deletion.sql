-- Organizations and projects pending deletion, postgres flavour. Keep in step with ../sqlite/0013_pending_deletion.sql.
-- Timestamps are Unix epoch milliseconds (BIGINT).

-- Deleting an organization or a project marks it (and frees its slug) in one short
-- transaction: from then on no read, and no ingest, finds it. The pending_deletions task
-- removes its data in small batches; the row itself stays, emptied, as a tombstone
-- (purged_at set), so its id (a DSN's project id) is never given to another one (SQLite
-- reuses the largest rowid of a table).
ALTER TABLE organizations ADD COLUMN deleting_at BIGINT;
ALTER TABLE organizations ADD COLUMN purged_at BIGINT;
ALTER TABLE projects ADD COLUMN deleting_at BIGINT;
ALTER TABLE projects ADD COLUMN purged_at BIGINT;
CREATE INDEX projects_deleting ON projects (deleting_at) WHERE deleting_at IS NOT NULL;
CREATE INDEX organizations_deleting ON organizations (deleting_at) WHERE deleting_at IS NOT NULL;
