mod acp_schema;
mod acp_stream;
mod claude_stream;
mod claude_transcript;
mod common;
mod gemini_stream;
mod gemini_transcript;
mod readiness;
