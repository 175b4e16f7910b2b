//! Two `agent-runtime serve` processes on one PostgreSQL database, both appending to one session's
//! event log as fast as their clients can drive them: the log stays gapless, every write is in it
//! exactly once.

use std::path::Path;
use std::time::{Duration, Instant};

use agent_runtime_client::Client;
use agent_runtime_protocol::{CreateSessionRequest, SessionEvent};
use agent_runtime_store::contract::postgres::TestDatabase;
use agent_runtime_store::{PostgresStore, SessionStore};
use pretty_assertions::assert_eq;
use tokio::process::Child;

use super::support::*;

/// How long both clients write.
const WRITE_FOR: Duration = Duration::from_secs(10);

/// Starts `agent-runtime serve` on `store_url`.
async fn spawn_on_store(name: &'static str, data_dir: &Path, store_url: &str) -> (Child, String) {
    spawn_serve(name, |command| {
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--store", store_url]);
    })
    .await
}

/// Writes `<tag>/NNNNNN.txt` files into the session through `client` until `until`; returns the
/// paths written, each acknowledged by the server.
async fn write_until(client: Client, session_id: String, tag: &str, until: Instant) -> Vec<String> {
    let mut written = Vec::new();
    while Instant::now() < until {
        let path = format!("{tag}/{:06}.txt", written.len());
        let content = format!("{path} from {tag}\n");
        within(client.write_file(&session_id, &path, content))
            .await
            .unwrap_or_else(|e| panic!("{tag}: writing {path} failed: {e}"));
        written.push(path);
    }
    written
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_servers_appending_to_one_session_keep_its_log_gapless() {
    let db = TestDatabase::create().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (dir_a, dir_b) = (dir.path().join("a"), dir.path().join("b"));
    // Started together: they also race to migrate the fresh database.
    let ((mut a, url_a), (mut b, url_b)) = tokio::join!(
        spawn_on_store("a", &dir_a, db.url()),
        spawn_on_store("b", &dir_b, db.url()),
    );
    let (client_a, client_b) = (Client::new(&url_a), Client::new(&url_b));
    let session_id = within(client_a.create_session(&CreateSessionRequest::default()))
        .await
        .expect("create the session through a")
        .session_id;

    let until = Instant::now() + WRITE_FOR;
    let writers = [
        tokio::spawn(write_until(client_a, session_id.clone(), "a", until)),
        tokio::spawn(write_until(client_b, session_id.clone(), "b", until)),
    ];
    let mut written = Vec::new();
    for writer in writers {
        let paths = writer.await.expect("writer task");
        assert!(!paths.is_empty(), "a client wrote nothing");
        written.extend(paths);
    }
    for child in [&mut a, &mut b] {
        child.start_kill().expect("kill");
        tokio::time::timeout(WAIT, child.wait())
            .await
            .expect("the server exits")
            .expect("wait");
    }

    // The whole log, straight from the database.
    let store = PostgresStore::connect(db.url()).await.expect("connect");
    let log = store
        .read_events(&session_id, 0, usize::MAX)
        .await
        .expect("read the log");
    let last = store.last_seq(&session_id).await.expect("last_seq");
    store.close().await;
    let seqs: Vec<u64> = log.iter().map(|e| e.seq).collect();
    assert!(
        seqs == (1..=last).collect::<Vec<_>>(),
        "seqs are not exactly 1..={last}: {} events, first {:?}, last {:?}",
        seqs.len(),
        seqs.first(),
        seqs.last()
    );

    // Every acknowledged write is in the log exactly once, and the two servers' appends
    // interleave (they really ran concurrently).
    let files: Vec<&str> = log
        .iter()
        .filter_map(|e| match &e.event {
            SessionEvent::FileCreated(f) | SessionEvent::FileModified(f) => Some(f.path.as_str()),
            _ => None,
        })
        .collect();
    let mut logged = files.clone();
    logged.sort_unstable();
    written.sort_unstable();
    assert_eq!(
        logged.len(),
        written.len(),
        "file events vs acknowledged writes"
    );
    assert!(logged == written, "the logged files differ from the writes");
    let switches = files
        .windows(2)
        .filter(|w| w[0].as_bytes()[0] != w[1].as_bytes()[0])
        .count();
    assert!(
        switches >= 10,
        "the servers' appends hardly interleave ({switches} switches in {} events)",
        files.len()
    );
    eprintln!(
        "{} events, {} writes, {switches} switches between the servers",
        log.len(),
        written.len()
    );
}
