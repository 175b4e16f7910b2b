//! [`ModelRequest`]: one provider-neutral view of a model request, whichever API it came in on.
//! Matchers and placeholders use only this, so one scenario drives every agent.

use serde_json::Value;

use crate::api::Api;
use crate::gemini::GenerateContentRequest;
use crate::openai::ResponsesRequest;
use crate::request::{MessagesRequest, ToolResultRef};

/// A model request of any API.
#[derive(Debug, Clone, Copy)]
pub enum ModelRequest<'a> {
    /// `POST /v1/messages`.
    Anthropic(MessagesRequest<'a>),
    /// `POST /v1beta/models/<model>:(stream)GenerateContent`.
    Gemini(GenerateContentRequest<'a>),
    /// `POST /v1/responses`.
    OpenAi(ResponsesRequest<'a>),
}

impl<'a> ModelRequest<'a> {
    /// The API the request came in on.
    pub fn api(&self) -> Api {
        match self {
            ModelRequest::Anthropic(_) => Api::Anthropic,
            ModelRequest::Gemini(_) => Api::Gemini,
            ModelRequest::OpenAi(_) => Api::OpenAi,
        }
    }

    /// The requested model.
    pub fn model(&self) -> &'a str {
        match self {
            ModelRequest::Anthropic(r) => r.model(),
            ModelRequest::Gemini(r) => r.model(),
            ModelRequest::OpenAi(r) => r.model(),
        }
    }

    /// Whether the answer is streamed.
    pub fn is_stream(&self) -> bool {
        match self {
            ModelRequest::Anthropic(r) => r.is_stream(),
            ModelRequest::Gemini(r) => r.is_stream(),
            ModelRequest::OpenAi(r) => r.is_stream(),
        }
    }

    /// The names of the tools offered (Anthropic only: the agents of the other APIs are told
    /// apart by the API).
    pub fn tool_names(&self) -> Vec<&'a str> {
        match self {
            ModelRequest::Anthropic(r) => r.tool_names(),
            ModelRequest::Gemini(_) | ModelRequest::OpenAi(_) => Vec::new(),
        }
    }

    /// Whether tools are offered.
    pub fn has_tools(&self) -> bool {
        match self {
            ModelRequest::Anthropic(r) => r.has_tools(),
            ModelRequest::Gemini(r) => r.has_tools(),
            ModelRequest::OpenAi(r) => r.has_tools(),
        }
    }

    /// A side request of the CLI (probe, title, utility call) rather than an agent-loop step.
    pub fn is_side_request(&self) -> bool {
        match self {
            ModelRequest::Anthropic(r) => r.is_side_request(),
            ModelRequest::Gemini(r) => r.is_side_request(),
            ModelRequest::OpenAi(r) => r.is_side_request(),
        }
    }

    /// A probe that wants a single token (Anthropic `max_tokens: 1`).
    pub fn is_probe(&self) -> bool {
        match self {
            ModelRequest::Anthropic(r) => r.max_tokens().is_some_and(|max| max <= 1),
            ModelRequest::Gemini(_) | ModelRequest::OpenAi(_) => false,
        }
    }

    /// The last user message's own text (no injected context, no tool results).
    pub fn last_user_text(&self) -> String {
        match self {
            ModelRequest::Anthropic(r) => r.last_user_text(),
            ModelRequest::Gemini(r) => r.last_user_text(),
            ModelRequest::OpenAi(r) => r.last_user_text(),
        }
    }

    /// The latest prompt's own text, even while the last user message only carries tool
    /// results.
    pub fn last_prompt_text(&self) -> String {
        match self {
            ModelRequest::Anthropic(r) => r.last_prompt_text(),
            ModelRequest::Gemini(r) => r.last_prompt_text(),
            ModelRequest::OpenAi(r) => r.last_prompt_text(),
        }
    }

    /// The tool results of the last user message, with the tools' names.
    pub fn last_tool_results(&self) -> Vec<ToolResultRef> {
        match self {
            ModelRequest::Anthropic(r) => r.last_tool_results(),
            ModelRequest::Gemini(r) => r.last_tool_results(),
            ModelRequest::OpenAi(r) => r.last_tool_results(),
        }
    }

    /// All system-prompt text.
    pub fn system_text(&self) -> String {
        match self {
            ModelRequest::Anthropic(r) => r.system_text(),
            ModelRequest::Gemini(r) => r.system_text(),
            ModelRequest::OpenAi(r) => r.system_text(),
        }
    }

    /// The working directory the CLI reports.
    pub fn working_directory(&self) -> Option<String> {
        match self {
            ModelRequest::Anthropic(r) => r.working_directory(),
            ModelRequest::Gemini(r) => r.working_directory(),
            ModelRequest::OpenAi(r) => r.working_directory(),
        }
    }

    /// The conversation sent: `messages` (Anthropic), `contents` (Gemini) or `input` (OpenAI).
    pub fn conversation(&self) -> &'a [Value] {
        match self {
            ModelRequest::Anthropic(r) => r.messages(),
            ModelRequest::Gemini(r) => r.contents(),
            ModelRequest::OpenAi(r) => r.input(),
        }
    }
}
