//! The agent-runtime core: sessions, turns, sandboxes' lifecycle, and the event log.
//!
//! # Layout
//! - [`manager`]: [`Runtime`], the session manager every interface (REST, WebSocket, SSE) calls.
//! - `session`: one actor task per loaded session owning its sandbox and agent process
//!   (`actor.rs` the loop and sandbox/process start, `turn.rs` turns and interrupts, `files.rs`
//!   workspace and transcript sync, `process.rs` the agent child process, `launch.rs` starting a
//!   sandbox and an agent in it (shared with the warm pool), `network.rs` the sandbox's egress
//!   proxy, model gateway and `network_denied` reports, `residency.rs` the open mark of the
//!   recovery index and unloading a quiet session, `ownership.rs` the session's lease on a node
//!   of several).
//! - `cluster`: this process as one node of several over PostgreSQL: registration and
//!   heartbeat, following other nodes' appends, taking over a dead node's sessions
//!   (`docs/scaling.md`).
//! - `pool`: the warm pool, sandboxes with their agent started ahead of new sessions.
//! - `registry`: the loaded sessions, one load slot per id (no lock held while loading), and
//!   how a quiet session leaves memory.
//! - [`log`]: the per-session event log: durable append with group commit of text deltas, fold,
//!   ring, fan-out of events shared and encoded once, subscriptions, fenced writes and following
//!   the store on a node of several (tests in `log_tests.rs` and `log_cluster_tests.rs`).
//! - [`metrics`]: the process's Prometheus metrics (turns, sandbox starts, first token, appends,
//!   fan-out, refused egress, the warm pool) and their text exposition, served at `/metrics`.
//! - [`installer`]: installs the pinned agent CLIs from npm.
//! - [`config`]: [`RuntimeConfig`], decided by the binary.
//! - [`limits`]: [`Limits`] of a sandbox: server defaults, profile overrides, validation.
//! - [`paths`]: validation of client-supplied workspace paths.
//! - [`profile_sandbox`]: a profile's sandbox settings at the API's edge: validation, write-only
//!   secrets.
//! - `protections`: what confines a sandbox on this host, for the log and `/healthz`.
//! - [`error`]: the runtime's error enum, [`RuntimeError`].
//!
//! Task ownership: the runtime's cancellation token is the parent of every session's; each
//! session's actor is tracked, and [`Runtime::shutdown`] cancels them all and waits.

mod cluster;
pub mod config;
pub mod error;
pub mod installer;
pub mod limits;
pub mod log;
pub mod manager;
pub mod metrics;
pub mod paths;
mod pool;
pub mod profile_sandbox;
mod protections;
mod registry;
pub mod rules;
pub mod sandboxes;
mod session;
pub mod time;

pub use config::{
    AgentRegistry, ClusterConfig, EgressSettings, ModelApi, ModelEndpoint, RuntimeConfig,
    SandboxDefaults, DEFAULT_LEASE_TTL, DEFAULT_SESSION_UNLOAD_AFTER,
};
pub use error::{Result, RuntimeError};
pub use limits::Limits;
pub use log::{Encoding, SharedEvent, Subscription, SubscriptionItem};
pub use manager::Runtime;
pub use sandboxes::{Reconciled, SandboxProviders};
