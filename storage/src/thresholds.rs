//! Threshold rules with tenant → site → device scopes.

use crate::{Keyset, Result, StorageError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Threshold {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub scope: String,
    pub scope_id: Uuid,
    pub metric: String,
    pub op: String,
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    pub for_seconds: i32,
    pub clear_margin: f64,
    pub auto_ticket: bool,
    pub ticket_priority: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A new or replaced threshold (validated by the caller against `model::threshold::Rule`).
#[derive(Debug, Clone)]
pub struct ThresholdInput {
    pub tenant_id: Uuid,
    pub scope: String,
    pub scope_id: Uuid,
    pub metric: String,
    pub op: String,
    pub warning: Option<f64>,
    pub critical: Option<f64>,
    pub for_seconds: i32,
    pub clear_margin: f64,
    pub auto_ticket: bool,
    pub ticket_priority: Option<String>,
}

const COLUMNS: &str = "id, tenant_id, scope, scope_id, metric, op, warning, critical, for_seconds, \
    clear_margin, auto_ticket, ticket_priority, created_at";

/// Resolves the tenant a scope target belongs to, or `NotFound` if it is not visible.
pub async fn scope_tenant(conn: &mut PgConnection, scope: &str, scope_id: Uuid) -> Result<Uuid> {
    let sql = match scope {
        "tenant" => "SELECT id FROM tenants WHERE id = $1",
        "site" => "SELECT tenant_id FROM sites WHERE id = $1",
        "device" => "SELECT tenant_id FROM devices WHERE id = $1",
        _ => return Err(StorageError::Invalid(format!("unknown scope '{scope}'"))),
    };
    let row: Option<(Uuid,)> = sqlx::query_as(sql)
        .bind(scope_id)
        .fetch_optional(conn)
        .await?;
    row.map(|r| r.0).ok_or(StorageError::NotFound)
}

pub async fn create(conn: &mut PgConnection, t: &ThresholdInput) -> Result<Threshold> {
    sqlx::query_as(sqlf!(
        "INSERT INTO thresholds (id, tenant_id, scope, scope_id, metric, op, warning, critical,
             for_seconds, clear_margin, auto_ticket, ticket_priority)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(t.tenant_id)
    .bind(&t.scope)
    .bind(t.scope_id)
    .bind(&t.metric)
    .bind(&t.op)
    .bind(t.warning)
    .bind(t.critical)
    .bind(t.for_seconds)
    .bind(t.clear_margin)
    .bind(t.auto_ticket)
    .bind(&t.ticket_priority)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

/// Replaces the rule fields of a threshold (scope and metric stay).
pub async fn update(conn: &mut PgConnection, id: Uuid, t: &ThresholdInput) -> Result<Threshold> {
    sqlx::query_as(sqlf!(
        "UPDATE thresholds SET op = $2, warning = $3, critical = $4, for_seconds = $5,
             clear_margin = $6, auto_ticket = $7, ticket_priority = $8
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&t.op)
    .bind(t.warning)
    .bind(t.critical)
    .bind(t.for_seconds)
    .bind(t.clear_margin)
    .bind(t.auto_ticket)
    .bind(&t.ticket_priority)
    .fetch_optional(conn)
    .await
    .map_err(StorageError::classify)?
    .ok_or(StorageError::NotFound)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Threshold> {
    sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM thresholds WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StorageError::NotFound)
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<Threshold> {
    sqlx::query_as(sqlf!(
        "DELETE FROM thresholds WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

/// The sort key of [`list`]: metric, scope, then id.
pub type ThresholdKey = (String, String, Uuid);

/// The [`ThresholdKey`] of a rule.
pub fn list_key(t: &Threshold) -> ThresholdKey {
    (t.metric.clone(), t.scope.clone(), t.id)
}

/// Every rule of a tenant (or all visible ones), for the runtime's rule sets.
pub async fn list(conn: &mut PgConnection, tenant: Option<Uuid>) -> Result<Vec<Threshold>> {
    list_page(
        conn,
        tenant,
        &Keyset {
            limit: i64::MAX,
            after: None,
        },
    )
    .await
}

/// One page of rules in [`ThresholdKey`] order (the API's list).
pub async fn list_page(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    page: &Keyset<ThresholdKey>,
) -> Result<Vec<Threshold>> {
    let after = page.after.clone();
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM thresholds WHERE ($1::uuid IS NULL OR tenant_id = $1)
           AND ($3::text IS NULL OR (metric, scope, id) > ($3, $4, $5))
         ORDER BY metric, scope, id LIMIT $2"
    ))
    .bind(tenant)
    .bind(page.limit)
    .bind(after.as_ref().map(|k| k.0.clone()))
    .bind(after.as_ref().map(|k| k.1.clone()))
    .bind(after.map(|k| k.2))
    .fetch_all(conn)
    .await?)
}

/// The rules that apply to a device: for each metric, the most specific scope wins
/// (device over site over tenant).
pub async fn effective_for_device(
    conn: &mut PgConnection,
    device_id: Uuid,
) -> Result<Vec<Threshold>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT DISTINCT ON (t.metric) {COLUMNS}
         FROM thresholds t JOIN devices d ON d.id = $1
         WHERE t.tenant_id = d.tenant_id
           AND ((t.scope = 'device' AND t.scope_id = d.id)
             OR (t.scope = 'site' AND t.scope_id = d.site_id)
             OR (t.scope = 'tenant' AND t.scope_id = d.tenant_id))
         ORDER BY t.metric, CASE t.scope WHEN 'device' THEN 0 WHEN 'site' THEN 1 ELSE 2 END",
        COLUMNS = COLUMNS
            .split(", ")
            .map(|c| format!("t.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    ))
    .bind(device_id)
    .fetch_all(conn)
    .await?)
}
