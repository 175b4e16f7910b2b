//! What the ACP client writes, as a golden file (`fixtures/acp-client-messages.jsonl`, one
//! message per line; `UPDATE_GENERATED=1` rewrites it). The file and the agents' captured
//! updates are checked against the protocol's official schema crate by
//! `tools/acp-conformance` (a crate of its own, outside the workspace: the schema crate turns on
//! serde_json's `preserve_order`, which would change every test's JSON if it joined the
//! workspace's build).

use agent_runtime_agents::acp::{AcpSessionSetup, AcpTranslator};
use agent_runtime_agents::{AgentOutput, AskReply, TranslatorContext};
use serde_json::{json, Value};

fn parse(line: &str) -> Value {
    serde_json::from_str(line.trim()).unwrap()
}

fn written(outputs: &[AgentOutput]) -> Vec<Value> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::WriteStdin(line) => Some(parse(line)),
            _ => None,
        })
        .collect()
}

/// Every kind of message the client writes, each labelled with the official type it must be.
fn client_messages() -> Vec<Value> {
    let mut all = Vec::new();
    let mut push = |kind: &str, message: &Value| all.push(json!({"type": kind, "msg": message}));
    let mcp = json!({"name": "files", "command": "/usr/bin/mcp", "args": ["-v"], "env": [{"name": "A", "value": "b"}]});
    for load in [None, Some("ses_1".to_string())] {
        let mut t = AcpTranslator::new(TranslatorContext {
            acp: AcpSessionSetup {
                cwd: "/workspace".into(),
                load: load.clone(),
                mcp_servers: vec![mcp.clone()],
            },
            ..TranslatorContext::default()
        });
        push("InitializeRequest", &parse(&t.start_lines()[0]));
        let out = t.translate_line(
            &json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": 1, "agentCapabilities": {"loadSession": true}}}).to_string(),
            "t",
        );
        let open = &written(&out)[0];
        let reply = match load {
            Some(_) => {
                push("LoadSessionRequest", open);
                json!({"jsonrpc": "2.0", "id": 2, "result": {}})
            }
            None => {
                push("NewSessionRequest", open);
                json!({"jsonrpc": "2.0", "id": 2, "result": {"sessionId": "ses_1"}})
            }
        };
        t.translate_line(&reply.to_string(), "t");
        push(
            "PromptRequest",
            &written(&t.user_message("hello\nworld"))[0],
        );

        // A permission request, answered each way, then one cancelled by an interrupt.
        let request = |id: u64| {
            json!({"jsonrpc": "2.0", "id": id, "method": "session/request_permission", "params": {
                "sessionId": "ses_1",
                "toolCall": {"toolCallId": "c1", "title": "ls", "kind": "execute", "status": "pending"},
                "options": [{"optionId": "a", "name": "Allow", "kind": "allow_once"},
                            {"optionId": "r", "name": "Reject", "kind": "reject_once"}]}})
        };
        for (id, reply) in [
            (
                10,
                AskReply::Allow {
                    input: Value::Null,
                    suggestions: Vec::new(),
                },
            ),
            (
                11,
                AskReply::Deny {
                    message: "no".into(),
                },
            ),
        ] {
            t.translate_line(&request(id).to_string(), "t");
            let answer = parse(&t.encode_ask_reply(&id.to_string(), &reply).unwrap());
            push("RequestPermissionResponse", &answer);
        }
        t.translate_line(&request(12).to_string(), "t");
        let lines: Vec<Value> = t.encode_interrupt().iter().map(|l| parse(l)).collect();
        push("CancelNotification", &lines[0]);
        push("RequestPermissionResponse", &lines[1]);
        // A request for a capability the client does not advertise gets a JSON-RPC error.
        let out = t.translate_line(
            &json!({"jsonrpc": "2.0", "id": 13, "method": "fs/read_text_file", "params": {}})
                .to_string(),
            "t",
        );
        push("Error", &written(&out)[0]);
    }
    all
}

#[test]
fn what_the_client_writes_matches_the_checked_file() {
    let path = format!(
        "{}/fixtures/acp-client-messages.jsonl",
        env!("CARGO_MANIFEST_DIR")
    );
    let mut text = String::new();
    for message in client_messages() {
        text.push_str(&message.to_string());
        text.push('\n');
    }
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::write(&path, &text).unwrap();
    }
    let checked = std::fs::read_to_string(&path).expect("run with UPDATE_GENERATED=1 once");
    assert_eq!(
        checked, text,
        "rerun with UPDATE_GENERATED=1 and commit {path}"
    );
}
