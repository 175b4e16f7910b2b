//! The contract suite against [`MemoryStore`] (which cannot reopen, so that case passes unchecked).

use std::sync::Arc;

use agent_runtime_store::contract::TestStore;
use agent_runtime_store::MemoryStore;

async fn fresh_store() -> TestStore {
    TestStore::new(Arc::new(MemoryStore::new()))
}

agent_runtime_store::store_contract_tests!(fresh_store);

/// `run_all` (the single-test entry point for other crates) runs the same cases.
#[tokio::test]
async fn run_all_passes() {
    agent_runtime_store::contract::run_all(fresh_store).await;
}
