//! Following a router's log.
//!
//! - `/log/listen` is opened first and drained at once by its own task into a bounded queue, so
//!   a flood of lines never stops the shared connection (the client stops reading a connection
//!   whose stream is not read); past the queue's bound lines are dropped and counted in a
//!   warning, never silently.
//! - The backlog is read with `/log/print`; both go through one cursor — the highest entry id
//!   taken in — which moves only after the lines were handed to the runtime, and is saved
//!   (throttled) so reconnects and engine restarts do not ingest a line twice.
//! - Times: a line's `time` is the router's local clock. [`RouterClock`] (refreshed on every
//!   poll from `/system/clock`) maps it onto the engine's UTC clock, correcting the router's time
//!   zone and skew, so a router whose clock is wrong cannot fool the heuristics' windows.

use centinela_actors::{RouterLogLine, Runtime};
use centinela_model::{DeviceId, Scope};
use centinela_routeros::client::{Client, ClientError, Row};
use centinela_routeros::values::{parse_date_time, parse_log_time};
use chrono::{DateTime, Duration, Utc};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Instant;
use tokio::sync::mpsc;

/// Lines waiting between the stream and the runtime.
const QUEUE: usize = 4096;

/// The highest log entry id taken in (`-1`: none).
#[derive(Debug)]
pub struct LogCursor(AtomicI64);

impl LogCursor {
    pub fn new(initial: Option<i64>) -> Self {
        LogCursor(AtomicI64::new(initial.unwrap_or(-1)))
    }

    pub fn get(&self) -> Option<i64> {
        let v = self.0.load(Ordering::Acquire);
        (v >= 0).then_some(v)
    }

    /// Forgets the position (the router rebooted: its ids start again).
    pub fn reset(&self) {
        self.0.store(-1, Ordering::Release);
    }

    fn is_new(&self, id: i64) -> bool {
        self.0.load(Ordering::Acquire) < id
    }

    fn advance(&self, id: i64) {
        self.0.fetch_max(id, Ordering::AcqRel);
    }
}

/// The router's clock relative to the engine's: its UTC offset and its skew, in seconds.
#[derive(Debug, Default)]
pub struct RouterClock {
    offset_s: AtomicI64,
    skew_s: AtomicI64,
}

impl RouterClock {
    /// Reads `/system/clock` (`time`, `date`, `gmt-offset`); a router without it keeps zero.
    pub async fn refresh(&self, client: &Client) -> Result<(), ClientError> {
        let rows = match client.print("/system/clock/print", &[], &[]).await {
            Err(ClientError::Trap(_)) => return Ok(()),
            other => other?,
        };
        if let Some(row) = rows.first() {
            self.update(row, Utc::now());
        }
        Ok(())
    }

    fn update(&self, row: &Row, engine_now: DateTime<Utc>) {
        let offset = row
            .text("gmt-offset")
            .and_then(|t| parse_offset(&t))
            .unwrap_or_else(Duration::zero);
        self.offset_s.store(offset.num_seconds(), Ordering::Release);
        let local = match (row.text("date"), row.text("time")) {
            (Some(date), Some(time)) => parse_date_time(&format!("{date} {time}")),
            _ => None,
        };
        if let Some(local) = local {
            let router_utc = (local - offset).and_utc();
            let skew = router_utc - engine_now;
            self.skew_s.store(skew.num_seconds(), Ordering::Release);
        }
    }

    fn offset(&self) -> Duration {
        Duration::seconds(self.offset_s.load(Ordering::Acquire))
    }

    fn skew(&self) -> Duration {
        Duration::seconds(self.skew_s.load(Ordering::Acquire))
    }

    /// A log row's time on the engine's clock; `now` when it has none or cannot be read.
    fn engine_time(&self, row: &Row, now: DateTime<Utc>) -> DateTime<Utc> {
        let (offset, skew) = (self.offset(), self.skew());
        let router_local_now = (now + skew + offset).naive_utc();
        row.text("time")
            .and_then(|t| parse_log_time(&t, router_local_now))
            .map(|local| (local - offset).and_utc() - skew)
            // Never in the future: a line cannot have happened after it arrived.
            .map(|ts| ts.min(now))
            .unwrap_or(now)
    }
}

/// `+HH:MM` / `-HH:MM` (or seconds).
fn parse_offset(text: &str) -> Option<Duration> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let minutes = match rest.split_once(':') {
        Some((h, m)) => h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?,
        None => rest.parse::<i64>().ok()? / 60,
    };
    Some(Duration::minutes(sign * minutes))
}

/// The running follower; aborted when dropped (with its stream and drain task).
pub struct FollowerHandle(tokio::task::JoinHandle<()>);

impl FollowerHandle {
    pub fn is_finished(&self) -> bool {
        self.0.is_finished()
    }
}

impl Drop for FollowerHandle {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// `*1A` → 26.
fn entry_id(row: &Row) -> Option<i64> {
    let text = row.text(".id")?;
    i64::from_str_radix(text.strip_prefix('*')?, 16).ok()
}

/// Text from a router, without control characters (PostgreSQL text cannot hold NUL, and a log
/// line is one line).
pub fn clean(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn to_line(row: &Row, clock: &RouterClock, now: DateTime<Utc>) -> Option<RouterLogLine> {
    Some(RouterLogLine {
        ts: clock.engine_time(row, now),
        topics: row.text("topics").map(|t| clean(&t)).unwrap_or_default(),
        message: clean(&row.text("message")?),
    })
}

/// What the follower shares with its poller.
#[derive(Clone)]
pub struct Follow {
    pub device: DeviceId,
    pub runtime: Runtime,
    pub cursor: Arc<LogCursor>,
    pub clock: Arc<RouterClock>,
}

/// Starts following the log of one router.
pub fn follow(client: Client, follow: Follow) -> FollowerHandle {
    FollowerHandle(tokio::spawn(async move {
        let device = follow.device;
        if let Err(error) = run(client, follow).await {
            tracing::info!(device_id = %device.0, %error, "Router log follower ended; the next poll restarts it.");
        }
    }))
}

/// Aborts the drain task when the follower ends.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

async fn run(client: Client, follow: Follow) -> Result<(), ClientError> {
    let mut stream = client.stream(super::poller::listen_request()).await?;
    let (tx, mut rx) = mpsc::channel::<Result<Row, ClientError>>(QUEUE);
    let device = follow.device;
    let _drain = AbortOnDrop(tokio::spawn(async move {
        let mut dropped = 0u64;
        while let Some(row) = stream.next().await {
            let failed = row.is_err();
            match tx.try_send(row) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    dropped += 1;
                    if dropped.is_power_of_two() {
                        tracing::warn!(device_id = %device.0, dropped, "Router log lines arrive faster than they can be stored; dropping the excess.");
                    }
                }
                Err(mpsc::error::TrySendError::Closed(_)) => break,
            }
            if failed {
                break;
            }
        }
    }));
    let backlog = client
        .print("/log/print", &[".id", "time", "topics", "message"], &[])
        .await?;
    // Every id below the remembered one: the router's ids restarted (reboot, log cleared).
    let newest = backlog.iter().filter_map(entry_id).max();
    if let (Some(newest), Some(known)) = (newest, follow.cursor.get())
        && newest < known
    {
        follow.cursor.reset();
    }
    let mut saver = Saver::new();
    deliver(&follow, &backlog).await?;
    saver.maybe_save(&follow).await;
    while let Some(row) = rx.recv().await {
        let mut rows = vec![row?];
        while let Ok(more) = rx.try_recv() {
            rows.push(more?);
        }
        rows.retain(|r| r.get(".dead").is_none());
        deliver(&follow, &rows).await?;
        saver.maybe_save(&follow).await;
    }
    Err(ClientError::Closed)
}

/// Hands new rows to the runtime, then moves the cursor past them.
async fn deliver(follow: &Follow, rows: &[Row]) -> Result<(), ClientError> {
    let now = Utc::now();
    let fresh: Vec<&Row> = rows
        .iter()
        .filter(|row| entry_id(row).is_none_or(|id| follow.cursor.is_new(id)))
        .collect();
    let lines: Vec<RouterLogLine> = fresh
        .iter()
        .filter_map(|row| to_line(row, &follow.clock, now))
        .collect();
    if let Err(error) = follow
        .runtime
        .ingest_router_logs(follow.device, lines)
        .await
    {
        tracing::warn!(device_id = %follow.device.0, %error, "Router log lines not taken; they are read again on reconnect.");
        return Err(ClientError::Closed);
    }
    if let Some(max) = fresh.iter().filter_map(|row| entry_id(row)).max() {
        follow.cursor.advance(max);
    }
    Ok(())
}

/// Saves the cursor at most once a second.
struct Saver {
    last: Option<Instant>,
    saved: Option<i64>,
}

impl Saver {
    fn new() -> Self {
        Saver {
            last: None,
            saved: None,
        }
    }

    async fn maybe_save(&mut self, follow: &Follow) {
        let current = follow.cursor.get();
        let due = self
            .last
            .is_none_or(|at| at.elapsed() >= std::time::Duration::from_secs(1));
        if current == self.saved || !due {
            return;
        }
        self.last = Some(Instant::now());
        if save_cursor(&follow.runtime, follow.device, current).await {
            self.saved = current;
        }
    }
}

/// Stores the cursor; false (logged) on failure.
pub async fn save_cursor(runtime: &Runtime, device: DeviceId, cursor: Option<i64>) -> bool {
    let result = async {
        let mut tx = runtime.store().begin(Scope::All).await?;
        centinela_storage::routers::set_last_log_id(&mut tx, device.0, cursor).await?;
        tx.commit()
            .await
            .map_err(centinela_storage::StorageError::from)
    }
    .await;
    if let Err(error) = &result {
        tracing::warn!(device_id = %device.0, %error, "Log position not saved; retrying later.");
    }
    result.is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(pairs: &[(&str, &str)]) -> Row {
        Row {
            attributes: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    fn utc(s: &str) -> DateTime<Utc> {
        s.parse().expect("time")
    }

    #[test]
    fn offsets_and_cursor() {
        assert_eq!(parse_offset("+02:00"), Some(Duration::hours(2)));
        assert_eq!(parse_offset("-05:30"), Some(Duration::minutes(-330)));
        assert_eq!(parse_offset("3600"), Some(Duration::hours(1)));
        assert_eq!(parse_offset("x"), None);
        let cursor = LogCursor::new(Some(5));
        assert!(!cursor.is_new(5) && !cursor.is_new(3) && cursor.is_new(6));
        cursor.advance(6);
        cursor.advance(4);
        assert_eq!(cursor.get(), Some(6));
        cursor.reset();
        assert!(cursor.is_new(1));
    }

    #[test]
    fn router_times_land_on_the_engine_clock() {
        let now = utc("2026-11-22T12:00:00Z");
        let clock = RouterClock::default();
        // A router two hours ahead in time zone, with a correct clock.
        clock.update(
            &row(&[
                ("time", "14:00:00"),
                ("date", "2026-11-22"),
                ("gmt-offset", "+02:00"),
            ]),
            now,
        );
        let line = row(&[("time", "13:59:30"), ("message", "ether1 link down")]);
        assert_eq!(clock.engine_time(&line, now), utc("2026-11-22T11:59:30Z"));
        // A RouterBOARD without NTP that believes it is 1970 (v6 date format).
        clock.update(
            &row(&[
                ("time", "00:10:00"),
                ("date", "jan/02/1970"),
                ("gmt-offset", "+00:00"),
            ]),
            now,
        );
        let line = row(&[("time", "00:09:00"), ("message", "x")]);
        assert_eq!(clock.engine_time(&line, now), utc("2026-11-22T11:59:00Z"));
        // No time at all, or a future one: the arrival time.
        assert_eq!(clock.engine_time(&row(&[("message", "x")]), now), now);
    }

    #[test]
    fn log_rows_become_clean_lines() {
        let clock = RouterClock::default();
        let now = utc("2026-11-22T12:00:00Z");
        let r = row(&[
            (".id", "*1F"),
            ("time", "2026-11-22 10:00:00"),
            ("topics", "system,error,critical"),
            (
                "message",
                "login failure for user ad\0min\n from 203.0.113.9 via ssh",
            ),
        ]);
        assert_eq!(entry_id(&r), Some(31));
        let line = to_line(&r, &clock, now).expect("line");
        assert_eq!(line.ts, utc("2026-11-22T10:00:00Z"));
        assert_eq!(
            line.message,
            "login failure for user ad min  from 203.0.113.9 via ssh"
        );
    }
}
