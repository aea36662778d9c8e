//! Tenants (client organisations): plan and status.

use crate::{Keyset, NameKey, Result, StorageError};
use centinela_model::TenantId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub plan: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// The profile (seed 000): razón social, RFC, contact, allowed e-mails, address.
    pub legal_name: Option<String>,
    pub rfc: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub allowed_emails: Vec<String>,
    pub address: Option<String>,
    pub zip: Option<String>,
    pub state: Option<String>,
    pub city: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// `round_robin` or `least_load`: how the tenant's tickets are assigned.
    pub assignment_rule: String,
    /// Resolve an alert's ticket when the alert clears, if nobody moved or commented on it.
    pub auto_resolve_alert_tickets: bool,
}

const COLUMNS: &str = "id, name, plan, status, created_at, legal_name, rfc, email, phone, \
    allowed_emails, address, zip, state, city, lat, lon, assignment_rule, auto_resolve_alert_tickets";

/// A change of a tenant's profile and settings; `None` keeps the current value.
#[derive(Debug, Clone, Default)]
pub struct TenantChange {
    pub name: Option<String>,
    pub plan: Option<String>,
    pub status: Option<String>,
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
    pub assignment_rule: Option<String>,
    pub auto_resolve_alert_tickets: Option<bool>,
}

/// Applies a change to the profile and settings.
pub async fn change(conn: &mut PgConnection, id: Uuid, c: &TenantChange) -> Result<Tenant> {
    sqlx::query_as(sqlf!(
        "UPDATE tenants SET name = coalesce($2, name), plan = coalesce($3, plan),
                status = coalesce($4, status), legal_name = coalesce($5, legal_name),
                rfc = coalesce($6, rfc), email = coalesce($7, email), phone = coalesce($8, phone),
                allowed_emails = coalesce($9, allowed_emails), address = coalesce($10, address),
                zip = coalesce($11, zip), state = coalesce($12, state), city = coalesce($13, city),
                lat = coalesce($14, lat), lon = coalesce($15, lon),
                assignment_rule = coalesce($16, assignment_rule),
                auto_resolve_alert_tickets = coalesce($17, auto_resolve_alert_tickets)
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&c.name)
    .bind(&c.plan)
    .bind(&c.status)
    .bind(&c.legal_name)
    .bind(&c.rfc)
    .bind(&c.email)
    .bind(&c.phone)
    .bind(&c.allowed_emails)
    .bind(&c.address)
    .bind(&c.zip)
    .bind(&c.state)
    .bind(&c.city)
    .bind(c.lat)
    .bind(c.lon)
    .bind(&c.assignment_rule)
    .bind(c.auto_resolve_alert_tickets)
    .fetch_optional(conn)
    .await
    .map_err(StorageError::classify)?
    .ok_or(StorageError::NotFound)
}

pub async fn create(conn: &mut PgConnection, name: &str, plan: &str) -> Result<Tenant> {
    sqlx::query_as(sqlf!(
        "INSERT INTO tenants (id, name, plan) VALUES ($1, $2, $3) RETURNING {COLUMNS}"
    ))
    .bind(TenantId::new().0)
    .bind(name)
    .bind(plan)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

pub async fn list(conn: &mut PgConnection, page: &Keyset<NameKey>) -> Result<Vec<Tenant>> {
    let (name, id) = page.after.clone().unzip();
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM tenants WHERE ($2::text IS NULL OR (name, id) > ($2, $3))
         ORDER BY name, id LIMIT $1"
    ))
    .bind(page.limit)
    .bind(name)
    .bind(id)
    .fetch_all(conn)
    .await?)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Tenant> {
    sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM tenants WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StorageError::NotFound)
}

/// Reads a tenant and locks its row until the transaction ends: writers that count the
/// tenant's rows against its plan (device creation) take turns, so two of them cannot both see
/// room for the last device.
pub async fn get_for_update(conn: &mut PgConnection, id: Uuid) -> Result<Tenant> {
    sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM tenants WHERE id = $1 FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

/// Updates plan and/or status; `None` keeps the current value.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    plan: Option<&str>,
    status: Option<&str>,
) -> Result<Tenant> {
    sqlx::query_as(sqlf!(
        "UPDATE tenants SET plan = coalesce($2, plan), status = coalesce($3, status)
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(plan)
    .bind(status)
    .fetch_optional(conn)
    .await
    .map_err(StorageError::classify)?
    .ok_or(StorageError::NotFound)
}

/// Sets the tenant's alert-ticket auto-resolve setting.
pub async fn set_auto_resolve_alert_tickets(
    conn: &mut PgConnection,
    id: Uuid,
    on: bool,
) -> Result<Tenant> {
    sqlx::query_as(sqlf!(
        "UPDATE tenants SET auto_resolve_alert_tickets = $2 WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(on)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}
