//! Turn lifecycle: a full turn, busy handling, interrupts, idle stop and restore, stalls and
//! model API errors. Every body runs for every agent (the matrix at the bottom).

use std::time::Duration;

use agent_runtime_agents::AgentKind;
use agent_runtime_core::RuntimeError;
use agent_runtime_protocol::{
    Block, IfBusy, SandboxState, SendMessageRequest, SessionEvent, ToolStatus, TurnEndReason,
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

async fn a_turn_writes_a_file_and_completes(agent: AgentKind) {
    let h = harness(demo_scenario(), |_| {}).await;
    let id = &create_session(&h.runtime, agent).await;
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

async fn busy_sessions_reject_queue_or_interrupt(agent: AgentKind) {
    let h = harness(slow_scenario(), |_| {}).await;
    let id = &create_session(&h.runtime, agent).await;
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

async fn interrupt_ends_a_streaming_turn_quickly_and_the_agent_stays_usable(agent: AgentKind) {
    let h = harness(slow_scenario(), |_| {}).await;
    let id = &create_session(&h.runtime, agent).await;
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

async fn an_idle_sandbox_stops_and_the_next_turn_restores_files_and_conversation(agent: AgentKind) {
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
    let id = &create_session(&h.runtime, agent).await;
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
                sandbox: SandboxState::Stopped,
                provider: None,
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
    let history = serde_json::to_string(request.conversation()).unwrap();
    assert!(history.contains("create hello.txt"), "{history}");
    assert!(history.contains("check the file"), "{history}");
    h.runtime.shutdown().await;
}

/// A model that starts answering, then goes silent for far longer than the stall timeout
/// (once: a resumed Gemini history repeats the unanswered prompt next to the new one).
fn stalling_scenario() -> Scenario {
    Scenario::new(vec![
        // First: an agent whose stalled turn never reached the model sends the unanswered
        // message again with the next one (OpenCode joins consecutive user messages).
        Rule::new(
            Matcher::last_user_text_contains("quick"),
            Response::text("fast answer"),
        ),
        Rule::new(
            Matcher::last_user_text_contains("stall"),
            Response::text("word ".repeat(20))
                .with_chunks(20)
                .with_chunk_delay_ms(60_000),
        )
        .once(),
    ])
    .with_fallback(Response::text("fast answer"))
}

async fn a_silent_agent_is_stopped_by_the_stall_timeout_and_stays_usable(agent: AgentKind) {
    // Long enough that a loaded 2-core machine starts the next turn's agent well within it (a
    // fresh Gemini process per turn; OpenCode after its stalled request was cancelled); the
    // stalled reply waits 60 s, so the first turn still stalls.
    let h = harness(stalling_scenario(), |c| {
        c.turn_stall_timeout = Duration::from_secs(10)
    })
    .await;
    let id = &create_session(&h.runtime, agent).await;
    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    h.runtime
        .send_message(id, message("stall please"))
        .await
        .unwrap();
    let events = tokio::time::timeout(
        Duration::from_secs(30),
        collect_until(&mut sub, is_turn_completed),
    )
    .await
    .expect("the stall timeout ends the turn");
    assert_eq!(
        turn_end(&events),
        (TurnEndReason::Error, Some("timeout".into())),
        "{events:#?}"
    );

    h.runtime
        .send_message(id, message("quick one"))
        .await
        .unwrap();
    let events = collect_until(&mut sub, is_turn_completed).await;
    assert_eq!(turn_end(&events).0, TurnEndReason::Completed, "{events:#?}");
    h.runtime.shutdown().await;
}

async fn a_model_api_error_ends_the_turn_with_its_status(agent: AgentKind) {
    let scenario = Scenario::new(vec![Rule::always(Response::error(
        400,
        "scripted bad request",
    ))]);
    let h = harness(scenario, |_| {}).await;
    let id = &create_session(&h.runtime, agent.clone()).await;
    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    h.runtime.send_message(id, message("hello")).await.unwrap();
    let events = collect_until(&mut sub, is_turn_completed).await;
    let Some(SessionEvent::TurnCompleted { reason, error, .. }) = events.last().map(|e| &e.event)
    else {
        panic!("no turn end: {events:#?}");
    };
    assert_eq!(*reason, TurnEndReason::Error, "{events:#?}");
    let error = error.as_ref().expect("an error");
    // ACP agents report the API's failure as a JSON-RPC error whose message carries the API's
    // but not its status (OpenCode: `{"errorName": "APIError"}`; Codex: the API's body).
    if agent.protocol() == "native" {
        assert_eq!(error.http_status, Some(400), "{error:?}");
    }
    assert!(error.message.contains("scripted bad request"), "{error:?}");
    h.runtime.shutdown().await;
}

/// Gemini CLI retries a 5xx answer for minutes and says so only on stderr: the runtime shows
/// the retries (an `api_retry` system block) and its stall timeout ends the turn with the status.
/// (Claude Code reports its retries on stdout, so they count as progress; its translator tests
/// cover them.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_retrying_a_server_error_is_ended_by_the_stall_timeout_with_the_status() {
    let scenario = Scenario::new(vec![Rule::always(Response::error(500, "scripted outage"))]);
    let h = harness(scenario, |c| c.turn_stall_timeout = Duration::from_secs(4)).await;
    let id = &create_session(&h.runtime, AgentKind::GeminiCli).await;
    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    h.runtime.send_message(id, message("hello")).await.unwrap();
    let events = tokio::time::timeout(
        Duration::from_secs(30),
        collect_until(&mut sub, is_turn_completed),
    )
    .await
    .expect("the turn ends while the CLI still retries");
    let retry = events.iter().find_map(|e| match &e.event {
        SessionEvent::BlockComplete {
            block: Block::System(b),
            ..
        } if b.subtype == "api_retry" => Some(b.clone()),
        _ => None,
    });
    let retry = retry.unwrap_or_else(|| panic!("no api_retry block in {events:#?}"));
    assert_eq!(retry.data.as_ref().unwrap()["errorStatus"], 500);
    let Some(SessionEvent::TurnCompleted { reason, error, .. }) = events.last().map(|e| &e.event)
    else {
        panic!("no turn end");
    };
    assert_eq!(*reason, TurnEndReason::Error);
    let error = error.as_ref().expect("an error");
    assert_eq!(error.code.as_deref(), Some("timeout"), "{error:?}");
    assert_eq!(error.http_status, Some(500), "{error:?}");
    h.runtime.shutdown().await;
}

agent_matrix! {
    tests: [
        a_turn_writes_a_file_and_completes,
        busy_sessions_reject_queue_or_interrupt,
        interrupt_ends_a_streaming_turn_quickly_and_the_agent_stays_usable,
        an_idle_sandbox_stops_and_the_next_turn_restores_files_and_conversation,
        a_silent_agent_is_stopped_by_the_stall_timeout_and_stays_usable,
        a_model_api_error_ends_the_turn_with_its_status,
    ];
    claude_code => agent_runtime_agents::AgentKind::ClaudeCode,
    gemini_cli => agent_runtime_agents::AgentKind::GeminiCli,
    opencode => agent_runtime_agents::AgentKind::from_id("opencode").unwrap(),
    codex => agent_runtime_agents::AgentKind::from_id("codex").unwrap(),
}

/// A Gemini chat file without a conversation (what a first turn killed right after the CLI
/// started leaves, or a resume stub) is neither resumable (`--resume`: exit 42) nor reusable
/// (`--session-id`: "already exists"); the runtime removes it and starts afresh instead of
/// failing every later turn.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gemini_starts_afresh_over_a_chat_file_without_a_conversation() {
    let h = harness(demo_scenario(), |_| {}).await;
    let id = &create_session(&h.runtime, AgentKind::GeminiCli).await;
    let stub = std::fs::read(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../../shared/fixtures/gemini/resume-stub-file-created-by-resume.chat.jsonl"
    ))
    .unwrap();
    let stub = String::from_utf8(stub).unwrap();
    let snapshot = h.runtime.snapshot(id).await.unwrap();
    let agent_session_id = snapshot
        .state
        .agent_session_id
        .expect("an agent session id");
    let stub = stub.replace("7223e9e9-a274-45e8-910c-9bbb0eceefb9", &agent_session_id);
    let name = format!("session-2026-01-01T00-00-{}.jsonl", &agent_session_id[..8]);
    let store = agent_runtime_store::open_store(&format!(
        "sqlite://{}",
        h._data.path().join("runtime.db").display()
    ))
    .await
    .unwrap();
    store
        .put_transcript(id, &name, stub.as_bytes())
        .await
        .unwrap();

    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    h.runtime.send_message(id, message("hello")).await.unwrap();
    let events = collect_until(&mut sub, is_turn_completed).await;
    assert_eq!(turn_end(&events).0, TurnEndReason::Completed, "{events:#?}");
    h.runtime.shutdown().await;
}
