//! # centinela-routeros
//!
//! The MikroTik RouterOS binary API (TCP 8728, TLS 8729), written from the protocol reference in
//! `docs/routeros-protocol.md` (no public crate fits: the complete one is AGPL-3.0).
//!
//! - [`codec`]: sans-IO framing — word length prefixes, sentences, command and reply parsing.
//!   Values are bytes; they become text (lossily) only at the edge.
//! - [`login`]: the ≥ 6.43 plain login and the < 6.43 MD5 challenge response.
//! - [`values`]: RouterOS value formats — durations (`1w2d3h4m5s`, `1d02:03:04`), booleans,
//!   dates (`mmm/dd/yyyy HH:MM:SS` and ISO), log times.
//! - [`client`]: an async tokio client — plain or TLS, login, tagged concurrent commands,
//!   streaming commands with `/cancel`, timeouts and clean errors. Inside: `connection` (the
//!   task that owns the socket and routes replies by tag), `stream`, `tls`, `config`, `rows`.
//!
//! Depends on: tokio, rustls + tokio-rustls (ring provider, passed explicitly), md-5, hex,
//! chrono, tracing. Must not depend on any other workspace crate.

pub mod client;
pub mod codec;
pub mod login;
pub mod values;
