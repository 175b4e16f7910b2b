//! SSE: `id: <seq>`, `event: <type>`, resume with `Last-Event-ID` or `?since=`.

use agent_runtime_client::SseStream;
use agent_runtime_protocol::SessionEvent;
use pretty_assertions::assert_eq;
use reqwest::Method;

use super::support::{within, TestServer, QUIET};

async fn next(stream: &mut SseStream) -> agent_runtime_client::SseEvent {
    within(stream.next_event())
        .await
        .expect("stream open")
        .expect("event")
}

#[tokio::test]
async fn last_event_id_resumes_after_that_event_then_goes_live() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;
    let base = within(client.get_session(&session))
        .await
        .expect("snapshot")
        .state
        .seq;
    server.write_files(&session, 3).await;

    // Resume after the first file event: the second and third follow, then live ones.
    let mut stream = within(client.events(&session, base + 1))
        .await
        .expect("connect");
    for (i, expected_seq) in [(1, base + 2), (2, base + 3)] {
        let event = next(&mut stream).await;
        assert_eq!(event.id, Some(expected_seq.to_string()));
        assert_eq!(event.event.as_deref(), Some("file_created"));
        let envelope = event.envelope().expect("envelope");
        assert_eq!(envelope.seq, expected_seq);
        assert_eq!(envelope.session_id, session);
        match envelope.event {
            SessionEvent::FileCreated(info) => assert_eq!(info.path, format!("f{i}.txt")),
            other => panic!("unexpected {other:?}"),
        }
    }
    within(client.write_file(&session, "live.txt", "live"))
        .await
        .expect("write");
    let live = next(&mut stream).await;
    assert_eq!(live.id, Some((base + 4).to_string()));
    assert!(
        tokio::time::timeout(QUIET, stream.next_event())
            .await
            .is_err(),
        "nothing more"
    );
    server.shutdown().await;
}

#[tokio::test]
async fn since_query_and_response_headers() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;
    server.write_files(&session, 2).await;
    let latest = within(client.get_session(&session))
        .await
        .expect("snapshot")
        .state
        .seq;

    let path = format!("/api/sessions/{session}/events?since={}", latest - 1);
    let response = within(client.request(Method::GET, &path).send())
        .await
        .expect("send");
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers().get("content-type").map(|v| v.as_bytes()),
        Some(&b"text/event-stream"[..])
    );
    let mut stream = SseStream::new(response);
    assert_eq!(next(&mut stream).await.id, Some(latest.to_string()));

    // Last-Event-ID wins over `since` (a reconnecting EventSource repeats its URL).
    let response = within(
        client
            .request(
                Method::GET,
                &format!("/api/sessions/{session}/events?since=0"),
            )
            .header("last-event-id", latest.to_string())
            .send(),
    )
    .await
    .expect("send");
    let mut stream = SseStream::new(response);
    assert!(tokio::time::timeout(QUIET, stream.next_event())
        .await
        .is_err());

    let response = within(
        client
            .request(Method::GET, &format!("/api/sessions/{session}/events"))
            .header("last-event-id", "seven")
            .send(),
    )
    .await
    .expect("send");
    super::support::assert_problem(response, 400, "invalid_request").await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_cursor_ahead_of_the_log_gets_resync_required() {
    let server = TestServer::start().await;
    let session = server.create_session().await;
    let mut stream = within(server.client().events(&session, 1000))
        .await
        .expect("connect");
    let event = next(&mut stream).await;
    assert_eq!(event.event.as_deref(), Some("resync_required"));
    let data: serde_json::Value = serde_json::from_str(&event.data).expect("json");
    assert_eq!(data["type"], "resync_required");
    assert_eq!(data["sessionId"], session.as_str());
    assert!(
        within(stream.next_event()).await.is_none(),
        "the stream ends"
    );
    server.shutdown().await;
}
