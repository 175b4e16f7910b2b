//! [`MemoryStore`]: everything in one process's memory, for tests and throwaway servers.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;
use std::sync::{Mutex, MutexGuard};

use agent_runtime_protocol::{AgentProfile, Envelope, FileInfo, SessionEvent};
use async_trait::async_trait;

use crate::error::{Result, StoreError};
use crate::record::{SessionPage, SessionRecord, TranscriptMeta};
use crate::shared::{check_key, check_page_limit, describe_file, now_rfc3339, SessionCursor};
use crate::store::SessionStore;

/// A [`SessionStore`] that keeps everything in memory and loses it when dropped.
///
/// One mutex guards all state; no call holds it across an await, so every call is atomic and
/// appends are trivially gapless.
#[derive(Debug, Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

#[derive(Debug, Default)]
struct State {
    closed: bool,
    sessions: BTreeMap<String, SessionData>,
    /// `(created_at, session_id)` of every session: the list order, read backwards.
    by_created: BTreeSet<(String, String)>,
    profiles: BTreeMap<String, AgentProfile>,
    /// Ids of the open sessions (see [`SessionStore::set_open`]), in list order.
    open: BTreeSet<String>,
}

#[derive(Debug)]
struct SessionData {
    record: SessionRecord,
    /// `events[i].seq == i + 1`.
    events: Vec<Envelope>,
    transcripts: BTreeMap<String, (TranscriptMeta, Vec<u8>)>,
    files: BTreeMap<String, (FileInfo, Vec<u8>)>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// Locks the state, refusing calls after `close`.
    fn open_state(&self) -> Result<MutexGuard<'_, State>> {
        // A panic while holding the lock cannot leave a half-applied write (every mutation is
        // a single insert/remove after all checks), so a poisoned lock is safe to reuse.
        let state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        if state.closed {
            return Err(StoreError::Closed);
        }
        Ok(state)
    }
}

impl State {
    fn session_mut(&mut self, session_id: &str) -> Result<&mut SessionData> {
        self.sessions
            .get_mut(session_id)
            .ok_or_else(|| StoreError::session_not_found(session_id))
    }
}

#[async_trait]
impl SessionStore for MemoryStore {
    fn backend(&self) -> &'static str {
        "memory"
    }

    async fn create_session(&self, record: &SessionRecord) -> Result<()> {
        check_key("session id", record.id())?;
        let mut state = self.open_state()?;
        if state.sessions.contains_key(record.id()) {
            return Err(StoreError::Conflict(format!(
                "session {} already exists",
                record.id()
            )));
        }
        state.by_created.insert((
            record.info.created_at.clone(),
            record.info.session_id.clone(),
        ));
        state.sessions.insert(
            record.id().to_string(),
            SessionData {
                record: record.clone(),
                events: Vec::new(),
                transcripts: BTreeMap::new(),
                files: BTreeMap::new(),
            },
        );
        Ok(())
    }

    async fn get_session(&self, session_id: &str) -> Result<Option<SessionRecord>> {
        let state = self.open_state()?;
        Ok(state.sessions.get(session_id).map(|s| s.record.clone()))
    }

    async fn list_sessions(&self, cursor: Option<&str>, limit: usize) -> Result<SessionPage> {
        check_page_limit(limit)?;
        let cursor = cursor.map(SessionCursor::decode).transpose()?;
        let state = self.open_state()?;
        let below: Box<dyn DoubleEndedIterator<Item = &(String, String)>> = match cursor {
            Some(c) => Box::new(state.by_created.range(..(c.created_at, c.session_id))),
            None => Box::new(state.by_created.iter()),
        };
        let mut keys = below.rev().take(limit.saturating_add(1));
        let sessions: Vec<SessionRecord> = keys
            .by_ref()
            .take(limit)
            .filter_map(|(_, id)| state.sessions.get(id).map(|s| s.record.clone()))
            .collect();
        let more = keys.next().is_some();
        let next_cursor = match sessions.last() {
            Some(last) if more => Some(SessionCursor::after(last).encode()),
            _ => None,
        };
        Ok(SessionPage {
            sessions,
            next_cursor,
        })
    }

    async fn update_session(&self, record: &SessionRecord) -> Result<()> {
        let mut state = self.open_state()?;
        let stored = &mut state.session_mut(record.id())?.record;
        stored.info.profile.clone_from(&record.info.profile);
        stored.info.name.clone_from(&record.info.name);
        stored.info.updated_at.clone_from(&record.info.updated_at);
        stored.agent_session_id.clone_from(&record.agent_session_id);
        Ok(())
    }

    async fn delete_session(&self, session_id: &str) -> Result<bool> {
        let mut state = self.open_state()?;
        let Some(removed) = state.sessions.remove(session_id) else {
            return Ok(false);
        };
        state.open.remove(session_id);
        let info = removed.record.info;
        state.by_created.remove(&(info.created_at, info.session_id));
        Ok(true)
    }

    async fn set_open(&self, session_id: &str, open: bool) -> Result<()> {
        let mut state = self.open_state()?;
        state.session_mut(session_id)?;
        if open {
            state.open.insert(session_id.to_string());
        } else {
            state.open.remove(session_id);
        }
        Ok(())
    }

    async fn list_open(&self, after: Option<&str>, limit: usize) -> Result<Vec<String>> {
        check_page_limit(limit)?;
        let state = self.open_state()?;
        let above = state.open.range::<str, _>((
            after.map_or(Bound::Unbounded, Bound::Excluded),
            Bound::Unbounded,
        ));
        Ok(above.take(limit).cloned().collect())
    }

    async fn append_events(
        &self,
        session_id: &str,
        events: &[(String, SessionEvent)],
    ) -> Result<Vec<Envelope>> {
        let mut state = self.open_state()?;
        let log = &mut state.session_mut(session_id)?.events;
        let first = log.len() as u64 + 1;
        let appended = crate::shared::numbered_envelopes(session_id, events, first);
        log.extend(appended.iter().cloned());
        Ok(appended)
    }

    async fn read_events(
        &self,
        session_id: &str,
        after_seq: u64,
        limit: usize,
    ) -> Result<Vec<Envelope>> {
        let state = self.open_state()?;
        let Some(session) = state.sessions.get(session_id) else {
            return Ok(Vec::new());
        };
        let start = usize::try_from(after_seq).unwrap_or(usize::MAX);
        Ok(session
            .events
            .iter()
            .skip(start)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn last_seq(&self, session_id: &str) -> Result<u64> {
        let state = self.open_state()?;
        Ok(state
            .sessions
            .get(session_id)
            .map_or(0, |s| s.events.len() as u64))
    }

    async fn put_transcript(
        &self,
        session_id: &str,
        name: &str,
        content: &[u8],
    ) -> Result<TranscriptMeta> {
        check_key("transcript name", name)?;
        let mut state = self.open_state()?;
        let session = state.session_mut(session_id)?;
        let meta = TranscriptMeta {
            name: name.to_string(),
            size: content.len() as u64,
            updated_at: now_rfc3339(),
        };
        session
            .transcripts
            .insert(name.to_string(), (meta.clone(), content.to_vec()));
        Ok(meta)
    }

    async fn get_transcript(&self, session_id: &str, name: &str) -> Result<Option<Vec<u8>>> {
        let state = self.open_state()?;
        Ok(state
            .sessions
            .get(session_id)
            .and_then(|s| s.transcripts.get(name))
            .map(|(_, content)| content.clone()))
    }

    async fn list_transcripts(&self, session_id: &str) -> Result<Vec<TranscriptMeta>> {
        let state = self.open_state()?;
        Ok(state.sessions.get(session_id).map_or_else(Vec::new, |s| {
            s.transcripts
                .values()
                .map(|(meta, _)| meta.clone())
                .collect()
        }))
    }

    async fn delete_transcript(&self, session_id: &str, name: &str) -> Result<bool> {
        let mut state = self.open_state()?;
        Ok(state
            .sessions
            .get_mut(session_id)
            .is_some_and(|s| s.transcripts.remove(name).is_some()))
    }

    async fn put_file(&self, session_id: &str, path: &str, content: &[u8]) -> Result<FileInfo> {
        check_key("file path", path)?;
        let info = describe_file(path, content);
        let mut state = self.open_state()?;
        state
            .session_mut(session_id)?
            .files
            .insert(path.to_string(), (info.clone(), content.to_vec()));
        Ok(info)
    }

    async fn get_file(&self, session_id: &str, path: &str) -> Result<Option<Vec<u8>>> {
        let state = self.open_state()?;
        Ok(state
            .sessions
            .get(session_id)
            .and_then(|s| s.files.get(path))
            .map(|(_, content)| content.clone()))
    }

    async fn list_files(&self, session_id: &str) -> Result<Vec<FileInfo>> {
        let state = self.open_state()?;
        Ok(state.sessions.get(session_id).map_or_else(Vec::new, |s| {
            s.files.values().map(|(info, _)| info.clone()).collect()
        }))
    }

    async fn delete_file(&self, session_id: &str, path: &str) -> Result<bool> {
        let mut state = self.open_state()?;
        Ok(state
            .sessions
            .get_mut(session_id)
            .is_some_and(|s| s.files.remove(path).is_some()))
    }

    async fn put_profile(&self, profile: &AgentProfile) -> Result<()> {
        check_key("profile id", &profile.id)?;
        let mut state = self.open_state()?;
        state.profiles.insert(profile.id.clone(), profile.clone());
        Ok(())
    }

    async fn get_profile(&self, id: &str) -> Result<Option<AgentProfile>> {
        let state = self.open_state()?;
        Ok(state.profiles.get(id).cloned())
    }

    async fn list_profiles(&self) -> Result<Vec<AgentProfile>> {
        let state = self.open_state()?;
        Ok(state.profiles.values().cloned().collect())
    }

    async fn delete_profile(&self, id: &str) -> Result<bool> {
        let mut state = self.open_state()?;
        Ok(state.profiles.remove(id).is_some())
    }

    async fn close(&self) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        *state = State {
            closed: true,
            ..State::default()
        };
    }
}
