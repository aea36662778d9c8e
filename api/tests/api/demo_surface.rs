//! What the demo and the NOC app need from the API: `GET /api/meta`, the device list's filters,
//! `GET /api/devices/{id}/series`, and the app served from the binary.

use crate::helpers::{authed, device, send, state, tenant_with_site, user};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use centinela_api::app::AppFiles;
use centinela_api::meta::{DemoAccount, DemoMode};
use centinela_model::Scope;
use centinela_storage::metrics::{self, MetricRow};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

fn names(body: &Value) -> Vec<String> {
    let mut names: Vec<String> = body
        .as_array()
        .expect("a list")
        .iter()
        .map(|d| d["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

#[actix_rt::test]
async fn meta_says_demo_and_accounts_only_in_demo_mode() {
    let state = state().await;
    let plain = app!(state);
    let (status, body) = send(&plain, TestRequest::get().uri("/api/meta").to_request()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["demo"], false);
    assert!(body.get("accounts").is_none(), "{body}");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));

    let demo = DemoMode {
        accounts: vec![DemoAccount {
            email: "admin@lanetdemo.com".into(),
            password: "DemoAdmin123!".into(),
            role: "superadmin".into(),
            name: "Administración Lanet".into(),
        }],
    };
    let demo_app = test::init_service(
        actix_web::App::new()
            .app_data(actix_web::web::Data::new(state.clone()))
            .app_data(actix_web::web::Data::new(demo))
            .configure(centinela_api::configure),
    )
    .await;
    let (status, body) = send(&demo_app, TestRequest::get().uri("/api/meta").to_request()).await;
    assert_eq!(status, StatusCode::OK, "no token needed");
    assert_eq!(body["demo"], true);
    assert_eq!(
        body["accounts"],
        json!([{"email": "admin@lanetdemo.com", "password": "DemoAdmin123!",
                "role": "superadmin", "name": "Administración Lanet"}])
    );
}

#[actix_rt::test]
async fn device_list_filters_run_on_the_server() {
    let state = state().await;
    let app = app!(state);
    let (tenant, site) = tenant_with_site(&state.store, "Clínica Peñasco", "pro").await;
    let (other_tenant, other_site) = tenant_with_site(&state.store, "Ótra Empresa", "pro").await;
    let mut tx = state.store.begin(Scope::All).await.unwrap();
    let second = centinela_storage::sites::create(
        &mut tx,
        &centinela_storage::sites::NewSite {
            tenant_id: tenant,
            name: "Sucursal Norte".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let (recepcion, _) = device(&state.store, tenant, site, "Recepción-PC").await;
    let (_, _) = device(&state.store, tenant, site, "SERVIDOR-ÑANDÚ").await;
    let (norte, _) = device(&state.store, tenant, second.id, "Caja Norte").await;
    let (_, _) = device(&state.store, other_tenant, other_site, "Recepcion ajena").await;
    // Recepción is red (a critical alert firing), Caja Norte seen (green), the rest unknown.
    crate::helpers::alert(&state.store, tenant, recepcion).await;
    let mut tx = state.store.begin(Scope::All).await.unwrap();
    centinela_storage::devices::touch_last_seen(&mut tx, &[norte], &[Utc::now()])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    user(&state.store, "noc@msp.test", "Secreto123!", "admin", None).await;
    user(
        &state.store,
        "cli@peñasco.test",
        "Secreto123!",
        "client_admin",
        Some(tenant),
    )
    .await;
    let staff = login!(app, "noc@msp.test", "Secreto123!");
    let client = login!(app, "cli@peñasco.test", "Secreto123!");

    let list = |token: &str, query: &str| {
        authed(
            TestRequest::get().uri(&format!("/api/devices?{query}")),
            token,
        )
        .to_request()
    };
    // q: case- and accent-insensitive, on the name.
    let (status, body) = send(&app, list(&staff, "q=RECEPCION")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(names(&body), ["Recepcion ajena", "Recepción-PC"]);
    let (_, body) = send(&app, list(&staff, "q=%C3%B1and%C3%BA")).await; // "ñandú"
    assert_eq!(names(&body), ["SERVIDOR-ÑANDÚ"]);
    let (_, body) = send(&app, list(&staff, "q=nandu")).await;
    assert_eq!(names(&body), ["SERVIDOR-ÑANDÚ"]);
    // LIKE wildcards are literal.
    let (_, body) = send(&app, list(&staff, "q=%25")).await;
    assert_eq!(names(&body), Vec::<String>::new());
    // A tenant role never sees another tenant's devices, whatever it asks.
    let (_, body) = send(&app, list(&client, "q=recepcion")).await;
    assert_eq!(names(&body), ["Recepción-PC"]);
    // tenant_id, site_id, health, online.
    let (_, body) = send(
        &app,
        list(&staff, &format!("tenant_id={tenant}&site_id={}", second.id)),
    )
    .await;
    assert_eq!(names(&body), ["Caja Norte"]);
    let (_, body) = send(&app, list(&staff, "health=red")).await;
    assert_eq!(names(&body), ["Recepción-PC"]);
    let (_, body) = send(&app, list(&staff, "health=green")).await;
    assert_eq!(names(&body), ["Caja Norte"]);
    let (_, body) = send(
        &app,
        list(&staff, &format!("tenant_id={tenant}&health=unknown")),
    )
    .await;
    assert_eq!(names(&body), ["SERVIDOR-ÑANDÚ"]);
    let (_, body) = send(&app, list(&staff, "online=true")).await;
    assert_eq!(
        names(&body),
        Vec::<String>::new(),
        "nothing reported since start"
    );
    let (_, body) = send(
        &app,
        list(&staff, &format!("tenant_id={tenant}&online=false")),
    )
    .await;
    assert_eq!(body.as_array().unwrap().len(), 3);
    // The list shape holds with filters: limit and cursor.
    let req = list(&staff, &format!("tenant_id={tenant}&limit=2"));
    let response = test::call_service(&app, req).await;
    let cursor = response
        .headers()
        .get("X-Next-Cursor")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    let (_, rest) = send(
        &app,
        list(
            &staff,
            &format!("tenant_id={tenant}&limit=2&cursor={cursor}"),
        ),
    )
    .await;
    assert_eq!(rest.as_array().unwrap().len(), 1);
    // Bad filters are refused naming the field.
    let (status, body) = send(&app, list(&staff, "health=purple")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "health");
    let long = "a".repeat(101);
    let (status, body) = send(&app, list(&staff, &format!("q={long}"))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["field"], "q");
    let (status, body) = send(&app, list(&staff, "online=quiz%C3%A1")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
}

#[actix_rt::test]
async fn series_lists_each_series_with_its_latest_value() {
    let state = state().await;
    let app = app!(state);
    let (tenant, site) = tenant_with_site(&state.store, "Série", "pro").await;
    let (other_tenant, other_site) = tenant_with_site(&state.store, "Ajena", "pro").await;
    let (dev, _) = device(&state.store, tenant, site, "PC-Dirección").await;
    let (foreign, _) = device(&state.store, other_tenant, other_site, "PC-Ajena").await;
    let now = Utc::now();
    let row = |minutes: i64, name: &str, value: f64| MetricRow {
        ts: now - Duration::minutes(minutes),
        tenant_id: tenant,
        device_id: dev,
        name: name.into(),
        value,
    };
    let rows = vec![
        row(10, "cpu.usage_pct", 20.0),
        row(5, "cpu.usage_pct", 35.5),
        row(8, "disk.used_pct{mount=C:}", 71.0),
        row(2, "mem.used_pct", 44.0),
        row(3, "mem.used_pct", 40.0),
    ];
    metrics::copy_rows(state.store.pool(), &rows).await.unwrap();
    user(
        &state.store,
        "cli@serie.test",
        "Secreto123!",
        "client_admin",
        Some(tenant),
    )
    .await;
    let token = login!(app, "cli@serie.test", "Secreto123!");
    let get = |id: uuid::Uuid| {
        authed(
            TestRequest::get().uri(&format!("/api/devices/{id}/series")),
            &token,
        )
        .to_request()
    };
    let (status, body) = send(&app, get(dev)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["device_id"], json!(dev));
    let series: Vec<(String, f64)> = body["series"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["name"].as_str().unwrap().to_owned(),
                s["value"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        series,
        [
            ("cpu.usage_pct".to_owned(), 35.5),
            ("disk.used_pct{mount=C:}".to_owned(), 71.0),
            ("mem.used_pct".to_owned(), 44.0),
        ]
    );
    assert!(body["series"][0]["ts"].as_str().is_some());
    let (status, _) = send(&app, get(foreign)).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "another tenant's device");
}

fn app_dir(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (path, body) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, body).unwrap();
    }
    dir
}

macro_rules! app_with_files {
    ($state:expr, $files:expr) => {{
        let files = $files;
        test::init_service(
            actix_web::App::new()
                .app_data(actix_web::web::Data::new($state.clone()))
                .configure(centinela_api::configure)
                .configure(move |cfg| centinela_api::app::configure(cfg, files)),
        )
        .await
    }};
}

/// GETs `uri`; evaluates to (status, content type, cache control, body text).
macro_rules! get_raw {
    ($app:expr, $uri:expr) => {{
        let response = test::call_service(&$app, TestRequest::get().uri($uri).to_request()).await;
        let status = response.status();
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let (content_type, cache) = (header("content-type"), header("cache-control"));
        let body = String::from_utf8(test::read_body(response).await.to_vec()).unwrap();
        (status, content_type, cache, body)
    }};
}

#[actix_rt::test]
async fn without_the_app_built_root_answers_503_naming_the_build() {
    let state = state().await;
    let app = app_with_files!(state, AppFiles::default());
    let (status, content_type, _, body) = get_raw!(app, "/");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(content_type.starts_with("text/html"), "{content_type}");
    assert!(body.contains(centinela_api::app::BUILD_COMMAND), "{body}");
    assert!(body.contains("no está compilado"));
    let (status, _, _, _) = get_raw!(app, "/equipos/123");
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    // The API and the probes are untouched.
    let (status, _, _, _) = get_raw!(app, "/healthz");
    assert_eq!(status, StatusCode::OK);
}

#[actix_rt::test]
async fn the_built_app_is_served_with_fallback_and_cache_headers() {
    let state = state().await;
    let dir = app_dir(&[
        (
            "index.html",
            "<!doctype html><title>Centinela — NOC</title>",
        ),
        ("assets/index-3f9a1c.js", "console.log('señal');"),
        ("assets/index-77aa.css", "body{}"),
        ("favicon.svg", "<svg/>"),
    ]);
    let app = app_with_files!(state, AppFiles::from_dir(dir.path()).unwrap());
    let (status, content_type, cache, body) = get_raw!(app, "/");
    assert_eq!(status, StatusCode::OK);
    assert_eq!(content_type, "text/html; charset=utf-8");
    assert_eq!(cache, "no-cache");
    assert!(body.contains("Centinela — NOC"));
    let (status, content_type, cache, body) = get_raw!(app, "/assets/index-3f9a1c.js");
    assert_eq!(status, StatusCode::OK);
    assert!(
        content_type.ends_with("javascript; charset=utf-8"),
        "{content_type}"
    );
    assert_eq!(cache, "public, max-age=31536000, immutable");
    assert_eq!(body, "console.log('señal');");
    let (_, content_type, _, _) = get_raw!(app, "/assets/index-77aa.css");
    assert_eq!(content_type, "text/css; charset=utf-8");
    let (_, content_type, cache, _) = get_raw!(app, "/favicon.svg");
    assert_eq!(content_type, "image/svg+xml");
    assert_eq!(cache, "public, max-age=3600");
    // Routes of the app fall back to index.html.
    for path in ["/equipos/7f1c", "/alertas", "/tickets/TKT-000123"] {
        let (status, _, cache, body) = get_raw!(app, path);
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(cache, "no-cache");
        assert!(body.contains("Centinela — NOC"), "{path}");
    }
    // Unknown API paths, WebSocket paths and non-GETs are never the app.
    let (status, content_type, _, body) = get_raw!(app, "/api/unknown");
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        content_type.starts_with("application/json"),
        "{content_type}"
    );
    assert_eq!(
        serde_json::from_str::<Value>(&body).unwrap()["error"],
        "not_found"
    );
    let (status, _, _, _) = get_raw!(app, "/ws/unknown");
    assert_eq!(status, StatusCode::NOT_FOUND);
    let response = test::call_service(&app, TestRequest::post().uri("/equipos").to_request()).await;
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    // Known API routes still work with the app mounted.
    let (status, _, _, body) = get_raw!(app, "/api/meta");
    assert_eq!(status, StatusCode::OK, "{body}");
}
