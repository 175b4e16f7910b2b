use agent_runtime_protocol::{
    fold, AssistantTextBlock, Block, BlockUpdates, Envelope, MetadataPatch, SessionEvent,
    SessionState, SubagentStatus, ThinkingBlock, ToolResultBlock, ToolStatus, ToolUseBlock,
    TurnEndReason, TurnError, Usage,
};
use pretty_assertions::assert_eq;
use serde_json::{json, Value};

use super::*;
use crate::output::TurnOutcome;

const AT: &str = "2026-01-01T00:00:00Z";

fn translator() -> ClaudeTranslator {
    ClaudeTranslator::new(TranslatorContext::default())
}

fn feed(t: &mut ClaudeTranslator, lines: &[Value]) -> Vec<AgentOutput> {
    lines
        .iter()
        .flat_map(|l| t.translate_line(&l.to_string(), AT))
        .collect()
}

fn events(outputs: &[AgentOutput]) -> Vec<SessionEvent> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::Event(e) => Some(e.clone()),
            _ => None,
        })
        .collect()
}

fn fold_outputs(outputs: &[AgentOutput]) -> SessionState {
    let mut state = SessionState::default();
    for (seq, event) in (1..).zip(events(outputs)) {
        fold(
            &mut state,
            &Envelope {
                session_id: "s".into(),
                seq,
                at: AT.into(),
                event,
            },
        );
    }
    state
}

fn outcomes(outputs: &[AgentOutput]) -> Vec<TurnOutcome> {
    outputs
        .iter()
        .filter_map(|o| match o {
            AgentOutput::TurnFinished(outcome) => Some(outcome.clone()),
            _ => None,
        })
        .collect()
}

fn stream(event: Value) -> Value {
    json!({"type": "stream_event", "event": event, "parent_tool_use_id": null, "uuid": "u"})
}

fn assistant(message_id: &str, content: Value) -> Value {
    json!({
        "type": "assistant",
        "message": {"id": message_id, "model": "claude-test", "role": "assistant", "content": [content]},
        "parent_tool_use_id": null,
    })
}

fn tool_result(tool_use_id: &str, output: &str, is_error: Option<bool>) -> Value {
    let mut item = json!({"type": "tool_result", "tool_use_id": tool_use_id, "content": output});
    if let Some(is_error) = is_error {
        item["is_error"] = json!(is_error);
    }
    json!({"type": "user", "message": {"role": "user", "content": [item]}, "parent_tool_use_id": null})
}

fn result(extra: Value) -> Value {
    let mut line = json!({"type": "result", "subtype": "success", "is_error": false});
    for (k, v) in extra.as_object().unwrap() {
        line[k] = v.clone();
    }
    line
}

fn main_event(block: Block) -> SessionEvent {
    SessionEvent::BlockComplete {
        conversation_id: "main".into(),
        block_id: block.id().to_string(),
        block,
    }
}

#[test]
fn thinking_and_text_stream_into_separate_blocks() {
    let mut t = translator();
    let outputs = feed(
        &mut t,
        &[
            stream(
                json!({"type": "message_start", "message": {"id": "m1", "model": "claude-test"}}),
            ),
            stream(
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "thinking", "thinking": "", "signature": ""}}),
            ),
            stream(
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "Let me "}}),
            ),
            json!({"type": "system", "subtype": "thinking_tokens", "estimated_tokens": 3}),
            stream(
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "thinking_delta", "thinking": "think."}}),
            ),
            stream(
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "signature_delta", "signature": "sig=="}}),
            ),
            assistant(
                "m1",
                json!({"type": "thinking", "thinking": "Let me think.", "signature": "sig=="}),
            ),
            stream(json!({"type": "content_block_stop", "index": 0})),
            stream(
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "text", "text": ""}}),
            ),
            stream(
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "Hi"}}),
            ),
            assistant("m1", json!({"type": "text", "text": "Hi"})),
            stream(json!({"type": "content_block_stop", "index": 1})),
            stream(json!({"type": "message_stop"})),
        ],
    );
    let thinking = |text: &str, signature: Option<&str>| {
        Block::Thinking(ThinkingBlock {
            id: "m1:0".into(),
            at: AT.into(),
            text: text.into(),
            signature: signature.map(str::to_string),
            redacted: false,
        })
    };
    let text = |text: &str| {
        Block::AssistantText(AssistantTextBlock {
            id: "m1:1".into(),
            at: AT.into(),
            text: text.into(),
        })
    };
    let delta = |id: &str, delta: &str| SessionEvent::TextDelta {
        conversation_id: "main".into(),
        block_id: id.into(),
        delta: delta.into(),
    };
    assert_eq!(
        events(&outputs),
        vec![
            SessionEvent::MetadataUpdate {
                metadata: MetadataPatch {
                    model: Some("claude-test".into()),
                    ..MetadataPatch::default()
                }
            },
            SessionEvent::BlockStart {
                conversation_id: "main".into(),
                block: thinking("", None)
            },
            delta("m1:0", "Let me "),
            delta("m1:0", "think."),
            SessionEvent::BlockUpdate {
                conversation_id: "main".into(),
                block_id: "m1:0".into(),
                updates: BlockUpdates {
                    signature: Some("sig==".into()),
                    ..BlockUpdates::default()
                },
            },
            main_event(thinking("Let me think.", Some("sig=="))),
            SessionEvent::BlockStart {
                conversation_id: "main".into(),
                block: text("")
            },
            delta("m1:1", "Hi"),
            main_event(text("Hi")),
        ]
    );
    assert_eq!(
        fold_outputs(&outputs).blocks,
        vec![thinking("Let me think.", Some("sig==")), text("Hi")]
    );
}

#[test]
fn parallel_tool_calls_pair_with_their_results_in_any_order() {
    let mut t = translator();
    let outputs = feed(
        &mut t,
        &[
            assistant(
                "m1",
                json!({"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}),
            ),
            assistant(
                "m1",
                json!({"type": "tool_use", "id": "t2", "name": "Read", "input": {"file_path": "/x"}}),
            ),
            tool_result("t2", "no such file", Some(true)),
            tool_result("t1", "a\nb", None),
        ],
    );
    let tool = |id: &str, name: &str, input: Value, status| {
        Block::ToolUse(ToolUseBlock {
            id: id.into(),
            at: AT.into(),
            name: name.into(),
            input,
            status,
            partial_input: None,
        })
    };
    let result = |id: &str, output: &str, is_error| {
        Block::ToolResult(ToolResultBlock {
            id: format!("result:{id}"),
            at: AT.into(),
            tool_use_id: id.into(),
            output: output.into(),
            is_error,
            details: None,
        })
    };
    assert_eq!(
        fold_outputs(&outputs).blocks,
        vec![
            tool("t1", "Bash", json!({"command": "ls"}), ToolStatus::Success),
            tool("t2", "Read", json!({"file_path": "/x"}), ToolStatus::Error),
            result("t2", "no such file", true),
            result("t1", "a\nb", false),
        ]
    );
}

#[test]
fn streamed_tool_input_is_accumulated_then_replaced_by_the_assistant_line() {
    let mut t = translator();
    let outputs = feed(
        &mut t,
        &[
            stream(
                json!({"type": "message_start", "message": {"id": "m1", "model": "claude-test"}}),
            ),
            stream(
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "tool_use", "id": "t1", "name": "Bash", "input": {}}}),
            ),
            stream(
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "{\"command\": "}}),
            ),
            stream(
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "input_json_delta", "partial_json": "\"ls\"}"}}),
            ),
        ],
    );
    let partials: Vec<Option<String>> = events(&outputs)
        .into_iter()
        .filter_map(|e| match e {
            SessionEvent::BlockUpdate { updates, .. } => Some(updates.partial_input),
            _ => None,
        })
        .collect();
    assert_eq!(
        partials,
        vec![
            Some("{\"command\": ".into()),
            Some("{\"command\": \"ls\"}".into())
        ]
    );
    let mid = fold_outputs(&outputs);
    let Block::ToolUse(tool) = &mid.blocks[0] else {
        panic!("{mid:?}")
    };
    assert_eq!(
        (tool.status, tool.partial_input.as_deref()),
        (ToolStatus::Pending, Some("{\"command\": \"ls\"}"))
    );

    let mut all = outputs;
    all.extend(feed(
        &mut t,
        &[assistant(
            "m1",
            json!({"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "ls"}}),
        )],
    ));
    let done = fold_outputs(&all);
    let Block::ToolUse(tool) = &done.blocks[0] else {
        panic!("{done:?}")
    };
    assert_eq!(
        (tool.status, tool.partial_input.as_deref(), &tool.input),
        (ToolStatus::Running, None, &json!({"command": "ls"}))
    );
}

#[test]
fn interrupt_results_are_interrupted() {
    // The verified shape: terminal_reason aborted_streaming.
    let mut t = translator();
    let aborted = result(
        json!({"subtype": "error_during_execution", "is_error": true, "terminal_reason": "aborted_streaming", "errors": ["[ede_diagnostic] x"]}),
    );
    let outcome = &outcomes(&feed(&mut t, &[aborted]))[0];
    assert_eq!(
        (outcome.reason, &outcome.error),
        (TurnEndReason::Interrupted, &None)
    );

    // Without terminal_reason, an execution error is an interrupt only when one was requested.
    let bare = result(json!({"subtype": "error_during_execution", "is_error": true}));
    let mut t = translator();
    assert_eq!(
        outcomes(&feed(&mut t, std::slice::from_ref(&bare)))[0].reason,
        TurnEndReason::Error
    );
    t.note_interrupt_requested();
    assert_eq!(
        outcomes(&feed(&mut t, std::slice::from_ref(&bare)))[0].reason,
        TurnEndReason::Interrupted
    );
    // ... and only for the turn it was requested in.
    assert_eq!(
        outcomes(&feed(&mut t, &[bare]))[0].reason,
        TurnEndReason::Error
    );
}

#[test]
fn api_error_500_is_an_error_with_its_http_status() {
    let mut t = translator();
    let outputs = feed(
        &mut t,
        &[
            json!({"type": "system", "subtype": "api_retry", "attempt": 1, "max_retries": 2, "retry_delay_ms": 500, "error_status": 500, "error": "server_error", "uuid": "r1"}),
            json!({"type": "system", "subtype": "api_retry", "attempt": 2, "max_retries": 2, "retry_delay_ms": 900, "error_status": 500, "error": "server_error", "uuid": "r2"}),
            json!({"type": "assistant", "message": {"id": "e1", "model": "<synthetic>", "content": [{"type": "text", "text": "API Error: 500 boom"}]}, "parent_tool_use_id": null, "error": "server_error", "is_api_error_message": true, "api_error_status": 500}),
            // Success is never read from `subtype`.
            result(
                json!({"subtype": "success", "is_error": true, "terminal_reason": "api_error", "api_error_status": 500, "result": "API Error: 500 boom", "total_cost_usd": 0, "usage": {"input_tokens": 0, "output_tokens": 0}}),
            ),
        ],
    );
    let outcome = &outcomes(&outputs)[0];
    assert_eq!(outcome.reason, TurnEndReason::Error);
    assert_eq!(
        outcome.error,
        Some(TurnError {
            message: "API Error: 500 boom".into(),
            code: Some("api_error".into()),
            http_status: Some(500),
            exit_code: None,
            stderr_tail: None,
        })
    );
    // One retry block, updated in place, then the error as a system block (not model text).
    let state = fold_outputs(&outputs);
    let summary: Vec<(String, String, String)> = state
        .blocks
        .iter()
        .map(|b| match b {
            Block::System(s) => (s.id.clone(), s.subtype.clone(), s.message.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            (
                "api_retry:r1".into(),
                "api_retry".into(),
                "Model API request failed (HTTP 500, server_error); retry 2 of 2 in 900 ms".into()
            ),
            ("e1:0".into(), "error".into(), "API Error: 500 boom".into()),
        ]
    );
    assert_eq!(state.model, None, "the synthetic model is not a model");
}

#[test]
fn cost_is_the_delta_of_the_cumulative_total() {
    // No per-turn figures (older CLIs): deltas of `total_cost_usd`.
    let mut t = translator();
    let costs: Vec<f64> = outcomes(&feed(
        &mut t,
        &[
            result(json!({"total_cost_usd": 0.25})),
            result(json!({"total_cost_usd": 0.75})),
            result(json!({"total_cost_usd": 0.75})),
        ],
    ))
    .iter()
    .map(|o| o.cost_usd)
    .collect();
    assert_eq!(costs, vec![0.25, 0.5, 0.0]);
}

#[test]
fn cost_after_resume_excludes_what_earlier_processes_accounted() {
    let ctx = TranslatorContext {
        prior_cost_usd: 1.0,
        ..TranslatorContext::default()
    };
    let mut t = ClaudeTranslator::new(ctx.clone());
    let costs: Vec<f64> = outcomes(&feed(
        &mut t,
        &[
            result(json!({"total_cost_usd": 1.25})),
            result(json!({"total_cost_usd": 1.5})),
        ],
    ))
    .iter()
    .map(|o| o.cost_usd)
    .collect();
    assert_eq!(costs, vec![0.25, 0.25]);

    // A counter that restarted (transcript without its cost record) is lower: it is the cost.
    let mut t = ClaudeTranslator::new(ctx);
    assert_eq!(
        outcomes(&feed(&mut t, &[result(json!({"total_cost_usd": 0.125}))]))[0].cost_usd,
        0.125
    );
}

#[test]
fn per_turn_model_usage_wins_over_cumulative_figures() {
    let mut t = ClaudeTranslator::new(TranslatorContext {
        prior_cost_usd: 5.0,
        ..TranslatorContext::default()
    });
    let line = result(json!({
        "total_cost_usd": 0.003,
        "usage": {"input_tokens": 0, "output_tokens": 0},
        "model_usage_since_last_result": {
            "a": {"inputTokens": 100, "outputTokens": 10, "cacheReadInputTokens": 5, "cacheCreationInputTokens": 1, "costUSD": 0.002},
            "b": {"inputTokens": 50, "outputTokens": 5, "costUSD": 0.001}
        }
    }));
    let outcome = &outcomes(&feed(&mut t, &[line]))[0];
    assert_eq!(outcome.cost_usd, 0.003);
    assert_eq!(
        outcome.usage,
        Usage {
            input_tokens: 150,
            output_tokens: 15,
            cache_read_input_tokens: 5,
            cache_creation_input_tokens: 1
        }
    );
    // Empty: the previous result already counted everything (background task follow-up).
    let follow_up = result(
        json!({"total_cost_usd": 0.003, "usage": {"input_tokens": 9}, "model_usage_since_last_result": {}, "origin": {"kind": "task-notification"}}),
    );
    let outcome = &outcomes(&feed(&mut t, &[follow_up]))[0];
    assert_eq!(
        (outcome.cost_usd, outcome.usage, outcome.agent_initiated),
        (0.0, Usage::default(), true)
    );
}

#[test]
fn unknown_lines_never_fail() {
    let mut t = translator();
    let outputs = feed(
        &mut t,
        &[
            json!({"type": "rate_limit_event", "whatever": 1}),
            json!({"type": "system", "subtype": "hook_started"}),
            json!({"type": "control_response", "response": {"subtype": "success", "request_id": "int-1", "response": {"still_queued": []}}}),
            json!({"type": "stream_event", "event": {"type": "content_block_delta", "index": 9, "delta": {"type": "input_json_delta", "partial_json": "{"}}}),
            json!({"type": "user", "message": {"role": "user", "content": "echo of the prompt"}, "parent_tool_use_id": null}),
            json!({"type": "assistant"}),
            json!({"type": "result"}),
            json!([1, 2]),
            json!({"no": "type"}),
        ],
    );
    let warnings: Vec<String> = events(&outputs)
        .into_iter()
        .map(|e| match e {
            SessionEvent::Warning { message, .. } => message,
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        warnings,
        vec![
            "Claude output line without a type",
            "Claude output line without a type"
        ]
    );
    assert_eq!(outcomes(&outputs).len(), 1);
}

#[test]
fn torn_and_unparsable_lines_become_warnings_with_truncated_raw() {
    let mut t = translator();
    assert_eq!(t.translate_line("", AT), vec![]);
    assert_eq!(t.translate_line("   \n", AT), vec![]);
    let torn = r#"{"type":"assistant","message":{"id":"m1","con"#;
    let out = t.translate_line(torn, AT);
    let [AgentOutput::Event(SessionEvent::Warning { message, raw })] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(
        message.starts_with("unparsable Claude output line"),
        "{message}"
    );
    assert_eq!(raw.as_deref(), Some(torn));

    let long = format!("not json {}", "é".repeat(5000));
    let out = t.translate_line(&long, AT);
    let [AgentOutput::Event(SessionEvent::Warning { raw: Some(raw), .. })] = out.as_slice() else {
        panic!("{out:?}")
    };
    assert!(
        raw.len() < 4200 && raw.ends_with(&format!("({} bytes)", long.len())),
        "{}",
        raw.len()
    );
}

#[test]
fn secrets_are_redacted_before_interpretation() {
    let ctx = TranslatorContext {
        redact: vec!["sk-ant-secret-value".into(), "short".into()],
        ..TranslatorContext::default()
    };
    let mut t = ClaudeTranslator::new(ctx);
    let outputs = feed(
        &mut t,
        &[
            assistant(
                "m1",
                json!({"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": "env"}}),
            ),
            tool_result("t1", "ANTHROPIC_API_KEY=sk-ant-secret-value\nshort", None),
        ],
    );
    let Block::ToolResult(result) = &fold_outputs(&outputs).blocks[1] else {
        panic!()
    };
    assert_eq!(result.output, "ANTHROPIC_API_KEY=[REDACTED]\nshort");
}

#[test]
fn closing_completes_open_blocks_and_fails_unfinished_calls() {
    let mut t = translator();
    let mut outputs = feed(
        &mut t,
        &[
            assistant(
                "m0",
                json!({"type": "tool_use", "id": "t0", "name": "Bash", "input": {}}),
            ),
            stream(
                json!({"type": "message_start", "message": {"id": "m1", "model": "claude-test"}}),
            ),
            stream(
                json!({"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}),
            ),
            stream(
                json!({"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "partial"}}),
            ),
            stream(
                json!({"type": "content_block_start", "index": 1, "content_block": {"type": "tool_use", "id": "t1", "name": "Write", "input": {}}}),
            ),
            stream(
                json!({"type": "content_block_delta", "index": 1, "delta": {"type": "input_json_delta", "partial_json": "{\"file"}}),
            ),
        ],
    );
    outputs.extend(t.close_open_blocks(AT));
    let state = fold_outputs(&outputs);
    let summary: Vec<(String, String)> = state
        .blocks
        .iter()
        .map(|b| match b {
            Block::ToolUse(tool) => (
                tool.id.clone(),
                format!("{:?} {} {:?}", tool.status, tool.input, tool.partial_input),
            ),
            Block::AssistantText(text) => (text.id.clone(), text.text.clone()),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(
        summary,
        vec![
            ("t0".into(), "Error {} None".into()),
            ("m1:0".into(), "partial".into()),
            (
                "t1".into(),
                "Error {\"partialInput\":\"{\\\"file\"} None".into()
            ),
        ]
    );
    // Nothing is left to close.
    assert_eq!(t.close_open_blocks(AT), vec![]);
}

#[test]
fn subagent_output_routes_to_its_thread() {
    let mut t = translator();
    let sub = |content: Value| {
        let mut line = assistant("m2", content);
        line["parent_tool_use_id"] = json!("agent1");
        line
    };
    let outputs = feed(
        &mut t,
        &[
            assistant(
                "m1",
                json!({"type": "tool_use", "id": "agent1", "name": "Agent", "input": {"description": "Look", "prompt": "Look around", "subagent_type": "Explore"}}),
            ),
            json!({"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "Look around"}]}, "parent_tool_use_id": "agent1"}),
            sub(
                json!({"type": "tool_use", "id": "s1", "name": "Bash", "input": {"command": "ls"}}),
            ),
            json!({"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "s1", "content": "x"}]}, "parent_tool_use_id": "agent1"}),
            json!({"type": "system", "subtype": "task_notification", "tool_use_id": "agent1", "status": "completed"}),
            json!({"type": "user", "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "agent1", "content": [{"type": "text", "text": "done"}]}]}, "parent_tool_use_id": null, "tool_use_result": {"status": "completed"}}),
        ],
    );
    let state = fold_outputs(&outputs);
    let ids = |blocks: &[Block]| {
        blocks
            .iter()
            .map(|b| b.id().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&state.blocks),
        vec!["agent1", "subagent:agent1", "result:agent1"]
    );
    let thread = &state.subagents["agent1"];
    assert_eq!(
        ids(&thread.blocks),
        vec!["prompt:agent1", "s1", "result:s1"]
    );
    assert_eq!(
        (thread.status, thread.subagent_type.as_deref()),
        (SubagentStatus::Completed, Some("Explore"))
    );
    let Block::Subagent(link) = &state.blocks[1] else {
        panic!()
    };
    assert_eq!(link.status, SubagentStatus::Completed);
    assert!(events(&outputs)
        .iter()
        .all(|e| !matches!(e, SessionEvent::Warning { .. })));
}

#[test]
fn subagent_output_before_its_start_is_kept_with_a_warning() {
    let mut t = translator();
    let mut line = assistant("m2", json!({"type": "text", "text": "hello"}));
    line["parent_tool_use_id"] = json!("ghost");
    line["subagent_type"] = json!("general-purpose");
    let outputs = feed(&mut t, &[line]);
    assert!(matches!(events(&outputs)[0], SessionEvent::Warning { .. }));
    let state = fold_outputs(&outputs);
    assert_eq!(state.subagents["ghost"].blocks.len(), 1);
    assert_eq!(state.blocks[0].id(), "subagent:ghost");
}

#[test]
fn main_thread_prompt_echoes_are_not_user_messages() {
    let mut t = translator();
    let outputs = feed(
        &mut t,
        &[
            json!({"type": "user", "message": {"role": "user", "content": "hi"}, "parent_tool_use_id": null, "isReplay": true, "uuid": "a"}),
            json!({"type": "user", "message": {"role": "user", "content": "Output token limit hit. Resume"}, "parent_tool_use_id": null, "isSynthetic": true, "uuid": "b"}),
            json!({"type": "user", "message": {"role": "user", "content": [{"type": "text", "text": "[Request interrupted by user]"}]}, "parent_tool_use_id": null, "uuid": "c"}),
        ],
    );
    assert_eq!(
        events(&outputs),
        vec![main_event(Block::System(
            agent_runtime_protocol::SystemBlock {
                id: "system:c".into(),
                at: AT.into(),
                subtype: "interrupted".into(),
                message: "[Request interrupted by user]".into(),
                data: None,
            }
        ))]
    );
}
