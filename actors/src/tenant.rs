//! The tenant actor: a few per tenant (lanes; a device always goes to the same one). It owns
//! alert → ticket policy and persists every alert change of its devices transactionally, one at
//! a time (`ctx.wait`), so "exactly one ticket per alert" holds without races while lanes work in
//! parallel. Persisted changes are published to the hub (openings are announced earlier, by the
//! device actor: see [`AlertChange::announcement`]).
//!
//! A change that cannot be stored (PostgreSQL down, a table locked, a constraint failing) is
//! retried with backoff until it is: an opening announced to the NOC is never forgotten, and the
//! changes of one alert are stored in the order they happened (opened before updated before
//! cleared) because the lane takes the next change only once this one is stored. Only this
//! lane waits; other lanes and other tenants go on. The mailbox is bounded
//! (`engine.alert_queue`): device actors `try_send`, and when it is full they wait for room
//! (counted in `centinela_alert_queue_full`), which slows their own ingest.

use crate::hub::Hub;
use crate::noc_events::{AlertEvent, NocMessage, TicketEvent};
use crate::rules::ActiveRule;
use crate::sla::SlaHandle;
use crate::telemetry::Telemetry;
use actix::prelude::*;
use centinela_model::threshold::Transition;
use centinela_model::{Scope, Severity, TenantId};
use centinela_storage::alerts::{self, Alert, AlertFacts};
use centinela_storage::devices::{self, DeviceIdentity};
use centinela_storage::tickets::{self, NewTicket, Ticket};
use centinela_storage::{StorageError, Store};
use centinela_storage::{assignment, tenants};
use chrono::{DateTime, Utc};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

/// A state change of one (device, alert key) to persist.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct AlertChange {
    pub device: DeviceIdentity,
    pub key: String,
    pub source: AlertSource,
    pub transition: Transition,
    pub at: DateTime<Utc>,
    /// The id an alert this change opens is stored under.
    pub alert_id: Uuid,
    /// The maintenance window covering the device when an opening happened (set by the device
    /// actor): the alert is stored suppressed, with no ticket.
    pub suppressed_by: Option<Uuid>,
}

impl AlertChange {
    pub fn new(
        device: DeviceIdentity,
        key: String,
        source: AlertSource,
        transition: Transition,
        at: DateTime<Utc>,
    ) -> AlertChange {
        AlertChange {
            device,
            key,
            source,
            transition,
            at,
            alert_id: Uuid::new_v4(),
            suppressed_by: None,
        }
    }

    /// The NOC's `alert opened` event for an opening, built from memory before the alert is
    /// stored; `None` for other changes, which are published once persisted.
    pub fn announcement(&self) -> Option<NocMessage> {
        let Transition::Opened { severity, value } = self.transition else {
            return None;
        };
        let mut alert = alerts::provisional(&facts(self, severity, value));
        alert.set_suppressed_by(self.suppressed_by);
        Some(NocMessage::Alert {
            event: AlertEvent::Opened,
            alert,
        })
    }
}

/// What raised an alert: a threshold on a metric, or an event (a log heuristic, a router that
/// stopped answering) that brings its own texts.
#[derive(Clone, Debug)]
pub enum AlertSource {
    Threshold(ActiveRule),
    Event(EventTexts),
}

/// The texts and ticket policy of an event alert (empty when clearing).
#[derive(Clone, Debug, Default)]
pub struct EventTexts {
    pub title: String,
    pub description: String,
    pub recommended_action: String,
    pub auto_ticket: bool,
}

impl AlertSource {
    fn auto_ticket(&self) -> bool {
        match self {
            AlertSource::Threshold(rule) => rule.auto_ticket,
            AlertSource::Event(texts) => texts.auto_ticket,
        }
    }

    fn ticket_priority(&self) -> Option<String> {
        match self {
            AlertSource::Threshold(rule) => rule.ticket_priority.clone(),
            AlertSource::Event(_) => None,
        }
    }
}

/// Resolves once every change queued before it has been persisted (clean shutdown).
#[derive(Message)]
#[rtype(result = "()")]
pub struct Drain;

/// The longest wait between two attempts to store an alert change.
const RETRY_CAP: Duration = Duration::from_secs(5);

/// The tenant actor.
pub struct TenantActor {
    tenant_id: TenantId,
    store: Store,
    hub: Addr<Hub>,
    telemetry: Arc<Telemetry>,
    /// Alert changes the mailbox holds before device actors have to wait.
    queue_capacity: usize,
    /// Told of every ticket this actor opens or changes (its SLA clocks).
    sla: SlaHandle,
}

impl TenantActor {
    pub fn new(
        tenant_id: TenantId,
        store: Store,
        hub: Addr<Hub>,
        telemetry: Arc<Telemetry>,
        queue_capacity: usize,
        sla: SlaHandle,
    ) -> Self {
        TenantActor {
            tenant_id,
            store,
            hub,
            telemetry,
            queue_capacity,
            sla,
        }
    }
}

impl Actor for TenantActor {
    type Context = Context<Self>;

    fn started(&mut self, ctx: &mut Context<Self>) {
        ctx.set_mailbox_capacity(self.queue_capacity.max(1));
    }
}

impl Handler<AlertChange> for TenantActor {
    type Result = ();
    fn handle(&mut self, change: AlertChange, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let hub = self.hub.clone();
        let telemetry = self.telemetry.clone();
        let tenant_id = self.tenant_id;
        let sla = self.sla.clone();
        let work = async move {
            let outcome = persist_until_stored(&store, &telemetry, &change).await;
            telemetry.alert_changes_pending.dec();
            outcome.publish(tenant_id, &hub, &telemetry, &sla);
        };
        ctx.wait(work.into_actor(self));
    }
}

/// A maintenance window ended while this alert, raised under it, is still firing: it becomes a
/// normal alert, and gets the ticket it was due. Sent by the SLA watcher to the lane of the
/// alert's device, so it takes its turn with the device's other alert changes.
#[derive(Message, Clone, Debug)]
#[rtype(result = "()")]
pub struct EndSuppression {
    pub alert_id: Uuid,
}

impl Handler<EndSuppression> for TenantActor {
    type Result = ();
    fn handle(&mut self, msg: EndSuppression, ctx: &mut Context<Self>) {
        let store = self.store.clone();
        let hub = self.hub.clone();
        let telemetry = self.telemetry.clone();
        let tenant_id = self.tenant_id;
        let sla = self.sla.clone();
        let work = async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                match end_suppression(&store, msg.alert_id).await {
                    Ok(outcome) => {
                        outcome.publish(tenant_id, &hub, &telemetry, &sla);
                        return;
                    }
                    Err(error) => {
                        telemetry.alert_persist_failures.inc();
                        tracing::error!(%error, alert_id = %msg.alert_id, "End of an alert's suppression not stored; retrying.");
                        tokio::time::sleep(backoff).await;
                        backoff = (backoff * 2).min(RETRY_CAP);
                    }
                }
            }
        };
        ctx.wait(work.into_actor(self));
    }
}

async fn end_suppression(store: &Store, alert_id: Uuid) -> Result<Outcome, StorageError> {
    let mut tx = store.begin(Scope::All).await?;
    let nothing = Outcome {
        counted: None,
        alert: None,
        ticket: None,
    };
    // Locked: another engine (or this lane's next change) sees the result, not a half.
    let Some(before) = alerts::suppressed_for_update(&mut tx, alert_id).await? else {
        tx.commit().await?;
        return Ok(nothing);
    };
    let Some(mut alert) = alerts::unsuppress(&mut tx, alert_id).await? else {
        tx.commit().await?;
        return Ok(nothing);
    };
    let mut ticket = None;
    // The ticket it was due, unless someone already resolved it during the window.
    let due = before.pending_ticket_priority.filter(|_| {
        alert.ticket_id.is_none() && alert.status != centinela_model::AlertStatus::Resolved.as_str()
    });
    if let Some(priority) = due
        && let Some(device) = devices::identity(&mut tx, alert.device_id).await?
    {
        // The same key's ticket still open: a comment there, as when an alert fires again.
        let (opened, event) = match tickets::open_for_alert_key(
            &mut tx,
            alert.device_id,
            &alert.key,
        )
        .await?
        {
            Some(open) => {
                let note = format!(
                    "La alerta sigue activa al terminar la ventana de mantenimiento (valor {}): {}",
                    alert.value, alert.title
                );
                tickets::add_comment(&mut tx, &open, None, &note, false).await?;
                (tickets::by_id(&mut tx, open.id).await?, "updated")
            }
            None => {
                let (opened, created) = open_ticket(&mut tx, &alert, &device, priority).await?;
                (opened, if created { "created" } else { "updated" })
            }
        };
        alert = alerts::set_ticket(&mut tx, alert.id, opened.id).await?;
        ticket = Some((opened, event));
    }
    tx.commit().await?;
    tracing::info!(%alert_id, ticket = ticket.is_some(), "Maintenance over with the alert still firing: now a normal alert.");
    Ok(Outcome {
        counted: None,
        alert: Some(("updated", alert)),
        ticket,
    })
}

/// Persists a change, retrying with exponential backoff (capped at [`RETRY_CAP`]) for as long
/// as it takes: every failed attempt is logged and counted, none is given up.
async fn persist_until_stored(
    store: &Store,
    telemetry: &Telemetry,
    change: &AlertChange,
) -> Outcome {
    let mut backoff = Duration::from_millis(100);
    let mut attempt: u64 = 1;
    loop {
        match persist(store, change).await {
            Ok(outcome) => {
                if attempt > 1 {
                    tracing::info!(attempt, device_id = %change.device.id, key = %change.key, "Alert change stored after retries.");
                }
                return outcome;
            }
            Err(error) => {
                telemetry.alert_persist_failures.inc();
                tracing::error!(%error, attempt, retry_in_ms = backoff.as_millis() as u64, device_id = %change.device.id, key = %change.key, "Alert change not stored; retrying until it is.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(RETRY_CAP);
                attempt += 1;
            }
        }
    }
}

impl Handler<Drain> for TenantActor {
    type Result = ();
    fn handle(&mut self, _: Drain, _: &mut Context<Self>) {}
}

/// What a persisted change produced.
struct Outcome {
    /// The alert change as counted (`centinela_alerts`), if any.
    counted: Option<&'static str>,
    /// The alert event to publish, unless the NOC already has it (an announced opening).
    alert: Option<(&'static str, Alert)>,
    ticket: Option<(Ticket, &'static str)>,
}

impl Outcome {
    fn publish(self, tenant_id: TenantId, hub: &Addr<Hub>, telemetry: &Telemetry, sla: &SlaHandle) {
        let send = |message: NocMessage| hub.do_send(message.to_event(tenant_id));
        if let Some(event) = self.counted {
            telemetry.alert_event(event);
        }
        if let Some((event, alert)) = self.alert {
            let event = match event {
                "opened" => AlertEvent::Opened,
                "cleared" => AlertEvent::Cleared,
                _ => AlertEvent::Updated,
            };
            send(NocMessage::Alert { event, alert });
        }
        if let Some((ticket, event)) = self.ticket {
            sla.touch(vec![ticket.id]);
            let event = if event == "created" {
                telemetry.tickets_created.inc();
                TicketEvent::Created
            } else {
                TicketEvent::Updated
            };
            send(NocMessage::Ticket {
                event,
                ticket,
                sla: None,
            });
        }
    }
}

async fn persist(store: &Store, change: &AlertChange) -> Result<Outcome, StorageError> {
    let mut tx = store.begin(Scope::All).await?;
    let outcome = match change.transition {
        Transition::Opened { severity, value } => {
            let facts = facts(change, severity, value);
            let (mut alert, created) = alerts::open(&mut tx, &facts).await?;
            if let (true, Some(window)) = (created, change.suppressed_by) {
                // `ticket_if_due` below keeps the ticket it would open for the window's end.
                alert = alerts::suppress(&mut tx, alert.id, window, None).await?;
            }
            let (alert, ticket) = ticket_if_due(&mut tx, change, alert).await?;
            // The opening was announced as it happened (`AlertChange::announcement`); what
            // persisting adds is the ticket link, or the alert that was already firing.
            let republish = !created || ticket.is_some();
            Outcome {
                counted: Some(if created { "opened" } else { "updated" }),
                alert: republish.then_some(("updated", alert)),
                ticket,
            }
        }
        Transition::SeverityChanged { to, value, .. } => {
            let facts = facts(change, to, value);
            match alerts::update_severity(&mut tx, &facts).await? {
                Some(alert) => {
                    let (alert, ticket) = ticket_if_due(&mut tx, change, alert).await?;
                    let ticket = match ticket {
                        Some(t) => Some(t),
                        None => note_on_ticket(&mut tx, &alert, "alert_updated").await?,
                    };
                    Outcome {
                        counted: Some("updated"),
                        alert: Some(("updated", alert)),
                        ticket,
                    }
                }
                // Nothing firing to update (its opening was lost): open it now.
                None => {
                    let (alert, _) = alerts::open(&mut tx, &facts).await?;
                    let (alert, ticket) = ticket_if_due(&mut tx, change, alert).await?;
                    Outcome {
                        counted: Some("opened"),
                        alert: Some(("opened", alert)),
                        ticket,
                    }
                }
            }
        }
        Transition::Cleared { value } => {
            match alerts::clear(&mut tx, change.device.id, &change.key, value, change.at).await? {
                Some(alert) => {
                    let ticket = note_on_ticket(&mut tx, &alert, "alert_cleared").await?;
                    Outcome {
                        counted: Some("cleared"),
                        alert: Some(("cleared", alert)),
                        ticket,
                    }
                }
                None => Outcome {
                    counted: None,
                    alert: None,
                    ticket: None,
                },
            }
        }
    };
    tx.commit().await?;
    Ok(outcome)
}

/// Opens the alert's ticket when policy says so: critical, `auto_ticket`, and none yet.
async fn ticket_if_due(
    tx: &mut centinela_storage::PgConnection,
    change: &AlertChange,
    alert: Alert,
) -> Result<(Alert, Option<(Ticket, &'static str)>), StorageError> {
    if !ticket_due(change, &alert) {
        return Ok((alert, None));
    }
    if alert.suppressed_by.is_some() {
        // Under maintenance: the ticket waits for the window's end (if still firing then).
        let priority = ticket_priority(change);
        let alert = alerts::set_pending_ticket(tx, alert.id, &priority).await?;
        return Ok((alert, None));
    }
    // The same alert key firing again while its earlier ticket is open: a comment on that
    // ticket, not a second ticket.
    if let Some(open) = tickets::open_for_alert_key(tx, alert.device_id, &alert.key).await? {
        let note = format!(
            "La alerta se volvió a disparar (valor {}): {}",
            alert.value, alert.title
        );
        tickets::add_comment(tx, &open, None, &note, false).await?;
        let alert = alerts::set_ticket(tx, alert.id, open.id).await?;
        let ticket = tickets::by_id(tx, open.id).await?;
        return Ok((alert, Some((ticket, "updated"))));
    }
    let priority = ticket_priority(change);
    let (ticket, created) = open_ticket(tx, &alert, &change.device, priority).await?;
    let alert = alerts::set_ticket(tx, alert.id, ticket.id).await?;
    Ok((
        alert,
        Some((ticket, if created { "created" } else { "updated" })),
    ))
}

/// Whether the alert is due a ticket: critical, `auto_ticket`, and none yet.
fn ticket_due(change: &AlertChange, alert: &Alert) -> bool {
    change.source.auto_ticket() && alert.severity == "critical" && alert.ticket_id.is_none()
}

fn ticket_priority(change: &AlertChange) -> String {
    change
        .source
        .ticket_priority()
        .unwrap_or_else(|| "critical".to_owned())
}

/// Opens (or finds) the ticket of an alert, assigned as the tenant's rule says.
async fn open_ticket(
    tx: &mut centinela_storage::PgConnection,
    alert: &Alert,
    device: &DeviceIdentity,
    priority: String,
) -> Result<(Ticket, bool), StorageError> {
    let new = NewTicket {
        tenant_id: alert.tenant_id,
        site_id: Some(device.site_id),
        device_id: Some(alert.device_id),
        alert_id: Some(alert.id),
        source: "alert".into(),
        subject: alert.title.clone(),
        description: format!(
            "{}\n\nAcción recomendada: {}",
            alert.description, alert.recommended_action
        ),
        affected_person: device.name.clone(),
        priority,
        ..NewTicket::default()
    };
    let (mut ticket, created) = tickets::create(tx, &new).await?;
    if created {
        ticket = assignment::assign(tx, &ticket).await?;
    }
    Ok((ticket, created))
}

/// Adds an event to the alert's ticket, if it has one.
async fn note_on_ticket(
    tx: &mut centinela_storage::PgConnection,
    alert: &Alert,
    kind: &str,
) -> Result<Option<(Ticket, &'static str)>, StorageError> {
    let Some(ticket_id) = alert.ticket_id else {
        return Ok(None);
    };
    let ticket = tickets::by_id(tx, ticket_id).await?;
    let comment = match kind {
        "alert_cleared" => format!(
            "La alerta se normalizó (valor {}). El ticket sigue abierto hasta que un técnico lo cierre.",
            alert.value
        ),
        _ => format!(
            "La alerta cambió a severidad {} (valor {}).",
            alert.severity, alert.value
        ),
    };
    tickets::add_event(tx, &ticket, kind, None, None, None, Some(&comment)).await?;
    if kind == "alert_cleared" {
        resolve_if_untouched(tx, &ticket).await?;
    }
    let ticket = tickets::by_id(tx, ticket_id).await?;
    Ok(Some((ticket, "updated")))
}

/// With the tenant's `auto_resolve_alert_tickets` on, resolves an alert's open ticket when the
/// alert clears, unless a person moved it or commented since it opened (the engine's notes and
/// the automatic assignment do not count). The one move the engine makes outside the staff
/// table: straight to `resolved` from any open status.
async fn resolve_if_untouched(
    tx: &mut centinela_storage::PgConnection,
    ticket: &Ticket,
) -> Result<(), StorageError> {
    let open = !matches!(ticket.status.as_str(), "resolved" | "closed" | "cancelled");
    if !open
        || !tenants::get(tx, ticket.tenant_id)
            .await?
            .auto_resolve_alert_tickets
    {
        return Ok(());
    }
    if tickets::touched_by_people(tx, ticket.id).await? {
        return Ok(());
    }
    let change = tickets::TicketChange {
        status: Some("resolved".into()),
        ..tickets::TicketChange::default()
    };
    let resolved = tickets::update(tx, ticket.id, &change).await?;
    let event = tickets::Event::new("status")
        .from(&ticket.status)
        .to("resolved")
        .comment("Resuelto automáticamente: la alerta se normalizó.", false);
    tickets::add(tx, &resolved, &event).await?;
    Ok(())
}

fn severity_word(severity: Severity) -> &'static str {
    match severity {
        Severity::Critical => "Crítico",
        Severity::Warning => "Advertencia",
    }
}

/// Alert texts, in Spanish (the NOC's language).
fn facts(change: &AlertChange, severity: Severity, value: f64) -> AlertFacts {
    let rule = match &change.source {
        AlertSource::Threshold(rule) => rule,
        AlertSource::Event(texts) => {
            return AlertFacts {
                id: change.alert_id,
                tenant_id: change.device.tenant_id,
                device_id: change.device.id,
                key: change.key.clone(),
                threshold_id: None,
                severity: severity.as_str().to_owned(),
                title: texts.title.clone(),
                description: texts.description.clone(),
                recommended_action: texts.recommended_action.clone(),
                value,
                threshold: None,
                at: change.at,
            };
        }
    };
    let limit = rule.rule.limit(severity);
    let op = rule.rule.op.as_str();
    let limit_text = limit.map(|l| format!("{op} {l}")).unwrap_or_default();
    let device = &change.device.name;
    AlertFacts {
        id: change.alert_id,
        tenant_id: change.device.tenant_id,
        device_id: change.device.id,
        key: change.key.clone(),
        threshold_id: Some(rule.threshold_id),
        severity: severity.as_str().to_owned(),
        title: format!(
            "{}: {} {} en {}",
            severity_word(severity),
            change.key,
            limit_text,
            device
        ),
        description: format!(
            "El dispositivo {device} reporta {} = {value}, fuera del umbral {} ({limit_text}).",
            change.key,
            severity_word(severity).to_lowercase(),
        ),
        recommended_action: recommended_action(&rule.metric).to_owned(),
        value,
        threshold: limit,
        at: change.at,
    }
}

fn recommended_action(metric: &str) -> &'static str {
    match metric.split('.').next().unwrap_or("") {
        "cpu" => {
            "Revise los procesos con mayor consumo de CPU y reinicie o escale el servicio responsable."
        }
        "mem" => {
            "Revise los procesos con mayor uso de memoria; cierre o reinicie el que tenga fugas."
        }
        "disk" => {
            "Libere espacio en el disco (temporales, registros, papelera) o amplíe el volumen."
        }
        _ => "Revise el dispositivo y reconozca la alerta mientras la atiende.",
    }
}
