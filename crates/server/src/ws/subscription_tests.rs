//! The connection's subscriptions: replay and live events of several sessions, each once and in
//! order, gathered without waiting; a subscription that falls behind ends alone.

use std::sync::Arc;
use std::time::Duration;

use agent_runtime_core::log::{EventLog, LIVE_CHANNEL_CAPACITY};
use agent_runtime_protocol::{SessionEvent, SessionInfo};
use agent_runtime_store::{MemoryStore, SessionRecord, SessionStore};
use pretty_assertions::assert_eq;

use super::*;

async fn log_with_events(store: &Arc<dyn SessionStore>, id: &str, count: usize) -> EventLog {
    let info = SessionInfo {
        session_id: id.into(),
        agent: "claude-code".into(),
        profile: None,
        name: None,
        created_at: "2026-01-01T00:00:00.000000Z".into(),
        updated_at: "2026-01-01T00:00:00.000000Z".into(),
        status: Default::default(),
    };
    store
        .create_session(&SessionRecord::new(info))
        .await
        .expect("create");
    let log = EventLog::load(store.clone(), id).await.expect("load");
    append(&log, count).await;
    log
}

async fn append(log: &EventLog, count: usize) {
    let events = (0..count)
        .map(|i| SessionEvent::FileDeleted {
            path: format!("f{i}"),
        })
        .collect();
    log.append(events).await.expect("append");
}

/// `(session, seq)` of an event item.
fn seq_of(item: &Item) -> (String, u64) {
    match item {
        Item::Event(text) => match serde_json::from_str(text.as_str()) {
            Ok(ServerFrame::Event { envelope }) => (envelope.session_id, envelope.seq),
            other => panic!("expected an event, got {other:?}"),
        },
        other => panic!("expected an event, got {other:?}"),
    }
}

async fn next(subscriptions: &mut Subscriptions) -> Item {
    tokio::time::timeout(Duration::from_secs(5), subscriptions.next())
        .await
        .expect("an item within 5 s")
}

#[tokio::test]
async fn an_event_frame_is_the_server_frame_and_is_serialized_once() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let log = log_with_events(&store, "s1", 1).await;
    let mut first = log.subscribe(0).await;
    let mut second = log.subscribe(0).await;
    let (Some(SubscriptionItem::Event(a)), Some(SubscriptionItem::Event(b))) =
        (first.next().await, second.next().await)
    else {
        panic!("expected events");
    };
    // Both subscribers hold the same event, and get the same bytes, not two copies.
    assert!(Arc::ptr_eq(&a, &b));
    let (text_a, text_b) = (event_frame(&a), event_frame(&b));
    assert_eq!(text_a.as_str().as_ptr(), text_b.as_str().as_ptr());
    let expected = serde_json::to_string(&ServerFrame::Event {
        envelope: a.envelope.clone(),
    })
    .expect("serialize");
    assert_eq!(text_a.as_str(), expected);
}

#[tokio::test]
async fn events_of_several_sessions_arrive_once_each_and_in_order() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let one = log_with_events(&store, "s1", 5).await;
    let two = log_with_events(&store, "s2", 3).await;
    let mut subscriptions = Subscriptions::default();
    subscriptions.insert("s1".into(), one.subscribe(2).await);
    subscriptions.insert("s2".into(), two.subscribe(0).await);

    // Replays first: `next` waits for one item, `ready` takes the rest without waiting.
    let mut items = vec![next(&mut subscriptions).await];
    subscriptions.ready(&mut items, 100);
    // Then live events of both sessions.
    append(&one, 2).await;
    append(&two, 2).await;
    items.push(next(&mut subscriptions).await);
    subscriptions.ready(&mut items, 100);
    while items.len() < 10 {
        items.push(next(&mut subscriptions).await);
    }
    let mut seen: Vec<(String, u64)> = items.iter().map(seq_of).collect();
    let of = |session: &str| -> Vec<u64> {
        seen.iter()
            .filter(|(s, _)| s == session)
            .map(|(_, seq)| *seq)
            .collect()
    };
    assert_eq!(of("s1"), vec![3, 4, 5, 6, 7]);
    assert_eq!(of("s2"), vec![1, 2, 3, 4, 5]);
    seen.clear();
    // Nothing more is ready, and `ready` respects its limit.
    subscriptions.ready(&mut items, 100);
    assert_eq!(items.len(), 10);
    append(&one, 10).await;
    let mut limited = Vec::new();
    subscriptions.ready(&mut limited, 4);
    assert_eq!(limited.len(), 4);
}

#[tokio::test]
async fn a_subscription_that_falls_behind_the_live_channel_ends_with_resync_alone() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let slow = log_with_events(&store, "slow", 0).await;
    let other = log_with_events(&store, "other", 0).await;
    let mut subscriptions = Subscriptions::default();
    subscriptions.insert("slow".into(), slow.subscribe(0).await);
    subscriptions.insert("other".into(), other.subscribe(0).await);
    // The writer is stuck on a socket meanwhile: nobody takes events.
    for _ in 0..(LIVE_CHANNEL_CAPACITY / 1000 + 2) {
        append(&slow, 1000).await;
    }
    append(&other, 1).await;
    let mut items = Vec::new();
    subscriptions.ready(&mut items, 10_000);
    let resyncs: Vec<&ServerFrame> = items
        .iter()
        .filter_map(|item| match item {
            Item::Resync(frame) => Some(frame.as_ref()),
            Item::Event(_) => None,
        })
        .collect();
    match resyncs.as_slice() {
        [ServerFrame::ResyncRequired {
            session_id, reason, ..
        }] => {
            assert_eq!(session_id, "slow");
            assert!(reason.contains("behind"), "{reason}");
        }
        other => panic!("expected one resync, got {other:?}"),
    }
    // Nothing of the slow session after its resync; the other one goes on.
    let events: Vec<(String, u64)> = items
        .iter()
        .filter(|item| matches!(item, Item::Event(_)))
        .map(seq_of)
        .collect();
    assert_eq!(events, vec![("other".to_string(), 1)]);
    assert_eq!(subscriptions.len(), 1);
    append(&other, 1).await;
    assert_eq!(seq_of(&next(&mut subscriptions).await), ("other".into(), 2));
}

#[tokio::test]
async fn a_removed_subscription_yields_nothing_and_a_replaced_one_starts_over() {
    let store: Arc<dyn SessionStore> = Arc::new(MemoryStore::new());
    let log = log_with_events(&store, "s1", 3).await;
    let mut subscriptions = Subscriptions::default();
    subscriptions.insert("s1".into(), log.subscribe(0).await);
    assert_eq!(seq_of(&next(&mut subscriptions).await), ("s1".into(), 1));
    // A second subscribe to the same session replaces the first.
    subscriptions.insert("s1".into(), log.subscribe(2).await);
    assert_eq!(subscriptions.len(), 1);
    assert_eq!(seq_of(&next(&mut subscriptions).await), ("s1".into(), 3));
    subscriptions.remove("s1");
    append(&log, 1).await;
    let mut items = Vec::new();
    subscriptions.ready(&mut items, 10);
    assert!(items.is_empty());
    assert!(
        tokio::time::timeout(Duration::from_millis(100), subscriptions.next())
            .await
            .is_err(),
        "nothing after the removal"
    );
}
