//! How user messages and a profile's prompts reach the agent: over stdin and through profile
//! files, never in arguments (world-readable in `/proc/PID/cmdline` on the host, and one argument
//! is capped at 128 KiB). Every body runs for every agent, with messages and prompts past that
//! cap, starting with `-`, with newlines and quotes.

use agent_runtime_agents::AgentKind;
use agent_runtime_protocol::{AgentProfile, CreateSessionRequest, SessionEvent, TurnEndReason};
use agent_runtime_testkit::{Matcher, RecordedRequest, Response, Rule, Scenario};
use serde_json::Value;

use super::support::*;
use super::turns::message;

/// A text of at least `bytes` bytes that starts with `marker` (so with `-`, were the marker to),
/// with newlines, double and single quotes, a backslash and non-ASCII text in every line.
fn awkward_text(marker: &str, bytes: usize) -> String {
    let mut text = format!("{marker}\n");
    let mut line = 0;
    while text.len() < bytes {
        text.push_str(&format!(
            "line {line}: \"quoted\" and 'single' \\ back, --flag=value, ünïcödé\n"
        ));
        line += 1;
    }
    text.push_str("the end");
    text
}

/// Every text the request carries in its conversation, part by part, unmodified.
fn conversation_texts(request: &RecordedRequest) -> Vec<String> {
    let mut texts = Vec::new();
    for entry in request.conversation() {
        match &entry["content"] {
            Value::String(text) => texts.push(text.clone()),
            Value::Array(blocks) => texts.extend(
                blocks
                    .iter()
                    .filter_map(|b| b["text"].as_str().map(str::to_string)),
            ),
            _ => {}
        }
        if let Some(parts) = entry["parts"].as_array() {
            texts.extend(
                parts
                    .iter()
                    .filter_map(|p| p["text"].as_str().map(str::to_string)),
            );
        }
    }
    texts
}

/// The command lines of every process on this host that mention `needle`.
fn host_command_lines_containing(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let is_pid = entry.file_name().to_string_lossy().parse::<u32>().is_ok();
        if !is_pid {
            continue;
        }
        // A process may be gone by now; what cannot be read is not there.
        if let Ok(bytes) = std::fs::read(entry.path().join("cmdline")) {
            let line = String::from_utf8_lossy(&bytes).replace('\0', " ");
            if line.contains(needle) {
                found.push(line);
            }
        }
    }
    found
}

/// A 300 KiB message (past the kernel's 128 KiB per argument) reaches the model byte for byte,
/// and while the agent works on it no process on the host has it in its command line.
async fn a_300_kib_message_reaches_the_model_intact_and_never_an_argv(agent: AgentKind) {
    let marker = format!("-hygiene-{}", uuid::Uuid::new_v4().simple());
    let text = awkward_text(&marker, 300 * 1024);
    let scenario = Scenario::new(vec![Rule::new(
        Matcher::last_user_text_contains(marker.clone()),
        Response::text("word ".repeat(40))
            .with_chunks(40)
            .with_chunk_delay_ms(50),
    )])
    .with_fallback(Response::text("ok"));
    let h = harness(scenario, |_| {}).await;
    let id = &create_session(&h.runtime, agent.clone()).await;
    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    h.runtime.send_message(id, message(&text)).await.unwrap();

    // The agent is streaming its answer to the message: its process is alive.
    collect_until(&mut sub, |e| {
        matches!(e.event, SessionEvent::TextDelta { .. })
    })
    .await;
    assert_eq!(host_command_lines_containing(&marker), Vec::<String>::new());
    // The scan does see the sandboxed agent: its command line names its conversation (native
    // agents), or its pinned version in the path of its binary (ACP agents take the
    // conversation over stdin).
    let snapshot = h.runtime.snapshot(id).await.unwrap();
    let visible = match agent.protocol() {
        "native" => snapshot.state.agent_session_id.expect("agent session id"),
        _ => format!("@{}/", agent.install_spec().version),
    };
    assert!(
        !host_command_lines_containing(&visible).is_empty(),
        "the agent process is not visible in /proc"
    );

    let events = collect_until(&mut sub, is_turn_completed).await;
    let end = events.last().map(|e| &e.event);
    assert!(
        matches!(
            end,
            Some(SessionEvent::TurnCompleted {
                reason: TurnEndReason::Completed,
                ..
            })
        ),
        "{end:?}"
    );
    let requests = h.model.message_requests();
    let carried = requests
        .iter()
        .any(|r| conversation_texts(r).contains(&text));
    assert!(
        carried,
        "no request carried the message intact; last user texts: {:?}",
        requests
            .iter()
            .map(|r| r.last_user_text().chars().take(120).collect::<String>())
            .collect::<Vec<_>>()
    );
    h.runtime.shutdown().await;
}

/// A profile's system prompt (150 KiB: too long for an argument) and appended prompt reach the
/// model's system text through the files the agent reads them from (Claude Code: the
/// `--system-prompt-file` / `--append-system-prompt-file` files; Gemini CLI: `GEMINI_SYSTEM_MD`
/// and `GEMINI.md`, whose context it appends to the system instruction).
async fn a_profile_s_prompts_reach_the_model_through_files(agent: AgentKind) {
    let system_marker = format!("-system-{}", uuid::Uuid::new_v4().simple());
    let append_marker = format!("--append-{}", uuid::Uuid::new_v4().simple());
    let system_prompt = awkward_text(&system_marker, 150 * 1024);
    let append_prompt = format!("{append_marker}\n\"Sign\" with 'R'.");
    let h = harness(
        Scenario::new(vec![]).with_fallback(Response::text("ok")),
        |_| {},
    )
    .await;
    let profile = AgentProfile {
        system_prompt: Some(system_prompt.clone()),
        append_system_prompt: Some(append_prompt.clone()),
        ..AgentProfile::default()
    };
    h.runtime.put_profile("prompts", profile).await.unwrap();
    let id = &h
        .runtime
        .create_session(CreateSessionRequest {
            agent: Some(agent.id().to_string()),
            profile: Some("prompts".into()),
            ..CreateSessionRequest::default()
        })
        .await
        .unwrap()
        .session_id;
    let mut sub = h.runtime.subscribe(id, 0).await.unwrap();
    h.runtime.send_message(id, message("hello")).await.unwrap();
    let events = collect_until(&mut sub, is_turn_completed).await;
    let end = events.last().map(|e| &e.event);
    assert!(
        matches!(
            end,
            Some(SessionEvent::TurnCompleted {
                reason: TurnEndReason::Completed,
                ..
            })
        ),
        "{end:?}"
    );

    let requests = h.model.message_requests();
    let main = requests
        .iter()
        .find(|r| {
            r.as_model_request()
                .is_some_and(|m| m.last_user_text().contains("hello") && m.has_tools())
        })
        .expect("the turn's model request");
    let system = main.as_model_request().unwrap().system_text();
    assert!(
        system.contains(system_prompt.trim()),
        "system prompt missing; system text starts {:?}",
        system.chars().take(300).collect::<String>()
    );
    assert!(
        system.contains(&append_prompt),
        "appended prompt missing from the system text"
    );
    assert_eq!(
        host_command_lines_containing(&system_marker),
        Vec::<String>::new()
    );
    h.runtime.shutdown().await;
}

agent_matrix! {
    tests: [
        a_300_kib_message_reaches_the_model_intact_and_never_an_argv,
        a_profile_s_prompts_reach_the_model_through_files,
    ];
    claude_code => agent_runtime_agents::AgentKind::ClaudeCode,
    gemini_cli => agent_runtime_agents::AgentKind::GeminiCli,
    opencode => agent_runtime_agents::AgentKind::from_id("opencode").unwrap(),
    codex => agent_runtime_agents::AgentKind::from_id("codex").unwrap(),
}
