-- Sessions, their event logs, native transcripts, workspace files, and agent profiles.
-- Text keys use SQLite's default BINARY collation: bytewise UTF-8 order, as the store contract asks.

CREATE TABLE sessions (
    session_id       TEXT    NOT NULL PRIMARY KEY,
    agent            TEXT    NOT NULL,
    profile          TEXT,
    name             TEXT,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    agent_session_id TEXT,
    -- Highest seq in this session's event log; append_events bumps it to reserve seqs.
    last_seq         INTEGER NOT NULL DEFAULT 0
);

-- list_sessions: keyset pagination, newest first.
CREATE INDEX sessions_by_created ON sessions (created_at, session_id);

CREATE TABLE events (
    session_id TEXT    NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    at         TEXT    NOT NULL,
    -- The SessionEvent as JSON.
    event      TEXT    NOT NULL,
    -- Also the index read_events walks; a duplicate seq fails here even if a writer misbehaves.
    PRIMARY KEY (session_id, seq)
);

-- Content is the last column so that listings never read a blob's overflow pages.
CREATE TABLE transcripts (
    session_id TEXT    NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    updated_at TEXT    NOT NULL,
    content    BLOB    NOT NULL,
    PRIMARY KEY (session_id, name)
);

CREATE TABLE files (
    session_id TEXT    NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    path       TEXT    NOT NULL,
    size       INTEGER NOT NULL,
    sha256     TEXT    NOT NULL,
    updated_at TEXT    NOT NULL,
    content    BLOB    NOT NULL,
    PRIMARY KEY (session_id, path)
);

CREATE TABLE profiles (
    id         TEXT NOT NULL PRIMARY KEY,
    -- The AgentProfile as JSON.
    profile    TEXT NOT NULL,
    updated_at TEXT NOT NULL
);
