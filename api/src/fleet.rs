//! `GET /api/health/devices` (device health counts per tenant) and
//! `GET /api/subscription/status` (the caller's tenant's plan and its use).

use crate::caller::{Caller, ListTenant};
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::state::ApiState;
use crate::tenants::PLANS;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::{Role, Scope, TenantId};
use centinela_storage::{devices, health, tenants};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// `GET /api/health/devices` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HealthQuery {
    pub tenant_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `GET /api/health/devices`: one row per tenant the caller sees, `{tenant_id, total, green,
/// yellow, red, unknown}` (a requester counts its sites' devices only), in the list shape
/// ordered by tenant id.
pub async fn devices_health(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<HealthQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page: Page<Uuid> = Page::parse(query.limit, query.cursor.as_deref())?;
    let ListTenant::Only(tenant) = caller.list_tenant(query.tenant_id) else {
        return Ok(HttpResponse::Ok().json(json!([])));
    };
    let sites = (caller.role == Role::Requester).then_some(caller.site_ids.as_slice());
    let mut tx = state.store.begin(caller.scope()).await?;
    let rows = health::device_counts(&mut tx, tenant, sites, page.after, page.fetch()).await?;
    commit(tx).await?;
    Ok(page::respond(
        &req,
        rows,
        page.limit,
        |h| h.tenant_id,
        |h| caller.sees(h.tenant_id),
    ))
}

/// `GET /api/subscription/status` query: staff name the tenant.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SubscriptionQuery {
    pub tenant_id: Option<Uuid>,
}

/// The subscription of a tenant.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SubscriptionStatus {
    pub tenant_id: Uuid,
    pub plan: String,
    /// `null`: unlimited.
    pub max_devices: Option<i64>,
    pub devices_used: i64,
    /// `active` or `suspended` (a suspended tenant reads but does not write).
    pub status: String,
}

/// `GET /api/subscription/status[?tenant_id=]`.
pub async fn subscription_status(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<SubscriptionQuery>,
) -> Result<HttpResponse, ApiError> {
    let tenant = match (caller.tenant_id, query.tenant_id) {
        (Some(own), Some(asked)) if own.0 != asked => return Err(ApiError::NotFound),
        (Some(own), _) => own.0,
        (None, Some(asked)) => asked,
        (None, None) => {
            return Err(ApiError::field(
                "tenant_id",
                "staff name the tenant: ?tenant_id=",
            ));
        }
    };
    caller.ensure_visible(tenant)?;
    // The tenant's own scope, also for a requester: the plan counts every device of the
    // tenant, and a count reveals none of them.
    let mut tx = state.store.begin(Scope::Tenant(TenantId(tenant))).await?;
    let found = tenants::get(&mut tx, tenant).await?;
    let devices_used = devices::count_for_tenant(&mut tx, tenant).await?;
    commit(tx).await?;
    let max_devices = PLANS
        .iter()
        .find(|(plan, _)| *plan == found.plan)
        .and_then(|(_, limit)| *limit);
    Ok(HttpResponse::Ok().json(SubscriptionStatus {
        tenant_id: found.id,
        plan: found.plan,
        max_devices,
        devices_used,
        status: found.status,
    }))
}
