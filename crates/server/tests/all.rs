//! The server's integration tests: the real server on port 0, driven over HTTP, WebSocket and
//! SSE through `agent-runtime-client`. See `suite/support.rs` for `TestServer`.

mod suite;
