//! The router fleet under bad neighbours: one healthy router (the project's simulator), one
//! that accepts connections and never answers, one whose port is closed, and one with the wrong
//! password. The healthy router keeps its poll rate; the others go offline with their reason.
//! Deleting a device stops its poller.

use centinela_actors::{Runtime, RuntimeConfig, Telemetry};
use centinela_ingest::pki::MasterKey;
use centinela_ingest::routeros::credentials::RouterCredentials;
use centinela_ingest::routeros::{self, PollerCount, PollerSettings};
use centinela_model::Scope;
use centinela_routeros_sim::SimConfig;
use centinela_storage::routers::RouterTarget;
use centinela_storage::{Store, alerts, devices, metrics, sites, tenants};
use chrono::{Duration as Span, Utc};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const KEY: &str = "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=";

async fn router(store: &Store, key: &MasterKey, port: u16, password: &str) -> Uuid {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let tenant = match tenants::list(
        &mut tx,
        &centinela_storage::Keyset {
            limit: 1,
            after: None,
        },
    )
    .await
    .unwrap()
    .into_iter()
    .next()
    {
        Some(t) => t,
        None => tenants::create(&mut tx, "Operador", "pro").await.unwrap(),
    };
    let site = sites::NewSite {
        tenant_id: tenant.id,
        name: format!("Sitio {port}"),
        ..Default::default()
    };
    let site = sites::create(&mut tx, &site).await.unwrap();
    let (device, _) = devices::create(
        &mut tx,
        tenant.id,
        site.id,
        &format!("R-{port}"),
        "routeros",
    )
    .await
    .unwrap();
    let credentials = RouterCredentials {
        username: "admin".into(),
        password: password.into(),
    };
    let target = RouterTarget {
        device_id: device.id,
        tenant_id: tenant.id,
        host: "127.0.0.1".into(),
        port: i32::from(port),
        tls: false,
        verify_tls: false,
        sealed_credentials: credentials.seal(key),
        last_log_id: None,
    };
    centinela_storage::routers::insert(&mut tx, &target)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    device.id
}

async fn cpu_points(store: &Store, device: Uuid) -> usize {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let now = Utc::now();
    let points = metrics::query_raw(
        &mut tx,
        device,
        "cpu.usage_pct",
        now - Span::minutes(5),
        now + Span::minutes(1),
        10_000,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    points.len()
}

async fn offline_alert(store: &Store, device: Uuid) -> Option<String> {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let firing = alerts::all_firing_for_device(&mut tx, device)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    firing
        .into_iter()
        .find(|a| a.key == "router.offline")
        .map(|a| a.description)
}

#[actix_rt::test]
async fn a_dead_or_silent_router_never_delays_the_others() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (store, _) = centinela_storage::testing::fresh_store().await;
    let key = MasterKey::from_base64(KEY).unwrap();
    let sim = centinela_routeros_sim::start(SimConfig::default())
        .await
        .unwrap();
    // Accepts and never says a word: every command times out.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_port = silent.local_addr().unwrap().port();
    let held = Arc::new(tokio::sync::Mutex::new(Vec::new()));
    let keep = held.clone();
    tokio::spawn(async move {
        while let Ok((socket, _)) = silent.accept().await {
            keep.lock().await.push(socket);
        }
    });
    let closed_port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let healthy = router(&store, &key, sim.local_addr().port(), "").await;
    let silent_router = router(&store, &key, silent_port, "").await;
    let closed_router = router(&store, &key, closed_port, "").await;
    let wrong_password = router(&store, &key, sim.local_addr().port(), "nope").await;

    let config = RuntimeConfig {
        shards: 1,
        ..RuntimeConfig::default()
    };
    let runtime = Runtime::start(store.clone(), Arc::new(Telemetry::new()), config)
        .await
        .unwrap();
    let settings = PollerSettings {
        interval: Duration::from_millis(300),
        jitter: 0.0,
        connect_timeout: Duration::from_millis(500),
        command_timeout: Duration::from_millis(500),
        offline_after: 2,
    };
    let fleet = routeros::start(runtime.clone(), Arc::new(key), settings);
    tokio::time::sleep(Duration::from_secs(4)).await;
    assert_eq!(fleet.send(PollerCount).await.unwrap(), 4);

    // ~13 polls fit in 4 s at 300 ms; timeouts of 500 ms elsewhere must not eat into them.
    let polls = cpu_points(&store, healthy).await;
    assert!(
        polls >= 8,
        "the healthy router was polled {polls} times in 4 s"
    );
    assert!(offline_alert(&store, healthy).await.is_none());
    let silent_reason = offline_alert(&store, silent_router)
        .await
        .expect("silent router offline");
    assert!(silent_reason.contains("timed out"), "{silent_reason}");
    let closed_reason = offline_alert(&store, closed_router)
        .await
        .expect("closed port offline");
    assert!(closed_reason.contains("cannot connect"), "{closed_reason}");
    let refused = offline_alert(&store, wrong_password)
        .await
        .expect("wrong password offline");
    assert!(
        refused.contains("invalid user name or password (6)"),
        "{refused}"
    );

    // Deleting a device stops its poller.
    runtime.remove_device(healthy);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(fleet.send(PollerCount).await.unwrap(), 3);
    let before = cpu_points(&store, healthy).await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(
        cpu_points(&store, healthy).await <= before + 1,
        "no polls after removal"
    );
    let _ = tokio::time::timeout(Duration::from_secs(2), runtime.shutdown()).await;
    sim.shutdown().await;
}
