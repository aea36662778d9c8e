//! Who takes a new ticket: the tenant's explicit technician list (ordered by position) wins —
//! its first active technician; otherwise the tenant's `assignment_rule` over every active
//! technician: `round_robin` after the stored cursor (`tenants.assignment_cursor`), or
//! `least_load` (fewest open tickets, ties by id). Nobody available → `None`.
//!
//! [`pick`] takes a transaction-scoped advisory lock first, so concurrent creations decide one
//! after another and see each other's tickets and cursor moves: the spread holds under load.
//! It must run in the engine's scope (it reads staff users and every tenant's open tickets).

use crate::{Result, StorageError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// Advisory lock key of assignment decisions ("assign").
const ASSIGN_LOCK: i64 = 0x61_73_73_69_67_6E;

/// How a technician was chosen (recorded in history and audit).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reason {
    Explicit,
    RoundRobin,
    LeastLoad,
}

impl Reason {
    pub fn as_str(self) -> &'static str {
        match self {
            Reason::Explicit => "technician_assignments",
            Reason::RoundRobin => "round_robin",
            Reason::LeastLoad => "least_load",
        }
    }
}

/// Picks the technician for a new ticket of `tenant` and the rule that chose it, under the
/// assignment lock (held to the end of the transaction); [`assign_without_due`] moves the
/// round-robin cursor with the ticket.
async fn pick(conn: &mut PgConnection, tenant: Uuid) -> Result<Option<(Uuid, Reason)>> {
    // The lock first, in a statement of its own: the choice below must read what the previous
    // holder committed (a statement's snapshot is taken before it runs).
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ASSIGN_LOCK)
        .execute(&mut *conn)
        .await?;
    // Then the whole choice in one round trip: the explicit list's first active technician,
    // else the tenant's rule (a CASE branch's subquery runs only when the branch is taken).
    let row: Option<(Option<Uuid>, String, Option<Uuid>)> = sqlx::query_as(sqlf!(
        "SELECT (SELECT u.id FROM technician_assignments ta JOIN users u ON u.id = ta.technician_id
                 WHERE ta.tenant_id = t.id AND u.active
                 ORDER BY ta.position, ta.created_at LIMIT 1),
                t.assignment_rule,
                CASE WHEN t.assignment_rule = 'least_load' THEN
                    (SELECT u.id FROM users u
                     WHERE u.role = 'technician' AND u.active
                     ORDER BY (SELECT count(*) FROM tickets k WHERE k.assigned_to = u.id
                                 AND k.status IN {}), u.id
                     LIMIT 1)
                ELSE
                    (SELECT u.id FROM users u WHERE u.role = 'technician' AND u.active
                     ORDER BY (t.assignment_cursor IS NOT NULL AND u.id <= t.assignment_cursor), u.id
                     LIMIT 1)
                END
         FROM tenants t WHERE t.id = $1",
        crate::tickets::OPEN_STATUSES
    ))
    .bind(tenant)
    .fetch_optional(&mut *conn)
    .await?;
    let (explicit, rule, by_rule) = row.ok_or(StorageError::NotFound)?;
    Ok(match (explicit, by_rule) {
        (Some(id), _) => Some((id, Reason::Explicit)),
        (None, Some(id)) if rule == "least_load" => Some((id, Reason::LeastLoad)),
        (None, Some(id)) => Some((id, Reason::RoundRobin)),
        (None, None) => None,
    })
}

/// Whether `user` may be assigned tickets: an active technician or admin.
pub async fn is_assignable(conn: &mut PgConnection, user: Uuid) -> Result<bool> {
    let row: Option<(bool,)> = sqlx::query_as(
        "SELECT active AND role IN ('technician', 'admin') FROM users WHERE id = $1",
    )
    .bind(user)
    .fetch_optional(conn)
    .await?;
    Ok(row.is_some_and(|r| r.0))
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TechnicianAssignment {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub technician_id: Uuid,
    pub position: i32,
    pub created_at: DateTime<Utc>,
}

const COLUMNS: &str = "id, tenant_id, technician_id, position, created_at";

/// The sort key of [`list`]: tenant, position, id.
pub type AssignmentKey = (Uuid, i32, Uuid);

pub fn list_key(a: &TechnicianAssignment) -> AssignmentKey {
    (a.tenant_id, a.position, a.id)
}

pub async fn list(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    limit: i64,
    after: Option<AssignmentKey>,
) -> Result<Vec<TechnicianAssignment>> {
    let (t, p, i) = match after {
        Some((t, p, i)) => (Some(t), Some(p), Some(i)),
        None => (None, None, None),
    };
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM technician_assignments
         WHERE ($1::uuid IS NULL OR tenant_id = $1)
           AND ($3::uuid IS NULL OR (tenant_id, position, id) > ($3, $4, $5))
         ORDER BY tenant_id, position, id LIMIT $2"
    ))
    .bind(tenant)
    .bind(limit)
    .bind(t)
    .bind(p)
    .bind(i)
    .fetch_all(conn)
    .await?)
}

/// Adds a technician to a tenant's list; without `position`, after the last one.
pub async fn create(
    conn: &mut PgConnection,
    tenant: Uuid,
    technician: Uuid,
    position: Option<i32>,
) -> Result<TechnicianAssignment> {
    sqlx::query_as(sqlf!(
        "INSERT INTO technician_assignments (id, tenant_id, technician_id, position)
         VALUES ($1, $2, $3, coalesce($4, (SELECT coalesce(max(position) + 1, 0)
                                            FROM technician_assignments WHERE tenant_id = $2)))
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(tenant)
    .bind(technician)
    .bind(position)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<TechnicianAssignment> {
    sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM technician_assignments WHERE id = $1"
    ))
    .bind(id)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM technician_assignments WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// Runs the assignment of a `new` (or just approved) ticket: picks a technician, moves the
/// ticket to `assigned` and records it in history (actor NULL: the rule decided) and in the
/// audit log, then stores the due dates the move gives. Nobody available → the ticket comes
/// back unchanged.
pub async fn assign(
    conn: &mut PgConnection,
    ticket: &crate::tickets::Ticket,
) -> Result<crate::tickets::Ticket> {
    let assigned = assign_without_due(conn, ticket).await?;
    if assigned.status != ticket.status {
        crate::sla::store_due(conn, assigned.id).await?;
    }
    Ok(assigned)
}

/// [`assign`] without storing the due dates: for a caller that evaluates the ticket's clocks
/// next anyway (ticket creation), and stores them then.
pub async fn assign_without_due(
    conn: &mut PgConnection,
    ticket: &crate::tickets::Ticket,
) -> Result<crate::tickets::Ticket> {
    let Some((technician, reason)) = pick(conn, ticket.tenant_id).await? else {
        return Ok(ticket.clone());
    };
    // The move, both history entries (in this order), the round-robin cursor and the audit row
    // in one statement.
    let assigned: crate::tickets::Ticket = sqlx::query_as(sqlf!(
        "WITH moved AS (
             UPDATE tickets SET status = 'assigned', assigned_to = $2, updated_at = now()
             WHERE id = $1 RETURNING {}),
         history AS (
             INSERT INTO ticket_events (tenant_id, ticket_id, actor_id, kind, from_value,
                 to_value, comment, internal)
             VALUES ($3, $1, NULL, 'assigned', NULL, $2::text, $4, false),
                    ($3, $1, NULL, 'status', $5, 'assigned', NULL, false)),
         cursor AS (
             UPDATE tenants SET assignment_cursor = $2 WHERE id = $3 AND $6),
         audit AS (
             INSERT INTO audit_log (tenant_id, actor_id, action, target_type, target_id, details)
             VALUES ($3, NULL, 'ticket.assign', 'ticket', $1::text, $7))
         SELECT * FROM moved",
        crate::tickets::COLUMNS
    ))
    .bind(ticket.id)
    .bind(technician)
    .bind(ticket.tenant_id)
    .bind(reason.as_str())
    .bind(&ticket.status)
    .bind(reason == Reason::RoundRobin)
    .bind(
        serde_json::json!({"technician_id": technician, "rule": reason.as_str(),
        "number": ticket.number}),
    )
    .fetch_optional(&mut *conn)
    .await?
    .ok_or(StorageError::NotFound)?;
    Ok(assigned)
}
