//! Threshold validation and the alert workflow.

use crate::helpers::{alert, authed, device, send, state, tenant_with_site, user};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

#[actix_web::test]
async fn thresholds_are_validated_with_the_offending_field() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, _) = tenant_with_site(&store, "Cliente", "pro").await;
    user(
        &store,
        "jefe@c.test",
        "Clave123!",
        "client_admin",
        Some(tenant),
    )
    .await;
    let app = app!(state);
    let token = login!(app, "jefe@c.test", "Clave123!");
    let base = json!({"scope": "tenant", "scope_id": tenant, "metric": "cpu.usage_pct", "op": ">",
                      "warning": 80.0, "critical": 95.0, "for_seconds": 60, "auto_ticket": true,
                      "ticket_priority": "high"});
    let with = |key: &str, value: Value| {
        let mut body = base.clone();
        body[key] = value;
        body
    };
    let cases = [
        (with("op", json!("=>")), "op"),
        (with("metric", json!("CPU Usage")), "metric"),
        (with("scope", json!("planet")), "scope"),
        (with("ticket_priority", json!("urgent")), "ticket_priority"),
        (with("clear_margin", json!(-1.0)), "clear_margin"),
        (
            with("warning", Value::Null)
                .as_object()
                .cloned()
                .map(|mut o| {
                    o.insert("critical".into(), Value::Null);
                    Value::Object(o)
                })
                .unwrap(),
            "warning",
        ),
    ];
    for (body, field) in cases {
        let req = authed(TestRequest::post().uri("/api/thresholds"), &token).set_json(body);
        let (status, answer) = send(&app, req.to_request()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{answer}");
        assert_eq!(answer["error"], "bad_request");
        assert_eq!(answer["field"], field, "{answer}");
    }
    let create = || {
        authed(TestRequest::post().uri("/api/thresholds"), &token)
            .set_json(base.clone())
            .to_request()
    };
    let (status, created) = send(&app, create()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["tenant_id"], tenant.to_string());
    let (status, body) = send(&app, create()).await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_eq!(body["error"], "conflict");

    let id = created["id"].as_str().unwrap();
    let patch = authed(
        TestRequest::patch().uri(&format!("/api/thresholds/{id}")),
        &token,
    )
    .set_json(json!({"warning": null}));
    let (status, patched) = send(&app, patch.to_request()).await;
    assert_eq!(status, StatusCode::OK, "{patched}");
    assert!(patched["warning"].is_null());
    let delete = authed(
        TestRequest::delete().uri(&format!("/api/thresholds/{id}")),
        &token,
    );
    assert_eq!(
        send(&app, delete.to_request()).await.0,
        StatusCode::NO_CONTENT
    );
}

#[actix_web::test]
async fn alert_status_moves_follow_the_lifecycle() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "Cliente", "basic").await;
    let (device_id, _) = device(&store, tenant, site, "Servidor").await;
    let alert_id = alert(&store, tenant, device_id).await;
    user(
        &store,
        "jefe@c.test",
        "Clave123!",
        "client_admin",
        Some(tenant),
    )
    .await;
    let app = app!(state);
    let token = login!(app, "jefe@c.test", "Clave123!");
    let status_req = |status: &str| {
        authed(
            TestRequest::patch().uri(&format!("/api/alerts/{alert_id}/status")),
            &token,
        )
        .set_json(json!({"status": status, "comment": "revisando"}))
        .to_request()
    };
    let (status, body) = send(&app, status_req("open")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"], "invalid_transition");
    let (status, body) = send(&app, status_req("archived")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "status");
    let (status, body) = send(&app, status_req("in_progress")).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["status"], "in_progress");

    let ack = authed(
        TestRequest::post().uri(&format!("/api/alerts/{alert_id}/ack")),
        &token,
    )
    .set_json(json!({}));
    let (status, body) = send(&app, ack.to_request()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(body["acked_by"].is_string());

    let (status, body) = send(
        &app,
        authed(
            TestRequest::get().uri(&format!("/api/alerts/{alert_id}")),
            &token,
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let kinds: Vec<_> = body["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].clone())
        .collect();
    assert_eq!(kinds, vec![json!("opened"), json!("status"), json!("ack")]);

    let (status, list) = send(
        &app,
        authed(
            TestRequest::get().uri("/api/alerts?state=firing&severity=critical"),
            &token,
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, body) = send(
        &app,
        authed(TestRequest::get().uri("/api/alerts?state=burning"), &token).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "state");

    let mut tx = store.begin(centinela_model::Scope::All).await.unwrap();
    assert_eq!(
        centinela_storage::audit::count(&mut tx, "alert.status")
            .await
            .unwrap(),
        1
    );
    assert_eq!(
        centinela_storage::audit::count(&mut tx, "alert.ack")
            .await
            .unwrap(),
        1
    );
}
