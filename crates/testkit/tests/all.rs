//! The one integration test binary of the testkit crate (see `suite/`).

// Helpers outside `#[test]` functions may panic too: this is a test binary.
#![allow(clippy::unwrap_used)]

mod suite;
