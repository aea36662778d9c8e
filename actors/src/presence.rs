//! Presence of agents: every message refreshes a device's last-seen instant; a sweeper marks a
//! device offline when it has been silent for a multiple of its heartbeat interval. One map and
//! one sweeping task for all devices (not a timer per actor), so 100k devices cost a map entry
//! each and a scan per sweep.

use dashmap::DashMap;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// How silence is judged.
#[derive(Debug, Clone)]
pub struct PresenceConfig {
    /// Heartbeat interval of agents enrolled without one (created over the API).
    pub default_heartbeat: Duration,
    /// Silent for `multiple × heartbeat` → offline.
    pub multiple: u32,
    /// How often the sweeper looks.
    pub sweep_every: Duration,
}

impl Default for PresenceConfig {
    fn default() -> Self {
        PresenceConfig {
            default_heartbeat: Duration::from_secs(30),
            multiple: 3,
            sweep_every: Duration::from_secs(1),
        }
    }
}

impl PresenceConfig {
    /// The silence after which an agent with this heartbeat is offline.
    pub fn window(&self, heartbeat_s: Option<i32>) -> Duration {
        let heartbeat = heartbeat_s
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| *s > 0)
            .map_or(self.default_heartbeat, Duration::from_secs);
        heartbeat * self.multiple.max(1)
    }
}

struct Entry {
    last_seen: Instant,
    window: Duration,
    offline: bool,
}

/// Last-seen instants of agents, and the last reachability report of polled devices (routers):
/// the one answer to "is this device online" (the API's `online` reads it too).
#[derive(Default)]
pub struct Presence {
    entries: DashMap<Uuid, Entry>,
    polled: DashMap<Uuid, bool>,
}

impl Presence {
    /// Tracks a device known at start-up; `offline` when its offline alert is firing.
    pub fn seed(&self, device: Uuid, window: Duration, offline: bool) {
        self.entries.insert(
            device,
            Entry {
                last_seen: Instant::now(),
                window,
                offline,
            },
        );
    }

    /// A message arrived: true when the device was offline (it is back), or is heard from for
    /// the first time (a device created after start-up), so that its actor announces it online.
    pub fn seen(&self, device: Uuid, window: Duration) -> bool {
        let now = Instant::now();
        match self.entries.entry(device) {
            dashmap::Entry::Vacant(vacant) => {
                vacant.insert(Entry {
                    last_seen: now,
                    window,
                    offline: false,
                });
                true
            }
            dashmap::Entry::Occupied(mut occupied) => {
                let entry = occupied.get_mut();
                entry.last_seen = now;
                entry.window = window;
                std::mem::replace(&mut entry.offline, false)
            }
        }
    }

    /// Devices silent past their window that were not yet offline (now marked offline), with
    /// how long each has been silent.
    pub fn sweep(&self) -> Vec<(Uuid, Duration)> {
        let now = Instant::now();
        let mut gone = Vec::new();
        for mut entry in self.entries.iter_mut() {
            let silent = now.duration_since(entry.last_seen);
            if !entry.offline && silent > entry.window {
                entry.offline = true;
                gone.push((*entry.key(), silent));
            }
        }
        gone
    }

    /// A poller's verdict on a device it reaches (a router): reachable or offline.
    pub fn reported(&self, device: Uuid, reachable: bool) {
        self.polled.insert(device, reachable);
    }

    /// Whether the device is online as the detector judges it: an agent heard from within its
    /// window (not yet swept offline), or a polled device whose last report was reachable.
    /// A device never heard from since start (and not seeded) is offline.
    pub fn is_online(&self, device: Uuid) -> bool {
        if let Some(entry) = self.entries.get(&device) {
            return !entry.offline;
        }
        self.polled.get(&device).is_some_and(|r| *r)
    }

    /// Every device [`Presence::is_online`] answers true for.
    pub fn online_devices(&self) -> Vec<Uuid> {
        let agents = self.entries.iter().filter(|e| !e.offline).map(|e| *e.key());
        let polled = self
            .polled
            .iter()
            .filter(|p| *p.value() && !self.entries.contains_key(p.key()))
            .map(|p| *p.key());
        agents.chain(polled).collect()
    }

    pub fn forget(&self, device: Uuid) {
        self.entries.remove(&device);
        self.polled.remove(&device);
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn silence_past_the_window_is_reported_once_and_a_message_brings_it_back() {
        let p = Presence::default();
        let d = Uuid::new_v4();
        assert!(
            p.seen(d, Duration::from_millis(30)),
            "first heard from: announced online"
        );
        assert!(
            !p.seen(d, Duration::from_millis(30)),
            "then only when it comes back"
        );
        assert!(p.sweep().is_empty());
        std::thread::sleep(Duration::from_millis(40));
        let gone = p.sweep();
        assert_eq!(gone.len(), 1);
        assert_eq!(gone[0].0, d);
        assert!(p.sweep().is_empty(), "reported once");
        assert!(p.seen(d, Duration::from_millis(30)), "back online");
        assert!(!p.seen(d, Duration::from_millis(30)));
    }

    #[test]
    fn online_follows_the_sweeper_and_the_pollers_reports() {
        let p = Presence::default();
        let agent = Uuid::new_v4();
        assert!(!p.is_online(agent), "never heard from");
        p.seen(agent, Duration::from_millis(30));
        assert!(p.is_online(agent));
        std::thread::sleep(Duration::from_millis(40));
        assert!(p.is_online(agent), "online until the sweeper judges it");
        p.sweep();
        assert!(!p.is_online(agent));
        let router = Uuid::new_v4();
        p.reported(router, true);
        assert!(p.is_online(router));
        p.reported(router, false);
        assert!(!p.is_online(router));
        p.forget(router);
        assert!(!p.is_online(router));
    }

    #[test]
    fn windows_follow_the_heartbeat() {
        let c = PresenceConfig::default();
        assert_eq!(c.window(None), Duration::from_secs(90));
        assert_eq!(c.window(Some(10)), Duration::from_secs(30));
        assert_eq!(c.window(Some(0)), Duration::from_secs(90));
    }
}
