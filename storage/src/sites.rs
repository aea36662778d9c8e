//! Sites of a tenant. Each has a `site_key` agents enroll with.

use crate::{Keyset, NameKey, Result, StorageError, new_secret};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Site {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
    /// Enrollment secret; the API shows it to staff only.
    pub site_key: String,
    pub created_at: DateTime<Utc>,
}

/// Fields of a new site.
#[derive(Debug, Clone, Default)]
pub struct NewSite {
    pub tenant_id: Uuid,
    pub name: String,
    pub address: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub zip: Option<String>,
    pub lat: Option<f64>,
    pub lon: Option<f64>,
}

const COLUMNS: &str =
    "id, tenant_id, name, address, city, state, zip, lat, lon, site_key, created_at";

pub async fn create(conn: &mut PgConnection, site: &NewSite) -> Result<Site> {
    sqlx::query_as(sqlf!(
        "INSERT INTO sites (id, tenant_id, name, address, city, state, zip, lat, lon, site_key)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(site.tenant_id)
    .bind(&site.name)
    .bind(&site.address)
    .bind(&site.city)
    .bind(&site.state)
    .bind(&site.zip)
    .bind(site.lat)
    .bind(site.lon)
    .bind(new_secret())
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

pub async fn list(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    page: &Keyset<NameKey>,
) -> Result<Vec<Site>> {
    let (name, id) = page.after.clone().unzip();
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM sites WHERE ($1::uuid IS NULL OR tenant_id = $1)
           AND ($3::text IS NULL OR (name, id) > ($3, $4))
         ORDER BY name, id LIMIT $2"
    ))
    .bind(tenant)
    .bind(page.limit)
    .bind(name)
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// The site an agent enrolls into (run with `Scope::All`: the key is the credential).
pub async fn by_site_key(conn: &mut PgConnection, site_key: &str) -> Result<Option<Site>> {
    Ok(
        sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM sites WHERE site_key = $1"))
            .bind(site_key)
            .fetch_optional(conn)
            .await?,
    )
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Site> {
    sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM sites WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StorageError::NotFound)
}
