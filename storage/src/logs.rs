//! Device log lines (agent `events`, later router logs).

use crate::{Keyset, Result};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// One log line.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct LogLine {
    pub ts: DateTime<Utc>,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub level: String,
    pub source: String,
    pub message: String,
}

/// Inserts many lines in one statement.
pub async fn insert_many(conn: &mut PgConnection, lines: &[LogLine]) -> Result<u64> {
    if lines.is_empty() {
        return Ok(0);
    }
    // PostgreSQL text cannot hold NUL: a line carrying one (a user name typed at a router's
    // login prompt, say) must not fail the whole batch forever.
    let col = |f: fn(&LogLine) -> &str| {
        lines
            .iter()
            .map(|l| f(l).replace('\0', ""))
            .collect::<Vec<_>>()
    };
    // Lines of a device deleted while they were queued are dropped, not retried forever.
    let done = sqlx::query(
        "INSERT INTO device_logs (ts, tenant_id, device_id, level, source, message)
         SELECT u.* FROM unnest($1::timestamptz[], $2::uuid[], $3::uuid[], $4::text[], $5::text[], $6::text[])
             AS u(ts, tenant_id, device_id, level, source, message)
         WHERE EXISTS (SELECT 1 FROM devices d WHERE d.id = u.device_id)",
    )
    .bind(lines.iter().map(|l| l.ts).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.tenant_id).collect::<Vec<_>>())
    .bind(lines.iter().map(|l| l.device_id).collect::<Vec<_>>())
    .bind(col(|l| &l.level))
    .bind(col(|l| &l.source))
    .bind(col(|l| &l.message))
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The sort key of [`query`]: newest first, then the MD5 of the line (lines have no id; two
/// identical lines at the same instant may fold into one across a page boundary).
pub type LogKey = (DateTime<Utc>, String);

/// The [`LogKey`] of a line.
pub fn list_key(l: &LogLine) -> LogKey {
    use md5::Digest;
    (l.ts, hex::encode(md5::Md5::digest(l.message.as_bytes())))
}

/// The latest lines of a device in a time range.
pub async fn query(
    conn: &mut PgConnection,
    device: Uuid,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    page: &Keyset<LogKey>,
) -> Result<Vec<LogLine>> {
    let (at, digest) = page.after.clone().unzip();
    Ok(sqlx::query_as(
        "SELECT ts, tenant_id, device_id, level, source, message FROM device_logs
         WHERE device_id = $1 AND ts >= $2 AND ts < $3
           AND ($5::timestamptz IS NULL OR (ts, md5(message)) < ($5, $6))
         ORDER BY ts DESC, md5(message) DESC LIMIT $4",
    )
    .bind(device)
    .bind(from)
    .bind(to)
    .bind(page.limit)
    .bind(at)
    .bind(digest)
    .fetch_all(conn)
    .await?)
}
