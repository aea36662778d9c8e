-- Row-level security, evaluated once per statement instead of once per row.
--
-- `centinela_visible(tenant_id)` (migration 2) reads `current_setting('centinela.scope')` for
-- every row a query scans, and the planner, which cannot see through it, guesses it keeps 0.5 %
-- of the rows: a staff list ordered by time then scans and sorts the whole table instead of
-- reading the first page from an index. The same test written as
--   (SELECT centinela_scope_all()) OR tenant_id = (SELECT centinela_scope_tenant())
-- is computed once per statement (two InitPlans), costs a comparison per row, lets a tenant's
-- scope use `tenant_id` indexes, and gives the planner a usable estimate. The meaning is
-- unchanged: '*' sees every row; a tenant's UUID sees that tenant's rows; no scope (or anything
-- else) sees none. Every policy that calls `centinela_visible(...)` is rewritten in place;
-- the function stays for the queries and later policies that call it.

CREATE FUNCTION centinela_scope_all() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('centinela.scope', true), '') = '*'
$$;

CREATE FUNCTION centinela_scope_tenant() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT CASE
        WHEN current_setting('centinela.scope', true)
             ~* '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$'
        THEN current_setting('centinela.scope', true)::uuid
    END
$$;

DO $$
DECLARE
    p record;
    pattern constant text := 'centinela_visible\((\w+)\)';
    replacement constant text :=
        '((SELECT centinela_scope_all()) OR \1 = (SELECT centinela_scope_tenant()))';
    statement text;
BEGIN
    FOR p IN
        SELECT tablename, policyname, qual, with_check FROM pg_policies
        WHERE schemaname = current_schema()
          AND (qual LIKE '%centinela_visible(%' OR with_check LIKE '%centinela_visible(%')
    LOOP
        statement := format('ALTER POLICY %I ON %I', p.policyname, p.tablename);
        IF p.qual IS NOT NULL THEN
            statement := statement || ' USING (' || regexp_replace(p.qual, pattern, replacement, 'g') || ')';
        END IF;
        IF p.with_check IS NOT NULL THEN
            statement := statement || ' WITH CHECK ('
                || regexp_replace(p.with_check, pattern, replacement, 'g') || ')';
        END IF;
        EXECUTE statement;
    END LOOP;
END
$$;
