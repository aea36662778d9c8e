//! The helpdesk's tickets: the portal flow, the state machine per role, approvals, internal
//! comments (hidden from tenant roles in REST, history, `/ws/noc` and CSV), accent-insensitive
//! search, CSV streaming, categories and technician assignment under concurrency.

use crate::helpers::{authed, send, serve, state, tenant_with_site, user};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use centinela_model::Scope;
use centinela_storage::{Store, audit, sites};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;
use uuid::Uuid;

const PASSWORD: &str = "Clave-Segura1";

/// Runs SQL with bind parameters as the engine.
async fn sql(store: &Store, query: &'static str, ids: &[Uuid]) {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let mut q = sqlx::query(query);
    for id in ids {
        q = q.bind(*id);
    }
    q.execute(&mut *tx).await.unwrap();
    tx.commit().await.unwrap();
}

async fn second_site(store: &Store, tenant: Uuid) -> Uuid {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let site = sites::NewSite {
        tenant_id: tenant,
        name: "Sucursal Querétaro".into(),
        ..Default::default()
    };
    let site = sites::create(&mut tx, &site).await.unwrap();
    tx.commit().await.unwrap();
    site.id
}

/// The id of a visible category by its name (defaults included).
macro_rules! category {
    ($app:expr, $token:expr, $name:expr) => {{
        let req = authed(
            TestRequest::get().uri("/api/ticket-categories?limit=1000"),
            $token,
        );
        let (status, body) = send(&$app, req.to_request()).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        let found = body
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == $name)
            .unwrap_or_else(|| panic!("no category {}", $name));
        found["id"].as_str().unwrap().to_owned()
    }};
}

macro_rules! call {
    ($app:expr, $token:expr, $req:expr) => {
        send(&$app, authed($req, $token).to_request()).await
    };
}

fn ticket_body(site: Uuid, category: &str, subject: &str) -> Value {
    json!({
        "site_id": site,
        "subject": subject,
        "description": "La cámara de la recepción no enciende; señal perdida desde el lunes.",
        "affected_person": "Ñandú Pérez Güemes",
        "priority": "high",
        "category_id": category,
        "additional_emails": ["jefa.área@clínica.mx"],
    })
}

fn patch(number: &str, body: Value) -> TestRequest {
    TestRequest::patch()
        .uri(&format!("/api/tickets/{number}"))
        .set_json(body)
}

fn comment(number: &str, body: &str, internal: bool) -> TestRequest {
    TestRequest::post()
        .uri(&format!("/api/tickets/{number}/comments"))
        .set_json(json!({"body": body, "internal": internal}))
}

fn get(uri: &str) -> TestRequest {
    TestRequest::get().uri(uri)
}

#[actix_web::test]
async fn the_portal_flow_the_state_machine_and_approvals_per_role() {
    let state = state().await;
    let app = app!(state);
    let (tenant, site) = tenant_with_site(&state.store, "Clínica Ñuñoa", "pro").await;
    let other_site = second_site(&state.store, tenant).await;
    user(&state.store, "admin@msp.mx", PASSWORD, "admin", None).await;
    let tech = user(&state.store, "tecnico@msp.mx", PASSWORD, "technician", None).await;
    user(
        &state.store,
        "cliente@clinica.mx",
        PASSWORD,
        "client_admin",
        Some(tenant),
    )
    .await;
    let req_id = user(
        &state.store,
        "sol@clinica.mx",
        PASSWORD,
        "requester",
        Some(tenant),
    )
    .await;
    sql(
        &state.store,
        "INSERT INTO user_sites (user_id, site_id, tenant_id) VALUES ($1, $2, $3)",
        &[req_id, site, tenant],
    )
    .await;
    let admin = login!(app, "admin@msp.mx", PASSWORD);
    let tecnico = login!(app, "tecnico@msp.mx", PASSWORD);
    let cliente = login!(app, "cliente@clinica.mx", PASSWORD);
    let sol = login!(app, "sol@clinica.mx", PASSWORD);
    let hardware = category!(app, &sol, "Hardware");

    // Portal creation by a requester on its site: contact filled, assigned by the rule.
    let body = ticket_body(site, &hardware, "Cámara sin señal — recepción");
    let (status, created) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&body)
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let t = &created["ticket"];
    assert_eq!(t["affected_person_contact"], "sol@clinica.mx");
    assert_eq!(t["affected_person"], "Ñandú Pérez Güemes");
    assert_eq!(t["additional_emails"], json!(["jefa.área@clínica.mx"]));
    assert_eq!(t["category"], "Hardware");
    assert_eq!(t["created_by"], json!(req_id));
    assert_eq!(t["status"], "assigned");
    assert_eq!(t["assigned_to"], json!(tech));
    assert_eq!(t["source"], "portal");
    let number = t["number"].as_str().unwrap().to_owned();
    assert!(number.starts_with("TKT-"), "{number}");

    // Not on its site, bad e-mail, bad priority, no such category: refused.
    let elsewhere = ticket_body(other_site, &hardware, "Otra sede");
    let (status, _) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&elsewhere)
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let mut bad = ticket_body(site, &hardware, "x");
    bad["additional_emails"] = json!(["no-es-correo"]);
    let (status, err) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&bad)
    );
    assert_eq!(
        (status, err["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("additional_emails"))
    );
    let mut bad = ticket_body(site, &hardware, "x");
    bad["priority"] = json!("urgentísima");
    let (status, err) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&bad)
    );
    assert_eq!(
        (status, err["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("priority"))
    );
    let bad = ticket_body(site, &Uuid::new_v4().to_string(), "x");
    let (status, err) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&bad)
    );
    assert_eq!(
        (status, err["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("category_id"))
    );
    let mut bad = ticket_body(site, &hardware, "  ");
    bad["subject"] = json!("   ");
    let (status, err) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&bad)
    );
    assert_eq!(
        (status, err["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("subject"))
    );

    // The state machine: the requester may not move an assigned ticket; staff walk the table;
    // a move outside it is a 422 with from/to.
    let (status, _) = call!(app, &sol, patch(&number, json!({"status": "cancelled"})));
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, err) = call!(app, &tecnico, patch(&number, json!({"status": "closed"})));
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(
        (err["from"].clone(), err["to"].clone()),
        (json!("assigned"), json!("closed"))
    );
    for to in ["in_progress", "waiting_customer"] {
        let (status, body) = call!(app, &tecnico, patch(&number, json!({"status": to})));
        assert_eq!(status, StatusCode::OK, "{to}: {body}");
        assert_eq!(body["ticket"]["status"], to);
    }
    // The requester's public comment answers: waiting_customer → in_progress.
    let (status, body) = call!(
        app,
        &sol,
        comment(&number, "Ya probé reiniciarla, sigue igual.", false)
    );
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["ticket"]["status"], "in_progress");
    let (status, _) = call!(app, &tecnico, patch(&number, json!({"status": "resolved"})));
    assert_eq!(status, StatusCode::OK);
    // The client_admin cannot close; its requester reopens by commenting.
    let (status, _) = call!(app, &cliente, patch(&number, json!({"status": "closed"})));
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (_, body) = call!(app, &sol, comment(&number, "Volvió a fallar.", false));
    assert_eq!(body["ticket"]["status"], "reopened");
    for to in ["in_progress", "resolved", "closed"] {
        let (status, body) = call!(app, &tecnico, patch(&number, json!({"status": to})));
        assert_eq!(status, StatusCode::OK, "{to}: {body}");
    }
    let (status, err) = call!(app, &admin, patch(&number, json!({"status": "reopened"})));
    assert_eq!(
        status,
        StatusCode::UNPROCESSABLE_ENTITY,
        "closed is final: {err}"
    );
    // Staff-only fields.
    let (status, _) = call!(app, &cliente, patch(&number, json!({"priority": "low"})));
    assert_eq!(status, StatusCode::FORBIDDEN);

    // Approvals: a tenant category that requires approval starts pending_approval; the
    // client_admin approves (→ assigned by the rule) or rejects (→ cancelled).
    let (status, cat) = call!(
        app,
        &admin,
        TestRequest::post().uri("/api/ticket-categories").set_json(
            json!({"tenant_id": tenant, "name": "Compras de equipo", "requires_approval": true})
        )
    );
    assert_eq!(status, StatusCode::CREATED, "{cat}");
    let compras = cat["category"]["id"].as_str().unwrap().to_owned();
    let (status, _) = call!(
        app,
        &cliente,
        TestRequest::post()
            .uri("/api/ticket-categories")
            .set_json(json!({"name": "Mía"}))
    );
    assert_eq!(status, StatusCode::FORBIDDEN, "admins write categories");
    let mut numbers = Vec::new();
    for subject in ["Laptop nueva para contabilidad", "Monitor extra"] {
        let body = ticket_body(site, &compras, subject);
        let (_, created) = call!(
            app,
            &sol,
            TestRequest::post().uri("/api/tickets").set_json(&body)
        );
        assert_eq!(created["ticket"]["status"], "pending_approval", "{created}");
        assert_eq!(created["ticket"]["assigned_to"], Value::Null);
        numbers.push(created["ticket"]["number"].as_str().unwrap().to_owned());
    }
    let (status, _) = call!(app, &sol, patch(&numbers[0], json!({"status": "assigned"})));
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "a requester does not approve"
    );
    let (status, body) = call!(
        app,
        &cliente,
        patch(&numbers[0], json!({"status": "assigned"}))
    );
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["ticket"]["status"], "assigned");
    assert_eq!(body["ticket"]["assigned_to"], json!(tech));
    let (_, body) = call!(
        app,
        &cliente,
        patch(&numbers[1], json!({"status": "cancelled"}))
    );
    assert_eq!(body["ticket"]["status"], "cancelled");

    // With no technician available a ticket stays new, and its requester may cancel it.
    sql(
        &state.store,
        "UPDATE users SET active = false WHERE id = $1",
        &[tech],
    )
    .await;
    let body = ticket_body(site, &hardware, "Teclado con teclas ñ pegadas");
    let (_, created) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&body)
    );
    assert_eq!(created["ticket"]["status"], "new", "{created}");
    let new_number = created["ticket"]["number"].as_str().unwrap().to_owned();
    let (status, body) = call!(
        app,
        &sol,
        patch(&new_number, json!({"status": "cancelled"}))
    );
    assert_eq!(status, StatusCode::OK, "{body}");

    // Every change is in the audit log.
    let mut tx = state.store.begin(Scope::All).await.unwrap();
    assert_eq!(audit::count(&mut tx, "ticket.create").await.unwrap(), 4);
    assert!(audit::count(&mut tx, "ticket.assign").await.unwrap() >= 2);
    assert_eq!(audit::count(&mut tx, "ticket.update").await.unwrap(), 9);
    assert_eq!(audit::count(&mut tx, "ticket.comment").await.unwrap(), 2);
    tx.commit().await.unwrap();

    // With a phone on file, the contact carries it after the e-mail (seed 000: filled from
    // `users.email` or `users.phone`); a contact given in the body wins.
    sql(
        &state.store,
        "UPDATE users SET phone = '+52 (999) 123-4567' WHERE id = $1",
        &[req_id],
    )
    .await;
    let body = ticket_body(site, &hardware, "Monitor parpadea en farmacia");
    let (status, created) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&body)
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(
        created["ticket"]["affected_person_contact"],
        "sol@clinica.mx · +52 (999) 123-4567"
    );
    let mut body = ticket_body(site, &hardware, "Monitor parpadea en farmacia (2)");
    body["affected_person_contact"] = json!("ext. 214, Begoña");
    let (_, created) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&body)
    );
    assert_eq!(
        created["ticket"]["affected_person_contact"],
        "ext. 214, Begoña"
    );
}

#[actix_web::test]
async fn internal_comments_never_reach_tenant_roles() {
    let state = state().await;
    let app = app!(state);
    let addr = serve(&state);
    let (tenant, site) = tenant_with_site(&state.store, "Óptica Güemes", "pro").await;
    user(&state.store, "tecnico@msp.mx", PASSWORD, "technician", None).await;
    let req_id = user(
        &state.store,
        "sol@optica.mx",
        PASSWORD,
        "requester",
        Some(tenant),
    )
    .await;
    sql(
        &state.store,
        "INSERT INTO user_sites (user_id, site_id, tenant_id) VALUES ($1, $2, $3)",
        &[req_id, site, tenant],
    )
    .await;
    let tecnico = login!(app, "tecnico@msp.mx", PASSWORD);
    let sol = login!(app, "sol@optica.mx", PASSWORD);
    let red = category!(app, &sol, "Red");
    let body = ticket_body(site, &red, "Sin internet en mostrador");
    let (_, created) = call!(
        app,
        &sol,
        TestRequest::post().uri("/api/tickets").set_json(&body)
    );
    let number = created["ticket"]["number"].as_str().unwrap().to_owned();

    let url = format!("ws://{addr}/ws/noc?access_token={sol}");
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    let secret = "Nota interna: la contraseña del módem es Ñ123";
    let (status, _) = call!(app, &sol, comment(&number, "quiero ver notas", true));
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "internal comments are staff-only"
    );
    let (status, body) = call!(app, &tecnico, comment(&number, secret, true));
    assert_eq!(status, StatusCode::CREATED, "{body}");
    let (status, _) = call!(
        app,
        &tecnico,
        comment(&number, "Estamos revisando el enlace.", false)
    );
    assert_eq!(status, StatusCode::CREATED);

    // REST: comments and history of the requester's view carry no trace of it; staff's do.
    let (_, mine) = call!(app, &sol, get(&format!("/api/tickets/{number}")));
    let (_, staff) = call!(app, &tecnico, get(&format!("/api/tickets/{number}")));
    assert!(!mine.to_string().contains("contraseña del módem"), "{mine}");
    assert_eq!(mine["comments"].as_array().unwrap().len(), 1);
    assert_eq!(staff["comments"].as_array().unwrap().len(), 2);
    assert!(staff.to_string().contains(secret));
    // CSV export.
    let req = authed(get("/api/tickets?format=csv"), &sol).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(
        csv.contains("Sin internet en mostrador") && !csv.contains("módem"),
        "{csv}"
    );
    // /ws/noc: the requester's session gets the public comment's event, never the internal.
    let mut texts = Vec::new();
    // Everything the session receives within 1.5 s (both comments were sent before): an
    // internal comment's event would be a second ticket event.
    let deadline = tokio::time::Instant::now() + Duration::from_millis(1500);
    while let Ok(Some(Ok(message))) = tokio::time::timeout_at(deadline, ws.next()).await {
        if let Ok(text) = message.into_text() {
            texts.push(text.to_string());
        }
    }
    let ticket_events: Vec<_> = texts
        .iter()
        .filter(|t| t.contains("\"type\":\"ticket\""))
        .collect();
    assert_eq!(ticket_events.len(), 1, "{texts:?}");
    assert!(texts.iter().all(|t| !t.contains("módem")), "{texts:?}");
    // Row-level security hides them from tenant scopes even without the API's filter.
    let mut tx = state
        .store
        .begin(Scope::Tenant(centinela_model::TenantId(tenant)))
        .await
        .unwrap();
    let (seen,): (i64,) = sqlx::query_as("SELECT count(*) FROM ticket_comments")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(seen, 1);
}

#[actix_web::test]
async fn search_is_case_and_accent_insensitive_and_lists_filter() {
    let state = state().await;
    let app = app!(state);
    let (tenant, site) = tenant_with_site(&state.store, "Farmacia Núñez", "pro").await;
    let (other, other_site) = tenant_with_site(&state.store, "Otro Cliente", "pro").await;
    user(&state.store, "admin@msp.mx", PASSWORD, "admin", None).await;
    user(
        &state.store,
        "cliente@farmacia.mx",
        PASSWORD,
        "client_admin",
        Some(tenant),
    )
    .await;
    let admin = login!(app, "admin@msp.mx", PASSWORD);
    let cliente = login!(app, "cliente@farmacia.mx", PASSWORD);
    let sw = category!(app, &admin, "Software");
    for (t, s, subject) in [
        (tenant, site, "Cámara del almacén sin grabación"),
        (tenant, site, "Impresora atascada"),
        (other, other_site, "CAMARA del otro cliente"),
    ] {
        let mut body = ticket_body(s, &sw, subject);
        body["tenant_id"] = json!(t);
        body["description"] = json!("Sin más detalles (50% de las veces).");
        let (status, b) = call!(
            app,
            &admin,
            TestRequest::post().uri("/api/tickets").set_json(&body)
        );
        assert_eq!(status, StatusCode::CREATED, "{b}");
    }
    let subjects = |body: &Value| -> Vec<String> {
        body.as_array()
            .unwrap()
            .iter()
            .map(|t| t["subject"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, found) = call!(app, &admin, get("/api/tickets?q=CAMARA"));
    assert_eq!(subjects(&found).len(), 2, "{found}");
    let (_, found) = call!(app, &cliente, get("/api/tickets?q=c%C3%A1mara"));
    assert_eq!(subjects(&found), vec!["Cámara del almacén sin grabación"]);
    let (_, found) = call!(app, &cliente, get("/api/tickets?q=50%25"));
    assert_eq!(subjects(&found).len(), 2, "% is literal");
    let (_, found) = call!(app, &cliente, get("/api/tickets?q=5_%25"));
    assert!(subjects(&found).is_empty(), "_ is literal: {found}");
    let (_, found) = call!(
        app,
        &admin,
        get(&format!("/api/tickets?tenant_id={other}&q=camara"))
    );
    assert_eq!(subjects(&found), vec!["CAMARA del otro cliente"]);
    let (_, found) = call!(
        app,
        &cliente,
        get(&format!("/api/tickets?tenant_id={other}"))
    );
    assert!(subjects(&found).is_empty(), "another tenant: nothing");
    let (_, found) = call!(
        app,
        &admin,
        get(&format!(
            "/api/tickets?site_id={site}&status=new&priority=high"
        ))
    );
    assert_eq!(subjects(&found).len(), 2, "{found}");
    let number = found[0]["number"].as_str().unwrap().to_owned();
    let (_, found) = call!(app, &admin, get(&format!("/api/tickets?q={number}")));
    assert_eq!(found.as_array().unwrap().len(), 1);
    let (status, err) = call!(
        app,
        &admin,
        get(&format!("/api/tickets?q={}", "a".repeat(201)))
    );
    assert_eq!(
        (status, err["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("q"))
    );
    let (status, _) = call!(app, &admin, get("/api/tickets?format=xml"));
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[actix_web::test]
async fn csv_exports_stream_every_page_with_neutralised_cells() {
    let state = state().await;
    let app = app!(state);
    let (tenant, site) = tenant_with_site(&state.store, "Hospital Ángeles", "pro").await;
    user(&state.store, "admin@msp.mx", PASSWORD, "admin", None).await;
    let admin = login!(app, "admin@msp.mx", PASSWORD);
    // 1,234 tickets: three export pages.
    sql(
        &state.store,
        "INSERT INTO tickets (id, tenant_id, site_id, source, subject, priority, created_at)
         SELECT gen_random_uuid(), $1, $2, 'api', '=HYPERLINK(\"x\") ñandú ' || i, 'low',
                now() - make_interval(secs => i)
         FROM generate_series(1, 1234) i",
        &[tenant, site],
    )
    .await;
    let req = authed(get("/api/tickets?format=csv"), &admin).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(
        res.headers()
            .get("content-type")
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let csv = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    let lines: Vec<&str> = csv.split("\r\n").filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1 + 1234);
    assert!(lines[0].starts_with("number,created_at"));
    assert!(
        lines[1].contains("\"'=HYPERLINK(\"\"x\"\") ñandú 1\""),
        "{}",
        lines[1]
    );
    let unique: std::collections::HashSet<_> = lines.iter().collect();
    assert_eq!(unique.len(), lines.len(), "no row twice across pages");
    // Alerts too.
    let (device, _) = crate::helpers::device(&state.store, tenant, site, "Servidor Ñ").await;
    crate::helpers::alert(&state.store, tenant, device).await;
    let req = authed(get("/api/alerts?format=csv"), &admin).to_request();
    let res = test::call_service(&app, req).await;
    assert_eq!(res.status(), StatusCode::OK);
    let csv = String::from_utf8(test::read_body(res).await.to_vec()).unwrap();
    assert!(csv.starts_with("id,opened_at,cleared_at,state"), "{csv}");
    assert!(
        csv.contains("CPU alta") && csv.lines().count() == 2,
        "{csv}"
    );
    let mut tx = state.store.begin(Scope::All).await.unwrap();
    assert_eq!(audit::count(&mut tx, "tickets.export").await.unwrap(), 1);
    assert_eq!(audit::count(&mut tx, "alerts.export").await.unwrap(), 1);
}

/// Creates `n` tickets at once; returns how many each technician got.
macro_rules! create_concurrently {
    ($app:expr, $token:expr, $tenant:expr, $site:expr, $category:expr, $n:expr) => {{
        let requests = (0..$n).map(|i| {
            let mut body = ticket_body($site, &$category, &format!("Falla simultánea nº {i}"));
            body["tenant_id"] = json!($tenant);
            let req = authed(
                TestRequest::post().uri("/api/tickets").set_json(body),
                &$token,
            );
            send(&$app, req.to_request())
        });
        let mut spread: HashMap<String, usize> = HashMap::new();
        for (status, body) in futures_util::future::join_all(requests).await {
            assert_eq!(status, StatusCode::CREATED, "{body}");
            assert_eq!(body["ticket"]["status"], "assigned", "{body}");
            *spread
                .entry(body["ticket"]["assigned_to"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
        spread
    }};
}

#[actix_web::test]
async fn assignment_spreads_fifty_concurrent_creations_as_each_rule_says() {
    let state = state().await;
    let app = app!(state);
    let (tenant, site) = tenant_with_site(&state.store, "Cadena Ñ", "pro").await;
    user(&state.store, "admin@msp.mx", PASSWORD, "admin", None).await;
    let mut techs = Vec::new();
    for i in 0..5 {
        let email = format!("tecnico{i}@msp.mx");
        techs.push(user(&state.store, &email, PASSWORD, "technician", None).await);
    }
    let admin = login!(app, "admin@msp.mx", PASSWORD);
    let hw = category!(app, &admin, "Hardware");
    let mut body = ticket_body(site, &hw, "x");
    body["tenant_id"] = json!(tenant);
    let site_body = |i: usize| {
        let mut b = body.clone();
        b["subject"] = json!(format!("Falla nº {i}"));
        b
    };

    // round_robin (the default): 50 over 5 technicians → 10 each.
    let requests = (0..50).map(|i| {
        let req = authed(
            TestRequest::post()
                .uri("/api/tickets")
                .set_json(site_body(i)),
            &admin,
        );
        send(&app, req.to_request())
    });
    let mut spread: HashMap<String, usize> = HashMap::new();
    for (status, b) in futures_util::future::join_all(requests).await {
        assert_eq!(status, StatusCode::CREATED, "{b}");
        *spread
            .entry(b["ticket"]["assigned_to"].as_str().unwrap().to_owned())
            .or_default() += 1;
    }
    assert_eq!(spread.len(), 5, "{spread:?}");
    assert!(spread.values().all(|n| *n == 10), "{spread:?}");

    // least_load: close technician 0's tickets; from loads (0,10,10,10,10) the next 50 bring
    // technician 0 up to the others first, then spread evenly: 18 for it, 8 for each other.
    sql(
        &state.store,
        "UPDATE tickets SET status = 'closed' WHERE assigned_to = $1",
        &[techs[0]],
    )
    .await;
    sql(
        &state.store,
        "UPDATE tenants SET assignment_rule = 'least_load' WHERE id = $1",
        &[tenant],
    )
    .await;
    let requests = (50..100).map(|i| {
        let req = authed(
            TestRequest::post()
                .uri("/api/tickets")
                .set_json(site_body(i)),
            &admin,
        );
        send(&app, req.to_request())
    });
    let mut spread: HashMap<Uuid, usize> = HashMap::new();
    for (status, b) in futures_util::future::join_all(requests).await {
        assert_eq!(status, StatusCode::CREATED, "{b}");
        let tech: Uuid = b["ticket"]["assigned_to"]
            .as_str()
            .unwrap()
            .parse()
            .unwrap();
        *spread.entry(tech).or_default() += 1;
    }
    assert_eq!(spread[&techs[0]], 18, "{spread:?}");
    for tech in &techs[1..] {
        assert_eq!(spread[tech], 8, "{spread:?}");
    }

    // The explicit list wins: its first active technician by position.
    for (tech, position) in [(techs[3], 1), (techs[2], 0)] {
        let (status, b) = call!(
            app,
            &admin,
            TestRequest::post()
                .uri("/api/technician-assignments")
                .set_json(
                    json!({"tenant_id": tenant, "technician_id": tech, "position": position})
                )
        );
        assert_eq!(status, StatusCode::CREATED, "{b}");
    }
    let spread = create_concurrently!(app, admin, tenant, site, hw, 50);
    assert_eq!(spread.get(&techs[2].to_string()), Some(&50), "{spread:?}");
    sql(
        &state.store,
        "UPDATE users SET active = false WHERE id = $1",
        &[techs[2]],
    )
    .await;
    let spread = create_concurrently!(app, admin, tenant, site, hw, 3);
    assert_eq!(spread.get(&techs[3].to_string()), Some(&3), "{spread:?}");
    let (_, list) = call!(
        app,
        &admin,
        get(&format!("/api/technician-assignments?tenant_id={tenant}"))
    );
    assert_eq!(list.as_array().unwrap().len(), 2);
    assert_eq!(list[0]["technician_id"], json!(techs[2]));
    let (status, _) = call!(
        app,
        &admin,
        TestRequest::post()
            .uri("/api/technician-assignments")
            .set_json(json!({"tenant_id": tenant, "technician_id": techs[3]}))
    );
    assert_eq!(status, StatusCode::CONFLICT, "already on the list");
}
