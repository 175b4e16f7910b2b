//! agent-runtime store crate.
