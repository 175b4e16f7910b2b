//! agent-runtime agents crate.
