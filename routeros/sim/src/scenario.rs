//! The scenario: what the simulated router is and how it changes over time, read from TOML.
//!
//! A scenario is declarative and keyed on *seconds since the simulator started* (`at`), so a
//! test can script "CPU jumps to 95 % after 0.3 s and a brute-force burst hits the log" without
//! touching the simulator's code. Every section is optional: a missing section keeps the
//! defaults of [`Scenario::default`], a plausible quiet home router. Parsing is strict
//! (`deny_unknown_fields`) and [`Scenario::from_toml_str`] validates ranges so that a typo
//! fails with one line naming the field instead of silently simulating something else.
//! The commented reference is `routeros/sim/scenarios/example.toml`.

use serde::Deserialize;

mod defaults;
mod validate;

pub(crate) use validate::parse_clock;

/// Why a scenario could not be used. The message is one line naming the problem.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("cannot read scenario {path}: {reason}")]
    Read { path: String, reason: String },
    /// TOML syntax error or a field of the wrong type / unknown name.
    #[error("scenario line {line}, column {column}: {message}")]
    Syntax {
        line: usize,
        column: usize,
        message: String,
    },
    /// Well-formed TOML whose values make no sense (negative time, cpu-load 140, …).
    #[error("scenario: {0}")]
    Invalid(String),
}

/// The whole scenario. See the module documentation.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Scenario {
    /// Identity, hardware and clock of the router.
    pub router: RouterSpec,
    /// Time steps of `/system/resource` values; the last step with `at` ≤ elapsed is in effect.
    pub resource: Vec<ResourceStep>,
    /// `/system/health` sensor values; absent sensors are not reported.
    pub health: Health,
    /// Interfaces of `/interface/print` and `monitor-traffic`.
    pub interface: Vec<InterfaceSpec>,
    /// Active PPP sessions of `/ppp/active/print` (each also appears as a `<pppoe-NAME>` interface).
    pub ppp: Vec<PppSession>,
    /// DHCP server leases of `/ip/dhcp-server/lease/print`.
    pub dhcp: Dhcp,
    /// Scheduled log lines (negative `at` = already in the log buffer at start).
    pub log: Vec<LogSchedule>,
    /// Misbehaviours and version-dependent framing switches for client robustness tests.
    pub quirks: Quirks,
}

/// Identity, hardware and clock of the router.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RouterSpec {
    /// `/system/identity` `name`.
    pub identity: String,
    /// `board-name` of `/system/resource` and `/system/routerboard`.
    pub board_name: String,
    /// `/system/routerboard` `model`.
    pub model: String,
    /// `/system/routerboard` `serial-number`.
    pub serial_number: String,
    /// `architecture-name`, e.g. `arm`, `mipsbe`, `x86_64`.
    pub architecture: String,
    /// `cpu`, e.g. `ARMv7`.
    pub cpu: String,
    /// `cpu-count`.
    pub cpu_count: u32,
    /// `cpu-frequency` in MHz.
    pub cpu_frequency: u32,
    /// `total-memory` in bytes.
    pub total_memory: u64,
    /// `total-hdd-space` in bytes.
    pub total_hdd: u64,
    /// Uptime in seconds when the simulator starts.
    pub uptime: f64,
    /// `routerboard=true` (false for x86/CHR).
    pub routerboard: bool,
    /// Router-local wall clock at start, `YYYY-MM-DD HH:MM:SS`; default: the host's UTC time.
    pub clock: Option<String>,
    /// `/system/clock` `time-zone-name`.
    pub time_zone: String,
    /// `/system/clock` `gmt-offset`, e.g. `+00:00`.
    pub gmt_offset: String,
}

/// One step of the resource schedule. Absent values carry over from earlier steps.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ResourceStep {
    /// Seconds since start at which this step takes effect.
    pub at: f64,
    /// `cpu-load` percent (0–100).
    pub cpu_load: Option<u8>,
    /// `free-memory` in bytes (≤ `router.total_memory`).
    pub free_memory: Option<u64>,
    /// `free-hdd-space` in bytes (≤ `router.total_hdd`).
    pub free_hdd: Option<u64>,
}

/// Sensor values of `/system/health`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Health {
    /// Board temperature, °C.
    pub temperature: Option<f64>,
    /// Supply voltage, V.
    pub voltage: Option<f64>,
    /// CPU temperature, °C.
    pub cpu_temperature: Option<f64>,
}

/// One interface.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct InterfaceSpec {
    /// `name` (unique, required).
    pub name: String,
    /// `type`, e.g. `ether`, `vlan`, `bridge`, `wlan`, `pppoe-out`.
    #[serde(rename = "type")]
    pub kind: String,
    /// `mac-address`; default derived from the interface position.
    pub mac: Option<String>,
    /// `mtu` / `actual-mtu`.
    pub mtu: u32,
    /// Receive rate in bits per second while the link is up.
    pub rx_bps: u64,
    /// Transmit rate in bits per second while the link is up.
    pub tx_bps: u64,
    /// Average packet size in bytes, to derive packet counters and rates from bit rates.
    pub packet_size: u32,
    /// Link speed used in `link up (speed …, full duplex)` log lines, e.g. `1G`, `100M`.
    pub speed: String,
    /// Link state when not inside a flap (false = no cable: never running).
    pub running: bool,
    /// `disabled` (a disabled interface is never running).
    pub disabled: bool,
    /// `comment`, omitted when absent.
    pub comment: Option<String>,
    /// Initial `rx-byte`.
    pub rx_byte: u64,
    /// Initial `tx-byte`.
    pub tx_byte: u64,
    /// Initial `rx-packet`.
    pub rx_packet: u64,
    /// Initial `tx-packet`.
    pub tx_packet: u64,
    /// `rx-drop` (constant).
    pub rx_drop: u64,
    /// `tx-drop` (constant).
    pub tx_drop: u64,
    /// `rx-error` (constant).
    pub rx_error: u64,
    /// `tx-error` (constant).
    pub tx_error: u64,
    /// Initial `link-downs`.
    pub link_downs: u64,
    /// Link flaps: down at `at` for `down_for` seconds, logged as `link down` / `link up`.
    pub flaps: Vec<Flap>,
    /// Seconds since start at which every counter restarts from 0 (a counter reset).
    pub reset_at: Option<f64>,
}

/// A link flap.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Flap {
    /// Seconds since start at which the link goes down.
    pub at: f64,
    /// Seconds the link stays down.
    pub down_for: f64,
}

/// An active PPP session.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PppSession {
    /// `name` (the PPP user).
    pub name: String,
    /// `service`: `pppoe`, `ovpn`, `l2tp`, …
    pub service: String,
    /// `caller-id` (MAC for PPPoE, peer IP for tunnels).
    pub caller_id: String,
    /// `address` given to the peer.
    pub address: String,
    /// Session uptime in seconds at start.
    pub uptime: f64,
    /// `encoding`, often empty.
    pub encoding: String,
    /// Receive rate of the dynamic `<service-NAME>` interface, bits per second.
    pub rx_bps: u64,
    /// Transmit rate of the dynamic `<service-NAME>` interface, bits per second.
    pub tx_bps: u64,
}

/// DHCP server and its leases.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Dhcp {
    /// Server name (`server` of each lease, `/ip/dhcp-server` `name`).
    pub server: String,
    /// Number of extra bound leases to generate (192.168.88.100 upwards).
    pub bound: u32,
    /// Explicit leases.
    pub lease: Vec<LeaseSpec>,
}

/// One explicit DHCP lease.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LeaseSpec {
    /// `address`.
    pub address: String,
    /// `mac-address`.
    pub mac: String,
    /// `host-name`, omitted when absent.
    pub host_name: Option<String>,
    /// `status`: `bound`, `waiting`, `offered`, `busy`.
    pub status: String,
    /// `expires-after` in seconds at start (counts down).
    pub expires_after: f64,
    /// `comment`, omitted when absent.
    pub comment: Option<String>,
}

/// A scheduled log line, possibly repeated.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSchedule {
    /// Seconds since start of the first occurrence (negative = already in the buffer).
    pub at: f64,
    /// Comma-separated topics, e.g. `system,error,critical`.
    pub topics: String,
    /// The message text.
    pub message: String,
    /// How many times the line is logged.
    #[serde(default = "defaults::one")]
    pub repeat: u32,
    /// Seconds between repetitions.
    #[serde(default = "defaults::one_second")]
    pub every: f64,
}

/// Misbehaviours and framing switches.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Quirks {
    /// Write every reply byte by byte (a client must reassemble words across reads).
    pub fragment_writes: bool,
    /// Delay before each write, in milliseconds.
    pub response_delay_ms: u64,
    /// Send `!empty` before `!done` for zero rows, as RouterOS ≥ 7.18 does (off for 6.49/7.16).
    pub emit_empty: bool,
    /// Close the connection after a failed login instead of allowing a retry.
    pub close_on_login_failure: bool,
}

impl Scenario {
    /// Parses and validates a scenario.
    pub fn from_toml_str(s: &str) -> Result<Scenario, ScenarioError> {
        let scenario: Scenario = toml::from_str(s).map_err(|error| syntax_error(s, &error))?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// Checks ranges (times, percentages, MAC and IP formats, unique interface names). Parsing
    /// calls it; call it yourself after building or editing a scenario in code.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        validate::check(self)
    }

    /// Reads, parses and validates a scenario file.
    pub fn from_file(path: &std::path::Path) -> Result<Scenario, ScenarioError> {
        let text = std::fs::read_to_string(path).map_err(|error| ScenarioError::Read {
            path: path.display().to_string(),
            reason: error.to_string(),
        })?;
        Scenario::from_toml_str(&text)
    }
}

/// Turns a (multi-line) TOML error into a one-line error with a position.
fn syntax_error(input: &str, error: &toml::de::Error) -> ScenarioError {
    let offset = error.span().map_or(0, |span| span.start).min(input.len());
    let before = input.get(..offset).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    let message = error
        .message()
        .lines()
        .next()
        .unwrap_or("invalid TOML")
        .to_string();
    ScenarioError::Syntax {
        line,
        column,
        message,
    }
}

#[cfg(test)]
mod tests;
