//! The engine's local link into rumqttd: subscribes to every device topic and feeds each
//! publish, in arrival order, through [`crate::dispatch::deliver`]. While the runtime is
//! saturated this loop waits and the unread backlog grows in the broker's log; at its limit the
//! broker's flow control (`rumqttd::FlowGate`) stops reading from publishers until this link
//! catches up. Bursts cost bounded memory and time, never acknowledged messages.

use crate::dispatch::deliver;
use centinela_actors::{Runtime, Telemetry};
use centinela_model::payload::{DecodeLimits, RejectReason, decode, parse_topic};
use chrono::Utc;
use rumqttd::local::{LinkError, LinkRx, LinkTx};
use rumqttd::{FlowGate, Meter, Notification};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

/// Topics the engine consumes.
pub const FILTERS: &[&str] = &[
    "/tenants/+/telemetry",
    "/tenants/+/heartbeat",
    "/tenants/+/inventory",
    "/tenants/+/events",
    "/tenants/+/commands/+/result",
];

/// How far the consumer has got: read at shutdown to know when everything the broker
/// acknowledged has been handed to the runtime.
#[derive(Debug, Default)]
pub struct Progress {
    handled: AtomicU64,
    busy: AtomicBool,
}

impl Progress {
    /// Messages handled since start.
    pub fn handled(&self) -> u64 {
        self.handled.load(Ordering::SeqCst)
    }

    /// True while a message is in hand (taken from the link, not yet handed over).
    pub fn busy(&self) -> bool {
        self.busy.load(Ordering::SeqCst)
    }
}

/// Subscribes and starts the consumer task.
pub fn spawn(
    mut link_tx: LinkTx,
    mut link_rx: LinkRx,
    runtime: Runtime,
    limit: usize,
    progress: Arc<Progress>,
) -> Result<(), Box<LinkError>> {
    for filter in FILTERS {
        link_tx.subscribe(*filter).map_err(Box::new)?;
    }
    tokio::spawn(async move {
        // Kept alive for the life of the consumer: dropping it would close the link.
        let _link_tx = link_tx;
        loop {
            match link_rx.next().await {
                Ok(Some(Notification::Forward(forward))) => {
                    progress.busy.store(true, Ordering::SeqCst);
                    handle(
                        &runtime,
                        &forward.publish.topic,
                        &forward.publish.payload,
                        limit,
                    )
                    .await;
                    progress.handled.fetch_add(1, Ordering::SeqCst);
                    progress.busy.store(false, Ordering::SeqCst);
                }
                // Mandatory: without it the router stops scheduling this link after
                // `max_outgoing_packet_count` messages; the crate's own examples omit it.
                Ok(Some(Notification::Unschedule)) => {
                    if let Err(error) = link_rx.wake().await {
                        tracing::error!(%error, "MQTT link wake failed.");
                        return;
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::error!(%error, "MQTT link closed; the engine no longer receives MQTT.");
                    return;
                }
            }
        }
    });
    Ok(())
}

async fn handle(runtime: &Runtime, topic: &[u8], payload: &[u8], limit: usize) {
    let Ok(topic) = std::str::from_utf8(topic) else {
        runtime
            .telemetry()
            .refused("mqtt", RejectReason::BadTopic.as_str());
        return;
    };
    let (device, kind) = match parse_topic(topic) {
        Ok(parsed) => parsed,
        Err(reason) => {
            runtime.telemetry().refused("mqtt", reason.as_str());
            tracing::warn!(topic, "MQTT message on an unknown topic rejected.");
            return;
        }
    };
    let limits = DecodeLimits {
        max_payload_bytes: limit,
        window: *runtime.time_window(),
    };
    // The broker has already acknowledged the publish (QoS 1 is agent → broker): a temporary
    // failure of the engine (the database unreachable while loading the device or storing a
    // command result) is retried here, holding the link so the broker's flow control slows the
    // publishers instead of the message being lost. Data errors never come back here (the
    // runtime keeps those as dead letters), and inventories are written off this path.
    let mut backoff = std::time::Duration::from_millis(100);
    for attempt in 1..=8 {
        let decoded = decode(kind, payload, &limits, Utc::now());
        match deliver(runtime, "mqtt", device, kind, decoded, payload).await {
            Err(crate::dispatch::Refused::Storage(error)) if attempt < 8 => {
                tracing::warn!(%device, attempt, %error, "Retrying an MQTT message the engine could not store.");
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(std::time::Duration::from_secs(5));
            }
            Err(crate::dispatch::Refused::Storage(error)) => {
                // Given up: kept as a dead letter rather than lost without a trace.
                if let Err(failed) = runtime.give_up(device, kind, error, payload).await {
                    tracing::error!(%device, error = %failed, "An acknowledged MQTT message was lost.");
                }
                return;
            }
            _ => return,
        }
    }
}

/// Mirrors the router's meters, alerts and flow control into the engine's counters.
pub fn spawn_meters(
    meters: rumqttd::meters::MetersLink,
    alerts: rumqttd::alerts::AlertsLink,
    gate: FlowGate,
    telemetry: Arc<Telemetry>,
) {
    let t = telemetry.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_millis(250));
        // Pauses come in runs while the engine is saturated: say so once a minute at most.
        let mut last_said: Option<tokio::time::Instant> = None;
        loop {
            tick.tick().await;
            let closed = gate.is_closed();
            if closed
                && last_said.is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(60))
            {
                tracing::warn!(
                    backlog_bytes = gate.unread_bytes(),
                    pauses = gate.closings(),
                    "The engine is behind: the MQTT broker pauses publishers until it catches up (nothing is lost; see centinela_mqtt_pauses)."
                );
                last_said = Some(tokio::time::Instant::now());
            }
            t.mqtt_backlog_bytes.set(clamp(gate.unread_bytes()));
            t.mqtt_paused.set(i64::from(closed));
            t.mqtt_pauses.set(clamp(gate.closings()));
            t.mqtt_paused_ms.set(clamp(gate.closed_micros() / 1000));
        }
    });
    let t = telemetry.clone();
    tokio::spawn(async move {
        while let Ok(batch) = meters.next().await {
            for meter in batch {
                if let Meter::Router(_, router) = meter {
                    t.mqtt_failed_publishes.set(router.failed_publishes as i64);
                }
            }
        }
    });
    tokio::spawn(async move {
        while let Ok(batch) = alerts.next().await {
            for alert in batch {
                telemetry.mqtt_lost.inc();
                tracing::error!(
                    ?alert,
                    "The MQTT broker dropped messages the engine had not read."
                );
            }
        }
    });
}

fn clamp(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}
