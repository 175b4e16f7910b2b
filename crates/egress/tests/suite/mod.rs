//! Integration tests: the proxy served over real unix socket pairs, against real servers on
//! 127.0.0.1. No test sends a packet anywhere else.

mod common;
mod decisions;
mod forward;
mod gateway;
mod hygiene;
mod secrets;
