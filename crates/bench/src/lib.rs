//! The benchmark harness of agent-runtime: it drives the real release `agent-runtime` binary as
//! a separate process, on loopback ports, with the real Claude Code CLI against the scripted
//! model, and prints each figure beside its anchor and the ratio. `docs/performance.md` says
//! what each figure means; its table and plot are written by this harness
//! (`cargo run --release -p agent-runtime-bench -- all --markdown docs/performance.md --svg
//! docs/fanout-latency.svg`).
//!
//! Timing lives here and never in a pass/fail test; the unit tests below cover the pure pieces
//! (percentiles, frame reading, the table, the plot, the generated sessions).
//!
//! # Layout
//! - [`run`]: which figures, at which sizes, in which order; writes the table and the plot.
//! - [`server`]: the `agent-runtime` process: started on a free loopback port, timed to
//!   `/healthz`, its CPU time and RSS.
//! - [`procfs`]: `/proc/<pid>/stat` and `status`, and the file-descriptor limit.
//! - [`model`]: what the scripted model answers (at once, or a long reply at a pace).
//! - [`cli`]: the raw Claude CLI started by hand, the first-token anchor.
//! - [`first_token`]: cold and warm first token.
//! - [`fanout`]: thousands of WebSocket subscribers to one session.
//! - [`fanout_rows`]: the fan-out rows of the table, beside their anchors.
//! - [`direct`]: a bare sender to as many loopback sockets, the steady fan-out's floor.
//! - [`socket`], [`frame`]: bare WebSocket clients and the cheap reader of their frames.
//! - [`dataset`]: databases of generated sessions, prepared through the store and cached.
//! - [`stored`]: loading a big session, start-up on a big store, memory per loaded session.
//! - [`concurrent`]: many turns at once.
//! - [`cluster`]: three nodes over PostgreSQL: cross-node delivery latency, takeover time.
//! - [`stats`], [`report`], [`svg`]: percentiles, the table, the plot.

// A benchmark prints its figures; that is its whole output.
#![allow(clippy::print_stdout, clippy::print_stderr)]

pub mod cli;
pub mod cluster;
pub mod concurrent;
pub mod dataset;
pub mod direct;
pub mod fanout;
pub mod fanout_rows;
pub mod first_token;
pub mod frame;
pub mod model;
pub mod procfs;
pub mod reader;
pub mod report;
pub mod run;
pub mod server;
pub mod socket;
pub mod stats;
pub mod stored;
pub mod svg;

use std::time::Duration;

/// A duration in milliseconds.
pub fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// Bytes in MiB.
pub fn mib(bytes: u64) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}
