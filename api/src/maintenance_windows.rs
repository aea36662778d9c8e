//! `/api/maintenance-windows`: planned work on a tenant, a site or a device, one-off
//! (`starts_at`..`ends_at`) or recurring (`{"weekly": {days, start, end}}` or
//! `{"monthly": {day, start, end}}` in a time zone). While a window covers a device, alerts it
//! raises carry `suppressed_by` (visible, no ticket; a condition still firing when the window
//! ends becomes a normal alert then), and SLA clocks of the tickets it covers pause.
//!
//! Staff manage every tenant's windows, a client_admin its own tenant's; requesters have none.
//! A window counts from the moment it is created (never retroactively: it cannot pause a clock
//! in the past), and a one-off window must end in the future. Every write is audited and
//! reaches the engine at once (alerts raised from then on, every clock re-evaluated).

use crate::alerts::optional_time;
use crate::caller::{Caller, ListTenant};
use crate::error::{ApiError, commit};
use crate::page;
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::Role;
use centinela_model::maintenance::{MAX_ONE_OFF_DAYS, RecurrenceSpec, Schedule};
use centinela_storage::maintenance::{self, NewWindow, Window};
use centinela_storage::{PgConnection, audit, devices, sites, tenants};
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use serde_json::json;
use uuid::Uuid;

/// Longest description, in characters.
const MAX_DESCRIPTION: usize = 500;
/// Windows one tenant may have.
const MAX_PER_TENANT: usize = 200;
/// The zone of a recurrence when none is given.
const DEFAULT_TZ: &str = "America/Mexico_City";

/// `GET /api/maintenance-windows` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WindowQuery {
    pub tenant_id: Option<Uuid>,
    /// `true`: only windows running now or still to come (soonest first).
    pub upcoming: Option<bool>,
}

/// `POST /api/maintenance-windows` body: a one-off window (`starts_at`, `ends_at`) or a
/// recurring one (`recurrence`, `timezone`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateWindowBody {
    /// `tenant`, `site` or `device`.
    pub scope: String,
    pub scope_id: Uuid,
    pub description: String,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub recurrence: Option<RecurrenceSpec>,
    /// IANA zone of the recurrence's local times (default America/Mexico_City).
    pub timezone: Option<String>,
}

/// `PATCH /api/maintenance-windows/{id}` body: the fields to change (a one-off window ends
/// early by moving `ends_at`).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchWindowBody {
    pub description: Option<String>,
    pub starts_at: Option<String>,
    pub ends_at: Option<String>,
    pub recurrence: Option<RecurrenceSpec>,
    pub timezone: Option<String>,
}

/// A window with where it stands now.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WindowView {
    #[serde(flatten)]
    pub window: Window,
    /// A window covers its scope right now.
    pub active: bool,
    /// The occurrence running now, or the next one (`null`: none within 62 days).
    pub next_starts_at: Option<DateTime<Utc>>,
    pub next_ends_at: Option<DateTime<Utc>>,
}

fn view(window: Window, now: DateTime<Utc>) -> WindowView {
    let next = window.schedule().ok().and_then(|s| s.next_after(now));
    WindowView {
        active: next.is_some_and(|(s, _)| s <= now),
        next_starts_at: next.map(|n| n.0),
        next_ends_at: next.map(|n| n.1),
        window,
    }
}

/// 403 for roles that have no windows (requesters).
fn ensure_role(caller: &Caller) -> Result<(), ApiError> {
    match caller.role {
        Role::Superadmin | Role::Admin | Role::Technician | Role::ClientAdmin => Ok(()),
        Role::Requester => Err(ApiError::Forbidden(
            "maintenance windows are managed by the MSP and the client's administrator".into(),
        )),
    }
}

/// `GET /api/maintenance-windows`: the windows the caller sees (at most 1000, newest first;
/// with `upcoming=true` the running and future ones, soonest first).
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<WindowQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    ensure_role(&caller)?;
    let tenant = match caller.list_tenant(query.tenant_id) {
        ListTenant::Only(tenant) => tenant,
        ListTenant::NotVisible => return Ok(page::ok(&req, &[] as &[WindowView], None)),
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let rows = maintenance::list(&mut tx, tenant).await?;
    commit(tx).await?;
    let now = state.runtime.now();
    let mut views: Vec<WindowView> = rows
        .into_iter()
        .filter(|w| caller.sees(w.tenant_id))
        .map(|w| view(w, now))
        .collect();
    if query.upcoming == Some(true) {
        views.retain(|v| v.next_starts_at.is_some());
        views.sort_by_key(|v| (v.next_starts_at, v.window.id));
    }
    Ok(page::ok(&req, &views, None))
}

/// `GET /api/maintenance-windows/{id}`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ensure_role(&caller)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let window = maintenance::get(&mut tx, *id).await?;
    caller.ensure_visible(window.tenant_id)?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(view(window, state.runtime.now())))
}

/// The tenant a scope belongs to; 404 when the caller cannot see it.
async fn scope_tenant(
    conn: &mut PgConnection,
    caller: &Caller,
    scope: &str,
    id: Uuid,
) -> Result<Uuid, ApiError> {
    let tenant = match scope {
        "tenant" => tenants::get(conn, id).await?.id,
        "site" => sites::get(conn, id).await?.tenant_id,
        "device" => devices::get(conn, id).await?.tenant_id,
        _ => {
            return Err(ApiError::field(
                "scope",
                "scope must be tenant, site or device",
            ));
        }
    };
    caller.ensure_visible(tenant)?;
    Ok(tenant)
}

/// Checks a window's texts, and its schedule when `schedule` (a new window, or a change of
/// its span or recurrence), as they would be stored.
fn validate(new: &mut NewWindow, now: DateTime<Utc>, schedule: bool) -> Result<(), ApiError> {
    let description = new.description.trim();
    if description.is_empty() || description.chars().count() > MAX_DESCRIPTION {
        return Err(ApiError::field(
            "description",
            format!("description must have 1 to {MAX_DESCRIPTION} characters"),
        ));
    }
    if description.contains('\0') {
        return Err(ApiError::field(
            "description",
            "description must not contain NUL characters",
        ));
    }
    new.description = description.to_owned();
    if !schedule {
        return Ok(());
    }
    match (&new.recurrence, new.starts_at, new.ends_at) {
        (Some(recurrence), None, None) => {
            Schedule::recurring(recurrence, &new.timezone).map_err(|e| {
                let text = e.to_string();
                let field = text.split(':').next().unwrap_or("recurrence").to_owned();
                ApiError::field(&field, text)
            })?;
        }
        (None, Some(starts_at), Some(ends_at)) => {
            if ends_at <= starts_at {
                return Err(ApiError::field(
                    "ends_at",
                    "ends_at must be after starts_at",
                ));
            }
            if ends_at <= now {
                return Err(ApiError::field(
                    "ends_at",
                    "ends_at is in the past: a window cannot pause what already happened",
                ));
            }
            if ends_at - starts_at > Duration::days(MAX_ONE_OFF_DAYS) {
                return Err(ApiError::field(
                    "ends_at",
                    format!("a one-off window lasts at most {MAX_ONE_OFF_DAYS} days"),
                ));
            }
        }
        (Some(_), _, _) => {
            return Err(ApiError::field(
                "recurrence",
                "give either starts_at and ends_at, or a recurrence, not both",
            ));
        }
        (None, _, _) => {
            return Err(ApiError::field(
                "starts_at",
                "give starts_at and ends_at (a one-off window) or a recurrence",
            ));
        }
    }
    Ok(())
}

/// `POST /api/maintenance-windows` → 201 the window.
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<CreateWindowBody>,
) -> Result<HttpResponse, ApiError> {
    ensure_role(&caller)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let tenant = scope_tenant(&mut tx, &caller, &body.scope, body.scope_id).await?;
    caller.ensure_can_write(&mut tx, tenant).await?;
    let mut new = NewWindow {
        tenant_id: tenant,
        scope: body.scope.clone(),
        scope_id: body.scope_id,
        description: body.description.clone(),
        starts_at: optional_time("starts_at", body.starts_at.as_deref())?,
        ends_at: optional_time("ends_at", body.ends_at.as_deref())?,
        recurrence: body.recurrence.clone(),
        timezone: body
            .timezone
            .clone()
            .unwrap_or_else(|| DEFAULT_TZ.to_owned()),
        created_by: Some(caller.user_id),
    };
    let now = state.runtime.now();
    validate(&mut new, now, true)?;
    if maintenance::list(&mut tx, Some(tenant)).await?.len() >= MAX_PER_TENANT {
        return Err(ApiError::Conflict(format!(
            "a tenant has at most {MAX_PER_TENANT} maintenance windows; delete old ones first"
        )));
    }
    let window = maintenance::insert(&mut tx, &new).await?;
    record(&mut tx, &caller, &window, "maintenance_window.create").await?;
    commit(tx).await?;
    changed(&state).await;
    tracing::info!(window = %window.id, tenant_id = %window.tenant_id, scope = %window.scope, "Maintenance window created.");
    Ok(HttpResponse::Created().json(view(window, now)))
}

/// `PATCH /api/maintenance-windows/{id}` → the window.
pub async fn patch(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<PatchWindowBody>,
) -> Result<HttpResponse, ApiError> {
    ensure_role(&caller)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let window = maintenance::get(&mut tx, *id).await?;
    caller.ensure_visible(window.tenant_id)?;
    caller.ensure_can_write(&mut tx, window.tenant_id).await?;
    let one_off = body.starts_at.is_some() || body.ends_at.is_some();
    let mut new = NewWindow {
        tenant_id: window.tenant_id,
        scope: window.scope.clone(),
        scope_id: window.scope_id,
        description: body
            .description
            .clone()
            .unwrap_or_else(|| window.description.clone()),
        starts_at: match &body.starts_at {
            Some(text) => optional_time("starts_at", Some(text))?,
            None if body.recurrence.is_some() => None,
            None => window.starts_at,
        },
        ends_at: match &body.ends_at {
            Some(text) => optional_time("ends_at", Some(text))?,
            None if body.recurrence.is_some() => None,
            None => window.ends_at,
        },
        recurrence: match &body.recurrence {
            Some(r) => Some(r.clone()),
            None if one_off => None,
            None => window.recurrence.as_ref().map(|r| r.0.clone()),
        },
        timezone: body
            .timezone
            .clone()
            .unwrap_or_else(|| window.timezone.clone()),
        created_by: window.created_by,
    };
    let now = state.runtime.now();
    // Whether the window has already covered something: its past is then part of the clocks'
    // history, and only its end (or its text) may change.
    let started = window.schedule().ok().is_some_and(|s| {
        s.occurrences(window.created_at, now)
            .iter()
            .any(|(start, _)| *start < now)
    });
    let reschedules =
        body.starts_at.is_some() || body.recurrence.is_some() || body.timezone.is_some();
    if started && reschedules {
        return Err(ApiError::Conflict(
            "this window has already run and paused clocks: only its end and description may \
             change; end it (ends_at) and create a new window for a new schedule"
                .into(),
        ));
    }
    // Ending a running window now: an end a few minutes in the past (clocks differ) means now.
    if body.ends_at.is_some()
        && let Some(end) = new.ends_at
        && end <= now
        && end > now - Duration::minutes(5)
    {
        new.ends_at = Some(now + Duration::seconds(1));
    }
    validate(&mut new, now, reschedules || body.ends_at.is_some())?;
    let window = maintenance::update(&mut tx, *id, &new).await?;
    record(&mut tx, &caller, &window, "maintenance_window.update").await?;
    commit(tx).await?;
    changed(&state).await;
    Ok(HttpResponse::Ok().json(view(window, now)))
}

/// `DELETE /api/maintenance-windows/{id}` → 204. Its past pauses leave the SLA clocks with it
/// (end a window early with a PATCH of `ends_at` instead, to keep them).
pub async fn delete(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ensure_role(&caller)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let window = maintenance::get(&mut tx, *id).await?;
    caller.ensure_visible(window.tenant_id)?;
    caller.ensure_can_write(&mut tx, window.tenant_id).await?;
    maintenance::delete(&mut tx, *id).await?;
    record(&mut tx, &caller, &window, "maintenance_window.delete").await?;
    commit(tx).await?;
    changed(&state).await;
    Ok(HttpResponse::NoContent().finish())
}

/// Tells the engine (a failure only delays it to the watcher's next reload, within a minute).
async fn changed(state: &ApiState) {
    if let Err(error) = state.runtime.maintenance_changed().await {
        tracing::warn!(%error, "Maintenance windows not reloaded now; the next periodic reload picks the change up.");
    }
}

async fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    window: &Window,
    action: &str,
) -> Result<(), ApiError> {
    let details = json!({"scope": window.scope, "scope_id": window.scope_id,
        "description": window.description, "starts_at": window.starts_at,
        "ends_at": window.ends_at, "recurrence": window.recurrence,
        "timezone": window.timezone});
    audit::record(
        conn,
        Some(window.tenant_id),
        Some(caller.user_id),
        action,
        "maintenance_window",
        &window.id.to_string(),
        details,
    )
    .await?;
    Ok(())
}
