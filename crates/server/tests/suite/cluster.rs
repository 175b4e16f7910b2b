//! Several `agent-runtime serve` nodes over one PostgreSQL database, as real processes on
//! loopback ports: WebSocket and SSE clients spread over the nodes, messages sent through
//! different nodes (forwarded to the session's owner), the owner killed with `kill -9` mid-turn
//! and another node taking over, a paused owner fenced off. See `docs/scaling.md`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use agent_runtime_client::{Client, ClientError, WsAuth};
use agent_runtime_protocol::{
    CreateSessionRequest, Envelope, IfBusy, SandboxState, SendMessageRequest, ServerFrame,
    SessionEvent, TurnEndReason,
};
use agent_runtime_store::contract::postgres::TestDatabase;
use agent_runtime_store::{PostgresStore, SessionStore};
use agent_runtime_testkit::ScriptedModelServer;
use pretty_assertions::assert_eq;
use tokio::process::Child;
use tokio_util::sync::CancellationToken;

use super::agent::*;
use super::support::*;

const SECRET: &str = "cluster-test-secret-0123456789";
/// Short, so that a takeover happens within the test's patience.
const LEASE_TTL: &str = "4s";
/// How long a client waits for the cluster to get somewhere (a takeover included).
const CLUSTER_WAIT: Duration = Duration::from_secs(90);

/// One node: its process, its URL, and its data dir (kept across a restart).
struct Node {
    id: &'static str,
    child: Child,
    url: String,
    data_dir: PathBuf,
}

struct Cluster {
    db: TestDatabase,
    model: ScriptedModelServer,
    _dir: tempfile::TempDir,
    root: PathBuf,
}

impl Cluster {
    async fn new() -> Self {
        Cluster::with_scenario(slow_scenario()).await
    }

    async fn with_scenario(scenario: agent_runtime_testkit::Scenario) -> Self {
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
        Cluster {
            db: TestDatabase::create().await,
            model: ScriptedModelServer::start(scenario).await.unwrap(),
            root: dir.path().to_path_buf(),
            _dir: dir,
        }
    }

    async fn node(&self, id: &'static str) -> Node {
        let data_dir = self.root.join(id);
        let (child, url) = spawn_node(id, &data_dir, self.db.url(), &self.model).await;
        Node {
            id,
            child,
            url,
            data_dir,
        }
    }

    async fn store(&self) -> PostgresStore {
        PostgresStore::connect(self.db.url()).await.unwrap()
    }

    /// The node that owns `session_id` according to the database.
    async fn owner(&self, session_id: &str) -> Option<String> {
        let store = self.store().await;
        let owner = store
            .cluster()
            .expect("cluster")
            .owner(session_id)
            .await
            .unwrap();
        store.close().await;
        owner
    }
}

async fn spawn_node(
    id: &'static str,
    data_dir: &Path,
    store_url: &str,
    model: &ScriptedModelServer,
) -> (Child, String) {
    let model_url = model.base_url();
    spawn_serve(id, |command| {
        command
            .arg("--data-dir")
            .arg(data_dir)
            .args(["--store", store_url])
            .arg("--tools-dir")
            .arg(tools_dir())
            .args(["--anthropic-base-url", &model_url])
            .env("ANTHROPIC_API_KEY", "sk-test-never-shown")
            .args(["--node-id", id, "--cluster-secret", SECRET])
            .args(["--lease-ttl", LEASE_TTL]);
    })
    .await
}

impl Node {
    fn client(&self) -> Client {
        Client::new(&self.url)
    }

    /// A counter of the node's `/metrics`; a missing one fails the test.
    async fn metric(&self, name: &str) -> f64 {
        let samples = super::metrics::scrape_client(&self.client()).await;
        *samples
            .get(name)
            .unwrap_or_else(|| panic!("{} has no {name}", self.id))
    }

    fn pid(&self) -> i32 {
        self.child.id().expect("running") as i32
    }

    async fn kill_9(&mut self) {
        self.child.start_kill().expect("SIGKILL");
        tokio::time::timeout(Duration::from_secs(10), self.child.wait())
            .await
            .expect("the node dies")
            .unwrap();
    }

    async fn restart(&mut self, cluster: &Cluster) {
        let (child, url) =
            spawn_node(self.id, &self.data_dir, cluster.db.url(), &cluster.model).await;
        self.child = child;
        self.url = url;
    }
}

fn signal(pid: i32, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal} {pid}");
}

#[derive(Clone, Copy, Debug)]
enum Transport {
    WebSocket,
    Sse,
}

/// A client following a session from its first event: through `urls[0]`, and when that node
/// goes away, through the next one, resuming after the last seq it saw.
struct Watcher {
    name: String,
    seen: Arc<Mutex<Vec<Envelope>>>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl Watcher {
    fn start(name: &str, transport: Transport, urls: Vec<String>, session_id: &str) -> Watcher {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = CancellationToken::new();
        let task = tokio::spawn(follow(
            name.to_string(),
            transport,
            urls,
            session_id.to_string(),
            seen.clone(),
            stop.clone(),
        ));
        Watcher {
            name: name.to_string(),
            seen,
            stop,
            task,
        }
    }

    fn events(&self) -> Vec<Envelope> {
        self.seen.lock().unwrap().clone()
    }

    /// Waits until the watcher saw an event that satisfies `done`; returns it.
    async fn wait_for(&self, what: &str, done: impl Fn(&Envelope) -> bool) -> Envelope {
        self.wait_until(what, |events| events.iter().any(&done))
            .await;
        self.events().into_iter().find(|e| done(e)).expect("found")
    }

    /// Waits until what the watcher saw satisfies `done`.
    async fn wait_until(&self, what: &str, done: impl Fn(&[Envelope]) -> bool) {
        let deadline = Instant::now() + CLUSTER_WAIT;
        loop {
            if done(&self.events()) {
                return;
            }
            assert!(
                !self.task.is_finished(),
                "{}: the watcher ended before {what}",
                self.name
            );
            assert!(
                Instant::now() < deadline,
                "{}: no {what} within {CLUSTER_WAIT:?}; saw {} events",
                self.name,
                self.events().len()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    async fn finish(self) -> (String, Vec<Envelope>) {
        self.stop.cancel();
        self.task.await.expect("the watcher did not panic");
        let seen = self.seen.lock().unwrap().clone();
        (self.name, seen)
    }
}

async fn follow(
    name: String,
    transport: Transport,
    urls: Vec<String>,
    session_id: String,
    seen: Arc<Mutex<Vec<Envelope>>>,
    stop: CancellationToken,
) {
    // Bounded: a node that is down is retried at most this many times in all.
    for attempt in 0..600 {
        let url = &urls[attempt % urls.len()];
        let since = seen.lock().unwrap().last().map_or(0, |e| e.seq);
        let push = |envelope: Envelope| seen.lock().unwrap().push(envelope);
        let ended = tokio::select! {
            _ = stop.cancelled() => return,
            ended = read_from(transport, url, &session_id, since, push) => ended,
        };
        if let Err(why) = ended {
            eprintln!("[{name}] {url}: {why}; reconnecting");
        }
        tokio::select! {
            _ = stop.cancelled() => return,
            _ = tokio::time::sleep(Duration::from_millis(200)) => {}
        }
    }
    panic!("{name}: gave up reconnecting");
}

/// Reads events after `since` until the connection ends (an error names why).
async fn read_from(
    transport: Transport,
    url: &str,
    session_id: &str,
    since: u64,
    mut push: impl FnMut(Envelope),
) -> Result<(), String> {
    let client = Client::new(url);
    match transport {
        Transport::WebSocket => {
            let mut ws = client
                .connect_ws(WsAuth::None)
                .await
                .map_err(|e| e.to_string())?;
            ws.subscribe(session_id, since)
                .await
                .map_err(|e| e.to_string())?;
            loop {
                match ws.next_frame().await {
                    Some(ServerFrame::Event { envelope }) => push(envelope),
                    Some(ServerFrame::ResyncRequired { reason, .. }) => {
                        panic!("resync on {url}: {reason}")
                    }
                    Some(ServerFrame::Result { .. }) => {}
                    None => return Err("closed".into()),
                }
            }
        }
        Transport::Sse => {
            let mut sse = client
                .events(session_id, since)
                .await
                .map_err(|e| e.to_string())?;
            loop {
                match sse.next_event().await {
                    Some(Ok(event)) if event.event.as_deref() == Some("resync_required") => {
                        panic!("resync on {url}: {}", event.data)
                    }
                    Some(Ok(event)) => {
                        // Other event types carry no envelope.
                        if let Ok(envelope) = event.envelope() {
                            push(envelope)
                        }
                    }
                    Some(Err(e)) => return Err(e.to_string()),
                    None => return Err("closed".into()),
                }
            }
        }
    }
}

fn send(text: &str, if_busy: Option<IfBusy>) -> SendMessageRequest {
    SendMessageRequest {
        text: text.into(),
        if_busy,
        client_message_id: None,
    }
}

/// Text deltas after the start of the turn `turn_id`.
fn deltas_after(events: &[Envelope], turn_id: &str) -> usize {
    events
        .iter()
        .skip_while(
            |e| !matches!(&e.event, SessionEvent::TurnStarted { turn_id: t, .. } if t == turn_id),
        )
        .filter(|e| matches!(e.event, SessionEvent::TextDelta { .. }))
        .count()
}

fn completes(turn_id: &str, reason: TurnEndReason) -> impl Fn(&Envelope) -> bool + '_ {
    move |e| {
        matches!(&e.event, SessionEvent::TurnCompleted { turn_id: t, reason: r, .. }
            if t == turn_id && *r == reason)
    }
}

/// Every client saw the same gapless log, with no duplicates, equal to the store's.
fn assert_same_gapless_log(stored: &[Envelope], watchers: &[(String, Vec<Envelope>)]) {
    let expected: Vec<u64> = (1..=stored.len() as u64).collect();
    assert_eq!(
        stored.iter().map(|e| e.seq).collect::<Vec<_>>(),
        expected,
        "the stored log is gapless"
    );
    for (name, seen) in watchers {
        assert_eq!(
            seen.iter().map(|e| e.seq).collect::<Vec<_>>(),
            expected,
            "{name} saw every seq once, in order"
        );
        for (got, want) in seen.iter().zip(stored) {
            assert_eq!(
                got, want,
                "{name}: event {} differs from the store's",
                want.seq
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_serve_one_session_and_survive_the_owner_killed_mid_turn() {
    let cluster = Cluster::new().await;
    let mut a = cluster.node("a").await;
    let mut b = cluster.node("b").await;
    let c = cluster.node("c").await;

    let request = CreateSessionRequest {
        agent: Some("claude-code".into()),
        ..Default::default()
    };
    let session = within(a.client().create_session(&request)).await.unwrap();
    let id = session.session_id.as_str();
    let urls = |first: &Node, rest: &[&Node]| {
        std::iter::once(first.url.clone())
            .chain(rest.iter().map(|n| n.url.clone()))
            .collect::<Vec<_>>()
    };
    let watchers = vec![
        Watcher::start("ws@a", Transport::WebSocket, urls(&a, &[&c]), id),
        Watcher::start("ws@b", Transport::WebSocket, urls(&b, &[&c, &a]), id),
        Watcher::start("sse@b", Transport::Sse, urls(&b, &[&a]), id),
        Watcher::start("sse@c", Transport::Sse, urls(&c, &[&a]), id),
    ];

    // A first turn through b: nobody owns the idle session, so b takes it and runs it.
    let first = within(b.client().send_message(id, &send("first words", None)))
        .await
        .unwrap();
    for w in &watchers {
        w.wait_for(
            "the first turn's end",
            completes(&first.turn_id, TurnEndReason::Completed),
        )
        .await;
    }
    assert_eq!(
        cluster.owner(id).await.as_deref(),
        Some("b"),
        "b keeps its sandbox"
    );

    // Workspace files written and deleted through other nodes go to b (into its sandbox too).
    within(
        c.client()
            .write_file(id, "notes/from-c.txt", "written through c"),
    )
    .await
    .unwrap();
    within(
        c.client()
            .write_file(id, "notes/gone.txt", "to be deleted through a"),
    )
    .await
    .unwrap();
    within(a.client().delete_file(id, "notes/gone.txt"))
        .await
        .unwrap();
    let read = within(a.client().read_file(id, "notes/from-c.txt"))
        .await
        .unwrap();
    assert_eq!(&read[..], b"written through c");
    let listed = within(b.client().list_files(id)).await.unwrap();
    assert_eq!(
        listed.iter().map(|f| f.path.as_str()).collect::<Vec<_>>(),
        ["notes/from-c.txt"]
    );

    // A slow turn sent through c's WebSocket runs at b, the owner; a message through a's REST
    // API while it runs gets the one-node answer (409 session_busy), from the owner; so does a
    // second one over c's WebSocket.
    let mut ws_c = within(c.client().connect_ws(WsAuth::None)).await.unwrap();
    let slow = within(ws_c.send_message(id, "slow please", None))
        .await
        .unwrap();
    // As a browser on a's page sends it: a's edge checks the Origin, the owner does not see it.
    let busy = within(
        reqwest::Client::new()
            .post(format!("{}/api/sessions/{id}/messages", a.url))
            .header("origin", &a.url)
            .json(&send("me too", Some(IfBusy::Reject)))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(busy.status(), 409);
    let problem: agent_runtime_protocol::Problem = busy.json().await.unwrap();
    assert_eq!(problem.code, "session_busy");
    match within(ws_c.send_message(id, "me three", Some(IfBusy::Reject))).await {
        Err(ClientError::Api { status, problem }) => {
            assert_eq!((status, problem.code.as_str()), (409, "session_busy"))
        }
        other => panic!("expected session_busy over the WebSocket, got {other:?}"),
    }
    assert_eq!(
        cluster.owner(id).await.as_deref(),
        Some("b"),
        "forwarded, not taken"
    );
    watchers[0]
        .wait_until("ten deltas of the slow turn", |events| {
            deltas_after(events, &slow.turn_id) >= 10
        })
        .await;
    let before_kill: Vec<Vec<Envelope>> = watchers.iter().map(Watcher::events).collect();

    // The owner dies mid-turn. Another node takes the session over and closes the turn.
    let killed = Instant::now();
    b.kill_9().await;
    for w in &watchers {
        w.wait_for(
            "the slow turn closed as interrupted",
            completes(&slow.turn_id, TurnEndReason::Interrupted),
        )
        .await;
    }
    eprintln!(
        "takeover: the killed owner's turn was closed {} ms after kill -9 (lease TTL {LEASE_TTL})",
        killed.elapsed().as_millis()
    );
    assert_ne!(cluster.owner(id).await.as_deref(), Some("b"));
    let takeovers = a.metric("agent_runtime_cluster_takeovers_total").await
        + c.metric("agent_runtime_cluster_takeovers_total").await;
    assert_eq!(takeovers, 1.0, "one of a and c took the session over");
    // c forwarded two file writes, the slow turn and the second message over its WebSocket;
    // a the file delete and the REST message.
    assert_eq!(c.metric("agent_runtime_cluster_forwarded_total").await, 4.0);
    assert_eq!(a.metric("agent_runtime_cluster_forwarded_total").await, 2.0);

    // The next message resumes the conversation in a fresh sandbox on a live node.
    let third = within(a.client().send_message(id, &send("hello again", None)))
        .await
        .unwrap();
    for w in &watchers {
        w.wait_for(
            "the third turn's end",
            completes(&third.turn_id, TurnEndReason::Completed),
        )
        .await;
    }

    // b comes back under its id (its registration expired with it).
    b.restart(&cluster).await;
    let store = cluster.store().await;
    let stored = store.read_events(id, 0, 100_000).await.unwrap();
    let last = stored.last().expect("events").seq;
    for w in &watchers {
        w.wait_for("the last event", |e| e.seq == last).await;
    }
    let snapshots = [
        within(a.client().get_session(id)).await.unwrap(),
        within(b.client().get_session(id)).await.unwrap(),
        within(c.client().get_session(id)).await.unwrap(),
    ];
    assert_eq!(snapshots[0].state.seq, last);
    assert_eq!(snapshots[0], snapshots[1], "a and b agree");
    assert_eq!(snapshots[0], snapshots[2], "a and c agree");

    let mut seen = Vec::new();
    for w in watchers {
        seen.push(w.finish().await);
    }
    assert_same_gapless_log(&stored, &seen);
    // Nothing a client saw before the kill was lost or changed.
    for events in before_kill {
        for e in events {
            assert_eq!(&stored[(e.seq - 1) as usize], &e);
        }
    }
    store.close().await;
    a.kill_9().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paused_owner_is_fenced_off_and_steps_down() {
    let cluster = Cluster::new().await;
    let mut a = cluster.node("a").await;
    let mut b = cluster.node("b").await;
    let request = CreateSessionRequest {
        agent: Some("claude-code".into()),
        ..Default::default()
    };
    let session = within(a.client().create_session(&request)).await.unwrap();
    let id = session.session_id.as_str();
    let watcher = Watcher::start("ws@b", Transport::WebSocket, vec![b.url.clone()], id);

    let slow = within(a.client().send_message(id, &send("slow please", None)))
        .await
        .unwrap();
    watcher
        .wait_until("deltas of the slow turn", |events| {
            deltas_after(events, &slow.turn_id) >= 5
        })
        .await;
    assert_eq!(cluster.owner(id).await.as_deref(), Some("a"));

    // a stops (SIGSTOP) past its lease; b takes over and closes the turn.
    signal(a.pid(), "STOP");
    let closed = watcher
        .wait_for(
            "the paused owner's turn closed by b",
            completes(&slow.turn_id, TurnEndReason::Interrupted),
        )
        .await;
    // a resumes with the agent's output still streaming in: the store refuses every append it
    // tries, and it steps down.
    signal(a.pid(), "CONT");
    tokio::time::sleep(Duration::from_secs(3)).await;
    let store = cluster.store().await;
    let after: Vec<Envelope> = store.read_events(id, closed.seq, 10_000).await.unwrap();
    // The takeover's own batch ends with the sandbox marked stopped; nothing of a's follows.
    assert!(
        after.iter().all(|e| matches!(
            e.event,
            SessionEvent::Status {
                sandbox: SandboxState::Stopped,
                provider: None,
            }
        )),
        "nothing may be appended after the takeover closed the turn: {:?}",
        after
            .iter()
            .map(|e| event_type(&e.event))
            .collect::<Vec<_>>()
    );

    assert!(a.metric("agent_runtime_cluster_step_downs_total").await >= 1.0);
    assert_eq!(b.metric("agent_runtime_cluster_takeovers_total").await, 1.0);

    // a registered again and serves the session like any node.
    let next = within(a.client().send_message(id, &send("hello again", None)))
        .await
        .unwrap();
    watcher
        .wait_for(
            "the next turn's end",
            completes(&next.turn_id, TurnEndReason::Completed),
        )
        .await;
    let stored = store.read_events(id, 0, 100_000).await.unwrap();
    let last = stored.last().expect("events").seq;
    watcher.wait_for("the last event", |e| e.seq == last).await;
    let seen = vec![watcher.finish().await];
    assert_same_gapless_log(&stored, &seen);
    store.close().await;
    a.kill_9().await;
    b.kill_9().await;
}

/// A permission request and a question of an agent running on a are answered through b, over
/// REST and over b's WebSocket, and a turn running on a is interrupted through b: the answers
/// reach the agent on a, whose turns end as they would on one node.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_are_answered_through_any_node() {
    use super::approvals::support::{approvals_scenario, asking, APPROVED_FILE};
    use agent_runtime_protocol::{AnswerQuestionRequest, QuestionAnswer};

    let cluster = Cluster::with_scenario(approvals_scenario()).await;
    let mut a = cluster.node("a").await;
    let mut b = cluster.node("b").await;
    let session = within(a.client().create_session(&asking())).await.unwrap();
    let id = session.session_id.as_str();
    let watcher = Watcher::start("ws@b", Transport::WebSocket, vec![b.url.clone()], id);

    let touch = within(a.client().send_message(id, &send("touch it please", None)))
        .await
        .unwrap();
    let asked = watcher
        .wait_for("the permission request", |e| {
            matches!(e.event, SessionEvent::PermissionRequested(_))
        })
        .await;
    let SessionEvent::PermissionRequested(permission) = asked.event else {
        unreachable!()
    };
    assert_eq!(cluster.owner(id).await.as_deref(), Some("a"));
    let answered = within(
        reqwest::Client::new()
            .post(format!(
                "{}/api/sessions/{id}/permissions/{}",
                b.url, permission.request_id
            ))
            .json(&serde_json::json!({"decision": "allow"}))
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(answered.status(), 200);
    watcher
        .wait_for(
            "the allowed turn's end",
            completes(&touch.turn_id, TurnEndReason::Completed),
        )
        .await;
    // The agent on a ran the command: its file is in the workspace, read through b.
    within(b.client().read_file(id, APPROVED_FILE))
        .await
        .expect("the allowed command ran");

    // A question, the message and the answer both over b's WebSocket.
    let mut ws_b = within(b.client().connect_ws(WsAuth::None)).await.unwrap();
    let color = within(ws_b.send_message(id, "ask me for a color", None))
        .await
        .unwrap();
    let asked = watcher
        .wait_for("the question", |e| {
            matches!(e.event, SessionEvent::QuestionRequested(_))
        })
        .await;
    let SessionEvent::QuestionRequested(question) = asked.event else {
        unreachable!()
    };
    let answer = AnswerQuestionRequest {
        answers: std::collections::BTreeMap::from([(
            "Which color?".to_string(),
            QuestionAnswer::One("Blue".into()),
        )]),
    };
    let resolution = within(ws_b.answer_question(id, &question.request_id, answer))
        .await
        .unwrap();
    assert_eq!(resolution.request_id, question.request_id);
    watcher
        .wait_for(
            "the question's turn end",
            completes(&color.turn_id, TurnEndReason::Completed),
        )
        .await;
    // A turn streaming on a is interrupted over b's WebSocket.
    let slow = within(a.client().send_message(id, &send("answer slowly", None)))
        .await
        .unwrap();
    watcher
        .wait_until("the slow turn streaming", |events| {
            deltas_after(events, &slow.turn_id) >= 3
        })
        .await;
    let interrupted = within(ws_b.interrupt(id)).await.unwrap();
    assert_eq!(interrupted.turn_id.as_deref(), Some(slow.turn_id.as_str()));
    watcher
        .wait_for(
            "the interrupted turn's end",
            completes(&slow.turn_id, TurnEndReason::Interrupted),
        )
        .await;
    // b forwarded the REST answer, the WebSocket message, answer and interrupt.
    assert_eq!(b.metric("agent_runtime_cluster_forwarded_total").await, 4.0);
    watcher.finish().await;
    a.kill_9().await;
    b.kill_9().await;
}

/// The hop header is authentication only with the cluster's secret: a client that forges one
/// is refused like any client without a key.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forged_hop_header_is_refused() {
    let cluster = Cluster::new().await;
    let data_dir = cluster.root.join("k");
    let (mut child, url) = spawn_serve("k", |command| {
        command
            .arg("--data-dir")
            .arg(&data_dir)
            .args(["--store", cluster.db.url(), "--api-key", "the-real-key"])
            .args(["--node-id", "k", "--cluster-secret", SECRET]);
    })
    .await;
    let http = reqwest::Client::new();
    let sessions = format!("{url}/api/sessions");
    for forged in ["", "guess", "cluster-test-secret-012345678", "the-real-key"] {
        let response = within(
            http.get(&sessions)
                .header("x-agent-runtime-hop", forged)
                .send(),
        )
        .await
        .unwrap();
        assert_eq!(response.status(), 401, "hop header {forged:?}");
    }
    let response = within(
        http.get(&sessions)
            .header("x-agent-runtime-hop", SECRET)
            .send(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), 200, "a node's own hop");
    child.start_kill().unwrap();
    let _ = child.wait().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_id_that_is_live_is_refused_at_start() {
    let cluster = Cluster::new().await;
    let mut a = cluster.node("a").await;
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_agent-runtime"))
        .arg("serve")
        .args(["--port", "0", "--skip-install"])
        .arg("--data-dir")
        .arg(cluster.root.join("a2"))
        .args(["--store", cluster.db.url()])
        .args(["--node-id", "a", "--cluster-secret", SECRET])
        .env("AGENT_RUNTIME_WARM_POOL", "0")
        .output();
    let output = tokio::time::timeout(Duration::from_secs(60), output)
        .await
        .expect("the second process exits")
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("already live"), "{stderr}");

    // Several nodes need PostgreSQL: a node id on SQLite is refused with the reason.
    let output = tokio::process::Command::new(env!("CARGO_BIN_EXE_agent-runtime"))
        .arg("serve")
        .args(["--port", "0", "--skip-install", "--store", "memory"])
        .arg("--data-dir")
        .arg(cluster.root.join("m"))
        .args(["--node-id", "m", "--cluster-secret", SECRET])
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("PostgreSQL"), "{stderr}");
    a.kill_9().await;
}
