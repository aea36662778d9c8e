//! The hardware/software inventory, sent at start and every `inventory_s`.
//!
//! The whole document must fit one message (64 KiB): the software list, the only part that can
//! grow without bound, is cut to fit and the cut is flagged with `software_truncated`.

use super::{Collector, software};
use serde_json::{Value, json};
use sysinfo::System;

/// Largest inventory body, leaving room under the 64 KiB payload limit.
const MAX_INVENTORY_BYTES: usize = 60 * 1024;

/// Builds the inventory document from the collector's current view of the host.
pub fn inventory(collector: &mut Collector) -> Value {
    let (system, disks, networks) = collector.parts();
    system.refresh_memory();
    let cpu_model = system
        .cpus()
        .first()
        .map(|c| c.brand().trim().to_owned())
        .unwrap_or_default();
    let disks: Vec<Value> = disks
        .iter()
        .filter(|d| super::is_real_disk(d))
        .map(|d| {
            json!({
                "mount": d.mount_point().to_string_lossy(),
                "fs": d.file_system().to_string_lossy(),
                "total_bytes": d.total_space(),
            })
        })
        .collect();
    let mut interfaces: Vec<Value> = networks
        .iter()
        .map(|(name, data)| {
            let ips: Vec<String> = data.ip_networks().iter().map(|n| n.addr.to_string()).collect();
            json!({"name": name.to_string_lossy(), "mac": data.mac_address().to_string(), "ips": ips})
        })
        .collect();
    interfaces.sort_by(|a, b| a["name"].as_str().cmp(&b["name"].as_str()));
    let mut doc = json!({
        "ts": crate::message::now_rfc3339(),
        "os": System::name().unwrap_or_else(|_| std::env::consts::OS.to_owned()),
        "os_version": System::long_os_version()
            .or_else(|_| System::os_version())
            .unwrap_or_default(),
        "kernel_version": System::kernel_version().unwrap_or_default(),
        "arch": System::cpu_arch(),
        "hostname": hostname(),
        "cpu_model": cpu_model,
        "cores": system.cpus().len(),
        "physical_cores": System::physical_core_count().ok(),
        "ram_bytes": system.total_memory(),
        "swap_bytes": system.total_swap(),
        "disks": disks,
        "interfaces": interfaces,
        "software": [],
        "agent_version": env!("CARGO_PKG_VERSION"),
    });
    fit_software(&mut doc, software::installed());
    doc
}

/// This host's name (sysinfo, then the environment, never empty).
pub fn hostname() -> String {
    System::host_name()
        .ok()
        .filter(|h| !h.trim().is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok().filter(|h| !h.is_empty()))
        .or_else(|| std::env::var("COMPUTERNAME").ok().filter(|h| !h.is_empty()))
        .unwrap_or_else(|| "unknown-host".to_owned())
}

/// Puts as much of the software list in `doc` as fits [`MAX_INVENTORY_BYTES`].
fn fit_software(doc: &mut Value, mut software: Vec<Value>) {
    doc["software_truncated"] = Value::Bool(true); // counted in the base size
    let base = doc.to_string().len();
    let mut size = base;
    let mut keep = 0;
    for entry in &software {
        let next = size + entry.to_string().len() + 1;
        if next > MAX_INVENTORY_BYTES {
            break;
        }
        size = next;
        keep += 1;
    }
    let truncated = keep < software.len();
    software.truncate(keep);
    doc["software"] = Value::Array(software);
    doc["software_truncated"] = Value::Bool(truncated);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inventory_describes_this_machine_and_fits_a_message() {
        let mut collector = Collector::new().expect("sysinfo");
        let doc = inventory(&mut collector);
        assert!(doc["hostname"].as_str().is_some_and(|h| !h.is_empty()));
        assert!(doc["cores"].as_u64().is_some_and(|c| c > 0));
        assert!(doc["ram_bytes"].as_u64().is_some_and(|r| r > 0));
        assert!(doc["disks"].as_array().is_some_and(|d| !d.is_empty()));
        assert!(doc["os"].as_str().is_some_and(|o| !o.is_empty()));
        assert!(doc.to_string().len() <= MAX_INVENTORY_BYTES);
    }

    #[test]
    fn software_is_cut_to_fit() {
        let mut doc = json!({"software": []});
        let many: Vec<Value> = (0..5000)
            .map(|i| json!({"name": format!("package-{i}"), "version": "1.0.0-1"}))
            .collect();
        fit_software(&mut doc, many);
        assert_eq!(doc["software_truncated"], true);
        assert!(doc.to_string().len() <= MAX_INVENTORY_BYTES);
        assert!(doc["software"].as_array().is_some_and(|s| s.len() > 100));
    }
}
