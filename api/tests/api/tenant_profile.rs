//! The tenant profile (validation, UTF-8 round trips, the assignment rule), the audit trail
//! (JSON pages and CSV) and the subscription status.

use crate::helpers::{authed, device, send, state, tenant_with_site, user};
use crate::users::requester;
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::{Value, json};

const PASSWORD: &str = "Secreto123!";

fn profile() -> Value {
    json!({
        "name": "Clínica Ñandú", "legal_name": "Clínica Ñandú Güemes, S.A. de C.V.",
        "rfc": "ñan850101ab1", "email": "contacto@clínica.mx", "phone": "+52 (442) 123-4567",
        "allowed_emails": ["@Clínica.MX", "José.Núñez@otro.mx"],
        "address": "Av. Constitución 123, Col. Centro", "zip": "76000",
        "state": "Querétaro", "city": "Santiago de Querétaro", "lat": 20.5888, "lon": -100.3899
    })
}

#[actix_web::test]
async fn a_tenant_profile_is_validated_and_round_trips_utf8() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(&store, "admin@msp.test", PASSWORD, "admin", None).await;
    let app = app!(state);
    let adm = login!(app, "admin@msp.test", PASSWORD);
    let post = |body: Value| authed(TestRequest::post().uri("/api/tenants"), &adm).set_json(body);

    let (status, created) = send(&app, post(profile()).to_request()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["rfc"], "ÑAN850101AB1");
    assert_eq!(created["legal_name"], "Clínica Ñandú Güemes, S.A. de C.V.");
    assert_eq!(
        created["allowed_emails"],
        json!(["@clínica.mx", "josé.núñez@otro.mx"])
    );
    assert_eq!(created["state"], "Querétaro");
    assert_eq!(created["assignment_rule"], "round_robin");
    let id = created["id"].as_str().unwrap().to_owned();
    let (_, read) = send(
        &app,
        authed(TestRequest::get().uri(&format!("/api/tenants/{id}")), &adm).to_request(),
    )
    .await;
    assert_eq!(read["address"], "Av. Constitución 123, Col. Centro");
    assert_eq!(read["email"], "contacto@clínica.mx");

    let bad = [
        ("rfc", json!("AB850101AB1")),
        ("rfc", json!("ÁBC850101AB1")),
        ("zip", json!("7600")),
        ("email", json!("sin-arroba")),
        ("phone", json!("12")),
        ("allowed_emails", json!(["@", "ok@x.mx"])),
        ("lat", json!(91.0)),
        ("lon", json!(-181.0)),
        ("legal_name", json!("")),
        ("assignment_rule", json!("al_azar")),
    ];
    for (field, value) in bad {
        let mut body = profile();
        body[field] = value.clone();
        let (status, answer) = send(&app, post(body).to_request()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{field}={value}: {answer}");
        assert_eq!(answer["field"], field, "{value}: {answer}");
    }

    let patch = |body: Value| {
        authed(
            TestRequest::patch().uri(&format!("/api/tenants/{id}")),
            &adm,
        )
        .set_json(body)
    };
    let (status, changed) = send(
        &app,
        patch(json!({"assignment_rule": "least_load", "city": "Peñamiller"})).to_request(),
    )
    .await;
    assert_eq!(status, StatusCode::OK, "{changed}");
    assert_eq!(changed["assignment_rule"], "least_load");
    assert_eq!(changed["city"], "Peñamiller");
    assert_eq!(
        changed["rfc"], "ÑAN850101AB1",
        "absent fields keep their value"
    );
    let (status, answer) = send(&app, patch(json!({"lat": 10.0})).to_request()).await;
    assert_eq!(
        (status, answer["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("lon"))
    );
    let (status, answer) = send(&app, patch(json!({"assignment_rule": "x"})).to_request()).await;
    assert_eq!(
        (status, answer["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("assignment_rule"))
    );
}

#[actix_web::test]
async fn the_audit_trail_lists_pages_and_streams_csv_by_role() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (tenant, site) = tenant_with_site(&store, "Ñandú", "pro").await;
    let (other, other_site) = tenant_with_site(&store, "Otra", "pro").await;
    let adm_id = user(&store, "admin@msp.test", PASSWORD, "admin", None).await;
    user(&store, "tec@msp.test", PASSWORD, "technician", None).await;
    user(
        &store,
        "jefa@cli.test",
        PASSWORD,
        "client_admin",
        Some(tenant),
    )
    .await;
    requester(&store, "sol@cli.test", tenant, &[site]).await;
    let app = app!(state);
    let adm = login!(app, "admin@msp.test", PASSWORD);
    let tec = login!(app, "tec@msp.test", PASSWORD);
    let boss = login!(app, "jefa@cli.test", PASSWORD);
    let sol = login!(app, "sol@cli.test", PASSWORD);
    // A failed login: what was typed is kept (bounded), quotes and all.
    let failed = TestRequest::post()
        .uri("/api/auth/login")
        .set_json(json!({"email": "=HYPERLINK(\"x\")@evil.mx", "password": "nope"}));
    assert_eq!(
        send(&app, failed.to_request()).await.0,
        StatusCode::UNAUTHORIZED
    );
    for (n, (t, s)) in [(tenant, site), (tenant, site), (other, other_site)]
        .into_iter()
        .enumerate()
    {
        let body = json!({"email": format!("nuevo{n}@cli.test"), "name": "Begoña Muñoz",
                          "role": "requester", "tenant_id": t, "site_ids": [s], "password": PASSWORD});
        let req = authed(TestRequest::post().uri("/api/users"), &adm).set_json(body);
        assert_eq!(send(&app, req.to_request()).await.0, StatusCode::CREATED);
    }
    let get = |token: &str, uri: &str| authed(TestRequest::get().uri(uri), token).to_request();

    let (status, list) = send(&app, get(&adm, "/api/audit?action=user.create")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(list.as_array().unwrap().len(), 3, "{list}");
    assert_eq!(
        list[0]["details"]["email"], "nuevo2@cli.test",
        "newest first"
    );
    let (_, logins) = send(
        &app,
        get(
            &adm,
            &format!("/api/audit?action=auth.login&actor={adm_id}"),
        ),
    )
    .await;
    assert_eq!(logins.as_array().unwrap().len(), 1, "{logins}");
    let (_, failures) = send(&app, get(&adm, "/api/audit?action=auth.login_failed")).await;
    assert_eq!(failures.as_array().unwrap().len(), 1, "{failures}");
    let (_, own) = send(&app, get(&boss, "/api/audit?action=user.create")).await;
    assert_eq!(
        own.as_array().unwrap().len(),
        2,
        "a client_admin sees its tenant's: {own}"
    );
    assert!(
        own.as_array()
            .unwrap()
            .iter()
            .all(|e| e["tenant_id"] == json!(tenant))
    );
    for token in [&tec, &sol] {
        assert_eq!(
            send(&app, get(token, "/api/audit")).await.0,
            StatusCode::FORBIDDEN
        );
    }
    // Pages: one row, then the next with the cursor.
    let res = test::call_service(&app, get(&adm, "/api/audit?action=user.create&limit=1")).await;
    let cursor = res
        .headers()
        .get("x-next-cursor")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let (_, next) = send(
        &app,
        get(
            &adm,
            &format!("/api/audit?action=user.create&limit=1&cursor={cursor}"),
        ),
    )
    .await;
    assert_eq!(next[0]["details"]["email"], "nuevo1@cli.test");
    let (status, body) = send(&app, get(&adm, "/api/audit?from=ayer")).await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("from"))
    );

    let res = test::call_service(&app, get(&adm, "/api/audit?format=csv")).await;
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
    assert_eq!(
        lines[0],
        "at,tenant_id,actor_id,action,target_type,target_id,details"
    );
    assert!(csv.contains("nuevo0@cli.test"), "{csv}");
    // The details cell is JSON, quoted with its quotes doubled (RFC 4180).
    let failed = lines
        .iter()
        .find(|l| l.contains("auth.login_failed"))
        .unwrap();
    assert!(
        failed.contains(r#""{""address"":"#) || failed.contains(r#""{""email"":"#),
        "{failed}"
    );
    assert!(
        failed.contains(r#"=HYPERLINK(\""x\"")@evil.mx"#),
        "{failed}"
    );
    let (_, all) = send(&app, get(&adm, "/api/audit?limit=1000")).await;
    assert_eq!(lines.len(), all.as_array().unwrap().len() + 1, "{csv}");
}

#[actix_web::test]
async fn the_subscription_status_tells_plan_limit_and_use() {
    let state = state().await;
    let store = state.runtime.store().clone();
    let (basic, site) = tenant_with_site(&store, "Básico", "basic").await;
    let (pro, _) = tenant_with_site(&store, "Pro", "pro").await;
    device(&store, basic, site, "PC-1").await;
    device(&store, basic, site, "PC-2").await;
    user(&store, "admin@msp.test", PASSWORD, "admin", None).await;
    user(
        &store,
        "jefa@cli.test",
        PASSWORD,
        "client_admin",
        Some(basic),
    )
    .await;
    let app = app!(state);
    let adm = login!(app, "admin@msp.test", PASSWORD);
    let boss = login!(app, "jefa@cli.test", PASSWORD);
    let get = |token: &str, uri: &str| authed(TestRequest::get().uri(uri), token).to_request();

    let (status, own) = send(&app, get(&boss, "/api/subscription/status")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        own,
        json!({"tenant_id": basic, "plan": "basic", "max_devices": 5, "devices_used": 2, "status": "active"})
    );
    let (_, unlimited) = send(
        &app,
        get(&adm, &format!("/api/subscription/status?tenant_id={pro}")),
    )
    .await;
    assert_eq!(unlimited["max_devices"], Value::Null);
    assert_eq!(unlimited["devices_used"], 0);
    let (status, body) = send(&app, get(&adm, "/api/subscription/status")).await;
    assert_eq!(
        (status, body["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("tenant_id"))
    );
    let other = format!("/api/subscription/status?tenant_id={pro}");
    assert_eq!(
        send(&app, get(&boss, &other)).await.0,
        StatusCode::NOT_FOUND
    );
}
