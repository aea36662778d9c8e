//! Operations endpoints: `/healthz`, `/readyz`, `/metrics` and `/api/openapi.json` (the
//! document itself is built in [`crate::routes`]).

use crate::error::ApiError;
use crate::state::ApiState;
use actix_web::{HttpResponse, web};
use std::sync::OnceLock;
use std::sync::atomic::Ordering;

/// `GET /healthz` answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Health {
    /// Always `ok`.
    pub status: String,
}

/// `GET /readyz` answer when ready (otherwise a 503 error body).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Readiness {
    /// `ready`.
    pub status: String,
    pub database: bool,
    pub broker: bool,
}

/// `GET /healthz`.
pub async fn healthz() -> HttpResponse {
    HttpResponse::Ok().json(Health {
        status: "ok".into(),
    })
}

/// `GET /readyz`: 200 when the database answers and the broker is up.
pub async fn readyz(state: web::Data<ApiState>) -> Result<HttpResponse, ApiError> {
    let database = state.store.ping().await;
    let broker = state.broker_up.load(Ordering::Relaxed);
    if database && broker {
        return Ok(HttpResponse::Ok().json(Readiness {
            status: "ready".into(),
            database,
            broker,
        }));
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

/// `GET /api/openapi.json`: the document of [`crate::routes::endpoints`], built once.
pub async fn openapi_json() -> HttpResponse {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    let text = DOCUMENT
        .get_or_init(|| serde_json::to_string(&crate::routes::openapi()).unwrap_or_default());
    HttpResponse::Ok()
        .content_type("application/json")
        .body(text.as_str())
}
