//! Replaying a chat recording (B.3, D.4): the JSONL records of one file, applied in order the way
//! the CLI's own loader does, into the session's metadata and its message list.
//!
//! 1. metadata record (string `sessionId` and `projectHash`): shallow-merged into the metadata;
//! 2. message record (string `id`): upsert by id (a later record replaces the earlier one in
//!    place: the CLI writes a model message first without `toolCalls`, then with them);
//! 3. `{"$set": {…}}`: merged into the metadata; an array `messages` replaces the whole list;
//! 4. `{"$rewindTo": id}`: drops that message and every later one (all, for an unknown id).
//!
//! Unparsable lines (a torn last line after a kill) are skipped with a warning.

use serde_json::{Map, Value};

/// A replayed chat file.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Chat {
    /// Merged metadata (`sessionId`, `kind`, `startTime`, `lastUpdated`, `summary`, ...).
    pub metadata: Map<String, Value>,
    /// Messages in order, after upserts, replacements and rewinds.
    pub messages: Vec<Value>,
    /// Lines that were skipped.
    pub warnings: Vec<String>,
}

impl Chat {
    /// `metadata[key]` as a string.
    pub fn meta_str(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).and_then(Value::as_str)
    }

    /// Whether the file belongs to a subagent (`kind: "subagent"`).
    pub fn is_subagent(&self) -> bool {
        self.meta_str("kind") == Some("subagent")
    }
}

/// Replays `content`, the text of the chat file `name` (used in warnings).
pub fn replay(name: &str, content: &str) -> Chat {
    let mut chat = Chat::default();
    for (number, line) in content.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let record: Value = match serde_json::from_str(line) {
            Ok(Value::Object(record)) => Value::Object(record),
            Ok(_) => {
                chat.warnings
                    .push(format!("{name}:{}: not a JSON object", number + 1));
                continue;
            }
            Err(err) => {
                chat.warnings
                    .push(format!("{name}:{}: unparsable line: {err}", number + 1));
                continue;
            }
        };
        apply(&mut chat, record);
    }
    chat
}

fn apply(chat: &mut Chat, record: Value) {
    let Value::Object(mut record) = record else {
        return;
    };
    if let Some(set) = record.remove("$set") {
        if let Value::Object(set) = set {
            for (key, value) in set {
                if key == "messages" {
                    if let Value::Array(messages) = value {
                        chat.messages = messages;
                    }
                } else {
                    chat.metadata.insert(key, value);
                }
            }
        }
        return;
    }
    if let Some(target) = record.remove("$rewindTo") {
        let position = target
            .as_str()
            .and_then(|id| chat.messages.iter().position(|m| message_id(m) == Some(id)));
        chat.messages.truncate(position.unwrap_or(0));
        return;
    }
    let is_metadata = record.get("sessionId").is_some_and(Value::is_string)
        && record.get("projectHash").is_some_and(Value::is_string);
    if is_metadata {
        if let Some(Value::Array(messages)) = record.remove("messages") {
            chat.messages.extend(messages);
        }
        chat.metadata.extend(record);
        return;
    }
    let Some(id) = record.get("id").and_then(Value::as_str).map(str::to_string) else {
        return;
    };
    let message = Value::Object(record);
    match chat
        .messages
        .iter_mut()
        .find(|m| message_id(m) == Some(id.as_str()))
    {
        Some(existing) => *existing = message,
        None => chat.messages.push(message),
    }
}

/// A message's `id`.
pub fn message_id(message: &Value) -> Option<&str> {
    message.get("id").and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use pretty_assertions::assert_eq;
    use serde_json::json;

    use super::*;

    fn ids(chat: &Chat) -> Vec<&str> {
        chat.messages.iter().filter_map(message_id).collect()
    }

    #[test]
    fn upserts_replaces_and_rewinds() {
        let content = [
            json!({"sessionId": "s", "projectHash": "h", "kind": "main"}),
            json!({"$set": {"messages": [{"id": "ctx", "type": "user"}]}}),
            json!({"id": "u1", "type": "user", "content": "one"}),
            json!({"id": "g1", "type": "gemini", "content": "a"}),
            json!({"id": "g1", "type": "gemini", "content": "a", "toolCalls": []}),
            json!({"id": "u2", "type": "user"}),
            json!({"$rewindTo": "u2"}),
            json!({"$set": {"lastUpdated": "t2"}}),
        ]
        .iter()
        .map(Value::to_string)
        .collect::<Vec<_>>()
        .join("\n")
            + "\n{\"id\": \"torn";
        let chat = replay("f", &content);
        assert_eq!(ids(&chat), vec!["ctx", "u1", "g1"]);
        assert_eq!(chat.messages[2]["toolCalls"], json!([]));
        assert_eq!(chat.meta_str("lastUpdated"), Some("t2"));
        assert_eq!(chat.meta_str("kind"), Some("main"));
        assert_eq!(chat.warnings.len(), 1);

        let all_gone = replay("f", "{\"id\":\"a\"}\n{\"$rewindTo\":\"nope\"}");
        assert!(all_gone.messages.is_empty());
    }
}
