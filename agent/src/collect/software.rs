//! Installed software, where the OS exposes it cheaply.
//!
//! Linux: the dpkg status file (Debian, Ubuntu), parsed best effort — a missing or odd file is
//! an empty list, never an error. Other systems report an empty list for now (on Windows the
//! uninstall registry keys would need a registry crate, which this workspace does not carry).

use serde_json::{Value, json};

/// Where dpkg keeps the installed package database.
const DPKG_STATUS: &str = "/var/lib/dpkg/status";

/// Installed packages as `[{"name","version"}]`, sorted by name.
pub fn installed() -> Vec<Value> {
    if cfg!(target_os = "linux")
        && let Ok(text) = std::fs::read_to_string(DPKG_STATUS)
    {
        return parse_dpkg_status(&text)
            .into_iter()
            .map(|(name, version)| json!({"name": name, "version": version}))
            .collect();
    }
    Vec::new()
}

/// Parses a dpkg status file: one paragraph per package, kept when its `Status` ends in
/// `installed`.
pub fn parse_dpkg_status(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for paragraph in text.split("\n\n") {
        let mut name = None;
        let mut version = None;
        let mut installed = false;
        for line in paragraph.lines() {
            if let Some(v) = line.strip_prefix("Package:") {
                name = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("Version:") {
                version = Some(v.trim().to_owned());
            } else if let Some(v) = line.strip_prefix("Status:") {
                installed = v.trim().ends_with(" installed");
            }
        }
        if let (Some(name), Some(version), true) = (name, version, installed) {
            out.push((name, version));
        }
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_installed_packages_only() {
        let text = "Package: zlib1g\nStatus: install ok installed\nVersion: 1:1.2.13\n\
                    Description: compression\n multi-line\n\n\
                    Package: gone\nStatus: deinstall ok config-files\nVersion: 1.0\n\n\
                    Package: bash\nStatus: install ok installed\nPriority: required\nVersion: 5.2-2\n";
        assert_eq!(
            parse_dpkg_status(text),
            vec![
                ("bash".to_owned(), "5.2-2".to_owned()),
                ("zlib1g".to_owned(), "1:1.2.13".to_owned())
            ]
        );
        assert!(parse_dpkg_status("garbage").is_empty());
    }
}
