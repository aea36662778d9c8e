//! Devices: agents and routers. The device token is stored hashed.

use crate::{Keyset, NameKey, Result, StorageError, new_secret, token_hash};
use centinela_model::DeviceId;
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Device {
    pub id: Uuid,
    pub device_key: String,
    pub tenant_id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    pub kind: String,
    pub last_seen_at: Option<DateTime<Utc>>,
    pub inventory_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// Worst severity among the device's firing alerts: `critical` → red, `warning` → yellow.
    pub worst_firing: Option<String>,
}

const COLUMNS: &str = "d.id, replace(d.id::text, '-', '') AS device_key, d.tenant_id, d.site_id, \
    d.name, d.kind, d.last_seen_at, d.inventory_at, d.created_at, \
    (SELECT CASE WHEN bool_or(a.severity = 'critical') THEN 'critical' ELSE max(a.severity) END \
       FROM alerts a WHERE a.device_id = d.id AND a.state = 'firing') AS worst_firing";

/// What identifies a device to the runtime (loaded at start, checked at login).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DeviceIdentity {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub site_id: Uuid,
    pub name: String,
    /// `agent` or `routeros`.
    pub kind: String,
    /// The heartbeat interval an agent was enrolled with (offline detection).
    pub heartbeat_s: Option<i32>,
    pub last_seen_at: Option<DateTime<Utc>>,
}

const IDENTITY: &str = "id, tenant_id, site_id, name, kind, heartbeat_s, last_seen_at";

/// Creates a device and returns it with its token (shown once).
pub async fn create(
    conn: &mut PgConnection,
    tenant_id: Uuid,
    site_id: Uuid,
    name: &str,
    kind: &str,
) -> Result<(Device, String)> {
    let token = new_secret();
    let id = DeviceId::new().0;
    sqlx::query(
        "INSERT INTO devices (id, tenant_id, site_id, name, kind, token_hash)
         SELECT $1, $2, s.id, $4, $5, $6 FROM sites s WHERE s.id = $3 AND s.tenant_id = $2",
    )
    .bind(id)
    .bind(tenant_id)
    .bind(site_id)
    .bind(name)
    .bind(kind)
    .bind(token_hash(&token))
    .execute(&mut *conn)
    .await
    .map_err(StorageError::classify)
    .and_then(|done| {
        if done.rows_affected() == 1 {
            Ok(())
        } else {
            Err(StorageError::Invalid(
                "site_id is not a site of tenant_id".into(),
            ))
        }
    })?;
    Ok((get(conn, id).await?, token))
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Device> {
    sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM devices d WHERE d.id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StorageError::NotFound)
}

pub async fn list(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    site: Option<Uuid>,
    page: &Keyset<NameKey>,
) -> Result<Vec<Device>> {
    let filter = DeviceFilter {
        tenant,
        site,
        ..DeviceFilter::default()
    };
    list_filtered(conn, &filter, page).await
}

/// Filters of the device list; `None` means any.
#[derive(Debug, Clone, Default)]
pub struct DeviceFilter {
    pub tenant: Option<Uuid>,
    pub site: Option<Uuid>,
    /// `green`, `yellow`, `red` or `unknown`, as the API computes it from the worst firing
    /// alert and whether the device was ever seen.
    pub health: Option<String>,
    /// Online state is the engine's (held in memory): the caller passes the devices online now
    /// and whether it wants those (`true`) or the others (`false`).
    pub online: Option<(bool, Vec<Uuid>)>,
    /// Case- and accent-insensitive text in the name or the hostname the agent reported.
    pub q: Option<String>,
}

/// Devices in name order after the page's key, filtered.
pub async fn list_filtered(
    conn: &mut PgConnection,
    f: &DeviceFilter,
    page: &Keyset<NameKey>,
) -> Result<Vec<Device>> {
    let (name, id) = page.after.clone().unzip();
    let (online_wanted, online_ids) = f.online.clone().unzip();
    let pattern = f.q.as_deref().map(like_pattern);
    Ok(sqlx::query_as(sqlf!(
        "SELECT * FROM (SELECT {COLUMNS}, d.inventory->>'hostname' AS hostname FROM devices d
           WHERE ($1::uuid IS NULL OR d.tenant_id = $1) AND ($2::uuid IS NULL OR d.site_id = $2)
             AND ($4::text IS NULL OR (d.name, d.id) > ($4, $5))
             AND ($7::bool IS NULL OR (d.id = ANY($8)) = $7)
             AND ($9::text IS NULL OR centinela_fold(d.name) LIKE $9
                  OR centinela_fold(d.inventory->>'hostname') LIKE $9)) d
         WHERE $6::text IS NULL OR $6 = CASE
             WHEN d.worst_firing = 'critical' THEN 'red'
             WHEN d.worst_firing IS NOT NULL THEN 'yellow'
             WHEN d.last_seen_at IS NULL THEN 'unknown' ELSE 'green' END
         ORDER BY d.name, d.id LIMIT $3"
    ))
    .bind(f.tenant)
    .bind(f.site)
    .bind(page.limit)
    .bind(name)
    .bind(id)
    .bind(&f.health)
    .bind(online_wanted)
    .bind(online_ids.unwrap_or_default())
    .bind(pattern)
    .fetch_all(conn)
    .await?)
}

/// `%text%` over the folded text, with `%`, `_` and `\` taken literally.
fn like_pattern(text: &str) -> String {
    let folded: String = text
        .to_lowercase()
        .chars()
        .map(|c| match c {
            'á' | 'à' | 'â' | 'ä' | 'ã' => 'a',
            'é' | 'è' | 'ê' | 'ë' => 'e',
            'í' | 'ì' | 'î' | 'ï' => 'i',
            'ó' | 'ò' | 'ô' | 'ö' | 'õ' => 'o',
            'ú' | 'ù' | 'û' | 'ü' => 'u',
            'ñ' => 'n',
            'ç' => 'c',
            other => other,
        })
        .collect();
    let mut pattern = String::with_capacity(folded.len() + 2);
    pattern.push('%');
    for c in folded.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

/// Number of devices of a tenant (plan limits).
pub async fn count_for_tenant(conn: &mut PgConnection, tenant: Uuid) -> Result<i64> {
    let row: (i64,) = sqlx::query_as("SELECT count(*) FROM devices WHERE tenant_id = $1")
        .bind(tenant)
        .fetch_one(conn)
        .await?;
    Ok(row.0)
}

pub async fn rename(conn: &mut PgConnection, id: Uuid, name: &str) -> Result<Device> {
    let done = sqlx::query("UPDATE devices SET name = $2 WHERE id = $1")
        .bind(id)
        .bind(name)
        .execute(&mut *conn)
        .await
        .map_err(StorageError::classify)?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    get(conn, id).await
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM devices WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

/// Checks a device token; returns the device when it matches (run with `Scope::All`).
pub async fn authenticate(
    conn: &mut PgConnection,
    id: Uuid,
    token: &str,
) -> Result<Option<DeviceIdentity>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {IDENTITY} FROM devices WHERE id = $1 AND token_hash = $2"
    ))
    .bind(id)
    .bind(token_hash(token))
    .fetch_optional(conn)
    .await?)
}

/// The token hashes of those of `ids` that still exist (run with `Scope::All`): live device
/// sessions are re-checked with it, so a deleted device or a replaced token ends them.
pub async fn token_hashes(conn: &mut PgConnection, ids: &[Uuid]) -> Result<Vec<(Uuid, Vec<u8>)>> {
    Ok(
        sqlx::query_as("SELECT id, token_hash FROM devices WHERE id = ANY($1)")
            .bind(ids)
            .fetch_all(conn)
            .await?,
    )
}

/// Finds the device a token belongs to (`/ws/agent`, `/api/agents/certificate`).
pub async fn by_token(conn: &mut PgConnection, token: &str) -> Result<Option<DeviceIdentity>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {IDENTITY} FROM devices WHERE token_hash = $1"
    ))
    .bind(token_hash(token))
    .fetch_optional(conn)
    .await?)
}

pub async fn identity(conn: &mut PgConnection, id: Uuid) -> Result<Option<DeviceIdentity>> {
    Ok(
        sqlx::query_as(sqlf!("SELECT {IDENTITY} FROM devices WHERE id = $1"))
            .bind(id)
            .fetch_optional(conn)
            .await?,
    )
}

/// Every device (runtime start).
pub async fn all_identities(conn: &mut PgConnection) -> Result<Vec<DeviceIdentity>> {
    Ok(sqlx::query_as(sqlf!("SELECT {IDENTITY} FROM devices"))
        .fetch_all(conn)
        .await?)
}

/// Records the heartbeat interval an agent enrolled with.
pub async fn set_heartbeat(conn: &mut PgConnection, id: Uuid, heartbeat_s: i32) -> Result<()> {
    sqlx::query("UPDATE devices SET heartbeat_s = $2 WHERE id = $1")
        .bind(id)
        .bind(heartbeat_s)
        .execute(conn)
        .await?;
    Ok(())
}

/// Stores the device's latest inventory.
pub async fn set_inventory(
    conn: &mut PgConnection,
    id: Uuid,
    inventory: &serde_json::Value,
    at: DateTime<Utc>,
) -> Result<()> {
    sqlx::query("UPDATE devices SET inventory = $2, inventory_at = $3 WHERE id = $1")
        .bind(id)
        .bind(inventory)
        .bind(at)
        .execute(conn)
        .await?;
    Ok(())
}

pub async fn inventory(conn: &mut PgConnection, id: Uuid) -> Result<Option<serde_json::Value>> {
    let row: Option<(Option<serde_json::Value>,)> =
        sqlx::query_as("SELECT inventory FROM devices WHERE id = $1")
            .bind(id)
            .fetch_optional(conn)
            .await?;
    row.map(|r| r.0).ok_or(StorageError::NotFound)
}

/// Moves `last_seen_at` forward for many devices at once. Rows locked by someone else (a long
/// transaction on one device) are skipped, not waited for: the writer that calls this serves
/// every device, and the skipped ones are written with their next report.
pub async fn touch_last_seen(
    conn: &mut PgConnection,
    ids: &[Uuid],
    seen: &[DateTime<Utc>],
) -> Result<()> {
    sqlx::query(
        "UPDATE devices d SET last_seen_at = greatest(d.last_seen_at, v.seen)
         FROM unnest($1::uuid[], $2::timestamptz[]) AS v(id, seen)
         WHERE d.id = v.id
           AND d.id IN (SELECT id FROM devices WHERE id = ANY($1) FOR UPDATE SKIP LOCKED)",
    )
    .bind(ids)
    .bind(seen)
    .execute(conn)
    .await?;
    Ok(())
}
