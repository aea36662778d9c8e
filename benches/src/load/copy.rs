//! The physical limit: binary `COPY` of the same rows the engine writes (same table, same
//! columns, `encode_copy` as the writer uses it), one connection, one batch per statement, with
//! nothing in between. Encoding is timed too: the writer pays for it as well.

use anyhow::Result;
use centinela_storage::Store;
use centinela_storage::metrics::{MetricRow, encode_copy};
use chrono::{DateTime, Utc};
use std::time::Instant;
use uuid::Uuid;

/// What the baseline measured.
#[derive(Debug, Clone, Copy, Default)]
pub struct CopyResult {
    pub rows: u64,
    pub secs: f64,
    pub rows_per_s: f64,
}

/// Writes `total` rows for `devices × names` (one "message" = one row per name), timestamps
/// from `start` one microsecond apart, under `tenant`, in COPY batches of `batch` rows.
pub async fn baseline(
    store: &Store,
    tenant: Uuid,
    devices: &[Uuid],
    names: &[String],
    start: DateTime<Utc>,
    total: u64,
    batch: usize,
) -> Result<CopyResult> {
    let batch = batch.max(names.len()).max(1);
    let mut rows: Vec<MetricRow> = (0..batch)
        .map(|i| MetricRow {
            ts: start,
            tenant_id: tenant,
            device_id: devices[i / names.len() % devices.len()],
            name: names[i % names.len()].clone(),
            value: 0.0,
        })
        .collect();
    let mut buf = Vec::with_capacity(batch * 80);
    let mut conn = store.pool().acquire().await?;
    let began = Instant::now();
    let (mut written, mut message) = (0u64, 0u64);
    while written < total {
        let n = batch.min((total - written) as usize);
        for (i, row) in rows[..n].iter_mut().enumerate() {
            if i % names.len() == 0 {
                message += 1;
            }
            row.device_id = devices[(message as usize) % devices.len()];
            row.ts = start + chrono::Duration::microseconds(message as i64);
            row.value = (10 + (message + i as u64) % 71) as f64;
        }
        buf.clear();
        encode_copy(&rows[..n], &mut buf);
        let mut copy = conn
            .copy_in_raw(
                "COPY metrics (ts, tenant_id, device_id, name, value) FROM STDIN (FORMAT binary)",
            )
            .await?;
        for chunk in buf.chunks(1 << 20) {
            copy.send(chunk).await?;
        }
        written += copy.finish().await?;
    }
    let secs = began.elapsed().as_secs_f64();
    Ok(CopyResult {
        rows: written,
        secs,
        rows_per_s: written as f64 / secs.max(1e-9),
    })
}
