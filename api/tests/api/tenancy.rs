//! Tenants, sites, devices, plan limits and isolation between tenants.

use crate::helpers::{alert, authed, device, send, state, tenant_with_site, user};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::json;

#[actix_web::test]
async fn staff_creates_tenant_site_and_devices_until_the_plan_limit() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(&store, "admin@centinela.test", "Secreto123!", "admin", None).await;
    let app = app!(state);
    let admin = login!(app, "admin@centinela.test", "Secreto123!");

    let req = authed(TestRequest::post().uri("/api/tenants"), &admin)
        .set_json(json!({"name": "Ñandú S.A.", "plan": "gold"}));
    let (status, body) = send(&app, req.to_request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "plan");
    let req = authed(TestRequest::post().uri("/api/tenants"), &admin)
        .set_json(json!({"name": "Ñandú S.A."}));
    let (status, tenant) = send(&app, req.to_request()).await;
    assert_eq!(status, StatusCode::CREATED, "{tenant}");
    assert_eq!(tenant["plan"], "basic");
    let tenant_id = tenant["id"].as_str().unwrap().to_owned();

    let site = json!({"tenant_id": tenant_id, "name": "Oficina Central", "city": "Querétaro", "lat": 20.59, "lon": -100.39});
    let (status, site) = send(
        &app,
        authed(TestRequest::post().uri("/api/sites"), &admin)
            .set_json(site)
            .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{site}");
    assert!(site["site_key"].is_string(), "staff see the site key");

    for n in 0..6 {
        let body = json!({"tenant_id": tenant_id, "site_id": site["id"], "name": format!("PC-{n}"), "kind": "agent"});
        let (status, created) = send(
            &app,
            authed(TestRequest::post().uri("/api/devices"), &admin)
                .set_json(body)
                .to_request(),
        )
        .await;
        if n < 5 {
            assert_eq!(status, StatusCode::CREATED, "{created}");
            assert!(created["agent_token"].is_string());
            assert_eq!(created["device"]["health"], "unknown");
            assert_eq!(created["device"]["online"], false);
            assert_eq!(created["device"]["device_key"].as_str().unwrap().len(), 32);
            assert!(created["device"].get("worst_firing").is_none());
        } else {
            assert_eq!(status, StatusCode::PAYMENT_REQUIRED, "{created}");
            assert_eq!(created["error"], "plan_limit");
            assert_eq!(created["upsell"], true);
            assert_eq!(created["required_plan_hint"], "inter");
        }
    }
    let (status, list) = send(
        &app,
        authed(TestRequest::get().uri("/api/devices"), &admin).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 5);
    assert_eq!(state.runtime.device_count(), 5);
}

#[actix_web::test]
async fn another_tenant_sees_nothing_and_cannot_write() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant_a, site_a) = tenant_with_site(&store, "Cliente A", "basic").await;
    let (tenant_b, site_b) = tenant_with_site(&store, "Cliente B", "basic").await;
    let (device_a, _) = device(&store, tenant_a, site_a, "Servidor A").await;
    alert(&store, tenant_a, device_a).await;
    user(
        &store,
        "jefe@b.test",
        "ClaveB123!",
        "client_admin",
        Some(tenant_b),
    )
    .await;
    user(
        &store,
        "solicitante@b.test",
        "ClaveB123!",
        "requester",
        Some(tenant_b),
    )
    .await;
    let app = app!(state);
    let b_admin = login!(app, "jefe@b.test", "ClaveB123!");
    let b_requester = login!(app, "solicitante@b.test", "ClaveB123!");

    let get = |uri: String| authed(TestRequest::get().uri(&uri), &b_admin).to_request();
    let (status, body) = send(&app, get(format!("/api/devices/{device_a}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    let (status, _) = send(&app, get(format!("/api/tenants/{tenant_a}"))).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = send(
        &app,
        get(format!(
            "/api/devices/{device_a}/metrics?name=cpu.usage_pct"
        )),
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, alerts) = send(&app, get("/api/alerts".into())).await;
    assert_eq!(alerts, json!([]));
    let (_, devices) = send(&app, get("/api/devices".into())).await;
    assert_eq!(devices, json!([]));
    let (_, sites) = send(&app, get("/api/sites".into())).await;
    assert_eq!(sites.as_array().unwrap().len(), 1);
    assert!(
        sites[0].get("site_key").is_none(),
        "tenant roles never see site keys"
    );

    let rename = authed(
        TestRequest::patch().uri(&format!("/api/devices/{device_a}")),
        &b_admin,
    )
    .set_json(json!({"name": "mío"}));
    assert_eq!(
        send(&app, rename.to_request()).await.0,
        StatusCode::NOT_FOUND
    );
    let foreign_site = json!({"tenant_id": tenant_a, "name": "Intrusa"});
    let req = authed(TestRequest::post().uri("/api/sites"), &b_admin).set_json(foreign_site);
    assert_eq!(send(&app, req.to_request()).await.0, StatusCode::NOT_FOUND);
    let new_tenant =
        authed(TestRequest::post().uri("/api/tenants"), &b_admin).set_json(json!({"name": "X"}));
    assert_eq!(
        send(&app, new_tenant.to_request()).await.0,
        StatusCode::FORBIDDEN
    );

    let own_device = json!({"site_id": site_b, "name": "PC B", "kind": "agent"});
    let req =
        authed(TestRequest::post().uri("/api/devices"), &b_requester).set_json(own_device.clone());
    let (status, body) = send(&app, req.to_request()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "forbidden");
    let req =
        authed(TestRequest::post().uri("/api/devices"), &b_admin).set_json(own_device.clone());
    assert_eq!(send(&app, req.to_request()).await.0, StatusCode::CREATED);

    let mut tx = store.begin(centinela_model::Scope::All).await.unwrap();
    centinela_storage::tenants::update(&mut tx, tenant_b, None, Some("suspended"))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let req = authed(TestRequest::post().uri("/api/devices"), &b_admin).set_json(own_device);
    let (status, body) = send(&app, req.to_request()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    assert_eq!(body["error"], "tenant_suspended");
    let (status, _) = send(&app, get("/api/devices".into())).await;
    assert_eq!(status, StatusCode::OK, "suspended tenants can still read");
}
