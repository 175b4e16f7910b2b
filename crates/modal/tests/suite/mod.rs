//! The Modal provider against the Modal stand-in (`agent-runtime-modal-standin`, real gRPC, sandboxes as local
//! bubblewrap containers).
//!
//! - `common`: starting a stand-in and a provider pointed at it; running scripts.
//! - `lifecycle`: create, processes, files, kill, list/terminate, destroy.
//! - `egress`: the tunnel from `127.0.0.1:3128` inside to an `EgressHandler` here.
//! - `faults`: a sandbox dying under a process; injected RPC failures and cut connections.

mod common;
mod egress;
mod faults;
mod lifecycle;
