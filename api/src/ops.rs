//! Operations endpoints: `/healthz`, `/readyz`, `/metrics` and `/api/openapi.json`.

use crate::error::ApiError;
use crate::state::ApiState;
use actix_web::{HttpResponse, web};
use serde_json::json;
use std::sync::atomic::Ordering;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, Paths};
use utoipa::openapi::{Info, OpenApi, OpenApiBuilder, Response, ResponsesBuilder};

/// Every route of the crate: path, method, summary. The OpenAPI document is built from it.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("/healthz", "get", "Liveness: the process answers"),
    (
        "/readyz",
        "get",
        "Readiness: database reachable and broker up",
    ),
    (
        "/metrics",
        "get",
        "Prometheus text exposition of the engine's counters",
    ),
    ("/api/openapi.json", "get", "This OpenAPI document"),
    ("/api/auth/login", "post", "Log in with email and password"),
    (
        "/api/auth/refresh",
        "post",
        "Trade a refresh token (single use; reuse ends its session) for a new token pair",
    ),
    (
        "/api/auth/logout",
        "post",
        "End the caller's session (?all=true: every session of the user) and its NOC sockets",
    ),
    ("/api/auth/me", "get", "The current user"),
    ("/api/tenants", "get", "List visible tenants"),
    (
        "/api/tenants",
        "post",
        "Create a tenant (superadmin, admin)",
    ),
    ("/api/tenants/{id}", "get", "One tenant"),
    (
        "/api/tenants/{id}",
        "patch",
        "Change a tenant's plan or status (superadmin, admin)",
    ),
    ("/api/sites", "get", "List visible sites"),
    ("/api/sites", "post", "Create a site"),
    (
        "/api/sites/{id}",
        "get",
        "One site (site_key for staff only)",
    ),
    (
        "/api/devices",
        "get",
        "List visible devices with health and online",
    ),
    (
        "/api/devices",
        "post",
        "Create an agent (returns its token once) or a router (credentials sealed, never returned)",
    ),
    ("/api/devices/{id}", "get", "One device"),
    (
        "/api/devices/{id}",
        "patch",
        "Rename a device or change how a router is reached",
    ),
    ("/api/devices/{id}", "delete", "Delete a device"),
    (
        "/api/devices/{id}/metrics",
        "get",
        "Raw or bucketed points of one metric series",
    ),
    (
        "/api/devices/{id}/logs",
        "get",
        "A device's log lines, newest first (JSON, or CSV with format=csv)",
    ),
    (
        "/api/log-rules",
        "get",
        "A tenant's router log heuristics (configured or default)",
    ),
    (
        "/api/log-rules/{kind}",
        "put",
        "Configure one log heuristic of a tenant",
    ),
    (
        "/api/log-rules/{kind}",
        "delete",
        "Return one log heuristic of a tenant to its default",
    ),
    ("/api/thresholds", "get", "List visible thresholds"),
    ("/api/thresholds", "post", "Create a threshold"),
    ("/api/thresholds/{id}", "patch", "Change a threshold's rule"),
    ("/api/thresholds/{id}", "delete", "Delete a threshold"),
    ("/api/alerts", "get", "List visible alerts"),
    ("/api/alerts/{id}", "get", "One alert with its history"),
    ("/api/alerts/{id}/ack", "post", "Acknowledge an alert"),
    (
        "/api/alerts/{id}/status",
        "patch",
        "Move an alert's workflow status",
    ),
    ("/api/tickets", "get", "List visible tickets"),
    (
        "/api/tickets/{id}",
        "get",
        "One ticket (UUID or TKT- number) with its history",
    ),
    (
        "/api/agents/certificate",
        "post",
        "Sign an agent's CSR (device token auth)",
    ),
    (
        "/api/agents/enroll",
        "post",
        "Enroll an agent with its site key; returns its device, token, broker and command key",
    ),
    ("/api/scripts", "get", "Scripts usable for a tenant"),
    ("/api/scripts", "post", "Store a script (unapproved)"),
    ("/api/scripts/{id}", "get", "One script"),
    (
        "/api/scripts/{id}",
        "patch",
        "Change a script (withdraws its approval)",
    ),
    ("/api/scripts/{id}", "delete", "Delete a script"),
    (
        "/api/scripts/{id}/approve",
        "post",
        "Approve a script as reviewed ({updated_at}; MSP admins)",
    ),
    (
        "/api/scripts/{id}/run",
        "post",
        "Run an approved script on an agent (signed command)",
    ),
    ("/api/script-runs", "get", "Script runs with their results"),
    ("/api/script-runs/{id}", "get", "One script run"),
    (
        "/ws/noc",
        "get",
        "NOC WebSocket: live alert, device, ticket and metric events",
    ),
];

fn method(word: &str) -> HttpMethod {
    match word {
        "post" => HttpMethod::Post,
        "patch" => HttpMethod::Patch,
        "delete" => HttpMethod::Delete,
        "put" => HttpMethod::Put,
        _ => HttpMethod::Get,
    }
}

/// The OpenAPI 3 document of every route.
pub fn openapi() -> OpenApi {
    let mut paths = Paths::new();
    for (path, verb, summary) in ROUTES {
        let operation = OperationBuilder::new()
            .summary(Some(*summary))
            .operation_id(Some(format!("{verb} {path}")))
            .responses(
                ResponsesBuilder::new()
                    .response("200", Response::new("Success"))
                    .build(),
            );
        paths.add_path_operation(path, vec![method(verb)], operation);
    }
    OpenApiBuilder::new()
        .info(Info::new("Centinela API", env!("CARGO_PKG_VERSION")))
        .paths(paths)
        .build()
}

/// `GET /healthz`.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(json!({"status": "ok"}))
}

/// `GET /readyz`: 200 when the database answers and the broker is up.
pub async fn readyz(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let database = state.store.ping().await;
    let broker = state.broker_up.load(Ordering::Relaxed);
    if database && broker {
        return Ok(
            HttpResponse::Ok().json(json!({"status": "ready", "database": true, "broker": true}))
        );
    }
    let message = format!("not ready: database reachable = {database}, broker up = {broker}");
    Err(ApiError::NotReady(message))
}

/// `GET /metrics`.
pub async fn metrics(state: web::Data<ApiState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4")
        .body(state.runtime.telemetry().encode())
}

/// `GET /api/openapi.json`.
pub async fn openapi_json() -> HttpResponse {
    HttpResponse::Ok().json(openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn document_lists_every_route() {
        let doc = serde_json::to_value(openapi()).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
        for (path, verb, summary) in ROUTES {
            assert_eq!(
                doc["paths"][path][verb]["summary"], *summary,
                "{verb} {path}"
            );
        }
    }
}
