//! End to end, on real parts: the `centinela` binary on a fresh PostgreSQL database, real HTTP,
//! WebSocket and MQTT/TLS clients over loopback.

mod agents;
mod alert_tickets;
mod backpressure;
mod demo;
mod durability;
mod harness;
mod hostile_broker;
mod mqtt;
mod openapi;
mod poison;
mod routers;
mod sessions;
mod sla;

use futures_util::StreamExt;
use harness::{Engine, create_user, free_port};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// An HTTP client. reqwest is built with rustls in this workspace (the agent enables it) but
/// without a crypto provider: install ring's before the first client, as the binaries do.
fn http_client() -> Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    Client::new()
}

async fn login(http: &Client, engine: &Engine, email: &str, password: &str) -> String {
    let res = http
        .post(engine.url("/api/auth/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "login {email}");
    res.json::<Value>().await.unwrap()["access_token"]
        .as_str()
        .unwrap()
        .to_owned()
}

async fn call(
    http: &Client,
    engine: &Engine,
    token: &str,
    method: &str,
    path: &str,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let mut req = http
        .request(method.parse().unwrap(), engine.url(path))
        .bearer_auth(token);
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.unwrap();
    let status = res.status();
    let text = res.text().await.unwrap();
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

/// A list response: a bare array or the first array field of an object.
fn items(v: &Value) -> Vec<Value> {
    if let Some(a) = v.as_array() {
        return a.clone();
    }
    v.as_object()
        .and_then(|o| o.values().find_map(|x| x.as_array().cloned()))
        .unwrap_or_default()
}

async fn noc(engine: &Engine, token: &str) -> Ws {
    let url = format!("ws://{}/ws/noc?access_token={token}", engine.http);
    tokio_tungstenite::connect_async(url)
        .await
        .expect("noc connect")
        .0
}

/// The next NOC event matching `pred` within `limit` (`None` on timeout or a closed socket).
async fn next_matching(
    ws: &mut Ws,
    limit: Duration,
    pred: impl Fn(&Value) -> bool,
) -> Option<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        let msg = tokio::time::timeout(left, ws.next()).await.ok()??.ok()?;
        if let Message::Text(text) = msg {
            let v: Value = serde_json::from_str(&text).ok()?;
            if pred(&v) {
                return Some(v);
            }
        }
    }
}

/// The next NOC event matching `pred`; fails the test after `limit`.
async fn wait_event(ws: &mut Ws, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    next_matching(ws, limit, pred)
        .await
        .expect("timed out waiting for a NOC event")
}

/// The next `type=alert` event with the given event word, within `limit`.
async fn next_alert(ws: &mut Ws, event: &str, limit: Duration) -> Option<Value> {
    next_matching(ws, limit, |v| v["type"] == "alert" && v["event"] == event).await
}

/// Any `type=alert` event within `limit`.
async fn any_alert(ws: &mut Ws, limit: Duration) -> Option<Value> {
    next_matching(ws, limit, |v| v["type"] == "alert").await
}

async fn metric_text(http: &Client, engine: &Engine) -> String {
    http.get(engine.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// The value of a Prometheus sample line starting with `prefix` (0 if absent).
fn sample(text: &str, prefix: &str) -> f64 {
    text.lines()
        .find(|l| l.starts_with(prefix))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0.0)
}

async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if check().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for: {what}");
}

struct Fleet {
    tenant: String,
    device: Value,
    token: String,
}

/// A device rule `cpu.usage_pct > 90` (critical, at once) that opens tickets.
async fn cpu_rule_with_tickets(http: &Client, engine: &Engine, admin: &str, device_id: &str) {
    let (s, th) = call(
        http,
        engine,
        admin,
        "POST",
        "/api/thresholds",
        Some(json!({
            "scope": "device", "scope_id": device_id, "metric": "cpu.usage_pct", "op": ">",
            "critical": 90.0, "for_seconds": 0, "auto_ticket": true
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{th}");
}

async fn create_fleet(http: &Client, engine: &Engine, admin: &str, name: &str) -> Fleet {
    let (s, tenant) = call(
        http,
        engine,
        admin,
        "POST",
        "/api/tenants",
        Some(json!({"name": name, "plan": "pro"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{tenant}");
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();
    let (s, site) = call(
        http,
        engine,
        admin,
        "POST",
        "/api/sites",
        Some(json!({"tenant_id": tenant_id, "name": "Oficina Central", "city": "Bogotá"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{site}");
    let (s, created) = call(http, engine, admin, "POST", "/api/devices", Some(json!({"tenant_id": tenant_id, "site_id": site["id"], "name": "PC-Recepción", "kind": "agent"}))).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    Fleet {
        tenant: tenant_id,
        device: created["device"].clone(),
        token: created["agent_token"].as_str().unwrap().to_owned(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn telemetry_to_alert_to_ticket_end_to_end() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let mqtt_port = free_port();
    create_user(&db, "root@example.com", "superadmin", None, "Sup3r-secret!");
    let engine = Engine::start(&db, data.path().to_owned(), mqtt_port);
    let http = http_client();
    let admin = login(&http, &engine, "root@example.com", "Sup3r-secret!").await;

    // Tenant A with a device and a critical CPU threshold that opens tickets.
    let a = create_fleet(&http, &engine, &admin, "Cliente A").await;
    let device_id = a.device["id"].as_str().unwrap().to_owned();
    let device_key = a.device["device_key"].as_str().unwrap().to_owned();
    cpu_rule_with_tickets(&http, &engine, &admin, &device_id).await;

    // Tenant B and its client_admin, watching the NOC as well.
    let b = create_fleet(&http, &engine, &admin, "Cliente B").await;
    create_user(
        &db,
        "jefe@clienteb.com",
        "client_admin",
        Some(&b.tenant),
        "Cl1ente-B!",
    );
    let b_admin = login(&http, &engine, "jefe@clienteb.com", "Cl1ente-B!").await;

    // The device gets a certificate from a CSR, with its token.
    let creds = mqtt::enroll(&http, &engine, &device_key, &a.token).await;
    let mut noc_a = noc(&engine, &admin).await;
    let mut noc_b = noc(&engine, &b_admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let client = mqtt::Device::connect(engine.mqtt_port, &creds, &device_key, &a.token)
        .await
        .expect("tls connect");
    let published = Instant::now();
    client
        .telemetry(&device_key, json!({"metrics": {"cpu.usage_pct": 95.0}}))
        .await;
    let opened = next_alert(&mut noc_a, "opened", Duration::from_secs(1))
        .await
        .expect("alert opened within 1 s");
    assert!(published.elapsed() <= Duration::from_secs(1));
    assert_eq!(opened["alert"]["severity"], "critical");
    assert_eq!(opened["alert"]["device_id"], device_id.as_str());
    let alert_id = opened["alert"]["id"].as_str().unwrap().to_owned();

    // Alert and ticket in REST, linked both ways; the point is queryable.
    let mut ticket_id = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while ticket_id.is_none() && Instant::now() < deadline {
        let (_, alert) = call(
            &http,
            &engine,
            &admin,
            "GET",
            &format!("/api/alerts/{alert_id}"),
            None,
        )
        .await;
        ticket_id = alert["ticket_id"].as_str().map(str::to_owned);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let ticket_id = ticket_id.expect("the alert has its ticket");
    let (s, ticket) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/tickets/{ticket_id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ticket["alert_id"], alert_id.as_str());
    assert_eq!(ticket["source"], "alert");
    let number = ticket["number"].as_str().unwrap().to_owned();
    assert!(number.starts_with("TKT-") && number.len() == 10, "{number}");
    let (s, by_number) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/tickets/{number}"),
        None,
    )
    .await;
    assert_eq!(
        (s, by_number["id"].as_str()),
        (StatusCode::OK, Some(ticket_id.as_str()))
    );
    eventually("the point is stored", || async {
        let (_, m) = call(
            &http,
            &engine,
            &admin,
            "GET",
            &format!("/api/devices/{device_id}/metrics?name=cpu.usage_pct"),
            None,
        )
        .await;
        items(&m).iter().any(|p| p["value"] == 95.0)
    })
    .await;

    // Tenant B sees none of it, over REST or WebSocket.
    assert!(
        any_alert(&mut noc_b, Duration::from_millis(500))
            .await
            .is_none(),
        "tenant B got tenant A's alert"
    );
    let (_, list) = call(&http, &engine, &b_admin, "GET", "/api/alerts", None).await;
    assert!(items(&list).is_empty(), "{list}");
    for path in [
        format!("/api/alerts/{alert_id}"),
        format!("/api/tickets/{ticket_id}"),
        format!("/api/devices/{device_id}"),
        format!("/api/tickets/{number}"),
    ] {
        let (s, body) = call(&http, &engine, &b_admin, "GET", &path, None).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{path}: {body}");
        assert_eq!(body["error"], "not_found");
    }

    // Restart while firing: nothing lost, nothing duplicated.
    client.disconnect().await;
    let status = engine.stop();
    assert!(status.success(), "graceful stop: {status:?}");
    let engine = Engine::start(&db, data.path().to_owned(), mqtt_port);
    let admin = login(&http, &engine, "root@example.com", "Sup3r-secret!").await;
    let mut noc_a = noc(&engine, &admin).await;
    let client = mqtt::Device::connect(engine.mqtt_port, &creds, &device_key, &a.token)
        .await
        .expect("reconnect");
    client
        .telemetry(&device_key, json!({"metrics": {"cpu.usage_pct": 97.0}}))
        .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    let (_, alerts) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/alerts?device_id={device_id}"),
        None,
    )
    .await;
    assert_eq!(items(&alerts).len(), 1, "{alerts}");
    let (_, tickets) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/tickets?device_id={device_id}"),
        None,
    )
    .await;
    assert_eq!(items(&tickets).len(), 1, "{tickets}");

    // Back to normal clears the alert and notes it on the ticket, which stays open.
    client
        .telemetry(&device_key, json!({"metrics": {"cpu.usage_pct": 10.0}}))
        .await;
    let cleared = next_alert(&mut noc_a, "cleared", Duration::from_secs(2))
        .await
        .expect("cleared");
    assert_eq!(cleared["alert"]["id"], alert_id.as_str());
    let (_, ticket) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/tickets/{ticket_id}"),
        None,
    )
    .await;
    assert_eq!(ticket["status"], "new");
    assert!(
        ticket["history"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["kind"] == "alert_cleared"),
        "{ticket}"
    );

    // Every bad payload class is refused and counted; the device goes on working.
    let before = metric_text(&http, &engine).await;
    for body in [
        b"not json".to_vec(),
        vec![0x7b, 0xff, 0xfe, 0x7d],
        br#"{"metrics":{"cpu.usage_pct":"alto"}}"#.to_vec(),
        br#"{"metrics":{"cpu.usage_pct":NaN}}"#.to_vec(),
        vec![b' '; 5000],
    ] {
        client
            .raw(&format!("/tenants/{device_key}/telemetry"), body)
            .await;
    }
    client
        .telemetry(&device_key, json!({"metrics": {"mem.used_pct": 42.0}}))
        .await;
    eventually("rejections counted", || async {
        let after = metric_text(&http, &engine).await;
        ["invalid_json", "invalid_utf8", "not_a_number", "oversize"]
            .iter()
            .all(|r| {
                let key =
                    format!("centinela_ingest_rejected_total{{transport=\"mqtt\",reason=\"{r}\"}}");
                sample(&after, &key) > sample(&before, &key)
            })
    })
    .await;
    eventually("good point after bad ones", || async {
        let (_, m) = call(
            &http,
            &engine,
            &admin,
            "GET",
            &format!("/api/devices/{device_id}/metrics?name=mem.used_pct"),
            None,
        )
        .await;
        !items(&m).is_empty()
    })
    .await;

    // A device can never publish as another: the broker refuses and drops the connection.
    let other_key = b.device["device_key"].as_str().unwrap().to_owned();
    let other_id = b.device["id"].as_str().unwrap().to_owned();
    let spoof = mqtt::Device::connect(engine.mqtt_port, &creds, &device_key, &a.token)
        .await
        .expect("connect");
    spoof
        .raw(
            &format!("/tenants/{other_key}/telemetry"),
            br#"{"metrics":{"cpu.usage_pct":99}}"#.to_vec(),
        )
        .await;
    assert!(
        spoof.wait_disconnected(Duration::from_secs(5)).await,
        "spoofing connection was not dropped"
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (_, m) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/devices/{other_id}/metrics?name=cpu.usage_pct"),
        None,
    )
    .await;
    assert!(items(&m).is_empty(), "spoofed point stored: {m}");

    // Wrong password: refused even with a valid certificate, and counted.
    let before = sample(
        &metric_text(&http, &engine).await,
        "centinela_mqtt_auth_failures_total",
    );
    assert!(
        mqtt::Device::connect(engine.mqtt_port, &creds, &device_key, "wrong-token")
            .await
            .is_err()
    );
    let after = sample(
        &metric_text(&http, &engine).await,
        "centinela_mqtt_auth_failures_total",
    );
    assert!(after > before, "auth failure not counted");

    // A third-party client works the same way (mosquitto_pub, as in the README).
    mqtt::mosquitto_pub(
        engine.mqtt_port,
        &creds,
        &device_key,
        &a.token,
        r#"{"metrics":{"disk.used_pct{mount=C:}":55.5}}"#,
    );
    eventually("mosquitto_pub point stored", || async {
        let (_, m) = call(
            &http,
            &engine,
            &admin,
            "GET",
            &format!("/api/devices/{device_id}/metrics?name=disk.used_pct%7Bmount%3DC%3A%7D"),
            None,
        )
        .await;
        !items(&m).is_empty()
    })
    .await;

    client.disconnect().await;
    assert!(engine.stop().success());
}
