//! Group commit and shared fan-out of [`EventLog`], against the memory store.

use std::sync::Arc;
use std::time::Duration;

use agent_runtime_protocol::{SessionEvent, SessionInfo, MAIN_CONVERSATION};
use agent_runtime_store::{MemoryStore, SessionRecord, SessionStore};
use pretty_assertions::assert_eq;

use super::*;

/// A new session `s1`, as the log tests store it.
pub(super) fn session_s1() -> SessionRecord {
    SessionRecord::new(SessionInfo {
        session_id: "s1".into(),
        agent: "claude-code".into(),
        profile: None,
        name: None,
        created_at: "2026-01-01T00:00:00.000000Z".into(),
        updated_at: "2026-01-01T00:00:00.000000Z".into(),
        status: Default::default(),
    })
}

async fn empty_log() -> (Arc<dyn SessionStore>, EventLog) {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    store.create_session(&session_s1()).await.expect("create");
    let log = EventLog::load(store.clone(), "s1").await.expect("load");
    (store, log)
}

fn delta(i: usize) -> SessionEvent {
    SessionEvent::TextDelta {
        conversation_id: MAIN_CONVERSATION.into(),
        block_id: "b".into(),
        delta: format!("{i} "),
    }
}

fn seqs(items: &[SubscriptionItem]) -> Vec<u64> {
    items
        .iter()
        .map(|item| match item {
            SubscriptionItem::Event(event) => event.envelope.seq,
            other => panic!("expected an event, got {other:?}"),
        })
        .collect()
}

fn drain(subscription: &mut Subscription) -> Vec<SubscriptionItem> {
    std::iter::from_fn(|| subscription.try_next()).collect()
}

#[tokio::test(start_paused = true)]
async fn deltas_within_the_window_are_one_transaction_and_invisible_until_written() {
    let (store, log) = empty_log().await;
    let mut subscription = log.subscribe(0).await;
    // The first delta after a quiet spell is written at once.
    log.append_grouped(vec![delta(0)]).await.expect("append");
    assert_eq!(store.last_seq("s1").await.expect("seq"), 1);
    assert_eq!(seqs(&drain(&mut subscription)), vec![1]);
    // The next ones wait: not in the store, so not visible to anyone.
    for i in 1..100 {
        log.append_grouped(vec![delta(i)]).await.expect("append");
    }
    assert_eq!(store.last_seq("s1").await.expect("seq"), 1);
    assert!(drain(&mut subscription).is_empty());
    assert_eq!(log.state().await.seq, 1);
    let deadline = log.flush_deadline().await.expect("deltas wait");
    assert_eq!(deadline, Instant::now() + GROUP_COMMIT_WINDOW);
    tokio::time::sleep_until(deadline).await;
    log.flush().await.expect("flush");
    assert_eq!(store.last_seq("s1").await.expect("seq"), 100);
    assert_eq!(
        seqs(&drain(&mut subscription)),
        (2..=100).collect::<Vec<_>>()
    );
    assert_eq!(log.writes().await, 2);
    assert_eq!(log.flush_deadline().await, None);
}

#[tokio::test(start_paused = true)]
async fn an_ordinary_append_writes_the_waiting_deltas_first_in_the_same_transaction() {
    let (store, log) = empty_log().await;
    log.append_grouped(vec![delta(0)]).await.expect("append");
    log.append_grouped(vec![delta(1), delta(2)])
        .await
        .expect("append");
    let returned = log
        .append(vec![SessionEvent::FileDeleted { path: "f".into() }])
        .await
        .expect("append");
    // Only the appended event is returned, numbered after the deltas it follows.
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0].seq, 4);
    let stored = store.read_events("s1", 0, 10).await.expect("read");
    let kinds: Vec<&str> = stored.iter().map(|e| e.event.kind()).collect();
    assert_eq!(
        kinds,
        vec!["text_delta", "text_delta", "text_delta", "file_deleted"]
    );
    assert_eq!(log.writes().await, 2);
}

#[tokio::test(start_paused = true)]
async fn ten_thousand_deltas_at_ten_per_millisecond_are_hundreds_of_transactions() {
    let (store, log) = empty_log().await;
    // The actor's loop in miniature: deltas arrive every 100 µs, the flush runs at its deadline.
    for i in 0..10_000 {
        if let Some(deadline) = log.flush_deadline().await {
            if Instant::now() >= deadline {
                log.flush().await.expect("flush");
            }
        }
        log.append_grouped(vec![delta(i)]).await.expect("append");
        tokio::time::advance(Duration::from_micros(100)).await;
    }
    log.flush().await.expect("flush");
    assert_eq!(store.last_seq("s1").await.expect("seq"), 10_000);
    let writes = log.writes().await;
    // One second of deltas, one write per 5 ms window.
    assert!((150..=250).contains(&writes), "{writes} transactions");
}

#[tokio::test(start_paused = true)]
async fn a_full_group_is_written_without_waiting_for_the_window() {
    let (store, log) = empty_log().await;
    log.append_grouped(vec![delta(0)]).await.expect("append");
    let many = (1..=GROUP_COMMIT_MAX_EVENTS).map(delta).collect();
    log.append_grouped(many).await.expect("append");
    assert_eq!(
        store.last_seq("s1").await.expect("seq"),
        1 + GROUP_COMMIT_MAX_EVENTS as u64
    );
}

#[tokio::test]
async fn subscribers_share_one_event_and_one_encoding() {
    let (_store, log) = empty_log().await;
    let mut a = log.subscribe(0).await;
    let mut b = log.subscribe(0).await;
    log.push(delta(0)).await.expect("push");
    let (Some(SubscriptionItem::Event(x)), Some(SubscriptionItem::Event(y))) =
        (a.next().await, b.next().await)
    else {
        panic!("expected events");
    };
    assert!(Arc::ptr_eq(&x, &y));
    let mut encodes = 0;
    let first: Arc<str> = x.encoded(Encoding::WebSocket, |_| {
        encodes += 1;
        Arc::from("frame")
    });
    let second: Arc<str> = y.encoded(Encoding::WebSocket, |_| {
        encodes += 1;
        Arc::from("other")
    });
    assert!(Arc::ptr_eq(&first, &second));
    assert_eq!((&*first, encodes), ("frame", 1));
    // A late subscriber replaying from the ring gets the same shared event too.
    let mut late = log.subscribe(0).await;
    match late.next().await {
        Some(SubscriptionItem::Event(z)) => assert!(Arc::ptr_eq(&x, &z)),
        other => panic!("expected an event, got {other:?}"),
    }
}
