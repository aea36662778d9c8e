//! Remote scripts, their approval, and their runs. A run's id is the command id the agent
//! echoes in its result.

use crate::{Keyset, NameKey, Result, StorageError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Script {
    pub id: Uuid,
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub interpreter: String,
    pub body: String,
    pub timeout_s: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub approved_by: Option<Uuid>,
    pub approved_at: Option<DateTime<Utc>>,
    pub updated_at: DateTime<Utc>,
}

const SCRIPT: &str = "id, tenant_id, name, interpreter, body, timeout_s, created_by, created_at, \
    approved_by, approved_at, updated_at";

/// A new script (unapproved).
#[derive(Debug, Clone)]
pub struct NewScript {
    pub tenant_id: Option<Uuid>,
    pub name: String,
    pub interpreter: String,
    pub body: String,
    pub timeout_s: i32,
    pub created_by: Option<Uuid>,
}

pub async fn create(conn: &mut PgConnection, new: &NewScript) -> Result<Script> {
    sqlx::query_as(sqlf!(
        "INSERT INTO scripts (id, tenant_id, name, interpreter, body, timeout_s, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7) RETURNING {SCRIPT}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.tenant_id)
    .bind(&new.name)
    .bind(&new.interpreter)
    .bind(&new.body)
    .bind(new.timeout_s)
    .bind(new.created_by)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Script> {
    sqlx::query_as(sqlf!("SELECT {SCRIPT} FROM scripts WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StorageError::NotFound)
}

/// Scripts usable for a tenant (its own and the global ones), or all visible ones.
pub async fn list(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    page: &Keyset<NameKey>,
) -> Result<Vec<Script>> {
    let (name, id) = page.after.clone().unzip();
    Ok(sqlx::query_as(sqlf!(
        "SELECT {SCRIPT} FROM scripts
         WHERE ($1::uuid IS NULL OR tenant_id IS NULL OR tenant_id = $1)
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

/// Changes a script; any change of what runs withdraws its approval.
pub async fn update(
    conn: &mut PgConnection,
    id: Uuid,
    name: Option<&str>,
    interpreter: Option<&str>,
    body: Option<&str>,
    timeout_s: Option<i32>,
) -> Result<Script> {
    sqlx::query_as(sqlf!(
        "UPDATE scripts SET name = coalesce($2, name), interpreter = coalesce($3, interpreter),
             body = coalesce($4, body), timeout_s = coalesce($5, timeout_s), updated_at = now(),
             approved_by = CASE WHEN $3 IS NULL AND $4 IS NULL AND $5 IS NULL THEN approved_by END,
             approved_at = CASE WHEN $3 IS NULL AND $4 IS NULL AND $5 IS NULL THEN approved_at END
         WHERE id = $1 RETURNING {SCRIPT}"
    ))
    .bind(id)
    .bind(name)
    .bind(interpreter)
    .bind(body)
    .bind(timeout_s)
    .fetch_optional(conn)
    .await
    .map_err(StorageError::classify)?
    .ok_or(StorageError::NotFound)
}

/// Approves the script as it is — or, given `seen` (the `updated_at` the approver reviewed),
/// only if it has not changed since (`Conflict` otherwise).
pub async fn approve(
    conn: &mut PgConnection,
    id: Uuid,
    by: Uuid,
    seen: Option<DateTime<Utc>>,
) -> Result<Script> {
    let approved: Option<Script> = sqlx::query_as(sqlf!(
        "UPDATE scripts SET approved_by = $2, approved_at = now(), updated_at = now()
         WHERE id = $1 AND ($3::timestamptz IS NULL OR updated_at = $3) RETURNING {SCRIPT}"
    ))
    .bind(id)
    .bind(by)
    .bind(seen)
    .fetch_optional(&mut *conn)
    .await?;
    match approved {
        Some(script) => Ok(script),
        None => {
            get(conn, id).await?;
            Err(StorageError::Conflict(
                "the script changed after it was reviewed; review it again".into(),
            ))
        }
    }
}

pub async fn delete(conn: &mut PgConnection, id: Uuid) -> Result<()> {
    let done = sqlx::query("DELETE FROM scripts WHERE id = $1")
        .bind(id)
        .execute(conn)
        .await?;
    if done.rows_affected() == 0 {
        return Err(StorageError::NotFound);
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct ScriptRun {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub script_id: Option<Uuid>,
    pub script_name: String,
    pub requested_by: Option<Uuid>,
    pub requested_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub status: String,
    pub exit_code: Option<i32>,
    pub stdout: Option<String>,
    pub stderr: Option<String>,
    pub duration_ms: Option<i64>,
    pub reason: Option<String>,
    pub finished_at: Option<DateTime<Utc>>,
}

const RUN: &str = "id, tenant_id, device_id, script_id, script_name, requested_by, requested_at, \
    expires_at, status, exit_code, stdout, stderr, duration_ms, reason, finished_at";

/// Records a run about to be sent.
pub async fn create_run(
    conn: &mut PgConnection,
    id: Uuid,
    device: (Uuid, Uuid),
    script: &Script,
    requested_by: Uuid,
    expires_at: DateTime<Utc>,
) -> Result<ScriptRun> {
    sqlx::query_as(sqlf!(
        "INSERT INTO script_runs (id, tenant_id, device_id, script_id, script_name, requested_by, expires_at, status, timeout_s)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'sent', $8) RETURNING {RUN}"
    ))
    .bind(id)
    .bind(device.1)
    .bind(device.0)
    .bind(script.id)
    .bind(&script.name)
    .bind(requested_by)
    .bind(expires_at)
    .bind(script.timeout_s)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

pub async fn get_run(conn: &mut PgConnection, id: Uuid) -> Result<ScriptRun> {
    sqlx::query_as(sqlf!("SELECT {RUN} FROM script_runs WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StorageError::NotFound)
}

/// The sort key of [`list_runs`]: newest first, then id.
pub type RunKey = (DateTime<Utc>, Uuid);

/// The [`RunKey`] of a run.
pub fn run_key(r: &ScriptRun) -> RunKey {
    (r.requested_at, r.id)
}

pub async fn list_runs(
    conn: &mut PgConnection,
    device: Option<Uuid>,
    page: &Keyset<RunKey>,
) -> Result<Vec<ScriptRun>> {
    let (at, id) = page.after.unzip();
    Ok(sqlx::query_as(sqlf!(
        "SELECT {RUN} FROM script_runs WHERE ($1::uuid IS NULL OR device_id = $1)
           AND ($3::timestamptz IS NULL OR (requested_at, id) < ($3, $4))
         ORDER BY requested_at DESC, id DESC LIMIT $2"
    ))
    .bind(device)
    .bind(page.limit)
    .bind(at)
    .bind(id)
    .fetch_all(conn)
    .await?)
}

/// A result reported by an agent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunResult {
    pub status: String,
    pub exit_code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub duration_ms: Option<i64>,
    pub reason: Option<String>,
}

/// Stores the result of a pending (or expired: the script may have run late, or its result
/// waited in the agent's queue) run of this device; `None` if there is no such run (unknown id,
/// another device's run, already finished: a replayed or forged result).
pub async fn finish_run(
    conn: &mut PgConnection,
    id: Uuid,
    device: Uuid,
    result: &RunResult,
) -> Result<Option<ScriptRun>> {
    let clean = |s: &str| s.replace('\0', "");
    sqlx::query_as(sqlf!(
        "UPDATE script_runs SET status = $3, exit_code = $4, stdout = $5, stderr = $6,
             duration_ms = $7, reason = $8, finished_at = now()
         WHERE id = $1 AND device_id = $2 AND status IN ('sent', 'expired') RETURNING {RUN}"
    ))
    .bind(id)
    .bind(device)
    .bind(&result.status)
    .bind(result.exit_code)
    .bind(clean(&result.stdout))
    .bind(clean(&result.stderr))
    .bind(result.duration_ms)
    .bind(result.reason.as_deref().map(clean))
    .fetch_optional(conn)
    .await
    .map_err(StorageError::classify)
}

/// Marks pending runs as expired once nothing can be running any more: past the command's
/// expiry plus the script's timeout and a minute of grace. Returns them.
pub async fn expire_runs(conn: &mut PgConnection, now: DateTime<Utc>) -> Result<Vec<ScriptRun>> {
    Ok(sqlx::query_as(sqlf!(
        "UPDATE script_runs SET status = 'expired', finished_at = $1,
             reason = 'the agent did not answer before the command expired'
         WHERE status = 'sent'
           AND expires_at + make_interval(secs => timeout_s + 60) < $1 RETURNING {RUN}"
    ))
    .bind(now)
    .fetch_all(conn)
    .await?)
}

/// The engine's command signing key: (public, sealed private).
pub async fn signing_key(conn: &mut PgConnection) -> Result<Option<(Vec<u8>, Vec<u8>)>> {
    Ok(
        sqlx::query_as("SELECT public_key, sealed_private FROM command_keys WHERE id = 1")
            .fetch_optional(conn)
            .await?,
    )
}

/// Stores the signing key unless one exists; returns what is stored afterwards.
pub async fn store_signing_key_if_absent(
    conn: &mut PgConnection,
    public: &[u8],
    sealed_private: &[u8],
) -> Result<(Vec<u8>, Vec<u8>)> {
    sqlx::query(
        "INSERT INTO command_keys (id, public_key, sealed_private) VALUES (1, $1, $2)
         ON CONFLICT (id) DO NOTHING",
    )
    .bind(public)
    .bind(sealed_private)
    .execute(&mut *conn)
    .await?;
    signing_key(conn).await?.ok_or(StorageError::NotFound)
}

/// Replaces the sealed private key (master key rotation).
pub async fn reseal_signing_key(conn: &mut PgConnection, sealed_private: &[u8]) -> Result<()> {
    sqlx::query("UPDATE command_keys SET sealed_private = $1 WHERE id = 1")
        .bind(sealed_private)
        .execute(conn)
        .await?;
    Ok(())
}
