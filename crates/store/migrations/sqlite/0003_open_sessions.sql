-- The recovery index (SessionStore::set_open / list_open): sessions that may hold work a crash
-- leaves unfinished (a running turn, a pending request). The runtime marks a session before such
-- work starts and clears the mark once the session is quiet; at start it visits only these.
--
-- A database from before this migration may hold turns a crash left open, so every existing
-- session starts marked (the first start after the upgrade looks at each once). The column
-- default is therefore 1; create_session writes 0 for a new session.
ALTER TABLE sessions ADD COLUMN open INTEGER NOT NULL DEFAULT 1;

-- list_open: only the open sessions are in the index, so it stays as small as they are few.
CREATE INDEX sessions_open ON sessions (session_id) WHERE open = 1;
