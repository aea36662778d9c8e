//! Helpdesk tickets: numbers `TKT-` + 6 digits from one sequence, SLA due dates from priority,
//! a history of events and comments (public or internal). At most one ticket exists per alert.
//!
//! Internal comments and their history entries are hidden from tenant roles by row-level
//! security (`internal_for_staff` policies) as well as by the `include_internal` arguments here.

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
    pub category_id: Option<Uuid>,
    pub status: String,
    pub assigned_to: Option<Uuid>,
    pub response_due_at: Option<DateTime<Utc>>,
    pub resolution_due_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Who opened it (NULL for alert tickets).
    pub created_by: Option<Uuid>,
    /// The SLA policy version it runs under.
    pub sla_policy_id: Option<Uuid>,
    /// Business minutes left on the response clock (negative once over); filled for answers.
    #[sqlx(skip)]
    pub response_remaining_min: Option<i64>,
    /// Business minutes left on the resolution clock (negative once over).
    #[sqlx(skip)]
    pub resolution_remaining_min: Option<i64>,
    /// A clock is paused now (waiting on the customer, or a maintenance window): due dates are
    /// null until it runs again.
    #[sqlx(skip)]
    pub sla_paused: bool,
    /// The version of the SLA policy it runs under.
    #[sqlx(skip)]
    pub sla_policy_version: Option<i32>,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct TicketEvent {
    pub at: DateTime<Utc>,
    pub actor_id: Option<Uuid>,
    pub kind: String,
    pub from_value: Option<String>,
    pub to_value: Option<String>,
    pub comment: Option<String>,
    pub internal: bool,
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Comment {
    pub id: Uuid,
    pub ticket_id: Uuid,
    /// NULL: the engine.
    pub author_id: Option<Uuid>,
    pub body: String,
    pub internal: bool,
    pub created_at: DateTime<Utc>,
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
    pub category_id: Option<Uuid>,
    /// `pending_approval` for a category that requires approval; `new` otherwise (empty = new).
    pub status: String,
    pub created_by: Option<Uuid>,
}

/// Filters of the ticket list.
#[derive(Debug, Clone, Default)]
pub struct TicketFilter {
    pub tenant_id: Option<Uuid>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub device_id: Option<Uuid>,
    pub site_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Case- and accent-insensitive substring of number, subject or description.
    pub q: Option<String>,
    /// A requester: only tickets of these sites, or opened by this user.
    pub requester: Option<(Uuid, Vec<Uuid>)>,
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

pub(crate) const COLUMNS: &str = "id, number, tenant_id, site_id, device_id, alert_id, source, subject, \
    description, affected_person, affected_person_contact, additional_emails, priority, category, \
    category_id, status, assigned_to, response_due_at, resolution_due_at, created_at, updated_at, \
    created_by, sla_policy_id";

/// Statuses in which a ticket is still open (counts toward a technician's load, takes alert
/// re-fire comments).
pub const OPEN_STATUSES: &str = "('new', 'pending_approval', 'assigned', 'in_progress', \
    'waiting_customer', 'reopened')";

/// Creates a ticket. With an `alert_id` that already has a ticket, returns the existing one and
/// `false` (exactly one ticket per alert, even across restarts).
pub async fn create(conn: &mut PgConnection, t: &NewTicket) -> Result<(Ticket, bool)> {
    let now = Utc::now();
    // Due dates in the business time of the tenant's current SLA policy version.
    let policy = crate::sla::current(conn, t.tenant_id).await?;
    let target = policy.targets.0.of(&t.priority);
    let (respond, resolve) = match policy.calendar() {
        Ok(calendar) => (
            calendar.add_business(now, Duration::minutes(i64::from(target.response_min)), &[]),
            calendar.add_business(
                now,
                Duration::minutes(i64::from(target.resolution_min)),
                &[],
            ),
        ),
        Err(_) => (None, None),
    };
    let status = if t.status.is_empty() {
        "new"
    } else {
        &t.status
    };
    // The ticket and its `created` history entry in one statement (one round trip); none of
    // either when the alert already has its ticket.
    let inserted: Option<Ticket> = sqlx::query_as(sqlf!(
        "WITH inserted AS (
         INSERT INTO tickets (id, tenant_id, site_id, device_id, alert_id, source, subject,
             description, affected_person, affected_person_contact, additional_emails, priority,
             category, response_due_at, resolution_due_at, created_at, updated_at, category_id,
             status, created_by, sla_policy_id)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $16, $17,
             $18, $19, $20)
         ON CONFLICT (alert_id) WHERE alert_id IS NOT NULL DO NOTHING
         RETURNING {COLUMNS}),
         created AS (
             INSERT INTO ticket_events (tenant_id, ticket_id, actor_id, kind, to_value, internal)
             SELECT tenant_id, id, created_by, 'created', status, false FROM inserted)
         SELECT * FROM inserted"
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
    .bind(respond)
    .bind(resolve)
    .bind(now)
    .bind(t.category_id)
    .bind(status)
    .bind(t.created_by)
    .bind(policy.id)
    .fetch_optional(&mut *conn)
    .await
    .map_err(StorageError::classify)?;
    match inserted {
        Some(ticket) => Ok((ticket, true)),
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

/// One history entry.
#[derive(Debug, Clone, Default)]
pub struct Event<'a> {
    pub kind: &'a str,
    pub from: Option<&'a str>,
    pub to: Option<&'a str>,
    pub actor: Option<Uuid>,
    pub comment: Option<&'a str>,
    pub internal: bool,
}

impl<'a> Event<'a> {
    pub fn new(kind: &'a str) -> Event<'a> {
        Event {
            kind,
            ..Event::default()
        }
    }
    pub fn from(mut self, from: &'a str) -> Self {
        self.from = Some(from);
        self
    }
    pub fn to(mut self, to: &'a str) -> Self {
        self.to = Some(to);
        self
    }
    pub fn by(mut self, actor: Option<Uuid>) -> Self {
        self.actor = actor;
        self
    }
    pub fn comment(mut self, comment: &'a str, internal: bool) -> Self {
        self.comment = Some(comment);
        self.internal = internal;
        self
    }
}

/// Appends an event to a ticket's history and touches `updated_at`.
pub async fn add(conn: &mut PgConnection, ticket: &Ticket, e: &Event<'_>) -> Result<()> {
    // One statement (one round trip): the entry, and `updated_at` touched.
    sqlx::query(
        "WITH entry AS (
             INSERT INTO ticket_events (tenant_id, ticket_id, actor_id, kind, from_value, to_value,
                 comment, internal)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8))
         UPDATE tickets SET updated_at = now() WHERE id = $2",
    )
    .bind(ticket.tenant_id)
    .bind(ticket.id)
    .bind(e.actor)
    .bind(e.kind)
    .bind(e.from)
    .bind(e.to)
    .bind(e.comment)
    .bind(e.internal)
    .execute(&mut *conn)
    .await?;
    // What the SLA clocks read changed: their due dates move with it.
    if matches!(e.kind, "status" | "priority" | "comment") {
        crate::sla::store_due(conn, ticket.id).await?;
    }
    Ok(())
}

/// Appends an event to a ticket's history and touches `updated_at` (the engine's notes).
pub async fn add_event(
    conn: &mut PgConnection,
    ticket: &Ticket,
    kind: &str,
    from: Option<&str>,
    to: Option<&str>,
    actor: Option<Uuid>,
    comment: Option<&str>,
) -> Result<()> {
    let event = Event {
        kind,
        from,
        to,
        actor,
        comment,
        internal: false,
    };
    add(conn, ticket, &event).await
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

/// Open tickets by id (missing and closed ones left out).
pub async fn open_by_ids(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<Ticket>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM tickets WHERE id = ANY($1) AND status IN {OPEN_STATUSES}"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?)
}

/// Reads a ticket and locks it until the transaction ends (moves take turns).
pub async fn get_for_update(conn: &mut PgConnection, id_or_number: &str) -> Result<Ticket> {
    let by_id = Uuid::parse_str(id_or_number).ok();
    sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM tickets WHERE id = $1 OR ($1 IS NULL AND number = $2) FOR UPDATE"
    ))
    .bind(by_id)
    .bind(id_or_number)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

/// A ticket's history, oldest first; internal entries only with `include_internal`.
pub async fn history(
    conn: &mut PgConnection,
    id: Uuid,
    include_internal: bool,
) -> Result<Vec<TicketEvent>> {
    Ok(sqlx::query_as(
        "SELECT at, actor_id, kind, from_value, to_value, comment, internal
         FROM ticket_events WHERE ticket_id = $1 AND ($2 OR NOT internal) ORDER BY at, id",
    )
    .bind(id)
    .bind(include_internal)
    .fetch_all(conn)
    .await?)
}

/// Adds a comment (and its history entry).
pub async fn add_comment(
    conn: &mut PgConnection,
    ticket: &Ticket,
    author: Option<Uuid>,
    body: &str,
    internal: bool,
) -> Result<Comment> {
    let comment: Comment = sqlx::query_as(
        "INSERT INTO ticket_comments (id, tenant_id, ticket_id, author_id, body, internal)
         VALUES ($1, $2, $3, $4, $5, $6)
         RETURNING id, ticket_id, author_id, body, internal, created_at",
    )
    .bind(Uuid::new_v4())
    .bind(ticket.tenant_id)
    .bind(ticket.id)
    .bind(author)
    .bind(body)
    .bind(internal)
    .fetch_one(&mut *conn)
    .await
    .map_err(StorageError::classify)?;
    let event = Event::new("comment").by(author).comment(body, internal);
    add(conn, ticket, &event).await?;
    Ok(comment)
}

/// A ticket's comments, oldest first; internal ones only with `include_internal`.
pub async fn comments(
    conn: &mut PgConnection,
    id: Uuid,
    include_internal: bool,
) -> Result<Vec<Comment>> {
    Ok(sqlx::query_as(
        "SELECT id, ticket_id, author_id, body, internal, created_at FROM ticket_comments
         WHERE ticket_id = $1 AND ($2 OR NOT internal) ORDER BY created_at, id",
    )
    .bind(id)
    .bind(include_internal)
    .fetch_all(conn)
    .await?)
}

/// The fields a ticket update may change; `None` keeps the value.
#[derive(Debug, Clone, Default)]
pub struct TicketChange {
    pub status: Option<String>,
    pub priority: Option<String>,
    pub category: Option<(Uuid, String)>,
    pub assigned_to: Option<Uuid>,
}

/// Writes a change (the caller has checked it) and returns the ticket as it is now.
pub async fn update(conn: &mut PgConnection, id: Uuid, c: &TicketChange) -> Result<Ticket> {
    let (category_id, category) = c.category.clone().unzip();
    sqlx::query_as(sqlf!(
        "UPDATE tickets SET status = coalesce($2, status), priority = coalesce($3, priority),
             category_id = coalesce($4, category_id), category = coalesce($5, category),
             assigned_to = coalesce($6, assigned_to), updated_at = now()
         WHERE id = $1 RETURNING {COLUMNS}"
    ))
    .bind(id)
    .bind(&c.status)
    .bind(&c.priority)
    .bind(category_id)
    .bind(category)
    .bind(c.assigned_to)
    .fetch_optional(conn)
    .await
    .map_err(StorageError::classify)?
    .ok_or(StorageError::NotFound)
}

/// Tickets created in `[from, to)` (of one tenant, or every one the scope sees), cancelled
/// ones left out, oldest first; at most `limit` (the SLA numbers read them in one go).
pub async fn created_between(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Ticket>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM tickets
         WHERE ($1::uuid IS NULL OR tenant_id = $1) AND created_at >= $2 AND created_at < $3
           AND status <> 'cancelled'
         ORDER BY created_at, id LIMIT $4"
    ))
    .bind(tenant)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// `%`, `_` and `\` taken literally in a `LIKE` pattern.
fn like_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

pub async fn list(conn: &mut PgConnection, f: &TicketFilter) -> Result<Vec<Ticket>> {
    let pattern = f.q.as_deref().map(|q| format!("%{}%", like_escape(q)));
    let (requester, sites) = f.requester.clone().unzip();
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM tickets
         WHERE ($1::uuid IS NULL OR tenant_id = $1) AND ($2::text IS NULL OR status = $2)
           AND ($3::text IS NULL OR priority = $3) AND ($4::uuid IS NULL OR device_id = $4)
           AND ($6::timestamptz IS NULL OR (created_at, id) < ($6, $7))
           AND ($8::uuid IS NULL OR site_id = $8) AND ($9::uuid IS NULL OR assigned_to = $9)
           AND ($10::timestamptz IS NULL OR created_at >= $10)
           AND ($11::timestamptz IS NULL OR created_at < $11)
           AND ($12::text IS NULL OR search_text LIKE centinela_fold($12))
           AND ($13::uuid IS NULL OR created_by = $13 OR site_id = ANY($14))
         ORDER BY created_at DESC, id DESC LIMIT $5"
    ))
    .bind(f.tenant_id)
    .bind(&f.status)
    .bind(&f.priority)
    .bind(f.device_id)
    .bind(f.limit)
    .bind(f.after.map(|k| k.0))
    .bind(f.after.map(|k| k.1))
    .bind(f.site_id)
    .bind(f.assigned_to)
    .bind(f.from)
    .bind(f.to)
    .bind(pattern)
    .bind(requester)
    .bind(sites.unwrap_or_default())
    .fetch_all(conn)
    .await?)
}

/// The open ticket of an earlier alert with the same device and key, if any (an alert that
/// fires again while its ticket is open adds to that ticket instead of opening another).
pub async fn open_for_alert_key(
    conn: &mut PgConnection,
    device_id: Uuid,
    key: &str,
) -> Result<Option<Ticket>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM tickets t
         WHERE t.device_id = $1 AND t.source = 'alert' AND t.status IN {OPEN_STATUSES}
           AND EXISTS (SELECT 1 FROM alerts a WHERE a.ticket_id = t.id AND a.key = $2)
         ORDER BY t.created_at DESC LIMIT 1"
    ))
    .bind(device_id)
    .bind(key)
    .fetch_optional(conn)
    .await?)
}

/// Whether a person touched the ticket since it opened: a status move or a comment by a user
/// (the engine's own notes and the assignment do not count).
pub async fn touched_by_people(conn: &mut PgConnection, id: Uuid) -> Result<bool> {
    let row: (bool,) = sqlx::query_as(
        "SELECT EXISTS (SELECT 1 FROM ticket_events WHERE ticket_id = $1
             AND actor_id IS NOT NULL AND kind IN ('status', 'comment'))",
    )
    .bind(id)
    .fetch_one(conn)
    .await?;
    Ok(row.0)
}

/// What creating a ticket through the portal or the API checks, read in one round trip in the
/// caller's scope (row-level security applies to each part: what the caller may not see reads
/// as absent).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct NewTicketContext {
    /// The tenant's status; `None` when it is not visible.
    pub tenant_status: Option<String>,
    /// The site's tenant; `None` when the site is not visible.
    pub site_tenant: Option<Uuid>,
    /// The device's site; `None` when no device was asked for or it is not visible.
    pub device_site: Option<Uuid>,
    /// The category's name (`None` when it is not visible), tenant (`None`: MSP-wide) and flag.
    pub category_name: Option<String>,
    pub category_tenant: Option<Uuid>,
    pub category_requires_approval: Option<bool>,
    /// Whether the category has a parent, and the parent when visible.
    pub category_has_parent: bool,
    pub parent_name: Option<String>,
    pub parent_requires_approval: Option<bool>,
    /// The caller's e-mail and phone (for the affected person's contact).
    pub caller_email: Option<String>,
    pub caller_phone: Option<String>,
}

/// Reads [`NewTicketContext`] for a ticket of `tenant` on `site` (and `device`) in `category`,
/// filed by `caller`.
pub async fn new_ticket_context(
    conn: &mut PgConnection,
    tenant: Uuid,
    site: Uuid,
    device: Option<Uuid>,
    category: Uuid,
    caller: Uuid,
) -> Result<NewTicketContext> {
    Ok(sqlx::query_as(
        "SELECT (SELECT status FROM tenants WHERE id = $1) AS tenant_status,
                (SELECT tenant_id FROM sites WHERE id = $2) AS site_tenant,
                (SELECT site_id FROM devices WHERE id = $3) AS device_site,
                c.tenant_id AS category_tenant,
                c.name AS category_name,
                c.requires_approval AS category_requires_approval,
                c.parent_id IS NOT NULL AS category_has_parent,
                p.name AS parent_name,
                p.requires_approval AS parent_requires_approval,
                u.email AS caller_email,
                u.phone AS caller_phone
         FROM (SELECT 1) one
         LEFT JOIN ticket_categories c ON c.id = $4
         LEFT JOIN ticket_categories p ON p.id = c.parent_id
         LEFT JOIN users u ON u.id = $5",
    )
    .bind(tenant)
    .bind(site)
    .bind(device)
    .bind(category)
    .bind(caller)
    .fetch_one(conn)
    .await?)
}

#[cfg(test)]
mod tests {
    #[test]
    fn like_patterns_take_wildcards_literally() {
        assert_eq!(super::like_escape("100%_a\\b"), "100\\%\\_a\\\\b");
        assert_eq!(super::like_escape("Cámara"), "Cámara");
    }
}
