//! Sessions and their guards: tokens checked against the user, logout (one session or all) and
//! the NOC sockets it closes, renewal in place, refresh reuse, login limits, password hashing
//! slots; and the other hardening of issue 10 the API owns (router moves, script approval, the
//! plan limit under parallel creations, CSV leads, `online` from presence).

use crate::app;
use crate::helpers::{
    authed, device, execute, send, serve, state, state_with, tenant_with_site, user,
};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use centinela_model::payload::AgentMessage;
use centinela_model::{DeviceId, Scope};
use centinela_storage::logs::{self, LogLine};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

fn login_req(email: &str, password: &str) -> TestRequest {
    TestRequest::post()
        .uri("/api/auth/login")
        .set_json(json!({"email": email, "password": password}))
}

fn refresh_req(refresh: &Value) -> TestRequest {
    TestRequest::post()
        .uri("/api/auth/refresh")
        .set_json(json!({"refresh_token": refresh}))
}

fn me(token: &str) -> TestRequest {
    authed(TestRequest::get().uri("/api/auth/me"), token)
}

fn token(pair: &Value) -> String {
    pair["access_token"].as_str().unwrap().to_owned()
}

async fn noc(addr: SocketAddr, token: &str) -> Ws {
    let url = format!("ws://{addr}/ws/noc?access_token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("noc");
    let ready = next_json(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(ready.expect("ready")["type"], "ready");
    ws
}

/// The next text message as JSON (`None` on timeout, close or error).
async fn next_json(ws: &mut Ws, limit: Duration) -> Option<Value> {
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await.ok()??.ok()? {
            Message::Text(text) => return serde_json::from_str(&text).ok(),
            Message::Close(_) => return None,
            _ => {}
        }
    }
}

/// Reads until the server closes; returns its close code and every text message before it.
async fn close_code(ws: &mut Ws, limit: Duration) -> (Option<u16>, Vec<String>) {
    let deadline = Instant::now() + limit;
    let mut texts = Vec::new();
    loop {
        let Some(left) = deadline.checked_duration_since(Instant::now()) else {
            return (None, texts);
        };
        match tokio::time::timeout(left, ws.next()).await {
            Ok(Some(Ok(Message::Close(frame)))) => {
                return (frame.map(|f| u16::from(f.code)), texts);
            }
            Ok(Some(Ok(Message::Text(text)))) => texts.push(text.to_string()),
            Ok(Some(Ok(_))) => {}
            Ok(Some(Err(_)) | None) | Err(_) => return (None, texts),
        }
    }
}

/// A socket is alive when it answers a subscription.
async fn answers(ws: &mut Ws) -> bool {
    let subscribe = json!({"type": "subscribe", "device_ids": []}).to_string();
    if ws.send(Message::text(subscribe)).await.is_err() {
        return false;
    }
    let deadline = Instant::now() + Duration::from_secs(2);
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match next_json(ws, left).await {
            Some(v) if v["type"] == "subscribed" => return true,
            Some(_) => {}
            None => return false,
        }
    }
    false
}

#[actix_web::test]
async fn tokens_of_a_deactivated_or_changed_user_are_refused_at_once() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let tec = user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let ana = user(&store, "ana@msp.test", "Secreto123!", "technician", None).await;
    let app = app!(state);
    let (_, pair) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let tec_token = token(&pair);
    let (_, pair) = send(&app, login_req("ana@msp.test", "Secreto123!").to_request()).await;
    let ana_token = token(&pair);
    let ana_refresh = pair["refresh_token"].clone();
    assert_eq!(
        send(&app, me(&tec_token).to_request()).await.0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, me(&ana_token).to_request()).await.0,
        StatusCode::OK
    );

    execute(&store, "UPDATE users SET active = false WHERE id = $1", tec).await;
    let (status, body) = send(&app, me(&tec_token).to_request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "deactivated: {body}");
    assert_eq!(body["error"], "unauthorized");

    execute(&store, "UPDATE users SET role = 'admin' WHERE id = $1", ana).await;
    let (status, _) = send(&app, me(&ana_token).to_request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "role changed");
    let (status, _) = send(&app, refresh_req(&ana_refresh).to_request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "its refresh token too");
    let (status, pair) = send(&app, login_req("ana@msp.test", "Secreto123!").to_request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        pair["user"]["role"], "admin",
        "a new login carries the new role"
    );
    assert_eq!(
        send(&app, me(&token(&pair)).to_request()).await.0,
        StatusCode::OK
    );

    execute(&store, "DELETE FROM users WHERE id = $1", ana).await;
    assert_eq!(
        send(&app, me(&token(&pair)).to_request()).await.0,
        StatusCode::UNAUTHORIZED,
        "deleted"
    );
}

#[actix_web::test]
async fn a_reused_refresh_token_revokes_its_whole_family_only() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let app = app!(state);
    let (_, first) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let (_, other) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let (status, second) = send(&app, refresh_req(&first["refresh_token"]).to_request()).await;
    assert_eq!(status, StatusCode::OK, "{second}");
    assert_eq!(
        send(&app, me(&token(&second)).to_request()).await.0,
        StatusCode::OK
    );

    let (status, body) = send(&app, refresh_req(&first["refresh_token"]).to_request()).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "reuse: {body}");
    let (status, _) = send(&app, refresh_req(&second["refresh_token"]).to_request()).await;
    assert_eq!(
        status,
        StatusCode::UNAUTHORIZED,
        "the rotated one is revoked too"
    );
    for access in [token(&first), token(&second)] {
        assert_eq!(
            send(&app, me(&access).to_request()).await.0,
            StatusCode::UNAUTHORIZED
        );
    }
    assert_eq!(
        send(&app, me(&token(&other)).to_request()).await.0,
        StatusCode::OK,
        "another session of the same user is not that family"
    );
    let (status, _) = send(&app, refresh_req(&other["refresh_token"]).to_request()).await;
    assert_eq!(status, StatusCode::OK);
    let metrics = state.runtime.telemetry().encode();
    assert!(
        metrics.contains("centinela_auth_refused_total{reason=\"refresh_reuse\"} 1"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn logout_closes_the_sessions_noc_sockets_and_all_ends_every_session() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let addr = serve(&state);
    let app = app!(state);
    let (_, first) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let (_, second) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let (_, third) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let mut ws_first = noc(addr, &token(&first)).await;
    let mut ws_second = noc(addr, &token(&second)).await;

    let logout = authed(TestRequest::post().uri("/api/auth/logout"), &token(&first));
    assert_eq!(
        send(&app, logout.to_request()).await.0,
        StatusCode::NO_CONTENT
    );
    // An alert published after the logout must not reach the closed socket.
    state.runtime.hub().do_send(centinela_actors::NocEvent {
        tenant_id: centinela_model::TenantId(uuid::Uuid::new_v4()),
        device_id: None,
        site_id: None,
        owner_id: None,
        subscription_only: false,
        not_for_requesters: false,
        json: json!({"type": "alert", "event": "opened", "alert": {}})
            .to_string()
            .into(),
    });
    let (code, texts) = close_code(&mut ws_first, Duration::from_secs(3)).await;
    assert_eq!(code, Some(4002), "closed as session ended");
    assert!(
        texts.iter().all(|t| !t.contains("\"alert\"")),
        "no alert after logout: {texts:?}"
    );
    assert_eq!(
        send(&app, me(&token(&first)).to_request()).await.0,
        StatusCode::UNAUTHORIZED
    );
    assert!(
        answers(&mut ws_second).await,
        "another session's socket stays"
    );
    assert_eq!(
        send(&app, me(&token(&second)).to_request()).await.0,
        StatusCode::OK
    );

    let all = authed(
        TestRequest::post().uri("/api/auth/logout?all=true"),
        &token(&third),
    );
    assert_eq!(send(&app, all.to_request()).await.0, StatusCode::NO_CONTENT);
    let (code, _) = close_code(&mut ws_second, Duration::from_secs(3)).await;
    assert_eq!(code, Some(4002));
    for pair in [&second, &third] {
        assert_eq!(
            send(&app, me(&token(pair)).to_request()).await.0,
            StatusCode::UNAUTHORIZED
        );
        let (status, _) = send(&app, refresh_req(&pair["refresh_token"]).to_request()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
}

#[actix_web::test]
async fn a_noc_socket_renewed_in_place_outlives_its_first_token_and_a_silent_one_closes_4001() {
    let state = state_with(|auth| auth.access_ttl = Duration::from_secs(3)).await;
    let store = state.runtime.store().clone();
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let addr = serve(&state);
    let app = app!(state);
    let (_, pair) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let mut renewing = noc(addr, &token(&pair)).await;
    let mut silent = noc(addr, &token(&pair)).await;

    // Renew a second and a half in: the new token expires at least a second later.
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let (status, renewed) = send(&app, refresh_req(&pair["refresh_token"]).to_request()).await;
    assert_eq!(status, StatusCode::OK, "{renewed}");
    let auth = json!({"type": "auth", "access_token": token(&renewed)}).to_string();
    renewing.send(Message::text(auth)).await.unwrap();
    let answer = next_json(&mut renewing, Duration::from_secs(2)).await;
    assert_eq!(answer.expect("renewal answer")["type"], "renewed");

    let (code, _) = close_code(&mut silent, Duration::from_secs(4)).await;
    assert_eq!(
        code,
        Some(4001),
        "closed at expiry with the documented code"
    );
    assert!(
        answers(&mut renewing).await,
        "the renewed socket is open past the first token's expiry"
    );
    let (code, _) = close_code(&mut renewing, Duration::from_secs(5)).await;
    assert_eq!(code, Some(4001), "and closes at the renewed token's expiry");
}

#[actix_web::test]
async fn a_renewal_with_another_users_token_is_refused() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    user(&store, "ana@msp.test", "Secreto123!", "technician", None).await;
    let addr = serve(&state);
    let app = app!(state);
    let (_, tec) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let (_, ana) = send(&app, login_req("ana@msp.test", "Secreto123!").to_request()).await;
    let mut ws = noc(addr, &token(&tec)).await;
    let auth = json!({"type": "auth", "access_token": token(&ana)}).to_string();
    ws.send(Message::text(auth)).await.unwrap();
    let (code, _) = close_code(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(code, Some(4003));
}

#[actix_web::test]
async fn logins_are_limited_per_address_whatever_the_email() {
    let state = state_with(|auth| auth.login_failures_per_address = 3).await;
    let store = state.runtime.store().clone();
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let app = app!(state);
    let from = |email: &str, password: &str, peer: &str| {
        TestRequest::post()
            .uri("/api/auth/login")
            .peer_addr(peer.parse().unwrap())
            .set_json(json!({"email": email, "password": password}))
            .to_request()
    };
    for n in 0..3 {
        let email = format!("nadie{n}@msp.test");
        let (status, _) = send(&app, from(&email, "x", "203.0.113.7:4000")).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let (status, body) = send(
        &app,
        from("tec@msp.test", "Secreto123!", "203.0.113.7:4001"),
    )
    .await;
    assert_eq!(status, StatusCode::TOO_MANY_REQUESTS, "{body}");
    assert_eq!(body["error"], "rate_limited");
    assert!(body["message"].is_string());
    let (status, _) = send(
        &app,
        from("tec@msp.test", "Secreto123!", "198.51.100.2:4000"),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "another address is not limited");
    let metrics = state.runtime.telemetry().encode();
    assert!(
        metrics.contains("centinela_auth_refused_total{reason=\"address_limit\"} 1"),
        "{metrics}"
    );
}

#[actix_web::test]
async fn password_hashes_past_the_slots_answer_503_busy() {
    let state = state_with(|auth| {
        auth.password_hash_concurrency = 1;
        auth.password_hash_wait = Duration::ZERO;
    })
    .await;
    let store = state.runtime.store().clone();
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let app = app!(state);
    let attempts = (0..6).map(|n| {
        let peer = format!("10.0.0.{n}:5000");
        let req = TestRequest::post()
            .uri("/api/auth/login")
            .peer_addr(peer.parse().unwrap())
            .set_json(json!({"email": "tec@msp.test", "password": "Secreto123!"}))
            .to_request();
        send(&app, req)
    });
    let results = futures_util::future::join_all(attempts).await;
    let ok = results.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let busy: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::SERVICE_UNAVAILABLE)
        .collect();
    assert!(ok >= 1, "{results:?}");
    assert!(!busy.is_empty(), "one slot, six at once: {results:?}");
    assert_eq!(ok + busy.len(), 6, "{results:?}");
    assert!(busy.iter().all(|(_, b)| b["error"] == "busy"));
}

#[actix_web::test]
async fn moving_a_router_needs_its_credentials_in_the_same_patch() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "Ferretería", "pro").await;
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let app = app!(state);
    let (_, pair) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let tec = token(&pair);
    let body = json!({"tenant_id": tenant, "site_id": site, "name": "borde", "kind": "routeros",
        "routeros": {"host": "10.0.0.1", "port": 8729, "username": "api", "password": "Clave-1", "tls": true}});
    let req = authed(TestRequest::post().uri("/api/devices"), &tec).set_json(body);
    let (status, created) = send(&app, req.to_request()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["device"]["id"].as_str().unwrap().to_owned();
    let patch = |routeros: Value| {
        authed(
            TestRequest::patch().uri(&format!("/api/devices/{id}")),
            &tec,
        )
        .set_json(json!({"routeros": routeros}))
        .to_request()
    };
    for alone in [
        json!({"host": "198.51.100.9"}),
        json!({"port": 8728}),
        json!({"tls": false}),
        json!({"verify_tls": false}),
        json!({"host": "198.51.100.9", "username": "api"}),
    ] {
        let (status, body) = send(&app, patch(alone.clone())).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{alone}: {body}");
        let field = body["field"].as_str().unwrap_or_default();
        assert!(
            field == "routeros.username" || field == "routeros.password",
            "{body}"
        );
    }
    let req = authed(TestRequest::get().uri(&format!("/api/devices/{id}")), &tec);
    let (_, view) = send(&app, req.to_request()).await;
    assert_eq!(view["routeros"]["host"], "10.0.0.1", "nothing moved");
    let moved = json!({"host": "198.51.100.9", "port": 8728, "tls": false,
        "username": "api", "password": "Clave-2"});
    let (status, view) = send(&app, patch(moved)).await;
    assert_eq!(status, StatusCode::OK, "{view}");
    assert_eq!(view["routeros"]["host"], "198.51.100.9");
    assert_eq!(view["routeros"]["tls"], false);
}

#[actix_web::test]
async fn approving_a_script_needs_the_reviewed_updated_at() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(&store, "admin@msp.test", "Secreto123!", "admin", None).await;
    let app = app!(state);
    let (_, pair) = send(
        &app,
        login_req("admin@msp.test", "Secreto123!").to_request(),
    )
    .await;
    let admin = token(&pair);
    let new = json!({"name": "Limpiar temporales", "interpreter": "powershell",
        "body": "Remove-Item $env:TEMP\\* -Recurse"});
    let req = authed(TestRequest::post().uri("/api/scripts"), &admin).set_json(new);
    let (status, script) = send(&app, req.to_request()).await;
    assert_eq!(status, StatusCode::CREATED, "{script}");
    let id = script["id"].as_str().unwrap().to_owned();
    let approve = |body: Value| {
        authed(
            TestRequest::post().uri(&format!("/api/scripts/{id}/approve")),
            &admin,
        )
        .set_json(body)
        .to_request()
    };
    let (status, body) = send(&app, approve(json!({}))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["field"], "updated_at");
    let reviewed = script["updated_at"].clone();
    let change = json!({"body": "Remove-Item C:\\* -Recurse"});
    let req = authed(
        TestRequest::patch().uri(&format!("/api/scripts/{id}")),
        &admin,
    );
    assert_eq!(
        send(&app, req.set_json(change).to_request()).await.0,
        StatusCode::OK
    );
    let (status, body) = send(&app, approve(json!({"updated_at": reviewed}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "stale review: {body}");
    let req = authed(
        TestRequest::get().uri(&format!("/api/scripts/{id}")),
        &admin,
    );
    let (_, current) = send(&app, req.to_request()).await;
    let (status, body) = send(&app, approve(json!({"updated_at": current["updated_at"]}))).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

#[actix_web::test]
async fn the_plan_limit_holds_under_twenty_parallel_creations() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "Básico", "basic").await;
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let app = app!(state);
    let (_, pair) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let tec = token(&pair);
    let creations = (0..20).map(|n| {
        let body = json!({"tenant_id": tenant, "site_id": site, "name": format!("PC-{n}"),
            "kind": "agent"});
        let req = authed(TestRequest::post().uri("/api/devices"), &tec).set_json(body);
        send(&app, req.to_request())
    });
    let results = futures_util::future::join_all(creations).await;
    let created = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::CREATED)
        .count();
    let refused: Vec<_> = results
        .iter()
        .filter(|(s, _)| *s == StatusCode::PAYMENT_REQUIRED)
        .collect();
    assert_eq!((created, refused.len()), (5, 15), "{results:?}");
    assert!(refused.iter().all(|(_, b)| b["error"] == "plan_limit"));
    let req = authed(TestRequest::get().uri("/api/devices"), &tec);
    let (_, list) = send(&app, req.to_request()).await;
    assert_eq!(list.as_array().unwrap().len(), 5);
}

#[actix_web::test]
async fn csv_cells_leading_with_tab_or_cr_are_neutralised() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "A", "pro").await;
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let (dev, _) = device(&store, tenant, site, "R1").await;
    let line = |message: &str| LogLine {
        ts: chrono::Utc::now(),
        tenant_id: tenant,
        device_id: dev,
        level: "info".into(),
        source: "system,info".into(),
        message: message.into(),
    };
    let mut tx = store.begin(Scope::All).await.unwrap();
    let lines = [line("\t=cmd|' /C calc'!A0"), line("\r@SUM(1+1)")];
    logs::insert_many(&mut tx, &lines).await.unwrap();
    tx.commit().await.unwrap();
    let app = app!(state);
    let (_, pair) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let uri = format!("/api/devices/{dev}/logs?format=csv");
    let response = actix_web::test::call_service(
        &app,
        authed(TestRequest::get().uri(&uri), &token(&pair)).to_request(),
    )
    .await;
    assert_eq!(response.status(), StatusCode::OK);
    let csv = String::from_utf8(actix_web::test::read_body(response).await.to_vec()).unwrap();
    assert!(csv.contains(",'\t=cmd"), "{csv:?}");
    assert!(csv.contains(",\"'\r@SUM(1+1)\""), "{csv:?}");
}

#[actix_web::test]
async fn online_in_the_device_list_is_the_presence_detectors_verdict() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "A", "pro").await;
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let (heard, _) = device(&store, tenant, site, "PC-oída").await;
    let (stale, _) = device(&store, tenant, site, "PC-callada").await;
    // Seen a minute ago per the database, but never heard by this engine's detector: a fixed
    // five-minute window would call it online.
    execute(
        &store,
        "UPDATE devices SET last_seen_at = now() - interval '1 minute' WHERE id = $1",
        stale,
    )
    .await;
    let heartbeat = AgentMessage::Heartbeat {
        ts: chrono::Utc::now(),
        dropped: 0,
    };
    state
        .runtime
        .ingest(DeviceId(heard), heartbeat)
        .await
        .unwrap();
    let app = app!(state);
    let (_, pair) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let req = authed(TestRequest::get().uri("/api/devices"), &token(&pair));
    let (_, list) = send(&app, req.to_request()).await;
    let online = |id: uuid::Uuid| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|d| d["id"] == id.to_string())
            .map(|d| d["online"].clone())
    };
    assert_eq!(online(heard), Some(json!(true)), "{list}");
    assert_eq!(online(stale), Some(json!(false)), "{list}");
}

#[actix_web::test]
async fn a_deactivated_users_noc_socket_closes_within_the_session_check() {
    let state = state_with(|auth| auth.noc_session_check = Duration::from_millis(200)).await;
    let store = state.runtime.store().clone();
    let tec = user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    user(&store, "ana@msp.test", "Secreto123!", "technician", None).await;
    let addr = serve(&state);
    let app = app!(state);
    let (_, tec_pair) = send(&app, login_req("tec@msp.test", "Secreto123!").to_request()).await;
    let (_, ana_pair) = send(&app, login_req("ana@msp.test", "Secreto123!").to_request()).await;
    let mut tec_ws = noc(addr, &token(&tec_pair)).await;
    let mut ana_ws = noc(addr, &token(&ana_pair)).await;
    execute(&store, "UPDATE users SET active = false WHERE id = $1", tec).await;
    let (code, _) = close_code(&mut tec_ws, Duration::from_secs(3)).await;
    assert_eq!(code, Some(4002));
    assert!(answers(&mut ana_ws).await, "other users' sockets stay");
}
