//! The device actor: one per device, on one of the runtime's arbiters. It evaluates each sample
//! against the device's effective thresholds, keeping a state machine per series
//! (`model::threshold`), and turns transitions into [`AlertChange`]s for its tenant actor. It
//! never blocks and never touches the database.
//!
//! Alert changes go to the tenant actor's bounded mailbox with `try_send`, in the order they were
//! raised. When it is full the device actor keeps them (in order) and stops taking messages until
//! there is room again (`ctx.wait`): its own mailbox then fills and ingest waits, so a burst of
//! alerts while their storage is down pushes back on the transport instead of growing memory or
//! losing a change.
//!
//! Built-in alerts about the device's input (clock skew, alert storm) and its firing-alert
//! cap live in [`guard`].

mod guard;

pub use guard::{ALERT_STORM_KEY, CLOCK_SKEW_KEY, ClockSkew, DeviceLimits};

use crate::hub::Hub;
use crate::maintenance::MaintenanceIndex;
use crate::noc_events::{DeviceEvent, NocMessage};
use crate::rules::ActiveRule;
use crate::telemetry::Telemetry;
use crate::tenant::{AlertChange, AlertSource, EventTexts, TenantActor};
use actix::prelude::*;
use centinela_model::log_rules::{FindingChange, LogFinding, LogHeuristics, LogLine, LogRule};
use centinela_model::threshold::{SeriesState, Transition, step};
use centinela_model::{Sample, Severity, TenantId};
use centinela_storage::devices::DeviceIdentity;
use chrono::{DateTime, Utc};
use dashmap::DashMap;
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// Key of the alert a router raises when it stops answering.
pub const OFFLINE_KEY: &str = "router.offline";

/// Key of the alert an agent raises when it falls silent.
pub const AGENT_OFFLINE_KEY: &str = "agent.offline";

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

/// One line of a router's log.
#[derive(Clone, Debug)]
pub struct RouterLogLine {
    /// When it happened, on the engine's clock: the router's own time stamp corrected for the
    /// router's time zone and clock skew, so that heuristics windows and queries are immune to
    /// a router whose clock is wrong.
    pub ts: DateTime<Utc>,
    pub topics: String,
    pub message: String,
}

/// Whether a firing alert's key belongs to an event (log heuristic, offline) rather than to a
/// threshold. Decided by key, not by a missing threshold id: a threshold alert whose threshold
/// was deleted must still be cleared by the threshold path.
pub fn is_event_key(key: &str) -> bool {
    key.starts_with("log.")
        || key.starts_with("router.")
        || key.starts_with("agent.")
        || key.starts_with("device.")
}

/// Log lines to run through the device's log heuristics, in order.
#[derive(Message)]
#[rtype(result = "()")]
pub struct ObserveLogs {
    pub lines: Vec<RouterLogLine>,
}

/// Replaces the tenant's log heuristics settings.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetLogRules {
    pub rules: Arc<Vec<LogRule>>,
}

/// Whether a polled device (a router) answers; opens or clears its offline alert.
#[derive(Message)]
#[rtype(result = "()")]
pub struct SetReachability {
    pub reachable: bool,
    /// Why it is unreachable (connection refused, timeout, login refused, ...).
    pub detail: String,
    pub at: DateTime<Utc>,
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
    /// Firing event alerts (log heuristics, offline) by key.
    events: HashMap<String, Severity>,
    log_rules: Arc<Vec<LogRule>>,
    /// Created on the first log line: most devices never send any.
    heuristics: Option<LogHeuristics>,
    reachable: Option<bool>,
    /// Alert changes raised and not yet in the tenant actor's mailbox, oldest first.
    unsent: VecDeque<AlertChange>,
    /// True while the actor waits for room in the tenant actor's mailbox.
    waiting_for_room: bool,
    limits: DeviceLimits,
    telemetry: Arc<Telemetry>,
    maintenance: MaintenanceIndex,
}

/// How often a device actor whose tenant actor's mailbox is full tries again.
const ROOM_POLL: Duration = Duration::from_millis(20);

/// What a device actor starts with.
pub struct DeviceSeed {
    pub identity: DeviceIdentity,
    pub rules: HashMap<String, ActiveRule>,
    pub log_rules: Arc<Vec<LogRule>>,
    /// Firing alerts reloaded from the database: (key, threshold id, severity, value); no
    /// threshold id means an event alert.
    pub firing: Vec<(String, Option<Uuid>, Severity, f64)>,
    pub limits: DeviceLimits,
    /// What is under maintenance: an opening during a window is suppressed.
    pub maintenance: MaintenanceIndex,
}

impl DeviceActor {
    pub fn new(
        seed: DeviceSeed,
        tenant: Addr<TenantActor>,
        hub: Addr<Hub>,
        watched: Arc<DashMap<Uuid, usize>>,
        mailbox_capacity: usize,
        telemetry: Arc<Telemetry>,
    ) -> DeviceActor {
        let mut events = HashMap::new();
        let mut series = HashMap::new();
        for (key, threshold_id, severity, value) in seed.firing {
            if is_event_key(&key) {
                events.insert(key, severity);
                continue;
            }
            let entry = SeriesEntry {
                threshold_id: threshold_id.unwrap_or_default(),
                state: SeriesState::Firing { severity },
                last_value: value,
            };
            series.insert(key, entry);
        }
        let mut actor = DeviceActor {
            identity: seed.identity,
            maintenance: seed.maintenance,
            rules: seed.rules,
            series,
            tenant,
            hub,
            watched,
            health: Health::Green,
            mailbox_capacity,
            events,
            log_rules: seed.log_rules,
            heuristics: None,
            reachable: None,
            unsent: VecDeque::new(),
            waiting_for_room: false,
            limits: seed.limits,
            telemetry,
        };
        actor.health = actor.compute_health();
        actor
    }

    fn compute_health(&self) -> Health {
        let mut worst = Health::Green;
        for severity in self.events.values() {
            match severity {
                Severity::Critical => return Health::Red,
                Severity::Warning => worst = Health::Yellow,
            }
        }
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
        // Look up before inserting: `entry` would allocate the key for every sample.
        if !self.series.contains_key(sample.name.as_str()) {
            self.series.insert(
                sample.name.as_str().to_owned(),
                SeriesEntry {
                    threshold_id: rule.threshold_id,
                    state: SeriesState::Ok,
                    last_value: sample.value,
                },
            );
        }
        let Some(entry) = self.series.get_mut(sample.name.as_str()) else {
            return;
        };
        entry.threshold_id = rule.threshold_id;
        entry.last_value = sample.value;
        let (next, transition) = step(entry.state, &rule.rule, sample.value, sample.ts);
        let Some(transition) = transition else {
            entry.state = next;
            return;
        };
        // Transitions are rare: the rule is cloned only for them.
        let rule = rule.clone();
        let admitted =
            !matches!(transition, Transition::Opened { .. }) || self.admit_opening(sample.ts);
        if let Some(entry) = self.series.get_mut(sample.name.as_str()) {
            // A suppressed opening goes back to ok, so it opens normally once there is room.
            entry.state = if admitted { next } else { SeriesState::Ok };
        }
        if admitted {
            self.raise(AlertChange::new(
                self.identity.clone(),
                sample.name.as_str().to_owned(),
                AlertSource::Threshold(rule),
                transition,
                sample.ts,
            ));
        }
    }

    /// Queues an alert change for the tenant actor (handed over by [`Self::send_alerts`] at the
    /// end of the message). An opening is announced on the NOC first, from memory with the id
    /// the alert will be stored under: the dashboard learns of it without waiting for
    /// PostgreSQL (the tenant actor publishes what persisting adds).
    fn raise(&mut self, mut change: AlertChange) {
        if matches!(change.transition, Transition::Opened { .. }) {
            let d = &self.identity;
            change.suppressed_by =
                self.maintenance
                    .covering(d.tenant_id, d.site_id, d.id, change.at);
        }
        if let Some(message) = change.announcement() {
            self.hub
                .do_send(message.to_event(TenantId(self.identity.tenant_id)));
        }
        self.telemetry.alert_changes_pending.inc();
        self.unsent.push_back(change);
    }

    /// Hands the queued alert changes to the tenant actor, in order. When its mailbox is full,
    /// waits for room (`ctx.wait`: no other message is taken meanwhile) and tries again.
    fn send_alerts(&mut self, ctx: &mut Context<Self>) {
        if self.waiting_for_room {
            // The wait under way sends these, after the older ones.
            return;
        }
        while let Some(change) = self.unsent.pop_front() {
            match self.tenant.try_send(change) {
                Ok(()) => {}
                Err(SendError::Full(change)) => {
                    self.unsent.push_front(change);
                    self.telemetry.alert_queue_full.inc();
                    self.waiting_for_room = true;
                    let wait = tokio::time::sleep(ROOM_POLL).into_actor(self);
                    ctx.wait(wait.map(|(), actor, ctx| {
                        actor.waiting_for_room = false;
                        actor.send_alerts(ctx);
                    }));
                    return;
                }
                Err(SendError::Closed(change)) => {
                    // Only at shutdown, once the tenant actors have stopped.
                    self.telemetry.alert_changes_pending.dec();
                    tracing::error!(device_id = %self.identity.id, key = %change.key, "Alert change not handed over: the tenant actor has stopped.");
                }
            }
        }
    }

    fn publish_health_if_changed(&mut self) {
        let health = self.compute_health();
        if health == self.health {
            return;
        }
        self.health = health;
        self.publish_device(DeviceEvent::Health {
            health: health.as_str(),
        });
    }

    /// The device's log heuristics, created on first use with the alerts it already has
    /// firing, so that they clear after a quiet window even across an engine restart.
    fn heuristics(&mut self, now: DateTime<Utc>) -> &mut LogHeuristics {
        let name = &self.identity.name;
        let events = &self.events;
        let rules = &self.log_rules;
        self.heuristics.get_or_insert_with(|| {
            let mut h = LogHeuristics::new(name.clone(), rules.as_ref().clone());
            for key in events.keys().filter(|k| k.starts_with("log.")) {
                h.restore_firing(key, now);
            }
            h
        })
    }

    fn apply_findings(&mut self, findings: Vec<LogFinding>) {
        for finding in findings {
            let (source, transition) = match finding.change {
                FindingChange::Open {
                    severity,
                    auto_ticket,
                    title,
                    description,
                    recommended_action,
                    value,
                } => {
                    if !self.admit_opening(finding.at) {
                        continue;
                    }
                    self.events.insert(finding.key.clone(), severity);
                    let texts = EventTexts {
                        title,
                        description,
                        recommended_action,
                        auto_ticket,
                    };
                    (
                        AlertSource::Event(texts),
                        Transition::Opened { severity, value },
                    )
                }
                FindingChange::Clear { value } => {
                    self.events.remove(&finding.key);
                    (
                        AlertSource::Event(EventTexts::default()),
                        Transition::Cleared { value },
                    )
                }
            };
            self.raise(AlertChange::new(
                self.identity.clone(),
                finding.key,
                source,
                transition,
                finding.at,
            ));
        }
    }

    /// The offline alert's key and texts: routers are polled (they "do not answer"), agents
    /// report (they "fall silent").
    fn offline_texts(&self, detail: &str) -> (&'static str, Severity, EventTexts) {
        let name = &self.identity.name;
        if self.identity.kind == "routeros" {
            let texts = EventTexts {
                title: format!("Router {name} sin respuesta"),
                description: format!(
                    "No se pudo consultar el router {name} por la API de RouterOS: {detail}."
                ),
                recommended_action: "Verifique la alimentación y la conectividad del router \
                    (ping, ruta y firewall hacia el puerto de la API), que el servicio API esté \
                    habilitado en /ip service y que las credenciales configuradas sigan siendo \
                    válidas."
                    .to_owned(),
                auto_ticket: true,
            };
            return (OFFLINE_KEY, Severity::Critical, texts);
        }
        let texts = EventTexts {
            title: format!("Equipo {name} sin conexión"),
            description: format!("El agente de {name} dejó de reportar: {detail}."),
            recommended_action: "Verifique que el equipo esté encendido y con red y que el \
                servicio centinela-agent esté en ejecución; si se apagó a propósito, reconozca \
                la alerta."
                .to_owned(),
            auto_ticket: false,
        };
        (AGENT_OFFLINE_KEY, Severity::Warning, texts)
    }

    fn offline_change(&mut self, msg: &SetReachability) -> Option<AlertChange> {
        let (key, severity, texts) = self.offline_texts(&msg.detail);
        let was_firing = self.events.contains_key(key);
        if msg.reachable {
            self.events.remove(key);
            return was_firing.then(|| {
                AlertChange::new(
                    self.identity.clone(),
                    key.to_owned(),
                    AlertSource::Event(EventTexts::default()),
                    Transition::Cleared { value: 1.0 },
                    msg.at,
                )
            });
        }
        if was_firing {
            return None;
        }
        self.events.insert(key.to_owned(), severity);
        Some(AlertChange::new(
            self.identity.clone(),
            key.to_owned(),
            AlertSource::Event(texts),
            Transition::Opened {
                severity,
                value: 0.0,
            },
            msg.at,
        ))
    }

    fn publish_reachability(&self, reachable: bool) {
        self.publish_device(if reachable {
            DeviceEvent::Online
        } else {
            DeviceEvent::Offline
        });
    }

    fn publish_device(&self, event: DeviceEvent) {
        let message = NocMessage::Device {
            event,
            device_id: self.identity.id,
            tenant_id: self.identity.tenant_id,
        };
        self.hub
            .do_send(message.to_event(TenantId(self.identity.tenant_id)));
    }

    fn publish_metrics(&self, samples: &[Sample]) {
        if !self.watched.contains_key(&self.identity.id) {
            return;
        }
        let ts: DateTime<Utc> = samples.iter().map(|s| s.ts).max().unwrap_or_else(Utc::now);
        let values = samples
            .iter()
            .map(|s| (s.name.as_str().to_owned(), s.value))
            .collect();
        let message = NocMessage::Metrics {
            device_id: self.identity.id,
            ts,
            values,
        };
        self.hub
            .do_send(message.to_event(TenantId(self.identity.tenant_id)));
    }
}

impl Actor for DeviceActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.mailbox_capacity);
        // Log alerts restored from the database must clear after a quiet window even if the
        // router never logs again.
        if self.events.keys().any(|k| k.starts_with("log.")) {
            self.heuristics(Utc::now());
            self.start_ticking(ctx);
        }
    }

    fn stopped(&mut self, _: &mut Context<Self>) {
        self.forget_unsent();
    }
}

impl DeviceActor {
    /// A device actor that stops (its device deleted) with changes not handed over says so and
    /// takes them out of the pending count, which shutdown reads.
    fn forget_unsent(&mut self) {
        if self.unsent.is_empty() {
            return;
        }
        tracing::warn!(device_id = %self.identity.id, changes = self.unsent.len(), "Device actor stopped with alert changes not handed over.");
        self.telemetry
            .alert_changes_pending
            .dec_by(self.unsent.len() as i64);
        self.unsent.clear();
    }
}

impl Handler<Evaluate> for DeviceActor {
    type Result = ();
    fn handle(&mut self, msg: Evaluate, ctx: &mut Context<Self>) {
        for sample in &msg.samples {
            self.evaluate(sample);
        }
        self.end_storm_if_over(Utc::now());
        self.publish_health_if_changed();
        self.publish_metrics(&msg.samples);
        self.send_alerts(ctx);
    }
}

/// Answered once every message sent to the device actor before it has been handled and its
/// alert changes are in the tenant actor's mailbox (shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Settle;

impl Handler<Settle> for DeviceActor {
    type Result = ();
    fn handle(&mut self, _: Settle, _: &mut Context<Self>) {}
}

impl Handler<SetRules> for DeviceActor {
    type Result = ();
    fn handle(&mut self, msg: SetRules, ctx: &mut Context<Self>) {
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
        let mut clearings = Vec::new();
        for key in orphaned {
            let Some(entry) = self.series.remove(&key) else {
                continue;
            };
            if let SeriesState::Firing { .. } = entry.state {
                let base = key.split('{').next().unwrap_or(&key).to_owned();
                let rule = self.rules.get(&base).cloned().unwrap_or(ActiveRule {
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
                clearings.push(AlertChange::new(
                    self.identity.clone(),
                    key,
                    AlertSource::Threshold(rule),
                    Transition::Cleared {
                        value: entry.last_value,
                    },
                    Utc::now(),
                ));
            }
        }
        for change in clearings {
            self.raise(change);
        }
        self.end_storm_if_over(Utc::now());
        self.publish_health_if_changed();
        self.send_alerts(ctx);
    }
}

/// How often the log heuristics look at the clock (link-down grace, quiet windows).
const HEURISTICS_TICK: Duration = Duration::from_secs(1);

impl DeviceActor {
    fn start_ticking(&mut self, ctx: &mut Context<Self>) {
        ctx.run_interval(HEURISTICS_TICK, |actor, ctx| {
            let now = Utc::now();
            let findings = actor.heuristics(now).tick(now);
            if !findings.is_empty() {
                actor.apply_findings(findings);
                actor.end_storm_if_over(now);
                actor.publish_health_if_changed();
                actor.send_alerts(ctx);
            }
        });
    }
}

impl Handler<ObserveLogs> for DeviceActor {
    type Result = ();
    fn handle(&mut self, msg: ObserveLogs, ctx: &mut Context<Self>) {
        let ticking = self.heuristics.is_some();
        let now = Utc::now();
        let heuristics = self.heuristics(now);
        let mut findings = Vec::new();
        for line in &msg.lines {
            let line = LogLine {
                ts: line.ts,
                topics: &line.topics,
                message: &line.message,
            };
            findings.extend(heuristics.observe(line, now));
        }
        self.apply_findings(findings);
        self.end_storm_if_over(now);
        self.publish_health_if_changed();
        self.send_alerts(ctx);
        if !ticking {
            self.start_ticking(ctx);
        }
    }
}

impl Handler<SetLogRules> for DeviceActor {
    type Result = ();
    fn handle(&mut self, msg: SetLogRules, _: &mut Context<Self>) {
        if let Some(h) = self.heuristics.as_mut() {
            h.set_rules(msg.rules.as_ref().clone());
        }
        self.log_rules = msg.rules;
    }
}

impl Handler<SetReachability> for DeviceActor {
    type Result = ();
    fn handle(&mut self, msg: SetReachability, ctx: &mut Context<Self>) {
        if let Some(change) = self.offline_change(&msg) {
            self.raise(change);
        }
        if self.reachable != Some(msg.reachable) {
            self.reachable = Some(msg.reachable);
            self.publish_reachability(msg.reachable);
        }
        self.publish_health_if_changed();
        self.send_alerts(ctx);
    }
}
