use agent_runtime_protocol::{
    Block, CreateSessionRequest, SendMessageRequest, SessionEvent, ToolStatus, TurnEndReason,
};
use agent_runtime_testkit::demo_scenario;

use super::support::*;

fn message(text: &str) -> SendMessageRequest {
    SendMessageRequest { text: text.into(), if_busy: None, client_message_id: None }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_turn_writes_a_file_and_completes() {
    let h = harness(demo_scenario(), |_| {}).await;
    let session = h.runtime.create_session(CreateSessionRequest::default()).await.unwrap();
    let mut sub = h.runtime.subscribe(&session.session_id, 0).await.unwrap();
    h.runtime.send_message(&session.session_id, message("create hello.txt")).await.unwrap();
    let events = collect_until(&mut sub, is_turn_completed).await;
    let last = &events.last().unwrap().event;
    let SessionEvent::TurnCompleted { reason, .. } = last else { unreachable!() };
    assert_eq!(*reason, TurnEndReason::Completed, "{events:#?}");
    assert!(events.iter().any(|e| matches!(&e.event, SessionEvent::FileCreated(f) if f.path == "hello.txt")));
    let snapshot = h.runtime.snapshot(&session.session_id).await.unwrap();
    let tool = snapshot.state.blocks.iter().find_map(|b| match b {
        Block::ToolUse(t) => Some(t.clone()),
        _ => None,
    });
    if std::env::var_os("DUMP").is_some() { println!("{}", serde_json::to_string_pretty(&events).unwrap()); }
    assert_eq!(tool.map(|t| t.status), Some(ToolStatus::Success));
    h.runtime.shutdown().await;
}
