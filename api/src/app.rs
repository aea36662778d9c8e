//! The NOC web app (`dashboards/`, built by Vite into `dashboards/dist`), served from the
//! binary: the build is embedded at compile time, so one binary is still the whole deployment.
//! The engine compiles without the build (the app then answers 503 naming the command that
//! builds it).
//!
//! Routing, registered last with [`configure`]: `GET /` and every other `GET`/`HEAD` outside
//! `/api`, `/ws` and the probes serve the file at that path, or `index.html` (the app routes
//! in the browser). Everything else that matched no route gets the JSON 404
//! `{"error":"not_found"}`, so an unknown `/api/...` is never answered with the app.
//!
//! Caching: Vite names the files under `assets/` after a hash of their content, so they are
//! `immutable` for a year; `index.html` is `no-cache` (revalidated on every load, so a new
//! build is picked up at once); other files an hour.

use crate::error::ApiError;
use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};
use std::borrow::Cow;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// The command that builds the app, named by the 503 page.
pub const BUILD_COMMAND: &str = "cd dashboards && npm ci && npm run build";

/// Path prefixes that are never the app's.
const NOT_APP: [&str; 5] = ["/api", "/ws", "/healthz", "/readyz", "/metrics"];

#[derive(rust_embed::RustEmbed)]
#[folder = "../dashboards/dist"]
#[allow_missing = true]
struct Embedded;

/// The app's files by path (without the leading `/`).
#[derive(Clone, Debug, Default)]
pub struct AppFiles {
    files: Arc<HashMap<String, Cow<'static, [u8]>>>,
}

impl AppFiles {
    /// The build embedded in the binary (empty when `dashboards/dist` did not exist).
    pub fn embedded() -> AppFiles {
        let files = Embedded::iter()
            .filter_map(|path| Embedded::get(&path).map(|f| (path.into_owned(), f.data)))
            .collect();
        AppFiles {
            files: Arc::new(files),
        }
    }

    /// A build read from a directory (tests, and a build made after the binary).
    pub fn from_dir(dir: &Path) -> std::io::Result<AppFiles> {
        let mut files = HashMap::new();
        let mut pending = vec![dir.to_owned()];
        while let Some(folder) = pending.pop() {
            for entry in std::fs::read_dir(&folder)? {
                let path = entry?.path();
                if path.is_dir() {
                    pending.push(path);
                    continue;
                }
                let Ok(relative) = path.strip_prefix(dir) else {
                    continue;
                };
                let key = relative.to_string_lossy().replace('\\', "/");
                files.insert(key, Cow::Owned(std::fs::read(&path)?));
            }
        }
        Ok(AppFiles {
            files: Arc::new(files),
        })
    }

    /// Whether a build is present (it has an `index.html`).
    pub fn is_built(&self) -> bool {
        self.files.contains_key("index.html")
    }

    fn get(&self, path: &str) -> Option<&[u8]> {
        self.files.get(path).map(|f| f.as_ref())
    }
}

/// Mounts the app: `GET /` and the fallback for everything no other route matched.
pub fn configure(cfg: &mut web::ServiceConfig, files: AppFiles) {
    cfg.app_data(web::Data::new(files))
        .route("/", web::get().to(serve))
        .default_service(web::to(serve));
}

async fn serve(req: HttpRequest, files: web::Data<AppFiles>) -> HttpResponse {
    let path = req.path();
    let is_read = req.method() == Method::GET || req.method() == Method::HEAD;
    if !is_read || NOT_APP.iter().any(|p| under(path, p)) {
        return actix_web::ResponseError::error_response(&ApiError::NotFound);
    }
    let wanted = path.trim_start_matches('/');
    if !wanted.is_empty()
        && !wanted.split('/').any(|s| s == "..")
        && let Some(body) = files.get(wanted)
    {
        return file(wanted, body);
    }
    match files.get("index.html") {
        Some(index) => file("index.html", index),
        None => not_built(),
    }
}

/// `path` is `prefix` or below it (`/apiary` is not under `/api`).
fn under(path: &str, prefix: &str) -> bool {
    path.strip_prefix(prefix)
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn file(path: &str, body: &[u8]) -> HttpResponse {
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let cache = if path == "index.html" {
        "no-cache"
    } else if path.starts_with("assets/") {
        "public, max-age=31536000, immutable"
    } else {
        "public, max-age=3600"
    };
    HttpResponse::Ok()
        .insert_header((
            header::CONTENT_TYPE,
            mime.essence_str().to_owned() + charset(&mime),
        ))
        .insert_header((header::CACHE_CONTROL, cache))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .body(body.to_vec())
}

/// Text types are UTF-8 (Spanish text end to end).
fn charset(mime: &mime_guess::Mime) -> &'static str {
    let text = mime.type_() == mime_guess::mime::TEXT
        || mime.subtype() == mime_guess::mime::JAVASCRIPT
        || mime.subtype() == mime_guess::mime::JSON;
    if text { "; charset=utf-8" } else { "" }
}

fn not_built() -> HttpResponse {
    let page = format!(
        "<!doctype html><html lang=\"es\"><meta charset=\"utf-8\"><title>Centinela</title>\
         <body style=\"font-family:sans-serif;background:#111;color:#eee;padding:2em\">\
         <h1>El panel NOC no está compilado</h1>\
         <p>Este binario se construyó sin <code>dashboards/dist</code>. Compílelo con \
         <code>{BUILD_COMMAND}</code> (o ejecute <code>scripts/run</code>, que lo hace) y vuelva \
         a construir el motor.</p>\
         <p lang=\"en\">The NOC app was not built: run <code>{BUILD_COMMAND}</code>, then \
         rebuild the engine.</p></body></html>"
    );
    HttpResponse::ServiceUnavailable()
        .insert_header((header::CONTENT_TYPE, "text/html; charset=utf-8"))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_match_whole_segments() {
        assert!(under("/api", "/api"));
        assert!(under("/api/unknown", "/api"));
        assert!(!under("/apiary", "/api"));
        assert!(under("/ws/noc", "/ws"));
    }
}
