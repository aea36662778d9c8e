//! `/api/alerts`: the alert list, one alert with its history, acknowledgement and the status
//! workflow. Changes are pushed to NOC sessions and recorded in the audit log.

use crate::caller::Caller;
use crate::device_metrics::parse_query_time;
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::requester::{DeviceScope, ensure_device_visible};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_actors::{AlertEvent, NocMessage};
use centinela_model::{AlertState, AlertStatus, Severity};
use centinela_storage::alerts::{self, Alert, AlertFilter};
use centinela_storage::{PgConnection, audit};
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::str::FromStr;
use uuid::Uuid;

/// `GET /api/alerts` filters.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AlertQuery {
    pub state: Option<String>,
    pub status: Option<String>,
    pub severity: Option<String>,
    pub device_id: Option<Uuid>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `true`: only alerts raised under a maintenance window (`suppressed_by` set); `false`:
    /// only the others.
    pub suppressed: Option<String>,
    /// `json` (default) or `csv` (every matching alert, streamed).
    pub format: Option<String>,
    pub limit: Option<i64>,
    pub cursor: Option<String>,
}

/// `POST /api/alerts/{id}/ack` body.
#[derive(Debug, Default, Deserialize, utoipa::ToSchema)]
pub struct AckBody {
    pub comment: Option<String>,
}

/// `PATCH /api/alerts/{id}/status` body.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct StatusBody {
    pub status: String,
    pub comment: Option<String>,
}

/// Checks an optional contract word against an enum; returns it normalised.
pub fn enum_word<T: FromStr>(field: &str, word: Option<&str>) -> Result<Option<String>, ApiError>
where
    T::Err: std::fmt::Display,
{
    match word {
        None | Some("") => Ok(None),
        Some(word) => word
            .parse::<T>()
            .map(|_| Some(word.to_owned()))
            .map_err(|e| ApiError::field(field, e.to_string())),
    }
}

/// An optional query timestamp.
pub fn optional_time(
    field: &str,
    text: Option<&str>,
) -> Result<Option<chrono::DateTime<chrono::Utc>>, ApiError> {
    match text {
        None | Some("") => Ok(None),
        Some(text) => parse_query_time(text).map(Some).ok_or_else(|| {
            ApiError::field(
                field,
                format!("{field} must be RFC 3339 or epoch milliseconds"),
            )
        }),
    }
}

/// The storage filter and the page size of a list query.
fn filter(caller: &Caller, q: &AlertQuery) -> Result<(AlertFilter, i64), ApiError> {
    let page = Page::parse(q.limit, q.cursor.as_deref())?;
    let filter = AlertFilter {
        tenant_id: caller.tenant_filter(),
        device_id: q.device_id,
        state: enum_word::<AlertState>("state", q.state.as_deref())?,
        status: enum_word::<AlertStatus>("status", q.status.as_deref())?,
        severity: enum_word::<Severity>("severity", q.severity.as_deref())?,
        from: optional_time("from", q.from.as_deref())?,
        to: optional_time("to", q.to.as_deref())?,
        suppressed: match q.suppressed.as_deref() {
            None | Some("") => None,
            Some("true") => Some(true),
            Some("false") => Some(false),
            Some(_) => {
                return Err(ApiError::field(
                    "suppressed",
                    "suppressed must be true or false",
                ));
            }
        },
        limit: page.fetch(),
        after: page.after,
    };
    Ok((filter, page.limit))
}

async fn visible_alert(
    conn: &mut PgConnection,
    caller: &Caller,
    id: Uuid,
) -> Result<Alert, ApiError> {
    let alert = alerts::get(conn, id).await?;
    caller.ensure_visible(alert.tenant_id)?;
    ensure_device_visible(conn, caller, alert.device_id).await?;
    Ok(alert)
}

/// Tells NOC sessions of the alert's tenant about a change.
fn publish(state: &ApiState, alert: &Alert) {
    let event = if alert.status == AlertStatus::Resolved.as_str() {
        AlertEvent::Resolved
    } else {
        AlertEvent::Updated
    };
    let message = NocMessage::Alert {
        event,
        alert: alert.clone(),
    };
    state.runtime.publish(alert.tenant_id, &message);
}

async fn record(
    conn: &mut PgConnection,
    caller: &Caller,
    alert: &Alert,
    action: &str,
    comment: Option<&str>,
) -> Result<(), ApiError> {
    let details = json!({"status": alert.status, "comment": comment});
    audit::record(
        conn,
        Some(alert.tenant_id),
        Some(caller.user_id),
        action,
        "alert",
        &alert.id.to_string(),
        details,
    )
    .await?;
    Ok(())
}

/// `GET /api/alerts`.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<AlertQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let csv = crate::csv_export::wants_csv(query.format.as_deref())?;
    let (filter, limit) = filter(&caller, &query)?;
    if csv {
        return crate::alert_export::export(state.get_ref().clone(), caller, filter).await;
    }
    let mut tx = state.store.begin(caller.scope()).await?;
    let all = alerts::list(&mut tx, &filter).await?;
    let devices = DeviceScope::load(&mut tx, &caller).await?;
    commit(tx).await?;
    Ok(page::respond(&req, all, limit, alerts::list_key, |a| {
        caller.sees(a.tenant_id) && devices.sees(a.device_id)
    }))
}

/// `GET /api/alerts/{id}`: the alert plus its `history`.
pub async fn get(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
) -> Result<HttpResponse, ApiError> {
    let mut tx = state.store.begin(caller.scope()).await?;
    let alert = visible_alert(&mut tx, &caller, id.into_inner()).await?;
    let history = alerts::history(&mut tx, alert.id).await?;
    commit(tx).await?;
    Ok(HttpResponse::Ok().json(AlertDetail { alert, history }))
}

/// `GET /api/alerts/{id}` answer: the alert's fields plus its `history`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertDetail {
    #[serde(flatten)]
    pub alert: alerts::Alert,
    pub history: Vec<alerts::AlertEvent>,
}

/// `POST /api/alerts/{id}/ack`.
pub async fn ack(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: Option<web::Json<AckBody>>,
) -> Result<HttpResponse, ApiError> {
    let comment = body.and_then(|b| b.into_inner().comment);
    let mut tx = state.store.begin(caller.scope()).await?;
    let current = visible_alert(&mut tx, &caller, id.into_inner()).await?;
    caller.ensure_can_write(&mut tx, current.tenant_id).await?;
    let alert = alerts::ack(&mut tx, current.id, caller.user_id, comment.as_deref()).await?;
    record(&mut tx, &caller, &alert, "alert.ack", comment.as_deref()).await?;
    commit(tx).await?;
    publish(&state, &alert);
    Ok(HttpResponse::Ok().json(alert))
}

/// `PATCH /api/alerts/{id}/status`: 422 on a move the lifecycle does not allow.
pub async fn set_status(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    body: web::Json<StatusBody>,
) -> Result<HttpResponse, ApiError> {
    let StatusBody { status, comment } = body.into_inner();
    let next: AlertStatus = status
        .parse()
        .map_err(|e: centinela_model::status::UnknownWord| {
            ApiError::field("status", e.to_string())
        })?;
    let mut tx = state.store.begin(caller.scope()).await?;
    let current = visible_alert(&mut tx, &caller, id.into_inner()).await?;
    caller.ensure_can_write(&mut tx, current.tenant_id).await?;
    let alert = alerts::set_status(
        &mut tx,
        current.id,
        next,
        caller.user_id,
        comment.as_deref(),
    )
    .await?;
    record(&mut tx, &caller, &alert, "alert.status", comment.as_deref()).await?;
    commit(tx).await?;
    tracing::info!(alert_id = %alert.id, status = %alert.status, "Alert status changed.");
    publish(&state, &alert);
    Ok(HttpResponse::Ok().json(alert))
}
