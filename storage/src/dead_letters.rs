//! Dead letters: what the engine acknowledged but cannot store, kept with its reason (see the
//! migration `..._dead_letters.sql`), and [`isolate`], which finds the rows of a batch that
//! PostgreSQL refuses so that the rest is stored.

use crate::{Result, StorageError};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::{PgConnection, PgPool};
use uuid::Uuid;

/// Most payload bytes kept per dead letter: enough to see what was wrong, bounded so a hostile
/// device cannot fill the table faster than with its ordinary traffic.
pub const MAX_PAYLOAD_BYTES: usize = 4096;

/// One dead letter to store.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub kind: String,
    pub reason: String,
    pub detail: String,
    pub payload: Vec<u8>,
}

/// A stored dead letter.
#[derive(Debug, Clone, Serialize, sqlx::FromRow)]
pub struct StoredDeadLetter {
    pub id: i64,
    pub tenant_id: Uuid,
    pub device_id: Uuid,
    pub kind: String,
    pub reason: String,
    pub detail: String,
    pub payload: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

/// Stores dead letters in one statement. Those of devices deleted meanwhile are skipped; text is
/// freed of NUL (an error message may quote the poison) and payloads are cut to
/// [`MAX_PAYLOAD_BYTES`], so that this insert cannot itself fail on its data.
pub async fn insert_many(conn: &mut PgConnection, letters: &[DeadLetter]) -> Result<u64> {
    if letters.is_empty() {
        return Ok(0);
    }
    let text = |f: fn(&DeadLetter) -> &str| {
        letters
            .iter()
            .map(|l| f(l).replace('\0', "\u{FFFD}"))
            .collect::<Vec<_>>()
    };
    let payloads: Vec<&[u8]> = letters
        .iter()
        .map(|l| &l.payload[..l.payload.len().min(MAX_PAYLOAD_BYTES)])
        .collect();
    let done = sqlx::query(
        "INSERT INTO dead_letters (tenant_id, device_id, kind, reason, detail, payload)
         SELECT u.* FROM unnest($1::uuid[], $2::uuid[], $3::text[], $4::text[], $5::text[], $6::bytea[])
             AS u(tenant_id, device_id, kind, reason, detail, payload)
         WHERE EXISTS (SELECT 1 FROM devices d WHERE d.id = u.device_id AND d.tenant_id = u.tenant_id)",
    )
    .bind(letters.iter().map(|l| l.tenant_id).collect::<Vec<_>>())
    .bind(letters.iter().map(|l| l.device_id).collect::<Vec<_>>())
    .bind(text(|l| &l.kind))
    .bind(text(|l| &l.reason))
    .bind(text(|l| &l.detail))
    .bind(payloads)
    .execute(conn)
    .await?;
    Ok(done.rows_affected())
}

/// The latest dead letters of a device.
pub async fn for_device(
    conn: &mut PgConnection,
    device: Uuid,
    limit: i64,
) -> Result<Vec<StoredDeadLetter>> {
    Ok(sqlx::query_as(
        "SELECT id, tenant_id, device_id, kind, reason, detail, payload, created_at
         FROM dead_letters WHERE device_id = $1 ORDER BY id DESC LIMIT $2",
    )
    .bind(device)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// Deletes dead letters older than `cutoff` (upkeep, with the metrics retention).
pub async fn delete_before(pool: &PgPool, cutoff: DateTime<Utc>) -> Result<u64> {
    let done = sqlx::query("DELETE FROM dead_letters WHERE created_at < $1")
        .bind(cutoff)
        .execute(pool)
        .await?;
    Ok(done.rows_affected())
}

impl StorageError {
    /// Whether PostgreSQL refused the data itself (SQLSTATE classes 22 "data exception" and 23
    /// "integrity constraint violation"): writing the same rows again fails again, so they must
    /// be set aside, not retried. Everything else (connection lost, pool timeout, shutdown...)
    /// is transient.
    pub fn is_data_error(&self) -> bool {
        match self {
            StorageError::Database(sqlx::Error::Database(db)) => db
                .code()
                .is_some_and(|c| c.starts_with("22") || c.starts_with("23")),
            StorageError::Conflict(_) | StorageError::Invalid(_) => true,
            _ => false,
        }
    }
}

/// What [`isolate`] did with a batch.
#[derive(Debug, Default, PartialEq)]
pub struct Isolated {
    /// Rows stored (as the write reported them).
    pub stored: u64,
    /// Indexes of the rows refused on their own, with PostgreSQL's reason.
    pub refused: Vec<(usize, String)>,
}

/// Writes `items` with `write`; when a write fails with a data error, splits the slice in two
/// and writes each half, down to single rows, which are then refused with the error. A
/// transient error is handed to `wait` (which counts and returns the pause to take) and the same
/// slice is tried again, so no slice is ever written twice. One bad row among n costs about
/// 2·log2(n) writes.
pub async fn isolate<'a, T, W, WF, P, PF>(items: &'a [T], mut write: W, mut wait: P) -> Isolated
where
    W: FnMut(&'a [T]) -> WF,
    WF: Future<Output = Result<u64>>,
    P: FnMut(&StorageError) -> PF,
    PF: Future<Output = ()>,
{
    let mut outcome = Isolated::default();
    // Left halves are popped first, so rows are written in their original order.
    let mut pending: Vec<std::ops::Range<usize>> = Vec::new();
    pending.push(0..items.len());
    while let Some(range) = pending.pop() {
        if range.is_empty() {
            continue;
        }
        match write(&items[range.clone()]).await {
            Ok(n) => outcome.stored += n,
            Err(error) if error.is_data_error() => {
                if range.len() == 1 {
                    outcome.refused.push((range.start, error.to_string()));
                } else {
                    let mid = range.start + range.len() / 2;
                    pending.push(mid..range.end);
                    pending.push(range.start..mid);
                }
            }
            Err(error) => {
                wait(&error).await;
                pending.push(range);
            }
        }
    }
    outcome
}
