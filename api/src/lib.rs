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
//! - [`csv_export`]: `?format=csv` of lists, streamed page by page ([`alert_export`] for
//!   alerts; tickets in [`tickets`]).
//! - [`page`]: the one list shape (`?limit=&cursor=`, next cursor in `X-Next-Cursor` and `Link`).
//! - [`ops`]: `/healthz`, `/readyz`, `/metrics`, `/api/openapi.json` (built from one route
//!   table). [`noc`]: the NOC WebSocket session actors — all WebSocket code lives there.
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
pub mod auth;
pub mod caller;
pub mod csv_export;
pub mod device_logs;
pub mod device_metrics;
pub mod devices;
pub mod error;
pub mod log_rules;
pub mod noc;
pub mod ops;
pub mod page;
pub mod passwords;
pub mod routers;
pub mod scripts;
pub mod sessions;
pub mod sites;
pub mod state;
pub mod technician_assignments;
pub mod tenants;
pub mod thresholds;
pub mod ticket_categories;
pub mod ticket_writes;
pub mod tickets;
pub mod tokens;

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
    cfg.route("/healthz", web::get().to(ops::healthz))
        .route("/readyz", web::get().to(ops::readyz))
        .route("/metrics", web::get().to(ops::metrics))
        .route("/ws/noc", web::get().to(noc::noc));
    cfg.service(web::scope("/api").configure(api_routes));
}

fn api_routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/openapi.json", web::get().to(ops::openapi_json))
        .route("/auth/login", web::post().to(auth::login))
        .route("/auth/refresh", web::post().to(auth::refresh))
        .route("/auth/logout", web::post().to(auth::logout))
        .route("/auth/me", web::get().to(auth::me))
        .route("/tenants", web::get().to(tenants::list))
        .route("/tenants", web::post().to(tenants::create))
        .route("/tenants/{id}", web::get().to(tenants::get))
        .route("/tenants/{id}", web::patch().to(tenants::patch))
        .route("/sites", web::get().to(sites::list))
        .route("/sites", web::post().to(sites::create))
        .route("/sites/{id}", web::get().to(sites::get))
        .route("/devices", web::get().to(devices::list))
        .route("/devices", web::post().to(devices::create))
        .route("/devices/{id}", web::get().to(devices::get))
        .route("/devices/{id}", web::patch().to(devices::patch))
        .route("/devices/{id}", web::delete().to(devices::delete))
        .route(
            "/devices/{id}/metrics",
            web::get().to(device_metrics::series),
        )
        .route("/devices/{id}/logs", web::get().to(device_logs::list))
        .route("/log-rules", web::get().to(log_rules::list))
        .route("/log-rules/{kind}", web::put().to(log_rules::put))
        .route("/log-rules/{kind}", web::delete().to(log_rules::reset))
        .route("/thresholds", web::get().to(thresholds::list))
        .route("/thresholds", web::post().to(thresholds::create))
        .route("/thresholds/{id}", web::patch().to(thresholds::patch))
        .route("/thresholds/{id}", web::delete().to(thresholds::delete))
        .route("/alerts", web::get().to(alerts::list))
        .route("/alerts/{id}", web::get().to(alerts::get))
        .route("/alerts/{id}/ack", web::post().to(alerts::ack))
        .route("/alerts/{id}/status", web::patch().to(alerts::set_status))
        .route("/tickets", web::get().to(tickets::list))
        .route("/tickets/{id}", web::get().to(tickets::get))
        .route("/tickets", web::post().to(ticket_writes::create))
        .route("/tickets/{id}", web::patch().to(ticket_writes::patch))
        .route(
            "/tickets/{id}/comments",
            web::post().to(ticket_writes::comment),
        )
        .route("/ticket-categories", web::get().to(ticket_categories::list))
        .route(
            "/ticket-categories",
            web::post().to(ticket_categories::create),
        )
        .route(
            "/ticket-categories/{id}",
            web::get().to(ticket_categories::get),
        )
        .route(
            "/ticket-categories/{id}",
            web::patch().to(ticket_categories::patch),
        )
        .route(
            "/ticket-categories/{id}",
            web::delete().to(ticket_categories::delete),
        )
        .route(
            "/technician-assignments",
            web::get().to(technician_assignments::list),
        )
        .route(
            "/technician-assignments",
            web::post().to(technician_assignments::create),
        )
        .route(
            "/technician-assignments/{id}",
            web::delete().to(technician_assignments::delete),
        )
        .route("/agents/certificate", web::post().to(agents::certificate))
        .route("/agents/enroll", web::post().to(agents::enroll))
        .route("/scripts", web::get().to(scripts::list))
        .route("/scripts", web::post().to(scripts::create))
        .route("/scripts/{id}", web::get().to(scripts::get))
        .route("/scripts/{id}", web::patch().to(scripts::patch))
        .route("/scripts/{id}", web::delete().to(scripts::delete))
        .route("/scripts/{id}/approve", web::post().to(scripts::approve))
        .route("/scripts/{id}/run", web::post().to(scripts::run))
        .route("/script-runs", web::get().to(scripts::list_runs))
        .route("/script-runs/{id}", web::get().to(scripts::get_run));
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
