//! Nothing acknowledged or announced is lost: an alert opened while its storage fails is stored
//! with its ticket once the fault ends (and other tenants are not held behind it); SIGTERM
//! under a QoS 1 publisher stores everything the broker acknowledged, and with PostgreSQL
//! unusable it exits 1 within its deadline naming what it could not store. The metrics storage
//! is decided before migrating (`storage.timescaledb`).

use crate::backpressure::TableLock;
use crate::harness::{Engine, JWT_SECRET, MASTER_KEY, create_user, free_port};
use crate::{
    Fleet, call, cpu_rule_with_tickets, create_fleet, eventually, http_client, login, metric_text,
    mqtt, next_matching, noc, sample,
};
use reqwest::StatusCode;
use serde_json::{Value, json};
use sqlx::{Connection, Row};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

const ROOT: &str = "root@example.com";
const PASSWORD: &str = "Sup3r-secret!";

/// A device of `fleet` connected over MQTT/TLS, with its id and key.
async fn connect(
    http: &reqwest::Client,
    engine: &Engine,
    fleet: &Fleet,
) -> (mqtt::Device, String, String) {
    let id = fleet.device["id"].as_str().unwrap().to_owned();
    let key = fleet.device["device_key"].as_str().unwrap().to_owned();
    let creds = mqtt::enroll(http, engine, &key, &fleet.token).await;
    let device = mqtt::Device::connect(engine.mqtt_port, &creds, &key, &fleet.token)
        .await
        .expect("tls connect");
    (device, id, key)
}

/// A connection with the `*` scope (row-level security lets it see every tenant).
async fn sql(db: &str) -> sqlx::PgConnection {
    let mut conn = sqlx::PgConnection::connect(db).await.unwrap();
    sqlx::query("SELECT set_config('centinela.scope', '*', false)")
        .execute(&mut conn)
        .await
        .unwrap();
    conn
}

async fn execute(conn: &mut sqlx::PgConnection, statement: String) {
    sqlx::raw_sql(sqlx::AssertSqlSafe(statement))
        .execute(conn)
        .await
        .unwrap();
}

fn is_alert(v: &Value, event: &str, device_id: &str) -> bool {
    v["type"] == "alert" && v["event"] == event && v["alert"]["device_id"] == device_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_opened_during_a_storage_fault_is_stored_with_its_ticket() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    create_user(&db, ROOT, "superadmin", None, PASSWORD);
    let engine = Engine::start(&db, data.path().to_owned(), free_port());
    let http = http_client();
    let admin = login(&http, &engine, ROOT, PASSWORD).await;
    let faulty = create_fleet(&http, &engine, &admin, "Cliente Averiado").await;
    let healthy = create_fleet(&http, &engine, &admin, "Cliente Sano").await;
    let (device_a, a_id, a_key) = connect(&http, &engine, &faulty).await;
    let (device_b, b_id, b_key) = connect(&http, &engine, &healthy).await;
    cpu_rule_with_tickets(&http, &engine, &admin, &a_id).await;
    cpu_rule_with_tickets(&http, &engine, &admin, &b_id).await;
    let mut ws = noc(&engine, &admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    // Alert storage fails for tenant A only: a constraint refuses its rows.
    let mut conn = sql(&db).await;
    execute(
        &mut conn,
        format!(
            "ALTER TABLE alerts ADD CONSTRAINT durability_fault CHECK (tenant_id <> '{}'::uuid) NOT VALID",
            faulty.tenant
        ),
    )
    .await;
    let fault_began = Instant::now();
    device_a
        .telemetry(&a_key, json!({"metrics": {"cpu.usage_pct": 97.0}}))
        .await;
    let opened = next_matching(&mut ws, Duration::from_secs(2), |v| {
        is_alert(v, "opened", &a_id)
    })
    .await
    .expect("the opening is announced while it cannot be stored");
    let alert_id = opened["alert"]["id"].as_str().unwrap().to_owned();
    // The breach ends before storage comes back: the clearing must be stored after the opening.
    device_a
        .telemetry(&a_key, json!({"metrics": {"cpu.usage_pct": 10.0}}))
        .await;

    // Tenant B is not held behind A: its alert is stored, with its ticket, during A's fault.
    device_b
        .telemetry(&b_key, json!({"metrics": {"cpu.usage_pct": 98.0}}))
        .await;
    next_matching(&mut ws, Duration::from_secs(5), |v| {
        is_alert(v, "updated", &b_id) && v["alert"]["ticket_id"].is_string()
    })
    .await
    .expect("another tenant's alert is stored with its ticket during the fault");

    // The fault outlasts the old give-up (six attempts, about 6.3 s).
    while fault_began.elapsed() < Duration::from_secs(8) {
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let (s, _) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/alerts/{alert_id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND, "stored despite the fault");
    let text = metric_text(&http, &engine).await;
    assert!(sample(&text, "centinela_alert_persist_failures_total ") >= 6.0);
    assert_eq!(sample(&text, "centinela_alert_changes_pending "), 2.0);

    // The fault ends: the alert is stored with its ticket, then cleared, and the NOC hears both.
    execute(
        &mut conn,
        "ALTER TABLE alerts DROP CONSTRAINT durability_fault".to_owned(),
    )
    .await;
    let linked = next_matching(&mut ws, Duration::from_secs(10), |v| {
        is_alert(v, "updated", &a_id) && v["alert"]["ticket_id"].is_string()
    })
    .await
    .expect("once stored, the alert is re-published with its ticket");
    assert_eq!(linked["alert"]["id"], alert_id.as_str());
    let ticket_id = linked["alert"]["ticket_id"].as_str().unwrap().to_owned();
    let cleared = next_matching(&mut ws, Duration::from_secs(5), |v| {
        is_alert(v, "cleared", &a_id)
    })
    .await
    .expect("the clearing is stored after the opening");
    assert_eq!(cleared["alert"]["id"], alert_id.as_str());
    let (s, alert) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/alerts/{alert_id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{alert}");
    assert_eq!(alert["state"], "cleared");
    assert_eq!(alert["ticket_id"], ticket_id.as_str());
    let (s, ticket) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/tickets/{ticket_id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{ticket}");
    assert_eq!(ticket["alert_id"], alert_id.as_str());
    eventually("nothing pending", || async {
        sample(
            &metric_text(&http, &engine).await,
            "centinela_alert_changes_pending ",
        ) == 0.0
    })
    .await;
    device_a.disconnect().await;
    device_b.disconnect().await;
    assert!(engine.stop().success());
}

/// Points of `device_id` stored with a value below `below`, counted once per value (each
/// message carries its sequence number as the value).
async fn stored_sequence(db: &str, device_id: &str, below: u64) -> i64 {
    let mut conn = sql(db).await;
    sqlx::query(
        "SELECT count(DISTINCT value) FROM metrics WHERE device_id = $1::uuid AND value < $2",
    )
    .bind(device_id)
    .bind(below as f64)
    .fetch_one(&mut conn)
    .await
    .unwrap()
    .get::<i64, _>(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_under_a_qos1_publisher_stores_everything_acknowledged() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let mqtt_port = free_port();
    create_user(&db, ROOT, "superadmin", None, PASSWORD);
    let settings = [("CENTINELA_ENGINE__SHUTDOWN_TIMEOUT_S", "15")];
    let engine = Engine::start_with(&db, data.path().to_owned(), mqtt_port, &settings);
    let http = http_client();
    let admin = login(&http, &engine, ROOT, PASSWORD).await;
    let fleet = create_fleet(&http, &engine, &admin, "Cliente Apagado").await;
    let (device, device_id, key) = connect(&http, &engine, &fleet).await;
    let device = Arc::new(device);

    // A publisher that never stops on its own; each message carries its sequence number.
    let publisher = {
        let device = device.clone();
        let topic = format!("/tenants/{key}/telemetry");
        tokio::spawn(async move {
            for seq in 0u64.. {
                let body = json!({"metrics": {"app.seq": seq}}).to_string();
                if !device.try_raw(&topic, body.into_bytes()).await {
                    return;
                }
            }
        })
    };
    eventually("the broker acknowledges a few hundred messages", || async {
        device.acked() >= 300
    })
    .await;
    let (status, took, log) = engine.stop_with_log();
    let acked = device.acked();
    publisher.abort();
    assert_eq!(status.code(), Some(0), "exit status: {status:?}");
    assert!(took < Duration::from_secs(15), "shutdown took {took:?}");
    assert!(
        log.contains("Stopped cleanly: everything acknowledged is stored."),
        "{log}"
    );

    // Restarted, the engine finds every acknowledged message stored.
    let engine = Engine::start_with(&db, data.path().to_owned(), mqtt_port, &settings);
    let stored = stored_sequence(&db, &device_id, acked).await;
    assert_eq!(
        stored, acked as i64,
        "{acked} messages acknowledged, {stored} of them stored"
    );
    assert!(engine.stop().success());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_with_storage_stuck_exits_1_within_the_deadline_naming_the_count() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    create_user(&db, ROOT, "superadmin", None, PASSWORD);
    let engine = Engine::start_with(
        &db,
        data.path().to_owned(),
        free_port(),
        &[("CENTINELA_ENGINE__SHUTDOWN_TIMEOUT_S", "3")],
    );
    let http = http_client();
    let admin = login(&http, &engine, ROOT, PASSWORD).await;
    let fleet = create_fleet(&http, &engine, &admin, "Cliente Sin Base").await;
    let (device, _, key) = connect(&http, &engine, &fleet).await;

    // PostgreSQL cannot take a point: the metrics table is locked.
    let stuck = TableLock::take(&db, "metrics").await;
    const MESSAGES: u64 = 40;
    for seq in 0..MESSAGES {
        device
            .telemetry(&key, json!({"metrics": {"app.seq": seq}}))
            .await;
    }
    eventually("every message acknowledged and accepted", || async {
        device.acked() == MESSAGES
            && sample(
                &metric_text(&http, &engine).await,
                "centinela_points_received_total ",
            ) == MESSAGES as f64
    })
    .await;
    let (status, took, log) = engine.stop_with_log();
    stuck.release().await;
    assert_eq!(status.code(), Some(1), "exit status: {status:?}\n{log}");
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(6),
        "shutdown took {took:?} with a 3 s deadline"
    );
    assert!(
        log.contains(&format!("{MESSAGES} accepted points not stored")),
        "the log names the count: {log}"
    );
}

/// Runs `centinela serve` until it exits on its own (within 30 s): exit code and stderr.
fn serve_until_exit(db: &str, data: &std::path::Path, extra: &[(&str, &str)]) -> (i32, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_centinela"))
        .arg("serve")
        .env("DATABASE_URL", db)
        .env("CENTINELA_HTTP__LISTEN", "127.0.0.1:0")
        .env(
            "CENTINELA_MQTT__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("CENTINELA_AUTH__JWT_SECRET", JWT_SECRET)
        .env("CENTINELA_SECRETS__MASTER_KEY", MASTER_KEY)
        .env("CENTINELA_ENGINE__DATA_DIR", data)
        .env("CENTINELA_LOG", "info,rumqttd=error")
        .envs(extra.iter().copied())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start centinela");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("centinela serve did not exit");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("output");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Whether the test cluster offers TimescaleDB (Debian's does not).
async fn timescaledb_available(db: &str) -> bool {
    let mut conn = sqlx::PgConnection::connect(db).await.unwrap();
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timescaledb_required_without_it_exits_2_with_a_clear_line() {
    let db = centinela_storage::testing::fresh_database_url().await;
    if timescaledb_available(&db).await {
        // This cluster could satisfy "required"; the refusal cannot be shown here.
        assert_eq!(
            migrate_required(&db),
            0,
            "required with TimescaleDB installed"
        );
        return;
    }
    let data = tempfile::tempdir().unwrap();
    let required = [("CENTINELA_STORAGE__TIMESCALEDB", "required")];
    let (code, log) = serve_until_exit(&db, data.path(), &required);
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains(
            "configuration error: storage.timescaledb (CENTINELA_STORAGE__TIMESCALEDB): storage.timescaledb = \"required\", but the timescaledb extension is not installed"
        ),
        "{log}"
    );
    // Nothing was migrated: the same database still starts with "auto" ...
    let engine = Engine::start(&db, data.path().to_owned(), free_port());
    assert!(engine.stop().success());
    // ... after which "required" contradicts its layout.
    let (code, log) = serve_until_exit(&db, data.path(), &required);
    assert_eq!(code, 2, "{log}");
    assert!(
        log.contains("was created with native partitioning"),
        "{log}"
    );
}

/// `centinela migrate` with `required` on a cluster that has TimescaleDB: its exit code.
fn migrate_required(db: &str) -> i32 {
    Command::new(env!("CARGO_BIN_EXE_centinela"))
        .arg("migrate")
        .env("DATABASE_URL", db)
        .env("CENTINELA_STORAGE__TIMESCALEDB", "required")
        .status()
        .expect("migrate")
        .code()
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timescaledb_off_and_auto_start_and_log_the_storage_path() {
    for mode in ["off", "auto"] {
        let db = centinela_storage::testing::fresh_database_url().await;
        let native = mode == "off" || !timescaledb_available(&db).await;
        let data = tempfile::tempdir().unwrap();
        let engine = Engine::start_with(
            &db,
            data.path().to_owned(),
            free_port(),
            &[("CENTINELA_STORAGE__TIMESCALEDB", mode)],
        );
        let (status, _, log) = engine.stop_with_log();
        assert!(status.success(), "{mode}: {status:?}\n{log}");
        let expected = if native {
            "Metrics storage: native partitioning (PostgreSQL)."
        } else {
            "Metrics storage: TimescaleDB hypertable."
        };
        assert!(log.contains(expected), "{mode}: {log}");
        let mut conn = sqlx::PgConnection::connect(&db).await.unwrap();
        let kind: String = sqlx::query_scalar(
            "SELECT relkind::text FROM pg_class WHERE oid = 'metrics'::regclass",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(kind == "p", native, "{mode}: metrics relkind {kind}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_alert_queue_holds_the_device_back_and_loses_nothing() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    create_user(&db, ROOT, "superadmin", None, PASSWORD);
    // One alert change per lane queue: the second one already has to wait for room.
    let engine = Engine::start_with(
        &db,
        data.path().to_owned(),
        free_port(),
        &[("CENTINELA_ENGINE__ALERT_QUEUE", "1")],
    );
    let http = http_client();
    let admin = login(&http, &engine, ROOT, PASSWORD).await;
    let fleet = create_fleet(&http, &engine, &admin, "Cliente Cola").await;
    let (device, device_id, key) = connect(&http, &engine, &fleet).await;
    cpu_rule_with_tickets(&http, &engine, &admin, &device_id).await;
    let stuck = TableLock::take(&db, "alerts").await;

    // Five series breach at once: five openings for a queue of one.
    const CORES: usize = 5;
    let metrics: serde_json::Map<String, Value> = (0..CORES)
        .map(|c| (format!("cpu.usage_pct{{core={c}}}"), json!(95.0)))
        .collect();
    device.telemetry(&key, json!({ "metrics": metrics })).await;
    eventually("the device actor waits for room", || async {
        sample(
            &metric_text(&http, &engine).await,
            "centinela_alert_queue_full_total ",
        ) >= 1.0
    })
    .await;
    assert_eq!(
        sample(
            &metric_text(&http, &engine).await,
            "centinela_alert_changes_pending "
        ),
        CORES as f64
    );

    stuck.release().await;
    eventually("every opening stored with its ticket", || async {
        let mut conn = sql(&db).await;
        let row = sqlx::query(
            "SELECT count(*), count(ticket_id) FROM alerts WHERE device_id = $1::uuid AND state = 'firing'",
        )
        .bind(&device_id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        row.get::<i64, _>(0) == CORES as i64 && row.get::<i64, _>(1) == CORES as i64
    })
    .await;
    device.disconnect().await;
    assert!(engine.stop().success());
}
