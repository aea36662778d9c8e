//! The MQTT/TLS session: client certificate + device token, QoS 1, commands subscribed.
//!
//! rumqttc's event loop runs in its own task (its `poll` is not meant to be raced in a
//! `select!`), forwarding events here. PUBACKs are matched to queue items through the packet
//! ids rumqttc reports in `Outgoing::Publish(pkid)`, which arrive in the order of our
//! `publish` calls. Each session uses a fresh client with a clean session, so rumqttc never
//! re-sends on its own: re-delivery is always from the queue head, in order.

use super::{ACK_TIMEOUT, Announcer, InFlight, TransportContext, TransportError};
use crate::config::AgentConfig;
use rumqttc::{
    AsyncClient, ConnectReturnCode, Event, EventLoop, MqttOptions, Outgoing, Packet, QoS,
    TlsConfiguration, Transport,
};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};

/// How long a connection attempt may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);

/// MQTT options for one device: id and username = device key, password = token, TLS.
pub fn mqtt_options(
    device_key: &str,
    device_token: &str,
    host: &str,
    port: u16,
    tls: Arc<rustls::ClientConfig>,
) -> MqttOptions {
    let mut options = MqttOptions::new(device_key, host, port);
    options
        .set_keep_alive(Duration::from_secs(30))
        .set_clean_session(true)
        .set_credentials(device_key, device_token)
        .set_max_packet_size(1024 * 1024, 128 * 1024)
        .set_transport(Transport::tls_with_config(TlsConfiguration::Rustls(tls)));
    options
}

/// The commands topic of a device.
pub fn commands_topic(device_key: &str) -> String {
    format!("/tenants/{device_key}/commands")
}

/// Forwards the event loop's events until it fails (then forwards that error and stops).
pub fn spawn_event_pump(
    mut eventloop: EventLoop,
) -> (
    mpsc::Receiver<Result<Event, rumqttc::ConnectionError>>,
    tokio::task::JoinHandle<()>,
) {
    let (tx, rx) = mpsc::channel(256);
    let handle = tokio::spawn(async move {
        loop {
            let event = eventloop.poll().await;
            let failed = event.is_err();
            if tx.send(event).await.is_err() || failed {
                break;
            }
        }
    });
    (rx, handle)
}

/// Waits for the CONNACK; anything but success ends the session.
pub async fn await_connack(
    events: &mut mpsc::Receiver<Result<Event, rumqttc::ConnectionError>>,
) -> Result<(), TransportError> {
    let wait = async {
        loop {
            match events.recv().await {
                None => return Err(TransportError::Closed),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Event::Incoming(Packet::ConnAck(ack)))) => {
                    return match ack.code {
                        ConnectReturnCode::Success => Ok(()),
                        code => Err(TransportError::Refused(format!("{code:?}"))),
                    };
                }
                Some(Ok(_)) => {}
            }
        }
    };
    tokio::time::timeout(CONNECT_TIMEOUT, wait)
        .await
        .map_err(|_| TransportError::Refused("no CONNACK in time".into()))?
}

fn tls_for(ctx: &TransportContext) -> Result<Arc<rustls::ClientConfig>, TransportError> {
    let files = &ctx.config.files;
    let ca = ctx.read_file(&files.ca_certificate)?;
    let cert = ctx.read_file(&files.certificate)?;
    let key = ctx.read_file(&files.key)?;
    Ok(crate::tls::mqtt_client_config(&ca, &cert, &key)?)
}

/// Aborts the event pump when the session ends, whichever way.
struct PumpGuard(tokio::task::JoinHandle<()>);

impl Drop for PumpGuard {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// One connection: returns `Ok` on shutdown, `Err` when the connection is lost.
pub(super) async fn session(
    ctx: &TransportContext,
    shutdown: &mut watch::Receiver<bool>,
    announcer: &mut Announcer,
    connected: &mut bool,
) -> Result<(), TransportError> {
    let config: &AgentConfig = &ctx.config;
    let key = config.device_key.as_str();
    let options = mqtt_options(
        key,
        config.device_token.expose(),
        &config.mqtt.host,
        config.mqtt.port,
        tls_for(ctx)?,
    );
    let (client, eventloop) = AsyncClient::new(options, 64);
    let (mut events, pump) = spawn_event_pump(eventloop);
    let _guard = PumpGuard(pump);
    await_connack(&mut events).await?;
    let topic = commands_topic(key);
    client.subscribe(topic.as_str(), QoS::AtLeastOnce).await?;
    *connected = true;
    announcer.connected();

    let mut next = ctx.queue.head().await?;
    let mut inflight = InFlight::default();
    let mut awaiting_pkid: VecDeque<u64> = VecDeque::new();
    let mut pkid_to_seq: HashMap<u16, u64> = HashMap::new();
    let mut last_progress = Instant::now();
    loop {
        if inflight.has_room() {
            let room = super::WINDOW - inflight.len();
            for (seq, item) in ctx.queue.read_from(next, room).await? {
                client
                    .publish(item.topic(key), QoS::AtLeastOnce, false, item.payload())
                    .await?;
                if inflight.is_empty() {
                    last_progress = Instant::now();
                }
                inflight.push(seq);
                awaiting_pkid.push_back(seq);
                next = seq + 1;
            }
        }
        if !inflight.is_empty() && last_progress.elapsed() > ACK_TIMEOUT {
            return Err(TransportError::AckTimeout(ACK_TIMEOUT));
        }
        tokio::select! {
            event = events.recv() => match event {
                None => return Err(TransportError::Closed),
                Some(Err(e)) => return Err(e.into()),
                Some(Ok(Event::Outgoing(Outgoing::Publish(pkid)))) => {
                    if let Some(seq) = awaiting_pkid.pop_front() {
                        pkid_to_seq.insert(pkid, seq);
                    }
                }
                Some(Ok(Event::Incoming(Packet::PubAck(ack)))) => {
                    if let Some(seq) = pkid_to_seq.remove(&ack.pkid) {
                        last_progress = Instant::now();
                        if let Some(through) = inflight.ack(seq) {
                            ctx.queue.ack_through(through).await?;
                        }
                    }
                }
                Some(Ok(Event::Incoming(Packet::Publish(publish)))) => {
                    if publish.topic == topic && ctx.commands.send(publish.payload.to_vec()).await.is_err() {
                        return Ok(());
                    }
                }
                Some(Ok(_)) => {}
            },
            _ = ctx.queue.appended(), if inflight.has_room() => {}
            _ = tokio::time::sleep(ACK_TIMEOUT), if !inflight.is_empty() => {}
            _ = shutdown.changed() => {
                let _ = client.disconnect().await;
                return Ok(());
            }
        }
    }
}
