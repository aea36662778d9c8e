//! # centinela-agent
//!
//! The Centinela endpoint agent: it measures a host, keeps every message in a durable queue
//! until the engine acknowledged it, and runs signed, approved scripts on request. It also
//! carries the fleet simulator used for demos and load tests. The wire contract is the
//! engine's (`/api/agents/*`, `/tenants/{device_key}/...` topics, `/ws/agent`).
//!
//! Modules, in the order data flows:
//! - [`config`]: the TOML configuration written by enrollment, default paths per OS.
//! - [`enroll`], [`cert`], [`provision`]: the enrollment API, key/CSR generation, certificate
//!   expiry and renewal; [`tls`]: rustls client configurations.
//! - [`collect`]: sysinfo telemetry, heartbeat, inventory (dpkg software list on Linux).
//! - [`message`]: queued items and how each transport frames them.
//! - [`queue`]: the bounded on-disk store-and-forward queue.
//! - [`transport`]: MQTT/TLS and WebSocket sessions with ordered acknowledgement and backoff.
//! - [`command`]: signed command verification, the replay store, script execution.
//! - [`runner`]: the `run` subcommand wiring it all; [`simulate`]: the fleet simulator.
//! - [`cli`]: the command line.
//!
//! Dependencies: inside the workspace only `centinela-model` (metric names); never the engine's
//! crates, so the agent builds small and for Windows. No `unsafe` (the workspace forbids it).

pub mod cert;
pub mod cli;
pub mod collect;
pub mod command;
pub mod config;
pub mod enroll;
pub mod message;
pub mod provision;
pub mod queue;
pub mod runner;
pub mod simulate;
pub mod tls;
pub mod transport;
