//! Field names and per-version shapes, and data that changes over time per the scenario.

use std::time::{Duration, Instant};

use centinela_routeros::client::Row;
use centinela_routeros::values;
use centinela_routeros_sim::{RouterVersion, Scenario, SimConfig, start};

use crate::common::{client, config, sim};

fn get(row: &Row, key: &str) -> String {
    row.text(key)
        .unwrap_or_else(|| panic!("{key} missing in {row:?}"))
        .into_owned()
}

fn number(row: &Row, key: &str) -> u64 {
    get(row, key)
        .parse()
        .unwrap_or_else(|_| panic!("{key} is not a number in {row:?}"))
}

async fn one(client: &centinela_routeros::client::Client, command: &str) -> Row {
    let mut rows = client.print(command, &[], &[]).await.expect("print works");
    assert_eq!(rows.len(), 1, "{command}");
    rows.remove(0)
}

#[tokio::test]
async fn resource_shape_per_version() {
    let scenario =
        "[router]\nuptime = 788645\n[[resource]]\nat = 0\ncpu_load = 28\nfree_memory = 36741120";
    for (version, uptime_re, version_text, build_time) in [
        (
            RouterVersion::V7_16,
            "1w2d3h4m",
            "7.16 (stable)",
            "2024-09-20 13:00:27",
        ),
        (
            RouterVersion::V6_49,
            "1w2d03:04:",
            "6.49.10 (long-term)",
            "Sep/06/2023 06:32:31",
        ),
    ] {
        let handle = sim(config(version, scenario)).await;
        let client = client(&handle).await;
        let row = one(&client, "/system/resource/print").await;
        assert!(
            get(&row, "uptime").starts_with(uptime_re),
            "{version:?}: {row:?}"
        );
        assert!(values::parse_duration(&get(&row, "uptime")).is_some());
        assert_eq!(get(&row, "version"), version_text);
        assert_eq!(get(&row, "build-time"), build_time);
        assert_eq!(get(&row, "cpu-load"), "28");
        assert_eq!(number(&row, "free-memory"), 36_741_120);
        assert_eq!(number(&row, "total-memory"), 134_217_728);
        for key in [
            "cpu",
            "cpu-count",
            "cpu-frequency",
            "free-hdd-space",
            "total-hdd-space",
            "architecture-name",
            "board-name",
            "bad-blocks",
            "write-sect-total",
        ] {
            get(&row, key);
        }
        assert_eq!(get(&row, "platform"), "MikroTik");
        assert_eq!(
            row.get("factory-software").is_some(),
            version == RouterVersion::V7_16
        );
    }
}

#[tokio::test]
async fn health_clock_and_dates_per_version() {
    let scenario = "[router]\nclock = \"2024-10-19 21:54:32\"\n[health]\ntemperature = 46\nvoltage = 24.1\ncpu_temperature = 58";
    let v6 = sim(config(RouterVersion::V6_49, scenario)).await;
    let v6 = client(&v6).await;
    let health = one(&v6, "/system/health/print").await;
    assert_eq!(
        (
            get(&health, "temperature"),
            get(&health, "voltage"),
            get(&health, "cpu-temperature")
        ),
        ("46".into(), "24.1".into(), "58".into())
    );
    assert_eq!(
        get(&one(&v6, "/system/clock/print").await, "date"),
        "oct/19/2024"
    );
    let ether1 = v6
        .print("/interface/print", &[], &["name=ether1"])
        .await
        .expect("ether1")
        .remove(0);
    assert!(
        get(&ether1, "last-link-up-time").starts_with("oct/18/2024 "),
        "{ether1:?}"
    );

    let v7 = sim(config(RouterVersion::V7_16, scenario)).await;
    let v7 = client(&v7).await;
    let sensors = v7
        .print("/system/health/print", &[], &[])
        .await
        .expect("health");
    let table: Vec<(String, String, String)> = sensors
        .iter()
        .map(|r| (get(r, "name"), get(r, "value"), get(r, "type")))
        .collect();
    let expected = [
        ("voltage", "24.1", "V"),
        ("temperature", "46", "C"),
        ("cpu-temperature", "58", "C"),
    ];
    assert_eq!(
        table,
        expected.map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    );
    let celsius = v7
        .print("/system/health/print", &["name"], &["type=C"])
        .await
        .expect("query");
    assert_eq!(celsius.len(), 2);
    assert_eq!(
        get(&one(&v7, "/system/clock/print").await, "date"),
        "2024-10-19"
    );
    let ether1 = v7
        .print("/interface/print", &[], &["name=ether1"])
        .await
        .expect("ether1")
        .remove(0);
    assert!(
        get(&ether1, "last-link-up-time").starts_with("2024-10-18 "),
        "{ether1:?}"
    );
}

#[tokio::test]
async fn counters_grow_with_the_configured_rate() {
    let scenario =
        "[[interface]]\nname = \"ether1\"\nrx_bps = 80000000\ntx_bps = 8000000\nrx_byte = 1000";
    let handle = sim(config(RouterVersion::V7_16, scenario)).await;
    let client = client(&handle).await;
    let read = || async {
        let rows = client.print(
            "/interface/print",
            &["rx-byte", "tx-byte", "rx-packet"],
            &[],
        );
        rows.await.expect("print").remove(0)
    };
    let started = Instant::now();
    let before = read().await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    let after = read().await;
    let bound = started.elapsed().as_secs_f64();
    let rx_delta = number(&after, "rx-byte") - number(&before, "rx-byte");
    // 10 MB/s for at least the 0.2 s slept and at most the whole measured time.
    let most = (10_000_000.0 * bound) as u64 + 1;
    assert!(
        (2_000_000..=most).contains(&rx_delta),
        "rx grew by {rx_delta} in {bound} s"
    );
    assert!(number(&after, "tx-byte") > number(&before, "tx-byte"));
    assert!(number(&after, "rx-packet") > number(&before, "rx-packet"));
}

/// Polls `probe` every 20 ms until it returns `Some`, for at most [`crate::common::WAIT`].
async fn eventually<T, F, Fut>(what: &str, mut probe: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + crate::common::WAIT;
    loop {
        if let Some(value) = probe().await {
            return value;
        }
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn link_flap_changes_state_and_logs_like_the_router() {
    let scenario = "log = []\n[[interface]]\nname = \"ether1\"\nlink_downs = 2\nflaps = [{ at = 0.4, down_for = 0.3 }]";
    let handle = sim(config(RouterVersion::V7_16, scenario)).await;
    let client = client(&handle).await;
    let state = || async {
        let rows = client.print("/interface/print", &["running", "link-downs"], &[]);
        let row = rows.await.expect("print").remove(0);
        (get(&row, "running") == "true", number(&row, "link-downs"))
    };
    let messages = || async {
        let rows = client
            .print("/log/print", &[], &["topics=interface,info"])
            .await
            .expect("log");
        rows.iter().map(|r| get(r, "message")).collect::<Vec<_>>()
    };
    assert_eq!(state().await, (true, 2));
    let downs = eventually("link down", || async {
        let (running, downs) = state().await;
        (!running).then_some(downs)
    })
    .await;
    assert_eq!(downs, 3);
    assert_eq!(messages().await, ["ether1 link down"]);
    eventually("link up", || async { state().await.0.then_some(()) }).await;
    assert_eq!(state().await, (true, 3));
    assert_eq!(
        messages().await,
        ["ether1 link down", "ether1 link up (speed 1G, full duplex)"]
    );
}

#[tokio::test]
async fn resource_steps_and_log_bursts_follow_the_clock() {
    let scenario = include_str!("../../scenarios/high-cpu-brute-force.toml")
        .replace("at = 2\n", "at = 0.4\n")
        .replace("at = 1\n", "at = 0.1\n")
        .replace("every = 0.2", "every = 0.02");
    let handle = sim(config(RouterVersion::V7_16, &scenario)).await;
    let client = client(&handle).await;
    let cpu = || async { get(&one(&client, "/system/resource/print").await, "cpu-load") };
    assert_eq!(cpu().await, "6");
    eventually("cpu-load 95", || async {
        (cpu().await == "95").then_some(())
    })
    .await;
    let query = ["message=login failure for user admin from 203.0.113.9 via ssh"];
    let failures = client
        .print("/log/print", &["message"], &query)
        .await
        .expect("log");
    assert_eq!(
        failures.len(),
        8,
        "the burst ended at 0.24 s, before the step at 0.4 s"
    );
}

#[tokio::test]
async fn log_rows_have_ids_and_version_shaped_times() {
    let scenario = r#"
[router]
clock = "2024-10-19 12:00:00"
[[log]]
at = -2592000
topics = "system,info"
message = "a month ago"
[[log]]
at = -3600
topics = "system,info"
message = "an hour ago"
"#;
    for (version, month_ago) in [
        (RouterVersion::V6_49, "sep/19 12:00:00"),
        (RouterVersion::V7_16, "2024-09-19 12:00:00"),
    ] {
        let handle = sim(config(version, scenario)).await;
        let client = client(&handle).await;
        let rows = client.print("/log/print", &[], &[]).await.expect("log");
        let ids: Vec<String> = rows.iter().map(|r| get(r, ".id")).collect();
        assert_eq!(ids, ["*1", "*2", "*3"], "two scheduled lines and our login");
        assert_eq!(get(&rows[0], "time"), month_ago);
        assert_eq!(get(&rows[1], "time"), "11:00:00");
        assert_eq!(
            get(&rows[2], "message"),
            "user admin logged in from 127.0.0.1 via api"
        );
    }
}

#[tokio::test]
async fn ppp_routerboard_identity_and_dynamic_interfaces() {
    let scenario = "[router]\nidentity = \"edge\"\n[[ppp]]\nname = \"alice\"\ncaller_id = \"D0:D0:4B:36:7C:C1\"\naddress = \"10.0.0.2\"\nuptime = 2695\nrx_bps = 8000";
    let handle = sim(config(RouterVersion::V7_16, scenario)).await;
    let client = client(&handle).await;
    assert_eq!(
        get(&one(&client, "/system/identity/print").await, "name"),
        "edge"
    );
    let ppp = one(&client, "/ppp/active/print").await;
    assert_eq!(
        (
            get(&ppp, "name"),
            get(&ppp, "service"),
            get(&ppp, "address")
        ),
        ("alice".into(), "pppoe".into(), "10.0.0.2".into())
    );
    assert!(get(&ppp, "uptime").starts_with("44m5"), "{ppp:?}");
    let board = one(&client, "/system/routerboard/print").await;
    assert_eq!(
        (get(&board, "routerboard"), get(&board, "current-firmware")),
        ("true".into(), "7.16".into())
    );
    let dynamic = client
        .print("/interface/print", &["name", "type"], &["dynamic=true"])
        .await
        .expect("interfaces");
    assert_eq!(dynamic.len(), 1);
    assert_eq!(
        (get(&dynamic[0], "name"), get(&dynamic[0], "type")),
        ("<pppoe-alice>".into(), "pppoe-in".into())
    );
}

#[tokio::test]
async fn start_refuses_an_invalid_scenario_built_in_code() {
    let mut scenario = Scenario::default();
    scenario.interface[0].mac = Some("not-a-mac".to_string());
    let error = start(SimConfig {
        scenario,
        ..SimConfig::default()
    })
    .await
    .expect_err("invalid");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(error.to_string().contains("interface[0].mac"), "{error}");
}
