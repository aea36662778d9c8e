//! `/system/resource`, `/system/health`, `/system/clock` and `/system/routerboard` rows, with
//! the field names and per-version value shapes of reference §4.2.

use crate::RouterVersion;
use crate::format;
use crate::item::Item;
use crate::router::Router;

/// The resource values in effect at `elapsed`: per field, the last step with `at` ≤ elapsed
/// that sets it (defaults: idle CPU, half of memory and storage free).
fn resource_values(router: &Router, elapsed: f64) -> (u8, u64, u64) {
    let spec = &router.scenario.router;
    let mut values = (0, spec.total_memory / 2, spec.total_hdd / 2);
    let mut steps: Vec<_> = router
        .scenario
        .resource
        .iter()
        .filter(|s| s.at <= elapsed)
        .collect();
    steps.sort_by(|a, b| a.at.total_cmp(&b.at));
    for step in steps {
        values.0 = step.cpu_load.unwrap_or(values.0);
        values.1 = step.free_memory.unwrap_or(values.1);
        values.2 = step.free_hdd.unwrap_or(values.2);
    }
    values
}

pub(super) fn resource(router: &Router, elapsed: f64) -> Item {
    let version = router.version;
    let spec = &router.scenario.router;
    let (cpu_load, free_memory, free_hdd) = resource_values(router, elapsed);
    let factory = (version == RouterVersion::V7_16).then_some("6.44");
    Item::new()
        .with("uptime", format::duration(version, spec.uptime + elapsed))
        .with("version", format::version_string(version))
        .with("build-time", format::build_time(version))
        .with_opt("factory-software", factory)
        .with("free-memory", free_memory)
        .with("total-memory", spec.total_memory)
        .with("cpu", &spec.cpu)
        .with("cpu-count", spec.cpu_count)
        .with("cpu-frequency", spec.cpu_frequency)
        .with("cpu-load", cpu_load)
        .with("free-hdd-space", free_hdd)
        .with("total-hdd-space", spec.total_hdd)
        .with("write-sect-since-reboot", 1070 + (elapsed / 60.0) as u64)
        .with("write-sect-total", 8926 + (elapsed / 60.0) as u64)
        .with("bad-blocks", 0)
        .with("architecture-name", &spec.architecture)
        .with("board-name", &spec.board_name)
        .with("platform", "MikroTik")
}

/// 6.49: one row of flat properties; 7.16: one row per sensor (`name`, `value`, `type`).
/// No sensors → no rows.
pub(super) fn health(router: &Router) -> Vec<Item> {
    let h = &router.scenario.health;
    let sensors = [
        ("voltage", h.voltage, "V"),
        ("temperature", h.temperature, "C"),
        ("cpu-temperature", h.cpu_temperature, "C"),
    ];
    let present = sensors
        .iter()
        .filter_map(|(name, value, unit)| value.map(|v| (*name, v, *unit)));
    match router.version {
        RouterVersion::V6_49 => {
            let item = present.fold(Item::new(), |item, (name, v, _)| {
                item.with(name, format::decimal(v))
            });
            if item.props().is_empty() {
                Vec::new()
            } else {
                vec![item]
            }
        }
        RouterVersion::V7_16 => present
            .enumerate()
            .map(|(i, (name, v, unit))| {
                Item::new()
                    .with(".id", format::id(i as u64))
                    .with("name", name)
                    .with("value", format::decimal(v))
                    .with("type", unit)
            })
            .collect(),
    }
}

pub(super) fn clock(router: &Router) -> Item {
    let now = router.now();
    let spec = &router.scenario.router;
    Item::new()
        .with("time", now.format("%H:%M:%S"))
        .with("date", format::clock_date(router.version, now))
        .with("time-zone-autodetect", "true")
        .with("time-zone-name", &spec.time_zone)
        .with("gmt-offset", &spec.gmt_offset)
        .with("dst-active", "false")
}

pub(super) fn routerboard(router: &Router) -> Item {
    let spec = &router.scenario.router;
    if !spec.routerboard {
        return Item::new().with("routerboard", "false");
    }
    let firmware = format::version_number(router.version);
    Item::new()
        .with("routerboard", "true")
        .with("board-name", &spec.board_name)
        .with("model", &spec.model)
        .with("serial-number", &spec.serial_number)
        .with("firmware-type", "ipq4000L")
        .with("factory-firmware", "6.44")
        .with("current-firmware", firmware)
        .with("upgrade-firmware", firmware)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::Scenario;

    fn router(version: RouterVersion, toml: &str) -> std::sync::Arc<Router> {
        Router::new(version, Scenario::from_toml_str(toml).expect("valid"))
    }

    #[test]
    fn resource_steps_carry_values_over() {
        let r = router(
            RouterVersion::V7_16,
            "[[resource]]\nat = 0\ncpu_load = 5\nfree_memory = 1000\n[[resource]]\nat = 2\ncpu_load = 90\n",
        );
        assert_eq!(resource_values(&r, 1.0), (5, 1000, 16_777_216 / 2));
        assert_eq!(resource_values(&r, 2.0), (90, 1000, 16_777_216 / 2));
    }

    #[test]
    fn health_shapes_per_version() {
        let toml = "[health]\ntemperature = 46\nvoltage = 24.1\n";
        let v6 = health(&router(RouterVersion::V6_49, toml));
        assert_eq!(v6.len(), 1);
        assert_eq!(
            (v6[0].get("voltage"), v6[0].get("temperature")),
            (Some("24.1"), Some("46"))
        );
        let v7 = health(&router(RouterVersion::V7_16, toml));
        assert_eq!(v7.len(), 2);
        assert_eq!(v7[1].get("name"), Some("temperature"));
        assert_eq!(v7[1].get("value"), Some("46"));
        assert_eq!(v7[1].get("type"), Some("C"));
        assert_eq!(v7[0].get("type"), Some("V"));
        let none = "[health]\ntemperature = 1\n[health.x]\n";
        assert!(
            Scenario::from_toml_str(none).is_err(),
            "unknown sensor table refused"
        );
    }
}
