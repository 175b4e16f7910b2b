//! A scripted model server for tests and the product's `--demo` mode, speaking the Anthropic
//! Messages API, the Gemini API and the OpenAI Responses API on one port.
//!
//! Point the real `claude` CLI at it with `ANTHROPIC_BASE_URL=<server.base_url()>`, `gemini`
//! with `GOOGLE_GEMINI_BASE_URL=<server.base_url()>`, or Codex (codex-acp) with a model provider
//! whose `base_url` is `<server.base_url()>/v1` and `wire_api = "responses"`; it answers from a
//! [`Scenario`] (one scenario drives them all, see [`scenario`]) and records every request so
//! tests can assert what the agent sent.
//!
//! ```no_run
//! # async fn example() -> Result<(), agent_runtime_testkit::TestkitError> {
//! use agent_runtime_testkit::{Response, Rule, Scenario, ScriptedModelServer};
//!
//! let server = ScriptedModelServer::start(Scenario::new(vec![Rule::always(
//!     Response::text("Hello from the script"),
//! )]))
//! .await?;
//! // ... run `claude` with ANTHROPIC_BASE_URL = server.base_url() ...
//! let sent = server.message_requests();
//! # Ok(()) }
//! ```
//!
//! # Layout
//!
//! * [`scenario`]: the scenario data model (serde) and its matching semantics.
//! * [`api`]: the APIs served ([`Api`]) and the tool-name vocabulary shared by their agents.
//! * [`matching`]: picking the rule that answers a request.
//! * [`model_request`]: [`ModelRequest`], the provider-neutral view matchers and placeholders use.
//! * [`request`]: read-only queries over an incoming Messages API body.
//! * [`gemini`]: read-only queries over a Gemini request body, and Gemini's wire form of a
//!   reply.
//! * [`openai`]: read-only queries over a Responses API request body, and its output items.
//! * [`openai_sse`]: the Responses API's server-sent events for a reply.
//! * [`codex_tools`]: scripted tool calls in the shapes of Codex's tools.
//! * [`template`]: `{{cwd}}`-style placeholders in scripted strings.
//! * [`reply`]: rendering a scripted response into a concrete message or error.
//! * [`sse`]: server-sent-event encoding of a message (Anthropic).
//! * `http_reply`: delivering a reply over HTTP (pacing, cuts, disconnects).
//! * `routes`: the axum routes (every API plus the CLIs' extra calls).
//! * [`record`]: the request log tests assert against.
//! * [`server`]: [`ScriptedModelServer`], the running server handle.
//! * [`demo`]: the built-in demo scenario.
//! * [`sandbox_helper`]: the sandbox helper binary for tests that run sandboxes.
//! * [`sandbox_run`]: running a script in any provider's sandbox and collecting its output.
//! * [`error`]: the crate's error type, [`TestkitError`].

pub mod api;
pub mod codex_tools;
pub mod demo;
pub mod error;
pub mod gemini;
mod http_reply;
pub mod matching;
pub mod model_request;
pub mod openai;
pub mod openai_sse;
pub mod record;
pub mod reply;
pub mod request;
mod routes;
pub mod sandbox_helper;
pub mod sandbox_run;
pub mod scenario;
pub mod server;
pub mod sse;
pub mod template;

pub use api::Api;
pub use demo::demo_scenario;
pub use error::TestkitError;
pub use model_request::ModelRequest;
pub use record::{secret_fingerprint, RecordedRequest, RequestKind, RECORDED_REQUEST_CAPACITY};
pub use request::{messages_of, MessagesRequest};
pub use sandbox_helper::sandbox_helper_binary;
pub use scenario::{
    Block, ErrorSpec, Matcher, MidstreamCut, Response, Rule, RuleScope, Scenario,
    ToolResultMatcher, UsageSpec,
};
pub use server::ScriptedModelServer;
