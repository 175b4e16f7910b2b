//! Wire and domain types of agent-runtime: everything that crosses a process boundary.
//!
//! No tokio, no I/O, no business logic. The TypeScript the React package uses is generated from
//! these types.
//!
//! # Layout
//! - [`approval`]: permission modes and rules, permission requests, questions, budgets.
//! - [`block`]: the blocks a conversation thread is made of.
//! - [`event`]: session events and the numbered [`Envelope`] that carries them.
//! - [`state`]: the folded [`SessionState`] and the one pure [`fold`].
//! - [`profile`]: agent profiles, written into the sandbox by each agent in its own layout.
//! - [`api`]: REST bodies, including the problem+json error body.
//! - [`ws`]: WebSocket frames.
//! - [`typescript`]: generation of `packages/react/src/generated/protocol.ts`.

pub mod api;
pub mod approval;
pub mod block;
pub mod event;
pub mod profile;
pub mod state;
pub mod typescript;
pub mod ws;

pub use api::*;
pub use approval::*;
pub use block::*;
pub use event::*;
pub use profile::*;
pub use state::{fold, fold_all, NetworkDenial, SessionState, SubagentThread, MAX_NETWORK_DENIALS};
pub use ws::*;
