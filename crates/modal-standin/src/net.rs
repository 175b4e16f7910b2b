//! The edge of the stand-in: the listener (with connections that can be cut or refused, to
//! test retries) and one tower layer in front of both gRPC services that logs every call,
//! injects scripted failures, checks credentials, and warns about every call answered
//! `UNIMPLEMENTED` (a gap in the stand-in).

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use futures::Stream;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::lock;
use super::state::State;

/// The path prefix of Modal's control plane service.
pub const CONTROL_PLANE: &str = "/modal.client.ModalClient/";
/// The path prefix of the task command router service.
pub const ROUTER: &str = "/modal.task_command_router.TaskCommandRouter/";

/// Scripted failures and the call log.
#[derive(Default)]
pub(crate) struct Faults {
    rules: Mutex<Vec<FailRule>>,
    calls: Mutex<Vec<String>>,
    /// Connections accepted while this is in the future are closed at once.
    refuse_until: Mutex<Option<Instant>>,
    /// Cancelled to cut every open connection; replaced by a fresh one.
    generation: Mutex<CancellationToken>,
}

struct FailRule {
    /// The method name (`SandboxCreate`), or every method.
    method: Option<String>,
    remaining: u32,
    code: tonic::Code,
}

impl Faults {
    pub fn fail_next(&self, method: Option<String>, n: u32, code: tonic::Code) {
        lock(&self.rules).push(FailRule {
            method,
            remaining: n,
            code,
        });
    }

    /// Forgets every scripted failure.
    pub fn clear(&self) {
        lock(&self.rules).clear();
    }

    /// The failure scripted for this call, if any (counted down).
    fn take(&self, method: &str) -> Option<tonic::Code> {
        let mut rules = lock(&self.rules);
        let rule = rules
            .iter_mut()
            .find(|r| r.remaining > 0 && r.method.as_deref().is_none_or(|m| m == method))?;
        rule.remaining -= 1;
        let code = rule.code;
        rules.retain(|r| r.remaining > 0);
        Some(code)
    }

    pub fn calls(&self) -> Vec<String> {
        lock(&self.calls).clone()
    }

    pub fn drop_connections(&self) {
        let mut generation = lock(&self.generation);
        generation.cancel();
        *generation = CancellationToken::new();
    }

    pub fn refuse_connections_for(&self, duration: Duration) {
        *lock(&self.refuse_until) = Some(Instant::now() + duration);
        self.drop_connections();
    }

    fn refusing(&self) -> bool {
        lock(&self.refuse_until).is_some_and(|until| Instant::now() < until)
    }
}

/// Accepted connections, each cut when [`Faults::drop_connections`] is called.
pub(crate) fn incoming(
    listener: TcpListener,
    state: Arc<State>,
) -> impl Stream<Item = io::Result<CuttableStream>> {
    futures::stream::unfold((listener, state), |(listener, state)| async move {
        loop {
            let accepted = listener.accept().await;
            match accepted {
                Ok((stream, _)) if state.faults.refusing() => drop(stream),
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    let cut = lock(&state.faults.generation).clone().cancelled_owned();
                    let stream = CuttableStream {
                        inner: stream,
                        cut: Box::pin(cut),
                    };
                    return Some((Ok(stream), (listener, state)));
                }
                Err(e) => return Some((Err(e), (listener, state))),
            }
        }
    })
}

/// A TCP connection that fails every read and write once cut.
pub(crate) struct CuttableStream {
    inner: TcpStream,
    cut: Pin<Box<WaitForCancellationFutureOwned>>,
}

impl CuttableStream {
    fn check(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        match self.cut.as_mut().poll(cx) {
            Poll::Ready(()) => Err(io::Error::new(
                io::ErrorKind::ConnectionReset,
                "cut by the stand-in",
            )),
            Poll::Pending => Ok(()),
        }
    }
}

impl AsyncRead for CuttableStream {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for CuttableStream {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.check(cx)?;
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

impl tonic::transport::server::Connected for CuttableStream {
    type ConnectInfo = ();
    fn connect_info(&self) {}
}

/// The layer in front of both services (see the module doc).
#[derive(Clone)]
pub(crate) struct EdgeLayer(pub Arc<State>);

impl<S> tower::Layer<S> for EdgeLayer {
    type Service = Edge<S>;
    fn layer(&self, inner: S) -> Edge<S> {
        Edge {
            inner,
            state: Arc::clone(&self.0),
        }
    }
}

/// The service [`EdgeLayer`] wraps around the routes.
#[derive(Clone)]
pub(crate) struct Edge<S> {
    inner: S,
    state: Arc<State>,
}

impl<S, B, R> tower::Service<http::Request<B>> for Edge<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
    R: Default + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let path = request.uri().path().to_owned();
        let method = path.rsplit('/').next().unwrap_or_default().to_owned();
        lock(&self.state.faults.calls).push(method.clone());
        if let Some(code) = self.state.faults.take(&method) {
            tracing::info!(%method, ?code, "failing a call as scripted");
            let status = tonic::Status::new(code, "injected by the Modal stand-in");
            return Box::pin(async move { Ok(status.into_http()) });
        }
        if let Err(status) = authenticate(&self.state, &path, request.headers()) {
            tracing::info!(%method, "rejecting an unauthenticated call");
            return Box::pin(async move { Ok(status.into_http()) });
        }
        // The clone is ready-less; swap so the ready one serves this call (tower's idiom).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let response = inner.call(request).await?;
            let unimplemented = response
                .headers()
                .get("grpc-status")
                .is_some_and(|v| v.as_bytes() == b"12");
            if unimplemented {
                tracing::warn!(%path, "Modal stand-in: UNIMPLEMENTED call");
            }
            Ok(response)
        })
    }
}

/// Control plane calls need the configured token pair; router calls a JWT the control plane
/// handed out (`authorization: Bearer <jwt>`, as Modal's client sends it).
fn authenticate(state: &State, path: &str, headers: &http::HeaderMap) -> Result<(), tonic::Status> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if path.starts_with(CONTROL_PLANE) {
        let ok = header("x-modal-token-id") == Some(state.token_id.as_str())
            && header("x-modal-token-secret") == Some(state.token_secret.as_str());
        if !ok {
            return Err(tonic::Status::unauthenticated(
                "Token missing or invalid. Check MODAL_TOKEN_ID and MODAL_TOKEN_SECRET.",
            ));
        }
    } else if path.starts_with(ROUTER) {
        let jwt = header("authorization").and_then(|v| v.strip_prefix("Bearer "));
        if jwt.and_then(|jwt| state.jwt_task(jwt)).is_none() {
            return Err(tonic::Status::unauthenticated("invalid or missing JWT"));
        }
    }
    Ok(())
}

/// The task a router call's JWT grants access to.
pub(crate) fn jwt_of(metadata: &tonic::metadata::MetadataMap) -> Option<String> {
    metadata
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::to_owned)
}
