//! Timestamps on input: RFC 3339 strings or integer epoch milliseconds (docs/api.md). Output is
//! always RFC 3339 UTC, which chrono's serde does.
//!
//! A timestamp that parses is still refused when it lies outside the [`TimeWindow`]: older than
//! what storage keeps (it would be dropped by retention anyway, and far-past values such as
//! `-300000000000000` ms are outside what PostgreSQL's `timestamptz` can hold, which made a whole
//! COPY batch fail) or further ahead than a clock may drift.

use chrono::{DateTime, Duration, TimeZone, Utc};
use serde_json::Value;

/// Parses a JSON timestamp: an RFC 3339 string or integer epoch milliseconds.
pub fn parse_timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::String(s) => DateTime::parse_from_rfc3339(s)
            .ok()
            .map(|t| t.with_timezone(&Utc)),
        Value::Number(n) => n
            .as_i64()
            .and_then(|ms| Utc.timestamp_millis_opt(ms).single()),
        _ => None,
    }
}

/// The range of device timestamps accepted, relative to the engine's clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeWindow {
    /// Oldest accepted age (the storage retention).
    pub max_age: Duration,
    /// Furthest accepted distance into the future (clock skew).
    pub max_ahead: Duration,
}

impl Default for TimeWindow {
    /// A year back (the default retention) and ten minutes ahead.
    fn default() -> Self {
        TimeWindow {
            max_age: Duration::days(365),
            max_ahead: Duration::minutes(10),
        }
    }
}

impl TimeWindow {
    /// Whether `ts` is inside the window around `now`.
    pub fn contains(&self, ts: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        let oldest = now.checked_sub_signed(self.max_age);
        let newest = now.checked_add_signed(self.max_ahead);
        oldest.is_none_or(|o| ts >= o) && newest.is_none_or(|n| ts <= n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn accepts_rfc3339_and_epoch_millis_only() {
        let a = parse_timestamp(&json!("2026-11-22T10:00:00Z")).unwrap();
        let b = parse_timestamp(&json!(a.timestamp_millis())).unwrap();
        assert_eq!(a, b);
        assert!(parse_timestamp(&json!("yesterday")).is_none());
        assert!(parse_timestamp(&json!(1.5)).is_none());
        assert!(parse_timestamp(&json!(null)).is_none());
    }

    #[test]
    fn window_holds_retention_back_and_skew_ahead() {
        let now: DateTime<Utc> = "2026-11-22T10:00:00Z".parse().unwrap();
        let w = TimeWindow {
            max_age: Duration::days(30),
            max_ahead: Duration::minutes(10),
        };
        assert!(w.contains(now, now));
        assert!(w.contains(now - Duration::days(30), now));
        assert!(!w.contains(now - Duration::days(30) - Duration::seconds(1), now));
        assert!(w.contains(now + Duration::minutes(10), now));
        assert!(!w.contains(now + Duration::minutes(11), now));
        let ancient = parse_timestamp(&json!(-300_000_000_000_000i64)).unwrap();
        assert!(!w.contains(ancient, now));
    }
}
