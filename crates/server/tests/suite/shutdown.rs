//! Graceful shutdown ends WebSocket and SSE streams and returns promptly.

use std::time::Duration;

use super::support::{within, TestServer};

#[tokio::test]
async fn shutdown_closes_streams() {
    let server = TestServer::start().await;
    let session = server.create_session().await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session, 0)).await.expect("subscribe");
    let mut sse = within(server.client().events(&session, 0))
        .await
        .expect("sse");
    while tokio::time::timeout(Duration::from_millis(200), sse.next_event())
        .await
        .is_ok_and(|e| e.is_some())
    {}

    tokio::time::timeout(Duration::from_secs(8), server.shutdown())
        .await
        .expect("shutdown is prompt");

    // Drain the replay; then the connection ends.
    loop {
        match ws.next_frame_within(Duration::from_secs(5)).await {
            Ok(Some(_)) => continue,
            Ok(None) => break,
            Err(e) => panic!("the websocket stayed open: {e}"),
        }
    }
    let end = tokio::time::timeout(Duration::from_secs(5), sse.next_event())
        .await
        .expect("the SSE stream ends");
    assert!(end.is_none() || end.is_some_and(|e| e.is_err()));
}

#[tokio::test]
async fn sessions_survive_a_restart_with_sqlite() {
    let server = TestServer::start_with(|config| {
        config.store_url = format!("sqlite://{}/db.sqlite", config.data_dir.display());
    })
    .await;
    let session = server.create_session().await;
    server.write_files(&session, 2).await;
    let before = within(server.client().get_session(&session))
        .await
        .expect("snapshot");
    let server = server.restart().await;
    let after = within(server.client().get_session(&session))
        .await
        .expect("snapshot");
    assert_eq!(before, after);
    let content = within(server.client().read_file(&session, "f1.txt"))
        .await
        .expect("read");
    assert_eq!(&content[..], b"content 1\n");
    server.shutdown().await;
}
