//! Session persistence for agent-runtime.
//!
//! Everything the runtime keeps about a session (its record, its numbered event log, the agent's
//! native transcripts, workspace files, whether it is open: the recovery index the runtime reads
//! at start instead of every log) and the agent profiles sit behind one object-safe trait,
//! [`SessionStore`], held as `Arc<dyn SessionStore>`. Backends are chosen by URL with
//! [`open_store`].
//!
//! # Layout
//! - [`store`]: the [`SessionStore`] trait; its docs are the contract a backend implements.
//! - [`record`]: [`SessionRecord`], [`SessionPage`], [`TranscriptMeta`].
//! - [`error`]: [`StoreError`], the one error every method returns.
//! - [`shared`]: what backends share: the session-list cursor, file hashing, key checks, clock.
//! - `sql` (private): what the SQL backends share: the session row, integer conversions.
//! - [`memory`]: [`MemoryStore`], in process memory.
//! - [`sqlite`]: [`SqliteStore`], one SQLite file (WAL); migrations in `migrations/sqlite/`.
//! - [`postgres`]: [`PostgresStore`], a PostgreSQL database several processes can share;
//!   migrations in `migrations/postgres/`.
//! - [`cluster`]: [`ClusterStore`], what several runtime nodes need (node liveness, one owner per
//!   session with a fencing token, fenced appends, notifications); [`postgres_cluster`] its
//!   PostgreSQL implementation. `contract::cluster` holds its contract cases.
//! - [`factory`]: [`open_store`] from `memory`, `sqlite://PATH`, `postgres://...`.
//! - `contract` (feature `contract-tests`): the test suite every backend must pass, and
//!   `contract::postgres::TestDatabase`, a scratch PostgreSQL database per test.
//!
//! # Contract suite
//!
//! With the `contract-tests` feature, `contract` holds one async function per case, each taking
//! a fresh `contract::TestStore`. `store_contract_tests!(make)` turns them into one
//! `#[tokio::test]` per case for a backend; `contract::run_all(make)` runs them all in one test.
//! This crate runs the suite for every backend in `tests/suite/` (PostgreSQL on the server named
//! by `AGENT_RUNTIME_TEST_POSTGRES`, one scratch database per case; unreachable means failed).
//!
//! # Writing your own backend
//!
//! A backend is a type implementing [`SessionStore`]; the trait's docs are the contract, and
//! everything an implementation needs is public: the record types, [`StoreError`], the helpers
//! in [`shared`] (cursor encoding, file hashing, key checks, the clock), and the protocol types
//! re-exported here ([`Envelope`], [`SessionEvent`], [`FileInfo`], [`AgentProfile`]). Check it
//! with the contract suite from your crate's tests:
//!
//! ```toml
//! [dependencies]
//! agent-runtime-store = { git = "…" }
//! async-trait = "0.1"
//!
//! [dev-dependencies]
//! agent-runtime-store = { git = "…", features = ["contract-tests"] }
//! tokio = { version = "1", features = ["macros", "rt-multi-thread"] }
//! ```
//!
//! ```ignore
//! // tests/contract.rs
//! use std::sync::Arc;
//! use agent_runtime_store::contract::TestStore;
//! use agent_runtime_store::SessionStore;
//!
//! /// A fresh, empty store for each case.
//! async fn fresh_store() -> TestStore {
//!     let db = MyScratchDatabase::create().await; // dropped when the case ends
//!     let url = db.url().to_string();
//!     let store = MyStore::connect(&url).await.unwrap();
//!     TestStore::new(Arc::new(store))
//!         // Optional: enables the reopen and two-stores-on-one-storage cases.
//!         .with_reopen(move || {
//!             let url = url.clone();
//!             async move { Arc::new(MyStore::connect(&url).await.unwrap()) as Arc<dyn SessionStore> }
//!         })
//!         // Optional, once the schema has a second version: see `contract::upgrade`.
//!         // .with_previous_schema(|data| async move { /* write `data` with the old schema */ })
//!         .with_guard(db)
//! }
//!
//! agent_runtime_store::store_contract_tests!(fresh_store); // one #[tokio::test] per case
//! ```
//!
//! A backend that passes every case can replace any built-in one: the runtime takes its store as
//! an `Arc<dyn SessionStore>`. `tests/suite/external.rs` implements the trait the way another
//! crate would (a decorator around another store, public items only) and runs the suite on it.

pub mod cluster;
pub mod error;
pub mod factory;
pub mod memory;
pub mod postgres;
pub mod postgres_cluster;
pub mod record;
pub mod shared;
mod sql;
pub mod sqlite;
pub mod store;

#[cfg(feature = "contract-tests")]
pub mod contract;

pub use agent_runtime_protocol::{AgentProfile, Envelope, FileInfo, SessionEvent};
pub use cluster::{ClusterListener, ClusterStore, Fence, Heard, NodeId, NodeInfo, Ownership};
pub use error::{Result, StoreError};
pub use factory::open_store;
pub use memory::MemoryStore;
pub use postgres::PostgresStore;
pub use record::{SessionPage, SessionRecord, TranscriptMeta};
pub use sqlite::SqliteStore;
pub use store::SessionStore;
