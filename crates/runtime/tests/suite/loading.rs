//! Loading, unloading and start-up: a slow load does not hold up other sessions, a quiet
//! session without subscribers or sandbox leaves memory and comes back unchanged, and start-up
//! visits only the sessions the store lists as open, closing what a crash left running.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use agent_runtime_agents::AgentKind;
use agent_runtime_core::{Runtime, RuntimeError};
use agent_runtime_protocol::{
    Envelope, PermissionRequest, SandboxState, SessionEvent, SessionInfo, SessionStatus,
    TurnEndReason,
};
use agent_runtime_store::{
    AgentProfile, FileInfo, MemoryStore, SessionPage, SessionRecord, SessionStore, TranscriptMeta,
};
use agent_runtime_testkit::{demo_scenario, ScriptedModelServer};
use async_trait::async_trait;
use pretty_assertions::assert_eq;
use tokio::sync::watch;

use super::support::*;
use super::turns::message;

/// A store that counts how often each session's log is read from its start (a load), and can
/// hold such reads of one session until released.
struct WatchedStore {
    inner: MemoryStore,
    loads: Mutex<BTreeMap<String, usize>>,
    /// The session whose loads wait, and whether they may go on.
    gate: Mutex<Option<(String, watch::Receiver<bool>)>>,
    /// Loads waiting at the gate.
    waiting: watch::Sender<usize>,
}

type StoreResult<T> = agent_runtime_store::Result<T>;

impl WatchedStore {
    fn new() -> Arc<Self> {
        Arc::new(WatchedStore {
            inner: MemoryStore::new(),
            loads: Mutex::new(BTreeMap::new()),
            gate: Mutex::new(None),
            waiting: watch::channel(0).0,
        })
    }

    /// Holds loads of `session_id` until the returned sender sends `true`.
    fn hold(&self, session_id: &str) -> watch::Sender<bool> {
        let (open, rx) = watch::channel(false);
        *self.gate.lock().unwrap() = Some((session_id.to_string(), rx));
        open
    }

    fn loads(&self) -> BTreeMap<String, usize> {
        self.loads.lock().unwrap().clone()
    }

    /// A stored session of Claude Code, never loaded.
    async fn add_session(&self, id: &str, created_at: &str) {
        let info = SessionInfo {
            session_id: id.into(),
            agent: AgentKind::ClaudeCode.id().into(),
            profile: None,
            name: None,
            created_at: created_at.into(),
            updated_at: created_at.into(),
            status: Default::default(),
        };
        self.inner
            .create_session(&SessionRecord::new(info))
            .await
            .unwrap();
    }

    async fn append(&self, id: &str, events: Vec<SessionEvent>) {
        let batch: Vec<(String, SessionEvent)> = events
            .into_iter()
            .map(|e| ("2026-01-01T00:00:01.000Z".to_string(), e))
            .collect();
        self.inner.append_events(id, &batch).await.unwrap();
    }
}

#[async_trait]
impl SessionStore for WatchedStore {
    fn backend(&self) -> &'static str {
        "watched-memory"
    }
    async fn create_session(&self, record: &SessionRecord) -> StoreResult<()> {
        self.inner.create_session(record).await
    }
    async fn get_session(&self, session_id: &str) -> StoreResult<Option<SessionRecord>> {
        self.inner.get_session(session_id).await
    }
    async fn list_sessions(&self, cursor: Option<&str>, limit: usize) -> StoreResult<SessionPage> {
        self.inner.list_sessions(cursor, limit).await
    }
    async fn update_session(&self, record: &SessionRecord) -> StoreResult<()> {
        self.inner.update_session(record).await
    }
    async fn delete_session(&self, session_id: &str) -> StoreResult<bool> {
        self.inner.delete_session(session_id).await
    }
    async fn set_open(&self, session_id: &str, open: bool) -> StoreResult<()> {
        self.inner.set_open(session_id, open).await
    }
    async fn list_open(&self, after: Option<&str>, limit: usize) -> StoreResult<Vec<String>> {
        self.inner.list_open(after, limit).await
    }
    async fn append_events(
        &self,
        session_id: &str,
        events: &[(String, SessionEvent)],
    ) -> StoreResult<Vec<Envelope>> {
        self.inner.append_events(session_id, events).await
    }
    async fn read_events(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> StoreResult<Vec<Envelope>> {
        if after_seq == 0 {
            *self
                .loads
                .lock()
                .unwrap()
                .entry(session_id.to_string())
                .or_default() += 1;
            let gate = self.gate.lock().unwrap().clone();
            if let Some((_, mut open)) = gate.filter(|(held, _)| held == session_id) {
                self.waiting.send_modify(|n| *n += 1);
                let _ = open.wait_for(|open| *open).await;
                self.waiting.send_modify(|n| *n -= 1);
            }
        }
        self.inner.read_events(session_id, after_seq, limit).await
    }
    async fn last_seq(&self, session_id: &str) -> StoreResult<u64> {
        self.inner.last_seq(session_id).await
    }
    async fn put_transcript(
        &self,
        session_id: &str,
        name: &str,
        content: &[u8],
    ) -> StoreResult<TranscriptMeta> {
        self.inner.put_transcript(session_id, name, content).await
    }
    async fn get_transcript(&self, session_id: &str, name: &str) -> StoreResult<Option<Vec<u8>>> {
        self.inner.get_transcript(session_id, name).await
    }
    async fn list_transcripts(&self, session_id: &str) -> StoreResult<Vec<TranscriptMeta>> {
        self.inner.list_transcripts(session_id).await
    }
    async fn delete_transcript(&self, session_id: &str, name: &str) -> StoreResult<bool> {
        self.inner.delete_transcript(session_id, name).await
    }
    async fn put_file(
        &self,
        session_id: &str,
        path: &str,
        content: &[u8],
    ) -> StoreResult<FileInfo> {
        self.inner.put_file(session_id, path, content).await
    }
    async fn get_file(&self, session_id: &str, path: &str) -> StoreResult<Option<Vec<u8>>> {
        self.inner.get_file(session_id, path).await
    }
    async fn list_files(&self, session_id: &str) -> StoreResult<Vec<FileInfo>> {
        self.inner.list_files(session_id).await
    }
    async fn delete_file(&self, session_id: &str, path: &str) -> StoreResult<bool> {
        self.inner.delete_file(session_id, path).await
    }
    async fn put_profile(&self, profile: &AgentProfile) -> StoreResult<()> {
        self.inner.put_profile(profile).await
    }
    async fn get_profile(&self, id: &str) -> StoreResult<Option<AgentProfile>> {
        self.inner.get_profile(id).await
    }
    async fn list_profiles(&self) -> StoreResult<Vec<AgentProfile>> {
        self.inner.list_profiles().await
    }
    async fn delete_profile(&self, id: &str) -> StoreResult<bool> {
        self.inner.delete_profile(id).await
    }
    async fn close(&self) {
        self.inner.close().await
    }
}

/// A runtime over `store` whose quiet sessions unload after `unload_after`.
async fn runtime_on(
    store: Arc<WatchedStore>,
    unload_after: Option<Duration>,
) -> (Arc<Runtime>, ScriptedModelServer, tempfile::TempDir) {
    let data = tempfile::Builder::new()
        .prefix("art-")
        .tempdir()
        .expect("temp data dir");
    let model = ScriptedModelServer::start(demo_scenario())
        .await
        .expect("model server");
    let runtime = start_runtime_on(&data, &model, store, |config| {
        config.session_unload_after = unload_after;
    })
    .await;
    (runtime, model, data)
}

/// Waits (at most [`WAIT`]) until `done` holds.
async fn wait_until(what: &str, mut done: impl FnMut() -> bool) {
    let waited = tokio::time::timeout(WAIT, async {
        while !done() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(waited.is_ok(), "timed out waiting until {what}");
}

/// The `agent_runtime_sessions_loaded` gauge of the runtime's metrics.
async fn sessions_loaded(runtime: &Runtime) -> u64 {
    let text = runtime.metrics_text().await;
    text.lines()
        .find_map(|l| l.strip_prefix("agent_runtime_sessions_loaded "))
        .and_then(|v| v.parse().ok())
        .expect("sessions_loaded in the metrics")
}

/// Every event of the session, from a fresh subscription.
async fn all_events(runtime: &Runtime, id: &str) -> Vec<Envelope> {
    let mut sub = runtime.subscribe(id, 0).await.unwrap();
    let latest = sub.latest_seq;
    collect_until(&mut sub, |e| e.seq == latest).await
}

const NEVER: Option<Duration> = None;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_load_does_not_hold_up_other_sessions() {
    let store = WatchedStore::new();
    let (runtime, _model, _data) = runtime_on(store.clone(), NEVER).await;
    store.add_session("slow", "2026-01-01T00:00:00.000Z").await;
    store.add_session("fast", "2026-01-01T00:00:01.000Z").await;
    let release = store.hold("slow");
    let mut waiting = store.waiting.subscribe();

    let slow = {
        let runtime = runtime.clone();
        tokio::spawn(async move { runtime.snapshot("slow").await })
    };
    tokio::time::timeout(WAIT, waiting.wait_for(|n| *n == 1))
        .await
        .expect("the slow load reached the store")
        .unwrap();
    let second = {
        let runtime = runtime.clone();
        tokio::spawn(async move { runtime.snapshot("slow").await })
    };
    // While "slow" is stuck in its load, "fast" loads and answers, and so do unknown ids.
    let fast = tokio::time::timeout(WAIT, runtime.snapshot("fast"))
        .await
        .expect("fast is not held up")
        .unwrap();
    assert_eq!(fast.session.session_id, "fast");
    assert!(matches!(
        runtime.snapshot("no-such-session").await,
        Err(RuntimeError::SessionNotFound(_))
    ));
    assert!(!slow.is_finished());
    assert!(!runtime.is_loaded("slow"));

    release.send(true).unwrap();
    let (slow, second) = (slow.await.unwrap().unwrap(), second.await.unwrap().unwrap());
    assert_eq!(slow, second);
    assert!(runtime.is_loaded("slow"));
    // One load per session, whoever asked.
    assert_eq!(
        store.loads(),
        BTreeMap::from([("fast".to_string(), 1), ("slow".to_string(), 1)])
    );
    assert_eq!(sessions_loaded(&runtime).await, 2);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_quiet_session_unloads_and_comes_back_unchanged() {
    let store = WatchedStore::new();
    let (runtime, _model, _data) =
        runtime_on(store.clone(), Some(Duration::from_millis(200))).await;
    let id = create_session(&runtime, AgentKind::ClaudeCode).await;
    runtime
        .write_file(&id, "notes.md", b"# kept\n".to_vec())
        .await
        .unwrap();
    let before = runtime.snapshot(&id).await.unwrap();
    let events = all_events(&runtime, &id).await;
    assert!(runtime.is_loaded(&id));
    assert_eq!(sessions_loaded(&runtime).await, 1);

    wait_until("the quiet session unloads", || !runtime.is_loaded(&id)).await;
    assert_eq!(sessions_loaded(&runtime).await, 0);
    assert_eq!(
        store.list_open(None, 10).await.unwrap(),
        Vec::<String>::new()
    );

    assert_eq!(runtime.snapshot(&id).await.unwrap(), before);
    assert_eq!(all_events(&runtime, &id).await, events);
    assert_eq!(
        runtime.read_file(&id, "notes.md").await.unwrap(),
        b"# kept\n"
    );
    assert_eq!(store.loads()[&id], 2, "loaded again from the store");
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_with_a_subscriber_or_a_sandbox_stays_loaded() {
    let store = WatchedStore::new();
    let (runtime, _model, _data) =
        runtime_on(store.clone(), Some(Duration::from_millis(300))).await;
    // A session whose sandbox stays up after its turn (the idle timeout is 15 minutes).
    let busy = create_session(&runtime, AgentKind::ClaudeCode).await;
    let mut sub = runtime.subscribe(&busy, 0).await.unwrap();
    runtime
        .send_message(&busy, message("create hello.txt"))
        .await
        .unwrap();
    collect_until(&mut sub, is_turn_completed).await;
    drop(sub);
    assert_eq!(store.list_open(None, 10).await.unwrap(), vec![busy.clone()]);
    // A session somebody follows.
    let followed = create_session(&runtime, AgentKind::ClaudeCode).await;
    let follower = runtime.subscribe(&followed, 0).await.unwrap();
    // Created last, so due last: once it is gone, the others were due too.
    let control = create_session(&runtime, AgentKind::ClaudeCode).await;

    wait_until("the control session unloads", || {
        !runtime.is_loaded(&control)
    })
    .await;
    assert!(runtime.is_loaded(&busy), "its sandbox runs");
    assert!(runtime.is_loaded(&followed), "it has a subscriber");
    assert_eq!(sessions_loaded(&runtime).await, 2);

    drop(follower);
    wait_until("the session nobody follows any more unloads", || {
        !runtime.is_loaded(&followed)
    })
    .await;
    assert!(runtime.is_loaded(&busy));
    assert_eq!(store.list_open(None, 10).await.unwrap(), vec![busy.clone()]);
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_unloading_the_conversation_goes_on() {
    let store = WatchedStore::new();
    let data = tempfile::Builder::new()
        .prefix("art-")
        .tempdir()
        .expect("temp data dir");
    let model = ScriptedModelServer::start(demo_scenario())
        .await
        .expect("model server");
    let runtime = start_runtime_on(&data, &model, store.clone(), |config| {
        config.session_unload_after = Some(Duration::from_millis(200));
        config.idle_timeout = Duration::from_millis(500);
    })
    .await;
    let id = create_session(&runtime, AgentKind::ClaudeCode).await;
    let mut sub = runtime.subscribe(&id, 0).await.unwrap();
    runtime
        .send_message(&id, message("create hello.txt"))
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
    drop(sub);
    let before = runtime.snapshot(&id).await.unwrap();
    let events = all_events(&runtime, &id).await;

    wait_until("the session unloads", || !runtime.is_loaded(&id)).await;
    assert_eq!(
        store.list_open(None, 10).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(runtime.snapshot(&id).await.unwrap(), before);
    assert_eq!(all_events(&runtime, &id).await, events);

    let mut sub = runtime.subscribe(&id, before.state.seq).await.unwrap();
    runtime
        .send_message(&id, message("what did you create?"))
        .await
        .unwrap();
    let next = collect_until(&mut sub, is_turn_completed).await;
    assert_eq!(next.first().map(|e| e.seq), Some(before.state.seq + 1));
    assert!(matches!(
        next.last().map(|e| &e.event),
        Some(SessionEvent::TurnCompleted {
            reason: TurnEndReason::Completed,
            ..
        })
    ));
    runtime.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_up_visits_only_open_sessions_and_closes_a_crashed_turn() {
    let store = WatchedStore::new();
    // Many sessions a previous run left quiet.
    for i in 0..300 {
        let id = format!("quiet-{i:03}");
        store.add_session(&id, "2026-01-01T00:00:00.000Z").await;
        store
            .append(
                &id,
                vec![SessionEvent::Warning {
                    message: format!("event of {id}"),
                    raw: None,
                }],
            )
            .await;
    }
    // A turn a crash left running: marked before it started, never closed.
    store
        .add_session("crashed", "2026-01-01T00:00:00.000Z")
        .await;
    store.set_open("crashed", true).await.unwrap();
    store
        .append(
            "crashed",
            vec![SessionEvent::TurnStarted {
                turn_id: "turn-1".into(),
                user_block_id: "user-1".into(),
            }],
        )
        .await;
    // A permission request waiting for a person.
    store
        .add_session("waiting", "2026-01-01T00:00:00.000Z")
        .await;
    store.set_open("waiting", true).await.unwrap();
    store
        .append(
            "waiting",
            vec![
                SessionEvent::TurnStarted {
                    turn_id: "turn-1".into(),
                    user_block_id: "user-1".into(),
                },
                SessionEvent::PermissionRequested(PermissionRequest {
                    request_id: "perm-1".into(),
                    tool_use_id: None,
                    tool: "Bash".into(),
                    input: serde_json::json!({"command": "ls"}),
                    description: None,
                    options: vec![],
                    expires_at: "2999-01-01T00:00:00.000Z".into(),
                    turn_id: Some("turn-1".into()),
                }),
            ],
        )
        .await;

    let (runtime, _model, _data) = runtime_on(store.clone(), NEVER).await;

    assert_eq!(
        store.loads(),
        BTreeMap::from([("crashed".to_string(), 1), ("waiting".to_string(), 1)]),
        "start-up loads only the open sessions"
    );
    let crashed = runtime.snapshot("crashed").await.unwrap();
    let closed = crashed.state.seq;
    let events = all_events(&runtime, "crashed").await;
    match &events.last().map(|e| &e.event) {
        Some(SessionEvent::TurnCompleted {
            turn_id,
            reason,
            error,
            ..
        }) => {
            assert_eq!(
                (turn_id.as_str(), *reason),
                ("turn-1", TurnEndReason::Interrupted)
            );
            assert_eq!(
                error.as_ref().and_then(|e| e.code.as_deref()),
                Some("server_restart")
            );
        }
        other => panic!("the crashed turn is not closed: {other:?}"),
    }
    assert_eq!(crashed.session.status, SessionStatus::Idle);
    assert!(closed >= 2);
    // The waiting session stays loaded (its request times out on schedule) and marked.
    assert!(runtime.is_loaded("waiting"));
    let waiting = runtime.snapshot("waiting").await.unwrap();
    assert_eq!(waiting.session.status, SessionStatus::RequiresAction);
    assert_eq!(
        store.list_open(None, 10).await.unwrap(),
        vec!["waiting".to_string()]
    );
    runtime.shutdown().await;
}
