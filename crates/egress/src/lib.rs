//! The egress proxy of agent-runtime: the one way out of a sandbox's network namespace.
//!
//! Each sandbox has its own network namespace with only loopback. The runtime accepts
//! connections on a per-sandbox unix socket (bridged to `127.0.0.1:3128` inside the sandbox,
//! where `HTTP_PROXY`/`HTTPS_PROXY` point) and hands each stream to [`EgressProxy::serve`].
//! The proxy decides every destination by name (the profile's [`EgressPolicy`]) and then by
//! address (the [`AddressGuard`]): loopback, private, link-local, metadata, reserved and this
//! host's own addresses are refused unless an operator [`AddressException`] names them, and
//! the runtime's own listeners are refused always. It resolves names itself and connects only
//! to an address it checked. Model API requests, sent by the agent to its base URL (the proxy
//! itself), go through the [`ModelGateway`], which swaps the agent's placeholder key for the
//! real one; profile secrets are set as headers over TLS for the hosts a [`SecretRule`] names.
//!
//! # Layout
//!
//! - [`host`]: `Host` parsing and normalisation, `PortRule`, the `host:port` split.
//! - [`policy`]: `PolicyKind`, `HostPattern`, `EgressPolicy` (the decision by name).
//! - [`address`]: `classify`, what kind of destination an IP address is; `Cidr`.
//! - [`exception`]: `AddressException`, the operator's explicit openings.
//! - [`decision`]: `DenyReason`, `Denial`, `AddressGuard` (the decision by address).
//! - [`interfaces`]: `local_interface_addresses`, this host's own addresses from `/proc/net`.
//! - [`resolver`]: the `Resolver` trait, `SystemResolver`, `StaticResolver`.
//! - [`proxy`]: `EgressProxy` and its `EgressConfig`; inside it, `tunnel` (CONNECT),
//!   `forward` (plain HTTP), `gateway` (`ModelGateway`), `rehearsal` (`Rehearsal`: the
//!   gateway answering by itself for a warm pool's warm-up turn), `secrets` (`SecretRule`, TLS
//!   interception), `ca` (the per-proxy certificate authority), `upstream` (connections to
//!   checked addresses) and `http` (headers, refusals, streaming bodies).
//! - [`error`]: `EgressError`, the crate's one error enum.
//!
//! # Limits
//!
//! HTTP/1.1 only: HTTP/2 is neither accepted from clients nor offered inside an intercepted
//! tunnel (ALPN says `http/1.1`). WebSocket upgrades work through blind CONNECT tunnels, not
//! through plain-HTTP forwarding or an intercepted tunnel. Secrets are injected over TLS only.
//! Bytes that do not parse as HTTP/1.1 get hyper's own `400` (or `431` for an oversized head)
//! and the connection is closed; only requests that parse but cannot be served as proxy
//! requests are reported to `on_denied` (`bad_request`).

pub mod address;
pub mod decision;
pub mod error;
pub mod exception;
pub mod host;
pub mod interfaces;
pub mod policy;
pub mod proxy;
pub mod resolver;

pub use address::{classify, AddressClass, Cidr, Classification, Embedding};
pub use decision::{AddressGuard, Denial, DenyReason};
pub use error::EgressError;
pub use exception::AddressException;
pub use host::{Host, PortRule};
pub use interfaces::local_interface_addresses;
pub use policy::{EgressPolicy, HostPattern, PolicyKind};
pub use proxy::{
    webpki_roots, EgressConfig, EgressProxy, EgressStats, ModelGateway, OnDenied, ProxyLimits,
    Rehearsal, SecretRule, DEFAULT_INSIDE_PORT, DENIED_HEADER, PLACEHOLDER_HEADERS,
    PLACEHOLDER_QUERY_PARAMS, REHEARSAL_REPLY,
};
pub use resolver::{Resolver, StaticResolver, SystemResolver};
