//! SLA policies, the two clocks on tickets, and the numbers, over the real HTTP stack and
//! PostgreSQL. A 24/7 policy keeps the figures independent of the day the test runs on.

use crate::helpers::{authed, send, state, tenant_with_site, user};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::TestRequest;
use serde_json::{Value, json};

const PASSWORD: &str = "Clave-Segura1";

macro_rules! call {
    ($app:expr, $token:expr, $req:expr) => {
        send(&$app, authed($req, $token).to_request()).await
    };
}

fn all_week() -> Value {
    let day = json!([["00:00", "24:00"]]);
    json!({"1": day, "2": day, "3": day, "4": day, "5": day, "6": day, "7": day})
}

#[actix_web::test]
async fn policies_are_versioned_validated_and_applied_to_open_tickets() {
    let state = state().await;
    let app = app!(state);
    let (tenant, site) = tenant_with_site(&state.store, "Óptica Núñez", "pro").await;
    user(&state.store, "admin@msp.mx", PASSWORD, "admin", None).await;
    user(&state.store, "tec@msp.mx", PASSWORD, "technician", None).await;
    user(
        &state.store,
        "jefa@optica.mx",
        PASSWORD,
        "client_admin",
        Some(tenant),
    )
    .await;
    user(
        &state.store,
        "sol@optica.mx",
        PASSWORD,
        "requester",
        Some(tenant),
    )
    .await;
    let admin = login!(app, "admin@msp.mx", PASSWORD);
    let tec = login!(app, "tec@msp.mx", PASSWORD);
    let jefa = login!(app, "jefa@optica.mx", PASSWORD);
    let sol = login!(app, "sol@optica.mx", PASSWORD);

    // The migration's default: seed 000's hours and targets.
    let (status, list) = call!(app, &tec, TestRequest::get().uri("/api/sla-policies"));
    assert_eq!(status, StatusCode::OK, "{list}");
    let default = &list.as_array().unwrap()[0];
    assert_eq!(default["tenant_id"], Value::Null);
    assert_eq!(default["timezone"], "America/Mexico_City");
    assert_eq!(default["hours"]["5"], json!([["09:00", "19:00"]]));
    assert_eq!(
        default["targets"]["critical"],
        json!({"response_min": 30, "resolution_min": 240})
    );
    let (status, _) = call!(app, &sol, TestRequest::get().uri("/api/sla-policies"));
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "requesters do not see policies"
    );

    // Validation names the field.
    for (body, field) in [
        (
            json!({"tenant_id": tenant, "timezone": "Mars/Olympus"}),
            "timezone",
        ),
        (
            json!({"tenant_id": tenant, "hours": {"8": [["09:00", "10:00"]]}}),
            "hours",
        ),
        (
            json!({"tenant_id": tenant, "hours": {"1": [["19:00", "09:00"]]}}),
            "hours",
        ),
        (
            json!({"tenant_id": tenant, "holidays": [{"date": "2026-13-01"}]}),
            "holidays",
        ),
        (
            json!({"tenant_id": tenant, "reminder_min": 1}),
            "reminder_min",
        ),
        (
            json!({"tenant_id": tenant, "targets": {"critical": {"response_min": 300, "resolution_min": 60},
                "high": {"response_min": 60, "resolution_min": 480}, "medium": {"response_min": 120, "resolution_min": 960},
                "low": {"response_min": 240, "resolution_min": 1440}}}),
            "targets",
        ),
    ] {
        let (status, err) = call!(
            app,
            &admin,
            TestRequest::post().uri("/api/sla-policies").set_json(&body)
        );
        assert_eq!(
            (status, err["field"].clone()),
            (StatusCode::BAD_REQUEST, json!(field)),
            "{body}: {err}"
        );
    }
    let (status, _) = call!(
        app,
        &tec,
        TestRequest::post()
            .uri("/api/sla-policies")
            .set_json(json!({"tenant_id": tenant}))
    );
    assert_eq!(
        status,
        StatusCode::FORBIDDEN,
        "technicians do not write policies"
    );

    // The tenant's own policy: 24/7, version 1; a second POST is a conflict.
    let body = json!({"tenant_id": tenant, "timezone": "America/Tijuana", "hours": all_week(),
        "holidays": [{"date": "2026-12-25"}, {"date": "2026-12-24", "hours": [["09:00", "14:00"]]}]});
    let (status, v1) = call!(
        app,
        &admin,
        TestRequest::post().uri("/api/sla-policies").set_json(&body)
    );
    assert_eq!(status, StatusCode::CREATED, "{v1}");
    assert_eq!(
        (v1["version"].clone(), v1["tenant_id"].clone()),
        (json!(1), json!(tenant))
    );
    let (status, _) = call!(
        app,
        &admin,
        TestRequest::post().uri("/api/sla-policies").set_json(&body)
    );
    assert_eq!(status, StatusCode::CONFLICT);

    // A ticket opened under version 1 keeps it; a PATCH makes version 2.
    let category = {
        let (_, cats) = call!(
            app,
            &admin,
            TestRequest::get().uri("/api/ticket-categories?limit=1000")
        );
        cats.as_array()
            .unwrap()
            .iter()
            .find(|c| c["name"] == "Hardware")
            .unwrap()["id"]
            .clone()
    };
    let ticket_body = json!({"tenant_id": tenant, "site_id": site, "subject": "Lector de tarjetas sin energía",
        "description": "No enciende desde la mañana.", "affected_person": "Íñigo Peña", "priority": "critical",
        "category_id": category});
    let (status, created) = call!(
        app,
        &admin,
        TestRequest::post()
            .uri("/api/tickets")
            .set_json(&ticket_body)
    );
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let t = &created["ticket"];
    assert_eq!(t["sla_policy_version"], 1);
    assert_eq!(t["response_remaining_min"], 30, "{t}");
    assert_eq!(t["resolution_remaining_min"], 240, "{t}");
    assert_eq!(t["sla_paused"], false);
    let number = t["number"].as_str().unwrap().to_owned();

    let id = v1["id"].as_str().unwrap();
    let patch = json!({"targets": {"critical": {"response_min": 15, "resolution_min": 120},
        "high": {"response_min": 60, "resolution_min": 480}, "medium": {"response_min": 120, "resolution_min": 960},
        "low": {"response_min": 240, "resolution_min": 1440}}});
    let (status, v2) = call!(
        app,
        &admin,
        TestRequest::patch()
            .uri(&format!("/api/sla-policies/{id}"))
            .set_json(&patch)
    );
    assert_eq!(status, StatusCode::OK, "{v2}");
    assert_eq!(v2["version"], 2);
    assert_eq!(
        v2["timezone"], "America/Tijuana",
        "unchanged fields carry over"
    );
    let (_, t) = call!(
        app,
        &admin,
        TestRequest::get().uri(&format!("/api/tickets/{number}"))
    );
    assert_eq!(t["sla_policy_version"], 1, "the ticket keeps its version");
    assert_eq!(t["response_remaining_min"], 30);

    // The client's admin reads its tenant's policies (both versions), not another's.
    let (status, versions) = call!(
        app,
        &jefa,
        TestRequest::get().uri(&format!(
            "/api/sla-policies?tenant_id={tenant}&all_versions=true"
        ))
    );
    assert_eq!(status, StatusCode::OK);
    let mine: Vec<i64> = versions
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["tenant_id"] == json!(tenant))
        .map(|p| p["version"].as_i64().unwrap())
        .collect();
    assert_eq!(mine, vec![2, 1]);

    // Apply: the open ticket moves to version 2 and takes its targets.
    let (status, applied) = call!(
        app,
        &admin,
        TestRequest::post().uri(&format!("/api/sla-policies/{id}/apply"))
    );
    assert_eq!(status, StatusCode::OK, "{applied}");
    assert_eq!(
        (
            applied["policy"]["version"].clone(),
            applied["tickets_moved"].clone()
        ),
        (json!(2), json!(1))
    );
    let (_, t) = call!(
        app,
        &admin,
        TestRequest::get().uri(&format!("/api/tickets/{number}"))
    );
    assert_eq!(t["sla_policy_version"], 2);
    assert_eq!(t["response_remaining_min"], 15, "{t}");
    let (_, audit) = call!(
        app,
        &admin,
        TestRequest::get().uri("/api/audit?action=sla_policy.apply")
    );
    assert_eq!(audit.as_array().unwrap().len(), 1, "{audit}");
}

#[actix_web::test]
async fn the_clocks_stop_pause_and_follow_the_priority_and_the_numbers_add_up() {
    let state = state().await;
    let app = app!(state);
    let (tenant, site) = tenant_with_site(&state.store, "Ferretería Güémez", "pro").await;
    let (other, other_site) = tenant_with_site(&state.store, "Panadería Ñuño", "pro").await;
    user(&state.store, "admin@msp.mx", PASSWORD, "admin", None).await;
    user(
        &state.store,
        "jefe@ferreteria.mx",
        PASSWORD,
        "client_admin",
        Some(tenant),
    )
    .await;
    user(
        &state.store,
        "sol@ferreteria.mx",
        PASSWORD,
        "requester",
        Some(tenant),
    )
    .await;
    let admin = login!(app, "admin@msp.mx", PASSWORD);
    let jefe = login!(app, "jefe@ferreteria.mx", PASSWORD);
    let sol = login!(app, "sol@ferreteria.mx", PASSWORD);
    for t in [tenant, other] {
        let (status, body) = call!(
            app,
            &admin,
            TestRequest::post()
                .uri("/api/sla-policies")
                .set_json(json!({"tenant_id": t, "hours": all_week()}))
        );
        assert_eq!(status, StatusCode::CREATED, "{body}");
    }
    let (_, cats) = call!(
        app,
        &admin,
        TestRequest::get().uri("/api/ticket-categories?limit=1000")
    );
    let category = cats
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "Red")
        .unwrap()["id"]
        .clone();
    let open = |tenant, site, priority: &str, subject: &str| {
        json!({"tenant_id": tenant, "site_id": site, "subject": subject, "description": "Sin servicio.",
            "affected_person": "Begoña", "priority": priority, "category_id": category})
    };
    let mut numbers = Vec::new();
    for (t, s, p, subject) in [
        (tenant, site, "low", "Wi-Fi lento en bodega"),
        (tenant, site, "critical", "Caída total de internet"),
        (other, other_site, "high", "VPN intermitente"),
    ] {
        let (status, created) = call!(
            app,
            &admin,
            TestRequest::post()
                .uri("/api/tickets")
                .set_json(open(t, s, p, subject))
        );
        assert_eq!(status, StatusCode::CREATED, "{created}");
        numbers.push(created["ticket"]["number"].as_str().unwrap().to_owned());
    }
    let patch = |number: &str, body: Value| {
        TestRequest::patch()
            .uri(&format!("/api/tickets/{number}"))
            .set_json(body)
    };

    // A priority change takes the new target (low 240 → critical 30) with the time used kept.
    let (status, t) = call!(
        app,
        &admin,
        patch(&numbers[0], json!({"priority": "critical"}))
    );
    assert_eq!(status, StatusCode::OK, "{t}");
    assert_eq!(t["ticket"]["response_remaining_min"], 30, "{t}");
    // A public staff comment stops the response clock: it stays put from then on.
    let (status, c) = call!(
        app,
        &admin,
        TestRequest::post()
            .uri(&format!("/api/tickets/{}/comments", numbers[0]))
            .set_json(json!({"body": "Revisamos el AP."}))
    );
    assert_eq!(status, StatusCode::CREATED, "{c}");
    assert_eq!(c["ticket"]["response_remaining_min"], 30);
    // Waiting on the customer pauses: no due dates while paused.
    for to in ["in_progress", "waiting_customer"] {
        let (status, body) = call!(app, &admin, patch(&numbers[1], json!({"status": to})));
        assert_eq!(status, StatusCode::OK, "{body}");
    }
    let (_, t) = call!(
        app,
        &admin,
        TestRequest::get().uri(&format!("/api/tickets/{}", numbers[1]))
    );
    assert_eq!(t["sla_paused"], true, "{t}");
    assert_eq!(t["resolution_due_at"], Value::Null);
    assert!(
        t["response_due_at"].is_string(),
        "the response clock had stopped: {t}"
    );
    // Lists carry the same fields.
    let (_, list) = call!(
        app,
        &admin,
        TestRequest::get().uri(&format!("/api/tickets?tenant_id={tenant}"))
    );
    let row = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["number"] == numbers[1].as_str())
        .unwrap();
    assert_eq!(row["sla_paused"], true);
    assert!(row["resolution_remaining_min"].as_i64().unwrap() <= 240);

    // The numbers: by priority (both of the tenant's tickets are critical now); responded =
    // the comment on the first and the in_progress move on the second, both in time.
    let (status, m) = call!(
        app,
        &jefe,
        TestRequest::get().uri(&format!("/api/sla/metrics?tenant_id={tenant}"))
    );
    assert_eq!(status, StatusCode::OK, "{m}");
    assert_eq!(m["tickets"], 2, "{m}");
    assert_eq!(m["response"]["decided"], 2);
    assert_eq!(m["response"]["met_pct"], 100.0);
    assert_eq!(
        m["resolution"]["decided"], 0,
        "nothing resolved or past due yet"
    );
    assert_eq!(m["groups"].as_array().unwrap().len(), 1);
    assert_eq!(m["groups"][0]["key"], "critical");
    // Staff by tenant see both tenants; a client admin cannot ask for another tenant.
    let (_, m) = call!(
        app,
        &admin,
        TestRequest::get().uri("/api/sla/metrics?group_by=tenant")
    );
    assert_eq!(m["tickets"], 3, "{m}");
    assert_eq!(m["groups"].as_array().unwrap().len(), 2);
    let (status, _) = call!(
        app,
        &jefe,
        TestRequest::get().uri(&format!("/api/sla/metrics?tenant_id={other}"))
    );
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = call!(app, &sol, TestRequest::get().uri("/api/sla/metrics"));
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, err) = call!(
        app,
        &admin,
        TestRequest::get().uri("/api/sla/metrics?group_by=color")
    );
    assert_eq!(
        (status, err["field"].clone()),
        (StatusCode::BAD_REQUEST, json!("group_by"))
    );
    // CSV: a header and one line per group.
    let req = authed(
        TestRequest::get().uri("/api/sla/metrics?group_by=technician&format=csv"),
        &admin,
    );
    let res = actix_web::test::call_service(&app, req.to_request()).await;
    assert_eq!(res.status(), StatusCode::OK);
    let text = String::from_utf8(actix_web::test::read_body(res).await.to_vec()).unwrap();
    let mut lines = text.lines();
    assert!(
        lines
            .next()
            .unwrap()
            .starts_with("technician,tickets,response_met_pct"),
        "{text}"
    );
    assert!(lines.count() >= 1, "{text}");
}
