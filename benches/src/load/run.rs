//! One load phase: drive the fleet, show progress every second on stderr, wait for the engine's
//! writer to drain, then measure what was stored (the database's count, not the engine's word),
//! when the last row was committed, the alert latencies and, when asked, which acknowledged
//! messages are missing.

use crate::load::fleet::{Counters, Credit, Drive, Fleet, Sent};
use crate::load::noc::{Latency, Noc};
use crate::load::prom;
use crate::load::{cpu, db};
use anyhow::Result;
use centinela_storage::Store;
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use uuid::Uuid;

/// What a phase needs besides the fleet.
#[derive(Debug, Clone)]
pub struct Context {
    pub store: Store,
    pub tenant: Uuid,
    pub http: SocketAddr,
    /// The engine's process, for its memory (a private engine only).
    pub pid: Option<u32>,
    pub names: Vec<String>,
    pub client: reqwest::Client,
}

/// A phase's measurements.
#[derive(Debug, Default)]
pub struct PhaseResult {
    pub sent: Sent,
    /// Rows of the tenant stored with a `ts` inside the phase (the database's count).
    pub stored_rows: i64,
    /// Seconds from the first publish until the last row was committed.
    pub commit_secs: f64,
    pub durable_points_per_s: f64,
    pub accepted_msgs_per_s: f64,
    pub latency: Latency,
    pub peak_rss_kib: Option<u64>,
    /// Acknowledged messages not in the database (when checked).
    pub lost_messages: Option<u64>,
    /// How much some engine counters grew during the phase (lost by the broker, full
    /// mailboxes, refused messages, write failures...).
    pub engine_counters: BTreeMap<String, f64>,
    /// CPU seconds used during the phase by the engine, PostgreSQL and this tool.
    pub cpu_secs: cpu::CpuSecs,
}

impl Context {
    /// `centinela_points_stored_total` of the engine.
    pub async fn points_stored(&self) -> Option<f64> {
        let text = self
            .client
            .get(format!("http://{}/metrics", self.http))
            .timeout(Duration::from_secs(5))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        prom::value(&text, "centinela_points_stored_total", false)
    }

    /// The counters of [`ENGINE_COUNTERS`] now (summed over labels).
    async fn engine_counters(&self) -> BTreeMap<String, f64> {
        let text = match self
            .client
            .get(format!("http://{}/metrics", self.http))
            .timeout(Duration::from_secs(5))
            .send()
            .await
        {
            Ok(res) => res.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        ENGINE_COUNTERS
            .iter()
            .filter_map(|n| prom::value(&text, n, true).map(|v| ((*n).to_owned(), v)))
            .collect()
    }
}

#[derive(Default)]
struct Watch {
    /// (seconds since start, points stored since start), at each change.
    timeline: Vec<(f64, f64)>,
    peak_rss_kib: u64,
}

/// Engine counters worth seeing beside each phase (their increase during it).
const ENGINE_COUNTERS: [&str; 10] = [
    "centinela_ingest_messages_total",
    "centinela_points_received_total",
    "centinela_mqtt_lost_total",
    // The broker's flow control: times it paused publishers, and for how long in all.
    "centinela_mqtt_pauses",
    "centinela_mqtt_paused_ms",
    "centinela_mailbox_full_total",
    "centinela_ingest_rejected_total",
    "centinela_write_failures_total",
    "centinela_alert_persist_failures_total",
    "centinela_noc_dropped_total",
];

/// What the monitor watches and where it reports.
struct Monitor {
    ctx: Context,
    label: String,
    counters: Arc<Counters>,
    sent0: u64,
    acked0: u64,
    noc_opened: Option<Arc<AtomicU64>>,
    watch: Arc<Mutex<Watch>>,
    durable: Option<watch::Sender<u64>>,
    start: Instant,
    stored0: f64,
}

impl Monitor {
    /// Samples memory every 100 ms, the stored counter every 200 ms (every 100 ms in a closed
    /// loop), and prints progress each second.
    async fn run(self) {
        let mut tick = tokio::time::interval(Duration::from_millis(100));
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        let (mut next_print, mut last_sent, mut last_stored) = (1.0f64, 0u64, 0.0f64);
        for n in 0u64.. {
            tick.tick().await;
            let rss = self.ctx.pid.and_then(crate::load::engine::rss_kib);
            if (n % 2 == 0 || self.durable.is_some())
                && let Some(now) = self.ctx.points_stored().await
            {
                let delta = (now - self.stored0).max(0.0);
                if let Some(tx) = &self.durable {
                    let _ = tx.send(delta as u64);
                }
                let mut w = self.watch.lock().expect("watch");
                if w.timeline.last().is_none_or(|l| l.1 != delta) {
                    w.timeline.push((self.start.elapsed().as_secs_f64(), delta));
                }
            }
            let elapsed = self.start.elapsed().as_secs_f64();
            let mut w = self.watch.lock().expect("watch");
            w.peak_rss_kib = w.peak_rss_kib.max(rss.unwrap_or(0));
            if elapsed < next_print {
                continue;
            }
            next_print = elapsed.floor() + 1.0;
            let (sent, acked, _) = self.counters.snapshot();
            let (sent, acked) = (sent - self.sent0, acked.saturating_sub(self.acked0));
            let stored = w.timeline.last().map_or(0.0, |l| l.1);
            let alerts = self
                .noc_opened
                .as_ref()
                .map_or(0, |o| o.load(Ordering::Relaxed));
            eprintln!(
                "[{} {elapsed:>4.0}s] sent {sent} ({}/s)  acked {acked}  stored {stored:.0} pts ({}/s)  alerts {alerts}  rss {} MiB",
                self.label,
                sent.saturating_sub(last_sent),
                (stored - last_stored).max(0.0) as u64,
                rss.unwrap_or(0) / 1024,
            );
            last_sent = sent;
            last_stored = stored;
        }
    }
}

/// Runs one phase. With `credit_window`, the drive is a closed loop on committed points.
pub async fn phase(
    ctx: &Context,
    label: &str,
    fleet: &Fleet,
    noc: Option<&Noc>,
    drive: &Drive,
    credit_window: Option<u64>,
    check_lost: bool,
) -> Result<PhaseResult> {
    let from: DateTime<Utc> = Utc::now();
    if let Some(noc) = noc {
        let _ = noc.take();
    }
    let counters0 = ctx.engine_counters().await;
    let cpu0 = cpu::snapshot(ctx.pid);
    let stored0 = ctx.points_stored().await.unwrap_or(0.0);
    let watch = Arc::new(Mutex::new(Watch::default()));
    let mut drive = drive.clone();
    let durable = credit_window.map(|window| {
        let (tx, rx) = watch::channel(0u64);
        drive.credit = Some(Credit {
            durable: rx,
            window,
        });
        tx
    });
    let start = Instant::now();
    let (sent0, acked0, _) = fleet.counters.snapshot();
    let monitor = tokio::spawn(
        Monitor {
            ctx: ctx.clone(),
            label: label.to_owned(),
            counters: fleet.counters.clone(),
            sent0,
            acked0,
            noc_opened: noc.map(|n| n.opened.clone()),
            watch: watch.clone(),
            durable,
            start,
            stored0,
        }
        .run(),
    );
    let sent = fleet.drive(&drive, Duration::from_secs(20)).await?;
    let expected = sent.acked as f64 * ctx.names.len() as f64;
    wait_drained(&watch, expected, Duration::from_secs(180)).await;
    monitor.abort();
    let to = Utc::now() + chrono::Duration::seconds(2);
    let (timeline, peak) = {
        let w = watch.lock().expect("watch");
        (w.timeline.clone(), w.peak_rss_kib)
    };
    let stored_rows = db::count_rows(&ctx.store, ctx.tenant, from, to).await?;
    // The last commit: the first sample at which the counter reached its final value.
    let commit_secs = timeline.last().map_or(sent.send_secs, |l| l.0).max(1e-3);
    let latency = noc.map(|n| Latency::of(&n.take())).unwrap_or_default();
    let lost_messages = if check_lost {
        let devices = fleet.device_ids();
        let stored = db::stored_messages(&ctx.store, &devices, &ctx.names[0], from, to).await?;
        Some(db::missing(&sent.acked_messages, &stored))
    } else {
        None
    };
    let counters1 = ctx.engine_counters().await;
    let cpu_secs = cpu::snapshot(ctx.pid).since(&cpu0);
    let engine_counters = ENGINE_COUNTERS
        .iter()
        .map(|name| {
            let d = counters1.get(*name).unwrap_or(&0.0) - counters0.get(*name).unwrap_or(&0.0);
            ((*name).to_owned(), d)
        })
        .collect();
    Ok(PhaseResult {
        stored_rows,
        commit_secs,
        durable_points_per_s: stored_rows as f64 / commit_secs,
        accepted_msgs_per_s: sent.acked as f64 / sent.send_secs.max(1e-3),
        latency,
        peak_rss_kib: ctx.pid.map(|_| peak),
        lost_messages,
        engine_counters,
        cpu_secs,
        sent,
    })
}

/// Waits until the engine stored what was acknowledged, or its counter stood still for 5 s
/// (something was lost), or `limit` passed.
async fn wait_drained(watch: &Mutex<Watch>, expected: f64, limit: Duration) {
    let began = Instant::now();
    let (mut last, mut still_since) = (f64::NAN, Instant::now());
    while began.elapsed() < limit {
        tokio::time::sleep(Duration::from_millis(250)).await;
        let now = watch
            .lock()
            .expect("watch")
            .timeline
            .last()
            .map_or(0.0, |l| l.1);
        if now != last {
            last = now;
            still_since = Instant::now();
        }
        let still = still_since.elapsed();
        if (now >= expected && still >= Duration::from_millis(600))
            || still >= Duration::from_secs(5)
        {
            return;
        }
    }
}
