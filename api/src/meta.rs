//! `GET /api/meta`: what the login page needs before anyone logs in — whether this engine runs
//! the demo, and then the demo accounts (so no credentials live in the app bundle), and the
//! engine's version. Unauthenticated by design: it says nothing a visitor of a demo should not
//! see, and outside the demo only `{"demo": false, "version"}`.

use actix_web::{HttpResponse, web};
use serde::Serialize;

/// One demo account shown on the login page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct DemoAccount {
    pub email: String,
    pub password: String,
    pub role: String,
    pub name: String,
}

/// Demo mode, registered as app data by `centinela demo` only (`serve` never does).
#[derive(Debug, Clone, Default)]
pub struct DemoMode {
    pub accounts: Vec<DemoAccount>,
}

/// The answer of `GET /api/meta`.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Meta {
    pub demo: bool,
    /// Only in demo mode.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub accounts: Option<Vec<DemoAccount>>,
    pub version: String,
}

/// `GET /api/meta`.
pub async fn meta(demo: Option<web::Data<DemoMode>>) -> HttpResponse {
    let body = Meta {
        demo: demo.is_some(),
        accounts: demo.as_deref().map(|d| d.accounts.clone()),
        version: env!("CARGO_PKG_VERSION").to_owned(),
    };
    HttpResponse::Ok()
        .insert_header(("Cache-Control", "no-store"))
        .json(body)
}
