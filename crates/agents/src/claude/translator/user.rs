//! `user` lines (tool results, wrapped texts, subagent prompts) and subagent threads.

use agent_runtime_protocol::{
    Block, BlockUpdates, SessionEvent, SubagentBlock, SubagentStatus, ToolResultBlock, ToolStatus,
    UserMessageBlock, MAIN_CONVERSATION,
};
use serde_json::{json, Value};

use super::{event, system_block, update_event, warning, ClaudeTranslator, Out, Subagent};
use crate::claude::content::{
    classify_user_text, prompt_block_id, str_field, subagent_block_id, system_block_id,
    tool_result_block, tool_result_items, user_text, SpawnInfo, UserText,
};

impl ClaudeTranslator {
    pub(super) fn on_user(&mut self, value: &Value, at: &str, out: &mut Out) {
        let conversation = self.conversation_of(value, at, out);
        let content = value.get("message").and_then(|m| m.get("content"));
        let flag = |key| value.get(key).and_then(Value::as_bool) == Some(true);
        let (is_replay, is_synthetic) = (flag("isReplay"), flag("isSynthetic"));

        let results = tool_result_items(content);
        // The structured payload describes the line's (single) result.
        let details = if results.len() == 1 {
            value.get("tool_use_result")
        } else {
            None
        };
        for item in &results {
            if let Some(result) = tool_result_block(item, details, at) {
                self.on_tool_result(&conversation, result, out);
            }
        }

        let Some(text) = user_text(content) else {
            return;
        };
        let line_block_id = system_block_id(&self.line_id(value));
        if is_synthetic {
            // Continuation nudges are the CLI's, not the user's; the one after a compaction
            // boundary is the summary.
            if self.compact_summary_expected && conversation == MAIN_CONVERSATION {
                self.compact_summary_expected = false;
                let block = system_block(line_block_id, at, "compact_summary", text, None);
                self.complete_block(&conversation, block, out);
            }
            return;
        }
        let classified = classify_user_text(&text);
        let system = match &classified {
            UserText::Interrupted(text) => Some(("interrupted", text.clone(), None)),
            UserText::CommandOutput(text) => Some(("command_output", text.clone(), None)),
            UserText::TaskNotification {
                summary,
                tool_use_id,
                status,
            } => Some((
                "task_notification",
                summary.clone(),
                Some(json!({ "toolUseId": tool_use_id, "status": status })),
            )),
            UserText::Plain(_) | UserText::Command(_) | UserText::Hidden => None,
        };
        if let Some((subtype, message, data)) = system {
            // Replays echo what the runtime sent, except local command output.
            if !is_replay || subtype == "command_output" {
                let block = system_block(line_block_id, at, subtype, message, data);
                self.complete_block(&conversation, block, out);
            }
            return;
        }
        let text = match classified {
            UserText::Plain(text) | UserText::Command(text)
                if !is_replay && conversation != MAIN_CONVERSATION =>
            {
                text
            }
            // The main thread's user messages are the runtime's own.
            _ => return,
        };
        let Some(subagent) = self.subagents.get(&conversation) else {
            return;
        };
        match &subagent.prompt {
            Some(prompt) if *prompt == text => {}
            Some(_) => {
                let block = Block::UserMessage(UserMessageBlock {
                    id: format!("user:{}", self.line_id(value)),
                    at: at.to_string(),
                    text,
                    client_message_id: None,
                });
                self.complete_block(&conversation, block, out);
            }
            None => self.emit_prompt(&conversation, text, at, out),
        }
    }

    /// A `tool_result` block, the call's status, and the end of a subagent it spawned.
    fn on_tool_result(&mut self, conversation: &str, result: ToolResultBlock, out: &mut Out) {
        let tool_use_id = result.tool_use_id.clone();
        let status = if result.is_error {
            ToolStatus::Error
        } else {
            ToolStatus::Success
        };
        let async_launched = result
            .details
            .as_ref()
            .and_then(|d| str_field(d, "status"))
            .is_some_and(|s| s == "async_launched");
        let tool_conversation = self
            .tools
            .get(&tool_use_id)
            .map_or(conversation.to_string(), |t| t.conversation.clone());
        self.complete_block(&tool_conversation, Block::ToolResult(result), out);
        if let Some(tool) = self.tools.get_mut(&tool_use_id) {
            if tool.status != status {
                tool.status = status;
                let updates = BlockUpdates {
                    status: Some(status),
                    ..BlockUpdates::default()
                };
                event(out, update_event(&tool.conversation, &tool_use_id, updates));
            }
        }
        // A background agent's first result only says it was launched; it ends later.
        if self.subagents.contains_key(&tool_use_id) && !async_launched {
            let status = if status == ToolStatus::Error {
                SubagentStatus::Error
            } else {
                SubagentStatus::Completed
            };
            self.finish_subagent(&tool_use_id, status, out);
        }
    }

    /// The thread a conversation line belongs to, discovering an unknown subagent on the way.
    pub(super) fn conversation_of(&mut self, value: &Value, at: &str, out: &mut Out) -> String {
        let Some(ptu) = str_field(value, "parent_tool_use_id") else {
            return MAIN_CONVERSATION.to_string();
        };
        if !self.subagents.contains_key(ptu) {
            warning(
                out,
                format!("output of subagent {ptu} before its start; start synthesized"),
                None,
            );
            let info = SpawnInfo {
                subagent_type: str_field(value, "subagent_type").map(str::to_string),
                description: str_field(value, "task_description").map(str::to_string),
                prompt: None,
            };
            let parent = self.caller_of(ptu);
            self.discover_subagent(ptu, &parent, info, at, out);
        }
        ptu.to_string()
    }

    /// The thread of tool call `tool_use_id` (main when unknown).
    pub(super) fn caller_of(&self, tool_use_id: &str) -> String {
        self.tools
            .get(tool_use_id)
            .map_or(MAIN_CONVERSATION.to_string(), |t| t.conversation.clone())
    }

    /// `subagent_discovered`, the link block in `parent`, the prompt in the new thread. A known
    /// subagent only gets its prompt, if it had none.
    pub(super) fn discover_subagent(
        &mut self,
        id: &str,
        parent: &str,
        info: SpawnInfo,
        at: &str,
        out: &mut Out,
    ) {
        if let Some(known) = self.subagents.get(id) {
            if let (None, Some(prompt)) = (&known.prompt, info.prompt) {
                self.emit_prompt(id, prompt, at, out);
            }
            return;
        }
        self.subagents.insert(
            id.to_string(),
            Subagent {
                parent: parent.to_string(),
                prompt: None,
                finished: false,
            },
        );
        event(
            out,
            SessionEvent::SubagentDiscovered {
                subagent_id: id.to_string(),
                parent_conversation_id: parent.to_string(),
                subagent_type: info.subagent_type.clone(),
                description: info.description.clone(),
            },
        );
        let link = Block::Subagent(SubagentBlock {
            id: subagent_block_id(id),
            at: at.to_string(),
            subagent_id: id.to_string(),
            subagent_type: info.subagent_type,
            description: info.description,
            status: SubagentStatus::Running,
        });
        self.complete_block(parent, link, out);
        if let Some(prompt) = info.prompt {
            self.emit_prompt(id, prompt, at, out);
        }
    }

    fn emit_prompt(&mut self, id: &str, text: String, at: &str, out: &mut Out) {
        if let Some(subagent) = self.subagents.get_mut(id) {
            subagent.prompt = Some(text.clone());
        }
        let block = Block::UserMessage(UserMessageBlock {
            id: prompt_block_id(id),
            at: at.to_string(),
            text,
            client_message_id: None,
        });
        self.complete_block(id, block, out);
    }

    /// `subagent_completed` and the link block's status, once.
    pub(super) fn finish_subagent(&mut self, id: &str, status: SubagentStatus, out: &mut Out) {
        let Some(subagent) = self.subagents.get_mut(id) else {
            return;
        };
        if subagent.finished {
            return;
        }
        subagent.finished = true;
        let parent = subagent.parent.clone();
        event(
            out,
            SessionEvent::SubagentCompleted {
                subagent_id: id.to_string(),
                status,
            },
        );
        let updates = BlockUpdates {
            subagent_status: Some(status),
            ..BlockUpdates::default()
        };
        event(out, update_event(&parent, &subagent_block_id(id), updates));
    }
}
