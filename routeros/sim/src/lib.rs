//! # centinela-routeros-sim
//!
//! A MikroTik RouterOS API (binary protocol, TCP 8728 / TLS) simulator, faithful to the wire
//! behaviour recorded in `docs/routeros-protocol.md`: login (≥ 6.43 plain and < 6.43 MD5
//! challenge), tags, multiple traps, `!fatal`, queries, `.proplist`, `count-only`, streaming
//! commands with `/cancel` ordering, and the field names and value formats of RouterOS 6.49 and
//! 7.16. Its data changes over time following a TOML [`Scenario`], so that pollers, threshold
//! rules and log classifiers can be tested end to end without a router.
//!
//! Crate map:
//! - [`scenario`]: the TOML model, its defaults and validation.
//! - `router`: the shared router state — clock, log ring buffer and log subscribers; a
//!   background task applies the schedule.
//! - `menus` (+ `format`): rows of each menu at an instant, formatted per version.
//! - `query`, `item`: the `?` stack machine and `.proplist` projection.
//! - `session`, `commands`, `streams`: one task per connection — login, dispatch of one-shot
//!   commands, streaming commands and `/cancel`.
//! - `server`: [`start`] / [`SimHandle`], the listener and TLS.
//!
//! Depends on `centinela-routeros` for the codec, the MD5 login and value formats, so the
//! simulator and the client share one framing implementation; its tests therefore also run
//! the third-party clients `librouteros` and `routeros-api` against it. Must not depend on
//! other workspace crates.

mod auth;
mod commands;
mod format;
mod item;
mod menus;
mod query;
mod router;
pub mod scenario;
mod server;
mod session;
mod streams;

use std::net::SocketAddr;

pub use scenario::{Scenario, ScenarioError};
pub use server::{SimHandle, start};

/// Which RouterOS release the simulator imitates (value formats and reply shapes differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RouterVersion {
    /// 6.49.10 (long-term): clock-style uptime, `mmm/dd/yyyy` dates, flat `/system/health`.
    V6_49,
    /// 7.16 (stable): unit-style uptime, ISO dates, one `/system/health` row per sensor.
    V7_16,
}

impl std::str::FromStr for RouterVersion {
    type Err = String;

    /// `6.49` or `7.16`, as on the command line.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "6.49" => Ok(RouterVersion::V6_49),
            "7.16" => Ok(RouterVersion::V7_16),
            other => Err(format!(
                "unsupported RouterOS version {other:?} (use 6.49 or 7.16)"
            )),
        }
    }
}

/// Everything [`start`] needs.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Address to bind; port 0 picks a free port (see [`SimHandle::local_addr`]).
    pub listen: SocketAddr,
    /// Accepted `(name, password)` pairs; empty means `admin` with an empty password.
    pub users: Vec<(String, String)>,
    /// Only the pre-6.43 MD5 challenge login (any `/login` without `=response=` gets a challenge).
    pub legacy_login: bool,
    /// Serve TLS with a self-signed certificate generated at start.
    pub tls: bool,
    /// Which release to imitate.
    pub version: RouterVersion,
    /// The router's data and its changes over time.
    pub scenario: Scenario,
}

impl Default for SimConfig {
    /// `127.0.0.1:0`, `admin` with an empty password, plain login, no TLS, 7.16, default scenario.
    fn default() -> Self {
        SimConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            users: Vec::new(),
            legacy_login: false,
            tls: false,
            version: RouterVersion::V7_16,
            scenario: Scenario::default(),
        }
    }
}
