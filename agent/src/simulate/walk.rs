//! Plausible fake telemetry: a mean-reverting random walk per metric, with occasional CPU
//! breaches so thresholds and alerts have something to fire on.

use rand::Rng;
use serde_json::{Value, json};

/// One simulated host's current values.
#[derive(Debug, Clone)]
pub struct Walk {
    cpu: f64,
    mem: f64,
    swap: f64,
    disk: f64,
    load: f64,
    procs: f64,
    rx: f64,
    tx: f64,
    ram_bytes: f64,
    disk_bytes: f64,
    uptime_s: u64,
}

/// One step toward `mean` with noise of ±`noise`, clamped to `[lo, hi]`.
fn step(rng: &mut impl Rng, value: f64, mean: f64, noise: f64, lo: f64, hi: f64) -> f64 {
    let next = value + 0.15 * (mean - value) + rng.random_range(-noise..=noise);
    next.clamp(lo, hi)
}

impl Walk {
    /// A host with its own baseline.
    pub fn new(rng: &mut impl Rng) -> Self {
        Self {
            cpu: rng.random_range(5.0..40.0),
            mem: rng.random_range(30.0..75.0),
            swap: rng.random_range(0.0..10.0),
            disk: rng.random_range(30.0..80.0),
            load: rng.random_range(0.1..2.0),
            procs: rng.random_range(120.0..400.0),
            rx: rng.random_range(1e3..1e6),
            tx: rng.random_range(1e3..5e5),
            ram_bytes: f64::from(rng.random_range(4u32..=64)) * 1024.0 * 1024.0 * 1024.0,
            disk_bytes: f64::from(rng.random_range(128u32..=2048)) * 1024.0 * 1024.0 * 1024.0,
            uptime_s: rng.random_range(3_600..3_000_000),
        }
    }

    /// Advances by `elapsed_s` and returns a telemetry body; with probability `breach_pct`%
    /// the CPU is pinned at 95–100 %.
    pub fn telemetry(&mut self, rng: &mut impl Rng, elapsed_s: u64, breach_pct: f64) -> Value {
        self.uptime_s += elapsed_s;
        self.cpu = step(rng, self.cpu, 25.0, 6.0, 0.5, 100.0);
        self.mem = step(rng, self.mem, 55.0, 2.0, 5.0, 99.0);
        self.swap = step(rng, self.swap, 5.0, 1.0, 0.0, 100.0);
        self.disk = (self.disk + rng.random_range(-0.05..0.1)).clamp(1.0, 99.5);
        self.load = step(rng, self.load, 1.0, 0.3, 0.0, 16.0);
        self.procs = step(rng, self.procs, 250.0, 5.0, 50.0, 2000.0).round();
        self.rx = step(rng, self.rx, 2e5, 5e4, 0.0, 1e9);
        self.tx = step(rng, self.tx, 8e4, 2e4, 0.0, 1e9);
        let breach = rng.random_range(0.0..100.0) < breach_pct;
        let cpu = if breach {
            rng.random_range(95.0..=100.0)
        } else {
            self.cpu
        };
        let round = |v: f64| (v * 10.0).round() / 10.0;
        json!({
            "ts": crate::message::now_rfc3339(),
            "metrics": {
                "cpu.usage_pct": round(cpu),
                "mem.used_pct": round(self.mem),
                "mem.used_bytes": (self.ram_bytes * self.mem / 100.0).round(),
                "swap.used_pct": round(self.swap),
                "disk.used_pct{mount=/}": round(self.disk),
                "disk.free_bytes{mount=/}": (self.disk_bytes * (100.0 - self.disk) / 100.0).round(),
                "net.rx_bps{if=eth0}": self.rx.round(),
                "net.tx_bps{if=eth0}": self.tx.round(),
                "sys.uptime_s": self.uptime_s,
                "load.1m": round(self.load),
                "load.5m": round(self.load * 0.9),
                "load.15m": round(self.load * 0.8),
                "proc.count": self.procs,
            }
        })
    }

    /// A heartbeat body.
    pub fn heartbeat(&self) -> Value {
        json!({
            "ts": crate::message::now_rfc3339(),
            "uptime_s": self.uptime_s,
            "top": [{"name": "simulated", "pid": 1, "cpu_pct": (self.cpu * 10.0).round() / 10.0,
                     "mem_bytes": 64 * 1024 * 1024}],
            "dropped": 0,
            "agent_version": env!("CARGO_PKG_VERSION"),
        })
    }

    /// A small inventory body.
    pub fn inventory(&self, hostname: &str) -> Value {
        json!({
            "ts": crate::message::now_rfc3339(),
            "os": "Simulated Linux", "os_version": "1.0", "hostname": hostname,
            "cpu_model": "Simulated CPU", "cores": 4, "ram_bytes": self.ram_bytes as u64,
            "disks": [{"mount": "/", "fs": "ext4", "total_bytes": self.disk_bytes as u64}],
            "interfaces": [{"name": "eth0", "mac": "02:00:00:00:00:01", "ips": ["192.0.2.10"]}],
            "software": [], "agent_version": env!("CARGO_PKG_VERSION"), "simulated": true,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use centinela_model::MetricName;

    #[test]
    fn values_stay_plausible_and_breaches_happen() {
        let mut rng = rand::rng();
        let mut walk = Walk::new(&mut rng);
        let mut breaches = 0;
        for _ in 0..500 {
            let t = walk.telemetry(&mut rng, 30, 10.0);
            let metrics = t["metrics"].as_object().expect("metrics");
            for (name, value) in metrics {
                assert!(MetricName::parse(name).is_ok(), "{name}");
                assert!(value.as_f64().is_some_and(f64::is_finite));
            }
            let cpu = metrics["cpu.usage_pct"].as_f64().unwrap_or(-1.0);
            assert!((0.0..=100.0).contains(&cpu));
            if cpu >= 95.0 {
                breaches += 1;
            }
        }
        assert!(breaches > 10, "only {breaches} breaches at 10 %");
        let none = (0..200).filter(|_| {
            walk.telemetry(&mut rng, 30, 0.0)["metrics"]["cpu.usage_pct"].as_f64() >= Some(95.0)
        });
        assert!(none.count() < 5);
    }
}
