//! The built-in `demo` scenario behind the product's `--demo` mode: a full, deterministic
//! agent turn with no API key.
//!
//! * Any prompt → a short thinking block and a friendly text saying this is the built-in
//!   demo model.
//! * A prompt asking to create / write / save a file (e.g. "create hello.txt") → the same,
//!   plus a `Write` tool call for that file under the working directory the CLI reports
//!   (`write_file` for Gemini CLI, an `apply_patch` adding the file for Codex: the scenario
//!   serves every API, see [`crate::api`] and [`crate::codex_tools`]).
//! * The `Write` tool result → a closing text (or an apology if the tool failed).

use serde_json::json;

use crate::scenario::{Block, Matcher, Response, Rule, Scenario, ToolResultMatcher};

/// Pause between streamed events, so a newcomer sees the answer arrive token by token.
const DEMO_CHUNK_DELAY_MS: u64 = 15;

/// Deltas per block in the demo.
const DEMO_CHUNKS: u32 = 6;

/// Content the demo writes into the requested file.
pub const DEMO_FILE_CONTENT: &str = "Hello from the agent-runtime demo model!\n";

/// Words that make the demo write a file.
const WRITE_VERBS: &[&str] = &["create", "write", "save"];

/// Builds the demo scenario.
pub fn demo_scenario() -> Scenario {
    Scenario::new(vec![
        Rule::new(
            tool_result_of_write(Some(true)),
            paced(Response::blocks(vec![
                Block::thinking("The file tool reported an error, so I should say so."),
                Block::text(
                    "The file tool reported an error, so the file was not created. \
                     (I am the built-in demo model, so I cannot do much more than this.)",
                ),
            ])),
        )
        .named("demo: write failed"),
        Rule::new(
            tool_result_of_write(None),
            paced(Response::blocks(vec![
                Block::thinking("The file was written. Time to wrap up."),
                Block::text(
                    "Done! I created {{mentionedFile}} with a file tool. This whole turn \
                     came from agent-runtime's built-in demo model; connect a real agent \
                     to do real work.",
                ),
            ])),
        )
        .named("demo: after write"),
        Rule::new(
            Matcher::tool_result(None),
            paced(Response::text(
                "Thanks for the tool result. (Built-in demo model: nothing more to do.)",
            )),
        )
        .named("demo: other tool result"),
        Rule::new(
            asks_to_write_a_file(),
            paced(Response::blocks(vec![
                Block::thinking(
                    "The user wants a file. I will create {{mentionedFile}} in {{cwd}}.",
                ),
                Block::text(
                    "Hi! I'm the built-in demo model of agent-runtime, not a real AI model. \
                     I'll create {{mentionedFile}} for you.",
                ),
                Block::tool_use(
                    "Write",
                    json!({"file_path": "{{mentionedPath}}", "content": DEMO_FILE_CONTENT}),
                ),
            ])),
        )
        .named("demo: write a file"),
    ])
    .named("demo")
    .with_fallback(paced(Response::blocks(vec![
        Block::thinking("A demo greeting: explain what this is and what to try."),
        Block::text(
            "Hi! I'm the built-in demo model of agent-runtime, not a real AI model, so my \
             answers are scripted. Try asking me to \"create hello.txt\" to see a tool call.",
        ),
    ])))
}

fn paced(response: Response) -> Response {
    response
        .with_chunk_delay_ms(DEMO_CHUNK_DELAY_MS)
        .with_chunks(DEMO_CHUNKS)
}

fn tool_result_of_write(is_error: Option<bool>) -> Matcher {
    Matcher {
        tool_result: Some(ToolResultMatcher {
            tool_name: Some("Write".to_owned()),
            is_error,
        }),
        ..Matcher::default()
    }
}

fn asks_to_write_a_file() -> Matcher {
    Matcher {
        any_of: WRITE_VERBS
            .iter()
            .map(|verb| Matcher::last_user_text_contains(*verb))
            .collect(),
        ..Matcher::default()
    }
}
