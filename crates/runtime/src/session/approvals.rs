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
    /// Every pending request (live or from before a restart), by request id.
    pending: BTreeMap<String, Pending>,
    /// Answers given after a restart, for the call the resumed agent makes again.
    grants: Vec<Grant>,
}

/// A pending request as the actor tracks it.
struct Pending {
    /// When it times out.
    expires: Instant,
    /// A question request (else a permission request).
    question: bool,
}

impl Asks {
    /// Whether the running process waits for an answer (the turn is not stalled then).
    pub(super) fn waiting(&self) -> bool {
        !self.live.is_empty()
    }

    /// The earliest timeout of a pending request.
    pub(super) fn next_expiry(&self) -> Option<Instant> {
        self.pending.values().map(|p| p.expires).min()
    }
}

/// An answer kept for the call the agent makes again once resumed after a restart.
struct Grant {
    key: GrantKey,
    reply: GrantReply,
}

/// What a grant answers: a tool call (the tool and its rule subject), or the same questions.
#[derive(PartialEq)]
enum GrantKey {
    Call { tool: String, subject: String },
    Questions(String),
}

impl GrantKey {
    fn of(kind: &AskKind, workspace: &str) -> GrantKey {
        match kind {
            AskKind::Permission { tool, input, .. } => GrantKey::Call {
                tool: tool.clone(),
                subject: subject(tool, input, workspace),
            },
            AskKind::Question { questions, .. } => GrantKey::Questions(question_subject(questions)),
        }
    }
}

enum GrantReply {
    /// The decision, and the message the agent sees on a deny.
    Decision(PermissionDecision, String),
    Answers(BTreeMap<String, String>),
}

impl Actor {
    /// Schedules the timeouts of the requests the log holds pending (from before a restart).
    pub(super) async fn load_pending_asks(&mut self) {
        let pending: Vec<(String, String, bool)> = self
            .log
            .read(|state| {
                let permissions = state.pending_permissions().map(|r| {
                    let request = &r.request;
                    (
                        request.request_id.clone(),
                        request.expires_at.clone(),
                        false,
                    )
                });
                let questions = state.pending_questions().map(|r| {
                    let request = &r.request;
                    (request.request_id.clone(), request.expires_at.clone(), true)
                });
                permissions.chain(questions).collect()
            })
            .await;
        for (id, expires_at, question) in pending {
            let expires = instant_of(&expires_at);
            self.asks.pending.insert(id, Pending { expires, question });
        }
    }

    /// The agent asks: the rules decide, or the request is recorded and waits.
    pub(super) async fn on_ask(&mut self, ask: AgentAsk) {
        let profile = self.profile().await.unwrap_or_default();
        let workspace = self.workspace_dir();
        if let Some(reply) = self.take_grant(&GrantKey::of(&ask.kind, &workspace), &ask.kind) {
            tracing::info!(session_id = %self.session_id(), "answered as the user did before the restart");
            return self.reply_to_agent(&ask.agent_request_id, &reply).await;
        }
        if let AskKind::Permission { tool, input, .. } = &ask.kind {
            let remembered = self.log.read(|s| s.session_rules.clone()).await;
            let verdict = evaluate(&profile.permissions, &remembered, tool, input, &workspace);
            if let Verdict::Decided(decision, rule) = verdict {
                tracing::info!(session_id = %self.session_id(), tool, rule, ?decision, "decided by rule");
                let reply = match decision {
                    PermissionDecision::Allow => AskReply::Allow {
                        input: input.clone(),
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
        self.save_transcripts_naming(ask.tool_use_id.as_deref())
            .await;
        // A pending request must be found at start after a crash (its turn marked the session
        // already; this covers a request outside a turn).
        if let Err(e) = self.mark_open().await {
            tracing::warn!(session_id = %self.session_id(), "marking the session open failed: {e}");
        }
        self.emit(vec![event]).await;
        let pending = Pending {
            expires: Instant::now() + timeout,
            question: matches!(ask.kind, AskKind::Question { .. }),
        };
        self.asks.pending.insert(request_id.clone(), pending);
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
            .pending
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
            .pending
            .iter()
            .filter(|(_, pending)| pending.expires <= now)
            .map(|(id, _)| id.clone())
            .collect();
        for id in due {
            if let Some(ask) = self.asks.live.remove(&id) {
                let message = match ask.kind {
                    AskKind::Permission { .. } => {
                        "Nobody answered the permission request in time; it was denied."
                    }
                    AskKind::Question { .. } => "The user did not answer the questions in time.",
                };
                let reply = AskReply::Deny {
                    message: message.to_string(),
                };
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
        let Some(pending) = self.asks.pending.remove(request_id) else {
            return;
        };
        let at = now_rfc3339();
        let event = if pending.question {
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
        self.asks.pending.remove(request_id);
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
                let key = GrantKey::Call {
                    tool: record.request.tool.clone(),
                    subject: subject(
                        &record.request.tool,
                        &record.request.input,
                        &self.workspace_dir(),
                    ),
                };
                let reply = GrantReply::Decision(answer.decision, deny_message);
                let continuation = self.continue_after_restart(key, reply).await;
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
        self.asks.pending.remove(request_id);
        match self.asks.live.remove(request_id) {
            Some(ask) => {
                self.emit(vec![SessionEvent::QuestionResolved(resolution.clone())])
                    .await;
                let reply = AskReply::Answers {
                    input: ask.kind.input().clone(),
                    answers: joined,
                };
                self.reply_to_agent(&ask.agent_request_id, &reply).await;
            }
            None => {
                let key = GrantKey::Questions(question_subject(&record.request.questions));
                let reply = GrantReply::Answers(joined.clone());
                let continuation = self.continue_after_restart(key, reply).await;
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
    async fn continue_after_restart(&mut self, key: GrantKey, reply: GrantReply) -> Continuation {
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
        self.asks.grants.push(Grant { key, reply });
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
    fn take_grant(&mut self, key: &GrantKey, kind: &AskKind) -> Option<AskReply> {
        let i = self.asks.grants.iter().position(|g| &g.key == key)?;
        let grant = self.asks.grants.remove(i);
        Some(match grant.reply {
            GrantReply::Decision(PermissionDecision::Allow, _) => AskReply::Allow {
                input: kind.input().clone(),
                suggestions: Vec::new(),
            },
            GrantReply::Decision(PermissionDecision::Deny, message) => AskReply::Deny { message },
            GrantReply::Answers(answers) => AskReply::Answers {
                input: kind.input().clone(),
                answers,
            },
        })
    }

    /// Writes the answer to the agent; a failure shows as the process's exit.
    async fn reply_to_agent(&mut self, agent_request_id: &str, reply: &AskReply) {
        let Some(process) = self.process.as_mut() else {
            return;
        };
        if let Some(line) = process.translator.ask_reply(agent_request_id, reply) {
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
