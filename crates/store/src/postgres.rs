//! [`PostgresStore`]: a PostgreSQL database that several runtime processes can share.
//!
//! # Durability and concurrency
//!
//! - **Committed means durable.** Every write is one statement or one transaction, committed
//!   before the call returns; with PostgreSQL's default `synchronous_commit = on` it is flushed to
//!   the server's WAL, so neither a killed runtime nor a crashed database server loses it.
//! - **A pool of connections** ([`MAX_CONNECTIONS`]) serves every call; PostgreSQL's MVCC lets
//!   reads and writes of different sessions run side by side.
//! - **Gapless seqs across processes.** [`SessionStore::append_events`] is one statement: a CTE
//!   reserves the range with `UPDATE sessions SET last_seq = last_seq + n ... RETURNING last_seq`
//!   and inserts the batch numbered from it. The `UPDATE` takes the session row's lock until the
//!   statement commits, so concurrent appenders of one session (in any process) queue behind each
//!   other and each sees the `last_seq` its predecessor committed. `PRIMARY KEY (session_id, seq)`
//!   is the backstop.
//! - **Bytewise keys.** Key columns are `COLLATE "C"`, so ordering never depends on the
//!   database's locale.
//! - **Foreign keys** with `ON DELETE CASCADE`: deleting a session deletes what it owns, and
//!   writing for a missing session fails on the foreign key, which becomes `NotFound`.
//! - **Blobs** are `BYTEA` (up to 1 GB per value), stored out of line by TOAST.
//!
//! Migrations are the numbered files in `crates/store/migrations/postgres/`, compiled in and
//! applied on open; sqlx holds an advisory lock while migrating, so processes starting together
//! migrate once.
//!
//! The build has no TLS support for the database connection: use a trusted network or a local
//! proxy (e.g. a sidecar) for databases that require TLS.

use std::str::FromStr;
use std::time::Duration;

use agent_runtime_protocol::{AgentProfile, Envelope, FileInfo, SessionEvent};
use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPool, PgPoolOptions};

use crate::error::{Result, StoreError};
use crate::record::{SessionPage, SessionRecord, TranscriptMeta};
use crate::shared::{
    check_key, check_page_limit, describe_file, now_rfc3339, numbered_envelopes, SessionCursor,
};
use crate::sql::{
    decode_events, parse_profile, to_i64, to_u64, EventRow, SessionRow, SESSION_COLUMNS,
};
use crate::store::SessionStore;

/// Connections per store (per runtime process). Calls are short, and every session actor writes
/// through the pool, so this bounds the database connections one process holds; PostgreSQL's
/// default `max_connections` (100) leaves room for several processes.
pub const MAX_CONNECTIONS: u32 = 16;

/// How long a call waits for a free connection (or for the server to answer a new one) before it
/// fails.
pub const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(30);

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/postgres");

/// A [`SessionStore`] in a PostgreSQL database.
#[derive(Debug, Clone)]
pub struct PostgresStore {
    pool: PgPool,
    /// `host:port/database`, for logs (never the password).
    database: String,
}

impl PostgresStore {
    /// Connects to the database a `postgres://` / `postgresql://` URL names and applies pending
    /// migrations. The database must exist. A malformed URL is `Invalid`; an unreachable server
    /// or a failed migration is `Backend`.
    pub async fn connect(url: &str) -> Result<Self> {
        let options = PgConnectOptions::from_str(url)
            .map_err(|e| StoreError::Invalid(format!("bad PostgreSQL URL: {e}")))?
            .application_name("agent-runtime");
        PostgresStore::connect_with(options).await
    }

    /// Like [`PostgresStore::connect`], with options built in code.
    pub async fn connect_with(options: PgConnectOptions) -> Result<Self> {
        let database = format!(
            "{}:{}/{}",
            options.get_host(),
            options.get_port(),
            options.get_database().unwrap_or_default()
        );
        let pool = PgPoolOptions::new()
            .max_connections(MAX_CONNECTIONS)
            .acquire_timeout(ACQUIRE_TIMEOUT)
            .connect_with(options)
            .await
            .map_err(|e| StoreError::Backend(format!("cannot connect to {database}: {e}")))?;
        if let Err(e) = MIGRATOR.run(&pool).await {
            pool.close().await;
            return Err(StoreError::Backend(format!("migrating {database}: {e}")));
        }
        tracing::debug!(%database, "opened postgres store");
        Ok(PostgresStore { pool, database })
    }

    /// The connection pool, for tests and tools that inspect the database.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}

/// Maps what PostgreSQL refuses about a value to `Invalid`; everything else is the backend's.
pub(crate) fn map_error(e: sqlx::Error) -> StoreError {
    match &e {
        // 22021 character_not_in_repertoire: a NUL in a text value.
        sqlx::Error::Database(db) if db.code().as_deref() == Some("22021") => {
            StoreError::Invalid(format!("text values must not contain NUL: {db}"))
        }
        _ => e.into(),
    }
}

impl PostgresStore {
    /// Runs the append statement (see [`SessionStore::append_events`] here): one CTE reserves
    /// the range with `UPDATE sessions SET last_seq = last_seq + n ... RETURNING`, whose row
    /// lock serializes appenders of a session, and inserts the batch numbered from it; one
    /// statement, so one implicit transaction (data-modifying CTEs run even when the outer query
    /// does not read them). `also_where` narrows the `UPDATE` and `then` is the outer query,
    /// reading `reserved(last_seq)`; a fence's node, incarnation and token are bound as `$5`,
    /// `$6`, `$7` (`crate::postgres_cluster`). `None` when the `UPDATE` matched no row.
    pub(crate) async fn append_statement(
        &self,
        session_id: &str,
        events: &[(String, SessionEvent)],
        also_where: &str,
        then: &str,
        fence: Option<&crate::cluster::Fence>,
    ) -> Result<Option<Vec<Envelope>>> {
        let payloads = events
            .iter()
            .map(|(_, event)| serde_json::to_string(event))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Invalid(format!("event does not serialize: {e}")))?;
        let ats: Vec<&str> = events.iter().map(|(at, _)| at.as_str()).collect();
        let count = to_i64(events.len());
        let sql = format!(
            "WITH reserved AS ( \
                 UPDATE sessions SET last_seq = last_seq + $2 \
                 WHERE session_id = $1 {also_where} RETURNING last_seq \
             ), inserted AS ( \
                 INSERT INTO events (session_id, seq, at, event) \
                 SELECT $1, reserved.last_seq - $2 + batch.ord, batch.at, batch.event \
                 FROM reserved, UNNEST($3::text[], $4::text[]) \
                     WITH ORDINALITY AS batch (at, event, ord) \
             ) {then}"
        );
        let mut query = sqlx::query_scalar::<_, i64>(&sql)
            .bind(session_id)
            .bind(count)
            .bind(&ats)
            .bind(&payloads);
        if let Some(fence) = fence {
            query = query
                .bind(&fence.node.node_id)
                .bind(fence.node.incarnation)
                .bind(fence.token);
        }
        let Some(last) = query.fetch_optional(&self.pool).await.map_err(map_error)? else {
            return Ok(None);
        };
        let first = to_u64(last - count + 1, "seq")?;
        Ok(Some(numbered_envelopes(session_id, events, first)))
    }
}

/// `FOREIGN KEY` failures mean the session is missing.
fn missing_session_or(session_id: &str, e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::session_not_found(session_id)
        }
        _ => map_error(e),
    }
}

#[async_trait]
impl SessionStore for PostgresStore {
    fn backend(&self) -> &'static str {
        "postgres"
    }

    fn cluster(&self) -> Option<std::sync::Arc<dyn crate::cluster::ClusterStore>> {
        Some(std::sync::Arc::new(self.clone()))
    }

    async fn create_session(&self, record: &SessionRecord) -> Result<()> {
        check_key("session id", record.id())?;
        let info = &record.info;
        sqlx::query(
            "INSERT INTO sessions (session_id, agent, profile, name, created_at, updated_at, \
             agent_session_id, open) VALUES ($1, $2, $3, $4, $5, $6, $7, FALSE)",
        )
        .bind(&info.session_id)
        .bind(&info.agent)
        .bind(&info.profile)
        .bind(&info.name)
        .bind(&info.created_at)
        .bind(&info.updated_at)
        .bind(&record.agent_session_id)
        .execute(&self.pool)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("session {} already exists", info.session_id))
            }
            _ => map_error(e),
        })?;
        Ok(())
    }

    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = $1"
        ))
        .bind(session_id)
        .fetch_optional(&self.pool)
        .await
        .map_err(map_error)?;
        Ok(row.map(SessionRecord::from))
    }

    async fn list_sessions(&self, cursor: Option<&str>, limit: usize) -> Result<SessionPage> {
        check_page_limit(limit)?;
        let fetch = to_i64(limit.saturating_add(1));
        let rows: Vec<SessionRow> = match cursor.map(SessionCursor::decode).transpose()? {
            None => {
                sqlx::query_as(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions \
                     ORDER BY created_at DESC, session_id DESC LIMIT $1"
                ))
                .bind(fetch)
                .fetch_all(&self.pool)
                .await
            }
            Some(c) => {
                sqlx::query_as(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions \
                     WHERE (created_at, session_id) < ($1, $2) \
                     ORDER BY created_at DESC, session_id DESC LIMIT $3"
                ))
                .bind(c.created_at)
                .bind(c.session_id)
                .bind(fetch)
                .fetch_all(&self.pool)
                .await
            }
        }
        .map_err(map_error)?;
        let more = rows.len() > limit;
        let sessions: Vec<SessionRecord> = rows
            .into_iter()
            .take(limit)
            .map(SessionRecord::from)
            .collect();
        let next_cursor = match sessions.last() {
            Some(last) if more => Some(SessionCursor::after(last).encode()),
            _ => None,
        };
        Ok(SessionPage {
            sessions,
            next_cursor,
        })
    }

    async fn update_session(&self, record: &SessionRecord) -> Result<()> {
        let info = &record.info;
        let updated = sqlx::query(
            "UPDATE sessions SET profile = $1, name = $2, updated_at = $3, \
             agent_session_id = $4 WHERE session_id = $5",
        )
        .bind(&info.profile)
        .bind(&info.name)
        .bind(&info.updated_at)
        .bind(&record.agent_session_id)
        .bind(&info.session_id)
        .execute(&self.pool)
        .await
        .map_err(map_error)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::session_not_found(&info.session_id));
        }
        Ok(())
    }

    async fn delete_session(&self, session_id: &str) -> Result<bool> {
        // Events, transcripts and files go with it: ON DELETE CASCADE.
        let deleted = sqlx::query("DELETE FROM sessions WHERE session_id = $1")
            .bind(session_id)
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn set_open(&self, session_id: &str, open: bool) -> Result<()> {
        let updated = sqlx::query("UPDATE sessions SET open = $1 WHERE session_id = $2")
            .bind(open)
            .bind(session_id)
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::session_not_found(session_id));
        }
        Ok(())
    }

    async fn list_open(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        check_page_limit(limit)?;
        // Ids are never empty, so "" is below every one; `WHERE open` matches the partial index
        // `sessions_open`.
        sqlx::query_scalar(
            "SELECT session_id FROM sessions WHERE open AND session_id > $1 \
             ORDER BY session_id LIMIT $2",
        )
        .bind(after.unwrap_or(""))
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_error)
    }

    async fn append_events(
        &self,
        session_id: &str,
        events: &[(String, SessionEvent)],
    ) -> Result<Vec<Envelope>> {
        self.append_statement(
            session_id,
            events,
            "",
            "SELECT last_seq FROM reserved",
            None,
        )
        .await?
        .ok_or_else(|| StoreError::session_not_found(session_id))
    }

    async fn read_events(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let rows: Vec<EventRow> = sqlx::query_as(
            "SELECT seq, at, event FROM events WHERE session_id = $1 AND seq > $2 \
             ORDER BY seq LIMIT $3",
        )
        .bind(session_id)
        .bind(to_i64(after_seq))
        .bind(to_i64(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(map_error)?;
        decode_events(session_id, rows)
    }

    async fn last_seq(&self, session_id: &str) -> Result<u64> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT last_seq FROM sessions WHERE session_id = $1")
                .bind(session_id)
                .fetch_optional(&self.pool)
                .await
                .map_err(map_error)?;
        to_u64(last.unwrap_or(0), "last_seq")
    }

    async fn put_transcript(
        &self,
        session_id: &str,
        name: &str,
        content: &[u8],
    ) -> Result<TranscriptMeta> {
        check_key("transcript name", name)?;
        let meta = TranscriptMeta {
            name: name.to_string(),
            size: content.len() as u64,
            updated_at: now_rfc3339(),
        };
        sqlx::query(
            "INSERT INTO transcripts (session_id, name, size, updated_at, content) \
             VALUES ($1, $2, $3, $4, $5) ON CONFLICT (session_id, name) DO UPDATE SET \
             size = excluded.size, updated_at = excluded.updated_at, content = excluded.content",
        )
        .bind(session_id)
        .bind(name)
        .bind(to_i64(meta.size))
        .bind(&meta.updated_at)
        .bind(content)
        .execute(&self.pool)
        .await
        .map_err(|e| missing_session_or(session_id, e))?;
        Ok(meta)
    }

    async fn get_transcript(&self, session_id: &str, name: &str) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT content FROM transcripts WHERE session_id = $1 AND name = $2")
            .bind(session_id)
            .bind(name)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)
    }

    async fn list_transcripts(&self, session_id: &str) -> Result<Vec<TranscriptMeta>> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT name, size, updated_at FROM transcripts WHERE session_id = $1 ORDER BY name",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_error)?;
        rows.into_iter()
            .map(|(name, size, updated_at)| {
                Ok(TranscriptMeta {
                    name,
                    size: to_u64(size, "size")?,
                    updated_at,
                })
            })
            .collect()
    }

    async fn delete_transcript(&self, session_id: &str, name: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM transcripts WHERE session_id = $1 AND name = $2")
            .bind(session_id)
            .bind(name)
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn put_file(&self, session_id: &str, path: &str, content: &[u8]) -> Result<FileInfo> {
        check_key("file path", path)?;
        let info = describe_file(path, content);
        sqlx::query(
            "INSERT INTO files (session_id, path, size, sha256, updated_at, content) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (session_id, path) DO UPDATE SET \
             size = excluded.size, sha256 = excluded.sha256, updated_at = excluded.updated_at, \
             content = excluded.content",
        )
        .bind(session_id)
        .bind(path)
        .bind(to_i64(info.size))
        .bind(&info.sha256)
        .bind(now_rfc3339())
        .bind(content)
        .execute(&self.pool)
        .await
        .map_err(|e| missing_session_or(session_id, e))?;
        Ok(info)
    }

    async fn get_file(&self, session_id: &str, path: &str) -> Result<Option<Vec<u8>>> {
        sqlx::query_scalar("SELECT content FROM files WHERE session_id = $1 AND path = $2")
            .bind(session_id)
            .bind(path)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)
    }

    async fn list_files(&self, session_id: &str) -> Result<Vec<FileInfo>> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT path, size, sha256 FROM files WHERE session_id = $1 ORDER BY path",
        )
        .bind(session_id)
        .fetch_all(&self.pool)
        .await
        .map_err(map_error)?;
        rows.into_iter()
            .map(|(path, size, sha256)| {
                Ok(FileInfo {
                    path,
                    size: to_u64(size, "size")?,
                    sha256,
                })
            })
            .collect()
    }

    async fn delete_file(&self, session_id: &str, path: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM files WHERE session_id = $1 AND path = $2")
            .bind(session_id)
            .bind(path)
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn put_profile(&self, profile: &AgentProfile) -> Result<()> {
        check_key("profile id", &profile.id)?;
        let json = serde_json::to_string(profile)
            .map_err(|e| StoreError::Invalid(format!("profile does not serialize: {e}")))?;
        sqlx::query(
            "INSERT INTO profiles (id, profile, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (id) DO UPDATE SET profile = excluded.profile, \
             updated_at = excluded.updated_at",
        )
        .bind(&profile.id)
        .bind(json)
        .bind(now_rfc3339())
        .execute(&self.pool)
        .await
        .map_err(map_error)?;
        Ok(())
    }

    async fn get_profile(&self, id: &str) -> Result<Option<AgentProfile>> {
        let json: Option<String> = sqlx::query_scalar("SELECT profile FROM profiles WHERE id = $1")
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .map_err(map_error)?;
        json.map(|json| parse_profile(id, &json)).transpose()
    }

    async fn list_profiles(&self) -> Result<Vec<AgentProfile>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, profile FROM profiles ORDER BY id")
                .fetch_all(&self.pool)
                .await
                .map_err(map_error)?;
        rows.iter()
            .map(|(id, json)| parse_profile(id, json))
            .collect()
    }

    async fn delete_profile(&self, id: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM profiles WHERE id = $1")
            .bind(id)
            .execute(&self.pool)
            .await
            .map_err(map_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn close(&self) {
        // Waits for connections in use to come back, then closes them all.
        self.pool.close().await;
        tracing::debug!(database = %self.database, "closed postgres store");
    }
}
