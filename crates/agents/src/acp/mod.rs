//! The Agent Client Protocol (ACP): one client for every agent that speaks it.
//!
//! ACP is JSON-RPC 2.0 over the agent's stdio, one message per line. The runtime is the client:
//! it starts the agent's process in the sandbox, and the [`AcpTranslator`] speaks the protocol
//! (`initialize`, `session/new` or `session/load`, `session/prompt`, `session/cancel`,
//! `session/request_permission`) and turns `session/update`s into block events. What an agent
//! needs beyond the protocol (its package, arguments, configuration, where it keeps sessions)
//! is an [`AcpAgentSpec`].
//!
//! # Layout
//! - [`rpc`]: JSON-RPC lines out, messages in. Our own types, tolerant of what agents add;
//!   `tools/acp-conformance` checks what they write against the official
//!   `agent-client-protocol-schema` crate.
//! - [`translator`]: [`AcpTranslator`], the per-process state machine.
//! - [`blocks`]: `session/update`s of a turn -> block events.
//! - [`spec`]: [`AcpAgentSpec`], installing and launching one agent, its transcript files.
//!
//! The client advertises no `fs` and no `terminal` capability: the agent runs inside the
//! sandbox with its own workspace, so it reads, writes and runs commands itself; requests for
//! either are answered "method not found".

mod blocks;
pub mod rpc;
pub mod spec;
pub mod translator;

pub use spec::{AcpAgentSpec, Flavor};
pub use translator::{AcpSessionSetup, AcpTranslator};

/// The tool name permission rules (and people) know for an ACP tool kind: `execute` is `Bash`,
/// `edit`, `delete` and `move` are `Edit`, `read` is `Read`, `search` is `Grep`, `fetch` is
/// `WebFetch`; `think` and `other` have none.
pub(crate) fn kind_tool(kind: &str) -> Option<&'static str> {
    match kind {
        "execute" => Some("Bash"),
        "edit" | "delete" | "move" => Some("Edit"),
        "read" => Some("Read"),
        "search" => Some("Grep"),
        "fetch" => Some("WebFetch"),
        _ => None,
    }
}
