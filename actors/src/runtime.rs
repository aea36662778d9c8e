//! The runtime handle: the entry point transports and the API use.

use crate::clock::{Clock, SystemClock};
use crate::commands::{CommandSink, CommandSinks, parse_result};
use crate::device::{
    AGENT_OFFLINE_KEY, CLOCK_SKEW_KEY, ClockSkew, DeviceActor, DeviceLimits, DeviceSeed, Evaluate,
    OFFLINE_KEY, ObserveLogs, RouterLogLine, SetLogRules, SetReachability, SetRules, Settle,
};
use crate::hub::{Hub, NocWatch};
use crate::inventory::Inventories;
use crate::maintenance::MaintenanceIndex;
use crate::noc_events::{NocMessage, ScriptRunEvent};
use crate::presence::{Presence, PresenceConfig};
use crate::rules::effective_rules;
use crate::sla::{self, SlaConfig, SlaHandle, SuppressionEnds};
use crate::telemetry::Telemetry;
use crate::tenant::{Drain, EndSuppression, TenantActor};
use crate::writer::{self, WriterConfig, WriterHandle};
use actix::prelude::*;
use centinela_model::log_rules::{self as model_log_rules, LogRule};
use centinela_model::payload::{AgentMessage, MessageKind, RejectReason};
use centinela_model::time::TimeWindow;
use centinela_model::{DeviceId, Scope, Severity, TenantId};
use centinela_storage::dead_letters::{self, DeadLetter};
use centinela_storage::devices::{self, DeviceIdentity};
use centinela_storage::logs::LogLine;
use centinela_storage::metrics::MetricRow;
use centinela_storage::thresholds::{self, Threshold};
use centinela_storage::{StorageError, Store, alerts, audit, log_rules, scripts};
use chrono::Utc;
use dashmap::DashMap;
use std::collections::{HashMap, HashSet};
use std::hash::{Hash, Hasher};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use uuid::Uuid;

/// Runtime settings.
#[derive(Debug, Clone)]
pub struct RuntimeConfig {
    /// Arbiters (threads) device actors are sharded over; 0 = one per core.
    pub shards: usize,
    /// Messages a device mailbox holds before ingest has to wait.
    pub mailbox_capacity: usize,
    /// Alert changes a tenant actor's mailbox (one lane) holds before device actors wait.
    pub alert_queue: usize,
    pub writer: WriterConfig,
    /// Offline detection of agents.
    pub presence: PresenceConfig,
    /// Device timestamps accepted (retention back, clock skew ahead).
    pub time_window: TimeWindow,
    /// Per-device caps on series and firing alerts.
    pub device_limits: DeviceLimits,
    /// SLA steps and maintenance ends: how often they are checked.
    pub sla: SlaConfig,
    /// "Now" for SLA clocks and maintenance windows.
    pub clock: Arc<dyn Clock>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            shards: 0,
            mailbox_capacity: 64,
            alert_queue: 4_096,
            writer: WriterConfig::default(),
            presence: PresenceConfig::default(),
            time_window: TimeWindow::default(),
            device_limits: DeviceLimits::default(),
            sla: SlaConfig::default(),
            clock: Arc::new(SystemClock),
        }
    }
}

/// Why a message could not be taken.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("unknown device")]
    UnknownDevice,
    #[error("the engine is shutting down")]
    Stopped,
    #[error(transparent)]
    Storage(#[from] StorageError),
}

#[derive(Clone)]
struct DeviceEntry {
    addr: Addr<DeviceActor>,
    tenant_id: Uuid,
    /// Agents only: silence longer than this means offline.
    offline_window: Option<Duration>,
    /// Series the device has sent since start, up to the series cap.
    series: Arc<Mutex<HashSet<String>>>,
}

struct Inner {
    store: Store,
    telemetry: Arc<Telemetry>,
    config: RuntimeConfig,
    registry: DashMap<Uuid, DeviceEntry>,
    /// Tenant actors by (tenant, lane): a device always maps to the same lane, so its alert
    /// changes stay in order, and lanes persist in parallel.
    tenants: DashMap<(Uuid, u8), Addr<TenantActor>>,
    shards: Vec<ArbiterHandle>,
    home: ArbiterHandle,
    hub: Addr<Hub>,
    watched: Arc<DashMap<Uuid, usize>>,
    writer: WriterHandle,
    /// Effective log heuristics settings per tenant (defaults merged in).
    log_rules: DashMap<Uuid, Arc<Vec<LogRule>>>,
    device_changes: tokio::sync::broadcast::Sender<DeviceChange>,
    presence: Presence,
    command_sinks: CommandSinks,
    /// Devices whose `device.clock_skew` alert is firing.
    skewed: DashMap<Uuid, ()>,
    inventories: Inventories,
    maintenance: MaintenanceIndex,
    sla: SlaHandle,
}

/// A device was created, changed or deleted (pollers follow these).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeviceChange {
    Added(Uuid),
    Changed(Uuid),
    Removed(Uuid),
}

/// Alert persistence lanes per tenant. Each lane persists one change at a time (which keeps
/// "one ticket per alert" race-free, since an alert belongs to one device and a device to one
/// lane); lanes run in parallel, so a storm of alerts in one big tenant is not serialised.
const ALERT_LANES: u64 = 8;

/// A cheap, cloneable handle to the running core.
#[derive(Clone)]
pub struct Runtime {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Runtime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Runtime")
            .field("devices", &self.inner.registry.len())
            .finish()
    }
}

impl Runtime {
    /// Starts the core inside the current actix system: hub, writer, one arbiter per shard, and
    /// a device actor for every device in the database, with its firing alerts reloaded.
    pub async fn start(
        store: Store,
        telemetry: Arc<Telemetry>,
        config: RuntimeConfig,
    ) -> Result<Runtime, StorageError> {
        let shards = if config.shards == 0 {
            std::thread::available_parallelism().map_or(2, |n| n.get())
        } else {
            config.shards
        };
        let shards = (0..shards).map(|_| Arbiter::new().handle()).collect();
        let watched = Arc::new(DashMap::new());
        // The hub gets a thread of its own: on the system thread, alert events queued behind the
        // MQTT consumer's and the writer's work (tail latency to the NOC).
        let hub = {
            let telemetry = telemetry.clone();
            Hub::start_in_arbiter(&Arbiter::new().handle(), move |_| Hub::new(telemetry))
        };
        let writer = writer::spawn(store.clone(), telemetry.clone(), config.writer.clone());
        let (sla_handle, sla_rx) = sla::channel();
        let maintenance = MaintenanceIndex::default();
        maintenance.reload(&store).await?;
        let runtime = Runtime {
            inner: Arc::new(Inner {
                store,
                telemetry,
                config,
                registry: DashMap::new(),
                tenants: DashMap::new(),
                shards,
                home: Arbiter::current(),
                hub,
                watched,
                writer,
                log_rules: DashMap::new(),
                device_changes: tokio::sync::broadcast::channel(1024).0,
                presence: Presence::default(),
                command_sinks: CommandSinks::default(),
                skewed: DashMap::new(),
                inventories: Inventories::default(),
                maintenance,
                sla: sla_handle,
            }),
        };
        runtime.inner.inventories.spawn(
            runtime.inner.store.clone(),
            runtime.inner.telemetry.clone(),
            runtime.inner.writer.clone(),
        );
        runtime.load_all().await?;
        let inner = &runtime.inner;
        sla::spawn(
            sla_rx,
            sla::WatcherParts {
                store: inner.store.clone(),
                hub: inner.hub.clone(),
                clock: inner.config.clock.clone(),
                telemetry: inner.telemetry.clone(),
                maintenance: inner.maintenance.clone(),
                ends: Arc::new(LaneEnds(runtime.clone())),
                config: inner.config.sla.clone(),
            },
        );
        runtime.spawn_sweeper();
        runtime.spawn_dead_letter_expiry();
        Ok(runtime)
    }

    async fn load_all(&self) -> Result<(), StorageError> {
        let mut tx = self.inner.store.begin(Scope::All).await?;
        let all_devices = devices::all_identities(&mut tx).await?;
        let all_thresholds = thresholds::list(&mut tx, None).await?;
        let firing = alerts::all_firing(&mut tx).await?;
        let configured = log_rules::all(&mut tx).await?;
        tx.commit().await?;
        let mut by_tenant: HashMap<Uuid, Vec<LogRule>> = HashMap::new();
        for (tenant, rule) in configured {
            by_tenant.entry(tenant).or_default().push(rule);
        }
        for (tenant, rules) in by_tenant {
            self.set_tenant_log_rules(tenant, &rules);
        }
        let mut firing_by_device: HashMap<Uuid, Vec<_>> = HashMap::new();
        for a in firing {
            let severity = a.severity.parse().unwrap_or(Severity::Critical);
            firing_by_device.entry(a.device_id).or_default().push((
                a.key,
                a.threshold_id,
                severity,
                a.value,
            ));
        }
        for identity in all_devices {
            let firing = firing_by_device.remove(&identity.id).unwrap_or_default();
            // Agents seen before get a whole window after a restart to speak again.
            if identity.kind == "agent" && identity.last_seen_at.is_some() {
                let offline = firing.iter().any(|f| f.0 == AGENT_OFFLINE_KEY);
                let window = self.inner.config.presence.window(identity.heartbeat_s);
                self.inner.presence.seed(identity.id, window, offline);
            }
            // Routers keep the verdict they had until their poller's first report.
            if identity.kind == "routeros" && identity.last_seen_at.is_some() {
                let offline = firing.iter().any(|f| f.0 == OFFLINE_KEY);
                self.inner.presence.reported(identity.id, !offline);
            }
            self.spawn_device(identity, &all_thresholds, firing);
        }
        tracing::info!(
            devices = self.inner.registry.len(),
            "Device actors started."
        );
        Ok(())
    }

    fn shard_for(&self, device: Uuid) -> &ArbiterHandle {
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        device.hash(&mut hasher);
        let shards = &self.inner.shards;
        &shards[(hasher.finish() % shards.len() as u64) as usize]
    }

    fn tenant_actor(&self, tenant: Uuid, device: Uuid) -> Addr<TenantActor> {
        let inner = &self.inner;
        let mut hasher = std::collections::hash_map::DefaultHasher::new();
        device.hash(&mut hasher);
        let lane = (hasher.finish() % ALERT_LANES) as u8;
        inner
            .tenants
            .entry((tenant, lane))
            .or_insert_with(|| {
                let actor = TenantActor::new(
                    TenantId(tenant),
                    inner.store.clone(),
                    inner.hub.clone(),
                    inner.telemetry.clone(),
                    inner.config.alert_queue,
                    inner.sla.clone(),
                );
                TenantActor::start_in_arbiter(&inner.home, |_| actor)
            })
            .clone()
    }

    fn spawn_device(
        &self,
        identity: DeviceIdentity,
        all_thresholds: &[Threshold],
        firing: Vec<(String, Option<Uuid>, Severity, f64)>,
    ) -> DeviceEntry {
        let id = identity.id;
        let tenant_id = identity.tenant_id;
        let offline_window = (identity.kind == "agent")
            .then(|| self.inner.config.presence.window(identity.heartbeat_s));
        if firing.iter().any(|f| f.0 == CLOCK_SKEW_KEY) {
            self.inner.skewed.insert(id, ());
        }
        let seed = DeviceSeed {
            rules: effective_rules(&identity, all_thresholds),
            log_rules: self.tenant_log_rules(tenant_id),
            identity,
            firing,
            limits: self.inner.config.device_limits,
            maintenance: self.inner.maintenance.clone(),
        };
        let tenant = self.tenant_actor(tenant_id, id);
        let hub = self.inner.hub.clone();
        let watched = self.inner.watched.clone();
        let capacity = self.inner.config.mailbox_capacity;
        let telemetry = self.inner.telemetry.clone();
        let shard = self.shard_for(id).clone();
        let entry = self
            .inner
            .registry
            .entry(id)
            .or_insert_with(|| {
                let addr = DeviceActor::start_in_arbiter(&shard, move |_| {
                    DeviceActor::new(seed, tenant, hub, watched, capacity, telemetry)
                });
                DeviceEntry {
                    addr,
                    tenant_id,
                    offline_window,
                    series: Arc::default(),
                }
            })
            .clone();
        self.inner
            .telemetry
            .device_actors
            .set(self.inner.registry.len() as i64);
        entry
    }

    fn tenant_log_rules(&self, tenant: Uuid) -> Arc<Vec<LogRule>> {
        self.inner
            .log_rules
            .get(&tenant)
            .map(|r| r.clone())
            .unwrap_or_else(|| Arc::new(LogRule::defaults()))
    }

    fn set_tenant_log_rules(&self, tenant: Uuid, configured: &[LogRule]) -> Arc<Vec<LogRule>> {
        let rules = Arc::new(model_log_rules::effective_rules(configured));
        self.inner.log_rules.insert(tenant, rules.clone());
        rules
    }

    /// Starts the actor of a device created after start-up (idempotent) and tells pollers.
    pub async fn register_device(&self, device: Uuid) -> Result<(), IngestError> {
        let started = self.entry(device).await.map(|_| ());
        // Pollers load their own settings; they must hear of the device even if its actor
        // could not start now (it starts on first contact).
        let _ = self.inner.device_changes.send(DeviceChange::Added(device));
        started
    }

    /// Tells pollers a device's connection settings changed.
    pub fn device_changed(&self, device: Uuid) {
        let _ = self
            .inner
            .device_changes
            .send(DeviceChange::Changed(device));
    }

    /// Device lifecycle events, for pollers.
    pub fn device_changes(&self) -> tokio::sync::broadcast::Receiver<DeviceChange> {
        self.inner.device_changes.subscribe()
    }

    /// Stops the actor of a deleted device.
    pub fn remove_device(&self, device: Uuid) {
        let _ = self
            .inner
            .device_changes
            .send(DeviceChange::Removed(device));
        self.inner.presence.forget(device);
        self.inner.skewed.remove(&device);
        self.inner.registry.remove(&device);
        self.inner
            .telemetry
            .device_actors
            .set(self.inner.registry.len() as i64);
    }

    /// The device's actor, starting it on first contact if the device exists.
    async fn entry(&self, device: Uuid) -> Result<DeviceEntry, IngestError> {
        if let Some(entry) = self.inner.registry.get(&device) {
            return Ok(entry.clone());
        }
        let mut tx = self.inner.store.begin(Scope::All).await?;
        let identity = devices::identity(&mut tx, device).await?;
        let Some(identity) = identity else {
            return Err(IngestError::UnknownDevice);
        };
        let tenant_thresholds = thresholds::list(&mut tx, Some(identity.tenant_id)).await?;
        let firing = alerts::all_firing_for_device(&mut tx, device).await?;
        let tenant_rules = if self.inner.log_rules.contains_key(&identity.tenant_id) {
            None
        } else {
            Some(log_rules::for_tenant(&mut tx, identity.tenant_id).await?)
        };
        tx.commit().await.map_err(StorageError::from)?;
        if let Some(rules) = tenant_rules {
            self.set_tenant_log_rules(identity.tenant_id, &rules);
        }
        let firing = firing
            .into_iter()
            .map(|a| {
                (
                    a.key,
                    a.threshold_id,
                    a.severity.parse().unwrap_or(Severity::Critical),
                    a.value,
                )
            })
            .collect();
        Ok(self.spawn_device(identity, &tenant_thresholds, firing))
    }

    /// Takes one decoded message of a device: points to the writer, samples to the device's
    /// actor, inventories to their own writer. Waits (never drops) when the writer or the actor
    /// is saturated, which slows the transport; never waits on PostgreSQL for one device.
    pub async fn ingest(&self, device: DeviceId, message: AgentMessage) -> Result<(), IngestError> {
        let entry = self.entry(device.0).await?;
        let writer = &self.inner.writer;
        let now = Utc::now();
        self.note_alive(&entry, device, now).await?;
        // A read first: the map is almost always empty, and removing takes a write lock.
        if message.vouches_for_clock()
            && self.inner.skewed.contains_key(&device.0)
            && self.inner.skewed.remove(&device.0).is_some()
        {
            let fixed = ClockSkew {
                skewed: false,
                device_time: None,
                at: now,
            };
            entry
                .addr
                .send(fixed)
                .await
                .map_err(|_| IngestError::Stopped)?;
        }
        match message {
            AgentMessage::Telemetry { samples } => {
                let samples = self.within_series_cap(&entry, device, samples);
                let rows = samples
                    .iter()
                    .map(|s| MetricRow {
                        ts: s.ts,
                        tenant_id: entry.tenant_id,
                        device_id: device.0,
                        name: s.name.as_str().to_owned(),
                        value: s.value,
                    })
                    .collect();
                // Alerts first: evaluation is in memory and must never wait behind a storage
                // backlog; the points then queue for the writer (which may make us wait).
                self.evaluate(&entry, samples).await?;
                return writer
                    .points(rows, device.0, now)
                    .await
                    .map_err(|_| IngestError::Stopped);
            }
            AgentMessage::Heartbeat { ts, dropped } if dropped > 0 => {
                // The agent's disk queue overflowed during an outage: say so where technicians
                // look (the device's log), once per report.
                let line = LogLine {
                    ts,
                    tenant_id: entry.tenant_id,
                    device_id: device.0,
                    level: "warning".into(),
                    source: "agent".into(),
                    message: format!(
                        "El agente descartó {dropped} mensajes antiguos de su cola local por falta de espacio durante una desconexión."
                    ),
                };
                writer.line(line).await.map_err(|_| IngestError::Stopped)?;
            }
            AgentMessage::Heartbeat { .. } => {}
            AgentMessage::Inventory { inventory } => {
                self.inner
                    .inventories
                    .put(entry.tenant_id, device.0, inventory, now);
            }
            AgentMessage::Event(event) => {
                let line = LogLine {
                    ts: event.ts,
                    tenant_id: entry.tenant_id,
                    device_id: device.0,
                    level: event.level,
                    source: event.source,
                    message: event.message,
                };
                writer.line(line).await.map_err(|_| IngestError::Stopped)?;
            }
            AgentMessage::CommandResult { result } => {
                match self.finish_run(&entry, device, &result).await {
                    // Writing it again would fail again: kept with its reason instead.
                    Err(IngestError::Storage(error)) if error.is_data_error() => {
                        let payload = result.to_string().into_bytes();
                        let kind = MessageKind::CommandResult.as_str();
                        self.dead_letter(
                            &entry,
                            device,
                            kind,
                            "data_error",
                            error.to_string(),
                            payload,
                        )
                        .await?;
                    }
                    other => other?,
                }
            }
        }
        writer
            .seen(device.0, now)
            .await
            .map_err(|_| IngestError::Stopped)
    }

    /// An agent heard from is online (its offline alert clears).
    async fn note_alive(
        &self,
        entry: &DeviceEntry,
        device: DeviceId,
        now: chrono::DateTime<Utc>,
    ) -> Result<(), IngestError> {
        if let Some(window) = entry.offline_window
            && self.inner.presence.seen(device.0, window)
        {
            let back = SetReachability {
                reachable: true,
                detail: String::new(),
                at: now,
            };
            entry
                .addr
                .send(back)
                .await
                .map_err(|_| IngestError::Stopped)?;
        }
        Ok(())
    }

    /// The samples of series the device may send: those it sent before, and new ones while it
    /// has fewer than `max_series`. Points of further new series are refused and counted.
    fn within_series_cap(
        &self,
        entry: &DeviceEntry,
        device: DeviceId,
        mut samples: Vec<centinela_model::Sample>,
    ) -> Vec<centinela_model::Sample> {
        let cap = self.inner.config.device_limits.max_series;
        let mut known = entry.series.lock().unwrap_or_else(|p| p.into_inner());
        let before = (samples.len(), known.len());
        samples.retain(|s| {
            known.contains(s.name.as_str())
                || (known.len() < cap && known.insert(s.name.as_str().to_owned()))
        });
        let refused = before.0 - samples.len();
        if refused > 0 {
            self.inner.telemetry.series_refused.inc_by(refused as u64);
            // Said once, when the device reaches its cap (the counter keeps counting).
            if before.1 < cap {
                tracing::warn!(device_id = %device.0, cap, "Device at its series cap: points of new series are refused.");
            }
        }
        samples
    }

    /// A message of a device was refused at decode: kept as a dead letter with its reason. A
    /// timestamp outside the window also opens the device's `device.clock_skew` alert (once) and
    /// counts as hearing from the device: it is alive, only its clock is wrong.
    pub async fn refused(
        &self,
        device: DeviceId,
        kind: MessageKind,
        reason: &RejectReason,
        payload: &[u8],
    ) -> Result<(), IngestError> {
        let entry = self.entry(device.0).await?;
        if let Some(device_time) = reason.skewed_clock() {
            let now = Utc::now();
            self.note_alive(&entry, device, now).await?;
            if self.inner.skewed.insert(device.0, ()).is_none() {
                let skewed = ClockSkew {
                    skewed: true,
                    device_time: Some(device_time),
                    at: now,
                };
                entry
                    .addr
                    .send(skewed)
                    .await
                    .map_err(|_| IngestError::Stopped)?;
            }
        }
        let detail = reason.to_string();
        self.dead_letter(
            &entry,
            device,
            kind.as_str(),
            reason.as_str(),
            detail,
            payload.to_vec(),
        )
        .await
    }

    /// Keeps an acknowledged message that cannot be stored (the transport gave up on it).
    pub async fn give_up(
        &self,
        device: DeviceId,
        kind: MessageKind,
        detail: String,
        payload: &[u8],
    ) -> Result<(), IngestError> {
        let entry = self.entry(device.0).await?;
        self.dead_letter(
            &entry,
            device,
            kind.as_str(),
            "storage",
            detail,
            payload.to_vec(),
        )
        .await
    }

    async fn dead_letter(
        &self,
        entry: &DeviceEntry,
        device: DeviceId,
        kind: &str,
        reason: &str,
        detail: String,
        payload: Vec<u8>,
    ) -> Result<(), IngestError> {
        self.inner.telemetry.dead_letter(kind, reason);
        let letter = DeadLetter {
            tenant_id: entry.tenant_id,
            device_id: device.0,
            kind: kind.to_owned(),
            reason: reason.to_owned(),
            detail,
            payload,
        };
        self.inner
            .writer
            .dead_letter(letter)
            .await
            .map_err(|_| IngestError::Stopped)
    }

    /// The device timestamps accepted (for decoders).
    pub fn time_window(&self) -> &TimeWindow {
        &self.inner.config.time_window
    }

    async fn evaluate(
        &self,
        entry: &DeviceEntry,
        samples: Vec<centinela_model::Sample>,
    ) -> Result<(), IngestError> {
        match entry.addr.try_send(Evaluate { samples }) {
            Ok(()) => Ok(()),
            Err(SendError::Full(msg)) => {
                self.inner.telemetry.mailbox_full.inc();
                entry.addr.send(msg).await.map_err(|_| IngestError::Stopped)
            }
            Err(SendError::Closed(_)) => Err(IngestError::Stopped),
        }
    }

    /// Takes a router's log lines: stored, and run through the device's log heuristics.
    pub async fn ingest_router_logs(
        &self,
        device: DeviceId,
        lines: Vec<RouterLogLine>,
    ) -> Result<(), IngestError> {
        if lines.is_empty() {
            return Ok(());
        }
        let entry = self.entry(device.0).await?;
        let writer = &self.inner.writer;
        for line in &lines {
            let stored = LogLine {
                ts: line.ts,
                tenant_id: entry.tenant_id,
                device_id: device.0,
                level: log_level(&line.topics).to_owned(),
                source: line.topics.clone(),
                message: line.message.clone(),
            };
            writer
                .line(stored)
                .await
                .map_err(|_| IngestError::Stopped)?;
        }
        let msg = ObserveLogs { lines };
        match entry.addr.try_send(msg) {
            Ok(()) => Ok(()),
            Err(SendError::Full(msg)) => {
                self.inner.telemetry.mailbox_full.inc();
                entry.addr.send(msg).await.map_err(|_| IngestError::Stopped)
            }
            Err(SendError::Closed(_)) => Err(IngestError::Stopped),
        }
    }

    /// Reports whether a polled device answers (opens or clears its offline alert). Seeing it
    /// also moves its last-seen time.
    pub async fn set_reachability(
        &self,
        device: DeviceId,
        reachable: bool,
        detail: String,
    ) -> Result<(), IngestError> {
        let entry = self.entry(device.0).await?;
        let now = Utc::now();
        self.inner.presence.reported(device.0, reachable);
        entry
            .addr
            .send(SetReachability {
                reachable,
                detail,
                at: now,
            })
            .await
            .map_err(|_| IngestError::Stopped)?;
        if reachable {
            self.inner
                .writer
                .seen(device.0, now)
                .await
                .map_err(|_| IngestError::Stopped)?;
        }
        Ok(())
    }

    /// Stores an agent's command result against its pending run and tells the NOC. A result
    /// that matches no pending run of this device is refused (logged), never stored.
    async fn finish_run(
        &self,
        entry: &DeviceEntry,
        device: DeviceId,
        doc: &serde_json::Value,
    ) -> Result<(), IngestError> {
        let Some(reported) = parse_result(doc) else {
            self.inner.telemetry.refused("commands", "bad_field");
            tracing::warn!(device_id = %device.0, "Command result without a command id or status refused.");
            return Ok(());
        };
        let mut tx = self.inner.store.begin(Scope::All).await?;
        let run =
            scripts::finish_run(&mut tx, reported.command_id, device.0, &reported.result).await?;
        let Some(run) = run else {
            tx.commit().await.map_err(StorageError::from)?;
            self.inner.telemetry.refused("commands", "unknown_command");
            tracing::warn!(device_id = %device.0, command_id = %reported.command_id, "Result for no pending run of this device refused.");
            return Ok(());
        };
        let details = serde_json::json!({
            "script_id": run.script_id, "status": run.status, "exit_code": run.exit_code,
        });
        audit::record(
            &mut tx,
            Some(entry.tenant_id),
            None,
            "script.result",
            "script_run",
            &run.id.to_string(),
            details,
        )
        .await?;
        tx.commit().await.map_err(StorageError::from)?;
        self.publish_run(&run, ScriptRunEvent::Finished);
        Ok(())
    }

    /// A script run event for the NOC (`{"type":"script_run","event":…,"run":{…}}`).
    pub fn publish_run(&self, run: &scripts::ScriptRun, event: ScriptRunEvent) {
        let message = NocMessage::ScriptRun {
            event,
            run: run.clone(),
        };
        self.inner
            .hub
            .do_send(message.to_event(TenantId(run.tenant_id)));
    }

    /// Publishes a NOC event to the sessions that may see `tenant_id`.
    pub fn publish(&self, tenant_id: Uuid, message: &NocMessage) {
        self.inner
            .hub
            .do_send(message.to_event(TenantId(tenant_id)));
    }

    /// Registers a transport commands can go through.
    pub fn add_command_sink(&self, sink: Arc<dyn CommandSink>) {
        self.inner.command_sinks.add(sink);
    }

    /// Hands a signed command to every transport; returns how many took it.
    pub fn send_command(&self, device: DeviceId, message: &str) -> usize {
        self.inner.command_sinks.deliver(device, message)
    }

    /// Agents silent past their window go offline; pending runs past their expiry expire.
    fn spawn_sweeper(&self) {
        let weak = Arc::downgrade(&self.inner);
        let every = self.inner.config.presence.sweep_every;
        tokio::spawn(async move {
            let mut ticks: u64 = 0;
            loop {
                tokio::time::sleep(every).await;
                let Some(inner) = weak.upgrade() else { return };
                let runtime = Runtime { inner };
                runtime.sweep_presence();
                ticks += 1;
                if ticks.is_multiple_of(5) {
                    runtime.expire_runs().await;
                }
            }
        });
    }

    /// Dead letters are kept as long as metric points (the time window's age), then deleted.
    fn spawn_dead_letter_expiry(&self) {
        let weak = Arc::downgrade(&self.inner);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(3600));
            loop {
                tick.tick().await;
                let Some(inner) = weak.upgrade() else { return };
                let cutoff = Utc::now() - inner.config.time_window.max_age;
                let pool = inner.store.pool().clone();
                drop(inner);
                if let Err(error) = dead_letters::delete_before(&pool, cutoff).await {
                    tracing::warn!(%error, "Expired dead letters not deleted; retrying in an hour.");
                }
            }
        });
    }

    fn sweep_presence(&self) {
        for (device, silent) in self.inner.presence.sweep() {
            if let Some(entry) = self.inner.registry.get(&device) {
                entry.addr.do_send(SetReachability {
                    reachable: false,
                    detail: format!("sin datos desde hace {} s", silent.as_secs()),
                    at: Utc::now(),
                });
            }
        }
    }

    async fn expire_runs(&self) {
        let expired = async {
            let mut tx = self.inner.store.begin(Scope::All).await?;
            let runs = scripts::expire_runs(&mut tx, Utc::now()).await?;
            tx.commit().await?;
            Ok::<_, StorageError>(runs)
        }
        .await;
        match expired {
            Ok(runs) => {
                for run in runs {
                    self.publish_run(&run, ScriptRunEvent::Expired);
                }
            }
            Err(error) => tracing::warn!(%error, "Expired script runs not marked; retrying."),
        }
    }

    /// Whether a device is online as the presence detector judges it (agents: heard from
    /// within their window; routers: their poller's last report).
    pub fn is_online(&self, device: Uuid) -> bool {
        self.inner.presence.is_online(device)
    }

    /// Every device online now (the device list's `online` filter).
    pub fn online_devices(&self) -> Vec<Uuid> {
        self.inner.presence.online_devices()
    }

    /// Agents being watched for silence.
    pub fn tracked_agents(&self) -> usize {
        self.inner.presence.len()
    }

    /// Reloads a tenant's log heuristics settings and pushes them to its devices.
    pub async fn reload_log_rules(&self, tenant: Uuid) -> Result<(), StorageError> {
        let mut tx = self
            .inner
            .store
            .begin(Scope::Tenant(TenantId(tenant)))
            .await?;
        let configured = log_rules::for_tenant(&mut tx, tenant).await?;
        tx.commit().await?;
        let rules = self.set_tenant_log_rules(tenant, &configured);
        for entry in self.inner.registry.iter() {
            if entry.tenant_id == tenant {
                entry.addr.do_send(SetLogRules {
                    rules: rules.clone(),
                });
            }
        }
        Ok(())
    }

    /// Pushes new effective rules to every device of a tenant (after a threshold change).
    pub async fn reload_rules(&self, tenant: Uuid) -> Result<(), StorageError> {
        let mut tx = self
            .inner
            .store
            .begin(Scope::Tenant(TenantId(tenant)))
            .await?;
        let tenant_thresholds = thresholds::list(&mut tx, Some(tenant)).await?;
        let identities = devices::all_identities(&mut tx).await?;
        tx.commit().await?;
        for identity in identities {
            if let Some(entry) = self.inner.registry.get(&identity.id) {
                let rules = effective_rules(&identity, &tenant_thresholds);
                entry.addr.do_send(SetRules { rules });
            }
        }
        Ok(())
    }

    /// Sets the devices a NOC session watches live metrics of.
    pub fn watch(&self, session_id: Uuid, previous: &[Uuid], devices: Vec<Uuid>) {
        for d in previous {
            let gone = self.inner.watched.get_mut(d).map(|mut n| {
                *n -= 1;
                *n == 0
            });
            if gone == Some(true) {
                self.inner.watched.remove(d);
            }
        }
        for d in &devices {
            *self.inner.watched.entry(*d).or_insert(0) += 1;
        }
        self.inner.hub.do_send(NocWatch {
            session_id,
            device_ids: devices,
        });
    }

    /// "Now" for SLA clocks and maintenance windows (the system clock outside tests).
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.inner.config.clock.now()
    }

    /// Tells the SLA watcher that tickets changed (moves, comments, priority, policy).
    pub fn sla_touch(&self, tickets: Vec<Uuid>) {
        self.inner.sla.touch(tickets);
    }

    /// Maintenance windows changed: the index is reloaded now (alerts raised from here on see
    /// the change), and every clock is looked at again.
    pub async fn maintenance_changed(&self) -> Result<(), StorageError> {
        self.inner.maintenance.reload(&self.inner.store).await?;
        self.inner.sla.rescan();
        Ok(())
    }

    pub fn hub(&self) -> Addr<Hub> {
        self.inner.hub.clone()
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    pub fn telemetry(&self) -> &Arc<Telemetry> {
        &self.inner.telemetry
    }

    pub fn writer(&self) -> &WriterHandle {
        &self.inner.writer
    }

    /// Number of live device actors.
    pub fn device_count(&self) -> usize {
        self.inner.registry.len()
    }

    /// Clean shutdown, once the transports have stopped feeding the runtime: every device
    /// actor handles what it was sent (handing its alert changes over), the latest inventories
    /// get one write pass (at most [`INVENTORY_PASS`]: they are state, not acknowledged data),
    /// then the writer writes everything accepted while every tenant actor stores the alert
    /// changes queued. It ends only when all of it is stored, so the caller bounds it (with
    /// storage down it would wait for ever) and reads [`Telemetry::unstored`] for what is
    /// missing.
    pub async fn shutdown(&self) {
        let settled: Vec<_> = self
            .inner
            .registry
            .iter()
            .map(|d| d.value().addr.send(Settle))
            .collect();
        for done in settled {
            let _ = done.await;
        }
        let inner = &self.inner;
        let inventories =
            inner
                .inventories
                .write_pending(&inner.store, &inner.telemetry, &inner.writer);
        if tokio::time::timeout(INVENTORY_PASS, inventories)
            .await
            .is_err()
        {
            tracing::warn!("Shutdown: the last inventories were not all written in time.");
        }
        let drains: Vec<_> = self
            .inner
            .tenants
            .iter()
            .map(|t| t.value().send(Drain))
            .collect();
        let tenants = async {
            for done in drains {
                let _ = done.await;
            }
        };
        tokio::join!(self.inner.writer.shutdown(), tenants);
        for shard in &self.inner.shards {
            shard.stop();
        }
    }
}

/// Hands alerts whose maintenance window ended to their device's tenant actor lane.
struct LaneEnds(Runtime);

impl SuppressionEnds for LaneEnds {
    fn end(&self, tenant: Uuid, device: Uuid, alert: Uuid) {
        self.0
            .tenant_actor(tenant, device)
            .do_send(EndSuppression { alert_id: alert });
    }
}

/// The longest the shutdown waits for the last inventory writes.
pub const INVENTORY_PASS: Duration = Duration::from_secs(2);

/// The severity word of a RouterOS log line, from its topics (`system,error,critical`).
pub fn log_level(topics: &str) -> &'static str {
    const LEVELS: [&str; 5] = ["critical", "error", "warning", "info", "debug"];
    LEVELS
        .into_iter()
        .find(|level| topics.split(',').any(|t| t.trim() == *level))
        .unwrap_or("info")
}
