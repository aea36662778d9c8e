//! Decoding of agent messages, shared by every transport (MQTT topics and `/ws/agent`).
//!
//! Topics are `/tenants/{device_key}/{kind}`. Payloads are UTF-8 JSON objects under a size limit;
//! telemetry values must be finite numbers. Each refusal has a [`RejectReason`] whose
//! [`RejectReason::as_str`] is a bounded label for counters.

use crate::ids::DeviceId;
use crate::metric::{MetricName, Sample};
use crate::time::parse_timestamp;
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};

/// Default payload size limit (bytes); configurable at the transport.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Most metrics accepted in one telemetry message.
pub const MAX_METRICS_PER_MESSAGE: usize = 1000;

/// What a message on a device's topic is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MessageKind {
    Telemetry,
    Heartbeat,
    Inventory,
    Events,
    CommandResult,
}

impl MessageKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            MessageKind::Telemetry => "telemetry",
            MessageKind::Heartbeat => "heartbeat",
            MessageKind::Inventory => "inventory",
            MessageKind::Events => "events",
            MessageKind::CommandResult => "command_result",
        }
    }

    /// Parses the `type` word of a `/ws/agent` message.
    pub fn from_type_word(word: &str) -> Option<Self> {
        match word {
            "telemetry" => Some(MessageKind::Telemetry),
            "heartbeat" => Some(MessageKind::Heartbeat),
            "inventory" => Some(MessageKind::Inventory),
            "events" => Some(MessageKind::Events),
            "command_result" => Some(MessageKind::CommandResult),
            _ => None,
        }
    }
}

/// Why a message was refused. The label set is closed so it can be a metric label.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RejectReason {
    #[error("payload is larger than {limit} bytes")]
    Oversize { limit: usize },
    #[error("payload is not valid UTF-8")]
    InvalidUtf8,
    #[error("payload is not valid JSON: {0}")]
    InvalidJson(String),
    #[error("payload must be a JSON object")]
    NotAnObject,
    #[error("field '{0}' is missing or has the wrong type")]
    BadField(&'static str),
    #[error("invalid timestamp")]
    BadTimestamp,
    #[error("metric '{name}': {reason}")]
    BadMetricName { name: String, reason: String },
    #[error("metric '{0}' is not a number")]
    NotANumber(String),
    #[error("metric '{0}' is not finite")]
    NonFinite(String),
    #[error("more than {MAX_METRICS_PER_MESSAGE} metrics in one message")]
    TooManyMetrics,
    #[error("topic is not /tenants/{{device_key}}/{{telemetry|heartbeat|inventory|events}}")]
    BadTopic,
    #[error("unknown device")]
    UnknownDevice,
    #[error("unknown message type")]
    UnknownType,
}

impl RejectReason {
    /// A bounded label for counters.
    pub fn as_str(&self) -> &'static str {
        match self {
            RejectReason::Oversize { .. } => "oversize",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::InvalidJson(_) => "invalid_json",
            RejectReason::NotAnObject => "not_an_object",
            RejectReason::BadField(_) => "bad_field",
            RejectReason::BadTimestamp => "bad_timestamp",
            RejectReason::BadMetricName { .. } => "bad_metric_name",
            RejectReason::NotANumber(_) => "not_a_number",
            RejectReason::NonFinite(_) => "non_finite",
            RejectReason::TooManyMetrics => "too_many_metrics",
            RejectReason::BadTopic => "bad_topic",
            RejectReason::UnknownDevice => "unknown_device",
            RejectReason::UnknownType => "unknown_type",
        }
    }

    /// Every label, for pre-registering counters.
    pub const LABELS: &'static [&'static str] = &[
        "oversize",
        "invalid_utf8",
        "invalid_json",
        "not_an_object",
        "bad_field",
        "bad_timestamp",
        "bad_metric_name",
        "not_a_number",
        "non_finite",
        "too_many_metrics",
        "bad_topic",
        "unknown_device",
        "unknown_type",
    ];
}

/// A device log line (`events` topic).
#[derive(Clone, Debug, PartialEq)]
pub struct DeviceEvent {
    pub ts: DateTime<Utc>,
    pub level: String,
    pub source: String,
    pub message: String,
}

/// A decoded message.
#[derive(Clone, Debug, PartialEq)]
pub enum AgentMessage {
    Telemetry {
        samples: Vec<Sample>,
    },
    Heartbeat {
        ts: DateTime<Utc>,
        /// Items the agent had to drop from its full local queue since its last heartbeat.
        dropped: u64,
    },
    Inventory {
        inventory: Value,
    },
    Event(DeviceEvent),
    CommandResult {
        result: Value,
    },
}

/// Splits `/tenants/{device_key}/{kind}` into the device and the message kind.
pub fn parse_topic(topic: &str) -> Result<(DeviceId, MessageKind), RejectReason> {
    let rest = topic
        .strip_prefix("/tenants/")
        .ok_or(RejectReason::BadTopic)?;
    let (key, kind) = rest.split_once('/').ok_or(RejectReason::BadTopic)?;
    let device = DeviceId::from_key(key).ok_or(RejectReason::BadTopic)?;
    let kind = match kind {
        "telemetry" => MessageKind::Telemetry,
        "heartbeat" => MessageKind::Heartbeat,
        "inventory" => MessageKind::Inventory,
        "events" => MessageKind::Events,
        k if k.starts_with("commands/") && k.ends_with("/result") => MessageKind::CommandResult,
        _ => return Err(RejectReason::BadTopic),
    };
    Ok((device, kind))
}

/// Checks size and encoding and parses the payload into a JSON object.
pub fn parse_object(payload: &[u8], limit: usize) -> Result<Map<String, Value>, RejectReason> {
    if payload.len() > limit {
        return Err(RejectReason::Oversize { limit });
    }
    let text = std::str::from_utf8(payload).map_err(|_| RejectReason::InvalidUtf8)?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(RejectReason::NotAnObject),
        Err(e) => Err(RejectReason::InvalidJson(e.to_string())),
    }
}

/// Decodes a message body of the given kind. `now` stamps messages that carry no `ts`.
pub fn decode(
    kind: MessageKind,
    payload: &[u8],
    limit: usize,
    now: DateTime<Utc>,
) -> Result<AgentMessage, RejectReason> {
    let object = parse_object(payload, limit)?;
    decode_object(kind, &object, now)
}

/// Decodes an already-parsed JSON object (the `/ws/agent` path, where the envelope carries
/// `type`).
pub fn decode_object(
    kind: MessageKind,
    object: &Map<String, Value>,
    now: DateTime<Utc>,
) -> Result<AgentMessage, RejectReason> {
    let ts = match object.get("ts") {
        None | Some(Value::Null) => now,
        Some(v) => parse_timestamp(v).ok_or(RejectReason::BadTimestamp)?,
    };
    match kind {
        MessageKind::Telemetry => decode_telemetry(object, ts),
        MessageKind::Heartbeat => Ok(AgentMessage::Heartbeat {
            ts,
            dropped: object.get("dropped").and_then(Value::as_u64).unwrap_or(0),
        }),
        MessageKind::Inventory => Ok(AgentMessage::Inventory {
            inventory: Value::Object(object.clone()),
        }),
        MessageKind::Events => decode_event(object, ts),
        MessageKind::CommandResult => Ok(AgentMessage::CommandResult {
            result: Value::Object(object.clone()),
        }),
    }
}

fn decode_telemetry(
    object: &Map<String, Value>,
    ts: DateTime<Utc>,
) -> Result<AgentMessage, RejectReason> {
    let metrics = object
        .get("metrics")
        .and_then(Value::as_object)
        .ok_or(RejectReason::BadField("metrics"))?;
    if metrics.len() > MAX_METRICS_PER_MESSAGE {
        return Err(RejectReason::TooManyMetrics);
    }
    let mut samples = Vec::with_capacity(metrics.len());
    for (name, value) in metrics {
        let metric = MetricName::parse(name).map_err(|e| RejectReason::BadMetricName {
            name: name.clone(),
            reason: e.to_string(),
        })?;
        let value = value
            .as_f64()
            .ok_or_else(|| RejectReason::NotANumber(name.clone()))?;
        if !value.is_finite() {
            return Err(RejectReason::NonFinite(name.clone()));
        }
        samples.push(Sample {
            ts,
            name: metric,
            value,
        });
    }
    Ok(AgentMessage::Telemetry { samples })
}

fn decode_event(
    object: &Map<String, Value>,
    ts: DateTime<Utc>,
) -> Result<AgentMessage, RejectReason> {
    let text = |field: &'static str| -> Result<String, RejectReason> {
        object
            .get(field)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or(RejectReason::BadField(field))
    };
    Ok(AgentMessage::Event(DeviceEvent {
        ts,
        level: text("level").unwrap_or_else(|_| "info".to_owned()),
        source: text("source").unwrap_or_else(|_| "agent".to_owned()),
        message: text("message")?,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-22T10:00:00Z".parse().unwrap()
    }

    fn telemetry(body: &[u8]) -> Result<AgentMessage, RejectReason> {
        decode(MessageKind::Telemetry, body, 1024, now())
    }

    #[test]
    fn decodes_contract_telemetry() {
        let msg = telemetry(br#"{"ts":"2026-11-22T09:59:00Z","metrics":{"cpu.usage_pct":93.5,"disk.used_pct{mount=C:}":88}}"#).unwrap();
        let AgentMessage::Telemetry { samples } = msg else {
            panic!("not telemetry")
        };
        assert_eq!(samples.len(), 2);
        assert_eq!(samples[0].ts.to_rfc3339(), "2026-11-22T09:59:00+00:00");
    }

    #[test]
    fn every_bad_payload_class_is_refused_with_its_reason() {
        let cases: &[(&[u8], &str)] = &[
            (b"not json", "invalid_json"),
            (&[0x7b, 0xff, 0xfe, 0x7d], "invalid_utf8"),
            (b"[1,2]", "not_an_object"),
            (br#"{"metrics":{"cpu.usage_pct":"high"}}"#, "not_a_number"),
            (br#"{"metrics":{"cpu.usage_pct":1e999}}"#, "invalid_json"),
            (br#"{"metrics":{"CPU":1}}"#, "bad_metric_name"),
            (br#"{"ts":"soon","metrics":{"a":1}}"#, "bad_timestamp"),
            (br#"{"metrics":5}"#, "bad_field"),
        ];
        for (body, label) in cases {
            let err = telemetry(body).unwrap_err();
            assert_eq!(err.as_str(), *label, "{}", String::from_utf8_lossy(body));
        }
        let big = vec![b' '; 2000];
        assert_eq!(telemetry(&big).unwrap_err().as_str(), "oversize");
    }

    #[test]
    fn nan_cannot_arrive_as_a_number() {
        // JSON has no NaN literal; serde_json refuses it, so it lands in invalid_json.
        assert_eq!(
            telemetry(br#"{"metrics":{"a":NaN}}"#).unwrap_err().as_str(),
            "invalid_json"
        );
    }

    #[test]
    fn topics_parse_only_in_canonical_form() {
        let id = DeviceId::new();
        let topic = format!("/tenants/{}/telemetry", id.key());
        assert_eq!(parse_topic(&topic), Ok((id, MessageKind::Telemetry)));
        let result = format!("/tenants/{}/commands/42/result", id.key());
        assert_eq!(parse_topic(&result).unwrap().1, MessageKind::CommandResult);
        assert!(parse_topic("/tenants/abc/telemetry").is_err());
        assert!(parse_topic(&format!("/tenants/{}/other", id.key())).is_err());
        assert!(parse_topic("telemetry").is_err());
    }
}
