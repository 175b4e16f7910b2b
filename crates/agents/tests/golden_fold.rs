//! Golden files for the TypeScript fold in `packages/react`: every captured agent stream
//! (`shared/fixtures/{claude,gemini}/*.stream.jsonl`) becomes the numbered envelopes the runtime would
//! append, together with the state `agent_runtime_protocol::fold_all` folds them into. The React
//! package's tests fold the same envelopes in TypeScript and must reach the same state, so the
//! two folds cannot drift apart.
//!
//! The committed files live in `packages/react/test/golden/`; this test fails when they are
//! stale. Regenerate them with `UPDATE_GENERATED=1 cargo test -p agent-runtime-agents --test
//! golden_fold` (the same variable regenerates the TypeScript types).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use agent_runtime_agents::{AgentKind, AgentOutput, TranslatorContext};
use agent_runtime_protocol::{
    fold_all, Block, BlockUpdates, Envelope, FileInfo, MetadataPatch, PlanBlock, PlanEntry,
    PlanEntryPriority, PlanEntryStatus, SandboxState, SessionEvent, SubagentBlock, SubagentStatus,
    ThinkingBlock, ToolStatus, ToolUseBlock, TurnEndReason, TurnError, Usage, UserMessageBlock,
    MAIN_CONVERSATION,
};

/// Fixed time given to translators and envelopes, so the files are stable.
const AT: &str = "2026-01-01T00:00:00Z";
const SESSION: &str = "golden";

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn golden_dir() -> PathBuf {
    repo_root().join("packages/react/test/golden")
}

/// The captured streams of each agent: its fixture folder, which is also its golden files' prefix.
const AGENT_FIXTURES: &[(AgentKind, &str)] = &[
    (AgentKind::ClaudeCode, "claude"),
    (AgentKind::GeminiCli, "gemini"),
];

fn fixtures_dir(agent_dir: &str) -> PathBuf {
    repo_root().join("../shared/fixtures").join(agent_dir)
}

#[test]
fn golden_folds_are_current() {
    let mut expected: BTreeMap<String, String> = BTreeMap::new();
    for (agent, dir) in AGENT_FIXTURES {
        let mut fixtures: Vec<PathBuf> = std::fs::read_dir(fixtures_dir(dir))
            .expect("shared/fixtures beside the repository")
            .map(|entry| entry.expect("dir entry").path())
            .filter(|path| path.to_string_lossy().ends_with(".stream.jsonl"))
            .collect();
        fixtures.sort();
        assert!(!fixtures.is_empty(), "no {dir} stream fixtures found");
        for path in &fixtures {
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            let stem = name.trim_end_matches(".stream.jsonl");
            let events = stream_events(agent.clone(), path);
            expected.insert(
                format!("{dir}-{stem}.json"),
                render(&format!("{dir}/{name}"), &events),
            );
        }
    }
    expected.insert(
        "synthetic-runtime-events.json".into(),
        render(
            "synthetic (crates/agents/tests/golden_fold.rs)",
            &synthetic_events(),
        ),
    );
    expected.insert(
        "synthetic-approvals.json".into(),
        render(
            "synthetic approvals log: permissions, questions, rules, budgets, settings \
             (crates/agents/tests/golden_fold.rs)",
            &approval_events(),
        ),
    );
    expected.insert(
        "synthetic-network-denied.json".into(),
        render_timed(
            "synthetic network_denied log: dedupe, move to end, other port or reason, cap \
             (crates/agents/tests/golden_fold.rs)",
            &network_denied_events(),
            |seq| format!("2026-01-01T00:{:02}:{:02}Z", seq / 60, seq % 60),
        ),
    );

    expected.insert(
        "synthetic-plan.json".into(),
        render(
            "synthetic plan log: a plan started, replaced twice, completed; a new plan next turn \
             (crates/agents/tests/golden_fold.rs)",
            &plan_events(),
        ),
    );

    let dir = golden_dir();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(&dir).expect("create golden dir");
        for entry in std::fs::read_dir(&dir).expect("read golden dir") {
            let path = entry.expect("dir entry").path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if name.ends_with(".json") && !expected.contains_key(&name) {
                std::fs::remove_file(&path).expect("remove stale golden file");
            }
        }
        for (name, text) in &expected {
            std::fs::write(dir.join(name), text).expect("write golden file");
        }
        return;
    }

    let mut stale = Vec::new();
    for (name, text) in &expected {
        let committed = std::fs::read_to_string(dir.join(name)).unwrap_or_default();
        if committed != *text {
            stale.push(name.clone());
        }
    }
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !expected.contains_key(&name) {
                stale.push(format!("{name} (no longer produced)"));
            }
        }
    }
    assert!(
        stale.is_empty(),
        "packages/react/test/golden is stale ({}); regenerate with \
         `UPDATE_GENERATED=1 cargo test -p agent-runtime-agents --test golden_fold`",
        stale.join(", ")
    );
}

/// The events the runtime would append for one captured stream: each turn opens with
/// `turn_started` and the user's message (the translator never emits those), the translator's
/// events follow, and each `TurnFinished` becomes `turn_completed`. A turn the agent started on
/// its own has no `turn_started`, and its `turn_completed` carries an id of its own, as in the
/// runtime. A stream that ends mid-turn leaves the turn open.
fn stream_events(agent: AgentKind, path: &Path) -> Vec<SessionEvent> {
    let text = std::fs::read_to_string(path).unwrap();
    let mut translator = agent.new_translator(TranslatorContext::default());
    let mut outputs = Vec::new();
    for line in text.lines() {
        outputs.extend(translator.translate_line(line, AT));
    }
    // Split into turns: everything up to and including a TurnFinished.
    let mut turns: Vec<Vec<AgentOutput>> = vec![Vec::new()];
    for output in outputs {
        let ends = matches!(output, AgentOutput::TurnFinished(_));
        turns.last_mut().unwrap().push(output);
        if ends {
            turns.push(Vec::new());
        }
    }
    let mut events = Vec::new();
    for (index, turn) in turns.into_iter().enumerate() {
        if turn.is_empty() {
            continue;
        }
        let number = index + 1;
        let agent_initiated = turn.iter().any(|output| {
            matches!(output, AgentOutput::TurnFinished(outcome) if outcome.agent_initiated)
        });
        let turn_id = if agent_initiated {
            format!("agent-turn-{number}")
        } else {
            let turn_id = format!("turn-{number}");
            let user = Block::UserMessage(UserMessageBlock {
                id: format!("user-{number}"),
                at: AT.into(),
                text: format!("(the prompt of turn {number})"),
                client_message_id: Some(format!("client-{number}")),
            });
            events.push(SessionEvent::TurnStarted {
                turn_id: turn_id.clone(),
                user_block_id: user.id().to_string(),
            });
            events.push(SessionEvent::BlockStart {
                conversation_id: MAIN_CONVERSATION.into(),
                block: user.clone(),
            });
            events.push(SessionEvent::BlockComplete {
                conversation_id: MAIN_CONVERSATION.into(),
                block_id: user.id().to_string(),
                block: user,
            });
            turn_id
        };
        for output in turn {
            match output {
                AgentOutput::Event(event) => events.push(event),
                AgentOutput::TurnFinished(outcome) => events.push(SessionEvent::TurnCompleted {
                    turn_id: turn_id.clone(),
                    reason: outcome.reason,
                    usage: outcome.usage,
                    cost_usd: outcome.cost_usd,
                    duration_ms: 1000,
                    error: outcome.error,
                }),
                // The runtime, not the translator, turns asks into request events; the
                // synthetic approvals file covers those.
                AgentOutput::WriteStdin(_)
                | AgentOutput::Ask(_)
                | AgentOutput::AskWithdrawn { .. }
                | AgentOutput::AgentSessionId(_) => {}
            }
        }
    }
    events
}

/// Events the agent streams never contain but the runtime emits (files, sandbox status,
/// metadata), and the fold's edge cases: events about unknown blocks and threads, subagent
/// output before its discovery, a tool call's input streamed as text, paths that sort
/// differently by UTF-8 bytes than by UTF-16 units.
/// Refusals of the egress proxy: repeats (counted, moved to the end), the same host on another
/// port or for another reason (entries of their own), other events between them, more distinct
/// destinations than the state keeps (the oldest dropped), and a dropped one coming back.
fn network_denied_events() -> Vec<SessionEvent> {
    let denied = |host: &str, port: u16, reason: &str| SessionEvent::NetworkDenied {
        host: host.into(),
        port,
        reason: reason.into(),
    };
    let mut events = vec![
        SessionEvent::Status {
            sandbox: SandboxState::Ready,
            provider: None,
        },
        denied("api.evil.example", 443, "not_allowlisted"),
        denied("169.254.169.254", 80, "metadata"),
        denied("api.evil.example", 443, "not_allowlisted"),
        denied("api.evil.example", 80, "not_allowlisted"),
        denied("api.evil.example", 443, "resolve_failed"),
        SessionEvent::Warning {
            message: "something else happened".into(),
            raw: None,
        },
        denied("127.0.0.1", 8080, "loopback"),
    ];
    for i in 0..agent_runtime_protocol::MAX_NETWORK_DENIALS {
        events.push(denied(&format!("host-{i}.example"), 443, "not_allowlisted"));
    }
    events.push(denied("169.254.169.254", 80, "metadata"));
    events.push(denied("api.evil.example", 443, "not_allowlisted"));
    events
}

fn synthetic_events() -> Vec<SessionEvent> {
    let main = || MAIN_CONVERSATION.to_string();
    let file = |path: &str, size: u64| FileInfo {
        path: path.into(),
        size,
        sha256: format!("{:0>64}", size),
    };
    let usage = |input: u64, output: u64| Usage {
        input_tokens: input,
        output_tokens: output,
        cache_read_input_tokens: input / 2,
        cache_creation_input_tokens: 3,
    };
    let tool = |status: ToolStatus| {
        Block::ToolUse(ToolUseBlock {
            id: "toolu_1".into(),
            at: AT.into(),
            name: "Write".into(),
            input: serde_json::json!({}),
            status,
            partial_input: None,
        })
    };
    let thinking = |text: &str| {
        Block::Thinking(ThinkingBlock {
            id: "think_1".into(),
            at: AT.into(),
            text: text.into(),
            signature: None,
            redacted: false,
        })
    };
    let link = |status: SubagentStatus| {
        Block::Subagent(SubagentBlock {
            id: "link_1".into(),
            at: AT.into(),
            subagent_id: "sub_1".into(),
            subagent_type: Some("general-purpose".into()),
            description: None,
            status,
        })
    };
    vec![
        SessionEvent::MetadataUpdate {
            metadata: MetadataPatch {
                agent_session_id: Some("agent-session".into()),
                demo: Some(true),
                ..MetadataPatch::default()
            },
        },
        SessionEvent::Status {
            sandbox: SandboxState::Starting,
            provider: None,
        },
        SessionEvent::Status {
            sandbox: SandboxState::Ready,
            provider: None,
        },
        SessionEvent::TurnStarted {
            turn_id: "t1".into(),
            user_block_id: "u1".into(),
        },
        SessionEvent::BlockStart {
            conversation_id: main(),
            block: Block::UserMessage(UserMessageBlock {
                id: "u1".into(),
                at: AT.into(),
                text: "hello".into(),
                client_message_id: None,
            }),
        },
        SessionEvent::MetadataUpdate {
            metadata: MetadataPatch {
                model: Some("claude-test".into()),
                ..MetadataPatch::default()
            },
        },
        SessionEvent::BlockStart {
            conversation_id: main(),
            block: thinking(""),
        },
        SessionEvent::TextDelta {
            conversation_id: main(),
            block_id: "think_1".into(),
            delta: "Let me ".into(),
        },
        SessionEvent::TextDelta {
            conversation_id: main(),
            block_id: "think_1".into(),
            delta: "think.".into(),
        },
        SessionEvent::BlockUpdate {
            conversation_id: main(),
            block_id: "think_1".into(),
            updates: BlockUpdates {
                signature: Some("sig".into()),
                status: Some(ToolStatus::Error),
                ..BlockUpdates::default()
            },
        },
        SessionEvent::BlockStart {
            conversation_id: main(),
            block: tool(ToolStatus::Pending),
        },
        SessionEvent::TextDelta {
            conversation_id: main(),
            block_id: "toolu_1".into(),
            delta: "{\"file_path\":".into(),
        },
        SessionEvent::BlockUpdate {
            conversation_id: main(),
            block_id: "toolu_1".into(),
            updates: BlockUpdates {
                partial_input: Some("{\"file_path\":\"a.txt\"".into()),
                ..BlockUpdates::default()
            },
        },
        SessionEvent::BlockUpdate {
            conversation_id: main(),
            block_id: "toolu_1".into(),
            updates: BlockUpdates {
                status: Some(ToolStatus::Running),
                ..BlockUpdates::default()
            },
        },
        SessionEvent::TextDelta {
            conversation_id: main(),
            block_id: "no-such-block".into(),
            delta: "lost".into(),
        },
        SessionEvent::BlockUpdate {
            conversation_id: "no-such-thread".into(),
            block_id: "toolu_1".into(),
            updates: BlockUpdates {
                status: Some(ToolStatus::Success),
                ..BlockUpdates::default()
            },
        },
        SessionEvent::TextDelta {
            conversation_id: "no-such-thread".into(),
            block_id: "x".into(),
            delta: "lost".into(),
        },
        SessionEvent::BlockStart {
            conversation_id: main(),
            block: link(SubagentStatus::Running),
        },
        // The subagent's first block arrives before its discovery.
        SessionEvent::BlockStart {
            conversation_id: "sub_1".into(),
            block: Block::AssistantText(agent_runtime_protocol::AssistantTextBlock {
                id: "sub_text".into(),
                at: AT.into(),
                text: "Working".into(),
            }),
        },
        SessionEvent::TextDelta {
            conversation_id: "sub_1".into(),
            block_id: "sub_text".into(),
            delta: " on it".into(),
        },
        SessionEvent::SubagentDiscovered {
            subagent_id: "sub_1".into(),
            parent_conversation_id: main(),
            subagent_type: Some("general-purpose".into()),
            description: Some("Look around".into()),
        },
        SessionEvent::SubagentDiscovered {
            subagent_id: "sub_1".into(),
            parent_conversation_id: main(),
            subagent_type: None,
            description: None,
        },
        SessionEvent::SubagentDiscovered {
            subagent_id: "sub_2".into(),
            parent_conversation_id: "sub_1".into(),
            subagent_type: None,
            description: Some("Nested".into()),
        },
        SessionEvent::SubagentCompleted {
            subagent_id: "sub_1".into(),
            status: SubagentStatus::Completed,
        },
        SessionEvent::SubagentCompleted {
            subagent_id: "sub_unknown".into(),
            status: SubagentStatus::Error,
        },
        SessionEvent::BlockUpdate {
            conversation_id: main(),
            block_id: "link_1".into(),
            updates: BlockUpdates {
                subagent_status: Some(SubagentStatus::Completed),
                ..BlockUpdates::default()
            },
        },
        SessionEvent::BlockComplete {
            conversation_id: main(),
            block_id: "think_1".into(),
            block: thinking("Let me think, really."),
        },
        SessionEvent::BlockComplete {
            conversation_id: main(),
            block_id: "toolu_1".into(),
            block: tool(ToolStatus::Success),
        },
        SessionEvent::FileCreated(file("b.txt", 1)),
        SessionEvent::FileCreated(file("a/z.txt", 2)),
        SessionEvent::FileCreated(file("Z.txt", 3)),
        SessionEvent::FileCreated(file("é.txt", 4)),
        SessionEvent::FileCreated(file("\u{ffff}.txt", 5)),
        SessionEvent::FileCreated(file("😀.txt", 6)),
        SessionEvent::FileModified(file("b.txt", 7)),
        SessionEvent::FileModified(file("new-by-modify.txt", 8)),
        SessionEvent::FileDeleted {
            path: "a/z.txt".into(),
        },
        SessionEvent::FileDeleted {
            path: "never-existed.txt".into(),
        },
        SessionEvent::Warning {
            message: "unparsed agent output".into(),
            raw: Some("{oops".into()),
        },
        SessionEvent::TurnCompleted {
            turn_id: "some-other-turn".into(),
            reason: TurnEndReason::Completed,
            usage: usage(10, 1),
            cost_usd: 0.1,
            duration_ms: 5,
            error: None,
        },
        SessionEvent::TurnCompleted {
            turn_id: "t1".into(),
            reason: TurnEndReason::Error,
            usage: usage(1234, 56),
            cost_usd: 0.2,
            duration_ms: 4321,
            error: Some(TurnError {
                message: "boom".into(),
                code: Some("api_error".into()),
                http_status: Some(500),
                exit_code: Some(1),
                stderr_tail: Some("last words".into()),
            }),
        },
        SessionEvent::TurnStarted {
            turn_id: "t2".into(),
            user_block_id: "u2".into(),
        },
        SessionEvent::TurnCompleted {
            turn_id: "t2".into(),
            reason: TurnEndReason::Interrupted,
            usage: Usage::default(),
            cost_usd: 0.000_1,
            duration_ms: 0,
            error: None,
        },
        SessionEvent::Status {
            sandbox: SandboxState::Stopped,
            provider: None,
        },
        SessionEvent::MetadataUpdate {
            metadata: MetadataPatch {
                demo: Some(false),
                ..MetadataPatch::default()
            },
        },
    ]
}

/// One golden file: the envelopes one per line (reviewable diffs), then the folded state.
fn render(source: &str, events: &[SessionEvent]) -> String {
    render_timed(source, events, |_| AT.to_string())
}

/// Like [`render`], with the envelope of seq `n` appended at `at(n)`.
fn render_timed(source: &str, events: &[SessionEvent], at: impl Fn(u64) -> String) -> String {
    let envelopes: Vec<Envelope> = events
        .iter()
        .enumerate()
        .map(|(i, event)| Envelope {
            session_id: SESSION.into(),
            seq: i as u64 + 1,
            at: at(i as u64 + 1),
            event: event.clone(),
        })
        .collect();
    let state = fold_all(&envelopes);
    let mut out = String::new();
    out.push_str("{\n\"source\": ");
    out.push_str(&serde_json::to_string(source).unwrap());
    out.push_str(",\n\"envelopes\": [\n");
    for (i, envelope) in envelopes.iter().enumerate() {
        out.push_str(&serde_json::to_string(envelope).unwrap());
        out.push_str(if i + 1 < envelopes.len() { ",\n" } else { "\n" });
    }
    out.push_str("],\n\"state\": ");
    out.push_str(&serde_json::to_string_pretty(&state).unwrap());
    out.push_str("\n}\n");
    out
}

/// Every approval event, in the orders the runtime appends them: a permission asked and allowed
/// always (its rule remembered once, even when answered twice), one denied, one closed by the
/// runtime, a late answer to a closed request (ignored), questions answered and timed out,
/// settings, a budget exceeded, approved, exceeded again and cleared by new settings.
fn approval_events() -> Vec<SessionEvent> {
    use agent_runtime_protocol::{
        Budget, BudgetApproval, BudgetExceeded, BudgetKind, Continuation, PermissionDecision,
        PermissionMode, PermissionOption, PermissionOptionKind, PermissionRequest,
        PermissionResolution, Question, QuestionAnswer, QuestionOption, QuestionRequest,
        QuestionResolution, ResolvedBy, SessionSettings,
    };
    use serde_json::json;
    let option = |id: &str, kind, rule: Option<&str>| PermissionOption {
        id: id.into(),
        kind,
        label: id.replace('_', " "),
        rule: rule.map(str::to_string),
        suggestion: None,
    };
    let permission = |id: &str, command: &str| {
        SessionEvent::PermissionRequested(PermissionRequest {
            request_id: id.into(),
            tool_use_id: Some(format!("toolu_{id}")),
            tool: "Bash".into(),
            input: json!({ "command": command }),
            description: Some("runs it".into()),
            options: vec![
                option("allow_once", PermissionOptionKind::AllowOnce, None),
                option(
                    "allow_always",
                    PermissionOptionKind::AllowAlways,
                    Some(&format!("Bash({command})")),
                ),
                option("deny", PermissionOptionKind::Deny, None),
            ],
            expires_at: "2026-01-01T00:30:00Z".into(),
            turn_id: Some("turn_1".into()),
        })
    };
    let resolved = |id: &str, decision, by, rule: Option<&str>| {
        SessionEvent::PermissionResolved(PermissionResolution {
            request_id: id.into(),
            decision,
            remember: rule.is_some(),
            by,
            at: AT.into(),
            option_id: None,
            rule: rule.map(str::to_string),
            message: (decision == PermissionDecision::Deny).then(|| "no".to_string()),
            continuation: None,
        })
    };
    let questions = |id: &str| {
        SessionEvent::QuestionRequested(QuestionRequest {
            request_id: id.into(),
            tool_use_id: None,
            questions: vec![Question {
                question: "Which color?".into(),
                header: Some("Color".into()),
                options: vec![QuestionOption {
                    label: "Blue".into(),
                    description: None,
                }],
                multi_select: false,
            }],
            expires_at: "2026-01-01T00:30:00Z".into(),
            turn_id: Some("turn_2".into()),
        })
    };
    let turn_started = |id: &str| SessionEvent::TurnStarted {
        turn_id: id.into(),
        user_block_id: format!("user_{id}"),
    };
    let turn_completed = |id: &str, cost: f64| SessionEvent::TurnCompleted {
        turn_id: id.into(),
        reason: TurnEndReason::Completed,
        usage: Usage::default(),
        cost_usd: cost,
        duration_ms: 1000,
        error: None,
    };
    vec![
        SessionEvent::SettingsChanged(SessionSettings {
            permission_mode: Some(PermissionMode::Default),
            budget: Some(Budget {
                max_cost_usd: Some(0.5),
                max_turns: None,
                max_turn_secs: Some(600),
            }),
        }),
        turn_started("turn_1"),
        permission("p1", "touch a"),
        permission("p2", "rm b"),
        resolved(
            "p1",
            PermissionDecision::Allow,
            ResolvedBy::User,
            Some("Bash(touch a)"),
        ),
        resolved("p1", PermissionDecision::Deny, ResolvedBy::User, None),
        resolved("p2", PermissionDecision::Deny, ResolvedBy::User, None),
        permission("p3", "touch a"),
        resolved(
            "p3",
            PermissionDecision::Allow,
            ResolvedBy::User,
            Some("Bash(touch a)"),
        ),
        permission("p4", "make"),
        resolved("p4", PermissionDecision::Deny, ResolvedBy::Runtime, None),
        turn_completed("turn_1", 0.25),
        turn_started("turn_2"),
        questions("q1"),
        SessionEvent::QuestionResolved(QuestionResolution {
            request_id: "q1".into(),
            answers: BTreeMap::from([(
                "Which color?".to_string(),
                QuestionAnswer::Many(vec!["Blue".into(), "Teal".into()]),
            )]),
            by: ResolvedBy::User,
            at: AT.into(),
            continuation: Some(Continuation::Resumed),
        }),
        questions("q2"),
        SessionEvent::QuestionResolved(QuestionResolution {
            request_id: "q2".into(),
            answers: BTreeMap::new(),
            by: ResolvedBy::Timeout,
            at: AT.into(),
            continuation: None,
        }),
        turn_completed("turn_2", 0.3),
        SessionEvent::BudgetExceeded(BudgetExceeded {
            kind: BudgetKind::Cost,
            limit: 0.5,
            spent: 0.55,
        }),
        SessionEvent::BudgetApproved(BudgetApproval {
            kind: BudgetKind::Cost,
            at: AT.into(),
        }),
        turn_started("turn_3"),
        turn_completed("turn_3", 0.1),
        SessionEvent::BudgetExceeded(BudgetExceeded {
            kind: BudgetKind::Cost,
            limit: 0.5,
            spent: 0.65,
        }),
        permission("p5", "ls"),
    ]
}

/// An ACP agent's plan as the translator emits it: the turn's first plan opens a block, each
/// later version replaces its entries (statuses change, entries come and go), the final version
/// completes it; deltas and other kinds' fields leave it alone. The next turn's plan is a new
/// block.
fn plan_events() -> Vec<SessionEvent> {
    use PlanEntryPriority::{High, Low, Medium};
    use PlanEntryStatus::{Completed, InProgress, Pending};
    let main = || MAIN_CONVERSATION.to_string();
    let entry = |content: &str, priority, status| PlanEntry {
        content: content.into(),
        priority,
        status,
    };
    let plan = |id: &str, entries: Vec<PlanEntry>| {
        Block::Plan(PlanBlock {
            id: id.into(),
            at: AT.into(),
            entries,
        })
    };
    let replace = |id: &str, entries: Vec<PlanEntry>| SessionEvent::BlockUpdate {
        conversation_id: main(),
        block_id: id.into(),
        updates: BlockUpdates {
            entries: Some(entries),
            ..BlockUpdates::default()
        },
    };
    let turn = |id: &str| SessionEvent::TurnStarted {
        turn_id: id.into(),
        user_block_id: format!("user_{id}"),
    };
    let turn_completed = |id: &str| SessionEvent::TurnCompleted {
        turn_id: id.into(),
        reason: TurnEndReason::Completed,
        usage: Usage::default(),
        cost_usd: 0.0,
        duration_ms: 1000,
        error: None,
    };
    let finished = vec![
        entry("Read the failing test", High, Completed),
        entry("Fix the parser", High, Completed),
        entry("Run the whole suite", Low, Completed),
    ];
    vec![
        turn("turn_1"),
        SessionEvent::BlockStart {
            conversation_id: main(),
            block: plan(
                "plan_1",
                vec![
                    entry("Read the failing test", High, InProgress),
                    entry("Fix the parser", Medium, Pending),
                ],
            ),
        },
        SessionEvent::TextDelta {
            conversation_id: main(),
            block_id: "plan_1".into(),
            delta: "ignored".into(),
        },
        replace(
            "plan_1",
            vec![
                entry("Read the failing test", High, Completed),
                entry("Fix the parser", High, InProgress),
                entry("Run the whole suite", Low, Pending),
            ],
        ),
        SessionEvent::BlockUpdate {
            conversation_id: main(),
            block_id: "plan_1".into(),
            updates: BlockUpdates {
                status: Some(ToolStatus::Error),
                subagent_status: Some(SubagentStatus::Error),
                ..BlockUpdates::default()
            },
        },
        replace(
            "plan_1",
            vec![
                entry("Fix the parser", High, Completed),
                entry("Run the whole suite", Low, InProgress),
            ],
        ),
        SessionEvent::BlockComplete {
            conversation_id: main(),
            block_id: "plan_1".into(),
            block: plan("plan_1", finished),
        },
        turn_completed("turn_1"),
        turn("turn_2"),
        SessionEvent::BlockStart {
            conversation_id: main(),
            block: plan(
                "plan_2",
                vec![entry("Answer the question", Medium, Pending)],
            ),
        },
        replace("plan_2", vec![]),
        turn_completed("turn_2"),
    ]
}
