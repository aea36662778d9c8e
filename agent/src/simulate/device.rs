//! One virtual device: its own connection (MQTT/TLS with its certificate, or WebSocket), an
//! inventory at start, then telemetry and a heartbeat every interval.
//!
//! Simulated devices have no disk queue: over MQTT, rumqttc's own in-memory state keeps QoS 1
//! messages until PUBACK and re-sends them after it reconnects; its bounded request channel is
//! the in-memory queue (a full channel drops the sample and counts it). Commands are answered
//! with a `refused` result: a simulated host never runs scripts.

use super::state::SimDevice;
use super::walk::Walk;
use crate::message::{ItemKind, QueuedItem};
use crate::transport::{Backoff, TransportKind, mqtt_options};
use futures_util::{SinkExt, StreamExt};
use rumqttc::{AsyncClient, Event, Outgoing, Packet, QoS};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

/// Counters shown in the progress lines.
#[derive(Debug, Default)]
pub struct Stats {
    pub connected: AtomicUsize,
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub dropped: AtomicU64,
}

/// What every device task needs.
#[derive(Clone, Debug)]
pub struct DeviceRun {
    pub interval: Duration,
    pub start_delay: Duration,
    pub breach_pct: f64,
    pub transport: TransportKind,
    pub stats: Arc<Stats>,
}

/// Runs one virtual device forever (until its task is aborted).
pub async fn run_device(device: SimDevice, run: DeviceRun) {
    tokio::time::sleep(run.start_delay).await;
    let walk = Walk::new(&mut rand::rng());
    match run.transport {
        TransportKind::Mqtt => run_mqtt(device, run, walk).await,
        TransportKind::Ws => run_ws(device, run, walk).await,
    }
}

/// The `command_id` inside a command message, signed or not.
fn command_id_in(message: &[u8]) -> Option<String> {
    let envelope: serde_json::Value = serde_json::from_slice(message).ok()?;
    let inner: serde_json::Value = serde_json::from_str(envelope.get("payload")?.as_str()?).ok()?;
    inner.get("command_id")?.as_str().map(str::to_owned)
}

/// The refusal a simulated device answers every command with.
fn refusal(command_id: &str) -> QueuedItem {
    let body =
        crate::command::refused_result(command_id, "simulated device: scripts are not executed");
    QueuedItem::command_result(command_id, body.to_body())
}

async fn run_mqtt(device: SimDevice, run: DeviceRun, mut walk: Walk) {
    let key = device.enrolled.device_key.clone();
    let mqtt = device
        .certificate
        .mqtt
        .clone()
        .unwrap_or(device.enrolled.mqtt.clone());
    let tls = match crate::tls::mqtt_client_config(
        &device.certificate.ca_certificate,
        &device.certificate.certificate,
        &device.key_pem,
    ) {
        Ok(tls) => tls,
        Err(error) => {
            tracing::error!(device_key = %key, error = %error, "Simulated device has unusable TLS material.");
            return;
        }
    };
    let options = mqtt_options(
        &key,
        &device.enrolled.device_token,
        &mqtt.host,
        mqtt.port,
        tls,
    );
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let pump_client = client.clone();
    let stats = Arc::clone(&run.stats);
    let pump_key = key.clone();
    let pump = tokio::spawn(async move {
        let topic = crate::transport::commands_topic(&pump_key);
        let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
        let mut connected = false;
        loop {
            match eventloop.poll().await {
                Ok(Event::Incoming(Packet::ConnAck(_))) => {
                    connected = true;
                    backoff.reset();
                    stats.connected.fetch_add(1, Ordering::Relaxed);
                    let _ = pump_client.try_subscribe(topic.as_str(), QoS::AtLeastOnce);
                }
                Ok(Event::Outgoing(Outgoing::Publish(_))) => {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Event::Incoming(Packet::PubAck(_))) => {
                    stats.acked.fetch_add(1, Ordering::Relaxed);
                }
                Ok(Event::Incoming(Packet::Publish(p))) if p.topic == topic => {
                    if let Some(id) = command_id_in(&p.payload) {
                        let item = refusal(&id);
                        let _ = pump_client.try_publish(
                            item.topic(&pump_key),
                            QoS::AtLeastOnce,
                            false,
                            item.payload(),
                        );
                    }
                }
                Ok(_) => {}
                Err(error) => {
                    if std::mem::take(&mut connected) {
                        stats.connected.fetch_sub(1, Ordering::Relaxed);
                    }
                    tracing::debug!(device_key = %pump_key, error = %error, "Simulated device disconnected.");
                    tokio::time::sleep(backoff.next_delay()).await;
                }
            }
        }
    });
    let _guard = AbortOnDrop(pump);
    let inventory = QueuedItem::new(ItemKind::Inventory, walk.inventory(&device.hostname));
    let mut items = vec![inventory];
    let mut ticker = tokio::time::interval(run.interval);
    loop {
        ticker.tick().await;
        let secs = run.interval.as_secs();
        let telemetry = walk.telemetry(&mut rand::rng(), secs, run.breach_pct);
        items.push(QueuedItem::new(ItemKind::Telemetry, telemetry));
        items.push(QueuedItem::new(ItemKind::Heartbeat, walk.heartbeat()));
        for item in items.drain(..) {
            if client
                .try_publish(item.topic(&key), QoS::AtLeastOnce, false, item.payload())
                .is_err()
            {
                run.stats.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }
}

struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run_ws(device: SimDevice, run: DeviceRun, mut walk: Walk) {
    let mut backoff = Backoff::new(Duration::from_secs(1), Duration::from_secs(60));
    let mut seq = 0u64;
    loop {
        match ws_session(&device, &run, &mut walk, &mut seq).await {
            Ok(()) => backoff.reset(),
            Err(error) => {
                tracing::debug!(error = %error, "Simulated WebSocket device disconnected.")
            }
        }
        tokio::time::sleep(backoff.next_delay()).await;
    }
}

async fn ws_session(
    device: &SimDevice,
    run: &DeviceRun,
    walk: &mut Walk,
    seq: &mut u64,
) -> Result<(), tokio_tungstenite::tungstenite::Error> {
    let mut request = device.enrolled.ws_url.as_str().into_client_request()?;
    let bearer = format!("Bearer {}", device.enrolled.device_token);
    if let Ok(value) = bearer.parse() {
        request.headers_mut().insert("Authorization", value);
    }
    let connector = if device.enrolled.ws_url.starts_with("wss://") {
        crate::tls::ws_client_config(Some(&device.certificate.ca_certificate))
            .ok()
            .map(tokio_tungstenite::Connector::Rustls)
    } else {
        None
    };
    let (stream, _) =
        tokio_tungstenite::connect_async_tls_with_config(request, None, false, connector).await?;
    let (mut sink, mut frames) = stream.split();
    run.stats.connected.fetch_add(1, Ordering::Relaxed);
    let _connected = ConnectedGuard(Arc::clone(&run.stats));
    let mut pending = vec![QueuedItem::new(
        ItemKind::Inventory,
        walk.inventory(&device.hostname),
    )];
    let mut ticker = tokio::time::interval(run.interval);
    loop {
        for item in pending.drain(..) {
            *seq += 1;
            sink.send(Message::Text(item.ws_frame(*seq).into())).await?;
            run.stats.sent.fetch_add(1, Ordering::Relaxed);
        }
        tokio::select! {
            _ = ticker.tick() => {
                let t = walk.telemetry(&mut rand::rng(), run.interval.as_secs(), run.breach_pct);
                pending.push(QueuedItem::new(ItemKind::Telemetry, t));
                pending.push(QueuedItem::new(ItemKind::Heartbeat, walk.heartbeat()));
            }
            frame = frames.next() => match frame {
                None | Some(Ok(Message::Close(_))) => return Ok(()),
                Some(Err(e)) => return Err(e),
                Some(Ok(Message::Text(text))) => {
                    let value: serde_json::Value = serde_json::from_str(text.as_str()).unwrap_or_default();
                    match value["type"].as_str() {
                        Some("ack") => { run.stats.acked.fetch_add(1, Ordering::Relaxed); }
                        Some("command") => {
                            if let Some(id) = command_id_in(text.as_bytes()) {
                                pending.push(refusal(&id));
                            }
                        }
                        _ => {}
                    }
                }
                Some(Ok(_)) => {}
            }
        }
    }
}

struct ConnectedGuard(Arc<Stats>);

impl Drop for ConnectedGuard {
    fn drop(&mut self) {
        self.0.connected.fetch_sub(1, Ordering::Relaxed);
    }
}
