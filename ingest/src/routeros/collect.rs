//! From RouterOS rows to samples: the pure part of polling, tested without a router.
//!
//! | metric                         | from                                                         |
//! |--------------------------------|--------------------------------------------------------------|
//! | `cpu.usage_pct`                | `/system/resource` `cpu-load`                                |
//! | `mem.used_pct`, `mem.free_bytes` | `free-memory` / `total-memory`                             |
//! | `disk.used_pct`                | `free-hdd-space` / `total-hdd-space`                         |
//! | `sys.uptime_s`                 | `uptime` (both duration grammars)                            |
//! | `health.<sensor>`              | `/system/health` (v6 flat properties, v7 one row per sensor) |
//! | `if.rx_bps{if=…}`, `if.tx_bps{if=…}` | `/interface` byte counter deltas (wrap and reset aware) |
//! | `if.running{if=…}`             | `running` (1/0)                                              |
//! | `ppp.active_sessions`          | rows of `/ppp/active`                                        |
//! | `dhcp.leases_bound`            | rows of `/ip/dhcp-server/lease ?status=bound`                |

use centinela_model::{MetricName, Sample};
use centinela_routeros::client::Row;
use centinela_routeros::values::{parse_bool, parse_duration};
use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::time::Instant;

/// What `/interface/print` is asked for.
pub const INTERFACE_PROPS: &[&str] = &["name", "type", "rx-byte", "tx-byte", "running", "disabled"];

/// What `/system/resource/print` is asked for.
pub const RESOURCE_PROPS: &[&str] = &[
    "uptime",
    "version",
    "build-time",
    "cpu-load",
    "free-memory",
    "total-memory",
    "free-hdd-space",
    "total-hdd-space",
    "cpu",
    "cpu-count",
    "architecture-name",
    "board-name",
];

fn sample(samples: &mut Vec<Sample>, ts: DateTime<Utc>, name: &str, value: f64) {
    if !value.is_finite() {
        return;
    }
    if let Ok(name) = MetricName::parse(name) {
        samples.push(Sample { ts, name, value });
    }
}

fn number(row: &Row, key: &str) -> Option<f64> {
    row.text(key)?.trim().parse().ok()
}

fn used_pct(free: Option<f64>, total: Option<f64>) -> Option<f64> {
    match (free, total) {
        (Some(free), Some(total)) if total > 0.0 => Some((total - free) / total * 100.0),
        _ => None,
    }
}

/// Samples of `/system/resource/print`.
pub fn resource_samples(row: &Row, ts: DateTime<Utc>) -> Vec<Sample> {
    let mut out = Vec::new();
    if let Some(cpu) = number(row, "cpu-load") {
        sample(&mut out, ts, "cpu.usage_pct", cpu);
    }
    let (free_mem, total_mem) = (number(row, "free-memory"), number(row, "total-memory"));
    if let Some(pct) = used_pct(free_mem, total_mem) {
        sample(&mut out, ts, "mem.used_pct", pct);
    }
    if let Some(free) = free_mem {
        sample(&mut out, ts, "mem.free_bytes", free);
    }
    let hdd = used_pct(
        number(row, "free-hdd-space"),
        number(row, "total-hdd-space"),
    );
    if let Some(pct) = hdd {
        sample(&mut out, ts, "disk.used_pct", pct);
    }
    if let Some(uptime) = uptime(row) {
        sample(&mut out, ts, "sys.uptime_s", uptime.as_secs_f64());
    }
    out
}

/// The router's uptime, if reported.
pub fn uptime(row: &Row) -> Option<std::time::Duration> {
    parse_duration(&row.text("uptime")?)
}

/// `health.<name>` with `-` turned into `_`; non-numeric values (`ok`, `fail`) are skipped.
fn health_name(name: &str) -> String {
    let clean: String = name
        .chars()
        .map(|c| match c {
            'a'..='z' | '0'..='9' | '_' => c,
            'A'..='Z' => c.to_ascii_lowercase(),
            _ => '_',
        })
        .collect();
    format!("health.{clean}")
}

/// Samples of `/system/health/print`: v7 sends one row per sensor (`name`, `value`, `type`),
/// v6 one row of flat properties.
pub fn health_samples(rows: &[Row], ts: DateTime<Utc>) -> Vec<Sample> {
    let mut out = Vec::new();
    for row in rows {
        if let (Some(name), Some(value)) = (row.text("name"), number(row, "value")) {
            sample(&mut out, ts, &health_name(&name), value);
            continue;
        }
        for (key, raw) in &row.attributes {
            if key.starts_with('.') {
                continue;
            }
            let text = String::from_utf8_lossy(raw);
            if let Ok(value) = text.trim().parse::<f64>() {
                sample(&mut out, ts, &health_name(key), value);
            }
        }
    }
    out
}

/// Bits per second between two readings of a RouterOS byte counter. These counters are 64-bit:
/// they never wrap in practice, so a decrease is a reset (reboot, `reset-counters`) and yields
/// no rate rather than a spike.
fn rate_64(prev: u64, cur: u64, seconds: f64) -> Option<f64> {
    let delta = cur.checked_sub(prev)?;
    (seconds > 0.0).then(|| delta as f64 * 8.0 / seconds)
}

/// The last byte counters of one interface.
#[derive(Clone, Copy, Debug)]
pub struct Counters {
    pub rx: u64,
    pub tx: u64,
    pub at: Instant,
}

/// Samples of `/interface/print`: rates from the previous reading (none on the first one or
/// after a reset), and whether each interface runs. Forgets interfaces that disappeared.
pub fn interface_samples(
    rows: &[Row],
    previous: &mut HashMap<String, Counters>,
    now: Instant,
    ts: DateTime<Utc>,
) -> Vec<Sample> {
    let mut out = Vec::new();
    let mut seen = HashMap::with_capacity(rows.len());
    for row in rows {
        let Some(name) = row.text("name").map(|n| n.into_owned()) else {
            continue;
        };
        if row.text("disabled").and_then(|d| parse_bool(&d)) == Some(true) {
            continue;
        }
        let running = row.text("running").and_then(|r| parse_bool(&r));
        if let Some(running) = running {
            sample(
                &mut out,
                ts,
                &format!("if.running{{if={name}}}"),
                f64::from(u8::from(running)),
            );
        }
        let counters = match (number(row, "rx-byte"), number(row, "tx-byte")) {
            (Some(rx), Some(tx)) => Counters {
                rx: rx as u64,
                tx: tx as u64,
                at: now,
            },
            _ => continue,
        };
        if let Some(prev) = previous.get(&name) {
            let seconds = now.duration_since(prev.at).as_secs_f64();
            if let Some(bps) = rate_64(prev.rx, counters.rx, seconds) {
                sample(&mut out, ts, &format!("if.rx_bps{{if={name}}}"), bps);
            }
            if let Some(bps) = rate_64(prev.tx, counters.tx, seconds) {
                sample(&mut out, ts, &format!("if.tx_bps{{if={name}}}"), bps);
            }
        }
        seen.insert(name, counters);
    }
    *previous = seen;
    out
}

/// The router's inventory (sent once per connection): what the resource, identity and
/// routerboard menus say.
pub fn inventory(resource: &Row, identity: Option<&Row>, routerboard: Option<&Row>) -> Value {
    let mut hardware = Map::new();
    for key in [
        "version",
        "board-name",
        "architecture-name",
        "cpu",
        "cpu-count",
        "total-memory",
        "total-hdd-space",
        "build-time",
    ] {
        if let Some(v) = resource.text(key) {
            hardware.insert(key.to_owned(), json!(super::logs::clean(&v)));
        }
    }
    if let Some(rb) = routerboard {
        for key in ["model", "serial-number", "current-firmware", "routerboard"] {
            if let Some(v) = rb.text(key) {
                hardware.insert(key.to_owned(), json!(super::logs::clean(&v)));
            }
        }
    }
    json!({
        "kind": "routeros",
        "hostname": identity.and_then(|r| r.text("name")).map(|n| super::logs::clean(&n)),
        "os": "RouterOS",
        "hardware": hardware,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn row(pairs: &[(&str, &str)]) -> Row {
        Row {
            attributes: pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), v.as_bytes().to_vec()))
                .collect(),
        }
    }

    fn find(samples: &[Sample], name: &str) -> Option<f64> {
        samples
            .iter()
            .find(|s| s.name.as_str() == name)
            .map(|s| s.value)
    }

    #[test]
    fn resource_fields_of_a_v6_capture() {
        let r = row(&[
            ("uptime", "4d15h20m38s"),
            ("cpu-load", "28"),
            ("free-memory", "36741120"),
            ("total-memory", "67108864"),
            ("free-hdd-space", "116649984"),
            ("total-hdd-space", "134217728"),
        ]);
        let s = resource_samples(&r, Utc::now());
        assert_eq!(find(&s, "cpu.usage_pct"), Some(28.0));
        let mem = find(&s, "mem.used_pct").expect("mem");
        assert!((mem - 45.25).abs() < 0.01, "{mem}");
        assert_eq!(find(&s, "sys.uptime_s"), Some(400_838.0));
        assert!(find(&s, "disk.used_pct").is_some());
        let clock = row(&[("uptime", "1w2d03:04:05")]);
        assert_eq!(
            find(&resource_samples(&clock, Utc::now()), "sys.uptime_s"),
            Some(788_645.0)
        );
    }

    #[test]
    fn health_in_both_shapes() {
        let v6 = [row(&[("voltage", "26.6"), ("temperature", "45")])];
        let s = health_samples(&v6, Utc::now());
        assert_eq!(find(&s, "health.voltage"), Some(26.6));
        assert_eq!(find(&s, "health.temperature"), Some(45.0));
        let v7 = [
            row(&[
                (".id", "*E"),
                ("name", "cpu-temperature"),
                ("value", "58"),
                ("type", "C"),
            ]),
            row(&[
                (".id", "*F"),
                ("name", "psu1-state"),
                ("value", "ok"),
                ("type", ""),
            ]),
        ];
        let s = health_samples(&v7, Utc::now());
        assert_eq!(find(&s, "health.cpu_temperature"), Some(58.0));
        assert_eq!(s.len(), 1, "non-numeric sensors are skipped");
    }

    #[test]
    fn a_reset_from_below_four_gib_is_not_read_as_a_wrap() {
        let mut prev = HashMap::new();
        let t0 = Instant::now();
        let before = [row(&[
            ("name", "ether1"),
            ("rx-byte", "3500000000"),
            ("tx-byte", "0"),
        ])];
        interface_samples(&before, &mut prev, t0, Utc::now());
        let after = [row(&[
            ("name", "ether1"),
            ("rx-byte", "1000"),
            ("tx-byte", "0"),
        ])];
        let s = interface_samples(&after, &mut prev, t0 + Duration::from_secs(1), Utc::now());
        assert_eq!(find(&s, "if.rx_bps{if=ether1}"), None);
    }

    #[test]
    fn interface_rates_from_deltas_with_reset() {
        let mut prev = HashMap::new();
        let t0 = Instant::now();
        let first = [row(&[
            ("name", "ether1"),
            ("rx-byte", "1000"),
            ("tx-byte", "0"),
            ("running", "true"),
        ])];
        let s = interface_samples(&first, &mut prev, t0, Utc::now());
        assert_eq!(find(&s, "if.running{if=ether1}"), Some(1.0));
        assert_eq!(
            find(&s, "if.rx_bps{if=ether1}"),
            None,
            "no rate on the first reading"
        );
        let second = [row(&[
            ("name", "ether1"),
            ("rx-byte", "11000"),
            ("tx-byte", "500"),
            ("running", "true"),
        ])];
        let s = interface_samples(&second, &mut prev, t0 + Duration::from_secs(10), Utc::now());
        assert_eq!(find(&s, "if.rx_bps{if=ether1}"), Some(8_000.0));
        assert_eq!(find(&s, "if.tx_bps{if=ether1}"), Some(400.0));
        let reset = [row(&[
            ("name", "ether1"),
            ("rx-byte", "5"),
            ("tx-byte", "5"),
            ("running", "false"),
        ])];
        let s = interface_samples(&reset, &mut prev, t0 + Duration::from_secs(20), Utc::now());
        assert_eq!(
            find(&s, "if.rx_bps{if=ether1}"),
            None,
            "a reset yields no spike"
        );
        assert_eq!(find(&s, "if.running{if=ether1}"), Some(0.0));
    }
}
