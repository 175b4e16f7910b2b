mod claude_stream;
mod claude_transcript;
mod common;
