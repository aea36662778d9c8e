-- The helpdesk's ticket side: categories (an MSP-wide default set plus each tenant's own),
-- comments (public or internal), technician assignment (explicit lists, round robin with a
-- stored cursor, least load), the alert-ticket auto-resolve setting, and accent-insensitive
-- search.

-- The tenant's assignment rule. The users helper's migration defines the same column; IF NOT
-- EXISTS lets whichever migration runs first create it and the other leave it alone.
ALTER TABLE tenants ADD COLUMN IF NOT EXISTS assignment_rule text NOT NULL DEFAULT 'round_robin'
    CHECK (assignment_rule IN ('round_robin', 'least_load'));
-- Round robin's cursor: the technician the rule picked last for this tenant.
ALTER TABLE tenants ADD COLUMN assignment_cursor uuid;
-- Resolve an alert's ticket when the alert clears, if nobody moved or commented on it.
ALTER TABLE tenants ADD COLUMN auto_resolve_alert_tickets boolean NOT NULL DEFAULT false;

CREATE TABLE ticket_categories (
    id                 uuid PRIMARY KEY,
    -- NULL: the MSP-wide default set every tenant sees.
    tenant_id          uuid REFERENCES tenants (id) ON DELETE CASCADE,
    parent_id          uuid REFERENCES ticket_categories (id) ON DELETE CASCADE,
    name               text NOT NULL CHECK (length(name) BETWEEN 1 AND 100),
    requires_approval  boolean NOT NULL DEFAULT false,
    created_at         timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX ticket_categories_unique_name ON ticket_categories (
    coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'),
    coalesce(parent_id, '00000000-0000-0000-0000-000000000000'),
    lower(name));
CREATE INDEX ticket_categories_tenant ON ticket_categories (tenant_id);

-- The default set (Spanish, the product's language).
DO $$
DECLARE
    parent uuid;
    tree constant text[][] := ARRAY[
        ['Hardware', 'Equipo de cómputo,Disco duro,Memoria,Periféricos'],
        ['Software', 'Instalación,Actualización,Licencias,Error de aplicación'],
        ['Red', 'Sin internet,Wi-Fi,VPN,Lentitud'],
        ['Cuentas y accesos', 'Alta de usuario,Restablecer contraseña,Permisos'],
        ['Impresoras', 'Atasco de papel,Tóner,Configuración'],
        ['Correo electrónico', 'No envía,No recibe,Configuración'],
        ['Cámaras y seguridad', 'Cámara sin señal,Grabación'],
        ['Alertas del monitoreo', '']
    ];
    child text;
BEGIN
    FOR i IN 1 .. array_length(tree, 1) LOOP
        parent := gen_random_uuid();
        INSERT INTO ticket_categories (id, name) VALUES (parent, tree[i][1]);
        IF tree[i][2] <> '' THEN
            FOREACH child IN ARRAY string_to_array(tree[i][2], ',') LOOP
                INSERT INTO ticket_categories (id, name, parent_id)
                VALUES (gen_random_uuid(), child, parent);
            END LOOP;
        END IF;
    END LOOP;
END
$$;

-- Row-level security once the defaults are in (FORCE applies to the migrating owner too).
ALTER TABLE ticket_categories ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_categories FORCE ROW LEVEL SECURITY;
-- Everyone reads the default set; only staff ('*' scope) write it (centinela_visible(NULL) is
-- true for '*' only).
CREATE POLICY tenant_isolation ON ticket_categories
    USING (tenant_id IS NULL OR centinela_visible(tenant_id))
    WITH CHECK (centinela_visible(tenant_id));

ALTER TABLE tickets ADD COLUMN category_id uuid REFERENCES ticket_categories (id) ON DELETE SET NULL;

-- Case- and accent-insensitive folding for search. `unaccent()` is only STABLE (its rules file
-- can change), so it cannot feed an index; this translate() covers Spanish (and common Western
-- European) letters and is IMMUTABLE. Accents go first: lower() in a C-collated database only
-- folds ASCII.
CREATE FUNCTION centinela_fold(t text) RETURNS text
LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
    SELECT lower(translate(t,
        'ÁÀÂÄÃÉÈÊËÍÌÎÏÓÒÔÖÕÚÙÛÜÑÇáàâäãéèêëíìîïóòôöõúùûüñç',
        'AAAAAEEEEIIIIOOOOOUUUUNCaaaaaeeeeiiiiooooouuuunc'))
$$;

ALTER TABLE tickets ADD COLUMN search_text text
    GENERATED ALWAYS AS (centinela_fold(number || ' ' || subject || ' ' || description)) STORED;

-- Substring search (`LIKE '%…%'`) uses a trigram index when pg_trgm can be created (a trusted
-- contrib extension since PostgreSQL 13; Debian's postgresql-15 ships it); without it the
-- search scans, which stays in milliseconds for tens of thousands of tickets.
DO $$
BEGIN
    CREATE EXTENSION IF NOT EXISTS pg_trgm;
    EXECUTE 'CREATE INDEX tickets_search ON tickets USING gin (search_text gin_trgm_ops)';
EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN
    RAISE NOTICE 'pg_trgm is not available: ticket search will scan';
END
$$;

-- Staff lists (every tenant, newest first) and the filters of the list.
CREATE INDEX tickets_created ON tickets (created_at DESC, id DESC);
CREATE INDEX tickets_assigned_open ON tickets (assigned_to)
    WHERE status NOT IN ('resolved', 'closed', 'cancelled');
CREATE INDEX tickets_site_created ON tickets (site_id, created_at DESC);

-- More kinds of history.
ALTER TABLE ticket_events DROP CONSTRAINT ticket_events_kind_check;
ALTER TABLE ticket_events ADD CONSTRAINT ticket_events_kind_check CHECK (kind IN (
    'created', 'status', 'comment', 'alert_cleared', 'alert_updated', 'assigned', 'priority',
    'category', 'alert_refired'));
-- An internal comment's history entry is internal too.
ALTER TABLE ticket_events ADD COLUMN internal boolean NOT NULL DEFAULT false;

CREATE TABLE ticket_comments (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    ticket_id   uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    -- NULL: the engine (alert notes).
    author_id   uuid REFERENCES users (id) ON DELETE SET NULL,
    body        text NOT NULL CHECK (length(body) BETWEEN 1 AND 20000),
    internal    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX ticket_comments_ticket ON ticket_comments (ticket_id, created_at);

ALTER TABLE ticket_comments ENABLE ROW LEVEL SECURITY;
ALTER TABLE ticket_comments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON ticket_comments
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));

-- Internal notes are the MSP's: tenant roles never read them, whatever the API does.
CREATE FUNCTION centinela_staff() RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT coalesce(current_setting('centinela.scope', true), '') = '*'
$$;
CREATE POLICY internal_for_staff ON ticket_comments AS RESTRICTIVE
    USING (NOT internal OR centinela_staff());
CREATE POLICY internal_for_staff ON ticket_events AS RESTRICTIVE
    USING (NOT internal OR centinela_staff());

-- A tenant's explicit technicians, in order: the first active one takes new tickets.
CREATE TABLE technician_assignments (
    id             uuid PRIMARY KEY,
    tenant_id      uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    technician_id  uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    position       integer NOT NULL CHECK (position BETWEEN 0 AND 1000000),
    created_at     timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, technician_id)
);

ALTER TABLE technician_assignments ENABLE ROW LEVEL SECURITY;
ALTER TABLE technician_assignments FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON technician_assignments
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));
