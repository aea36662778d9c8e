//! Login, refresh, logout, me, and the failure limiter.

use crate::app;
use crate::helpers::{authed, send, state, user};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::json;

#[actix_web::test]
async fn login_me_refresh_and_logout() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let id = user(
        &store,
        "admin@centinela.test",
        "Secreto123!",
        "superadmin",
        None,
    )
    .await;
    let app = app!(state);
    let req = TestRequest::post()
        .uri("/api/auth/login")
        .set_json(json!({"email": "ADMIN@centinela.test", "password": "Secreto123!"}))
        .to_request();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 900);
    assert_eq!(body["user"]["id"], id.to_string());
    assert_eq!(body["user"]["role"], "superadmin");
    assert!(body["user"]["tenant_id"].is_null());
    let access = body["access_token"].as_str().unwrap().to_owned();
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();

    let (status, me) = send(
        &app,
        authed(TestRequest::get().uri("/api/auth/me"), &access).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["email"], "admin@centinela.test");

    let refresh_req = || {
        TestRequest::post()
            .uri("/api/auth/refresh")
            .set_json(json!({"refresh_token": refresh}))
    };
    let (status, renewed) = send(&app, refresh_req().to_request()).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let renewed_access = renewed["access_token"].as_str().unwrap().to_owned();
    let me_with = |token: &str| authed(TestRequest::get().uri("/api/auth/me"), token).to_request();
    assert_eq!(send(&app, me_with(&renewed_access)).await.0, StatusCode::OK);

    // Logout ends the session: its refresh tokens and its access tokens, old and new.
    let (status, _) = send(
        &app,
        authed(TestRequest::post().uri("/api/auth/logout"), &access).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    for token in [&access, &renewed_access] {
        let (status, body) = send(&app, me_with(token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
        assert_eq!(body["error"], "unauthorized");
    }
    let after = json!({"refresh_token": renewed["refresh_token"]});
    let (status, _) = send(
        &app,
        TestRequest::post()
            .uri("/api/auth/refresh")
            .set_json(after)
            .to_request(),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "logout revokes the session's refresh tokens"
    );
}

#[actix_web::test]
async fn wrong_password_is_401_and_repeated_failures_are_429() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(
        &store,
        "tecnico@centinela.test",
        "Correcto123!",
        "technician",
        None,
    )
    .await;
    let app = app!(state);
    let attempt = |password: &str| {
        TestRequest::post()
            .uri("/api/auth/login")
            .set_json(json!({"email": "tecnico@centinela.test", "password": password}))
            .to_request()
    };
    for _ in 0..5 {
        let (status, body) = send(&app, attempt("incorrecto")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["error"], "invalid_credentials");
    }
    let (status, body) = send(&app, attempt("Correcto123!")).await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(body["error"], "rate_limited");

    let (status, body) = send(&app, TestRequest::get().uri("/api/auth/me").to_request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "unauthorized");
    let unknown = TestRequest::post()
        .uri("/api/auth/login")
        .set_json(json!({"email": "nadie@centinela.test", "password": "x"}))
        .to_request();
    let (status, body) = send(&app, unknown).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(body["error"], "invalid_credentials");
}
