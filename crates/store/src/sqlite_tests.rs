use agent_runtime_protocol::{SessionEvent, SessionInfo};
use pretty_assertions::assert_eq;

use super::*;

fn record(id: &str) -> SessionRecord {
    SessionRecord::new(SessionInfo {
        session_id: id.into(),
        agent: "claude-code".into(),
        profile: None,
        name: None,
        created_at: "2026-01-01T00:00:00.000000Z".into(),
        updated_at: "2026-01-01T00:00:00.000000Z".into(),
        status: Default::default(),
    })
}

fn warning(text: String) -> (String, SessionEvent) {
    (
        "2026-01-01T00:00:00.000000Z".into(),
        SessionEvent::Warning {
            message: text,
            raw: None,
        },
    )
}

#[tokio::test]
async fn open_sets_wal_normal_sync_and_foreign_keys() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("deep/er/store.db"))
        .await
        .expect("open");
    for pool in [&store.writer, &store.reader] {
        let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(pool)
            .await
            .expect("journal_mode");
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(pool)
            .await
            .expect("synchronous");
        let foreign_keys: i64 = sqlx::query_scalar("PRAGMA foreign_keys")
            .fetch_one(pool)
            .await
            .expect("foreign_keys");
        // synchronous: 1 = NORMAL.
        assert_eq!((journal.as_str(), synchronous, foreign_keys), ("wal", 1, 1));
    }
    store.close().await;
}

#[tokio::test]
async fn migrations_apply_once_and_reopen_is_a_no_op() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    for _ in 0..2 {
        let store = SqliteStore::open(&path).await.expect("open");
        let versions: Vec<i64> =
            sqlx::query_scalar("SELECT version FROM _sqlx_migrations ORDER BY version")
                .fetch_all(&store.reader)
                .await
                .expect("migrations table");
        let expected: Vec<i64> = MIGRATOR.iter().map(|m| m.version).collect();
        assert_eq!(versions, expected);
        assert_eq!(versions.first(), Some(&1));
        store.close().await;
    }
}

#[tokio::test]
async fn commits_are_in_the_file_before_close() {
    // What survives `kill -9`: a second store on the same file sees every acknowledged write
    // although the first one was never closed.
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("store.db");
    let first = SqliteStore::open(&path).await.expect("open");
    first.create_session(&record("s1")).await.expect("create");
    first
        .append_events("s1", &[warning("kept".into())])
        .await
        .expect("append");
    first.put_file("s1", "a.txt", b"a").await.expect("put");

    let second = SqliteStore::open(&path).await.expect("open again");
    assert_eq!(second.last_seq("s1").await, Ok(1));
    assert_eq!(
        second.get_file("s1", "a.txt").await,
        Ok(Some(b"a".to_vec()))
    );
    second.close().await;
    first.close().await;
}

#[tokio::test]
async fn listings_read_only_the_covering_indexes() {
    // Migration 0002: list_files and list_transcripts never touch the rows holding the blobs.
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("store.db"))
        .await
        .expect("open");
    for (query, index) in [
        (
            "SELECT path, size, sha256 FROM files WHERE session_id = ? ORDER BY path",
            "files_listing",
        ),
        (
            "SELECT name, size, updated_at FROM transcripts WHERE session_id = ? ORDER BY name",
            "transcripts_listing",
        ),
    ] {
        let plan: Vec<(i64, i64, i64, String)> =
            sqlx::query_as(&format!("EXPLAIN QUERY PLAN {query}"))
                .bind("s1")
                .fetch_all(&store.reader)
                .await
                .expect("plan");
        let details: Vec<&str> = plan.iter().map(|row| row.3.as_str()).collect();
        assert!(
            details
                .iter()
                .any(|d| d.contains(&format!("USING COVERING INDEX {index}"))),
            "{query}: {details:?}"
        );
        assert!(
            !details.iter().any(|d| d.contains("TEMP B-TREE")),
            "{details:?}"
        );
    }
    store.close().await;
}

#[test]
fn url_paths() {
    assert_eq!(path_of_url("sqlite:///abs/x.db"), Ok("/abs/x.db"));
    assert_eq!(path_of_url("sqlite://rel/x.db"), Ok("rel/x.db"));
    assert_eq!(path_of_url("sqlite:x.db"), Ok("x.db"));
    for bad in [
        "sqlite:",
        "sqlite://",
        "sqlite::memory:",
        "sqlite://x?mode=ro",
        "x.db",
    ] {
        assert!(
            matches!(path_of_url(bad), Err(StoreError::Invalid(_))),
            "{bad}"
        );
    }
}

#[tokio::test]
async fn list_open_reads_the_partial_index_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = SqliteStore::open(dir.path().join("store.db"))
        .await
        .expect("open");
    // The query list_open runs, as SQLite plans it.
    let plan: Vec<(i64, i64, i64, String)> = sqlx::query_as(
        "EXPLAIN QUERY PLAN SELECT session_id FROM sessions WHERE open = 1 AND session_id > ? \
         ORDER BY session_id LIMIT ?",
    )
    .bind("")
    .bind(10i64)
    .fetch_all(&store.reader)
    .await
    .expect("plan");
    let details: Vec<&str> = plan.iter().map(|(_, _, _, d)| d.as_str()).collect();
    assert_eq!(
        details,
        vec!["SEARCH sessions USING COVERING INDEX sessions_open (session_id>?)"]
    );
    store.close().await;
}
