//! `/api/tickets`: the ticket list and one ticket (by id or `TKT-` number) with its history.

use crate::alerts::enum_word;
use crate::caller::Caller;
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::{TicketPriority, TicketStatus};
use centinela_storage::tickets::{self, TicketFilter};
use serde::Deserialize;
use serde_json::json;
use uuid::Uuid;

/// `GET /api/tickets` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TicketQuery {
    pub status: Option<String>,
    pub priority: Option<String>,
    pub device_id: Option<Uuid>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `GET /api/tickets`.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<TicketQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let filter = TicketFilter {
        tenant_id: caller.tenant_filter(),
        status: enum_word::<TicketStatus>("status", query.status.as_deref())?,
        priority: enum_word::<TicketPriority>("priority", query.priority.as_deref())?,
        device_id: query.device_id,
        limit: page.fetch(),
        after: page.after,
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let all = tickets::list(&mut tx, &filter).await?;
    commit(tx).await?;
    Ok(page::respond(
        &req,
        all,
        page.limit,
        tickets::list_key,
        |t| caller.sees(t.tenant_id),
    ))
}

/// `GET /api/tickets/{id}`: `id` is a UUID or a number like `TKT-000123`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let key = id.into_inner();
    if Uuid::parse_str(&key).is_err() && !is_ticket_number(&key) {
        return Err(ApiError::NotFound);
    }
    let mut tx = state.store.begin(caller.scope()).await?;
    let ticket = tickets::get(&mut tx, &key).await?;
    caller.ensure_visible(ticket.tenant_id)?;
    let history = tickets::history(&mut tx, ticket.id).await?;
    commit(tx).await?;
    let mut body = json!(ticket);
    body["history"] = json!(history);
    Ok(HttpResponse::Ok().json(body))
}

/// `TKT-` followed by digits.
fn is_ticket_number(key: &str) -> bool {
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
}
