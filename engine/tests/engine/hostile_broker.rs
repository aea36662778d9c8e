//! The broker under hostile clients (issue 10, items 1–3 and the broker's limits): silent
//! sockets, bad client ids, retained and off-topic publishes, too many connections, and
//! sessions of deleted or revoked devices. Real sockets, the real binary, `mosquitto_pub`.

use super::harness::{Engine, create_user, free_port};
use super::mqtt::{self, Credentials, Device};
use super::{
    Fleet, call, create_fleet, eventually, http_client, items, login, metric_text, sample,
};
use futures_util::StreamExt;
use reqwest::{Client, StatusCode};
use serde_json::json;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

/// One `mosquitto_pub`; whether it succeeded, and how long it took (killed after 10 s).
fn mosquitto_pub(
    (host, port): (&str, u16),
    creds: &Credentials,
    (key, token): (&str, &str),
    extra: &[&str],
    topic: &str,
    body: &str,
) -> (bool, Duration) {
    let dir = creds.dir.path();
    let started = Instant::now();
    let mut child = Command::new("mosquitto_pub")
        .args(["-h", host, "-p", &port.to_string(), "--cafile"])
        .arg(dir.join("ca.pem"))
        .arg("--cert")
        .arg(dir.join("cert.pem"))
        .arg("--key")
        .arg(dir.join("key.pem"))
        .args(["-u", key, "-P", token, "-t", topic, "-m", body])
        .args(extra)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("mosquitto_pub is installed by scripts/test (mosquitto-clients)");
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (status.success(), started.elapsed());
        }
        if started.elapsed() > Duration::from_secs(10) {
            let _ = child.kill();
            let _ = child.wait();
            return (false, started.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn telemetry_topic(key: &str) -> String {
    format!("/tenants/{key}/telemetry")
}

struct Setup {
    engine: Engine,
    db: String,
    _data: tempfile::TempDir,
    http: Client,
    admin: String,
    fleet: Fleet,
    key: String,
    device_id: String,
    creds: Credentials,
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    create_user(&db, "root@example.com", "superadmin", None, "Sup3r-secret!");
    let engine = Engine::start_with(&db, data.path().to_owned(), free_port(), extra);
    let http = http_client();
    let admin = login(&http, &engine, "root@example.com", "Sup3r-secret!").await;
    let fleet = create_fleet(&http, &engine, &admin, "Cliente Hostil").await;
    let key = fleet.device["device_key"].as_str().unwrap().to_owned();
    let device_id = fleet.device["id"].as_str().unwrap().to_owned();
    let creds = mqtt::enroll(&http, &engine, &key, &fleet.token).await;
    Setup {
        engine,
        db,
        _data: data,
        http,
        admin,
        fleet,
        key,
        device_id,
        creds,
    }
}

impl Setup {
    /// Whether a point of `metric` is stored for the device.
    async fn stored(&self, metric: &str) -> bool {
        let (_, m) = call(
            &self.http,
            &self.engine,
            &self.admin,
            "GET",
            &format!("/api/devices/{}/metrics?name={metric}", self.device_id),
            None,
        )
        .await;
        !items(&m).is_empty()
    }

    async fn refused(&self, reason: &str) -> f64 {
        let text = metric_text(&self.http, &self.engine).await;
        sample(
            &text,
            &format!("centinela_mqtt_refused_total{{reason=\"{reason}\"}}"),
        )
    }

    /// `mosquitto_pub` as this device; `extra` holds `-q` and any other options.
    fn publish(&self, host: &str, extra: &[&str], topic: &str, body: &str) -> (bool, Duration) {
        mosquitto_pub(
            (host, self.engine.mqtt_port),
            &self.creds,
            (&self.key, &self.fleet.token),
            extra,
            topic,
            body,
        )
    }

    async fn agent_ws(&self, token: &str) -> Result<super::Ws, StatusCode> {
        let mut req = format!("ws://{}/ws/agent", self.engine.http)
            .into_client_request()
            .unwrap();
        req.headers_mut()
            .insert("authorization", format!("Bearer {token}").parse().unwrap());
        match tokio_tungstenite::connect_async(req).await {
            Ok((ws, _)) => Ok(ws),
            Err(tokio_tungstenite::tungstenite::Error::Http(res)) => {
                Err(StatusCode::from_u16(res.status().as_u16()).unwrap())
            }
            Err(e) => panic!("ws connect: {e}"),
        }
    }
}

/// The close code the server sends within `limit` (`None` if it stays open).
async fn closed_with(ws: &mut super::Ws, limit: Duration) -> Option<Option<CloseCode>> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await {
            Err(_) => return None,
            Ok(None) | Ok(Some(Err(_))) => return Some(None),
            Ok(Some(Ok(Message::Close(frame)))) => return Some(frame.map(|f| f.code)),
            Ok(Some(Ok(_))) => {}
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn silent_sockets_bad_client_ids_retained_and_off_topic_publishes_stop_nobody() {
    let s = setup(&[("CENTINELA_MQTT__HANDSHAKE_TIMEOUT_MS", "1500")]).await;
    let port = s.engine.mqtt_port;

    // Three silent TCP connections: nobody else waits for their handshakes.
    let mut idle = Vec::new();
    for _ in 0..3 {
        idle.push(
            tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .unwrap(),
        );
    }
    let topic = telemetry_topic(&s.key);
    for (host, metric) in [("127.0.0.1", "by.ip"), ("localhost", "by.name")] {
        let body = json!({"metrics": {metric: 1.0}}).to_string();
        let (ok, took) = s.publish(host, &["-q", "1"], &topic, &body);
        assert!(ok, "mosquitto_pub -h {host} failed");
        assert!(took < Duration::from_secs(5), "-h {host} took {took:?}");
    }
    for metric in ["by.ip", "by.name"] {
        eventually(&format!("{metric} stored"), || s.stored(metric)).await;
    }
    // The silent ones are dropped at the handshake timeout, and counted.
    for mut socket in idle {
        use tokio::io::AsyncReadExt;
        let mut buf = [0u8; 1];
        let read = tokio::time::timeout(Duration::from_secs(5), socket.read(&mut buf)).await;
        assert!(
            matches!(read, Ok(Ok(0)) | Ok(Err(_))),
            "idle socket still open: {read:?}"
        );
    }
    assert!(s.refused("handshake_timeout").await >= 3.0);

    // Client ids with `/`, `+`, `#` (twice each, as in upstream issue 1062) are refused at
    // login and counted; the broker goes on serving a valid device afterwards.
    let body = json!({"metrics": {"bad.id": 1.0}}).to_string();
    for id in ["dev/1", "dev/1", "dev+1", "dev#1", "$dev", "dev#1"] {
        let (ok, _) = s.publish("localhost", &["-q", "1", "-i", id], &topic, &body);
        assert!(!ok, "client id {id} accepted");
    }
    assert!(s.refused("client_id").await >= 6.0);
    let (ok, took) = s.publish(
        "127.0.0.1",
        &["-q", "1", "-i", "PC-Recepcion_1"],
        &topic,
        &json!({"metrics": {"after.bad.ids": 1.0}}).to_string(),
    );
    assert!(
        ok && took < Duration::from_secs(5),
        "valid device after bad ids: {took:?}"
    );
    eventually("point after bad ids stored", || s.stored("after.bad.ids")).await;
    assert!(
        !s.stored("bad.id").await,
        "a refused connection's point was stored"
    );

    // A retained publish and one to a topic the engine does not consume are refused (the
    // connection is closed, nothing reaches the engine) and counted. QoS 0: mosquitto_pub
    // would otherwise reconnect and resend until killed.
    let retained = json!({"metrics": {"retained.m": 1.0}}).to_string();
    s.publish("localhost", &["-q", "0", "-r"], &topic, &retained);
    let off_topic = format!("/tenants/{}/config", s.key);
    s.publish("localhost", &["-q", "0"], &off_topic, "{}");
    let (ok, _) = s.publish(
        "localhost",
        &["-q", "1"],
        &topic,
        &json!({"metrics": {"after.retained": 1.0}}).to_string(),
    );
    assert!(ok);
    eventually("point after the refusals stored", || {
        s.stored("after.retained")
    })
    .await;
    assert!(
        !s.stored("retained.m").await,
        "a retained publish reached the engine"
    );
    assert!(s.refused("retained").await >= 1.0);
    assert!(s.refused("topic").await >= 1.0);

    // At most two connections per device: a third is refused (counted) until one goes.
    let first = Device::connect(port, &s.creds, &s.key, &s.fleet.token)
        .await
        .expect("first connection");
    let second = Device::connect(port, &s.creds, &s.key, &s.fleet.token)
        .await
        .expect("second connection");
    assert!(
        Device::connect(port, &s.creds, &s.key, &s.fleet.token)
            .await
            .is_err(),
        "a third connection of the device was accepted"
    );
    assert!(s.refused("connections").await >= 1.0);
    first.disconnect().await;
    eventually("a connection slot frees", || async {
        match Device::connect(port, &s.creds, &s.key, &s.fleet.token).await {
            Ok(third) => {
                third.disconnect().await;
                true
            }
            Err(_) => false,
        }
    })
    .await;
    second.disconnect().await;
    assert!(s.engine.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleted_or_revoked_devices_lose_their_mqtt_and_agent_sessions() {
    let s = setup(&[]).await;
    let port = s.engine.mqtt_port;

    // Two agent sockets are allowed; a third answers 429 before the upgrade.
    let mut ws = s.agent_ws(&s.fleet.token).await.expect("agent ws");
    let mut ws2 = s.agent_ws(&s.fleet.token).await.expect("second agent ws");
    assert_eq!(
        s.agent_ws(&s.fleet.token).await.err(),
        Some(StatusCode::TOO_MANY_REQUESTS)
    );
    ws2.close(None).await.unwrap();
    drop(ws2);
    let device = Device::connect(port, &s.creds, &s.key, &s.fleet.token)
        .await
        .expect("mqtt");

    // Deleting the device closes both within 5 s.
    let (status, body) = call(
        &s.http,
        &s.engine,
        &s.admin,
        "DELETE",
        &format!("/api/devices/{}", s.device_id),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{body}");
    let deleted = Instant::now();
    assert_eq!(
        closed_with(&mut ws, Duration::from_secs(5)).await,
        Some(Some(CloseCode::Policy)),
        "agent socket not closed after deletion"
    );
    assert!(
        device.wait_disconnected(Duration::from_secs(5)).await,
        "mqtt connection not closed after deletion"
    );
    assert!(deleted.elapsed() <= Duration::from_secs(5));

    // A token replaced in the database (no API path needed): the re-check ends its sessions.
    let other = create_fleet(&s.http, &s.engine, &s.admin, "Cliente Revocado").await;
    let other_key = other.device["device_key"].as_str().unwrap().to_owned();
    let other_id = other.device["id"].as_str().unwrap().to_owned();
    let other_creds = mqtt::enroll(&s.http, &s.engine, &other_key, &other.token).await;
    let device = Device::connect(port, &other_creds, &other_key, &other.token)
        .await
        .expect("mqtt");
    let mut ws = s.agent_ws(&other.token).await.expect("agent ws");
    revoke_token(&s, &other_id).await;
    let revoked = Instant::now();
    assert_eq!(
        closed_with(&mut ws, Duration::from_secs(5)).await,
        Some(Some(CloseCode::Policy)),
        "agent socket not closed after its token was replaced"
    );
    assert!(
        device.wait_disconnected(Duration::from_secs(5)).await,
        "mqtt connection not closed after its token was replaced"
    );
    assert!(revoked.elapsed() <= Duration::from_secs(5));
    let text = metric_text(&s.http, &s.engine).await;
    for transport in ["mqtt", "ws"] {
        let key = format!(
            "centinela_sessions_closed_total{{transport=\"{transport}\",reason=\"revoked\"}}"
        );
        assert!(sample(&text, &key) >= 2.0, "{key}");
    }
    assert!(s.engine.stop().success());
}

/// Replaces a device's token hash directly in the database, as a rotation would.
async fn revoke_token(s: &Setup, device_id: &str) {
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&s.db)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('centinela.scope', '*', false)")
        .execute(&mut conn)
        .await
        .unwrap();
    let done = sqlx::query("UPDATE devices SET token_hash = $1 WHERE id = $2::uuid")
        .bind(centinela_storage::token_hash("a-new-token"))
        .bind(device_id)
        .execute(&mut conn)
        .await
        .unwrap();
    assert_eq!(done.rows_affected(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_agent_socket_is_closed_at_the_idle_timeout() {
    let s = setup(&[("CENTINELA_AGENTS__WS_IDLE_TIMEOUT_S", "1")]).await;
    let mut ws = s.agent_ws(&s.fleet.token).await.expect("agent ws");
    let opened = Instant::now();
    assert_eq!(
        closed_with(&mut ws, Duration::from_secs(4)).await,
        Some(Some(CloseCode::Away)),
        "idle agent socket not closed"
    );
    assert!(opened.elapsed() >= Duration::from_millis(900));
    // A socket that keeps talking stays open past the timeout.
    let mut ws = s.agent_ws(&s.fleet.token).await.expect("agent ws");
    let until = Instant::now() + Duration::from_millis(2500);
    while Instant::now() < until {
        use futures_util::SinkExt;
        ws.send(Message::Ping(vec![1].into())).await.unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    assert_eq!(closed_with(&mut ws, Duration::from_millis(300)).await, None);
    let text = metric_text(&s.http, &s.engine).await;
    assert!(
        sample(
            &text,
            "centinela_sessions_closed_total{transport=\"ws\",reason=\"idle\"}"
        ) >= 1.0
    );
    assert!(s.engine.stop().success());
}
