//! Turns: accept a message, start the turn, feed agent output through the translator, end it.
//!
//! How a message reaches the agent and how a turn is interrupted follow the agent's
//! [`ProcessMode`]: a line on the persistent process's stdin, or a new process per turn that is
//! killed to interrupt it. A per-turn agent's turn ends once its process has exited, with the
//! outcome it reported (or, if it reported none, the error its translator makes of the exit).

use agent_runtime_agents::{AgentOutput, ProcessMode, TurnOutcome};
use agent_runtime_protocol::{
    Block, IfBusy, SendMessageRequest, SendMessageResponse, SessionEvent, TurnEndReason, TurnError,
    Usage, UserMessageBlock, MAIN_CONVERSATION,
};
use agent_runtime_sandbox::LimitHit;
use tokio::sync::oneshot;
use tokio::time::Instant;

use super::actor::{shutdown_error, ActiveTurn, Actor, InterruptReason, QueuedMessage};
use super::process::OutputLine;
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
        if self.turn.is_none() && !self.budget_allows_turn().await {
            // Held until the budget is raised or the overrun approved.
            self.queue.push_back(QueuedMessage {
                turn_id: turn_id.clone(),
                request,
            });
            let _ = reply.send(Ok(SendMessageResponse {
                turn_id,
                queued: true,
            }));
            return;
        }
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
        // Before anything of the turn is in the log: a crash from here on is found at start.
        self.mark_open().await?;
        // The turn's wall-clock limit is the profile's.
        self.refresh_limits().await;
        // Requests from before a restart that nobody answered: the conversation moves on.
        self.close_orphaned_asks().await;
        let budget_secs = self.budget().await.max_turn_secs;
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
        crate::metrics::global()
            .turns_running
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        tracing::info!(turn_id, "turn started");
        let now = Instant::now();
        self.turn = Some(ActiveTurn {
            id: turn_id.to_string(),
            started: now,
            time_limit: self.limits.turn_timeout.map(|limit| now + limit),
            budget_secs,
            last_output: now,
            interrupt_deadline: None,
            interrupt_reason: None,
            reported: None,
            exit_deadline: None,
            first_text: std::sync::atomic::AtomicBool::new(false),
            span: tracing::info_span!(
                "turn",
                session_id = %self.record.info.session_id,
                turn_id,
                agent = %self.record.info.agent,
                outcome = tracing::field::Empty,
            ),
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
        match self.agent.process_mode() {
            ProcessMode::Persistent { .. } => self.write_message(text).await,
            ProcessMode::PerTurn => {
                // A process of an earlier turn never outlives it; this is a safety net.
                if let Some(process) = self.process.take() {
                    process.kill().await;
                }
                self.ensure_process(Some(text)).await
            }
        }
    }

    /// Hands `text` to the persistent agent process, starting it if needed. A process that
    /// died between turns is started again (it resumes) and gets the message once more.
    async fn write_message(&mut self, text: &str) -> Result<()> {
        for attempt in 0..2 {
            self.ensure_process(None).await?;
            let process = self
                .process
                .as_mut()
                .ok_or_else(|| RuntimeError::Internal("agent process missing".into()))?;
            let outputs = process.translator.user_message(text);
            let mut written = true;
            let mut rest = Vec::new();
            for output in outputs {
                match output {
                    AgentOutput::WriteStdin(line) if written => {
                        written = process.write_line(&line).await.is_ok();
                    }
                    AgentOutput::WriteStdin(_) => {}
                    other => rest.push(other),
                }
            }
            if written {
                self.apply_outputs(rest).await;
                return Ok(());
            }
            if let Some(process) = self.process.take() {
                process.kill().await;
            }
            if attempt == 1 {
                break;
            }
        }
        Err(RuntimeError::Internal("writing to the agent failed".into()))
    }

    /// Asks the agent to stop the running turn; it is killed if it does not within the grace.
    /// A per-turn agent is killed right away: it has no interrupt protocol.
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
        let delivered = match self.process.as_mut() {
            Some(process) => {
                process.translator.note_interrupt_requested();
                match process.translator.interrupt_lines(&new_id("interrupt")) {
                    Some(lines) => {
                        let mut ok = true;
                        for line in lines {
                            ok &= process.write_line(&line).await.is_ok();
                        }
                        ok
                    }
                    None => {
                        // Its remaining output is still read; the exit then ends the turn.
                        process.kill_in_place().await;
                        true
                    }
                }
            }
            None => false,
        };
        if !delivered {
            if let Some(turn) = self.turn.as_mut() {
                turn.interrupt_deadline = Some(Instant::now());
            }
        }
    }

    /// One output line of the agent, or `None` when its stdout and stderr closed. Only stdout
    /// counts as progress for the stall timeout.
    pub(super) async fn on_line(&mut self, line: Option<OutputLine>) {
        let Some(line) = line else {
            return self.on_process_exit().await;
        };
        let Some(process) = self.process.as_mut() else {
            return;
        };
        let outputs = match line {
            OutputLine::Stdout(line) => {
                if let Some(turn) = self.turn.as_mut() {
                    turn.last_output = Instant::now();
                }
                process.translator.translate_line(&line, &now_rfc3339())
            }
            OutputLine::Stderr(line) => process
                .translator
                .translate_stderr_line(&line, &now_rfc3339()),
        };
        self.apply_outputs(outputs).await;
    }

    pub(super) async fn apply_outputs(&mut self, outputs: Vec<AgentOutput>) {
        let mut events = Vec::new();
        for output in outputs {
            match output {
                AgentOutput::Event(event) => events.push(event),
                AgentOutput::TurnFinished(outcome) => {
                    self.emit(std::mem::take(&mut events)).await;
                    self.on_turn_finished(outcome).await;
                }
                AgentOutput::Ask(ask) => {
                    self.emit(std::mem::take(&mut events)).await;
                    self.on_ask(ask).await;
                }
                AgentOutput::AskWithdrawn { agent_request_id } => {
                    self.emit(std::mem::take(&mut events)).await;
                    self.on_ask_withdrawn(&agent_request_id).await;
                }
                AgentOutput::WriteStdin(line) => {
                    if let Some(process) = self.process.as_mut() {
                        if let Err(e) = process.write_line(&line).await {
                            tracing::warn!(session_id = %self.session_id(), "answering the agent failed: {e}");
                        }
                    }
                }
                AgentOutput::AgentSessionId(id) => {
                    self.emit(std::mem::take(&mut events)).await;
                    self.on_agent_session_id(id).await;
                }
            }
        }
        self.emit(events).await;
    }

    /// The agent reported the end of a turn. A per-turn agent's turn waits for its process to
    /// exit (at most the interrupt grace).
    async fn on_turn_finished(&mut self, outcome: TurnOutcome) {
        let per_turn = self.agent.process_mode() == ProcessMode::PerTurn;
        match self.turn.as_mut() {
            Some(turn) if per_turn && self.process.is_some() && !outcome.agent_initiated => {
                turn.exit_deadline = Some(Instant::now() + self.deps.config.interrupt_grace);
                turn.reported = Some(outcome);
            }
            _ => self.finish_turn(outcome).await,
        }
    }

    async fn on_process_exit(&mut self) {
        let Some(mut process) = self.process.take() else {
            return;
        };
        // An error here: the process's sandbox ended under it (a remote sandbox died or was
        // terminated), so its exit is unknown.
        let (exit, lost) = match process.wait().await {
            Ok(exit) => (Some(exit), None),
            Err(e) => (None, Some(e)),
        };
        let stderr_tail = process.stderr_tail();
        let closing = process.translator.close_open_blocks(&now_rfc3339());
        let exit_code = exit.as_ref().and_then(|e| e.code);
        let mut error = process.translator.exit_error(exit_code);
        drop(process);
        self.apply_outputs(closing).await;
        let reported = self.turn.as_mut().and_then(|turn| turn.reported.take());
        if let Some(mut outcome) = reported {
            tracing::debug!(session_id = %self.session_id(), ?exit, "agent process exited after its turn");
            // A failed turn's error gets what only the exit tells (e.g. an HTTP status mod 256).
            if let Some(error) = outcome.error.as_mut() {
                error.exit_code = error.exit_code.or(exit_code.filter(|code| *code != 0));
                error.stderr_tail = error.stderr_tail.take().or(stderr_tail);
            }
            return self.finish_turn(outcome).await;
        }
        tracing::warn!(session_id = %self.session_id(), ?exit, lost = ?lost.as_ref().map(ToString::to_string), "agent process exited");
        if let Some(lost) = &lost {
            error.message = format!("the agent's sandbox ended during the turn: {lost}");
            error.code = Some("sandbox_lost".into());
        }
        let during_turn = self.turn.is_some();
        if during_turn {
            error.stderr_tail = stderr_tail;
            self.abandon_turn(TurnEndReason::Error, error).await;
        }
        if during_turn || lost.is_some() {
            // Whatever killed the agent may have taken its sandbox (a remote one can die with
            // it): the next turn starts from a fresh one, restored from the store.
            self.stop_sandbox("its agent exited unexpectedly").await;
        }
    }

    pub(super) async fn on_turn_deadline(&mut self) {
        let Some(turn) = self.turn.as_ref() else {
            return;
        };
        let now = Instant::now();
        if turn.exit_deadline.is_some_and(|d| d <= now) {
            // The agent reported the turn's end but its process lingers: kill it.
            tracing::warn!(session_id = %self.session_id(), "agent process did not exit after its turn; killing it");
            if let Some(process) = self.process.take() {
                process.kill().await;
            }
            if let Some(outcome) = self.turn.as_mut().and_then(|t| t.reported.take()) {
                self.finish_turn(outcome).await;
            }
        } else if turn.interrupt_deadline.is_some_and(|d| d <= now) {
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
        } else if turn.interrupt_reason.is_none()
            && turn.budget_deadline().is_some_and(|d| d <= now)
        {
            tracing::info!(session_id = %self.session_id(), "turn ran past its budget; interrupting");
            self.request_interrupt(InterruptReason::Budget).await;
        } else if turn.interrupt_reason.is_none() && turn.time_limit.is_some_and(|d| d <= now) {
            tracing::warn!(session_id = %self.session_id(), "turn ran out of time; interrupting");
            self.request_interrupt(InterruptReason::TimeLimit).await;
        } else if !self.asks.waiting()
            && turn.last_output + self.deps.config.turn_stall_timeout <= now
        {
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
        // An out-of-memory kill during the turn decides how it ended, whatever the agent says
        // (it may well have carried on after its tool was killed).
        let oom = turn
            .as_ref()
            .and(self.sandbox.as_ref())
            .and_then(|s| s.check_limits());
        // A request still open when its turn ends can no longer be answered.
        self.close_live_asks().await;
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
        let budget_secs = turn
            .as_ref()
            .and_then(|t| t.budget_secs)
            .unwrap_or_default();
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
                error = Some(stall_error(self.deps.config.turn_stall_timeout, error));
            }
            Some(InterruptReason::TimeLimit) => {
                reason = TurnEndReason::Error;
                let limit = self.limits.turn_timeout.unwrap_or_default();
                error = Some(limit_error(
                    "time_limit",
                    format!("the turn ran past its limit of {} s", limit.as_secs_f64()),
                ));
            }
            Some(InterruptReason::Budget) => {
                reason = TurnEndReason::Interrupted;
                error = Some(limit_error(
                    "budget_exceeded",
                    format!("the turn ran past its budget of {budget_secs} s"),
                ));
            }
            Some(InterruptReason::WorkspaceFull) => {
                reason = TurnEndReason::Error;
                let quota = self.limits.workspace_bytes.unwrap_or_default();
                error = Some(limit_error(
                    "workspace_full",
                    format!(
                        "the workspace grew past its quota of {}; files written since are not saved",
                        crate::limits::human_bytes(quota)
                    ),
                ));
            }
        }
        if let Some(LimitHit::OutOfMemory { .. }) = oom {
            reason = TurnEndReason::Error;
            error = Some(self.oom_error());
        }
        if let Some(turn) = &turn {
            turn.span
                .record("outcome", format!("{reason:?}").to_lowercase());
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
        if interrupt_reason == Some(InterruptReason::Budget) {
            self.record_turn_time_exceeded(budget_secs, duration_ms as f64 / 1000.0)
                .await;
        }
        self.check_budget().await;
        if oom.is_some() {
            // Whatever the OOM killer left is in no state to go on.
            self.stop_sandbox("out of memory").await;
        }
    }

    /// Starts the next queued message once no turn runs.
    pub(super) async fn start_queued(&mut self) {
        while self.turn.is_none() {
            if self.queue.is_empty() || !self.budget_allows_turn().await {
                return;
            }
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

/// The error of a turn the runtime ended for breaking a limit.
fn limit_error(code: &str, message: String) -> TurnError {
    TurnError {
        message,
        code: Some(code.into()),
        http_status: None,
        exit_code: None,
        stderr_tail: None,
    }
}

/// The error of a turn ended by the stall timeout. What the agent said about its end (e.g. the
/// HTTP status of the model API call it kept retrying, its exit code, its stderr) is kept; the
/// cause is the runtime's timeout.
fn stall_error(stall: std::time::Duration, agent: Option<TurnError>) -> TurnError {
    let agent = agent.unwrap_or(TurnError {
        message: String::new(),
        code: None,
        http_status: None,
        exit_code: None,
        stderr_tail: None,
    });
    let mut message = format!("the agent produced no output for {} s", stall.as_secs_f64());
    if let Some(status) = agent.http_status {
        message.push_str(&format!(
            "; its last model API call failed with HTTP {status}"
        ));
    }
    TurnError {
        message,
        code: Some("timeout".into()),
        ..agent
    }
}
