//! Decoding of agent messages, shared by every transport (MQTT topics and `/ws/agent`).
//!
//! Topics are `/tenants/{device_key}/{kind}`. Payloads are UTF-8 JSON objects under a size limit;
//! telemetry values must be finite numbers. Each refusal has a [`RejectReason`] whose
//! [`RejectReason::as_str`] is a bounded label for counters.
//!
//! Nothing that leaves this module can fail to be stored for what it contains:
//! - a `ts` outside the [`TimeWindow`] is refused (`bad_timestamp`) in every kind, even those
//!   that do not store it (a device whose clock is off is told so, see the runtime);
//! - text PostgreSQL cannot store (NUL: `text` refuses the byte, `jsonb` the `\u0000` escape)
//!   is *cleaned* where the text is free-form and worth keeping — every string and key of an
//!   inventory or a command result, an event's level, source and message — by replacing each
//!   NUL with U+FFFD, so the reader sees that something was there; it is *refused* where the text
//!   is an identifier — a metric name or label (`bad_metric_name`), since a series name that is
//!   silently changed would be a different series.

use crate::ids::DeviceId;
use crate::metric::{MetricName, Sample};
use crate::time::{TimeWindow, parse_timestamp};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value};
use std::borrow::Cow;

/// Default payload size limit (bytes); configurable at the transport.
pub const DEFAULT_MAX_PAYLOAD_BYTES: usize = 64 * 1024;

/// Most metrics accepted in one telemetry message.
pub const MAX_METRICS_PER_MESSAGE: usize = 1000;

/// The limits a decoder applies (settings of the transport and of storage).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DecodeLimits {
    /// Largest payload accepted, in bytes.
    pub max_payload_bytes: usize,
    /// Timestamps accepted, relative to the engine's clock.
    pub window: TimeWindow,
}

impl Default for DecodeLimits {
    fn default() -> Self {
        DecodeLimits {
            max_payload_bytes: DEFAULT_MAX_PAYLOAD_BYTES,
            window: TimeWindow::default(),
        }
    }
}

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
    #[error("timestamp {ts} is older than the retention window or too far in the future")]
    TimestampOutOfRange { ts: DateTime<Utc> },
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
            RejectReason::BadTimestamp | RejectReason::TimestampOutOfRange { .. } => {
                "bad_timestamp"
            }
            RejectReason::BadMetricName { .. } => "bad_metric_name",
            RejectReason::NotANumber(_) => "not_a_number",
            RejectReason::NonFinite(_) => "non_finite",
            RejectReason::TooManyMetrics => "too_many_metrics",
            RejectReason::BadTopic => "bad_topic",
            RejectReason::UnknownDevice => "unknown_device",
            RejectReason::UnknownType => "unknown_type",
        }
    }

    /// The device's time when the refusal says its clock is off.
    pub fn skewed_clock(&self) -> Option<DateTime<Utc>> {
        match self {
            RejectReason::TimestampOutOfRange { ts } => Some(*ts),
            _ => None,
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

impl AgentMessage {
    /// Whether this message tells the device's clock is right again: the kinds whose time is
    /// used (telemetry, heartbeat, events) passed the window. A message without `ts` is stamped
    /// with the engine's time and cannot be judged; it counts as good.
    pub fn vouches_for_clock(&self) -> bool {
        matches!(
            self,
            AgentMessage::Telemetry { .. }
                | AgentMessage::Heartbeat { .. }
                | AgentMessage::Event(_)
        )
    }
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

/// Decodes a message body of the given kind. `now` stamps messages that carry no `ts` and is
/// what the time window is measured from.
pub fn decode(
    kind: MessageKind,
    payload: &[u8],
    limits: &DecodeLimits,
    now: DateTime<Utc>,
) -> Result<AgentMessage, RejectReason> {
    let object = parse_object(payload, limits.max_payload_bytes)?;
    decode_object(kind, &object, &limits.window, now)
}

/// Decodes an already-parsed JSON object (the `/ws/agent` path, where the envelope carries
/// `type`).
pub fn decode_object(
    kind: MessageKind,
    object: &Map<String, Value>,
    window: &TimeWindow,
    now: DateTime<Utc>,
) -> Result<AgentMessage, RejectReason> {
    let ts = match object.get("ts") {
        None | Some(Value::Null) => now,
        Some(v) => parse_timestamp(v).ok_or(RejectReason::BadTimestamp)?,
    };
    if !window.contains(ts, now) {
        return Err(RejectReason::TimestampOutOfRange { ts });
    }
    match kind {
        MessageKind::Telemetry => decode_telemetry(object, ts),
        MessageKind::Heartbeat => Ok(AgentMessage::Heartbeat {
            ts,
            dropped: object.get("dropped").and_then(Value::as_u64).unwrap_or(0),
        }),
        MessageKind::Inventory => Ok(AgentMessage::Inventory {
            inventory: Value::Object(clean_object(object)),
        }),
        MessageKind::Events => decode_event(object, ts),
        MessageKind::CommandResult => Ok(AgentMessage::CommandResult {
            result: Value::Object(clean_object(object)),
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
            .map(|s| clean_text(s).into_owned())
            .ok_or(RejectReason::BadField(field))
    };
    Ok(AgentMessage::Event(DeviceEvent {
        ts,
        level: text("level").unwrap_or_else(|_| "info".to_owned()),
        source: text("source").unwrap_or_else(|_| "agent".to_owned()),
        message: text("message")?,
    }))
}

/// The replacement for a NUL: visible, and storable everywhere.
const NUL_REPLACEMENT: char = '\u{FFFD}';

/// Text with every NUL replaced by U+FFFD (borrowed when there is none, the usual case).
pub fn clean_text(text: &str) -> Cow<'_, str> {
    if text.contains('\0') {
        Cow::Owned(text.replace('\0', &NUL_REPLACEMENT.to_string()))
    } else {
        Cow::Borrowed(text)
    }
}

/// A JSON value with NUL replaced in every string and key, at any depth.
pub fn clean_json(value: &Value) -> Value {
    match value {
        Value::String(s) => Value::String(clean_text(s).into_owned()),
        Value::Array(items) => Value::Array(items.iter().map(clean_json).collect()),
        Value::Object(map) => Value::Object(clean_object(map)),
        other => other.clone(),
    }
}

fn clean_object(map: &Map<String, Value>) -> Map<String, Value> {
    map.iter()
        .map(|(k, v)| (clean_text(k).into_owned(), clean_json(v)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        "2026-11-22T10:00:00Z".parse().unwrap()
    }

    fn limits() -> DecodeLimits {
        DecodeLimits {
            max_payload_bytes: 1024,
            window: TimeWindow::default(),
        }
    }

    fn telemetry(body: &[u8]) -> Result<AgentMessage, RejectReason> {
        decode(MessageKind::Telemetry, body, &limits(), now())
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

    const KINDS: [MessageKind; 5] = [
        MessageKind::Telemetry,
        MessageKind::Heartbeat,
        MessageKind::Inventory,
        MessageKind::Events,
        MessageKind::CommandResult,
    ];

    #[test]
    fn timestamps_outside_the_window_are_refused_in_every_kind() {
        let ancient = br#"{"ts":-300000000000000,"metrics":{"a":1},"message":"x"}"#;
        let future = br#"{"ts":"2026-11-22T10:11:00Z","metrics":{"a":1},"message":"x"}"#;
        let fine = br#"{"ts":"2026-11-22T10:09:00Z","metrics":{"a":1},"message":"x"}"#;
        for kind in KINDS {
            for body in [&ancient[..], &future[..]] {
                let err = decode(kind, body, &limits(), now()).unwrap_err();
                assert_eq!(err.as_str(), "bad_timestamp", "{kind:?}");
                assert!(err.skewed_clock().is_some(), "{kind:?}");
            }
            assert!(decode(kind, fine, &limits(), now()).is_ok(), "{kind:?}");
        }
        // Unparseable is bad_timestamp too, but says nothing about the device's clock.
        let err = telemetry(br#"{"ts":"soon","metrics":{"a":1}}"#).unwrap_err();
        assert_eq!(err.skewed_clock(), None);
    }

    #[test]
    fn nul_is_cleaned_in_free_text_and_refused_in_series_names() {
        let inventory = br#"{"os":"Win\u0000dows","disks":[{"na\u0000me":"C\u0000"}]}"#;
        let AgentMessage::Inventory { inventory } =
            decode(MessageKind::Inventory, inventory, &limits(), now()).unwrap()
        else {
            panic!("not inventory")
        };
        let text = inventory.to_string();
        assert!(!text.contains("\\u0000"), "{text}");
        assert_eq!(inventory["os"], "Win\u{FFFD}dows");
        assert_eq!(inventory["disks"][0]["na\u{FFFD}me"], "C\u{FFFD}");
        let event = br#"{"level":"in\u0000fo","source":"s\u0000","message":"a\u0000b"}"#;
        let AgentMessage::Event(event) =
            decode(MessageKind::Events, event, &limits(), now()).unwrap()
        else {
            panic!("not an event")
        };
        assert!(!format!("{}{}{}", event.level, event.source, event.message).contains('\0'));
        let result = br#"{"command_id":"x","stdout":"o\u0000k"}"#;
        let AgentMessage::CommandResult { result } =
            decode(MessageKind::CommandResult, result, &limits(), now()).unwrap()
        else {
            panic!("not a result")
        };
        assert_eq!(result["stdout"], "o\u{FFFD}k");
        let label = br#"{"metrics":{"disk.used_pct{mount=\u0000}":1}}"#;
        assert_eq!(telemetry(label).unwrap_err().as_str(), "bad_metric_name");
    }

    fn json_has_nul(v: &Value) -> bool {
        match v {
            Value::String(s) => s.contains('\0'),
            Value::Array(items) => items.iter().any(json_has_nul),
            Value::Object(map) => map.iter().any(|(k, v)| k.contains('\0') || json_has_nul(v)),
            _ => false,
        }
    }

    /// Holds for every message that decodes: nothing in it can be refused by PostgreSQL.
    fn storable(message: &AgentMessage) -> bool {
        let no_nul = |s: &str| !s.contains('\0');
        let in_window = |ts| limits().window.contains(ts, now());
        match message {
            AgentMessage::Telemetry { samples } => samples
                .iter()
                .all(|s| no_nul(s.name.as_str()) && s.value.is_finite() && in_window(s.ts)),
            AgentMessage::Heartbeat { ts, .. } => in_window(*ts),
            AgentMessage::Inventory { inventory: v }
            | AgentMessage::CommandResult { result: v } => !json_has_nul(v),
            AgentMessage::Event(e) => {
                no_nul(&e.level) && no_nul(&e.source) && no_nul(&e.message) && in_window(e.ts)
            }
        }
    }

    fn arbitrary_json() -> impl proptest::strategy::Strategy<Value = Value> {
        use proptest::prelude::*;
        let text = || proptest::string::string_regex("(.|\\x00){0,12}").unwrap();
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<f64>().prop_map(Value::from),
            text().prop_map(Value::from),
        ];
        leaf.prop_recursive(4, 48, 8, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
                proptest::collection::btree_map(text(), inner, 0..6)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_bytes_never_panic_and_refusals_have_a_reason(
            body in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..300),
        ) {
            for kind in KINDS {
                match decode(kind, &body, &limits(), now()) {
                    Ok(message) => proptest::prop_assert!(storable(&message)),
                    Err(reason) => {
                        proptest::prop_assert!(RejectReason::LABELS.contains(&reason.as_str()));
                        proptest::prop_assert!(!reason.to_string().is_empty());
                    }
                }
            }
        }

        #[test]
        fn arbitrary_json_never_panics_and_what_passes_is_storable(
            mut fields in proptest::collection::btree_map(
                "(ts|metrics|message|level|source|dropped|[a-z\\x00]{1,6})",
                arbitrary_json(),
                0..6,
            ),
            metrics in proptest::collection::btree_map(
                "[a-z._]{1,8}(\\{[a-z]=[^{}=,]{1,3}\\})?",
                proptest::prelude::any::<f64>(),
                0..4,
            ),
            ts_ms in proptest::prelude::any::<i64>(),
        ) {
            let metrics: Map<String, Value> =
                metrics.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
            fields.entry("metrics".into()).or_insert(Value::Object(metrics));
            fields.entry("ts".into()).or_insert(Value::from(ts_ms));
            let body = Value::Object(fields.into_iter().collect()).to_string();
            for kind in KINDS {
                let big = DecodeLimits { max_payload_bytes: 1 << 20, ..limits() };
                match decode(kind, body.as_bytes(), &big, now()) {
                    Ok(message) => proptest::prop_assert!(storable(&message), "{body}"),
                    Err(reason) => {
                        proptest::prop_assert!(RejectReason::LABELS.contains(&reason.as_str()));
                        proptest::prop_assert!(!reason.to_string().is_empty());
                    }
                }
            }
        }
    }
}
