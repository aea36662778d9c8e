//! Routers: how to reach a `routeros` device. Credentials arrive here already sealed (AES-256-GCM
//! under the master key, done by the caller); this module never sees them in clear.

use crate::{Result, StorageError};
use sqlx::PgConnection;
use uuid::Uuid;

/// A router's connection settings, as stored.
#[derive(Clone, sqlx::FromRow)]
pub struct RouterTarget {
    pub device_id: Uuid,
    pub tenant_id: Uuid,
    pub host: String,
    pub port: i32,
    pub tls: bool,
    pub verify_tls: bool,
    /// `0x01 || nonce || ciphertext || tag` of the credentials.
    pub sealed_credentials: Vec<u8>,
    pub last_log_id: Option<i64>,
}

impl std::fmt::Debug for RouterTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RouterTarget")
            .field("device_id", &self.device_id)
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .finish_non_exhaustive()
    }
}

const COLUMNS: &str =
    "device_id, tenant_id, host, port, tls, verify_tls, sealed_credentials, last_log_id";

/// Stores the target of a router device created in the same transaction.
pub async fn insert(conn: &mut PgConnection, target: &RouterTarget) -> Result<()> {
    sqlx::query(
        "INSERT INTO router_targets (device_id, tenant_id, host, port, tls, verify_tls, sealed_credentials)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
    )
    .bind(target.device_id)
    .bind(target.tenant_id)
    .bind(&target.host)
    .bind(target.port)
    .bind(target.tls)
    .bind(target.verify_tls)
    .bind(&target.sealed_credentials)
    .execute(conn)
    .await
    .map_err(StorageError::classify)?;
    Ok(())
}

pub async fn get(conn: &mut PgConnection, device: Uuid) -> Result<Option<RouterTarget>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM router_targets WHERE device_id = $1"
    ))
    .bind(device)
    .fetch_optional(conn)
    .await?)
}

/// The routers among some devices (device lists).
pub async fn for_devices(conn: &mut PgConnection, devices: &[Uuid]) -> Result<Vec<RouterTarget>> {
    if devices.is_empty() {
        return Ok(Vec::new());
    }
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM router_targets WHERE device_id = ANY($1)"
    ))
    .bind(devices)
    .fetch_all(conn)
    .await?)
}

/// Every router (engine start, key rotation).
pub async fn all(conn: &mut PgConnection) -> Result<Vec<RouterTarget>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM router_targets ORDER BY device_id"
    ))
    .fetch_all(conn)
    .await?)
}

/// What a PATCH may change; `None` keeps the stored value.
#[derive(Debug, Default, Clone)]
pub struct TargetChange {
    pub host: Option<String>,
    pub port: Option<i32>,
    pub tls: Option<bool>,
    pub verify_tls: Option<bool>,
    pub sealed_credentials: Option<Vec<u8>>,
}

pub async fn update(conn: &mut PgConnection, device: Uuid, change: &TargetChange) -> Result<()> {
    let done = sqlx::query(
        "UPDATE router_targets SET host = coalesce($2, host), port = coalesce($3, port),
             tls = coalesce($4, tls), verify_tls = coalesce($5, verify_tls),
             sealed_credentials = coalesce($6, sealed_credentials), updated_at = now()
         WHERE device_id = $1",
    )
    .bind(device)
    .bind(&change.host)
    .bind(change.port)
    .bind(change.tls)
    .bind(change.verify_tls)
    .bind(&change.sealed_credentials)
    .execute(conn)
    .await
    .map_err(StorageError::classify)?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// Remembers the newest log entry taken in (`None` after the router's ids restarted).
pub async fn set_last_log_id(conn: &mut PgConnection, device: Uuid, id: Option<i64>) -> Result<()> {
    sqlx::query("UPDATE router_targets SET last_log_id = $2 WHERE device_id = $1")
        .bind(device)
        .bind(id)
        .execute(conn)
        .await?;
    Ok(())
}

/// Replaces the sealed credentials of one router (master key rotation).
pub async fn reseal(conn: &mut PgConnection, device: Uuid, sealed: &[u8]) -> Result<()> {
    sqlx::query("UPDATE router_targets SET sealed_credentials = $2, updated_at = now() WHERE device_id = $1")
        .bind(device)
        .bind(sealed)
        .execute(conn)
        .await?;
    Ok(())
}
