//! Measuring the host with sysinfo: telemetry samples, heartbeats and the inventory.
//!
//! A [`Collector`] keeps the sysinfo handles between samples because two things only exist as
//! differences: CPU usage (sysinfo compares two refreshes) and network rates (byte counters
//! divided by the time between samples). Metric names are the contract's, built through
//! `centinela_model::MetricName` so a bad label can never reach the wire.

mod inventory;
mod software;

pub use inventory::{hostname, inventory};
pub use software::parse_dpkg_status;

use centinela_model::MetricName;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::time::Instant;
use sysinfo::{Disks, Networks, ProcessRefreshKind, ProcessesToUpdate, System};

/// How many processes the heartbeat lists, by CPU and by memory.
pub const TOP_PROCESSES: usize = 5;

/// Why the host could not be measured.
#[derive(Debug, thiserror::Error)]
pub enum CollectError {
    #[error("sysinfo is unavailable on this host: {0}")]
    Sysinfo(#[from] sysinfo::Error),
}

/// One telemetry sample.
#[derive(Clone, Debug, PartialEq)]
pub struct Telemetry {
    pub ts: String,
    pub metrics: BTreeMap<MetricName, f64>,
}

impl Telemetry {
    /// The wire body `{"ts", "metrics": {...}}`.
    pub fn to_body(&self) -> Value {
        let metrics: serde_json::Map<String, Value> = self
            .metrics
            .iter()
            .map(|(name, value)| (name.to_string(), json!(value)))
            .collect();
        json!({"ts": self.ts, "metrics": metrics})
    }
}

/// One entry of the heartbeat's process list.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct TopProcess {
    pub name: String,
    pub pid: u32,
    pub cpu_pct: f64,
    pub mem_bytes: u64,
}

/// Received and transmitted byte counters per interface.
type NetCounters = HashMap<String, (u64, u64)>;

/// The host measurer; call from a blocking context (sysinfo reads `/proc` synchronously).
pub struct Collector {
    system: System,
    disks: Disks,
    networks: Networks,
    last_cpu_refresh: Instant,
    last_net: Option<(Instant, NetCounters)>,
}

impl std::fmt::Debug for Collector {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Collector")
    }
}

impl Collector {
    pub fn new() -> Result<Self, CollectError> {
        let mut system = System::new()?;
        system.refresh_cpu_usage();
        system.refresh_processes_specifics(ProcessesToUpdate::All, true, process_kind());
        let mut collector = Self {
            system,
            disks: Disks::new_with_refreshed_list()?,
            networks: Networks::new_with_refreshed_list()?,
            last_cpu_refresh: Instant::now(),
            last_net: None,
        };
        collector.last_net = Some((Instant::now(), collector.net_counters()));
        Ok(collector)
    }

    /// Refreshes CPU and processes, waiting out sysinfo's minimum interval if needed.
    fn refresh_cpu_and_processes(&mut self) {
        let since = self.last_cpu_refresh.elapsed();
        if since < sysinfo::MINIMUM_CPU_UPDATE_INTERVAL {
            std::thread::sleep(sysinfo::MINIMUM_CPU_UPDATE_INTERVAL - since);
        }
        self.system.refresh_cpu_usage();
        self.system
            .refresh_processes_specifics(ProcessesToUpdate::All, true, process_kind());
        self.last_cpu_refresh = Instant::now();
    }

    /// Takes a telemetry sample.
    pub fn sample(&mut self) -> Telemetry {
        self.refresh_cpu_and_processes();
        self.system.refresh_memory();
        self.disks.refresh(true);
        let mut metrics = BTreeMap::new();
        let mut put = |name: String, value: f64| {
            if let (Ok(name), true) = (MetricName::parse(&name), value.is_finite()) {
                metrics.insert(name, value);
            }
        };
        put(
            "cpu.usage_pct".into(),
            f64::from(self.system.global_cpu_usage()).clamp(0.0, 100.0),
        );
        let total = self.system.total_memory();
        let used = self.system.used_memory();
        put("mem.used_bytes".into(), used as f64);
        put("mem.used_pct".into(), pct(used, total));
        put(
            "swap.used_pct".into(),
            pct(self.system.used_swap(), self.system.total_swap()),
        );
        for disk in self.disks.iter().filter(|d| is_real_disk(d)) {
            let mount = label(&disk.mount_point().to_string_lossy());
            let total = disk.total_space();
            let free = disk.available_space();
            put(
                format!("disk.used_pct{{mount={mount}}}"),
                pct(total.saturating_sub(free), total),
            );
            put(format!("disk.free_bytes{{mount={mount}}}"), free as f64);
        }
        for (name, rx, tx) in self.net_rates() {
            let name = label(&name);
            put(format!("net.rx_bps{{if={name}}}"), rx);
            put(format!("net.tx_bps{{if={name}}}"), tx);
        }
        put("sys.uptime_s".into(), System::uptime().unwrap_or(0) as f64);
        if let (Ok(load), false) = (System::load_average(), cfg!(windows)) {
            put("load.1m".into(), load.one);
            put("load.5m".into(), load.five);
            put("load.15m".into(), load.fifteen);
        }
        put("proc.count".into(), self.system.processes().len() as f64);
        Telemetry {
            ts: crate::message::now_rfc3339(),
            metrics,
        }
    }

    fn net_counters(&self) -> NetCounters {
        self.networks
            .iter()
            .filter(|(name, _)| !is_loopback(&name.to_string_lossy()))
            .map(|(name, data)| {
                let counters = (data.total_received(), data.total_transmitted());
                (name.to_string_lossy().into_owned(), counters)
            })
            .collect()
    }

    /// Bytes per second per interface since the previous sample (counter resets are skipped).
    fn net_rates(&mut self) -> Vec<(String, f64, f64)> {
        self.networks.refresh(true);
        let now = Instant::now();
        let current = self.net_counters();
        let mut rates = Vec::new();
        if let Some((then, previous)) = &self.last_net {
            let secs = now.duration_since(*then).as_secs_f64();
            for (name, (rx, tx)) in &current {
                let Some((prx, ptx)) = previous.get(name) else {
                    continue;
                };
                if secs > 0.0 && rx >= prx && tx >= ptx {
                    rates.push((
                        name.clone(),
                        (rx - prx) as f64 / secs,
                        (tx - ptx) as f64 / secs,
                    ));
                }
            }
        }
        rates.sort_by(|a, b| a.0.cmp(&b.0));
        self.last_net = Some((now, current));
        rates
    }

    /// The heartbeat body: uptime, the top processes by CPU then by memory, queue drops.
    pub fn heartbeat(&mut self, dropped: u64) -> Value {
        self.refresh_cpu_and_processes();
        json!({
            "ts": crate::message::now_rfc3339(),
            "uptime_s": System::uptime().unwrap_or(0),
            "top": self.top_processes(),
            "dropped": dropped,
            "agent_version": env!("CARGO_PKG_VERSION"),
        })
    }

    /// The [`TOP_PROCESSES`] busiest processes by CPU, then the largest by memory not already
    /// listed (so one list serves both views without duplicates).
    pub fn top_processes(&self) -> Vec<TopProcess> {
        let mut all: Vec<TopProcess> = self
            .system
            .processes()
            .values()
            .map(|p| TopProcess {
                name: p.name().to_string_lossy().into_owned(),
                pid: p.pid().as_u32(),
                cpu_pct: (f64::from(p.cpu_usage()) * 10.0).round() / 10.0,
                mem_bytes: p.memory(),
            })
            .collect();
        all.sort_by(|a, b| b.cpu_pct.total_cmp(&a.cpu_pct).then(a.pid.cmp(&b.pid)));
        let mut top: Vec<TopProcess> = all.iter().take(TOP_PROCESSES).cloned().collect();
        all.sort_by(|a, b| b.mem_bytes.cmp(&a.mem_bytes).then(a.pid.cmp(&b.pid)));
        for process in all.into_iter().take(TOP_PROCESSES) {
            if !top.iter().any(|t| t.pid == process.pid) {
                top.push(process);
            }
        }
        top
    }

    /// The sysinfo handles, for the inventory.
    pub(crate) fn parts(&mut self) -> (&mut System, &Disks, &Networks) {
        (&mut self.system, &self.disks, &self.networks)
    }
}

fn process_kind() -> ProcessRefreshKind {
    ProcessRefreshKind::nothing().with_cpu().with_memory()
}

fn pct(part: u64, total: u64) -> f64 {
    if total == 0 {
        0.0
    } else {
        ((part as f64 / total as f64) * 1000.0).round() / 10.0
    }
}

/// A label value without the characters that delimit labels (`{`, `}`, `,`, `=`).
pub fn label(value: &str) -> String {
    let cleaned: String = value
        .chars()
        .map(|c| match c {
            '{' | '}' | ',' | '=' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    if cleaned.is_empty() {
        "_".into()
    } else {
        cleaned
    }
}

fn is_loopback(name: &str) -> bool {
    name == "lo" || name.starts_with("lo0") || name.to_ascii_lowercase().contains("loopback")
}

/// Pseudo and virtual filesystems that are not storage anyone needs to watch.
const PSEUDO_FS: &[&str] = &[
    "tmpfs",
    "devtmpfs",
    "proc",
    "sysfs",
    "devpts",
    "cgroup",
    "cgroup2",
    "mqueue",
    "debugfs",
    "tracefs",
    "securityfs",
    "pstore",
    "bpf",
    "autofs",
    "hugetlbfs",
    "configfs",
    "fusectl",
    "ramfs",
    "nsfs",
    "efivarfs",
    "binfmt_misc",
    "rpc_pipefs",
    "squashfs",
    "devfs",
    "fuse.lxcfs",
    "fuse.portal",
    "nullfs",
    "none",
];

/// Whether a mounted filesystem is real storage. `overlay` counts only as the root (the
/// filesystem of a container).
pub(crate) fn is_real_disk(disk: &sysinfo::Disk) -> bool {
    let fs = disk.file_system().to_string_lossy().to_ascii_lowercase();
    let mount = disk.mount_point().to_string_lossy();
    if disk.total_space() == 0 || PSEUDO_FS.contains(&fs.as_str()) {
        return false;
    }
    if fs == "overlay" {
        return mount == "/";
    }
    !["/proc", "/sys", "/dev", "/run", "/snap/"]
        .iter()
        .any(|prefix| mount.starts_with(prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn collects_real_values_on_this_machine() {
        let mut collector = Collector::new().expect("sysinfo");
        let sample = collector.sample();
        let get = |name: &str| {
            MetricName::parse(name)
                .ok()
                .and_then(|n| sample.metrics.get(&n).copied())
        };
        let cpu = get("cpu.usage_pct").expect("cpu");
        assert!((0.0..=100.0).contains(&cpu));
        assert!(get("mem.used_bytes").expect("mem") > 0.0);
        assert!(get("mem.used_pct").expect("mem pct") > 0.0);
        assert!(get("sys.uptime_s").expect("uptime") > 0.0);
        assert!(get("proc.count").expect("procs") > 0.0);
        let disks = sample
            .metrics
            .keys()
            .filter(|n| n.base() == "disk.used_pct")
            .count();
        assert!(
            disks >= 1,
            "no disk in {:?}",
            sample.metrics.keys().collect::<Vec<_>>()
        );
        if cfg!(target_os = "linux") {
            assert!(get("load.1m").is_some());
        }
        let body = sample.to_body();
        assert!(body["metrics"].as_object().is_some_and(|m| m.len() >= 8));
        let heartbeat = collector.heartbeat(3);
        assert_eq!(heartbeat["dropped"], 3);
        assert!(heartbeat["top"].as_array().is_some_and(|t| !t.is_empty()));
    }

    #[test]
    fn second_sample_has_network_rates_when_interfaces_exist() {
        let mut collector = Collector::new().expect("sysinfo");
        let _ = collector.sample();
        let sample = collector.sample();
        let has_interfaces = !collector.net_counters().is_empty();
        let rates = sample
            .metrics
            .keys()
            .filter(|n| n.base() == "net.rx_bps")
            .count();
        assert_eq!(rates > 0, has_interfaces);
    }

    #[test]
    fn labels_are_sanitised() {
        assert_eq!(label("C:\\"), "C:\\");
        assert_eq!(label("a{b}=c,d"), "a_b__c_d");
        assert_eq!(label(""), "_");
        assert!(
            MetricName::parse(&format!("disk.used_pct{{mount={}}}", label("/mnt/x=y"))).is_ok()
        );
    }
}
