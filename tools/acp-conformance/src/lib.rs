//! Nothing here: the checks are `tests/conformance.rs`.
