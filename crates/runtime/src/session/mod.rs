//! One loaded session: its log and the actor task that owns its sandbox and agent process.
//!
//! Everything that changes a session's log goes through its actor, so the log has exactly one
//! writer and events are ordered without further locking. When the session has been quiet long
//! enough the actor unloads it (`residency.rs`).

mod actor;
mod answers;
mod approvals;
mod budget;
mod files;
pub(crate) mod launch;
mod network;
mod ownership;
pub(crate) mod process;
mod residency;
mod turn;

use std::sync::{Arc, Weak};

use agent_runtime_protocol::{
    AnswerPermissionRequest, AnswerQuestionRequest, Budget, BudgetApproval, InterruptResponse,
    PermissionResolution, QuestionResolution, SendMessageRequest, SendMessageResponse,
};
use tokio::sync::{mpsc, oneshot};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

use crate::error::{Result, RuntimeError};
use crate::log::EventLog;
use crate::manager::Deps;
use crate::registry::Registry;
use agent_runtime_store::SessionRecord;
use residency::{LastUse, OpenMark, Residency};

pub(crate) use actor::close_abandoned_turn;
pub(crate) use budget::validate_budget;

/// Commands queued per session. A client that floods one session waits here instead of growing
/// memory; 64 is far above what an interactive user produces.
const COMMAND_BUFFER: usize = 64;

/// What a session's actor can be asked to do.
pub(crate) enum Command {
    Send {
        request: SendMessageRequest,
        reply: oneshot::Sender<Result<SendMessageResponse>>,
    },
    Interrupt {
        reply: oneshot::Sender<Result<InterruptResponse>>,
    },
    WriteFile {
        path: String,
        bytes: Vec<u8>,
        reply: oneshot::Sender<Result<agent_runtime_protocol::FileInfo>>,
    },
    DeleteFile {
        path: String,
        reply: oneshot::Sender<Result<bool>>,
    },
    AnswerPermission {
        request_id: String,
        answer: AnswerPermissionRequest,
        reply: oneshot::Sender<Result<PermissionResolution>>,
    },
    AnswerQuestion {
        request_id: String,
        answer: AnswerQuestionRequest,
        reply: oneshot::Sender<Result<QuestionResolution>>,
    },
    ApproveBudget {
        reply: oneshot::Sender<Result<BudgetApproval>>,
    },
    SetBudget {
        budget: Budget,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Appends events as they are (a new session's first ones).
    Append {
        events: Vec<agent_runtime_protocol::SessionEvent>,
        reply: oneshot::Sender<Result<()>>,
    },
    /// Takes the session over if it is open and no live node holds it (a node of several taking
    /// over what a dead one left); answers whether it did.
    TakeOver {
        reply: oneshot::Sender<Result<bool>>,
    },
}

impl Command {
    /// Answers the command with `error` instead of running it.
    pub(crate) fn fail(self, error: RuntimeError) {
        fn send<T>(reply: oneshot::Sender<Result<T>>, error: RuntimeError) {
            let _ = reply.send(Err(error));
        }
        match self {
            Command::Send { reply, .. } => send(reply, error),
            Command::Interrupt { reply } => send(reply, error),
            Command::WriteFile { reply, .. } => send(reply, error),
            Command::DeleteFile { reply, .. } => send(reply, error),
            Command::AnswerPermission { reply, .. } => send(reply, error),
            Command::AnswerQuestion { reply, .. } => send(reply, error),
            Command::ApproveBudget { reply } => send(reply, error),
            Command::SetBudget { reply, .. } => send(reply, error),
            Command::Append { reply, .. } => send(reply, error),
            Command::TakeOver { reply } => send(reply, error),
        }
    }
}

/// A loaded session.
pub(crate) struct SessionHandle {
    pub(crate) log: Arc<EventLog>,
    commands: mpsc::Sender<Command>,
    last_use: Arc<LastUse>,
    cancel: CancellationToken,
    tracker: TaskTracker,
}

impl SessionHandle {
    /// Starts the session's actor as a child of `parent`. The actor unloads the session from
    /// `registry` once it is quiet and unused; `marked_open` says whether the session may be
    /// marked open in the store (the actor then clears the mark once it is quiet).
    pub(crate) fn start(
        deps: Arc<Deps>,
        record: SessionRecord,
        log: Arc<EventLog>,
        parent: &CancellationToken,
        server_tracker: &TaskTracker,
        registry: Weak<Registry<SessionHandle>>,
        marked_open: bool,
    ) -> Self {
        let (commands, rx) = mpsc::channel(COMMAND_BUFFER);
        let cancel = parent.child_token();
        let tracker = TaskTracker::new();
        // Everything the actor logs (and the readers of its agent's output) carries the session
        // and its agent.
        // A root: the session outlives the request that loaded it (a child would keep that
        // request's span open for the session's whole life).
        let span = tracing::info_span!(
            parent: None,
            "session",
            session_id = %record.info.session_id,
            agent = %record.info.agent,
        );
        let last_use = Arc::new(LastUse::now());
        let residency = Residency {
            registry,
            last_use: last_use.clone(),
            open_mark: if marked_open {
                OpenMark::Set
            } else {
                OpenMark::Clear
            },
            quiet_since: None,
        };
        let actor = actor::Actor::new(deps, record, log.clone(), rx, cancel.clone(), residency);
        tracker.spawn(tracing::Instrument::instrument(actor.run(), span));
        tracker.close();
        // The server waits for every session's tracker on shutdown.
        let waiter = tracker.clone();
        server_tracker.spawn(async move { waiter.wait().await });
        SessionHandle {
            log,
            commands,
            last_use,
            cancel,
            tracker,
        }
    }

    /// Records a use of the session: it stays loaded at least the unload period from now.
    pub(crate) fn touch(&self) {
        self.last_use.touch();
    }

    /// Sends a command and waits for its answer.
    pub(crate) async fn call<T>(
        &self,
        make: impl FnOnce(oneshot::Sender<Result<T>>) -> Command,
    ) -> Result<T> {
        let (reply, answer) = oneshot::channel();
        self.commands
            .send(make(reply))
            .await
            .map_err(|_| RuntimeError::ShuttingDown)?;
        answer.await.map_err(|_| RuntimeError::ShuttingDown)?
    }

    /// Stops the actor (ending a running turn as interrupted) and waits for it.
    pub(crate) async fn stop(&self) {
        self.cancel.cancel();
        self.tracker.wait().await;
    }
}
