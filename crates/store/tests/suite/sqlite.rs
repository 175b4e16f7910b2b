//! The contract suite against [`SqliteStore`], each case on a new file in a temporary directory.

use std::path::PathBuf;
use std::sync::Arc;

use agent_runtime_store::contract::TestStore;
use agent_runtime_store::{SessionStore, SqliteStore};

async fn fresh_store() -> TestStore {
    let dir = tempfile::tempdir().expect("tempdir");
    let path: PathBuf = dir.path().join("store.db");
    let store = SqliteStore::open(&path).await.expect("open sqlite store");
    TestStore::new(Arc::new(store))
        .with_reopen(move || {
            let path = path.clone();
            async move {
                let store = SqliteStore::open(&path).await.expect("reopen sqlite store");
                Arc::new(store) as Arc<dyn SessionStore>
            }
        })
        .with_guard(dir)
}

agent_runtime_store::store_contract_tests!(fresh_store);
