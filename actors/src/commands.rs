//! Commands to agents: transports register a [`CommandSink`] (MQTT publishes on
//! `/tenants/{device_key}/commands`, `/ws/agent` sessions push a frame), and the runtime hands
//! each signed command to every sink. Results come back as agent messages and are matched to
//! their pending run by id and device (a result for another device's run, or a second result,
//! is refused).

use centinela_model::DeviceId;
use serde_json::Value;
use std::sync::{Arc, RwLock};

/// A way to reach agents.
pub trait CommandSink: Send + Sync + 'static {
    /// Hands `message` (the signed command document) to the device; true when this transport
    /// took it (the device is connected through it, or the broker accepted it).
    fn deliver(&self, device: DeviceId, message: &str) -> bool;
}

/// The registered sinks.
#[derive(Default)]
pub struct CommandSinks(RwLock<Vec<Arc<dyn CommandSink>>>);

impl CommandSinks {
    pub fn add(&self, sink: Arc<dyn CommandSink>) {
        if let Ok(mut sinks) = self.0.write() {
            sinks.push(sink);
        }
    }

    /// How many transports took the message.
    pub fn deliver(&self, device: DeviceId, message: &str) -> usize {
        let sinks = match self.0.read() {
            Ok(sinks) => sinks.clone(),
            Err(_) => return 0,
        };
        sinks
            .iter()
            .filter(|sink| sink.deliver(device, message))
            .count()
    }
}

/// Largest stdout/stderr kept per run (the agent caps them too).
pub const MAX_OUTPUT: usize = 64 * 1024;

/// A command result as the agent reports it.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedResult {
    pub command_id: uuid::Uuid,
    pub result: centinela_storage::scripts::RunResult,
}

fn capped(v: Option<&Value>) -> String {
    let text = v.and_then(Value::as_str).unwrap_or_default();
    if text.len() <= MAX_OUTPUT {
        return text.to_owned();
    }
    let mut end = MAX_OUTPUT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Reads a result document; `None` when it names no command id or an unknown status.
pub fn parse_result(doc: &Value) -> Option<ReportedResult> {
    let command_id = doc.get("command_id")?.as_str()?.parse().ok()?;
    let status = doc.get("status")?.as_str()?;
    if !matches!(status, "completed" | "timeout" | "refused" | "failed") {
        return None;
    }
    let result = centinela_storage::scripts::RunResult {
        status: status.to_owned(),
        exit_code: doc
            .get("exit_code")
            .and_then(Value::as_i64)
            .and_then(|c| i32::try_from(c).ok()),
        stdout: capped(doc.get("stdout")),
        stderr: capped(doc.get("stderr")),
        duration_ms: doc.get("duration_ms").and_then(Value::as_i64),
        reason: doc
            .get("reason")
            .and_then(Value::as_str)
            .map(|r| r.chars().take(1000).collect()),
    };
    Some(ReportedResult { command_id, result })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn results_are_parsed_and_capped() {
        let id = uuid::Uuid::new_v4();
        let doc = json!({"command_id": id, "status": "completed", "exit_code": 0,
            "stdout": "x".repeat(MAX_OUTPUT + 10), "stderr": "", "duration_ms": 12});
        let r = parse_result(&doc).expect("parsed");
        assert_eq!(r.command_id, id);
        assert_eq!(r.result.stdout.len(), MAX_OUTPUT);
        assert_eq!(r.result.exit_code, Some(0));
        assert!(parse_result(&json!({"command_id": id, "status": "hacked"})).is_none());
        assert!(parse_result(&json!({"status": "completed"})).is_none());
    }
}
