//! Alert tickets over the whole engine (MQTT telemetry → device actor → tenant actor →
//! PostgreSQL → REST and `/ws/noc`): the same alert key firing again while its ticket is open
//! adds a comment to that ticket instead of opening another; with the tenant's
//! `auto_resolve_alert_tickets` on, a ticket nobody touched is resolved when its alert clears,
//! and one a person commented on stays open.

use super::harness::{Engine, create_user, free_port};
use super::{
    Ws, call, cpu_rule_with_tickets, create_fleet, eventually, http_client, items, login, mqtt,
    next_alert,
};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// The alert's ticket id, once the tenant actor has linked it.
async fn ticket_of(http: &Client, engine: &Engine, token: &str, alert_id: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let (_, alert) = call(
            http,
            engine,
            token,
            "GET",
            &format!("/api/alerts/{alert_id}"),
            None,
        )
        .await;
        if let Some(id) = alert["ticket_id"].as_str() {
            return id.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "alert {alert_id} got no ticket: {alert}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn ticket(http: &Client, engine: &Engine, token: &str, id: &str) -> Value {
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
    t
}

/// Publishes `cpu` and returns the id of the alert event `event` that it causes.
async fn publish_and_wait(
    client: &mqtt::Device,
    device_key: &str,
    noc: &mut Ws,
    cpu: f64,
    event: &str,
) -> String {
    client
        .telemetry(device_key, json!({"metrics": {"cpu.usage_pct": cpu}}))
        .await;
    let got = next_alert(noc, event, Duration::from_secs(5))
        .await
        .unwrap_or_else(|| panic!("no alert {event} after cpu = {cpu}"));
    got["alert"]["id"].as_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refiring_alert_comments_on_its_open_ticket_and_untouched_tickets_auto_resolve() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    create_user(&db, "root@example.com", "superadmin", None, "Sup3r-secret!");
    let engine = Engine::start(&db, data.path().to_owned(), free_port());
    let http = http_client();
    let admin = login(&http, &engine, "root@example.com", "Sup3r-secret!").await;
    let fleet = create_fleet(&http, &engine, &admin, "Farmacias Ñuñoa").await;
    let device_id = fleet.device["id"].as_str().unwrap().to_owned();
    let key = fleet.device["device_key"].as_str().unwrap().to_owned();
    cpu_rule_with_tickets(&http, &engine, &admin, &device_id).await;
    let creds = mqtt::enroll(&http, &engine, &key, &fleet.token).await;
    let mut noc = super::noc(&engine, &admin).await;
    let client = mqtt::Device::connect(engine.mqtt_port, &creds, &key, &fleet.token)
        .await
        .expect("tls connect");

    // Fires, clears (the setting is off by default: the ticket stays open with a note).
    let first = publish_and_wait(&client, &key, &mut noc, 95.0, "opened").await;
    let ticket_id = ticket_of(&http, &engine, &admin, &first).await;
    publish_and_wait(&client, &key, &mut noc, 10.0, "cleared").await;
    let t = ticket(&http, &engine, &admin, &ticket_id).await;
    assert_eq!(t["status"], "new", "{t}");
    assert!(
        t["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "alert_cleared"),
        "{t}"
    );

    // The same key fires again while the ticket is open: a new alert, linked to the same
    // ticket, which gets a public comment from the engine — not a second ticket.
    let second = publish_and_wait(&client, &key, &mut noc, 97.5, "opened").await;
    assert_ne!(second, first);
    assert_eq!(ticket_of(&http, &engine, &admin, &second).await, ticket_id);
    let t = ticket(&http, &engine, &admin, &ticket_id).await;
    let comments = t["comments"].as_array().unwrap();
    let refire = comments
        .iter()
        .find(|c| c["body"].as_str().unwrap().contains("se volvió a disparar"))
        .unwrap_or_else(|| panic!("no re-fire comment: {t}"));
    assert_eq!(
        (refire["author_id"].clone(), refire["internal"].clone()),
        (Value::Null, json!(false))
    );
    assert!(
        refire["body"].as_str().unwrap().contains("97.5"),
        "{refire}"
    );
    let (_, list) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/tickets?device_id={device_id}"),
        None,
    )
    .await;
    assert_eq!(items(&list).len(), 1, "one ticket for the key: {list}");

    // Tenant setting on: nobody moved or commented on the ticket (the engine's notes do not
    // count), so the clear resolves it.
    let (s, body) = call(
        &http,
        &engine,
        &admin,
        "PATCH",
        &format!("/api/tenants/{}", fleet.tenant),
        Some(json!({"auto_resolve_alert_tickets": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{body}");
    publish_and_wait(&client, &key, &mut noc, 12.0, "cleared").await;
    eventually("the untouched ticket is resolved", || async {
        ticket(&http, &engine, &admin, &ticket_id).await["status"] == "resolved"
    })
    .await;
    let t = ticket(&http, &engine, &admin, &ticket_id).await;
    let last = t["history"]
        .as_array()
        .unwrap()
        .iter()
        .rfind(|e| e["kind"] == "status")
        .cloned();
    assert_eq!(
        last.as_ref().map(|e| e["to_value"].clone()),
        Some(json!("resolved")),
        "{t}"
    );

    // Its ticket resolved, the key firing again opens a new ticket. A technician comments on
    // it; the clear then leaves it open.
    let third = publish_and_wait(&client, &key, &mut noc, 99.0, "opened").await;
    let new_ticket = ticket_of(&http, &engine, &admin, &third).await;
    assert_ne!(new_ticket, ticket_id, "a resolved ticket is not reused");
    let (s, body) = call(
        &http,
        &engine,
        &admin,
        "POST",
        &format!("/api/tickets/{new_ticket}/comments"),
        Some(json!({"body": "Revisando el proceso que consume CPU en la farmacia."})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{body}");
    publish_and_wait(&client, &key, &mut noc, 11.0, "cleared").await;
    // The clear's note lands in the same transaction as the alert's state: once it is in the
    // history, the auto-resolve decision has been taken.
    eventually("the clear is noted on the commented ticket", || async {
        let t = ticket(&http, &engine, &admin, &new_ticket).await;
        t["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "alert_cleared")
    })
    .await;
    let t = ticket(&http, &engine, &admin, &new_ticket).await;
    assert_eq!(t["status"], "new", "a touched ticket stays open: {t}");

    client.disconnect().await;
    assert!(engine.stop().success());
}
