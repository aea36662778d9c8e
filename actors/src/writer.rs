//! The writer: a task that owns bulk writes. Points and log lines arrive on a bounded channel,
//! are batched by size (`batch_rows`) and time (`flush_interval`), and are written with binary
//! `COPY` (points) or one multi-row insert (lines). Point batches are pipelined: up to
//! `copy_parallelism` COPYs run at once on their own connections while the next batch fills, so
//! encoding, the network and PostgreSQL overlap instead of taking turns. A write that fails for
//! a transient reason (connection lost, pool exhausted) keeps its batch and is retried with
//! backoff, each failure logged and counted; one that fails on its data (SQLSTATE classes 22/23)
//! is split until the refused rows are found (`storage::dead_letters::isolate`): those become
//! dead letters with PostgreSQL's reason, counted on `centinela_dead_letters`, and the rest is
//! stored, so one poison row never holds the others. When every COPY slot is busy, points keep
//! accumulating until a batch is full (the flush interval does not make the writer wait); only
//! then does new input wait (the bounded channel slows the transports). Each batch is written
//! in the order of the metrics index. Dead letters of refused messages queue here too, written
//! with the log lines.
//! [`WriterHandle::shutdown`] drains the channel and flushes everything accepted before it
//! returns. Devices' last-seen times are kept in memory and written every
//! [`SEEN_FLUSH_INTERVAL`] in one statement (liveness itself is tracked in memory by the
//! presence sweeper; the column is for people and restarts, and rewriting a row per device
//! every batch cost PostgreSQL more than the points did).

use crate::telemetry::Telemetry;
use centinela_model::Scope;
use centinela_storage::dead_letters::{self, DeadLetter, isolate};
use centinela_storage::metrics::{MetricRow, copy_rows};
use centinela_storage::{StorageError, Store, devices, logs::LogLine};
use chrono::{DateTime, Utc};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, sleep_until};
use uuid::Uuid;

/// Inputs the writer takes from its channel at once.
const INPUT_BATCH: usize = 256;

/// How often devices' last-seen times are written.
pub const SEEN_FLUSH_INTERVAL: Duration = Duration::from_secs(5);

/// Writer settings.
#[derive(Debug, Clone)]
pub struct WriterConfig {
    /// Flush when this many points are buffered.
    pub batch_rows: usize,
    /// Flush at least this often.
    pub flush_interval: Duration,
    /// Capacity of the input channel, in messages.
    pub queue_capacity: usize,
    /// Point batches written at once (each on its own connection).
    pub copy_parallelism: usize,
}

impl Default for WriterConfig {
    fn default() -> Self {
        WriterConfig {
            batch_rows: 5_000,
            flush_interval: Duration::from_millis(200),
            queue_capacity: 1_024,
            copy_parallelism: 2,
        }
    }
}

enum Input {
    /// A device's points; the device was heard from at `at`.
    Points {
        rows: Vec<MetricRow>,
        device: Uuid,
        at: DateTime<Utc>,
    },
    Line(LogLine),
    DeadLetter(DeadLetter),
    Seen(Uuid, DateTime<Utc>),
    Flush(oneshot::Sender<()>),
    Shutdown(oneshot::Sender<()>),
}

/// A cheap handle to the writer.
#[derive(Clone, Debug)]
pub struct WriterHandle {
    tx: mpsc::Sender<Input>,
    /// Counts what enters the queue: accepted (`points_received`) against committed
    /// (`points_stored`) is the shutdown's account of what is not stored yet.
    telemetry: Arc<Telemetry>,
}

/// The writer has stopped (only after shutdown).
#[derive(Debug, thiserror::Error)]
#[error("the writer has stopped")]
pub struct WriterStopped;

impl WriterHandle {
    /// Queues a device's points and records that it was heard from at `at`, waiting while the
    /// writer is saturated (backpressure).
    pub async fn points(
        &self,
        rows: Vec<MetricRow>,
        device: Uuid,
        at: DateTime<Utc>,
    ) -> Result<(), WriterStopped> {
        // Counted before the wait: points waiting for room are accepted and not stored, and
        // points refused by a stopped writer stay in the account as lost.
        self.telemetry.points_received.inc_by(rows.len() as u64);
        self.tx
            .send(Input::Points { rows, device, at })
            .await
            .map_err(|_| WriterStopped)
    }

    /// Queues a log line.
    pub async fn line(&self, line: LogLine) -> Result<(), WriterStopped> {
        self.telemetry.lines_received.inc();
        self.tx
            .send(Input::Line(line))
            .await
            .map_err(|_| WriterStopped)
    }

    /// Queues a dead letter (a message that was acknowledged but cannot be stored).
    pub async fn dead_letter(&self, letter: DeadLetter) -> Result<(), WriterStopped> {
        self.tx
            .send(Input::DeadLetter(letter))
            .await
            .map_err(|_| WriterStopped)
    }

    /// Records that a device was heard from.
    pub async fn seen(&self, device: Uuid, at: DateTime<Utc>) -> Result<(), WriterStopped> {
        self.tx
            .send(Input::Seen(device, at))
            .await
            .map_err(|_| WriterStopped)
    }

    /// Writes everything queued so far and returns when it is committed.
    pub async fn flush(&self) -> Result<(), WriterStopped> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Input::Flush(tx))
            .await
            .map_err(|_| WriterStopped)?;
        rx.await.map_err(|_| WriterStopped)
    }

    /// Stops accepting, writes everything accepted, and returns when done.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Input::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

struct Writer {
    store: Store,
    telemetry: Arc<Telemetry>,
    config: WriterConfig,
    points: Vec<MetricRow>,
    lines: Vec<LogLine>,
    dead: Vec<DeadLetter>,
    seen: HashMap<Uuid, DateTime<Utc>>,
    /// COPYs under way, each resolving to the rows it stored.
    copies: tokio::task::JoinSet<u64>,
    /// The flush interval passed while every COPY slot was busy: the buffered points go as
    /// soon as a slot frees.
    flush_due: bool,
}

/// Starts the writer task on the current runtime.
pub fn spawn(store: Store, telemetry: Arc<Telemetry>, config: WriterConfig) -> WriterHandle {
    let (tx, rx) = mpsc::channel(config.queue_capacity);
    let handle = WriterHandle {
        tx,
        telemetry: telemetry.clone(),
    };
    let writer = Writer {
        store,
        telemetry,
        config,
        points: Vec::new(),
        lines: Vec::new(),
        dead: Vec::new(),
        seen: HashMap::new(),
        copies: tokio::task::JoinSet::new(),
        flush_due: false,
    };
    tokio::spawn(writer.run(rx));
    handle
}

impl Writer {
    async fn run(mut self, mut rx: mpsc::Receiver<Input>) {
        // The timers live across iterations (re-arming a fresh `sleep` per input cost a
        // timer-wheel insert and removal per message), and inputs are taken in batches.
        let flush_timer = sleep_until(Instant::now() + self.config.flush_interval);
        let seen_timer = sleep_until(Instant::now() + SEEN_FLUSH_INTERVAL);
        tokio::pin!(flush_timer, seen_timer);
        let mut inputs = Vec::with_capacity(INPUT_BATCH);
        loop {
            tokio::select! {
                taken = rx.recv_many(&mut inputs, INPUT_BATCH) => {
                    if taken == 0 {
                        // Every handle is gone and the channel is empty.
                        self.flush_all().await;
                        return;
                    }
                    let mut stopping = Vec::new();
                    for input in inputs.drain(..) {
                        stopping.extend(self.accept(input).await);
                    }
                    if !stopping.is_empty() {
                        // Accept nothing new; what was sent before still gets written.
                        rx.close();
                        while let Some(input) = rx.recv().await {
                            stopping.extend(self.accept(input).await);
                        }
                        self.flush_all().await;
                        for done in stopping {
                            let _ = done.send(());
                        }
                        return;
                    }
                },
                Some(done) = self.copies.join_next(), if !self.copies.is_empty() => {
                    match done {
                        Ok(stored) => {
                            self.telemetry.points_stored.inc_by(stored);
                        }
                        Err(error) => tracing::error!(%error, "A COPY task failed."),
                    }
                    if self.flush_due {
                        // A slot is free now: this does not wait.
                        self.flush_points().await;
                    }
                }
                () = &mut flush_timer => {
                    // Time-based flushes start a COPY without waiting for it: only `flush`
                    // and shutdown wait for commits. With every slot busy the points stay
                    // buffered (still bounded by `batch_rows`) and go when a COPY ends:
                    // waiting here would stop the intake, and with it every transport and
                    // device's alerts, for as long as PostgreSQL takes.
                    if self.copies.len() < self.slots() {
                        self.flush_points().await;
                    } else {
                        self.flush_due = true;
                    }
                    self.flush_lines().await;
                    flush_timer.as_mut().reset(Instant::now() + self.config.flush_interval);
                }
                () = &mut seen_timer => {
                    self.flush_seen().await;
                    seen_timer.as_mut().reset(Instant::now() + SEEN_FLUSH_INTERVAL);
                }
            }
        }
    }

    /// Takes one input; a shutdown request is handed back for the run loop to answer once
    /// everything is written.
    async fn accept(&mut self, input: Input) -> Option<oneshot::Sender<()>> {
        match input {
            Input::Points { rows, device, at } => {
                self.note_seen(device, at);
                self.points.extend(rows);
                if self.points.len() >= self.config.batch_rows {
                    self.flush_points().await;
                }
            }
            Input::Line(line) => self.lines.push(line),
            Input::DeadLetter(letter) => self.dead.push(letter),
            Input::Seen(device, at) => self.note_seen(device, at),
            Input::Flush(done) => {
                self.flush_all().await;
                let _ = done.send(());
            }
            Input::Shutdown(done) => return Some(done),
        }
        self.telemetry
            .writer_queue
            .set((self.points.len() + self.lines.len() + self.dead.len()) as i64);
        None
    }

    fn note_seen(&mut self, device: Uuid, at: DateTime<Utc>) {
        let entry = self.seen.entry(device).or_insert(at);
        *entry = (*entry).max(at);
    }

    /// Writes everything buffered and waits until every COPY under way has committed.
    async fn flush_all(&mut self) {
        self.flush_points().await;
        while !self.copies.is_empty() {
            self.reap_one().await;
        }
        self.flush_lines().await;
        self.flush_seen().await;
        self.telemetry.writer_queue.set(0);
    }

    /// Waits for one COPY to commit and counts its rows.
    async fn reap_one(&mut self) {
        match self.copies.join_next().await {
            Some(Ok(stored)) => {
                self.telemetry.points_stored.inc_by(stored);
            }
            // The task retries until it succeeds; it only ends otherwise if it panicked.
            Some(Err(error)) => tracing::error!(%error, "A COPY task failed."),
            None => {}
        }
    }

    /// COPYs that may run at once.
    fn slots(&self) -> usize {
        self.config.copy_parallelism.max(1)
    }

    /// Hands the buffered points to a COPY of their own, waiting first for a free slot.
    async fn flush_points(&mut self) {
        self.flush_due = false;
        if self.points.is_empty() {
            return;
        }
        while self.copies.len() >= self.slots() {
            self.reap_one().await;
        }
        let rows = std::mem::take(&mut self.points);
        let store = self.store.clone();
        let telemetry = self.telemetry.clone();
        self.copies
            .spawn(async move { copy_isolating(&store, &telemetry, rows).await });
    }

    /// Writes the buffered log lines (a refused line becomes a dead letter) and dead letters.
    async fn flush_lines(&mut self) {
        // Lines handled here (stored, or kept as dead letters below): the shutdown's account.
        let mut kept = 0;
        if !self.lines.is_empty() {
            let lines = std::mem::take(&mut self.lines);
            kept = lines.len() as u64;
            let store = &self.store;
            let mut backoff = Backoff::new(&self.telemetry, "log lines");
            let outcome = isolate(
                &lines,
                |chunk| async move {
                    let mut tx = store.begin(Scope::All).await?;
                    let n = centinela_storage::logs::insert_many(&mut tx, chunk).await?;
                    tx.commit().await?;
                    Ok(n)
                },
                |error| backoff.pause(error),
            )
            .await;
            for (index, detail) in outcome.refused {
                let line = &lines[index];
                let payload = serde_json::json!({
                    "ts": line.ts.to_rfc3339(), "level": line.level, "source": line.source,
                    "message": line.message,
                });
                self.dead.push(refused_row(
                    &self.telemetry,
                    line.tenant_id,
                    line.device_id,
                    "log_line",
                    detail,
                    payload.to_string().into_bytes(),
                ));
            }
        }
        if !self.dead.is_empty() {
            let dead = std::mem::take(&mut self.dead);
            store_dead_letters(&self.store, &self.telemetry, &dead).await;
        }
        self.telemetry.lines_stored.inc_by(kept);
    }

    async fn flush_seen(&mut self) {
        if self.seen.is_empty() {
            return;
        }
        let seen = std::mem::take(&mut self.seen);
        let (ids, times): (Vec<Uuid>, Vec<DateTime<Utc>>) = seen.into_iter().unzip();
        let store = self.store.clone();
        retry(&self.telemetry, "last-seen times", || async {
            let mut tx = store.begin(Scope::All).await?;
            devices::touch_last_seen(&mut tx, &ids, &times).await?;
            tx.commit().await?;
            Ok(ids.len() as u64)
        })
        .await;
    }
}

/// COPYs a batch of points; rows PostgreSQL refuses become dead letters. Returns the rows
/// kept (stored, or kept as dead letters): what the shutdown counts as no longer at risk.
async fn copy_isolating(store: &Store, telemetry: &Telemetry, mut rows: Vec<MetricRow>) -> u64 {
    in_index_order(&mut rows);
    let mut backoff = Backoff::new(telemetry, "metric points");
    let outcome = isolate(
        &rows,
        |chunk| copy_rows(store.pool(), chunk),
        |error| backoff.pause(error),
    )
    .await;
    if !outcome.refused.is_empty() {
        let letters: Vec<DeadLetter> = outcome
            .refused
            .into_iter()
            .map(|(index, detail)| {
                let row = &rows[index];
                let payload = serde_json::json!({
                    "ts": row.ts.to_rfc3339(), "name": row.name, "value": row.value,
                });
                refused_row(
                    telemetry,
                    row.tenant_id,
                    row.device_id,
                    "metric_point",
                    detail,
                    payload.to_string().into_bytes(),
                )
            })
            .collect();
        store_dead_letters(store, telemetry, &letters).await;
    }
    rows.len() as u64
}

/// Puts a batch in the order of the metrics index, `(device_id, name, ts DESC)`. Rows arrive
/// interleaved across devices, so in arrival order each insert descends the index to a page
/// far from the previous one; in index order consecutive inserts share their path and leaf
/// page, which costs PostgreSQL markedly less CPU per row (BENCHMARKS.md). Names compare by
/// bytes: the index's order under the C collation, and under any other still one device's
/// series together, which is where the saving comes from. The table itself is unordered, so
/// nothing else depends on it.
fn in_index_order(rows: &mut [MetricRow]) {
    rows.sort_unstable_by(|a, b| {
        a.device_id
            .cmp(&b.device_id)
            .then_with(|| a.name.cmp(&b.name))
            .then_with(|| b.ts.cmp(&a.ts))
    });
}

/// A row PostgreSQL refused, as a dead letter (counted).
fn refused_row(
    telemetry: &Telemetry,
    tenant_id: Uuid,
    device_id: Uuid,
    kind: &str,
    detail: String,
    payload: Vec<u8>,
) -> DeadLetter {
    tracing::warn!(%device_id, kind, error = %detail, "PostgreSQL refused a row; kept as a dead letter.");
    telemetry.dead_letter(kind, "data_error");
    DeadLetter {
        tenant_id,
        device_id,
        kind: kind.to_owned(),
        reason: "data_error".to_owned(),
        detail,
        payload,
    }
}

/// Stores dead letters (retrying transient errors like any write); they were counted where
/// they were made.
async fn store_dead_letters(store: &Store, telemetry: &Telemetry, letters: &[DeadLetter]) {
    let mut backoff = Backoff::new(telemetry, "dead letters");
    let outcome = isolate(
        letters,
        |chunk| async move {
            let mut tx = store.begin(Scope::All).await?;
            let n = dead_letters::insert_many(&mut tx, chunk).await?;
            tx.commit().await?;
            Ok(n)
        },
        |error| backoff.pause(error),
    )
    .await;
    // Cannot happen by construction (bytea payload, text freed of NUL); said loudly if it does.
    for (index, error) in outcome.refused {
        tracing::error!(device_id = %letters[index].device_id, %error, "A dead letter could not be stored.");
    }
}

/// Exponential backoff between attempts of a write that failed for a transient reason, capped
/// at 5 s; each failure is logged and counted. Accepted data is never dropped: while the
/// database is down, input waits in the bounded channel.
struct Backoff<'a> {
    telemetry: &'a Telemetry,
    what: &'static str,
    next: Duration,
}

impl<'a> Backoff<'a> {
    fn new(telemetry: &'a Telemetry, what: &'static str) -> Backoff<'a> {
        Backoff {
            telemetry,
            what,
            next: Duration::from_millis(50),
        }
    }

    /// Counts and logs a failure; returns the pause to take before the next attempt.
    fn pause(&mut self, error: &StorageError) -> tokio::time::Sleep {
        self.telemetry.write_failures.inc();
        let what = self.what;
        tracing::error!(%error, what, retry_in_ms = self.next.as_millis() as u64, "Write failed; retrying.");
        let pause = tokio::time::sleep(self.next);
        self.next = (self.next * 2).min(Duration::from_secs(5));
        pause
    }
}

/// Retries a write until it succeeds or fails on its data (then it is logged and given up:
/// writing it again would fail again).
async fn retry<F, Fut>(telemetry: &Telemetry, what: &'static str, mut write: F) -> u64
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = centinela_storage::Result<u64>>,
{
    let mut backoff = Backoff::new(telemetry, what);
    loop {
        match write().await {
            Ok(n) => return n,
            Err(error) if error.is_data_error() => {
                telemetry.write_failures.inc();
                tracing::error!(%error, what, "Write refused on its data; not retried.");
                return 0;
            }
            Err(error) => backoff.pause(&error).await,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(device: u128, name: &str, second: i64) -> MetricRow {
        MetricRow {
            ts: DateTime::from_timestamp(1_790_000_000 + second, 0).unwrap_or_default(),
            tenant_id: Uuid::nil(),
            device_id: Uuid::from_u128(device),
            name: name.to_owned(),
            value: second as f64,
        }
    }

    #[test]
    fn a_batch_is_written_in_the_order_of_the_metrics_index() {
        // Arrival order: devices interleaved, as the transports deliver them.
        let mut rows = vec![
            row(2, "cpu", 1),
            row(1, "mem", 1),
            row(1, "cpu", 1),
            row(2, "cpu", 2),
            row(1, "cpu", 2),
        ];
        in_index_order(&mut rows);
        let order: Vec<(u128, &str, f64)> = rows
            .iter()
            .map(|r| (r.device_id.as_u128(), r.name.as_str(), r.value))
            .collect();
        // (device_id, name, ts DESC): the newest point of a series first.
        assert_eq!(
            order,
            [
                (1, "cpu", 2.0),
                (1, "cpu", 1.0),
                (1, "mem", 1.0),
                (2, "cpu", 2.0),
                (2, "cpu", 1.0),
            ]
        );
    }
}
