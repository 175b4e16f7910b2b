//! `system` lines (init, retries, compaction, subagent tasks).

use agent_runtime_protocol::{MetadataPatch, SessionEvent, SubagentStatus, MAIN_CONVERSATION};
use serde_json::{json, Value};

use super::{event, system_block, ClaudeTranslator, Out};
use crate::claude::content::{compact_data, str_field, system_block_id, SpawnInfo};

impl ClaudeTranslator {
    pub(super) fn on_system(&mut self, value: &Value, at: &str, out: &mut Out) {
        match str_field(value, "subtype") {
            Some("init") => {
                self.retry_block = None;
                let model = str_field(value, "model");
                self.update_metadata(model, str_field(value, "session_id"), out);
            }
            Some("api_retry") => self.on_api_retry(value, at, out),
            Some("compact_boundary") => {
                let data = value.get("compact_metadata").map(compact_data);
                let id = system_block_id(&self.line_id(value));
                let message = "Conversation compacted".to_string();
                let block = system_block(id, at, "compact_boundary", message, data);
                self.complete_block(MAIN_CONVERSATION, block, out);
                self.compact_summary_expected = true;
            }
            Some("task_started") => {
                // Other task types (background shells, ...) are not subagents.
                let is_agent = str_field(value, "task_type").is_none_or(|t| t == "local_agent");
                if let (true, Some(tool_use_id)) = (is_agent, str_field(value, "tool_use_id")) {
                    let info = SpawnInfo {
                        subagent_type: str_field(value, "subagent_type").map(str::to_string),
                        description: str_field(value, "description").map(str::to_string),
                        prompt: str_field(value, "prompt").map(str::to_string),
                    };
                    let parent = self.caller_of(tool_use_id);
                    self.discover_subagent(tool_use_id, &parent, info, at, out);
                }
            }
            Some("task_notification") => {
                if let Some(tool_use_id) = str_field(value, "tool_use_id") {
                    let status = match str_field(value, "status") {
                        Some("completed") | None => SubagentStatus::Completed,
                        Some(_) => SubagentStatus::Error,
                    };
                    self.finish_subagent(tool_use_id, status, out);
                }
            }
            // status, thinking_tokens, task_progress, task_updated, background_tasks_changed,
            // hook_*, and the dozens of others (D.1.3): nothing for the conversation.
            _ => {}
        }
    }

    /// One `system` block per run of retries, replaced in place by each attempt.
    fn on_api_retry(&mut self, value: &Value, at: &str, out: &mut Out) {
        let get = |key| value.get(key).cloned().unwrap_or(Value::Null);
        let http = value.get("error_status").and_then(Value::as_u64);
        let status = match (http, str_field(value, "error")) {
            (Some(status), Some(error)) => format!(" (HTTP {status}, {error})"),
            (Some(status), None) => format!(" (HTTP {status})"),
            (None, Some(error)) => format!(" ({error})"),
            (None, None) => String::new(),
        };
        let number = |key| value.get(key).and_then(Value::as_u64).unwrap_or(0);
        let (attempt, max, delay) = (
            number("attempt"),
            number("max_retries"),
            number("retry_delay_ms"),
        );
        let message =
            format!("Model API request failed{status}; retry {attempt} of {max} in {delay} ms");
        let data = json!({
            "attempt": get("attempt"),
            "maxRetries": get("max_retries"),
            "retryDelayMs": get("retry_delay_ms"),
            "errorStatus": get("error_status"),
            "error": get("error"),
        });
        let id = match &self.retry_block {
            Some(id) => id.clone(),
            None => format!("api_retry:{}", self.line_id(value)),
        };
        self.retry_block = Some(id.clone());
        // Re-completing the same id replaces the block in place.
        self.completed.remove(&id);
        let block = system_block(id, at, "api_retry", message, Some(data));
        self.complete_block(MAIN_CONVERSATION, block, out);
    }

    /// A `metadata_update` for what changed since the last one.
    pub(super) fn update_metadata(
        &mut self,
        model: Option<&str>,
        session_id: Option<&str>,
        out: &mut Out,
    ) {
        let mut patch = MetadataPatch::default();
        if let Some(model) = model.filter(|m| !m.is_empty() && *m != "<synthetic>") {
            if self.model.as_deref() != Some(model) {
                self.model = Some(model.to_string());
                patch.model = Some(model.to_string());
            }
        }
        if let Some(id) = session_id.filter(|s| !s.is_empty()) {
            if self.session_id.as_deref() != Some(id) {
                self.session_id = Some(id.to_string());
                patch.agent_session_id = Some(id.to_string());
            }
        }
        if patch != MetadataPatch::default() {
            event(out, SessionEvent::MetadataUpdate { metadata: patch });
        }
    }
}
