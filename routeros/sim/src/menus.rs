//! The menus the simulator knows, how a command path resolves to one, and their rows.
//!
//! A command path `/ip/dhcp-server/lease/print` is a menu (`ip/dhcp-server/lease`) plus a
//! verb (`print`). Resolution mirrors RouterOS's two failure modes: a path segment that names
//! nothing is `no such command or directory (<segment>)` + `no such command prefix`; a known
//! menu with an unknown verb is `no such command`. Rows are rebuilt on every request from the
//! scenario and the elapsed time (`system`, `interface`, `other` submodules).

mod interface;
mod other;
mod system;

pub(crate) use interface::{Link, build_links, monitor_row};
pub(crate) use other::log_row;

use crate::item::Item;
use crate::router::Router;

/// A menu with data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Menu {
    Resource,
    Identity,
    Health,
    Clock,
    Routerboard,
    Interface,
    PppActive,
    DhcpServer,
    DhcpLease,
    Log,
}

/// Menu paths (without the leading `/`).
const MENUS: &[(&str, Menu)] = &[
    ("system/resource", Menu::Resource),
    ("system/identity", Menu::Identity),
    ("system/health", Menu::Health),
    ("system/clock", Menu::Clock),
    ("system/routerboard", Menu::Routerboard),
    ("interface", Menu::Interface),
    ("ppp/active", Menu::PppActive),
    ("ip/dhcp-server", Menu::DhcpServer),
    ("ip/dhcp-server/lease", Menu::DhcpLease),
    ("log", Menu::Log),
];

/// Directories that only hold other menus.
const DIRECTORIES: &[&str] = &["system", "ip", "ppp"];

/// What a command path names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Resolved {
    /// A menu and one of its verbs (`print`, `getall`, `listen`, `monitor-traffic`).
    Command(Menu, Verb),
    /// The menu exists but has no such verb → `no such command`.
    UnknownVerb,
    /// This segment names nothing → `no such command or directory (<segment>)` + prefix trap.
    UnknownSegment(String),
}

/// The verbs the simulator implements.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verb {
    /// `print` and its alias `getall`.
    Print,
    Listen,
    MonitorTraffic,
}

fn menu_at(path: &str) -> Option<Menu> {
    MENUS.iter().find(|(p, _)| *p == path).map(|(_, m)| *m)
}

fn is_node(path: &str) -> bool {
    menu_at(path).is_some() || DIRECTORIES.contains(&path)
}

fn verb_of(menu: Menu, word: &str) -> Option<Verb> {
    match word {
        "print" | "getall" => Some(Verb::Print),
        "listen" => Some(Verb::Listen),
        "monitor-traffic" if menu == Menu::Interface => Some(Verb::MonitorTraffic),
        _ => None,
    }
}

/// Resolves a command word such as `/interface/print` (the leading `/` is optional).
pub(crate) fn resolve(command: &str) -> Resolved {
    let segments: Vec<&str> = command.trim_start_matches('/').split('/').collect();
    let Some((verb, menu_segments)) = segments.split_last() else {
        return Resolved::UnknownSegment(String::new());
    };
    for depth in 1..=menu_segments.len() {
        if !is_node(&menu_segments[..depth].join("/")) {
            return Resolved::UnknownSegment(menu_segments[depth - 1].to_string());
        }
    }
    let menu_path = menu_segments.join("/");
    let full_path = if menu_path.is_empty() {
        verb.to_string()
    } else {
        format!("{menu_path}/{verb}")
    };
    match menu_at(&menu_path) {
        Some(menu) => match verb_of(menu, verb) {
            Some(verb) => Resolved::Command(menu, verb),
            None => Resolved::UnknownVerb,
        },
        None if is_node(&full_path) => Resolved::UnknownVerb,
        None => Resolved::UnknownSegment((*verb).to_string()),
    }
}

/// The rows a `print` of `menu` returns now.
pub(crate) fn rows(router: &Router, menu: Menu) -> Vec<Item> {
    let elapsed = router.elapsed();
    match menu {
        Menu::Resource => vec![system::resource(router, elapsed)],
        Menu::Identity => vec![Item::new().with("name", &router.scenario.router.identity)],
        Menu::Health => system::health(router),
        Menu::Clock => vec![system::clock(router)],
        Menu::Routerboard => vec![system::routerboard(router)],
        Menu::Interface => interface::rows(router, elapsed),
        Menu::PppActive => other::ppp_active(router, elapsed),
        Menu::DhcpServer => other::dhcp_servers(router),
        Menu::DhcpLease => other::dhcp_leases(router, elapsed),
        Menu::Log => router
            .log_entries()
            .iter()
            .map(|entry| log_row(router, entry))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::{Menu, Resolved, Verb, resolve};

    #[test]
    fn path_resolution_table() {
        let unknown = |s: &str| Resolved::UnknownSegment(s.to_string());
        let table = [
            (
                "/system/resource/print",
                Resolved::Command(Menu::Resource, Verb::Print),
            ),
            (
                "/system/resource/getall",
                Resolved::Command(Menu::Resource, Verb::Print),
            ),
            (
                "/interface/monitor-traffic",
                Resolved::Command(Menu::Interface, Verb::MonitorTraffic),
            ),
            (
                "/ip/dhcp-server/lease/print",
                Resolved::Command(Menu::DhcpLease, Verb::Print),
            ),
            (
                "/ip/dhcp-server/print",
                Resolved::Command(Menu::DhcpServer, Verb::Print),
            ),
            ("/log/listen", Resolved::Command(Menu::Log, Verb::Listen)),
            ("/log/monitor-traffic", Resolved::UnknownVerb),
            ("/system/resource/reboot", Resolved::UnknownVerb),
            ("/system/resource", Resolved::UnknownVerb),
            ("/ip/adress/print", unknown("adress")),
            ("/system/routerboardx/print", unknown("routerboardx")),
            ("/x", unknown("x")),
            ("/nothing/print", unknown("nothing")),
            ("/system/print", unknown("print")),
        ];
        for (path, expected) in table {
            assert_eq!(resolve(path), expected, "{path}");
        }
    }
}
