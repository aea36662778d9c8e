//! The fleet simulator (`simulate`): N virtual devices, each enrolled for real and connected
//! over its own MQTT/TLS (or WebSocket) connection, publishing plausible telemetry.
//!
//! It exists to load-test and demo the engine with the same wire path real agents use. Built
//! for N = 1000 in one process: enrollment is bounded (16 at a time), connections are spread
//! over the first interval so the broker never sees a thundering herd, and progress goes to
//! stdout as one line per interval.

mod device;
mod state;
mod walk;

pub use device::Stats;
pub use state::{ENROLL_CONCURRENCY, SimDevice, SimState, StateError};
pub use walk::Walk;

use crate::enroll::EnrollClient;
use crate::transport::TransportKind;
use device::DeviceRun;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::sync::watch;

/// Options of `simulate`.
#[derive(Clone, Debug)]
pub struct SimulateOptions {
    pub server: String,
    pub site_key: String,
    pub devices: usize,
    pub interval: Duration,
    pub state_file: PathBuf,
    pub transport: TransportKind,
    /// Probability (percent) that a sample carries a CPU breach (95–100 %).
    pub breach_pct: f64,
}

/// Enrolls (or reuses) the devices, then runs them until `shutdown` turns true.
pub async fn simulate(
    options: SimulateOptions,
    mut shutdown: watch::Receiver<bool>,
) -> Result<(), StateError> {
    crate::tls::install_crypto_provider();
    let client = EnrollClient::new(&options.server)?;
    let mut state = SimState::load(&options.state_file, client.server())?;
    state
        .enroll_missing(
            &options.state_file,
            &client,
            &options.site_key,
            options.devices,
        )
        .await?;
    let n = options.devices;
    let stats = Arc::new(Stats::default());
    let mut tasks = tokio::task::JoinSet::new();
    for (i, device) in state.devices.iter().take(n).cloned().enumerate() {
        let spread = options.interval.mul_f64(i as f64 / n.max(1) as f64);
        let run = DeviceRun {
            interval: options.interval,
            start_delay: spread,
            breach_pct: options.breach_pct,
            transport: options.transport,
            stats: Arc::clone(&stats),
        };
        tasks.spawn(device::run_device(device, run));
    }
    println!(
        "simulating {n} devices over {} every {} s",
        options.transport.as_str(),
        options.interval.as_secs()
    );
    let mut ticker = tokio::time::interval(options.interval);
    ticker.tick().await;
    let mut last_sent = 0;
    loop {
        tokio::select! {
            _ = ticker.tick() => {
                let sent = stats.sent.load(Ordering::Relaxed);
                println!(
                    "connected {}/{n}, messages sent in last interval: {}, acked total: {}, dropped total: {}",
                    stats.connected.load(Ordering::Relaxed),
                    sent - last_sent,
                    stats.acked.load(Ordering::Relaxed),
                    stats.dropped.load(Ordering::Relaxed),
                );
                last_sent = sent;
            }
            changed = shutdown.changed() => {
                if changed.is_err() || *shutdown.borrow() {
                    break;
                }
            }
        }
    }
    tasks.shutdown().await;
    Ok(())
}
