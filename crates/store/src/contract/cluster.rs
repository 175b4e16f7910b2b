//! Contract cases for [`ClusterStore`] (see [`crate::cluster`] for the rules): node
//! registration and expiry, one owner at a time with growing tokens, fenced appends, the list of
//! orphaned sessions, and notifications. Only for backends whose
//! [`SessionStore::cluster`](crate::SessionStore::cluster) is `Some`; run them with
//! [`cluster_contract_tests!`](crate::cluster_contract_tests).

use std::sync::Arc;
use std::time::Duration;

use pretty_assertions::assert_eq;

use super::{create, delta, TestStore};
use crate::cluster::{ClusterStore, Heard, NodeId, Ownership};
use crate::error::StoreError;

/// Long enough that a node never expires during a case unless the case waits for it.
const LONG: Duration = Duration::from_secs(60);
/// Short enough to wait for.
const SHORT: Duration = Duration::from_millis(300);
/// How long a case waits for a registration of [`SHORT`] to have expired.
const PAST_SHORT: Duration = Duration::from_millis(700);

fn cluster_of(t: &TestStore) -> Arc<dyn ClusterStore> {
    t.store
        .cluster()
        .expect("the cluster cases need a backend whose SessionStore::cluster is Some")
}

async fn register(cluster: &dyn ClusterStore, id: &str, ttl: Duration) -> NodeId {
    cluster
        .register_node(id, &format!("http://{id}.test"), ttl)
        .await
        .expect("register")
}

async fn owned(cluster: &dyn ClusterStore, session: &str, node: &NodeId) -> crate::Fence {
    match cluster.acquire(session, node).await.expect("acquire") {
        Ownership::Owned(fence) => fence,
        other => panic!("{} should own {session}, got {other:?}", node.node_id),
    }
}

/// A live node id cannot be registered twice; once it expired it can, as a new incarnation, and
/// its heartbeat tells the old holder it is no longer live.
pub async fn nodes_register_once_while_live(t: TestStore) {
    let cluster = cluster_of(&t);
    let a = register(cluster.as_ref(), "node-a", SHORT).await;
    assert_eq!(a.incarnation, 1);
    assert!(matches!(
        cluster
            .register_node("node-a", "http://elsewhere", LONG)
            .await,
        Err(StoreError::Conflict(_))
    ));
    assert!(cluster.heartbeat(&a, SHORT).await.expect("beat").is_some());
    let nodes = cluster.list_nodes().await.expect("list");
    assert_eq!(nodes.len(), 1);
    assert!(nodes[0].live);
    assert_eq!(nodes[0].url, "http://node-a.test");

    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(cluster.heartbeat(&a, SHORT).await, Ok(None), "expired");
    assert!(!cluster.list_nodes().await.expect("list")[0].live);
    let again = register(cluster.as_ref(), "node-a", LONG).await;
    assert_eq!(again.incarnation, 2);
    // The old incarnation stays dead even though the id is live again.
    assert_eq!(cluster.heartbeat(&a, LONG).await, Ok(None));
    assert!(matches!(
        cluster.register_node("", "http://x", LONG).await,
        Err(StoreError::Invalid(_))
    ));
}

/// One owner at a time; every acquisition's token is greater than the one before; a release
/// lets the next node in; a missing session is `NotFound`.
pub async fn one_owner_at_a_time_with_growing_tokens(t: TestStore) {
    let cluster = cluster_of(&t);
    let store = t.store.as_ref();
    create(store, "s1").await;
    let a = register(cluster.as_ref(), "node-a", LONG).await;
    let b = register(cluster.as_ref(), "node-b", LONG).await;

    assert_eq!(cluster.owner("s1").await, Ok(None));
    let first = owned(cluster.as_ref(), "s1", &a).await;
    assert_eq!(cluster.owner("s1").await, Ok(Some("node-a".into())));
    assert_eq!(
        cluster.acquire("s1", &b).await,
        Ok(Ownership::OwnedBy {
            node_id: "node-a".into(),
            url: "http://node-a.test".into()
        })
    );
    let second = owned(cluster.as_ref(), "s1", &a).await;
    assert!(second.token > first.token);
    // Releasing with a stale token changes nothing.
    cluster.release("s1", &first).await.expect("release");
    assert!(matches!(
        cluster.acquire("s1", &b).await,
        Ok(Ownership::OwnedBy { .. })
    ));
    cluster.release("s1", &second).await.expect("release");
    assert_eq!(cluster.owner("s1").await, Ok(None));
    let third = owned(cluster.as_ref(), "s1", &b).await;
    assert!(third.token > second.token);
    assert!(matches!(
        cluster.acquire("missing", &a).await,
        Err(StoreError::NotFound { .. })
    ));

    // Racing nodes: exactly one wins each session.
    for i in 0..10 {
        let id = format!("race-{i}");
        create(store, &id).await;
        let (x, y) = tokio::join!(cluster.acquire(&id, &a), cluster.acquire(&id, &b));
        let winners = [x.expect("a"), y.expect("b")]
            .iter()
            .filter(|o| matches!(o, Ownership::Owned(_)))
            .count();
        assert_eq!(winners, 1, "{id}");
    }
}

/// A fenced append holds only while its fence is the session's current one and its node is
/// live: after a takeover, and after the node merely expired, it is refused and writes nothing.
pub async fn fenced_appends_refuse_a_stale_owner(t: TestStore) {
    let cluster = cluster_of(&t);
    let store = t.store.as_ref();
    create(store, "s1").await;
    let a = register(cluster.as_ref(), "node-a", SHORT).await;
    let fence_a = owned(cluster.as_ref(), "s1", &a).await;
    let appended = cluster
        .append_fenced("s1", &fence_a, &[delta("a1"), delta("a2")])
        .await
        .expect("owner appends");
    assert_eq!(appended.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2]);

    // Paused past its TTL: nobody took over, and still it may not write.
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        cluster.owner("s1").await,
        Ok(None),
        "an expired owner owns nothing"
    );
    assert!(matches!(
        cluster
            .append_fenced("s1", &fence_a, &[delta("late")])
            .await,
        Err(StoreError::Fenced(_))
    ));
    assert_eq!(store.last_seq("s1").await, Ok(2));
    // Nor may it take the session again.
    assert!(matches!(
        cluster.acquire("s1", &a).await,
        Err(StoreError::Fenced(_))
    ));

    let b = register(cluster.as_ref(), "node-b", LONG).await;
    let fence_b = owned(cluster.as_ref(), "s1", &b).await;
    cluster
        .append_fenced("s1", &fence_b, &[delta("b1")])
        .await
        .expect("new owner appends");
    // The old node comes back under its id: its old fence stays dead.
    let a2 = register(cluster.as_ref(), "node-a", LONG).await;
    assert!(matches!(
        cluster
            .append_fenced("s1", &fence_a, &[delta("stale")])
            .await,
        Err(StoreError::Fenced(_))
    ));
    assert!(matches!(
        cluster.acquire("s1", &a2).await,
        Ok(Ownership::OwnedBy { .. })
    ));
    let events = store.read_events("s1", 0, 10).await.expect("read");
    assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(matches!(
        cluster
            .append_fenced("missing", &fence_b, &[delta("x")])
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(cluster.append_fenced("s1", &fence_b, &[]).await, Ok(vec![]));
}

/// Deregistering releases a node's sessions at once; registering an id again releases what its
/// previous incarnation owned.
pub async fn leaving_nodes_release_their_sessions(t: TestStore) {
    let cluster = cluster_of(&t);
    let store = t.store.as_ref();
    create(store, "s1").await;
    create(store, "s2").await;
    let a = register(cluster.as_ref(), "node-a", LONG).await;
    let b = register(cluster.as_ref(), "node-b", LONG).await;
    owned(cluster.as_ref(), "s1", &a).await;
    cluster.deregister_node(&a).await.expect("deregister");
    owned(cluster.as_ref(), "s1", &b).await;

    let c = register(cluster.as_ref(), "node-c", SHORT).await;
    owned(cluster.as_ref(), "s2", &c).await;
    tokio::time::sleep(PAST_SHORT).await;
    let c2 = register(cluster.as_ref(), "node-c", LONG).await;
    // s2 is nobody's now: any node may take it, with a new token.
    owned(cluster.as_ref(), "s2", &c2).await;
}

/// The sessions to take over are the open ones that no live node owns.
pub async fn orphaned_sessions_are_open_and_unowned(t: TestStore) {
    let cluster = cluster_of(&t);
    let store = t.store.as_ref();
    for id in ["s1", "s2", "s3", "s4"] {
        create(store, id).await;
    }
    for id in ["s1", "s2", "s3"] {
        store.set_open(id, true).await.expect("mark");
    }
    let live = register(cluster.as_ref(), "live", LONG).await;
    let dying = register(cluster.as_ref(), "dying", SHORT).await;
    owned(cluster.as_ref(), "s1", &live).await;
    owned(cluster.as_ref(), "s2", &dying).await;
    owned(cluster.as_ref(), "s4", &dying).await;
    assert_eq!(cluster.list_orphaned(None, 10).await, Ok(vec!["s3".into()]));
    tokio::time::sleep(PAST_SHORT).await;
    assert_eq!(
        cluster.list_orphaned(None, 10).await,
        Ok(vec!["s2".into(), "s3".into()])
    );
    assert_eq!(
        cluster.list_orphaned(Some("s2"), 10).await,
        Ok(vec!["s3".into()])
    );
    assert_eq!(cluster.list_orphaned(None, 1).await, Ok(vec!["s2".into()]));

    // Taking an orphan checks again: the first node wins, a later one gets nothing, and
    // neither a live owner's session nor a closed one is an orphan.
    let other = register(cluster.as_ref(), "other", LONG).await;
    let taken = cluster
        .acquire_orphaned("s2", &live)
        .await
        .expect("take s2");
    assert!(taken.is_some());
    assert_eq!(cluster.acquire_orphaned("s2", &other).await, Ok(None));
    assert_eq!(
        cluster.acquire_orphaned("s1", &other).await,
        Ok(None),
        "live owner"
    );
    assert_eq!(
        cluster.acquire_orphaned("s4", &other).await,
        Ok(None),
        "not open"
    );
    assert!(cluster
        .acquire_orphaned("s3", &other)
        .await
        .expect("take s3")
        .is_some());
    assert!(matches!(
        cluster.acquire_orphaned("s3", &dying).await,
        Err(StoreError::Fenced(_))
    ));
}

/// Every fenced append is announced, with the batch's last seq, to every listener.
pub async fn fenced_appends_are_announced(t: TestStore) {
    let cluster = cluster_of(&t);
    let store = t.store.as_ref();
    create(store, "s 1").await;
    let mut first = cluster.listen().await.expect("listen");
    let mut second = cluster.listen().await.expect("listen");
    let a = register(cluster.as_ref(), "node-a", LONG).await;
    let fence = owned(cluster.as_ref(), "s 1", &a).await;
    cluster
        .append_fenced("s 1", &fence, &[delta("1"), delta("2")])
        .await
        .expect("append");
    cluster
        .append_fenced("s 1", &fence, &[delta("3")])
        .await
        .expect("append");
    for listener in [&mut first, &mut second] {
        for seq in [2, 3] {
            let heard = tokio::time::timeout(Duration::from_secs(10), listener.recv())
                .await
                .expect("a notification within 10 s")
                .expect("recv");
            assert_eq!(
                heard,
                Heard::Appended {
                    session_id: "s 1".into(),
                    seq
                }
            );
        }
    }
}

/// Generates one `#[tokio::test]` per cluster contract case, each on a fresh store from `$make`.
#[macro_export]
macro_rules! cluster_contract_tests {
    ($make:expr) => {
        $crate::cluster_contract_tests!(@cases $make;
            nodes_register_once_while_live,
            one_owner_at_a_time_with_growing_tokens,
            fenced_appends_refuse_a_stale_owner,
            leaving_nodes_release_their_sessions,
            orphaned_sessions_are_open_and_unowned,
            fenced_appends_are_announced,
        );
    };
    (@cases $make:expr; $($case:ident,)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::contract::cluster::$case(($make)().await).await;
            }
        )*
    };
}
