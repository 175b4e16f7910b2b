//! Permission requests and questions: the agent asks, the rules or a person answer.
//!
//! A request the rules do not decide becomes a `permission_requested` / `question_requested`
//! event and waits in [`Asks`] for an answer, its timeout, or the end of its turn; the answer is
//! written to the agent and recorded as `permission_resolved` / `question_resolved`. The log is
//! the truth: a request is pending while the log says so, also after a restart, when no process
//! waits for it any more. Answering such a request resumes the agent in a new turn with the
//! answer, which decides the call the agent then makes again ([`Grant`]).

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use agent_runtime_agents::{AgentAsk, AskKind, AskReply, ProcessMode};
use agent_runtime_protocol::{
    AgentProfile, AnswerPermissionRequest, AnswerQuestionRequest, Continuation, IfBusy,
    PermissionDecision, PermissionRequest, PermissionResolution, QuestionRequest,
    QuestionResolution, ResolvedBy, SendMessageRequest, SessionEvent,
};
use tokio::time::Instant;

use super::actor::{Actor, QueuedMessage};
use super::answers::{
    chosen_option, closed_error, option_rule, permission_continuation_text, permission_options,
    question_continuation_text, question_subject, validate_answers, DEFAULT_DENY_MESSAGE,
};
use crate::error::{Result, RuntimeError};
use crate::rules::{evaluate, subject, Verdict};
use crate::time::{instant_of, new_id, now_rfc3339, rfc3339_after};

/// How long a request waits for an answer when the profile does not say.
pub const DEFAULT_APPROVAL_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// Requests waiting for an answer.
#[derive(Default)]
pub(super) struct Asks {
    /// Requests of the running agent process, by request id.
    live: HashMap<String, AgentAsk>,
    /// When each pending request (live or from before a restart) times out.
    expiries: BTreeMap<String, Instant>,
    /// Answers given after a restart, for the call the resumed agent makes again.
    grants: Vec<Grant>,
}

impl Asks {
    /// Whether the running process waits for an answer (the turn is not stalled then).
    pub(super) fn waiting(&self) -> bool {
        !self.live.is_empty()
    }

    /// The earliest timeout of a pending request.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.expiries.values().min().copied()
    }
}

/// An answer kept for the call the agent makes again once resumed after a restart.
struct Grant {
    tool: String,
    subject: String,
    reply: GrantReply,
}

enum GrantReply {
    Decision(PermissionDecision, Option<String>),
    Answers(BTreeMap<String, String>),
}

impl Actor {
    /// Schedules the timeouts of the requests the log holds pending (from before a restart).
    pub(super) async fn load_pending_asks(&mut self) {
        let pending: Vec<(String, String)> = self
            .log
            .read(|state| {
                let permissions = state
                    .pending_permissions()
                    .map(|r| (r.request.request_id.clone(), r.request.expires_at.clone()));
                let questions = state
                    .pending_questions()
                    .map(|r| (r.request.request_id.clone(), r.request.expires_at.clone()));
                permissions.chain(questions).collect()
            })
            .await;
        for (id, expires_at) in pending {
            self.asks.expiries.insert(id, instant_of(&expires_at));
        }
    }

    /// The agent asks: the rules decide, or the request is recorded and waits.
    pub(super) async fn on_ask(&mut self, ask: AgentAsk) {
        let profile = self.profile().await.unwrap_or_default();
        let workspace = self.workspace_dir();
        let (tool, input) = match &ask.kind {
            AskKind::Permission { tool, input, .. } => (tool.clone(), input.clone()),
            AskKind::Question { input, .. } => ("AskUserQuestion".to_string(), input.clone()),
        };
        let call_subject = match &ask.kind {
            AskKind::Permission { .. } => subject(&tool, &input, &workspace),
            AskKind::Question { questions, .. } => question_subject(questions),
        };
        if let Some(reply) = self.take_grant(&tool, &call_subject, &ask.kind) {
            tracing::info!(session_id = %self.session_id(), tool, "answered as the user did before the restart");
            return self.reply_to_agent(&ask.agent_request_id, &reply).await;
        }
        if let AskKind::Permission { .. } = &ask.kind {
            let remembered = self.log.read(|s| s.session_rules.clone()).await;
            let verdict = evaluate(&profile.permissions, &remembered, &tool, &input, &workspace);
            if let Verdict::Decided(decision, rule) = verdict {
                tracing::info!(session_id = %self.session_id(), tool, rule, ?decision, "decided by rule");
                let reply = match decision {
                    PermissionDecision::Allow => AskReply::Allow {
                        input,
                        suggestions: Vec::new(),
                    },
                    PermissionDecision::Deny => AskReply::Deny {
                        message: format!("Denied by the rule {rule}."),
                    },
                };
                return self.reply_to_agent(&ask.agent_request_id, &reply).await;
            }
        }
        let timeout = profile
            .approval_timeout_secs
            .map_or(DEFAULT_APPROVAL_TIMEOUT, Duration::from_secs);
        let request_id = new_id(match ask.kind {
            AskKind::Permission { .. } => "perm",
            AskKind::Question { .. } => "question",
        });
        let expires_at = rfc3339_after(timeout);
        let turn_id = self.turn.as_ref().map(|t| t.id.clone());
        let event = match &ask.kind {
            AskKind::Permission {
                tool,
                input,
                description,
                suggestions,
            } => SessionEvent::PermissionRequested(PermissionRequest {
                request_id: request_id.clone(),
                tool_use_id: ask.tool_use_id.clone(),
                tool: tool.clone(),
                input: input.clone(),
                description: description.clone(),
                options: permission_options(tool, input, suggestions, &workspace),
                expires_at,
                turn_id,
            }),
            AskKind::Question { questions, .. } => {
                SessionEvent::QuestionRequested(QuestionRequest {
                    request_id: request_id.clone(),
                    tool_use_id: ask.tool_use_id.clone(),
                    questions: questions.clone(),
                    expires_at,
                    turn_id,
                })
            }
        };
        // The agent waits: what it has done so far is saved before anyone can see the request,
        // so an answer after a crash (even one right after the event) can resume it with the
        // call in its history.
        self.save_transcripts().await;
        self.emit(vec![event]).await;
        self.asks
            .expiries
            .insert(request_id.clone(), Instant::now() + timeout);
        self.asks.live.insert(request_id, ask);
    }

    /// The agent withdrew a request (its turn was interrupted).
    pub(super) async fn on_ask_withdrawn(&mut self, agent_request_id: &str) {
        let request_id = self
            .asks
            .live
            .iter()
            .find(|(_, ask)| ask.agent_request_id == agent_request_id)
            .map(|(id, _)| id.clone());
        if let Some(request_id) = request_id {
            self.asks.live.remove(&request_id);
            self.close_request(&request_id, ResolvedBy::Runtime, None)
                .await;
        }
    }

    /// Closes every request of the running process (its turn ended, or it is gone).
    pub(super) async fn close_live_asks(&mut self) {
        let ids: Vec<String> = self.asks.live.drain().map(|(id, _)| id).collect();
        for id in ids {
            self.close_request(&id, ResolvedBy::Runtime, None).await;
        }
    }

    /// Closes requests from before a restart that nobody answered before a new turn started:
    /// the conversation went on without them.
    pub(super) async fn close_orphaned_asks(&mut self) {
        let orphans: Vec<String> = self
            .asks
            .expiries
            .keys()
            .filter(|id| !self.asks.live.contains_key(*id))
            .cloned()
            .collect();
        for id in orphans {
            self.close_request(&id, ResolvedBy::Runtime, Some(Continuation::Expired))
                .await;
        }
    }

    /// Times out every request whose time has come: denied, the agent told so.
    pub(super) async fn on_ask_expiry(&mut self) {
        let now = Instant::now();
        let due: Vec<String> = self
            .asks
            .expiries
            .iter()
            .filter(|(_, at)| **at <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some(ask) = self.asks.live.remove(&id) {
                let message = match ask.kind {
                    AskKind::Permission { .. } => {
                        "Nobody answered the permission request in time; \
                                                   it was denied."
                            .to_string()
                    }
                    AskKind::Question { .. } => {
                        "The user did not answer the questions in time.".to_string()
                    }
                };
                let reply = AskReply::Deny { message };
                self.reply_to_agent(&ask.agent_request_id, &reply).await;
            }
            self.close_request(&id, ResolvedBy::Timeout, None).await;
        }
    }

    /// Records a request as closed without an answer (denied, no answers).
    async fn close_request(
        &mut self,
        request_id: &str,
        by: ResolvedBy,
        continuation: Option<Continuation>,
    ) {
        self.asks.expiries.remove(request_id);
        let is_question = self
            .log
            .read(|s| {
                s.questions
                    .iter()
                    .any(|q| q.request.request_id == request_id)
            })
            .await;
        let at = now_rfc3339();
        let event = if is_question {
            SessionEvent::QuestionResolved(QuestionResolution {
                request_id: request_id.to_string(),
                answers: BTreeMap::new(),
                by,
                at,
                continuation,
            })
        } else {
            SessionEvent::PermissionResolved(PermissionResolution {
                request_id: request_id.to_string(),
                decision: PermissionDecision::Deny,
                remember: false,
                by,
                at,
                option_id: None,
                rule: None,
                message: None,
                continuation,
            })
        };
        self.emit(vec![event]).await;
    }

    /// A client answers a permission request. The first answer wins.
    pub(super) async fn answer_permission(
        &mut self,
        request_id: &str,
        answer: AnswerPermissionRequest,
    ) -> Result<PermissionResolution> {
        let record = self
            .log
            .read(|s| s.permission(request_id).cloned())
            .await
            .ok_or_else(|| RuntimeError::RequestNotFound(request_id.to_string()))?;
        if let Some(resolution) = &record.resolution {
            return Err(closed_error(request_id, resolution.by, resolution));
        }
        let (option, remember) = chosen_option(&record, &answer)?;
        if answer.save_to_profile && self.record.info.profile.is_none() {
            return Err(RuntimeError::InvalidRequest(
                "saveToProfile: the session has no profile".into(),
            ));
        }
        let rule = remember.then(|| option_rule(&record)).flatten();
        let message = answer
            .message
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
            .map(str::to_string);
        let mut resolution = PermissionResolution {
            request_id: request_id.to_string(),
            decision: answer.decision,
            remember: rule.is_some(),
            by: ResolvedBy::User,
            at: now_rfc3339(),
            option_id: option.as_ref().map(|o| o.id.clone()),
            rule: rule.clone(),
            message: message.clone(),
            continuation: None,
        };
        let deny_message = message.unwrap_or_else(|| DEFAULT_DENY_MESSAGE.to_string());
        self.asks.expiries.remove(request_id);
        match self.asks.live.remove(request_id) {
            Some(ask) => {
                let reply = match answer.decision {
                    PermissionDecision::Allow => AskReply::Allow {
                        input: record.request.input.clone(),
                        suggestions: option.and_then(|o| o.suggestion).into_iter().collect(),
                    },
                    PermissionDecision::Deny => AskReply::Deny {
                        message: deny_message,
                    },
                };
                self.emit(vec![SessionEvent::PermissionResolved(resolution.clone())])
                    .await;
                self.reply_to_agent(&ask.agent_request_id, &reply).await;
            }
            None => {
                let reply = GrantReply::Decision(answer.decision, Some(deny_message));
                let call_subject = subject(
                    &record.request.tool,
                    &record.request.input,
                    &self.workspace_dir(),
                );
                let continuation = self
                    .continue_after_restart(&record.request.tool, call_subject, reply)
                    .await;
                resolution.continuation = Some(continuation);
                self.emit(vec![SessionEvent::PermissionResolved(resolution.clone())])
                    .await;
                if continuation == Continuation::Resumed {
                    self.queue_continuation(&permission_continuation_text(&record, &resolution));
                }
            }
        }
        if let (Some(rule), true) = (&rule, answer.save_to_profile) {
            // The answer took effect already; a profile that cannot be updated is only logged.
            if let Err(e) = self.save_rule_to_profile(rule).await {
                tracing::warn!(session_id = %self.session_id(), "saving {rule} to the profile failed: {e}");
            }
        }
        Ok(resolution)
    }

    /// A client answers a question request. The first answer wins.
    pub(super) async fn answer_question(
        &mut self,
        request_id: &str,
        answer: AnswerQuestionRequest,
    ) -> Result<QuestionResolution> {
        let record = self
            .log
            .read(|s| s.question(request_id).cloned())
            .await
            .ok_or_else(|| RuntimeError::RequestNotFound(request_id.to_string()))?;
        if let Some(resolution) = &record.resolution {
            return Err(closed_error(request_id, resolution.by, resolution));
        }
        let joined = validate_answers(&record, &answer)?;
        let mut resolution = QuestionResolution {
            request_id: request_id.to_string(),
            answers: answer.answers,
            by: ResolvedBy::User,
            at: now_rfc3339(),
            continuation: None,
        };
        self.asks.expiries.remove(request_id);
        match self.asks.live.remove(request_id) {
            Some(ask) => {
                let input = match &ask.kind {
                    AskKind::Question { input, .. } => input.clone(),
                    AskKind::Permission { input, .. } => input.clone(),
                };
                self.emit(vec![SessionEvent::QuestionResolved(resolution.clone())])
                    .await;
                let reply = AskReply::Answers {
                    input,
                    answers: joined,
                };
                self.reply_to_agent(&ask.agent_request_id, &reply).await;
            }
            None => {
                let continuation = self
                    .continue_after_restart(
                        "AskUserQuestion",
                        question_subject(&record.request.questions),
                        GrantReply::Answers(joined.clone()),
                    )
                    .await;
                resolution.continuation = Some(continuation);
                self.emit(vec![SessionEvent::QuestionResolved(resolution.clone())])
                    .await;
                if continuation == Continuation::Resumed {
                    self.queue_continuation(&question_continuation_text(&joined));
                }
            }
        }
        Ok(resolution)
    }

    /// An answer to a request from before a restart: resumed when the agent can be (a
    /// persistent agent with a saved transcript, and no other turn running), with a grant for
    /// the call it will make again; expired otherwise.
    async fn continue_after_restart(
        &mut self,
        tool: &str,
        call_subject: String,
        reply: GrantReply,
    ) -> Continuation {
        let persistent = matches!(self.agent.process_mode(), ProcessMode::Persistent { .. });
        let saved = self
            .deps
            .store
            .list_transcripts(self.session_id())
            .await
            .is_ok_and(|t| !t.is_empty());
        if !persistent || !saved || self.turn.is_some() {
            return Continuation::Expired;
        }
        self.asks.grants.push(Grant {
            tool: tool.to_string(),
            subject: call_subject,
            reply,
        });
        Continuation::Resumed
    }

    /// Queues the turn that resumes the agent with an answer given after a restart.
    fn queue_continuation(&mut self, text: &str) {
        self.queue.push_back(QueuedMessage {
            turn_id: new_id("turn"),
            request: SendMessageRequest {
                text: text.to_string(),
                if_busy: Some(IfBusy::Queue),
                client_message_id: None,
            },
        });
    }

    /// The grant for a call the resumed agent makes again, used once.
    fn take_grant(&mut self, tool: &str, call_subject: &str, kind: &AskKind) -> Option<AskReply> {
        let i = self
            .asks
            .grants
            .iter()
            .position(|g| g.tool == tool && g.subject == call_subject)?;
        let grant = self.asks.grants.remove(i);
        Some(match (grant.reply, kind) {
            (
                GrantReply::Decision(PermissionDecision::Allow, _),
                AskKind::Permission { input, .. },
            ) => AskReply::Allow {
                input: input.clone(),
                suggestions: Vec::new(),
            },
            (GrantReply::Answers(answers), AskKind::Question { input, .. }) => AskReply::Answers {
                input: input.clone(),
                answers,
            },
            (GrantReply::Decision(_, message), _) => AskReply::Deny {
                message: message.unwrap_or_else(|| DEFAULT_DENY_MESSAGE.to_string()),
            },
            (GrantReply::Answers(_), AskKind::Permission { .. }) => return None,
        })
    }

    /// Writes the answer to the agent; a failure shows as the process's exit.
    async fn reply_to_agent(&mut self, agent_request_id: &str, reply: &AskReply) {
        let Some(line) = self.agent.encode_ask_reply(agent_request_id, reply) else {
            return;
        };
        if let Some(process) = self.process.as_mut() {
            if let Err(e) = process.write_line(&line).await {
                tracing::warn!(session_id = %self.session_id(), "answering the agent failed: {e}");
            }
        }
        // Waiting for a person is not a stall: the agent's silence counts from the answer.
        if let Some(turn) = self.turn.as_mut() {
            turn.last_output = Instant::now();
        }
    }

    /// Adds an allow rule to the session's profile (the session must have one).
    async fn save_rule_to_profile(&self, rule: &str) -> Result<()> {
        let Some(id) = &self.record.info.profile else {
            return Ok(());
        };
        let mut profile: AgentProfile = self
            .deps
            .store
            .get_profile(id)
            .await?
            .ok_or_else(|| RuntimeError::ProfileNotFound(id.clone()))?;
        if !profile.permissions.allow.iter().any(|r| r == rule) {
            profile.permissions.allow.push(rule.to_string());
            self.deps.store.put_profile(&profile).await?;
        }
        Ok(())
    }

    /// The workspace as the agent sees it (rule subjects are relative to it).
    pub(super) fn workspace_dir(&self) -> String {
        self.sandbox.as_ref().map_or_else(
            || agent_runtime_sandbox::WORKSPACE_DIR.to_string(),
            |s| s.workspace_dir().to_string(),
        )
    }
}
