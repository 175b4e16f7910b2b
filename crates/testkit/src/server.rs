//! [`ScriptedModelServer`]: lifecycle and the public handle tests and the demo mode use.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::error::TestkitError;
use crate::matching::ScenarioState;
use crate::record::{RecordedRequest, RequestKind};
use crate::routes::{router, Shared};
use crate::scenario::Scenario;

/// A running scripted model server (Messages API, Gemini API, Responses API).
///
/// The server runs on its own task and stops when the handle is dropped (or, awaiting
/// the end of every connection, on [`ScriptedModelServer::shutdown`]).
#[derive(Debug)]
pub struct ScriptedModelServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    task: Option<JoinHandle<()>>,
}

impl ScriptedModelServer {
    /// Starts a server on `127.0.0.1` with an OS-chosen port.
    pub async fn start(scenario: Scenario) -> Result<Self, TestkitError> {
        Self::start_on(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), scenario).await
    }

    /// Starts a server on the given address.
    pub async fn start_on(addr: SocketAddr, scenario: Scenario) -> Result<Self, TestkitError> {
        let listener = TcpListener::bind(addr)
            .await
            .map_err(|source| TestkitError::Bind { addr, source })?;
        let addr = listener
            .local_addr()
            .map_err(|source| TestkitError::Bind { addr, source })?;
        let shared = Arc::new(Shared::new(scenario));
        let app = router(Arc::clone(&shared));
        let shutdown = shared.shutdown.clone();
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "scripted model server stopped with an error");
            }
        });
        tracing::debug!(%addr, "scripted model server listening");
        Ok(Self {
            addr,
            shared,
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`, the value for `ANTHROPIC_BASE_URL`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The bound socket address.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces the scenario; rule hit counters start again from zero. Requests already
    /// being answered are unaffected.
    pub fn set_scenario(&self, scenario: Scenario) {
        *lock(&self.shared.scenario) = ScenarioState::new(scenario);
    }

    /// Every retained request (oldest first; see [`crate::RECORDED_REQUEST_CAPACITY`]).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.log.snapshot()
    }

    /// Only the agent-loop model requests, of any API (no side requests, probes or other
    /// routes).
    pub fn message_requests(&self) -> Vec<RecordedRequest> {
        self.requests()
            .into_iter()
            .filter(|request| request.kind == RequestKind::MainMessage)
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.log.clear();
    }

    /// Waits until at least `n` requests (of any kind) were received; returns them all.
    pub async fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, TestkitError> {
        self.shared.log.wait_for(n, timeout, |_| true).await
    }

    /// Waits until at least `n` agent-loop message requests were received; returns them.
    pub async fn wait_for_message_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<Vec<RecordedRequest>, TestkitError> {
        self.shared
            .log
            .wait_for(n, timeout, |request| {
                request.kind == RequestKind::MainMessage
            })
            .await
    }

    /// Streamed answers currently being sent (a dropped client connection ends its stream
    /// within one chunk delay).
    pub fn active_streams(&self) -> usize {
        self.shared.active_streams.load(Ordering::SeqCst)
    }

    /// A token cancelled when the server shuts down.
    pub fn shutdown_token(&self) -> CancellationToken {
        self.shared.shutdown.clone()
    }

    /// Stops accepting connections, ends open streams and waits for the server task.
    pub async fn shutdown(mut self) {
        self.shared.shutdown.cancel();
        if let Some(task) = self.task.take() {
            if let Err(error) = task.await {
                tracing::error!(%error, "scripted model server task failed");
            }
        }
    }
}

impl Drop for ScriptedModelServer {
    fn drop(&mut self) {
        // The task notices the cancellation, closes idle connections and ends streams.
        self.shared.shutdown.cancel();
    }
}

/// Locks a mutex, recovering the data if a panicking thread poisoned it (the guarded
/// state stays consistent: every critical section is a single assignment or counter bump).
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}
