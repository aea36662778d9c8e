//! What the agent sends: one queued item per message, and how each transport frames it.
//!
//! An item is stored in the queue exactly as it will be sent (its JSON body with the original
//! `ts`), so a replay after a reconnect carries the time of measurement, not of delivery.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// The kind of an outgoing message; decides its MQTT topic and its WebSocket `type`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    Telemetry,
    Heartbeat,
    Inventory,
    Events,
    CommandResult,
}

impl ItemKind {
    /// The WebSocket `type` word (and, except for results, the MQTT topic suffix).
    pub fn as_str(&self) -> &'static str {
        match self {
            ItemKind::Telemetry => "telemetry",
            ItemKind::Heartbeat => "heartbeat",
            ItemKind::Inventory => "inventory",
            ItemKind::Events => "events",
            ItemKind::CommandResult => "command_result",
        }
    }
}

/// One message waiting for delivery.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QueuedItem {
    pub kind: ItemKind,
    /// The command a result belongs to (its topic names it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub command_id: Option<String>,
    /// The JSON object sent as the MQTT payload (and merged into the WebSocket frame).
    pub body: Value,
}

impl QueuedItem {
    pub fn new(kind: ItemKind, body: Value) -> Self {
        Self {
            kind,
            command_id: None,
            body,
        }
    }

    /// A command result, published under the command's own topic.
    pub fn command_result(command_id: &str, body: Value) -> Self {
        Self {
            kind: ItemKind::CommandResult,
            command_id: Some(command_id.to_owned()),
            body,
        }
    }

    /// An agent event (`{"ts","level","source","message"}`).
    pub fn event(level: &str, message: &str) -> Self {
        Self::new(
            ItemKind::Events,
            serde_json::json!({
                "ts": now_rfc3339(),
                "level": level,
                "source": "centinela-agent",
                "message": message,
            }),
        )
    }

    /// The MQTT topic for this item (leading slash, per the contract).
    pub fn topic(&self, device_key: &str) -> String {
        match (self.kind, &self.command_id) {
            (ItemKind::CommandResult, Some(id)) => {
                format!("/tenants/{device_key}/commands/{id}/result")
            }
            (kind, _) => format!("/tenants/{device_key}/{}", kind.as_str()),
        }
    }

    /// The MQTT payload.
    pub fn payload(&self) -> Vec<u8> {
        serde_json::to_vec(&self.body).unwrap_or_default()
    }

    /// The WebSocket frame: the body's fields plus `type` and the client sequence `id`.
    pub fn ws_frame(&self, id: u64) -> String {
        let mut frame = match &self.body {
            Value::Object(map) => map.clone(),
            other => {
                let mut map = Map::new();
                map.insert("body".to_owned(), other.clone());
                map
            }
        };
        frame.insert("type".to_owned(), Value::from(self.kind.as_str()));
        frame.insert("id".to_owned(), Value::from(id.to_string()));
        Value::Object(frame).to_string()
    }
}

/// Now as RFC 3339 UTC with millisecond precision.
pub fn now_rfc3339() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn topics_and_frames() {
        let key = "0123456789abcdef0123456789abcdef";
        let t = QueuedItem::new(
            ItemKind::Telemetry,
            serde_json::json!({"ts": "x", "metrics": {}}),
        );
        assert_eq!(t.topic(key), format!("/tenants/{key}/telemetry"));
        let r = QueuedItem::command_result("c1", serde_json::json!({"command_id": "c1"}));
        assert_eq!(r.topic(key), format!("/tenants/{key}/commands/c1/result"));
        let frame: Value = serde_json::from_str(&r.ws_frame(7)).expect("json");
        assert_eq!(frame["type"], "command_result");
        assert_eq!(frame["id"], "7");
        assert_eq!(frame["command_id"], "c1");
        let e = QueuedItem::event("warning", "hola ñandú");
        assert_eq!(e.topic(key), format!("/tenants/{key}/events"));
        assert_eq!(e.body["source"], "centinela-agent");
    }
}
