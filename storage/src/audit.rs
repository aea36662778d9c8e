//! The audit log: who did what to which object.

use crate::Result;
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
