//! `GET /api/audit`: the audit trail, newest first, as JSON pages or as CSV streamed page by
//! page. MSP admins (superadmin, admin) read everything; a client_admin reads its tenant's
//! entries; every other role answers 403.

use crate::alerts::optional_time;
use crate::caller::Caller;
use crate::device_logs::csv_field;
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::state::ApiState;
use actix_web::web::Bytes;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_model::Role;
use centinela_storage::audit::{self, AuditFilter, Entry};
use centinela_storage::{StorageError, Store};
use chrono::SecondsFormat;
use futures_util::StreamExt;
use serde::Deserialize;
use uuid::Uuid;

/// Rows read from the database per CSV chunk.
const CSV_PAGE: i64 = 500;
/// Longest `action` filter.
const MAX_ACTION: usize = 100;

/// `GET /api/audit` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    pub actor: Option<Uuid>,
    pub action: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// The tenant filter the caller's role imposes (403 for roles without audit access).
fn audit_tenant(caller: &Caller) -> Result<Option<Uuid>, ApiError> {
    match caller.role {
        Role::Superadmin | Role::Admin => Ok(None),
        Role::ClientAdmin => Ok(caller.tenant_id.map(|t| t.0)),
        _ => Err(ApiError::Forbidden(
            "only admins and client admins read the audit trail".into(),
        )),
    }
}

fn filter(
    caller: &Caller,
    q: &AuditQuery,
) -> Result<(AuditFilter, Page<audit::EntryKey>), ApiError> {
    let tenant_id = audit_tenant(caller)?;
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let action = q.action.as_deref().map(str::trim).filter(|a| !a.is_empty());
    if action.is_some_and(|a| a.chars().count() > MAX_ACTION) {
        return Err(ApiError::field(
            "action",
            format!("action has at most {MAX_ACTION} characters"),
        ));
    }
    let filter = AuditFilter {
        tenant_id,
        actor_id: q.actor,
        action: action.map(str::to_owned),
        from: optional_time("from", q.from.as_deref())?,
        to: optional_time("to", q.to.as_deref())?,
        limit: page.fetch(),
        after: page.after,
    };
    Ok((filter, page))
}

/// The CSV header and one line per entry (cells neutralised like every CSV of the API).
pub fn csv_line(entry: &Entry) -> String {
    let cells = [
        entry.at.to_rfc3339_opts(SecondsFormat::Millis, true),
        entry.tenant_id.map(|t| t.to_string()).unwrap_or_default(),
        entry.actor_id.map(|a| a.to_string()).unwrap_or_default(),
        entry.action.clone(),
        entry.target_type.clone(),
        entry.target_id.clone().unwrap_or_default(),
        entry.details.to_string(),
    ];
    let mut line = cells
        .iter()
        .map(|c| csv_field(c))
        .collect::<Vec<_>>()
        .join(",");
    line.push_str("\r\n");
    line
}

/// The CSV header.
pub const CSV_HEADER: &str = "at,tenant_id,actor_id,action,target_type,target_id,details\r\n";

/// `GET /api/audit?actor=&action=&from=&to=&limit=&cursor=&format=csv`.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<AuditQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let (mut filter, page) = filter(&caller, &query)?;
    match query.format.as_deref() {
        None | Some("") | Some("json") => {}
        Some("csv") => {
            filter.limit = CSV_PAGE;
            return Ok(stream_csv(state.store.clone(), caller, filter));
        }
        Some(_) => return Err(ApiError::field("format", "format must be json or csv")),
    }
    let mut tx = state.store.begin(caller.scope()).await?;
    let entries = audit::list(&mut tx, &filter).await?;
    commit(tx).await?;
    Ok(page::respond(
        &req,
        entries,
        page.limit,
        audit::list_key,
        |_| true,
    ))
}

/// Streams every entry matching `filter` (from its cursor on) as CSV, one short transaction
/// per page, so an export of any size holds neither a connection nor memory for long.
fn stream_csv(store: Store, caller: Caller, filter: AuditFilter) -> HttpResponse {
    let first = Some(Ok(Bytes::from_static(CSV_HEADER.as_bytes())));
    let pages = futures_util::stream::unfold(Some(filter), move |next| {
        let store = store.clone();
        let caller = caller.clone();
        async move {
            let mut filter = next?;
            match csv_page(&store, &caller, &filter).await {
                Ok((chunk, last)) => {
                    let more = last.filter(|_| chunk.1 == filter.limit as usize);
                    filter.after = more;
                    let next = more.map(|_| filter);
                    Some((Ok(Bytes::from(chunk.0)), next))
                }
                Err(error) => {
                    tracing::warn!(error = %error, "Audit CSV export failed mid-stream.");
                    Some((Err(std::io::Error::other("audit export failed")), None))
                }
            }
        }
    });
    let body = futures_util::stream::iter(first).chain(pages);
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(("Content-Disposition", "attachment; filename=\"audit.csv\""))
        .streaming(body)
}

/// One page of CSV: its text and row count, and the key of its last row.
async fn csv_page(
    store: &Store,
    caller: &Caller,
    filter: &AuditFilter,
) -> Result<((String, usize), Option<audit::EntryKey>), StorageError> {
    let mut tx = store.begin(caller.scope()).await?;
    let entries = audit::list(&mut tx, filter).await?;
    tx.commit().await?;
    let text: String = entries.iter().map(csv_line).collect();
    Ok(((text, entries.len()), entries.last().map(audit::list_key)))
}
