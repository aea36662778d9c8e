//! The shared router: its clock, its log ring buffer and the log subscribers.
//!
//! Everything else a menu shows (counters, CPU load, link state) is a pure function of the
//! scenario and the elapsed time, so the only mutable state is the log. It lives behind one
//! `std::sync::Mutex` that is never held across an `.await`. Scheduled lines (scenario `[[log]]`
//! and link flaps) are appended by [`Router::advance`], which both the background clock task
//! (every 100 ms) and every reader call, so a reply never shows a flap without its log line.
//! Subscribing happens under the same lock as the backlog snapshot, so `follow` streams see
//! every entry exactly once.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use chrono::NaiveDateTime;
use tokio::sync::broadcast;
use tokio::time::Instant;

use crate::RouterVersion;
use crate::menus::{Link, build_links};
use crate::scenario::{Scenario, parse_clock};

/// Entries kept in `/log` (RouterOS's default memory action keeps 1000 lines).
const LOG_CAPACITY: usize = 1000;
/// Period of the background clock task.
const TICK: Duration = Duration::from_millis(100);

/// One `/log` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LogEntry {
    pub(crate) id: u64,
    pub(crate) time: NaiveDateTime,
    pub(crate) topics: String,
    pub(crate) message: String,
}

#[derive(Debug)]
struct ScheduledLine {
    at: f64,
    topics: String,
    message: String,
}

#[derive(Debug)]
struct LogState {
    entries: VecDeque<Arc<LogEntry>>,
    next_id: u64,
    schedule: Vec<ScheduledLine>,
    /// Index of the first scheduled line not yet logged.
    cursor: usize,
    subscribers: broadcast::Sender<Arc<LogEntry>>,
}

/// The simulated router, shared by the clock task and every session.
#[derive(Debug)]
pub(crate) struct Router {
    pub(crate) version: RouterVersion,
    pub(crate) scenario: Scenario,
    /// `/interface` entries: the scenario's and the PPP sessions' dynamic ones.
    pub(crate) links: Vec<Link>,
    started: Instant,
    clock_at_start: NaiveDateTime,
    log: Mutex<LogState>,
}

impl Router {
    pub(crate) fn new(version: RouterVersion, scenario: Scenario) -> Arc<Router> {
        let clock_at_start = scenario
            .router
            .clock
            .as_deref()
            .and_then(parse_clock)
            .unwrap_or_else(|| chrono::Utc::now().naive_utc());
        let (subscribers, _) = broadcast::channel(LOG_CAPACITY);
        let log = LogState {
            entries: VecDeque::with_capacity(LOG_CAPACITY),
            next_id: 1,
            schedule: schedule(&scenario),
            cursor: 0,
            subscribers,
        };
        let router = Arc::new(Router {
            version,
            links: build_links(&scenario),
            scenario,
            started: Instant::now(),
            clock_at_start,
            log: Mutex::new(log),
        });
        router.advance();
        router
    }

    /// Seconds since the simulator started.
    pub(crate) fn elapsed(&self) -> f64 {
        self.started.elapsed().as_secs_f64()
    }

    /// Router-local wall-clock time `at` seconds after start (negative = before).
    pub(crate) fn time_at(&self, at: f64) -> NaiveDateTime {
        let millis = (at * 1000.0).round() as i64;
        self.clock_at_start + chrono::Duration::milliseconds(millis)
    }

    /// Router-local wall-clock time now.
    pub(crate) fn now(&self) -> NaiveDateTime {
        self.time_at(self.elapsed())
    }

    /// Logs every scheduled line that is due.
    pub(crate) fn advance(&self) {
        let elapsed = self.elapsed();
        let mut log = self.lock();
        while let Some(line) = log.schedule.get(log.cursor).filter(|l| l.at <= elapsed) {
            let (time, topics, message) = (
                self.time_at(line.at),
                line.topics.clone(),
                line.message.clone(),
            );
            log.cursor += 1;
            log.append(time, topics, message);
        }
    }

    /// Appends a line now (login and logout lines of the sessions).
    pub(crate) fn log(&self, topics: &str, message: String) {
        self.advance();
        let now = self.now();
        self.lock().append(now, topics.to_string(), message);
    }

    /// The current log buffer, oldest first.
    pub(crate) fn log_entries(&self) -> Vec<Arc<LogEntry>> {
        self.advance();
        self.lock().entries.iter().cloned().collect()
    }

    /// Subscribes to new log entries; with `backlog`, also returns the current buffer, taken
    /// atomically with the subscription (no entry is missed or seen twice).
    pub(crate) fn subscribe_log(
        &self,
        backlog: bool,
    ) -> (Vec<Arc<LogEntry>>, broadcast::Receiver<Arc<LogEntry>>) {
        self.advance();
        let log = self.lock();
        let entries = if backlog {
            log.entries.iter().cloned().collect()
        } else {
            Vec::new()
        };
        (entries, log.subscribers.subscribe())
    }

    /// Starts the background clock that applies the schedule; abort the handle to stop it.
    pub(crate) fn spawn_clock(self: &Arc<Self>) -> tokio::task::JoinHandle<()> {
        let router = Arc::clone(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(TICK);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tick.tick().await;
                router.advance();
            }
        })
    }

    fn lock(&self) -> MutexGuard<'_, LogState> {
        // A panic while holding the lock cannot leave the log inconsistent (appends are
        // single pushes), so a poisoned lock is still usable.
        self.log.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl LogState {
    fn append(&mut self, time: NaiveDateTime, topics: String, message: String) {
        let entry = Arc::new(LogEntry {
            id: self.next_id,
            time,
            topics,
            message,
        });
        self.next_id += 1;
        if self.entries.len() == LOG_CAPACITY {
            self.entries.pop_front();
        }
        self.entries.push_back(Arc::clone(&entry));
        // No subscriber is not an error.
        let _ = self.subscribers.send(entry);
    }
}

/// Scenario log lines and link-flap lines, sorted by time.
fn schedule(scenario: &Scenario) -> Vec<ScheduledLine> {
    let mut lines = Vec::new();
    for line in &scenario.log {
        for n in 0..line.repeat {
            lines.push(ScheduledLine {
                at: line.at + f64::from(n) * line.every,
                topics: line.topics.clone(),
                message: line.message.clone(),
            });
        }
    }
    for interface in &scenario.interface {
        for flap in &interface.flaps {
            lines.push(ScheduledLine {
                at: flap.at,
                topics: "interface,info".to_string(),
                message: format!("{} link down", interface.name),
            });
            lines.push(ScheduledLine {
                at: flap.at + flap.down_for,
                topics: "interface,info".to_string(),
                message: format!(
                    "{} link up (speed {}, full duplex)",
                    interface.name, interface.speed
                ),
            });
        }
    }
    lines.sort_by(|a, b| a.at.total_cmp(&b.at));
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn router(toml: &str) -> Arc<Router> {
        let scenario = Scenario::from_toml_str(toml).expect("valid scenario");
        Router::new(RouterVersion::V7_16, scenario)
    }

    #[tokio::test(start_paused = true)]
    async fn schedule_applies_in_time_order_with_bursts_and_flaps() {
        let r = router(
            "log = [{ at = 0.5, topics = \"system,error,critical\", message = \"fail\", repeat = 3, every = 0.2 }]\n\
             [[interface]]\nname = \"ether1\"\nflaps = [{ at = 0.6, down_for = 1 }]\n",
        );
        assert!(r.log_entries().is_empty());
        tokio::time::advance(Duration::from_millis(700)).await;
        let messages: Vec<String> = r.log_entries().iter().map(|e| e.message.clone()).collect();
        assert_eq!(messages, ["fail", "ether1 link down", "fail"]);
        tokio::time::advance(Duration::from_secs(1)).await;
        let entries = r.log_entries();
        let ids: Vec<u64> = entries.iter().map(|e| e.id).collect();
        assert_eq!(ids, [1, 2, 3, 4, 5]);
        assert_eq!(entries[4].message, "ether1 link up (speed 1G, full duplex)");
        assert_eq!(entries[3].message, "fail");
        assert_eq!(
            entries[2].time - entries[0].time,
            chrono::Duration::milliseconds(200)
        );
    }

    #[tokio::test(start_paused = true)]
    async fn backlog_lines_are_present_at_start_and_ring_is_bounded() {
        let r = router(
            "log = [{ at = -10, topics = \"system,info\", message = \"x\", repeat = 1200, every = 0.001 }]",
        );
        let entries = r.log_entries();
        assert_eq!(entries.len(), LOG_CAPACITY);
        assert_eq!(entries[0].id, 201);
    }

    #[tokio::test(start_paused = true)]
    async fn subscribers_get_new_entries_once() {
        let r = router("log = []");
        r.log("system,info", "before".to_string());
        let (backlog, mut rx) = r.subscribe_log(true);
        assert_eq!(backlog.len(), 1);
        r.log("system,info,account", "after".to_string());
        let entry = rx.recv().await.expect("entry");
        assert_eq!((entry.id, entry.message.as_str()), (2, "after"));
    }
}
