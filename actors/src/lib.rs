//! # centinela-actors
//!
//! The runtime core: what happens to a message once a transport has decoded it.
//!
//! - [`runtime`]: [`Runtime`], the cheap-to-clone handle transports and the API use. It owns the
//!   registry (dashmap: device id → device actor address), the arbiters device actors are
//!   sharded over (one per core), the tenant actors, the hub and the writer.
//! - [`device`]: one actor per device. Keeps threshold state machines per (threshold, series)
//!   and the device's health; turns transitions into alert changes for its tenant actor.
//! - [`tenant`]: one actor per tenant. Owns alert → ticket policy and persists alerts, tickets
//!   and their history transactionally, one change at a time.
//! - [`hub`]: fans alert, device and ticket events out to NOC sessions, filtered by scope;
//!   [`noc_events`]: [`NocMessage`], the one typed enum of those events (the `/ws/noc` shapes).
//! - [`writer`]: batches metric points (binary `COPY`) and log lines by size and time, retries
//!   failed writes, splits batches PostgreSQL refuses into stored rows and dead letters, and
//!   flushes everything accepted on shutdown.
//! - [`inventory`]: the latest inventory of each device, written off the ingest path.
//! - [`sla`]: what must happen on time on the helpdesk side — SLA warnings, breaches and
//!   reminders (stored, then announced), and alerts becoming normal when their maintenance
//!   window ends; [`maintenance`]: the in-memory index of windows device actors consult;
//!   [`clock`]: the engine's "now" (a seam only the engine's tests can move).
//! - [`rules`]: the effective thresholds of a device (device over site over tenant).
//! - [`telemetry`]: the engine's Prometheus counters.
//!
//! Backpressure: ingest hands points to the writer through a bounded channel (awaiting when it
//! is full, which slows the transport) and evaluation to device actors with `try_send` on
//! bounded mailboxes; a refusal is counted and then waited out, never dropped. Alert changes go
//! to tenant actors' bounded mailboxes (`alert_queue`) with `try_send`; when one is full the
//! device actor waits for room (counted), holding its own mailbox, which slows ingest in turn.
//! Tenant actors retry every change until it is stored, so none is lost.
//!
//! Depends on: `centinela-model`, `centinela-storage`, actix. Must not depend on `ingest`, `api`
//! or `engine`.

pub mod clock;
pub mod commands;
pub mod device;
pub mod hub;
pub mod inventory;
pub mod maintenance;
pub mod noc_events;
pub mod presence;
pub mod rules;
pub mod runtime;
pub mod sla;
pub mod telemetry;
pub mod tenant;
pub mod writer;

pub use commands::CommandSink;
pub use device::{DeviceLimits, RouterLogLine};
pub use hub::{Hub, NocEvent, NocSubscribe, NocUnsubscribe};
pub use noc_events::{AlertEvent, DeviceEvent, NocMessage, ScriptRunEvent, TicketEvent};
pub use presence::PresenceConfig;
pub use runtime::{DeviceChange, IngestError, Runtime, RuntimeConfig};
pub use telemetry::Telemetry;
