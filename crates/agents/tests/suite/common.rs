//! Helpers shared by the snapshot suites.

use serde_json::Value;

/// Fixed time given to translators, so snapshots are stable.
pub const AT: &str = "2026-01-01T00:00:00Z";

/// Longest string kept in a snapshot; longer ones are cut (with their length noted).
const MAX_STRING: usize = 240;

/// `value` with long strings shortened, so snapshots stay reviewable.
pub fn truncate_strings(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(truncate(&s)),
        Value::Array(items) => Value::Array(items.into_iter().map(truncate_strings).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, truncate_strings(v)))
                .collect(),
        ),
        other => other,
    }
}

pub fn truncate(s: &str) -> String {
    if s.chars().count() <= MAX_STRING {
        return s.to_string();
    }
    let kept: String = s.chars().take(MAX_STRING).collect();
    format!("{kept}… [{} chars]", s.chars().count())
}
