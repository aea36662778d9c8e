//! `/api/ticket-categories`: the MSP-wide default set (`tenant_id` null, from a migration) and
//! each tenant's own categories, one level of subcategories (`parent_id`). Everyone reads the
//! ones visible to them; superadmins and admins write (a tenant's or the default set).

use crate::caller::{Caller, ListTenant};
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::Scope;
use centinela_storage::ticket_categories::{self, Category};
use centinela_storage::{PgConnection, audit, tenants};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Longest category name, in characters.
const MAX_NAME: usize = 100;

/// `GET /api/ticket-categories` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CategoryQuery {
    pub tenant_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `POST /api/ticket-categories` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateCategoryBody {
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub parent_id: Option<Uuid>,
    #[serde(default)]
    pub requires_approval: bool,
}

/// The answer of `POST /api/ticket-categories`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedCategory {
    pub category: centinela_storage::ticket_categories::Category,
}

/// `PATCH /api/ticket-categories/{id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchCategoryBody {
    pub name: Option<String>,
    pub requires_approval: Option<bool>,
}

fn name(value: &str) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() || value.chars().count() > MAX_NAME {
        return Err(ApiError::field(
            "name",
            format!("name must have 1 to {MAX_NAME} characters"),
        ));
    }
    Ok(value.to_owned())
}

/// `GET /api/ticket-categories`: defaults and the caller's tenant's (staff: every tenant's, or
/// one with `tenant_id`).
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<CategoryQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let tenant = match caller.list_tenant(query.tenant_id) {
        ListTenant::Only(tenant) => tenant,
        ListTenant::NotVisible => return Ok(page::ok(&req, &[] as &[Category], None)),
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let rows = ticket_categories::list(&mut tx, tenant, page.fetch(), page.after.clone()).await?;
    commit(tx).await?;
    Ok(page::respond(
        &req,
        rows,
        page.limit,
        ticket_categories::list_key,
        |c| c.tenant_id.is_none_or(|t| caller.sees(t)),
    ))
}

/// A category the caller sees, or 404.
async fn visible(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> Result<Category, ApiError> {
    let category = ticket_categories::get(conn, id).await?;
    if let Some(tenant) = category.tenant_id {
        caller.ensure_visible(tenant)?;
    }
    Ok(category)
}

/// `POST /api/ticket-categories` → 201 `{category}` (admins).
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<CreateCategoryBody>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let name = name(&body.name)?;
    let mut tx = state.store.begin(Scope::All).await?;
    if let Some(tenant) = body.tenant_id {
        tenants::get(&mut tx, tenant)
            .await
            .map_err(|_| ApiError::field("tenant_id", "no such tenant"))?;
    }
    if let Some(parent) = body.parent_id {
        let parent = ticket_categories::get(&mut tx, parent)
            .await
            .map_err(|_| ApiError::field("parent_id", "no such category"))?;
        if parent.parent_id.is_some() {
            return Err(ApiError::field(
                "parent_id",
                "subcategories have no subcategories",
            ));
        }
        if parent.tenant_id.is_some() && parent.tenant_id != body.tenant_id {
            return Err(ApiError::field(
                "parent_id",
                "the parent belongs to another tenant",
            ));
        }
    }
    let category = ticket_categories::create(
        &mut tx,
        body.tenant_id,
        body.parent_id,
        &name,
        body.requires_approval,
    )
    .await?;
    record(&mut tx, &caller, &category, "ticket_category.create").await?;
    commit(tx).await?;
    Ok(HttpResponse::Created().json(CreatedCategory { category }))
}

async fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    category: &Category,
    action: &str,
) -> Result<(), ApiError> {
    let details = json!({"name": category.name, "requires_approval": category.requires_approval});
    audit::record(
        conn,
        category.tenant_id,
        Some(caller.user_id),
        action,
        "ticket_category",
        &category.id.to_string(),
        details,
    )
    .await?;
    Ok(())
}

/// `GET /api/ticket-categories/{id}`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let category = visible(&mut tx, &caller, *id).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(category))
}

/// `PATCH /api/ticket-categories/{id}` (admins).
pub async fn patch(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<PatchCategoryBody>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let new_name = body.name.as_deref().map(name).transpose()?;
    let mut tx = state.store.begin(Scope::All).await?;
    let category =
        ticket_categories::update(&mut tx, *id, new_name.as_deref(), body.requires_approval)
            .await?;
    record(&mut tx, &caller, &category, "ticket_category.update").await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(category))
}

/// `DELETE /api/ticket-categories/{id}` (admins) → 204; its subcategories go with it, tickets
/// keep the name they were filed under.
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let mut tx = state.store.begin(Scope::All).await?;
    let category = ticket_categories::get(&mut tx, *id).await?;
    ticket_categories::delete(&mut tx, *id).await?;
    record(&mut tx, &caller, &category, "ticket_category.delete").await?;
    commit(tx).await?;
    Ok(HttpResponse::NoContent().finish())
}
