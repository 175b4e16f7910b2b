//! Runtime tests with the real agent CLI in real sandboxes against the scripted model.

// Test bodies shared by every agent's `#[test]` are plain functions; they may unwrap too.
#![allow(clippy::unwrap_used)]

mod suite;
