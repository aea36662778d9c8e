//! `/ppp/active`, `/ip/dhcp-server`, `/ip/dhcp-server/lease` and `/log` rows.

use std::net::Ipv4Addr;

use crate::format;
use crate::item::Item;
use crate::router::{LogEntry, Router};
use crate::scenario::LeaseSpec;

/// First address of generated leases.
const FIRST_GENERATED: Ipv4Addr = Ipv4Addr::new(192, 168, 88, 100);
/// DHCP lease time, seconds (a bound lease's `expires-after` counts down from it and renews).
const LEASE_TIME: f64 = 600.0;

pub(super) fn ppp_active(router: &Router, elapsed: f64) -> Vec<Item> {
    router
        .scenario
        .ppp
        .iter()
        .enumerate()
        .map(|(i, session)| {
            Item::new()
                .with(".id", format::id(i as u64 + 8))
                .with("name", &session.name)
                .with("service", &session.service)
                .with("caller-id", &session.caller_id)
                .with("address", &session.address)
                .with(
                    "uptime",
                    format::duration(router.version, session.uptime + elapsed),
                )
                .with("encoding", &session.encoding)
                .with("session-id", format!("0x811{:05X}", i))
                .with("limit-bytes-in", 0)
                .with("limit-bytes-out", 0)
                .with("radius", "false")
        })
        .collect()
}

pub(super) fn dhcp_servers(router: &Router) -> Vec<Item> {
    vec![
        Item::new()
            .with(".id", "*1")
            .with("name", &router.scenario.dhcp.server)
            .with("interface", "bridge")
            .with("lease-time", "10m")
            .with("address-pool", "dhcp")
            .with("authoritative", "yes")
            .with("invalid", "false")
            .with("disabled", "false"),
    ]
}

/// The generated lease number `n` (0-based).
fn generated(n: u32) -> LeaseSpec {
    let address = Ipv4Addr::from(u32::from(FIRST_GENERATED).wrapping_add(n));
    let [.., hi, lo] = (100 + n).to_be_bytes();
    LeaseSpec {
        address: address.to_string(),
        mac: format!("02:00:00:00:{hi:02X}:{lo:02X}"),
        host_name: Some(format!("host-{}", 100 + n)),
        expires_after: LEASE_TIME - f64::from(n % 60) * 7.0,
        ..LeaseSpec::default()
    }
}

pub(super) fn dhcp_leases(router: &Router, elapsed: f64) -> Vec<Item> {
    let dhcp = &router.scenario.dhcp;
    let explicit = dhcp.lease.iter().cloned().map(|lease| (lease, false));
    let generated = (0..dhcp.bound).map(|n| (generated(n), true));
    explicit
        .chain(generated)
        .enumerate()
        .map(|(i, (lease, dynamic))| lease_row(router, elapsed, i, &lease, dynamic))
        .collect()
}

fn lease_row(
    router: &Router,
    elapsed: f64,
    index: usize,
    lease: &LeaseSpec,
    dynamic: bool,
) -> Item {
    let version = router.version;
    let server = &router.scenario.dhcp.server;
    let bound = lease.status == "bound";
    let client_id = format!("1:{}", lease.mac.to_lowercase());
    // A bound lease renews when it would expire, so it counts down from the lease time again.
    let remaining = if bound {
        let left = lease.expires_after - elapsed;
        if left > 0.0 {
            left
        } else {
            LEASE_TIME - (-left % LEASE_TIME)
        }
    } else {
        0.0
    };
    Item::new()
        .with(".id", format::id(index as u64 + 1))
        .with("address", &lease.address)
        .with("mac-address", &lease.mac)
        .with("client-id", &client_id)
        .with("address-lists", "")
        .with("server", server)
        .with("dhcp-option", "")
        .with("status", &lease.status)
        .with_opt(
            "expires-after",
            bound.then(|| format::duration(version, remaining)),
        )
        .with_opt(
            "last-seen",
            bound.then(|| format::duration(version, LEASE_TIME - remaining)),
        )
        .with_opt("active-address", bound.then_some(&lease.address))
        .with_opt("active-mac-address", bound.then_some(&lease.mac))
        .with_opt("active-client-id", bound.then_some(&client_id))
        .with_opt("active-server", bound.then_some(server))
        .with_opt("host-name", lease.host_name.as_ref())
        .with("radius", "false")
        .with("dynamic", format::boolean(dynamic))
        .with("blocked", "false")
        .with("disabled", "false")
        .with_opt("comment", lease.comment.as_ref())
}

/// One `/log` row: `.id`, `time` (shaped relative to the router's clock now), `topics`, `message`.
pub(crate) fn log_row(router: &Router, entry: &LogEntry) -> Item {
    Item::new()
        .with(".id", format::id(entry.id))
        .with(
            "time",
            format::log_time(router.version, entry.time, router.now()),
        )
        .with("topics", &entry.topics)
        .with("message", &entry.message)
}

#[cfg(test)]
mod tests {
    use super::generated;

    #[test]
    fn generated_leases_count_up_from_100() {
        let first = generated(0);
        assert_eq!(
            (first.address.as_str(), first.mac.as_str()),
            ("192.168.88.100", "02:00:00:00:00:64")
        );
        assert_eq!(first.host_name.as_deref(), Some("host-100"));
        assert_eq!(generated(200).address, "192.168.89.44");
    }
}
