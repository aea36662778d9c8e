//! Metrics history for the demo: `demo.history_days` days at 5-minute resolution for every
//! device, written through the storage crate's binary `COPY` path one day at a time, newest day
//! first (charts fill from the present backwards) and resumable (the marker row counts the
//! days stored). Runs in the background with progress on stdout.

use anyhow::Result;
use centinela_model::Scope;
use centinela_storage::Store;
use centinela_storage::demo;
use centinela_storage::metrics::{self, Layout, MetricRow};
use chrono::{DateTime, Duration, Timelike, Utc};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use uuid::Uuid;

/// Seconds between two history points.
const STEP_S: i64 = 300;

/// A device whose history is generated.
#[derive(Debug, Clone)]
struct Series {
    tenant_id: Uuid,
    device_id: Uuid,
    router: bool,
    /// The host's own baselines.
    cpu_base: f64,
    mem_base: f64,
    disk: f64,
}

/// Loads the days not stored yet; returns how many days it stored.
pub async fn load(store: &Store, days: u32, now: DateTime<Utc>) -> Result<u32> {
    let done = demo::history_days_loaded(store.pool()).await?;
    if done >= days {
        return Ok(0);
    }
    let series = devices(store).await?;
    if metrics::layout(store.pool()).await? == Layout::Partitioned {
        // Past days get their own daily partitions, as the engine makes for new ones, so
        // retention drops them like any other day.
        let first = (now - Duration::days(i64::from(days))).date_naive();
        metrics::ensure_partitions(store.pool(), first, days + 1).await?;
    }
    // The points end five minutes before now: live telemetry takes over from there.
    let end = now - Duration::seconds(STEP_S);
    for day in done..days {
        let to = end - Duration::days(i64::from(day));
        let from = to - Duration::days(1);
        let rows = day_rows(&series, from, to, u64::from(day));
        let stored = metrics::copy_rows(store.pool(), &rows).await?;
        demo::set_history_days_loaded(store.pool(), day + 1).await?;
        println!(
            "demo history: day {}/{days} stored ({stored} points)",
            day + 1
        );
    }
    Ok(days - done)
}

async fn devices(store: &Store) -> Result<Vec<Series>> {
    let mut tx = store.begin(Scope::All).await?;
    let mut all = demo::devices_of_kind(&mut tx, "agent").await?;
    all.extend(demo::devices_of_kind(&mut tx, "routeros").await?);
    tx.commit().await?;
    let mut rng = StdRng::seed_from_u64(7);
    Ok(all
        .into_iter()
        .map(|d| Series {
            tenant_id: d.tenant_id,
            device_id: d.id,
            router: d.kind == "routeros",
            cpu_base: rng.random_range(8.0..35.0),
            mem_base: rng.random_range(35.0..70.0),
            disk: rng.random_range(30.0..80.0),
        })
        .collect())
}

/// Office-hours load (08:00–19:00 Mexico City, UTC−6) on top of each host's baseline.
fn office_load(ts: DateTime<Utc>) -> f64 {
    let local_hour = (ts.hour() as i64 - 6).rem_euclid(24);
    if (8..19).contains(&local_hour) {
        1.6
    } else {
        0.6
    }
}

fn day_rows(
    series: &[Series],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
    seed: u64,
) -> Vec<MetricRow> {
    let mut rng = StdRng::seed_from_u64(seed);
    let steps = (to - from).num_seconds() / STEP_S;
    let mut rows = Vec::with_capacity(series.len() * steps as usize * 4);
    for s in series {
        for i in 0..steps {
            let ts = from + Duration::seconds(i * STEP_S);
            let load = office_load(ts);
            let cpu = (s.cpu_base * load + rng.random_range(-5.0..5.0)).clamp(0.5, 99.0);
            let mem =
                (s.mem_base + 8.0 * (load - 1.0) + rng.random_range(-2.0..2.0)).clamp(5.0, 98.0);
            let mut push = |name: &str, value: f64| {
                rows.push(MetricRow {
                    ts,
                    tenant_id: s.tenant_id,
                    device_id: s.device_id,
                    name: name.to_owned(),
                    value: (value * 10.0).round() / 10.0,
                });
            };
            push("cpu.usage_pct", cpu);
            push("mem.used_pct", mem);
            if s.router {
                push(
                    "if.rx_bps{if=ether1}",
                    4.0e6 * load + rng.random_range(0.0..1.0e6),
                );
            } else {
                push("disk.used_pct{mount=/}", s.disk);
                push(
                    "net.rx_bps{if=eth0}",
                    2.0e5 * load + rng.random_range(0.0..5.0e4),
                );
            }
        }
    }
    rows
}
