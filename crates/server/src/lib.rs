//! The agent-runtime HTTP server: REST, WebSocket and SSE over the [`Runtime`], API-key auth,
//! the one error table, configuration and startup.
//!
//! The binary (`src/main.rs`) only parses the command line; everything else lives here so tests
//! start the real server in-process ([`start`] with a [`ServerConfig`] on port 0).
//!
//! # Layout
//! - [`config`]: [`ServerConfig`], merged from flags, environment and a TOML file (the only place
//!   that reads the environment); [`config_sandbox`] its sandbox part (network policy, limits,
//!   host uids); [`config_cluster`] its node-of-several part; [`config_placement`] where
//!   sandboxes run (local or Modal) and the installation id that labels them.
//! - [`server`]: [`start`] / [`serve`]: the startup sequence and graceful shutdown.
//! - [`app`]: [`build_app`], the router, [`ROUTES`] and [`AppState`].
//! - [`error`]: [`ApiError`], the one table from errors to status + problem+json.
//! - [`extract`]: extractors whose rejections are [`ApiError`]s.
//! - [`edge`]: what every request passes first: the `Host` check (DNS rebinding), the `Origin`
//!   check (cross-site requests and WebSockets), CORS for allowed origins, `nosniff`.
//! - [`auth`]: API keys (constant-time) and the REST middleware.
//! - [`forward`]: on a node of several, commands for a session another node owns are forwarded
//!   to it (REST middleware and WebSocket commands), with the shared cluster secret.
//! - [`rest`]: REST handlers: sessions and messages, files, transcripts, agent profiles, agents.
//! - [`sse`]: `GET /api/sessions/{id}/events`, written from each event's shared encoding.
//! - [`ws`]: `/api/ws`: connection (coalesced writes), commands, subscriptions.
//! - [`openapi`]: `GET /openapi.json`, embedded from `api/openapi.json`.
//! - [`otlp`]: the optional OTLP export of tracing spans (`--otlp-endpoint`).
//! - [`ui`]: the web UI (`web/dist`, embedded), served as the router's fallback.
//!
//! [`Runtime`]: agent_runtime_core::Runtime

pub mod app;
pub mod auth;
pub mod config;
pub mod config_cluster;
pub mod config_placement;
pub mod config_sandbox;
pub mod edge;
pub mod error;
pub mod extract;
pub mod forward;
mod modal;
pub mod openapi;
pub mod otlp;
pub mod rest;
pub mod server;
pub mod sse;
pub mod ui;
pub mod ws;

pub use app::{build_app, AppState, BodyLimits, ROUTES};
pub use config::{ConfigError, ServerConfig};
pub use error::ApiError;
pub use server::{serve, start, RunningServer, ServeError};
