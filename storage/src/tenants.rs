//! Tenants (client organisations): plan and status.

use crate::{Keyset, NameKey, Result, StorageError};
use centinela_model::TenantId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct Tenant {
    pub id: Uuid,
    pub name: String,
    pub plan: String,
    pub status: String,
    pub created_at: DateTime<Utc>,
    /// Resolve an alert's ticket when the alert clears, if nobody moved or commented on it.
    pub auto_resolve_alert_tickets: bool,
}

const COLUMNS: &str = "id, name, plan, status, created_at, auto_resolve_alert_tickets";

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
