//! `/api/technician-assignments`: a tenant's explicit, ordered technician list. The first
//! active technician by `position` takes the tenant's new tickets (before the tenant's
//! assignment rule). Staff and the tenant's client_admin read; superadmins and admins write.

use crate::caller::{Caller, ListTenant};
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::{Role, Scope};
use centinela_storage::assignment::{self, TechnicianAssignment};
use centinela_storage::{audit, tenants, users};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// `GET /api/technician-assignments` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AssignmentQuery {
    pub tenant_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `POST /api/technician-assignments` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAssignmentBody {
    pub tenant_id: Uuid,
    pub technician_id: Uuid,
    pub position: Option<i32>,
}

/// The answer of `POST /api/technician-assignments`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedAssignment {
    pub assignment: centinela_storage::assignment::TechnicianAssignment,
}

/// `GET /api/technician-assignments` (staff; a client_admin its tenant's), ordered by tenant
/// and position.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<AssignmentQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    if caller.role == Role::Requester {
        return Err(ApiError::Forbidden(
            "requesters do not see technician assignments".into(),
        ));
    }
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let tenant = match caller.list_tenant(query.tenant_id) {
        ListTenant::Only(tenant) => tenant,
        ListTenant::NotVisible => {
            return Ok(page::ok(&req, &[] as &[TechnicianAssignment], None));
        }
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let rows = assignment::list(&mut tx, tenant, page.fetch(), page.after).await?;
    commit(tx).await?;
    Ok(page::respond(
        &req,
        rows,
        page.limit,
        assignment::list_key,
        |a| caller.sees(a.tenant_id),
    ))
}

/// `POST /api/technician-assignments` → 201 `{assignment}` (admins); 409 when the technician
/// is already on the tenant's list.
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<CreateAssignmentBody>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    if body.position.is_some_and(|p| !(0..=1_000_000).contains(&p)) {
        return Err(ApiError::field("position", "position must be 0 to 1000000"));
    }
    let mut tx = state.store.begin(Scope::All).await?;
    tenants::get(&mut tx, body.tenant_id)
        .await
        .map_err(|_| ApiError::field("tenant_id", "no such tenant"))?;
    let technician = users::get(&mut tx, body.technician_id)
        .await
        .map_err(|_| ApiError::field("technician_id", "no such user"))?;
    if technician.role != "technician" && technician.role != "admin" {
        return Err(ApiError::field(
            "technician_id",
            "the user is not a technician or admin",
        ));
    }
    let created =
        assignment::create(&mut tx, body.tenant_id, body.technician_id, body.position).await?;
    audit::record(
        &mut tx,
        Some(created.tenant_id),
        Some(caller.user_id),
        "technician_assignment.create",
        "technician_assignment",
        &created.id.to_string(),
        json!({"technician_id": created.technician_id, "position": created.position}),
    )
    .await?;
    commit(tx).await?;
    Ok(HttpResponse::Created().json(CreatedAssignment {
        assignment: created,
    }))
}

/// `DELETE /api/technician-assignments/{id}` (admins) → 204.
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let mut tx = state.store.begin(Scope::All).await?;
    let existing = assignment::get(&mut tx, *id).await?;
    assignment::delete(&mut tx, *id).await?;
    audit::record(
        &mut tx,
        Some(existing.tenant_id),
        Some(caller.user_id),
        "technician_assignment.delete",
        "technician_assignment",
        &existing.id.to_string(),
        json!({"technician_id": existing.technician_id}),
    )
    .await?;
    commit(tx).await?;
    Ok(HttpResponse::NoContent().finish())
}
