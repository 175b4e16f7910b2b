//! Session persistence for agent-runtime.
//!
//! Everything the runtime keeps about a session (its record, its numbered event log, the agent's
//! native transcripts, workspace files) and the agent profiles sit behind one object-safe trait,
//! [`SessionStore`], held as `Arc<dyn SessionStore>`. Backends are chosen by URL with
//! [`open_store`].
//!
//! # Layout
//! - [`store`]: the [`SessionStore`] trait; its docs are the contract a backend implements.
//! - [`record`]: [`SessionRecord`], [`SessionPage`], [`TranscriptMeta`].
//! - [`error`]: [`StoreError`], the one error every method returns.
//! - [`shared`]: what backends share: the session-list cursor, file hashing, key checks, clock.
//! - [`memory`]: [`MemoryStore`], in process memory.
//! - [`sqlite`]: [`SqliteStore`], one SQLite file (WAL); migrations in `migrations/sqlite/`.
//! - [`factory`]: [`open_store`] from `memory`, `sqlite://PATH`, (later) `postgres://...`.
//! - `contract` (feature `contract-tests`): the test suite every backend must pass.
//!
//! # Contract suite
//!
//! With the `contract-tests` feature, `contract` holds one async function per case, each taking
//! a fresh `contract::TestStore`. `store_contract_tests!(make)` turns them into one
//! `#[tokio::test]` per case for a backend; `contract::run_all(make)` runs them all in one test.
//! This crate runs the suite for every backend in `tests/suite/`.

pub mod error;
pub mod factory;
pub mod memory;
pub mod record;
pub mod shared;
pub mod sqlite;
pub mod store;

#[cfg(feature = "contract-tests")]
pub mod contract;

pub use error::{Result, StoreError};
pub use factory::open_store;
pub use memory::MemoryStore;
pub use record::{SessionPage, SessionRecord, TranscriptMeta};
pub use sqlite::SqliteStore;
pub use store::SessionStore;
