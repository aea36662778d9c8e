//! The device actor: one per device, on one of the runtime's arbiters. It evaluates each sample
//! against the device's effective thresholds, keeping a state machine per series
//! (`model::threshold`), and turns transitions into [`AlertChange`]s for its tenant actor. It
//! never blocks and never touches the database.

use crate::hub::{Hub, NocEvent};
use crate::rules::ActiveRule;
use crate::tenant::{AlertChange, TenantActor};
use actix::prelude::*;
use centinela_model::threshold::{SeriesState, Transition, step};
use centinela_model::{Sample, Severity, TenantId};
use centinela_storage::devices::DeviceIdentity;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use serde_json::json;
use std::collections::HashMap;
use std::sync::Arc;
use uuid::Uuid;

/// Samples to evaluate, in order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct Evaluate {
    pub samples: Vec<Sample>,
}

/// Replaces the device's effective rules (after a threshold change).
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetRules {
    pub rules: HashMap<String, ActiveRule>,
}

/// The traffic light of a device.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Health {
    Green,
    Yellow,
    Red,
}

impl Health {
    pub fn as_str(&self) -> &'static str {
        match self {
            Health::Green => "green",
            Health::Yellow => "yellow",
            Health::Red => "red",
        }
    }
}

struct SeriesEntry {
    threshold_id: Uuid,
    state: SeriesState,
    last_value: f64,
}

/// The device actor.
pub struct DeviceActor {
    identity: DeviceIdentity,
    rules: HashMap<String, ActiveRule>,
    series: HashMap<String, SeriesEntry>,
    tenant: Addr<TenantActor>,
    hub: Addr<Hub>,
    watched: Arc<DashMap<Uuid, usize>>,
    health: Health,
    mailbox_capacity: usize,
}

/// What a device actor starts with.
pub struct DeviceSeed {
    pub identity: DeviceIdentity,
    pub rules: HashMap<String, ActiveRule>,
    /// Firing alerts reloaded from the database: (series key, threshold id, severity, value).
    pub firing: Vec<(String, Option<Uuid>, Severity, f64)>,
}

impl DeviceActor {
    pub fn new(
        seed: DeviceSeed,
        tenant: Addr<TenantActor>,
        hub: Addr<Hub>,
        watched: Arc<DashMap<Uuid, usize>>,
        mailbox_capacity: usize,
    ) -> DeviceActor {
        let series = seed
            .firing
            .into_iter()
            .map(|(key, threshold_id, severity, value)| {
                let entry = SeriesEntry {
                    threshold_id: threshold_id.unwrap_or_default(),
                    state: SeriesState::Firing { severity },
                    last_value: value,
                };
                (key, entry)
            })
            .collect();
        let mut actor = DeviceActor {
            identity: seed.identity,
            rules: seed.rules,
            series,
            tenant,
            hub,
            watched,
            health: Health::Green,
            mailbox_capacity,
        };
        actor.health = actor.compute_health();
        actor
    }

    fn compute_health(&self) -> Health {
        let mut worst = Health::Green;
        for entry in self.series.values() {
            match entry.state {
                SeriesState::Firing {
                    severity: Severity::Critical,
                } => return Health::Red,
                SeriesState::Firing {
                    severity: Severity::Warning,
                } => worst = Health::Yellow,
                _ => {}
            }
        }
        worst
    }

    fn evaluate(&mut self, sample: &Sample) {
        let Some(rule) = self.rules.get(sample.name.base()) else {
            return;
        };
        let entry = self
            .series
            .entry(sample.name.as_str().to_owned())
            .or_insert(SeriesEntry {
                threshold_id: rule.threshold_id,
                state: SeriesState::Ok,
                last_value: sample.value,
            });
        entry.threshold_id = rule.threshold_id;
        entry.last_value = sample.value;
        let (next, transition) = step(entry.state, &rule.rule, sample.value, sample.ts);
        entry.state = next;
        if let Some(transition) = transition {
            self.tenant.do_send(AlertChange {
                device: self.identity.clone(),
                key: sample.name.as_str().to_owned(),
                rule: rule.clone(),
                transition,
                at: sample.ts,
            });
        }
    }

    fn publish_health_if_changed(&mut self) {
        let health = self.compute_health();
        if health == self.health {
            return;
        }
        self.health = health;
        let json = json!({
            "type": "device", "event": "health", "device_id": self.identity.id,
            "tenant_id": self.identity.tenant_id, "health": health.as_str(),
        });
        self.hub.do_send(NocEvent {
            tenant_id: TenantId(self.identity.tenant_id),
            device_id: Some(self.identity.id),
            subscription_only: false,
            json: json.to_string().into(),
        });
    }

    fn publish_metrics(&self, samples: &[Sample]) {
        if !self.watched.contains_key(&self.identity.id) {
            return;
        }
        let ts: DateTime<Utc> = samples.iter().map(|s| s.ts).max().unwrap_or_else(Utc::now);
        let values: serde_json::Map<String, serde_json::Value> = samples
            .iter()
            .map(|s| (s.name.as_str().to_owned(), json!(s.value)))
            .collect();
        let json =
            json!({"type": "metrics", "device_id": self.identity.id, "ts": ts, "values": values});
        self.hub.do_send(NocEvent {
            tenant_id: TenantId(self.identity.tenant_id),
            device_id: Some(self.identity.id),
            subscription_only: true,
            json: json.to_string().into(),
        });
    }
}

impl Actor for DeviceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.mailbox_capacity);
    }
}

impl Handler<Evaluate> for DeviceActor {
    type Result = ();
    fn handle(&mut self, msg: Evaluate, _: &mut Context<Self>) {
        for sample in &msg.samples {
            self.evaluate(sample);
        }
        self.publish_health_if_changed();
        self.publish_metrics(&msg.samples);
    }
}

impl Handler<SetRules> for DeviceActor {
    type Result = ();
    fn handle(&mut self, msg: SetRules, _: &mut Context<Self>) {
        self.rules = msg.rules;
        // A series whose rule disappeared or changed identity cannot go on firing on its own:
        // clear it now rather than leave an alert open that nothing will ever clear.
        let rules = &self.rules;
        let orphaned: Vec<String> = self
            .series
            .iter()
            .filter(|(key, entry)| {
                let base = key.split('{').next().unwrap_or(key);
                rules
                    .get(base)
                    .is_none_or(|r| r.threshold_id != entry.threshold_id)
            })
            .map(|(key, _)| key.clone())
            .collect();
        for key in orphaned {
            let Some(entry) = self.series.remove(&key) else {
                continue;
            };
            if let SeriesState::Firing { .. } = entry.state {
                let base = key.split('{').next().unwrap_or(&key).to_owned();
                let rule = rules.get(&base).cloned().unwrap_or(ActiveRule {
                    threshold_id: entry.threshold_id,
                    metric: base,
                    rule: centinela_model::threshold::Rule {
                        op: centinela_model::threshold::Op::Gt,
                        warning: None,
                        critical: None,
                        for_seconds: 0,
                        clear_margin: 0.0,
                    },
                    auto_ticket: false,
                    ticket_priority: None,
                });
                self.tenant.do_send(AlertChange {
                    device: self.identity.clone(),
                    key,
                    rule,
                    transition: Transition::Cleared {
                        value: entry.last_value,
                    },
                    at: Utc::now(),
                });
            }
        }
        self.publish_health_if_changed();
    }
}
