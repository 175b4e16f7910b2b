//! Claude transcripts: which files make one, where they go back, and how they become blocks.
//!
//! Layout (A.8), under `CLAUDE_CONFIG_DIR` = `~/.claude`:
//! `projects/<escaped cwd>/<S>.jsonl` (main thread) and `projects/<escaped cwd>/<S>/…`
//! (`subagents/agent-<id>.jsonl` + `.meta.json`, `tool-results/<id>.txt`). Stored names are the
//! paths below the project directory: `<S>.jsonl`, `<S>/subagents/agent-<id>.jsonl`, ... so a
//! transcript can be restored under any working directory (A.9). Legacy 2.0 sidechains are named
//! `agent-<8 hex>.jsonl` beside the main file.
//!
//! The parser (A.10, D.2) reads lines in file order (parallel tool calls break the `parentUuid`
//! chain), drops duplicate uuids and lines on abandoned branches, and produces the same block
//! shapes and ids as the live translator (see [`super`]). Differences from live output: user
//! messages appear (`user:<uuid>`), timestamps are the lines' own, a tool call without a result
//! is `error` (its turn ended without one), and a message id reused by another API call (only
//! scripted test servers do that) gets a `~2`, `~3`… suffix instead of overwriting.

use std::collections::{BTreeMap, HashMap, HashSet};

use agent_runtime_protocol::{
    Block, SubagentBlock, SubagentStatus, SubagentThread, ToolStatus, Usage, UserMessageBlock,
    MAIN_CONVERSATION,
};
use serde_json::{json, Value};

use super::content::{
    assistant_item, classify_user_text, compact_data, is_subagent_tool, prompt_block_id,
    spawn_info, str_field, subagent_block_id, system_block_id, tool_result_block,
    tool_result_items, user_text, AssistantItem, SpawnInfo, UserText,
};
use crate::error::{validate_file_name, validate_relative_path, AgentError};
use crate::files::{ParsedConversation, TranscriptFile};

/// Where Claude keeps transcripts, relative to the home directory (`CLAUDE_CONFIG_DIR` is
/// `<home>/.claude`).
const PROJECTS_DIR: &str = ".claude/projects";

/// The files of session `agent_session_id` among `home_files` (A.9 step 1). Sorted by name; when
/// two project directories hold the same name, the first path in sorted order wins.
pub fn transcript_files_to_save(
    home_files: &[String],
    agent_session_id: &str,
) -> Vec<TranscriptFile> {
    if validate_file_name("agent session id", agent_session_id).is_err() {
        return Vec::new();
    }
    let main = format!("{agent_session_id}.jsonl");
    let dir = format!("{agent_session_id}/");
    let mut by_name: BTreeMap<String, String> = BTreeMap::new();
    let mut paths: Vec<&String> = home_files.iter().collect();
    paths.sort();
    for path in paths {
        let Some(rest) = path
            .strip_prefix(PROJECTS_DIR)
            .and_then(|r| r.strip_prefix('/'))
        else {
            continue;
        };
        let Some((_project, name)) = rest.split_once('/') else {
            continue;
        };
        let belongs = name == main || name.starts_with(&dir);
        if belongs && validate_relative_path("transcript file name", name).is_ok() {
            by_name
                .entry(name.to_string())
                .or_insert_with(|| path.clone());
        }
    }
    by_name
        .into_iter()
        .map(|(name, home_path)| TranscriptFile { home_path, name })
        .collect()
}

/// Where stored file `name` goes in a fresh home so `--resume` finds it (A.9 step 2):
/// `.claude/projects/<escaped workspace_dir>/<name>`.
pub fn transcript_restore_path(name: &str, workspace_dir: &str) -> Result<String, AgentError> {
    validate_relative_path("transcript file name", name)?;
    Ok(format!(
        "{PROJECTS_DIR}/{}/{name}",
        escape_project_dir(workspace_dir)
    ))
}

/// Claude's project directory name for `cwd`: every character outside `[A-Za-z0-9]` becomes
/// `-`, without collapsing (A.8).
pub fn escape_project_dir(cwd: &str) -> String {
    cwd.chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect()
}

/// Parses stored transcript files (`(name, content)`) into blocks. See the module doc.
pub fn parse_transcript(files: &[(String, String)]) -> ParsedConversation {
    let mut parser = Parser::default();
    let mut mains: Vec<&(String, String)> = Vec::new();
    let mut sidechains: Vec<Sidechain> = Vec::new();
    let mut metas: HashMap<String, Value> = HashMap::new();
    for file in files {
        let (name, content) = (&file.0, &file.1);
        let base = name.rsplit('/').next().unwrap_or(name);
        if let Some(agent_id) = base
            .strip_prefix("agent-")
            .and_then(|b| b.strip_suffix(".meta.json"))
        {
            match serde_json::from_str(content) {
                Ok(meta) => {
                    metas.insert(agent_id.to_string(), meta);
                }
                Err(err) => parser
                    .warnings
                    .push(format!("{name}: unparsable meta file: {err}")),
            }
        } else if let Some(stem) = base
            .strip_prefix("agent-")
            .and_then(|b| b.strip_suffix(".jsonl"))
        {
            let records = parse_lines(name, content, &mut parser.warnings);
            let agent_id = records
                .iter()
                .find_map(|r| str_field(r, "agentId"))
                .unwrap_or(stem)
                .to_string();
            sidechains.push(Sidechain {
                name: name.clone(),
                agent_id,
                records,
                linked: false,
            });
        } else if !name.contains('/') && name.ends_with(".jsonl") {
            mains.push(file);
        }
    }
    mains.sort_by(|a, b| a.0.cmp(&b.0));
    if mains.len() > 1 {
        parser.warnings.push(format!(
            "{} main transcript files; read in name order",
            mains.len()
        ));
    }
    let mut records = Vec::new();
    for (name, content) in mains {
        records.extend(parse_lines(name, content, &mut parser.warnings));
    }
    let records = parser.drop_abandoned_branches(dedupe_by_uuid(records));
    for record in &records {
        parser.ingest(record, MAIN_CONVERSATION);
    }
    parser.link_subagents(&mut sidechains, &metas);
    parser.finish()
}

/// A sidechain file (one subagent's thread).
struct Sidechain {
    name: String,
    agent_id: String,
    records: Vec<Value>,
    linked: bool,
}

/// An `Agent`/`Task` call seen while parsing.
struct Spawn {
    tool_use_id: String,
    conversation: String,
    info: SpawnInfo,
    /// `toolUseResult.agentId` of its result.
    agent_id: Option<String>,
    /// What its result and notifications said; `None` while it may still run.
    status: Option<SubagentStatus>,
}

/// One thread being built.
#[derive(Default)]
struct Thread {
    blocks: Vec<Block>,
    /// The subagent's prompt was placed (subagent threads only).
    has_prompt: bool,
    /// An assistant line was seen (a later user text is not the prompt).
    seen_assistant: bool,
}

#[derive(Default)]
struct Parser {
    threads: BTreeMap<String, Thread>,
    /// Thread and position of every tool call.
    tools: HashMap<String, (String, usize)>,
    spawns: Vec<Spawn>,
    /// Block ids in use, for the `~n` suffix of reused message ids.
    used_ids: HashSet<String>,
    /// Next content index per (thread, message id) when lines lack `apiBlockIndex`.
    next_index: HashMap<(String, String), u64>,
    /// Statuses from `<task-notification>`s, by tool-use id.
    notified: HashMap<String, SubagentStatus>,
    model: Option<String>,
    cost_usd: Option<f64>,
    usage: Option<Usage>,
    warnings: Vec<String>,
}

/// The JSON lines of `content`; unparsable ones (a torn last line, …) are skipped with a warning.
fn parse_lines(name: &str, content: &str, warnings: &mut Vec<String>) -> Vec<Value> {
    let mut records = Vec::new();
    for (number, line) in content.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Value>(line) {
            Ok(value) if value.is_object() => records.push(value),
            _ => warnings.push(format!("{name}:{}: unparsable line skipped", number + 1)),
        }
    }
    records
}

fn dedupe_by_uuid(records: Vec<Value>) -> Vec<Value> {
    let mut seen = HashSet::new();
    records
        .into_iter()
        .filter(|r| str_field(r, "uuid").is_none_or(|uuid| seen.insert(uuid.to_string())))
        .collect()
}

fn parent_of(record: &Value) -> Option<&str> {
    str_field(record, "parentUuid").or_else(|| str_field(record, "logicalParentUuid"))
}

impl Parser {
    /// Drops user and assistant lines on branches abandoned by a rewind or edit (A.8): the
    /// current branch is the chain from the last `last-prompt.leafUuid` to the root (through
    /// `logicalParentUuid` across compactions). An off-chain line is dropped only when its branch
    /// leaves the chain below the leaf and starts with a prompt or an assistant message, or when
    /// its branch is a whole conversation a rewind cut at its first message (a `last-prompt`
    /// line with `rewound` and that message as `cutUuid`: the warm-up of a pooled process,
    /// `warm_up.rs`); branches of tool results (parallel calls), continuations of the leaf and
    /// everything in a file whose chain is broken or has no leaf are kept.
    fn drop_abandoned_branches(&mut self, records: Vec<Value>) -> Vec<Value> {
        let by_uuid: HashMap<&str, &Value> = records
            .iter()
            .filter_map(|r| Some((str_field(r, "uuid")?, r)))
            .collect();
        let leaf = records
            .iter()
            .rev()
            .find(|r| str_field(r, "type") == Some("last-prompt"))
            .and_then(|r| str_field(r, "leafUuid"))
            .filter(|leaf| by_uuid.contains_key(leaf));
        let Some(leaf) = leaf else { return records };
        let cut_roots: HashSet<&str> = records
            .iter()
            .filter(|r| str_field(r, "type") == Some("last-prompt") && r["rewound"] == true)
            .filter_map(|r| str_field(r, "cutUuid"))
            .collect();
        let mut chain: HashSet<&str> = HashSet::new();
        let mut current = Some(leaf);
        while let Some(uuid) = current {
            let Some(record) = by_uuid.get(uuid) else {
                return records;
            };
            if !chain.insert(uuid) {
                break;
            }
            current = parent_of(record);
        }
        let abandoned = |record: &Value| -> bool {
            let Some(mut uuid) = str_field(record, "uuid") else {
                return false;
            };
            if chain.contains(uuid)
                || !matches!(str_field(record, "type"), Some("user" | "assistant"))
            {
                return false;
            }
            // Walk up to the first line on the chain; `root` is the branch's first line.
            let mut seen = HashSet::new();
            loop {
                let Some(root) = by_uuid.get(uuid) else {
                    return false;
                };
                let Some(parent) = parent_of(root) else {
                    // A root off the chain: a conversation of its own, dropped when cut.
                    return cut_roots.contains(uuid);
                };
                if chain.contains(parent) {
                    let is_prompt_or_answer = match str_field(root, "type") {
                        Some("assistant") => true,
                        Some("user") => {
                            let content = root.get("message").and_then(|m| m.get("content"));
                            tool_result_items(content).is_empty()
                        }
                        _ => false,
                    };
                    return parent != leaf && is_prompt_or_answer;
                }
                if !seen.insert(uuid) {
                    return false;
                }
                uuid = parent;
            }
        };
        let keep: Vec<bool> = records.iter().map(|r| !abandoned(r)).collect();
        let dropped = keep.iter().filter(|k| !**k).count();
        if dropped > 0 {
            self.warnings
                .push(format!("{dropped} lines on abandoned branches dropped"));
        }
        records
            .into_iter()
            .zip(keep)
            .filter(|(_, k)| *k)
            .map(|(r, _)| r)
            .collect()
    }

    fn thread(&mut self, conversation: &str) -> &mut Thread {
        self.threads.entry(conversation.to_string()).or_default()
    }

    /// Adds `block` to `conversation`: tool calls, results and links replace a block with their
    /// id; other blocks with a used id get a `~n` suffix.
    fn push(&mut self, conversation: &str, mut block: Block) {
        let replaceable = matches!(
            block,
            Block::ToolUse(_) | Block::ToolResult(_) | Block::Subagent(_)
        );
        if !replaceable && self.used_ids.contains(block.id()) {
            let base = block.id().to_string();
            let unique = (2..)
                .map(|n| format!("{base}~{n}"))
                .find(|id| !self.used_ids.contains(id))
                .unwrap_or(base);
            set_id(&mut block, unique);
        }
        let id = block.id().to_string();
        self.used_ids.insert(id.clone());
        let thread = self.thread(conversation);
        let position = match thread.blocks.iter().position(|b| b.id() == id) {
            Some(i) if replaceable => {
                thread.blocks[i] = block;
                i
            }
            _ => {
                thread.blocks.push(block);
                thread.blocks.len() - 1
            }
        };
        if let Block::ToolUse(_) = &thread.blocks[position] {
            self.tools.insert(id, (conversation.to_string(), position));
        }
    }

    fn ingest(&mut self, record: &Value, conversation: &str) {
        let at = str_field(record, "timestamp").unwrap_or("");
        let uuid = str_field(record, "uuid").unwrap_or("");
        match str_field(record, "type") {
            Some("user") => self.ingest_user(record, conversation, at, uuid),
            Some("assistant") => self.ingest_assistant(record, conversation, at, uuid),
            Some("system") if str_field(record, "subtype") == Some("compact_boundary") => {
                let data = record.get("compactMetadata").map(compact_data);
                let message = str_field(record, "content").unwrap_or("Conversation compacted");
                let block = system(system_block_id(uuid), at, "compact_boundary", message, data);
                self.push(conversation, block);
            }
            Some("cost-state") => {
                self.cost_usd = record
                    .get("totalCostUSD")
                    .and_then(Value::as_f64)
                    .or(self.cost_usd);
                if let Some(Value::Object(models)) = record.get("modelUsage") {
                    let count =
                        |m: &Value, key: &str| m.get(key).and_then(Value::as_u64).unwrap_or(0);
                    let mut usage = Usage::default();
                    for m in models.values() {
                        usage.add(&Usage {
                            input_tokens: count(m, "inputTokens"),
                            output_tokens: count(m, "outputTokens"),
                            cache_read_input_tokens: count(m, "cacheReadInputTokens"),
                            cache_creation_input_tokens: count(m, "cacheCreationInputTokens"),
                        });
                    }
                    self.usage = Some(usage);
                }
            }
            // attachment, queue-operation, last-prompt, api-request*, tools-used, mode, legacy
            // summary / file-history-snapshot, other system subtypes, unknown types.
            _ => {}
        }
    }

    fn ingest_user(&mut self, record: &Value, conversation: &str, at: &str, uuid: &str) {
        let flag = |key| record.get(key).and_then(Value::as_bool) == Some(true);
        if flag("isMeta") {
            return;
        }
        let content = record.get("message").and_then(|m| m.get("content"));
        let results = tool_result_items(content);
        let details = if results.len() == 1 {
            record.get("toolUseResult")
        } else {
            None
        };
        for item in &results {
            if let Some(result) = tool_result_block(item, details, at) {
                self.attach_result(conversation, result);
            }
        }
        let Some(text) = user_text(content) else {
            return;
        };
        if flag("isCompactSummary") {
            self.push(
                conversation,
                system(system_block_id(uuid), at, "compact_summary", &text, None),
            );
            return;
        }
        if flag("isSynthetic") || is_continuation_nudge(&text) {
            return;
        }
        let block = match classify_user_text(&text) {
            UserText::Hidden => return,
            UserText::Interrupted(text) => {
                system(system_block_id(uuid), at, "interrupted", &text, None)
            }
            UserText::CommandOutput(text) => {
                system(system_block_id(uuid), at, "command_output", &text, None)
            }
            UserText::TaskNotification {
                summary,
                tool_use_id,
                status,
            } => {
                if let Some(id) = &tool_use_id {
                    let finished = match status.as_deref() {
                        Some("completed") | None => SubagentStatus::Completed,
                        Some(_) => SubagentStatus::Error,
                    };
                    self.notified.insert(id.clone(), finished);
                }
                let data = json!({ "toolUseId": tool_use_id, "status": status });
                system(
                    system_block_id(uuid),
                    at,
                    "task_notification",
                    &summary,
                    Some(data),
                )
            }
            UserText::Plain(text) | UserText::Command(text) => {
                let thread = self.thread(conversation);
                if conversation != MAIN_CONVERSATION && !thread.seen_assistant {
                    // The subagent's prompt: placed when the thread was created, unless unknown.
                    if thread.has_prompt {
                        return;
                    }
                    thread.has_prompt = true;
                    Block::UserMessage(UserMessageBlock {
                        id: prompt_block_id(conversation),
                        at: at.to_string(),
                        text,
                        client_message_id: None,
                    })
                } else {
                    Block::UserMessage(UserMessageBlock {
                        id: format!("user:{uuid}"),
                        at: at.to_string(),
                        text,
                        client_message_id: None,
                    })
                }
            }
        };
        self.push(conversation, block);
    }

    fn attach_result(
        &mut self,
        conversation: &str,
        result: agent_runtime_protocol::ToolResultBlock,
    ) {
        let tool_use_id = result.tool_use_id.clone();
        let is_error = result.is_error;
        let details = result.details.clone();
        let (tool_conversation, position) = self
            .tools
            .get(&tool_use_id)
            .cloned()
            .unwrap_or((conversation.to_string(), usize::MAX));
        self.push(&tool_conversation, Block::ToolResult(result));
        if let Some(Block::ToolUse(tool)) = self
            .threads
            .get_mut(&tool_conversation)
            .and_then(|t| t.blocks.get_mut(position))
        {
            tool.status = if is_error {
                ToolStatus::Error
            } else {
                ToolStatus::Success
            };
        }
        if let Some(spawn) = self
            .spawns
            .iter_mut()
            .find(|s| s.tool_use_id == tool_use_id)
        {
            let details = details.as_ref();
            spawn.agent_id = details
                .and_then(|d| str_field(d, "agentId"))
                .map(str::to_string);
            let launched = details.and_then(|d| str_field(d, "status")) == Some("async_launched");
            spawn.status = match (is_error, launched) {
                (true, _) => Some(SubagentStatus::Error),
                (false, true) => spawn.status,
                (false, false) => Some(SubagentStatus::Completed),
            };
        }
    }

    fn ingest_assistant(&mut self, record: &Value, conversation: &str, at: &str, uuid: &str) {
        let Some(message) = record.get("message") else {
            return;
        };
        let message_id = str_field(message, "id").unwrap_or(uuid).to_string();
        let model = str_field(message, "model");
        let is_api_error = model == Some("<synthetic>")
            || record.get("isApiErrorMessage").and_then(Value::as_bool) == Some(true);
        let api_error = is_api_error.then(|| {
            json!({
                "error": record.get("error").cloned().unwrap_or(Value::Null),
                "httpStatus": record.get("apiErrorStatus").cloned().unwrap_or(Value::Null),
                "type": record.get("apiErrorType").cloned().unwrap_or(Value::Null),
            })
        });
        if conversation == MAIN_CONVERSATION && !is_api_error {
            if let Some(model) = model {
                self.model = Some(model.to_string());
            }
        }
        self.thread(conversation).seen_assistant = true;
        let Some(Value::Array(items)) = message.get("content") else {
            return;
        };
        let line_index = record.get("apiBlockIndex").and_then(Value::as_u64);
        for (offset, item) in items.iter().enumerate() {
            let key = (conversation.to_string(), message_id.clone());
            let next = self.next_index.get(&key).copied().unwrap_or(0);
            let index = line_index.map_or(next, |i| i + offset as u64);
            self.next_index.insert(key, next.max(index + 1));
            match assistant_item(item, &message_id, index, at, api_error.as_ref()) {
                AssistantItem::Block(block) => {
                    let spawn = match &block {
                        Block::ToolUse(tool) if is_subagent_tool(&tool.name) => {
                            Some((tool.id.clone(), spawn_info(&tool.input)))
                        }
                        _ => None,
                    };
                    self.push(conversation, block);
                    if let Some((tool_use_id, info)) = spawn {
                        self.add_spawn(conversation, tool_use_id, info, at);
                    }
                }
                AssistantItem::Unknown(kind) => self.warnings.push(format!(
                    "unknown assistant content type {kind:?} in message {message_id}"
                )),
            }
        }
    }

    /// Registers a subagent call: its link block after the call, its thread with the prompt.
    fn add_spawn(&mut self, conversation: &str, tool_use_id: String, info: SpawnInfo, at: &str) {
        let link = Block::Subagent(SubagentBlock {
            id: subagent_block_id(&tool_use_id),
            at: at.to_string(),
            subagent_id: tool_use_id.clone(),
            subagent_type: info.subagent_type.clone(),
            description: info.description.clone(),
            status: SubagentStatus::Running,
        });
        self.push(conversation, link);
        if let Some(prompt) = &info.prompt {
            let block = Block::UserMessage(UserMessageBlock {
                id: prompt_block_id(&tool_use_id),
                at: at.to_string(),
                text: prompt.clone(),
                client_message_id: None,
            });
            self.push(&tool_use_id, block);
            self.thread(&tool_use_id).has_prompt = true;
        } else {
            self.thread(&tool_use_id);
        }
        self.spawns.push(Spawn {
            tool_use_id,
            conversation: conversation.to_string(),
            info,
            agent_id: None,
            status: None,
        });
    }

    /// Parses each subagent call's sidechain into its thread: found by the meta file's
    /// `toolUseId`, else by the result's `agentId`, else (2.0) by the prompt. Nested calls found
    /// in sidechains are linked in turn; unlinked sidechains become threads `agent-<id>`.
    fn link_subagents(&mut self, sidechains: &mut [Sidechain], metas: &HashMap<String, Value>) {
        let mut next = 0;
        while next < self.spawns.len() {
            let tool_use_id = self.spawns[next].tool_use_id.clone();
            let agent_id = self.spawns[next].agent_id.clone();
            let prompt = self.spawns[next].info.prompt.clone();
            next += 1;
            let by_meta = metas
                .iter()
                .find(|(_, meta)| str_field(meta, "toolUseId") == Some(tool_use_id.as_str()))
                .map(|(id, _)| id.clone());
            let wanted = by_meta.or(agent_id);
            let found = sidechains.iter().position(|s| {
                !s.linked
                    && match &wanted {
                        Some(id) => s.agent_id == *id,
                        None => prompt.is_some() && first_prompt(&s.records) == prompt,
                    }
            });
            let Some(found) = found else { continue };
            sidechains[found].linked = true;
            if let Some(meta) = metas.get(&sidechains[found].agent_id) {
                let spawn = &mut self.spawns[next - 1];
                if meta.get("finished").and_then(Value::as_bool) == Some(true)
                    && spawn.status.is_none()
                {
                    spawn.status = Some(SubagentStatus::Completed);
                }
                if spawn.info.subagent_type.is_none() {
                    spawn.info.subagent_type = str_field(meta, "agentType").map(str::to_string);
                }
            }
            let records = dedupe_by_uuid(std::mem::take(&mut sidechains[found].records));
            for record in &records {
                self.ingest(record, &tool_use_id);
            }
        }
        for sidechain in sidechains.iter_mut().filter(|s| !s.linked) {
            self.warnings.push(format!(
                "{}: no subagent call links to this sidechain; kept as thread agent-{}",
                sidechain.name, sidechain.agent_id
            ));
            let conversation = format!("agent-{}", sidechain.agent_id);
            let records = dedupe_by_uuid(std::mem::take(&mut sidechain.records));
            self.thread(&conversation);
            for record in &records {
                self.ingest(record, &conversation);
            }
        }
    }

    fn finish(mut self) -> ParsedConversation {
        // A call without a result at rest never got one: its turn ended (interrupt, crash).
        for thread in self.threads.values_mut() {
            for block in &mut thread.blocks {
                if let Block::ToolUse(tool) = block {
                    if matches!(tool.status, ToolStatus::Pending | ToolStatus::Running) {
                        tool.status = ToolStatus::Error;
                    }
                }
            }
        }
        let mut parents: HashMap<String, (String, SubagentStatus, SpawnInfo)> = HashMap::new();
        for spawn in &self.spawns {
            let status = self
                .notified
                .get(&spawn.tool_use_id)
                .copied()
                .or(spawn.status)
                .unwrap_or(SubagentStatus::Running);
            parents.insert(
                spawn.tool_use_id.clone(),
                (spawn.conversation.clone(), status, spawn.info.clone()),
            );
        }
        // Link blocks show their subagent's status.
        for thread in self.threads.values_mut() {
            for block in &mut thread.blocks {
                if let Block::Subagent(link) = block {
                    if let Some((_, status, _)) = parents.get(&link.subagent_id) {
                        link.status = *status;
                    }
                }
            }
        }
        let blocks = self
            .threads
            .remove(MAIN_CONVERSATION)
            .map(|t| t.blocks)
            .unwrap_or_default();
        let subagents = self
            .threads
            .into_iter()
            .map(|(id, thread)| {
                let (parent, status, info) = parents.remove(&id).unwrap_or((
                    MAIN_CONVERSATION.to_string(),
                    SubagentStatus::Completed,
                    SpawnInfo::default(),
                ));
                let thread = SubagentThread {
                    parent_conversation_id: parent,
                    status,
                    subagent_type: info.subagent_type,
                    description: info.description,
                    blocks: thread.blocks,
                };
                (id, thread)
            })
            .collect();
        ParsedConversation {
            blocks,
            subagents,
            model: self.model,
            cost_usd: self.cost_usd,
            usage: self.usage,
            warnings: self.warnings,
        }
    }
}

/// The first user text of a sidechain (its prompt), for 2.0 files without meta or agent id link.
fn first_prompt(records: &[Value]) -> Option<String> {
    records
        .iter()
        .take_while(|r| str_field(r, "type") != Some("assistant"))
        .filter(|r| str_field(r, "type") == Some("user"))
        .find_map(|r| user_text(r.get("message").and_then(|m| m.get("content"))))
}

/// The CLI's continuation prompts after a cut-off response (`isSynthetic` on stdout; unflagged in
/// transcripts), which are not the user's words.
fn is_continuation_nudge(text: &str) -> bool {
    text.starts_with("Output token limit hit.")
        || text.starts_with("Your response above was cut off mid-stream.")
}

fn system(id: String, at: &str, subtype: &str, message: &str, data: Option<Value>) -> Block {
    Block::System(agent_runtime_protocol::SystemBlock {
        id,
        at: at.to_string(),
        subtype: subtype.to_string(),
        message: message.to_string(),
        data,
    })
}

fn set_id(block: &mut Block, id: String) {
    let slot = match block {
        Block::UserMessage(b) => &mut b.id,
        Block::AssistantText(b) => &mut b.id,
        Block::ToolUse(b) => &mut b.id,
        Block::ToolResult(b) => &mut b.id,
        Block::Thinking(b) => &mut b.id,
        Block::System(b) => &mut b.id,
        Block::Subagent(b) => &mut b.id,
        Block::Plan(b) => &mut b.id,
    };
    *slot = id;
}

#[cfg(test)]
#[path = "transcript_tests.rs"]
mod tests;
