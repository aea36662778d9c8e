-- The alert list's order as an index: firing first, critical first, newest first
-- (`storage::alerts::list`: `ORDER BY <firing>, <critical>, opened_at DESC, id DESC`). Without
-- it every page sorted every visible alert: a NOC with 26k alerts of history waited for a
-- top-N sort of all of them on each refresh (p95 145 ms under a 7,000 msg/s fleet). With it,
-- the first page (and each keyset page after it) reads its rows from the index. The second
-- index serves a tenant's own list (row-level security adds `tenant_id = <scope>`).
-- The expressions must stay the same text as `FIRING` and `CRITICAL` in storage/src/alerts.rs.
CREATE INDEX alerts_list_order ON alerts (
    (CASE WHEN state = 'firing' THEN 0 ELSE 1 END),
    (CASE WHEN severity = 'critical' THEN 0 ELSE 1 END),
    opened_at DESC, id DESC);
CREATE INDEX alerts_tenant_list_order ON alerts (
    tenant_id,
    (CASE WHEN state = 'firing' THEN 0 ELSE 1 END),
    (CASE WHEN severity = 'critical' THEN 0 ELSE 1 END),
    opened_at DESC, id DESC);
