//! [`EventLog`] on a node of several, against PostgreSQL: a follower reads what the owner
//! appended, in order and once; a write the store fences off disowns the log, writes nothing and
//! wakes whoever waits on [`EventLog::ownership_lost`].

use std::sync::Arc;
use std::time::Duration;

use agent_runtime_protocol::{SessionEvent, MAIN_CONVERSATION};
use agent_runtime_store::contract::postgres::TestDatabase;
use agent_runtime_store::{ClusterStore, Ownership, PostgresStore, SessionStore, StoreError};
use pretty_assertions::assert_eq;

use super::*;
use crate::RuntimeError;

struct Setup {
    _db: TestDatabase,
    store: Arc<dyn SessionStore>,
    cluster: Arc<dyn ClusterStore>,
}

async fn setup() -> Setup {
    let db = TestDatabase::create().await;
    let store: Arc<dyn SessionStore> =
        Arc::new(PostgresStore::connect(db.url()).await.expect("connect"));
    let cluster = store.cluster().expect("postgres is a cluster store");
    store
        .create_session(&super::tests::session_s1())
        .await
        .expect("create");
    Setup {
        _db: db,
        store,
        cluster,
    }
}

impl Setup {
    async fn log(&self) -> EventLog {
        EventLog::load_in(self.store.clone(), Some(self.cluster.clone()), "s1")
            .await
            .expect("load")
    }

    async fn owned_by(&self, node: &str, ttl: Duration) -> (EventLog, Fence) {
        let id = self
            .cluster
            .register_node(node, "http://x", ttl)
            .await
            .expect("register");
        let Ownership::Owned(fence) = self.cluster.acquire("s1", &id).await.expect("acquire")
        else {
            panic!("{node} should own s1");
        };
        let log = self.log().await;
        log.own(fence.clone()).await.expect("own");
        (log, fence)
    }
}

fn delta(i: usize) -> SessionEvent {
    SessionEvent::TextDelta {
        conversation_id: MAIN_CONVERSATION.into(),
        block_id: "b".into(),
        delta: format!("{i} "),
    }
}

fn event_seq(item: Option<SubscriptionItem>) -> u64 {
    match item {
        Some(SubscriptionItem::Event(event)) => event.envelope.seq,
        other => panic!("expected an event, got {other:?}"),
    }
}

#[tokio::test]
async fn a_follower_reads_the_owners_appends_in_order_and_once() {
    let setup = setup().await;
    let (owner, _) = setup.owned_by("a", Duration::from_secs(60)).await;
    let follower = setup.log().await;
    assert!(owner.is_writer().await);
    assert!(!follower.is_writer().await);
    let mut subscription = follower.subscribe(0).await;

    owner
        .append(vec![delta(1), delta(2)])
        .await
        .expect("append");
    owner.append(vec![delta(3)]).await.expect("append");
    // A notification for what the follower has is nothing to read; the newest one reads all.
    follower.catch_up_to(0).await.expect("no-op");
    assert_eq!(follower.state().await.seq, 0);
    follower.catch_up_to(3).await.expect("catch up");
    follower.catch_up_to(2).await.expect("stale notification");
    follower.catch_up().await.expect("nothing new");
    for seq in 1..=3 {
        assert_eq!(event_seq(subscription.try_next()), seq);
    }
    assert!(subscription.try_next().is_none(), "each event once");
    assert_eq!(follower.state().await, owner.state().await);

    // A follower may not write.
    let refused = follower.append(vec![delta(4)]).await;
    assert!(
        matches!(refused, Err(RuntimeError::Store(StoreError::Fenced(_)))),
        "{refused:?}"
    );
    assert_eq!(setup.store.last_seq("s1").await, Ok(3));
}

#[tokio::test]
async fn a_fenced_write_disowns_the_log_and_wakes_the_actor() {
    let setup = setup().await;
    let (stale, _) = setup.owned_by("a", Duration::from_millis(300)).await;
    stale.append(vec![delta(1)]).await.expect("append");
    // a's registration expires (it was paused); b takes the session over and writes.
    tokio::time::sleep(Duration::from_millis(700)).await;
    let (new_owner, _) = setup.owned_by("b", Duration::from_secs(60)).await;
    assert_eq!(
        new_owner.state().await.seq,
        1,
        "the new owner read what a wrote"
    );
    new_owner.append(vec![delta(2)]).await.expect("append");

    let refused = stale.append(vec![delta(4)]).await;
    assert!(
        matches!(refused, Err(RuntimeError::Store(StoreError::Fenced(_)))),
        "{refused:?}"
    );
    tokio::time::timeout(Duration::from_secs(1), stale.ownership_lost())
        .await
        .expect("the loss is signalled");
    assert!(!stale.is_writer().await);
    let stored = setup.store.read_events("s1", 0, 10).await.expect("read");
    assert_eq!(stored.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);
    // Disowned, the stale log follows the store like any other node.
    stale.catch_up().await.expect("follow");
    assert_eq!(stale.state().await, new_owner.state().await);
}
