//! `GET /api/devices/{id}/logs`: a device's log lines (router logs, agent events), newest
//! first, as JSON or as CSV (`format=csv`, columns `ts,device_id,message`).

use crate::caller::Caller;
use crate::device_metrics::time_param;
use crate::devices::visible_device;
use crate::error::{ApiError, commit};
use crate::page::{self, Page};
use crate::state::ApiState;
use actix_web::{HttpRequest, HttpResponse, web};
use centinela_storage::logs::{self, LogLine};
use chrono::{Duration, SecondsFormat, Utc};
use serde::Deserialize;
use uuid::Uuid;

/// Query of the logs endpoint.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LogsQuery {
    pub limit: Option<i64>,
    pub cursor: Option<String>,
    pub from: Option<String>,
    pub to: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180). A field
/// that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, or a TAB or CR that some
/// spreadsheets skip before one, first: log text comes from routers and their attackers) is
/// prefixed with `'`. Every CSV the API writes goes through here.
pub fn csv_field(text: &str) -> String {
    let text = if text.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text
    }
}

/// The CSV document of some lines.
pub fn to_csv(lines: &[LogLine]) -> String {
    let mut out = String::from("ts,device_id,message\r\n");
    for line in lines {
        out.push_str(&line.ts.to_rfc3339_opts(SecondsFormat::Millis, true));
        out.push(',');
        out.push_str(&line.device_id.to_string());
        out.push(',');
        out.push_str(&csv_field(&line.message));
        out.push_str("\r\n");
    }
    out
}

/// `GET /api/devices/{id}/logs?limit=&from=&to=&format=`.
pub async fn list(
    state: web::Data<ApiState>,
    caller: Caller,
    id: web::Path<Uuid>,
    query: web::Query<LogsQuery>,
    req: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let page = Page::parse(query.limit, query.cursor.as_deref())?;
    let csv = match query.format.as_deref() {
        None | Some("") | Some("json") => false,
        Some("csv") => true,
        Some(_) => return Err(ApiError::field("format", "format must be json or csv")),
    };
    let now = Utc::now();
    let to = time_param("to", query.to.as_deref(), now + Duration::seconds(1))?;
    let from = time_param("from", query.from.as_deref(), to - Duration::days(1))?;
    if from >= to {
        return Err(ApiError::field("from", "from must be before to"));
    }
    let mut tx = state.store.begin(caller.scope()).await?;
    let device = visible_device(&mut tx, &caller, id.into_inner()).await?;
    let keyset = page.keyset();
    let fetched = logs::query(&mut tx, device.id, from, to, &keyset).await?;
    commit(tx).await?;
    let lines = page::shape(fetched, page.limit, logs::list_key, |_| true);
    let mut res = HttpResponse::Ok();
    page::next_headers(&mut res, &req, lines.next.as_deref());
    if csv {
        let disposition = format!("attachment; filename=\"logs-{}.csv\"", device.id);
        return Ok(res
            .content_type("text/csv; charset=utf-8")
            .insert_header(("Content-Disposition", disposition))
            .body(to_csv(&lines.rows)));
    }
    Ok(res.json(LogLines { logs: lines.rows }))
}

/// `GET /api/devices/{id}/logs` JSON answer.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct LogLines {
    pub logs: Vec<centinela_storage::logs::LogLine>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_quotes_what_needs_quoting() {
        let line = |message: &str| LogLine {
            ts: "2026-11-22T10:00:00Z".parse().expect("time"),
            tenant_id: Uuid::nil(),
            device_id: Uuid::nil(),
            level: "info".into(),
            source: "system,info".into(),
            message: message.into(),
        };
        let csv = to_csv(&[
            line("ether1 link up (speed 1G, full duplex)"),
            line("dijo \"hola\""),
        ]);
        let rows: Vec<&str> = csv.split("\r\n").collect();
        assert_eq!(rows[0], "ts,device_id,message");
        assert_eq!(
            rows[1],
            "2026-11-22T10:00:00.000Z,00000000-0000-0000-0000-000000000000,\"ether1 link up (speed 1G, full duplex)\""
        );
        assert!(rows[2].ends_with(",\"dijo \"\"hola\"\"\""));
        let formula = to_csv(&[line("=HYPERLINK(\"x\")")]);
        assert!(formula.contains(",\"'=HYPERLINK(\"\"x\"\")\""), "{formula}");
    }

    #[test]
    fn every_formula_lead_is_neutralised() {
        for lead in ['=', '+', '-', '@', '\t', '\r'] {
            let text = format!("{lead}cmd|' /C calc'!A0");
            let field = csv_field(&text);
            let unquoted = field.trim_start_matches('"');
            assert!(unquoted.starts_with('\''), "{lead:?} → {field:?}");
        }
        assert_eq!(csv_field("ether1 up"), "ether1 up");
        assert_eq!(csv_field("a=b"), "a=b", "only the first character matters");
    }
}
