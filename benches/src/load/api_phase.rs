//! Phase (6), the API under load: while the fleet publishes at a fixed rate (7,000 msg/s by
//! default), one client times the helpdesk's and the NOC's everyday calls — ticket create,
//! the ticket list over 10k tickets, the device list with health over 2,000 devices, and the
//! alert list — and reports p95 and p99 of each (targets: p95 ≤ 50 ms, p99 ≤ 200 ms).
//!
//! The seed goes in through storage before the phase (bulk devices, tickets, alerts), so the
//! lists are measured at their sizes from the first request. Lists are the first page at the
//! list shape's default size, as the dashboard asks for them.

use crate::load::db;
use crate::load::report::{Figure, Goal};
use anyhow::{Context, Result, bail};
use centinela_model::Scope;
use centinela_storage::Store;
use centinela_storage::alerts::{self, AlertFacts};
use centinela_storage::tickets::{self, NewTicket};
use hdrhistogram::Histogram;
use reqwest::Client;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The sizes the issue names.
pub const TICKETS: usize = 10_000;
pub const DEVICES: i64 = 2_000;
/// Alerts seeded (a busy NOC's open and recent alerts).
pub const ALERTS: usize = 1_000;
/// The fleet's rate during the phase.
pub const RATE: f64 = 7_000.0;
/// Targets of the issue, in milliseconds.
pub const P95_TARGET_MS: f64 = 50.0;
pub const P99_TARGET_MS: f64 = 200.0;

/// One timed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    TicketCreate,
    TicketList,
    DeviceList,
    AlertList,
}

impl Op {
    pub const ALL: [Op; 4] = [
        Op::TicketCreate,
        Op::TicketList,
        Op::DeviceList,
        Op::AlertList,
    ];

    /// The report's key prefix.
    pub fn key(self) -> &'static str {
        match self {
            Op::TicketCreate => "api_ticket_create",
            Op::TicketList => "api_ticket_list",
            Op::DeviceList => "api_device_list",
            Op::AlertList => "api_alert_list",
        }
    }
}

/// The latencies of one call.
#[derive(Debug, Clone)]
pub struct OpStats {
    pub op: Op,
    pub count: u64,
    pub errors: u64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

/// What the phase measured.
#[derive(Debug, Clone, Default)]
pub struct ApiResult {
    pub ops: Vec<OpStats>,
    pub secs: f64,
}

impl ApiResult {
    /// Three figures per call: p95 and p99 with the targets, and failed calls (none
    /// allowed: a figure over failed calls would flatter the endpoint).
    pub fn figures(&self) -> Vec<Figure> {
        let mut out = Vec::new();
        for s in &self.ops {
            let [p95, p99, failed] = keys(s.op);
            out.push(Figure::new(
                p95.0,
                p95.1,
                s.p95_ms,
                "ms",
                Goal::AtMost(P95_TARGET_MS),
            ));
            out.push(Figure::new(
                p99.0,
                p99.1,
                s.p99_ms,
                "ms",
                Goal::AtMost(P99_TARGET_MS),
            ));
            out.push(Figure::new(
                failed.0,
                failed.1,
                s.errors as f64,
                "calls",
                Goal::AtMost(0.0),
            ));
        }
        out
    }

    pub fn json(&self) -> Value {
        let ops: Vec<Value> = self
            .ops
            .iter()
            .map(|s| {
                json!({"op": s.op.key(), "calls": s.count, "errors": s.errors, "p50_ms": s.p50_ms,
                    "p95_ms": s.p95_ms, "p99_ms": s.p99_ms, "max_ms": s.max_ms})
            })
            .collect();
        json!({"secs": self.secs, "ops": ops, "fleet_rate_msgs_per_s": RATE,
            "tickets": TICKETS, "devices": DEVICES, "alerts": ALERTS})
    }
}

/// Report keys and labels (`'static`): p95, p99 and failed calls of each call.
type Keys = [(&'static str, &'static str); 3];

fn keys(op: Op) -> Keys {
    match op {
        Op::TicketCreate => [
            ("api_ticket_create_p95_ms", "(6) ticket create p95"),
            ("api_ticket_create_p99_ms", "(6) ticket create p99"),
            ("api_ticket_create_errors", "(6) ticket create failed"),
        ],
        Op::TicketList => [
            ("api_ticket_list_p95_ms", "(6) ticket list (10k) p95"),
            ("api_ticket_list_p99_ms", "(6) ticket list (10k) p99"),
            ("api_ticket_list_errors", "(6) ticket list failed"),
        ],
        Op::DeviceList => [
            ("api_device_list_p95_ms", "(6) device list (2k) p95"),
            ("api_device_list_p99_ms", "(6) device list (2k) p99"),
            ("api_device_list_errors", "(6) device list failed"),
        ],
        Op::AlertList => [
            ("api_alert_list_p95_ms", "(6) alert list p95"),
            ("api_alert_list_p99_ms", "(6) alert list p99"),
            ("api_alert_list_errors", "(6) alert list failed"),
        ],
    }
}

/// Brings the tenant to [`DEVICES`] devices, [`TICKETS`] tickets and [`ALERTS`] alerts.
/// `existing` is how many devices the tenant already has (the enrolled fleet).
pub async fn seed(store: &Store, tenant: Uuid, site: Uuid, existing: usize) -> Result<()> {
    let began = Instant::now();
    let more = (DEVICES - existing as i64).max(0);
    db::insert_idle_devices(store, tenant, site, more).await?;
    let devices: Vec<Uuid> = {
        let mut tx = store.begin(Scope::All).await?;
        let page = centinela_storage::Keyset {
            limit: DEVICES,
            after: None,
        };
        let all = centinela_storage::devices::list(&mut tx, Some(tenant), None, &page).await?;
        tx.commit().await?;
        all.into_iter().map(|d| d.id).collect()
    };
    if devices.is_empty() {
        bail!("no devices to seed tickets and alerts on");
    }
    let mut tx = store.begin(Scope::All).await?;
    for i in 0..TICKETS {
        let device = devices[i % devices.len()];
        let ticket = NewTicket {
            tenant_id: tenant,
            site_id: Some(site),
            device_id: Some(device),
            source: "api".into(),
            subject: format!("Falla de conexión en equipo {i}"),
            description: "El equipo no responde desde la mañana; revisar cableado".into(),
            affected_person: "Iñaki Muñoz".into(),
            affected_person_contact: "inaki@cliente.test".into(),
            priority: ["low", "medium", "high", "critical"][i % 4].into(),
            ..Default::default()
        };
        tickets::create(&mut tx, &ticket).await?;
    }
    for i in 0..ALERTS {
        let facts = AlertFacts {
            id: Uuid::new_v4(),
            tenant_id: tenant,
            device_id: devices[(i * 7) % devices.len()],
            key: format!("disk.used_pct.{i}"),
            threshold_id: None,
            severity: if i % 3 == 0 { "critical" } else { "warning" }.into(),
            title: "Disco casi lleno".into(),
            description: "Uso de disco por encima del límite".into(),
            recommended_action: "Liberar espacio".into(),
            value: 95.0,
            threshold: Some(90.0),
            at: chrono::Utc::now(),
        };
        alerts::open(&mut tx, &facts).await?;
    }
    tx.commit().await?;
    eprintln!(
        "    seeded {DEVICES} devices, {TICKETS} tickets, {ALERTS} alerts in {:.1} s",
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Calls the four endpoints in turn for `duration`, one at a time (a person's pace, no
/// pipelining), and returns their latencies.
pub async fn measure(
    base: &str,
    token: &str,
    tenant: Uuid,
    site: Uuid,
    duration: Duration,
) -> Result<ApiResult> {
    let http = Client::builder().timeout(Duration::from_secs(10)).build()?;
    let mut hist: Vec<Histogram<u64>> = Op::ALL
        .iter()
        .map(|_| Histogram::new_with_bounds(1, 60_000_000, 3))
        .collect::<Result<_, _>>()
        .context("histogram")?;
    let category = ticket_category(&http, base, token, tenant).await?;
    let mut errors = [0u64; 4];
    let began = Instant::now();
    let mut n = 0u64;
    while began.elapsed() < duration {
        for (i, op) in Op::ALL.into_iter().enumerate() {
            let req = match op {
                Op::TicketCreate => http.post(format!("{base}/api/tickets")).json(&json!({
                    "tenant_id": tenant, "site_id": site,
                    "subject": format!("Sin acceso a la impresora {n}"),
                    "description": "La impresora de recepción no imprime; ¿tóner?",
                    "affected_person": "Begoña Ibáñez",
                    "priority": "medium", "category_id": category,
                })),
                Op::TicketList => http.get(format!("{base}/api/tickets")),
                Op::DeviceList => http.get(format!("{base}/api/devices?tenant_id={tenant}")),
                Op::AlertList => http.get(format!("{base}/api/alerts")),
            };
            let start = Instant::now();
            let ok = match req.bearer_auth(token).send().await {
                Ok(res) => {
                    let good = res.status().is_success();
                    // The body is part of the answer's time.
                    let _ = res.bytes().await;
                    good
                }
                Err(_) => false,
            };
            let micros = start.elapsed().as_micros().clamp(1, 60_000_000) as u64;
            if ok {
                hist[i].record(micros).context("record")?;
            } else {
                errors[i] += 1;
            }
        }
        n += 1;
    }
    let ms = |h: &Histogram<u64>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
    let ops = Op::ALL
        .into_iter()
        .enumerate()
        .map(|(i, op)| OpStats {
            op,
            count: hist[i].len(),
            errors: errors[i],
            p50_ms: ms(&hist[i], 0.50),
            p95_ms: ms(&hist[i], 0.95),
            p99_ms: ms(&hist[i], 0.99),
            max_ms: hist[i].max() as f64 / 1000.0,
        })
        .collect();
    Ok(ApiResult {
        ops,
        secs: began.elapsed().as_secs_f64(),
    })
}

/// A category that needs no approval, for the tickets the phase creates (a portal or API ticket
/// must have one; the migration's MSP-wide default set has several).
async fn ticket_category(http: &Client, base: &str, token: &str, tenant: Uuid) -> Result<Uuid> {
    let res = http
        .get(format!(
            "{base}/api/ticket-categories?tenant_id={tenant}&limit=200"
        ))
        .bearer_auth(token)
        .send()
        .await
        .context("GET /api/ticket-categories")?;
    if !res.status().is_success() {
        bail!("GET /api/ticket-categories answered {}", res.status());
    }
    let list: Vec<Value> = res.json().await.context("category list")?;
    list.iter()
        .find(|c| c["requires_approval"] == false && c["parent_id"].is_null())
        .and_then(|c| c["id"].as_str())
        .and_then(|id| id.parse().ok())
        .context("no ticket category without approval: the default set is missing")
}
