//! The [`SessionStore`] trait: everything agent-runtime persists, behind one object-safe trait.
//!
//! # Writing a backend
//!
//! Implement every method as documented below, then run the contract suite against it (see
//! [writing your own backend](crate#writing-your-own-backend)); a backend that passes it can
//! replace any other. Rules that hold for every method:
//!
//! - **Sessions own everything.** Events, transcripts and files belong to one session. Writing
//!   any of them for a session that does not exist fails with [`StoreError::NotFound`]; reading or
//!   deleting them for a missing session behaves as for an empty session (`None`, empty list, `0`,
//!   `false`). [`SessionStore::delete_session`] removes all of it.
//! - **Keys are opaque strings.** Session ids, transcript names, file paths and profile ids are
//!   compared bytewise (UTF-8 byte order; in SQL, a binary / `"C"` collation) and never
//!   normalized. Writes refuse an empty key or one containing NUL with [`StoreError::Invalid`]
//!   (use [`check_key`](crate::shared::check_key)). Other text values (names, event text) may
//!   hold any character, except that a backend may refuse NUL in a record's text fields with
//!   [`StoreError::Invalid`] (PostgreSQL cannot store it); event text always round-trips.
//! - **Blobs are bytes.** Transcripts and files are arbitrary binary content, up to at least
//!   50 MiB each.
//! - **Durable on return.** When a write returns `Ok`, it survives the process being killed
//!   (`kill -9`). Losing the last writes to an OS crash or power loss is acceptable.
//! - **Shared storage.** A backend whose storage several processes can open (SQLite file,
//!   PostgreSQL database) keeps every promise across them, above all gapless seqs.
//! - **After [`SessionStore::close`]** every call fails with [`StoreError::Closed`].
//! - **Errors** are [`StoreError`]; a backend maps its own failures to
//!   [`StoreError::Backend`] unless another variant says it better.
//!
//! [`StoreError::NotFound`]: crate::StoreError::NotFound
//! [`StoreError::Invalid`]: crate::StoreError::Invalid
//! [`StoreError::Closed`]: crate::StoreError::Closed
//! [`StoreError::Backend`]: crate::StoreError::Backend

use agent_runtime_protocol::{AgentProfile, Envelope, FileInfo, SessionEvent};
use async_trait::async_trait;

use crate::error::Result;
#[cfg(doc)]
use crate::error::StoreError;
use crate::record::{SessionPage, SessionRecord, TranscriptMeta};

/// Persistence for sessions, their event logs, native transcripts, workspace files, and agent
/// profiles. Held as `Arc<dyn SessionStore>`; every method may be called concurrently.
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// A short name of the backend for logs and health output: `"memory"`, `"sqlite"`, ...
    fn backend(&self) -> &'static str;

    /// What several runtime nodes sharing this store need (see [`crate::cluster`]); `None` for a
    /// store that only one process may use at a time, the default.
    fn cluster(&self) -> Option<std::sync::Arc<dyn crate::cluster::ClusterStore>> {
        None
    }

    // ---- sessions ---------------------------------------------------------------------------

    /// Stores a new session with an empty event log (`last_seq` 0).
    ///
    /// Fails with [`StoreError::Conflict`] if a session with this id exists, and with
    /// [`StoreError::Invalid`] if the id is empty or contains NUL.
    async fn create_session(&self, record: &SessionRecord) -> Result<()>;

    /// The session with this id, exactly as last created or updated; `None` if there is none.
    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>>;

    /// One page of sessions, newest first: ordered by `created_at` descending, then
    /// `session_id` descending (both bytewise). `cursor` is `None` for the first page, else the
    /// `next_cursor` of the previous page; `limit` (at least 1, else [`StoreError::Invalid`]) is
    /// the most sessions returned.
    ///
    /// `next_cursor` is `Some` exactly when, at the time of the call, more sessions follow the
    /// page. Cursors are opaque strings that only this backend needs to understand; a malformed
    /// one is [`StoreError::Invalid`]. Pages must be stable under concurrent writes: a session
    /// that existed when the first page was fetched and still exists is returned exactly once
    /// across the pages, whatever is inserted or deleted in between. Use keyset pagination on
    /// `(created_at, session_id)` (see [`SessionCursor`](crate::shared::SessionCursor)), never
    /// offsets.
    async fn list_sessions(&self, cursor: Option<&str>, limit: usize) -> Result<SessionPage>;

    /// Replaces the stored session that has `record`'s id with `record`.
    ///
    /// Only the mutable fields are written: `profile`, `name`, `updated_at`,
    /// `agent_session_id`. `agent` and `created_at` are fixed at creation and their
    /// values in `record` are ignored (list order must never change). Does not touch the event
    /// log. Fails with [`StoreError::NotFound`] if the session does not exist.
    async fn update_session(&self, record: &SessionRecord) -> Result<()>;

    /// Deletes the session and everything it owns: its events, transcripts and files. Returns
    /// whether the session existed. A session later created with the same id starts empty, its
    /// log at seq 1.
    async fn delete_session(&self, session_id: &str) -> Result<bool>;

    // ---- open sessions (the recovery index) --------------------------------------------------

    /// Marks the session open (`true`) or clears the mark (`false`).
    ///
    /// An open session may hold work that a crash of the runtime leaves unfinished: a running
    /// turn, a permission or question request waiting for an answer. The runtime marks a session
    /// before such work begins and clears the mark once the session is quiet again, so that at
    /// start it visits only the open sessions ([`SessionStore::list_open`]) instead of every
    /// session ever created.
    ///
    /// A new session is not open. Marking is idempotent and changes nothing else: not the
    /// record (`updated_at` included), not the list order, not the event log. Storage written
    /// by a schema from before the mark existed must come up with every session open (it may
    /// hold turns a crash left running). Fails with [`StoreError::NotFound`] if the session does
    /// not exist; deleting a session removes its mark.
    async fn set_open(&self, session_id: &str, open: bool) -> Result<()>;

    /// Up to `limit` ids of open sessions, ascending (bytewise), each greater than `after`
    /// (`None`: from the first). Page with the last id of the previous page; an id marked or
    /// unmarked meanwhile may or may not show, every other open session shows exactly once.
    /// `limit` must be at least 1, else [`StoreError::Invalid`].
    ///
    /// The cost must follow the number of open sessions, not of all sessions: the SQL backends
    /// keep a partial index over the open rows only.
    async fn list_open(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>>;

    // ---- event log --------------------------------------------------------------------------

    /// Appends `events` (each with its `at` timestamp, RFC 3339) to the session's log, in order,
    /// and returns their envelopes. **The store assigns `seq`**: the first event gets
    /// `last_seq + 1`, the next `last_seq + 2`, and so on, all in one atomic write — either the
    /// whole batch is appended or none of it.
    ///
    /// Seqs are gapless and unique per session even with many concurrent appenders (in this
    /// process or another): reserve the range and insert the rows in one transaction, and keep a
    /// unique constraint on `(session_id, seq)` as the backstop. The SQLite backend uses
    /// `BEGIN IMMEDIATE` and `UPDATE sessions SET last_seq = last_seq + n ... RETURNING`; a
    /// PostgreSQL backend can do the same `UPDATE ... RETURNING`, whose row lock serializes
    /// appenders of one session.
    ///
    /// An empty batch appends nothing and returns an empty list. Fails with
    /// [`StoreError::NotFound`] if the session does not exist. Does not change `updated_at`.
    async fn append_events(
        &self,
        session_id: &str,
        events: &[(String, SessionEvent)],
    ) -> Result<Vec<Envelope>>;

    /// Up to `limit` events with `seq > after_seq`, ascending by seq (so `after_seq = 0` reads
    /// from the start). Returns what was appended, field for field. `limit = 0` returns nothing.
    async fn read_events(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>>;

    /// The highest seq in the session's log; 0 when the log is empty or the session missing.
    async fn last_seq(&self, session_id: &str) -> Result<u64>;

    // ---- native transcripts -----------------------------------------------------------------

    /// Stores (or replaces) the agent's native transcript `name` (e.g. Claude's
    /// `<agent-session-id>.jsonl`) and stamps it with the current time.
    /// Fails with [`StoreError::NotFound`] for a missing session, [`StoreError::Invalid`] for
    /// an empty name.
    async fn put_transcript(
        &self,
        session_id: &str,
        name: &str,
        content: &[u8],
    ) -> Result<TranscriptMeta>;

    /// The transcript's content; `None` if there is no such transcript.
    async fn get_transcript(&self, session_id: &str, name: &str) -> Result<Option<Vec<u8>>>;

    /// The session's transcripts, sorted by name (bytewise), without content.
    async fn list_transcripts(&self, session_id: &str) -> Result<Vec<TranscriptMeta>>;

    /// Deletes one transcript; returns whether it existed.
    async fn delete_transcript(&self, session_id: &str, name: &str) -> Result<bool>;

    // ---- workspace files --------------------------------------------------------------------

    /// Stores (or replaces) the workspace file at `path` (relative to the workspace) and returns
    /// its size and lowercase hex SHA-256 (compute it with
    /// [`describe_file`](crate::shared::describe_file)). Fails with [`StoreError::NotFound`]
    /// for a missing session, [`StoreError::Invalid`] for an empty path.
    async fn put_file(&self, session_id: &str, path: &str, content: &[u8]) -> Result<FileInfo>;

    /// The file's content; `None` if there is no such file.
    async fn get_file(&self, session_id: &str, path: &str) -> Result<Option<Vec<u8>>>;

    /// The session's files, sorted by path (bytewise), without content.
    async fn list_files(&self, session_id: &str) -> Result<Vec<FileInfo>>;

    /// Deletes one file; returns whether it existed.
    async fn delete_file(&self, session_id: &str, path: &str) -> Result<bool>;

    // ---- agent profiles ---------------------------------------------------------------------

    /// Stores (or replaces) the profile with `profile.id`. Profiles are independent of sessions
    /// (a session names its profile by id). Fails with [`StoreError::Invalid`] for an empty id.
    async fn put_profile(&self, profile: &AgentProfile) -> Result<()>;

    /// The profile with this id, exactly as stored; `None` if there is none.
    async fn get_profile(&self, id: &str) -> Result<Option<AgentProfile>>;

    /// All profiles, sorted by id (bytewise).
    async fn list_profiles(&self) -> Result<Vec<AgentProfile>>;

    /// Deletes the profile; returns whether it existed. Sessions naming it are not touched.
    async fn delete_profile(&self, id: &str) -> Result<bool>;

    // ---- lifecycle --------------------------------------------------------------------------

    /// Shuts the store down gracefully: waits for calls in flight, flushes, releases files and
    /// connections. Later calls fail with [`StoreError::Closed`]. Closing twice is harmless.
    /// Everything written before is found again by a store opened on the same storage.
    async fn close(&self);
}
