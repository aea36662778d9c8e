//! Router devices (settings validated, credentials sealed and never returned, PATCH), device
//! logs (JSON, CSV, bad input, other tenants) and per-tenant log rules.

use crate::helpers::{authed, device, send, state, tenant_with_site, user};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use centinela_model::Scope;
use centinela_storage::logs::{self, LogLine};
use chrono::{Duration, Utc};
use serde_json::json;

#[actix_web::test]
async fn router_devices_validate_settings_and_never_return_credentials() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(&store, "admin@centinela.test", "Secreto123!", "admin", None).await;
    let (tenant, site) = tenant_with_site(&store, "Ferretería", "pro").await;
    let app = app!(state);
    let admin = login!(app, "admin@centinela.test", "Secreto123!");
    let post = |body: serde_json::Value| {
        authed(TestRequest::post().uri("/api/devices"), &admin)
            .set_json(body)
            .to_request()
    };
    let base = json!({"tenant_id": tenant, "site_id": site, "name": "Borde", "kind": "routeros"});
    let cases = [
        (json!(null), "routeros"),
        (
            json!({"host": "", "username": "api", "password": "x"}),
            "routeros.host",
        ),
        (
            json!({"host": "10.0.0.1; rm", "username": "api", "password": "x"}),
            "routeros.host",
        ),
        (
            json!({"host": "10.0.0.1", "port": 0, "username": "api", "password": "x"}),
            "routeros.port",
        ),
        (
            json!({"host": "10.0.0.1", "username": " ", "password": "x"}),
            "routeros.username",
        ),
    ];
    for (routeros, field) in cases {
        let mut body = base.clone();
        if !routeros.is_null() {
            body["routeros"] = routeros;
        }
        let (status, err) = send(&app, post(body)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{err}");
        assert_eq!(err["field"], field, "{err}");
    }
    let mut agent = base.clone();
    agent["kind"] = json!("agent");
    agent["routeros"] = json!({"host": "10.0.0.1", "username": "api", "password": "x"});
    let (status, err) = send(&app, post(agent)).await;
    assert_eq!(
        (status, err["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("routeros"))
    );

    let mut body = base.clone();
    body["routeros"] =
        json!({"host": "10.0.0.1", "username": "api", "password": "Sup3r-Secreta", "tls": true});
    let (status, created) = send(&app, post(body)).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["device"]["routeros"],
        json!({"host": "10.0.0.1", "port": 8729, "tls": true, "verify_tls": false})
    );
    assert!(created.get("agent_token").is_none());
    let text = created.to_string();
    assert!(
        !text.contains("Sup3r") && !text.contains("\"api\""),
        "{text}"
    );
    let id = created["device"]["id"].as_str().unwrap().to_owned();

    // The stored bytes are what the sealer produced, not the password.
    let mut tx = store.begin(Scope::All).await.unwrap();
    let target = centinela_storage::routers::get(&mut tx, id.parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    tx.commit().await.unwrap();
    assert!(!String::from_utf8_lossy(&target.sealed_credentials).contains("Sup3r"));

    // PATCH: credentials change together; the view and the list never show them.
    let patch = |body: serde_json::Value| {
        authed(
            TestRequest::patch().uri(&format!("/api/devices/{id}")),
            &admin,
        )
        .set_json(body)
        .to_request()
    };
    let (status, err) = send(&app, patch(json!({"routeros": {"password": "nueva"}}))).await;
    assert_eq!(
        (status, err["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("routeros.password"))
    );
    let (status, view) = send(&app, patch(json!({"name": "Borde Norte", "routeros": {"port": 18729, "username": "api2", "password": "Otra-Clave"}}))).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["name"], "Borde Norte");
    assert_eq!(view["routeros"]["port"], 18729);
    let req = authed(TestRequest::get().uri("/api/devices"), &admin).to_request();
    let (_, list) = send(&app, req).await;
    assert!(!list.to_string().contains("Otra-Clave"));
    assert_eq!(list[0]["routeros"]["host"], "10.0.0.1");
    // Tenant roles: never another tenant's router, and never where a router is reached.
    let (other, _) = tenant_with_site(&store, "Otra", "pro").await;
    user(
        &store,
        "b@b.test",
        "Secreto123!",
        "client_admin",
        Some(other),
    )
    .await;
    user(
        &store,
        "a@a.test",
        "Secreto123!",
        "client_admin",
        Some(tenant),
    )
    .await;
    let b = login!(app, "b@b.test", "Secreto123!");
    let a = login!(app, "a@a.test", "Secreto123!");
    let req = authed(TestRequest::get().uri(&format!("/api/devices/{id}")), &b).to_request();
    assert_eq!(send(&app, req).await.0, StatusCode::NOT_FOUND);
    let req = authed(TestRequest::patch().uri(&format!("/api/devices/{id}")), &b)
        .set_json(json!({"routeros": {"host": "10.9.9.9"}}))
        .to_request();
    assert_eq!(send(&app, req).await.0, StatusCode::NOT_FOUND);
    let req = authed(TestRequest::patch().uri(&format!("/api/devices/{id}")), &a)
        .set_json(json!({"routeros": {"host": "10.9.9.9"}}))
        .to_request();
    assert_eq!(send(&app, req).await.0, StatusCode::FORBIDDEN);
    let mut own = base.clone();
    own["routeros"] = json!({"host": "127.0.0.1", "port": 22, "username": "x", "password": "y"});
    let req = authed(TestRequest::post().uri("/api/devices"), &a)
        .set_json(own)
        .to_request();
    assert_eq!(send(&app, req).await.0, StatusCode::FORBIDDEN);
    let req = authed(TestRequest::get().uri(&format!("/api/devices/{id}")), &a).to_request();
    let (status, view) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "tenant roles may read their router");
    assert!(!view.to_string().contains("Otra-Clave"));

    let (agent_id, _) = device(&store, tenant, site, "PC-1").await;
    let req = authed(
        TestRequest::patch().uri(&format!("/api/devices/{agent_id}")),
        &admin,
    )
    .set_json(json!({"routeros": {"host": "10.0.0.9"}}))
    .to_request();
    let (status, _) = send(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn device_logs_as_json_and_csv_only_for_the_owning_tenant() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant_a, site_a) = tenant_with_site(&store, "A", "pro").await;
    let (tenant_b, _) = tenant_with_site(&store, "B", "pro").await;
    user(
        &store,
        "a@a.test",
        "Secreto123!",
        "client_admin",
        Some(tenant_a),
    )
    .await;
    user(
        &store,
        "b@b.test",
        "Secreto123!",
        "client_admin",
        Some(tenant_b),
    )
    .await;
    let (dev, _) = device(&store, tenant_a, site_a, "R1").await;
    let now = Utc::now();
    let line = |secs: i64, message: &str| LogLine {
        ts: now - Duration::seconds(secs),
        tenant_id: tenant_a,
        device_id: dev,
        level: "critical".into(),
        source: "system,error,critical".into(),
        message: message.into(),
    };
    let mut tx = store.begin(Scope::All).await.unwrap();
    logs::insert_many(
        &mut tx,
        &[
            line(30, "login failure for user admin from 203.0.113.9 via ssh"),
            line(10, "ether1 link up (speed 1G, full duplex)"),
        ],
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let app = app!(state);
    let a = login!(app, "a@a.test", "Secreto123!");
    let b = login!(app, "b@b.test", "Secreto123!");

    let req = authed(
        TestRequest::get().uri(&format!("/api/devices/{dev}/logs")),
        &a,
    )
    .to_request();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    let lines = body["logs"].as_array().unwrap();
    assert_eq!(lines.len(), 2);
    assert!(
        lines[0]["message"].as_str().unwrap().starts_with("ether1"),
        "newest first"
    );
    let req = authed(
        TestRequest::get().uri(&format!("/api/devices/{dev}/logs?limit=1")),
        &a,
    )
    .to_request();
    assert_eq!(send(&app, req).await.1["logs"].as_array().unwrap().len(), 1);

    let req = authed(
        TestRequest::get().uri(&format!("/api/devices/{dev}/logs?format=csv")),
        &a,
    )
    .to_request();
    let response = test::call_service(&app, req).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(
        response
            .headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    let rows: Vec<&str> = csv.trim_end().split("\r\n").collect();
    assert_eq!(rows.len(), 3, "{csv}");
    assert_eq!(rows[0], "ts,device_id,message");
    assert!(
        rows[1].ends_with(&format!(
            ",{dev},\"ether1 link up (speed 1G, full duplex)\""
        )),
        "{csv}"
    );

    for bad in [
        "limit=0",
        "limit=100000",
        "format=xml",
        "from=ayer",
        "from=2026-01-02T00:00:00Z&to=2026-01-01T00:00:00Z",
    ] {
        let req = authed(
            TestRequest::get().uri(&format!("/api/devices/{dev}/logs?{bad}")),
            &a,
        )
        .to_request();
        let (status, err) = send(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {err}");
    }
    let req = authed(
        TestRequest::get().uri(&format!("/api/devices/{dev}/logs")),
        &b,
    )
    .to_request();
    assert_eq!(
        send(&app, req).await.0,
        StatusCode::NOT_FOUND,
        "other tenants see nothing"
    );
}

#[actix_web::test]
async fn log_rules_default_configure_validate_and_reset_per_tenant() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant_a, site_a) = tenant_with_site(&store, "A", "pro").await;
    let (tenant_b, _) = tenant_with_site(&store, "B", "pro").await;
    user(
        &store,
        "a@a.test",
        "Secreto123!",
        "client_admin",
        Some(tenant_a),
    )
    .await;
    user(
        &store,
        "r@a.test",
        "Secreto123!",
        "requester",
        Some(tenant_a),
    )
    .await;
    user(&store, "admin@centinela.test", "Secreto123!", "admin", None).await;
    let _ = device(&store, tenant_a, site_a, "R1").await;
    let app = app!(state);
    let a = login!(app, "a@a.test", "Secreto123!");
    let requester = login!(app, "r@a.test", "Secreto123!");
    let admin = login!(app, "admin@centinela.test", "Secreto123!");

    let req = authed(TestRequest::get().uri("/api/log-rules"), &a).to_request();
    let (status, rules) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{rules}");
    let kinds: Vec<_> = rules
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["rule"]["kind"].clone())
        .collect();
    assert_eq!(
        kinds,
        vec![
            json!("brute_force"),
            json!("wan_instability"),
            json!("link_down")
        ]
    );
    assert!(
        rules
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["configured"] == false)
    );

    let put = |token: &str, kind: &str, body: serde_json::Value| {
        authed(
            TestRequest::put().uri(&format!("/api/log-rules/{kind}")),
            token,
        )
        .set_json(body)
        .to_request()
    };
    let good = json!({"enabled": true, "threshold": 3, "window_seconds": 60, "severity": "warning", "auto_ticket": false});
    let (status, _) = send(&app, put(&a, "ssh_scan", good.clone())).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let mut zero = good.clone();
    zero["threshold"] = json!(0);
    let (status, err) = send(&app, put(&a, "brute_force", zero)).await;
    assert_eq!(
        (status, err["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("threshold"))
    );
    let mut severe = good.clone();
    severe["severity"] = json!("fatal");
    assert_eq!(
        send(&app, put(&a, "brute_force", severe)).await.0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        send(&app, put(&requester, "brute_force", good.clone()))
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    let mut other = good.clone();
    other["tenant_id"] = json!(tenant_b);
    assert_eq!(
        send(&app, put(&a, "brute_force", other)).await.0,
        StatusCode::NOT_FOUND
    );

    let (status, saved) = send(&app, put(&a, "brute_force", good)).await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved["rule"]["threshold"], 3);
    let req = authed(
        TestRequest::get().uri(&format!("/api/log-rules?tenant_id={tenant_a}")),
        &admin,
    )
    .to_request();
    let (_, rules) = send(&app, req).await;
    assert_eq!(rules[0]["configured"], true);
    assert_eq!(rules[0]["rule"]["severity"], "warning");
    let req = authed(TestRequest::get().uri("/api/log-rules"), &admin).to_request();
    assert_eq!(
        send(&app, req).await.0,
        StatusCode::BAD_REQUEST,
        "staff must name the tenant"
    );

    let req = authed(TestRequest::delete().uri("/api/log-rules/brute_force"), &a).to_request();
    assert_eq!(send(&app, req).await.0, StatusCode::NO_CONTENT);
    let req = authed(TestRequest::get().uri("/api/log-rules"), &a).to_request();
    assert_eq!(send(&app, req).await.1[0]["configured"], false);
}
