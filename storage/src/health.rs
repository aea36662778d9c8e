//! Fleet health counts per tenant (`/api/health/devices`) and the device ids of a set of sites
//! (a requester's second wall in the API, after row-level security).

use crate::Result;
use serde::Serialize;
use sqlx::PgConnection;
use uuid::Uuid;

/// How many devices of a tenant are in each health state. The states follow the device view:
/// `red` a critical alert firing, `yellow` a warning firing, `unknown` never seen, `green`
/// otherwise.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, PartialEq, Eq, utoipa::ToSchema)]
pub struct TenantHealth {
    pub tenant_id: Uuid,
    pub total: i64,
    pub green: i64,
    pub yellow: i64,
    pub red: i64,
    pub unknown: i64,
}

/// Counts per tenant, ordered by tenant id, `limit` tenants after `after`; `tenant` limits to
/// one tenant and `sites` (a requester's) to devices of those sites.
pub async fn device_counts(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    sites: Option<&[Uuid]>,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<TenantHealth>> {
    Ok(sqlx::query_as(
        "WITH worst AS (
             SELECT d.tenant_id, d.last_seen_at,
                    (SELECT CASE WHEN bool_or(a.severity = 'critical') THEN 'critical'
                                 ELSE max(a.severity) END
                       FROM alerts a WHERE a.device_id = d.id AND a.state = 'firing') AS firing
               FROM devices d
              WHERE ($1::uuid IS NULL OR d.tenant_id = $1)
                AND ($2::uuid[] IS NULL OR d.site_id = ANY($2))
                AND ($3::uuid IS NULL OR d.tenant_id > $3))
         SELECT tenant_id, count(*) AS total,
                count(*) FILTER (WHERE firing IS NULL AND last_seen_at IS NOT NULL) AS green,
                count(*) FILTER (WHERE firing = 'warning') AS yellow,
                count(*) FILTER (WHERE firing = 'critical') AS red,
                count(*) FILTER (WHERE firing IS NULL AND last_seen_at IS NULL) AS unknown
           FROM worst GROUP BY tenant_id ORDER BY tenant_id LIMIT $4",
    )
    .bind(tenant)
    .bind(sites)
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?)
}

/// The ids of the devices on `sites`.
pub async fn devices_on_sites(conn: &mut PgConnection, sites: &[Uuid]) -> Result<Vec<Uuid>> {
    let rows: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM devices WHERE site_id = ANY($1)")
        .bind(sites)
        .fetch_all(conn)
        .await?;
    Ok(rows.into_iter().map(|(id,)| id).collect())
}
