//! Gemini CLI 0.61: headless `gemini` once per turn with the message on stdin, stream-json on
//! stdout, JSONL chat recordings.
//!
//! The wire formats are described in `docs/agent-formats.md` part B (and D.3/D.4 for the edge
//! cases); the fixtures in `shared/fixtures/gemini/` are real captures.
//!
//! Unlike Claude Code there is no stdin protocol in headless mode (stdin is read once, whole, as
//! the prompt: [`launch::per_turn_stdin`]), so the runtime drives it as a
//! [`crate::ProcessMode::PerTurn`] agent: one process per turn (`--session-id S` the first time,
//! `--resume S` afterwards), interrupted by killing it (SIGINT is ignored without a TTY, D.3.12).
//!
//! Limits of the CLI that show in the conversation (reported, not papered over):
//! - stream-json carries no thinking and no subagent internals: live, a subagent is its prompt
//!   and its outcome; both appear (thoughts as `thinking` blocks, the subagent's own tool calls in
//!   its thread) only when a chat file is parsed ([`transcript`]);
//! - tool results on stdout are display text (`resultDisplay`), not what the model saw;
//! - API retries print only to stderr (with backoffs of up to 30 s, for minutes): the translator
//!   turns each "Attempt N failed with status S" line into an `api_retry` system block, and the
//!   runtime's stall timeout ends a turn that produces no stdout for too long;
//! - there is no cost figure: cost is computed from tokens with list prices ([`pricing`]);
//! - an API failure exits with the HTTP status modulo 256 (400 -> 144).
//!
//! # Layout
//! - [`launch`]: install spec, launch spec (flags, env).
//! - [`profile`]: `settings.json` (API-key auth, no folder trust, no telemetry, no session
//!   retention) and an `AgentProfile` in Gemini's layout under `~/.gemini`.
//! - [`translator`]: [`GeminiTranslator`], stdout (and stderr) line -> session events.
//! - [`chat`]: replaying a chat recording's records (`$set`, upsert by id, `$rewindTo`) into
//!   its messages.
//! - [`transcript`]: which files make a transcript, where they go back, and the parser that turns
//!   them into blocks.
//! - [`pricing`]: list prices per model, tokens -> US dollars.
//!
//! # Block ids
//! Unique within a session:
//! - `tool_use`: the CLI's tool id (`<tool>__<tool>_<epoch ms>_<n>`, or `<agent>#<turn>-<n>`
//!   inside subagents); its `tool_result`: `result:<tool id>`; both the same live and parsed.
//! - `subagent` link: `subagent:<tool id>` of the `invoke_agent` call; the subagent thread id is
//!   that tool id; the subagent's prompt in its thread: `prompt:<tool id>`.
//! - live (stdout has no message ids): assistant text `text:<process>:<n>`, `system` blocks
//!   `error:<process>:<n>` and `api_retry:<process>:<n>`, where `<process>` is the `init` line's
//!   timestamp (one process per turn, so unique per session).
//! - parsed: user messages `user:<message id>`, model text `<message id>:text`, thoughts
//!   `<message id>:thought:<i>`, notices `<message id>` (`info`/`warning`/`error` records).

pub mod chat;
pub mod launch;
pub mod pricing;
pub mod profile;
pub mod transcript;
pub mod translator;

pub use launch::{install_spec, launch_spec, per_turn_stdin};
pub use profile::profile_files;
pub use transcript::{
    can_resume, parse_transcript, transcript_files_to_save, transcript_restore_path,
};
pub use translator::GeminiTranslator;
