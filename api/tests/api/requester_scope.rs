//! A requester sees only its sites on every API surface: sites, devices (metrics, logs and
//! their CSV), alerts, script runs, health counts, `/ws/noc` events and metric subscriptions;
//! and neither scripts nor tenant configuration.

use crate::helpers::{alert, authed, device, send, serve, state, tenant_with_site, user};
use crate::users::{next_text, noc, requester};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use centinela_actors::NocEvent;
use centinela_model::{Scope, TenantId};
use centinela_storage::sites;
use futures_util::SinkExt;
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use uuid::Uuid;

const PASSWORD: &str = "Secreto123!";

fn get(token: &str, uri: &str) -> actix_web::test::TestRequest {
    authed(TestRequest::get().uri(uri), token)
}

fn ids(list: &Value) -> Vec<String> {
    list.as_array()
        .unwrap_or(&Vec::new())
        .iter()
        .map(|v| v["id"].as_str().unwrap_or_default().to_owned())
        .collect()
}

/// A second site of `tenant`.
async fn sibling_site(state: &centinela_api::ApiState, tenant: Uuid) -> Uuid {
    let store = state.runtime.store();
    let mut tx = store.begin(Scope::All).await.unwrap();
    let site = sites::NewSite {
        tenant_id: tenant,
        name: "Sucursal Señorial".into(),
        ..Default::default()
    };
    let site = sites::create(&mut tx, &site).await.unwrap();
    tx.commit().await.unwrap();
    site.id
}

#[actix_web::test]
async fn a_requester_reads_only_its_sites_objects() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, own_site) = tenant_with_site(&store, "Ñandú", "pro").await;
    let other_site = sibling_site(&state, tenant).await;
    let (own_dev, _) = device(&store, tenant, own_site, "PC-Recepción").await;
    let (other_dev, _) = device(&store, tenant, other_site, "PC-Almacén").await;
    let own_alert = alert(&store, tenant, own_dev).await;
    let other_alert = alert(&store, tenant, other_dev).await;
    requester(&store, "sol@cli.test", tenant, &[own_site]).await;
    user(
        &store,
        "jefa@cli.test",
        PASSWORD,
        "client_admin",
        Some(tenant),
    )
    .await;
    let app = app!(state);
    let sol = login!(app, "sol@cli.test", PASSWORD);
    let boss = login!(app, "jefa@cli.test", PASSWORD);

    let (_, list) = send(&app, get(&sol, "/api/sites").to_request()).await;
    assert_eq!(ids(&list), vec![own_site.to_string()]);
    let (_, list) = send(&app, get(&boss, "/api/sites").to_request()).await;
    assert_eq!(ids(&list).len(), 2, "a client_admin sees every site");
    let (_, list) = send(&app, get(&sol, "/api/devices").to_request()).await;
    assert_eq!(ids(&list), vec![own_dev.to_string()]);
    let (_, list) = send(&app, get(&sol, "/api/alerts").to_request()).await;
    assert_eq!(ids(&list), vec![own_alert.to_string()]);
    let (_, health) = send(&app, get(&sol, "/api/health/devices").to_request()).await;
    assert_eq!(health[0]["total"], 1, "{health}");
    assert_eq!(health[0]["red"], 1, "{health}");
    let (_, health) = send(&app, get(&boss, "/api/health/devices").to_request()).await;
    assert_eq!(health[0]["total"], 2, "{health}");

    let hidden = [
        format!("/api/sites/{other_site}"),
        format!("/api/devices/{other_dev}"),
        format!("/api/devices/{other_dev}/metrics?name=cpu.usage_pct"),
        format!("/api/devices/{other_dev}/logs"),
        format!("/api/devices/{other_dev}/logs?format=csv"),
        format!("/api/alerts/{other_alert}"),
        format!("/api/script-runs?device_id={other_dev}"),
    ];
    for uri in &hidden {
        let (status, body) = send(&app, get(&sol, uri).to_request()).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{uri}: {body}");
        assert_eq!(
            send(&app, get(&boss, uri).to_request()).await.0,
            StatusCode::OK,
            "{uri}"
        );
    }
    for uri in [
        format!("/api/sites/{own_site}"),
        format!("/api/devices/{own_dev}"),
        format!("/api/devices/{own_dev}/logs?format=csv"),
        format!("/api/alerts/{own_alert}"),
    ] {
        assert_eq!(
            send(&app, get(&sol, &uri).to_request()).await.0,
            StatusCode::OK,
            "{uri}"
        );
    }
    let (_, scripts) = send(&app, get(&sol, "/api/scripts").to_request()).await;
    assert!(
        scripts
            .as_array()
            .unwrap()
            .iter()
            .all(|s| s.get("body").is_none()),
        "{scripts}"
    );
    for uri in ["/api/thresholds", "/api/log-rules", "/api/audit"] {
        let (status, body) = send(&app, get(&sol, uri).to_request()).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{uri}: {body}");
    }
    let run = authed(
        TestRequest::post().uri(&format!("/api/scripts/{}/run", Uuid::new_v4())),
        &sol,
    )
    .set_json(json!({"device_id": own_dev}));
    assert_eq!(send(&app, run.to_request()).await.0, StatusCode::FORBIDDEN);
}

fn event(tenant: Uuid, device: Option<Uuid>, tag: &str, subscription_only: bool) -> NocEvent {
    NocEvent {
        tenant_id: TenantId(tenant),
        device_id: device,
        site_id: None,
        owner_id: None,
        subscription_only,
        not_for_requesters: false,
        json: json!({"type": "alert", "event": "opened", "tag": tag})
            .to_string()
            .into(),
    }
}

#[actix_web::test]
async fn a_requesters_noc_socket_gets_only_its_sites_device_events() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, own_site) = tenant_with_site(&store, "Ñandú", "pro").await;
    let other_site = sibling_site(&state, tenant).await;
    let (own_dev, _) = device(&store, tenant, own_site, "PC-Recepción").await;
    let (other_dev, _) = device(&store, tenant, other_site, "PC-Almacén").await;
    requester(&store, "sol@cli.test", tenant, &[own_site]).await;
    user(
        &store,
        "jefa@cli.test",
        PASSWORD,
        "client_admin",
        Some(tenant),
    )
    .await;
    let addr = serve(&state);
    let app = app!(state);
    let sol = login!(app, "sol@cli.test", PASSWORD);
    let boss = login!(app, "jefa@cli.test", PASSWORD);
    let mut sol_ws = noc(addr, &sol).await;
    let mut boss_ws = noc(addr, &boss).await;

    let subscribe = json!({"type": "subscribe", "device_ids": [own_dev, other_dev]}).to_string();
    sol_ws.send(Message::text(subscribe)).await.unwrap();
    let answer = next_text(&mut sol_ws, Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(answer["type"], "subscribed");
    assert_eq!(answer["device_ids"], json!([own_dev]), "{answer}");

    // The requester's device set loads right after `ready`; give it a moment, then publish.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let hub = state.runtime.hub();
    hub.do_send(event(tenant, Some(other_dev), "ajeno", false));
    hub.do_send(event(tenant, None, "sin-dispositivo", false));
    hub.do_send(event(tenant, Some(own_dev), "propio", false));
    let first = next_text(&mut sol_ws, Duration::from_secs(3))
        .await
        .unwrap();
    assert_eq!(first["tag"], "propio", "{first}");
    assert_eq!(
        next_text(&mut sol_ws, Duration::from_millis(500)).await,
        None
    );
    // The client_admin gets all three.
    let mut tags = Vec::new();
    while let Some(v) = next_text(&mut boss_ws, Duration::from_millis(500)).await {
        tags.push(v["tag"].as_str().unwrap_or_default().to_owned());
    }
    assert_eq!(tags, vec!["ajeno", "sin-dispositivo", "propio"]);
}
