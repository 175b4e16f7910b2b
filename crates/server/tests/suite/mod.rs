mod auth;
mod errors;
mod files;
mod openapi;
mod sessions;
mod shutdown;
mod sse;
pub mod support;
mod ws;
