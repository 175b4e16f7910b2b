//! agent-runtime sandbox crate.
