//! The warm-up of a pooled Claude Code process: one turn it works through before any session
//! claims it, then taken back, so the claiming session's first message finds the CLI warm.
//!
//! Claude Code does about 80-110 ms of its own work on the first message of a process and
//! 20-30 ms on later ones, whatever the time since its start (`docs/performance.md`). A process
//! that has worked through one turn has done that work. The turn is then undone with a
//! `rewind_conversation` control request to the turn's own user message (the rewind the CLI
//! offers its own UI): the conversation is empty again, and the next message starts it afresh.
//! The first model request after the rewind is the one a fresh process sends (the captures in
//! `fixtures/claude-warm-up/`; `crates/server/tests/suite/pool.rs` compares them through the
//! runtime), and a resume follows the new branch only.
//!
//! The warm-up's model request never reaches a model: while it runs, the sandbox's proxy
//! answers model requests itself (`agent_runtime_egress::Rehearsal`). What stays of it is in
//! the CLI's transcript file: the turn's lines, ahead of the session's, on a branch the rewind
//! cut (the transcript parser drops it).
//!
//! [`WarmUp`] is the exchange as a pure state machine: its first stdin line, then each stdout
//! line in, what to do next out.

use serde_json::{json, Value};

/// The warm-up's user message. Nothing reads it but the proxy's stand-in answer.
pub const WARM_UP_TEXT: &str = "Reply with OK.";

/// The `request_id` of the rewind that ends the warm-up.
const REWIND_REQUEST_ID: &str = "agent-runtime-warm-up";

/// What to do after a stdout line of the warm-up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WarmUpStep {
    /// Nothing yet: read the next line.
    Wait,
    /// Write this stdin line (with its `\n`), then read on.
    Write(String),
    /// The conversation is empty again: the process is warm and ready for a first message.
    Done,
    /// The warm-up went wrong; the process must not be handed to a session.
    Failed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// The warm-up turn runs; it ends with a `result` line.
    Turn,
    /// The rewind was asked for; its `control_response` ends the warm-up.
    Rewind,
    /// Done or failed: nothing more is expected.
    Over,
}

/// One warm-up of one process; see the module docs.
#[derive(Debug)]
pub struct WarmUp {
    message_uuid: String,
    stage: Stage,
}

impl WarmUp {
    /// A warm-up whose user message carries `message_uuid` (the rewind's target; a fresh v4
    /// uuid per process).
    pub fn new(message_uuid: String) -> Self {
        WarmUp {
            message_uuid,
            stage: Stage::Turn,
        }
    }

    /// The stdin line that starts it: the warm-up's user message, with its own uuid.
    pub fn first_line(&self) -> String {
        let line = json!({
            "type": "user",
            "message": { "role": "user", "content": WARM_UP_TEXT },
            "parent_tool_use_id": null,
            "session_id": "",
            "uuid": self.message_uuid,
        });
        format!("{line}\n")
    }

    /// What to do after the stdout `line`.
    pub fn on_line(&mut self, line: &str) -> WarmUpStep {
        let step = self.step(line);
        if matches!(step, WarmUpStep::Done | WarmUpStep::Failed(_)) {
            self.stage = Stage::Over;
        }
        step
    }

    fn step(&mut self, line: &str) -> WarmUpStep {
        let Ok(value) = serde_json::from_str::<Value>(line) else {
            return WarmUpStep::Wait;
        };
        match (self.stage, value["type"].as_str()) {
            (Stage::Turn, Some("result")) => {
                if value["is_error"] == true || value["subtype"] != "success" {
                    let what = value["result"].as_str().or(value["subtype"].as_str());
                    return WarmUpStep::Failed(format!(
                        "the warm-up turn ended in an error: {}",
                        what.unwrap_or("no reason given")
                    ));
                }
                self.stage = Stage::Rewind;
                WarmUpStep::Write(self.rewind_line())
            }
            // The stand-in answer calls no tool: a question now means the turn went elsewhere.
            (Stage::Turn, Some("control_request")) => WarmUpStep::Failed(format!(
                "the agent asked `{}` during its warm-up",
                value["request"]["subtype"].as_str().unwrap_or("something")
            )),
            (Stage::Rewind, Some("control_response"))
                if value["response"]["request_id"] == REWIND_REQUEST_ID =>
            {
                let response = &value["response"];
                if response["subtype"] == "success" && response["response"]["rewound"] == true {
                    WarmUpStep::Done
                } else {
                    let why = response["response"]["error"]
                        .as_str()
                        .or_else(|| response["error"].as_str())
                        .unwrap_or("no reason given");
                    WarmUpStep::Failed(format!("the warm-up turn was not taken back: {why}"))
                }
            }
            (Stage::Over, _) => WarmUpStep::Failed("the warm-up is over".into()),
            _ => WarmUpStep::Wait,
        }
    }

    /// The rewind to the warm-up's user message: everything from it on is cut.
    fn rewind_line(&self) -> String {
        let line = json!({
            "type": "control_request",
            "request_id": REWIND_REQUEST_ID,
            "request": {
                "subtype": "rewind_conversation",
                "target_message_uuid": self.message_uuid,
            },
        });
        format!("{line}\n")
    }
}
