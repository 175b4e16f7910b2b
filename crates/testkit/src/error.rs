//! Errors of the testkit crate.

use std::path::PathBuf;
use std::time::Duration;

/// Everything that can go wrong starting the server, loading scenarios or waiting.
#[derive(Debug, thiserror::Error)]
pub enum TestkitError {
    /// The listening socket could not be bound.
    #[error("cannot bind the scripted model server to {addr}")]
    Bind {
        /// Requested address.
        addr: std::net::SocketAddr,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A scenario file could not be read.
    #[error("cannot read scenario file {path}")]
    ScenarioRead {
        /// File path.
        path: PathBuf,
        /// Cause.
        #[source]
        source: std::io::Error,
    },
    /// A scenario is not valid JSON for [`crate::Scenario`].
    #[error("invalid scenario JSON in {origin}")]
    ScenarioJson {
        /// File path or `<string>`.
        origin: String,
        /// Cause.
        #[source]
        source: serde_json::Error,
    },
    /// `wait_for_*` gave up.
    #[error("timed out after {timeout:?} waiting for {wanted} requests (got {got})")]
    WaitTimeout {
        /// Requests waited for.
        wanted: usize,
        /// Requests seen when giving up.
        got: usize,
        /// The timeout.
        timeout: Duration,
    },
}
