//! The contract suite against [`PostgresStore`], each case in a scratch database of its own on
//! the server named by `AGENT_RUNTIME_TEST_POSTGRES` (see `contract::postgres`), plus what only
//! PostgreSQL does.

use std::sync::Arc;

use agent_runtime_protocol::SessionInfo;
use agent_runtime_store::contract::postgres::TestDatabase;
use agent_runtime_store::contract::{PreviousSchemaData, TestStore};
use agent_runtime_store::{open_store, PostgresStore, SessionRecord, SessionStore, StoreError};
use pretty_assertions::assert_eq;
use sqlx::PgPool;

async fn connect(url: &str) -> PostgresStore {
    PostgresStore::connect(url)
        .await
        .expect("connect to the scratch database")
}

async fn fresh_store() -> TestStore {
    let db = TestDatabase::create().await;
    let url = db.url().to_string();
    let store = connect(&url).await;
    TestStore::new(Arc::new(store))
        .with_reopen(move || {
            let url = url.clone();
            async move { Arc::new(connect(&url).await) as Arc<dyn SessionStore> }
        })
        .with_previous_schema(from_previous_schema)
        .with_guard(db)
}

agent_runtime_store::store_contract_tests!(fresh_store);

/// What several nodes sharing the database rely on.
mod cluster {
    agent_runtime_store::cluster_contract_tests!(super::fresh_store);
}

/// A scratch database migrated up to the previous version, `data` written into it with that
/// schema's SQL, then opened (and so migrated) by [`PostgresStore::connect`].
async fn from_previous_schema(data: PreviousSchemaData) -> TestStore {
    let db = TestDatabase::create().await;
    let pool = PgPool::connect(db.url()).await.expect("pool");
    let (migrator, _dir) = super::previous_migrations("postgres").await;
    migrator.run(&pool).await.expect("previous migrations");
    write_with_previous_schema(&pool, &data).await;
    pool.close().await;

    let store = connect(db.url()).await;
    assert_eq!(
        migrated_versions(store.pool()).await,
        vec![1, 2, 3, 4],
        "the newest migration was applied"
    );
    TestStore::new(Arc::new(store)).with_guard(db)
}

async fn write_with_previous_schema(pool: &PgPool, data: &PreviousSchemaData) {
    for previous in &data.sessions {
        let info = &previous.record.info;
        sqlx::query(
            "INSERT INTO sessions (session_id, agent, profile, name, created_at, updated_at, \
             agent_session_id, last_seq) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&info.session_id)
        .bind(&info.agent)
        .bind(&info.profile)
        .bind(&info.name)
        .bind(&info.created_at)
        .bind(&info.updated_at)
        .bind(&previous.record.agent_session_id)
        .bind(previous.last_seq() as i64)
        .execute(pool)
        .await
        .expect("session row");
        for envelope in &previous.events {
            sqlx::query("INSERT INTO events (session_id, seq, at, event) VALUES ($1, $2, $3, $4)")
                .bind(&info.session_id)
                .bind(envelope.seq as i64)
                .bind(&envelope.at)
                .bind(serde_json::to_string(&envelope.event).expect("json"))
                .execute(pool)
                .await
                .expect("event row");
        }
        for (meta, content) in &previous.transcripts {
            sqlx::query(
                "INSERT INTO transcripts (session_id, name, size, updated_at, content) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(&info.session_id)
            .bind(&meta.name)
            .bind(meta.size as i64)
            .bind(&meta.updated_at)
            .bind(content)
            .execute(pool)
            .await
            .expect("transcript row");
        }
        for (file, content) in &previous.files {
            sqlx::query(
                "INSERT INTO files (session_id, path, size, sha256, updated_at, content) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&info.session_id)
            .bind(&file.path)
            .bind(file.size as i64)
            .bind(&file.sha256)
            .bind(&info.updated_at)
            .bind(content)
            .execute(pool)
            .await
            .expect("file row");
        }
    }
    for profile in &data.profiles {
        sqlx::query("INSERT INTO profiles (id, profile, updated_at) VALUES ($1, $2, $3)")
            .bind(&profile.id)
            .bind(serde_json::to_string(profile).expect("json"))
            .bind("2026-01-01T00:00:00.000Z")
            .execute(pool)
            .await
            .expect("profile row");
    }
}

async fn migrated_versions(pool: &PgPool) -> Vec<i64> {
    sqlx::query_scalar("SELECT version FROM _sqlx_migrations WHERE success ORDER BY version")
        .fetch_all(pool)
        .await
        .expect("migrations table")
}

#[tokio::test]
async fn migrations_apply_once_from_empty_and_reopen_is_a_no_op() {
    let db = TestDatabase::create().await;
    for _ in 0..2 {
        let store = connect(db.url()).await;
        assert_eq!(migrated_versions(store.pool()).await, vec![1, 2, 3, 4]);
        store.close().await;
    }
}

#[tokio::test]
async fn two_processes_starting_together_migrate_once() {
    let db = TestDatabase::create().await;
    let (a, b) = tokio::join!(connect(db.url()), connect(db.url()));
    assert_eq!(migrated_versions(a.pool()).await, vec![1, 2, 3, 4]);
    a.close().await;
    b.close().await;
}

#[tokio::test]
async fn open_store_opens_postgres_urls() {
    let db = TestDatabase::create().await;
    let postgresql = db.url().replacen("postgres://", "postgresql://", 1);
    for url in [db.url(), postgresql.as_str()] {
        let store = open_store(url).await.expect("open_store");
        assert_eq!(store.backend(), "postgres");
        store.close().await;
    }
}

#[tokio::test]
async fn an_unreachable_server_or_database_is_a_backend_error() {
    // Port 1 refuses connections at once.
    let err = PostgresStore::connect("postgres://postgres@127.0.0.1:1/nowhere")
        .await
        .err();
    match err {
        Some(StoreError::Backend(message)) => {
            assert!(message.contains("127.0.0.1:1/nowhere"), "{message}")
        }
        other => panic!("{other:?}"),
    }
    let db = TestDatabase::create().await;
    let missing = db
        .url()
        .replace(db.name(), "agent_runtime_no_such_database");
    assert!(matches!(
        PostgresStore::connect(&missing).await.err(),
        Some(StoreError::Backend(_))
    ));
}

#[tokio::test]
async fn nul_in_a_text_field_is_invalid_not_a_backend_error() {
    let db = TestDatabase::create().await;
    let store = connect(db.url()).await;
    let record = SessionRecord::new(SessionInfo {
        session_id: "s1".into(),
        agent: "claude-code".into(),
        profile: None,
        name: Some("nul \0 name".into()),
        created_at: "2026-01-01T00:00:00.000Z".into(),
        updated_at: "2026-01-01T00:00:00.000Z".into(),
        status: Default::default(),
    });
    assert!(matches!(
        store.create_session(&record).await,
        Err(StoreError::Invalid(_))
    ));
    store.close().await;
}
