//! Contract cases: the recovery index, [`SessionStore::set_open`] and
//! [`SessionStore::list_open`].
//!
//! [`SessionStore::set_open`]: crate::SessionStore::set_open
//! [`SessionStore::list_open`]: crate::SessionStore::list_open

use pretty_assertions::assert_eq;

use super::{create, delta, session, ts, TestStore};
use crate::error::StoreError;

/// New sessions are not open; marks are set and cleared idempotently, listed in bytewise id
/// order a page at a time, and touch nothing else.
pub async fn open_marks_are_set_cleared_and_listed_in_id_order(t: TestStore) {
    let store = t.store;
    // Created in an order that differs from both the id order and the list order.
    let ids = ["s-b", "S-upper", "s-ü", "s-a", "s-c"];
    let mut records = Vec::new();
    for (i, id) in ids.iter().enumerate() {
        let record = session(id, &ts(10 - i as u32));
        store.create_session(&record).await.expect("create");
        records.push(record);
    }
    assert_eq!(store.list_open(None, 10).await, Ok(vec![]));
    let listed_before = store.list_sessions(None, 10).await.expect("list");

    for id in ["s-ü", "s-a", "S-upper", "s-c"] {
        store.set_open(id, true).await.expect("mark");
    }
    // Idempotent.
    store.set_open("s-a", true).await.expect("mark again");
    store
        .set_open("s-b", false)
        .await
        .expect("clear an unmarked one");
    // Bytewise: uppercase before lowercase, "ü" (0xC3 0xBC) after ASCII.
    let all = vec!["S-upper", "s-a", "s-c", "s-ü"];
    assert_eq!(store.list_open(None, 10).await, Ok(strings(&all)));
    assert_eq!(store.list_open(None, 2).await, Ok(strings(&all[..2])));
    assert_eq!(
        store.list_open(Some("s-a"), 2).await,
        Ok(strings(&all[2..]))
    );
    assert_eq!(
        store.list_open(Some("s-b"), 10).await,
        Ok(strings(&all[2..]))
    );
    assert_eq!(store.list_open(Some("s-ü"), 10).await, Ok(vec![]));

    store.set_open("s-c", false).await.expect("clear");
    store.set_open("s-c", false).await.expect("clear again");
    assert_eq!(
        store.list_open(None, 10).await,
        Ok(strings(&["S-upper", "s-a", "s-ü"]))
    );

    // Nothing else changed: records, list order, logs.
    for record in &records {
        assert_eq!(
            store.get_session(record.id()).await,
            Ok(Some(record.clone()))
        );
        assert_eq!(store.last_seq(record.id()).await, Ok(0));
    }
    assert_eq!(store.list_sessions(None, 10).await, Ok(listed_before));
}

/// Marking needs the session; deleting a session removes its mark, and a session created again
/// under the same id starts unmarked. A zero page size is refused.
pub async fn open_marks_belong_to_their_session(t: TestStore) {
    let store = t.store;
    assert!(matches!(
        store.set_open("missing", true).await,
        Err(StoreError::NotFound { .. })
    ));
    assert!(matches!(
        store.set_open("missing", false).await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.list_open(None, 10).await, Ok(vec![]));
    assert!(matches!(
        store.list_open(None, 0).await,
        Err(StoreError::Invalid(_))
    ));

    create(&*store, "s1").await;
    create(&*store, "s2").await;
    store.set_open("s1", true).await.expect("mark");
    store.set_open("s2", true).await.expect("mark");
    // Appending does not touch the mark, nor the mark the log.
    store
        .append_events("s1", &[delta("a")])
        .await
        .expect("append");
    assert_eq!(store.list_open(None, 10).await, Ok(strings(&["s1", "s2"])));
    assert_eq!(store.delete_session("s1").await, Ok(true));
    assert_eq!(store.list_open(None, 10).await, Ok(strings(&["s2"])));
    create(&*store, "s1").await;
    assert_eq!(store.list_open(None, 10).await, Ok(strings(&["s2"])));
}

/// Many sessions, few open: the open ones are listed exactly once across pages.
pub async fn list_open_pages_through_many_sessions(t: TestStore) {
    let store = t.store;
    let mut expected = Vec::new();
    for i in 0..120u32 {
        let id = format!("s{i:03}");
        store
            .create_session(&session(&id, &ts(i)))
            .await
            .expect("create");
        if i % 7 == 3 {
            store.set_open(&id, true).await.expect("mark");
            expected.push(id);
        }
    }
    let mut listed: Vec<String> = Vec::new();
    for _ in 0..expected.len() + 1 {
        let page = store
            .list_open(listed.last().map(String::as_str), 4)
            .await
            .expect("page");
        assert!(page.len() <= 4);
        if page.is_empty() {
            break;
        }
        listed.extend(page);
    }
    assert_eq!(listed, expected);
}

fn strings(ids: &[&str]) -> Vec<String> {
    ids.iter().map(|id| id.to_string()).collect()
}
