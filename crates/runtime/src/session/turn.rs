//! Turns: accept a message, start the turn, feed agent output through the translator, end it.

use agent_runtime_agents::{AgentOutput, TurnOutcome};
use agent_runtime_protocol::{
    Block, IfBusy, SendMessageRequest, SendMessageResponse, SessionEvent, TurnEndReason, TurnError,
    Usage, UserMessageBlock, MAIN_CONVERSATION,
};
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::actor::{shutdown_error, ActiveTurn, Actor, InterruptReason, QueuedMessage};
use crate::error::{Result, RuntimeError};
use crate::time::{new_id, now_rfc3339};

impl Actor {
    pub(super) async fn on_send(
        &mut self,
        request: SendMessageRequest,
        reply: oneshot::Sender<Result<SendMessageResponse>>,
    ) {
        if request.text.trim().is_empty() {
            let _ = reply.send(Err(RuntimeError::InvalidRequest(
                "message text is empty".into(),
            )));
            return;
        }
        let turn_id = new_id("turn");
        if self.turn.is_some() {
            let queued = QueuedMessage {
                turn_id: turn_id.clone(),
                request,
            };
            match queued.request.if_busy.unwrap_or_default() {
                IfBusy::Reject => {
                    let _ = reply.send(Err(RuntimeError::SessionBusy(
                        self.session_id().to_string(),
                    )));
                    return;
                }
                IfBusy::Queue => self.queue.push_back(queued),
                IfBusy::Interrupt => {
                    self.queue.push_front(queued);
                    self.request_interrupt(InterruptReason::Superseded).await;
                }
            }
            let _ = reply.send(Ok(SendMessageResponse {
                turn_id,
                queued: true,
            }));
            return;
        }
        let begun = self.begin_turn(&turn_id, &request).await;
        let ok = begun.is_ok();
        let _ = reply.send(begun.map(|()| SendMessageResponse {
            turn_id,
            queued: false,
        }));
        if ok {
            self.deliver_message(&request.text).await;
        }
    }

    /// Records the turn's start and the user's message.
    async fn begin_turn(&mut self, turn_id: &str, request: &SendMessageRequest) -> Result<()> {
        let user_block_id = new_id("user");
        let block = Block::UserMessage(UserMessageBlock {
            id: user_block_id.clone(),
            at: now_rfc3339(),
            text: request.text.clone(),
            client_message_id: request.client_message_id.clone(),
        });
        self.log
            .append(vec![
                SessionEvent::TurnStarted {
                    turn_id: turn_id.to_string(),
                    user_block_id: user_block_id.clone(),
                },
                SessionEvent::BlockStart {
                    conversation_id: MAIN_CONVERSATION.into(),
                    block: block.clone(),
                },
                SessionEvent::BlockComplete {
                    conversation_id: MAIN_CONVERSATION.into(),
                    block_id: user_block_id,
                    block,
                },
            ])
            .await?;
        let now = Instant::now();
        self.turn = Some(ActiveTurn {
            id: turn_id.to_string(),
            started: now,
            last_output: now,
            interrupt_deadline: None,
            interrupt_reason: None,
        });
        Ok(())
    }

    /// Starts sandbox and agent as needed and hands the message to the agent. A failure ends the
    /// turn with an error event.
    async fn deliver_message(&mut self, text: &str) {
        if let Err(e) = self.try_deliver(text).await {
            tracing::warn!(session_id = %self.session_id(), "turn could not start: {e}");
            let error = TurnError {
                message: e.to_string(),
                code: Some("agent_start_failed".into()),
                http_status: None,
                exit_code: None,
                stderr_tail: None,
            };
            self.abandon_turn(TurnEndReason::Error, error).await;
        }
    }

    async fn try_deliver(&mut self, text: &str) -> Result<()> {
        let line = self.agent.encode_user_message(text);
        self.ensure_process().await?;
        if let Some(process) = self.process.as_mut() {
            if process.write_line(&line).await.is_ok() {
                return Ok(());
            }
        }
        // The process died between turns: start it again (it resumes) and retry once.
        if let Some(process) = self.process.take() {
            process.kill().await;
        }
        self.ensure_process().await?;
        let process = self
            .process
            .as_mut()
            .ok_or_else(|| RuntimeError::Internal("agent process missing".into()))?;
        process
            .write_line(&line)
            .await
            .map_err(|e| RuntimeError::Internal(format!("writing to the agent failed: {e}")))
    }

    /// Asks the agent to stop the running turn; it is killed if it does not within the grace.
    pub(super) async fn request_interrupt(&mut self, reason: InterruptReason) {
        let grace = self.deps.config.interrupt_grace;
        let Some(turn) = self.turn.as_mut() else {
            return;
        };
        if turn.interrupt_reason.is_some() {
            return;
        }
        turn.interrupt_reason = Some(reason);
        turn.interrupt_deadline = Some(Instant::now() + grace);
        let line = self.agent.encode_interrupt(&new_id("interrupt"));
        let written = match self.process.as_mut() {
            Some(process) => {
                process.translator.note_interrupt_requested();
                process.write_line(&line).await.is_ok()
            }
            None => false,
        };
        if !written {
            if let Some(turn) = self.turn.as_mut() {
                turn.interrupt_deadline = Some(Instant::now());
            }
        }
    }

    /// One stdout line of the agent, or `None` when its stdout closed.
    pub(super) async fn on_line(&mut self, line: Option<String>) {
        let Some(line) = line else {
            return self.on_process_exit().await;
        };
        if let Some(turn) = self.turn.as_mut() {
            turn.last_output = Instant::now();
        }
        let Some(process) = self.process.as_mut() else {
            return;
        };
        let outputs = process.translator.translate_line(&line, &now_rfc3339());
        self.apply_outputs(outputs).await;
    }

    async fn apply_outputs(&mut self, outputs: Vec<AgentOutput>) {
        let mut events = Vec::new();
        for output in outputs {
            match output {
                AgentOutput::Event(event) => events.push(event),
                AgentOutput::TurnFinished(outcome) => {
                    self.emit(std::mem::take(&mut events)).await;
                    self.finish_turn(outcome).await;
                }
                AgentOutput::WriteStdin(line) => {
                    if let Some(process) = self.process.as_mut() {
                        if let Err(e) = process.write_line(&line).await {
                            tracing::warn!(session_id = %self.session_id(), "answering the agent failed: {e}");
                        }
                    }
                }
            }
        }
        self.emit(events).await;
    }

    async fn on_process_exit(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        let exit = process.wait().await;
        let stderr_tail = process.stderr_tail();
        let closing = process.translator.close_open_blocks(&now_rfc3339());
        drop(process);
        self.apply_outputs(closing).await;
        tracing::warn!(session_id = %self.session_id(), ?exit, "agent process exited");
        if self.turn.is_some() {
            let exit_code = exit.as_ref().and_then(|e| e.code);
            let error = TurnError {
                message: match exit.as_ref().and_then(|e| e.code) {
                    Some(code) => format!("the agent exited with code {code} during the turn"),
                    None => "the agent was killed during the turn".into(),
                },
                code: Some("agent_exited".into()),
                http_status: None,
                exit_code,
                stderr_tail,
            };
            self.abandon_turn(TurnEndReason::Error, error).await;
        }
    }

    pub(super) async fn on_turn_deadline(&mut self) {
        let Some(turn) = self.turn.as_ref() else {
            return;
        };
        let now = Instant::now();
        if turn.interrupt_deadline.is_some_and(|d| d <= now) {
            // The agent did not stop in time: kill it; the next turn resumes a fresh process.
            let closing = match self.process.take() {
                Some(mut process) => {
                    let closing = process.translator.close_open_blocks(&now_rfc3339());
                    process.kill().await;
                    closing
                }
                None => Vec::new(),
            };
            self.apply_outputs(closing).await;
            let error = TurnError {
                message: "the agent did not stop in time and was killed".into(),
                code: Some("interrupt_timeout".into()),
                http_status: None,
                exit_code: None,
                stderr_tail: None,
            };
            self.abandon_turn(TurnEndReason::Interrupted, error).await;
        } else if turn.last_output + self.deps.config.turn_stall_timeout <= now {
            tracing::warn!(session_id = %self.session_id(), "turn stalled; interrupting");
            self.request_interrupt(InterruptReason::Stalled).await;
        }
    }

    /// Ends the running turn without an outcome from the agent.
    pub(super) async fn abandon_turn(&mut self, reason: TurnEndReason, error: TurnError) {
        self.finish_turn(TurnOutcome {
            reason,
            usage: Usage::default(),
            cost_usd: 0.0,
            error: Some(error),
            agent_initiated: false,
        })
        .await;
    }

    /// Ends the running turn: files and transcript are saved before `turn_completed` is visible.
    pub(super) async fn finish_turn(&mut self, outcome: TurnOutcome) {
        // A turn the agent started on its own (e.g. after a background task) is not ours.
        let turn = if outcome.agent_initiated {
            None
        } else {
            self.turn.take()
        };
        self.sync_files().await;
        self.save_transcripts().await;
        let (turn_id, duration_ms, interrupt_reason) = match &turn {
            Some(turn) => (
                turn.id.clone(),
                u64::try_from(turn.started.elapsed().as_millis()).unwrap_or(u64::MAX),
                turn.interrupt_reason,
            ),
            // The agent ran a turn on its own (e.g. after a background task finished).
            None => (new_id("turn"), 0, None),
        };
        let mut reason = outcome.reason;
        let mut error = outcome.error;
        // A turn the runtime interrupted is reported by why it did so, not by what the agent said.
        match interrupt_reason {
            Some(_) if reason == TurnEndReason::Completed => {}
            None => {}
            Some(InterruptReason::User | InterruptReason::Superseded) => {
                reason = TurnEndReason::Interrupted;
                error = None;
            }
            Some(InterruptReason::Shutdown) => {
                reason = TurnEndReason::Interrupted;
                error = Some(shutdown_error());
            }
            Some(InterruptReason::Stalled) => {
                reason = TurnEndReason::Error;
                error = Some(TurnError {
                    message: "the agent produced no output for too long".into(),
                    code: Some("timeout".into()),
                    http_status: None,
                    exit_code: None,
                    stderr_tail: None,
                });
            }
        }
        self.emit(vec![SessionEvent::TurnCompleted {
            turn_id,
            reason,
            usage: outcome.usage,
            cost_usd: outcome.cost_usd,
            duration_ms,
            error,
        }])
        .await;
        self.idle_since = Instant::now();
    }

    /// Starts the next queued message once no turn runs.
    pub(super) async fn start_queued(&mut self) {
        while self.turn.is_none() {
            let Some(next) = self.queue.pop_front() else {
                return;
            };
            if self.begin_turn(&next.turn_id, &next.request).await.is_ok() {
                self.deliver_message(&next.request.text).await;
            }
        }
    }

    /// Records a message that was accepted but never ran (the server stopped first).
    pub(super) async fn record_unstarted_turn(&mut self, queued: QueuedMessage, error: TurnError) {
        if self
            .begin_turn(&queued.turn_id, &queued.request)
            .await
            .is_ok()
        {
            self.turn = None;
            self.emit(vec![SessionEvent::TurnCompleted {
                turn_id: queued.turn_id,
                reason: TurnEndReason::Interrupted,
                usage: Usage::default(),
                cost_usd: 0.0,
                duration_ms: 0,
                error: Some(error),
            }])
            .await;
        }
    }
}
