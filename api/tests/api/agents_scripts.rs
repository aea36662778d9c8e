//! Agent enrollment (site key, plan limit, rate limit) and remote scripts (approval, roles,
//! signed runs handed to the transports, results matched to their run).

use crate::helpers::{authed, device, send, state, tenant_with_site, user};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use centinela_actors::CommandSink;
use centinela_model::payload::AgentMessage;
use centinela_model::{DeviceId, Scope};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Captured(Mutex<Vec<(DeviceId, String)>>);

impl CommandSink for Captured {
    fn deliver(&self, device: DeviceId, message: &str) -> bool {
        self.0.lock().unwrap().push((device, message.to_owned()));
        true
    }
}

async fn site_key(store: &centinela_storage::Store, site: uuid::Uuid) -> String {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let key = centinela_storage::sites::get(&mut tx, site)
        .await
        .unwrap()
        .site_key;
    tx.commit().await.unwrap();
    key
}

#[actix_web::test]
async fn agents_enroll_with_a_site_key_within_the_plan() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "Clínica Ñ", "basic").await;
    let key = site_key(&store, site).await;
    let app = app!(state);
    let enroll = |body: Value| {
        TestRequest::post()
            .uri("/api/agents/enroll")
            .peer_addr("10.1.2.3:5555".parse().unwrap())
            .set_json(body)
            .to_request()
    };
    let (status, body) = send(
        &app,
        enroll(json!({"site_key": key, "hostname": "PC-Recepción", "hardware": {"os": "Linux"}})),
    )
    .await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["device_key"].as_str().unwrap().len(), 32);
    assert!(body["device_token"].as_str().unwrap().len() >= 32);
    assert_eq!(body["mqtt"]["port"], 8883);
    assert_eq!(body["intervals"]["heartbeat_s"], 30);
    assert_eq!(body["command_public_key"], "dGVzdC1wdWJsaWMta2V5");
    assert!(body["ws_url"].as_str().unwrap().ends_with("/ws/agent"));
    let mut tx = store.begin(Scope::All).await.unwrap();
    let identity = centinela_storage::devices::identity(
        &mut tx,
        body["device_id"].as_str().unwrap().parse().unwrap(),
    )
    .await
    .unwrap()
    .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        (identity.tenant_id, identity.site_id, identity.heartbeat_s),
        (tenant, site, Some(30))
    );

    let (status, body) = send(&app, enroll(json!({"site_key": key, "hostname": ""}))).await;
    assert_eq!(
        (status, body["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("hostname"))
    );
    for n in 0..4 {
        let (status, _) = send(
            &app,
            enroll(json!({"site_key": key, "hostname": format!("PC-{n}")})),
        )
        .await;
        assert_eq!(status, StatusCode::CREATED);
    }
    let (status, body) = send(&app, enroll(json!({"site_key": key, "hostname": "PC-6"}))).await;
    assert_eq!(
        (status, body["error"].as_str()),
        (StatusCode::PAYMENT_REQUIRED, Some("plan_limit"))
    );

    // Guessing site keys: 404, then 429 for that address.
    let mut statuses = Vec::new();
    for _ in 0..6 {
        statuses.push(
            send(
                &app,
                enroll(json!({"site_key": "adivinanza", "hostname": "x"})),
            )
            .await
            .0,
        );
    }
    assert_eq!(statuses[0], StatusCode::NOT_FOUND);
    assert_eq!(*statuses.last().unwrap(), StatusCode::TOO_MANY_REQUESTS);
}

#[actix_web::test]
async fn scripts_need_approval_and_runs_are_signed_delivered_and_finished_once() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let captured = Arc::new(Captured::default());
    state.runtime.add_command_sink(captured.clone());
    let (tenant, site) = tenant_with_site(&store, "A", "pro").await;
    let (other, other_site) = tenant_with_site(&store, "B", "pro").await;
    user(&store, "admin@msp.test", "Secreto123!", "admin", None).await;
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    user(&store, "r@a.test", "Secreto123!", "requester", Some(tenant)).await;
    user(
        &store,
        "b@b.test",
        "Secreto123!",
        "client_admin",
        Some(other),
    )
    .await;
    let (pc, _) = device(&store, tenant, site, "PC-1").await;
    let (other_pc, _) = device(&store, other, other_site, "PC-B").await;
    let app = app!(state);
    let admin = login!(app, "admin@msp.test", "Secreto123!");
    let tec = login!(app, "tec@msp.test", "Secreto123!");
    let requester = login!(app, "r@a.test", "Secreto123!");
    let b = login!(app, "b@b.test", "Secreto123!");
    let post = |token: &str, uri: &str, body: Value| {
        authed(TestRequest::post().uri(uri), token)
            .set_json(body)
            .to_request()
    };

    let (status, err) = send(
        &app,
        post(
            &tec,
            "/api/scripts",
            json!({"name": "x", "interpreter": "cmd", "body": "dir"}),
        ),
    )
    .await;
    assert_eq!(
        (status, err["field"].as_str()),
        (StatusCode::BAD_REQUEST, Some("interpreter"))
    );
    let (status, _) = send(
        &app,
        post(
            &requester,
            "/api/scripts",
            json!({"name": "x", "interpreter": "sh", "body": "id"}),
        ),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, script) = send(&app, post(&tec, "/api/scripts", json!({"name": "Limpiar temporales", "interpreter": "bash", "body": "echo limpio", "timeout_s": 30}))).await;
    assert_eq!(status, StatusCode::CREATED, "{script}");
    assert!(script["approved_at"].is_null());
    let id = script["id"].as_str().unwrap().to_owned();

    let run_uri = format!("/api/scripts/{id}/run");
    let (status, _) = send(&app, post(&tec, &run_uri, json!({"device_id": pc}))).await;
    assert_eq!(status, StatusCode::CONFLICT, "unapproved scripts never run");
    let (status, _) = send(
        &app,
        post(&tec, &format!("/api/scripts/{id}/approve"), json!({})),
    )
    .await;
    assert_eq!(status, StatusCode::FORBIDDEN, "technicians cannot approve");
    // An admin who reviewed an older version cannot approve what changed since.
    let reviewed = script["updated_at"].clone();
    let req = authed(
        TestRequest::patch().uri(&format!("/api/scripts/{id}")),
        &tec,
    )
    .set_json(json!({"body": "echo limpio"}))
    .to_request();
    let (_, script) = send(&app, req).await;
    let stale = json!({"updated_at": reviewed});
    let (status, _) = send(
        &app,
        post(&admin, &format!("/api/scripts/{id}/approve"), stale),
    )
    .await;
    assert_eq!(
        status,
        StatusCode::CONFLICT,
        "approving a body nobody reviewed"
    );
    let seen = json!({"updated_at": script["updated_at"]});
    let (status, approved) = send(
        &app,
        post(&admin, &format!("/api/scripts/{id}/approve"), seen),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(approved["approved_by"].is_string() && approved["approved_at"].is_string());

    let (status, _) = send(&app, post(&requester, &run_uri, json!({"device_id": pc}))).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let req = authed(TestRequest::get().uri("/api/scripts"), &requester).to_request();
    let (status, listed) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        listed[0]["name"], "Limpiar temporales",
        "global scripts are listed for tenants"
    );
    assert!(
        listed[0].get("body").is_none(),
        "but their bodies are staff-only"
    );
    let (status, _) = send(&app, post(&b, &run_uri, json!({"device_id": pc}))).await;
    assert_eq!(
        status,
        StatusCode::NOT_FOUND,
        "another tenant's device is invisible"
    );
    let (status, accepted) = send(&app, post(&tec, &run_uri, json!({"device_id": pc}))).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{accepted}");
    assert_eq!(accepted["delivered_via"], 1);
    assert_eq!(accepted["run"]["status"], "sent");
    let run_id = accepted["run"]["id"].as_str().unwrap().to_owned();

    let (to, message) = captured.0.lock().unwrap().last().cloned().unwrap();
    assert_eq!(to, DeviceId(pc));
    let message: Value = serde_json::from_str(&message).unwrap();
    let payload: Value = serde_json::from_str(message["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload["command_id"], run_id.as_str());
    assert_eq!(payload["device_key"], DeviceId(pc).key());
    assert_eq!(payload["script"]["body"], "echo limpio");
    assert!(payload["approved_by"].is_string() && payload["expires_at"].is_string());
    assert!(message["signature"].is_string());

    // Changing the body withdraws the approval.
    let req = authed(
        TestRequest::patch().uri(&format!("/api/scripts/{id}")),
        &tec,
    )
    .set_json(json!({"body": "rm -rf /tmp/x"}))
    .to_request();
    let (status, changed) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert!(changed["approved_at"].is_null());
    let (status, _) = send(&app, post(&tec, &run_uri, json!({"device_id": other_pc}))).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // Results: another device's claim is refused; the right one lands once.
    let result = json!({"command_id": run_id, "status": "completed", "exit_code": 0, "stdout": "limpio\n", "stderr": "", "duration_ms": 15});
    state
        .runtime
        .ingest(
            DeviceId(other_pc),
            AgentMessage::CommandResult {
                result: result.clone(),
            },
        )
        .await
        .unwrap();
    let req = authed(
        TestRequest::get().uri(&format!("/api/script-runs/{run_id}")),
        &tec,
    )
    .to_request();
    assert_eq!(send(&app, req).await.1["status"], "sent");
    state
        .runtime
        .ingest(DeviceId(pc), AgentMessage::CommandResult { result })
        .await
        .unwrap();
    let replay = json!({"command_id": run_id, "status": "failed", "exit_code": 1, "stdout": "", "stderr": "x", "duration_ms": 1});
    state
        .runtime
        .ingest(DeviceId(pc), AgentMessage::CommandResult { result: replay })
        .await
        .unwrap();
    let req = authed(
        TestRequest::get().uri(&format!("/api/script-runs?device_id={pc}")),
        &tec,
    )
    .to_request();
    let (status, runs) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(runs[0]["status"], "completed");
    assert_eq!(runs[0]["stdout"], "limpio\n");
    assert_eq!(runs[0]["exit_code"], 0);
    let req = authed(
        TestRequest::get().uri(&format!("/api/script-runs/{run_id}")),
        &b,
    )
    .to_request();
    assert_eq!(send(&app, req).await.0, StatusCode::NOT_FOUND);
}

#[actix_web::test]
async fn a_heartbeat_reporting_dropped_items_leaves_a_line_in_the_device_log() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "A", "pro").await;
    user(&store, "tec@msp.test", "Secreto123!", "technician", None).await;
    let (pc, _) = device(&store, tenant, site, "PC-1").await;
    let heartbeat = AgentMessage::Heartbeat {
        ts: chrono::Utc::now(),
        dropped: 42,
    };
    state.runtime.ingest(DeviceId(pc), heartbeat).await.unwrap();
    state.runtime.writer().flush().await.unwrap();
    let app = app!(state);
    let tec = login!(app, "tec@msp.test", "Secreto123!");
    let req = authed(
        TestRequest::get().uri(&format!("/api/devices/{pc}/logs")),
        &tec,
    )
    .to_request();
    let (_, logs) = send(&app, req).await;
    let lines = logs["logs"].as_array().unwrap();
    assert_eq!(lines.len(), 1, "{logs}");
    assert!(lines[0]["message"].as_str().unwrap().contains("42"));
    assert_eq!(lines[0]["level"], "warning");
}
