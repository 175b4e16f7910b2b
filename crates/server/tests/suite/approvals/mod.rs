//! Human in the loop end to end: the real Claude Code CLI in a real bubblewrap sandbox, in
//! permission mode `default`, asks before it runs `touch approved.txt`; a client allows, denies,
//! remembers, answers a question, lets a request time out, answers after a `kill -9` of the
//! server, races another client, sends bad answers; and budgets hold messages until raised or
//! approved. The scripted model's final text tells whether the tool result it got was an error.
//!
//! `answers.rs`: allowing, denying, remembering, rules, questions, timeouts, racing and bad
//! answers; `modes.rs`: what each mode lets through, for Claude Code and Gemini CLI;
//! `restart.rs`: requests pending at a `kill -9`; `budgets.rs`: cost, turns and wall-clock
//! budgets; `acp.rs`: OpenCode's and Codex's requests over ACP; `support.rs`: the scenario and
//! the helpers they share.

mod acp;
mod answers;
mod budgets;
mod modes;
mod restart;
pub(super) mod support;
