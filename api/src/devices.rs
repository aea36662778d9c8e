//! `/api/devices`: agents and routers, with their health and plan limits.

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::routers::{self, NewRouterBody, PatchRouterBody, RouterView};
use crate::sites::target_tenant;
use crate::state::ApiState;
use crate::tenants::{PLANS, validate_name};
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_storage::devices::{self, Device};
use centinela_storage::routers as router_store;
use centinela_storage::{PgConnection, audit, metrics, tenants};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;
use uuid::Uuid;

/// `POST /api/devices` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewDeviceBody {
    pub tenant_id: Option<Uuid>,
    pub site_id: Uuid,
    pub name: String,
    pub kind: String,
    /// Required for `kind: "routeros"`, refused otherwise.
    pub routeros: Option<NewRouterBody>,
}

/// `PATCH /api/devices/{id}` body: a new name and/or new router settings.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PatchDeviceBody {
    pub name: Option<String>,
    pub routeros: Option<PatchRouterBody>,
}

/// `GET /api/devices` filters (all optional, combined with AND).
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeviceQuery {
    pub tenant_id: Option<Uuid>,
    pub site_id: Option<Uuid>,
    /// `green`, `yellow`, `red` or `unknown`.
    pub health: Option<String>,
    /// `true`: online devices only; `false`: offline ones only.
    pub online: Option<bool>,
    /// Text in the name or the reported hostname, case- and accent-insensitive (at most
    /// [`MAX_QUERY_CHARS`] characters).
    pub q: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Longest `q` accepted, in characters.
pub const MAX_QUERY_CHARS: usize = 100;

/// The healths a device can have (the `health` filter's values).
const HEALTHS: [&str; 4] = ["green", "yellow", "red", "unknown"];

impl DeviceQuery {
    /// The storage filter, or a 400 naming the bad field.
    fn filter(
        &self,
        tenant: Option<Uuid>,
        state: &ApiState,
    ) -> Result<devices::DeviceFilter, ApiError> {
        if let Some(health) = &self.health
            && !HEALTHS.contains(&health.as_str())
        {
            return Err(ApiError::field(
                "health",
                "health must be green, yellow, red or unknown",
            ));
        }
        let q = self.q.as_deref().map(str::trim).filter(|q| !q.is_empty());
        if let Some(q) = q
            && (q.chars().count() > MAX_QUERY_CHARS || q.contains('\0'))
        {
            return Err(ApiError::field(
                "q",
                format!("q must be at most {MAX_QUERY_CHARS} characters of text"),
            ));
        }
        Ok(devices::DeviceFilter {
            tenant,
            site: self.site_id,
            health: self.health.clone(),
            online: self.online.map(|o| (o, state.runtime.online_devices())),
            q: q.map(str::to_owned),
        })
    }
}

/// The device as the API shows it: `worst_firing` becomes `health`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceView {
    pub id: Uuid,
    pub device_key: String,
    pub tenant_id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    pub kind: String,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub inventory_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// `green`, `yellow`, `red`, or `unknown` (never seen).
    #[schema(value_type = String)]
    pub health: &'static str,
    /// Online as the presence detector judges it: an agent heard from within its heartbeat
    /// window (`agents.offline_multiple` × heartbeat), a router whose last poll answered.
    pub online: bool,
    /// How the engine reaches a router (never its credentials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub routeros: Option<RouterView>,
}

/// Health from the worst firing severity and whether the device was ever seen.
pub fn health(worst_firing: Option<&str>, seen: bool) -> &'static str {
    match (worst_firing, seen) {
        (Some("critical"), _) => "red",
        (Some(_), _) => "yellow",
        (None, false) => "unknown",
        (None, true) => "green",
    }
}

impl DeviceView {
    /// Converts a stored device, with `online` from the presence detector.
    pub fn new(d: Device, state: &ApiState) -> DeviceView {
        let online = state.runtime.is_online(d.id);
        DeviceView {
            // Seen: stored, or online now (the presence detector hears a device before the
            // writer's next batch stores its `last_seen_at`; "online" and "never seen" together
            // drew a grey light beside "En línea").
            health: health(
                d.worst_firing.as_deref(),
                online || d.last_seen_at.is_some(),
            ),
            online,
            id: d.id,
            device_key: d.device_key,
            tenant_id: d.tenant_id,
            site_id: d.site_id,
            name: d.name,
            kind: d.kind,
            last_seen_at: d.last_seen_at,
            inventory_at: d.inventory_at,
            created_at: d.created_at,
            routeros: None,
        }
    }

    fn with_router(mut self, target: Option<&router_store::RouterTarget>) -> DeviceView {
        self.routeros = target.map(RouterView::from);
        self
    }
}

/// Loads a device the caller may see (404 otherwise).
pub async fn visible_device(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<Device, ApiError> {
    let device = devices::get(conn, id).await?;
    caller.ensure_visible(device.tenant_id)?;
    if !caller.sees_site(Some(device.site_id)) {
        return Err(ApiError::NotFound);
    }
    Ok(device)
}

/// Where the engine connects is MSP staff's decision: a tenant role pointing a "router" at any
/// host and port would turn the engine into a scanner of the MSP's own network.
fn ensure_may_set_router(caller: &Caller) -> Result<(), ApiError> {
    if caller.is_staff() {
        return Ok(());
    }
    Err(ApiError::Forbidden(
        "only MSP staff can set where a router is reached".into(),
    ))
}

/// 402 when the tenant's plan has no room for another device. Locks the tenant's row until
/// the caller's transaction ends, so parallel creations count one after another and the limit
/// holds (the insert must happen in the same transaction).
pub(crate) async fn ensure_plan_room(
    conn: &mut PgConnection,
    tenant: Uuid,
) -> Result<(), ApiError> {
    let plan = tenants::get_for_update(conn, tenant).await?.plan;
    let limit = PLANS.iter().find(|(p, _)| *p == plan).and_then(|(_, l)| *l);
    let Some(limit) = limit else { return Ok(()) };
    if devices::count_for_tenant(conn, tenant).await? < limit {
        return Ok(());
    }
    let hint = if plan == "basic" { "inter" } else { "pro" };
    Err(ApiError::PlanLimit {
        required_plan_hint: hint,
        message: format!("the {plan} plan allows {limit} devices; upgrade to {hint} for more"),
    })
}

/// `POST /api/devices` → 201 `{device, agent_token}` (the token is shown once).
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<NewDeviceBody>,
) -> Result<HttpResponse, ApiError> {
    let tenant = target_tenant(&caller, body.tenant_id)?;
    let name = validate_name("name", &body.name)?;
    match (body.kind.as_str(), &body.routeros) {
        ("agent", None) | ("routeros", Some(_)) => {}
        ("agent", Some(_)) => {
            return Err(ApiError::field(
                "routeros",
                "only routeros devices take routeros settings",
            ));
        }
        ("routeros", None) => {
            return Err(ApiError::field(
                "routeros",
                "routeros devices need {host, port, username, password, tls}",
            ));
        }
        _ => return Err(ApiError::field("kind", "kind must be agent or routeros")),
    }
    if body.routeros.is_some() {
        ensure_may_set_router(&caller)?;
    }
    let mut tx = state.store.begin(caller.scope()).await?;
    caller.ensure_can_write(&mut tx, tenant).await?;
    ensure_plan_room(&mut tx, tenant).await?;
    let (device, token) = devices::create(&mut tx, tenant, body.site_id, &name, &body.kind)
        .await
        .map_err(|e| match ApiError::from(e) {
            ApiError::BadRequest { message, .. } => ApiError::field("site_id", message),
            other => other,
        })?;
    let target = match &body.routeros {
        Some(router) => {
            let target = routers::new_target(&state, router, device.id, tenant)?;
            router_store::insert(&mut tx, &target).await?;
            Some(target)
        }
        None => None,
    };
    let details = json!({"name": device.name, "kind": device.kind, "site_id": device.site_id});
    audit::record(
        &mut tx,
        Some(tenant),
        Some(caller.user_id),
        "device.create",
        "device",
        &device.id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    if let Err(error) = state.runtime.register_device(device.id).await {
        tracing::warn!(device_id = %device.id, error = %error, "Device actor did not start; it will start on first contact.");
    }
    tracing::info!(tenant_id = %tenant, device_id = %device.id, "Device created.");
    let view = DeviceView::new(device, &state).with_router(target.as_ref());
    let agent_token = target.is_none().then_some(token);
    Ok(HttpResponse::Created().json(CreatedDevice {
        device: view,
        agent_token,
    }))
}

/// `POST /api/devices` answer.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct CreatedDevice {
    pub device: DeviceView,
    /// An agent's token, shown this once (absent for routers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_token: Option<String>,
}

/// `GET /api/devices`.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<DeviceQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let crate::caller::ListTenant::Only(tenant) = caller.list_tenant(query.tenant_id) else {
        return Ok(HttpResponse::Ok().json(json!([])));
    };
    let filter = query.filter(tenant, &state)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let keyset = page.keyset();
    let fetched = devices::list_filtered(&mut tx, &filter, &keyset).await?;
    let all = page::shape(
        fetched,
        page.limit,
        |d| (d.name.clone(), d.id),
        |d| caller.sees(d.tenant_id) && caller.sees_site(Some(d.site_id)),
    );
    let router_ids: Vec<Uuid> = all
        .rows
        .iter()
        .filter(|d| d.kind == "routeros")
        .map(|d| d.id)
        .collect();
    let targets: HashMap<Uuid, router_store::RouterTarget> =
        router_store::for_devices(&mut tx, &router_ids)
            .await?
            .into_iter()
            .map(|t| (t.device_id, t))
            .collect();
    commit(tx).await?;
    let out: Vec<DeviceView> = all
        .rows
        .into_iter()
        .map(|d| {
            let target = targets.get(&d.id);
            DeviceView::new(d, &state).with_router(target)
        })
        .collect();
    Ok(page::ok(&req, &out, all.next.as_deref()))
}

/// Series listed at most by `GET /api/devices/{id}/series` (the engine caps series per device
/// at `engine.max_series_per_device`, 500 by default).
pub const MAX_SERIES: i64 = 1_000;

/// `GET /api/devices/{id}/series` → `{"device_id", "series": [{name, ts, value}]}`: every series
/// the device has stored, by name, with its latest point.
pub async fn series(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let device = visible_device(&mut tx, &caller, id.into_inner()).await?;
    let series = metrics::latest_per_series(&mut tx, device.id, MAX_SERIES).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(DeviceSeries {
        device_id: device.id,
        series,
    }))
}

/// The answer of `GET /api/devices/{id}/series`: each series' latest point, by name.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceSeries {
    pub device_id: Uuid,
    pub series: Vec<metrics::SeriesLatest>,
}

/// `GET /api/devices/{id}`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let device = visible_device(&mut tx, &caller, id.into_inner()).await?;
    let target = router_store::get(&mut tx, device.id).await?;
    commit(tx).await?;
    let view = DeviceView::new(device, &state).with_router(target.as_ref());
    Ok(HttpResponse::Ok().json(view))
}

/// `PATCH /api/devices/{id}`: renames and/or changes how a router is reached.
pub async fn patch(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<PatchDeviceBody>,
) -> Result<HttpResponse, ApiError> {
    let name = body
        .name
        .as_deref()
        .map(|n| validate_name("name", n))
        .transpose()?;
    let change = body
        .routeros
        .as_ref()
        .map(|r| routers::change(&state, r))
        .transpose()?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let device = visible_device(&mut tx, &caller, id.into_inner()).await?;
    caller.ensure_can_write(&mut tx, device.tenant_id).await?;
    if change.is_some() {
        ensure_may_set_router(&caller)?;
    }
    if change.is_some() && device.kind != "routeros" {
        return Err(ApiError::field(
            "routeros",
            "only routeros devices take routeros settings",
        ));
    }
    if let Some(router) = &body.routeros {
        routers::ensure_move_has_credentials(router)?;
    }
    let updated = match &name {
        Some(name) => devices::rename(&mut tx, device.id, name).await?,
        None => device.clone(),
    };
    if let Some(change) = &change {
        router_store::update(&mut tx, device.id, change).await?;
    }
    let target = router_store::get(&mut tx, device.id).await?;
    let details = json!({
        "from": device.name, "to": updated.name,
        // Which router settings changed; never their values for credentials.
        "routeros": change.as_ref().map(|c| json!({
            "host": c.host, "port": c.port, "tls": c.tls, "verify_tls": c.verify_tls,
            "credentials_changed": c.sealed_credentials.is_some(),
        })),
    });
    audit::record(
        &mut tx,
        Some(device.tenant_id),
        Some(caller.user_id),
        "device.update",
        "device",
        &device.id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    if change.is_some() {
        state.runtime.device_changed(device.id);
    }
    let view = DeviceView::new(updated, &state).with_router(target.as_ref());
    Ok(HttpResponse::Ok().json(view))
}

/// `DELETE /api/devices/{id}`: deletes and stops the device's actor.
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let device = visible_device(&mut tx, &caller, id.into_inner()).await?;
    caller.ensure_can_write(&mut tx, device.tenant_id).await?;
    devices::delete(&mut tx, device.id).await?;
    let details = json!({"name": device.name});
    audit::record(
        &mut tx,
        Some(device.tenant_id),
        Some(caller.user_id),
        "device.delete",
        "device",
        &device.id.to_string(),
        details,
    )
    .await?;
    commit(tx).await?;
    state.runtime.remove_device(device.id);
    tracing::info!(tenant_id = %device.tenant_id, device_id = %device.id, "Device deleted.");
    Ok(HttpResponse::NoContent().finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_follows_worst_firing_and_last_seen() {
        assert_eq!(health(Some("critical"), true), "red");
        assert_eq!(health(Some("warning"), true), "yellow");
        assert_eq!(health(None, true), "green");
        assert_eq!(health(None, false), "unknown");
    }
}
