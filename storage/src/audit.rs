//! The audit log: who did what to which object.

use crate::Result;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// Appends an audit entry.
pub async fn record(
    conn: &mut PgConnection,
    tenant_id: Option<Uuid>,
    actor_id: Option<Uuid>,
    action: &str,
    target_type: &str,
    target_id: &str,
    details: serde_json::Value,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO audit_log (tenant_id, actor_id, action, target_type, target_id, details)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(tenant_id)
    .bind(actor_id)
    .bind(action)
    .bind(target_type)
    .bind(target_id)
    .bind(details)
    .execute(conn)
    .await?;
    Ok(())
}

/// Number of audit entries for an action (tests and diagnostics).
pub async fn count(conn: &mut PgConnection, action: &str) -> Result<i64> {
    let row: (i64,) = sqlx::query_as("SELECT count(*) FROM audit_log WHERE action = $1")
        .bind(action)
        .fetch_one(conn)
        .await?;
    Ok(row.0)
}

/// One audit entry.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Entry {
    pub id: i64,
    pub at: DateTime<Utc>,
    pub tenant_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: String,
    pub target_type: String,
    pub target_id: Option<String>,
    #[schema(value_type = Object)]
    pub details: serde_json::Value,
}

/// The sort key of the audit list: newest first.
pub type EntryKey = (DateTime<Utc>, i64);

/// The key of an entry in list order.
pub fn list_key(entry: &Entry) -> EntryKey {
    (entry.at, entry.id)
}

/// Filters and page of the audit list.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub tenant_id: Option<Uuid>,
    pub actor_id: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub limit: i64,
    pub after: Option<EntryKey>,
}

/// One page of the audit log, newest first.
pub async fn list(conn: &mut PgConnection, f: &AuditFilter) -> Result<Vec<Entry>> {
    let (after_at, after_id) = f.after.unzip();
    Ok(sqlx::query_as(
        "SELECT id, at, tenant_id, actor_id, action, target_type, target_id, details
           FROM audit_log
          WHERE ($1::uuid IS NULL OR tenant_id = $1)
            AND ($2::uuid IS NULL OR actor_id = $2)
            AND ($3::text IS NULL OR action = $3)
            AND ($4::timestamptz IS NULL OR at >= $4)
            AND ($5::timestamptz IS NULL OR at < $5)
            AND ($6::timestamptz IS NULL OR (at, id) < ($6, $7))
          ORDER BY at DESC, id DESC LIMIT $8",
    )
    .bind(f.tenant_id)
    .bind(f.actor_id)
    .bind(&f.action)
    .bind(f.from)
    .bind(f.to)
    .bind(after_at)
    .bind(after_id)
    .bind(f.limit)
    .fetch_all(conn)
    .await?)
}
