//! # centinela-benches
//!
//! Development-only benchmarks, in two kinds:
//! - `benches/hot_paths.rs`: criterion micro-benchmarks of the per-message hot paths (payload
//!   decode, threshold evaluation, the RouterOS codec, the binary COPY encoder); run them with
//!   `cargo bench -p centinela-benches`.
//! - [`load`]: the end-to-end load tool and harness behind the binary `centinela-load`
//!   (`scripts/bench` runs its `harness` command against a private engine and database).
//!
//! Depends on: `centinela-model`, `centinela-storage` (COPY encoder, `Store` scopes). It talks to
//! the engine only as a client would (HTTP, MQTT/TLS, WebSocket) and to PostgreSQL directly for
//! counting. Nothing depends on it.

pub mod load;
