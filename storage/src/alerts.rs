//! Alerts and their history. At most one *firing* alert exists per device + key (a partial
//! unique index), which makes opening idempotent across restarts.

use crate::{Result, StorageError};
use centinela_model::AlertStatus;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use sqlx::PgConnection;
use sqlx::types::Json;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Alert {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub key: String,
    pub threshold_id: Option<Uuid>,
    pub severity: String,
    pub state: String,
    pub status: String,
    pub title: String,
    pub description: String,
    pub recommended_action: String,
    pub value: f64,
    pub threshold: Option<f64>,
    pub opened_at: DateTime<Utc>,
    pub cleared_at: Option<DateTime<Utc>>,
    pub acked_by: Option<Uuid>,
    pub acked_at: Option<DateTime<Utc>>,
    pub ticket_id: Option<Uuid>,
    pub updated_at: DateTime<Utc>,
    /// Set while a maintenance window covered the device when the alert opened: visible, its
    /// state unchanged, no ticket. Cleared when the window ends with the condition still firing
    /// (the alert then counts as a normal one, ticket included).
    #[schema(value_type = Option<Suppression>)]
    pub suppressed_by: Option<Json<Suppression>>,
    /// The priority of the ticket a suppressed alert would have opened (`None`: no ticket due).
    #[serde(skip)]
    #[schema(ignore)]
    pub pending_ticket_priority: Option<String>,
}

/// What suppresses an alert: `{"kind": "maintenance", "id": <window id>}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Suppression {
    pub kind: String,
    pub id: Uuid,
}

impl Alert {
    /// Marks an alert (built in memory) as raised under maintenance window `window`.
    pub fn set_suppressed_by(&mut self, window: Option<Uuid>) {
        self.suppressed_by = window.map(|w| Json(Suppression::maintenance(w)));
    }
}

impl Suppression {
    pub fn maintenance(id: Uuid) -> Suppression {
        Suppression {
            kind: "maintenance".into(),
            id,
        }
    }
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct AlertEvent {
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub kind: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub value: Option<f64>,
    pub comment: Option<String>,
}

/// The texts and figures of an alert being opened or updated.
#[derive(Debug, Clone)]
pub struct AlertFacts {
    /// The id an opened alert is stored under (chosen by the caller, which may announce it
    /// before it is stored); ignored when updating.
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub key: String,
    pub threshold_id: Option<Uuid>,
    pub severity: String,
    pub title: String,
    pub description: String,
    pub recommended_action: String,
    pub value: f64,
    pub threshold: Option<f64>,
    pub at: DateTime<Utc>,
}

/// Filters of the alert list.
#[derive(Debug, Clone, Default)]
pub struct AlertFilter {
    pub tenant_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub state: Option<String>,
    pub status: Option<String>,
    pub severity: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// `Some(true)`: only alerts under a suppression; `Some(false)`: only the others.
    pub suppressed: Option<bool>,
    /// Rows to return.
    pub limit: i64,
    /// Start after this sort key ([`list_key`] of the previous page's last row).
    pub after: Option<AlertKey>,
}

/// The sort key of [`list`]: firing first, critical first, newest first, then id.
pub type AlertKey = (i32, i32, DateTime<Utc>, Uuid);

/// The [`AlertKey`] of an alert.
pub fn list_key(a: &Alert) -> AlertKey {
    let firing = i32::from(a.state != "firing");
    let critical = i32::from(a.severity != "critical");
    (firing, critical, a.opened_at, a.id)
}

const COLUMNS: &str = "id, tenant_id, device_id, key, threshold_id, severity, state, status, title, \
    description, recommended_action, value, threshold, opened_at, cleared_at, acked_by, acked_at, \
    ticket_id, updated_at, suppressed_by, pending_ticket_priority";

async fn record(
    conn: &mut PgConnection,
    alert: &Alert,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    actor: Option<Uuid>,
    comment: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO alert_events (tenant_id, alert_id, actor_id, kind, from_value, to_value, value, comment)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
    )
    .bind(alert.tenant_id)
    .bind(alert.id)
    .bind(actor)
    .bind(kind)
    .bind(from)
    .bind(to)
    .bind(alert.value)
    .bind(comment)
    .execute(conn)
    .await?;
    Ok(())
}

/// Opens a firing alert. If one is already firing for the device + key (a replay after a
/// restart), returns it with `false` and changes nothing.
pub async fn open(conn: &mut PgConnection, facts: &AlertFacts) -> Result<(Alert, bool)> {
    let inserted: Option<Alert> = sqlx::query_as(sqlf!(
        "INSERT INTO alerts (id, tenant_id, device_id, key, threshold_id, severity, state, title,
             description, recommended_action, value, threshold, opened_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'firing', $7, $8, $9, $10, $11, $12)
         ON CONFLICT (device_id, key) WHERE state = 'firing' DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(facts.id)
    .bind(facts.tenant_id)
    .bind(facts.device_id)
    .bind(&facts.key)
    .bind(facts.threshold_id)
    .bind(&facts.severity)
    .bind(&facts.title)
    .bind(&facts.description)
    .bind(&facts.recommended_action)
    .bind(facts.value)
    .bind(facts.threshold)
    .bind(facts.at)
    .fetch_optional(&mut *conn)
    .await
    .map_err(StorageError::classify)?;
    match inserted {
        Some(alert) => {
            record(
                conn,
                &alert,
                "opened",
                None,
                Some(&alert.severity),
                None,
                None,
            )
            .await?;
            Ok((alert, true))
        }
        None => {
            let existing = firing(conn, facts.device_id, &facts.key)
                .await?
                .ok_or(StorageError::NotFound)?;
            Ok((existing, false))
        }
    }
}

/// The alert [`open`] stores for `facts` when none is firing for its device + key, built
/// without the database (to announce it before it is stored).
pub fn provisional(facts: &AlertFacts) -> Alert {
    Alert {
        id: facts.id,
        tenant_id: facts.tenant_id,
        device_id: facts.device_id,
        key: facts.key.clone(),
        threshold_id: facts.threshold_id,
        severity: facts.severity.clone(),
        state: "firing".into(),
        status: "open".into(),
        title: facts.title.clone(),
        description: facts.description.clone(),
        recommended_action: facts.recommended_action.clone(),
        value: facts.value,
        threshold: facts.threshold,
        opened_at: facts.at,
        cleared_at: None,
        acked_by: None,
        acked_at: None,
        ticket_id: None,
        updated_at: facts.at,
        suppressed_by: None,
        pending_ticket_priority: None,
    }
}

/// Marks a just-opened alert as suppressed by a maintenance window, keeping the priority of the
/// ticket it would have opened (opened if the window ends with the alert still firing).
pub async fn suppress(
    conn: &mut PgConnection,
    alert_id: Uuid,
    window: Uuid,
    pending_ticket_priority: Option<&str>,
) -> Result<Alert> {
    let alert: Alert = sqlx::query_as(sqlf!(
        "UPDATE alerts SET suppressed_by = $2, pending_ticket_priority = $3, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(alert_id)
    .bind(Json(Suppression::maintenance(window)))
    .bind(pending_ticket_priority)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound)?;
    record(
        conn,
        &alert,
        "suppressed",
        None,
        Some("maintenance"),
        None,
        Some(&window.to_string()),
    )
    .await?;
    Ok(alert)
}

/// Keeps the priority of the ticket a suppressed alert is due when its window ends.
pub async fn set_pending_ticket(
    conn: &mut PgConnection,
    alert_id: Uuid,
    priority: &str,
) -> Result<Alert> {
    sqlx::query_as(sqlf!(
        "UPDATE alerts SET pending_ticket_priority = $2 WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(alert_id)
    .bind(priority)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

/// Firing alerts under a maintenance suppression, by id after `after` (the caller pages
/// through all of them and ends those whose window is over): id, device, tenant and window.
pub async fn suppressed_firing(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<SuppressedAlert>> {
    Ok(sqlx::query_as(
        "SELECT a.id, a.tenant_id, a.device_id, d.site_id, (a.suppressed_by ->> 'id')::uuid AS window_id
         FROM alerts a JOIN devices d ON d.id = a.device_id
         WHERE a.state = 'firing' AND a.suppressed_by IS NOT NULL
           AND ($1::uuid IS NULL OR a.id > $1)
         ORDER BY a.id LIMIT $2",
    )
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// A firing alert under a suppression, as the watcher checks it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SuppressedAlert {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub site_id: Uuid,
    pub window_id: Uuid,
}

/// The firing, suppressed alert `id`, locked until the transaction ends (`None` when it is
/// gone, cleared or no longer suppressed).
pub async fn suppressed_for_update(conn: &mut PgConnection, id: Uuid) -> Result<Option<Alert>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM alerts
         WHERE id = $1 AND state = 'firing' AND suppressed_by IS NOT NULL FOR UPDATE"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?)
}

/// Points a suppressed alert at another window that still covers its device (overlapping
/// windows: the alert stays suppressed until the last one ends).
pub async fn move_suppression(conn: &mut PgConnection, id: Uuid, window: Uuid) -> Result<()> {
    sqlx::query(
        "UPDATE alerts SET suppressed_by = $2, updated_at = now()
         WHERE id = $1 AND state = 'firing' AND suppressed_by IS NOT NULL",
    )
    .bind(id)
    .bind(Json(Suppression::maintenance(window)))
    .execute(conn)
    .await?;
    Ok(())
}

/// Ends the suppression of a firing alert (its window ended): it becomes a normal alert.
/// Returns `None` when it is no longer firing or no longer suppressed (locked, so two engines
/// cannot both end it).
pub async fn unsuppress(conn: &mut PgConnection, alert_id: Uuid) -> Result<Option<Alert>> {
    let alert: Option<Alert> = sqlx::query_as(sqlf!(
        "UPDATE alerts SET suppressed_by = NULL, pending_ticket_priority = NULL, updated_at = now()
         WHERE id = $1 AND state = 'firing' AND suppressed_by IS NOT NULL
         RETURNING {COLUMNS}"
    ))
    .bind(alert_id)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(alert) = &alert {
        record(
            conn,
            alert,
            "unsuppressed",
            Some("maintenance"),
            None,
            None,
            Some("La ventana de mantenimiento terminó con la condición aún activa."),
        )
        .await?;
    }
    Ok(alert)
}

/// The firing alert of a device + key, if any.
pub async fn firing(conn: &mut PgConnection, device_id: Uuid, key: &str) -> Result<Option<Alert>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM alerts WHERE device_id = $1 AND key = $2 AND state = 'firing'"
    ))
    .bind(device_id)
    .bind(key)
    .fetch_optional(conn)
    .await?)
}

/// Every firing alert (runtime start: device actors resume their state machines).
pub async fn all_firing(conn: &mut PgConnection) -> Result<Vec<Alert>> {
    Ok(
        sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM alerts WHERE state = 'firing'"))
            .fetch_all(conn)
            .await?,
    )
}

/// Changes the severity (and texts) of the firing alert of a device + key.
pub async fn update_severity(conn: &mut PgConnection, facts: &AlertFacts) -> Result<Option<Alert>> {
    let Some(before) = firing(conn, facts.device_id, &facts.key).await? else {
        return Ok(None);
    };
    if before.severity == facts.severity {
        return Ok(Some(before));
    }
    let alert: Alert = sqlx::query_as(sqlf!(
        "UPDATE alerts SET severity = $2, title = $3, description = $4, recommended_action = $5,
             value = $6, threshold = $7, updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(before.id)
    .bind(&facts.severity)
    .bind(&facts.title)
    .bind(&facts.description)
    .bind(&facts.recommended_action)
    .bind(facts.value)
    .bind(facts.threshold)
    .fetch_one(&mut *conn)
    .await?;
    let (from, to) = (before.severity.as_str(), alert.severity.as_str());
    record(
        conn,
        &alert,
        "severity_changed",
        Some(from),
        Some(to),
        None,
        None,
    )
    .await?;
    Ok(Some(alert))
}

/// Clears the firing alert of a device + key.
pub async fn clear(
    conn: &mut PgConnection,
    device_id: Uuid,
    key: &str,
    value: f64,
    at: DateTime<Utc>,
) -> Result<Option<Alert>> {
    let alert: Option<Alert> = sqlx::query_as(sqlf!(
        "UPDATE alerts SET state = 'cleared', cleared_at = $3, value = $4, updated_at = now()
         WHERE device_id = $1 AND key = $2 AND state = 'firing' RETURNING {COLUMNS}"
    ))
    .bind(device_id)
    .bind(key)
    .bind(at)
    .bind(value)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some(alert) = &alert {
        record(
            conn,
            alert,
            "cleared",
            Some("firing"),
            Some("cleared"),
            None,
            None,
        )
        .await?;
    }
    Ok(alert)
}

pub async fn set_ticket(conn: &mut PgConnection, alert_id: Uuid, ticket_id: Uuid) -> Result<Alert> {
    sqlx::query_as(sqlf!(
        "UPDATE alerts SET ticket_id = $2, updated_at = now() WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(alert_id)
    .bind(ticket_id)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Alert> {
    sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM alerts WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StorageError::NotFound)
}

pub async fn history(conn: &mut PgConnection, id: Uuid) -> Result<Vec<AlertEvent>> {
    Ok(sqlx::query_as(
        "SELECT at, actor_id, kind, from_value, to_value, value, comment
         FROM alert_events WHERE alert_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?)
}

pub async fn list(conn: &mut PgConnection, f: &AlertFilter) -> Result<Vec<Alert>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM alerts
         WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::uuid IS NULL OR device_id = $2)
           AND ($3::text IS NULL OR state = $3) AND ($4::text IS NULL OR status = $4)
           AND ($5::text IS NULL OR severity = $5)
           AND ($6::timestamptz IS NULL OR opened_at >= $6)
           AND ($7::timestamptz IS NULL OR opened_at < $7)
           AND ($13::bool IS NULL OR (suppressed_by IS NOT NULL) = $13)
           AND ($9::int IS NULL
             OR ({FIRING}, {CRITICAL}) > ($9, $10)
             OR (({FIRING}, {CRITICAL}) = ($9, $10) AND (opened_at, id) < ($11, $12)))
         ORDER BY {FIRING}, {CRITICAL}, opened_at DESC, id DESC
         LIMIT $8"
    ))
    .bind(f.tenant_id)
    .bind(f.device_id)
    .bind(&f.state)
    .bind(&f.status)
    .bind(&f.severity)
    .bind(f.from)
    .bind(f.to)
    .bind(f.limit)
    .bind(f.after.map(|k| k.0))
    .bind(f.after.map(|k| k.1))
    .bind(f.after.map(|k| k.2))
    .bind(f.after.map(|k| k.3))
    .bind(f.suppressed)
    .fetch_all(conn)
    .await?)
}

// The list's order; indexed as these exact expressions (migration
// `20261205000300_alert_list_order.sql`): change both together.
const FIRING: &str = "(CASE WHEN state = 'firing' THEN 0 ELSE 1 END)";
const CRITICAL: &str = "(CASE WHEN severity = 'critical' THEN 0 ELSE 1 END)";

/// Acknowledges an alert (idempotent: a second ack keeps the first acknowledger).
pub async fn ack(
    conn: &mut PgConnection,
    id: Uuid,
    user: Uuid,
    comment: Option<&str>,
) -> Result<Alert> {
    let alert: Alert = sqlx::query_as(sqlf!(
        "UPDATE alerts SET acked_by = coalesce(acked_by, $2), acked_at = coalesce(acked_at, now()),
             updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(user)
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound)?;
    record(conn, &alert, "ack", None, None, Some(user), comment).await?;
    Ok(alert)
}

/// Moves the workflow status, refusing moves the lifecycle does not allow.
pub async fn set_status(
    conn: &mut PgConnection,
    id: Uuid,
    next: AlertStatus,
    user: Uuid,
    comment: Option<&str>,
) -> Result<Alert> {
    let current = get(conn, id).await?;
    let from: AlertStatus = current
        .status
        .parse()
        .map_err(|_| StorageError::Invalid("stored status is unknown".into()))?;
    if !from.can_move_to(next) {
        return Err(StorageError::InvalidTransition {
            from: from.as_str().into(),
            to: next.as_str().into(),
        });
    }
    let alert: Alert = sqlx::query_as(sqlf!(
        "UPDATE alerts SET status = $2, updated_at = now() WHERE id = $1 AND status = $3
         RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(next.as_str())
    .bind(from.as_str())
    .fetch_optional(&mut *conn)
    .await?
    .ok_or_else(|| StorageError::Conflict("the alert changed meanwhile".into()))?;
    record(
        conn,
        &alert,
        "status",
        Some(from.as_str()),
        Some(next.as_str()),
        Some(user),
        comment,
    )
    .await?;
    Ok(alert)
}

/// The firing alerts of one device (its actor starting after start-up).
pub async fn all_firing_for_device(conn: &mut PgConnection, device_id: Uuid) -> Result<Vec<Alert>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM alerts WHERE device_id = $1 AND state = 'firing'"
    ))
    .bind(device_id)
    .fetch_all(conn)
    .await?)
}
