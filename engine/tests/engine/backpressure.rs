//! Overload. Backpressure: when the engine cannot keep up (here: PostgreSQL's `metrics` table locked, so
//! no point can be committed), the broker stops reading from publishers instead of dropping
//! messages it has already acknowledged; once the engine catches up every acknowledged message
//! is stored.

use crate::harness::{Engine, create_user, free_port};
use crate::{
    call, cpu_rule_with_tickets, create_fleet, eventually, http_client, login, metric_text, mqtt,
    next_alert, next_matching, noc, sample,
};
use reqwest::StatusCode;
use serde_json::{Map, Value, json};
use sqlx::{Connection, Row};
use std::sync::Arc;
use std::time::Duration;

/// A table held in ACCESS EXCLUSIVE mode by an open transaction until released.
pub(crate) struct TableLock(sqlx::PgConnection);

impl TableLock {
    pub(crate) async fn take(db: &str, table: &str) -> TableLock {
        let mut conn = sqlx::PgConnection::connect(db).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "BEGIN; LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE"
        )))
        .execute(&mut conn)
        .await
        .unwrap();
        TableLock(conn)
    }

    pub(crate) async fn release(mut self) {
        sqlx::raw_sql("ROLLBACK")
            .execute(&mut self.0)
            .await
            .unwrap();
    }
}

/// An engine on a fresh database with `settings`, its superadmin logged in, and one device of
/// a new tenant named `tenant` enrolled and connected over MQTT/TLS.
struct Stage {
    db: String,
    _data: tempfile::TempDir,
    engine: Engine,
    http: reqwest::Client,
    admin: String,
    device_id: String,
    device_key: String,
    device: mqtt::Device,
}

async fn stage(tenant: &str, settings: &[(&str, &str)]) -> Stage {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    create_user(&db, "root@example.com", "superadmin", None, "Sup3r-secret!");
    let engine = Engine::start_with(&db, data.path().to_owned(), free_port(), settings);
    let http = http_client();
    let admin = login(&http, &engine, "root@example.com", "Sup3r-secret!").await;
    let fleet = create_fleet(&http, &engine, &admin, tenant).await;
    let device_id = fleet.device["id"].as_str().unwrap().to_owned();
    let device_key = fleet.device["device_key"].as_str().unwrap().to_owned();
    let creds = mqtt::enroll(&http, &engine, &device_key, &fleet.token).await;
    let device = mqtt::Device::connect(engine.mqtt_port, &creds, &device_key, &fleet.token)
        .await
        .expect("tls connect");
    Stage {
        db,
        _data: data,
        engine,
        http,
        admin,
        device_id,
        device_key,
        device,
    }
}

/// The device's stored points, read until they reach `expected` or `within` has passed.
async fn stored_points(db: &str, device_id: &str, expected: i64, within: Duration) -> i64 {
    let mut conn = sqlx::PgConnection::connect(db).await.unwrap();
    sqlx::query("SELECT set_config('centinela.scope', '*', false)")
        .execute(&mut conn)
        .await
        .unwrap();
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let stored = sqlx::query("SELECT count(*) FROM metrics WHERE device_id = $1::uuid")
            .bind(device_id)
            .fetch_one(&mut conn)
            .await
            .unwrap()
            .get::<i64, _>(0);
        if stored >= expected || tokio::time::Instant::now() >= deadline {
            return stored;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Messages published; each carries `METRICS` points (about 600 bytes).
const MESSAGES: u64 = 6_000;
const METRICS: u64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stuck_engine_pauses_publishers_and_loses_nothing() {
    // A 2 MiB broker buffer pauses publishers at 1 MiB unread (about 1,700 messages); a small
    // writer queue keeps the engine's own buffering well below that.
    let Stage {
        db,
        _data,
        engine,
        http,
        device_id,
        device_key,
        device,
        ..
    } = stage(
        "Cliente Ráfaga",
        &[
            ("CENTINELA_MQTT__BUFFER_MIB", "2"),
            ("CENTINELA_STORAGE__WRITER_QUEUE", "8"),
            ("CENTINELA_STORAGE__BATCH_ROWS", "2000"),
        ],
    )
    .await;
    let device = Arc::new(device);

    // Storage is stuck: the engine's COPYs wait on this lock.
    let stuck = TableLock::take(&db, "metrics").await;

    let metrics: Map<String, Value> = (0..METRICS)
        .map(|i| (format!("app.m{i:02}"), json!(10.0 + i as f64)))
        .collect();
    let body = json!({ "metrics": metrics });
    let publisher = {
        let device = device.clone();
        let key = device_key.clone();
        tokio::spawn(async move {
            for _ in 0..MESSAGES {
                device.telemetry(&key, body.clone()).await;
            }
        })
    };

    eventually("the broker pauses the publisher", || async {
        sample(&metric_text(&http, &engine).await, "centinela_mqtt_paused ") == 1.0
    })
    .await;
    // Paused means paused: no more acknowledgements while storage is stuck.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let held = device.acked();
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(
        device.acked(),
        held,
        "the broker kept acknowledging while paused"
    );
    assert!(
        held < MESSAGES / 2,
        "{held} of {MESSAGES} acknowledged: the pause came too late to mean anything"
    );
    let text = metric_text(&http, &engine).await;
    assert!(sample(&text, "centinela_mqtt_backlog_bytes ") >= (1 << 20) as f64);

    // Storage comes back: everything flows, nothing acknowledged is missing.
    stuck.release().await;
    tokio::time::timeout(Duration::from_secs(60), publisher)
        .await
        .expect("publisher resumed")
        .unwrap();
    eventually("every message acknowledged", || async {
        device.acked() == MESSAGES
    })
    .await;
    let expected = (MESSAGES * METRICS) as i64;
    let stored = stored_points(&db, &device_id, expected, Duration::from_secs(60)).await;
    assert_eq!(
        stored, expected,
        "acknowledged points missing from the database"
    );
    let text = metric_text(&http, &engine).await;
    for name in [
        "centinela_mqtt_lost_total ",
        "centinela_mqtt_pauses ",
        "centinela_mqtt_paused ",
    ] {
        assert!(text.lines().any(|l| l.starts_with(name)), "{name}missing");
    }
    assert_eq!(sample(&text, "centinela_mqtt_lost_total "), 0.0);
    assert!(sample(&text, "centinela_mqtt_pauses ") >= 1.0);
    assert_eq!(sample(&text, "centinela_mqtt_paused "), 0.0);
    engine.stop();
}

/// Alerts take their own path: with the `alerts` table locked (no alert can be persisted), a
/// breach still reaches the NOC at once, under the id it is stored with once PostgreSQL is back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_reaches_the_noc_while_its_storage_is_stuck() {
    let Stage {
        db,
        _data,
        engine,
        http,
        admin,
        device_id,
        device_key,
        device,
    } = stage("Cliente Lento", &[]).await;
    cpu_rule_with_tickets(&http, &engine, &admin, &device_id).await;
    let mut ws = noc(&engine, &admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stuck = TableLock::take(&db, "alerts").await;
    device
        .telemetry(&device_key, json!({"metrics": {"cpu.usage_pct": 97.0}}))
        .await;
    let opened = next_alert(&mut ws, "opened", Duration::from_secs(1))
        .await
        .expect("the opening is announced while PostgreSQL cannot store it");
    assert_eq!(opened["alert"]["device_id"], device_id.as_str());
    assert_eq!(opened["alert"]["severity"], "critical");
    assert_eq!(opened["alert"]["value"], 97.0);
    let alert_id = opened["alert"]["id"].as_str().unwrap().to_owned();
    // Nothing persisted yet, so nothing more to say: no ticket while the table is locked.
    assert!(
        next_matching(&mut ws, Duration::from_millis(700), |v| v["type"]
            == "ticket")
        .await
        .is_none()
    );

    stuck.release().await;
    let linked = next_matching(&mut ws, Duration::from_secs(10), |v| {
        v["type"] == "alert" && v["event"] == "updated" && v["alert"]["ticket_id"].is_string()
    })
    .await
    .expect("once stored, the alert is re-published with its ticket");
    assert_eq!(linked["alert"]["id"], alert_id.as_str());
    let (s, stored) = call(
        &http,
        &engine,
        &admin,
        "GET",
        &format!("/api/alerts/{alert_id}"),
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{stored}");
    assert_eq!(stored["ticket_id"], linked["alert"]["ticket_id"]);
    engine.stop();
}

/// A slow `metrics` table holds only the points: with every COPY slot stuck on it, the writer
/// keeps taking points until a batch is full (the flush interval does not make it wait), so the
/// transports go on and a breach sent after the stuck COPYs still reaches the NOC at once; when
/// the table is back, every point is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alert_reaches_the_noc_while_every_copy_is_stuck() {
    // Two COPY slots, a short flush interval and an input queue of 4 messages: a writer that
    // waited for a slot at its flush interval would stop taking input after 4 more messages.
    let Stage {
        db,
        _data,
        engine,
        http,
        admin,
        device_id,
        device_key,
        device,
    } = stage(
        "Cliente Atascado",
        &[
            ("CENTINELA_STORAGE__WRITER_QUEUE", "4"),
            ("CENTINELA_STORAGE__BATCH_ROWS", "100000"),
            ("CENTINELA_STORAGE__FLUSH_INTERVAL_MS", "50"),
            ("CENTINELA_STORAGE__COPY_PARALLELISM", "2"),
        ],
    )
    .await;
    cpu_rule_with_tickets(&http, &engine, &admin, &device_id).await;
    let mut ws = noc(&engine, &admin).await;
    tokio::time::sleep(Duration::from_millis(300)).await;

    let stuck = TableLock::take(&db, "metrics").await;
    // Two flushes, each a COPY that now waits on the lock: both slots busy.
    let mut sent = 0u64;
    for _ in 0..2 {
        device
            .telemetry(&device_key, json!({"metrics": {"cpu.usage_pct": 20.0}}))
            .await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    // Well past the writer's queue, across many flush intervals.
    for _ in 0..40 {
        device
            .telemetry(&device_key, json!({"metrics": {"cpu.usage_pct": 30.0}}))
            .await;
        sent += 1;
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    device
        .telemetry(&device_key, json!({"metrics": {"cpu.usage_pct": 97.0}}))
        .await;
    sent += 1;
    let opened = next_alert(&mut ws, "opened", Duration::from_secs(2))
        .await
        .expect("the breach reaches the NOC while every COPY waits on the metrics table");
    assert_eq!(opened["alert"]["device_id"], device_id.as_str());
    assert_eq!(opened["alert"]["value"], 97.0);
    let text = metric_text(&http, &engine).await;
    assert_eq!(
        sample(&text, "centinela_points_stored_total "),
        0.0,
        "the metrics table was locked: nothing can have been stored"
    );

    stuck.release().await;
    let stored = stored_points(&db, &device_id, sent as i64, Duration::from_secs(10)).await;
    assert_eq!(stored, sent as i64, "points missing once the table is back");
    engine.stop();
}
