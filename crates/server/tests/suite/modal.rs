//! Sandboxes on Modal, end to end: the real server (and binary), real Claude Code, the Modal
//! provider talking gRPC to the Modal stand-in, whose sandboxes are local bubblewrap
//! containers. The scenarios every provider runs are in the e2e matrix (`*_modal`); these are
//! the ones only a remote provider has: where a session runs, a sandbox that dies, a network
//! that fails, and a runtime killed while its sandboxes run.

use std::os::unix::fs::PermissionsExt;
use std::time::Duration;

use agent_runtime_client::{Client, WsAuth};
use agent_runtime_modal_standin::{ModalStandIn, SandboxRecord};
use agent_runtime_protocol::{
    CreateSessionRequest, SandboxProviderKind, SessionEvent, TurnEndReason,
};
use agent_runtime_testkit::{demo_scenario, ScriptedModelServer};
use pretty_assertions::assert_eq;

use super::agent::*;
use super::standin::{start_standin, use_modal};
use super::support::*;

/// The stand-in's sandboxes of the server whose install id is `install`.
fn sandboxes_of(standin: &ModalStandIn, install: &str) -> Vec<SandboxRecord> {
    standin
        .sandboxes()
        .into_iter()
        .filter(|s| s.tags.get("agent-runtime.install").map(String::as_str) == Some(install))
        .collect()
}

fn install_id(data_dir: &std::path::Path) -> String {
    std::fs::read_to_string(data_dir.join("install-id"))
        .expect("the server keeps its install id")
        .trim()
        .to_owned()
}

/// The last `turn_completed` of `events`: its reason and error message.
fn turn_end(events: &[agent_runtime_protocol::Envelope]) -> (TurnEndReason, Option<String>) {
    events
        .iter()
        .rev()
        .find_map(|e| match &e.event {
            SessionEvent::TurnCompleted { reason, error, .. } => {
                Some((*reason, error.as_ref().map(|e| e.message.clone())))
            }
            _ => None,
        })
        .expect("a turn_completed")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_on_modal_says_where_it_runs_and_its_sandbox_has_no_key_and_no_network() {
    let (standin, _dir) = start_standin().await;
    let model = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let server = TestServer::start_with(|c| {
        agent_config(c, &model, Setup::CLAUDE_SQLITE);
        use_modal(c, &standin);
    })
    .await;
    let agents = within(server.client().agents_and_sandboxes())
        .await
        .unwrap();
    let places: Vec<_> = agents
        .sandboxes
        .iter()
        .map(|s| (s.kind, s.default))
        .collect();
    assert_eq!(
        places,
        [
            (SandboxProviderKind::Modal, true),
            (SandboxProviderKind::Local, false)
        ]
    );

    let session_id = create_agent_session(&server, Setup::CLAUDE_SQLITE).await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "create hello.txt", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(turn_end(&events).0, TurnEndReason::Completed);
    assert!(events
        .iter()
        .any(|e| matches!(&e.event, SessionEvent::FileCreated(f) if f.path == "hello.txt")));
    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    assert_eq!(
        snapshot.state.runtime.sandbox_provider,
        Some(SandboxProviderKind::Modal)
    );

    let install = install_id(&server.config().data_dir);
    let sandboxes = sandboxes_of(&standin, &install);
    assert_eq!(sandboxes.len(), 1, "{sandboxes:?}");
    let sandbox = &sandboxes[0];
    assert!(sandbox.is_running());
    assert_eq!(sandbox.tags.get("agent-runtime.purpose"), Some(&session_id));
    let definition = sandbox.request.definition.as_ref().expect("a definition");
    assert!(definition.block_network, "{definition:?}");
    let secret_env = format!("{:?}", sandbox.secret_env);
    assert!(
        !secret_env.contains("sk-test-never-shown"),
        "the model key reached Modal: {secret_env}"
    );
    // The image: the configured base with the pinned Claude Code installed where launch specs
    // expect it.
    let image = standin
        .images()
        .into_iter()
        .find(|i| i.id == definition.image_id)
        .expect("the sandbox's image");
    let commands = image.image.dockerfile_commands.join("\n");
    // Built on the configured registry image, the layer below.
    let base = standin
        .images()
        .into_iter()
        .find(|i| image.image.base_images.iter().any(|b| b.image_id == i.id))
        .expect("the base layer");
    assert_eq!(base.image.dockerfile_commands, ["FROM node:22-slim"]);
    assert!(
        commands.contains("npm install --prefix /opt/agent-tools/_anthropic-ai_claude-code@"),
        "{commands}"
    );
    server.shutdown().await;
    // A graceful stop terminates its sandboxes.
    assert!(sandboxes_of(&standin, &install)
        .iter()
        .all(|s| !s.is_running()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sandbox_that_dies_mid_turn_ends_the_turn_with_its_cause_and_the_next_turn_gets_a_new_one(
) {
    let (standin, _dir) = start_standin().await;
    let model = ScriptedModelServer::start(slow_scenario()).await.unwrap();
    let server = TestServer::start_with(|c| {
        agent_config(c, &model, Setup::CLAUDE_SQLITE);
        use_modal(c, &standin);
    })
    .await;
    let install = install_id(&server.config().data_dir);
    let session_id = create_agent_session(&server, Setup::CLAUDE_SQLITE).await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "slow please", None))
        .await
        .unwrap();
    let mut deltas = 0;
    events_until(&mut ws, |e| {
        deltas += usize::from(matches!(e.event, SessionEvent::TextDelta { .. }));
        deltas == 5
    })
    .await;
    let first = sandboxes_of(&standin, &install);
    assert_eq!(first.len(), 1);
    standin.kill_sandbox(&first[0].id).await.unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    let (reason, message) = turn_end(&events);
    assert_eq!(reason, TurnEndReason::Error, "{message:?}");
    let message = message.unwrap_or_default();
    assert!(
        message.contains("sandbox ended during the turn")
            && message.contains(&first[0].id)
            && message.contains("INTERNAL_FAILURE"),
        "the error says what happened: {message}"
    );

    within(ws.send_message(&session_id, "hello again", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(turn_end(&events).0, TurnEndReason::Completed);
    let now = sandboxes_of(&standin, &install);
    assert_eq!(now.len(), 2, "{now:?}");
    let running: Vec<_> = now.iter().filter(|s| s.is_running()).collect();
    assert_eq!(running.len(), 1);
    assert_ne!(running[0].id, first[0].id);
    server.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn modal_failing_is_retried_with_backoff_then_a_clear_error_and_nothing_is_lost() {
    let (standin, _dir) = start_standin().await;
    let model = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    let server = TestServer::start_with(|c| {
        agent_config(c, &model, Setup::CLAUDE_SQLITE);
        use_modal(c, &standin);
    })
    .await;
    let install = install_id(&server.config().data_dir);
    let session_id = create_agent_session(&server, Setup::CLAUDE_SQLITE).await;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();

    // A short outage: the calls are retried and the turn completes.
    standin.fail_next_calls(2, tonic::Code::Unavailable);
    within(ws.send_message(&session_id, "create hello.txt", None))
        .await
        .unwrap();
    let first = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(turn_end(&first).0, TurnEndReason::Completed);
    let sandbox = sandboxes_of(&standin, &install).remove(0);

    // The sandbox is gone and Modal stays down: the next turn ends with an error that says so.
    standin.kill_sandbox(&sandbox.id).await.unwrap();
    // Let the session see its sandbox end, so the next turn needs a new one.
    tokio::time::sleep(Duration::from_secs(1)).await;
    standin.fail_next_calls(10_000, tonic::Code::Unavailable);
    within(ws.send_message(&session_id, "hello again", None))
        .await
        .unwrap();
    let second = events_until(&mut ws, is_turn_completed).await;
    let (reason, message) = turn_end(&second);
    assert_eq!(reason, TurnEndReason::Error);
    let message = message.unwrap_or_default();
    assert!(message.to_lowercase().contains("modal"), "{message}");

    // Nothing stored was lost: every event of the first turn is still there, unchanged.
    standin.clear_faults();
    let mut fresh = server.ws().await;
    within(fresh.subscribe(&session_id, 0)).await.unwrap();
    let last = second.last().unwrap().seq;
    let stored = events_until(&mut fresh, |e| e.seq == last).await;
    for envelope in &first {
        assert_eq!(&stored[(envelope.seq - 1) as usize], envelope);
    }
    assert!(stored
        .iter()
        .any(|e| matches!(&e.event, SessionEvent::FileCreated(f) if f.path == "hello.txt")));

    // Modal back: the session works again.
    within(ws.send_message(&session_id, "hello once more", None))
        .await
        .unwrap();
    let third = events_until(&mut ws, is_turn_completed).await;
    assert_eq!(
        turn_end(&third),
        (TurnEndReason::Completed, None),
        "Modal is back"
    );
    server.shutdown().await;
}

/// Starts the real binary with its sandboxes on `standin`.
async fn spawn_on_modal(
    data_dir: &std::path::Path,
    model: &ScriptedModelServer,
    standin: &ModalStandIn,
) -> (tokio::process::Child, String) {
    let store = format!("sqlite://{}/runtime.db", data_dir.display());
    let model_url = model.base_url();
    let (url, id, secret) = (
        standin.url(),
        standin.token_id().to_owned(),
        standin.token_secret().to_owned(),
    );
    spawn_serve("modal", |command| {
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--store", &store])
            .arg("--tools-dir")
            .arg(tools_dir())
            .args(["--anthropic-base-url", &model_url])
            .args(["--sandbox", "modal", "--modal-server-url", &url])
            .env("MODAL_TOKEN_ID", id)
            .env("MODAL_TOKEN_SECRET", secret)
            .env("ANTHROPIC_API_KEY", "sk-test-never-shown");
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runtime_killed_with_modal_sandboxes_running_leaves_none_behind_once_restarted() {
    let (standin, _standin_dir) = start_standin().await;
    let model = ScriptedModelServer::start(slow_scenario()).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    let data_dir = dir.path().join("data");
    let (mut child, url) = spawn_on_modal(&data_dir, &model, &standin).await;
    let client = Client::new(&url);
    let mut sessions = Vec::new();
    for _ in 0..2 {
        let request = CreateSessionRequest {
            agent: Some("claude-code".into()),
            ..Default::default()
        };
        sessions.push(
            within(client.create_session(&request))
                .await
                .unwrap()
                .session_id,
        );
    }
    let mut ws = within(client.connect_ws(WsAuth::None)).await.unwrap();
    for session_id in &sessions {
        within(ws.subscribe(session_id, 0)).await.unwrap();
        within(ws.send_message(session_id, "slow please", None))
            .await
            .unwrap();
    }
    let mut started = 0;
    events_until(&mut ws, |e| {
        started += usize::from(matches!(e.event, SessionEvent::TextDelta { .. }));
        started >= 4
    })
    .await;
    let install = install_id(&data_dir);
    let running = |standin: &ModalStandIn| {
        sandboxes_of(standin, &install)
            .into_iter()
            .filter(SandboxRecord::is_running)
            .count()
    };
    assert_eq!(running(&standin), 2);

    child.start_kill().expect("SIGKILL");
    tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("the binary dies")
        .unwrap();
    drop(ws);
    // Modal's sandboxes do not die with the runtime.
    assert_eq!(running(&standin), 2);

    let (mut restarted, url) = spawn_on_modal(&data_dir, &model, &standin).await;
    // The reconciler runs at start, before the server listens.
    assert_eq!(
        running(&standin),
        0,
        "{:?}",
        sandboxes_of(&standin, &install)
    );
    let metrics = reqwest::get(format!("{url}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("agent_runtime_sandbox_orphans_terminated_total 2"),
        "{metrics}"
    );
    // The sessions work again, in new sandboxes.
    let client = Client::new(&url);
    let mut ws = within(client.connect_ws(WsAuth::None)).await.unwrap();
    within(ws.subscribe(&sessions[0], 0)).await.unwrap();
    within(ws.send_message(&sessions[0], "hello again", None))
        .await
        .unwrap();
    let mut completed_reasons = Vec::new();
    events_until(&mut ws, |e| match &e.event {
        SessionEvent::TurnCompleted { reason, .. } => {
            completed_reasons.push(*reason);
            *reason == TurnEndReason::Completed
        }
        _ => false,
    })
    .await;
    assert_eq!(
        completed_reasons,
        [TurnEndReason::Interrupted, TurnEndReason::Completed]
    );
    assert_eq!(running(&standin), 1);
    restarted.start_kill().ok();
    restarted.wait().await.ok();
}

/// Starts a session of Claude Code under `profile`, sends one message and returns how the turn
/// ended and the session's snapshot.
async fn one_turn_under_profile(
    server: &TestServer,
    profile: &str,
) -> (
    (TurnEndReason, Option<String>),
    agent_runtime_protocol::SessionSnapshot,
) {
    let request = CreateSessionRequest {
        agent: Some("claude-code".into()),
        profile: Some(profile.into()),
        ..Default::default()
    };
    let session_id = within(server.client().create_session(&request))
        .await
        .unwrap()
        .session_id;
    let mut ws = server.ws().await;
    within(ws.subscribe(&session_id, 0)).await.unwrap();
    within(ws.send_message(&session_id, "hello", None))
        .await
        .unwrap();
    let events = events_until(&mut ws, is_turn_completed).await;
    let snapshot = within(server.client().get_session(&session_id))
        .await
        .unwrap();
    (turn_end(&events), snapshot)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_names_where_its_sessions_run_and_a_place_the_server_lacks_is_a_clear_error() {
    let (standin, _dir) = start_standin().await;
    let model = ScriptedModelServer::start(demo_scenario()).await.unwrap();
    // Local by default; Modal available because its token is given.
    let server = TestServer::start_with(|c| {
        agent_config(c, &model, Setup::CLAUDE_SQLITE);
        use_modal(c, &standin);
        c.placement.default = SandboxProviderKind::Local;
    })
    .await;
    let on_modal = agent_runtime_protocol::AgentProfile {
        id: "on-modal".into(),
        sandbox: agent_runtime_protocol::SandboxSettings {
            provider: Some(SandboxProviderKind::Modal),
            ..Default::default()
        },
        ..Default::default()
    };
    within(server.client().put_profile(&on_modal))
        .await
        .unwrap();
    let plain = agent_runtime_protocol::AgentProfile {
        id: "plain".into(),
        ..Default::default()
    };
    within(server.client().put_profile(&plain)).await.unwrap();

    let (end, snapshot) = one_turn_under_profile(&server, "on-modal").await;
    assert_eq!(end, (TurnEndReason::Completed, None));
    assert_eq!(
        snapshot.state.runtime.sandbox_provider,
        Some(SandboxProviderKind::Modal)
    );
    let install = install_id(&server.config().data_dir);
    assert_eq!(sandboxes_of(&standin, &install).len(), 1);

    let (end, snapshot) = one_turn_under_profile(&server, "plain").await;
    assert_eq!(end, (TurnEndReason::Completed, None));
    assert_eq!(
        snapshot.state.runtime.sandbox_provider,
        Some(SandboxProviderKind::Local)
    );
    assert_eq!(
        sandboxes_of(&standin, &install).len(),
        1,
        "nothing more on Modal"
    );
    server.shutdown().await;

    // A server without Modal: the profile's sessions fail with the reason, and nothing else.
    let local_only =
        TestServer::start_with(|c| agent_config(c, &model, Setup::CLAUDE_SQLITE)).await;
    within(local_only.client().put_profile(&on_modal))
        .await
        .unwrap();
    let ((reason, message), _) = one_turn_under_profile(&local_only, "on-modal").await;
    assert_eq!(reason, TurnEndReason::Error);
    let message = message.unwrap_or_default();
    assert!(
        message.contains("no modal sandbox provider"),
        "the error says why: {message}"
    );
    local_only.shutdown().await;
}
