//! The server's integration tests: the real server on port 0, driven over HTTP, WebSocket and
//! SSE through `agent-runtime-client`. See `suite/support.rs` for `TestServer`.

// Scenario bodies shared by several `#[test]`s are plain functions; they may unwrap too.
#![allow(clippy::unwrap_used)]

mod suite;
