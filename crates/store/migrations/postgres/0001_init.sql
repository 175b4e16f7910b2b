-- Sessions, their event logs, native transcripts, workspace files, and agent profiles.
-- Text keys (and created_at, which orders the session list) use COLLATE "C": bytewise UTF-8
-- order whatever the database's default collation, as the store contract asks.

CREATE TABLE sessions (
    session_id       TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    agent            TEXT             NOT NULL,
    profile          TEXT,
    name             TEXT,
    created_at       TEXT COLLATE "C" NOT NULL,
    updated_at       TEXT             NOT NULL,
    agent_session_id TEXT,
    -- Highest seq in this session's event log; append_events bumps it to reserve seqs, and the
    -- row lock that UPDATE takes serializes appenders of one session across processes.
    last_seq         BIGINT           NOT NULL DEFAULT 0
);

-- list_sessions: keyset pagination, newest first (the index is walked backwards).
CREATE INDEX sessions_by_created ON sessions (created_at, session_id);

CREATE TABLE events (
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    seq        BIGINT           NOT NULL,
    at         TEXT             NOT NULL,
    -- The SessionEvent as JSON text (not jsonb: jsonb refuses \u0000 and reorders keys).
    event      TEXT             NOT NULL,
    -- Also the index read_events walks; a duplicate seq fails here even if a writer misbehaves.
    PRIMARY KEY (session_id, seq)
);

-- Content is stored out of line (TOAST) once it passes about 2 kB, so listings stay cheap.
CREATE TABLE transcripts (
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    name       TEXT COLLATE "C" NOT NULL,
    size       BIGINT           NOT NULL,
    updated_at TEXT             NOT NULL,
    content    BYTEA            NOT NULL,
    PRIMARY KEY (session_id, name)
);

CREATE TABLE files (
    session_id TEXT COLLATE "C" NOT NULL REFERENCES sessions (session_id) ON DELETE CASCADE,
    path       TEXT COLLATE "C" NOT NULL,
    size       BIGINT           NOT NULL,
    sha256     TEXT             NOT NULL,
    updated_at TEXT             NOT NULL,
    content    BYTEA            NOT NULL,
    PRIMARY KEY (session_id, path)
);

CREATE TABLE profiles (
    id         TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    -- The AgentProfile as JSON text.
    profile    TEXT             NOT NULL,
    updated_at TEXT             NOT NULL
);
