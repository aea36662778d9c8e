//! SLA escalation and maintenance windows over the whole engine.
//!
//! The escalation test drives the engine's clock through its test seam (`CENTINELA_TEST_CLOCK`:
//! a file holding seconds added to the system clock, honoured only by test builds), so that
//! business minutes pass in seconds: the warning and the breach fire once each, on `/ws/noc` and
//! in the ticket's `sla_events`; after a restart in the middle of the cycle only the latest step
//! due fires, once, and the timers go on from the database.
//!
//! The maintenance test runs on real time over MQTT/TLS, REST and `/ws/noc`: an alert raised
//! during a window carries `suppressed_by` and opens no ticket, the ticket of the device pauses
//! its clocks, and when the window ends with the condition still firing the alert becomes a
//! normal one with its ticket.

use super::harness::{Engine, create_user, free_port};
use super::{
    Ws, call, cpu_rule_with_tickets, create_fleet, http_client, items, login, mqtt, next_alert,
    next_matching,
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};

/// A step fires within 5 s of its instant (each move of the clock below puts the instant in the
/// past, so the step is due at once).
const STEP_WITHIN: Duration = Duration::from_secs(5);

/// Moves the engine's clock to `minutes` after the system clock.
fn set_clock(file: &Path, minutes: f64) {
    std::fs::write(file, format!("{}", (minutes * 60.0).round() as i64)).unwrap();
}

/// The next `ticket` event with an `sla` step within `limit`.
async fn next_step(ws: &mut Ws, limit: Duration) -> Option<Value> {
    next_matching(ws, limit, |v| {
        v["type"] == "ticket" && v.get("sla").is_some()
    })
    .await
}

fn step_of(event: &Value) -> (String, String, i64) {
    let sla = &event["sla"];
    (
        sla["clock"].as_str().unwrap().to_owned(),
        sla["step"].as_str().unwrap().to_owned(),
        sla["seq"].as_i64().unwrap(),
    )
}

async fn category(http: &Client, engine: &Engine, token: &str) -> String {
    let (s, list) = call(
        http,
        engine,
        token,
        "GET",
        "/api/ticket-categories?limit=200",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{list}");
    items(&list)
        .into_iter()
        .find(|c| c["requires_approval"] == false)
        .and_then(|c| c["id"].as_str().map(str::to_owned))
        .expect("a category without approval")
}

async fn open_ticket(
    http: &Client,
    engine: &Engine,
    token: &str,
    tenant: &str,
    site: &str,
    device: Option<&str>,
) -> Value {
    let category = category(http, engine, token).await;
    let (s, created) = call(
        http,
        engine,
        token,
        "POST",
        "/api/tickets",
        Some(json!({
            "tenant_id": tenant, "site_id": site, "device_id": device,
            "subject": "Servidor de facturación caído", "description": "No timbra CFDI desde las 9",
            "affected_person": "Lucía Peña", "priority": "critical", "category_id": category
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    created["ticket"].clone()
}

async fn sla_events(http: &Client, engine: &Engine, token: &str, id: &str) -> Vec<Value> {
    let (s, t) = call(
        http,
        engine,
        token,
        "GET",
        &format!("/api/tickets/{id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{t}");
    t["sla_events"].as_array().unwrap().clone()
}

/// No SLA step arrives within `limit`.
async fn quiet(ws: &mut Ws, limit: Duration) {
    if let Some(extra) = next_step(ws, limit).await {
        panic!("an SLA step fired twice or early: {extra}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sla_steps_fire_once_each_and_resume_after_a_restart() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let clock = data.path().join("clock-offset");
    set_clock(&clock, 0.0);
    let clock_env = clock.to_str().unwrap().to_owned();
    let env = [("CENTINELA_TEST_CLOCK", clock_env.as_str())];
    let mqtt_port = free_port();
    create_user(&db, "root@example.com", "superadmin", None, "Sup3r-secret!");
    create_user(
        &db,
        "tecnico@example.com",
        "technician",
        None,
        "T3cnico-secret!",
    );
    let engine = Engine::start_with(&db, data.path().to_owned(), mqtt_port, &env);
    let http = http_client();
    let admin = login(&http, &engine, "root@example.com", "Sup3r-secret!").await;
    let (_, me) = call(&http, &engine, &admin, "GET", "/api/auth/me", None).await;
    let root_id = me["id"]
        .as_str()
        .or(me["user"]["id"].as_str())
        .map(str::to_owned);
    let fleet = create_fleet(&http, &engine, &admin, "Clínica Güemes").await;
    let site = fleet.device["site_id"].as_str().unwrap().to_owned();

    // The tenant's own policy: 24/7 (so that any hour of the test counts), critical response
    // 10 min and resolution 40 min, a reminder every 5 min after a breach.
    let all_day: serde_json::Map<String, Value> = (1..=7)
        .map(|d| (d.to_string(), json!([["00:00", "24:00"]])))
        .collect();
    let (s, policy) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/sla-policies",
        Some(json!({
            "tenant_id": fleet.tenant, "timezone": "America/Mexico_City", "hours": all_day,
            "targets": {
                "critical": {"response_min": 10, "resolution_min": 40},
                "high": {"response_min": 60, "resolution_min": 480},
                "medium": {"response_min": 120, "resolution_min": 960},
                "low": {"response_min": 240, "resolution_min": 1440}
            },
            "reminder_min": 5
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{policy}");

    // A requester of the site sees the ticket's events, but not its escalations.
    let (s, requester) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/users",
        Some(json!({"email": "begona@clinica.test", "name": "Begoña Núñez", "role": "requester",
                    "tenant_id": fleet.tenant, "site_ids": [site], "password": "Solicit4nte-secret!"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{requester}");
    let requester = login(&http, &engine, "begona@clinica.test", "Solicit4nte-secret!").await;
    let mut requester_noc = super::noc(&engine, &requester).await;

    let mut noc = super::noc(&engine, &admin).await;
    let ticket = open_ticket(&http, &engine, &admin, &fleet.tenant, &site, None).await;
    let id = ticket["id"].as_str().unwrap().to_owned();
    let technician = ticket["assigned_to"].as_str().expect("assigned").to_owned();
    assert_eq!(ticket["response_remaining_min"], 10, "{ticket}");

    // 8 of 10 minutes: the response warning (75 %), once, told to the assignee only.
    set_clock(&clock, 8.0);
    let warning = next_step(&mut noc, STEP_WITHIN)
        .await
        .expect("no sla_warning within 5 s of its instant");
    assert_eq!(warning["event"], "sla_warning", "{warning}");
    assert_eq!(step_of(&warning), ("response".into(), "warning".into(), 0));
    assert_eq!(warning["ticket"]["id"], json!(id));
    assert_eq!(warning["sla"]["notify"], json!([technician]), "{warning}");
    quiet(&mut noc, Duration::from_secs(3)).await;
    let created = next_matching(&mut requester_noc, Duration::from_secs(2), |v| {
        v["type"] == "ticket" && v["event"] == "created"
    })
    .await;
    assert!(created.is_some(), "the requester sees its site's ticket");
    quiet(&mut requester_noc, Duration::from_secs(1)).await;
    drop(requester_noc);

    // Past 10 minutes: breached, told to the assignee and the admins.
    set_clock(&clock, 10.5);
    let breach = next_step(&mut noc, STEP_WITHIN)
        .await
        .expect("no sla_breached within 5 s of its instant");
    assert_eq!(breach["event"], "sla_breached", "{breach}");
    assert_eq!(step_of(&breach), ("response".into(), "breached".into(), 0));
    let notify = breach["sla"]["notify"].as_array().unwrap();
    assert!(notify.contains(&json!(technician)), "{breach}");
    if let Some(root) = &root_id {
        assert!(notify.contains(&json!(root)), "admins told: {breach}");
    }
    assert!(
        breach["ticket"]["response_remaining_min"]
            .as_i64()
            .is_some()
    );
    quiet(&mut noc, Duration::from_secs(3)).await;
    let (_, t) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/tickets/{id}"),
        None,
    )
    .await;
    assert!(t["response_remaining_min"].as_i64().unwrap() < 0, "{t}");
    drop(noc);

    // Down in the middle of the cycle: meanwhile the reminders at 15, 20 and 25 minutes fall
    // due. After the restart only the latest (the third) fires, once.
    assert!(engine.stop().success());
    set_clock(&clock, 27.0);
    let engine = Engine::start_with(&db, data.path().to_owned(), mqtt_port, &env);
    let admin = login(&http, &engine, "root@example.com", "Sup3r-secret!").await;
    let deadline = Instant::now() + Duration::from_secs(10);
    let steps = loop {
        let steps = sla_events(&http, &engine, &admin, &id).await;
        if steps.len() >= 3 || Instant::now() > deadline {
            break steps;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let seen: Vec<(String, String, i64)> = steps
        .iter()
        .map(|e| {
            (
                e["clock"].as_str().unwrap().to_owned(),
                e["step"].as_str().unwrap().to_owned(),
                e["seq"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            ("response".into(), "warning".into(), 0),
            ("response".into(), "breached".into(), 0),
            ("response".into(), "reminder".into(), 3),
        ],
        "{steps:?}"
    );

    // The timers go on from the database: at 30.5 minutes the fourth reminder and the
    // resolution clock's warning (30 of 40 minutes) fire, each once.
    let mut noc = super::noc(&engine, &admin).await;
    quiet(&mut noc, Duration::from_secs(2)).await;
    set_clock(&clock, 30.5);
    let mut got = Vec::new();
    for _ in 0..2 {
        let event = next_step(&mut noc, STEP_WITHIN)
            .await
            .unwrap_or_else(|| panic!("only {got:?} after 30.5 minutes"));
        got.push(step_of(&event));
    }
    got.sort();
    assert_eq!(
        got,
        vec![
            ("resolution".into(), "warning".into(), 0),
            ("response".into(), "reminder".into(), 4),
        ]
    );
    quiet(&mut noc, Duration::from_secs(3)).await;

    // Answered: the response clock stops, so it is chased no more.
    let (s, moved) = call(
        &http,
        &engine,
        &admin,
        "PATCH",
        &format!("/api/tickets/{id}"),
        Some(json!({"status": "in_progress"})),
    )
    .await;
    assert!(s.is_success(), "{moved}");
    set_clock(&clock, 36.0);
    quiet(&mut noc, Duration::from_secs(3)).await;
    assert_eq!(sla_events(&http, &engine, &admin, &id).await.len(), 5);
    let metrics = super::metric_text(&http, &engine).await;
    assert!(metrics.contains("centinela_sla_steps"), "{metrics}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn maintenance_suppresses_alerts_pauses_clocks_and_hands_over_when_it_ends() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    create_user(&db, "root@example.com", "superadmin", None, "Sup3r-secret!");
    let engine = Engine::start(&db, data.path().to_owned(), free_port());
    let http = http_client();
    let admin = login(&http, &engine, "root@example.com", "Sup3r-secret!").await;
    let fleet = create_fleet(&http, &engine, &admin, "Farmacias Ñuñoa").await;
    let device_id = fleet.device["id"].as_str().unwrap().to_owned();
    let site = fleet.device["site_id"].as_str().unwrap().to_owned();
    let key = fleet.device["device_key"].as_str().unwrap().to_owned();
    cpu_rule_with_tickets(&http, &engine, &admin, &device_id).await;
    let creds = mqtt::enroll(&http, &engine, &key, &fleet.token).await;
    let client = mqtt::Device::connect(engine.mqtt_port, &creds, &key, &fleet.token)
        .await
        .expect("tls connect");
    let mut noc = super::noc(&engine, &admin).await;
    // A ticket about the device, opened before the window.
    let ticket = open_ticket(
        &http,
        &engine,
        &admin,
        &fleet.tenant,
        &site,
        Some(&device_id),
    )
    .await;
    let ticket_id = ticket["id"].as_str().unwrap().to_owned();

    // Refusals name the field.
    let now = chrono::Utc::now();
    let (s, bad) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/maintenance-windows",
        Some(
            json!({"scope": "device", "scope_id": device_id, "description": "Cambio de disco",
                    "starts_at": (now - chrono::Duration::hours(2)).to_rfc3339(),
                    "ends_at": (now - chrono::Duration::hours(1)).to_rfc3339()}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["field"], "ends_at", "{bad}");
    let (s, bad) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/maintenance-windows",
        Some(
            json!({"scope": "device", "scope_id": device_id, "description": "Semanal",
                    "recurrence": {"weekly": {"days": [9], "start": "02:00", "end": "04:00"}}}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");
    assert_eq!(bad["field"], "recurrence.days", "{bad}");

    // A window over the device, for the next 12 seconds.
    let (s, window) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/maintenance-windows",
        Some(json!({"scope": "device", "scope_id": device_id,
                    "description": "Actualización de firmware — sucursal Ñuñoa",
                    "starts_at": now.to_rfc3339(),
                    "ends_at": (now + chrono::Duration::seconds(12)).to_rfc3339()})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{window}");
    assert_eq!(window["active"], true, "{window}");
    let window_id = window["id"].as_str().unwrap().to_owned();
    // A window that has started keeps its past: its start cannot move, its text can.
    let (s, refused) = call(
        &http,
        &engine,
        &admin,
        "PATCH",
        &format!("/api/maintenance-windows/{window_id}"),
        Some(json!({"starts_at": (now - chrono::Duration::hours(3)).to_rfc3339()})),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{refused}");
    let (s, renamed) = call(
        &http,
        &engine,
        &admin,
        "PATCH",
        &format!("/api/maintenance-windows/{window_id}"),
        Some(json!({"description": "Actualización de firmware y reinicio — sucursal Ñuñoa"})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{renamed}");
    assert_eq!(renamed["ends_at"], window["ends_at"], "{renamed}");
    let (_, upcoming) = call(
        &http,
        &engine,
        &admin,
        "GET",
        "/api/maintenance-windows?upcoming=true",
        None,
    )
    .await;
    assert_eq!(items(&upcoming).len(), 1, "{upcoming}");

    // The device's ticket: clocks paused, no due dates while the window lasts.
    let (_, t) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/tickets/{ticket_id}"),
        None,
    )
    .await;
    assert_eq!(t["sla_paused"], true, "{t}");
    assert_eq!(t["resolution_due_at"], Value::Null, "{t}");

    // An alert during the window: announced with suppressed_by, no ticket.
    client
        .telemetry(&key, json!({"metrics": {"cpu.usage_pct": 97.0}}))
        .await;
    let opened = next_alert(&mut noc, "opened", Duration::from_secs(5))
        .await
        .expect("alert opened");
    assert_eq!(
        opened["alert"]["suppressed_by"],
        json!({"kind": "maintenance", "id": window_id}),
        "{opened}"
    );
    let alert_id = opened["alert"]["id"].as_str().unwrap().to_owned();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let (_, alert) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/alerts/{alert_id}"),
        None,
    )
    .await;
    assert_eq!(alert["state"], "firing", "{alert}");
    assert_eq!(
        alert["ticket_id"],
        Value::Null,
        "no ticket under maintenance: {alert}"
    );
    let (_, suppressed) = call(
        &http,
        &engine,
        &admin,
        "GET",
        "/api/alerts?suppressed=true",
        None,
    )
    .await;
    assert_eq!(items(&suppressed).len(), 1, "{suppressed}");
    let (_, normal) = call(
        &http,
        &engine,
        &admin,
        "GET",
        "/api/alerts?suppressed=false",
        None,
    )
    .await;
    assert!(items(&normal).is_empty(), "{normal}");
    let (s, bad) = call(
        &http,
        &engine,
        &admin,
        "GET",
        "/api/alerts?suppressed=maybe",
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}");

    // A second window over the whole site, ending 5 s after the device's: when the device's
    // ends, the alert stays suppressed, now by the site's.
    let site_ends = now + chrono::Duration::seconds(17);
    let (s, site_window) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/maintenance-windows",
        Some(json!({"scope": "site", "scope_id": site, "description": "Corte de energía programado",
                    "starts_at": chrono::Utc::now().to_rfc3339(), "ends_at": site_ends.to_rfc3339()})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{site_window}");
    let until = (now + chrono::Duration::milliseconds(14_500) - chrono::Utc::now())
        .to_std()
        .unwrap_or_default();
    tokio::time::sleep(until).await;
    let (_, alert) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/alerts/{alert_id}"),
        None,
    )
    .await;
    assert_eq!(
        alert["suppressed_by"],
        json!({"kind": "maintenance", "id": site_window["id"]}),
        "handed over to the window still covering the device: {alert}"
    );
    assert_eq!(alert["ticket_id"], Value::Null, "{alert}");

    // The last window ends with the CPU still high: the alert becomes a normal one, with its
    // ticket.
    let ended = next_matching(&mut noc, Duration::from_secs(20), |v| {
        v["type"] == "alert"
            && v["alert"]["id"] == json!(alert_id)
            && v["alert"]["suppressed_by"].is_null()
    })
    .await
    .expect("the alert left maintenance when the window ended");
    assert!(
        chrono::Utc::now() >= site_ends,
        "not before the site's window ended"
    );
    assert!(ended["alert"]["ticket_id"].is_string(), "{ended}");
    let (_, t) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/tickets/{ticket_id}"),
        None,
    )
    .await;
    assert_eq!(t["sla_paused"], false, "{t}");
    assert!(t["resolution_due_at"].is_string(), "{t}");
    let (_, suppressed) = call(
        &http,
        &engine,
        &admin,
        "GET",
        "/api/alerts?suppressed=true",
        None,
    )
    .await;
    assert!(items(&suppressed).is_empty(), "{suppressed}");
    let (_, audit) = call(
        &http,
        &engine,
        &admin,
        "GET",
        "/api/audit?action=maintenance_window.create",
        None,
    )
    .await;
    assert!(audit.to_string().contains(&window_id), "{audit}");
}
