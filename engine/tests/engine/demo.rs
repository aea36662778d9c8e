//! `centinela demo` end to end: the real binary seeds a fresh database, runs the simulated
//! fleet over MQTT/TLS and the RouterOS simulators, and the NOC sees an alert open; a second
//! start seeds nothing more; a database with other data is refused with exit code 2.

use crate::harness::{Engine, JWT_SECRET, MASTER_KEY, create_user, free_port};
use crate::{Ws, http_client, login, next_matching, noc};
use serde_json::Value;
use sqlx::Connection;
use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

/// Short timings: telemetry every half second with frequent CPU breaches, one day of history.
const FAST: &[(&str, &str)] = &[
    ("CENTINELA_DEMO__TELEMETRY_INTERVAL_MS", "500"),
    ("CENTINELA_DEMO__BREACH_PCT", "10"),
    ("CENTINELA_DEMO__HISTORY_DAYS", "1"),
    ("CENTINELA_DEMO__ROUTER_OUTAGE_AFTER_S", "5"),
    ("CENTINELA_DEMO__ROUTER_OUTAGE_S", "10"),
    ("CENTINELA_ROUTEROS__POLL_INTERVAL_S", "2"),
];

/// (tenants, sites, users, devices, routers, seeded tickets, their distinct statuses); tickets
/// the running engine opens for alerts (source `alert`) are not the seed's.
async fn counts(url: &str) -> (i64, i64, i64, i64, i64, i64, i64) {
    let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    sqlx::query("SELECT set_config('centinela.scope', '*', true)")
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query_as(
        "SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM sites),
                (SELECT count(*) FROM users), (SELECT count(*) FROM devices),
                (SELECT count(*) FROM devices WHERE kind = 'routeros'),
                (SELECT count(*) FROM tickets WHERE source <> 'alert'),
                (SELECT count(DISTINCT status) FROM tickets WHERE source <> 'alert')",
    )
    .fetch_one(&mut *tx)
    .await
    .unwrap()
}

/// What [`watch_alerts`] saw: the first alert opened and cleared, with when.
struct Seen {
    first_opened: Option<(Value, Instant)>,
    first_cleared: Option<(Value, Instant)>,
}

/// Reads alert events until the demo has shown everything it promises, or fails after 200 s
/// from `started`. The simulated MikroTik routers play their scenarios with the tenants'
/// default log rules: SSH brute force (8 failures from one address, 15 s after start), PPPoE
/// flapping (a disconnect every 45 s from 20 s: the third, at ~110 s, fires the rule), the
/// warehouse link down (30 s), and RTR-IRAPUATO unreachable (from 5 s, for 10 s, with these
/// settings), whose alert clears when it answers again.
async fn watch_alerts(ws: &mut Ws, started: Instant) -> Seen {
    let wanted = [
        "log.brute_force{ip=203.0.113.45}",
        "log.wan_instability{if=pppoe-out1}",
        "log.link_down{if=ether3}",
        "router.offline",
    ];
    let mut seen = Seen {
        first_opened: None,
        first_cleared: None,
    };
    let mut opened = BTreeSet::new();
    let mut offline_cleared = false;
    let deadline = started + Duration::from_secs(200);
    while !(opened.len() == wanted.len() && offline_cleared && seen.first_cleared.is_some()) {
        let left = deadline.saturating_duration_since(Instant::now());
        let Some(event) = next_matching(ws, left, |v| v["type"] == "alert").await else {
            panic!(
                "after {:?}: router alerts opened {opened:?} of {wanted:?}; router.offline cleared: \
                 {offline_cleared}; any alert opened: {}, cleared: {}",
                started.elapsed(),
                seen.first_opened.is_some(),
                seen.first_cleared.is_some()
            );
        };
        let key = event["alert"]["key"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        match event["event"].as_str() {
            Some("opened") => {
                if wanted.contains(&key.as_str()) {
                    opened.insert(key);
                }
                seen.first_opened.get_or_insert((event, Instant::now()));
            }
            Some("cleared") => {
                offline_cleared |= key == "router.offline";
                seen.first_cleared.get_or_insert((event, Instant::now()));
            }
            _ => {}
        }
    }
    println!(
        "demo: every promised alert seen {:?} after start",
        started.elapsed()
    );
    seen
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_seeds_once_and_the_noc_sees_alerts_open() {
    let db = centinela_storage::testing::fresh_database_url().await;
    let data = tempfile::tempdir().unwrap();
    let started = Instant::now();
    let engine = Engine::start_command("demo", &db, data.path().to_owned(), free_port(), FAST);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "seeded and listening in {:?}",
        started.elapsed()
    );
    let seeded = counts(&db).await;
    let (tenants, sites, users, devices, routers, tickets, statuses) = seeded;
    assert_eq!((tenants, sites, routers), (5, 10, 8));
    assert_eq!(devices, 75);
    assert_eq!(
        users, 22,
        "admin, 3 technicians, 3 client admins, 15 requesters"
    );
    assert_eq!((tickets, statuses), (60, 9), "60 tickets in every state");

    // The login page learns demo mode and the accounts from the server.
    let http = http_client();
    let meta: Value = http
        .get(engine.url("/api/meta"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meta["demo"], true);
    let emails: Vec<&str> = meta["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["email"].as_str().unwrap())
        .collect();
    assert!(emails.contains(&"admin@lanetdemo.com"), "{meta}");
    assert!(emails.contains(&"cliente1@lanetdemo.com"), "{meta}");

    // On the live NOC: a new alert opens and one clears (CPU breaches of the simulated agents
    // over MQTT/TLS), and the routers' scenarios raise theirs. One socket reads them all, so
    // that no event is skipped while waiting for another.
    let admin = login(&http, &engine, "admin@lanetdemo.com", "DemoAdmin123!").await;
    let mut ws = noc(&engine, &admin).await;
    let watching = Instant::now();
    let seen = watch_alerts(&mut ws, started).await;
    let (opened, first_open) = seen.first_opened.expect("an alert opened");
    assert!(opened["alert"]["title"].as_str().is_some(), "{opened}");
    assert!(
        first_open - watching < Duration::from_secs(30),
        "first alert after {:?}",
        first_open - watching
    );
    let (cleared, first_clear) = seen.first_cleared.expect("an alert cleared");
    assert_eq!(cleared["alert"]["state"], "cleared");
    assert!(
        first_clear - watching < Duration::from_secs(60),
        "first clear after {:?}",
        first_clear - watching
    );
    let tecnico = login(&http, &engine, "tecnico1@lanetdemo.com", "DemoTec123!").await;
    assert!(!tecnico.is_empty());
    let (status, took, log) = engine.stop_with_log();
    assert!(status.success(), "Ctrl-C stops cleanly: {status:?}\n{log}");
    assert!(took < Duration::from_secs(20), "stopped in {took:?}");
    assert!(log.contains("demo: data seeded"), "{log}");
    assert!(
        log.contains("admin@lanetdemo.com"),
        "the accounts are printed"
    );

    // A second start on the same database seeds nothing more.
    let engine = Engine::start_command("demo", &db, data.path().to_owned(), free_port(), FAST);
    assert_eq!(counts(&db).await, seeded);
    let (status, _, log) = engine.stop_with_log();
    assert!(status.success(), "{log}");
    assert!(log.contains("demo data already present"), "{log}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_refuses_a_database_that_holds_other_data() {
    let db = centinela_storage::testing::fresh_database_url().await;
    create_user(&db, "root@example.com", "superadmin", None, "Sup3r-secret!");
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_centinela"))
        .arg("demo")
        .env("DATABASE_URL", &db)
        .env("CENTINELA_HTTP__LISTEN", "127.0.0.1:0")
        .env(
            "CENTINELA_MQTT__LISTEN",
            format!("127.0.0.1:{}", free_port()),
        )
        .env("CENTINELA_AUTH__JWT_SECRET", JWT_SECRET)
        .env("CENTINELA_SECRETS__MASTER_KEY", MASTER_KEY)
        .env("CENTINELA_ENGINE__DATA_DIR", data.path())
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("refuses this database"), "{stderr}");
    assert!(stderr.contains("1 users"), "says what it holds: {stderr}");
    let (tenants, _, users, ..) = counts(&db).await;
    assert_eq!((tenants, users), (0, 1), "nothing written");
}
