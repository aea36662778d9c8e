//! Demo-only storage (`centinela demo`): whether a database may hold the demo, the seed marker,
//! the tenants' legal profile, tickets placed in a given state and time, agent tokens handed to
//! the simulated fleet, and the progress of the metrics history. Nothing on the production path
//! calls this module.

use crate::devices::Device;
use crate::tickets::Ticket;
use crate::{Result, new_secret, token_hash};
use chrono::{DateTime, Utc};
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// What a database holds, as far as the demo is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DatabaseState {
    /// No schema yet, or a migrated schema without tenants, users or devices.
    Empty,
    /// Seeded by the demo before (the marker row exists).
    Demo,
    /// Holds data the demo did not write: the demo must not touch it (the text says what).
    Other(String),
}

/// Inspects the database before anything is migrated or written.
pub async fn inspect(pool: &PgPool) -> Result<DatabaseState> {
    let (has_tenants, has_marker): (bool, bool) = sqlx::query_as(
        "SELECT to_regclass('public.tenants') IS NOT NULL,
                to_regclass('public.demo_seed') IS NOT NULL",
    )
    .fetch_one(pool)
    .await?;
    if has_marker {
        let (marked,): (bool,) =
            sqlx::query_as("SELECT EXISTS (SELECT 1 FROM demo_seed WHERE id = 1)")
                .fetch_one(pool)
                .await?;
        if marked {
            return Ok(DatabaseState::Demo);
        }
    }
    if !has_tenants {
        return Ok(DatabaseState::Empty);
    }
    // Row-level security hides every row without a scope: count as the engine does ('*').
    let mut tx = pool.begin().await?;
    sqlx::query("SELECT set_config('centinela.scope', '*', true)")
        .execute(&mut *tx)
        .await?;
    let (tenants, users, devices): (i64, i64, i64) = sqlx::query_as(
        "SELECT (SELECT count(*) FROM tenants), (SELECT count(*) FROM users),
                (SELECT count(*) FROM devices)",
    )
    .fetch_one(&mut *tx)
    .await?;
    tx.rollback().await?;
    if tenants == 0 && users == 0 && devices == 0 {
        return Ok(DatabaseState::Empty);
    }
    Ok(DatabaseState::Other(format!(
        "it holds {tenants} tenants, {users} users and {devices} devices that the demo did not create"
    )))
}

/// Whether the seed was completed (the marker row, written in the seed's own transaction).
pub async fn is_seeded(conn: &mut PgConnection) -> Result<bool> {
    let (seeded,): (bool,) = sqlx::query_as("SELECT EXISTS (SELECT 1 FROM demo_seed WHERE id = 1)")
        .fetch_one(conn)
        .await?;
    Ok(seeded)
}

/// Writes the marker (call in the seed's transaction, last).
pub async fn mark_seeded(conn: &mut PgConnection) -> Result<()> {
    sqlx::query("INSERT INTO demo_seed (id) VALUES (1) ON CONFLICT (id) DO NOTHING")
        .execute(conn)
        .await?;
    Ok(())
}

/// Days of history stored so far.
pub async fn history_days_loaded(pool: &PgPool) -> Result<u32> {
    let row: Option<(i32,)> =
        sqlx::query_as("SELECT history_days_loaded FROM demo_seed WHERE id = 1")
            .fetch_optional(pool)
            .await?;
    Ok(row.map_or(0, |r| u32::try_from(r.0).unwrap_or(0)))
}

/// Records that `days` days of history are stored.
pub async fn set_history_days_loaded(pool: &PgPool, days: u32) -> Result<()> {
    sqlx::query("UPDATE demo_seed SET history_days_loaded = $1 WHERE id = 1")
        .bind(i32::try_from(days).unwrap_or(i32::MAX))
        .execute(pool)
        .await?;
    Ok(())
}

/// The MSP-wide root categories by name (demo tickets are filed under them).
pub async fn default_categories(conn: &mut PgConnection) -> Result<Vec<(Uuid, String)>> {
    Ok(sqlx::query_as(
        "SELECT id, name FROM ticket_categories WHERE tenant_id IS NULL AND parent_id IS NULL",
    )
    .fetch_all(conn)
    .await?)
}

/// Places a seeded ticket in its story: created `created_at` by `created_by` (a requester on
/// the portal), now in the last status of `path`, assigned to `assigned_to`, with one history
/// event per move of `path` (the allowed moves that lead from `new` to that status), spread
/// between creation and now.
pub async fn place_ticket(
    conn: &mut PgConnection,
    ticket: &Ticket,
    created_at: DateTime<Utc>,
    path: &[&str],
    assigned_to: Option<Uuid>,
    created_by: Option<Uuid>,
) -> Result<()> {
    let status = path.last().copied().unwrap_or("new");
    sqlx::query(
        "UPDATE tickets SET created_at = $2, updated_at = now(), status = $3, assigned_to = $4,
             created_by = $5 WHERE id = $1",
    )
    .bind(ticket.id)
    .bind(created_at)
    .bind(status)
    .bind(assigned_to)
    .bind(created_by)
    .execute(&mut *conn)
    .await?;
    sqlx::query("UPDATE ticket_events SET at = $2 WHERE ticket_id = $1")
        .bind(ticket.id)
        .bind(created_at)
        .execute(&mut *conn)
        .await?;
    let span = (Utc::now() - created_at).max(chrono::Duration::minutes(1));
    let mut from = "new";
    for (i, to) in path.iter().enumerate() {
        let at = created_at + span * (i as i32 + 1) / (path.len() as i32 + 1);
        let kind = if *to == "assigned" {
            "assigned"
        } else {
            "status"
        };
        sqlx::query(
            "INSERT INTO ticket_events (tenant_id, ticket_id, at, actor_id, kind, from_value, to_value)
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(ticket.tenant_id)
        .bind(ticket.id)
        .bind(at)
        .bind(assigned_to)
        .bind(kind)
        .bind(from)
        .bind(*to)
        .execute(&mut *conn)
        .await?;
        from = to;
    }
    crate::sla::store_due(conn, ticket.id).await
}

/// Gives every listed agent a fresh token (the old ones stop working) and returns them: the
/// demo's simulated fleet authenticates with them, and no token is ever kept on disk.
pub async fn renew_agent_tokens(
    conn: &mut PgConnection,
    devices: &[Uuid],
) -> Result<Vec<(Uuid, String)>> {
    let tokens: Vec<(Uuid, String)> = devices.iter().map(|d| (*d, new_secret())).collect();
    let ids: Vec<Uuid> = tokens.iter().map(|t| t.0).collect();
    let hashes: Vec<Vec<u8>> = tokens.iter().map(|t| token_hash(&t.1)).collect();
    sqlx::query(
        "UPDATE devices d SET token_hash = v.hash
         FROM unnest($1::uuid[], $2::bytea[]) AS v(id, hash) WHERE d.id = v.id",
    )
    .bind(&ids)
    .bind(&hashes)
    .execute(conn)
    .await?;
    Ok(tokens)
}

/// Every device with its heartbeat, for the fleet (run with `Scope::All`).
pub async fn devices_of_kind(conn: &mut PgConnection, kind: &str) -> Result<Vec<Device>> {
    Ok(sqlx::query_as(
        "SELECT d.id, replace(d.id::text, '-', '') AS device_key, d.tenant_id, d.site_id, d.name,
                d.kind, d.last_seen_at, d.inventory_at, d.created_at, NULL::text AS worst_firing
         FROM devices d WHERE d.kind = $1 ORDER BY d.name, d.id",
    )
    .bind(kind)
    .fetch_all(conn)
    .await?)
}

/// Sets when a seeded device was created and last seen (history starts there).
pub async fn set_device_times(
    conn: &mut PgConnection,
    device: Uuid,
    created_at: DateTime<Utc>,
    last_seen_at: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query("UPDATE devices SET created_at = $2, last_seen_at = $3 WHERE id = $1")
        .bind(device)
        .bind(created_at)
        .bind(last_seen_at)
        .execute(conn)
        .await?;
    Ok(())
}

/// Counts of what the seed wrote (tests and the start-up summary; run with `Scope::All`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct SeedCounts {
    pub tenants: i64,
    pub sites: i64,
    pub users: i64,
    pub devices: i64,
    pub routers: i64,
    pub tickets: i64,
    pub ticket_statuses: i64,
    pub alerts: i64,
}

pub async fn counts(conn: &mut PgConnection) -> Result<SeedCounts> {
    Ok(sqlx::query_as(
        "SELECT (SELECT count(*) FROM tenants) AS tenants, (SELECT count(*) FROM sites) AS sites,
                (SELECT count(*) FROM users) AS users, (SELECT count(*) FROM devices) AS devices,
                (SELECT count(*) FROM devices WHERE kind = 'routeros') AS routers,
                (SELECT count(*) FROM tickets) AS tickets,
                (SELECT count(DISTINCT status) FROM tickets) AS ticket_statuses,
                (SELECT count(*) FROM alerts) AS alerts",
    )
    .fetch_one(conn)
    .await?)
}
