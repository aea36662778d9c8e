//! # centinela-api
//!
//! The REST API and the NOC WebSocket of Centinela (actix-web). The engine builds an
//! [`ApiState`] and mounts everything with
//! `App::new().app_data(web::Data::new(state)).configure(centinela_api::configure)`.
//!
//! Modules:
//! - [`error`]: [`ApiError`], the one place failures become `{"error","message"}` bodies, and
//!   the handlers that turn malformed JSON, query strings and paths into 400s.
//! - [`state`]: [`ApiState`], [`AuthConfig`], [`MqttEndpoint`], [`CertificateSigner`],
//!   [`CredentialSealer`].
//! - [`tokens`]: HS256 access and refresh JWTs (with the login session id). [`passwords`]:
//!   argon2id hashing and the failure limiter. [`sessions`]: the login limiters, the password
//!   hashing slots and the registry of live NOC sessions that a logout closes. [`caller`]: the [`Caller`] extractor and the access rules (visibility,
//!   roles, suspended tenants) applied on top of row-level security.
//! - Resources, one module each: [`auth`], [`tenants`], [`sites`], [`devices`] (+
//!   [`device_metrics`], [`device_logs`], [`routers`] for a router's connection settings),
//!   [`thresholds`], [`log_rules`], [`alerts`], [`tickets`] (reads) with [`ticket_writes`]
//!   (create, moves, comments), [`ticket_categories`], [`technician_assignments`], [`agents`] (enrollment,
//!   certificates), [`scripts`] (remote scripts, approval, signed runs).
//! - [`users`]: the users API and its role rules; [`requester`]: a requester's sites and devices
//!   as the API checks them on top of row-level security; [`audit`]: the audit trail (JSON and
//!   streamed CSV); [`fleet`]: device health counts and the subscription status.
//! - [`csv_export`]: `?format=csv` of lists, streamed page by page ([`alert_export`] for
//!   alerts; tickets in [`tickets`]).
//! - [`page`]: the one list shape (`?limit=&cursor=`, next cursor in `X-Next-Cursor` and `Link`).
//! - [`routes`]: the one route table — it registers every route and builds the OpenAPI
//!   document, and answers unknown routes under `/api`, `/ws` and the operations paths with
//!   JSON 404/405. [`ops`]: `/healthz`, `/readyz`, `/metrics`, `/api/openapi.json`. [`noc`]:
//!   the NOC WebSocket session actors — all WebSocket code lives there.
//! - [`meta`]: `GET /api/meta` (demo mode and its accounts, version). [`app`]: the built NOC
//!   app served at `/` from the binary and the fallback to `index.html` for the app's own
//!   routes (mounted last by the engine with [`app::configure`]).
//!
//! Tenant isolation has two walls: every handler opens its transaction with the caller's scope
//! (`Store::begin(caller.scope())`, row-level security) and also checks the tenant itself.
//! Anything another tenant owns answers 404, never 403.
//!
//! Depends on: `centinela-model`, `centinela-storage`, `centinela-actors`. Must not depend on
//! `centinela-ingest` or `centinela-engine` (the engine implements [`CertificateSigner`]).

pub mod agents;
pub mod alert_export;
pub mod alerts;
pub mod app;
pub mod audit;
pub mod auth;
pub mod caller;
pub mod csv_export;
pub mod device_logs;
pub mod device_metrics;
pub mod devices;
pub mod error;
pub mod fleet;
pub mod log_rules;
pub mod maintenance_windows;
pub mod meta;
pub mod noc;
pub mod ops;
pub mod page;
pub mod passwords;
pub mod requester;
pub mod routers;
pub mod routes;
pub mod scripts;
pub mod sessions;
pub mod sites;
pub mod sla_metrics;
pub mod sla_policies;
pub mod state;
pub mod technician_assignments;
pub mod tenants;
pub mod thresholds;
pub mod ticket_categories;
pub mod ticket_writes;
pub mod tickets;
pub mod tokens;
pub mod users;

pub use caller::Caller;
pub use error::ApiError;
pub use passwords::hash_password;
pub use sessions::AuthGuards;
pub use state::{
    AgentSettings, ApiState, AuthConfig, CertificateSigner, CommandSigner, CredentialSealer,
    MqttEndpoint,
};

use actix_web::web;

/// Registers every route of this crate and the 400 handlers for malformed input.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.app_data(web::JsonConfig::default().error_handler(|e, _| json_error(e).into()))
        .app_data(web::QueryConfig::default().error_handler(|e, _| query_error(e).into()))
        .app_data(web::PathConfig::default().error_handler(|e, _| path_error(e).into()));
    routes::register(cfg);
}

fn json_error(error: actix_web::error::JsonPayloadError) -> ApiError {
    use actix_web::error::JsonPayloadError;
    let field = match &error {
        JsonPayloadError::Deserialize(e) if e.is_data() => missing_or_invalid_field(&e.to_string()),
        _ => None,
    };
    ApiError::BadRequest {
        message: format!("malformed JSON body: {error}"),
        field,
    }
}

fn query_error(error: actix_web::error::QueryPayloadError) -> ApiError {
    let message = error.to_string();
    let field = missing_or_invalid_field(&message);
    ApiError::BadRequest {
        message: format!("invalid query string: {message}"),
        field,
    }
}

fn path_error(error: actix_web::error::PathError) -> ApiError {
    ApiError::field("id", format!("invalid path parameter: {error}"))
}

/// Picks the field name out of serde's "missing field `x`" / "unknown variant" messages.
fn missing_or_invalid_field(message: &str) -> Option<String> {
    let start = message.find('`')? + 1;
    let end = start + message[start..].find('`')?;
    message
        .contains("field")
        .then(|| message[start..end].to_owned())
}
