//! Log heuristics: data-driven rules that turn a router's log lines into alerts.
//!
//! Each rule is data (`kind`, `threshold`, `window_seconds`, `severity`, `auto_ticket`,
//! `enabled`), configurable per tenant; the matching of each kind lives here as a pure state
//! machine fed with log lines and clock ticks:
//!
//! | kind              | matches (anywhere in the message)                 | opens when                                   | clears when                          |
//! |-------------------|---------------------------------------------------|----------------------------------------------|--------------------------------------|
//! | `brute_force`     | `login failure for user U from IP via S`          | `threshold` failures from one IP in `window` | no failure from that IP for `window` |
//! | `wan_instability` | `IFACE: disconnected` (PPP client, not `<user>`)  | `threshold` disconnects of IFACE in `window` | no disconnect for `window`           |
//! | `link_down`       | `IFACE link down` / `IFACE link up …`             | down with no up for `window` (the grace)     | `IFACE link up`                      |
//!
//! Alert texts are Spanish (the NOC's language) and name what was seen: the attacking IP, the
//! users and services tried, the interface. State is bounded: at most [`MAX_TRACKED`] sources
//! per rule, the quietest evicted first.

use crate::status::Severity;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap, VecDeque};

/// Most sources (IPs, interfaces) tracked per rule.
pub const MAX_TRACKED: usize = 1024;

/// Most alerts one rule keeps open on one device: a botnet hitting an exposed router must not
/// become hundreds of alerts and tickets. Sources past the cap are still counted.
pub const MAX_FIRING_PER_RULE: usize = 10;

fn firing_count(map: &HashMap<String, Counted>) -> usize {
    map.values().filter(|e| e.firing).count()
}

/// The kinds of log rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LogRuleKind {
    BruteForce,
    WanInstability,
    LinkDown,
}

impl LogRuleKind {
    pub const ALL: [LogRuleKind; 3] = [
        LogRuleKind::BruteForce,
        LogRuleKind::WanInstability,
        LogRuleKind::LinkDown,
    ];

    pub fn as_str(&self) -> &'static str {
        match self {
            LogRuleKind::BruteForce => "brute_force",
            LogRuleKind::WanInstability => "wan_instability",
            LogRuleKind::LinkDown => "link_down",
        }
    }

    pub fn parse(word: &str) -> Option<LogRuleKind> {
        LogRuleKind::ALL.into_iter().find(|k| k.as_str() == word)
    }
}

/// One configured rule.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct LogRule {
    pub kind: LogRuleKind,
    pub enabled: bool,
    /// Events within the window that open the alert (ignored by `link_down`).
    pub threshold: u32,
    /// The counting window; for `link_down`, the grace before a down link alerts.
    pub window_seconds: u32,
    /// `warning` or `critical`.
    #[schema(value_type = String)]
    pub severity: Severity,
    /// Open a helpdesk ticket when the alert is critical.
    pub auto_ticket: bool,
}

/// Why a rule was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogRuleError {
    #[error("threshold must be between 1 and 10000")]
    Threshold,
    #[error("window_seconds must be between 1 and 86400")]
    Window,
}

impl LogRule {
    /// The built-in rule of a kind, used when a tenant has not configured it.
    pub fn default_for(kind: LogRuleKind) -> LogRule {
        let (threshold, window_seconds, severity, auto_ticket) = match kind {
            LogRuleKind::BruteForce => (5, 120, Severity::Critical, true),
            LogRuleKind::WanInstability => (3, 600, Severity::Critical, true),
            LogRuleKind::LinkDown => (1, 15, Severity::Warning, false),
        };
        LogRule {
            kind,
            enabled: true,
            threshold,
            window_seconds,
            severity,
            auto_ticket,
        }
    }

    /// Every kind with its built-in settings.
    pub fn defaults() -> Vec<LogRule> {
        LogRuleKind::ALL
            .into_iter()
            .map(Self::default_for)
            .collect()
    }

    /// Checks the numeric bounds.
    pub fn validate(&self) -> Result<(), LogRuleError> {
        if !(1..=10_000).contains(&self.threshold) {
            return Err(LogRuleError::Threshold);
        }
        if !(1..=86_400).contains(&self.window_seconds) {
            return Err(LogRuleError::Window);
        }
        Ok(())
    }

    fn window(&self) -> Duration {
        Duration::seconds(i64::from(self.window_seconds))
    }
}

/// Merges a tenant's configured rules over the defaults (one rule per kind).
pub fn effective_rules(configured: &[LogRule]) -> Vec<LogRule> {
    LogRuleKind::ALL
        .into_iter()
        .map(|kind| {
            configured
                .iter()
                .find(|r| r.kind == kind)
                .cloned()
                .unwrap_or_else(|| LogRule::default_for(kind))
        })
        .collect()
}

/// One log line as the heuristics see it.
#[derive(Clone, Copy, Debug)]
pub struct LogLine<'a> {
    pub ts: DateTime<Utc>,
    pub topics: &'a str,
    pub message: &'a str,
}

/// An alert to open or clear.
#[derive(Clone, Debug, PartialEq)]
pub struct LogFinding {
    /// The alert key, e.g. `log.brute_force{ip=203.0.113.9}`.
    pub key: String,
    pub kind: LogRuleKind,
    pub change: FindingChange,
    pub at: DateTime<Utc>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FindingChange {
    Open {
        severity: Severity,
        auto_ticket: bool,
        title: String,
        description: String,
        recommended_action: String,
        value: f64,
    },
    Clear {
        value: f64,
    },
}

#[derive(Default)]
struct Counted {
    hits: VecDeque<DateTime<Utc>>,
    users: BTreeSet<String>,
    services: BTreeSet<String>,
    firing: bool,
    last: Option<DateTime<Utc>>,
}

#[derive(Default)]
struct Link {
    down_since: Option<DateTime<Utc>>,
    firing: bool,
}

/// The heuristics of one device.
pub struct LogHeuristics {
    device_name: String,
    rules: Vec<LogRule>,
    brute: HashMap<String, Counted>,
    wan: HashMap<String, Counted>,
    links: HashMap<String, Link>,
}

impl LogHeuristics {
    pub fn new(device_name: impl Into<String>, rules: Vec<LogRule>) -> Self {
        LogHeuristics {
            device_name: device_name.into(),
            rules: effective_rules(&rules),
            brute: HashMap::new(),
            wan: HashMap::new(),
            links: HashMap::new(),
        }
    }

    /// Replaces the rules, keeping what has been counted.
    pub fn set_rules(&mut self, rules: Vec<LogRule>) {
        self.rules = effective_rules(&rules);
    }

    fn rule(&self, kind: LogRuleKind) -> Option<LogRule> {
        self.rules
            .iter()
            .find(|r| r.kind == kind && r.enabled)
            .cloned()
    }

    /// Marks an alert found firing at start-up (by its key) so that it clears after a quiet
    /// window like one opened in this process. Unknown keys are ignored.
    pub fn restore_firing(&mut self, key: &str, now: DateTime<Utc>) {
        let Some((kind, source)) = key
            .strip_prefix("log.")
            .and_then(|rest| rest.split_once('{'))
            .and_then(|(kind, rest)| Some((kind, rest.strip_suffix('}')?.split_once('=')?.1)))
        else {
            return;
        };
        let counted = Counted {
            firing: true,
            last: Some(now),
            ..Counted::default()
        };
        match LogRuleKind::parse(kind) {
            Some(LogRuleKind::BruteForce) => {
                self.brute.insert(source.to_owned(), counted);
            }
            Some(LogRuleKind::WanInstability) => {
                self.wan.insert(source.to_owned(), counted);
            }
            Some(LogRuleKind::LinkDown) => {
                let link = Link {
                    down_since: Some(now),
                    firing: true,
                };
                self.links.insert(source.to_owned(), link);
            }
            None => {}
        }
    }

    /// Feeds one line, whose `ts` is when it happened on the same clock as `now` (the caller
    /// maps the router's clock onto the engine's). Lines older than a rule's window cannot open
    /// its alert (a backlog replayed at connection time is history, not an attack in progress).
    /// Returns the alerts it opens or clears.
    pub fn observe(&mut self, line: LogLine<'_>, now: DateTime<Utc>) -> Vec<LogFinding> {
        let mut out = Vec::new();
        let fresh = |rule: &LogRule| now - line.ts <= rule.window();
        if let Some(failure) = parse_login_failure(line.message) {
            if let Some(rule) = self.rule(LogRuleKind::BruteForce).filter(fresh) {
                out.extend(self.count_brute(&rule, failure, line.ts));
            }
        } else if let Some(iface) = parse_ppp_disconnect(line.message) {
            if let Some(rule) = self.rule(LogRuleKind::WanInstability).filter(fresh) {
                out.extend(self.count_wan(&rule, iface, line.ts));
            }
        } else if let Some((iface, up)) = parse_link(line.message)
            && self.rule(LogRuleKind::LinkDown).is_some()
        {
            out.extend(self.link_change(iface, up, line.ts));
        }
        out
    }

    fn count_brute(
        &mut self,
        rule: &LogRule,
        failure: LoginFailure<'_>,
        ts: DateTime<Utc>,
    ) -> Option<LogFinding> {
        evict_if_full(&mut self.brute, failure.address);
        let at_cap = firing_count(&self.brute) >= MAX_FIRING_PER_RULE;
        let entry = self.brute.entry(failure.address.to_owned()).or_default();
        push_hit(entry, ts, rule.window());
        entry.users.insert(failure.user.to_owned());
        entry.services.insert(failure.service.to_owned());
        let count = entry.hits.len();
        if entry.firing || at_cap || count < rule.threshold as usize {
            return None;
        }
        entry.firing = true;
        let ip = failure.address;
        let users = join(&entry.users);
        let services = join(&entry.services);
        let device = &self.device_name;
        Some(LogFinding {
            key: format!("log.brute_force{{ip={ip}}}"),
            kind: LogRuleKind::BruteForce,
            at: ts,
            change: FindingChange::Open {
                severity: rule.severity,
                auto_ticket: rule.auto_ticket,
                title: format!("Posible ataque de fuerza bruta desde {ip} en {device}"),
                description: format!(
                    "El router {device} registró {count} inicios de sesión fallidos desde {ip} \
                     en menos de {} s (usuarios: {users}; servicios: {services}).",
                    rule.window_seconds
                ),
                recommended_action: format!(
                    "Bloquee la IP {ip} en el firewall del router (/ip firewall address-list add \
                     list=bloqueados address={ip}, con una regla drop para esa lista) y deshabilite \
                     el servicio {services} o restrínjalo a redes de confianza (/ip service)."
                ),
                value: count as f64,
            },
        })
    }

    fn count_wan(&mut self, rule: &LogRule, iface: &str, ts: DateTime<Utc>) -> Option<LogFinding> {
        evict_if_full(&mut self.wan, iface);
        let at_cap = firing_count(&self.wan) >= MAX_FIRING_PER_RULE;
        let entry = self.wan.entry(iface.to_owned()).or_default();
        push_hit(entry, ts, rule.window());
        let count = entry.hits.len();
        if entry.firing || at_cap || count < rule.threshold as usize {
            return None;
        }
        entry.firing = true;
        let device = &self.device_name;
        Some(LogFinding {
            key: format!("log.wan_instability{{if={iface}}}"),
            kind: LogRuleKind::WanInstability,
            at: ts,
            change: FindingChange::Open {
                severity: rule.severity,
                auto_ticket: rule.auto_ticket,
                title: format!("Inestabilidad del enlace WAN {iface} en {device}"),
                description: format!(
                    "La sesión PPPoE {iface} del router {device} se desconectó {count} veces en \
                     menos de {} s.",
                    rule.window_seconds
                ),
                recommended_action: "Revise el enlace con el proveedor (señal, cableado, ONT o \
                    módem) y el estado de la cuenta PPPoE; si persiste, abra un reporte con el ISP."
                    .to_owned(),
                value: count as f64,
            },
        })
    }

    fn link_change(&mut self, iface: &str, up: bool, ts: DateTime<Utc>) -> Option<LogFinding> {
        evict_links_if_full(&mut self.links, iface);
        let link = self.links.entry(iface.to_owned()).or_default();
        if !up {
            link.down_since.get_or_insert(ts);
            return None;
        }
        link.down_since = None;
        if !link.firing {
            return None;
        }
        link.firing = false;
        Some(LogFinding {
            key: format!("log.link_down{{if={iface}}}"),
            kind: LogRuleKind::LinkDown,
            at: ts,
            change: FindingChange::Clear { value: 1.0 },
        })
    }

    /// Advances the clock: opens link-down alerts past their grace and clears counted alerts
    /// that have been quiet for a whole window.
    pub fn tick(&mut self, now: DateTime<Utc>) -> Vec<LogFinding> {
        let mut out = Vec::new();
        for (kind, map) in [
            (LogRuleKind::BruteForce, &mut self.brute),
            (LogRuleKind::WanInstability, &mut self.wan),
        ] {
            let rule = self.rules.iter().find(|r| r.kind == kind);
            let window = rule.map_or(Duration::seconds(60), LogRule::window);
            // A rule switched off clears what it had open.
            let disabled = rule.is_none_or(|r| !r.enabled);
            let label = if kind == LogRuleKind::BruteForce {
                "ip"
            } else {
                "if"
            };
            map.retain(|source, entry| {
                let quiet = disabled || entry.last.is_none_or(|last| now - last >= window);
                if quiet && entry.firing {
                    out.push(LogFinding {
                        key: format!("log.{}{{{label}={source}}}", kind.as_str()),
                        kind,
                        at: now,
                        change: FindingChange::Clear { value: 0.0 },
                    });
                }
                !quiet
            });
        }
        match self.rule(LogRuleKind::LinkDown) {
            Some(rule) => out.extend(self.open_down_links(&rule, now)),
            None => {
                for (iface, link) in self.links.drain() {
                    if link.firing {
                        out.push(LogFinding {
                            key: format!("log.link_down{{if={iface}}}"),
                            kind: LogRuleKind::LinkDown,
                            at: now,
                            change: FindingChange::Clear { value: 0.0 },
                        });
                    }
                }
            }
        }
        out
    }

    fn open_down_links(&mut self, rule: &LogRule, now: DateTime<Utc>) -> Vec<LogFinding> {
        let device = &self.device_name;
        let mut out = Vec::new();
        for (iface, link) in &mut self.links {
            let Some(since) = link.down_since else {
                continue;
            };
            if link.firing || now - since < rule.window() {
                continue;
            }
            link.firing = true;
            out.push(LogFinding {
                key: format!("log.link_down{{if={iface}}}"),
                kind: LogRuleKind::LinkDown,
                at: now,
                change: FindingChange::Open {
                    severity: rule.severity,
                    auto_ticket: rule.auto_ticket,
                    title: format!("Interfaz {iface} caída en {device}"),
                    description: format!(
                        "El router {device} registró «{iface} link down» hace más de {} s sin un \
                         «link up» posterior.",
                        rule.window_seconds
                    ),
                    recommended_action: format!(
                        "Verifique el cable, el puerto y el equipo conectado a {iface}, y si la \
                         interfaz fue deshabilitada."
                    ),
                    value: 0.0,
                },
            });
        }
        out
    }
}

fn push_hit(entry: &mut Counted, ts: DateTime<Utc>, window: Duration) {
    entry.hits.push_back(ts);
    while entry.hits.front().is_some_and(|first| ts - *first > window) {
        entry.hits.pop_front();
    }
    entry.last = Some(entry.last.map_or(ts, |last| last.max(ts)));
    // A flood from one source must not grow memory: the count saturates at the window's size.
    while entry.hits.len() > 10_000 {
        entry.hits.pop_front();
    }
}

fn evict_if_full(map: &mut HashMap<String, Counted>, incoming: &str) {
    if map.len() < MAX_TRACKED || map.contains_key(incoming) {
        return;
    }
    let quietest = map
        .iter()
        .filter(|(_, e)| !e.firing)
        .min_by_key(|(_, e)| e.last)
        .map(|(k, _)| k.clone());
    if let Some(key) = quietest {
        map.remove(&key);
    }
}

fn evict_links_if_full(map: &mut HashMap<String, Link>, incoming: &str) {
    if map.len() < MAX_TRACKED || map.contains_key(incoming) {
        return;
    }
    let idle = map
        .iter()
        .find(|(_, l)| !l.firing && l.down_since.is_none())
        .map(|(k, _)| k.clone());
    if let Some(key) = idle {
        map.remove(&key);
    }
}

fn join(set: &BTreeSet<String>) -> String {
    set.iter().cloned().collect::<Vec<_>>().join(", ")
}

/// `login failure for user U from ADDR via SERVICE`, tolerating a prefix.
#[derive(Debug, PartialEq, Eq)]
pub struct LoginFailure<'a> {
    pub user: &'a str,
    pub address: &'a str,
    pub service: &'a str,
}

pub fn parse_login_failure(message: &str) -> Option<LoginFailure<'_>> {
    const PREFIX: &str = "login failure for user ";
    let start = message.find(PREFIX)? + PREFIX.len();
    let rest = &message[start..];
    let (user, rest) = rest.rsplit_once(" from ")?;
    let (address, service) = rest.split_once(" via ")?;
    let service = service.split_whitespace().next()?;
    let address = address.trim();
    (!user.is_empty() && !address.is_empty() && !address.contains(' ')).then_some(LoginFailure {
        user,
        address,
        service,
    })
}

/// `IFACE: disconnected` of a PPP client interface (server sessions `<pppoe-user>` are
/// customers, not the router's WAN).
pub fn parse_ppp_disconnect(message: &str) -> Option<&str> {
    let (iface, event) = message.rsplit_once(": ")?;
    let iface = iface.split_whitespace().last()?;
    (event.trim() == "disconnected" && !iface.starts_with('<')).then_some(iface)
}

/// `IFACE link down` → (IFACE, false); `IFACE link up (speed …)` → (IFACE, true).
pub fn parse_link(message: &str) -> Option<(&str, bool)> {
    let (before, up) = if let Some(i) = message.find(" link down") {
        (&message[..i], false)
    } else if let Some(i) = message.find(" link up") {
        (&message[..i], true)
    } else {
        return None;
    };
    let iface = before.split_whitespace().last()?;
    Some((iface, up))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    impl LogHeuristics {
        /// Observes a line as it happens (now = its time).
        fn observe_at(&mut self, line: LogLine<'_>) -> Vec<LogFinding> {
            self.observe(line, line.ts)
        }
    }

    #[test]
    fn a_replayed_backlog_cannot_open_an_old_attack() {
        let mut h = LogHeuristics::new("R1", vec![]);
        let msg = "login failure for user admin from 203.0.113.9 via ssh";
        for i in 0..10 {
            assert!(h.observe(line(i, msg), at(3_600)).is_empty());
        }
    }

    #[test]
    fn disabling_a_rule_clears_its_open_alerts() {
        let mut h = LogHeuristics::new("R1", vec![]);
        h.observe_at(line(0, "ether1 link down"));
        assert_eq!(h.tick(at(20)).len(), 1, "opened");
        let mut off = LogRule::default_for(LogRuleKind::LinkDown);
        off.enabled = false;
        h.set_rules(vec![off]);
        let cleared = h.tick(at(21));
        assert_eq!(cleared.len(), 1);
        assert!(matches!(cleared[0].change, FindingChange::Clear { .. }));
    }

    #[test]
    fn open_alerts_per_rule_are_capped() {
        let mut h = LogHeuristics::new("R1", vec![]);
        let mut opened = 0;
        for ip in 0..50 {
            let msg = format!("login failure for user root from 198.51.100.{ip} via ssh");
            for i in 0..5 {
                opened += h.observe_at(line(ip * 5 + i, &msg)).len();
            }
        }
        assert_eq!(opened, MAX_FIRING_PER_RULE);
    }

    fn at(s: i64) -> DateTime<Utc> {
        Utc.timestamp_opt(1_800_000_000 + s, 0)
            .single()
            .expect("valid")
    }

    fn line(ts: i64, message: &str) -> LogLine<'_> {
        LogLine {
            ts: at(ts),
            topics: "system,error,critical",
            message,
        }
    }

    #[test]
    fn parsers_follow_the_router_formats() {
        let cases = [
            (
                "login failure for user admin from 203.0.113.9 via ssh",
                Some(("admin", "203.0.113.9", "ssh")),
            ),
            (
                "login failure for user root from 5C:80:B6:E8:74:DE via winbox",
                Some(("root", "5C:80:B6:E8:74:DE", "winbox")),
            ),
            (
                "FW: login failure for user a b from 10.0.0.1 via api",
                Some(("a b", "10.0.0.1", "api")),
            ),
            ("user admin logged in from 10.1.101.212 via winbox", None),
        ];
        for (message, want) in cases {
            let got = parse_login_failure(message).map(|f| (f.user, f.address, f.service));
            assert_eq!(got, want, "{message}");
        }
        assert_eq!(
            parse_ppp_disconnect("pppoe-out1: disconnected"),
            Some("pppoe-out1")
        );
        assert_eq!(parse_ppp_disconnect("<pppoe-user1>: disconnected"), None);
        assert_eq!(parse_ppp_disconnect("pppoe-out1: connected"), None);
        assert_eq!(parse_link("ether1 link down"), Some(("ether1", false)));
        assert_eq!(
            parse_link("uplink ether2 link up (speed 1G, full duplex)"),
            Some(("ether2", true))
        );
        assert_eq!(parse_link("router rebooted"), None);
    }

    #[test]
    fn brute_force_opens_once_naming_the_ip_then_clears_after_a_quiet_window() {
        let mut h = LogHeuristics::new("R1", vec![]);
        let msg = "login failure for user admin from 203.0.113.9 via ssh";
        for i in 0..4 {
            assert!(h.observe_at(line(i, msg)).is_empty());
        }
        let found = h.observe_at(line(4, msg));
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].key, "log.brute_force{ip=203.0.113.9}");
        let FindingChange::Open {
            title,
            recommended_action,
            severity,
            ..
        } = &found[0].change
        else {
            panic!("expected an opening");
        };
        assert!(title.contains("203.0.113.9") && recommended_action.contains("203.0.113.9"));
        assert_eq!(*severity, Severity::Critical);
        assert!(h.observe_at(line(5, msg)).is_empty(), "opens once");
        assert!(h.tick(at(60)).is_empty(), "still inside the window");
        let cleared = h.tick(at(5 + 120));
        assert_eq!(cleared.len(), 1);
        assert!(matches!(cleared[0].change, FindingChange::Clear { .. }));
    }

    #[test]
    fn failures_spread_beyond_the_window_do_not_open() {
        let mut h = LogHeuristics::new("R1", vec![]);
        let msg = "login failure for user admin from 198.51.100.7 via api";
        for i in 0..10 {
            assert!(h.observe_at(line(i * 200, msg)).is_empty());
        }
    }

    #[test]
    fn wan_instability_counts_disconnects_of_the_client_interface() {
        let mut h = LogHeuristics::new("R1", vec![]);
        let mut opened = Vec::new();
        for i in 0..3 {
            opened.extend(h.observe_at(line(i * 10, "pppoe-out1: disconnected")));
            opened.extend(h.observe_at(line(i * 10 + 2, "pppoe-out1: connected")));
        }
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].key, "log.wan_instability{if=pppoe-out1}");
    }

    #[test]
    fn link_down_waits_for_its_grace_and_clears_on_link_up() {
        let mut h = LogHeuristics::new("R1", vec![]);
        assert!(h.observe_at(line(0, "ether1 link down")).is_empty());
        assert!(h.tick(at(10)).is_empty());
        let opened = h.tick(at(15));
        assert_eq!(opened.len(), 1);
        assert_eq!(opened[0].key, "log.link_down{if=ether1}");
        let cleared = h.observe_at(line(20, "ether1 link up (speed 1G, full duplex)"));
        assert!(matches!(cleared[0].change, FindingChange::Clear { .. }));
        // A flap shorter than the grace never alerts.
        h.observe_at(line(30, "ether2 link down"));
        h.observe_at(line(31, "ether2 link up (speed 100M, full duplex)"));
        assert!(h.tick(at(100)).is_empty());
    }

    #[test]
    fn disabled_and_tuned_rules_are_respected() {
        let mut off = LogRule::default_for(LogRuleKind::BruteForce);
        off.enabled = false;
        let mut h = LogHeuristics::new("R1", vec![off]);
        let msg = "login failure for user admin from 203.0.113.9 via ssh";
        assert!((0..20).all(|i| h.observe_at(line(i, msg)).is_empty()));
        let mut two = LogRule::default_for(LogRuleKind::BruteForce);
        two.threshold = 2;
        h.set_rules(vec![two]);
        assert!(h.observe_at(line(21, msg)).is_empty());
        assert_eq!(h.observe_at(line(22, msg)).len(), 1);
        let bad = LogRule {
            threshold: 0,
            ..LogRule::default_for(LogRuleKind::LinkDown)
        };
        assert_eq!(bad.validate(), Err(LogRuleError::Threshold));
    }

    #[test]
    fn restored_alerts_clear_after_a_quiet_window() {
        let mut h = LogHeuristics::new("R1", vec![]);
        h.restore_firing("log.brute_force{ip=203.0.113.9}", at(0));
        h.restore_firing("log.nonsense", at(0));
        let cleared = h.tick(at(200));
        assert_eq!(cleared.len(), 1);
        assert_eq!(cleared[0].key, "log.brute_force{ip=203.0.113.9}");
    }

    #[test]
    fn tracked_sources_are_bounded() {
        let mut h = LogHeuristics::new("R1", vec![]);
        for i in 0..(MAX_TRACKED as i64 + 50) {
            let msg = format!(
                "login failure for user u from 10.0.{}.{} via ssh",
                i / 256,
                i % 256
            );
            h.observe_at(line(i, &msg));
        }
        assert!(h.brute.len() <= MAX_TRACKED);
    }
}
