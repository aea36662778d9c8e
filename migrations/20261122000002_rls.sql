-- Row-level security on every tenant-owned table.
--
-- Each transaction of the engine sets its caller's scope with
--   SELECT set_config('centinela.scope', '<tenant uuid>' | '*', true)   -- i.e. SET LOCAL
-- '*' is MSP staff and the engine itself; a tenant uuid is a tenant role. No scope set means no
-- rows at all: forgetting the scope fails closed. FORCE makes the policies apply to the table
-- owner too (superusers still bypass RLS, so the engine must not connect as one; it warns).

CREATE FUNCTION centinela_visible(row_tenant uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('centinela.scope', true), '') = '*'
        OR (row_tenant IS NOT NULL
            AND row_tenant::text = current_setting('centinela.scope', true))
$$;

ALTER TABLE tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON tenants
    USING (centinela_visible(id)) WITH CHECK (centinela_visible(id));

DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['sites', 'users', 'devices', 'thresholds', 'alerts', 'alert_events',
                             'tickets', 'ticket_events', 'device_logs', 'audit_log', 'refresh_tokens']
    LOOP
        IF t = 'refresh_tokens' THEN
            CONTINUE; -- no tenant column: only reachable through users, by the engine's auth path
        END IF;
        EXECUTE format('ALTER TABLE %I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE %I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON %I USING (centinela_visible(tenant_id)) '
                       'WITH CHECK (centinela_visible(tenant_id))', t);
    END LOOP;
END
$$;
