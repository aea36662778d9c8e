-- Review fixes for remote scripts.
-- 1. Global scripts (tenant_id NULL) are readable by every scope but writable only by staff:
--    one policy per command instead of a single USING clause that also governed UPDATE/DELETE.
-- 2. Runs remember their script's timeout, so that expiry waits for a script that started just
--    before its command expired.

DROP POLICY tenant_isolation ON scripts;
CREATE POLICY scripts_read ON scripts FOR SELECT
    USING (tenant_id IS NULL OR centinela_visible(tenant_id));
CREATE POLICY scripts_insert ON scripts FOR INSERT
    WITH CHECK (centinela_visible(tenant_id));
CREATE POLICY scripts_update ON scripts FOR UPDATE
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));
CREATE POLICY scripts_delete ON scripts FOR DELETE
    USING (centinela_visible(tenant_id));

ALTER TABLE script_runs ADD COLUMN timeout_s integer NOT NULL DEFAULT 3600
    CHECK (timeout_s BETWEEN 1 AND 3600);
