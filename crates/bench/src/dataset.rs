//! Databases for the load, start-up and memory figures, written directly through
//! `agent_runtime_store` (realistic turns: a user message, an assistant text streamed as text
//! deltas, its block complete, the turn's end) and cached under `target/bench-data/<key>/` so
//! a rerun starts at once. A dataset is built in a temporary sibling directory and renamed into
//! place when complete, so an interrupted build is never mistaken for a cached one.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use agent_runtime_protocol::{
    AssistantTextBlock, Block, SessionEvent, SessionInfo, SessionStatus, TurnEndReason, Usage,
    UserMessageBlock, MAIN_CONVERSATION,
};
use agent_runtime_store::{SessionRecord, SessionStore, SqliteStore};
use anyhow::{Context, Result};

/// Events of a turn besides its text deltas: turn started, the user block's start and
/// complete, the assistant block's start and complete, turn completed.
pub const EVENTS_PER_TURN_BESIDES_DELTAS: usize = 6;

/// The most events appended in one call (one transaction).
const APPEND_BATCH: usize = 1000;

/// Bump when the generated content changes, so old caches are not reused.
const FORMAT_VERSION: u32 = 1;

/// The file name of the database inside a dataset directory.
pub const DB_FILE: &str = "agent-runtime.db";

/// What a dataset holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DatasetSpec {
    pub sessions: usize,
    pub turns_per_session: usize,
    pub deltas_per_turn: usize,
}

impl DatasetSpec {
    /// Events in each session.
    pub fn events_per_session(&self) -> usize {
        self.turns_per_session * (self.deltas_per_turn + EVENTS_PER_TURN_BESIDES_DELTAS)
    }

    /// Events in the whole dataset.
    pub fn total_events(&self) -> usize {
        self.sessions * self.events_per_session()
    }

    /// The cache key: its directory name.
    pub fn key(&self) -> String {
        format!(
            "sqlite-v{FORMAT_VERSION}-{}s-{}t-{}d",
            self.sessions, self.turns_per_session, self.deltas_per_turn
        )
    }
}

/// The id of the `index`-th session of a dataset (UUID-shaped, like the server's own).
pub fn session_id(index: usize) -> String {
    format!("00000000-0000-4000-8000-{index:012}")
}

/// A prepared dataset.
#[derive(Debug, Clone)]
pub struct Dataset {
    pub spec: DatasetSpec,
    pub dir: PathBuf,
}

impl Dataset {
    /// The database file.
    pub fn db(&self) -> PathBuf {
        self.dir.join(DB_FILE)
    }

    /// Copies the database into `data_dir` (a run may write to it; the cache stays pristine) and
    /// returns the store URL of the copy.
    pub fn copy_into(&self, data_dir: &Path) -> Result<String> {
        let target = data_dir.join(DB_FILE);
        std::fs::copy(self.db(), &target).context("copying the dataset")?;
        // Closing the store checkpoints its WAL; copy one anyway if it was left behind.
        for suffix in ["-wal", "-shm"] {
            let side = self.dir.join(format!("{DB_FILE}{suffix}"));
            if side.is_file() {
                std::fs::copy(&side, data_dir.join(format!("{DB_FILE}{suffix}")))?;
            }
        }
        Ok(format!("sqlite://{}", target.display()))
    }
}

/// The dataset `spec` under `cache`, built first if it is not there yet.
pub async fn prepare(cache: &Path, spec: DatasetSpec) -> Result<Dataset> {
    let dir = cache.join(spec.key());
    if dir.join(DB_FILE).is_file() {
        return Ok(Dataset { spec, dir });
    }
    std::fs::create_dir_all(cache)?;
    let building = cache.join(format!("{}.building-{}", spec.key(), std::process::id()));
    let _ = std::fs::remove_dir_all(&building);
    std::fs::create_dir_all(&building)?;
    eprintln!(
        "  preparing {} sessions with {} events in all (cached in {})",
        spec.sessions,
        spec.total_events(),
        dir.display()
    );
    let started = Instant::now();
    write_dataset(&building.join(DB_FILE), spec).await?;
    eprintln!("  prepared in {:.1} s", started.elapsed().as_secs_f64());
    std::fs::rename(&building, &dir).context("moving the dataset into the cache")?;
    Ok(Dataset { spec, dir })
}

async fn write_dataset(db: &Path, spec: DatasetSpec) -> Result<()> {
    let store = SqliteStore::open(db).await?;
    let base = chrono::DateTime::parse_from_rfc3339("2026-01-01T00:00:00.000Z")?.to_utc();
    let progress_every = (spec.sessions / 10).max(1);
    for index in 0..spec.sessions {
        let created = base + Duration::from_secs(index as u64);
        let created_at = rfc3339(created);
        let id = session_id(index);
        store
            .create_session(&SessionRecord::new(SessionInfo {
                session_id: id.clone(),
                agent: "claude-code".into(),
                profile: None,
                name: Some(format!("bench session {index}")),
                created_at: created_at.clone(),
                updated_at: created_at,
                status: SessionStatus::Idle,
            }))
            .await?;
        let mut batch = Vec::with_capacity(APPEND_BATCH);
        for turn in 0..spec.turns_per_session {
            let at = rfc3339(created + Duration::from_millis(turn as u64 * 1000));
            for event in turn_events(turn, spec.deltas_per_turn, &at) {
                batch.push((at.clone(), event));
                if batch.len() == APPEND_BATCH {
                    store.append_events(&id, &batch).await?;
                    batch.clear();
                }
            }
        }
        if !batch.is_empty() {
            store.append_events(&id, &batch).await?;
        }
        if (index + 1) % progress_every == 0 {
            eprintln!("    {} / {} sessions", index + 1, spec.sessions);
        }
    }
    store.close().await;
    Ok(())
}

fn rfc3339(at: chrono::DateTime<chrono::Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// The events of one completed turn, as the runtime writes them for a text-only answer:
/// `deltas` text deltas of a few words each.
pub fn turn_events(turn: usize, deltas: usize, at: &str) -> Vec<SessionEvent> {
    let turn_id = format!("turn_{turn:06}");
    let user_id = format!("user_{turn:06}");
    let text_id = format!("text_{turn:06}");
    let user = Block::UserMessage(UserMessageBlock {
        id: user_id.clone(),
        at: at.to_string(),
        text: format!("Please explain step {turn} of the plan in a few sentences."),
        client_message_id: None,
    });
    let pieces: Vec<String> = (0..deltas)
        .map(|i| format!("word{} and more ", (turn * 31 + i) % 997))
        .collect();
    let text = |content: String| {
        Block::AssistantText(AssistantTextBlock {
            id: text_id.clone(),
            at: at.to_string(),
            text: content,
        })
    };
    let main = || MAIN_CONVERSATION.to_string();
    let mut events = vec![
        SessionEvent::TurnStarted {
            turn_id: turn_id.clone(),
            user_block_id: user_id.clone(),
        },
        SessionEvent::BlockStart {
            conversation_id: main(),
            block: user.clone(),
        },
        SessionEvent::BlockComplete {
            conversation_id: main(),
            block_id: user_id,
            block: user,
        },
        SessionEvent::BlockStart {
            conversation_id: main(),
            block: text(String::new()),
        },
    ];
    events.extend(pieces.iter().map(|piece| SessionEvent::TextDelta {
        conversation_id: main(),
        block_id: text_id.clone(),
        delta: piece.clone(),
    }));
    events.push(SessionEvent::BlockComplete {
        conversation_id: main(),
        block_id: text_id.clone(),
        block: text(pieces.concat()),
    });
    events.push(SessionEvent::TurnCompleted {
        turn_id,
        reason: TurnEndReason::Completed,
        usage: Usage {
            input_tokens: 1200,
            output_tokens: deltas as u64 * 3,
            cache_read_input_tokens: 0,
            cache_creation_input_tokens: 0,
        },
        cost_usd: 0.001,
        duration_ms: 1500,
        error: None,
    });
    events
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_turn_folds_into_one_exchange() {
        let events = turn_events(3, 10, "2026-01-01T00:00:00.000Z");
        assert_eq!(events.len(), 10 + EVENTS_PER_TURN_BESIDES_DELTAS);
        let envelopes: Vec<_> = events
            .into_iter()
            .enumerate()
            .map(|(i, event)| agent_runtime_protocol::Envelope {
                session_id: "s".into(),
                seq: i as u64 + 1,
                at: "2026-01-01T00:00:00.000Z".into(),
                event,
            })
            .collect();
        let state = agent_runtime_protocol::fold_all(&envelopes);
        assert_eq!(state.status, SessionStatus::Idle);
        let json = serde_json::to_value(&state).expect("serializes");
        let text = json.to_string();
        assert!(text.contains("Please explain step 3"), "{text}");
        assert!(text.contains("word93 and more word94"), "{text}");
    }

    #[test]
    fn sizes_and_keys() {
        let spec = DatasetSpec {
            sessions: 10_000,
            turns_per_session: 2,
            deltas_per_turn: 44,
        };
        assert_eq!(spec.events_per_session(), 100);
        assert_eq!(spec.total_events(), 1_000_000);
        assert_eq!(spec.key(), "sqlite-v1-10000s-2t-44d");
        assert_eq!(session_id(42), "00000000-0000-4000-8000-000000000042");
    }

    #[tokio::test]
    async fn prepares_once_and_reuses_the_cache() {
        let cache = tempfile::tempdir().expect("tempdir");
        let spec = DatasetSpec {
            sessions: 3,
            turns_per_session: 2,
            deltas_per_turn: 4,
        };
        let dataset = prepare(cache.path(), spec).await.expect("prepared");
        let store = SqliteStore::open(dataset.db()).await.expect("opens");
        assert_eq!(store.last_seq(&session_id(2)).await.expect("seq"), 20);
        store.close().await;
        let modified = std::fs::metadata(dataset.db())
            .and_then(|m| m.modified())
            .ok();
        let again = prepare(cache.path(), spec).await.expect("cached");
        assert_eq!(again.dir, dataset.dir);
        assert_eq!(
            std::fs::metadata(again.db())
                .and_then(|m| m.modified())
                .ok(),
            modified
        );
    }
}
