-- Several runtime nodes over one database (crates/store/src/cluster.rs).
--
-- A node is live while its row's expires_at is ahead of the database's clock; it renews the row
-- by heartbeat, and each registration of a node id after the previous one expired bumps its
-- incarnation. Only the database's clock decides, so clock skew between nodes never matters.
CREATE TABLE nodes (
    node_id     TEXT COLLATE "C" NOT NULL PRIMARY KEY,
    incarnation BIGINT           NOT NULL,
    -- Where other nodes reach this one to forward commands.
    url         TEXT             NOT NULL,
    expires_at  TIMESTAMPTZ      NOT NULL
);

-- A session's owner: the node whose lease it is, while that node is live. owner_fence counts
-- every acquisition and never goes back, so a token taken before a takeover is refused forever.
ALTER TABLE sessions ADD COLUMN owner_node TEXT COLLATE "C";
ALTER TABLE sessions ADD COLUMN owner_incarnation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE sessions ADD COLUMN owner_fence BIGINT NOT NULL DEFAULT 0;

-- Registration clears what a previous incarnation of the node still held.
CREATE INDEX sessions_by_owner ON sessions (owner_node) WHERE owner_node IS NOT NULL;
