-- Covering indexes for list_files and list_transcripts: a listing reads only these small index
-- entries, never the table rows, whose local part holds up to a page of each blob. A session with
-- hundreds of large files lists in a few index pages instead of one table page per file.
CREATE INDEX files_listing ON files (session_id, path, size, sha256);
CREATE INDEX transcripts_listing ON transcripts (session_id, name, size, updated_at);
