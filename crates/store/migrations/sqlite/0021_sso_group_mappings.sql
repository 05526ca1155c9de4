-- IdP groups mapped to teams: members join and leave the mapped teams at each SSO login.
-- A JSON list of {"group": "...", "team_id": N}.
ALTER TABLE auth_providers ADD COLUMN group_mappings TEXT NOT NULL DEFAULT '[]';
