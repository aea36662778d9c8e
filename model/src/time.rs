//! Timestamps on input: RFC 3339 strings or integer epoch milliseconds (CONTRACT.md). Output is
//! always RFC 3339 UTC, which chrono's serde does.

use chrono::{DateTime, TimeZone, Utc};
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
}
