//! Many devices, each connected as an agent (MQTT 3.1.1 over TLS with its own enrolled
//! certificate, or `/ws/agent` with its token), driven at a total rate or flat out.
//!
//! Acknowledgements are tracked per message: a QoS 1 PUBACK names only a packet id, so the
//! event loop pairs each outgoing publish (emitted in request order) with the `ts` the sender
//! queued, and a PUBACK moves that `ts` to the device's acknowledged list. On `/ws/agent` the
//! message `id` is the `ts` itself. The harness then looks every acknowledged (device, ts) up
//! in the database.

use crate::load::api::DeviceCreds;
use crate::load::pacing::Pacer;
use crate::load::payload::Generator;
use anyhow::{Context, Result, bail};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use rumqttc::{
    AsyncClient, Event, MqttOptions, Outgoing, Packet, QoS, TlsConfiguration, Transport,
};
use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

/// How devices reach the engine.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Wire {
    /// MQTT 3.1.1 over TLS, client certificate, QoS 1.
    Mqtt,
    /// `/ws/agent` WebSocket with the device token, acknowledged by message id.
    Ws,
}

/// Running totals of a fleet (read by the progress line).
#[derive(Debug, Default)]
pub struct Counters {
    pub sent: AtomicU64,
    pub acked: AtomicU64,
    pub breaches: AtomicU64,
    pub errors: AtomicU64,
    /// Outgoing publishes with no queued `ts` (only after a reconnect).
    pub unmatched: AtomicU64,
}

impl Counters {
    pub fn snapshot(&self) -> (u64, u64, u64) {
        (
            self.sent.load(Ordering::Relaxed),
            self.acked.load(Ordering::Relaxed),
            self.breaches.load(Ordering::Relaxed),
        )
    }
}

enum Sink {
    Mqtt {
        client: AsyncClient,
        topic: String,
        pending: Arc<Mutex<VecDeque<i64>>>,
    },
    Ws {
        tx: mpsc::Sender<Message>,
    },
}

struct Member {
    id: Uuid,
    sink: Sink,
    acked: Arc<Mutex<Vec<i64>>>,
    closing: Arc<AtomicBool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

/// Where the fleet connects.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub http: SocketAddr,
    pub mqtt_port: u16,
    pub wire: Wire,
}

/// One load phase's instructions.
#[derive(Debug, Clone)]
pub struct Drive {
    /// Total messages per second over the fleet; `None` = flat out.
    pub rate: Option<f64>,
    pub duration: Duration,
    pub names: Vec<String>,
    pub breach: f64,
    /// Seed of the value generators.
    pub seed: u64,
    /// Closed loop: keep at most this many points sent but not yet committed.
    pub credit: Option<Credit>,
}

/// The engine's durable progress, for a closed-loop "flat out": senders wait while more than
/// `window` points are sent and not yet committed, so the offered load follows what the engine
/// really stores instead of what the broker acknowledges (rumqttd acknowledges on receipt).
#[derive(Debug, Clone)]
pub struct Credit {
    /// Points committed since the phase began (updated by the phase's monitor).
    pub durable: watch::Receiver<u64>,
    pub window: u64,
}

impl Credit {
    /// Waits until `sent_msgs` messages fit in the window, or `end`; false at `end`.
    async fn wait(&mut self, sent_msgs: u64, points_per_msg: u64, end: Instant) -> bool {
        loop {
            if sent_msgs * points_per_msg <= *self.durable.borrow() + self.window {
                return true;
            }
            let left = end.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return false;
            }
            let wait = left.min(Duration::from_millis(100));
            let _ = tokio::time::timeout(wait, self.durable.changed()).await;
        }
    }
}

/// What a phase sent and got acknowledged.
#[derive(Debug, Default)]
pub struct Sent {
    pub sent: u64,
    pub acked: u64,
    pub breaches: u64,
    /// Seconds from the first publish to the end of sending.
    pub send_secs: f64,
    /// Acknowledged messages: (device, ts µs).
    pub acked_messages: Vec<(Uuid, Vec<i64>)>,
}

/// Connected devices.
pub struct Fleet {
    members: Vec<Arc<Member>>,
    pub counters: Arc<Counters>,
}

impl std::fmt::Debug for Fleet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Fleet")
            .field("devices", &self.members.len())
            .finish()
    }
}

/// Microseconds since the Unix epoch, now.
pub fn now_micros() -> i64 {
    chrono::Utc::now().timestamp_micros()
}

impl Fleet {
    /// Connects every device (`concurrency` handshakes at a time) and waits for all.
    pub async fn connect(
        creds: &[DeviceCreds],
        target: Target,
        concurrency: usize,
    ) -> Result<Fleet> {
        let counters = Arc::new(Counters::default());
        let members: Vec<Result<Member>> = futures_util::stream::iter(creds.iter().cloned())
            .map(|c| {
                let counters = counters.clone();
                async move {
                    match target.wire {
                        Wire::Mqtt => connect_mqtt(c, target.mqtt_port, counters).await,
                        Wire::Ws => connect_ws(c, target.http, counters).await,
                    }
                }
            })
            .buffer_unordered(concurrency.max(1))
            .collect()
            .await;
        let members = members
            .into_iter()
            .map(|m| m.map(Arc::new))
            .collect::<Result<Vec<_>>>()?;
        Ok(Fleet { members, counters })
    }

    pub fn len(&self) -> usize {
        self.members.len()
    }

    pub fn is_empty(&self) -> bool {
        self.members.is_empty()
    }

    pub fn device_ids(&self) -> Vec<Uuid> {
        self.members.iter().map(|m| m.id).collect()
    }

    /// Runs one phase: every device sends its share until `duration` is over; then waits up to
    /// `ack_grace` for the acknowledgements still in flight.
    pub async fn drive(&self, drive: &Drive, ack_grace: Duration) -> Result<Sent> {
        let (sent0, acked0, breaches0) = self.counters.snapshot();
        let n = self.members.len().max(1);
        let start = Instant::now();
        let end = start + drive.duration;
        let per_device = drive.rate.map(|r| r / n as f64);
        let mut senders = Vec::with_capacity(n);
        for (i, member) in self.members.iter().enumerate() {
            let pacer = per_device.map(|r| Pacer::new(r, i as f64 / n as f64));
            let generator = Generator::new(
                drive.names.clone(),
                drive.breach,
                drive.seed ^ (i as u64 + 1),
            );
            let sender = Sender {
                member: member.clone(),
                counters: self.counters.clone(),
                credit: drive.credit.clone(),
                sent0,
                points_per_msg: drive.names.len() as u64,
            };
            senders.push(tokio::spawn(sender.run(generator, pacer, start, end)));
        }
        for s in senders {
            s.await.context("sender task")?;
        }
        let send_secs = start.elapsed().as_secs_f64();
        let grace_end = Instant::now() + ack_grace;
        loop {
            let (sent, acked, _) = self.counters.snapshot();
            if acked - acked0 >= sent - sent0 || Instant::now() >= grace_end {
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let (sent, acked, breaches) = self.counters.snapshot();
        let acked_messages = self
            .members
            .iter()
            .map(|m| (m.id, std::mem::take(&mut *m.acked.lock().expect("acked"))))
            .collect();
        Ok(Sent {
            sent: sent - sent0,
            acked: acked - acked0,
            breaches: breaches - breaches0,
            send_secs,
            acked_messages,
        })
    }

    /// Disconnects every device.
    pub async fn shutdown(self) {
        for m in &self.members {
            m.closing.store(true, Ordering::Relaxed);
            match &m.sink {
                Sink::Mqtt { client, .. } => {
                    let _ = client.try_disconnect();
                }
                Sink::Ws { tx } => {
                    let _ = tx.try_send(Message::Close(None));
                }
            }
        }
        for m in &self.members {
            let task = m.task.lock().expect("task").take();
            if let Some(task) = task
                && tokio::time::timeout(Duration::from_secs(2), task)
                    .await
                    .is_err()
            {
                // Abandoned: the process is about to move on or end.
            }
        }
    }
}

/// One device's sending half for one phase.
struct Sender {
    member: Arc<Member>,
    counters: Arc<Counters>,
    credit: Option<Credit>,
    /// The fleet's `sent` counter when the phase began.
    sent0: u64,
    points_per_msg: u64,
}

impl Sender {
    async fn run(
        mut self,
        mut generator: Generator,
        mut pacer: Option<Pacer>,
        start: Instant,
        end: Instant,
    ) {
        let mut buf = Vec::with_capacity(512);
        let mut last_ts = 0i64;
        let tick = pacer.as_ref().map(Pacer::tick);
        loop {
            let now = Instant::now();
            if now >= end {
                return;
            }
            let due = match pacer.as_mut() {
                Some(p) => p.take(now - start),
                None => 16,
            };
            for _ in 0..due {
                if !self.one(&mut generator, &mut buf, &mut last_ts, end).await {
                    return;
                }
            }
            if let Some(tick) = tick {
                tokio::time::sleep(tick).await;
            }
        }
    }

    /// Sends one message (waiting for credit first); false when the phase is over.
    async fn one(
        &mut self,
        generator: &mut Generator,
        buf: &mut Vec<u8>,
        last_ts: &mut i64,
        end: Instant,
    ) -> bool {
        if let Some(credit) = self.credit.as_mut() {
            let sent = self.counters.sent.load(Ordering::Relaxed) - self.sent0;
            if !credit.wait(sent + 1, self.points_per_msg, end).await {
                return false;
            }
        }
        if Instant::now() >= end {
            return false;
        }
        let ts = now_micros().max(*last_ts + 1);
        *last_ts = ts;
        let ws_id = matches!(self.member.sink, Sink::Ws { .. }).then_some(ts);
        let breaches = generator.write(buf, ts, ws_id);
        let limit = end.saturating_duration_since(Instant::now()) + Duration::from_secs(1);
        if !publish(&self.member, ts, buf, limit).await {
            return false;
        }
        self.counters.sent.fetch_add(1, Ordering::Relaxed);
        self.counters
            .breaches
            .fetch_add(u64::from(breaches), Ordering::Relaxed);
        true
    }
}

/// Queues one message; false when the connection would not take it in time.
async fn publish(member: &Member, ts: i64, body: &[u8], limit: Duration) -> bool {
    match &member.sink {
        Sink::Mqtt {
            client,
            topic,
            pending,
        } => {
            pending.lock().expect("pending").push_back(ts);
            let send = client.publish_bytes(
                topic.as_str(),
                QoS::AtLeastOnce,
                false,
                Bytes::copy_from_slice(body),
            );
            match tokio::time::timeout(limit, send).await {
                Ok(Ok(())) => true,
                _ => {
                    // Never queued: the entry just pushed is the last one (one sender per device).
                    pending.lock().expect("pending").pop_back();
                    false
                }
            }
        }
        Sink::Ws { tx } => {
            let text = String::from_utf8_lossy(body).into_owned();
            matches!(
                tokio::time::timeout(limit, tx.send(Message::text(text))).await,
                Ok(Ok(()))
            )
        }
    }
}

async fn connect_mqtt(creds: DeviceCreds, port: u16, counters: Arc<Counters>) -> Result<Member> {
    let tls = creds
        .tls
        .as_ref()
        .context("MQTT/TLS needs the device's certificate")?;
    let mut options = MqttOptions::new(format!("bench-{}", creds.key), "localhost", port);
    options.set_credentials(creds.key.clone(), creds.token.clone());
    options.set_keep_alive(Duration::from_secs(30));
    options.set_inflight(100);
    options.set_transport(Transport::tls_with_config(TlsConfiguration::Simple {
        ca: tls.ca.clone().into_bytes(),
        alpn: None,
        client_auth: Some((tls.cert.clone().into_bytes(), tls.key.clone().into_bytes())),
    }));
    let (client, mut eventloop) = AsyncClient::new(options, 64);
    let pending = Arc::new(Mutex::new(VecDeque::new()));
    let acked = Arc::new(Mutex::new(Vec::new()));
    let closing = Arc::new(AtomicBool::new(false));
    let (up_tx, mut up_rx) = watch::channel(None::<bool>);
    let task = {
        let (pending, acked, closing) = (pending.clone(), acked.clone(), closing.clone());
        tokio::spawn(async move {
            let mut inflight: HashMap<u16, i64> = HashMap::new();
            loop {
                match eventloop.poll().await {
                    Ok(Event::Incoming(Packet::ConnAck(_))) => {
                        let _ = up_tx.send(Some(true));
                    }
                    Ok(Event::Outgoing(Outgoing::Publish(pkid))) => {
                        match pending.lock().expect("pending").pop_front() {
                            Some(ts) => {
                                inflight.insert(pkid, ts);
                            }
                            None => {
                                counters.unmatched.fetch_add(1, Ordering::Relaxed);
                            }
                        }
                    }
                    Ok(Event::Incoming(Packet::PubAck(ack))) => {
                        if let Some(ts) = inflight.remove(&ack.pkid) {
                            acked.lock().expect("acked").push(ts);
                            counters.acked.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Ok(Event::Outgoing(Outgoing::Disconnect)) => return,
                    Ok(_) => {}
                    Err(_) if closing.load(Ordering::Relaxed) => return,
                    Err(_) => {
                        let _ = up_tx.send(Some(false));
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                        // A clean session drops what was in flight: those were never acked.
                        inflight.clear();
                        pending.lock().expect("pending").clear();
                        tokio::time::sleep(Duration::from_millis(500)).await;
                    }
                }
            }
        })
    };
    let up = tokio::time::timeout(Duration::from_secs(60), up_rx.wait_for(|s| s.is_some()))
        .await
        .ok()
        .and_then(|r| r.ok().map(|s| *s));
    if up != Some(Some(true)) {
        closing.store(true, Ordering::Relaxed);
        task.abort();
        bail!("device {} could not connect over MQTT/TLS", creds.key);
    }
    Ok(Member {
        id: creds.id,
        sink: Sink::Mqtt {
            client,
            topic: format!("/tenants/{}/telemetry", creds.key),
            pending,
        },
        acked,
        closing,
        task: Mutex::new(Some(task)),
    })
}

async fn connect_ws(
    creds: DeviceCreds,
    http: SocketAddr,
    counters: Arc<Counters>,
) -> Result<Member> {
    let mut request = format!("ws://{http}/ws/agent").into_client_request()?;
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {}", creds.token).parse()?);
    let (ws, _) = tokio_tungstenite::connect_async(request)
        .await
        .with_context(|| format!("device {} could not open /ws/agent", creds.key))?;
    let (mut write, mut read) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Message>(64);
    let acked = Arc::new(Mutex::new(Vec::new()));
    let closing = Arc::new(AtomicBool::new(false));
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let close = matches!(msg, Message::Close(_));
            if write.send(msg).await.is_err() || close {
                break;
            }
        }
    });
    let task = {
        let acked = acked.clone();
        tokio::spawn(async move {
            while let Some(Ok(msg)) = read.next().await {
                let Message::Text(text) = msg else { continue };
                let Ok(frame) = serde_json::from_str::<serde_json::Value>(&text) else {
                    continue;
                };
                match (frame["type"].as_str(), frame["id"].as_i64()) {
                    (Some("ack"), Some(id)) => {
                        acked.lock().expect("acked").push(id);
                        counters.acked.fetch_add(1, Ordering::Relaxed);
                    }
                    (Some("error"), _) => {
                        counters.errors.fetch_add(1, Ordering::Relaxed);
                    }
                    _ => {}
                }
            }
        })
    };
    Ok(Member {
        id: creds.id,
        sink: Sink::Ws { tx },
        acked,
        closing,
        task: Mutex::new(Some(task)),
    })
}
