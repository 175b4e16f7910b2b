//! The one error type every [`SessionStore`](crate::SessionStore) method returns.

/// Shorthand for results of store operations.
pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// What can go wrong in a store. Backends map their native errors onto these variants so callers
/// (the HTTP error table) can treat every backend alike.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    /// A write named something that does not exist; for every method today that is the session
    /// (`entity` = `"session"`). Reads of missing things return `None` or empty lists instead.
    #[error("{entity} not found: {id}")]
    NotFound { entity: &'static str, id: String },
    /// The write clashes with what is stored, e.g. creating a session whose id exists.
    #[error("conflict: {0}")]
    Conflict(String),
    /// The caller passed something the store refuses: an empty id, a malformed cursor, a zero
    /// page size, an unsupported store URL.
    #[error("invalid: {0}")]
    Invalid(String),
    /// A fenced write (see [`crate::cluster`]) came from a node that no longer owns the session,
    /// or that is no longer live: nothing was written.
    #[error("fenced: {0}")]
    Fenced(String),
    /// The store was closed with [`SessionStore::close`](crate::SessionStore::close).
    #[error("store is closed")]
    Closed,
    /// The backend failed (I/O, database, corrupt row). The message is for logs, not for clients.
    #[error("store backend error: {0}")]
    Backend(String),
}

impl StoreError {
    /// The session `id` does not exist.
    pub fn session_not_found(id: &str) -> Self {
        StoreError::NotFound {
            entity: "session",
            id: id.to_string(),
        }
    }
}

/// The generic mapping for sqlx-based backends; call sites that can tell a constraint violation
/// apart (`Conflict`, `NotFound`) map those first.
impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        match e {
            sqlx::Error::PoolClosed => StoreError::Closed,
            other => StoreError::Backend(other.to_string()),
        }
    }
}
