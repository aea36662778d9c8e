//! Batches with poison rows: [`isolate`] stores the rest and names the bad rows; dead letters
//! are stored whatever they hold and stay inside their tenant.

use crate::tenant_with_device;
use centinela_model::{Scope, TenantId};
use centinela_storage::dead_letters::{self, DeadLetter, isolate};
use centinela_storage::logs::{self, LogLine};
use centinela_storage::metrics::{self, MetricRow};
use centinela_storage::testing::fresh_store;
use chrono::{TimeZone, Utc};
use std::cell::Cell;

#[tokio::test]
async fn a_copy_batch_with_poison_rows_stores_the_rest_and_names_them() {
    let (store, _) = fresh_store().await;
    let (tenant, device) = tenant_with_device(&store, "A").await;
    let row = |i: usize| MetricRow {
        ts: Utc::now(),
        tenant_id: tenant,
        device_id: device,
        name: format!("cpu.core{i}"),
        value: i as f64,
    };
    let mut rows: Vec<MetricRow> = (0..100).map(row).collect();
    // Before 4713 BC: PostgreSQL's timestamptz refuses it (22008), and the whole COPY with it.
    rows[17].ts = Utc.timestamp_millis_opt(-300_000_000_000_000).unwrap();
    // A NUL in a text column (22021).
    rows[64].name = "cpu\0x".into();
    let writes = Cell::new(0);
    let waits = Cell::new(0);
    let outcome = isolate(
        &rows,
        |chunk| {
            writes.set(writes.get() + 1);
            metrics::copy_rows(store.pool(), chunk)
        },
        |_| {
            waits.set(waits.get() + 1);
            std::future::ready(())
        },
    )
    .await;
    assert_eq!(outcome.stored, 98);
    let refused: Vec<usize> = outcome.refused.iter().map(|r| r.0).collect();
    assert_eq!(refused, vec![17, 64]);
    assert!(
        outcome.refused[0].1.contains("range"),
        "{:?}",
        outcome.refused
    );
    assert_eq!(waits.get(), 0);
    // Two bad rows in 100: about 2·2·log2(100) writes, nowhere near one per row.
    assert!(writes.get() <= 30, "{} writes", writes.get());
    assert_eq!(
        metrics::count_for_device(store.pool(), device)
            .await
            .unwrap(),
        98
    );
}

#[tokio::test]
async fn transient_errors_retry_the_same_slice_and_never_duplicate() {
    let (store, _) = fresh_store().await;
    let (tenant, device) = tenant_with_device(&store, "A").await;
    let lines: Vec<LogLine> = (0..8)
        .map(|i| LogLine {
            ts: if i == 5 {
                Utc.timestamp_millis_opt(-300_000_000_000_000).unwrap()
            } else {
                Utc::now()
            },
            tenant_id: tenant,
            device_id: device,
            level: "info".into(),
            source: "agent".into(),
            message: format!("line {i}"),
        })
        .collect();
    // The first attempt fails as if the connection dropped; it must be tried again as it was.
    let failed_once = Cell::new(false);
    let waits = Cell::new(0);
    let outcome = isolate(
        &lines,
        |chunk| {
            let first = !failed_once.replace(true);
            let store = &store;
            async move {
                if first {
                    return Err(sqlx::Error::PoolTimedOut.into());
                }
                let mut tx = store.begin(Scope::All).await?;
                let n = logs::insert_many(&mut tx, chunk).await?;
                tx.commit().await?;
                Ok(n)
            }
        },
        |error| {
            assert!(!error.is_data_error());
            waits.set(waits.get() + 1);
            std::future::ready(())
        },
    )
    .await;
    assert_eq!(waits.get(), 1);
    assert_eq!(outcome.stored, 7);
    assert_eq!(outcome.refused.len(), 1);
    assert_eq!(outcome.refused[0].0, 5);
    let mut tx = store.begin(Scope::All).await.unwrap();
    let from = Utc::now() - chrono::Duration::hours(1);
    let stored = logs::query(
        &mut tx,
        device,
        from,
        Utc::now(),
        &centinela_storage::Keyset {
            limit: 100,
            after: None,
        },
    )
    .await
    .unwrap();
    assert_eq!(stored.len(), 7);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn dead_letters_hold_any_bytes_and_stay_in_their_tenant() {
    let (store, _) = fresh_store().await;
    let (tenant_a, device_a) = tenant_with_device(&store, "A").await;
    let (_, device_b) = tenant_with_device(&store, "B").await;
    let letter = DeadLetter {
        tenant_id: tenant_a,
        device_id: device_a,
        kind: "inventory".into(),
        reason: "data_error".into(),
        detail: "unsupported Unicode escape sequence \0".into(),
        payload: [b"{\"os\":\"\\u0000\"}".as_slice(), &[0xff; 5000]].concat(),
    };
    // A letter naming another tenant's device is not stored (it cannot be attributed).
    let stray = DeadLetter {
        device_id: device_b,
        ..letter.clone()
    };
    let mut tx = store.begin(Scope::All).await.unwrap();
    let n = dead_letters::insert_many(&mut tx, &[letter, stray])
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(n, 1);
    let mut tx = store
        .begin(Scope::Tenant(TenantId(tenant_a)))
        .await
        .unwrap();
    let found = dead_letters::for_device(&mut tx, device_a, 10)
        .await
        .unwrap();
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].reason, "data_error");
    assert_eq!(found[0].payload.len(), dead_letters::MAX_PAYLOAD_BYTES);
    assert!(found[0].payload.starts_with(b"{\"os\""));
    tx.commit().await.unwrap();
    let (tenant_b, _) = tenant_with_device(&store, "C").await;
    let mut tx = store
        .begin(Scope::Tenant(TenantId(tenant_b)))
        .await
        .unwrap();
    let hidden = dead_letters::for_device(&mut tx, device_a, 10)
        .await
        .unwrap();
    assert!(hidden.is_empty());
    tx.commit().await.unwrap();
}
