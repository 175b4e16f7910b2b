//! Rebuilds the crate when a migration changes: `sqlx::migrate!` embeds them at compile time.

// Cargo reads build-script instructions from stdout.
#![allow(clippy::print_stdout)]

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
