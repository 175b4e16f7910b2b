//! The one integration test binary of the testkit crate (see `suite/`).

mod suite;
