//! `/api/sites`: sites of a tenant. The enrollment `site_key` is shown to staff only.

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::state::ApiState;
use crate::tenants::validate_name;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_storage::audit;
use centinela_storage::sites::{self, NewSite, Site};
use serde::Deserialize;
use serde_json::{Value, json};
use uuid::Uuid;

/// `POST /api/sites` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewSiteBody {
    /// Required for staff; tenant roles default to their own tenant.
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// `GET /api/sites` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SiteQuery {
    pub tenant_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// The site as JSON, without `site_key` unless the caller is staff.
pub fn site_json(site: &Site, caller: &Caller) -> Value {
    let mut value = json!(site);
    if !caller.is_staff()
        && let Some(object) = value.as_object_mut()
    {
        object.remove("site_key");
    }
    value
}

/// The tenant a create request targets: the body's, or the caller's own.
pub fn target_tenant(caller: &Caller, requested: Option<Uuid>) -> Result<Uuid, ApiError> {
    let tenant = requested
        .or(caller.tenant_id.map(|t| t.0))
        .ok_or_else(|| ApiError::field("tenant_id", "tenant_id is required"))?;
    caller.ensure_visible(tenant)?;
    Ok(tenant)
}

fn validate_coordinates(lat: Option<f64>, lon: Option<f64>) -> Result<(), ApiError> {
    if lat.is_some_and(|v| !(-90.0..=90.0).contains(&v)) {
        return Err(ApiError::field("lat", "lat must be between -90 and 90"));
    }
    if lon.is_some_and(|v| !(-180.0..=180.0).contains(&v)) {
        return Err(ApiError::field("lon", "lon must be between -180 and 180"));
    }
    Ok(())
}

fn new_site(tenant_id: Uuid, body: NewSiteBody) -> Result<NewSite, ApiError> {
    validate_coordinates(body.lat, body.lon)?;
    Ok(NewSite {
        tenant_id,
        name: validate_name("name", &body.name)?,
        address: body.address,
        city: body.city,
        state: body.state,
        zip: body.zip,
        lat: body.lat,
        lon: body.lon,
    })
}

/// `GET /api/sites`.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<SiteQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let crate::caller::ListTenant::Only(tenant) = caller.list_tenant(query.tenant_id) else {
        return Ok(HttpResponse::Ok().json(json!([])));
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let keyset = page.keyset();
    let fetched = sites::list(&mut tx, tenant, &keyset).await?;
    commit(tx).await?;
    let all = page::shape(
        fetched,
        page.limit,
        |s| (s.name.clone(), s.id),
        |s| caller.sees(s.tenant_id) && caller.sees_site(Some(s.id)),
    );
    let out: Vec<Value> = all.rows.iter().map(|s| site_json(s, &caller)).collect();
    Ok(page::ok(&req, &out, all.next.as_deref()))
}

/// `POST /api/sites`.
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<NewSiteBody>,
) -> Result<HttpResponse, ApiError> {
    let body = body.into_inner();
    let tenant = target_tenant(&caller, body.tenant_id)?;
    let site = new_site(tenant, body)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    caller.ensure_can_write(&mut tx, tenant).await?;
    let site = sites::create(&mut tx, &site).await?;
    let details = json!({"name": site.name});
    audit::record(
        &mut tx,
        Some(tenant),
        Some(caller.user_id),
        "site.create",
        "site",
        &site.id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    tracing::info!(tenant_id = %tenant, site_id = %site.id, "Site created.");
    Ok(HttpResponse::Created().json(site_json(&site, &caller)))
}

/// `GET /api/sites/{id}`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let site = sites::get(&mut tx, id.into_inner()).await?;
    commit(tx).await?;
    caller.ensure_visible(site.tenant_id)?;
    if !caller.sees_site(Some(site.id)) {
        return Err(ApiError::NotFound);
    }
    Ok(HttpResponse::Ok().json(site_json(&site, &caller)))
}
