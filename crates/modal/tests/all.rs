//! The one integration test binary of this crate; the tests live in `suite/`.

// Test helpers outside `#[test]` functions panic on failure by design.
#![allow(clippy::unwrap_used)]

mod suite;
