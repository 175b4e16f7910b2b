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

/// `after` from now, as RFC 3339 UTC with milliseconds.
pub fn rfc3339_after(after: std::time::Duration) -> String {
    let after = chrono::Duration::from_std(after).unwrap_or(chrono::Duration::MAX);
    Utc::now()
        .checked_add_signed(after)
        .unwrap_or(chrono::DateTime::<Utc>::MAX_UTC)
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// The monotonic instant of the wall-clock time `at` (RFC 3339): now for a time past or
/// unreadable, and at most a year ahead.
pub fn instant_of(at: &str) -> tokio::time::Instant {
    let now = tokio::time::Instant::now();
    let Ok(at) = chrono::DateTime::parse_from_rfc3339(at) else {
        return now;
    };
    let ahead = (at.with_timezone(&Utc) - Utc::now())
        .to_std()
        .unwrap_or_default()
        .min(std::time::Duration::from_secs(365 * 24 * 3600));
    now + ahead
}
