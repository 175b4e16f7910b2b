//! Generates Rust for Modal's API from `proto/modal-1.6.4.fds`, the file descriptors of
//! `modal_proto/api.proto` and `modal_proto/task_command_router.proto` (and the well-known types
//! they import) exactly as the pinned `modal` Python package registers them. No `.proto` text
//! and no hand-written field numbers: `scripts/modal-proto` re-extracts the set from the package.

use prost::Message;

const DESCRIPTORS: &str = "proto/modal-1.6.4.fds";

fn main() {
    println!("cargo:rerun-if-changed={DESCRIPTORS}");
    let bytes = std::fs::read(DESCRIPTORS).expect("read the Modal descriptor set");
    let set = prost_types::FileDescriptorSet::decode(bytes.as_slice())
        .expect("decode the Modal descriptor set");
    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // The stand-in implements only what the runtime and the Python client use; every other
        // method answers UNIMPLEMENTED, as a server that lacks it would.
        .generate_default_stubs(true)
        .compile_fds(set)
        .expect("generate Rust for Modal's API");
}
