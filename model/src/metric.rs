//! Metric names and samples.
//!
//! A metric name is `[a-z0-9_.]+`, optionally followed by labels `{k=v,...}` (for example
//! `disk.used_pct{mount=C:}`). The part before the labels is the *base name* that thresholds
//! match; the whole name identifies one series of a device.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;

/// Longest accepted metric name, labels included.
pub const MAX_METRIC_NAME_LEN: usize = 200;

/// Why a metric name was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MetricNameError {
    #[error("metric name is empty")]
    Empty,
    #[error("metric name is longer than {MAX_METRIC_NAME_LEN} bytes")]
    TooLong,
    #[error("metric name may contain only a-z, 0-9, '_' and '.' before its labels")]
    InvalidBase,
    #[error("metric labels must look like {{key=value,...}}")]
    InvalidLabels,
}

/// A validated metric series name.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct MetricName {
    full: String,
    base_len: usize,
}

impl MetricName {
    /// Parses and validates a metric name.
    pub fn parse(name: &str) -> Result<Self, MetricNameError> {
        if name.is_empty() {
            return Err(MetricNameError::Empty);
        }
        if name.len() > MAX_METRIC_NAME_LEN {
            return Err(MetricNameError::TooLong);
        }
        let base_len = name.find('{').unwrap_or(name.len());
        let base = &name[..base_len];
        let base_ok = !base.is_empty()
            && base
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_' || b == b'.');
        if !base_ok {
            return Err(MetricNameError::InvalidBase);
        }
        if base_len < name.len() && !labels_are_valid(&name[base_len..]) {
            return Err(MetricNameError::InvalidLabels);
        }
        Ok(Self {
            full: name.to_owned(),
            base_len,
        })
    }

    /// The whole series name, labels included.
    pub fn as_str(&self) -> &str {
        &self.full
    }

    /// The name without labels: what thresholds match.
    pub fn base(&self) -> &str {
        &self.full[..self.base_len]
    }
}

/// `{k=v,...}`: non-empty keys and values without braces, commas or `=` in keys.
fn labels_are_valid(labels: &str) -> bool {
    let Some(inner) = labels
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
    else {
        return false;
    };
    !inner.is_empty()
        && inner.split(',').all(|pair| match pair.split_once('=') {
            Some((k, v)) => {
                !k.is_empty()
                    && !v.is_empty()
                    && !k.contains(['{', '}'])
                    && !v.contains(['{', '}', '='])
                    && !k.chars().any(char::is_control)
                    && !v.chars().any(char::is_control)
            }
            None => false,
        })
}

impl fmt::Display for MetricName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.full)
    }
}

impl TryFrom<String> for MetricName {
    type Error = MetricNameError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<MetricName> for String {
    fn from(name: MetricName) -> Self {
        name.full
    }
}

/// One finite value of one series at one time.
#[derive(Clone, Debug, PartialEq)]
pub struct Sample {
    pub ts: DateTime<Utc>,
    pub name: MetricName,
    pub value: f64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_contract_names() {
        for ok in [
            "cpu.usage_pct",
            "mem.used_pct",
            "disk.used_pct{mount=C:}",
            "if.rx_bps{if=ether1}",
            "net.rx{if=eth0,dir=in}",
        ] {
            assert!(MetricName::parse(ok).is_ok(), "{ok}");
        }
        let labelled = MetricName::parse("disk.used_pct{mount=C:}").unwrap();
        assert_eq!(labelled.base(), "disk.used_pct");
    }

    #[test]
    fn refuses_bad_names_with_reason() {
        assert_eq!(MetricName::parse(""), Err(MetricNameError::Empty));
        assert_eq!(MetricName::parse("CPU"), Err(MetricNameError::InvalidBase));
        assert_eq!(
            MetricName::parse("cpu usage"),
            Err(MetricNameError::InvalidBase)
        );
        assert_eq!(
            MetricName::parse("disk{mount}"),
            Err(MetricNameError::InvalidLabels)
        );
        assert_eq!(
            MetricName::parse("disk{}"),
            Err(MetricNameError::InvalidLabels)
        );
        assert_eq!(
            MetricName::parse(&"a".repeat(201)),
            Err(MetricNameError::TooLong)
        );
    }
}
