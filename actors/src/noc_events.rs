//! The NOC events: everything the hub pushes to `/ws/noc` sessions, as one typed enum. Each
//! variant serialises to the contract's shape (`docs/api.md`, "NOC WebSocket"):
//!
//! | variant | JSON |
//! |---|---|
//! | [`NocMessage::Alert`] | `{"type":"alert","event":"opened"\|"updated"\|"cleared"\|"resolved","alert":{…}}` |
//! | [`NocMessage::Device`] | `{"type":"device","event":"health","device_id","tenant_id","health"}`, `{"type":"device","event":"online"\|"offline","device_id","tenant_id"}` |
//! | [`NocMessage::Ticket`] | `{"type":"ticket","event":"created"\|"updated","ticket":{…}}`; SLA steps: `{"type":"ticket","event":"sla_warning"\|"sla_breached","ticket":{…},"sla":{clock, step, seq, …}}` |
//! | [`NocMessage::Metrics`] | `{"type":"metrics","device_id","ts","values":{name: number}}` (subscribers of the device only) |
//! | [`NocMessage::ScriptRun`] | `{"type":"script_run","event":"sent"\|"finished"\|"expired","run":{…}}` |
//!
//! A message becomes a hub [`NocEvent`] with [`NocMessage::to_event`]: serialised once, with the
//! tenant and device the hub filters on.

use crate::hub::NocEvent;
use centinela_model::TenantId;
use centinela_storage::alerts::Alert;
use centinela_storage::scripts::ScriptRun;
use centinela_storage::sla::SlaEvent;
use centinela_storage::tickets::Ticket;
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use uuid::Uuid;

/// One event for NOC sessions.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum NocMessage {
    /// An alert opened, changed (severity, ack, status, ticket), cleared or was resolved.
    Alert { event: AlertEvent, alert: Alert },
    /// A device's health or reachability changed.
    Device {
        #[serde(flatten)]
        event: DeviceEvent,
        device_id: Uuid,
        tenant_id: Uuid,
    },
    /// A ticket was created or changed, or one of its SLA clocks reached a step.
    Ticket {
        event: TicketEvent,
        ticket: Ticket,
        /// The SLA step (`sla_warning` and `sla_breached` events only).
        #[serde(skip_serializing_if = "Option::is_none")]
        sla: Option<Box<SlaEvent>>,
    },
    /// Live values of a device, sent only to sessions subscribed to it.
    Metrics {
        device_id: Uuid,
        ts: DateTime<Utc>,
        values: BTreeMap<String, f64>,
    },
    /// A remote script run changed state.
    ScriptRun {
        event: ScriptRunEvent,
        run: ScriptRun,
    },
}

/// What happened to an alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertEvent {
    Opened,
    Updated,
    Cleared,
    Resolved,
}

/// What happened to a device (the `event` field and what goes with it).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum DeviceEvent {
    /// `health`: `green`, `yellow` or `red`.
    Health {
        health: &'static str,
    },
    Online,
    Offline,
}

/// What happened to a ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TicketEvent {
    Created,
    Updated,
    /// A clock reached 75 % of its target.
    SlaWarning,
    /// A clock reached its target (`sla.step` = `breached`), or a reminder after it
    /// (`sla.step` = `reminder`, `sla.seq` = its number).
    SlaBreached,
}

/// What happened to a script run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ScriptRunEvent {
    Sent,
    Finished,
    Expired,
}

impl NocMessage {
    /// The device the event is about, if any (metrics go only to its subscribers).
    pub fn device_id(&self) -> Option<Uuid> {
        match self {
            NocMessage::Alert { alert, .. } => Some(alert.device_id),
            NocMessage::Device { device_id, .. } | NocMessage::Metrics { device_id, .. } => {
                Some(*device_id)
            }
            NocMessage::Ticket { ticket, .. } => ticket.device_id,
            NocMessage::ScriptRun { run, .. } => Some(run.device_id),
        }
    }

    /// The JSON text sessions receive.
    pub fn to_json(&self) -> String {
        // Every field is a string, number, time or map of them: serialisation cannot fail.
        serde_json::to_string(self).unwrap_or_else(|_| String::from("{}"))
    }

    /// The hub event for sessions that may see `tenant_id`, serialised once.
    pub fn to_event(&self, tenant_id: TenantId) -> NocEvent {
        NocEvent {
            tenant_id,
            device_id: self.device_id(),
            site_id: match self {
                NocMessage::Ticket { ticket, .. } => ticket.site_id,
                _ => None,
            },
            owner_id: match self {
                NocMessage::Ticket { ticket, .. } => ticket.created_by,
                _ => None,
            },
            subscription_only: matches!(self, NocMessage::Metrics { .. }),
            not_for_requesters: matches!(self, NocMessage::Ticket { sla: Some(_), .. }),
            json: self.to_json().into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::{Value, json};

    fn parsed(message: &NocMessage) -> Value {
        serde_json::from_str(&message.to_json()).unwrap()
    }

    #[test]
    fn device_events_keep_the_contract_shape() {
        let (device_id, tenant_id) = (Uuid::new_v4(), Uuid::new_v4());
        let health = NocMessage::Device {
            event: DeviceEvent::Health { health: "red" },
            device_id,
            tenant_id,
        };
        assert_eq!(
            parsed(&health),
            json!({"type": "device", "event": "health", "device_id": device_id,
                   "tenant_id": tenant_id, "health": "red"})
        );
        let offline = NocMessage::Device {
            event: DeviceEvent::Offline,
            device_id,
            tenant_id,
        };
        assert_eq!(
            parsed(&offline),
            json!({"type": "device", "event": "offline", "device_id": device_id,
                   "tenant_id": tenant_id})
        );
        let event = offline.to_event(TenantId(tenant_id));
        assert_eq!(event.device_id, Some(device_id));
        assert!(!event.subscription_only);
    }

    #[test]
    fn metrics_go_to_subscribers_only() {
        let device_id = Uuid::new_v4();
        let ts = DateTime::parse_from_rfc3339("2026-12-03T10:00:00Z")
            .unwrap()
            .to_utc();
        let message = NocMessage::Metrics {
            device_id,
            ts,
            values: BTreeMap::from([("cpu.usage_pct".to_owned(), 93.5)]),
        };
        assert_eq!(
            parsed(&message),
            json!({"type": "metrics", "device_id": device_id, "ts": "2026-12-03T10:00:00Z",
                   "values": {"cpu.usage_pct": 93.5}})
        );
        assert!(message.to_event(TenantId(Uuid::new_v4())).subscription_only);
    }

    #[test]
    fn alert_events_carry_the_alert() {
        let alert =
            centinela_storage::alerts::provisional(&centinela_storage::alerts::AlertFacts {
                id: Uuid::new_v4(),
                tenant_id: Uuid::new_v4(),
                device_id: Uuid::new_v4(),
                key: "cpu.usage_pct".into(),
                threshold_id: None,
                severity: "critical".into(),
                title: "CPU al 97 % en Recepción".into(),
                description: "Uso de CPU alto".into(),
                recommended_action: "Revisar procesos".into(),
                value: 97.0,
                threshold: Some(90.0),
                at: Utc::now(),
            });
        let message = NocMessage::Alert {
            event: AlertEvent::Opened,
            alert: alert.clone(),
        };
        let value = parsed(&message);
        assert_eq!(value["type"], "alert");
        assert_eq!(value["event"], "opened");
        assert_eq!(value["alert"]["id"], json!(alert.id));
        assert_eq!(value["alert"]["title"], "CPU al 97 % en Recepción");
        assert_eq!(message.device_id(), Some(alert.device_id));
    }
}
