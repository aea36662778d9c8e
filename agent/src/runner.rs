//! The `run` subcommand: producers feed the queue, the transport drains it, commands run.
//!
//! Producers (telemetry, heartbeat, inventory, command results, agent events) never talk to
//! the network: they append to the durable queue, so a disconnected agent keeps measuring and
//! nothing is lost across a restart. The transport is the queue's only consumer.

use crate::collect::{self, Collector};
use crate::command::{self, ReplayStore, Verdict, Verifier};
use crate::config::{AgentConfig, ConfigError};
use crate::message::{ItemKind, QueuedItem};
use crate::queue::{DiskQueue, QueueError, SharedQueue};
use crate::transport::{self, TransportContext, TransportKind};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Semaphore, mpsc, watch};

/// Scripts running at the same time, at most.
const MAX_CONCURRENT_COMMANDS: usize = 4;
/// How often the certificate's expiry is checked.
const RENEWAL_CHECK: Duration = Duration::from_secs(24 * 3600);

/// Why `run` could not start.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error(transparent)]
    Config(#[from] ConfigError),
    #[error(transparent)]
    Queue(#[from] QueueError),
    #[error(transparent)]
    Collect(#[from] collect::CollectError),
    #[error(transparent)]
    Replay(#[from] command::ReplayError),
    #[error("a background task failed: {0}")]
    Join(String),
}

/// Options of `run`.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Overrides the telemetry and heartbeat intervals (seconds).
    pub interval: Option<u64>,
    pub transport: TransportKind,
    /// Overrides the queue directory.
    pub queue_dir: Option<PathBuf>,
    pub queue_max_bytes: u64,
    /// False with `--no-remote-exec`: every command is refused.
    pub remote_exec: bool,
}

type SharedCollector = Arc<Mutex<Collector>>;

/// Runs the agent until `shutdown` turns true.
pub async fn run(
    config_path: &Path,
    options: RunOptions,
    shutdown: watch::Receiver<bool>,
) -> Result<(), RunError> {
    crate::tls::install_crypto_provider();
    let mut config = AgentConfig::load(config_path)?;
    if let Some(seconds) = options.interval {
        config.intervals.telemetry_s = seconds.max(1);
        config.intervals.heartbeat_s = seconds.max(1);
    }
    if let Err(error) = crate::provision::renew_if_needed(config_path, &config).await {
        tracing::warn!(error = %error, "Certificate renewal check failed; using the current one.");
    }
    let queue_dir = options
        .queue_dir
        .clone()
        .unwrap_or_else(|| AgentConfig::resolve(config_path, &config.files.queue_dir));
    let max = options.queue_max_bytes;
    let queue = tokio::task::spawn_blocking(move || DiskQueue::open(&queue_dir, max))
        .await
        .map_err(|e| RunError::Join(e.to_string()))??;
    let queue = SharedQueue::new(queue);
    let collector: SharedCollector = Arc::new(Mutex::new(
        tokio::task::spawn_blocking(Collector::new)
            .await
            .map_err(|e| RunError::Join(e.to_string()))??,
    ));
    let verifier = verifier(config_path, &config, options.remote_exec)?;
    let (commands_tx, commands_rx) = mpsc::channel(32);
    push(
        &queue,
        QueuedItem::event(
            "info",
            &format!("Agent {} started.", env!("CARGO_PKG_VERSION")),
        ),
    )
    .await;

    let intervals = config.intervals;
    let mut tasks = tokio::task::JoinSet::new();
    tasks.spawn(produce(
        queue.clone(),
        collector.clone(),
        ItemKind::Inventory,
        intervals.inventory_s,
    ));
    tasks.spawn(produce(
        queue.clone(),
        collector.clone(),
        ItemKind::Telemetry,
        intervals.telemetry_s,
    ));
    tasks.spawn(produce(
        queue.clone(),
        collector,
        ItemKind::Heartbeat,
        intervals.heartbeat_s,
    ));
    tasks.spawn(run_commands(verifier, commands_rx, queue.clone()));
    tasks.spawn(renew_daily(config_path.to_owned(), config.clone()));
    let ctx = TransportContext {
        config,
        config_path: config_path.to_owned(),
        queue,
        commands: commands_tx,
    };
    tasks.spawn(transport::run(options.transport, ctx, shutdown.clone()));
    let mut shutdown = shutdown;
    while !*shutdown.borrow() {
        if shutdown.changed().await.is_err() {
            break;
        }
    }
    tracing::info!("Agent stopping.");
    tasks.shutdown().await;
    Ok(())
}

fn verifier(path: &Path, config: &AgentConfig, remote_exec: bool) -> Result<Verifier, RunError> {
    let store_path = AgentConfig::resolve(path, &config.files.replay_store);
    let store = match ReplayStore::open(&store_path) {
        Ok(store) => store,
        // A damaged replay store must not stop monitoring: commands are refused until it is
        // repaired (a fresh store could let an old command run twice).
        Err(error) => {
            tracing::error!(error = %error, path = %store_path.display(), "Remote commands disabled: the replay store is unreadable.");
            return Ok(Verifier::refusing(
                &config.device_key,
                ReplayStore::in_memory(),
            ));
        }
    };
    let key = &config.command_public_key;
    match Verifier::new(key, &config.device_key, remote_exec, store) {
        Ok(verifier) => Ok(verifier),
        Err(error) => {
            tracing::error!(error = %error, "Remote commands disabled: the command key is unusable.");
            let store = ReplayStore::open(&AgentConfig::resolve(path, &config.files.replay_store))?;
            Ok(Verifier::refusing(&config.device_key, store))
        }
    }
}

/// Largest item queued: under the engine's 64 KiB payload limit with room for the WebSocket
/// frame fields. A larger one would be refused by the broker on every attempt and block the
/// queue behind it forever, so it is dropped here, logged, and never sent.
const MAX_ITEM_BYTES: usize = 60 * 1024;

async fn push(queue: &SharedQueue, item: QueuedItem) {
    let size = serde_json::to_vec(&item.body).map_or(usize::MAX, |b| b.len());
    if size > MAX_ITEM_BYTES {
        tracing::error!(
            kind = item.kind.as_str(),
            size,
            "Item larger than the engine accepts; dropped."
        );
        return;
    }
    if let Err(error) = queue.push(item).await {
        tracing::error!(error = %error, "Could not store an item in the queue.");
    }
}

/// Produces one kind of item every `every_s` seconds (the first one at once).
async fn produce(queue: SharedQueue, collector: SharedCollector, kind: ItemKind, every_s: u64) {
    let mut ticker = tokio::time::interval(Duration::from_secs(every_s.max(1)));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let dropped = if kind == ItemKind::Heartbeat {
            queue.take_dropped_unreported().await.unwrap_or(0)
        } else {
            0
        };
        let collector = Arc::clone(&collector);
        let body = tokio::task::spawn_blocking(move || {
            let mut collector = collector.lock().ok()?;
            Some(match kind {
                ItemKind::Telemetry => collector.sample().to_body(),
                ItemKind::Heartbeat => collector.heartbeat(dropped),
                _ => collect::inventory(&mut collector),
            })
        })
        .await;
        match body {
            Ok(Some(body)) => push(&queue, QueuedItem::new(kind, body)).await,
            _ => tracing::error!(kind = kind.as_str(), "Collection failed."),
        }
    }
}

/// Verifies each command message, runs accepted ones, and queues every result.
async fn run_commands(mut verifier: Verifier, mut rx: mpsc::Receiver<Vec<u8>>, queue: SharedQueue) {
    let permits = Arc::new(Semaphore::new(MAX_CONCURRENT_COMMANDS));
    while let Some(raw) = rx.recv().await {
        match verifier.check(&raw, chrono::Utc::now()) {
            Verdict::Refuse {
                command_id: Some(id),
                reason,
            } => {
                tracing::warn!(command_id = %id, reason = %reason, "Command refused.");
                let body = command::refused_result(&id, &reason).to_body();
                push(&queue, QueuedItem::command_result(&id, body)).await;
            }
            Verdict::Refuse {
                command_id: None,
                reason,
            } => {
                tracing::warn!(reason = %reason, "Unreadable command refused.");
            }
            Verdict::Run(cmd) => {
                tracing::info!(command_id = %cmd.command_id, script = %cmd.script.name, "Running a command.");
                let queue = queue.clone();
                let permits = Arc::clone(&permits);
                tokio::spawn(async move {
                    let _permit = permits.acquire().await;
                    let result = command::execute(&cmd).await;
                    tracing::info!(command_id = %cmd.command_id, status = result.status, "Command finished.");
                    push(
                        &queue,
                        QueuedItem::command_result(&cmd.command_id, result.to_body()),
                    )
                    .await;
                });
            }
        }
    }
}

async fn renew_daily(config_path: PathBuf, config: AgentConfig) {
    let mut ticker = tokio::time::interval(RENEWAL_CHECK);
    ticker.tick().await; // the start-up check already ran
    loop {
        ticker.tick().await;
        if let Err(error) = crate::provision::renew_if_needed(&config_path, &config).await {
            tracing::warn!(error = %error, "Certificate renewal failed; will retry tomorrow.");
        }
    }
}
