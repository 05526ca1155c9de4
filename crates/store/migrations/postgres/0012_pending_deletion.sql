-- Organizations and projects pending deletion, postgres flavour. Keep in step with ../sqlite/0012_pending_deletion.sql.
-- Timestamps are Unix epoch milliseconds (BIGINT).

-- Deleting an organization or a project marks it (and frees its slug) in one short
-- transaction: from then on no read, and no ingest, finds it. The pending_deletions task
-- removes its data in small batches and finally the row itself.
ALTER TABLE organizations ADD COLUMN deleting_at BIGINT;
ALTER TABLE projects ADD COLUMN deleting_at BIGINT;
CREATE INDEX projects_deleting ON projects (deleting_at) WHERE deleting_at IS NOT NULL;
CREATE INDEX organizations_deleting ON organizations (deleting_at) WHERE deleting_at IS NOT NULL;
