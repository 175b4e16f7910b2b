//! agent-runtime client crate.
