//! Range checks of a parsed scenario; each failure names the offending field.

use super::{InterfaceSpec, LogSchedule, Scenario, ScenarioError};

/// Longest log burst one schedule entry may expand to (keeps memory bounded).
const MAX_REPEAT: u32 = 100_000;
/// Most generated DHCP leases.
const MAX_GENERATED_LEASES: u32 = 10_000;

pub(super) fn check(s: &Scenario) -> Result<(), ScenarioError> {
    check_router(s)?;
    for (i, step) in s.resource.iter().enumerate() {
        let field = format!("resource[{i}]");
        seconds(&format!("{field}.at"), step.at, false)?;
        if let Some(load) = step.cpu_load.filter(|l| *l > 100) {
            return invalid(format!("{field}.cpu_load {load} is above 100"));
        }
        if let Some(free) = step.free_memory.filter(|f| *f > s.router.total_memory) {
            return invalid(format!(
                "{field}.free_memory {free} exceeds router.total_memory"
            ));
        }
        if let Some(free) = step.free_hdd.filter(|f| *f > s.router.total_hdd) {
            return invalid(format!("{field}.free_hdd {free} exceeds router.total_hdd"));
        }
    }
    let health = [
        s.health.temperature,
        s.health.voltage,
        s.health.cpu_temperature,
    ];
    if health.iter().flatten().any(|v| !v.is_finite()) {
        return invalid("health values must be finite numbers".to_string());
    }
    let mut names = std::collections::HashSet::new();
    for (i, interface) in s.interface.iter().enumerate() {
        check_interface(i, interface)?;
        if !names.insert(interface.name.as_str()) {
            return invalid(format!(
                "interface[{i}].name {:?} is used twice",
                interface.name
            ));
        }
    }
    for (i, ppp) in s.ppp.iter().enumerate() {
        if ppp.name.is_empty() {
            return invalid(format!("ppp[{i}].name is missing"));
        }
        seconds(&format!("ppp[{i}].uptime"), ppp.uptime, false)?;
    }
    check_dhcp(s)?;
    for (i, line) in s.log.iter().enumerate() {
        check_log(i, line)?;
    }
    Ok(())
}

fn check_router(s: &Scenario) -> Result<(), ScenarioError> {
    let r = &s.router;
    if r.identity.is_empty() {
        return invalid("router.identity must not be empty".to_string());
    }
    if r.cpu_count == 0 {
        return invalid("router.cpu_count must be at least 1".to_string());
    }
    seconds("router.uptime", r.uptime, false)?;
    if let Some(clock) = &r.clock
        && parse_clock(clock).is_none()
    {
        return invalid(format!("router.clock {clock:?} is not YYYY-MM-DD HH:MM:SS"));
    }
    Ok(())
}

fn check_interface(i: usize, interface: &InterfaceSpec) -> Result<(), ScenarioError> {
    let field = format!("interface[{i}]");
    if interface.name.is_empty() {
        return invalid(format!("{field}.name is missing"));
    }
    if let Some(mac) = interface.mac.as_deref().filter(|m| !is_mac(m)) {
        return invalid(format!(
            "{field}.mac {mac:?} is not a MAC address like 4C:5E:0C:11:22:33"
        ));
    }
    if interface.mtu == 0 || interface.packet_size == 0 {
        return invalid(format!("{field}.mtu and packet_size must be positive"));
    }
    for (j, flap) in interface.flaps.iter().enumerate() {
        seconds(&format!("{field}.flaps[{j}].at"), flap.at, false)?;
        seconds(&format!("{field}.flaps[{j}].down_for"), flap.down_for, true)?;
    }
    if let Some(reset_at) = interface.reset_at {
        seconds(&format!("{field}.reset_at"), reset_at, false)?;
    }
    Ok(())
}

fn check_dhcp(s: &Scenario) -> Result<(), ScenarioError> {
    if s.dhcp.server.is_empty() {
        return invalid("dhcp.server must not be empty".to_string());
    }
    if s.dhcp.bound > MAX_GENERATED_LEASES {
        return invalid(format!("dhcp.bound is above {MAX_GENERATED_LEASES}"));
    }
    for (i, lease) in s.dhcp.lease.iter().enumerate() {
        let field = format!("dhcp.lease[{i}]");
        if lease.address.parse::<std::net::Ipv4Addr>().is_err() {
            return invalid(format!(
                "{field}.address {:?} is not an IPv4 address",
                lease.address
            ));
        }
        if !is_mac(&lease.mac) {
            return invalid(format!("{field}.mac {:?} is not a MAC address", lease.mac));
        }
        if !["bound", "waiting", "offered", "busy"].contains(&lease.status.as_str()) {
            return invalid(format!(
                "{field}.status {:?} is not bound, waiting, offered or busy",
                lease.status
            ));
        }
        seconds(
            &format!("{field}.expires_after"),
            lease.expires_after,
            false,
        )?;
    }
    Ok(())
}

fn check_log(i: usize, line: &LogSchedule) -> Result<(), ScenarioError> {
    let field = format!("log[{i}]");
    if !line.at.is_finite() {
        return invalid(format!("{field}.at must be a finite number of seconds"));
    }
    if line.topics.is_empty() || line.message.is_empty() {
        return invalid(format!("{field} needs non-empty topics and message"));
    }
    if line.repeat == 0 || line.repeat > MAX_REPEAT {
        return invalid(format!("{field}.repeat must be between 1 and {MAX_REPEAT}"));
    }
    seconds(&format!("{field}.every"), line.every, true)
}

/// A finite, non-negative (or, with `positive`, strictly positive) number of seconds.
fn seconds(field: &str, value: f64, positive: bool) -> Result<(), ScenarioError> {
    let ok = value.is_finite() && if positive { value > 0.0 } else { value >= 0.0 };
    if ok {
        Ok(())
    } else {
        let wanted = if positive { "positive" } else { "non-negative" };
        invalid(format!(
            "{field} must be a {wanted} number of seconds, got {value}"
        ))
    }
}

fn invalid(message: String) -> Result<(), ScenarioError> {
    Err(ScenarioError::Invalid(message))
}

/// `AA:BB:CC:DD:EE:FF`, hex digits of either case.
pub(crate) fn is_mac(s: &str) -> bool {
    let parts: Vec<&str> = s.split(':').collect();
    parts.len() == 6
        && parts
            .iter()
            .all(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_hexdigit()))
}

/// The `router.clock` format.
pub(crate) fn parse_clock(s: &str) -> Option<chrono::NaiveDateTime> {
    chrono::NaiveDateTime::parse_from_str(s, "%Y-%m-%d %H:%M:%S").ok()
}
