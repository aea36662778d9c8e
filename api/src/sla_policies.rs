//! `/api/sla-policies`: contracted hours, holidays and per-priority targets, per tenant over
//! the MSP-wide default (`tenant_id` null). Superadmins and admins write; staff and a tenant's
//! client_admin read (its tenant's and the default); requesters do not see them.
//!
//! A `PATCH` makes a new version (every ticket keeps the version it was opened under); `POST
//! /{id}/apply` moves the open tickets of that policy's line to its newest version. Every write
//! lands in `audit_log`.

use crate::caller::{Caller, ListTenant};
use crate::error::{ApiError, commit};
use crate::page;
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::sla::clock::Targets;
use centinela_model::sla::{Calendar, CalendarError, CalendarSpec, HolidaySpec, IntervalSpec};
use centinela_model::{Role, Scope};
use centinela_storage::sla::{self, NewPolicy, Policy};
use centinela_storage::{PgConnection, audit, tenants};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most intervals on one day, and most holidays in one policy.
const MAX_INTERVALS: usize = 8;
const MAX_HOLIDAYS: usize = 400;
/// Default minutes between breach reminders.
const DEFAULT_REMINDER_MIN: i32 = 60;

/// `GET /api/sla-policies` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PolicyQuery {
    pub tenant_id: Option<Uuid>,
    /// Every version, newest first (default: only the newest of each policy).
    #[serde(default)]
    pub all_versions: bool,
}

/// `POST /api/sla-policies` body: a tenant's first policy (or a new version of the default with
/// no `tenant_id`). Fields left out take the defaults (Monday–Friday 09:00–19:00 in Mexico City,
/// seed 000's targets, reminders every 60 business minutes).
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreatePolicyBody {
    pub tenant_id: Option<Uuid>,
    pub timezone: Option<String>,
    #[schema(value_type = Option<BTreeMap<String, Vec<Vec<String>>>>)]
    pub hours: Option<BTreeMap<String, Vec<IntervalSpec>>>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub holidays: Option<Vec<HolidaySpec>>,
    pub targets: Option<Targets>,
    pub reminder_min: Option<i32>,
}

/// `PATCH /api/sla-policies/{id}` body: the fields to change in a new version.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchPolicyBody {
    pub timezone: Option<String>,
    #[schema(value_type = Option<BTreeMap<String, Vec<Vec<String>>>>)]
    pub hours: Option<BTreeMap<String, Vec<IntervalSpec>>>,
    #[schema(value_type = Option<Vec<Object>>)]
    pub holidays: Option<Vec<HolidaySpec>>,
    pub targets: Option<Targets>,
    pub reminder_min: Option<i32>,
}

/// The answer of `POST /api/sla-policies/{id}/apply`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Applied {
    pub policy: Policy,
    /// Open tickets moved to this version.
    pub tickets_moved: usize,
}

fn calendar_error(error: CalendarError) -> ApiError {
    let field = match error {
        CalendarError::TimeZone(_) => "timezone",
        CalendarError::Date(_) => "holidays",
        _ => "hours",
    };
    ApiError::field(field, error.to_string())
}

/// Checks a policy as it would be stored.
fn validate(spec: &CalendarSpec, targets: &Targets, reminder_min: i32) -> Result<(), ApiError> {
    if spec.hours.values().any(|day| day.len() > MAX_INTERVALS) {
        return Err(ApiError::field(
            "hours",
            format!("at most {MAX_INTERVALS} intervals per day"),
        ));
    }
    if spec.holidays.len() > MAX_HOLIDAYS {
        return Err(ApiError::field(
            "holidays",
            format!("at most {MAX_HOLIDAYS} holidays"),
        ));
    }
    if spec
        .holidays
        .iter()
        .any(|h| h.hours.as_ref().is_some_and(|d| d.len() > MAX_INTERVALS))
    {
        return Err(ApiError::field(
            "holidays",
            format!("at most {MAX_INTERVALS} intervals per holiday"),
        ));
    }
    Calendar::from_spec(spec).map_err(calendar_error)?;
    targets
        .validate()
        .map_err(|message| ApiError::field("targets", message))?;
    if !(5..=10_080).contains(&reminder_min) {
        return Err(ApiError::field(
            "reminder_min",
            "reminder_min must be between 5 and 10080 business minutes",
        ));
    }
    Ok(())
}

fn ensure_reader(caller: &Caller) -> Result<(), ApiError> {
    if caller.role == Role::Requester {
        return Err(ApiError::Forbidden(
            "requesters do not see SLA policies".into(),
        ));
    }
    Ok(())
}

/// A policy version the caller sees, or 404.
async fn visible(conn: &mut PgConnection, caller: &Caller, id: Uuid) -> Result<Policy, ApiError> {
    let policy = sla::get(conn, id).await?;
    if let Some(tenant) = policy.tenant_id {
        caller.ensure_visible(tenant)?;
    }
    Ok(policy)
}

async fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    policy: &Policy,
    action: &str,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        policy.tenant_id,
        Some(caller.user_id),
        action,
        "sla_policy",
        &policy.id.to_string(),
        details,
    )
    .await?;
    Ok(())
}

/// `GET /api/sla-policies`: the newest version of the default and of each visible tenant's
/// policy (or one tenant's with `tenant_id`); `all_versions=true` lists every version.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<PolicyQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    ensure_reader(&caller)?;
    let tenant = match caller.list_tenant(query.tenant_id) {
        ListTenant::Only(tenant) => tenant,
        ListTenant::NotVisible => return Ok(page::ok(&req, &[] as &[Policy], None)),
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let rows = sla::list(&mut tx, tenant, query.all_versions).await?;
    commit(tx).await?;
    let rows: Vec<Policy> = rows
        .into_iter()
        .filter(|p| p.tenant_id.is_none_or(|t| caller.sees(t)))
        .collect();
    Ok(page::ok(&req, &rows, None))
}

/// `GET /api/sla-policies/{id}`: one version.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    ensure_reader(&caller)?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let policy = visible(&mut tx, &caller, *id).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(policy))
}

/// `POST /api/sla-policies` → 201: a tenant's first policy; 409 when it has one (change it
/// with `PATCH`, which keeps its versions in one line).
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<CreatePolicyBody>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let body = body.into_inner();
    let defaults = CalendarSpec::default_business_hours();
    let spec = CalendarSpec {
        timezone: body.timezone.unwrap_or(defaults.timezone),
        hours: body.hours.unwrap_or(defaults.hours),
        holidays: body.holidays.unwrap_or_default(),
    };
    let targets = body.targets.unwrap_or_default();
    let reminder_min = body.reminder_min.unwrap_or(DEFAULT_REMINDER_MIN);
    validate(&spec, &targets, reminder_min)?;
    let mut tx = state.store.begin(Scope::All).await?;
    match body.tenant_id {
        Some(tenant) => {
            tenants::get(&mut tx, tenant)
                .await
                .map_err(|_| ApiError::field("tenant_id", "no such tenant"))?;
            if sla::tenant_has_own(&mut tx, tenant).await? {
                return Err(ApiError::Conflict(
                    "this tenant has a policy: PATCH it to make a new version".into(),
                ));
            }
        }
        None => {
            return Err(ApiError::Conflict(
                "the MSP-wide default exists: PATCH it to make a new version".into(),
            ));
        }
    }
    let new = NewPolicy {
        tenant_id: body.tenant_id,
        spec,
        targets,
        reminder_min,
        created_by: Some(caller.user_id),
    };
    let policy = sla::insert(&mut tx, &new).await?;
    record(
        &mut tx,
        &caller,
        &policy,
        "sla_policy.create",
        json!({"version": policy.version}),
    )
    .await?;
    commit(tx).await?;
    Ok(HttpResponse::Created().json(policy))
}

/// `PATCH /api/sla-policies/{id}` → 200 with the new version (the given one's fields, changed).
pub async fn patch(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<PatchPolicyBody>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let body = body.into_inner();
    let mut tx = state.store.begin(Scope::All).await?;
    let base = sla::get(&mut tx, *id).await?;
    let mut spec = base.spec();
    if let Some(timezone) = body.timezone {
        spec.timezone = timezone;
    }
    if let Some(hours) = body.hours {
        spec.hours = hours;
    }
    if let Some(holidays) = body.holidays {
        spec.holidays = holidays;
    }
    let targets = body.targets.unwrap_or(base.targets.0);
    let reminder_min = body.reminder_min.unwrap_or(base.reminder_min);
    validate(&spec, &targets, reminder_min)?;
    let new = NewPolicy {
        tenant_id: base.tenant_id,
        spec,
        targets,
        reminder_min,
        created_by: Some(caller.user_id),
    };
    let policy = sla::insert(&mut tx, &new).await?;
    let details = json!({"version": policy.version, "from_version": base.version});
    record(&mut tx, &caller, &policy, "sla_policy.update", details).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(policy))
}

/// `POST /api/sla-policies/{id}/apply` → the newest version of the policy's line, and how many
/// open tickets moved to it (their due dates recomputed).
pub async fn apply(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    caller.ensure_msp_admin()?;
    let mut tx = state.store.begin(Scope::All).await?;
    let given = sla::get(&mut tx, *id).await?;
    let newest = match given.tenant_id {
        Some(tenant) => sla::current(&mut tx, tenant).await?,
        None => sla::list(&mut tx, None, false)
            .await?
            .into_iter()
            .find(|p| p.tenant_id.is_none())
            .ok_or(ApiError::NotFound)?,
    };
    let moved = sla::apply(&mut tx, &newest).await?;
    for ticket in &moved {
        sla::store_due(&mut tx, *ticket).await?;
    }
    let details = json!({"version": newest.version, "tickets_moved": moved.len()});
    record(&mut tx, &caller, &newest, "sla_policy.apply", details).await?;
    commit(tx).await?;
    state.runtime.sla_touch(moved.clone());
    tracing::info!(policy = %newest.id, version = newest.version, tickets = moved.len(), "SLA policy applied.");
    Ok(HttpResponse::Ok().json(Applied {
        policy: newest,
        tickets_moved: moved.len(),
    }))
}
