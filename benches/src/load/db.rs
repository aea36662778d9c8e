//! The database side of the harness: a fresh database on the cluster, 100k devices inserted in
//! bulk, and the counts that say what the engine really stored.

use anyhow::{Context, Result};
use centinela_model::Scope;
use centinela_storage::Store;
use chrono::{DateTime, Utc};
use sqlx::Connection;
use std::collections::HashSet;
use uuid::Uuid;

/// Creates an empty database on the cluster of `cluster_url` and returns its URL.
pub async fn fresh_database(cluster_url: &str) -> Result<String> {
    let name = format!("bench_{}", Uuid::new_v4().simple());
    let mut conn = sqlx::PgConnection::connect(cluster_url)
        .await
        .context("connect to the PostgreSQL cluster (DATABASE_URL)")?;
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut conn)
        .await
        .context("CREATE DATABASE")?;
    let slash = cluster_url
        .rfind('/')
        .context("DATABASE_URL has no database path")?;
    let (base, query) = match cluster_url[slash..].find('?') {
        Some(q) => (&cluster_url[..slash], &cluster_url[slash + q..]),
        None => (&cluster_url[..slash], ""),
    };
    Ok(format!("{base}/{name}{query}"))
}

/// Drops a database made by [`fresh_database`] (its engine must be stopped).
pub async fn drop_database(cluster_url: &str, database_url: &str) -> Result<()> {
    let name = database_url
        .rsplit('/')
        .next()
        .and_then(|n| n.split('?').next())
        .filter(|n| {
            n.starts_with("bench_") && n.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        })
        .context("not a harness database")?;
    let mut conn = sqlx::PgConnection::connect(cluster_url).await?;
    // FORCE cannot end an autovacuum worker (a superuser process) busy with the millions of
    // rows just written: wait for it rather than leave the database behind.
    let mut attempt = 0;
    loop {
        attempt += 1;
        let dropped = sqlx::query(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut conn)
        .await;
        match dropped {
            Ok(_) => return Ok(()),
            Err(_) if attempt < 60 => tokio::time::sleep(std::time::Duration::from_secs(1)).await,
            Err(error) => return Err(error.into()),
        }
    }
}

/// The server's version string.
pub async fn server_version(store: &Store) -> Result<String> {
    let (v,): (String,) = sqlx::query_as("SHOW server_version")
        .fetch_one(store.pool())
        .await?;
    Ok(v)
}

/// Registers `count` more agents of the site in one statement, heard from a minute ago (so
/// their presence is tracked after a restart) with an hour-long heartbeat (so none goes offline
/// during the run). Their tokens are unknown: they are there to be loaded, not to connect.
pub async fn insert_idle_devices(
    store: &Store,
    tenant: Uuid,
    site: Uuid,
    count: i64,
) -> Result<u64> {
    let mut tx = store.begin(Scope::All).await?;
    let done = sqlx::query(
        "INSERT INTO devices (id, tenant_id, site_id, name, kind, token_hash, heartbeat_s, last_seen_at)
         SELECT gen_random_uuid(), $1, $2, 'idle-' || g, 'agent',
                sha256(convert_to(gen_random_uuid()::text, 'UTF8')), 3600, now() - interval '1 minute'
         FROM generate_series(1, $3) AS g",
    )
    .bind(tenant)
    .bind(site)
    .bind(count)
    .execute(&mut *tx)
    .await
    .context("bulk insert of idle devices")?;
    tx.commit().await?;
    Ok(done.rows_affected())
}

/// Metric rows of the tenant with `from <= ts <= to`.
pub async fn count_rows(
    store: &Store,
    tenant: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<i64> {
    let (n,): (i64,) = sqlx::query_as(
        "SELECT count(*) FROM metrics WHERE tenant_id = $1 AND ts >= $2 AND ts <= $3",
    )
    .bind(tenant)
    .bind(from)
    .bind(to)
    .fetch_one(store.pool())
    .await?;
    Ok(n)
}

/// The messages (device, ts in µs) of which the metric `name` is stored, for these devices in
/// `[from, to]`: one row per message is enough to find it.
pub async fn stored_messages(
    store: &Store,
    devices: &[Uuid],
    name: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> Result<HashSet<(Uuid, i64)>> {
    let rows: Vec<(Uuid, DateTime<Utc>)> = sqlx::query_as(
        "SELECT device_id, ts FROM metrics
         WHERE device_id = ANY($1) AND name = $2 AND ts >= $3 AND ts <= $4",
    )
    .bind(devices)
    .bind(name)
    .bind(from)
    .bind(to)
    .fetch_all(store.pool())
    .await?;
    Ok(rows
        .into_iter()
        .map(|(d, ts)| (d, ts.timestamp_micros()))
        .collect())
}

/// Acknowledged messages that are not in `stored`.
pub fn missing(acked: &[(Uuid, Vec<i64>)], stored: &HashSet<(Uuid, i64)>) -> u64 {
    acked
        .iter()
        .flat_map(|(device, list)| list.iter().map(move |ts| (*device, *ts)))
        .filter(|key| !stored.contains(key))
        .count() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_counts_acked_messages_not_stored() {
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let acked = vec![(a, vec![1, 2, 3]), (b, vec![1])];
        let stored: HashSet<_> = [(a, 1), (a, 3), (b, 2), (b, 1)].into_iter().collect();
        assert_eq!(missing(&acked, &stored), 1);
    }
}
