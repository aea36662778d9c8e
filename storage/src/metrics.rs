//! Metric points: the binary `COPY` encoder, queries, partition upkeep and retention.
//!
//! Writes go through [`copy_rows`] (binary `COPY`, the fastest path into PostgreSQL). Reads go
//! through [`query_raw`] and [`query_buckets`], which join the RLS-protected `devices` table so a
//! caller only ever reads metrics of devices its scope can see (metrics itself cannot carry RLS
//! on TimescaleDB; see the migration). The same SQL runs on a hypertable and on the natively
//! partitioned fallback.

use crate::{Result, StorageError};
use chrono::{DateTime, Duration, NaiveDate, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// One row of the metrics table.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub ts: DateTime<Utc>,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub name: String,
    pub value: f64,
}

/// Microseconds between the Unix epoch and PostgreSQL's epoch (2000-01-01).
const PG_EPOCH_OFFSET_MICROS: i64 = 946_684_800_000_000;

const COPY_SIGNATURE: &[u8] = b"PGCOPY\n\xff\r\n\0";

/// Encodes rows as a complete binary `COPY` stream (header, tuples, trailer) for the columns
/// `(ts, tenant_id, device_id, name, value)`.
pub fn encode_copy(rows: &[MetricRow], buf: &mut Vec<u8>) {
    buf.reserve(19 + rows.len() * 70 + 2);
    buf.extend_from_slice(COPY_SIGNATURE);
    buf.extend_from_slice(&0i32.to_be_bytes()); // flags
    buf.extend_from_slice(&0i32.to_be_bytes()); // header extension length
    for row in rows {
        buf.extend_from_slice(&5i16.to_be_bytes());
        buf.extend_from_slice(&8i32.to_be_bytes());
        let micros = row.ts.timestamp_micros() - PG_EPOCH_OFFSET_MICROS;
        buf.extend_from_slice(&micros.to_be_bytes());
        buf.extend_from_slice(&16i32.to_be_bytes());
        buf.extend_from_slice(row.tenant_id.as_bytes());
        buf.extend_from_slice(&16i32.to_be_bytes());
        buf.extend_from_slice(row.device_id.as_bytes());
        let name = row.name.as_bytes();
        buf.extend_from_slice(&(name.len() as i32).to_be_bytes());
        buf.extend_from_slice(name);
        buf.extend_from_slice(&8i32.to_be_bytes());
        buf.extend_from_slice(&row.value.to_be_bytes());
    }
    buf.extend_from_slice(&(-1i16).to_be_bytes());
}

/// Writes rows with binary `COPY`; returns the number of rows the server stored.
pub async fn copy_rows(pool: &PgPool, rows: &[MetricRow]) -> Result<u64> {
    if rows.is_empty() {
        return Ok(0);
    }
    let mut buf = Vec::new();
    encode_copy(rows, &mut buf);
    let mut conn = pool.acquire().await?;
    let mut copy = conn
        .copy_in_raw(
            "COPY metrics (ts, tenant_id, device_id, name, value) FROM STDIN (FORMAT binary)",
        )
        .await?;
    // Chunks of ~1 MiB keep the connection's write buffer small for large batches.
    for chunk in buf.chunks(1 << 20) {
        if let Err(e) = copy.send(chunk).await {
            let _ = copy.abort("client failed while sending").await;
            return Err(e.into());
        }
    }
    Ok(copy.finish().await?)
}

/// One raw point.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Point {
    pub ts: DateTime<Utc>,
    pub value: f64,
}

/// One time bucket.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Bucket {
    pub ts: DateTime<Utc>,
    pub value: f64,
    pub min: f64,
    pub max: f64,
    pub count: i64,
}

/// Raw points of one series of a visible device, oldest first.
pub async fn query_raw(
    conn: &mut PgConnection,
    device: Uuid,
    name: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Point>> {
    Ok(sqlx::query_as(
        "SELECT m.ts, m.value FROM metrics m
         WHERE m.device_id = $1 AND m.name = $2 AND m.ts >= $3 AND m.ts < $4
           AND EXISTS (SELECT 1 FROM devices d WHERE d.id = $1)
         ORDER BY m.ts LIMIT $5",
    )
    .bind(device)
    .bind(name)
    .bind(from)
    .bind(to)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Bucketed avg/min/max of one series of a visible device.
pub async fn query_buckets(
    conn: &mut PgConnection,
    device: Uuid,
    name: &str,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    bucket: Duration,
) -> Result<Vec<Bucket>> {
    let micros = bucket
        .num_microseconds()
        .filter(|m| *m > 0)
        .ok_or_else(|| StorageError::Invalid("bucket must be positive".into()))?;
    Ok(sqlx::query_as(
        "SELECT date_bin(make_interval(secs => $5::double precision / 1e6), m.ts,
                         TIMESTAMPTZ '2000-01-01 00:00:00+00') AS ts,
                avg(m.value) AS value, min(m.value) AS min, max(m.value) AS max, count(*) AS count
         FROM metrics m
         WHERE m.device_id = $1 AND m.name = $2 AND m.ts >= $3 AND m.ts < $4
           AND EXISTS (SELECT 1 FROM devices d WHERE d.id = $1)
         GROUP BY 1 ORDER BY 1",
    )
    .bind(device)
    .bind(name)
    .bind(from)
    .bind(to)
    .bind(micros)
    .fetch_all(conn)
    .await?)
}

/// The latest point of one series.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SeriesLatest {
    pub name: String,
    pub ts: DateTime<Utc>,
    pub value: f64,
}

/// Every series of a visible device with its latest point, by name. Reads one row per series
/// through the `(device_id, name, ts DESC)` index (a recursive skip scan), however long the
/// history is. At most `limit` series.
pub async fn latest_per_series(
    conn: &mut PgConnection,
    device: Uuid,
    limit: i64,
) -> Result<Vec<SeriesLatest>> {
    Ok(sqlx::query_as(
        "WITH RECURSIVE names(name) AS (
             (SELECT m.name FROM metrics m WHERE m.device_id = $1 ORDER BY m.name LIMIT 1)
             UNION ALL
             SELECT (SELECT m.name FROM metrics m WHERE m.device_id = $1 AND m.name > n.name
                     ORDER BY m.name LIMIT 1)
             FROM names n WHERE n.name IS NOT NULL
         )
         SELECT n.name, l.ts, l.value FROM names n
         CROSS JOIN LATERAL (SELECT m.ts, m.value FROM metrics m
                             WHERE m.device_id = $1 AND m.name = n.name
                             ORDER BY m.ts DESC LIMIT 1) l
         WHERE n.name IS NOT NULL AND EXISTS (SELECT 1 FROM devices d WHERE d.id = $1)
         ORDER BY n.name LIMIT $2",
    )
    .bind(device)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// How the metrics table is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Layout {
    /// A TimescaleDB hypertable (retention by policy).
    Timescale,
    /// Native range partitioning (partitions and retention by the engine).
    Partitioned,
}

pub async fn layout(pool: &PgPool) -> Result<Layout> {
    let row: (String,) =
        sqlx::query_as("SELECT relkind::text FROM pg_class WHERE oid = 'metrics'::regclass")
            .fetch_one(pool)
            .await?;
    Ok(if row.0 == "p" {
        Layout::Partitioned
    } else {
        Layout::Timescale
    })
}

fn partition_name(day: NaiveDate) -> String {
    format!("metrics_p{}", day.format("%Y%m%d"))
}

/// Makes sure daily partitions exist from `today - 1` to `today + days_ahead` (native layout).
/// Rows already in the default partition for a new day are moved into it, so creating a
/// partition never fails and never loses a point. Returns the partitions created.
pub async fn ensure_partitions(
    pool: &PgPool,
    today: NaiveDate,
    days_ahead: u32,
) -> Result<Vec<String>> {
    let mut created = Vec::new();
    for offset in -1..=i64::from(days_ahead) {
        let day = today + Duration::days(offset);
        let name = partition_name(day);
        let exists: Option<(i32,)> = sqlx::query_as("SELECT 1 FROM pg_class WHERE relname = $1")
            .bind(&name)
            .fetch_optional(pool)
            .await?;
        if exists.is_some() {
            continue;
        }
        create_partition(pool, &name, day).await?;
        created.push(name);
    }
    Ok(created)
}

async fn create_partition(pool: &PgPool, name: &str, day: NaiveDate) -> Result<()> {
    let from = day.format("%Y-%m-%d").to_string();
    let to = (day + Duration::days(1)).format("%Y-%m-%d").to_string();
    let range = format!("ts >= '{from} 00:00:00+00' AND ts < '{to} 00:00:00+00'");
    let mut tx = pool.begin().await?;
    // Names and dates are generated here (no user input), so formatting them into DDL is safe.
    let statements = [
        format!("CREATE TABLE {name} (LIKE metrics INCLUDING DEFAULTS INCLUDING CONSTRAINTS)"),
        format!("INSERT INTO {name} SELECT * FROM metrics_default WHERE {range}"),
        format!("DELETE FROM metrics_default WHERE {range}"),
        format!(
            "ALTER TABLE metrics ATTACH PARTITION {name}
             FOR VALUES FROM ('{from} 00:00:00+00') TO ('{to} 00:00:00+00')"
        ),
    ];
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Drops daily partitions that ended before `now - retention` and deletes expired rows from the
/// default partition (native layout). Returns the partitions dropped.
pub async fn drop_expired(
    pool: &PgPool,
    now: DateTime<Utc>,
    retention: Duration,
) -> Result<Vec<String>> {
    let cutoff = now - retention;
    let parts: Vec<(String,)> = sqlx::query_as(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
         WHERE i.inhparent = 'metrics'::regclass AND c.relname ~ '^metrics_p[0-9]{8}$'",
    )
    .fetch_all(pool)
    .await?;
    let mut dropped = Vec::new();
    for (name,) in parts {
        let Ok(day) = NaiveDate::parse_from_str(&name["metrics_p".len()..], "%Y%m%d") else {
            continue;
        };
        let end = (day + Duration::days(1))
            .and_hms_opt(0, 0, 0)
            .map(|t| t.and_utc());
        if end.is_some_and(|end| end <= cutoff) {
            sqlx::query(sqlf!("DROP TABLE {name}"))
                .execute(pool)
                .await?;
            dropped.push(name);
        }
    }
    sqlx::query("DELETE FROM metrics_default WHERE ts < $1")
        .bind(cutoff)
        .execute(pool)
        .await?;
    Ok(dropped)
}

/// Sets the TimescaleDB retention policy to `retention` (replacing any previous one).
pub async fn apply_timescale_retention(pool: &PgPool, retention: Duration) -> Result<()> {
    let secs = retention.num_seconds() as f64;
    sqlx::query("SELECT remove_retention_policy('metrics', if_exists => true)")
        .execute(pool)
        .await?;
    sqlx::query("SELECT add_retention_policy('metrics', drop_after => make_interval(secs => $1))")
        .bind(secs)
        .execute(pool)
        .await?;
    Ok(())
}

/// Number of stored points of a device (tests, load tools).
pub async fn count_for_device(pool: &PgPool, device: Uuid) -> Result<i64> {
    let row: (i64,) = sqlx::query_as("SELECT count(*) FROM metrics WHERE device_id = $1")
        .bind(device)
        .fetch_one(pool)
        .await?;
    Ok(row.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_stream_has_header_tuple_and_trailer() {
        let row = MetricRow {
            ts: DateTime::parse_from_rfc3339("2000-01-01T00:00:01Z")
                .unwrap()
                .to_utc(),
            tenant_id: Uuid::nil(),
            device_id: Uuid::max(),
            name: "cpu".into(),
            value: 1.5,
        };
        let mut buf = Vec::new();
        encode_copy(&[row], &mut buf);
        assert!(buf.starts_with(COPY_SIGNATURE));
        let tuple = &buf[19..];
        assert_eq!(&tuple[..2], &5i16.to_be_bytes());
        assert_eq!(&tuple[2..6], &8i32.to_be_bytes());
        assert_eq!(&tuple[6..14], &1_000_000i64.to_be_bytes());
        assert!(buf.ends_with(&(-1i16).to_be_bytes()));
        assert_eq!(
            buf.len(),
            19 + 2 + (4 + 8) + 2 * (4 + 16) + (4 + 3) + (4 + 8) + 2
        );
    }
}
