//! Per-tenant settings of the log heuristics. A kind without a row uses the built-in default
//! (`model::log_rules::LogRule::default_for`).

use crate::{Result, StorageError};
use centinela_model::Severity;
use centinela_model::log_rules::{LogRule, LogRuleKind};
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(sqlx::FromRow)]
struct Row {
    tenant_id: Uuid,
    kind: String,
    enabled: bool,
    threshold: i32,
    window_seconds: i32,
    severity: String,
    auto_ticket: bool,
}

impl Row {
    fn into_rule(self) -> Option<(Uuid, LogRule)> {
        Some((
            self.tenant_id,
            LogRule {
                kind: LogRuleKind::parse(&self.kind)?,
                enabled: self.enabled,
                threshold: u32::try_from(self.threshold).ok()?,
                window_seconds: u32::try_from(self.window_seconds).ok()?,
                severity: self.severity.parse::<Severity>().ok()?,
                auto_ticket: self.auto_ticket,
            },
        ))
    }
}

const COLUMNS: &str = "tenant_id, kind, enabled, threshold, window_seconds, severity, auto_ticket";

/// The configured rules of every visible tenant (engine start).
pub async fn all(conn: &mut PgConnection) -> Result<Vec<(Uuid, LogRule)>> {
    let rows: Vec<Row> = sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM log_rules"))
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().filter_map(Row::into_rule).collect())
}

/// The configured rules of one tenant (not merged with the defaults).
pub async fn for_tenant(conn: &mut PgConnection, tenant: Uuid) -> Result<Vec<LogRule>> {
    let rows: Vec<Row> = sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM log_rules WHERE tenant_id = $1"
    ))
    .bind(tenant)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(Row::into_rule)
        .map(|(_, r)| r)
        .collect())
}

/// Sets a tenant's rule of one kind.
pub async fn upsert(conn: &mut PgConnection, tenant: Uuid, rule: &LogRule) -> Result<()> {
    rule.validate()
        .map_err(|e| StorageError::Invalid(e.to_string()))?;
    sqlx::query(
        "INSERT INTO log_rules (tenant_id, kind, enabled, threshold, window_seconds, severity, auto_ticket)
         VALUES ($1, $2, $3, $4, $5, $6, $7)
         ON CONFLICT (tenant_id, kind) DO UPDATE SET enabled = EXCLUDED.enabled,
             threshold = EXCLUDED.threshold, window_seconds = EXCLUDED.window_seconds,
             severity = EXCLUDED.severity, auto_ticket = EXCLUDED.auto_ticket, updated_at = now()",
    )
    .bind(tenant)
    .bind(rule.kind.as_str())
    .bind(rule.enabled)
    .bind(rule.threshold as i32)
    .bind(rule.window_seconds as i32)
    .bind(rule.severity.as_str())
    .bind(rule.auto_ticket)
    .execute(conn)
    .await
    .map_err(StorageError::classify)?;
    Ok(())
}

/// Removes a tenant's setting of one kind (back to the default).
pub async fn reset(conn: &mut PgConnection, tenant: Uuid, kind: LogRuleKind) -> Result<()> {
    sqlx::query("DELETE FROM log_rules WHERE tenant_id = $1 AND kind = $2")
        .bind(tenant)
        .bind(kind.as_str())
        .execute(conn)
        .await?;
    Ok(())
}
