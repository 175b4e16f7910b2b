//! Integration tests against real bubblewrap.
//!
//! - `common`: the harness (a temp data dir holding the sandbox root, the tools dir and a
//!   secret file) and helpers that run shell scripts in a sandbox with timeouts.
//! - `contract`: provider-agnostic behaviour of `SandboxProvider`/`Sandbox`, run for every
//!   provider configuration that works on this host.
//! - `isolation`: what a local bubblewrap sandbox can and cannot see or change on the host.
//! - `lifecycle`: killing, destroying and re-creating local sandboxes; resource limits.
//! - `ensure`: `ensure_bwrap` against the real and a broken bubblewrap.
//! - `seccomp`: the seccomp filter under real bubblewrap: denied syscalls, nested user
//!   namespaces, ordinary work and the agent CLIs.
//! - `cgroup`: cgroup limits (pids, memory/OOM, CPU), killing and sweeping, on this host's
//!   real cgroups.

mod cgroup;
mod common;
mod contract;
mod ensure;
mod isolation;
mod lifecycle;
mod network;
mod seccomp;
