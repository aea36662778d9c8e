//! Routers end to end: the engine polls the project's RouterOS simulator (in this process, over
//! real TCP) configured with a high CPU and a burst of login failures; the NOC sees a critical
//! CPU alert and a brute-force alert naming the attacking IP; metrics and logs (JSON and CSV)
//! are queryable; stopping the simulator raises a router-offline alert and restarting it clears
//! it. Credentials are never returned and never stored in clear.

use super::harness::{Engine, MASTER_KEY, create_user, free_port, rotate_master_key};
use super::{Ws, call, eventually, items, login, noc, wait_event};
use centinela_routeros_sim::{RouterVersion, Scenario, SimConfig, SimHandle};
use reqwest::StatusCode;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::Duration;

const PASSWORD: &str = "clave-secreta-ñ-42";

const SCENARIO: &str = r#"
[router]
identity = "borde-sucursal"

[[resource]]
at = 0
cpu_load = 97

[[interface]]
name = "ether1"
rx_bps = 9000000
tx_bps = 1200000

[[log]]
at = 0.3
topics = "system,error,critical"
message = "login failure for user admin from 203.0.113.9 via ssh"
repeat = 7
every = 0.1
"#;

async fn start_sim(listen: SocketAddr) -> SimHandle {
    let config = SimConfig {
        listen,
        users: vec![("api".into(), PASSWORD.into())],
        version: RouterVersion::V7_16,
        scenario: Scenario::from_toml_str(SCENARIO).expect("scenario"),
        ..SimConfig::default()
    };
    centinela_routeros_sim::start(config)
        .await
        .expect("simulator")
}

/// The next alert event matching `pred`, within `limit`.
async fn wait_alert(ws: &mut Ws, limit: Duration, pred: impl Fn(&Value) -> bool) -> Value {
    wait_event(ws, limit, |v| v["type"] == "alert" && pred(v)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn router_polling_alerts_logs_and_offline_end_to_end() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let engine = Engine::start_with(
        &db,
        data.path().to_path_buf(),
        free_port(),
        &[
            ("CENTINELA_ROUTEROS__POLL_INTERVAL_S", "0.5"),
            ("CENTINELA_ROUTEROS__JITTER", "0"),
            ("CENTINELA_ROUTEROS__OFFLINE_AFTER", "2"),
            ("CENTINELA_ROUTEROS__CONNECT_TIMEOUT_S", "1"),
            ("CENTINELA_ROUTEROS__COMMAND_TIMEOUT_S", "2"),
        ],
    );
    create_user(&db, "root@msp.test", "superadmin", None, "root-password-1");
    let http = super::http_client();
    let admin = login(&http, &engine, "root@msp.test", "root-password-1").await;
    let (_, tenant) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/tenants",
        Some(json!({"name": "Ferretería El Tornillo", "plan": "pro"})),
    )
    .await;
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();
    let (_, site) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/sites",
        Some(json!({"tenant_id": tenant_id, "name": "Sucursal Norte"})),
    )
    .await;
    let (s, _) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/thresholds",
        Some(json!({
            "scope": "tenant", "scope_id": tenant_id, "metric": "cpu.usage_pct", "op": ">",
            "warning": 80, "critical": 90, "for_seconds": 0,
        })),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);

    let sim = start_sim("127.0.0.1:0".parse().unwrap()).await;
    let addr = sim.local_addr();
    let mut ws = noc(&engine, &admin).await;

    // Bad input first: a router without settings, an agent with them, a bad port.
    let base =
        json!({"tenant_id": tenant_id, "site_id": site["id"], "name": "borde", "kind": "routeros"});
    let (s, body) = call(
        &http,
        &engine,
        &admin,
        "POST",
        "/api/devices",
        Some(base.clone()),
    )
    .await;
    assert_eq!(
        (s, body["error"].as_str()),
        (StatusCode::BAD_REQUEST, Some("bad_request")),
        "{body}"
    );
    let mut bad = base.clone();
    bad["routeros"] = json!({"host": "127.0.0.1", "port": 0, "username": "api", "password": "x"});
    let (s, _) = call(&http, &engine, &admin, "POST", "/api/devices", Some(bad)).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    let mut body = base.clone();
    body["routeros"] =
        json!({"host": "127.0.0.1", "port": addr.port(), "username": "api", "password": PASSWORD});
    let (s, created) = call(&http, &engine, &admin, "POST", "/api/devices", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    assert!(
        created.get("agent_token").is_none(),
        "routers get no agent token"
    );
    assert_eq!(created["device"]["routeros"]["port"], addr.port());
    assert!(
        !created.to_string().contains(PASSWORD),
        "credentials never come back"
    );
    let device_id = created["device"]["id"].as_str().unwrap().to_owned();

    // Credentials at rest are sealed.
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('centinela.scope', '*', false)")
        .execute(&mut conn)
        .await
        .unwrap();
    let (sealed,): (Vec<u8>,) = sqlx::query_as("SELECT sealed_credentials FROM router_targets")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert!(
        !sealed.windows(b"clave".len()).any(|w| w == b"clave"),
        "not stored in clear"
    );

    // The NOC sees the critical CPU alert and the brute-force alert naming the attacker.
    let mut cpu = None;
    let mut brute = None;
    while cpu.is_none() || brute.is_none() {
        let event = wait_alert(&mut ws, Duration::from_secs(20), |v| v["event"] == "opened").await;
        let key = event["alert"]["key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(event["alert"]["device_id"], device_id.as_str(), "{event}");
        if key == "cpu.usage_pct" {
            cpu = Some(event);
        } else if key.starts_with("log.brute_force") {
            brute = Some(event);
        }
    }
    let cpu = cpu.unwrap();
    assert_eq!(cpu["alert"]["severity"], "critical");
    assert_eq!(cpu["alert"]["value"], 97.0);
    let brute = brute.unwrap();
    for field in ["title", "description", "recommended_action"] {
        let text = brute["alert"][field].as_str().unwrap();
        assert!(text.contains("203.0.113.9"), "{field}: {text}");
    }
    assert!(
        brute["alert"]["title"]
            .as_str()
            .unwrap()
            .contains("fuerza bruta")
    );

    // Metrics over REST: CPU, and an interface rate once two polls have been compared.
    let device_path = format!("/api/devices/{device_id}");
    let (s, points) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("{device_path}/metrics?name=cpu.usage_pct"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(items(&points)[0]["value"], 97.0, "{points}");
    eventually("an ether1 receive rate", || {
        let (http, engine, admin) = (&http, &engine, &admin);
        let path = format!("{device_path}/metrics?name=if.rx_bps%7Bif%3Dether1%7D");
        async move {
            let (_, points) = call(http, engine, admin, "GET", &path, None).await;
            items(&points)
                .iter()
                .any(|p| p["value"].as_f64().is_some_and(|v| v > 1_000_000.0))
        }
    })
    .await;

    // Logs over REST, as JSON and as CSV: every line of the burst, each exactly once.
    let logs_path = format!("{device_path}/logs?limit=50");
    let failures = || async {
        let (s, logs) = call(&http, &engine, &admin, "GET", &logs_path, None).await;
        assert_eq!(s, StatusCode::OK);
        items(&logs)
            .iter()
            .filter(|l| {
                l["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("203.0.113.9"))
            })
            .count()
    };
    eventually("the seven login failures in the log", || async {
        failures().await >= 7
    })
    .await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(failures().await, 7, "each log line exactly once");
    let csv = http
        .get(engine.url(&format!("{device_path}/logs?format=csv")))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), StatusCode::OK);
    assert!(
        csv.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = csv.text().await.unwrap();
    assert!(csv.starts_with("ts,device_id,message\r\n"), "{csv}");
    assert!(csv.contains(&format!(
        ",{device_id},login failure for user admin from 203.0.113.9 via ssh"
    )));
    let (s, _) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("{device_path}/logs?format=xml"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // The device view shows how the router is reached, never the credentials.
    let (_, view) = call(&http, &engine, &admin, "GET", &device_path, None).await;
    assert_eq!(view["routeros"]["host"], "127.0.0.1");
    assert!(!view.to_string().contains(PASSWORD) && view["routeros"].get("username").is_none());

    // Stop the router: offline alert. Restart it on the same port: cleared.
    sim.shutdown().await;
    let offline = wait_alert(&mut ws, Duration::from_secs(20), |v| {
        v["event"] == "opened" && v["alert"]["key"] == "router.offline"
    })
    .await;
    assert_eq!(offline["alert"]["severity"], "critical");
    assert!(
        offline["alert"]["title"]
            .as_str()
            .unwrap()
            .contains("sin respuesta")
    );
    let sim = start_sim(addr).await;
    let cleared = wait_alert(&mut ws, Duration::from_secs(20), |v| {
        v["event"] == "cleared" && v["alert"]["key"] == "router.offline"
    })
    .await;
    assert_eq!(cleared["alert"]["device_id"], device_id.as_str());

    // A router with the wrong password is reported offline with the router's own reason.
    let mut body = base.clone();
    body["name"] = json!("borde-mal-configurado");
    body["routeros"] = json!({"host": "127.0.0.1", "port": addr.port(), "username": "api", "password": "incorrecta"});
    let (s, wrong) = call(&http, &engine, &admin, "POST", "/api/devices", Some(body)).await;
    assert_eq!(s, StatusCode::CREATED);
    let wrong_id = wrong["device"]["id"].clone();
    let refused = wait_alert(&mut ws, Duration::from_secs(20), |v| {
        v["event"] == "opened"
            && v["alert"]["key"] == "router.offline"
            && v["alert"]["device_id"] == wrong_id
    })
    .await;
    let description = refused["alert"]["description"].as_str().unwrap();
    assert!(
        description.contains("invalid user name or password"),
        "{description}"
    );
    let (code, out) = rotate_master_key(
        &db,
        MASTER_KEY,
        "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=",
    );
    assert_ne!(code, 0, "no rotation under a running engine");
    assert!(out.contains("stop every engine"), "{out}");
    assert!(engine.stop().success());

    // Master key rotation: all or nothing, then only the new key opens anything.
    const NEW_KEY: &str = "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA=";
    let (code, out) = rotate_master_key(&db, MASTER_KEY, "not base64!");
    assert_eq!(code, 2, "{out}");
    let (code, out) = rotate_master_key(&db, MASTER_KEY, NEW_KEY);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("2 router credential(s)"), "{out}");
    let (code, out) = rotate_master_key(&db, MASTER_KEY, NEW_KEY);
    assert_eq!(code, 2, "the old key no longer opens anything: {out}");
    let old_key = std::process::Command::new(env!("CARGO_BIN_EXE_centinela"))
        .arg("serve")
        .env("DATABASE_URL", &db)
        .env("CENTINELA_HTTP__LISTEN", "127.0.0.1:0")
        .env(
            "CENTINELA_MQTT__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("CENTINELA_AUTH__JWT_SECRET", super::harness::JWT_SECRET)
        .env("CENTINELA_SECRETS__MASTER_KEY", MASTER_KEY)
        .env("CENTINELA_ENGINE__DATA_DIR", data.path())
        .output()
        .expect("serve with the old key");
    assert_eq!(old_key.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&old_key.stderr);
    assert!(stderr.contains("secrets.master_key"), "{stderr}");
    let engine = Engine::start_with(
        &db,
        data.path().to_path_buf(),
        free_port(),
        &[
            ("CENTINELA_SECRETS__MASTER_KEY", NEW_KEY),
            ("CENTINELA_ROUTEROS__POLL_INTERVAL_S", "0.5"),
        ],
    );
    let admin = login(&http, &engine, "root@msp.test", "root-password-1").await;
    let since = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
    eventually("a poll with the re-encrypted credentials", || {
        let (http, engine, admin) = (&http, &engine, &admin);
        let path = format!(
            "{device_path}/metrics?name=cpu.usage_pct&from={}",
            since.replace('+', "%2B")
        );
        async move { !items(&call(http, engine, admin, "GET", &path, None).await.1).is_empty() }
    })
    .await;
    sim.shutdown().await;
    assert!(engine.stop().success());
}
