//! The route table over the real HTTP server: every documented route answers (never the
//! router's 404 or a 405), and unknown routes and methods under the API's prefixes answer the
//! contract's JSON 404/405 while other paths are left to the web app.

use crate::helpers::{http_client, serve, state};
use centinela_api::routes::{self, Method};
use serde_json::Value;
use std::collections::BTreeSet;

fn client() -> reqwest::Client {
    http_client()
}

fn method(m: Method) -> reqwest::Method {
    reqwest::Method::from_bytes(m.as_str().as_bytes()).unwrap()
}

/// A concrete URL path for a route template: each `{parameter}` becomes a fresh UUID.
fn concrete(path: &str) -> String {
    path.split('/')
        .map(|segment| {
            if segment.starts_with('{') {
                uuid::Uuid::new_v4().to_string()
            } else {
                segment.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[actix_web::test]
async fn every_documented_route_is_registered_and_every_registered_one_documented() {
    let state = state().await;
    let addr = serve(&state);
    let http = client();
    let doc: Value = http
        .get(format!("http://{addr}/api/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut documented = BTreeSet::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for verb in item.as_object().unwrap().keys() {
            documented.insert((verb.to_uppercase(), path.clone()));
        }
    }
    let registered: BTreeSet<_> = routes::registered()
        .into_iter()
        .map(|(m, p)| (m.as_str().to_owned(), p))
        .collect();
    assert_eq!(documented, registered, "document and registration differ");
    assert!(documented.len() >= 40, "{}", documented.len());

    for (verb, path) in &documented {
        let m = Method::ALL
            .into_iter()
            .find(|m| m.as_str() == verb)
            .unwrap();
        let url = format!("http://{addr}{}", concrete(path));
        let response = http
            .request(method(m), &url)
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert_ne!(status, 405, "{verb} {path}: {body}");
        assert!(
            !(status == 404 && body["message"] == "no such route"),
            "{verb} {path} is documented but not registered"
        );
    }
}

#[actix_web::test]
async fn unknown_routes_and_methods_answer_the_contract_json() {
    let state = state().await;
    let addr = serve(&state);
    let http = client();
    for path in [
        "/api/nada",
        "/api/devices/x/y/z",
        "/api/catálogo/ñandú",
        "/ws/nada",
        "/api",
    ] {
        let response = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "not_found", "{path}: {body}");
        assert!(body["message"].is_string());
    }
    for (verb, path, allow) in [
        (reqwest::Method::DELETE, "/api/tenants", "GET, POST"),
        (
            reqwest::Method::PUT,
            "/api/devices/00000000-0000-0000-0000-000000000000",
            "GET, PATCH, DELETE",
        ),
        (reqwest::Method::POST, "/ws/noc", "GET"),
        (reqwest::Method::POST, "/healthz", "GET"),
        (reqwest::Method::DELETE, "/readyz", "GET"),
        (reqwest::Method::PATCH, "/metrics", "GET"),
        (reqwest::Method::POST, "/api/openapi.json", "GET"),
    ] {
        let response = http
            .request(verb.clone(), format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 405, "{verb} {path}");
        let header = response
            .headers()
            .get("allow")
            .unwrap()
            .to_str()
            .unwrap()
            .to_owned();
        assert_eq!(header, allow, "{verb} {path}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "method_not_allowed", "{verb} {path}: {body}");
    }
    // Paths outside the API's prefixes are the web app's: no JSON error from the API.
    for path in ["/tickets/TKT-000001", "/apiary", "/wsx"] {
        let response = http
            .get(format!("http://{addr}{path}"))
            .send()
            .await
            .unwrap();
        let text = response.text().await.unwrap();
        assert!(!text.contains("not_found"), "{path}: {text}");
    }
}
