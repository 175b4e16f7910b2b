//! agent-runtime server crate.
