//! The spine end to end: the real server, a real agent CLI in a real bubblewrap sandbox, the
//! scripted model, a WebSocket client. Every scenario runs for each [`Setup`] in the matrix at
//! the bottom (agent x store).

use std::collections::BTreeSet;
use std::time::Duration;

use agent_runtime_protocol::{fold_all, Block, Envelope, SessionEvent, ToolStatus, TurnEndReason};
use agent_runtime_testkit::api::same_tool;
use agent_runtime_testkit::{demo::DEMO_FILE_CONTENT, demo_scenario, ScriptedModelServer};
use pretty_assertions::assert_eq;

use super::agent::*;
use super::support::*;

async fn a_turn_streams_over_websocket_and_the_snapshot_equals_the_clients_fold(setup: Setup) {
    let model = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let server = agent_server(&model, setup).await;
    let session_id = create_agent_session(&server, setup).await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "create hello.txt", None))
        .await
        .unwrap();
    let mut events = events_until(&mut ws, is_turn_completed).await;
    if setup.warm_pool > 0 {
        // The session's sandbox, with the agent already running, came from the pool.
        assert_eq!(
            pool_figure(&server, "agent_runtime_pool_hits_total").await,
            1.0
        );
    }

    let types: BTreeSet<String> = events.iter().map(|e| event_type(&e.event)).collect();
    for wanted in [
        "block_start",
        "text_delta",
        "block_complete",
        "file_created",
        "turn_started",
    ] {
        assert!(types.contains(wanted), "no {wanted} in {types:?}");
    }
    let write = events.iter().find_map(|e| match &e.event {
        SessionEvent::BlockComplete {
            block: Block::ToolUse(t),
            ..
        // Codex writes files by patch, an ACP `edit`.
        } if same_tool(&t.name, "Write") || t.name == "Edit" => Some(t.clone()),
        _ => None,
    });
    let write = write.expect("a Write tool_use");
    let result = events.iter().find_map(|e| match &e.event {
        SessionEvent::BlockComplete {
            block: Block::ToolResult(r),
            ..
        } if r.tool_use_id == write.id => Some(r.clone()),
        _ => None,
    });
    assert!(!result.expect("its tool_result").is_error);
    assert!(events
        .iter()
        .any(|e| matches!(&e.event, SessionEvent::FileCreated(f) if f.path == "hello.txt")));
    // The agent reaches nothing but the model (OpenCode would fetch its plugin SDK from npm on
    // every start if its config dir did not say it has it).
    let denied: Vec<_> = events
        .iter()
        .filter(|e| matches!(e.event, SessionEvent::NetworkDenied { .. }))
        .collect();
    assert!(denied.is_empty(), "{denied:#?}");
    match &events.last().unwrap().event {
        SessionEvent::TurnCompleted {
            reason,
            usage,
            cost_usd,
            ..
        } => {
            assert_eq!(*reason, TurnEndReason::Completed);
            // codex-acp reports neither tokens per turn nor cost (only how full the context
            // window is), so its turns carry none.
            if setup.agent != "codex" {
                assert!(
                    usage.input_tokens > 0 && usage.output_tokens > 0,
                    "{usage:?}"
                );
                assert!(*cost_usd > 0.0, "cost {cost_usd}");
            }
        }
        other => panic!("{other:?}"),
    }

    // The snapshot is exactly the fold of what the client received.
    let mut snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    while snapshot.state.seq > events.last().unwrap().seq {
        events.extend(events_until(&mut ws, |_| true).await);
        snapshot = within(server.client().get_session(&session_id))
            .await
            .unwrap();
    }
    assert_eq!(snapshot.state, fold_all(&events));
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(
        seqs,
        (1..=snapshot.state.seq).collect::<Vec<_>>(),
        "gapless, in order, once each"
    );
    let tool = snapshot.state.blocks.iter().find_map(|b| match b {
        Block::ToolUse(t) => Some(t.status),
        _ => None,
    });
    assert_eq!(tool, Some(ToolStatus::Success));

    let content = within(server.client().read_file(&session_id, "hello.txt"))
        .await
        .unwrap();
    assert_eq!(&content[..], DEMO_FILE_CONTENT.as_bytes());
    // The API key given to the agent never shows in what clients see.
    let all = serde_json::to_string(&events).unwrap();
    assert!(!all.contains("sk-test-never-shown"));
    server.shutdown().await;
}

async fn a_restarted_server_serves_the_same_session_and_the_agent_resumes_its_conversation(
    setup: Setup,
) {
    let model = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let server = agent_server(&model, setup).await;
    let session_id = create_agent_session(&server, setup).await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "create hello.txt", None))
        .await
        .unwrap();
    events_until(&mut ws, is_turn_completed).await;
    let before = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    drop(ws);

    let server = server.restart().await;
    let after = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    assert_eq!(after.session, before.session);
    assert_eq!(after.state.blocks, before.state.blocks);
    assert_eq!(after.state.files, before.state.files);
    assert_eq!(after.state.usage, before.state.usage);
    assert_eq!(after.state.cost_usd, before.state.cost_usd);
    assert_eq!(after.state.runtime.active_turn_id, None);

    // Replaying the whole log after the restart folds to the new snapshot too.
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    let replay = events_until(&mut ws, |e| e.seq == after.state.seq).await;
    assert_eq!(fold_all(&replay), after.state);

    let turn_one_requests = model.message_requests().len();
    within(ws.send_message(&session_id, "what did you do before?", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert!(matches!(
        events.last().unwrap().event,
        SessionEvent::TurnCompleted {
            reason: TurnEndReason::Completed,
            ..
        }
    ));
    let request = &model.message_requests()[turn_one_requests];
    let history = serde_json::to_string(request.conversation()).unwrap();
    assert!(
        history.contains("create hello.txt"),
        "turn one is not in {history}"
    );
    assert!(history.contains("what did you do before?"), "{history}");
    server.shutdown().await;
}

async fn reconnecting_mid_turn_with_since_and_last_event_id_loses_and_repeats_nothing(
    setup: Setup,
) {
    let model = ScriptedModelServer::start(slow_scenario()).await.unwrap();
    let server = agent_server(&model, setup).await;
    let session_id = create_agent_session(&server, setup).await;

    let mut first = server.ws().await;
    within(first.subscribe(&session_id, 0)).await.unwrap();
    within(first.send_message(&session_id, "slow please", None))
        .await
        .unwrap();
    let mut deltas = 0;
    let received = events_until(&mut first, |e| {
        deltas += usize::from(matches!(e.event, SessionEvent::TextDelta { .. }));
        deltas == 5
    })
    .await;
    drop(first);
    let k = received.last().unwrap().seq;

    // A new connection picks up from k while the turn still streams.
    let mut second = server.ws().await;
    within(second.subscribe(&session_id, k)).await.unwrap();
    let rest = events_until(&mut second, is_turn_completed).await;
    let all: Vec<Envelope> = received.iter().chain(&rest).cloned().collect();
    let seqs: Vec<u64> = all.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=all.last().unwrap().seq).collect::<Vec<_>>());
    assert_quiet(&mut second).await;
    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    assert_eq!(fold_all(&all), snapshot.state);

    // SSE from the same cursor yields the same events.
    let mut sse = within(server.client().events(&session_id, k))
        .await
        .unwrap();
    let mut via_sse = Vec::new();
    while via_sse.len() < rest.len() {
        let event = tokio::time::timeout(Duration::from_secs(10), sse.next_event())
            .await
            .expect("an SSE event in time")
            .expect("stream open")
            .expect("an event");
        via_sse.push(event.envelope().expect("an envelope"));
    }
    assert_eq!(via_sse, rest);
    server.shutdown().await;
}

/// One module per setup, one test per scenario; each test gets a fresh store (a scratch database
/// for PostgreSQL, dropped when the test ends).
macro_rules! e2e_matrix {
    ($($module:ident => $setup:expr),* $(,)?) => {$(
        mod $module {
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_turn_streams_over_websocket_and_the_snapshot_equals_the_clients_fold() {
                let (setup, _store) = $setup.with_fresh_store().await;
                super::a_turn_streams_over_websocket_and_the_snapshot_equals_the_clients_fold(setup).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn a_restarted_server_serves_the_same_session_and_the_agent_resumes_its_conversation() {
                let (setup, _store) = $setup.with_fresh_store().await;
                super::a_restarted_server_serves_the_same_session_and_the_agent_resumes_its_conversation(setup).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn reconnecting_mid_turn_with_since_and_last_event_id_loses_and_repeats_nothing() {
                let (setup, _store) = $setup.with_fresh_store().await;
                super::reconnecting_mid_turn_with_since_and_last_event_id_loses_and_repeats_nothing(setup).await
            }
        }
    )*};
}

e2e_matrix! {
    claude_sqlite => Setup::CLAUDE_SQLITE,
    gemini_sqlite => Setup::GEMINI_SQLITE,
    opencode_sqlite => Setup::OPENCODE_SQLITE,
    codex_sqlite => Setup::CODEX_SQLITE,
    claude_postgres => Setup::CLAUDE_POSTGRES,
    claude_pool_sqlite => Setup::CLAUDE_POOL_SQLITE,
    claude_modal => Setup::CLAUDE_MODAL,
    gemini_modal => Setup::GEMINI_MODAL,
    opencode_modal => Setup::OPENCODE_MODAL,
    codex_modal => Setup::CODEX_MODAL,
}
