//! Contract cases: session records and the session list.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use agent_runtime_protocol::AgentProfile;
use pretty_assertions::assert_eq;
use tokio::sync::Semaphore;

use super::{create, delta, session, ts, TestStore};
use crate::error::StoreError;
use crate::record::SessionRecord;
use crate::store::SessionStore;

/// A session reads back exactly as created; ids are unique and must be non-empty.
pub async fn create_and_get_session(t: TestStore) {
    let store = t.store;
    let mut record = session("s1", &ts(5));
    record.info.profile = Some("reviewer".into());
    record.info.name = Some("Réglage — 日本 🎉".into());
    record.agent_session_id = Some("agent-123".into());
    store.create_session(&record).await.expect("create");
    assert_eq!(store.get_session("s1").await, Ok(Some(record.clone())));
    assert_eq!(store.get_session("nope").await, Ok(None));
    assert_eq!(store.last_seq("s1").await, Ok(0));

    let again = session("s1", &ts(9));
    assert!(matches!(
        store.create_session(&again).await,
        Err(StoreError::Conflict(_))
    ));
    assert_eq!(store.get_session("s1").await, Ok(Some(record)));
    assert!(matches!(
        store.create_session(&session("", &ts(0))).await,
        Err(StoreError::Invalid(_))
    ));
}

/// `update_session` writes profile, name, updated_at and agent_session_id, keeps agent and
/// created_at, and fails for an unknown session.
pub async fn update_session_writes_mutable_fields(t: TestStore) {
    let store = t.store;
    let original = create(&*store, "s1").await;
    store
        .append_events("s1", &[delta("a")])
        .await
        .expect("append");

    let mut changed = original.clone();
    changed.info.profile = Some("p2".into());
    changed.info.name = Some("renamed".into());
    changed.info.updated_at = ts(100);
    changed.agent_session_id = Some("claude-abc".into());
    changed.info.agent = "gemini".into();
    changed.info.created_at = ts(50);
    store.update_session(&changed).await.expect("update");

    let mut expected = changed.clone();
    expected.info.agent = original.info.agent.clone();
    expected.info.created_at = original.info.created_at.clone();
    assert_eq!(store.get_session("s1").await, Ok(Some(expected.clone())));
    assert_eq!(store.last_seq("s1").await, Ok(1));

    // Clearing optional fields clears them.
    let mut cleared = expected.clone();
    cleared.info.name = None;
    cleared.agent_session_id = None;
    store.update_session(&cleared).await.expect("update");
    assert_eq!(store.get_session("s1").await, Ok(Some(cleared)));

    let ghost = session("ghost", &ts(0));
    assert_eq!(
        store.update_session(&ghost).await,
        Err(StoreError::session_not_found("ghost"))
    );
    assert_eq!(store.get_session("ghost").await, Ok(None));
}

/// Deleting a session deletes its events, transcripts and files, and nothing of other sessions.
pub async fn delete_session_removes_everything(t: TestStore) {
    let store = t.store;
    for id in ["doomed", "kept"] {
        create(&*store, id).await;
        store
            .append_events(id, &[delta("1"), delta("2")])
            .await
            .expect("append");
        store
            .put_transcript(id, "t.jsonl", b"{}\n")
            .await
            .expect("transcript");
        store.put_file(id, "a.txt", b"a").await.expect("file");
    }

    assert_eq!(store.delete_session("doomed").await, Ok(true));
    assert_eq!(store.get_session("doomed").await, Ok(None));
    assert_eq!(store.read_events("doomed", 0, 100).await, Ok(vec![]));
    assert_eq!(store.last_seq("doomed").await, Ok(0));
    assert_eq!(store.list_transcripts("doomed").await, Ok(vec![]));
    assert_eq!(store.get_transcript("doomed", "t.jsonl").await, Ok(None));
    assert_eq!(store.list_files("doomed").await, Ok(vec![]));
    assert_eq!(store.get_file("doomed", "a.txt").await, Ok(None));
    assert_eq!(store.delete_session("doomed").await, Ok(false));
    let page = store.list_sessions(None, 10).await.expect("list");
    assert_eq!(ids(&page.sessions), vec!["kept"]);

    assert_eq!(store.last_seq("kept").await, Ok(2));
    assert_eq!(store.list_transcripts("kept").await.map(|t| t.len()), Ok(1));
    assert_eq!(
        store.get_file("kept", "a.txt").await,
        Ok(Some(b"a".to_vec()))
    );

    // The id can be reused, and nothing of the old session comes back.
    create(&*store, "doomed").await;
    let appended = store
        .append_events("doomed", &[delta("fresh")])
        .await
        .expect("append");
    assert_eq!(appended.iter().map(|e| e.seq).collect::<Vec<_>>(), vec![1]);
    assert_eq!(store.read_events("doomed", 0, 100).await, Ok(appended));
    assert_eq!(store.list_files("doomed").await, Ok(vec![]));
    assert_eq!(store.list_transcripts("doomed").await, Ok(vec![]));
}

/// Pages come newest first (created_at, then id, both descending), every session exactly once,
/// and `next_cursor` is absent exactly on the last page.
pub async fn list_sessions_pages_newest_first(t: TestStore) {
    let store = t.store;
    let empty = store.list_sessions(None, 5).await.expect("list");
    assert_eq!((empty.sessions.len(), empty.next_cursor), (0, None));

    // Pairs share a created_at, so the id breaks ties.
    let mut all: Vec<SessionRecord> = (0..23)
        .map(|i| session(&format!("s{i:02}"), &ts(i / 2)))
        .collect();
    for record in &all {
        store.create_session(record).await.expect("create");
    }
    sort_newest_first(&mut all);

    let pages = collect_pages(&*store, 5, |_| async {}).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![5, 5, 5, 5, 3]
    );
    assert_eq!(pages.concat(), all);

    // When the last page is full, it still says there is nothing more.
    let pages = collect_pages(&*store, 23, |_| async {}).await;
    assert_eq!(pages.len(), 1);
    let whole = store.list_sessions(None, 100).await.expect("list");
    assert_eq!((whole.sessions, whole.next_cursor), (all, None));
}

/// Sessions inserted between page fetches cause no duplicates and no skips of the sessions that
/// were there from the start: inserts ahead of the cursor are not seen, inserts behind it are.
pub async fn list_sessions_is_stable_under_inserts(t: TestStore) {
    let store = t.store;
    let old: Vec<SessionRecord> = (0..20)
        .map(|i| session(&format!("old-{i:02}"), &ts(100 + i / 2)))
        .collect();
    for record in &old {
        store.create_session(record).await.expect("create");
    }

    let writer = store.clone();
    let pages = collect_pages(&*store, 6, move |last: SessionRecord| {
        let writer = writer.clone();
        async move {
            let n = last.id().to_string();
            let at = last.info.created_at.clone();
            let inserts = [
                // Ahead of the cursor: newer, or same time with a greater id.
                session(&format!("new-{n}"), &ts(1000)),
                session(&format!("zzz-{n}"), &at),
                // Behind the cursor: same time with a smaller id, or older than everything.
                session(&format!("aaa-{n}"), &at),
                session(&format!("anc-{n}"), &ts(1)),
            ];
            for record in &inserts {
                writer.create_session(record).await.expect("create");
            }
        }
    })
    .await;
    let seen: Vec<SessionRecord> = pages.concat();

    let unique: HashSet<&str> = seen.iter().map(SessionRecord::id).collect();
    assert_eq!(unique.len(), seen.len(), "duplicates in {:?}", ids(&seen));
    let mut expected: Vec<SessionRecord> = store
        .list_sessions(None, 1000)
        .await
        .expect("list")
        .sessions
        .into_iter()
        .filter(|s| !s.id().starts_with("new-") && !s.id().starts_with("zzz-"))
        .collect();
    sort_newest_first(&mut expected);
    assert_eq!(ids(&seen), ids(&expected));
    for record in &old {
        assert!(unique.contains(record.id()), "skipped {}", record.id());
    }
}

/// Paging while another task keeps inserting and deleting sessions (at both ends of the list and
/// right around the cursor): the pages are in strict list order (so nothing repeats) and every
/// session that was there from the start comes exactly once.
pub async fn list_sessions_is_stable_under_concurrent_writes(t: TestStore) {
    const PAGE: usize = 7;
    const WRITES_PER_PAGE: usize = 3;
    let store = t.store;
    // Three sessions per second from ts(100), so created_at ties are common.
    let original: Vec<SessionRecord> = (0..40)
        .map(|i| session(&format!("orig-{i:02}"), &ts(100 + i / 3)))
        .collect();
    for record in &original {
        store.create_session(record).await.expect("create");
    }

    // The reader hands out write permits page by page: the writer always has a few to use while
    // the next page is fetched, yet cannot run arbitrarily far ahead on a fast backend.
    let permits = Arc::new(Semaphore::new(WRITES_PER_PAGE));
    let writes = Arc::new(AtomicUsize::new(0));
    let writer = tokio::spawn({
        let (store, permits, writes) = (store.clone(), permits.clone(), writes.clone());
        async move {
            let mut inserted = VecDeque::new();
            let mut n: u32 = 0;
            // Ends when the reader closes the semaphore.
            while let Ok(permit) = permits.acquire().await {
                permit.forget();
                // From one second before the oldest to one after the newest original, with ids
                // sorting before and after the originals' at the same created_at.
                let at = ts(99 + (n * 7) % 16);
                let prefix = ["aaa", "zzz"][n as usize % 2];
                let record = session(&format!("{prefix}-{n:05}"), &at);
                store
                    .create_session(&record)
                    .await
                    .expect("concurrent create");
                inserted.push_back(record.info.session_id);
                if n % 3 == 2 {
                    if let Some(id) = inserted.pop_front() {
                        store.delete_session(&id).await.expect("concurrent delete");
                    }
                }
                writes.fetch_add(1, Ordering::Relaxed);
                n += 1;
            }
        }
    });

    let pages = collect_pages(&*store, PAGE, |_| {
        let (permits, writes) = (permits.clone(), writes.clone());
        async move {
            let target = writes.load(Ordering::Relaxed) + WRITES_PER_PAGE;
            permits.add_permits(WRITES_PER_PAGE);
            tokio::time::timeout(Duration::from_secs(10), async {
                while writes.load(Ordering::Relaxed) < target {
                    tokio::task::yield_now().await;
                }
            })
            .await
            .expect("the concurrent writer makes progress");
        }
    })
    .await;
    permits.close();
    writer.await.expect("writer task");
    assert!(writes.load(Ordering::Relaxed) >= WRITES_PER_PAGE * (pages.len() - 1));

    let seen: Vec<SessionRecord> = pages.concat();
    for pair in seen.windows(2) {
        let (a, b) = (&pair[0].info, &pair[1].info);
        assert!(
            (&a.created_at, &a.session_id) > (&b.created_at, &b.session_id),
            "out of order or repeated: {} then {}",
            a.session_id,
            b.session_id
        );
    }
    for record in &original {
        let count = seen.iter().filter(|s| s.id() == record.id()).count();
        assert_eq!(count, 1, "{} seen {count} times", record.id());
    }
}

/// Session ids, transcript names and profile ids sort bytewise (not by any locale: `Z` before
/// `a`, `e` + combining accent before `é`) and come back exactly as written, unnormalized.
pub async fn keys_sort_bytewise_and_are_not_normalized(t: TestStore) {
    let store = t.store;
    let mut keys = vec![
        "Zebra", "apple", "a b", "A", "é", "e\u{301}", "日本", "🎉", "-dash", "_under",
    ];
    // One created_at for all, so the session list is ordered by id alone.
    for key in &keys {
        store
            .create_session(&session(key, &ts(7)))
            .await
            .expect("create");
    }
    create(&*store, "holder").await;
    for key in &keys {
        store
            .put_transcript("holder", key, key.as_bytes())
            .await
            .expect("transcript");
        let profile = AgentProfile {
            id: key.to_string(),
            ..AgentProfile::default()
        };
        store.put_profile(&profile).await.expect("profile");
    }
    keys.sort();

    let listed = store.list_sessions(None, 100).await.expect("list");
    let mut newest_first: Vec<&str> = keys.clone();
    newest_first.reverse();
    newest_first.push("holder"); // created at ts(0), before the others
    assert_eq!(ids(&listed.sessions), newest_first);
    let names: Vec<String> = store
        .list_transcripts("holder")
        .await
        .expect("transcripts")
        .into_iter()
        .map(|m| m.name)
        .collect();
    assert_eq!(names, keys);
    let profile_ids: Vec<String> = store
        .list_profiles()
        .await
        .expect("profiles")
        .into_iter()
        .map(|p| p.id)
        .collect();
    assert_eq!(profile_ids, keys);
    for key in &keys {
        assert_eq!(
            store
                .get_session(key)
                .await
                .expect("get")
                .map(|r| r.info.session_id),
            Some(key.to_string())
        );
        assert_eq!(
            store.get_transcript("holder", key).await,
            Ok(Some(key.as_bytes().to_vec()))
        );
    }
}

/// A zero page size and a malformed cursor are `Invalid`.
pub async fn list_sessions_rejects_bad_input(t: TestStore) {
    let store = t.store;
    create(&*store, "s1").await;
    assert!(matches!(
        store.list_sessions(None, 0).await,
        Err(StoreError::Invalid(_))
    ));
    for bad in ["", "garbage", "v1.zz"] {
        assert!(
            matches!(
                store.list_sessions(Some(bad), 10).await,
                Err(StoreError::Invalid(_))
            ),
            "cursor {bad:?}"
        );
    }
}

/// Fetches every page of `limit` sessions, calling `between(last session of the page)` after
/// each page that has a successor.
async fn collect_pages<F, Fut>(
    store: &dyn SessionStore,
    limit: usize,
    between: F,
) -> Vec<Vec<SessionRecord>>
where
    F: Fn(SessionRecord) -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    let mut pages = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_sessions(cursor.as_deref(), limit)
            .await
            .expect("list_sessions");
        assert!(page.sessions.len() <= limit, "page larger than limit");
        let last = page.sessions.last().cloned();
        pages.push(page.sessions);
        match (page.next_cursor, last) {
            (Some(next), Some(last)) => {
                between(last).await;
                cursor = Some(next);
            }
            (None, _) => return pages,
            (Some(_), None) => panic!("an empty page has a next_cursor"),
        }
        assert!(pages.len() < 1000, "pagination does not end");
    }
}

fn sort_newest_first(records: &mut [SessionRecord]) {
    records.sort_by(|a, b| {
        (&b.info.created_at, &b.info.session_id).cmp(&(&a.info.created_at, &a.info.session_id))
    });
}

fn ids(records: &[SessionRecord]) -> Vec<&str> {
    records.iter().map(SessionRecord::id).collect()
}
