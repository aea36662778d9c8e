-- Requester scope in row-level security, the tenant profile, and the tenant's assignment rule.
--
-- 1. Requester policies. Every policy below is RESTRICTIVE: it is ANDed with the permissive
--    `tenant_isolation` policy of its table, so tenant isolation stays exactly as it was and a
--    requester (`centinela_requester()` set by `Store::begin`) is narrowed further to the sites
--    of its `user_sites` rows (and, for tickets, the tickets it opened). Each policy starts with
--    `(SELECT centinela_requester()) IS NULL`: an InitPlan evaluated once per statement, so for
--    the engine, staff and tenant roles (no requester) the extra clause is one constant test per
--    row and never runs the sub-select. Requesters read through hashed sub-plans over their
--    (few) sites and devices.
--
--    `metrics` has no row-level security and cannot have it: `COPY FROM` (the writer's bulk
--    path) is refused on tables with RLS, and TimescaleDB refuses RLS on compressed
--    hypertables. Every metrics query therefore reads through the RLS-protected `devices` table
--    in the caller's transaction (storage::metrics), which this migration narrows for
--    requesters. `refresh_tokens`, `auth_sessions`, `pki` and `command_keys` are reached only by
--    the engine's own paths.
--
-- 2. Tenant profile (seed 000): legal name, RFC, e-mail, phone, allowed e-mails (addresses or
--    @domain), address with a 5-digit CP, state, city, coordinates. Validated by the API
--    (centinela_model::helpdesk); the CHECKs here are the last wall.
--
-- 3. `assignment_rule`: how tickets of the tenant are assigned when no explicit technician list
--    applies (`round_robin`, the default, or `least_load`).

-- The devices a requester may see: those of its sites. NULL requester → not consulted.
CREATE FUNCTION centinela_requester_devices() RETURNS SETOF uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT d.id FROM devices d
      JOIN user_sites us ON us.site_id = d.site_id
     WHERE us.user_id = centinela_requester()
$$;

-- The sites a requester belongs to.
CREATE FUNCTION centinela_requester_sites() RETURNS SETOF uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT site_id FROM user_sites WHERE user_id = centinela_requester()
$$;

CREATE POLICY requester_sites ON sites AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL
           OR id IN (SELECT s FROM centinela_requester_sites() s))
    WITH CHECK ((SELECT centinela_requester()) IS NULL
           OR id IN (SELECT s FROM centinela_requester_sites() s));

CREATE POLICY requester_sites ON devices AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL
           OR site_id IN (SELECT s FROM centinela_requester_sites() s))
    WITH CHECK ((SELECT centinela_requester()) IS NULL
           OR site_id IN (SELECT s FROM centinela_requester_sites() s));

-- Device-bound tables: alerts, device logs, router settings, script runs (with their output),
-- dead letters.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['alerts', 'device_logs', 'router_targets', 'script_runs',
                             'dead_letters']
    LOOP
        EXECUTE format(
            'CREATE POLICY requester_sites ON %I AS RESTRICTIVE '
            'USING ((SELECT centinela_requester()) IS NULL '
            '       OR device_id IN (SELECT d FROM centinela_requester_devices() d)) '
            'WITH CHECK ((SELECT centinela_requester()) IS NULL '
            '       OR device_id IN (SELECT d FROM centinela_requester_devices() d))', t);
    END LOOP;
END
$$;

-- An alert's history follows its alert.
CREATE POLICY requester_sites ON alert_events AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL
           OR alert_id IN (SELECT a.id FROM alerts a
                            WHERE a.device_id IN (SELECT d FROM centinela_requester_devices() d)))
    WITH CHECK ((SELECT centinela_requester()) IS NULL
           OR alert_id IN (SELECT a.id FROM alerts a
                            WHERE a.device_id IN (SELECT d FROM centinela_requester_devices() d)));

-- Tickets: those of the requester's sites, and those it opened wherever they are.
CREATE POLICY requester_sites ON tickets AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL
           OR created_by = (SELECT centinela_requester())
           OR site_id IN (SELECT s FROM centinela_requester_sites() s))
    WITH CHECK ((SELECT centinela_requester()) IS NULL
           OR created_by = (SELECT centinela_requester())
           OR site_id IN (SELECT s FROM centinela_requester_sites() s));

-- A ticket's history follows its ticket (the tickets policy applies inside the sub-select).
CREATE POLICY requester_sites ON ticket_events AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL
           OR ticket_id IN (SELECT t.id FROM tickets t))
    WITH CHECK ((SELECT centinela_requester()) IS NULL
           OR ticket_id IN (SELECT t.id FROM tickets t));

-- Thresholds of the requester's sites and devices; tenant-wide ones are not site-bound, so a
-- requester does not see them.
CREATE POLICY requester_sites ON thresholds AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL
           OR (scope = 'site' AND scope_id IN (SELECT s FROM centinela_requester_sites() s))
           OR (scope = 'device' AND scope_id IN (SELECT d FROM centinela_requester_devices() d)))
    WITH CHECK ((SELECT centinela_requester()) IS NULL);

-- A requester sees only itself among users, and only its own site assignments.
CREATE POLICY requester_self ON users AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL OR id = (SELECT centinela_requester()))
    WITH CHECK ((SELECT centinela_requester()) IS NULL OR id = (SELECT centinela_requester()));
CREATE POLICY requester_self ON user_sites AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL
           OR user_id = (SELECT centinela_requester()))
    WITH CHECK ((SELECT centinela_requester()) IS NULL);

-- Tenant-wide configuration is not for requesters: log heuristics. (Scripts stay listed by
-- name for every tenant role; the API never shows their bodies to tenant roles, and only staff
-- and client_admins run them.)
CREATE POLICY requester_none ON log_rules AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL)
    WITH CHECK ((SELECT centinela_requester()) IS NULL);

-- The audit trail: a requester reads none of it, but its own actions (a login, a ticket it
-- opens) are still recorded in its scope, so INSERT is left to tenant isolation.
CREATE POLICY requester_none_read ON audit_log AS RESTRICTIVE FOR SELECT
    USING ((SELECT centinela_requester()) IS NULL);
CREATE POLICY requester_none_update ON audit_log AS RESTRICTIVE FOR UPDATE
    USING ((SELECT centinela_requester()) IS NULL);
CREATE POLICY requester_none_delete ON audit_log AS RESTRICTIVE FOR DELETE
    USING ((SELECT centinela_requester()) IS NULL);
CREATE INDEX audit_log_tenant_at ON audit_log (tenant_id, at DESC);
CREATE INDEX audit_log_actor_at ON audit_log (actor_id, at DESC);

-- The tenant profile.
ALTER TABLE tenants
    ADD COLUMN legal_name      text CHECK (length(legal_name) BETWEEN 1 AND 300),
    ADD COLUMN rfc             text CHECK (rfc ~ '^[A-Z&Ñ]{3,4}[0-9]{6}[A-Z0-9]{3}$'),
    ADD COLUMN email           text CHECK (length(email) BETWEEN 3 AND 254),
    ADD COLUMN phone           text CHECK (length(phone) BETWEEN 7 AND 30),
    ADD COLUMN allowed_emails  text[] NOT NULL DEFAULT '{}'
                               CHECK (cardinality(allowed_emails) <= 100),
    ADD COLUMN address         text CHECK (length(address) BETWEEN 1 AND 300),
    ADD COLUMN zip             text CHECK (zip ~ '^[0-9]{5}$'),
    ADD COLUMN state           text CHECK (length(state) BETWEEN 1 AND 100),
    ADD COLUMN city            text CHECK (length(city) BETWEEN 1 AND 100),
    ADD COLUMN lat             double precision CHECK (lat BETWEEN -90 AND 90),
    ADD COLUMN lon             double precision CHECK (lon BETWEEN -180 AND 180),
    ADD COLUMN assignment_rule text NOT NULL DEFAULT 'round_robin'
                               CHECK (assignment_rule IN ('round_robin', 'least_load'));

-- Users: a phone (optional), and the lookups the users list filters on.
ALTER TABLE users ADD COLUMN phone text CHECK (length(phone) BETWEEN 7 AND 30);
CREATE INDEX users_tenant ON users (tenant_id);
-- The last-superadmin rule counts these under a lock (storage::users).
CREATE INDEX users_active_superadmins ON users (id) WHERE role = 'superadmin' AND active;
