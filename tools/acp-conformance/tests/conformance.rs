//! Our own ACP types against the official schema (`agent-client-protocol-schema`, protocol v1):
//! every message the client writes (`crates/agents/fixtures/acp-client-messages.jsonl`, which
//! the agents crate's tests keep equal to what the client writes) parses as the official type it
//! is labelled with, and every message the real agents sent in the captures
//! (`crates/agents/fixtures/*-acp/*.acp.jsonl`) parses as the official one: updates,
//! permission requests, and the answers to initialize, session/new, session/load and
//! session/prompt.

use std::path::PathBuf;

use agent_client_protocol_schema::v1 as acp;
use serde::de::DeserializeOwned;
use serde_json::Value;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../crates/agents/fixtures")
}

fn check<T: DeserializeOwned>(part: &Value, what: &str) {
    if let Err(e) = serde_json::from_value::<T>(part.clone()) {
        panic!("{what} is not official ACP: {e}\n{part}");
    }
}

#[test]
fn what_the_client_writes_is_official_acp() {
    let text = std::fs::read_to_string(fixtures().join("acp-client-messages.jsonl")).unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for line in text.lines() {
        let entry: Value = serde_json::from_str(line).unwrap();
        let msg = &entry["msg"];
        assert_eq!(msg["jsonrpc"], "2.0", "{msg}");
        let kind = entry["type"].as_str().unwrap();
        kinds.insert(kind.to_string());
        match kind {
            "InitializeRequest" => {
                assert_eq!(msg["method"], acp::AGENT_METHOD_NAMES.initialize);
                check::<acp::InitializeRequest>(&msg["params"], kind)
            }
            "NewSessionRequest" => {
                assert_eq!(msg["method"], acp::AGENT_METHOD_NAMES.session_new);
                check::<acp::NewSessionRequest>(&msg["params"], kind)
            }
            "LoadSessionRequest" => {
                assert_eq!(msg["method"], acp::AGENT_METHOD_NAMES.session_load);
                check::<acp::LoadSessionRequest>(&msg["params"], kind)
            }
            "PromptRequest" => {
                assert_eq!(msg["method"], acp::AGENT_METHOD_NAMES.session_prompt);
                check::<acp::PromptRequest>(&msg["params"], kind)
            }
            "CancelNotification" => {
                assert_eq!(msg["method"], acp::AGENT_METHOD_NAMES.session_cancel);
                assert!(msg.get("id").is_none(), "a notification has no id");
                check::<acp::CancelNotification>(&msg["params"], kind)
            }
            "RequestPermissionResponse" => check::<acp::RequestPermissionResponse>(&msg["result"], kind),
            "Error" => {
                assert!(msg["error"]["code"].is_i64() && msg["error"]["message"].is_string());
                assert!(msg.get("result").is_none());
            }
            other => panic!("unknown label {other}"),
        }
    }
    assert_eq!(kinds.len(), 7, "{kinds:?}");
}

#[test]
fn what_the_agents_sent_is_official_acp() {
    let mut counts = std::collections::BTreeMap::<&str, usize>::new();
    for dir in ["opencode-acp", "codex-acp"] {
        for entry in std::fs::read_dir(fixtures().join(dir)).unwrap() {
            let path = entry.unwrap().path();
            if !path.to_string_lossy().ends_with(".acp.jsonl") {
                continue;
            }
            // Which of our requests each response answers.
            let mut sent = std::collections::HashMap::new();
            for line in std::fs::read_to_string(&path).unwrap().lines() {
                let entry: Value = serde_json::from_str(line).unwrap();
                let msg = &entry["msg"];
                let what = format!("{} in {}", msg, path.display());
                if entry["dir"] == "out" {
                    if let Some(method) = msg["method"].as_str() {
                        sent.insert(msg["id"].to_string(), method.to_string());
                    }
                    continue;
                }
                match (msg["method"].as_str(), msg.get("result")) {
                    (Some("session/update"), _) => {
                        check::<acp::SessionNotification>(&msg["params"], &what);
                        *counts.entry("session/update").or_default() += 1;
                    }
                    (Some("session/request_permission"), _) => {
                        check::<acp::RequestPermissionRequest>(&msg["params"], &what);
                        *counts.entry("session/request_permission").or_default() += 1;
                    }
                    (Some(other), _) => panic!("an agent request this check does not know: {other}"),
                    (None, Some(result)) => {
                        match sent.get(&msg["id"].to_string()).map(String::as_str) {
                            Some("initialize") => check::<acp::InitializeResponse>(result, &what),
                            Some("session/new") => check::<acp::NewSessionResponse>(result, &what),
                            Some("session/load") => check::<acp::LoadSessionResponse>(result, &what),
                            Some("session/prompt") => check::<acp::PromptResponse>(result, &what),
                            _ => continue,
                        }
                        *counts.entry("response").or_default() += 1;
                    }
                    (None, None) => {
                        assert!(msg["error"]["code"].is_i64(), "{what}");
                    }
                }
            }
        }
    }
    assert!(counts["session/update"] > 50, "{counts:?}");
    assert!(counts["session/request_permission"] >= 3, "{counts:?}");
    assert!(counts["response"] > 20, "{counts:?}");
}
