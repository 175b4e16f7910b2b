use pretty_assertions::assert_eq;
use serde_json::json;

use super::*;
use crate::block::{
    AssistantTextBlock, PlanBlock, PlanEntry, PlanEntryPriority, PlanEntryStatus, ToolStatus,
    ToolUseBlock,
};
use crate::event::{SandboxState, TurnEndReason};

fn env(seq: u64, event: SessionEvent) -> Envelope {
    Envelope {
        session_id: "s1".into(),
        seq,
        at: "2026-01-01T00:00:00Z".into(),
        event,
    }
}

fn text_block(id: &str, text: &str) -> Block {
    Block::AssistantText(AssistantTextBlock {
        id: id.into(),
        at: "t".into(),
        text: text.into(),
    })
}

#[test]
fn deltas_accumulate_and_complete_replaces() {
    let events = vec![
        env(
            1,
            SessionEvent::BlockStart {
                conversation_id: "main".into(),
                block: text_block("b1", ""),
            },
        ),
        env(
            2,
            SessionEvent::TextDelta {
                conversation_id: "main".into(),
                block_id: "b1".into(),
                delta: "Hel".into(),
            },
        ),
        env(
            3,
            SessionEvent::TextDelta {
                conversation_id: "main".into(),
                block_id: "b1".into(),
                delta: "lo".into(),
            },
        ),
    ];
    let state = fold_all(&events);
    assert_eq!(state.blocks, vec![text_block("b1", "Hello")]);
    assert_eq!(state.seq, 3);

    let mut state = state;
    fold(
        &mut state,
        &env(
            4,
            SessionEvent::BlockComplete {
                conversation_id: "main".into(),
                block_id: "b1".into(),
                block: text_block("b1", "Hello!"),
            },
        ),
    );
    assert_eq!(state.blocks, vec![text_block("b1", "Hello!")]);
}

#[test]
fn subagent_blocks_go_to_their_thread_even_before_discovery() {
    let events = vec![
        env(
            1,
            SessionEvent::BlockStart {
                conversation_id: "toolu_1".into(),
                block: text_block("x", "a"),
            },
        ),
        env(
            2,
            SessionEvent::SubagentDiscovered {
                subagent_id: "toolu_1".into(),
                parent_conversation_id: "main".into(),
                subagent_type: Some("Explore".into()),
                description: None,
            },
        ),
        env(
            3,
            SessionEvent::SubagentCompleted {
                subagent_id: "toolu_1".into(),
                status: SubagentStatus::Completed,
            },
        ),
    ];
    let state = fold_all(&events);
    assert!(state.blocks.is_empty());
    let thread = &state.subagents["toolu_1"];
    assert_eq!(thread.blocks, vec![text_block("x", "a")]);
    assert_eq!(thread.status, SubagentStatus::Completed);
    assert_eq!(thread.subagent_type.as_deref(), Some("Explore"));
}

#[test]
fn tool_updates_turns_files_and_status() {
    let tool = Block::ToolUse(ToolUseBlock {
        id: "toolu_9".into(),
        at: "t".into(),
        name: "Write".into(),
        input: json!({}),
        status: ToolStatus::Pending,
        partial_input: None,
    });
    let file = FileInfo {
        path: "b.txt".into(),
        size: 1,
        sha256: "00".into(),
    };
    let file_a = FileInfo {
        path: "a.txt".into(),
        size: 2,
        sha256: "11".into(),
    };
    let events = vec![
        env(
            1,
            SessionEvent::Status {
                sandbox: SandboxState::Ready,
                provider: None,
            },
        ),
        env(
            2,
            SessionEvent::TurnStarted {
                turn_id: "t1".into(),
                user_block_id: "u1".into(),
            },
        ),
        env(
            3,
            SessionEvent::BlockStart {
                conversation_id: "main".into(),
                block: tool,
            },
        ),
        env(
            4,
            SessionEvent::BlockUpdate {
                conversation_id: "main".into(),
                block_id: "toolu_9".into(),
                updates: BlockUpdates {
                    partial_input: Some("{\"a\"".into()),
                    ..Default::default()
                },
            },
        ),
        env(
            5,
            SessionEvent::BlockUpdate {
                conversation_id: "main".into(),
                block_id: "toolu_9".into(),
                updates: BlockUpdates {
                    status: Some(ToolStatus::Running),
                    ..Default::default()
                },
            },
        ),
        env(6, SessionEvent::FileCreated(file)),
        env(7, SessionEvent::FileCreated(file_a.clone())),
        env(
            8,
            SessionEvent::FileDeleted {
                path: "b.txt".into(),
            },
        ),
        env(
            9,
            SessionEvent::TurnCompleted {
                turn_id: "t1".into(),
                reason: TurnEndReason::Completed,
                usage: Usage {
                    input_tokens: 10,
                    output_tokens: 5,
                    ..Default::default()
                },
                cost_usd: 0.5,
                duration_ms: 3,
                error: None,
            },
        ),
    ];
    let state = fold_all(&events);
    let Block::ToolUse(tool) = &state.blocks[0] else {
        panic!("not a tool")
    };
    assert_eq!(tool.status, ToolStatus::Running);
    assert_eq!(tool.partial_input.as_deref(), Some("{\"a\""));
    assert_eq!(state.files, vec![file_a]);
    assert_eq!(state.runtime.sandbox, SandboxState::Ready);
    assert_eq!(state.runtime.active_turn_id, None);
    assert_eq!(state.usage.input_tokens, 10);
    assert_eq!(state.cost_usd, 0.5);
}

#[test]
fn events_about_unknown_blocks_change_only_seq() {
    let state = fold_all(&[env(
        7,
        SessionEvent::TextDelta {
            conversation_id: "nope".into(),
            block_id: "b".into(),
            delta: "x".into(),
        },
    )]);
    assert_eq!(
        state,
        SessionState {
            seq: 7,
            ..Default::default()
        }
    );
}

#[test]
fn envelope_wire_shape_is_stable() {
    let e = env(
        3,
        SessionEvent::TextDelta {
            conversation_id: "main".into(),
            block_id: "b1".into(),
            delta: "hi".into(),
        },
    );
    assert_eq!(
        serde_json::to_value(&e).unwrap(),
        json!({"sessionId":"s1","seq":3,"at":"2026-01-01T00:00:00Z",
               "event":{"type":"text_delta","conversationId":"main","blockId":"b1","delta":"hi"}})
    );
    let back: Envelope = serde_json::from_value(serde_json::to_value(&e).unwrap()).unwrap();
    assert_eq!(back, e);
}

fn plan_entry(content: &str, priority: PlanEntryPriority, status: PlanEntryStatus) -> PlanEntry {
    PlanEntry {
        content: content.into(),
        priority,
        status,
    }
}

#[test]
fn plan_updates_replace_the_entries_and_ignore_deltas() {
    use PlanEntryPriority::{High, Low};
    use PlanEntryStatus::{Completed, InProgress, Pending};
    let first = vec![
        plan_entry("Read the code", High, InProgress),
        plan_entry("Write the fix", Low, Pending),
    ];
    let second = vec![
        plan_entry("Read the code", High, Completed),
        plan_entry("Write the test", High, InProgress),
    ];
    let plan = |entries: Vec<PlanEntry>| {
        Block::Plan(PlanBlock {
            id: "plan_1".into(),
            at: "t".into(),
            entries,
        })
    };
    let state = fold_all(&[
        env(
            1,
            SessionEvent::BlockStart {
                conversation_id: "main".into(),
                block: plan(first),
            },
        ),
        env(
            2,
            SessionEvent::TextDelta {
                conversation_id: "main".into(),
                block_id: "plan_1".into(),
                delta: "ignored".into(),
            },
        ),
        env(
            3,
            SessionEvent::BlockUpdate {
                conversation_id: "main".into(),
                block_id: "plan_1".into(),
                updates: BlockUpdates {
                    entries: Some(second.clone()),
                    // Fields of other block kinds leave a plan alone.
                    status: Some(ToolStatus::Error),
                    ..Default::default()
                },
            },
        ),
    ]);
    assert_eq!(state.blocks, vec![plan(second)]);
}

#[test]
fn plan_wire_shape_is_stable() {
    let block = Block::Plan(PlanBlock {
        id: "plan_1".into(),
        at: "t".into(),
        entries: vec![plan_entry(
            "Run the tests",
            PlanEntryPriority::Medium,
            PlanEntryStatus::InProgress,
        )],
    });
    let wire = json!({"type":"plan","id":"plan_1","at":"t","entries":[
        {"content":"Run the tests","priority":"medium","status":"in_progress"}]});
    assert_eq!(serde_json::to_value(&block).unwrap(), wire);
    assert_eq!(serde_json::from_value::<Block>(wire).unwrap(), block);
    let updates = BlockUpdates {
        entries: Some(vec![]),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&updates).unwrap(),
        json!({"entries": []})
    );
    assert_eq!(
        serde_json::to_value(BlockUpdates::default()).unwrap(),
        json!({})
    );
}

#[test]
fn status_records_where_the_sandbox_runs_and_keeps_it_when_a_later_one_does_not_say() {
    use crate::SandboxProviderKind;
    let events = [
        SessionEvent::Status {
            sandbox: SandboxState::Ready,
            provider: Some(SandboxProviderKind::Modal),
        },
        SessionEvent::Status {
            sandbox: SandboxState::Stopped,
            provider: None,
        },
    ];
    let mut state = SessionState::default();
    for (i, event) in events.iter().enumerate() {
        fold(&mut state, &env(i as u64 + 1, event.clone()));
    }
    assert_eq!(state.runtime.sandbox, SandboxState::Stopped);
    assert_eq!(
        state.runtime.sandbox_provider,
        Some(SandboxProviderKind::Modal)
    );
    let json = serde_json::to_value(&state.runtime).unwrap();
    assert_eq!(
        json,
        serde_json::json!({"sandbox": "stopped", "sandboxProvider": "modal"})
    );
}
