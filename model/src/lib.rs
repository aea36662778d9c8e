//! # centinela-model
//!
//! The pure domain of Centinela: identifiers, metric names, wire payloads, and rule evaluation.
//! Everything past an adapter (MQTT, WebSocket, REST) exists only as these types, so they reject
//! bad input at construction time with a reason.
//!
//! Modules:
//! - [`ids`]: typed identifiers (`TenantId`, `DeviceId` with its 32-hex `device_key`, ...).
//! - [`metric`]: `MetricName` (`[a-z0-9_.]+` with optional `{k=v,...}` labels) and `Sample`.
//! - [`payload`]: decoding of agent messages (`telemetry`, `heartbeat`, `events`, `inventory`)
//!   and topics, with a size limit and a typed rejection reason.
//! - [`threshold`]: threshold rules and the pure evaluation state machine
//!   (ok → pending → firing(warning|critical) → cleared).
//! - [`status`]: severities, alert and ticket states with their allowed transitions, priorities,
//!   roles and the caller's tenant scope.
//! - [`time`]: timestamps on input (RFC 3339 or epoch milliseconds).
//! - [`log_rules`]: data-driven log heuristics (brute force, WAN instability, link down) as a
//!   pure state machine with Spanish alert texts.
//! - [`counter`]: rates from counters, with 32-bit wrap and reset told apart.
//! - [`helpdesk`]: who may move a ticket where, what a comment moves, the password policy and
//!   the tenant profile's fields (RFC, CP, e-mail, allowed domains, phone, coordinates).
//! - [`maintenance`]: maintenance windows (one-off or weekly / monthly in a time zone) and
//!   their occurrences.
//! - [`sla`]: business-time calendars (contracted hours per weekday in an IANA zone, holidays)
//!   and the SLA clocks' arithmetic with pauses.
//!
//! Dependencies: serde, serde_json, uuid, chrono, chrono-tz, thiserror. No I/O, no async, and nothing else
//! from the workspace: every other crate depends on this one, never the reverse.

pub mod counter;
pub mod helpdesk;
pub mod ids;
pub mod log_rules;
pub mod maintenance;
pub mod metric;
pub mod payload;
pub mod sla;
pub mod status;
pub mod threshold;
pub mod time;

pub use ids::{AlertId, DeviceId, SiteId, TenantId, ThresholdId, TicketId, UserId};
pub use metric::{MetricName, Sample};
pub use status::{
    AlertState, AlertStatus, Role, Scope, Severity, TicketPriority, TicketSource, TicketStatus,
};
