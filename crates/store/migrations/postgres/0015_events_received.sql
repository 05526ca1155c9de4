-- A project's events in the order they were received, for the alert-rule preview: it replays
-- the newest events of the last days and walks this index backwards from now, stopping after
-- its limit, instead of reading every event of the project. Same in both engines.
CREATE INDEX events_project_received ON events (project_id, received, id);
