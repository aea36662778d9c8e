//! `GET /api/sla/metrics`: the helpdesk's numbers over tickets created in `[from, to)`
//! (cancelled ones left out), grouped by priority, technician or tenant, from the same clocks
//! the tickets show. A clock counts once it is decided: stopped (met or late), or still running
//! past its due time (breached). Staff see every tenant; a tenant's roles only theirs;
//! requesters are refused. `format=csv` gives one line per group.

use crate::alerts::optional_time;
use crate::caller::{Caller, ListTenant};
use crate::csv_export::{self, line};
use crate::error::{ApiError, commit};
use crate::state::ApiState;
use actix_web::{HttpResponse, web};
use centinela_model::Role;
use centinela_model::sla::clock::{Clock, Clocks};
use centinela_storage::{sla, tickets};
use chrono::{DateTime, Datelike, Duration, TimeZone, Utc};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use uuid::Uuid;

/// Most tickets one answer reads (a longer range must be narrowed).
const MAX_TICKETS: i64 = 50_000;
/// Widest range, in days.
const MAX_DAYS: i64 = 366;
/// Clocks are computed in batches of this many tickets.
const BATCH: usize = 500;

/// `GET /api/sla/metrics` query.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    pub tenant_id: Option<Uuid>,
    /// Start (RFC 3339 or epoch ms); default 30 days before `to`.
    pub from: Option<String>,
    /// End, exclusive; default now.
    pub to: Option<String>,
    /// `priority` (default), `technician` or `tenant`.
    pub group_by: Option<String>,
    /// `json` (default) or `csv`.
    pub format: Option<String>,
}

/// One clock's numbers over a group.
#[derive(Debug, Default, Clone, Serialize, utoipa::ToSchema)]
pub struct ClockNumbers {
    /// Decided clocks: stopped, or running past their due time.
    pub decided: u64,
    pub met: u64,
    pub breached: u64,
    /// `met / decided` as a percentage (null when nothing is decided).
    pub met_pct: Option<f64>,
    /// Business minutes used by the clocks that stopped.
    pub mean_min: Option<f64>,
    pub median_min: Option<f64>,
}

/// A group's numbers.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct GroupNumbers {
    /// The priority word, technician id (`unassigned` for none) or tenant id.
    pub key: String,
    pub tickets: u64,
    pub response: ClockNumbers,
    pub resolution: ClockNumbers,
    /// Breaches escalated to the admins (one per breached clock).
    pub escalations: u64,
}

/// The answer.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SlaMetrics {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub group_by: String,
    pub tickets: u64,
    pub response: ClockNumbers,
    pub resolution: ClockNumbers,
    pub escalations: u64,
    pub groups: Vec<GroupNumbers>,
    /// Mean wall-clock minutes from opening to the first `resolved` of the critical alerts
    /// opened this month (Mexico City time), as mk-monitor reports it.
    pub tiempo_promedio_resolucion_severa_min: Option<f64>,
}

#[derive(Default)]
struct Tally {
    tickets: u64,
    response: Vec<(bool, bool, Option<f64>)>,
    resolution: Vec<(bool, bool, Option<f64>)>,
}

/// (decided, met, minutes used when stopped) of one clock at `now`.
fn judge(clock: &Clock) -> (bool, bool, Option<f64>) {
    let minutes = clock.used.num_seconds() as f64 / 60.0;
    match clock.stopped_at {
        Some(_) => (true, !clock.breached(), Some(minutes)),
        None => (clock.breached(), false, None),
    }
}

fn numbers(rows: &[(bool, bool, Option<f64>)]) -> ClockNumbers {
    let decided = rows.iter().filter(|r| r.0).count() as u64;
    let met = rows.iter().filter(|r| r.0 && r.1).count() as u64;
    let mut used: Vec<f64> = rows.iter().filter_map(|r| r.2).collect();
    used.sort_by(f64::total_cmp);
    let mean = (!used.is_empty()).then(|| used.iter().sum::<f64>() / used.len() as f64);
    let median = (!used.is_empty()).then(|| {
        let n = used.len();
        if n % 2 == 1 {
            used[n / 2]
        } else {
            (used[n / 2 - 1] + used[n / 2]) / 2.0
        }
    });
    let round = |x: f64| (x * 10.0).round() / 10.0;
    ClockNumbers {
        decided,
        met,
        breached: decided - met,
        met_pct: (decided > 0).then(|| round(100.0 * met as f64 / decided as f64)),
        mean_min: mean.map(round),
        median_min: median.map(round),
    }
}

impl Tally {
    fn add(&mut self, clocks: &Clocks) {
        self.tickets += 1;
        self.response.push(judge(&clocks.response));
        self.resolution.push(judge(&clocks.resolution));
    }

    fn finish(&self, key: String) -> GroupNumbers {
        let response = numbers(&self.response);
        let resolution = numbers(&self.resolution);
        GroupNumbers {
            key,
            tickets: self.tickets,
            escalations: response.breached + resolution.breached,
            response,
            resolution,
        }
    }
}

/// The start of the current month in Mexico City.
fn month_start(now: DateTime<Utc>) -> DateTime<Utc> {
    let tz = chrono_tz::America::Mexico_City;
    let local = now.with_timezone(&tz);
    tz.with_ymd_and_hms(local.year(), local.month(), 1, 0, 0, 0)
        .earliest()
        .map(|t| t.with_timezone(&Utc))
        .unwrap_or(now)
}

/// `GET /api/sla/metrics`.
pub async fn metrics(
    state: web::Data<ApiState>,
    caller: Caller,
    query: web::Query<MetricsQuery>,
) -> Result<HttpResponse, ApiError> {
    if caller.role == Role::Requester {
        return Err(ApiError::Forbidden(
            "requesters do not see the SLA numbers".into(),
        ));
    }
    let csv = csv_export::wants_csv(query.format.as_deref())?;
    let group_by = query.group_by.as_deref().unwrap_or("priority");
    if !matches!(group_by, "priority" | "technician" | "tenant") {
        return Err(ApiError::field(
            "group_by",
            "group_by must be priority, technician or tenant",
        ));
    }
    let now = state.runtime.now();
    let to = optional_time("to", query.to.as_deref())?.unwrap_or(now);
    let from = optional_time("from", query.from.as_deref())?.unwrap_or(to - Duration::days(30));
    if from >= to || to - from > Duration::days(MAX_DAYS) {
        return Err(ApiError::field(
            "from",
            format!("from must be before to, at most {MAX_DAYS} days apart"),
        ));
    }
    let tenant = match caller.list_tenant(query.tenant_id) {
        ListTenant::Only(tenant) => tenant,
        ListTenant::NotVisible => return Err(ApiError::NotFound),
    };
    let mut tx = state.store.begin(caller.scope()).await?;
    let rows = tickets::created_between(&mut tx, tenant, from, to, MAX_TICKETS + 1).await?;
    if rows.len() as i64 > MAX_TICKETS {
        return Err(ApiError::field(
            "from",
            format!("more than {MAX_TICKETS} tickets in the range: narrow it"),
        ));
    }
    let mut total = Tally::default();
    let mut groups: BTreeMap<String, Tally> = BTreeMap::new();
    for batch in rows.chunks(BATCH) {
        let clocks = sla::clocks_of(&mut tx, batch, now).await?;
        for ticket in batch {
            let Some((c, _)) = clocks.get(&ticket.id) else {
                continue;
            };
            let key = match group_by {
                "technician" => ticket
                    .assigned_to
                    .map_or_else(|| "unassigned".to_owned(), |t| t.to_string()),
                "tenant" => ticket.tenant_id.to_string(),
                _ => ticket.priority.clone(),
            };
            total.add(c);
            groups.entry(key).or_default().add(c);
        }
    }
    let severe = sla::critical_alert_resolution_mean_min(&mut tx, tenant, month_start(now))
        .await?
        .map(|m| (m * 10.0).round() / 10.0);
    commit(tx).await?;
    let total = total.finish(String::new());
    let groups: Vec<GroupNumbers> = groups.into_iter().map(|(k, t)| t.finish(k)).collect();
    if csv {
        return Ok(csv_answer(group_by, &groups));
    }
    Ok(HttpResponse::Ok().json(SlaMetrics {
        from,
        to,
        group_by: group_by.to_owned(),
        tickets: total.tickets,
        response: total.response,
        resolution: total.resolution,
        escalations: total.escalations,
        groups,
        tiempo_promedio_resolucion_severa_min: severe,
    }))
}

fn csv_answer(group_by: &str, groups: &[GroupNumbers]) -> HttpResponse {
    let opt = |x: Option<f64>| x.map(|v| v.to_string()).unwrap_or_default();
    let mut body = line(&[
        group_by,
        "tickets",
        "response_met_pct",
        "response_mean_min",
        "response_median_min",
        "response_breached",
        "resolution_met_pct",
        "resolution_mean_min",
        "resolution_median_min",
        "resolution_breached",
        "escalations",
    ]);
    for g in groups {
        let cells = [
            g.key.clone(),
            g.tickets.to_string(),
            opt(g.response.met_pct),
            opt(g.response.mean_min),
            opt(g.response.median_min),
            g.response.breached.to_string(),
            opt(g.resolution.met_pct),
            opt(g.resolution.mean_min),
            opt(g.resolution.median_min),
            g.resolution.breached.to_string(),
            g.escalations.to_string(),
        ];
        let refs: Vec<&str> = cells.iter().map(String::as_str).collect();
        body.push_str(&line(&refs));
    }
    HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header((
            "Content-Disposition",
            "attachment; filename=\"sla-metrics.csv\"",
        ))
        .body(body)
}
