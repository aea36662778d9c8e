//! `/api/tenants`: client organisations, their plan and status.

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::page::{self, Page, PageQuery};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_storage::{audit, tenants};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Plans and their device limits (`None` = unlimited).
pub const PLANS: &[(&str, Option<i64>)] = &[("basic", Some(5)), ("inter", Some(15)), ("pro", None)];

/// `POST /api/tenants` body.
#[derive(Debug, Deserialize)]
pub struct NewTenantBody {
    pub name: String,
    pub plan: Option<String>,
}

/// `PATCH /api/tenants/{id}` body.
#[derive(Debug, Deserialize)]
pub struct PatchTenantBody {
    pub plan: Option<String>,
    pub status: Option<String>,
    /// Resolve an alert's ticket when the alert clears, if nobody moved or commented on it.
    pub auto_resolve_alert_tickets: Option<bool>,
}

fn validate_plan(plan: &str) -> Result<(), ApiError> {
    if PLANS.iter().any(|(p, _)| *p == plan) {
        Ok(())
    } else {
        Err(ApiError::field(
            "plan",
            "plan must be one of basic, inter, pro",
        ))
    }
}

fn validate_status(status: &str) -> Result<(), ApiError> {
    match status {
        "active" | "suspended" => Ok(()),
        _ => Err(ApiError::field(
            "status",
            "status must be active or suspended",
        )),
    }
}

/// Checks a name of 1 to 200 characters (after trimming).
pub fn validate_name(field: &str, name: &str) -> Result<String, ApiError> {
    let name = name.trim();
    let length = name.chars().count();
    if (1..=200).contains(&length) {
        Ok(name.to_owned())
    } else {
        Err(ApiError::field(
            field,
            format!("{field} must have 1 to 200 characters"),
        ))
    }
}

/// `GET /api/tenants`.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<PageQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let keyset = page.keyset();
    let all = tenants::list(&mut tx, &keyset).await?;
    commit(tx).await?;
    Ok(page::respond(
        &req,
        all,
        page.limit,
        |t| (t.name.clone(), t.id),
        |t| caller.sees(t.id),
    ))
}

/// `POST /api/tenants` (superadmin and admin only).
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<NewTenantBody>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let name = validate_name("name", &body.name)?;
    let plan = body.plan.as_deref().unwrap_or("basic");
    validate_plan(plan)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let tenant = tenants::create(&mut tx, &name, plan).await?;
    let details = json!({"name": tenant.name, "plan": tenant.plan});
    audit::record(
        &mut tx,
        Some(tenant.id),
        Some(caller.user_id),
        "tenant.create",
        "tenant",
        &tenant.id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    tracing::info!(tenant_id = %tenant.id, "Tenant created.");
    Ok(HttpResponse::Created().json(tenant))
}

/// `GET /api/tenants/{id}`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    caller.ensure_visible(id)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let tenant = tenants::get(&mut tx, id).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(tenant))
}

/// `PATCH /api/tenants/{id}` (superadmin and admin only): plan and status.
pub async fn patch(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<PatchTenantBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    caller.ensure_visible(id)?;
    caller.ensure_msp_admin()?;
    if let Some(plan) = &body.plan {
        validate_plan(plan)?;
    }
    if let Some(status) = &body.status {
        validate_status(status)?;
    }
    let mut tx = state.store.begin(caller.scope()).await?;
    let mut tenant =
        tenants::update(&mut tx, id, body.plan.as_deref(), body.status.as_deref()).await?;
    if let Some(on) = body.auto_resolve_alert_tickets {
        tenant = tenants::set_auto_resolve_alert_tickets(&mut tx, id, on).await?;
    }
    let details = json!({"plan": body.plan, "status": body.status,
        "auto_resolve_alert_tickets": body.auto_resolve_alert_tickets});
    audit::record(
        &mut tx,
        Some(id),
        Some(caller.user_id),
        "tenant.update",
        "tenant",
        &id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    tracing::info!(tenant_id = %id, plan = %tenant.plan, status = %tenant.status, "Tenant updated.");
    Ok(HttpResponse::Ok().json(tenant))
}
