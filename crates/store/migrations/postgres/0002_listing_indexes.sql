-- Covering indexes for list_files and list_transcripts: with the listed columns in the index,
-- a listing can be an index-only scan and never visits the table rows.
CREATE INDEX files_listing ON files (session_id, path) INCLUDE (size, sha256);
CREATE INDEX transcripts_listing ON transcripts (session_id, name) INCLUDE (size, updated_at);
