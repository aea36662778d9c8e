//! Poison never stalls the pipeline: each poison class, sent by one device over MQTT and over
//! `/ws/agent`, is refused or cleaned at decode (refusals kept as dead letters and counted), and
//! a healthy device of another tenant still gets its point stored and its alert to the NOC
//! within 5 s. A device whose clock is off gets one `device.clock_skew` alert. A label storm
//! opens at most the cap of alerts and one `device.alert_storm`, and new series past the series
//! cap are refused.

use super::harness::{Engine, create_user, free_port};
use super::{
    Fleet, Ws, call, create_fleet, eventually, http_client, items, login, metric_text, mqtt,
    next_alert, next_matching, noc, sample,
};
use centinela_model::Scope;
use centinela_storage::{Store, dead_letters, devices};
use futures_util::SinkExt;
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use uuid::Uuid;

/// Room for a 300-metric message (the harness default of 4 KiB is for refusal tests).
const ENV: &[(&str, &str)] = &[("CENTINELA_MQTT__MAX_PAYLOAD_BYTES", "65536")];

/// `/ws/agent` with the device's token.
async fn agent_ws(engine: &Engine, token: &str) -> Ws {
    let mut request = format!("ws://{}/ws/agent", engine.http)
        .into_client_request()
        .unwrap();
    request
        .headers_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    tokio_tungstenite::connect_async(request)
        .await
        .expect("agent ws connect")
        .0
}

/// Sends one message with an id over `/ws/agent` and returns the engine's answer to it.
async fn ws_send(ws: &mut Ws, mut body: Value, id: u64) -> Value {
    body["id"] = json!(id);
    ws.send(Message::Text(body.to_string().into()))
        .await
        .unwrap();
    next_matching(ws, Duration::from_secs(5), |v| v["id"] == id)
        .await
        .expect("an answer to every message with an id")
}

/// One way for the poison device to send a message.
enum Sender {
    Mqtt(mqtt::Device),
    Ws(Box<Ws>),
}

impl Sender {
    /// Sends `body` of `kind`; over `/ws/agent`, returns the answer (the agent's queue moves on
    /// only if there is one with its id).
    async fn send(&mut self, key: &str, kind: &str, body: Value, id: u64) -> Option<Value> {
        match self {
            Sender::Mqtt(device) => {
                let topic = format!("/tenants/{key}/{kind}");
                device.raw(&topic, body.to_string().into_bytes()).await;
                None
            }
            Sender::Ws(ws) => {
                let mut body = body;
                body["type"] = json!(kind);
                Some(ws_send(ws, body, id).await)
            }
        }
    }
}

struct Healthy {
    key: String,
    id: String,
    device: mqtt::Device,
}

/// The healthy device's breach reaches the NOC and its point is stored, within 5 s; then it
/// clears, ready for the next round.
async fn healthy_still_flows(
    http: &Client,
    engine: &Engine,
    admin: &str,
    noc: &mut Ws,
    healthy: &Healthy,
    round: u32,
) {
    let value = 95.0 + f64::from(round) / 100.0;
    let started = Instant::now();
    healthy
        .device
        .telemetry(&healthy.key, json!({"metrics": {"cpu.usage_pct": value}}))
        .await;
    let opened = next_matching(noc, Duration::from_secs(5), |v| {
        v["type"] == "alert" && v["event"] == "opened" && v["alert"]["device_id"] == healthy.id
    })
    .await;
    assert!(opened.is_some(), "round {round}: no alert within 5 s");
    let path = format!("/api/devices/{}/metrics?name=cpu.usage_pct", healthy.id);
    loop {
        let (_, m) = call(http, engine, admin, "GET", &path, None).await;
        if items(&m).iter().any(|p| p["value"] == value) {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "round {round}: point not stored within 5 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    healthy
        .device
        .telemetry(&healthy.key, json!({"metrics": {"cpu.usage_pct": 10.0}}))
        .await;
    let cleared = next_matching(noc, Duration::from_secs(5), |v| {
        v["type"] == "alert" && v["event"] == "cleared" && v["alert"]["device_id"] == healthy.id
    })
    .await;
    assert!(cleared.is_some(), "round {round}: not cleared");
}

/// Dead letters of a device with `reason`, read straight from the database.
async fn letters(store: &Store, device: &str, reason: &str) -> Vec<(String, Vec<u8>)> {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let found = dead_letters::for_device(&mut tx, device.parse::<Uuid>().unwrap(), 100)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    found
        .into_iter()
        .filter(|l| l.reason == reason)
        .map(|l| (l.kind, l.payload))
        .collect()
}

struct Setup {
    engine: Engine,
    http: Client,
    admin: String,
    store: Store,
    _data: tempfile::TempDir,
}

async fn setup() -> Setup {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    create_user(&db, "root@example.com", "superadmin", None, "Sup3r-secret!");
    let engine = Engine::start_with(&db, data.path().to_owned(), free_port(), ENV);
    let http = http_client();
    let admin = login(&http, &engine, "root@example.com", "Sup3r-secret!").await;
    let store = Store::connect(&db, 2).await.unwrap();
    Setup {
        engine,
        http,
        admin,
        store,
        _data: data,
    }
}

async fn connect(http: &Client, engine: &Engine, fleet: &Fleet) -> (String, mqtt::Device) {
    let key = fleet.device["device_key"].as_str().unwrap().to_owned();
    let creds = mqtt::enroll(http, engine, &key, &fleet.token).await;
    let device = mqtt::Device::connect(engine.mqtt_port, &creds, &key, &fleet.token)
        .await
        .expect("tls connect");
    (key, device)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn poison_from_one_device_never_stalls_another_tenant() {
    let Setup {
        engine,
        http,
        admin,
        store,
        _data,
    } = setup().await;
    let poison = create_fleet(&http, &engine, &admin, "Cliente Veneno").await;
    let good = create_fleet(&http, &engine, &admin, "Cliente Sano").await;
    let good_id = good.device["id"].as_str().unwrap().to_owned();
    super::cpu_rule_with_tickets(&http, &engine, &admin, &good_id).await;
    let poison_id = poison.device["id"].as_str().unwrap().to_owned();
    let (poison_key, poison_mqtt) = connect(&http, &engine, &poison).await;
    let (good_key, good_mqtt) = connect(&http, &engine, &good).await;
    let healthy = Healthy {
        key: good_key,
        id: good_id,
        device: good_mqtt,
    };
    let mut noc = noc(&engine, &admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let ancient = json!(-300_000_000_000_000i64);
    let future = json!((chrono::Utc::now() + chrono::Duration::days(1)).to_rfc3339());
    // (kind, body, the refusal it gets, or None when it is cleaned and stored)
    let classes: Vec<(&str, Value, Option<&str>)> = vec![
        (
            "telemetry",
            json!({"ts": ancient, "metrics": {"cpu.usage_pct": 1.0}}),
            Some("bad_timestamp"),
        ),
        (
            "events",
            json!({"ts": ancient, "level": "info", "source": "x", "message": "m"}),
            Some("bad_timestamp"),
        ),
        ("heartbeat", json!({"ts": future}), Some("bad_timestamp")),
        (
            "telemetry",
            json!({"ts": future, "metrics": {"cpu.usage_pct": 1.0}}),
            Some("bad_timestamp"),
        ),
        (
            "telemetry",
            json!({"metrics": {"disk.used_pct{mount=\u{0}}": 1.0}}),
            Some("bad_metric_name"),
        ),
        (
            "inventory",
            json!({"os": "Win\u{0}dows", "k\u{0}ey": ["\u{0}"]}),
            None,
        ),
        (
            "events",
            json!({"level": "info", "source": "s\u{0}", "message": "a\u{0}b"}),
            None,
        ),
    ];
    let mut senders = vec![
        ("mqtt", Sender::Mqtt(poison_mqtt)),
        (
            "ws",
            Sender::Ws(Box::new(agent_ws(&engine, &poison.token).await)),
        ),
    ];
    let mut round = 0;
    for (transport, sender) in &mut senders {
        for (kind, body, refusal) in &classes {
            round += 1;
            let answer = sender
                .send(&poison_key, kind, body.clone(), u64::from(round))
                .await;
            if let Some(answer) = answer {
                // The agent's queue moves on: an ack, or an error carrying the message's id.
                let expected = if refusal.is_some() { "error" } else { "ack" };
                assert_eq!(answer["type"], expected, "{transport} {kind}: {answer}");
                if let Some(reason) = refusal {
                    assert_eq!(answer["error"], *reason, "{answer}");
                }
            }
            healthy_still_flows(&http, &engine, &admin, &mut noc, &healthy, round).await;
            if let Some(reason) = refusal {
                let kind = kind.to_string();
                eventually("the dead letter", || async {
                    letters(&store, &poison_id, reason)
                        .await
                        .iter()
                        .any(|(k, _)| *k == kind)
                })
                .await;
                let text = metric_text(&http, &engine).await;
                let counted = sample(
                    &text,
                    &format!("centinela_dead_letters_total{{kind=\"{kind}\",reason=\"{reason}\"}}"),
                );
                assert!(counted >= 1.0, "{transport} {kind} {reason} not counted");
                let refused = sample(
                    &text,
                    &format!(
                        "centinela_ingest_rejected_total{{transport=\"{transport}\",reason=\"{reason}\"}}"
                    ),
                );
                assert!(refused >= 1.0, "{transport} {reason} refusal not counted");
            }
        }
    }
    // Cleaned, not refused: the inventory and the events are stored without their NULs.
    let mut tx = store.begin(Scope::All).await.unwrap();
    let inventory = devices::inventory(&mut tx, poison_id.parse().unwrap())
        .await
        .unwrap()
        .expect("the cleaned inventory is stored");
    tx.commit().await.unwrap();
    assert_eq!(inventory["os"], "Win\u{FFFD}dows");
    let (s, logs) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/devices/{poison_id}/logs"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{logs}");
    assert!(
        items(&logs).iter().any(|l| l["message"] == "a\u{FFFD}b"),
        "{logs}"
    );
    assert!(engine.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_with_a_wrong_clock_gets_one_alert_until_it_is_right() {
    let Setup {
        engine,
        http,
        admin,
        _data,
        ..
    } = setup().await;
    let fleet = create_fleet(&http, &engine, &admin, "Cliente Reloj").await;
    let device_id = fleet.device["id"].as_str().unwrap().to_owned();
    let (key, device) = connect(&http, &engine, &fleet).await;
    let mut noc = noc(&engine, &admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let is_skew = |event: &'static str| {
        let device_id = device_id.clone();
        move |v: &Value| {
            v["type"] == "alert"
                && v["event"] == event
                && v["alert"]["device_id"] == device_id.as_str()
                && v["alert"]["key"] == "device.clock_skew"
        }
    };
    let ahead = (chrono::Utc::now() + chrono::Duration::hours(2)).to_rfc3339();
    for _ in 0..5 {
        device
            .telemetry(
                &key,
                json!({"ts": ahead, "metrics": {"cpu.usage_pct": 5.0}}),
            )
            .await;
    }
    let opened = next_matching(&mut noc, Duration::from_secs(5), is_skew("opened"))
        .await
        .expect("the clock-skew alert opens");
    assert_eq!(opened["alert"]["severity"], "warning");
    // Four more refusals, and no second alert.
    assert!(
        next_matching(&mut noc, Duration::from_secs(1), is_skew("opened"))
            .await
            .is_none(),
        "a second clock-skew alert"
    );
    let (_, alerts) = call(&http, &engine, &admin, "GET", "/api/alerts", None).await;
    let skew: Vec<_> = items(&alerts)
        .into_iter()
        .filter(|a| a["key"] == "device.clock_skew")
        .collect();
    assert_eq!(skew.len(), 1, "{alerts}");
    // A right timestamp clears it.
    device
        .telemetry(
            &key,
            json!({"ts": chrono::Utc::now().to_rfc3339(), "metrics": {"cpu.usage_pct": 5.0}}),
        )
        .await;
    next_matching(&mut noc, Duration::from_secs(5), is_skew("cleared"))
        .await
        .expect("the clock-skew alert clears");
    assert!(engine.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_storm_opens_at_most_the_cap_and_one_storm_alert() {
    let Setup {
        engine,
        http,
        admin,
        _data,
        ..
    } = setup().await;
    let fleet = create_fleet(&http, &engine, &admin, "Cliente Tormenta").await;
    let device_id = fleet.device["id"].as_str().unwrap().to_owned();
    // A tenant rule on disk.used_pct that opens tickets.
    let (s, th) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/thresholds",
        Some(json!({
            "scope": "tenant", "scope_id": fleet.tenant, "metric": "disk.used_pct", "op": ">",
            "critical": 90.0, "for_seconds": 0, "auto_ticket": true
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{th}");
    let (key, device) = connect(&http, &engine, &fleet).await;
    let mut noc = noc(&engine, &admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let storm = |from: usize, to: usize| {
        let metrics: serde_json::Map<String, Value> = (from..to)
            .map(|i| (format!("disk.used_pct{{mount=m{i}}}"), json!(95.0)))
            .collect();
        json!({ "metrics": metrics })
    };
    device.telemetry(&key, storm(0, 300)).await;
    let mut opened = Vec::new();
    while let Some(event) = next_alert(&mut noc, "opened", Duration::from_secs(3)).await {
        opened.push(
            event["alert"]["key"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        );
    }
    let storms = opened.iter().filter(|k| *k == "device.alert_storm").count();
    assert_eq!(storms, 1, "{opened:?}");
    assert_eq!(opened.len(), 51, "{opened:?}");
    // The same storm again opens nothing more.
    device.telemetry(&key, storm(0, 300)).await;
    assert!(
        next_alert(&mut noc, "opened", Duration::from_secs(1))
            .await
            .is_none()
    );
    eventually("the tickets", || async {
        let (_, tickets) = call(&http, &engine, &admin, "GET", "/api/tickets", None).await;
        items(&tickets).len() == 50
    })
    .await;
    let text = metric_text(&http, &engine).await;
    assert_eq!(sample(&text, "centinela_alert_storms_total"), 1.0);
    assert_eq!(sample(&text, "centinela_alerts_suppressed_total"), 500.0);
    // 300 series known; 300 new ones: 200 fit under the cap of 500, 100 are refused.
    device.telemetry(&key, storm(300, 600)).await;
    eventually("series past the cap refused", || async {
        let text = metric_text(&http, &engine).await;
        sample(&text, "centinela_series_refused_total") == 100.0
    })
    .await;
    let path = format!("/api/devices/{device_id}/metrics?name=disk.used_pct%7Bmount%3Dm599%7D");
    let (_, refused_series) = call(&http, &engine, &admin, "GET", &path, None).await;
    assert!(items(&refused_series).is_empty(), "{refused_series}");
    // Calm again: the 50 clear, and with them the storm alert (two messages: the client's
    // packets are limited to 10 KiB).
    for (from, to) in [(0, 250), (250, 500)] {
        let calm: serde_json::Map<String, Value> = (from..to)
            .map(|i| (format!("disk.used_pct{{mount=m{i}}}"), json!(10.0)))
            .collect();
        device.telemetry(&key, json!({ "metrics": calm })).await;
    }
    next_matching(&mut noc, Duration::from_secs(5), |v| {
        v["type"] == "alert" && v["event"] == "cleared" && v["alert"]["key"] == "device.alert_storm"
    })
    .await
    .expect("the storm alert clears under the cap");
    assert!(engine.stop().success());
}

/// Fault injection in PostgreSQL: inventories of the poison device fail on their data (a
/// trigger raising SQLSTATE 22023), then its row is locked by a long transaction. Neither holds
/// the MQTT consumer or the agent's `/ws/agent` queue: the healthy device's point and alert
/// still arrive within 5 s, the failed inventory is a dead letter, and the locked one is stored
/// once the lock goes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inventory_postgres_refuses_or_blocks_never_holds_other_devices() {
    let Setup {
        engine,
        http,
        admin,
        store,
        _data,
    } = setup().await;
    let poison = create_fleet(&http, &engine, &admin, "Cliente Veneno").await;
    let good = create_fleet(&http, &engine, &admin, "Cliente Sano").await;
    let good_id = good.device["id"].as_str().unwrap().to_owned();
    super::cpu_rule_with_tickets(&http, &engine, &admin, &good_id).await;
    let poison_id: Uuid = poison.device["id"].as_str().unwrap().parse().unwrap();
    let (poison_key, poison_mqtt) = connect(&http, &engine, &poison).await;
    let (good_key, good_mqtt) = connect(&http, &engine, &good).await;
    let healthy = Healthy {
        key: good_key,
        id: good_id,
        device: good_mqtt,
    };
    let mut noc = noc(&engine, &admin).await;
    let mut ws = Sender::Ws(Box::new(agent_ws(&engine, &poison.token).await));
    let mut mqtt = Sender::Mqtt(poison_mqtt);
    for sql in [
        "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
             IF NEW.inventory ? 'poison' THEN
                 RAISE EXCEPTION 'poisoned inventory' USING ERRCODE = '22023';
             END IF;
             RETURN NEW;
         END $$",
        "CREATE TRIGGER refuse_poison BEFORE UPDATE OF inventory ON devices
         FOR EACH ROW EXECUTE FUNCTION refuse_poison()",
    ] {
        sqlx::query(sql).execute(store.pool()).await.unwrap();
    }
    tokio::time::sleep(Duration::from_millis(300)).await;

    let refused = json!({"poison": true, "os": "x"});
    let answer = ws.send(&poison_key, "inventory", refused.clone(), 1).await;
    assert_eq!(answer.unwrap()["type"], "ack");
    mqtt.send(&poison_key, "inventory", refused, 2).await;
    healthy_still_flows(&http, &engine, &admin, &mut noc, &healthy, 1).await;
    eventually("the refused inventory's dead letter", || async {
        letters(&store, &poison_id.to_string(), "data_error")
            .await
            .iter()
            .any(|(kind, payload)| kind == "inventory" && payload.starts_with(b"{"))
    })
    .await;
    let text = metric_text(&http, &engine).await;
    assert!(
        sample(
            &text,
            "centinela_dead_letters_total{kind=\"inventory\",reason=\"data_error\"}"
        ) >= 1.0
    );

    // A long transaction holds the poison device's row.
    let mut lock = store.begin(Scope::All).await.unwrap();
    sqlx::query("SELECT id FROM devices WHERE id = $1 FOR UPDATE")
        .bind(poison_id)
        .execute(&mut *lock)
        .await
        .unwrap();
    let blocked = json!({"os": "Debian", "seq": 2});
    let started = Instant::now();
    let answer = ws.send(&poison_key, "inventory", blocked.clone(), 3).await;
    assert_eq!(answer.unwrap()["type"], "ack");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "the agent's queue waited"
    );
    mqtt.send(&poison_key, "inventory", blocked, 4).await;
    for round in 2..4 {
        healthy_still_flows(&http, &engine, &admin, &mut noc, &healthy, round).await;
    }
    lock.rollback().await.unwrap();
    eventually("the blocked inventory is stored after the lock", || async {
        let mut tx = store.begin(Scope::All).await.unwrap();
        let inventory = devices::inventory(&mut tx, poison_id).await.unwrap();
        tx.commit().await.unwrap();
        inventory.is_some_and(|i| i["seq"] == 2)
    })
    .await;
    assert!(engine.stop().success());
}
