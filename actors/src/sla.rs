//! What must happen on time on the helpdesk side: SLA escalation steps, and the ends of
//! maintenance windows.
//!
//! **Steps.** Each open ticket's two clocks are evaluated from its history
//! (`centinela_storage::sla::evaluate`); the latest step due on a clock (warning at 75 %, breach
//! at 100 %, then a reminder every `reminder_min` business minutes) fires when it is later than
//! the last one stored for that clock: it is stored in `sla_events` (a unique key per ticket,
//! clock and step) and only after the commit announced on `/ws/noc` as a `ticket` event
//! `sla_warning` or `sla_breached`. After downtime only the latest step due fires, once; a step
//! another engine stored first is not announced twice.
//!
//! **Timers.** The watcher keeps the instant of each ticket's next step (business time ahead,
//! maintenance windows subtracted) in a queue, checked every [`SlaConfig::tick`]. A ticket is
//! re-evaluated when its instant comes, when the API or the tenant actor says it changed
//! ([`SlaHandle::touch`]), and on every full scan ([`SlaConfig::rescan`], and at start: the
//! timers are rebuilt from the database). Evaluating is idempotent, so an early or repeated
//! evaluation costs a query and fires nothing.
//!
//! **Maintenance ends.** Each tick, firing alerts suppressed by a window that no longer covers
//! them go to their tenant actor lane ([`crate::tenant::EndSuppression`]), which makes them
//! normal alerts (and opens the ticket they were due).

use crate::clock::Clock;
use crate::hub::Hub;
use crate::maintenance::MaintenanceIndex;
use crate::noc_events::{NocMessage, TicketEvent};
use crate::telemetry::Telemetry;
use actix::Addr;
use centinela_model::sla::clock::{ClockKind, Step};
use centinela_model::{Scope, TenantId};
use centinela_storage::sla::{self, NewStep, SlaEvent};
use centinela_storage::tickets::{self, Ticket};
use centinela_storage::{StorageError, Store, alerts};
use chrono::{DateTime, Utc};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use uuid::Uuid;

/// Timing of the watcher.
#[derive(Debug, Clone)]
pub struct SlaConfig {
    /// How often due timers and ended windows are checked (steps fire within this of their
    /// instant, plus the time to store them).
    pub tick: Duration,
    /// How often every open ticket is re-evaluated (policy applies, windows, other engines).
    pub rescan: Duration,
}

impl Default for SlaConfig {
    fn default() -> Self {
        SlaConfig {
            tick: Duration::from_secs(1),
            rescan: Duration::from_secs(60),
        }
    }
}

/// Tickets evaluated per query.
const CHUNK: usize = 500;

/// A handle to tell the watcher that tickets changed or that everything must be looked at.
#[derive(Clone, Debug)]
pub struct SlaHandle {
    tx: mpsc::UnboundedSender<Wake>,
}

#[derive(Debug)]
enum Wake {
    Tickets(Vec<Uuid>),
    Rescan,
}

impl SlaHandle {
    /// The tickets changed (moved, commented, re-prioritised, moved to another policy).
    pub fn touch(&self, tickets: Vec<Uuid>) {
        if !tickets.is_empty() {
            let _ = self.tx.send(Wake::Tickets(tickets));
        }
    }

    /// Something that may move every clock changed (a maintenance window).
    pub fn rescan(&self) {
        let _ = self.tx.send(Wake::Rescan);
    }
}

/// Where the watcher sends alerts whose window ended (the runtime's tenant actor lanes).
pub trait SuppressionEnds: Send + Sync + 'static {
    fn end(&self, tenant: Uuid, device: Uuid, alert: Uuid);
}

/// The watcher's end of the channel.
#[derive(Debug)]
pub struct SlaReceiver(mpsc::UnboundedReceiver<Wake>);

/// A handle and the receiver the watcher is started with.
pub fn channel() -> (SlaHandle, SlaReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (SlaHandle { tx }, SlaReceiver(rx))
}

/// What the watcher works with.
pub struct WatcherParts {
    pub store: Store,
    pub hub: Addr<Hub>,
    pub clock: Arc<dyn Clock>,
    pub telemetry: Arc<Telemetry>,
    pub maintenance: MaintenanceIndex,
    pub ends: Arc<dyn SuppressionEnds>,
    pub config: SlaConfig,
}

/// Starts the watcher on the current Tokio runtime; its first act is a full scan (the timers
/// rebuilt from the database).
pub fn spawn(rx: SlaReceiver, parts: WatcherParts) {
    let WatcherParts {
        store,
        hub,
        clock,
        telemetry,
        maintenance,
        ends,
        config,
    } = parts;
    let watcher = Watcher {
        store,
        hub,
        clock,
        telemetry,
        maintenance,
        ends,
        config,
        queue: BTreeSet::new(),
        next_of: HashMap::new(),
        ending: HashSet::new(),
    };
    actix_rt::spawn(watcher.run(rx.0));
}

struct Watcher {
    store: Store,
    hub: Addr<Hub>,
    clock: Arc<dyn Clock>,
    telemetry: Arc<Telemetry>,
    maintenance: MaintenanceIndex,
    ends: Arc<dyn SuppressionEnds>,
    config: SlaConfig,
    /// (instant, ticket) of every ticket's next look.
    queue: BTreeSet<(DateTime<Utc>, Uuid)>,
    next_of: HashMap<Uuid, DateTime<Utc>>,
    /// Alerts handed to their tenant actor to end their suppression, not yet done.
    ending: HashSet<Uuid>,
}

impl Watcher {
    async fn run(mut self, mut rx: mpsc::UnboundedReceiver<Wake>) {
        let mut tick = tokio::time::interval(self.config.tick);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut rescan = tokio::time::interval(self.config.rescan);
        rescan.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                wake = rx.recv() => {
                    let Some(wake) = wake else { return };
                    let mut touched = Vec::new();
                    let mut full = false;
                    let mut next = Some(wake);
                    while let Some(wake) = next {
                        match wake {
                            Wake::Tickets(ids) => touched.extend(ids),
                            Wake::Rescan => full = true,
                        }
                        next = rx.try_recv().ok();
                    }
                    if full {
                        self.reload_maintenance().await;
                        self.scan_all().await;
                    } else {
                        self.evaluate(touched).await;
                    }
                }
                _ = rescan.tick() => {
                    self.reload_maintenance().await;
                    self.scan_all().await;
                }
                _ = tick.tick() => {
                    self.due().await;
                    self.end_suppressions().await;
                }
            }
        }
    }

    async fn reload_maintenance(&self) {
        if let Err(error) = self.maintenance.reload(&self.store).await {
            tracing::warn!(%error, "Maintenance windows not reloaded; keeping the last ones.");
        }
    }

    /// Re-evaluates every open ticket (start-up rebuilds every timer this way).
    async fn scan_all(&mut self) {
        let mut after = None;
        loop {
            let page = match self.open_page(after).await {
                Ok(page) => page,
                Err(error) => {
                    tracing::warn!(%error, "SLA scan failed; trying again at the next one.");
                    return;
                }
            };
            let Some(last) = page.last().copied() else {
                return;
            };
            let full = page.len() == CHUNK;
            self.evaluate(page).await;
            if !full {
                return;
            }
            after = Some(last);
        }
    }

    async fn open_page(&self, after: Option<Uuid>) -> Result<Vec<Uuid>, StorageError> {
        let mut tx = self.store.begin(Scope::All).await?;
        let ids = sla::open_ticket_ids(&mut tx, after, CHUNK as i64).await?;
        tx.commit().await?;
        Ok(ids)
    }

    /// Evaluates the tickets whose timer has come.
    async fn due(&mut self) {
        let now = self.clock.now();
        let mut due = Vec::new();
        while let Some(&(at, ticket)) = self.queue.first() {
            if at > now {
                break;
            }
            self.queue.pop_first();
            self.next_of.remove(&ticket);
            due.push(ticket);
        }
        if !due.is_empty() {
            self.evaluate(due).await;
        }
    }

    fn schedule(&mut self, ticket: Uuid, at: Option<DateTime<Utc>>) {
        if let Some(old) = self.next_of.remove(&ticket) {
            self.queue.remove(&(old, ticket));
        }
        if let Some(at) = at {
            self.queue.insert((at, ticket));
            self.next_of.insert(ticket, at);
        }
    }

    async fn evaluate(&mut self, mut ids: Vec<Uuid>) {
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(CHUNK) {
            let now = self.clock.now();
            match self.evaluate_chunk(chunk, now).await {
                Ok((fired, next)) => {
                    for (ticket, at) in next {
                        self.schedule(ticket, at);
                    }
                    for (ticket, event) in fired {
                        self.announce(ticket, event);
                    }
                }
                Err(error) => {
                    self.telemetry.sla_failures.inc();
                    tracing::warn!(%error, tickets = chunk.len(), "SLA evaluation failed; retrying in a few seconds.");
                    let retry = now + chrono::Duration::seconds(5);
                    for ticket in chunk {
                        self.schedule(*ticket, Some(retry));
                    }
                }
            }
        }
    }

    /// One transaction: the clocks of `ids`, the steps to fire stored; returns them (to be
    /// announced after the commit) and each ticket's next look.
    async fn evaluate_chunk(
        &self,
        ids: &[Uuid],
        now: DateTime<Utc>,
    ) -> Result<Steps, StorageError> {
        let mut tx = self.store.begin(Scope::All).await?;
        let open = tickets::open_by_ids(&mut tx, ids).await?;
        let evaluated = sla::evaluate(&mut tx, &open, now).await?;
        let open_ids: Vec<Uuid> = open.iter().map(|t| t.id).collect();
        let last = sla::last_steps(&mut tx, &open_ids).await?;
        let mut fired = Vec::new();
        let mut next: Vec<(Uuid, Option<DateTime<Utc>>)> =
            ids.iter().map(|id| (*id, None)).collect();
        for ticket in &open {
            let Some(e) = evaluated.get(&ticket.id) else {
                continue;
            };
            let mut soonest: Option<DateTime<Utc>> = None;
            for kind in [ClockKind::Response, ClockKind::Resolution] {
                let clock = e.clocks.get(kind);
                if let Some(step) = clock.latest_step(e.reminder) {
                    let stored = last.get(&(ticket.id, kind)).copied().unwrap_or(-1);
                    if step.rank() > stored {
                        let new = self.step(&mut tx, ticket, kind, step, e, now).await?;
                        if let Some(event) = sla::record_step(&mut tx, &new).await? {
                            let mut shown = ticket.clone();
                            sla::fill(&mut shown, &e.clocks, e.version);
                            fired.push((shown, event));
                        }
                    }
                }
                let at = if clock.paused {
                    // Waiting on the customer: the next move touches the ticket. Under
                    // maintenance: look again when the window ends.
                    e.maintenance_end(now)
                } else {
                    clock
                        .next_step(e.reminder)
                        .and_then(|(_, left)| e.after(now, left))
                };
                soonest = match (soonest, at) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
            }
            if let Some(slot) = next.iter_mut().find(|(id, _)| *id == ticket.id) {
                slot.1 = soonest;
            }
        }
        tx.commit().await?;
        Ok((fired, next))
    }

    async fn step(
        &self,
        tx: &mut centinela_storage::PgConnection,
        ticket: &Ticket,
        kind: ClockKind,
        step: Step,
        e: &sla::Evaluated,
        now: DateTime<Utc>,
    ) -> Result<NewStep, StorageError> {
        let clock = e.clocks.get(kind);
        let admins_too = step != Step::Warning;
        let notify = sla::who_to_tell(tx, ticket.assigned_to, admins_too).await?;
        Ok(NewStep {
            tenant_id: ticket.tenant_id,
            ticket_id: ticket.id,
            clock: kind,
            step,
            priority: ticket.priority.clone(),
            target_min: clock.target.num_minutes(),
            used_min: clock.used.num_minutes(),
            due_at: clock.due_at,
            fired_at: now,
            notify,
        })
    }

    fn announce(&self, ticket: Ticket, event: SlaEvent) {
        let kind = if event.step == "warning" {
            TicketEvent::SlaWarning
        } else {
            TicketEvent::SlaBreached
        };
        self.telemetry.sla_step(&event.step);
        tracing::info!(ticket = %ticket.number, clock = %event.clock, step = %event.step, seq = event.seq, "SLA step.");
        let tenant = TenantId(ticket.tenant_id);
        let message = NocMessage::Ticket {
            event: kind,
            ticket,
            sla: Some(Box::new(event)),
        };
        self.hub.do_send(message.to_event(tenant));
    }

    /// Hands alerts whose window ended to their tenant actor (an alert another window still
    /// covers moves to that window instead).
    async fn end_suppressions(&mut self) {
        let rows = match self.suppressed().await {
            Ok(rows) => rows,
            Err(error) => {
                tracing::warn!(%error, "Suppressed alerts not read; trying again.");
                return;
            }
        };
        let now = self.clock.now();
        let still: HashSet<Uuid> = rows.iter().map(|a| a.id).collect();
        self.ending.retain(|id| still.contains(id));
        let candidates: Vec<alerts::SuppressedAlert> = rows
            .into_iter()
            .filter(|a| {
                !self.ending.contains(&a.id) && !self.maintenance.is_active(a.window_id, now)
            })
            .collect();
        if candidates.is_empty() {
            return;
        }
        // Another engine may have created or lengthened a window since the last reload.
        self.reload_maintenance().await;
        for a in candidates {
            if self.maintenance.is_active(a.window_id, now) {
                continue;
            }
            if let Some(other) = self
                .maintenance
                .covering(a.tenant_id, a.site_id, a.device_id, now)
            {
                if let Err(error) = self.move_suppression(a.id, other).await {
                    tracing::warn!(%error, alert_id = %a.id, "Suppression not moved to the window still covering it; trying again.");
                }
                continue;
            }
            self.ending.insert(a.id);
            self.ends.end(a.tenant_id, a.device_id, a.id);
        }
    }

    /// Every firing, suppressed alert, page by page.
    async fn suppressed(&self) -> Result<Vec<alerts::SuppressedAlert>, StorageError> {
        let mut tx = self.store.begin(Scope::All).await?;
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = alerts::suppressed_firing(&mut tx, after, CHUNK as i64).await?;
            let full = page.len() == CHUNK;
            after = page.last().map(|a| a.id);
            all.extend(page);
            if !full {
                break;
            }
        }
        tx.commit().await?;
        Ok(all)
    }

    async fn move_suppression(&self, alert: Uuid, window: Uuid) -> Result<(), StorageError> {
        let mut tx = self.store.begin(Scope::All).await?;
        alerts::move_suppression(&mut tx, alert, window).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Steps stored (with their ticket) and each ticket's next look.
type Steps = (Vec<(Ticket, SlaEvent)>, Vec<(Uuid, Option<DateTime<Utc>>)>);
