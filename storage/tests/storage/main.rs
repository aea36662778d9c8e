//! Storage against a real PostgreSQL: the native-partitioning fallback, row-level security,
//! binary COPY and ticket numbering. Each test gets a fresh database.

mod dead_letters;
mod requester_rls;

use centinela_model::{Scope, TenantId};
use centinela_storage::metrics::{self, Layout, MetricRow};
use centinela_storage::testing::fresh_store;
use centinela_storage::{StorageError, Store, alerts, devices, sites, tenants, tickets, users};
use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

async fn tenant_with_device(store: &Store, name: &str) -> (Uuid, Uuid) {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let tenant = tenants::create(&mut tx, name, "pro").await.unwrap();
    let site = sites::create(
        &mut tx,
        &sites::NewSite {
            tenant_id: tenant.id,
            name: "HQ".into(),
            ..Default::default()
        },
    )
    .await
    .unwrap();
    let (device, _) = devices::create(&mut tx, tenant.id, site.id, "pc", "agent")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    (tenant.id, device.id)
}

#[tokio::test]
async fn plain_postgres_falls_back_to_native_partitions_with_retention() {
    let (store, _) = fresh_store().await;
    assert_eq!(
        metrics::layout(store.pool()).await.unwrap(),
        Layout::Partitioned
    );
    let (tenant, device) = tenant_with_device(&store, "A").await;
    let today = Utc::now().date_naive();
    // A point for tomorrow lands in the default partition before tomorrow's partition exists.
    let tomorrow = Utc::now() + Duration::days(1);
    let old = Utc::now() - Duration::days(400);
    let row = |ts, value| MetricRow {
        ts,
        tenant_id: tenant,
        device_id: device,
        name: "cpu.usage_pct".into(),
        value,
    };
    assert_eq!(
        metrics::copy_rows(
            store.pool(),
            &[row(tomorrow, 1.0), row(old, 2.0), row(Utc::now(), 3.0)]
        )
        .await
        .unwrap(),
        3
    );
    let created = metrics::ensure_partitions(store.pool(), today, 3)
        .await
        .unwrap();
    assert_eq!(created.len(), 5, "{created:?}");
    // The point moved out of the default partition into its day; nothing was lost.
    let in_default: (i64,) =
        sqlx::query_as("SELECT count(*) FROM metrics_default WHERE ts > now()")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(in_default.0, 0);
    assert_eq!(
        metrics::count_for_device(store.pool(), device)
            .await
            .unwrap(),
        3
    );
    assert!(
        metrics::ensure_partitions(store.pool(), today, 3)
            .await
            .unwrap()
            .is_empty(),
        "idempotent"
    );
    // Retention: old rows go, a partition older than the cutoff is dropped.
    let ancient = today - Duration::days(30);
    metrics::ensure_partitions(store.pool(), ancient, 0)
        .await
        .unwrap();
    let dropped = metrics::drop_expired(store.pool(), Utc::now(), Duration::days(7))
        .await
        .unwrap();
    assert!(
        dropped.contains(&format!("metrics_p{}", ancient.format("%Y%m%d"))),
        "{dropped:?}"
    );
    assert_eq!(
        metrics::count_for_device(store.pool(), device)
            .await
            .unwrap(),
        2
    );
}

#[tokio::test]
async fn raw_and_bucketed_queries_are_gated_by_device_visibility() {
    let (store, _) = fresh_store().await;
    let (tenant_a, device_a) = tenant_with_device(&store, "A").await;
    let (tenant_b, _) = tenant_with_device(&store, "B").await;
    let base = Utc.with_ymd_and_hms(2026, 11, 22, 10, 0, 0).unwrap();
    let rows: Vec<MetricRow> = (0..120)
        .map(|i| MetricRow {
            ts: base + Duration::seconds(i),
            tenant_id: tenant_a,
            device_id: device_a,
            name: "cpu.usage_pct".into(),
            value: i as f64,
        })
        .collect();
    metrics::copy_rows(store.pool(), &rows).await.unwrap();
    let (from, to) = (base, base + Duration::minutes(5));
    let mut own = store
        .begin(Scope::Tenant(TenantId(tenant_a)))
        .await
        .unwrap();
    assert_eq!(
        metrics::query_raw(&mut own, device_a, "cpu.usage_pct", from, to, 1000)
            .await
            .unwrap()
            .len(),
        120
    );
    let buckets = metrics::query_buckets(
        &mut own,
        device_a,
        "cpu.usage_pct",
        from,
        to,
        Duration::minutes(1),
    )
    .await
    .unwrap();
    assert_eq!(buckets.len(), 2);
    assert_eq!(
        (buckets[0].min, buckets[0].max, buckets[0].count),
        (0.0, 59.0, 60)
    );
    drop(own);
    let mut other = store
        .begin(Scope::Tenant(TenantId(tenant_b)))
        .await
        .unwrap();
    assert!(
        metrics::query_raw(&mut other, device_a, "cpu.usage_pct", from, to, 1000)
            .await
            .unwrap()
            .is_empty()
    );
}

#[tokio::test]
async fn row_level_security_hides_other_tenants_even_without_where_clauses() {
    let (store, _) = fresh_store().await;
    assert!(
        !store.bypasses_rls().await.unwrap(),
        "tests must run as an ordinary role (scripts/pg)"
    );
    let (tenant_a, device_a) = tenant_with_device(&store, "A").await;
    let (tenant_b, _) = tenant_with_device(&store, "B").await;
    let mut tx = store
        .begin(Scope::Tenant(TenantId(tenant_b)))
        .await
        .unwrap();
    // No tenant filter passed: only RLS stands between B and A's rows.
    assert_eq!(tenants::list(&mut tx, &all_rows()).await.unwrap().len(), 1);
    assert_eq!(
        devices::list(&mut tx, None, None, &all_rows())
            .await
            .unwrap()
            .len(),
        1
    );
    assert!(matches!(
        devices::get(&mut tx, device_a).await,
        Err(centinela_storage::StorageError::NotFound)
    ));
    // Writing a row of another tenant is refused by the policy's WITH CHECK.
    let insert = sites::create(
        &mut tx,
        &sites::NewSite {
            tenant_id: tenant_a,
            name: "intruso".into(),
            ..Default::default()
        },
    )
    .await;
    assert!(insert.is_err());
    drop(tx);
    // No scope at all: nothing is visible (fails closed).
    let none: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM devices")
        .fetch_all(store.pool())
        .await
        .unwrap();
    assert!(none.is_empty());
    let mut staff = store.begin(Scope::All).await.unwrap();
    assert_eq!(
        devices::list(&mut staff, None, None, &all_rows())
            .await
            .unwrap()
            .len(),
        2
    );
    // A scope that is neither '*' nor a UUID sees nothing either.
    let mut odd = store.pool().begin().await.unwrap();
    sqlx::query("SELECT set_config('centinela.scope', 'A', true)")
        .execute(&mut *odd)
        .await
        .unwrap();
    let odd_rows: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM devices")
        .fetch_all(&mut *odd)
        .await
        .unwrap();
    assert!(odd_rows.is_empty());
    drop(odd);
    // Every policy tests the scope once per statement (InitPlans), none per row.
    let per_row: Vec<(String, String)> = sqlx::query_as(
        "SELECT tablename::text, policyname::text FROM pg_policies
         WHERE coalesce(qual, '') || coalesce(with_check, '') LIKE '%centinela_visible(%'",
    )
    .fetch_all(&mut *staff)
    .await
    .unwrap();
    assert!(per_row.is_empty(), "{per_row:?}");
    let _ = tenant_a;
}

#[tokio::test]
async fn one_firing_alert_per_key_and_one_ticket_per_alert_with_shared_numbers() {
    let (store, _) = fresh_store().await;
    let (tenant, device) = tenant_with_device(&store, "A").await;
    let mut tx = store.begin(Scope::All).await.unwrap();
    let facts = alerts::AlertFacts {
        id: uuid::Uuid::new_v4(),
        tenant_id: tenant,
        device_id: device,
        key: "cpu.usage_pct".into(),
        threshold_id: None,
        severity: "critical".into(),
        title: "t".into(),
        description: "d".into(),
        recommended_action: "r".into(),
        value: 95.0,
        threshold: Some(90.0),
        at: Utc::now(),
    };
    let (first, created) = alerts::open(&mut tx, &facts).await.unwrap();
    let (again, created_again) = alerts::open(&mut tx, &facts).await.unwrap();
    assert!(created && !created_again);
    assert_eq!(first.id, again.id);
    let new = tickets::NewTicket {
        tenant_id: tenant,
        alert_id: Some(first.id),
        source: "alert".into(),
        subject: "s".into(),
        priority: "critical".into(),
        ..Default::default()
    };
    let (t1, c1) = tickets::create(&mut tx, &new).await.unwrap();
    let (t2, c2) = tickets::create(&mut tx, &new).await.unwrap();
    assert!(c1 && !c2);
    assert_eq!(t1.id, t2.id);
    let portal = tickets::NewTicket {
        tenant_id: tenant,
        source: "portal".into(),
        subject: "s".into(),
        priority: "low".into(),
        ..Default::default()
    };
    let (t3, _) = tickets::create(&mut tx, &portal).await.unwrap();
    let n = |t: &tickets::Ticket| t.number[4..].parse::<u32>().unwrap();
    assert!(t1.number.starts_with("TKT-") && t1.number.len() == 10);
    assert!(n(&t3) > n(&t1), "one sequence for every source");
    // After clearing, a new breach opens a new alert.
    alerts::clear(&mut tx, device, "cpu.usage_pct", 10.0, Utc::now())
        .await
        .unwrap()
        .unwrap();
    let reopening = alerts::AlertFacts {
        id: uuid::Uuid::new_v4(),
        ..facts.clone()
    };
    let (third, created) = alerts::open(&mut tx, &reopening).await.unwrap();
    assert_eq!(
        third.id, reopening.id,
        "stored under the id chosen by the caller"
    );
    assert!(created && third.id != first.id);
    assert_eq!(alerts::history(&mut tx, first.id).await.unwrap().len(), 2);
    tx.commit().await.unwrap();
}

/// A page holding every row.
fn all_rows() -> centinela_storage::Keyset<centinela_storage::NameKey> {
    centinela_storage::Keyset {
        limit: i64::MAX,
        after: None,
    }
}

/// `storage.timescaledb`: `off` migrates a new database to native partitioning on any server;
/// afterwards `required` contradicts it and is refused before anything runs, while `auto` and
/// `off` keep it.
#[tokio::test]
async fn timescaledb_off_forces_native_and_required_is_refused_on_it() {
    use centinela_storage::timescale::{Mode, TimescaleError};
    let url = centinela_storage::testing::fresh_database_url().await;
    let store = Store::connect(&url, 2).await.unwrap();
    let decision = store.migrate_with(Mode::Off).await.unwrap();
    assert_eq!(decision.layout, Layout::Partitioned);
    assert_eq!(
        metrics::layout(store.pool()).await.unwrap(),
        Layout::Partitioned
    );
    let refused = store.migrate_with(Mode::Required).await.unwrap_err();
    assert!(
        matches!(&refused, TimescaleError::Refused(why) if why.contains("native partitioning")),
        "{refused}"
    );
    for mode in [Mode::Auto, Mode::Off] {
        let kept = store.migrate_with(mode).await.unwrap();
        assert_eq!(kept.layout, Layout::Partitioned, "{mode:?}");
    }
    // The view that hid the extension lived on the migration's own connection only.
    let (visible,): (Option<String>,) =
        sqlx::query_as("SELECT to_regclass('pg_available_extensions')::text")
            .fetch_one(store.pool())
            .await
            .unwrap();
    assert_eq!(visible.as_deref(), Some("pg_available_extensions"));
    let (schema,): (String,) = sqlx::query_as(
        "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid = 'pg_available_extensions'::regclass",
    )
    .fetch_one(store.pool())
    .await
    .unwrap();
    assert_eq!(schema, "pg_catalog");
}

#[tokio::test]
async fn a_requester_scope_sees_only_its_sites() {
    let (store, _) = fresh_store().await;
    let mut tx = store.begin(Scope::All).await.unwrap();
    let tenant = tenants::create(&mut tx, "Ñandú S.A.", "pro").await.unwrap();
    let other_tenant = tenants::create(&mut tx, "Otro", "pro").await.unwrap();
    let site = |tenant_id: Uuid, name: &str| sites::NewSite {
        tenant_id,
        name: name.into(),
        ..Default::default()
    };
    let own = sites::create(&mut tx, &site(tenant.id, "Matriz"))
        .await
        .unwrap();
    let sibling = sites::create(&mut tx, &site(tenant.id, "Sucursal"))
        .await
        .unwrap();
    let foreign = sites::create(&mut tx, &site(other_tenant.id, "Ajena"))
        .await
        .unwrap();
    let user = users::create(
        &mut tx,
        "solicitante@example.mx",
        "José Núñez",
        "requester",
        Some(tenant.id),
        "x",
    )
    .await
    .unwrap();
    users::set_sites(&mut tx, user.id, tenant.id, &[own.id])
        .await
        .unwrap();
    // A site of another tenant is refused, and the refusal leaves nothing half-written.
    assert!(matches!(
        users::set_sites(&mut tx, user.id, tenant.id, &[own.id, foreign.id]).await,
        Err(StorageError::Invalid(_))
    ));
    tx.commit().await.unwrap();

    let mut tx = store
        .begin(Scope::Requester {
            tenant: TenantId(tenant.id),
            user: user.id,
        })
        .await
        .unwrap();
    assert_eq!(
        users::site_ids(&mut tx, user.id).await.unwrap(),
        vec![own.id]
    );
    let visible =
        |site: Uuid| sqlx::query_scalar::<_, bool>("SELECT centinela_site_visible($1)").bind(site);
    assert!(visible(own.id).fetch_one(&mut *tx).await.unwrap());
    assert!(!visible(sibling.id).fetch_one(&mut *tx).await.unwrap());
    drop(tx);
    // The same connection pool, another caller: the requester setting did not leak.
    let mut tx = store
        .begin(Scope::Tenant(TenantId(tenant.id)))
        .await
        .unwrap();
    assert!(visible(sibling.id).fetch_one(&mut *tx).await.unwrap());
}

/// Index scans of `index` so far (flushed statistics).
async fn index_scans(store: &Store, index: &str) -> i64 {
    let mut tx = store.begin(Scope::All).await.unwrap();
    let n: i64 = sqlx::query_scalar(
        "SELECT coalesce(sum(idx_scan), 0)::bigint FROM pg_stat_user_indexes WHERE indexrelname = $1",
    )
    .bind(index)
    .fetch_one(&mut *tx)
    .await
    .unwrap();
    tx.commit().await.unwrap();
    n
}

/// The alert list's first page reads its order from an index, for staff and for a tenant, on a
/// history of thousands of alerts (without it each page sorted every visible alert), and the
/// page is the list's order.
#[tokio::test]
async fn the_alert_list_reads_its_order_from_an_index() {
    let (store, _) = fresh_store().await;
    let (tenant, device) = tenant_with_device(&store, "A").await;
    let (other, other_device) = tenant_with_device(&store, "B").await;
    let mut tx = store.begin(Scope::All).await.unwrap();
    // 6,000 alerts of history over both tenants: a third firing, a third critical.
    sqlx::query(
        "INSERT INTO alerts (id, tenant_id, device_id, key, severity, state, title, description,
             recommended_action, value, opened_at)
         SELECT gen_random_uuid(), CASE WHEN g % 2 = 0 THEN $1 ELSE $3 END,
                CASE WHEN g % 2 = 0 THEN $2 ELSE $4 END, 'k' || g,
                CASE WHEN g % 3 = 0 THEN 'critical' ELSE 'warning' END,
                CASE WHEN g % 3 = 1 THEN 'firing' ELSE 'cleared' END,
                't', 'd', 'r', 1, now() - g * interval '1 minute'
         FROM generate_series(1, 6000) g",
    )
    .bind(tenant)
    .bind(device)
    .bind(other)
    .bind(other_device)
    .execute(&mut *tx)
    .await
    .unwrap();
    sqlx::query("ANALYZE alerts")
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    // Staff see every tenant; a tenant's caller is filtered to its tenant by the API as well
    // as by row-level security.
    for (scope, only, index) in [
        (Scope::All, None, "alerts_list_order"),
        (
            Scope::Tenant(TenantId(tenant)),
            Some(tenant),
            "alerts_tenant_list_order",
        ),
    ] {
        let before = index_scans(&store, index).await;
        let mut tx = store.begin(scope).await.unwrap();
        let filter = alerts::AlertFilter {
            tenant_id: only,
            limit: 100,
            ..Default::default()
        };
        let page = alerts::list(&mut tx, &filter).await.unwrap();
        assert_eq!(page.len(), 100);
        let keys: Vec<_> = page.iter().map(alerts::list_key).collect();
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| (a.0, a.1, b.2, b.3).cmp(&(b.0, b.1, a.2, a.3)));
        assert_eq!(
            keys, sorted,
            "{scope:?}: the page is not in the list's order"
        );
        assert!(page.iter().all(|a| a.state == "firing"));
        assert!(only.is_none_or(|t| page.iter().all(|a| a.tenant_id == t)));
        // Statistics are flushed before the commit's answer comes back.
        sqlx::query("SELECT pg_stat_force_next_flush()")
            .execute(&mut *tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let after = index_scans(&store, index).await;
        assert!(after > before, "{scope:?}: {index} was not used");
    }
}
