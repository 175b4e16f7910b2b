//! The WebSocket: subscribe answers first then replays each event once, commands get results by
//! id, bad frames get `invalid_frame` and the connection stays up.

use agent_runtime_protocol::{ClientFrame, ServerFrame, SubscribeResult};
use pretty_assertions::assert_eq;

use super::support::{assert_quiet, code_of, next_event, next_frame, within, TestServer};

#[tokio::test]
async fn subscribe_since_k_yields_k_plus_one_onwards_exactly_once() {
    let server = TestServer::start().await;
    let client = server.client();
    let session = server.create_session().await;
    server.write_files(&session, 5).await;
    let latest = within(client.get_session(&session))
        .await
        .expect("snapshot")
        .state
        .seq;
    let since = latest - 3;

    let mut ws = server.ws().await;
    // Sent without waiting, so the result arrives in order with the events.
    ws.send(&ClientFrame::Subscribe {
        id: "sub-1".into(),
        session_id: session.clone(),
        since: Some(since),
    })
    .await
    .expect("send");
    match next_frame(&mut ws).await {
        ServerFrame::Result { id, ok, data, .. } => {
            assert_eq!((id.as_str(), ok), ("sub-1", true));
            let result: SubscribeResult =
                serde_json::from_value(data.expect("data")).expect("SubscribeResult");
            assert_eq!(
                result,
                SubscribeResult {
                    session_id: session.clone(),
                    latest_seq: latest,
                }
            );
        }
        other => panic!("the result must come first, got {other:?}"),
    }
    let mut seqs = Vec::new();
    for _ in 0..3 {
        seqs.push(next_event(&mut ws).await.seq);
    }
    assert_eq!(seqs, vec![since + 1, since + 2, since + 3]);
    assert_quiet(&mut ws).await;

    within(client.write_file(&session, "live.txt", "x"))
        .await
        .expect("write");
    let live = next_event(&mut ws).await;
    assert_eq!(live.seq, latest + 1);
    assert_eq!(live.session_id, session);
    assert_quiet(&mut ws).await;
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn bad_frames_get_invalid_frame_and_the_connection_stays_up() {
    let server = TestServer::start().await;
    let mut ws = server.ws().await;
    for (id, text) in [
        ("u1", r#"{"type":"launch_missiles","id":"u1"}"#),
        ("m1", r#"{"type":"subscribe","id":"m1"}"#),
        ("", r#"{"type":"ping","id":"#),
        ("", "not json at all"),
        ("", r#"[1,2,3]"#),
    ] {
        ws.send_text(text).await.expect("send");
        match next_frame(&mut ws).await {
            ServerFrame::Result {
                id: got, ok, error, ..
            } => {
                assert_eq!((got.as_str(), ok), (id, false), "{text}");
                let problem = error.expect("problem");
                assert_eq!(problem.code, "invalid_frame");
                assert_eq!(problem.type_, "urn:agent-runtime:error:invalid_frame");
            }
            other => panic!("{text}: expected a result, got {other:?}"),
        }
        within(ws.ping()).await.expect("still up");
    }
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn commands_on_unknown_sessions_fail_with_their_code() {
    let server = TestServer::start().await;
    let mut ws = server.ws().await;
    assert_eq!(
        code_of(within(ws.subscribe("nope", 0)).await),
        (404, "session_not_found".into())
    );
    assert_eq!(
        code_of(within(ws.send_message("nope", "hi", None)).await),
        (404, "session_not_found".into())
    );
    assert_eq!(
        code_of(within(ws.interrupt("nope")).await),
        (404, "session_not_found".into())
    );
    within(ws.ping()).await.expect("still up");
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn many_subscriptions_per_connection_and_unsubscribe() {
    let server = TestServer::start().await;
    let client = server.client();
    let a = server.create_session().await;
    let b = server.create_session().await;
    let mut ws = server.ws().await;
    let latest_a = within(ws.subscribe(&a, 0))
        .await
        .expect("subscribe a")
        .latest_seq;
    let latest_b = within(ws.subscribe(&b, 0))
        .await
        .expect("subscribe b")
        .latest_seq;
    let mut replayed = Vec::new();
    for _ in 0..(latest_a + latest_b) {
        let envelope = next_event(&mut ws).await;
        replayed.push((envelope.session_id, envelope.seq));
    }
    replayed.sort();
    let mut expected: Vec<(String, u64)> = (1..=latest_a).map(|s| (a.clone(), s)).collect();
    expected.extend((1..=latest_b).map(|s| (b.clone(), s)));
    expected.sort();
    assert_eq!(replayed, expected);

    within(client.write_file(&a, "a.txt", "a"))
        .await
        .expect("write a");
    within(client.write_file(&b, "b.txt", "b"))
        .await
        .expect("write b");
    let mut live: Vec<String> = Vec::new();
    for _ in 0..2 {
        live.push(next_event(&mut ws).await.session_id);
    }
    live.sort();
    let mut both = vec![a.clone(), b.clone()];
    both.sort();
    assert_eq!(live, both);

    within(ws.unsubscribe(&a)).await.expect("unsubscribe");
    within(client.write_file(&a, "a2.txt", "a"))
        .await
        .expect("write a");
    within(client.write_file(&b, "b2.txt", "b"))
        .await
        .expect("write b");
    let envelope = next_event(&mut ws).await;
    assert_eq!(envelope.session_id, b);
    assert_quiet(&mut ws).await;

    // Subscribing again to a session replaces the subscription: no duplicates.
    within(ws.subscribe(&b, envelope.seq))
        .await
        .expect("resubscribe");
    within(ws.subscribe(&b, envelope.seq))
        .await
        .expect("resubscribe again");
    within(client.write_file(&b, "b3.txt", "b"))
        .await
        .expect("write b");
    assert_eq!(next_event(&mut ws).await.seq, envelope.seq + 1);
    assert_quiet(&mut ws).await;
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn interrupt_over_websocket_without_a_turn() {
    let server = TestServer::start().await;
    let session = server.create_session().await;
    let mut ws = server.ws().await;
    let response = within(ws.interrupt(&session)).await.expect("interrupt");
    assert_eq!(response.turn_id, None);
    ws.close().await;
    server.shutdown().await;
}

#[tokio::test]
async fn a_cursor_ahead_of_the_log_gets_resync_required_after_the_result() {
    let server = TestServer::start().await;
    let session = server.create_session().await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session, 1000))
        .await
        .expect("subscribe");
    match next_frame(&mut ws).await {
        ServerFrame::ResyncRequired { session_id, .. } => assert_eq!(session_id, session),
        other => panic!("expected resync_required, got {other:?}"),
    }
    assert_quiet(&mut ws).await;
    within(ws.ping()).await.expect("still up");
    ws.close().await;
    server.shutdown().await;
}
