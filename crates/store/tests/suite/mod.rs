//! One module per backend; each runs every contract case as its own test.

mod external;
mod memory;
mod postgres;
mod sqlite;

use std::path::Path;

use sqlx::migrate::Migrator;
use tempfile::TempDir;

/// The migrations in `crates/store/migrations/<backend>/` except the newest: the schema the
/// previous release left behind. Keep the `TempDir` alive while the migrator runs.
pub async fn previous_migrations(backend: &str) -> (Migrator, TempDir) {
    let source = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("migrations")
        .join(backend);
    let mut files: Vec<_> = std::fs::read_dir(&source)
        .expect("migrations dir")
        .map(|entry| entry.expect("dir entry").path())
        .collect();
    files.sort();
    files.pop();
    assert!(!files.is_empty(), "{backend} has only one migration");
    let dir = tempfile::tempdir().expect("tempdir");
    for file in &files {
        std::fs::copy(file, dir.path().join(file.file_name().expect("name"))).expect("copy");
    }
    let migrator = Migrator::new(dir.path())
        .await
        .expect("previous migrations");
    (migrator, dir)
}
