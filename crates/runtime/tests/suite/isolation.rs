//! What an agent can reach from inside its sandbox, probed with scripted shell tool calls
//! (`Bash`, which the scripted model names `run_shell_command` for Gemini). Runs for every agent.

use agent_runtime_agents::AgentKind;
use agent_runtime_protocol::{Block, ToolResultBlock};
use agent_runtime_testkit::{Block as Reply, Matcher, Response, Rule, Scenario};
use serde_json::json;

use super::support::*;
use super::turns::message;

/// One shell probe per tool call; each prints a verdict the test can read.
fn probes(data_dir: &str, other_workspace: &str) -> Vec<(&'static str, String)> {
    let try_read =
        |path: &str| format!("cat {path} >/dev/null 2>&1 && echo READABLE || echo DENIED");
    let try_list =
        |path: &str| format!("ls {path} >/dev/null 2>&1 && echo READABLE || echo DENIED");
    let try_write = |path: &str| format!("touch {path} 2>/dev/null && echo WRITTEN || echo DENIED");
    vec![
        ("data dir", try_list(data_dir)),
        ("data db", try_read(&format!("{data_dir}/runtime.db"))),
        ("other session", try_list(other_workspace)),
        ("root home", try_list("/root")),
        ("write usr", try_write("/usr/escape")),
        ("write etc", try_write("/etc/escape")),
        ("write root fs", try_write("/escape")),
        ("write tools", try_write("/opt/agent-tools/escape")),
        ("write workspace", try_write("/workspace/ok.txt")),
        ("write home", try_write("/home/agent/ok.txt")),
        ("uid", "id -u".to_string()),
    ]
}

async fn the_agent_cannot_reach_outside_its_workspace_and_home(agent: AgentKind) {
    let h = harness(Scenario::new(vec![]), |_| {}).await;
    let data_dir = h._data.path().display().to_string();

    // A second session with a file of its own, whose sandbox exists on the host.
    let other = create_session(&h.runtime, agent.clone()).await;
    h.runtime
        .write_file(&other, "secret.txt", b"other session's secret".to_vec())
        .await
        .unwrap();
    h.model
        .set_scenario(Scenario::new(vec![]).with_fallback(Response::text("ok")));
    let mut other_sub = h.runtime.subscribe(&other, 0).await.unwrap();
    h.runtime
        .send_message(&other, message("hello"))
        .await
        .unwrap();
    collect_until(&mut other_sub, is_turn_completed).await;
    let other_workspace = format!("{data_dir}/sandboxes/{}/workspace", other);
    assert!(std::path::Path::new(&other_workspace)
        .join("secret.txt")
        .exists());

    let probes = probes(&data_dir, &other_workspace);
    let calls = probes
        .iter()
        .map(|(what, command)| {
            Reply::tool_use("Bash", json!({"command": command, "description": what}))
        })
        .collect();
    h.model.set_scenario(Scenario::new(vec![
        Rule::new(Matcher::tool_result(Some("Bash")), Response::text("probed")),
        Rule::new(
            Matcher::last_user_text_contains("probe"),
            Response::blocks(calls),
        ),
    ]));
    let session = create_session(&h.runtime, agent.clone()).await;
    let mut sub = h.runtime.subscribe(&session, 0).await.unwrap();
    h.runtime
        .send_message(&session, message("probe the sandbox"))
        .await
        .unwrap();
    collect_until(&mut sub, is_turn_completed).await;

    let snapshot = h.runtime.snapshot(&session).await.unwrap();
    let results: Vec<&ToolResultBlock> = snapshot
        .state
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::ToolResult(r) => Some(r),
            _ => None,
        })
        .collect();
    let tool_uses: Vec<(String, String)> = snapshot
        .state
        .blocks
        .iter()
        .filter_map(|b| match b {
            Block::ToolUse(t) => Some((t.id.clone(), t.input.to_string())),
            _ => None,
        })
        .collect();
    assert_eq!(tool_uses.len(), probes.len());
    // Each probe's call is the one whose input holds its command (agents may run them in
    // another order, and wrap the command: Codex runs `["/bin/sh", "-lc", command]`).
    let verdicts: Vec<(&str, String)> = probes
        .iter()
        .map(|(what, command)| {
            let quoted = serde_json::Value::from(command.as_str()).to_string();
            let inner = &quoted[1..quoted.len() - 1];
            let (id, _) = tool_uses
                .iter()
                .find(|(_, input)| input.contains(inner))
                .unwrap_or_else(|| panic!("no call for {what}"));
            let result = results
                .iter()
                .find(|r| &r.tool_use_id == id)
                .unwrap_or_else(|| panic!("no result for {what}"));
            (*what, result.output.trim().to_string())
        })
        .collect();
    let expected: Vec<(&str, String)> = vec![
        ("data dir", "DENIED".into()),
        ("data db", "DENIED".into()),
        ("other session", "DENIED".into()),
        ("root home", "DENIED".into()),
        ("write usr", "DENIED".into()),
        ("write etc", "DENIED".into()),
        ("write root fs", "DENIED".into()),
        ("write tools", "DENIED".into()),
        ("write workspace", "WRITTEN".into()),
        ("write home", "WRITTEN".into()),
        ("uid", "1000".into()),
    ];
    pretty_assertions::assert_eq!(verdicts, expected);
    assert!(!std::path::Path::new("/usr/escape").exists());
    assert!(!std::path::Path::new("/escape").exists());
    // The file the agent may write did land in its workspace.
    assert!(snapshot.state.files.iter().any(|f| f.path == "ok.txt"));
    h.runtime.shutdown().await;
}

agent_matrix! {
    tests: [the_agent_cannot_reach_outside_its_workspace_and_home];
    claude_code => AgentKind::ClaudeCode,
    gemini_cli => AgentKind::GeminiCli,
    opencode => AgentKind::from_id("opencode").unwrap(),
    codex => AgentKind::from_id("codex").unwrap(),
}
