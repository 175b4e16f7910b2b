//! What the scripted model answers in each figure: at once, a long reply as fast as it goes, or a
//! long reply at a steady pace.

use agent_runtime_testkit::{Response, Scenario};

/// One short answer, at once: first-token and concurrent-turn figures.
pub fn instant() -> Scenario {
    Scenario::new(vec![])
        .named("bench: instant")
        .with_fallback(Response::text("Hello there, from the benchmark."))
}

/// A reply streamed as `deltas` text deltas (8 characters each), `delay_ms` apart (0: as fast
/// as the model server writes them).
pub fn streamed(deltas: u32, delay_ms: u64) -> Scenario {
    let text: String = (0..deltas)
        .map(|i| format!("w{:06} ", i % 1_000_000))
        .collect();
    let mut response = Response::text(text).with_chunks(deltas);
    if delay_ms > 0 {
        response = response.with_chunk_delay_ms(delay_ms);
    }
    Scenario::new(vec![])
        .named("bench: streamed")
        .with_fallback(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use pretty_assertions::assert_eq;

    #[test]
    fn a_streamed_reply_splits_into_the_asked_deltas() {
        let scenario = streamed(100, 20);
        let fallback = scenario.fallback.expect("fallback");
        assert_eq!(fallback.chunks, Some(100));
        assert_eq!(fallback.chunk_delay_ms, Some(20));
        let agent_runtime_testkit::Block::Text { text } = &fallback.content[0] else {
            panic!("a text block");
        };
        assert_eq!(text.chars().count(), 800);
    }
}
