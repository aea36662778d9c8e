//! `/api/tickets` reads: the list (filters, accent-insensitive search `q`, CSV export) and one
//! ticket (by id or `TKT-` number) with its comments and history. Writes are in
//! [`crate::ticket_writes`].
//!
//! Who sees a ticket: staff every ticket; a client_admin its tenant's; a requester its sites'
//! tickets and the ones it opened. Internal comments and their history entries reach staff
//! only (also hidden by row-level security).

use crate::alerts::{enum_word, optional_time};
use crate::caller::Caller;
use crate::csv_export::{self, EXPORT_PAGE, Export};
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::{Role, TicketPriority, TicketStatus};
use centinela_storage::tickets::{self, Ticket, TicketFilter};
use centinela_storage::{PgConnection, audit};
use chrono::SecondsFormat;
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// Longest search text accepted, in characters.
const MAX_QUERY: usize = 200;

/// `GET /api/tickets` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    pub status: Option<String>,
    pub priority: Option<String>,
    pub assigned_to: Option<Uuid>,
    pub tenant_id: Option<Uuid>,
    pub site_id: Option<Uuid>,
    pub device_id: Option<Uuid>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// Case- and accent-insensitive search over number, subject and description.
    pub q: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// Whether the caller may see `ticket` (on top of row-level security).
pub fn visible(caller: &Caller, ticket: &Ticket) -> bool {
    caller.sees(ticket.tenant_id)
        && (caller.role != Role::Requester
            || ticket.created_by == Some(caller.user_id)
            || caller.sees_site(ticket.site_id))
}

/// The storage filter of a list query (rows: `limit + 1` for the page).
fn filter(caller: &Caller, q: &TicketQuery, limit: i64) -> Result<Option<TicketFilter>, ApiError> {
    let tenant_id = match caller.list_tenant(q.tenant_id) {
        crate::caller::ListTenant::Only(tenant) => tenant,
        crate::caller::ListTenant::NotVisible => return Ok(None),
    };
    let search = q.q.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if search.is_some_and(|s| s.chars().count() > MAX_QUERY) {
        return Err(ApiError::field(
            "q",
            format!("q must be at most {MAX_QUERY} characters"),
        ));
    }
    let requester =
        (caller.role == Role::Requester).then(|| (caller.user_id, caller.site_ids.clone()));
    Ok(Some(TicketFilter {
        tenant_id,
        status: enum_word::<TicketStatus>("status", q.status.as_deref())?,
        priority: enum_word::<TicketPriority>("priority", q.priority.as_deref())?,
        device_id: q.device_id,
        site_id: q.site_id,
        assigned_to: q.assigned_to,
        from: optional_time("from", q.from.as_deref())?,
        to: optional_time("to", q.to.as_deref())?,
        q: search.map(str::to_owned),
        requester,
        limit,
        after: None,
    }))
}

/// `GET /api/tickets` (`?format=csv` streams every matching ticket).
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<TicketQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let csv = csv_export::wants_csv(query.format.as_deref())?;
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let fetch = if csv { EXPORT_PAGE } else { page.fetch() };
    let Some(mut filter) = filter(&caller, &query, fetch)? else {
        return Ok(page::ok(&req, &[] as &[Ticket], None));
    };
    if csv {
        return export(state.get_ref().clone(), caller, filter).await;
    }
    filter.after = page.after;
    let mut tx = state.store.begin(caller.scope()).await?;
    let mut all = tickets::list(&mut tx, &filter).await?;
    centinela_storage::sla::annotate(&mut tx, &mut all, state.runtime.now()).await?;
    commit(tx).await?;
    Ok(page::respond(
        &req,
        all,
        page.limit,
        tickets::list_key,
        |t| visible(&caller, t),
    ))
}

const CSV_HEADER: &str = "number,created_at,updated_at,status,priority,source,tenant_id,site_id,\
    device_id,category,subject,description,affected_person,affected_person_contact,assigned_to\r\n";

fn csv_line(t: &Ticket) -> String {
    let opt = |id: Option<Uuid>| id.map(|i| i.to_string()).unwrap_or_default();
    csv_export::line(&[
        &t.number,
        &t.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        &t.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        &t.status,
        &t.priority,
        &t.source,
        &t.tenant_id.to_string(),
        &opt(t.site_id),
        &opt(t.device_id),
        t.category.as_deref().unwrap_or(""),
        &t.subject,
        &t.description,
        &t.affected_person,
        &t.affected_person_contact,
        &opt(t.assigned_to),
    ])
}

/// Streams the tickets of `filter` as CSV, page by page; the export is audited.
async fn export(
    state: ApiState,
    caller: Caller,
    filter: TicketFilter,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let details = json!({"format": "csv", "q": filter.q, "status": filter.status});
    audit::record(
        &mut tx,
        caller.tenant_filter(),
        Some(caller.user_id),
        "tickets.export",
        "ticket",
        "",
        details,
    )
    .await?;
    commit(tx).await?;
    let viewer = caller.clone();
    let fetch = move |after| {
        let (state, caller, mut filter) = (state.clone(), caller.clone(), filter.clone());
        filter.after = after;
        Box::pin(async move {
            let mut tx = state.store.begin(caller.scope()).await?;
            let rows = tickets::list(&mut tx, &filter).await?;
            commit(tx).await?;
            Ok(rows)
        }) as csv_export::PageFuture<Ticket>
    };
    Ok(csv_export::respond(Export {
        filename: "tickets.csv".into(),
        header: CSV_HEADER,
        fetch: Box::new(fetch),
        key: tickets::list_key,
        line: Box::new(move |t| visible(&viewer, t).then(|| csv_line(t))),
    }))
}

/// A visible ticket by id or number, or 404 (also for keys that are neither).
pub async fn visible_ticket(
    conn: &mut PgConnection,
    caller: &Caller,
    key: &str,
) -> Result<Ticket, ApiError> {
    if Uuid::parse_str(key).is_err() && !is_ticket_number(key) {
        return Err(ApiError::NotFound);
    }
    let ticket = tickets::get(conn, key).await?;
    if visible(caller, &ticket) {
        Ok(ticket)
    } else {
        Err(ApiError::NotFound)
    }
}

/// A ticket with its comments and history as the caller may see them (internal ones for
/// staff only).
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TicketDetail {
    #[serde(flatten)]
    pub ticket: Ticket,
    pub comments: Vec<tickets::Comment>,
    pub history: Vec<tickets::TicketEvent>,
    /// The SLA steps fired on its clocks (warnings, breach, reminders), oldest first, with who
    /// was to be told; staff and the tenant's client_admin only (empty for requesters).
    pub sla_events: Vec<centinela_storage::sla::SlaEvent>,
}

/// The ticket with its `comments` and `history` as the caller may see them.
pub async fn detail(
    conn: &mut PgConnection,
    caller: &Caller,
    ticket: &Ticket,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<TicketDetail, ApiError> {
    let staff = caller.is_staff();
    let comments = tickets::comments(conn, ticket.id, staff).await?;
    let history = tickets::history(conn, ticket.id, staff).await?;
    let sla_events = if caller.role == Role::Requester {
        Vec::new()
    } else {
        centinela_storage::sla::events_of(conn, ticket.id).await?
    };
    let mut ticket = ticket.clone();
    centinela_storage::sla::annotate(conn, std::slice::from_mut(&mut ticket), now).await?;
    Ok(TicketDetail {
        ticket,
        comments,
        history,
        sla_events,
    })
}

/// `GET /api/tickets/{id}`: `id` is a UUID or a number like `TKT-000123`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let ticket = visible_ticket(&mut tx, &caller, &id).await?;
    let body = detail(&mut tx, &caller, &ticket, state.runtime.now()).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(body))
}

/// `TKT-` followed by digits.
pub fn is_ticket_number(key: &str) -> bool {
    key.strip_prefix("TKT-")
        .is_some_and(|digits| !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ticket_numbers_are_recognised() {
        assert!(is_ticket_number("TKT-000123"));
        assert!(!is_ticket_number("TKT-"));
        assert!(!is_ticket_number("TKT-12a"));
        assert!(!is_ticket_number("000123"));
    }

    #[test]
    fn csv_lines_neutralise_formulas_and_keep_utf8() {
        let line = csv_export::line(&["=1+1", "Cámara, Ñandú", "ok"]);
        assert_eq!(line, "'=1+1,\"Cámara, Ñandú\",ok\r\n");
    }
}
