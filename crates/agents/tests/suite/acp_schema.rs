//! Our own ACP types against the protocol's official schema crate
//! (`agent-client-protocol-schema`): everything the translator writes parses as the official
//! request, notification or response, and the agents' captured updates parse as official
//! `session/update` notifications.

use agent_client_protocol_schema::v1 as acp;
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

fn check<T: serde::de::DeserializeOwned>(message: &Value, what: &str) {
    assert_eq!(message["jsonrpc"], "2.0", "{message}");
    let part = if message.get("method").is_some() {
        &message["params"]
    } else {
        &message["result"]
    };
    if let Err(e) = serde_json::from_value::<T>(part.clone()) {
        panic!("{what} does not parse as the official type: {e}\n{message}");
    }
}

#[test]
fn what_the_client_writes_is_official_acp() {
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
        let init = parse(&t.start_lines()[0]);
        assert_eq!(init["method"], acp::AGENT_METHOD_NAMES.initialize);
        check::<acp::InitializeRequest>(&init, "initialize");
        let out = t.translate_line(
            &json!({"jsonrpc": "2.0", "id": 1, "result": {"protocolVersion": 1, "agentCapabilities": {"loadSession": true}}}).to_string(),
            "t",
        );
        let open = &written(&out)[0];
        match load {
            Some(_) => {
                assert_eq!(open["method"], acp::AGENT_METHOD_NAMES.session_load);
                check::<acp::LoadSessionRequest>(open, "session/load");
            }
            None => {
                assert_eq!(open["method"], acp::AGENT_METHOD_NAMES.session_new);
                check::<acp::NewSessionRequest>(open, "session/new");
            }
        }
        let reply = match load {
            Some(_) => json!({"jsonrpc": "2.0", "id": 2, "result": {}}),
            None => json!({"jsonrpc": "2.0", "id": 2, "result": {"sessionId": "ses_1"}}),
        };
        t.translate_line(&reply.to_string(), "t");
        let prompt = &written(&t.user_message("hello\nworld"))[0];
        assert_eq!(prompt["method"], acp::AGENT_METHOD_NAMES.session_prompt);
        check::<acp::PromptRequest>(prompt, "session/prompt");

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
            let asked = request(id);
            check::<acp::RequestPermissionRequest>(&asked, "the captured request shape");
            t.translate_line(&asked.to_string(), "t");
            let answer = parse(&t.encode_ask_reply(&id.to_string(), &reply).unwrap());
            check::<acp::RequestPermissionResponse>(&answer, "a permission answer");
        }
        t.translate_line(&request(12).to_string(), "t");
        let lines: Vec<Value> = t.encode_interrupt().iter().map(|l| parse(l)).collect();
        assert_eq!(lines[0]["method"], acp::AGENT_METHOD_NAMES.session_cancel);
        check::<acp::CancelNotification>(&lines[0], "session/cancel");
        check::<acp::RequestPermissionResponse>(&lines[1], "a cancelled permission answer");
        assert_eq!(lines[1]["result"]["outcome"]["outcome"], "cancelled");

        // A request for a capability the client does not advertise gets a JSON-RPC error.
        let out = t.translate_line(
            &json!({"jsonrpc": "2.0", "id": 13, "method": acp::CLIENT_METHOD_NAMES.fs_read_text_file, "params": {}}).to_string(),
            "t",
        );
        assert!(written(&out)[0]["error"]["code"].is_i64());
    }
}

/// Every update the real agents sent parses as an official notification, except the kinds the
/// protocol has not stabilized (listed, so a new one shows up here).
#[test]
fn the_agents_captured_updates_are_official_acp() {
    let mut unstable = std::collections::BTreeSet::new();
    let mut parsed = 0;
    for dir in ["opencode-acp", "codex-acp"] {
        let path = format!("{}/fixtures/{dir}", env!("CARGO_MANIFEST_DIR"));
        for entry in std::fs::read_dir(&path).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".acp.jsonl") {
                continue;
            }
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let message: Value = serde_json::from_str(line).unwrap();
                let msg = &message["msg"];
                if message["dir"] != "in" || msg["method"] != "session/update" {
                    continue;
                }
                match serde_json::from_value::<acp::SessionNotification>(msg["params"].clone()) {
                    Ok(_) => parsed += 1,
                    Err(_) => {
                        unstable.insert(
                            msg["params"]["update"]["sessionUpdate"]
                                .as_str()
                                .unwrap_or("?")
                                .to_string(),
                        );
                    }
                }
            }
        }
    }
    assert!(parsed > 50, "{parsed}");
    assert_eq!(unstable, std::collections::BTreeSet::new());
}
