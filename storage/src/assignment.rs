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

/// Picks the technician for a new ticket of `tenant`, moving the round-robin cursor.
pub async fn pick(conn: &mut PgConnection, tenant: Uuid) -> Result<Option<(Uuid, Reason)>> {
    sqlx::query("SELECT pg_advisory_xact_lock($1)")
        .bind(ASSIGN_LOCK)
        .execute(&mut *conn)
        .await?;
    let explicit: Option<(Uuid,)> = sqlx::query_as(
        "SELECT u.id FROM technician_assignments ta JOIN users u ON u.id = ta.technician_id
         WHERE ta.tenant_id = $1 AND u.active ORDER BY ta.position, ta.created_at LIMIT 1",
    )
    .bind(tenant)
    .fetch_optional(&mut *conn)
    .await?;
    if let Some((id,)) = explicit {
        return Ok(Some((id, Reason::Explicit)));
    }
    let (rule, cursor): (String, Option<Uuid>) =
        sqlx::query_as("SELECT assignment_rule, assignment_cursor FROM tenants WHERE id = $1")
            .bind(tenant)
            .fetch_optional(&mut *conn)
            .await?
            .ok_or(StorageError::NotFound)?;
    if rule == "least_load" {
        let least: Option<(Uuid,)> = sqlx::query_as(sqlf!(
            "SELECT u.id FROM users u
             WHERE u.role = 'technician' AND u.active
             ORDER BY (SELECT count(*) FROM tickets t WHERE t.assigned_to = u.id
                         AND t.status IN {}), u.id
             LIMIT 1",
            crate::tickets::OPEN_STATUSES
        ))
        .fetch_optional(&mut *conn)
        .await?;
        return Ok(least.map(|(id,)| (id, Reason::LeastLoad)));
    }
    let next: Option<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM users WHERE role = 'technician' AND active
         ORDER BY ($1::uuid IS NOT NULL AND id <= $1), id LIMIT 1",
    )
    .bind(cursor)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((id,)) = next else {
        return Ok(None);
    };
    sqlx::query("UPDATE tenants SET assignment_cursor = $2 WHERE id = $1")
        .bind(tenant)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(Some((id, Reason::RoundRobin)))
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
/// audit log. Nobody available → the ticket comes back unchanged.
pub async fn assign(
    conn: &mut PgConnection,
    ticket: &crate::tickets::Ticket,
) -> Result<crate::tickets::Ticket> {
    use crate::tickets::{self, Event, TicketChange};
    let Some((technician, reason)) = pick(conn, ticket.tenant_id).await? else {
        return Ok(ticket.clone());
    };
    let change = TicketChange {
        status: Some("assigned".into()),
        assigned_to: Some(technician),
        ..TicketChange::default()
    };
    let assigned = tickets::update(conn, ticket.id, &change).await?;
    let who = technician.to_string();
    let event = Event::new("assigned")
        .to(&who)
        .comment(reason.as_str(), false);
    tickets::add(conn, &assigned, &event).await?;
    let moved = Event::new("status").from(&ticket.status).to("assigned");
    tickets::add(conn, &assigned, &moved).await?;
    crate::audit::record(
        conn,
        Some(ticket.tenant_id),
        None,
        "ticket.assign",
        "ticket",
        &ticket.id.to_string(),
        serde_json::json!({"technician_id": technician, "rule": reason.as_str(),
            "number": ticket.number}),
    )
    .await?;
    Ok(assigned)
}
