//! The crate's one integration test binary: the store contract suite against every backend.

mod suite;
