//! The committed TypeScript must equal what the protocol types generate.

use std::path::PathBuf;

use agent_runtime_protocol::typescript::{generate_typescript, GENERATED_TS_PATH};

#[test]
fn generated_typescript_is_current() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../..")
        .join(GENERATED_TS_PATH);
    let generated = generate_typescript();
    if std::env::var_os("UPDATE_GENERATED").is_some() {
        std::fs::create_dir_all(path.parent().expect("has parent")).expect("create dir");
        std::fs::write(&path, &generated).expect("write generated TypeScript");
        return;
    }
    let committed = std::fs::read_to_string(&path).unwrap_or_default();
    assert!(
        committed == generated,
        "{GENERATED_TS_PATH} is stale; regenerate with \
         `UPDATE_GENERATED=1 cargo test -p agent-runtime-protocol`"
    );
}
