//! Maintenance windows: one-off or recurring spans during which a tenant, a site or a device is
//! under planned work. Alerts raised under one are suppressed (no ticket), and SLA clocks of
//! the tickets it covers pause. The schedule arithmetic is pure:
//! `centinela_model::maintenance`.

use crate::{Result, StorageError};
use centinela_model::maintenance::{RecurrenceSpec, Schedule, ScheduleError};
use centinela_model::sla::Span;
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

/// A stored window.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Window {
    pub id: Uuid,
    pub tenant_id: Uuid,
    /// `tenant`, `site` or `device`.
    pub scope: String,
    pub scope_id: Uuid,
    pub description: String,
    /// One-off windows: the span. `null` for recurring ones.
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    /// Recurring windows: `{"weekly": {days, start, end}}` or `{"monthly": {day, start, end}}`.
    #[schema(value_type = Option<RecurrenceSpec>)]
    pub recurrence: Option<Json<RecurrenceSpec>>,
    /// The zone a recurrence's local times are in.
    pub timezone: String,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Window {
    /// The window's validated schedule.
    pub fn schedule(&self) -> std::result::Result<Schedule, ScheduleError> {
        match (&self.recurrence, self.starts_at, self.ends_at) {
            (Some(r), _, _) => Schedule::recurring(&r.0, &self.timezone),
            (None, Some(s), Some(e)) => Schedule::once(s, e),
            _ => Err(ScheduleError::Shape),
        }
    }

    /// Whether the window is about this tenant, site or device.
    pub fn covers(&self, tenant: Uuid, site: Option<Uuid>, device: Option<Uuid>) -> bool {
        self.tenant_id == tenant
            && match self.scope.as_str() {
                "tenant" => self.scope_id == tenant,
                "site" => Some(self.scope_id) == site,
                "device" => Some(self.scope_id) == device,
                _ => false,
            }
    }
}

const COLUMNS: &str = "id, tenant_id, scope, scope_id, description, starts_at, ends_at, \
    recurrence, timezone, created_by, created_at, updated_at";

/// What a new or changed window holds (validated by the caller).
#[derive(Debug, Clone)]
pub struct NewWindow {
    pub tenant_id: Uuid,
    pub scope: String,
    pub scope_id: Uuid,
    pub description: String,
    pub starts_at: Option<DateTime<Utc>>,
    pub ends_at: Option<DateTime<Utc>>,
    pub recurrence: Option<RecurrenceSpec>,
    pub timezone: String,
    pub created_by: Option<Uuid>,
}

/// Windows visible to the scope, of one tenant or all; newest first, at most 1000.
pub async fn list(conn: &mut PgConnection, tenant: Option<Uuid>) -> Result<Vec<Window>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM maintenance_windows WHERE ($1::uuid IS NULL OR tenant_id = $1)
         ORDER BY created_at DESC, id LIMIT 1000"
    ))
    .bind(tenant)
    .fetch_all(conn)
    .await?)
}

/// The windows of some tenants (the clocks of their tickets).
pub async fn of_tenants(conn: &mut PgConnection, tenants: &[Uuid]) -> Result<Vec<Window>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM maintenance_windows WHERE tenant_id = ANY($1)"
    ))
    .bind(tenants)
    .fetch_all(conn)
    .await?)
}

/// Every window (the engine's index of what is under maintenance).
pub async fn all(conn: &mut PgConnection) -> Result<Vec<Window>> {
    Ok(
        sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM maintenance_windows"))
            .fetch_all(conn)
            .await?,
    )
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Window> {
    sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM maintenance_windows WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

pub async fn insert(conn: &mut PgConnection, new: &NewWindow) -> Result<Window> {
    sqlx::query_as(sqlf!(
        "INSERT INTO maintenance_windows (id, tenant_id, scope, scope_id, description, starts_at,
             ends_at, recurrence, timezone, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.tenant_id)
    .bind(&new.scope)
    .bind(new.scope_id)
    .bind(&new.description)
    .bind(new.starts_at)
    .bind(new.ends_at)
    .bind(new.recurrence.as_ref().map(Json))
    .bind(&new.timezone)
    .bind(new.created_by)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

/// Replaces a window's schedule and texts (its tenant and author stay).
pub async fn update(conn: &mut PgConnection, id: Uuid, new: &NewWindow) -> Result<Window> {
    sqlx::query_as(sqlf!(
        "UPDATE maintenance_windows SET scope = $2, scope_id = $3, description = $4,
             starts_at = $5, ends_at = $6, recurrence = $7, timezone = $8, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&new.scope)
    .bind(new.scope_id)
    .bind(&new.description)
    .bind(new.starts_at)
    .bind(new.ends_at)
    .bind(new.recurrence.as_ref().map(Json))
    .bind(&new.timezone)
    .fetch_optional(conn)
    .await
    .map_err(StorageError::classify)?
    .ok_or(StorageError::NotFound)
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<bool> {
    let done = sqlx::query("DELETE FROM maintenance_windows WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    Ok(done.rows_affected() == 1)
}

/// How far back and ahead the clocks look for windows: a window more than a year before a
/// ticket's clock started, or more than 90 days ahead, does not move its due dates.
pub const LOOK_BACK: Duration = Duration::days(366);
pub const LOOK_AHEAD: Duration = Duration::days(90);

/// The maintenance spans covering a ticket (its tenant, site or device) between `from` and
/// `now` + [`LOOK_AHEAD`]; windows whose schedule is invalid are skipped. A window counts only
/// from the moment it was created: a new window never pauses a clock retroactively.
pub fn spans_for(
    windows: &[Window],
    tenant: Uuid,
    site: Option<Uuid>,
    device: Option<Uuid>,
    from: DateTime<Utc>,
    now: DateTime<Utc>,
) -> Vec<Span> {
    let from = from.max(now - LOOK_BACK);
    let to = now + LOOK_AHEAD;
    let mut spans = Vec::new();
    for window in windows.iter().filter(|w| w.covers(tenant, site, device)) {
        if let Ok(schedule) = window.schedule() {
            spans.extend(
                schedule
                    .occurrences(from, to)
                    .into_iter()
                    .map(|(s, e)| (s.max(window.created_at), e))
                    .filter(|(s, e)| s < e),
            );
        }
    }
    spans
}
