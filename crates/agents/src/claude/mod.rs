//! Claude Code 2.1.x: `claude -p` driven over stream-json stdin/stdout.
//!
//! The wire formats are described in `docs/agent-formats.md` part A (and D.1/D.2 for the edge
//! cases); the fixtures in `shared/fixtures/claude/` are real captures.
//!
//! # Layout
//! - [`launch`]: install spec, launch spec (flags, env), stdin encoding.
//! - [`profile`]: an `AgentProfile` written as `CLAUDE.md`, skills, agents,
//!   commands under `~/.claude`.
//! - [`translator`]: [`ClaudeTranslator`], stdout line -> session events.
//! - [`transcript`]: which files make a transcript, where to restore them,
//!   and the parser that turns them into blocks.
//! - [`warm_up`]: [`WarmUp`], the turn a pooled process works through, and has taken back,
//!   before a session claims it.
//! - `content`: content-item helpers shared by the translator and the transcript parser, so both
//!   produce the same block shapes and ids.
//!
//! # Block ids
//! Unique within a session, the same live and from a transcript:
//! - `assistant_text`, `thinking`: `<message.id>:<content index>`; the synthetic API-error
//!   message becomes a `system` block (subtype `error`) with the same scheme.
//! - `tool_use`: the tool-use id; its `tool_result`: `result:<tool-use id>`.
//! - `subagent` link: `subagent:<tool-use id>`; the subagent thread id is the tool-use id of the
//!   spawning `Agent`/`Task` call; the subagent's prompt in its thread: `prompt:<tool-use id>`.
//! - `system` blocks from a line (compaction, interrupt marker, command output):
//!   `system:<line uuid>`; a run of API retries: `api_retry:<uuid of the first retry line>`.
//! - user messages from a transcript: `user:<line uuid>` (live, the runtime emits its own).
//!
//! They rely on the model API's message ids being unique (true for the Anthropic API; a scripted
//! test server must not reuse ids across processes of one session).

mod content;
pub mod launch;
pub mod profile;
pub mod transcript;
pub mod translator;
pub mod warm_up;

pub use launch::{
    answers_readiness_probe, encode_ask_reply, encode_interrupt, encode_readiness_probe,
    encode_user_message, install_spec, launch_spec,
};
pub use profile::profile_files;
pub use transcript::{parse_transcript, transcript_files_to_save, transcript_restore_path};
pub use translator::ClaudeTranslator;
pub use warm_up::{WarmUp, WarmUpStep, WARM_UP_TEXT};
