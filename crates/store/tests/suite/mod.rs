//! One module per backend; each runs every contract case as its own test.

mod memory;
mod sqlite;
