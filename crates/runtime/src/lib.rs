//! agent-runtime runtime crate.
