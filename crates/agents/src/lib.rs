//! Everything agent-specific, behind one agent-neutral API.
//!
//! The runtime never matches on an agent itself: it holds an [`AgentKind`] and calls its methods,
//! each of which dispatches by `match` to one agent module. Adding an agent means adding a variant
//! and a module; the runtime does not change. Pure: no async and no I/O of its own (the sandbox
//! crate is a dependency only for its plain-data `LaunchSpec` and `Root`).
//!
//! # Layout
//! - [`kind`]: [`AgentKind`] (the closed set of agents) and the agent-neutral API: install spec,
//!   [`ProcessMode`], launch spec, stdin encoding, translators, profile files, transcripts.
//! - [`launch`]: [`LaunchContext`], what a [`LaunchSpec`] (the sandbox crate's type: program,
//!   args, env, cwd) is built from.
//! - [`profile_layout`]: layout pieces agents share (skills, subagents, workspace files).
//! - [`output`]: what a stream translator produces ([`AgentOutput`], [`TurnOutcome`]) and the
//!   [`Translator`] enum the runtime feeds stdout lines into.
//! - [`files`]: files the runtime moves in and out of the sandbox on an agent's behalf:
//!   [`ProfileFileWrite`], [`TranscriptFile`], and the [`ParsedConversation`] a transcript becomes.
//! - [`error`]: the crate's error type, [`AgentError`].
//! - [`claude`]: Claude Code 2.1.x (`claude -p`, stream-json over stdin/stdout, JSONL transcripts).
//! - [`gemini`]: Gemini CLI 0.61 (headless `gemini` once per turn, the message on stdin,
//!   stream-json on stdout, JSONL chat recordings).
//! - [`acp`]: the Agent Client Protocol client (JSON-RPC over stdio), for every agent that
//!   speaks it; [`opencode`] and [`codex`] are the built-in ACP agents.
//! - [`registry`]: [`AgentRegistry`], the built-in agents plus ACP agents from the config file.
//!
//! # Lifecycle, as the runtime drives it
//! 1. Install [`AgentKind::install_spec`] once into the tools dir.
//! 2. Before the first turn, write [`AgentKind::profile_files`] into the sandbox; when the session
//!    has a saved transcript, write each file to [`AgentKind::transcript_restore_path`]. Before
//!    each start, [`AgentKind::can_resume`] decides between resuming and starting fresh.
//! 3. Start [`AgentKind::launch_spec`] (inside the sandbox) and feed every stdout line (and
//!    stderr line) to the [`Translator`] from [`AgentKind::new_translator`]; append the events it
//!    returns.
//! 4. Per [`ProcessMode`]: a persistent agent gets [`Translator::start_lines`] when it starts,
//!    then [`Translator::user_message`] / [`Translator::interrupt_lines`] on stdin (the
//!    translator owns the agent's stdin protocol: ACP needs its session open before a prompt);
//!    a per-turn agent gets one process per
//!    turn whose whole stdin is [`AgentKind::per_turn_stdin`], and is interrupted by killing it.
//!    Messages and prompts never travel in a launch spec's arguments (see [`launch`]).
//! 5. After each turn, save [`AgentKind::transcript_files_to_save`].
//!
//! Each agent calls one [`ModelApi`]; the runtime passes it that API's endpoint.

pub mod acp;
pub mod claude;
pub mod codex;
pub mod error;
pub mod files;
pub mod gemini;
pub mod kind;
pub mod launch;
pub mod opencode;
pub mod output;
pub mod profile_layout;
pub mod registry;

pub use acp::{AcpAgentSpec, AcpTranslator};
pub use claude::{ClaudeTranslator, WarmUp, WarmUpStep};
pub use error::AgentError;
pub use files::{ParsedConversation, ProfileFileWrite, Root, TranscriptFile};
pub use gemini::GeminiTranslator;
pub use kind::{AgentKind, InstallSpec, ModelApi, ProcessMode};
pub use launch::{LaunchContext, LaunchSpec};
pub use output::{
    AgentAsk, AgentOutput, AskKind, AskReply, Translator, TranslatorContext, TurnOutcome,
};
pub use registry::AgentRegistry;
