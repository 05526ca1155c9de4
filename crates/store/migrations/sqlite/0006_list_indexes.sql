-- Indexes for the issue list's other sort orders (`new`, `freq`, `user`), in the same shape as
-- issues_project_status_last_seen: the default `is:unresolved` view walks one of them in order
-- and stops after a page, instead of sorting every issue of the project. Same in both engines.
CREATE INDEX issues_project_status_first_seen ON issues (project_id, status, first_seen, id);
CREATE INDEX issues_project_status_times_seen ON issues (project_id, status, times_seen, id);
CREATE INDEX issues_project_status_user_count ON issues (project_id, status, user_count, id);
