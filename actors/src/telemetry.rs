//! The engine's own Prometheus counters, registered once and shared. Labels are bounded (reason
//! words, transports, event kinds), never device ids.

use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::registry::Registry;
use std::sync::Mutex;

type Labels = Vec<(String, String)>;

/// Every counter and gauge of the engine.
#[derive(Debug, Default)]
pub struct Telemetry {
    registry: Mutex<Registry>,
    /// Messages accepted, by transport and kind.
    pub messages: Family<Labels, Counter>,
    /// Messages refused, by transport and reason.
    pub rejected: Family<Labels, Counter>,
    /// Metric points accepted for storage (queued for the writer).
    pub points_received: Counter,
    /// Metric points committed to the database.
    pub points_stored: Counter,
    /// Log lines accepted for storage (queued for the writer).
    pub lines_received: Counter,
    /// Log lines committed to the database.
    pub lines_stored: Counter,
    /// Failed write attempts (each is retried).
    pub write_failures: Counter,
    /// Messages and rows kept as dead letters instead of stored, by kind and reason.
    pub dead_letters: Family<Labels, Counter>,
    /// Points and lines waiting in the writer.
    pub writer_queue: Gauge,
    /// Times a device mailbox was full and ingest had to wait.
    pub mailbox_full: Counter,
    /// Alert changes, by event (opened, updated, cleared).
    pub alerts: Family<Labels, Counter>,
    /// Tickets opened from alerts.
    pub tickets_created: Counter,
    /// SLA escalation steps fired, by step (warning, breached, reminder).
    pub sla_steps: Family<Labels, Counter>,
    /// SLA evaluations that failed (retried).
    pub sla_failures: Counter,
    /// Alert openings suppressed because their device was past its firing-alert cap.
    pub alerts_suppressed: Counter,
    /// Times a device went past its firing-alert cap (`device.alert_storm` opened).
    pub alert_storms: Counter,
    /// Points of new series refused because their device was at its series cap.
    pub series_refused: Counter,
    /// Failed attempts to persist an alert change (each is retried until it succeeds).
    pub alert_persist_failures: Counter,
    /// Alert changes raised by device actors and not yet persisted.
    pub alert_changes_pending: Gauge,
    /// Times a tenant actor's alert queue was full and a device actor waited for room.
    pub alert_queue_full: Counter,
    /// NOC events not delivered because a session's queue was full.
    pub noc_dropped: Counter,
    /// Connected NOC sessions.
    pub noc_sessions: Gauge,
    /// Logins, refreshes and tokens the API refused, by reason (`email_limit`,
    /// `address_limit`, `hash_busy`, `refresh_reuse`, `session_ended`).
    pub auth_refused: Family<Labels, Counter>,
    /// Live device actors.
    pub device_actors: Gauge,
    /// MQTT logins refused by the auth handler.
    pub mqtt_auth_failures: Counter,
    /// Publishes the broker refused (e.g. a topic outside the client's tenant prefix).
    pub mqtt_failed_publishes: Gauge,
    /// Messages the broker lost because the engine fell behind (cursor jumps).
    pub mqtt_lost: Counter,
    /// Bytes published to the broker that the engine has not read yet.
    pub mqtt_backlog_bytes: Gauge,
    /// 1 while the broker has stopped reading from publishers for the engine to catch up.
    pub mqtt_paused: Gauge,
    /// Times the broker has paused publishers since start.
    pub mqtt_pauses: Gauge,
    /// Milliseconds publishers have spent paused since start.
    pub mqtt_paused_ms: Gauge,
    /// Connections, publishes and subscriptions the broker refused, by reason.
    pub mqtt_refused: Family<Labels, Counter>,
    /// Device sessions the engine closed, by transport and reason (`revoked`, `idle`).
    pub sessions_closed: Family<Labels, Counter>,
}

impl Telemetry {
    /// Creates the counters and registers them.
    pub fn new() -> Telemetry {
        let t = Telemetry::default();
        {
            let mut r = t.registry.lock().unwrap_or_else(|p| p.into_inner());
            r.register(
                "centinela_ingest_messages",
                "Messages accepted, by transport and kind",
                t.messages.clone(),
            );
            r.register(
                "centinela_ingest_rejected",
                "Messages refused, by transport and reason",
                t.rejected.clone(),
            );
            r.register(
                "centinela_points_received",
                "Metric points accepted for storage",
                t.points_received.clone(),
            );
            r.register(
                "centinela_points_stored",
                "Metric points committed to the database",
                t.points_stored.clone(),
            );
            r.register(
                "centinela_lines_received",
                "Log lines accepted for storage",
                t.lines_received.clone(),
            );
            r.register(
                "centinela_lines_stored",
                "Log lines committed to the database",
                t.lines_stored.clone(),
            );
            r.register(
                "centinela_write_failures",
                "Failed database write attempts (retried)",
                t.write_failures.clone(),
            );
            r.register(
                "centinela_dead_letters",
                "Messages and rows kept as dead letters instead of stored, by kind and reason",
                t.dead_letters.clone(),
            );
            r.register(
                "centinela_writer_queue_depth",
                "Points and lines waiting in the writer",
                t.writer_queue.clone(),
            );
            r.register(
                "centinela_mailbox_full",
                "Times a device mailbox was full and ingest waited",
                t.mailbox_full.clone(),
            );
            r.register(
                "centinela_alerts",
                "Alert changes, by event",
                t.alerts.clone(),
            );
            r.register(
                "centinela_tickets_created",
                "Tickets opened from alerts",
                t.tickets_created.clone(),
            );
            r.register(
                "centinela_sla_steps",
                "SLA escalation steps fired, by step",
                t.sla_steps.clone(),
            );
            r.register(
                "centinela_sla_failures",
                "SLA evaluations that failed and were retried",
                t.sla_failures.clone(),
            );
            r.register(
                "centinela_alerts_suppressed",
                "Alert openings suppressed because their device was past its firing-alert cap",
                t.alerts_suppressed.clone(),
            );
            r.register(
                "centinela_alert_storms",
                "Times a device went past its firing-alert cap",
                t.alert_storms.clone(),
            );
            r.register(
                "centinela_series_refused",
                "Points of new series refused because their device was at its series cap",
                t.series_refused.clone(),
            );
            r.register(
                "centinela_alert_persist_failures",
                "Failed attempts to persist an alert change (retried until stored)",
                t.alert_persist_failures.clone(),
            );
            r.register(
                "centinela_alert_changes_pending",
                "Alert changes raised and not yet persisted",
                t.alert_changes_pending.clone(),
            );
            r.register(
                "centinela_alert_queue_full",
                "Times a tenant actor's alert queue was full and a device actor waited",
                t.alert_queue_full.clone(),
            );
            r.register(
                "centinela_noc_dropped",
                "NOC events dropped for slow sessions",
                t.noc_dropped.clone(),
            );
            r.register(
                "centinela_noc_sessions",
                "Connected NOC sessions",
                t.noc_sessions.clone(),
            );
            r.register(
                "centinela_auth_refused",
                "Logins, refreshes and tokens the API refused, by reason",
                t.auth_refused.clone(),
            );
            r.register(
                "centinela_device_actors",
                "Live device actors",
                t.device_actors.clone(),
            );
            r.register(
                "centinela_mqtt_auth_failures",
                "MQTT logins refused",
                t.mqtt_auth_failures.clone(),
            );
            r.register(
                "centinela_mqtt_failed_publishes",
                "Publishes refused by the broker since start",
                t.mqtt_failed_publishes.clone(),
            );
            r.register(
                "centinela_mqtt_lost",
                "Messages lost by the broker because the engine fell behind",
                t.mqtt_lost.clone(),
            );
            r.register(
                "centinela_mqtt_backlog_bytes",
                "Bytes published to the broker and not yet read by the engine",
                t.mqtt_backlog_bytes.clone(),
            );
            r.register(
                "centinela_mqtt_paused",
                "1 while the broker pauses publishers for the engine to catch up",
                t.mqtt_paused.clone(),
            );
            r.register(
                "centinela_mqtt_pauses",
                "Times the broker paused publishers since start",
                t.mqtt_pauses.clone(),
            );
            r.register(
                "centinela_mqtt_paused_ms",
                "Milliseconds publishers spent paused since start",
                t.mqtt_paused_ms.clone(),
            );
            r.register(
                "centinela_mqtt_refused",
                "Connections, publishes and subscriptions the MQTT broker refused, by reason",
                t.mqtt_refused.clone(),
            );
            r.register(
                "centinela_sessions_closed",
                "Device sessions closed by the engine, by transport and reason",
                t.sessions_closed.clone(),
            );
        }
        t
    }

    /// Counts an accepted message.
    pub fn accepted(&self, transport: &str, kind: &str) {
        self.messages
            .get_or_create(&vec![
                ("transport".to_owned(), transport.to_owned()),
                ("kind".to_owned(), kind.to_owned()),
            ])
            .inc();
    }

    /// Counts a refused message.
    pub fn refused(&self, transport: &str, reason: &str) {
        self.rejected
            .get_or_create(&vec![
                ("transport".to_owned(), transport.to_owned()),
                ("reason".to_owned(), reason.to_owned()),
            ])
            .inc();
    }

    /// How many messages were refused for a reason on a transport.
    pub fn refused_count(&self, transport: &str, reason: &str) -> u64 {
        self.rejected
            .get_or_create(&vec![
                ("transport".to_owned(), transport.to_owned()),
                ("reason".to_owned(), reason.to_owned()),
            ])
            .get()
    }

    /// Counts something the MQTT broker refused (a bad client id, a retained publish, ...).
    pub fn mqtt_refusal(&self, reason: &str) {
        self.mqtt_refused
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .inc();
    }

    /// Counts an authentication refusal.
    pub fn auth_refused(&self, reason: &str) {
        self.auth_refused
            .get_or_create(&vec![("reason".to_owned(), reason.to_owned())])
            .inc();
    }

    /// Counts a device session the engine closed.
    pub fn session_closed(&self, transport: &str, reason: &str) {
        self.sessions_closed
            .get_or_create(&vec![
                ("transport".to_owned(), transport.to_owned()),
                ("reason".to_owned(), reason.to_owned()),
            ])
            .inc();
    }

    /// Counts a dead letter.
    pub fn dead_letter(&self, kind: &str, reason: &str) {
        self.dead_letters
            .get_or_create(&vec![
                ("kind".to_owned(), kind.to_owned()),
                ("reason".to_owned(), reason.to_owned()),
            ])
            .inc();
    }

    /// Counts an SLA step.
    pub fn sla_step(&self, step: &str) {
        self.sla_steps
            .get_or_create(&vec![("step".to_owned(), step.to_owned())])
            .inc();
    }

    /// Counts an alert change.
    pub fn alert_event(&self, event: &str) {
        self.alerts
            .get_or_create(&vec![("event".to_owned(), event.to_owned())])
            .inc();
    }

    /// What was accepted and is not stored yet (the shutdown's account).
    pub fn unstored(&self) -> Unstored {
        Unstored {
            points: self
                .points_received
                .get()
                .saturating_sub(self.points_stored.get()),
            lines: self
                .lines_received
                .get()
                .saturating_sub(self.lines_stored.get()),
            alert_changes: u64::try_from(self.alert_changes_pending.get()).unwrap_or(0),
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        let registry = self.registry.lock().unwrap_or_else(|p| p.into_inner());
        // Writing into a String cannot fail.
        let _ = encode(&mut out, &registry);
        out
    }
}

/// Accepted and not yet stored.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unstored {
    pub points: u64,
    pub lines: u64,
    pub alert_changes: u64,
}

impl Unstored {
    /// Nothing is missing.
    pub fn is_empty(&self) -> bool {
        *self == Unstored::default()
    }
}
