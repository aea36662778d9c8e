//! `/interface/print` and `monitor-traffic`: link state and counters as functions of time.
//!
//! Counters are not ticked: at any instant they are `initial + rate × seconds the link was up`
//! (since start, or since `reset_at` once that has passed, from zero), so every reader sees a
//! consistent, monotonic value without a background task touching them.

use crate::format;
use crate::item::Item;
use crate::router::Router;
use crate::scenario::{InterfaceSpec, Scenario};

/// An interface as shown by `/interface/print`: a scenario interface or the dynamic interface
/// of a PPP session.
#[derive(Debug, Clone)]
pub(crate) struct Link {
    pub(crate) spec: InterfaceSpec,
    pub(crate) dynamic: bool,
    pub(crate) mac: Option<String>,
}

/// Scenario interfaces (MACs defaulted from their position) then `<service-NAME>` PPP ones.
pub(crate) fn build_links(scenario: &Scenario) -> Vec<Link> {
    let configured = scenario.interface.iter().enumerate().map(|(i, spec)| Link {
        spec: spec.clone(),
        dynamic: false,
        mac: Some(
            spec.mac
                .clone()
                .unwrap_or_else(|| format!("4C:5E:0C:11:22:{:02X}", (i + 1) % 256)),
        ),
    });
    let ppp = scenario.ppp.iter().map(|session| Link {
        spec: InterfaceSpec {
            name: format!("<{}-{}>", session.service, session.name),
            kind: format!("{}-in", session.service),
            mtu: 1480,
            rx_bps: session.rx_bps,
            tx_bps: session.tx_bps,
            ..InterfaceSpec::default()
        },
        dynamic: true,
        mac: None,
    });
    configured.chain(ppp).collect()
}

/// Link state and counters at one instant.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LinkState {
    pub(crate) running: bool,
    pub(crate) rx_byte: u64,
    pub(crate) tx_byte: u64,
    pub(crate) rx_packet: u64,
    pub(crate) tx_packet: u64,
    pub(crate) link_downs: u64,
    /// Seconds since start of the last link-up (negative: before start); `None`: never up.
    pub(crate) last_up: Option<f64>,
    /// Seconds since start of the last link-down, if any.
    pub(crate) last_down: Option<f64>,
}

pub(crate) fn state(spec: &InterfaceSpec, uptime_at_start: f64, t: f64) -> LinkState {
    let enabled = spec.running && !spec.disabled;
    let in_flap = spec
        .flaps
        .iter()
        .any(|f| f.at <= t && t < f.at + f.down_for);
    let reset = spec.reset_at.filter(|r| *r <= t);
    let from = reset.unwrap_or(0.0);
    let initial = |value: u64| if reset.is_some() { 0 } else { value };
    let down_secs: f64 = spec
        .flaps
        .iter()
        .map(|f| ((f.at + f.down_for).min(t) - f.at.max(from)).max(0.0))
        .sum();
    let up_secs = if enabled {
        (t - from - down_secs).max(0.0)
    } else {
        0.0
    };
    let bytes = |bps: u64| (bps as f64 / 8.0 * up_secs) as u64;
    let packets = |bps: u64| (bps as f64 / 8.0 / f64::from(spec.packet_size) * up_secs) as u64;
    let flaps_so_far = spec
        .flaps
        .iter()
        .filter(|f| f.at >= from && f.at <= t)
        .count() as u64;
    let boot_up = -uptime_at_start + uptime_at_start.min(5.0);
    let last_flap_end = spec
        .flaps
        .iter()
        .map(|f| f.at + f.down_for)
        .filter(|end| *end <= t)
        .reduce(f64::max);
    LinkState {
        running: enabled && !in_flap,
        rx_byte: initial(spec.rx_byte) + bytes(spec.rx_bps),
        tx_byte: initial(spec.tx_byte) + bytes(spec.tx_bps),
        rx_packet: initial(spec.rx_packet) + packets(spec.rx_bps),
        tx_packet: initial(spec.tx_packet) + packets(spec.tx_bps),
        link_downs: initial(spec.link_downs) + flaps_so_far,
        last_up: enabled.then(|| last_flap_end.unwrap_or(boot_up)),
        last_down: spec
            .flaps
            .iter()
            .map(|f| f.at)
            .filter(|at| *at <= t)
            .reduce(f64::max),
    }
}

pub(super) fn rows(router: &Router, elapsed: f64) -> Vec<Item> {
    let version = router.version;
    let uptime = router.scenario.router.uptime;
    let when = |at: Option<f64>| at.map(|at| format::date_time(version, router.time_at(at)));
    router
        .links
        .iter()
        .enumerate()
        .map(|(i, link)| {
            let spec = &link.spec;
            let s = state(spec, uptime, elapsed);
            let ether = spec.kind == "ether";
            Item::new()
                .with(".id", format::id(i as u64 + 1))
                .with("name", &spec.name)
                .with_opt("default-name", ether.then_some(&spec.name))
                .with("type", &spec.kind)
                .with("mtu", spec.mtu)
                .with("actual-mtu", spec.mtu)
                .with_opt("l2mtu", ether.then_some(spec.mtu + 98))
                .with_opt("max-l2mtu", ether.then_some(9214))
                .with_opt("mac-address", link.mac.as_ref())
                .with_opt("last-link-down-time", when(s.last_down))
                .with_opt("last-link-up-time", when(s.last_up))
                .with("link-downs", s.link_downs)
                .with("rx-byte", s.rx_byte)
                .with("tx-byte", s.tx_byte)
                .with("rx-packet", s.rx_packet)
                .with("tx-packet", s.tx_packet)
                .with("rx-drop", spec.rx_drop)
                .with("tx-drop", spec.tx_drop)
                .with("tx-queue-drop", 0)
                .with("rx-error", spec.rx_error)
                .with("tx-error", spec.tx_error)
                .with("fp-rx-byte", s.rx_byte)
                .with("fp-tx-byte", 0)
                .with("fp-rx-packet", s.rx_packet)
                .with("fp-tx-packet", 0)
                .with("dynamic", format::boolean(link.dynamic))
                .with("running", format::boolean(s.running))
                .with("disabled", format::boolean(spec.disabled))
                .with_opt("comment", spec.comment.as_ref())
        })
        .collect()
}

/// One `monitor-traffic` sample of `link` now (rates are zero while the link is down).
pub(crate) fn monitor_row(router: &Router, link: &Link) -> Item {
    let spec = &link.spec;
    let running = state(spec, router.scenario.router.uptime, router.elapsed()).running;
    let (rx, tx) = if running {
        (spec.rx_bps, spec.tx_bps)
    } else {
        (0, 0)
    };
    let pps = |bps: u64| bps / 8 / u64::from(spec.packet_size);
    Item::new()
        .with("name", &spec.name)
        .with("rx-packets-per-second", pps(rx))
        .with("rx-bits-per-second", rx)
        .with("fp-rx-packets-per-second", pps(rx))
        .with("fp-rx-bits-per-second", rx)
        .with("rx-drops-per-second", 0)
        .with("rx-errors-per-second", 0)
        .with("tx-packets-per-second", pps(tx))
        .with("tx-bits-per-second", tx)
        .with("fp-tx-packets-per-second", 0)
        .with("fp-tx-bits-per-second", 0)
        .with("tx-drops-per-second", 0)
        .with("tx-queue-drops-per-second", 0)
        .with("tx-errors-per-second", 0)
}

#[cfg(test)]
mod tests {
    use super::state;
    use crate::scenario::{Flap, InterfaceSpec};

    fn spec() -> InterfaceSpec {
        InterfaceSpec {
            name: "ether1".to_string(),
            rx_bps: 8_000,
            tx_bps: 16_000,
            packet_size: 100,
            rx_byte: 1_000,
            link_downs: 2,
            flaps: vec![Flap {
                at: 10.0,
                down_for: 5.0,
            }],
            ..InterfaceSpec::default()
        }
    }

    #[test]
    fn counters_grow_with_up_time_only() {
        let s = spec();
        let at = |t| state(&s, 100.0, t);
        assert_eq!(at(0.0).rx_byte, 1_000);
        assert_eq!(at(4.0).rx_byte, 1_000 + 4_000);
        assert_eq!(at(4.0).tx_byte, 8_000);
        assert_eq!(at(4.0).rx_packet, 40);
        assert!(at(9.9).running && !at(10.0).running && !at(14.9).running && at(15.0).running);
        assert_eq!(at(12.0).rx_byte, 1_000 + 10_000, "no traffic while down");
        assert_eq!(at(20.0).rx_byte, 1_000 + 15_000);
        assert_eq!((at(9.0).link_downs, at(10.0).link_downs), (2, 3));
        assert_eq!(
            (at(9.0).last_up, at(16.0).last_up),
            (Some(-95.0), Some(15.0))
        );
        assert_eq!((at(9.0).last_down, at(11.0).last_down), (None, Some(10.0)));
    }

    #[test]
    fn reset_restarts_counters_from_zero() {
        let s = InterfaceSpec {
            reset_at: Some(12.0),
            ..spec()
        };
        let after = state(&s, 100.0, 20.0);
        assert_eq!(
            after.rx_byte,
            5 * 1_000,
            "up from 15 to 20 after the reset at 12"
        );
        assert_eq!(after.link_downs, 0, "the flap at 10 was before the reset");
    }

    #[test]
    fn disabled_or_unplugged_links_never_run() {
        for s in [
            InterfaceSpec {
                disabled: true,
                ..spec()
            },
            InterfaceSpec {
                running: false,
                ..spec()
            },
        ] {
            let later = state(&s, 100.0, 5.0);
            assert!(!later.running);
            assert_eq!(later.rx_byte, 1_000);
            assert_eq!(later.last_up, None);
        }
    }
}
