//! `GET /api/alerts?format=csv`: the alert list as CSV, streamed page by page in the list's
//! order (see [`crate::csv_export`]); the export is audited.

use crate::caller::Caller;
use crate::csv_export::{self, EXPORT_PAGE, Export};
use crate::error::{ApiError, commit};
use crate::state::ApiState;
use actix_web::HttpResponse;
use centinela_storage::alerts::{self, Alert, AlertFilter};
use centinela_storage::audit;
use chrono::SecondsFormat;
use serde_json::json;

const HEADER: &str = "id,opened_at,cleared_at,state,status,severity,tenant_id,device_id,key,\
    title,value,threshold,ticket_id\r\n";

fn line(a: &Alert) -> String {
    let time = |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(SecondsFormat::Millis, true);
    csv_export::line(&[
        &a.id.to_string(),
        &time(a.opened_at),
        &a.cleared_at.map(time).unwrap_or_default(),
        &a.state,
        &a.status,
        &a.severity,
        &a.tenant_id.to_string(),
        &a.device_id.to_string(),
        &a.key,
        &a.title,
        &a.value.to_string(),
        &a.threshold.map(|t| t.to_string()).unwrap_or_default(),
        &a.ticket_id.map(|t| t.to_string()).unwrap_or_default(),
    ])
}

/// Streams the alerts of `filter` (its cursor and limit replaced) as CSV.
pub async fn export(
    state: ApiState,
    caller: Caller,
    mut filter: AlertFilter,
) -> Result<HttpResponse, ApiError> {
    filter.limit = EXPORT_PAGE;
    filter.after = None;
    let mut tx = state.store.begin(caller.scope()).await?;
    let details = json!({"format": "csv", "state": filter.state, "status": filter.status});
    audit::record(
        &mut tx,
        caller.tenant_filter(),
        Some(caller.user_id),
        "alerts.export",
        "alert",
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
            let rows = alerts::list(&mut tx, &filter).await?;
            commit(tx).await?;
            Ok(rows)
        }) as csv_export::PageFuture<Alert>
    };
    Ok(csv_export::respond(Export {
        filename: "alerts.csv".into(),
        header: HEADER,
        fetch: Box::new(fetch),
        key: alerts::list_key,
        line: Box::new(move |a| viewer.sees(a.tenant_id).then(|| line(a))),
    }))
}
