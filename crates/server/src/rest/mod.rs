//! REST handlers under `/api`, one module per resource. Each handler only translates between
//! HTTP and a [`Runtime`](agent_runtime_core::Runtime) call; errors go through
//! [`ApiError`](crate::error::ApiError).

pub mod agents;
pub mod approvals;
pub mod files;
pub mod profiles;
pub mod sessions;
pub mod transcripts;
