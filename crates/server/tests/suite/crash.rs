//! `kill -9` of the server binary mid-turn: nothing a client saw is lost, and the turn that was
//! running is closed as `interrupted` when the server comes back.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use agent_runtime_client::{Client, WsAuth};
use agent_runtime_protocol::{CreateSessionRequest, SessionEvent, TurnEndReason};
use agent_runtime_testkit::ScriptedModelServer;
use pretty_assertions::assert_eq;
use tokio::process::Child;

use super::agent::*;
use super::support::*;

/// Starts the real binary on a SQLite store in `data_dir`, pointed at the scripted model.
async fn spawn_binary(data_dir: &std::path::Path, model: &ScriptedModelServer) -> (Child, String) {
    let store = format!("sqlite://{}/runtime.db", data_dir.display());
    let model_url = model.base_url();
    spawn_serve("crash", |command| {
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--store", &store])
            .arg("--tools-dir")
            .arg(tools_dir())
            .args(["--anthropic-base-url", &model_url])
            .args(["--openai-base-url", &model_url])
            .env("ANTHROPIC_API_KEY", "sk-test-never-shown")
            .env("OPENAI_API_KEY", "sk-test-never-shown");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn claude_events_a_client_saw_survive_kill_9_and_the_turn_is_closed_as_interrupted() {
    events_a_client_saw_survive_kill_9_and_the_turn_is_closed_as_interrupted(Setup::CLAUDE_SQLITE)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opencode_events_a_client_saw_survive_kill_9_and_the_turn_is_closed_as_interrupted() {
    events_a_client_saw_survive_kill_9_and_the_turn_is_closed_as_interrupted(Setup::OPENCODE_SQLITE)
        .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn codex_events_a_client_saw_survive_kill_9_and_the_turn_is_closed_as_interrupted() {
    events_a_client_saw_survive_kill_9_and_the_turn_is_closed_as_interrupted(Setup::CODEX_SQLITE)
        .await
}

async fn events_a_client_saw_survive_kill_9_and_the_turn_is_closed_as_interrupted(setup: Setup) {
    let model = ScriptedModelServer::start(slow_scenario()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = dir.path().join("data");
    let (mut child, url) = spawn_binary(&data_dir, &model).await;

    let client = Client::new(&url);
    let request = CreateSessionRequest {
        agent: Some(setup.agent.to_string()),
        ..Default::default()
    };
    let session = within(client.create_session(&request)).await.unwrap();
    let mut ws = within(client.connect_ws(WsAuth::None)).await.unwrap();
    within(ws.subscribe(&session.session_id, 0)).await.unwrap();
    let sent = within(ws.send_message(&session.session_id, "slow please", None))
        .await
        .unwrap();
    let mut deltas = 0;
    let seen = events_until(&mut ws, |e| {
        deltas += usize::from(matches!(e.event, SessionEvent::TextDelta { .. }));
        deltas == 10
    })
    .await;

    child.start_kill().expect("SIGKILL");
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the binary dies")
        .unwrap();
    drop(ws);

    let server = TestServer::start_with(|c| {
        c.data_dir = data_dir.clone();
        agent_config(c, &model, setup);
    })
    .await;
    let snapshot = within(server.client().get_session(&session.session_id))
        .await
        .unwrap();
    let mut ws = server.ws().await;
    within(ws.subscribe(&session.session_id, 0)).await.unwrap();
    let stored = events_until(&mut ws, |e| e.seq == snapshot.state.seq).await;
    for envelope in &seen {
        assert_eq!(
            &stored[(envelope.seq - 1) as usize],
            envelope,
            "event {} changed",
            envelope.seq
        );
    }
    let closing = stored.iter().find_map(|e| match &e.event {
        SessionEvent::TurnCompleted {
            turn_id,
            reason,
            error,
            ..
        } if *turn_id == sent.turn_id => {
            Some((*reason, error.as_ref().and_then(|e| e.code.clone())))
        }
        _ => None,
    });
    assert_eq!(
        closing,
        Some((
            TurnEndReason::Interrupted,
            Some("server_restart".to_string())
        ))
    );
    assert_eq!(snapshot.state.runtime.active_turn_id, None);

    // The session works again: the next turn runs in a fresh sandbox.
    within(ws.send_message(&session.session_id, "hello again", None))
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
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_graceful_shutdown_closes_the_running_turn_as_interrupted() {
    let model = ScriptedModelServer::start(slow_scenario()).await.unwrap();
    let server = agent_server(&model, Setup::CLAUDE_SQLITE).await;
    let session_id = create_agent_session(&server, Setup::CLAUDE_SQLITE).await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    let sent = within(ws.send_message(&session_id, "slow please", None))
        .await
        .unwrap();
    // The turn is streaming when the server is asked to stop.
    events_until(&mut ws, |e| {
        matches!(e.event, SessionEvent::TextDelta { .. })
    })
    .await;
    let closing = tokio::spawn(async move {
        events_until(&mut ws, is_turn_completed)
            .await
            .pop()
            .expect("turn_completed")
    });
    let server = server.restart().await;
    // A client connected during the shutdown saw the turn end before its stream closed.
    let seen = closing.await.expect("the subscriber saw the turn end");
    match &seen.event {
        SessionEvent::TurnCompleted {
            turn_id,
            reason,
            error,
            ..
        } => {
            assert_eq!(turn_id, &sent.turn_id);
            assert_eq!(*reason, TurnEndReason::Interrupted);
            assert_eq!(
                error.as_ref().and_then(|e| e.code.as_deref()),
                Some("shutdown")
            );
        }
        other => panic!("{other:?}"),
    }
    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    assert_eq!(snapshot.state.runtime.active_turn_id, None);
    assert!(snapshot.state.seq >= seen.seq);
    server.shutdown().await;
}
