//! # centinela-ingest
//!
//! Transports into Centinela. Each decodes what arrives into `model` types, counts what it
//! refuses, and hands the rest to the runtime (`centinela-actors`).
//!
//! - [`mqtt`]: the embedded rumqttd broker (its own thread), its TLS listeners with client
//!   certificates signed by the engine's CA, the device auth handler (username = device key,
//!   password = device token), the in-process local-link consumer, and the drain that
//!   stores what the broker acknowledged before a shutdown.
//! - [`agent_ws`]: `/ws/agent`, the same messages over WebSocket for agents behind 443.
//! - [`sessions`]: live device sessions of both transports: per-device caps, and closing them
//!   when a device is deleted or its token replaced.
//! - [`pki`]: the engine's CA (sealed under the master key), server certificates and CSR signing.
//! - [`dispatch`]: the shared decode → runtime step, with counters.
//! - [`routeros`]: one poller actor per MikroTik router (metrics, health, interface rates, log
//!   following), its sealed credentials, and the fleet that follows device changes.
//!
//! Depends on: `centinela-model`, `centinela-storage`, `centinela-actors`, `centinela-routeros`,
//! rumqttd, actix-web.
//! Must not depend on `api` or `engine`.

pub mod agent_ws;
pub mod dispatch;
pub mod mqtt;
pub mod pki;
pub mod routeros;
pub mod sessions;
