//! Health, readiness, metrics, OpenAPI, malformed input and agent certificates.

use crate::app;
use crate::helpers::{authed, device, send, state, tenant_with_site};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::json;
use std::sync::atomic::Ordering;

#[actix_web::test]
async fn health_readiness_metrics_and_openapi() {
    let state = state().await;
    let app = app!(state);
    let (status, body) = send(&app, TestRequest::get().uri("/healthz").to_request()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({"status": "ok"})));
    assert_eq!(
        send(&app, TestRequest::get().uri("/readyz").to_request())
            .await
            .0,
        StatusCode::OK
    );
    state.broker_up.store(false, Ordering::Relaxed);
    let (status, body) = send(&app, TestRequest::get().uri("/readyz").to_request()).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(body["error"], "not_ready");

    // prometheus-client omits a label family until it has a series: count one message first.
    state.runtime.telemetry().accepted("mqtt", "telemetry");
    let response = test::call_service(&app, TestRequest::get().uri("/metrics").to_request()).await;
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "text/plain; version=0.0.4"
    );
    let text = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
    assert!(text.contains("centinela_ingest_messages"), "{text}");

    let (status, doc) = send(
        &app,
        TestRequest::get().uri("/api/openapi.json").to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(doc["paths"]["/api/devices/{id}/metrics"]["get"]["summary"].is_string());
    assert!(doc["paths"]["/api/alerts/{id}/status"]["patch"].is_object());
}

#[actix_web::test]
async fn malformed_input_answers_400_in_the_contract_format() {
    let state = state().await;
    let app = app!(state);
    let req = TestRequest::post()
        .uri("/api/auth/login")
        .insert_header(("content-type", "application/json"))
        .set_payload("{\"email\": ")
        .to_request();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request");
    assert!(body["message"].is_string());
    let req = TestRequest::post()
        .uri("/api/auth/login")
        .set_json(json!({"email": "a@b.c"}))
        .to_request();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "password");
}

#[actix_web::test]
async fn agents_trade_a_device_token_and_csr_for_a_certificate() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "Cliente", "basic").await;
    let (device_id, token) = device(&store, tenant, site, "PC").await;
    let app = app!(state);
    let csr = "-----BEGIN CERTIFICATE REQUEST-----\nabc\n-----END CERTIFICATE REQUEST-----\n";
    let req = authed(TestRequest::post().uri("/api/agents/certificate"), &token)
        .set_json(json!({"csr": csr}));
    let (status, body) = send(&app, req.to_request()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(
        body["certificate"]
            .as_str()
            .unwrap()
            .contains(&device_id.simple().to_string())
    );
    assert!(body["ca_certificate"].is_string());
    assert_eq!(body["mqtt"], json!({"host": "localhost", "port": 8883}));

    let req = authed(TestRequest::post().uri("/api/agents/certificate"), &token)
        .set_json(json!({"csr": "garbage"}));
    let (status, body) = send(&app, req.to_request()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "invalid_csr");
    let req = authed(TestRequest::post().uri("/api/agents/certificate"), "wrong")
        .set_json(json!({"csr": csr}));
    assert_eq!(
        send(&app, req.to_request()).await.0,
        StatusCode::UNAUTHORIZED
    );
}
