//! Turn lifecycle: a full turn, busy handling, interrupts, idle stop and restore.

use std::time::Duration;

use agent_runtime_core::RuntimeError;
use agent_runtime_protocol::{
    Block, CreateSessionRequest, IfBusy, SandboxState, SendMessageRequest, SessionEvent,
    ToolStatus, TurnEndReason,
};
use agent_runtime_testkit::{demo_scenario, Block as Reply, Matcher, Response, Rule, Scenario};
use serde_json::json;

use super::support::*;

pub fn message(text: &str) -> SendMessageRequest {
    SendMessageRequest {
        text: text.into(),
        if_busy: None,
        client_message_id: None,
    }
}

fn turn_end(events: &[agent_runtime_protocol::Envelope]) -> (TurnEndReason, Option<String>) {
    match events.last().map(|e| &e.event) {
        Some(SessionEvent::TurnCompleted { reason, error, .. }) => {
            (*reason, error.as_ref().and_then(|e| e.code.clone()))
        }
        other => panic!("not a turn end: {other:?}"),
    }
}

/// A scenario whose answer to "slow" trickles for many seconds.
fn slow_scenario() -> Scenario {
    Scenario::new(vec![Rule::new(
        Matcher::last_user_text_contains("slow"),
        Response::text("word ".repeat(400))
            .with_chunks(400)
            .with_chunk_delay_ms(50),
    )])
    .with_fallback(Response::text("fast answer"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_writes_a_file_and_completes() {
    let h = harness(demo_scenario(), |_| {}).await;
    let session = h
        .runtime
        .create_session(CreateSessionRequest::default())
        .await
        .unwrap();
    let id = &session.session_id;
    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    h.runtime
        .send_message(id, message("create hello.txt"))
        .await
        .unwrap();
    let events = collect_until(&mut sub, is_turn_completed).await;
    assert_eq!(turn_end(&events).0, TurnEndReason::Completed, "{events:#?}");
    assert!(events
        .iter()
        .any(|e| matches!(&e.event, SessionEvent::FileCreated(f) if f.path == "hello.txt")));
    let snapshot = h.runtime.snapshot(id).await.unwrap();
    let tool = snapshot.state.blocks.iter().find_map(|b| match b {
        Block::ToolUse(t) => Some(t.clone()),
        _ => None,
    });
    assert_eq!(tool.map(|t| t.status), Some(ToolStatus::Success));
    assert_eq!(
        h.runtime.read_file(id, "hello.txt").await.unwrap(),
        agent_runtime_testkit::demo::DEMO_FILE_CONTENT.as_bytes()
    );
    assert!(!h.runtime.list_transcripts(id).await.unwrap().is_empty());
    h.runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn busy_sessions_reject_queue_or_interrupt() {
    let h = harness(slow_scenario(), |_| {}).await;
    let session = h
        .runtime
        .create_session(CreateSessionRequest::default())
        .await
        .unwrap();
    let id = &session.session_id;
    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    let first = h
        .runtime
        .send_message(id, message("slow please"))
        .await
        .unwrap();
    assert!(!first.queued);

    let rejected = h.runtime.send_message(id, message("again")).await;
    assert!(
        matches!(rejected, Err(RuntimeError::SessionBusy(_))),
        "{rejected:?}"
    );

    let queued = h
        .runtime
        .send_message(
            id,
            SendMessageRequest {
                if_busy: Some(IfBusy::Queue),
                ..message("queued one")
            },
        )
        .await
        .unwrap();
    assert!(queued.queued);
    let superseding = h
        .runtime
        .send_message(
            id,
            SendMessageRequest {
                if_busy: Some(IfBusy::Interrupt),
                ..message("now this")
            },
        )
        .await
        .unwrap();
    assert!(superseding.queued);

    // The slow turn is interrupted, then the superseding message runs before the queued one.
    let events = collect_until(&mut sub, is_turn_completed).await;
    assert_eq!(turn_end(&events).0, TurnEndReason::Interrupted);
    let mut order = Vec::new();
    for _ in 0..2 {
        let events = collect_until(&mut sub, is_turn_completed).await;
        let started = events.iter().find_map(|e| match &e.event {
            SessionEvent::TurnStarted { turn_id, .. } => Some(turn_id.clone()),
            _ => None,
        });
        assert_eq!(turn_end(&events).0, TurnEndReason::Completed);
        order.push(started.expect("turn started"));
    }
    assert_eq!(order, vec![superseding.turn_id, queued.turn_id]);
    h.runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interrupt_ends_a_streaming_turn_quickly_and_the_agent_stays_usable() {
    let h = harness(slow_scenario(), |_| {}).await;
    let session = h
        .runtime
        .create_session(CreateSessionRequest::default())
        .await
        .unwrap();
    let id = &session.session_id;
    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    h.runtime
        .send_message(id, message("slow please"))
        .await
        .unwrap();
    // Wait until text streams, then interrupt.
    collect_until(&mut sub, |e| {
        matches!(e.event, SessionEvent::TextDelta { .. })
    })
    .await;
    let interrupted = h.runtime.interrupt(id).await.unwrap();
    assert!(interrupted.turn_id.is_some());
    let events = tokio::time::timeout(
        Duration::from_secs(2),
        collect_until(&mut sub, is_turn_completed),
    )
    .await
    .expect("the turn ends within 2 s of the interrupt");
    assert_eq!(turn_end(&events), (TurnEndReason::Interrupted, None));

    h.runtime
        .send_message(id, message("quick one"))
        .await
        .unwrap();
    let events = collect_until(&mut sub, is_turn_completed).await;
    assert_eq!(turn_end(&events).0, TurnEndReason::Completed);
    h.runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_sandbox_stops_and_the_next_turn_restores_files_and_conversation() {
    // The demo model creates the file; "check" makes it read the file back with Bash.
    let mut demo = demo_scenario();
    let check = [
        Rule::new(
            Matcher::tool_result(Some("Bash")),
            Response::text("The file is there."),
        ),
        Rule::new(
            Matcher::last_user_text_contains("check"),
            Response::blocks(vec![Reply::tool_use(
                "Bash",
                json!({"command": "cat hello.txt", "description": "Read the file"}),
            )]),
        ),
    ];
    demo.rules.splice(0..0, check);
    let h = harness(demo, |c| c.idle_timeout = Duration::from_secs(1)).await;
    let session = h
        .runtime
        .create_session(CreateSessionRequest::default())
        .await
        .unwrap();
    let id = &session.session_id;
    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    h.runtime
        .send_message(id, message("create hello.txt"))
        .await
        .unwrap();
    collect_until(&mut sub, is_turn_completed).await;
    collect_until(&mut sub, |e| {
        matches!(
            e.event,
            SessionEvent::Status {
                sandbox: SandboxState::Stopped
            }
        )
    })
    .await;
    let turn_one_requests = h.model.message_requests().len();

    h.runtime
        .send_message(id, message("check the file"))
        .await
        .unwrap();
    let events = collect_until(&mut sub, is_turn_completed).await;
    assert_eq!(turn_end(&events).0, TurnEndReason::Completed, "{events:#?}");
    let output = events.iter().find_map(|e| match &e.event {
        SessionEvent::BlockComplete {
            block: Block::ToolResult(r),
            ..
        } => Some(r.output.clone()),
        _ => None,
    });
    assert_eq!(
        output.as_deref().map(str::trim),
        Some(agent_runtime_testkit::demo::DEMO_FILE_CONTENT.trim())
    );
    // The resumed agent sent turn one's conversation along with the new message.
    let request = &h.model.message_requests()[turn_one_requests];
    let history = serde_json::to_string(request.messages()).unwrap();
    assert!(history.contains("create hello.txt"), "{history}");
    assert!(history.contains("check the file"), "{history}");
    h.runtime.shutdown().await;
}
