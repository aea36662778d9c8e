//! Agents end to end: the real `centinela-agent` binary against the real engine. Enrollment
//! with a site key, telemetry over MQTT/TLS and over `/ws/agent`, store-and-forward across an
//! engine restart (every point once, in order, timestamps kept), a signed script run with its
//! result, refusal under `--no-remote-exec`, offline detection, and a 1,000-device simulate run.

use super::harness::{Engine, create_user, free_port};
use super::{call, eventually, items, login, noc, wait_event};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Fast intervals so the tests run in seconds: heartbeats every second, offline after 2 s.
/// The contract's 64 KiB payload limit (the harness default of 4 KiB is for refusal tests; an
/// inventory is larger).
const AGENT_ENV: &[(&str, &str)] = &[
    ("CENTINELA_MQTT__MAX_PAYLOAD_BYTES", "65536"),
    ("CENTINELA_AGENTS__TELEMETRY_S", "1"),
    ("CENTINELA_AGENTS__HEARTBEAT_S", "1"),
    ("CENTINELA_AGENTS__OFFLINE_MULTIPLE", "2"),
];

static BUILD: Mutex<()> = Mutex::new(());

/// The agent binary beside the engine's (built once if this run did not build it).
fn agent_bin() -> PathBuf {
    let engine = Path::new(env!("CARGO_BIN_EXE_centinela"));
    let bin = engine.with_file_name("centinela-agent");
    let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    if !bin.exists() {
        let target = engine.parent().and_then(Path::parent).expect("target dir");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "centinela-agent"])
            .env("CARGO_TARGET_DIR", target)
            .status()
            .expect("cargo build -p centinela-agent");
        assert!(status.success(), "cannot build centinela-agent");
    }
    bin
}

/// One agent process, killed when dropped.
struct Agent(Child);

impl Agent {
    fn start(config: &Path, extra: &[&str]) -> Agent {
        let child = Command::new(agent_bin())
            .arg("run")
            .arg("--config")
            .arg(config)
            .args(extra)
            .env("CENTINELA_AGENT_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the agent");
        Agent(child)
    }

    fn kill(mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn enroll(engine: &Engine, site_key: &str, config: &Path, hostname: &str) -> Value {
    let out = Command::new(agent_bin())
        .args([
            "enroll",
            "--server",
            &engine.url(""),
            "--site-key",
            site_key,
        ])
        .args(["--hostname", hostname])
        .arg("--config")
        .arg(config)
        .env("CENTINELA_AGENT_LOG", "warn")
        .output()
        .expect("enroll");
    assert!(
        out.status.success(),
        "enroll failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(config).expect("config written");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(config).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "the config holds the device token: owner only");
    }
    let parsed: toml::Value = toml::from_str(&text).expect("config is TOML");
    serde_json::to_value(parsed).unwrap()
}

/// Tenant "pro" with one site; returns (tenant id, site key).
async fn tenant_and_site(http: &Client, engine: &Engine, admin: &str) -> (String, String) {
    let (_, tenant) = call(
        http,
        engine,
        admin,
        "POST",
        "/api/tenants",
        Some(json!({"name": "Despacho Núñez", "plan": "pro"})),
    )
    .await;
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();
    let (_, site) = call(
        http,
        engine,
        admin,
        "POST",
        "/api/sites",
        Some(json!({"tenant_id": tenant_id, "name": "Matriz"})),
    )
    .await;
    (tenant_id, site["site_key"].as_str().unwrap().to_owned())
}

async fn cpu_points(http: &Client, engine: &Engine, admin: &str, device: &str) -> Vec<Value> {
    let path = format!("/api/devices/{device}/metrics?name=cpu.usage_pct&from=0");
    items(&call(http, engine, admin, "GET", &path, None).await.1)
}

/// Stores a script, has the admin approve it and asks `device` to run it; returns the 202 body.
async fn run_script(
    http: &Client,
    engine: &Engine,
    admin: &str,
    script: Value,
    device: &str,
) -> Value {
    let (s, script) = call(http, engine, admin, "POST", "/api/scripts", Some(script)).await;
    assert_eq!(s, StatusCode::CREATED, "{script}");
    let id = script["id"].as_str().unwrap().to_owned();
    let approve = format!("/api/scripts/{id}/approve");
    let reviewed = json!({"updated_at": script["updated_at"]});
    let (s, body) = call(http, engine, admin, "POST", &approve, Some(reviewed)).await;
    assert_eq!(s, StatusCode::OK, "{body}");
    let path = format!("/api/scripts/{id}/run");
    let (s, run) = call(
        http,
        engine,
        admin,
        "POST",
        &path,
        Some(json!({"device_id": device})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{run}");
    run
}

fn device_id(config: &Value) -> String {
    config["device_id"]
        .as_str()
        .or_else(|| config["device"]["id"].as_str())
        .expect("device id in the agent config")
        .to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_enrolls_reports_runs_scripts_survives_an_engine_restart_and_goes_offline() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let mqtt_port = free_port();
    let engine = Engine::start_with(&db, data.path().to_path_buf(), mqtt_port, AGENT_ENV);
    create_user(&db, "root@msp.test", "superadmin", None, "root-password-1");
    let http = super::http_client();
    let admin = login(&http, &engine, "root@msp.test", "root-password-1").await;
    let (_, site_key) = tenant_and_site(&http, &engine, &admin).await;

    // Enrollment: a wrong site key is a clear failure; the right one writes an owner-only config.
    let bad = Command::new(agent_bin())
        .args([
            "enroll",
            "--server",
            &engine.url(""),
            "--site-key",
            "no-existe",
        ])
        .arg("--config")
        .arg(dir.path().join("bad.toml"))
        .output()
        .unwrap();
    assert!(!bad.status.success());
    assert!(!dir.path().join("bad.toml").exists());
    let config_path = dir.path().join("agent.toml");
    let config = enroll(&engine, &site_key, &config_path, "PC-Contabilidad");
    let device = device_id(&config);
    let (s, view) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/devices/{device}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(view["name"], "PC-Contabilidad");

    // Telemetry over MQTT/TLS with real values of this machine; inventory too.
    let mut ws = noc(&engine, &admin).await;
    let agent = Agent::start(&config_path, &[]);
    eventually("cpu points from the agent", || async {
        cpu_points(&http, &engine, &admin, &device).await.len() >= 2
    })
    .await;
    let points = cpu_points(&http, &engine, &admin, &device).await;
    assert!(
        points
            .iter()
            .all(|p| (0.0..=100.0).contains(&p["value"].as_f64().unwrap()))
    );
    eventually("the inventory", || async {
        let (_, view) = call(
            &http,
            &engine,
            &admin,
            "GET",
            &format!("/api/devices/{device}"),
            None,
        )
        .await;
        view["inventory_at"].is_string()
    })
    .await;

    // A signed script run: approved by an admin, run by the agent, result stored and pushed.
    let saludo = json!({"name": "Saludo", "interpreter": "sh", "body": "echo hola-$((20+22))", "timeout_s": 20});
    let run = run_script(&http, &engine, &admin, saludo, &device).await;
    let run_id = run["run"]["id"].as_str().unwrap().to_owned();
    let finished = wait_event(&mut ws, Duration::from_secs(20), |v| {
        v["type"] == "script_run" && v["event"] == "finished" && v["run"]["id"] == run_id.as_str()
    })
    .await;
    assert_eq!(finished["run"]["status"], "completed", "{finished}");
    assert_eq!(finished["run"]["exit_code"], 0);
    assert_eq!(
        finished["run"]["stdout"].as_str().unwrap().trim(),
        "hola-42"
    );

    // Store-and-forward: stop the engine for a while, start it again on the same port.
    let before = cpu_points(&http, &engine, &admin, &device).await.len();
    assert!(engine.stop().success());
    let outage_start = chrono::Utc::now();
    tokio::time::sleep(Duration::from_secs(5)).await;
    let outage_end = chrono::Utc::now();
    let engine = Engine::start_with(&db, data.path().to_path_buf(), mqtt_port, AGENT_ENV);
    let admin = login(&http, &engine, "root@msp.test", "root-password-1").await;
    let deadline = Instant::now() + Duration::from_secs(45);
    loop {
        let points = cpu_points(&http, &engine, &admin, &device).await;
        let during = points
            .iter()
            .filter(|p| {
                let ts: chrono::DateTime<chrono::Utc> = p["ts"].as_str().unwrap().parse().unwrap();
                ts > outage_start && ts < outage_end
            })
            .count();
        if during >= 3 && points.len() > before + 5 {
            let mut stamps: Vec<String> = points
                .iter()
                .map(|p| p["ts"].as_str().unwrap().to_owned())
                .collect();
            let total = stamps.len();
            stamps.sort();
            stamps.dedup();
            assert_eq!(stamps.len(), total, "every point exactly once");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "queued points did not arrive: {during} in the outage"
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // Offline: the agent falls silent → alert and NOC offline; it comes back → cleared.
    let mut ws = noc(&engine, &admin).await;
    agent.kill();
    let offline = wait_event(&mut ws, Duration::from_secs(20), |v| {
        v["type"] == "alert" && v["event"] == "opened" && v["alert"]["key"] == "agent.offline"
    })
    .await;
    assert_eq!(offline["alert"]["device_id"], device.as_str());
    let agent = Agent::start(&config_path, &[]);
    wait_event(&mut ws, Duration::from_secs(30), |v| {
        v["type"] == "alert" && v["event"] == "cleared" && v["alert"]["key"] == "agent.offline"
    })
    .await;
    agent.kill();
    assert!(engine.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_transport_and_no_remote_exec() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start_with(&db, data.path().to_path_buf(), free_port(), AGENT_ENV);
    create_user(&db, "root@msp.test", "superadmin", None, "root-password-1");
    let http = super::http_client();
    let admin = login(&http, &engine, "root@msp.test", "root-password-1").await;
    let (_, site_key) = tenant_and_site(&http, &engine, &admin).await;
    let config_path = dir.path().join("agent.toml");
    let config = enroll(&engine, &site_key, &config_path, "SRV-Archivos");
    let device = device_id(&config);
    let mut ws = noc(&engine, &admin).await;
    let _agent = Agent::start(&config_path, &["--transport", "ws", "--no-remote-exec"]);
    eventually("cpu points over /ws/agent", || async {
        cpu_points(&http, &engine, &admin, &device).await.len() >= 2
    })
    .await;
    let nunca = json!({"name": "Nunca", "interpreter": "sh", "body": "touch /tmp/centinela-should-not-exist"});
    let run = run_script(&http, &engine, &admin, nunca, &device).await;
    assert!(run["delivered_via"].as_u64().unwrap() >= 1, "{run}");
    let run_id = run["run"]["id"].as_str().unwrap().to_owned();
    let finished = wait_event(&mut ws, Duration::from_secs(20), |v| {
        v["type"] == "script_run" && v["event"] == "finished" && v["run"]["id"] == run_id.as_str()
    })
    .await;
    assert_eq!(finished["run"]["status"], "refused", "{finished}");
    assert!(
        finished["run"]["reason"]
            .as_str()
            .unwrap()
            .contains("remote"),
        "{finished}"
    );
    assert!(engine.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn simulate_a_thousand_devices() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::start_with(
        &db,
        data.path().to_path_buf(),
        free_port(),
        &[
            ("CENTINELA_LOG", "warn,rumqttd=off"),
            ("CENTINELA_MQTT__MAX_PAYLOAD_BYTES", "65536"),
        ],
    );
    create_user(&db, "root@msp.test", "superadmin", None, "root-password-1");
    let http = super::http_client();
    let admin = login(&http, &engine, "root@msp.test", "root-password-1").await;
    let (tenant, site_key) = tenant_and_site(&http, &engine, &admin).await;
    let started = Instant::now();
    let mut sim = Command::new(agent_bin())
        .args([
            "simulate",
            "--server",
            &engine.url(""),
            "--site-key",
            &site_key,
        ])
        .args(["--devices", "1000", "--interval", "5"])
        .arg("--state")
        .arg(dir.path().join("fleet.json"))
        .env("CENTINELA_AGENT_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("simulate");
    let mut conn = <sqlx::PgConnection as sqlx::Connection>::connect(&db)
        .await
        .unwrap();
    sqlx::query("SELECT set_config('centinela.scope', '*', false)")
        .execute(&mut conn)
        .await
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(240);
    let reporting = loop {
        let (n,): (i64,) = sqlx::query_as(
            "SELECT count(DISTINCT device_id) FROM metrics m JOIN devices d ON d.id = m.device_id
             WHERE d.tenant_id = $1::uuid",
        )
        .bind(&tenant)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        if n >= 1000 || Instant::now() > deadline {
            break n;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    };
    let _ = sim.kill();
    let _ = sim.wait();
    eprintln!(
        "simulate: {reporting} devices reporting after {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert_eq!(reporting, 1000, "every simulated device reported");
    let (s, devices) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/devices?tenant_id={tenant}&limit=1000"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(items(&devices).len(), 1000);
    assert!(engine.stop().success());
}
