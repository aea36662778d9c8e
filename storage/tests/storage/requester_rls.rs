//! Row-level security of a requester, without the API's filters: plain SELECTs in a
//! `Scope::Requester` transaction see only the requester's sites (and its own tickets) on every
//! site-bound table, while tenant and staff scopes still see what they saw.

use centinela_model::{Scope, TenantId};
use centinela_storage::metrics::{self, MetricRow};
use centinela_storage::testing::fresh_store;
use centinela_storage::{Store, users};
use chrono::{Duration, Utc};
use uuid::Uuid;

/// The fixture: tenant T with sites A (the requester's) and B (a sibling), tenant O (another),
/// one device on each site, and one row of every site-bound table per device.
struct World {
    tenant: Uuid,
    requester: Uuid,
    site_a: Uuid,
    site_b: Uuid,
    device_a: Uuid,
    device_b: Uuid,
    device_o: Uuid,
}

async fn seed(store: &Store) -> World {
    let [
        tenant,
        other,
        site_a,
        site_b,
        site_o,
        device_a,
        device_b,
        device_o,
    ] = [(); 8].map(|_| Uuid::new_v4());
    let [requester, sibling, alert_a, alert_b, alert_o] = [(); 5].map(|_| Uuid::new_v4());
    let [ticket_a, ticket_b, ticket_own, ticket_o] = [(); 4].map(|_| Uuid::new_v4());
    let mut sql = format!(
        "INSERT INTO tenants (id, name) VALUES ('{tenant}', 'Ñandú'), ('{other}', 'Otro');
         INSERT INTO sites (id, tenant_id, name, site_key) VALUES
           ('{site_a}', '{tenant}', 'Matriz', 'ka'), ('{site_b}', '{tenant}', 'Sucursal', 'kb'),
           ('{site_o}', '{other}', 'Ajena', 'ko');
         INSERT INTO users (id, email, name, role, tenant_id, password_hash) VALUES
           ('{requester}', 'sol@t.mx', 'Sol', 'requester', '{tenant}', 'x'),
           ('{sibling}', 'otro@t.mx', 'Otro', 'requester', '{tenant}', 'x');
         INSERT INTO user_sites VALUES ('{requester}', '{site_a}', '{tenant}'),
           ('{sibling}', '{site_b}', '{tenant}');
         INSERT INTO tickets (id, tenant_id, site_id, source, subject, priority, created_by) VALUES
           ('{ticket_a}', '{tenant}', '{site_a}', 'portal', 'a', 'low', '{sibling}'),
           ('{ticket_b}', '{tenant}', '{site_b}', 'portal', 'b', 'low', '{sibling}'),
           ('{ticket_own}', '{tenant}', '{site_b}', 'portal', 'own', 'low', '{requester}'),
           ('{ticket_o}', '{other}', '{site_o}', 'portal', 'o', 'low', NULL);
         INSERT INTO thresholds (id, tenant_id, scope, scope_id, metric, op, critical) VALUES
           (gen_random_uuid(), '{tenant}', 'tenant', '{tenant}', 'cpu', '>', 90),
           (gen_random_uuid(), '{tenant}', 'site', '{site_a}', 'cpu', '>', 90),
           (gen_random_uuid(), '{tenant}', 'site', '{site_b}', 'cpu', '>', 90),
           (gen_random_uuid(), '{tenant}', 'device', '{device_a}', 'cpu', '>', 90),
           (gen_random_uuid(), '{tenant}', 'device', '{device_b}', 'cpu', '>', 90);
         INSERT INTO log_rules VALUES ('{tenant}', 'brute_force', true, 5, 60, 'warning', false);
         INSERT INTO scripts (id, tenant_id, name, interpreter, body, timeout_s) VALUES
           (gen_random_uuid(), NULL, 'global', 'sh', 'echo', 10),
           (gen_random_uuid(), '{tenant}', 'propio', 'sh', 'echo', 10);
         INSERT INTO audit_log (tenant_id, action, target_type) VALUES ('{tenant}', 'x', 'y');"
    );
    for (device, site, owner, alert) in [
        (device_a, site_a, tenant, alert_a),
        (device_b, site_b, tenant, alert_b),
        (device_o, site_o, other, alert_o),
    ] {
        sql.push_str(&format!(
            "INSERT INTO devices (id, tenant_id, site_id, name, kind, token_hash)
               VALUES ('{device}', '{owner}', '{site}', 'pc', 'agent', '\\x00');
             INSERT INTO alerts (id, tenant_id, device_id, key, severity, state, title,
                                 description, recommended_action, value, opened_at)
               VALUES ('{alert}', '{owner}', '{device}', 'cpu', 'critical', 'firing', 't', 'd',
                       'r', 99, now());
             INSERT INTO alert_events (tenant_id, alert_id, kind) VALUES ('{owner}', '{alert}', 'opened');
             INSERT INTO device_logs VALUES (now(), '{owner}', '{device}', 'info', 'sys', 'línea');
             INSERT INTO router_targets (device_id, tenant_id, host, port, sealed_credentials)
               VALUES ('{device}', '{owner}', 'r.mx', 8728, '\\x00');
             INSERT INTO script_runs (id, tenant_id, device_id, script_name, expires_at, status, stdout)
               VALUES (gen_random_uuid(), '{owner}', '{device}', 's', now(), 'completed', 'salida');
             INSERT INTO dead_letters (tenant_id, device_id, kind, reason, detail, payload)
               VALUES ('{owner}', '{device}', 'telemetry', 'invalid_json', 'x', '\\x00');"
        ));
    }
    for ticket in [ticket_a, ticket_b, ticket_own, ticket_o] {
        let owner = if ticket == ticket_o { other } else { tenant };
        sql.push_str(&format!(
            "INSERT INTO ticket_events (tenant_id, ticket_id, kind) VALUES ('{owner}', '{ticket}', 'created');"
        ));
    }
    let mut tx = store.begin(Scope::All).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    World {
        tenant,
        requester,
        site_a,
        site_b,
        device_a,
        device_b,
        device_o,
    }
}

/// `count(*)` of every table in one scope.
async fn counts(store: &Store, scope: Scope) -> Vec<(&'static str, i64)> {
    const TABLES: &[&str] = &[
        "tenants",
        "sites",
        "users",
        "user_sites",
        "devices",
        "alerts",
        "alert_events",
        "tickets",
        "ticket_events",
        "thresholds",
        "device_logs",
        "router_targets",
        "script_runs",
        "dead_letters",
        "log_rules",
        "scripts",
        "audit_log",
    ];
    let mut tx = store.begin(scope).await.unwrap();
    let mut out = Vec::new();
    for table in TABLES {
        let n: i64 =
            sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT count(*) FROM {table}")))
                .fetch_one(&mut *tx)
                .await
                .unwrap();
        out.push((*table, n));
    }
    out
}

#[tokio::test]
async fn a_requester_sees_only_its_sites_on_every_table() {
    let (store, _) = fresh_store().await;
    let w = seed(&store).await;
    let requester = Scope::Requester {
        tenant: TenantId(w.tenant),
        user: w.requester,
    };
    let expected = [
        ("tenants", 1),
        ("sites", 1),
        ("users", 1),
        ("user_sites", 1),
        ("devices", 1),
        ("alerts", 1),
        ("alert_events", 1),
        // Its site's ticket, and its own ticket on the sibling site.
        ("tickets", 2),
        ("ticket_events", 2),
        // The site A and device A rules; not the tenant-wide one.
        ("thresholds", 2),
        ("device_logs", 1),
        ("router_targets", 1),
        ("script_runs", 1),
        ("dead_letters", 1),
        ("log_rules", 0),
        // Global and tenant scripts by name (bodies are hidden by the API).
        ("scripts", 2),
        ("audit_log", 0),
    ];
    assert_eq!(counts(&store, requester).await, expected);

    // The tenant scope is unchanged by the requester policies.
    let tenant = [
        ("tenants", 1),
        ("sites", 2),
        ("users", 2),
        ("user_sites", 2),
        ("devices", 2),
        ("alerts", 2),
        ("alert_events", 2),
        ("tickets", 3),
        ("ticket_events", 3),
        ("thresholds", 5),
        ("device_logs", 2),
        ("router_targets", 2),
        ("script_runs", 2),
        ("dead_letters", 2),
        ("log_rules", 1),
        ("scripts", 2),
        ("audit_log", 1),
    ];
    assert_eq!(
        counts(&store, Scope::Tenant(TenantId(w.tenant))).await,
        tenant
    );
    let all = counts(&store, Scope::All).await;
    assert_eq!(
        all.iter().find(|(t, _)| *t == "devices"),
        Some(&("devices", 3))
    );
    assert_eq!(
        all.iter().find(|(t, _)| *t == "tickets"),
        Some(&("tickets", 4))
    );
}

#[tokio::test]
async fn a_requester_cannot_write_outside_its_sites_and_reads_no_foreign_metrics() {
    let (store, _) = fresh_store().await;
    let w = seed(&store).await;
    let requester = Scope::Requester {
        tenant: TenantId(w.tenant),
        user: w.requester,
    };
    // A ticket on a site that is not the requester's, opened by someone else: refused by the
    // policy's WITH CHECK; on its own site it passes.
    let insert = |site: Uuid, created_by: Option<Uuid>| {
        sqlx::query(
            "INSERT INTO tickets (id, tenant_id, site_id, source, subject, priority, created_by)
             VALUES (gen_random_uuid(), $1, $2, 'portal', 'mío', 'low', $3)",
        )
        .bind(w.tenant)
        .bind(site)
        .bind(created_by)
    };
    let mut tx = store.begin(requester).await.unwrap();
    let refused = insert(w.site_b, None).execute(&mut *tx).await;
    assert!(refused.is_err(), "another site: {refused:?}");
    drop(tx);
    let mut tx = store.begin(requester).await.unwrap();
    insert(w.site_a, Some(w.requester))
        .execute(&mut *tx)
        .await
        .unwrap();
    // Deleting a device of another site touches nothing.
    let gone = sqlx::query("DELETE FROM devices WHERE id = $1")
        .bind(w.device_b)
        .execute(&mut *tx)
        .await
        .unwrap();
    assert_eq!(gone.rows_affected(), 0);
    tx.commit().await.unwrap();

    // Metrics carry no RLS (COPY): every metrics read goes through the devices policy.
    let now = Utc::now();
    let rows: Vec<MetricRow> = [w.device_a, w.device_b, w.device_o]
        .into_iter()
        .map(|device_id| MetricRow {
            ts: now,
            tenant_id: w.tenant,
            device_id,
            name: "cpu.usage_pct".into(),
            value: 42.0,
        })
        .collect();
    metrics::copy_rows(store.pool(), &rows).await.unwrap();
    let mut tx = store.begin(requester).await.unwrap();
    let (from, to) = (now - Duration::minutes(1), now + Duration::minutes(1));
    for (device, expected) in [(w.device_a, 1), (w.device_b, 0), (w.device_o, 0)] {
        let points = metrics::query_raw(&mut tx, device, "cpu.usage_pct", from, to, 10)
            .await
            .unwrap();
        assert_eq!(points.len(), expected, "{device}");
    }
    assert_eq!(
        users::site_ids(&mut tx, w.requester).await.unwrap(),
        vec![w.site_a]
    );
}

/// The engine, staff and tenant roles keep their plans: the requester clause is an InitPlan
/// that is never executed when no requester is set.
#[tokio::test]
async fn without_a_requester_the_policy_subplans_never_run() {
    let (store, _) = fresh_store().await;
    let w = seed(&store).await;
    for scope in [Scope::All, Scope::Tenant(TenantId(w.tenant))] {
        let mut tx = store.begin(scope).await.unwrap();
        for query in [
            "SELECT * FROM alerts WHERE tenant_id = $1 ORDER BY opened_at DESC LIMIT 100",
            "SELECT * FROM device_logs WHERE tenant_id = $1 ORDER BY ts DESC LIMIT 100",
            "SELECT * FROM devices WHERE tenant_id = $1",
            "SELECT * FROM tickets WHERE tenant_id = $1",
        ] {
            let plan: Vec<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
                "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY OFF) {query}"
            )))
            .bind(w.tenant)
            .fetch_all(&mut *tx)
            .await
            .unwrap();
            let text = plan.join("\n");
            let subplans_ran = text
                .lines()
                .filter(|l| l.contains(" on user_sites"))
                .any(|l| !l.contains("never executed"));
            assert!(!subplans_ran, "{scope:?} {query}:\n{text}");
        }
    }
}
