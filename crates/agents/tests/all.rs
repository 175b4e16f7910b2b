//! Integration tests of the agents crate: real captured agent output, snapshotted.

// Helpers outside `#[test]` functions may panic too: this is a test binary.
#![allow(clippy::unwrap_used)]

mod suite;
