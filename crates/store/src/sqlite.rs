//! [`SqliteStore`]: the embedded default, one SQLite file per runtime home.
//!
//! # Durability and concurrency
//!
//! - **WAL journal, `synchronous = NORMAL`.** A commit is written to the WAL file before the call
//!   returns, but not fsynced. So a killed process (`kill -9`, panic, OOM) loses nothing that was
//!   committed; only an OS crash or power loss may drop the last few commits (never corrupting
//!   the file). This is the guarantee the runtime's "durable before visible" rule needs, at a
//!   fraction of the cost of `FULL`.
//! - **One writer connection, several readers.** All writes go through a pool of one
//!   connection, so writers in this process queue in the pool instead of spinning on
//!   `SQLITE_BUSY`; readers never block writers under WAL. Writers in *other* processes on the
//!   same file wait up to [`BUSY_TIMEOUT`].
//! - **Gapless seqs.** [`SessionStore::append_events`] runs in `BEGIN IMMEDIATE` (the write lock
//!   is taken up front, so the transaction never has to upgrade from read to write), reserves the
//!   range with `UPDATE sessions SET last_seq = last_seq + n ... RETURNING last_seq`, and inserts
//!   the rows under `PRIMARY KEY (session_id, seq)`.
//! - **Foreign keys on**, with `ON DELETE CASCADE`: deleting a session deletes what it owns, and
//!   writing for a missing session fails on the foreign key, which becomes `NotFound`.
//! - **Blobs** live in the rows; SQLite allows up to about 1 GB per value.
//!
//! Migrations are the numbered files in `crates/store/migrations/sqlite/`, compiled in and applied
//! on open.

use std::path::{Path, PathBuf};
use std::time::Duration;

use agent_runtime_protocol::{AgentProfile, Envelope, FileInfo, SessionEvent};
use async_trait::async_trait;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions, SqliteSynchronous,
};

use crate::error::{Result, StoreError};
use crate::record::{SessionPage, SessionRecord, TranscriptMeta};
use crate::shared::{check_key, check_page_limit, describe_file, now_rfc3339, SessionCursor};
use crate::sql::{
    decode_events, parse_profile, to_i64, to_u64, EventRow, SessionRow, SESSION_COLUMNS,
};
use crate::store::SessionStore;

/// How long a write waits for another process's write lock before failing.
pub const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Read connections; reads are short, and more would only add open files.
const READ_CONNECTIONS: u32 = 4;

static MIGRATOR: Migrator = sqlx::migrate!("./migrations/sqlite");

/// A [`SessionStore`] in one SQLite database file.
#[derive(Debug, Clone)]
pub struct SqliteStore {
    path: PathBuf,
    /// Exactly one connection: every write.
    writer: SqlitePool,
    /// Every read.
    reader: SqlitePool,
}

impl SqliteStore {
    /// Opens (creating it and its parent directories if missing) the database at `path` and
    /// applies pending migrations.
    pub async fn open(path: impl AsRef<Path>) -> Result<Self> {
        let path = path.as_ref().to_path_buf();
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            tokio::fs::create_dir_all(parent).await.map_err(|e| {
                StoreError::Backend(format!("cannot create {}: {e}", parent.display()))
            })?;
        }
        let options = SqliteConnectOptions::new()
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        // The writer comes first: it switches the file to WAL and migrates before any reader.
        let writer = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options.clone())
            .await?;
        MIGRATOR
            .run(&writer)
            .await
            .map_err(|e| StoreError::Backend(format!("migrating {}: {e}", path.display())))?;
        let reader = SqlitePoolOptions::new()
            .max_connections(READ_CONNECTIONS)
            .connect_with(options)
            .await?;
        tracing::debug!(path = %path.display(), "opened sqlite store");
        Ok(SqliteStore {
            path,
            writer,
            reader,
        })
    }

    /// Opens the database named by `sqlite://PATH` or `sqlite:PATH` (`sqlite:///abs/path` for
    /// an absolute path). In-memory databases and query parameters are refused as `Invalid`:
    /// use [`MemoryStore`](crate::MemoryStore) for a throwaway store.
    pub async fn open_url(url: &str) -> Result<Self> {
        SqliteStore::open(path_of_url(url)?).await
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// The file path in a `sqlite:` URL.
fn path_of_url(url: &str) -> Result<&str> {
    let path = url
        .strip_prefix("sqlite://")
        .or_else(|| url.strip_prefix("sqlite:"))
        .ok_or_else(|| StoreError::Invalid(format!("not a sqlite URL: {url:?}")))?;
    if path.is_empty() || path == ":memory:" {
        return Err(StoreError::Invalid(format!(
            "{url:?} names no database file (use \"memory\" for an in-memory store)"
        )));
    }
    if path.contains('?') {
        return Err(StoreError::Invalid(format!(
            "sqlite URL parameters are not supported: {url:?}"
        )));
    }
    Ok(path)
}

/// `FOREIGN KEY` failures mean the session is missing; everything else is the backend's.
fn missing_session_or(session_id: &str, e: sqlx::Error) -> StoreError {
    match &e {
        sqlx::Error::Database(db) if db.is_foreign_key_violation() => {
            StoreError::session_not_found(session_id)
        }
        _ => e.into(),
    }
}

#[async_trait]
impl SessionStore for SqliteStore {
    fn backend(&self) -> &'static str {
        "sqlite"
    }

    async fn create_session(&self, record: &SessionRecord) -> Result<()> {
        check_key("session id", record.id())?;
        let info = &record.info;
        sqlx::query(
            "INSERT INTO sessions (session_id, agent, profile, name, created_at, updated_at, \
             agent_session_id, open) VALUES (?, ?, ?, ?, ?, ?, ?, 0)",
        )
        .bind(&info.session_id)
        .bind(&info.agent)
        .bind(&info.profile)
        .bind(&info.name)
        .bind(&info.created_at)
        .bind(&info.updated_at)
        .bind(&record.agent_session_id)
        .execute(&self.writer)
        .await
        .map_err(|e| match &e {
            sqlx::Error::Database(db) if db.is_unique_violation() => {
                StoreError::Conflict(format!("session {} already exists", info.session_id))
            }
            _ => e.into(),
        })?;
        Ok(())
    }

    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>> {
        let row: Option<SessionRow> = sqlx::query_as(&format!(
            "SELECT {SESSION_COLUMNS} FROM sessions WHERE session_id = ?"
        ))
        .bind(session_id)
        .fetch_optional(&self.reader)
        .await?;
        Ok(row.map(SessionRecord::from))
    }

    async fn list_sessions(&self, cursor: Option<&str>, limit: usize) -> Result<SessionPage> {
        check_page_limit(limit)?;
        let fetch = to_i64(limit.saturating_add(1));
        let rows: Vec<SessionRow> = match cursor.map(SessionCursor::decode).transpose()? {
            None => {
                sqlx::query_as(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions \
                     ORDER BY created_at DESC, session_id DESC LIMIT ?"
                ))
                .bind(fetch)
                .fetch_all(&self.reader)
                .await?
            }
            Some(c) => {
                sqlx::query_as(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions \
                     WHERE created_at < ?1 OR (created_at = ?1 AND session_id < ?2) \
                     ORDER BY created_at DESC, session_id DESC LIMIT ?3"
                ))
                .bind(c.created_at)
                .bind(c.session_id)
                .bind(fetch)
                .fetch_all(&self.reader)
                .await?
            }
        };
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
            "UPDATE sessions SET profile = ?, name = ?, updated_at = ?, agent_session_id = ? \
             WHERE session_id = ?",
        )
        .bind(&info.profile)
        .bind(&info.name)
        .bind(&info.updated_at)
        .bind(&record.agent_session_id)
        .bind(&info.session_id)
        .execute(&self.writer)
        .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::session_not_found(&info.session_id));
        }
        Ok(())
    }

    async fn delete_session(&self, session_id: &str) -> Result<bool> {
        // Events, transcripts and files go with it: ON DELETE CASCADE.
        let deleted = sqlx::query("DELETE FROM sessions WHERE session_id = ?")
            .bind(session_id)
            .execute(&self.writer)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn set_open(&self, session_id: &str, open: bool) -> Result<()> {
        let updated = sqlx::query("UPDATE sessions SET open = ? WHERE session_id = ?")
            .bind(i64::from(open))
            .bind(session_id)
            .execute(&self.writer)
            .await?;
        if updated.rows_affected() == 0 {
            return Err(StoreError::session_not_found(session_id));
        }
        Ok(())
    }

    async fn list_open(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        check_page_limit(limit)?;
        // Ids are never empty, so "" is below every one. `open = 1` lets the partial index
        // `sessions_open` serve the query.
        Ok(sqlx::query_scalar(
            "SELECT session_id FROM sessions WHERE open = 1 AND session_id > ? \
             ORDER BY session_id LIMIT ?",
        )
        .bind(after.unwrap_or(""))
        .bind(to_i64(limit))
        .fetch_all(&self.reader)
        .await?)
    }

    async fn append_events(
        &self,
        session_id: &str,
        events: &[(String, SessionEvent)],
    ) -> Result<Vec<Envelope>> {
        // Serialize before taking the write lock.
        let payloads = events
            .iter()
            .map(|(_, event)| serde_json::to_string(event))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| StoreError::Invalid(format!("event does not serialize: {e}")))?;
        let count = to_i64(events.len());

        let mut tx = self.writer.begin_with("BEGIN IMMEDIATE").await?;
        let last: Option<i64> = sqlx::query_scalar(
            "UPDATE sessions SET last_seq = last_seq + ? WHERE session_id = ? RETURNING last_seq",
        )
        .bind(count)
        .bind(session_id)
        .fetch_optional(&mut *tx)
        .await?;
        // Dropping `tx` rolls back.
        let last = last.ok_or_else(|| StoreError::session_not_found(session_id))?;
        let first = to_u64(last - count + 1, "seq")?;

        let mut appended = Vec::with_capacity(events.len());
        for (((at, event), payload), seq) in events.iter().zip(payloads).zip(first..) {
            sqlx::query("INSERT INTO events (session_id, seq, at, event) VALUES (?, ?, ?, ?)")
                .bind(session_id)
                .bind(to_i64(seq))
                .bind(at)
                .bind(payload)
                .execute(&mut *tx)
                .await?;
            appended.push(Envelope {
                session_id: session_id.to_string(),
                seq,
                at: at.clone(),
                event: event.clone(),
            });
        }
        tx.commit().await?;
        Ok(appended)
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
            "SELECT seq, at, event FROM events WHERE session_id = ? AND seq > ? \
             ORDER BY seq LIMIT ?",
        )
        .bind(session_id)
        .bind(to_i64(after_seq))
        .bind(to_i64(limit))
        .fetch_all(&self.reader)
        .await?;
        decode_events(session_id, rows)
    }

    async fn last_seq(&self, session_id: &str) -> Result<u64> {
        let last: Option<i64> =
            sqlx::query_scalar("SELECT last_seq FROM sessions WHERE session_id = ?")
                .bind(session_id)
                .fetch_optional(&self.reader)
                .await?;
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
             VALUES (?, ?, ?, ?, ?) ON CONFLICT (session_id, name) DO UPDATE SET \
             size = excluded.size, updated_at = excluded.updated_at, content = excluded.content",
        )
        .bind(session_id)
        .bind(name)
        .bind(to_i64(meta.size))
        .bind(&meta.updated_at)
        .bind(content)
        .execute(&self.writer)
        .await
        .map_err(|e| missing_session_or(session_id, e))?;
        Ok(meta)
    }

    async fn get_transcript(&self, session_id: &str, name: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT content FROM transcripts WHERE session_id = ? AND name = ?")
                .bind(session_id)
                .bind(name)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn list_transcripts(&self, session_id: &str) -> Result<Vec<TranscriptMeta>> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT name, size, updated_at FROM transcripts WHERE session_id = ? ORDER BY name",
        )
        .bind(session_id)
        .fetch_all(&self.reader)
        .await?;
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
        let deleted = sqlx::query("DELETE FROM transcripts WHERE session_id = ? AND name = ?")
            .bind(session_id)
            .bind(name)
            .execute(&self.writer)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn put_file(&self, session_id: &str, path: &str, content: &[u8]) -> Result<FileInfo> {
        check_key("file path", path)?;
        let info = describe_file(path, content);
        sqlx::query(
            "INSERT INTO files (session_id, path, size, sha256, updated_at, content) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (session_id, path) DO UPDATE SET \
             size = excluded.size, sha256 = excluded.sha256, updated_at = excluded.updated_at, \
             content = excluded.content",
        )
        .bind(session_id)
        .bind(path)
        .bind(to_i64(info.size))
        .bind(&info.sha256)
        .bind(now_rfc3339())
        .bind(content)
        .execute(&self.writer)
        .await
        .map_err(|e| missing_session_or(session_id, e))?;
        Ok(info)
    }

    async fn get_file(&self, session_id: &str, path: &str) -> Result<Option<Vec<u8>>> {
        Ok(
            sqlx::query_scalar("SELECT content FROM files WHERE session_id = ? AND path = ?")
                .bind(session_id)
                .bind(path)
                .fetch_optional(&self.reader)
                .await?,
        )
    }

    async fn list_files(&self, session_id: &str) -> Result<Vec<FileInfo>> {
        let rows: Vec<(String, i64, String)> = sqlx::query_as(
            "SELECT path, size, sha256 FROM files WHERE session_id = ? ORDER BY path",
        )
        .bind(session_id)
        .fetch_all(&self.reader)
        .await?;
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
        let deleted = sqlx::query("DELETE FROM files WHERE session_id = ? AND path = ?")
            .bind(session_id)
            .bind(path)
            .execute(&self.writer)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn put_profile(&self, profile: &AgentProfile) -> Result<()> {
        check_key("profile id", &profile.id)?;
        let json = serde_json::to_string(profile)
            .map_err(|e| StoreError::Invalid(format!("profile does not serialize: {e}")))?;
        sqlx::query(
            "INSERT INTO profiles (id, profile, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (id) DO UPDATE SET profile = excluded.profile, \
             updated_at = excluded.updated_at",
        )
        .bind(&profile.id)
        .bind(json)
        .bind(now_rfc3339())
        .execute(&self.writer)
        .await?;
        Ok(())
    }

    async fn get_profile(&self, id: &str) -> Result<Option<AgentProfile>> {
        let json: Option<String> = sqlx::query_scalar("SELECT profile FROM profiles WHERE id = ?")
            .bind(id)
            .fetch_optional(&self.reader)
            .await?;
        json.map(|json| parse_profile(id, &json)).transpose()
    }

    async fn list_profiles(&self) -> Result<Vec<AgentProfile>> {
        let rows: Vec<(String, String)> =
            sqlx::query_as("SELECT id, profile FROM profiles ORDER BY id")
                .fetch_all(&self.reader)
                .await?;
        rows.iter()
            .map(|(id, json)| parse_profile(id, json))
            .collect()
    }

    async fn delete_profile(&self, id: &str) -> Result<bool> {
        let deleted = sqlx::query("DELETE FROM profiles WHERE id = ?")
            .bind(id)
            .execute(&self.writer)
            .await?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn close(&self) {
        // Readers first; closing the last connection (the writer) checkpoints the WAL.
        self.reader.close().await;
        self.writer.close().await;
        tracing::debug!(path = %self.path.display(), "closed sqlite store");
    }
}

#[cfg(test)]
#[path = "sqlite_tests.rs"]
mod tests;
