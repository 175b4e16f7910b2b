//! [`open_store`]: a store from a URL, as the server's config names it.

use std::sync::Arc;

use crate::error::{Result, StoreError};
use crate::memory::MemoryStore;
use crate::postgres::PostgresStore;
use crate::sqlite::SqliteStore;
use crate::store::SessionStore;

/// Opens the store a URL names:
///
/// - `memory`: a fresh [`MemoryStore`] (nothing survives the process);
/// - `sqlite://PATH` or `sqlite:PATH`: a [`SqliteStore`] (created and migrated if needed);
/// - `postgres://...` / `postgresql://...`: a [`PostgresStore`] on an existing database
///   (migrated if needed), e.g. `postgres://user:password@host:5432/agent_runtime`.
///
/// Anything else is [`StoreError::Invalid`].
pub async fn open_store(url: &str) -> Result<Arc<dyn SessionStore>> {
    if url == "memory" || url == "memory:" {
        return Ok(Arc::new(MemoryStore::new()));
    }
    if url.starts_with("sqlite:") {
        return Ok(Arc::new(SqliteStore::open_url(url).await?));
    }
    if url.starts_with("postgres://") || url.starts_with("postgresql://") {
        return Ok(Arc::new(PostgresStore::connect(url).await?));
    }
    Err(StoreError::Invalid(format!(
        "unknown store URL {url:?}: expected \"memory\", \"sqlite://PATH\" or \"postgres://...\""
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn opens_each_backend_by_url() {
        let dir = tempfile::tempdir().expect("tempdir");
        assert_eq!(
            open_store("memory").await.expect("memory").backend(),
            "memory"
        );
        for url in [
            format!("sqlite://{}", dir.path().join("a.db").display()),
            format!("sqlite:{}", dir.path().join("nested/b.db").display()),
        ] {
            let store = open_store(&url).await.expect("sqlite");
            assert_eq!(store.backend(), "sqlite");
            store.close().await;
        }
    }

    #[tokio::test]
    async fn refuses_unknown_backends_and_bad_urls() {
        for url in [
            "postgres://localhost:notaport/db",
            "mysql://x",
            "",
            "sqlite:",
            "sqlite::memory:",
            "sqlite://x.db?mode=ro",
        ] {
            let err = open_store(url).await.err();
            assert!(
                matches!(err, Some(StoreError::Invalid(_))),
                "{url:?}: {err:?}"
            );
        }
    }
}
