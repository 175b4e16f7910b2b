//! The contract suite against [`SqliteStore`], each case on a new file in a temporary directory.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use agent_runtime_store::contract::{PreviousSchemaData, TestStore};
use agent_runtime_store::{SessionStore, SqliteStore};
use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

async fn fresh_store() -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let path: PathBuf = dir.path().join("store.db");
    let store = SqliteStore::open(&path).await.expect("open sqlite store");
    TestStore::new(Arc::new(store))
        .with_reopen(move || {
            let path = path.clone();
            async move {
                let store = SqliteStore::open(&path).await.expect("reopen sqlite store");
                Arc::new(store) as Arc<dyn SessionStore>
            }
        })
        .with_previous_schema(from_previous_schema)
        .with_guard(dir)
}

agent_runtime_store::store_contract_tests!(fresh_store);

/// A database file migrated up to the previous version, `data` written into it with that
/// schema's SQL, then opened (and so migrated) by [`SqliteStore::open`].
async fn from_previous_schema(data: PreviousSchemaData) -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    write_with_previous_schema(&path, &data).await;
    let store = SqliteStore::open(&path).await.expect("open and migrate");
    let check = pool(&path).await;
    let versions: Vec<i64> =
        sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
            .fetch_all(&check)
            .await
            .expect("migrations table");
    check.close().await;
    assert_eq!(versions, vec![1, 2, 3], "the newest migration was applied");
    TestStore::new(Arc::new(store)).with_guard(dir)
}

async fn pool(path: &Path) -> sqlx::SqlitePool {
    let options = SqliteConnectOptions::new()
        .filename(path)
        .create_if_missing(true)
        .foreign_keys(true);
    SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(options)
        .await
        .expect("sqlite pool")
}

async fn write_with_previous_schema(path: &Path, data: &PreviousSchemaData) {
    let pool = pool(path).await;
    let (migrator, _dir) = super::previous_migrations("sqlite").await;
    migrator.run(&pool).await.expect("previous migrations");
    for previous in &data.sessions {
        let info = &previous.record.info;
        sqlx::query(
            "INSERT INTO sessions (session_id, agent, profile, name, created_at, updated_at, \
             agent_session_id, last_seq) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        )
        .bind(&info.session_id)
        .bind(&info.agent)
        .bind(&info.profile)
        .bind(&info.name)
        .bind(&info.created_at)
        .bind(&info.updated_at)
        .bind(&previous.record.agent_session_id)
        .bind(previous.last_seq() as i64)
        .execute(&pool)
        .await
        .expect("session row");
        for envelope in &previous.events {
            sqlx::query("INSERT INTO events (session_id, seq, at, event) VALUES (?, ?, ?, ?)")
                .bind(&info.session_id)
                .bind(envelope.seq as i64)
                .bind(&envelope.at)
                .bind(serde_json::to_string(&envelope.event).expect("json"))
                .execute(&pool)
                .await
                .expect("event row");
        }
        for (meta, content) in &previous.transcripts {
            sqlx::query(
                "INSERT INTO transcripts (session_id, name, size, updated_at, content) \
                 VALUES (?, ?, ?, ?, ?)",
            )
            .bind(&info.session_id)
            .bind(&meta.name)
            .bind(meta.size as i64)
            .bind(&meta.updated_at)
            .bind(content)
            .execute(&pool)
            .await
            .expect("transcript row");
        }
        for (file, content) in &previous.files {
            sqlx::query(
                "INSERT INTO files (session_id, path, size, sha256, updated_at, content) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(&info.session_id)
            .bind(&file.path)
            .bind(file.size as i64)
            .bind(&file.sha256)
            .bind(&info.updated_at)
            .bind(content)
            .execute(&pool)
            .await
            .expect("file row");
        }
    }
    for profile in &data.profiles {
        sqlx::query("INSERT INTO profiles (id, profile, updated_at) VALUES (?, ?, ?)")
            .bind(&profile.id)
            .bind(serde_json::to_string(profile).expect("json"))
            .bind("2026-01-01T00:00:00.000Z")
            .execute(&pool)
            .await
            .expect("profile row");
    }
    pool.close().await;
}
