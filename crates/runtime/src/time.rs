//! Timestamps and ids as the wire wants them.

use chrono::{SecondsFormat, Utc};

/// Now, as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// A fresh id with a readable prefix, e.g. `turn_1f0c…`.
pub fn new_id(prefix: &str) -> String {
    format!("{prefix}_{}", uuid::Uuid::new_v4().simple())
}
