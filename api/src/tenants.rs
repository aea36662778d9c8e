//! `/api/tenants`: client organisations, their plan and status, their profile (seed 000: razón
//! social, RFC, contact, allowed e-mails, address with CP, coordinates) and their ticket
//! assignment rule.

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::page::{self, Page, PageQuery};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::helpdesk::{
    check_coordinates, parse_allowed_email, parse_email, parse_phone, parse_postal_code, parse_rfc,
};
use centinela_storage::tenants::TenantChange;
use centinela_storage::{audit, tenants};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Plans and their device limits (`None` = unlimited).
pub const PLANS: &[(&str, Option<i64>)] = &[("basic", Some(5)), ("inter", Some(15)), ("pro", None)];

/// Entries of `allowed_emails` accepted.
const MAX_ALLOWED_EMAILS: usize = 100;

/// The tenant profile fields, in both bodies; absent fields keep their value.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct ProfileBody {
    pub legal_name: Option<String>,
    pub rfc: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub allowed_emails: Option<Vec<String>>,
    pub address: Option<String>,
    pub zip: Option<String>,
    pub state: Option<String>,
    pub city: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

/// `POST /api/tenants` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewTenantBody {
    pub name: String,
    pub plan: Option<String>,
    pub assignment_rule: Option<String>,
    #[serde(flatten)]
    pub profile: ProfileBody,
}

/// `PATCH /api/tenants/{id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct PatchTenantBody {
    pub name: Option<String>,
    pub plan: Option<String>,
    pub status: Option<String>,
    pub assignment_rule: Option<String>,
    /// Resolve an alert's ticket when the alert clears, if nobody moved or commented on it.
    pub auto_resolve_alert_tickets: Option<bool>,
    #[serde(flatten)]
    pub profile: ProfileBody,
}

/// A text of 1 to `max` characters (trimmed), named `field` when refused.
fn bounded(field: &str, text: Option<&str>, max: usize) -> Result<Option<String>, ApiError> {
    let Some(text) = text else { return Ok(None) };
    let text = text.trim();
    if (1..=max).contains(&text.chars().count()) {
        Ok(Some(text.to_owned()))
    } else {
        Err(ApiError::field(
            field,
            format!("{field} must have 1 to {max} characters"),
        ))
    }
}

fn field<T, E: std::fmt::Display>(name: &str, parsed: Result<T, E>) -> Result<T, ApiError> {
    parsed.map_err(|e| ApiError::field(name, e.to_string()))
}

fn validate_rule(rule: Option<&str>) -> Result<Option<String>, ApiError> {
    match rule {
        None => Ok(None),
        Some(rule @ ("round_robin" | "least_load")) => Ok(Some(rule.to_owned())),
        Some(_) => Err(ApiError::field(
            "assignment_rule",
            "assignment_rule must be round_robin or least_load",
        )),
    }
}

/// Validates the profile into a change (plan, status, name and rule are set by the caller).
fn profile_change(p: &ProfileBody) -> Result<TenantChange, ApiError> {
    let allowed = match &p.allowed_emails {
        Some(list) if list.len() > MAX_ALLOWED_EMAILS => {
            return Err(ApiError::field(
                "allowed_emails",
                format!("at most {MAX_ALLOWED_EMAILS} entries"),
            ));
        }
        Some(list) => {
            let mut parsed = list
                .iter()
                .map(|entry| field("allowed_emails", parse_allowed_email(entry)))
                .collect::<Result<Vec<_>, _>>()?;
            parsed.dedup();
            Some(parsed)
        }
        None => None,
    };
    match (p.lat, p.lon) {
        (Some(lat), Some(lon)) => {
            let checked = check_coordinates(lat, lon);
            field(
                if (-90.0..=90.0).contains(&lat) {
                    "lon"
                } else {
                    "lat"
                },
                checked,
            )?;
        }
        (None, None) => {}
        (Some(_), None) => return Err(ApiError::field("lon", "lat and lon go together")),
        (None, Some(_)) => return Err(ApiError::field("lat", "lat and lon go together")),
    }
    Ok(TenantChange {
        legal_name: bounded("legal_name", p.legal_name.as_deref(), 300)?,
        rfc: p
            .rfc
            .as_deref()
            .map(|r| field("rfc", parse_rfc(r)))
            .transpose()?,
        email: p
            .email
            .as_deref()
            .map(|e| field("email", parse_email(e)))
            .transpose()?,
        phone: p
            .phone
            .as_deref()
            .map(|v| field("phone", parse_phone(v)))
            .transpose()?,
        allowed_emails: allowed,
        address: bounded("address", p.address.as_deref(), 300)?,
        zip: p
            .zip
            .as_deref()
            .map(|z| field("zip", parse_postal_code(z)))
            .transpose()?,
        state: bounded("state", p.state.as_deref(), 100)?,
        city: bounded("city", p.city.as_deref(), 100)?,
        lat: p.lat,
        lon: p.lon,
        ..TenantChange::default()
    })
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
    let change = TenantChange {
        assignment_rule: validate_rule(body.assignment_rule.as_deref())?,
        ..profile_change(&body.profile)?
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let tenant = tenants::create(&mut tx, &name, plan).await?;
    let tenant = tenants::change(&mut tx, tenant.id, &change).await?;
    let details = json!({"name": tenant.name, "plan": tenant.plan, "rfc": tenant.rfc});
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
    let change = TenantChange {
        name: body
            .name
            .as_deref()
            .map(|n| validate_name("name", n))
            .transpose()?,
        plan: body.plan.clone(),
        status: body.status.clone(),
        assignment_rule: validate_rule(body.assignment_rule.as_deref())?,
        auto_resolve_alert_tickets: body.auto_resolve_alert_tickets,
        ..profile_change(&body.profile)?
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let tenant = tenants::change(&mut tx, id, &change).await?;
    let details = json!({
        "name": change.name, "plan": change.plan, "status": change.status,
        "assignment_rule": change.assignment_rule,
        "auto_resolve_alert_tickets": change.auto_resolve_alert_tickets,
        "legal_name": change.legal_name,
        "rfc": change.rfc, "email": change.email, "phone": change.phone,
        "allowed_emails": change.allowed_emails, "address": change.address, "zip": change.zip,
        "state": change.state, "city": change.city, "lat": change.lat, "lon": change.lon,
    });
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
