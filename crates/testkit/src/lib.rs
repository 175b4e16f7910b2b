//! agent-runtime testkit crate.
