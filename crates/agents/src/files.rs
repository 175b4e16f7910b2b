//! Files the runtime moves between the store and the sandbox on an agent's behalf.

use std::collections::BTreeMap;

use agent_runtime_protocol::{
    Block, SessionEvent, SubagentStatus, SubagentThread, Usage, MAIN_CONVERSATION,
};
pub use agent_runtime_sandbox::Root;
use serde::Serialize;

/// A file to write into the sandbox before the agent's first turn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProfileFileWrite {
    /// `Workspace` for the user's files (`profile.files`), `Home` for agent configuration.
    pub root: Root,
    /// Relative to `root`; validated (no `..`, not absolute). Parent directories must be created.
    pub path: String,
    pub bytes: Vec<u8>,
}

/// One file of an agent's native transcript, as found in the sandbox's home.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TranscriptFile {
    /// Path relative to the home directory, where it was found.
    pub home_path: String,
    /// Stable name to store it under; independent of the sandbox's paths, it is what
    /// `transcript_restore_path` and `parse_transcript` take back.
    pub name: String,
}

/// A native transcript turned into blocks: the main thread plus one thread per subagent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParsedConversation {
    /// The main thread.
    pub blocks: Vec<Block>,
    /// Subagent threads by subagent id (for Claude, the id of the spawning tool call).
    pub subagents: BTreeMap<String, SubagentThread>,
    /// The model of the last assistant message.
    pub model: Option<String>,
    /// The agent's own cumulative cost record, when the transcript has one.
    pub cost_usd: Option<f64>,
    /// The agent's own cumulative token record, when the transcript has one.
    pub usage: Option<Usage>,
    /// Things that were skipped (unparsable lines, unlinkable files), for logs.
    pub warnings: Vec<String>,
}

impl ParsedConversation {
    /// The events that rebuild this conversation in an empty session: each subagent is
    /// discovered before its thread's blocks, and completed after them when it has finished.
    /// Usage and cost are not included (they belong to turns).
    pub fn to_events(&self) -> Vec<SessionEvent> {
        let mut events = Vec::new();
        let complete = |conversation_id: &str, block: &Block| SessionEvent::BlockComplete {
            conversation_id: conversation_id.to_string(),
            block_id: block.id().to_string(),
            block: block.clone(),
        };
        for block in &self.blocks {
            events.push(complete(MAIN_CONVERSATION, block));
        }
        for (id, thread) in &self.subagents {
            events.push(SessionEvent::SubagentDiscovered {
                subagent_id: id.clone(),
                parent_conversation_id: thread.parent_conversation_id.clone(),
                subagent_type: thread.subagent_type.clone(),
                description: thread.description.clone(),
            });
            for block in &thread.blocks {
                events.push(complete(id, block));
            }
            if thread.status != SubagentStatus::Running {
                events.push(SessionEvent::SubagentCompleted {
                    subagent_id: id.clone(),
                    status: thread.status,
                });
            }
        }
        events
    }
}
