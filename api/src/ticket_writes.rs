//! `/api/tickets` writes: creation (portal flow tenant → site → optional device), `PATCH`
//! (status through the state machine, priority, category, assignment) and comments.
//!
//! Each write first reads what it touches in the caller's scope (row-level security, then the
//! API's own visibility rules: another tenant's or site's ticket is a 404), then writes in one
//! transaction in the engine's scope: the assignment rule must read staff users and every
//! tenant's open tickets, which no tenant scope can. Every change lands in the ticket's history
//! and in `audit_log`, and a `ticket` event goes to NOC sessions — except for internal
//! comments, which announce nothing (NOC sessions of tenant roles must never learn of them).

use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::state::ApiState;
use crate::tickets::{detail, visible_ticket};
use actix_web::{HttpResponse, web};
use centinela_actors::{NocMessage, TicketEvent};
use centinela_model::helpdesk::{self, MoveError, Mover};
use centinela_model::{Role, Scope, TenantId, TicketPriority, TicketStatus};
use centinela_storage::tickets::{self, Event, NewTicket, Ticket, TicketChange};
use centinela_storage::{PgConnection, Store, assignment, audit, sla, tenants, ticket_categories};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Bounds of the text fields, in characters.
const MAX_SUBJECT: usize = 200;
const MAX_DESCRIPTION: usize = 10_000;
const MAX_PERSON: usize = 200;
const MAX_COMMENT: usize = 10_000;
/// Most additional e-mail addresses on one ticket.
const MAX_EMAILS: usize = 20;

/// `POST /api/tickets` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateTicketBody {
    /// Defaults to the caller's tenant for tenant roles; required for staff.
    pub tenant_id: Option<Uuid>,
    pub site_id: Uuid,
    pub device_id: Option<Uuid>,
    pub subject: String,
    pub description: String,
    pub affected_person: String,
    /// Filled from the caller's e-mail, and phone when it has one, when absent.
    pub affected_person_contact: Option<String>,
    #[serde(default)]
    pub additional_emails: Vec<String>,
    pub priority: String,
    pub category_id: Uuid,
}

/// `PATCH /api/tickets/{id}` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PatchTicketBody {
    pub status: Option<String>,
    pub priority: Option<String>,
    pub category_id: Option<Uuid>,
    pub assigned_to: Option<Uuid>,
    /// A public comment recorded with the change.
    pub comment: Option<String>,
}

/// The answer of `POST /api/tickets`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedTicket {
    pub ticket: Ticket,
}

/// The answer of `PATCH /api/tickets/{id}`: the ticket with comments and history.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct ChangedTicket {
    pub ticket: crate::tickets::TicketDetail,
}

/// The answer of `POST /api/tickets/{id}/comments`.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct CreatedComment {
    pub comment: tickets::Comment,
    pub ticket: Ticket,
}

/// `POST /api/tickets/{id}/comments` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CommentBody {
    pub body: String,
    #[serde(default)]
    pub internal: bool,
}

/// A required text: trimmed, 1..=`max` characters.
fn text(field: &str, value: &str, max: usize) -> Result<String, ApiError> {
    let value = value.trim();
    if value.is_empty() {
        return Err(ApiError::field(field, format!("{field} is required")));
    }
    if value.chars().count() > max {
        return Err(ApiError::field(
            field,
            format!("{field} must be at most {max} characters"),
        ));
    }
    Ok(value.to_owned())
}

fn priority(value: &str) -> Result<String, ApiError> {
    value
        .parse::<TicketPriority>()
        .map(|p| p.as_str().to_owned())
        .map_err(|e| ApiError::field("priority", e.to_string()))
}

fn emails(list: &[String]) -> Result<Vec<String>, ApiError> {
    if list.len() > MAX_EMAILS {
        return Err(ApiError::field(
            "additional_emails",
            format!("at most {MAX_EMAILS} addresses"),
        ));
    }
    list.iter()
        .map(|e| {
            helpdesk::parse_email(e)
                .map_err(|e| ApiError::field("additional_emails", e.to_string()))
        })
        .collect()
}

/// Refuses writes of tenant roles on a suspended tenant.
async fn ensure_tenant_active(
    conn: &mut PgConnection,
    caller: &Caller,
    tenant: Uuid,
) -> Result<(), ApiError> {
    if !caller.is_staff() && tenants::get(conn, tenant).await?.status == "suspended" {
        return Err(ApiError::TenantSuspended);
    }
    Ok(())
}

/// A category the tenant may use, with its display name (`Padre / Hija`) and whether it (or
/// its parent) requires approval. A missing or foreign one is a 400 naming `category_id`.
async fn category_for(
    conn: &mut PgConnection,
    tenant: Uuid,
    id: Uuid,
) -> Result<(String, bool), ApiError> {
    let bad = || ApiError::field("category_id", "no such category for this tenant");
    let category = ticket_categories::get(conn, id).await.map_err(|_| bad())?;
    if category.tenant_id.is_some_and(|t| t != tenant) {
        return Err(bad());
    }
    match category.parent_id {
        None => Ok((category.name, category.requires_approval)),
        Some(parent) => {
            let parent = ticket_categories::get(conn, parent)
                .await
                .map_err(|_| bad())?;
            let name = format!("{} / {}", parent.name, category.name);
            Ok((name, category.requires_approval || parent.requires_approval))
        }
    }
}

/// The category's display name (`Padre / Hija`) and whether it (or its parent) requires
/// approval; a missing or foreign one is a 400 naming `category_id`.
fn category_of(ctx: &tickets::NewTicketContext, tenant: Uuid) -> Result<(String, bool), ApiError> {
    let bad = || ApiError::field("category_id", "no such category for this tenant");
    let name = ctx.category_name.clone().ok_or_else(bad)?;
    if ctx.category_tenant.is_some_and(|t| t != tenant) {
        return Err(bad());
    }
    let own = ctx.category_requires_approval.unwrap_or(false);
    if !ctx.category_has_parent {
        return Ok((name, own));
    }
    let parent = ctx.parent_name.as_deref().ok_or_else(bad)?;
    Ok((
        format!("{parent} / {name}"),
        own || ctx.parent_requires_approval.unwrap_or(false),
    ))
}

/// How to reach the caller about its ticket (seed 000: filled from `users.email` or
/// `users.phone`): the e-mail, and the phone after it when the user has one.
fn contact_of(email: &str, phone: Option<&str>) -> String {
    match phone.map(str::trim) {
        Some(phone) if !phone.is_empty() => format!("{email} · {phone}"),
        _ => email.to_owned(),
    }
}

/// Checks the portal flow in the caller's scope: tenant, its site (a requester's own), the
/// device on that site, the category; fills the contact. Returns the ticket to insert.
async fn new_ticket(
    conn: &mut PgConnection,
    caller: &Caller,
    body: &CreateTicketBody,
) -> Result<NewTicket, ApiError> {
    let tenant = match (caller.tenant_filter(), body.tenant_id) {
        (Some(own), Some(asked)) if own != asked => return Err(ApiError::NotFound),
        (Some(own), _) | (None, Some(own)) => own,
        (None, None) => return Err(ApiError::field("tenant_id", "tenant_id is required")),
    };
    let subject = text("subject", &body.subject, MAX_SUBJECT)?;
    let description = text("description", &body.description, MAX_DESCRIPTION)?;
    let affected_person = text("affected_person", &body.affected_person, MAX_PERSON)?;
    let priority = priority(&body.priority)?;
    let additional_emails = emails(&body.additional_emails)?;
    // Tenant, site, device, category and the caller's contact in one round trip.
    let ctx = tickets::new_ticket_context(
        conn,
        tenant,
        body.site_id,
        body.device_id,
        body.category_id,
        caller.user_id,
    )
    .await?;
    let status = ctx.tenant_status.as_deref().ok_or(ApiError::NotFound)?;
    if !caller.is_staff() && status == "suspended" {
        return Err(ApiError::TenantSuspended);
    }
    if ctx.site_tenant != Some(tenant) || !caller.sees_site(Some(body.site_id)) {
        return Err(ApiError::NotFound);
    }
    if body.device_id.is_some() && ctx.device_site != Some(body.site_id) {
        return Err(ApiError::field("device_id", "no such device on this site"));
    }
    let (category, needs_approval) = category_of(&ctx, tenant)?;
    let contact = match body.affected_person_contact.as_deref().map(str::trim) {
        Some(c) if !c.is_empty() => text("affected_person_contact", c, MAX_PERSON)?,
        _ => {
            let email = ctx.caller_email.as_deref().ok_or(ApiError::NotFound)?;
            contact_of(email, ctx.caller_phone.as_deref())
        }
    };
    Ok(NewTicket {
        tenant_id: tenant,
        site_id: Some(body.site_id),
        device_id: body.device_id,
        source: if caller.is_staff() { "api" } else { "portal" }.into(),
        subject,
        description,
        affected_person,
        affected_person_contact: contact,
        additional_emails,
        priority,
        category: Some(category),
        category_id: Some(body.category_id),
        status: if needs_approval {
            "pending_approval"
        } else {
            "new"
        }
        .into(),
        created_by: Some(caller.user_id),
        ..NewTicket::default()
    })
}

/// Tells NOC sessions of the ticket's tenant about it, and the SLA watcher that it changed.
pub fn publish(state: &ApiState, ticket: &Ticket, event: &str) {
    state.runtime.sla_touch(vec![ticket.id]);
    let message = NocMessage::Ticket {
        event: if event == "created" {
            TicketEvent::Created
        } else {
            TicketEvent::Updated
        },
        ticket: ticket.clone(),
        sla: None,
    };
    state
        .runtime
        .hub()
        .do_send(message.to_event(TenantId(ticket.tenant_id)));
}

/// `POST /api/tickets` → 201 `{ticket}`.
pub async fn create(
    state: web::Data<ApiState>,
    caller: Caller,
    body: web::Json<CreateTicketBody>,
) -> Result<HttpResponse, ApiError> {
    // One transaction, few round trips (each one waits for a CPU when ingest keeps both
    // busy): the checks in the caller's scope, then the writes in the engine's (the assignment
    // reads every technician).
    let mut tx = state.store.begin(caller.scope()).await?;
    let new = new_ticket(&mut tx, &caller, &body).await?;
    Store::rescope(&mut tx, Scope::All).await?;
    let (mut ticket, _) = tickets::create(&mut tx, &new).await?;
    if ticket.status == TicketStatus::New.as_str() {
        ticket = assignment::assign_without_due(&mut tx, &ticket).await?;
    }
    sla::settle(&mut tx, &mut ticket, state.runtime.now()).await?;
    let details = json!({"number": ticket.number, "status": ticket.status,
        "category": ticket.category, "priority": ticket.priority});
    record(&mut tx, &caller, &ticket, "ticket.create", details).await?;
    commit(tx).await?;
    state.runtime.telemetry().tickets_created.inc();
    publish(&state, &ticket, "created");
    tracing::info!(ticket = %ticket.number, tenant_id = %ticket.tenant_id, "Ticket created.");
    Ok(HttpResponse::Created().json(CreatedTicket { ticket }))
}

async fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    ticket: &Ticket,
    action: &str,
    details: serde_json::Value,
) -> Result<(), ApiError> {
    audit::record(
        conn,
        Some(ticket.tenant_id),
        Some(caller.user_id),
        action,
        "ticket",
        &ticket.id.to_string(),
        details,
    )
    .await?;
    Ok(())
}

/// Reads the ticket in the caller's scope (404 unless visible), then locks it in a new
/// engine-scope transaction for the write.
async fn lock_visible(
    state: &ApiState,
    caller: &Caller,
    key: &str,
) -> Result<(centinela_storage::ScopedTx, Ticket), ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let seen = visible_ticket(&mut tx, caller, key).await?;
    ensure_tenant_active(&mut tx, caller, seen.tenant_id).await?;
    commit(tx).await?;
    let mut tx = state.store.begin(Scope::All).await?;
    let ticket = tickets::get_for_update(&mut tx, &seen.id.to_string()).await?;
    Ok((tx, ticket))
}

fn move_error(error: MoveError) -> ApiError {
    match error {
        MoveError::NotAllowed { from, to } => ApiError::InvalidTransition {
            from: from.to_string(),
            to: to.to_string(),
        },
        MoveError::Forbidden { from, to } => ApiError::Forbidden(format!(
            "this role cannot move a ticket from '{from}' to '{to}'"
        )),
    }
}

fn status_of(ticket: &Ticket) -> Result<TicketStatus, ApiError> {
    ticket
        .status
        .parse()
        .map_err(|_| ApiError::Internal(format!("stored status '{}'", ticket.status)))
}

/// Moves `ticket` to `to` as `caller` (checked against the state machine and the role), and
/// records the move. An approval (`pending_approval → assigned`) runs the assignment rule; when
/// nobody is available the approved ticket goes back to `new` (waiting for a technician).
async fn move_status(
    tx: &mut PgConnection,
    caller: &Caller,
    ticket: Ticket,
    to: TicketStatus,
    technician: Option<Uuid>,
) -> Result<Ticket, ApiError> {
    let from = status_of(&ticket)?;
    let own = ticket.created_by == Some(caller.user_id);
    helpdesk::check_move(from, to, Mover::of(caller.role, own)).map_err(move_error)?;
    let actor = Some(caller.user_id);
    if to == TicketStatus::Assigned && technician.is_none() && ticket.assigned_to.is_none() {
        let approved = Event::new("status").from(from.as_str()).to("new").by(actor);
        let as_new = TicketChange {
            status: Some("new".into()),
            ..TicketChange::default()
        };
        let pending = tickets::update(tx, ticket.id, &as_new).await?;
        if from == TicketStatus::PendingApproval {
            tickets::add(tx, &pending, &approved.comment("aprobado", false)).await?;
        }
        let assigned = assignment::assign(tx, &pending).await?;
        if assigned.status != "assigned" && from != TicketStatus::PendingApproval {
            return Err(ApiError::Conflict(
                "no active technician is available; pass assigned_to".into(),
            ));
        }
        return Ok(assigned);
    }
    let change = TicketChange {
        status: Some(to.as_str().into()),
        assigned_to: technician,
        ..TicketChange::default()
    };
    let moved = tickets::update(tx, ticket.id, &change).await?;
    let event = Event::new("status")
        .from(from.as_str())
        .to(to.as_str())
        .by(actor);
    tickets::add(tx, &moved, &event).await?;
    Ok(moved)
}

/// `PATCH /api/tickets/{id}` → `{ticket}` with comments and history.
pub async fn patch(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<PatchTicketBody>,
) -> Result<HttpResponse, ApiError> {
    let staff_fields =
        body.priority.is_some() || body.category_id.is_some() || body.assigned_to.is_some();
    if staff_fields && !caller.is_staff() {
        return Err(ApiError::Forbidden(
            "only MSP staff change priority, category or assignment".into(),
        ));
    }
    let to = match body.status.as_deref() {
        None => None,
        Some(word) => Some(
            word.parse::<TicketStatus>()
                .map_err(|e| ApiError::field("status", e.to_string()))?,
        ),
    };
    let priority = body.priority.as_deref().map(priority).transpose()?;
    let comment = body
        .comment
        .as_deref()
        .map(|c| text("comment", c, MAX_COMMENT))
        .transpose()?;
    let (mut tx, mut ticket) = lock_visible(&state, &caller, &id).await?;
    let before = ticket.clone();
    let actor = Some(caller.user_id);
    if let Some(technician) = body.assigned_to
        && !assignment::is_assignable(&mut tx, technician).await?
    {
        return Err(ApiError::field(
            "assigned_to",
            "not an active technician or admin",
        ));
    }
    let mut others = TicketChange {
        priority,
        ..TicketChange::default()
    };
    if let Some(category) = body.category_id {
        let (name, _) = category_for(&mut tx, ticket.tenant_id, category).await?;
        others.category = Some((category, name));
    }
    // A technician given to a `new` ticket moves it to `assigned` (the table's first step).
    let to = to.or_else(|| {
        (body.assigned_to.is_some() && ticket.status == "new").then_some(TicketStatus::Assigned)
    });
    if let Some(to) = to {
        ticket = move_status(&mut tx, &caller, ticket, to, body.assigned_to).await?;
    } else if let Some(technician) = body.assigned_to {
        others.assigned_to = Some(technician);
    }
    ticket = tickets::update(&mut tx, ticket.id, &others).await?;
    record_field_events(&mut tx, &before, &ticket, actor, body.assigned_to.is_some()).await?;
    if let Some(comment) = &comment {
        tickets::add_comment(&mut tx, &ticket, actor, comment, false).await?;
    }
    let details = json!({"from": before.status, "status": ticket.status,
        "priority": body.priority, "category_id": body.category_id,
        "assigned_to": body.assigned_to, "comment": comment.is_some()});
    record(&mut tx, &caller, &ticket, "ticket.update", details).await?;
    let ticket = tickets::by_id(&mut tx, ticket.id).await?;
    commit(tx).await?;
    publish(&state, &ticket, "updated");
    respond_detail(&state, &caller, &ticket).await
}

/// History entries for priority, category and an assignment made by hand (`assigned_to`; the
/// rule's own assignments are recorded by `assignment::assign`).
async fn record_field_events(
    tx: &mut PgConnection,
    before: &Ticket,
    after: &Ticket,
    actor: Option<Uuid>,
    manual_assignment: bool,
) -> Result<(), ApiError> {
    if before.priority != after.priority {
        let e = Event::new("priority")
            .from(&before.priority)
            .to(&after.priority)
            .by(actor);
        tickets::add(tx, after, &e).await?;
    }
    if before.category_id != after.category_id {
        let from = before.category.clone().unwrap_or_default();
        let to = after.category.clone().unwrap_or_default();
        let e = Event::new("category").from(&from).to(&to).by(actor);
        tickets::add(tx, after, &e).await?;
    }
    if let Some(to) = after.assigned_to.filter(|_| manual_assignment)
        && before.assigned_to != Some(to)
    {
        let from = before.assigned_to.map(|u| u.to_string());
        let to = to.to_string();
        let mut e = Event::new("assigned").to(&to).by(actor);
        e.from = from.as_deref();
        tickets::add(tx, after, &e).await?;
    }
    Ok(())
}

/// The ticket as the caller sees it, read in its own scope.
async fn respond_detail(
    state: &ApiState,
    caller: &Caller,
    ticket: &Ticket,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let body = detail(&mut tx, caller, ticket, state.runtime.now()).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(ChangedTicket { ticket: body }))
}

/// `POST /api/tickets/{id}/comments` → 201 `{comment, ticket}`. Internal comments: staff
/// only. A requester's public comment moves `waiting_customer → in_progress` and
/// `resolved → reopened`.
pub async fn comment(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<String>,
    body: web::Json<CommentBody>,
) -> Result<HttpResponse, ApiError> {
    if body.internal && !caller.is_staff() {
        return Err(ApiError::Forbidden(
            "only MSP staff write internal comments".into(),
        ));
    }
    let text = text("body", &body.body, MAX_COMMENT)?;
    let (mut tx, ticket) = lock_visible(&state, &caller, &id).await?;
    let actor = Some(caller.user_id);
    let comment = tickets::add_comment(&mut tx, &ticket, actor, &text, body.internal).await?;
    let status = status_of(&ticket)?;
    let by_requester = caller.role == Role::Requester;
    let mut ticket = ticket;
    if let Some(to) = helpdesk::comment_move(status, by_requester, body.internal) {
        let change = TicketChange {
            status: Some(to.as_str().into()),
            ..TicketChange::default()
        };
        ticket = tickets::update(&mut tx, ticket.id, &change).await?;
        let event = Event::new("status")
            .from(status.as_str())
            .to(to.as_str())
            .by(actor);
        tickets::add(&mut tx, &ticket, &event).await?;
    }
    let details = json!({"comment_id": comment.id, "internal": body.internal,
        "status": ticket.status});
    record(&mut tx, &caller, &ticket, "ticket.comment", details).await?;
    let mut ticket = tickets::by_id(&mut tx, ticket.id).await?;
    sla::annotate(
        &mut tx,
        std::slice::from_mut(&mut ticket),
        state.runtime.now(),
    )
    .await?;
    commit(tx).await?;
    if !body.internal {
        publish(&state, &ticket, "updated");
    }
    Ok(HttpResponse::Created().json(CreatedComment { comment, ticket }))
}
