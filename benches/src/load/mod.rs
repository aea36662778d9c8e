//! The load tool: a generator of agents (MQTT/TLS with enrolled device certificates, or
//! `/ws/agent`), a NOC listener timing alerts, a raw `COPY` baseline and the harness that runs
//! them all against a private engine.
//!
//! Modules, bottom up:
//! - [`pacing`]: how many messages are due at an instant for a target rate (pure).
//! - [`payload`]: telemetry bodies written into a reused buffer, RFC 3339 with microseconds (pure).
//! - [`cpu`]: CPU seconds of the engine, PostgreSQL and the tool, from `/proc`.
//! - [`prom`]: reading one value from the engine's Prometheus text (pure).
//! - [`report`]: the figures, their targets, the table, JSON and Markdown (pure).
//! - [`engine`]: starting, restarting and measuring the `centinela` process.
//! - [`api`]: the HTTP calls a person and an agent make (login, tenant, site, thresholds,
//!   enrollment, certificate).
//! - [`db`]: fresh database, bulk devices, counts and the lost-message check.
//! - [`fleet`]: many connected devices driven at a rate or flat out, with PUBACK/ack tracking.
//! - [`noc`]: a `/ws/noc` subscriber recording publish → `alert opened` latency (HDR histogram).
//! - [`copy`]: the raw binary `COPY` baseline.
//! - [`run`]: one load phase with progress and its measurements; [`harness`]: the five phases.

pub mod api;
pub mod api_phase;
pub mod copy;
pub mod cpu;
pub mod db;
pub mod engine;
pub mod fleet;
pub mod harness;
pub mod noc;
pub mod pacing;
pub mod payload;
pub mod prom;
pub mod report;
pub mod run;
