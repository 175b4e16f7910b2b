//! A backend written outside this crate, as a user's crate would: it implements
//! [`SessionStore`] with only public items (here a decorator that counts writes around another
//! store) and runs the contract suite through the exported macro.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use agent_runtime_store::contract::TestStore;
use agent_runtime_store::{
    AgentProfile, Envelope, FileInfo, MemoryStore, Result, SessionEvent, SessionPage,
    SessionRecord, SessionStore, TranscriptMeta,
};
use async_trait::async_trait;

/// Counts the writes that reach `inner`.
struct CountingStore {
    inner: Arc<dyn SessionStore>,
    writes: AtomicU64,
}

impl CountingStore {
    fn wrap(inner: Arc<dyn SessionStore>) -> Self {
        CountingStore {
            inner,
            writes: AtomicU64::new(0),
        }
    }

    fn count(&self) {
        self.writes.fetch_add(1, Ordering::Relaxed);
    }
}

#[async_trait]
impl SessionStore for CountingStore {
    fn backend(&self) -> &'static str {
        "counting"
    }

    async fn create_session(&self, record: &SessionRecord) -> Result<()> {
        self.count();
        self.inner.create_session(record).await
    }

    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>> {
        self.inner.get_session(session_id).await
    }

    async fn list_sessions(&self, cursor: Option<&str>, limit: usize) -> Result<SessionPage> {
        self.inner.list_sessions(cursor, limit).await
    }

    async fn update_session(&self, record: &SessionRecord) -> Result<()> {
        self.count();
        self.inner.update_session(record).await
    }

    async fn delete_session(&self, session_id: &str) -> Result<bool> {
        self.count();
        self.inner.delete_session(session_id).await
    }

    async fn set_open(&self, session_id: &str, open: bool) -> Result<()> {
        self.count();
        self.inner.set_open(session_id, open).await
    }

    async fn list_open(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        self.inner.list_open(after, limit).await
    }

    async fn append_events(
        &self,
        session_id: &str,
        events: &[(String, SessionEvent)],
    ) -> Result<Vec<Envelope>> {
        self.count();
        self.inner.append_events(session_id, events).await
    }

    async fn read_events(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>> {
        self.inner.read_events(session_id, after_seq, limit).await
    }

    async fn last_seq(&self, session_id: &str) -> Result<u64> {
        self.inner.last_seq(session_id).await
    }

    async fn put_transcript(
        &self,
        session_id: &str,
        name: &str,
        content: &[u8],
    ) -> Result<TranscriptMeta> {
        self.count();
        self.inner.put_transcript(session_id, name, content).await
    }

    async fn get_transcript(&self, session_id: &str, name: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get_transcript(session_id, name).await
    }

    async fn list_transcripts(&self, session_id: &str) -> Result<Vec<TranscriptMeta>> {
        self.inner.list_transcripts(session_id).await
    }

    async fn delete_transcript(&self, session_id: &str, name: &str) -> Result<bool> {
        self.count();
        self.inner.delete_transcript(session_id, name).await
    }

    async fn put_file(&self, session_id: &str, path: &str, content: &[u8]) -> Result<FileInfo> {
        self.count();
        self.inner.put_file(session_id, path, content).await
    }

    async fn get_file(&self, session_id: &str, path: &str) -> Result<Option<Vec<u8>>> {
        self.inner.get_file(session_id, path).await
    }

    async fn list_files(&self, session_id: &str) -> Result<Vec<FileInfo>> {
        self.inner.list_files(session_id).await
    }

    async fn delete_file(&self, session_id: &str, path: &str) -> Result<bool> {
        self.count();
        self.inner.delete_file(session_id, path).await
    }

    async fn put_profile(&self, profile: &AgentProfile) -> Result<()> {
        self.count();
        self.inner.put_profile(profile).await
    }

    async fn get_profile(&self, id: &str) -> Result<Option<AgentProfile>> {
        self.inner.get_profile(id).await
    }

    async fn list_profiles(&self) -> Result<Vec<AgentProfile>> {
        self.inner.list_profiles().await
    }

    async fn delete_profile(&self, id: &str) -> Result<bool> {
        self.count();
        self.inner.delete_profile(id).await
    }

    async fn close(&self) {
        self.inner.close().await;
    }
}

async fn fresh_store() -> TestStore {
    TestStore::new(Arc::new(CountingStore::wrap(Arc::new(MemoryStore::new()))))
}

agent_runtime_store::store_contract_tests!(fresh_store);

#[tokio::test]
async fn the_decorator_sees_every_write() {
    let store = CountingStore::wrap(Arc::new(MemoryStore::new()));
    let record = agent_runtime_store::contract::PreviousSchemaData::sample().sessions[0]
        .record
        .clone();
    store.create_session(&record).await.expect("create");
    store
        .put_file(record.id(), "a.txt", b"a")
        .await
        .expect("put");
    assert_eq!(
        store.get_file(record.id(), "a.txt").await,
        Ok(Some(b"a".to_vec()))
    );
    assert_eq!(store.writes.load(Ordering::Relaxed), 2);
}
