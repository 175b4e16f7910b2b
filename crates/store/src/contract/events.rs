//! Contract cases: the per-session event log and its seq numbering.

use agent_runtime_protocol::{
    Block, Envelope, SessionEvent, ToolStatus, ToolUseBlock, TurnEndReason, TurnError, Usage,
};
use pretty_assertions::assert_eq;
use serde_json::json;

use super::{create, delta, ts, TestStore};
use crate::error::StoreError;

/// Appends to concurrently in [`concurrent_appends_are_gapless`].
const APPEND_TASKS: u64 = 8;
const APPENDS_PER_TASK: u64 = 50;

/// Seqs start at 1 and continue across single and batch appends; every event reads back field
/// for field, including nested JSON and floats.
pub async fn append_assigns_gapless_seq_from_one(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let first = store
        .append_events("s1", &[delta("one")])
        .await
        .expect("append");
    assert_eq!(
        first,
        vec![Envelope {
            session_id: "s1".into(),
            seq: 1,
            at: ts(1),
            event: delta("one").1,
        }]
    );

    let batch: Vec<(String, SessionEvent)> =
        vec![(ts(2), tool_start()), (ts(3), turn_end()), delta("x")];
    let appended = store.append_events("s1", &batch).await.expect("append");
    let expected: Vec<Envelope> = batch
        .iter()
        .zip(2..)
        .map(|((at, event), seq)| Envelope {
            session_id: "s1".into(),
            seq,
            at: at.clone(),
            event: event.clone(),
        })
        .collect();
    assert_eq!(appended, expected);

    assert_eq!(store.append_events("s1", &[]).await, Ok(vec![]));
    assert_eq!(store.last_seq("s1").await, Ok(4));
    let all = store.read_events("s1", 0, 100).await.expect("read");
    assert_eq!(all, [first, expected].concat());
}

/// Many tasks appending at once get seqs 1..=N exactly, each task's in increasing order, and
/// each seq holds the event that was appended with it.
pub async fn concurrent_appends_are_gapless(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..APPEND_TASKS {
        let store = store.clone();
        tasks.spawn(async move {
            let mut mine = Vec::new();
            for i in 0..APPENDS_PER_TASK {
                // Every fifth append is a batch of two.
                let events = if i % 5 == 0 {
                    vec![
                        delta(&format!("{task}-{i}-a")),
                        delta(&format!("{task}-{i}-b")),
                    ]
                } else {
                    vec![delta(&format!("{task}-{i}"))]
                };
                mine.extend(store.append_events("s1", &events).await.expect("append"));
            }
            mine
        });
    }
    let per_task: Vec<Vec<Envelope>> = tasks.join_all().await;
    let total = APPEND_TASKS * (APPENDS_PER_TASK + APPENDS_PER_TASK / 5);
    for mine in &per_task {
        assert!(
            mine.windows(2).all(|w| w[0].seq < w[1].seq),
            "a task's seqs went backwards"
        );
    }
    let mut appended: Vec<Envelope> = per_task.concat();
    appended.sort_by_key(|e| e.seq);
    assert_eq!(
        appended.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    assert_eq!(store.last_seq("s1").await, Ok(total));
    let stored = store.read_events("s1", 0, usize::MAX).await.expect("read");
    assert!(
        stored == appended,
        "the log differs from what append returned"
    );
}

/// Two stores on one storage (two processes sharing a database) appending to the same session at
/// once still produce seqs 1..=N exactly, and each sees the other's events. Passes without
/// checking for backends that cannot open a second store on the same storage.
pub async fn appends_from_two_stores_are_gapless(t: TestStore) {
    let Some(reopen) = t.reopen else {
        return;
    };
    let first = t.store;
    create(&*first, "s1").await;
    let second = reopen().await;
    let mut tasks = tokio::task::JoinSet::new();
    for task in 0..APPEND_TASKS {
        let store = if task % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.spawn(async move {
            let mut mine = Vec::new();
            for i in 0..APPENDS_PER_TASK / 2 {
                let events = vec![
                    delta(&format!("{task}-{i}-a")),
                    delta(&format!("{task}-{i}-b")),
                ];
                mine.extend(store.append_events("s1", &events).await.expect("append"));
            }
            mine
        });
    }
    let mut appended: Vec<Envelope> = tasks.join_all().await.concat();
    appended.sort_by_key(|e| e.seq);
    let total = APPEND_TASKS * (APPENDS_PER_TASK / 2) * 2;
    assert_eq!(
        appended.iter().map(|e| e.seq).collect::<Vec<_>>(),
        (1..=total).collect::<Vec<_>>()
    );
    for store in [&first, &second] {
        assert_eq!(store.last_seq("s1").await, Ok(total));
        let stored = store.read_events("s1", 0, usize::MAX).await.expect("read");
        assert!(
            stored == appended,
            "a store's log differs from what was appended"
        );
    }
    second.close().await;
}

/// Event text comes back exactly: NUL and other control characters, quotes, non-BMP characters,
/// and a 1 MiB delta.
pub async fn event_text_round_trips_exactly(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let texts = [
        "nul \0 inside".to_string(),
        "quotes \" ' \\ and\nlines\r\n\ttabs".to_string(),
        "\u{1b}[31mred\u{1b}[0m \u{7f} \u{feff}".to_string(),
        "日本語 — émoji 🎉 𝄞".to_string(),
        "x".repeat(1024 * 1024),
    ];
    let events: Vec<(String, SessionEvent)> = texts.iter().map(|text| delta(text)).collect();
    let appended = store.append_events("s1", &events).await.expect("append");
    let stored = store.read_events("s1", 0, 100).await.expect("read");
    assert!(stored == appended, "the stored events differ");
    let deltas: Vec<String> = stored
        .into_iter()
        .map(|e| match e.event {
            SessionEvent::TextDelta { delta, .. } => delta,
            other => panic!("not a delta: {other:?}"),
        })
        .collect();
    assert!(deltas == texts, "the text changed");
}

/// `read_events` returns at most `limit` events with seq > `after_seq`, ascending.
pub async fn read_events_after_and_limit(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    let events: Vec<(String, SessionEvent)> = (1..=10).map(|i| delta(&i.to_string())).collect();
    store.append_events("s1", &events).await.expect("append");

    let seqs = |envelopes: Vec<Envelope>| envelopes.iter().map(|e| e.seq).collect::<Vec<_>>();
    let read = |after, limit| {
        let store = store.clone();
        async move { seqs(store.read_events("s1", after, limit).await.expect("read")) }
    };
    assert_eq!(read(0, 100).await, (1..=10).collect::<Vec<_>>());
    assert_eq!(read(3, 4).await, vec![4, 5, 6, 7]);
    assert_eq!(read(8, 100).await, vec![9, 10]);
    assert_eq!(read(10, 100).await, Vec::<u64>::new());
    assert_eq!(read(1000, 100).await, Vec::<u64>::new());
    assert_eq!(read(u64::MAX, 100).await, Vec::<u64>::new());
    assert_eq!(read(0, 0).await, Vec::<u64>::new());
    assert_eq!(read(0, 1).await, vec![1]);
    assert_eq!(read(0, usize::MAX).await.len(), 10);
    assert_eq!(store.read_events("nope", 0, 10).await, Ok(vec![]));
    assert_eq!(store.last_seq("nope").await, Ok(0));
}

/// Appending to a session that does not exist is `NotFound` and creates nothing.
pub async fn append_to_unknown_session_is_not_found(t: TestStore) {
    let store = t.store;
    assert_eq!(
        store.append_events("ghost", &[delta("x")]).await,
        Err(StoreError::session_not_found("ghost"))
    );
    assert_eq!(
        store.append_events("ghost", &[]).await,
        Err(StoreError::session_not_found("ghost"))
    );
    assert_eq!(store.get_session("ghost").await, Ok(None));
    assert_eq!(store.read_events("ghost", 0, 10).await, Ok(vec![]));
}

/// Each session numbers its own log from 1.
pub async fn event_logs_are_per_session(t: TestStore) {
    let store = t.store;
    create(&*store, "a").await;
    create(&*store, "b").await;
    store
        .append_events("a", &[delta("a1"), delta("a2"), delta("a3")])
        .await
        .expect("append");
    let b = store
        .append_events("b", &[delta("b1")])
        .await
        .expect("append");
    assert_eq!((b[0].session_id.as_str(), b[0].seq), ("b", 1));
    assert_eq!(store.last_seq("a").await, Ok(3));
    assert_eq!(store.last_seq("b").await, Ok(1));
    assert_eq!(store.read_events("b", 0, 10).await, Ok(b));
}

pub(crate) fn tool_start() -> SessionEvent {
    SessionEvent::BlockStart {
        conversation_id: "main".into(),
        block: Block::ToolUse(ToolUseBlock {
            id: "toolu_1".into(),
            at: ts(2),
            name: "Bash".into(),
            input: json!({"command": "ls -la", "nested": {"list": [1, 2.5, null, "ü"]}}),
            status: ToolStatus::Running,
            partial_input: None,
        }),
    }
}

pub(crate) fn turn_end() -> SessionEvent {
    SessionEvent::TurnCompleted {
        turn_id: "t1".into(),
        reason: TurnEndReason::Error,
        usage: Usage {
            input_tokens: 1234,
            output_tokens: 56,
            cache_read_input_tokens: 7,
            cache_creation_input_tokens: 8,
        },
        cost_usd: 0.012_345_678_9,
        duration_ms: 4321,
        error: Some(TurnError {
            message: "boom\nwith newline".into(),
            code: Some("api_error".into()),
            http_status: Some(529),
            exit_code: Some(1),
            stderr_tail: Some("last line".into()),
        }),
    }
}
