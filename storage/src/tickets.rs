//! Helpdesk tickets: numbers `TKT-` + 6 digits from one sequence, SLA due dates from priority,
//! and a history of events. At most one ticket exists per alert.

use crate::{Result, StorageError};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Ticket {
    pub id: Uuid,
    pub number: String,
    pub tenant_id: Uuid,
    pub site_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub alert_id: Option<Uuid>,
    pub source: String,
    pub subject: String,
    pub description: String,
    pub affected_person: String,
    pub affected_person_contact: String,
    pub additional_emails: Vec<String>,
    pub priority: String,
    pub category: Option<String>,
    pub status: String,
    pub assigned_to: Option<Uuid>,
    pub response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TicketEvent {
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub kind: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub comment: Option<String>,
}

/// A new ticket.
#[derive(Debug, Clone, Default)]
pub struct NewTicket {
    pub tenant_id: Uuid,
    pub site_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub alert_id: Option<Uuid>,
    pub source: String,
    pub subject: String,
    pub description: String,
    pub affected_person: String,
    pub affected_person_contact: String,
    pub additional_emails: Vec<String>,
    pub priority: String,
    pub category: Option<String>,
}

/// Filters of the ticket list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub tenant_id: Option<Uuid>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub device_id: Option<Uuid>,
    /// Rows to return.
    pub limit: i64,
    /// Start after this sort key ([`list_key`] of the previous page's last row).
    pub after: Option<TicketKey>,
}

/// The sort key of [`list`]: newest first, then id.
pub type TicketKey = (DateTime<Utc>, Uuid);

/// The [`TicketKey`] of a ticket.
pub fn list_key(t: &Ticket) -> TicketKey {
    (t.created_at, t.id)
}

const COLUMNS: &str = "id, number, tenant_id, site_id, device_id, alert_id, source, subject, \
    description, affected_person, affected_person_contact, additional_emails, priority, category, \
    status, assigned_to, response_due_at, resolution_due_at, created_at, updated_at";

/// Response and resolution times by priority (defaults until SLA policies per tenant exist).
pub fn sla_for(priority: &str) -> (Duration, Duration) {
    match priority {
        "critical" => (Duration::hours(1), Duration::hours(4)),
        "high" => (Duration::hours(4), Duration::hours(24)),
        "medium" => (Duration::hours(8), Duration::hours(72)),
        _ => (Duration::hours(24), Duration::hours(120)),
    }
}

/// Creates a ticket. With an `alert_id` that already has a ticket, returns the existing one and
/// `false` (exactly one ticket per alert, even across restarts).
pub async fn create(conn: &mut PgConnection, t: &NewTicket) -> Result<(Ticket, bool)> {
    let now = Utc::now();
    let (respond, resolve) = sla_for(&t.priority);
    let inserted: Option<Ticket> = sqlx::query_as(sqlf!(
        "INSERT INTO tickets (id, tenant_id, site_id, device_id, alert_id, source, subject,
             description, affected_person, affected_person_contact, additional_emails, priority,
             category, response_due_at, resolution_due_at, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16)
         ON CONFLICT (alert_id) WHERE alert_id IS NOT NULL DO NOTHING
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(t.tenant_id)
    .bind(t.site_id)
    .bind(t.device_id)
    .bind(t.alert_id)
    .bind(&t.source)
    .bind(&t.subject)
    .bind(&t.description)
    .bind(&t.affected_person)
    .bind(&t.affected_person_contact)
    .bind(&t.additional_emails)
    .bind(&t.priority)
    .bind(&t.category)
    .bind(now + respond)
    .bind(now + resolve)
    .bind(now)
    .fetch_optional(&mut *conn)
    .await
    .map_err(StorageError::classify)?;
    match inserted {
        Some(ticket) => {
            add_event(conn, &ticket, "created", None, Some("new"), None, None).await?;
            Ok((ticket, true))
        }
        None => {
            let alert = t.alert_id.ok_or(StorageError::NotFound)?;
            let existing: Ticket =
                sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM tickets WHERE alert_id = $1"))
                    .bind(alert)
                    .fetch_one(&mut *conn)
                    .await?;
            Ok((existing, false))
        }
    }
}

/// Appends an event to a ticket's history and touches `updated_at`.
pub async fn add_event(
    conn: &mut PgConnection,
    ticket: &Ticket,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    actor: Option<Uuid>,
    comment: Option<&str>,
) -> Result<()> {
    sqlx::query(
        "INSERT INTO ticket_events (tenant_id, ticket_id, actor_id, kind, from_value, to_value, comment)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(ticket.tenant_id)
    .bind(ticket.id)
    .bind(actor)
    .bind(kind)
    .bind(from)
    .bind(to)
    .bind(comment)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE tickets SET updated_at = now() WHERE id = $1")
        .bind(ticket.id)
        .execute(conn)
        .await?;
    Ok(())
}

/// By id (a UUID) or by number (`TKT-000123`).
pub async fn get(conn: &mut PgConnection, id_or_number: &str) -> Result<Ticket> {
    let by_id = Uuid::parse_str(id_or_number).ok();
    sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM tickets WHERE id = $1 OR ($1 IS NULL AND number = $2)"
    ))
    .bind(by_id)
    .bind(id_or_number)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

pub async fn by_id(conn: &mut PgConnection, id: Uuid) -> Result<Ticket> {
    get(conn, &id.to_string()).await
}

pub async fn history(conn: &mut PgConnection, id: Uuid) -> Result<Vec<TicketEvent>> {
    Ok(sqlx::query_as(
        "SELECT at, actor_id, kind, from_value, to_value, comment
         FROM ticket_events WHERE ticket_id = $1 ORDER BY at, id",
    )
    .bind(id)
    .fetch_all(conn)
    .await?)
}

pub async fn list(conn: &mut PgConnection, f: &TicketFilter) -> Result<Vec<Ticket>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM tickets
         WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR status = $2)
           AND ($3::text IS NULL OR priority = $3) AND ($4::uuid IS NULL OR device_id = $4)
           AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7))
         ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(f.tenant_id)
    .bind(&f.status)
    .bind(&f.priority)
    .bind(f.device_id)
    .bind(f.limit)
    .bind(f.after.map(|k| k.0))
    .bind(f.after.map(|k| k.1))
    .fetch_all(conn)
    .await?)
}
