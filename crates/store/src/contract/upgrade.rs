//! Contract case: data written by the previous schema version is all there after the store
//! migrates it.
//!
//! The backend's [`FromPreviousSchema`](super::FromPreviousSchema) writes a
//! [`PreviousSchemaData`] with plain SQL into storage migrated only up to the previous version
//! (as the previous release left it), then opens it with the current code. The case reads
//! everything back through the trait and keeps using the store. Every session the previous schema
//! held comes up open ([`SessionStore::set_open`](crate::SessionStore::set_open)): it may hold a
//! turn a crash left running.

use agent_runtime_protocol::{AgentProfile, Envelope, FileInfo};
use pretty_assertions::assert_eq;

use super::events::{tool_start, turn_end};
use super::lifecycle::full_profile;
use super::{delta, session, ts, TestStore};
use crate::record::{SessionRecord, TranscriptMeta};
use crate::shared::describe_file;

/// What the previous schema held, row by row: write each field into its column.
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousSchemaData {
    pub sessions: Vec<PreviousSession>,
    pub profiles: Vec<AgentProfile>,
}

/// A session with everything it owns. Its `last_seq` is the seq of its last event (0 if none).
#[derive(Debug, Clone, PartialEq)]
pub struct PreviousSession {
    pub record: SessionRecord,
    /// The event log, seqs 1..=N; an event is stored as `serde_json::to_string(&envelope.event)`.
    pub events: Vec<Envelope>,
    /// Each transcript with its content (`meta.updated_at` is the stored stamp).
    pub transcripts: Vec<(TranscriptMeta, Vec<u8>)>,
    /// Each workspace file with its content; the files' own `updated_at` column, if the schema
    /// has one, may hold any timestamp.
    pub files: Vec<(FileInfo, Vec<u8>)>,
}

impl PreviousSession {
    /// The value of the session's `last_seq`.
    pub fn last_seq(&self) -> u64 {
        self.events.last().map_or(0, |e| e.seq)
    }
}

impl PreviousSchemaData {
    /// The data set the upgrade case writes: sessions with and without logs, unicode keys,
    /// binary content, a full profile.
    pub fn sample() -> Self {
        let binary: Vec<u8> = (0..=255u8).chain((0..=255u8).rev()).collect();
        let mut busy = session("busy-ü", &ts(20));
        busy.info.name = Some("Réglage 🎉".into());
        busy.info.profile = Some("reviewer".into());
        busy.info.updated_at = ts(40);
        busy.agent_session_id = Some("claude-1".into());
        let events: Vec<Envelope> = [(ts(21), tool_start()), delta("hello"), (ts(22), turn_end())]
            .into_iter()
            .zip(1..)
            .map(|((at, event), seq)| Envelope {
                session_id: busy.info.session_id.clone(),
                seq,
                at,
                event,
            })
            .collect();
        let file = |path: &str, content: &[u8]| (describe_file(path, content), content.to_vec());
        PreviousSchemaData {
            sessions: vec![
                PreviousSession {
                    record: busy,
                    events,
                    transcripts: vec![
                        transcript("claude-1.jsonl", b"{\"line\":1}\n"),
                        transcript("raw.bin", &binary),
                    ],
                    files: vec![
                        file("bin/all.dat", &binary),
                        file("données/résumé.md", "# Résumé\n".as_bytes()),
                        file("src/main.rs", b"fn main() {}\n"),
                    ],
                },
                PreviousSession {
                    record: session("quiet", &ts(10)),
                    events: vec![],
                    transcripts: vec![],
                    files: vec![],
                },
                PreviousSession {
                    record: session("tie-at-20", &ts(20)),
                    events: vec![Envelope {
                        session_id: "tie-at-20".into(),
                        seq: 1,
                        at: ts(1),
                        event: delta("only").1,
                    }],
                    transcripts: vec![],
                    files: vec![file("a.txt", b"a")],
                },
            ],
            profiles: vec![
                full_profile("reviewer"),
                AgentProfile {
                    id: "a-minimal".into(),
                    ..AgentProfile::default()
                },
            ],
        }
    }
}

fn transcript(name: &str, content: &[u8]) -> (TranscriptMeta, Vec<u8>) {
    let meta = TranscriptMeta {
        name: name.into(),
        size: content.len() as u64,
        updated_at: ts(30),
    };
    (meta, content.to_vec())
}

/// Storage written by the previous schema, opened (and so migrated) by the current code, holds
/// every session, event, transcript, file and profile, and keeps working: logs continue at the
/// next seq, writes and cascading deletes behave. Passes without checking for backends without a
/// previous schema.
pub async fn upgrade_from_previous_schema_keeps_everything(t: TestStore) {
    let Some(from_previous_schema) = t.from_previous_schema else {
        return;
    };
    let data = PreviousSchemaData::sample();
    let upgraded = from_previous_schema(data.clone()).await;
    let store = upgraded.store.clone();

    let mut newest_first: Vec<SessionRecord> =
        data.sessions.iter().map(|s| s.record.clone()).collect();
    newest_first.sort_by(|a, b| {
        (&b.info.created_at, &b.info.session_id).cmp(&(&a.info.created_at, &a.info.session_id))
    });
    let page = store.list_sessions(None, 2).await.expect("list");
    let rest = store
        .list_sessions(page.next_cursor.as_deref(), 2)
        .await
        .expect("list");
    assert_eq!([page.sessions, rest.sessions].concat(), newest_first);
    assert_eq!(rest.next_cursor, None);

    for previous in &data.sessions {
        let id = previous.record.id();
        assert_eq!(
            store.get_session(id).await,
            Ok(Some(previous.record.clone()))
        );
        assert_eq!(store.last_seq(id).await, Ok(previous.last_seq()));
        assert_eq!(
            store.read_events(id, 0, 100).await,
            Ok(previous.events.clone())
        );
        let mut transcripts: Vec<TranscriptMeta> = previous
            .transcripts
            .iter()
            .map(|(m, _)| m.clone())
            .collect();
        transcripts.sort_by(|a, b| a.name.cmp(&b.name));
        assert_eq!(store.list_transcripts(id).await, Ok(transcripts));
        for (meta, content) in &previous.transcripts {
            assert_eq!(
                store.get_transcript(id, &meta.name).await,
                Ok(Some(content.clone()))
            );
        }
        let mut files: Vec<FileInfo> = previous.files.iter().map(|(f, _)| f.clone()).collect();
        files.sort();
        assert_eq!(store.list_files(id).await, Ok(files));
        for (info, content) in &previous.files {
            assert_eq!(
                store.get_file(id, &info.path).await,
                Ok(Some(content.clone()))
            );
        }
    }
    let mut profiles = data.profiles.clone();
    profiles.sort_by(|a, b| a.id.cmp(&b.id));
    assert_eq!(store.list_profiles().await, Ok(profiles));
    // The previous schema had no recovery index: any session may hold a turn a crash left
    // open, so every one comes up open; sessions created from now on do not.
    let mut ids: Vec<String> = data
        .sessions
        .iter()
        .map(|s| s.record.id().to_string())
        .collect();
    ids.sort();
    assert_eq!(store.list_open(None, 100).await, Ok(ids));
    store
        .create_session(&session("after-the-upgrade", &ts(50)))
        .await
        .expect("create");
    assert!(!store
        .list_open(None, 100)
        .await
        .expect("list open")
        .contains(&"after-the-upgrade".to_string()));

    // It keeps working on the migrated schema.
    let busy = &data.sessions[0];
    let id = busy.record.id();
    let next = store
        .append_events(id, &[delta("after the upgrade")])
        .await
        .expect("append");
    assert_eq!(next[0].seq, busy.last_seq() + 1);
    let changed = store
        .put_file(id, "src/main.rs", b"fn main() { todo!() }\n")
        .await
        .expect("overwrite");
    assert!(store.list_files(id).await.expect("list").contains(&changed));
    assert_eq!(store.delete_session(id).await, Ok(true));
    assert_eq!(store.read_events(id, 0, 100).await, Ok(vec![]));
    assert_eq!(store.list_files(id).await, Ok(vec![]));
    assert_eq!(store.list_transcripts(id).await, Ok(vec![]));
    store.close().await;
    drop(upgraded);
}
