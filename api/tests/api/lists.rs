//! The one list shape: `?limit=&cursor=`, the next cursor in `X-Next-Cursor` and `Link`.

use crate::helpers::{
    alert, authed, device, send, state, state_with_api_timeout, tenant_with_site, user,
};
use crate::{app, login};
use actix_web::http::StatusCode;
use actix_web::test::{self, TestRequest};
use serde_json::Value;
use std::collections::HashSet;

/// Follows `X-Next-Cursor` from `first` to the last page; returns every page's rows.
macro_rules! walk {
    ($app:expr, $token:expr, $first:expr) => {{
        let mut pages: Vec<Vec<Value>> = Vec::new();
        let mut uri: String = $first.to_owned();
        loop {
            let req = authed(TestRequest::get().uri(&uri), $token).to_request();
            let res = test::call_service(&$app, req).await;
            assert_eq!(res.status(), StatusCode::OK, "{uri}");
            let next = res
                .headers()
                .get("x-next-cursor")
                .map(|v| v.to_str().unwrap().to_owned());
            let link = res
                .headers()
                .get("link")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = serde_json::from_slice(&test::read_body(res).await).unwrap();
            pages.push(body.as_array().expect("a bare array").clone());
            let Some(cursor) = next else {
                assert!(link.is_none(), "a Link header without a cursor");
                break;
            };
            let link = link.expect("Link beside X-Next-Cursor");
            assert!(link.ends_with("; rel=\"next\""), "{link}");
            assert!(link.contains(&format!("cursor={cursor}")), "{link}");
            uri = link
                .trim_start_matches('<')
                .split('>')
                .next()
                .unwrap()
                .to_owned();
            assert!(pages.len() < 50, "the pages never end");
        }
        pages
    }};
}

fn ids(pages: &[Vec<Value>]) -> Vec<String> {
    pages
        .iter()
        .flatten()
        .map(|v| v["id"].as_str().unwrap().to_owned())
        .collect()
}

#[actix_web::test]
async fn pages_follow_the_cursor_without_gaps_or_repeats() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(&store, "admin@listas.test", "Secreto123!", "admin", None).await;
    let (tenant, site) = tenant_with_site(&store, "Listas Ñuñoa", "pro").await;
    // Ties on the sort key (same name) must not lose or repeat rows at a page boundary.
    let names = ["Árbol", "PC-ñ", "PC-ñ", "PC-ñ", "Zócalo", "bodega", "Único"];
    let mut created = Vec::new();
    for name in names {
        let (id, _) = device(&store, tenant, site, name).await;
        created.push(id.to_string());
        alert(&store, tenant, id).await;
    }
    let app = app!(state);
    let admin = login!(app, "admin@listas.test", "Secreto123!");

    let pages = walk!(app, &admin, "/api/devices?limit=3");
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![3, 3, 1]
    );
    let seen = ids(&pages);
    assert_eq!(seen.iter().collect::<HashSet<_>>().len(), names.len());
    assert_eq!(
        seen.iter().collect::<HashSet<_>>(),
        created.iter().collect::<HashSet<_>>()
    );
    let all = walk!(app, &admin, "/api/devices");
    assert_eq!(all.len(), 1, "the default page holds them all");
    assert_eq!(ids(&all), seen, "paging keeps the order of one page");

    let alerts = walk!(app, &admin, "/api/alerts?state=firing&limit=2");
    assert_eq!(alerts.len(), 4);
    assert_eq!(
        ids(&alerts).iter().collect::<HashSet<_>>().len(),
        names.len()
    );

    let sites = walk!(app, &admin, "/api/sites?limit=1");
    assert_eq!(ids(&sites).len(), 1);
    let tenants = walk!(app, &admin, "/api/tenants?limit=1");
    assert_eq!(ids(&tenants).len(), 1);
}

#[actix_web::test]
async fn bad_limits_and_cursors_are_refused_by_name() {
    let state = state().await;
    let store = state.runtime.store().clone();
    user(&store, "admin@limites.test", "Secreto123!", "admin", None).await;
    let app = app!(state);
    let admin = login!(app, "admin@limites.test", "Secreto123!");
    for path in [
        "/api/devices",
        "/api/alerts",
        "/api/tickets",
        "/api/tenants",
        "/api/sites",
        "/api/thresholds",
        "/api/scripts",
        "/api/script-runs",
    ] {
        for limit in ["0", "1001", "-5"] {
            let uri = format!("{path}?limit={limit}");
            let req = authed(TestRequest::get().uri(&uri), &admin).to_request();
            let (status, body) = send(&app, req).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
            assert_eq!(body["field"], "limit", "{uri}: {body}");
        }
        let uri = format!("{path}?cursor=no-es-un-cursor");
        let req = authed(TestRequest::get().uri(&uri), &admin).to_request();
        let (status, body) = send(&app, req).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{uri}: {body}");
        assert_eq!(body["field"], "cursor", "{uri}: {body}");
        let uri = format!("{path}?limit=1000");
        let req = authed(TestRequest::get().uri(&uri), &admin).to_request();
        let (status, body) = send(&app, req).await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    }
}

#[actix_web::test]
async fn a_query_over_the_statement_timeout_answers_503_and_frees_its_connection() {
    use sqlx::Connection;
    let (state, url) = state_with_api_timeout(std::time::Duration::from_millis(300)).await;
    let store = state.runtime.store().clone();
    user(&store, "admin@lento.test", "Secreto123!", "admin", None).await;
    let app = app!(state);
    let admin = login!(app, "admin@lento.test", "Secreto123!");

    // Another session holds the devices table: the list waits on the lock until the timeout.
    let mut blocker = sqlx::PgConnection::connect(&url).await.unwrap();
    sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
    sqlx::query("LOCK TABLE devices IN ACCESS EXCLUSIVE MODE")
        .execute(&mut blocker)
        .await
        .unwrap();
    let started = std::time::Instant::now();
    for _ in 0..3 {
        let req = authed(TestRequest::get().uri("/api/devices"), &admin).to_request();
        let (status, body) = send(&app, req).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert_eq!(body["error"], "not_ready", "{body}");
    }
    // Three timeouts on a pool of two: each freed its connection.
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    sqlx::query("ROLLBACK").execute(&mut blocker).await.unwrap();
    let req = authed(TestRequest::get().uri("/api/devices"), &admin).to_request();
    let (status, body) = send(&app, req).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
