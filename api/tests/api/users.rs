//! The users API: role rules per endpoint, the last superadmin, own-role changes, validation,
//! and the effect of a deactivation or deletion on live tokens and NOC sockets.

use crate::helpers::{authed, send, serve, state, state_with, tenant_with_site, user};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use centinela_model::Scope;
use centinela_storage::{Store, users};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use uuid::Uuid;

const PASSWORD: &str = "Secreto123!";

/// A requester of `tenant` on `sites`, created in storage.
pub async fn requester(store: &Store, email: &str, tenant: Uuid, sites: &[Uuid]) -> Uuid {
    let id = user(store, email, PASSWORD, "requester", Some(tenant)).await;
    let mut tx = store.begin(Scope::All).await.unwrap();
    users::set_sites(&mut tx, id, tenant, sites).await.unwrap();
    tx.commit().await.unwrap();
    id
}

fn post(token: &str, body: Value) -> TestRequest {
    authed(TestRequest::post().uri("/api/users"), token).set_json(body)
}

fn patch(token: &str, id: impl std::fmt::Display, body: Value) -> TestRequest {
    authed(TestRequest::patch().uri(&format!("/api/users/{id}")), token).set_json(body)
}

fn get(token: &str, uri: &str) -> TestRequest {
    authed(TestRequest::get().uri(uri), token)
}

fn new_user(email: &str, role: &str, tenant: Option<Uuid>, sites: &[Uuid]) -> Value {
    json!({"email": email, "name": "José Núñez Güemes", "role": role, "tenant_id": tenant,
           "site_ids": sites, "password": PASSWORD})
}

#[actix_web::test]
async fn each_role_manages_only_the_users_it_may() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "Clínica Ñandú", "pro").await;
    let (other, other_site) = tenant_with_site(&store, "Otra", "pro").await;
    user(&store, "super@msp.test", PASSWORD, "superadmin", None).await;
    user(&store, "admin@msp.test", PASSWORD, "admin", None).await;
    let tec = user(&store, "tec@msp.test", PASSWORD, "technician", None).await;
    let boss = user(
        &store,
        "jefa@cli.test",
        PASSWORD,
        "client_admin",
        Some(tenant),
    )
    .await;
    let sol = requester(&store, "sol@cli.test", tenant, &[site]).await;
    let app = app!(state);
    let sup = login!(app, "super@msp.test", PASSWORD);
    let adm = login!(app, "admin@msp.test", PASSWORD);
    let tec_t = login!(app, "tec@msp.test", PASSWORD);
    let boss_t = login!(app, "jefa@cli.test", PASSWORD);
    let sol_t = login!(app, "sol@cli.test", PASSWORD);

    // Superadmins: only a superadmin creates one.
    let body = new_user("otro.super@msp.test", "superadmin", None, &[]);
    assert_eq!(
        send(&app, post(&adm, body.clone()).to_request()).await.0,
        StatusCode::FORBIDDEN
    );
    let (status, created) = send(&app, post(&sup, body).to_request()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["user"]["name"], "José Núñez Güemes");
    assert!(created["user"].get("password_hash").is_none());
    assert!(!created.to_string().contains("argon2"), "{created}");
    // An admin creates a technician; promoting a user to superadmin is a superadmin's.
    let (status, made) = send(
        &app,
        post(&adm, new_user("tec2@msp.test", "technician", None, &[])).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    let tec2 = made["user"]["id"].as_str().unwrap().to_owned();
    let promote = json!({"role": "superadmin"});
    assert_eq!(
        send(&app, patch(&adm, &tec2, promote.clone()).to_request())
            .await
            .0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, patch(&sup, &tec2, promote).to_request()).await.0,
        StatusCode::OK
    );

    // A technician reads everyone, creates and edits requesters only.
    let (status, list) = send(&app, get(&tec_t, "/api/users").to_request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 7, "{list}");
    let (status, made) = send(
        &app,
        post(
            &tec_t,
            new_user("nuevo.sol@cli.test", "requester", Some(tenant), &[site]),
        )
        .to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["user"]["site_ids"], json!([site]));
    let body = new_user("jefe2@cli.test", "client_admin", Some(tenant), &[]);
    assert_eq!(
        send(&app, post(&tec_t, body).to_request()).await.0,
        StatusCode::FORBIDDEN
    );
    let rename = json!({"name": "Sofía Peña"});
    assert_eq!(
        send(&app, patch(&tec_t, sol, rename.clone()).to_request())
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        send(&app, patch(&tec_t, boss, rename.clone()).to_request())
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // A client_admin: its tenant's client_admins and requesters, nothing else.
    let body = json!({"email": "sol3@cli.test", "name": "Ana", "role": "requester",
                      "site_ids": [site], "password": PASSWORD});
    let (status, made) = send(&app, post(&boss_t, body).to_request()).await;
    assert_eq!(status, StatusCode::CREATED, "{made}");
    assert_eq!(made["user"]["tenant_id"], json!(tenant));
    let foreign = new_user("x@otra.test", "requester", Some(other), &[other_site]);
    assert_eq!(
        send(&app, post(&boss_t, foreign).to_request()).await.0,
        StatusCode::NOT_FOUND
    );
    let staff = new_user("t3@msp.test", "technician", None, &[]);
    assert_eq!(
        send(&app, post(&boss_t, staff).to_request()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(
            &app,
            get(&boss_t, &format!("/api/users/{tec}")).to_request()
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, patch(&boss_t, tec, rename.clone()).to_request())
            .await
            .0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = send(&app, get(&boss_t, "/api/users").to_request()).await;
    assert!(
        list.as_array()
            .unwrap()
            .iter()
            .all(|u| u["tenant_id"] == json!(tenant)),
        "{list}"
    );
    assert_eq!(list.as_array().unwrap().len(), 4, "{list}");

    // A requester reads itself only.
    let (status, me) = send(&app, get(&sol_t, &format!("/api/users/{sol}")).to_request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(me["site_ids"], json!([site]));
    assert_eq!(
        send(
            &app,
            get(&sol_t, &format!("/api/users/{boss}")).to_request()
        )
        .await
        .0,
        StatusCode::NOT_FOUND
    );
    let (_, list) = send(&app, get(&sol_t, "/api/users").to_request()).await;
    assert_eq!(list.as_array().unwrap().len(), 1, "{list}");
    let body = new_user("y@cli.test", "requester", Some(tenant), &[site]);
    assert_eq!(
        send(&app, post(&sol_t, body).to_request()).await.0,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        send(&app, patch(&sol_t, sol, rename).to_request()).await.0,
        StatusCode::FORBIDDEN
    );
    let delete = |token: &str, id: Uuid| {
        authed(
            TestRequest::delete().uri(&format!("/api/users/{id}")),
            token,
        )
        .to_request()
    };
    assert_eq!(
        send(&app, delete(&sol_t, boss)).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        send(&app, delete(&boss_t, sol)).await.0,
        StatusCode::NO_CONTENT
    );

    // Filters: role, tenant, active, q (case-insensitive, literal).
    let (_, list) = send(
        &app,
        get(&adm, "/api/users?role=requester&q=CLI.TEST").to_request(),
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    let (_, list) = send(
        &app,
        get(&adm, &format!("/api/users?tenant_id={other}")).to_request(),
    )
    .await;
    assert_eq!(list, json!([]));
    let (_, list) = send(&app, get(&adm, "/api/users?q=%25").to_request()).await;
    assert_eq!(list, json!([]), "a % is searched literally");
    let (status, body) = send(&app, get(&adm, "/api/users?role=jefe").to_request()).await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("role"))
    );
}

#[actix_web::test]
async fn bad_input_is_refused_naming_the_field() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "Ñandú", "pro").await;
    let (_, other_site) = tenant_with_site(&store, "Otra", "pro").await;
    user(&store, "admin@msp.test", PASSWORD, "admin", None).await;
    let app = app!(state);
    let adm = login!(app, "admin@msp.test", PASSWORD);
    let cases = [
        (json!({"email": "sin-arroba"}), "email"),
        (json!({"password": "corta1"}), "password"),
        (json!({"password": "sololetrasaqui"}), "password"),
        (
            json!({"role": "technician", "tenant_id": tenant, "site_ids": []}),
            "tenant_id",
        ),
        (json!({"role": "requester", "site_ids": []}), "site_ids"),
        (
            json!({"role": "requester", "site_ids": [other_site]}),
            "site_ids",
        ),
        (
            json!({"role": "client_admin", "site_ids": [site]}),
            "site_ids",
        ),
        (
            json!({"role": "client_admin", "tenant_id": null, "site_ids": []}),
            "tenant_id",
        ),
        (json!({"phone": "12"}), "phone"),
        (json!({"name": ""}), "name"),
        (json!({"role": "jefe"}), "role"),
    ];
    for (change, field) in cases {
        let mut body = new_user("nuevo@cli.test", "requester", Some(tenant), &[site]);
        for (k, v) in change.as_object().unwrap() {
            body[k] = v.clone();
        }
        let (status, answer) = send(&app, post(&adm, body).to_request()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{change}: {answer}");
        assert_eq!(answer["field"], field, "{change}: {answer}");
    }
    let body = new_user("Único@Cli.test", "requester", Some(tenant), &[site]);
    assert_eq!(
        send(&app, post(&adm, body).to_request()).await.0,
        StatusCode::CREATED
    );
    let again = new_user("único@cli.TEST", "requester", Some(tenant), &[site]);
    let (status, answer) = send(&app, post(&adm, again).to_request()).await;
    assert_eq!(status, StatusCode::CONFLICT, "{answer}");
}

#[actix_web::test]
async fn the_last_active_superadmin_stays_and_no_one_changes_their_own_role() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let s1 = user(&store, "s1@msp.test", PASSWORD, "superadmin", None).await;
    let s2 = user(&store, "s2@msp.test", PASSWORD, "superadmin", None).await;
    let adm = user(&store, "admin@msp.test", PASSWORD, "admin", None).await;
    let app = app!(state);
    let t1 = login!(app, "s1@msp.test", PASSWORD);
    let t2 = login!(app, "s2@msp.test", PASSWORD);
    let adm_t = login!(app, "admin@msp.test", PASSWORD);

    let own = send(
        &app,
        patch(&adm_t, adm, json!({"role": "technician"})).to_request(),
    )
    .await;
    assert_eq!(own.0, StatusCode::FORBIDDEN, "{}", own.1);
    let off = json!({"active": false});
    assert_eq!(
        send(&app, patch(&adm_t, s2, off.clone()).to_request())
            .await
            .0,
        StatusCode::FORBIDDEN
    );

    // Both superadmins try to deactivate each other at once: exactly one wins.
    let (a, b) = futures_util::join!(
        send(&app, patch(&t1, s2, off.clone()).to_request()),
        send(&app, patch(&t2, s1, off.clone()).to_request())
    );
    let wins = [a.0, b.0].iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(wins, 1, "{a:?} {b:?}");
    let mut tx = store.begin(Scope::All).await.unwrap();
    let left = users::lock_active_superadmins(&mut tx).await.unwrap();
    drop(tx);
    assert_eq!(left.len(), 1);
    let (last, token) = if left[0] == s1 { (s1, &t1) } else { (s2, &t2) };
    for change in [json!({"active": false}), json!({"role": "admin"})] {
        let (status, body) = send(&app, patch(token, last, change.clone()).to_request()).await;
        assert!(
            matches!(status, StatusCode::CONFLICT | StatusCode::FORBIDDEN),
            "{change}: {body}"
        );
    }
    let deleted = authed(
        TestRequest::delete().uri(&format!("/api/users/{last}")),
        token,
    );
    assert_eq!(
        send(&app, deleted.to_request()).await.0,
        StatusCode::CONFLICT
    );
    // With a second active superadmin, the first may go.
    let other = if last == s1 { s2 } else { s1 };
    assert_eq!(
        send(
            &app,
            patch(token, other, json!({"active": true})).to_request()
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        send(
            &app,
            patch(token, other, json!({"role": "admin"})).to_request()
        )
        .await
        .0,
        StatusCode::OK
    );
    assert_eq!(
        send(
            &app,
            patch(token, other, json!({"role": "superadmin"})).to_request()
        )
        .await
        .0,
        StatusCode::OK
    );
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens a NOC socket and waits for `ready`.
pub async fn noc(addr: std::net::SocketAddr, token: &str) -> Ws {
    let url = format!("ws://{addr}/ws/noc?access_token={token}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.expect("noc");
    let ready = next_text(&mut ws, Duration::from_secs(3)).await;
    assert_eq!(ready.expect("ready")["type"], "ready");
    ws
}

/// The next text message as JSON, or the close code as `{"closed": code}`; `None` on timeout.
pub async fn next_text(ws: &mut Ws, limit: Duration) -> Option<Value> {
    use tokio_tungstenite::tungstenite::Message;
    let deadline = Instant::now() + limit;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match tokio::time::timeout(left, ws.next()).await.ok()? {
            Some(Ok(Message::Text(text))) => return serde_json::from_str(&text).ok(),
            Some(Ok(Message::Close(frame))) => {
                return Some(json!({"closed": frame.map(|f| u16::from(f.code))}));
            }
            Some(Ok(_)) => {}
            Some(Err(_)) | None => return Some(json!({"closed": null})),
        }
    }
}

#[actix_web::test]
async fn deactivating_or_deleting_a_user_ends_its_tokens_and_sockets_at_once() {
    // A session check far away: the socket must close because of the change itself.
    let state = state_with(|auth| auth.noc_session_check = Duration::from_secs(600)).await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "Ñandú", "pro").await;
    user(&store, "admin@msp.test", PASSWORD, "admin", None).await;
    let sol = requester(&store, "sol@cli.test", tenant, &[site]).await;
    let tec = user(&store, "tec@msp.test", PASSWORD, "technician", None).await;
    let addr = serve(&state);
    let app = app!(state);
    let adm = login!(app, "admin@msp.test", PASSWORD);
    let sol_t = login!(app, "sol@cli.test", PASSWORD);
    let tec_t = login!(app, "tec@msp.test", PASSWORD);
    let mut sol_ws = noc(addr, &sol_t).await;
    let mut tec_ws = noc(addr, &tec_t).await;
    let me = |token: &str| get(token, "/api/auth/me").to_request();
    assert_eq!(send(&app, me(&sol_t)).await.0, StatusCode::OK);

    let (status, body) = send(
        &app,
        patch(&adm, sol, json!({"active": false})).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["active"], false);
    assert_eq!(send(&app, me(&sol_t)).await.0, StatusCode::UNAUTHORIZED);
    let closed = next_text(&mut sol_ws, Duration::from_secs(3)).await;
    assert_eq!(closed, Some(json!({"closed": 4002})));
    let refused = TestRequest::post()
        .uri("/api/auth/login")
        .set_json(json!({"email": "sol@cli.test", "password": PASSWORD}));
    assert_eq!(
        send(&app, refused.to_request()).await.0,
        StatusCode::UNAUTHORIZED
    );

    let gone = authed(
        TestRequest::delete().uri(&format!("/api/users/{tec}")),
        &adm,
    );
    assert_eq!(
        send(&app, gone.to_request()).await.0,
        StatusCode::NO_CONTENT
    );
    assert_eq!(send(&app, me(&tec_t)).await.0, StatusCode::UNAUTHORIZED);
    let closed = next_text(&mut tec_ws, Duration::from_secs(3)).await;
    assert_eq!(closed, Some(json!({"closed": 4002})));
    assert_eq!(
        send(&app, get(&adm, &format!("/api/users/{tec}")).to_request())
            .await
            .0,
        StatusCode::NOT_FOUND
    );
}
