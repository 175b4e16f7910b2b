//! The egress proxy: one [`EgressProxy`] per sandbox, serving each client connection the
//! runtime accepts on the sandbox's socket ([`EgressProxy::serve`]).
//!
//! Every request takes one of three paths:
//! - `CONNECT host:port` (`tunnel.rs`): decided, then tunnelled blindly, or intercepted to
//!   inject a secret when a [`SecretRule`] names the host (`secrets.rs`).
//! - absolute-form `http://host/...` (`forward.rs`): decided, then forwarded.
//! - a request for the proxy itself, origin-form (`POST /v1/messages`) or absolute-form to
//!   `127.0.0.1`/`localhost` on the inside port: the model gateway (`gateway.rs`), which
//!   answers by itself during a rehearsal (`rehearsal.rs`).
//!
//! A decision is: the host parses; the policy allows it by name and port; the name resolves;
//! every address passes the [`AddressGuard`]. The connection then goes to a checked address.

mod ca;
mod forward;
pub(crate) mod gateway;
mod http;
mod rehearsal;
pub(crate) mod secrets;
mod tunnel;
mod upstream;

use std::convert::Infallible;
use std::future::Future;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use ::http::header::{HeaderName, HeaderValue};
use ::http::uri::Authority;
use ::http::{Method, Request, Response};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use rustls::{ClientConfig, RootCertStore};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::sync::{mpsc, Semaphore};
use tokio::task::JoinSet;
use tracing::{debug, info, warn};

use self::ca::CertificateAuthority;
use self::gateway::GatewayClient;
pub use self::gateway::{ModelGateway, PLACEHOLDER_HEADERS, PLACEHOLDER_QUERY_PARAMS};
use self::http::ProxyBody;
pub use self::http::DENIED_HEADER;
pub use self::rehearsal::{Rehearsal, REHEARSAL_REPLY};
pub use self::secrets::SecretRule;
use crate::decision::{AddressGuard, Denial, DenyReason};
use crate::error::EgressError;
use crate::exception::AddressException;
use crate::host::{canonical_ip, Host};
use crate::policy::EgressPolicy;
use crate::resolver::{Resolver, SystemResolver};

/// The port the sandbox bridges to the proxy inside its network namespace.
pub const DEFAULT_INSIDE_PORT: u16 = 3128;

/// Everything one sandbox's proxy needs to decide and forward.
#[derive(Clone)]
pub struct EgressConfig {
    /// The profile's policy.
    pub policy: EgressPolicy,
    /// Operator exceptions: the only way to a loopback, private, link-local, metadata or
    /// this-host destination.
    pub exceptions: Vec<AddressException>,
    /// The runtime's own listening sockets: refused whatever the exceptions say.
    pub runtime_listeners: Vec<SocketAddr>,
    /// This host's interface addresses (see [`crate::local_interface_addresses`]).
    pub host_addresses: Vec<IpAddr>,
    /// How names are resolved.
    pub resolver: Arc<dyn Resolver>,
    /// Where model API requests go; `None` refuses them (`no_gateway`).
    pub gateway: Option<ModelGateway>,
    /// Secrets injected as headers over TLS for the hosts each rule names.
    pub secrets: Vec<SecretRule>,
    /// Roots that upstream TLS certificates are verified against (secret injection and an
    /// `https` gateway upstream).
    pub upstream_roots: Arc<RootCertStore>,
    pub limits: ProxyLimits,
    /// The port the sandbox reaches the proxy on, inside its namespace: absolute-form requests
    /// to `127.0.0.1`/`localhost`/`[::1]` on this port go to the gateway.
    pub inside_port: u16,
}

impl EgressConfig {
    /// A configuration with `policy` and the defaults: no exceptions, no own addresses, the
    /// system resolver, no gateway, no secrets, the Mozilla roots (webpki-roots), default limits.
    pub fn new(policy: EgressPolicy) -> Self {
        EgressConfig {
            policy,
            exceptions: Vec::new(),
            runtime_listeners: Vec::new(),
            host_addresses: Vec::new(),
            resolver: Arc::new(SystemResolver),
            gateway: None,
            secrets: Vec::new(),
            upstream_roots: Arc::new(webpki_roots()),
            limits: ProxyLimits::default(),
            inside_port: DEFAULT_INSIDE_PORT,
        }
    }
}

impl std::fmt::Debug for EgressConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EgressConfig")
            .field("policy", &self.policy)
            .field("exceptions", &self.exceptions)
            .field("runtime_listeners", &self.runtime_listeners)
            .field("host_addresses", &self.host_addresses)
            .field("gateway", &self.gateway)
            .field("secrets", &self.secrets)
            .field("upstream_roots", &self.upstream_roots.len())
            .field("limits", &self.limits)
            .field("inside_port", &self.inside_port)
            .finish_non_exhaustive()
    }
}

/// The Mozilla root certificates, as shipped by the `webpki-roots` crate.
pub fn webpki_roots() -> RootCertStore {
    RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    }
}

/// Bounds that keep a hostile client from exhausting the proxy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProxyLimits {
    /// Client connections served at once; more are closed as soon as they arrive.
    pub max_connections: usize,
    /// For each TCP connect, and each TLS handshake, with an upstream; and for name resolution.
    pub connect_timeout: Duration,
    /// Time a client has to send a complete request head. The clock starts when the proxy
    /// waits for the next request, so this is also how long a keep-alive connection may idle.
    pub header_read_timeout: Duration,
    /// Largest request head, in bytes (at least 8 KiB); larger ones get 431.
    pub max_header_bytes: usize,
}

impl Default for ProxyLimits {
    fn default() -> Self {
        ProxyLimits {
            max_connections: 256,
            connect_timeout: Duration::from_secs(10),
            header_read_timeout: Duration::from_secs(30),
            max_header_bytes: 64 * 1024,
        }
    }
}

/// Counters, for tests and health reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct EgressStats {
    /// Client connections being served now.
    pub open_connections: usize,
    /// Client connections closed on arrival because `max_connections` were open.
    pub refused_connections: u64,
    /// Requests refused (each reported to `on_denied`).
    pub denials: u64,
    /// TCP connects attempted to a destination (the gateway's pool not counted).
    pub upstream_connects: u64,
}

#[derive(Default)]
pub(crate) struct Stats {
    pub(crate) refused_connections: AtomicU64,
    pub(crate) denials: AtomicU64,
    pub(crate) upstream_connects: AtomicU64,
}

/// What `on_denied` is: called once per refused request, on the proxy's task, so it must not
/// block (send to a channel).
pub type OnDenied = Arc<dyn Fn(Denial) + Send + Sync>;

/// One sandbox's egress proxy. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct EgressProxy {
    inner: Arc<Inner>,
}

pub(crate) struct Inner {
    policy: EgressPolicy,
    guard: AddressGuard,
    resolver: Arc<dyn Resolver>,
    gateway: Option<GatewayClient>,
    secrets: Vec<SecretRule>,
    ca: Option<CertificateAuthority>,
    upstream_tls: Arc<ClientConfig>,
    limits: ProxyLimits,
    inside_port: u16,
    connections: Arc<Semaphore>,
    on_denied: OnDenied,
    stats: Stats,
}

/// A destination that passed every check.
pub(crate) struct Admitted {
    pub(crate) host: Host,
    pub(crate) port: u16,
    /// The checked addresses, IPv4-mapped ones folded: connect to these and nothing else.
    pub(crate) ips: Vec<IpAddr>,
}

impl EgressProxy {
    /// Builds a proxy. With secret rules it generates its certificate authority (see
    /// [`EgressProxy::ca_certificate_pem`]).
    pub fn new(
        config: EgressConfig,
        on_denied: impl Fn(Denial) + Send + Sync + 'static,
    ) -> Result<Self, EgressError> {
        let upstream_tls = upstream::client_tls_config(config.upstream_roots)?;
        let ca = if config.secrets.is_empty() {
            None
        } else {
            let mut names: Vec<String> = Vec::new();
            for rule in &config.secrets {
                for name in rule.hosts().iter().filter_map(|h| h.dns_name()) {
                    if !names.iter().any(|n| n == name) {
                        names.push(name.to_owned());
                    }
                }
            }
            Some(CertificateAuthority::generate(&names)?)
        };
        let gateway = config
            .gateway
            .map(|gateway| GatewayClient::new(gateway, upstream_tls.clone(), &config.limits));
        let max_connections = config.limits.max_connections.max(1);
        Ok(EgressProxy {
            inner: Arc::new(Inner {
                policy: config.policy,
                guard: AddressGuard {
                    exceptions: config.exceptions,
                    runtime_listeners: config.runtime_listeners,
                    host_addresses: config.host_addresses,
                },
                resolver: config.resolver,
                gateway,
                secrets: config.secrets,
                ca,
                upstream_tls,
                limits: config.limits,
                inside_port: config.inside_port,
                connections: Arc::new(Semaphore::new(max_connections)),
                on_denied: Arc::new(on_denied),
                stats: Stats::default(),
            }),
        })
    }

    /// The PEM certificate of this proxy's CA, which the sandbox must trust for secret
    /// injection to work; `None` when there are no secret rules (nothing is intercepted).
    pub fn ca_certificate_pem(&self) -> Option<&str> {
        self.inner.ca.as_ref().map(CertificateAuthority::pem)
    }

    /// Decides whether `host:port` may be reached, resolving the name, without connecting and
    /// without reporting a denial. Returns the addresses a connection would use.
    pub async fn check_destination(&self, host: &str, port: u16) -> Result<Vec<IpAddr>, Denial> {
        self.inner
            .admit(host, port)
            .await
            .map(|admitted| admitted.ips)
    }

    /// The proxy's counters.
    pub fn stats(&self) -> EgressStats {
        let stats = &self.inner.stats;
        let max = self.inner.limits.max_connections.max(1);
        EgressStats {
            open_connections: max - self.inner.connections.available_permits(),
            refused_connections: stats.refused_connections.load(Ordering::Relaxed),
            denials: stats.denials.load(Ordering::Relaxed),
            upstream_connects: stats.upstream_connects.load(Ordering::Relaxed),
        }
    }

    /// Serves one client connection (HTTP/1.1, keep-alive) until it closes, including any
    /// tunnel it opens. Every task it starts is owned here: dropping the future ends them all.
    /// Past `max_connections`, the stream is closed at once.
    pub async fn serve<S>(&self, stream: S)
    where
        S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
    {
        let Ok(_permit) = self.inner.connections.clone().try_acquire_owned() else {
            self.inner
                .stats
                .refused_connections
                .fetch_add(1, Ordering::Relaxed);
            warn!(
                max = self.inner.limits.max_connections,
                "egress: connection limit reached; closing a new client connection"
            );
            return;
        };
        // Unbounded, yet bounded in practice: each queued task belongs to one request of this
        // connection, and HTTP/1.1 serves its requests one at a time.
        let (sender, mut queued) = mpsc::unbounded_channel();
        let tasks = Tasks(sender);
        let inner = self.inner.clone();
        let service = service_fn(move |request| {
            let inner = inner.clone();
            let tasks = tasks.clone();
            async move { Ok::<_, Infallible>(dispatch(&inner, &tasks, request).await) }
        });
        let connection = server_builder(&self.inner.limits)
            .serve_connection(TokioIo::new(stream), service)
            .with_upgrades();
        let mut running = JoinSet::new();
        running.spawn(async move {
            if let Err(err) = connection.await {
                debug!("egress: client connection ended: {err}");
            }
        });
        // Every task sender lives in a running task, so once nothing runs the queue is closed
        // and drained, and both branches are disabled.
        loop {
            tokio::select! {
                Some(task) = queued.recv() => {
                    running.spawn(task);
                }
                Some(_) = running.join_next() => {}
                else => break,
            }
        }
    }
}

/// The HTTP/1.1 server settings for client connections (and intercepted tunnels).
pub(crate) fn server_builder(limits: &ProxyLimits) -> http1::Builder {
    let mut builder = http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout)
        .max_buf_size(limits.max_header_bytes.max(8192))
        .keep_alive(true);
    builder
}

type Task = Pin<Box<dyn Future<Output = ()> + Send>>;

/// Where a request's background work (a tunnel, an upstream connection) goes: into the task
/// set of the client connection it belongs to.
#[derive(Clone)]
pub(crate) struct Tasks(mpsc::UnboundedSender<Task>);

impl Tasks {
    pub(crate) fn spawn(&self, task: impl Future<Output = ()> + Send + 'static) {
        // Fails only once `serve` has ended, and then the work has no client left.
        let _ = self.0.send(Box::pin(task));
    }
}

async fn dispatch(
    inner: &Arc<Inner>,
    tasks: &Tasks,
    request: Request<Incoming>,
) -> Response<ProxyBody> {
    if request.method() == Method::CONNECT {
        return tunnel::handle(inner, tasks, request).await;
    }
    let uri = request.uri();
    match (uri.scheme_str(), uri.authority().cloned()) {
        (None, None) if uri.path().starts_with('/') => gateway::handle(inner, request).await,
        (Some("http"), Some(authority)) if inner.is_inside_address(&authority) => {
            gateway::handle(inner, request).await
        }
        (Some("http"), Some(authority)) => forward::handle(inner, tasks, request, authority).await,
        (Some(_), Some(authority)) => inner.refuse(
            Denial {
                host: authority.host().to_owned(),
                port: authority.port_u16().unwrap_or(0),
                reason: DenyReason::BadRequest,
                address: None,
            },
            Some("only http:// is forwarded in absolute form; use CONNECT for https"),
        ),
        _ => inner.refuse(
            Denial {
                host: String::new(),
                port: 0,
                reason: DenyReason::BadRequest,
                address: None,
            },
            Some("the request target is neither a path nor an http:// URL"),
        ),
    }
}

/// Longest host kept in a denial: it travels in events and must stay small.
const MAX_DENIAL_HOST_LEN: usize = 255;

impl Inner {
    /// Decides `host:port`: parse, policy, resolve, address guard.
    pub(crate) async fn admit(&self, host_text: &str, port: u16) -> Result<Admitted, Denial> {
        let denial = |host: String, reason: DenyReason, address: Option<IpAddr>| Denial {
            host,
            port,
            reason,
            address,
        };
        let host = match Host::parse(host_text) {
            Ok(host) => host,
            Err(_) => {
                let mut shown = host_text.to_owned();
                shown.truncate(MAX_DENIAL_HOST_LEN);
                return Err(denial(shown, DenyReason::BadRequest, None));
            }
        };
        let shown = host.to_string();
        if let Err(reason) = self.policy.check(&host, port) {
            return Err(denial(shown, reason, None));
        }
        let ips = match &host {
            Host::Ip(ip) => vec![*ip],
            Host::Name(name) => {
                let lookup = self.resolver.resolve(name);
                match tokio::time::timeout(self.limits.connect_timeout, lookup).await {
                    Ok(Ok(ips)) if !ips.is_empty() => ips,
                    Ok(Ok(_)) | Ok(Err(_)) | Err(_) => {
                        return Err(denial(shown, DenyReason::ResolveFailed, None))
                    }
                }
            }
        };
        let ips: Vec<IpAddr> = ips.into_iter().map(canonical_ip).collect();
        if let Err((reason, ip)) = self.guard.check_all(&ips, port) {
            return Err(denial(shown, reason, Some(ip)));
        }
        Ok(Admitted { host, port, ips })
    }

    /// Reports a refusal to `on_denied` and builds the response for it.
    pub(crate) fn refuse(&self, denial: Denial, detail: Option<&str>) -> Response<ProxyBody> {
        info!(
            host = %denial.host,
            port = denial.port,
            reason = denial.reason.code(),
            address = ?denial.address,
            "egress: denied"
        );
        self.stats.denials.fetch_add(1, Ordering::Relaxed);
        let response = http::refusal(&denial, detail);
        (self.on_denied)(denial);
        response
    }

    /// The headers the secret rules set for a CONNECT to `host:port`; empty for a blind tunnel.
    pub(crate) fn secret_headers(&self, host: &Host, port: u16) -> Vec<(HeaderName, HeaderValue)> {
        self.secrets
            .iter()
            .filter(|rule| rule.applies_to(host, port))
            .map(|rule| (rule.header().clone(), rule.value().clone()))
            .collect()
    }

    /// Whether an absolute-form authority names the proxy itself, as the sandbox sees it.
    fn is_inside_address(&self, authority: &Authority) -> bool {
        let host = authority.host().to_ascii_lowercase();
        let local = matches!(host.as_str(), "127.0.0.1" | "localhost" | "[::1]");
        local && authority.port_u16().unwrap_or(80) == self.inside_port
    }
}
