//! The contract suite: what every [`SessionStore`] backend must do, as runnable tests.
//!
//! Each case is a `pub async fn(TestStore)` that panics on a broken promise. A backend runs them
//! all, each on a fresh, empty store; the crate docs ([`crate#writing-your-own-backend`]) show
//! the whole setup for a backend in another crate:
//!
//! ```ignore
//! async fn fresh_store() -> agent_runtime_store::contract::TestStore {
//!     let store = MyStore::connect_to_a_new_database().await;
//!     agent_runtime_store::contract::TestStore::new(Arc::new(store))
//!         .with_reopen(move || async move { /* open the same database again */ })
//! }
//! agent_runtime_store::store_contract_tests!(fresh_store); // one #[tokio::test] per case
//! ```
//!
//! or, in one test, `contract::run_all(fresh_store).await`.
//!
//! Cases are grouped by topic: [`sessions`], [`events`], [`blobs`] (transcripts and files),
//! [`open`] (the recovery index of open sessions), [`lifecycle`] (profiles, reopen, close), [`upgrade`] (migrating data written by the previous
//! schema). Cases that need a capability a backend did not give its [`TestStore`]
//! ([`TestStore::with_reopen`], [`TestStore::with_previous_schema`]) pass without checking.
//!
//! [`postgres::TestDatabase`] gives each PostgreSQL test a scratch database of its own.

use std::any::Any;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use agent_runtime_protocol::{SessionEvent, SessionInfo};

use crate::record::SessionRecord;
use crate::store::SessionStore;

pub mod blobs;
pub mod cluster;
pub mod events;
pub mod lifecycle;
pub mod open;
pub mod postgres;
pub mod sessions;
pub mod upgrade;

pub use blobs::*;
pub use events::*;
pub use lifecycle::*;
pub use open::*;
pub use sessions::*;
pub use upgrade::*;

/// Opens another store on the storage of a [`TestStore`]: after its store was closed (a
/// restart), or while it is still open (a second process sharing the storage).
pub type Reopen =
    Box<dyn Fn() -> Pin<Box<dyn Future<Output = Arc<dyn SessionStore>> + Send>> + Send + Sync>;

/// Writes [`PreviousSchemaData`] into fresh storage the way the backend's previous schema version
/// stored it (migrations up to the one before the newest, rows written with plain SQL), then
/// opens that storage with the current code, which migrates it, and returns it as a
/// [`TestStore`].
pub type FromPreviousSchema = Box<
    dyn Fn(PreviousSchemaData) -> Pin<Box<dyn Future<Output = TestStore> + Send>> + Send + Sync,
>;

/// A fresh, empty store for one contract case.
pub struct TestStore {
    pub store: Arc<dyn SessionStore>,
    /// Opens another store on the same storage, after `store.close()` or while `store` is
    /// open. `None` for backends that keep nothing across a reopen (memory): the cases that need
    /// it then pass without checking.
    pub reopen: Option<Reopen>,
    /// Sets up storage holding data written by the previous schema. `None` for backends without
    /// a schema (memory) or with only one version: the upgrade case then passes without checking.
    pub from_previous_schema: Option<FromPreviousSchema>,
    /// Kept alive until the case ends (a temporary directory, a scratch database to drop).
    pub guard: Option<Box<dyn Any + Send + Sync>>,
}

impl TestStore {
    /// A store without the reopen capability.
    pub fn new(store: Arc<dyn SessionStore>) -> Self {
        TestStore {
            store,
            reopen: None,
            from_previous_schema: None,
            guard: None,
        }
    }

    /// Adds the capability to open another store on the same storage (a restart, or a second
    /// process). The reopened store must see everything the first one wrote.
    pub fn with_reopen<F, Fut>(mut self, reopen: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Arc<dyn SessionStore>> + Send + 'static,
    {
        self.reopen = Some(Box::new(move || Box::pin(reopen())));
        self
    }

    /// Adds the capability to set up storage written by the previous schema version (see
    /// [`FromPreviousSchema`] and [`upgrade_from_previous_schema_keeps_everything`]).
    pub fn with_previous_schema<F, Fut>(mut self, setup: F) -> Self
    where
        F: Fn(PreviousSchemaData) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = TestStore> + Send + 'static,
    {
        self.from_previous_schema = Some(Box::new(move |data| Box::pin(setup(data))));
        self
    }

    /// Keeps `guard` alive as long as the case runs.
    pub fn with_guard(mut self, guard: impl Any + Send + Sync) -> Self {
        self.guard = Some(Box::new(guard));
        self
    }
}

/// Runs every case in turn, each on a store from `make`. Prefer [`store_contract_tests!`]
/// (one test per case, run in parallel); this is for a single test.
///
/// [`store_contract_tests!`]: crate::store_contract_tests
pub async fn run_all<F, Fut>(make: F)
where
    F: Fn() -> Fut,
    Fut: Future<Output = TestStore>,
{
    crate::__store_contract_cases!(run_all make);
}

/// Names the failing case when a case panics inside [`run_all`].
#[doc(hidden)]
pub struct CaseGuard(pub &'static str);

impl Drop for CaseGuard {
    fn drop(&mut self) {
        if std::thread::panicking() {
            eprintln!("store contract case `{}` failed", self.0);
        }
    }
}

/// Generates one `#[tokio::test]` per contract case, each on a fresh store from `$make`
/// (a path to, or expression of, an `async fn() -> TestStore`). Use it inside a module named
/// after the backend, so test names read `sqlite::concurrent_appends_are_gapless`.
/// The calling crate needs `tokio` with the `macros` and `rt-multi-thread` features.
#[macro_export]
macro_rules! store_contract_tests {
    ($make:expr) => {
        $crate::__store_contract_cases!(tests $make);
    };
}

/// The list of cases, in one place; expands through [`__store_contract_dispatch!`].
#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract_cases {
    ($($mode:tt)*) => {
        $crate::__store_contract_dispatch! { [$($mode)*]
            // sessions
            create_and_get_session,
            update_session_writes_mutable_fields,
            delete_session_removes_everything,
            list_sessions_pages_newest_first,
            list_sessions_is_stable_under_inserts,
            list_sessions_is_stable_under_concurrent_writes,
            list_sessions_rejects_bad_input,
            keys_sort_bytewise_and_are_not_normalized,
            // events
            append_assigns_gapless_seq_from_one,
            concurrent_appends_are_gapless,
            appends_from_two_stores_are_gapless,
            event_text_round_trips_exactly,
            read_events_after_and_limit,
            append_to_unknown_session_is_not_found,
            event_logs_are_per_session,
            // transcripts and files
            transcripts_put_get_list_overwrite,
            large_transcript_round_trips,
            large_file_round_trips,
            many_workspace_files,
            binary_file_keeps_every_byte,
            unicode_paths,
            file_sha256_and_overwrite,
            blob_writes_need_a_session,
            // the recovery index
            open_marks_are_set_cleared_and_listed_in_id_order,
            open_marks_belong_to_their_session,
            list_open_pages_through_many_sessions,
            // profiles and lifecycle
            profiles_crud,
            fresh_store_is_empty,
            reopen_keeps_everything,
            closed_store_refuses_calls,
            // migrations
            upgrade_from_previous_schema_keeps_everything,
        }
    };
}

#[doc(hidden)]
#[macro_export]
macro_rules! __store_contract_dispatch {
    ([tests $make:expr] $($case:ident,)*) => {
        $(
            #[::tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn $case() {
                $crate::contract::$case(($make)().await).await;
            }
        )*
    };
    ([run_all $make:ident] $($case:ident,)*) => {
        $(
            {
                let _guard = $crate::contract::CaseGuard(stringify!($case));
                $crate::contract::$case($make().await).await;
            }
        )*
    };
}

// ---- helpers the cases share ----------------------------------------------------------------

/// A fixed-width UTC timestamp `n` seconds after 2026-01-01T00:00:00Z (n < 86400).
pub(crate) fn ts(n: u32) -> String {
    format!(
        "2026-01-01T{:02}:{:02}:{:02}.000000Z",
        n / 3600,
        n / 60 % 60,
        n % 60
    )
}

/// A plain new session created at `created_at`.
pub(crate) fn session(id: &str, created_at: &str) -> SessionRecord {
    SessionRecord::new(SessionInfo {
        session_id: id.to_string(),
        agent: "claude-code".to_string(),
        profile: None,
        name: None,
        created_at: created_at.to_string(),
        updated_at: created_at.to_string(),
        status: Default::default(),
    })
}

/// A small event whose content names `tag`, stamped `ts(1)`.
pub(crate) fn delta(tag: &str) -> (String, SessionEvent) {
    (
        ts(1),
        SessionEvent::TextDelta {
            conversation_id: "main".to_string(),
            block_id: "b1".to_string(),
            delta: tag.to_string(),
        },
    )
}

/// Creates the session `id` (created at `ts(0)`), panicking on failure.
pub(crate) async fn create(store: &dyn SessionStore, id: &str) -> SessionRecord {
    let record = session(id, &ts(0));
    store.create_session(&record).await.expect("create_session");
    record
}
