//! Two turns over stdin (`--input-format stream-json`) in one CLI process.

use std::time::{Duration, Instant};

use agent_runtime_testkit::{Matcher, Response, Rule, Scenario, ScriptedModelServer};
use pretty_assertions::assert_eq;
use serde_json::Value;

use super::cli::{delta_types, ClaudeCli};

#[tokio::test]
async fn two_user_lines_make_two_turns_in_one_process() {
    let scenario = Scenario::new(vec![
        Rule::new(
            Matcher::last_user_text_contains("first"),
            Response::text("Reply to the first turn."),
        ),
        Rule::new(
            Matcher::last_user_text_contains("second"),
            Response::text("Reply to the second turn."),
        ),
    ]);
    let server = ScriptedModelServer::start(scenario).await.unwrap();
    let cli = ClaudeCli::new();
    let mut session = cli.start_stdin_session(&server);

    session.send_user("This is the first message").await;
    let turn_one = session.read_turn().await;
    session.send_user("And the second message").await;
    let turn_two = session.read_turn().await;
    let (status, stderr) = session.finish().await;

    for (turn, expected) in [
        (&turn_one, "Reply to the first turn."),
        (&turn_two, "Reply to the second turn."),
    ] {
        assert_eq!(turn[0]["subtype"], "init", "each turn starts with init");
        let result = turn.last().unwrap();
        assert_eq!(result["is_error"], false, "{turn:#?}");
        assert_eq!(result["result"], expected);
        assert!(delta_types(turn).contains(&"text_delta"));
    }
    assert!(status.success(), "exit {status:?}; stderr: {stderr}");

    // The second request carries the whole conversation.
    let sent = server.message_requests();
    assert_eq!(sent.len(), 2);
    assert_eq!(sent[1].last_user_text(), "And the second message");
    let assistant_texts: Vec<&Value> = sent[1]
        .messages()
        .iter()
        .filter(|m| m["role"] == "assistant")
        .collect();
    assert_eq!(assistant_texts.len(), 1);
    assert!(assistant_texts[0]
        .to_string()
        .contains("Reply to the first turn."));
}

#[tokio::test]
async fn interrupt_stops_a_trickling_stream_and_the_next_turn_works() {
    let scenario = Scenario::new(vec![
        Rule::new(
            Matcher::last_user_text_contains("slow"),
            // About ten seconds of stream if nobody interrupts it.
            Response::text("A very slow answer that nobody will wait for to finish.")
                .with_chunks(50)
                .with_chunk_delay_ms(200),
        ),
        Rule::always(Response::text("Fast answer.")),
    ]);
    let server = ScriptedModelServer::start(scenario).await.unwrap();
    let cli = ClaudeCli::new();
    let mut session = cli.start_stdin_session(&server);

    session.send_user("answer slowly please").await;
    session
        .read_until(|line| line["event"]["delta"]["type"] == "text_delta")
        .await;
    assert_eq!(server.active_streams(), 1);
    session.send_interrupt().await;
    let interrupted = session.read_turn().await;
    let result = interrupted.last().unwrap();
    assert_eq!(result["is_error"], true, "{interrupted:#?}");
    assert_eq!(result["subtype"], "error_during_execution");

    // The CLI aborts its request; the server notices and stops streaming.
    let aborted = Instant::now();
    while server.active_streams() > 0 {
        assert!(
            aborted.elapsed() < Duration::from_secs(3),
            "stream kept running after the interrupt"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    session.send_user("now be quick").await;
    let next = session.read_turn().await;
    assert_eq!(next.last().unwrap()["result"], "Fast answer.", "{next:#?}");
    let (status, stderr) = session.finish().await;
    assert!(status.success(), "exit {status:?}; stderr: {stderr}");
}
