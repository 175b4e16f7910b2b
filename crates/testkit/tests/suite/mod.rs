//! Integration tests: the scripted model server over real HTTP, and the real `claude` CLI
//! driven against it.
//!
//! * `cli`: harness that locates and runs the pinned Claude Code CLI.
//! * `http_client`: a minimal raw HTTP/1.1 client (streams can be read and dropped at will).
//! * `http_api`: server behaviour over HTTP (routes, SSE, errors, pacing, recording).
//! * `http_gemini`: the Gemini API over HTTP (same scenarios, Gemini's wire form).
//! * `cli_demo`, `cli_stdin`, `cli_parallel_tools`, `cli_errors`: the real CLI end to end.
//! * `http_openai`: the OpenAI Responses API over HTTP (Codex's wire form and tool shapes).
//! * `codex_acp`: the real codex-acp end to end (needs `AGENT_RUNTIME_TEST_CODEX_ACP`).
//! * `cli_gemini`: the real Gemini CLI end to end (demo turn, resume in a fresh home, errors,
//!   the prompt on stdin).

mod cli;
mod cli_demo;
mod cli_errors;
mod cli_gemini;
mod cli_parallel_tools;
mod cli_stdin;
mod codex_acp;
mod http_api;
mod http_client;
mod http_gemini;
mod http_openai;
