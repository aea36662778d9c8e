-- The demo (`centinela demo`): a marker that says this database holds demo data, the Mexican
-- business profile of the demo tenants, and an accent- and case-folding function for searches.
--
-- demo_seed holds one row once `centinela demo` has seeded the database (in the same
-- transaction as the seed): the demo uses a database only when it is empty or has this row,
-- and `serve` never writes it.
CREATE TABLE demo_seed (
    id                   smallint PRIMARY KEY CHECK (id = 1),
    seeded_at            timestamptz NOT NULL DEFAULT now(),
    -- Days of metrics history stored so far (history loads after the seed, newest day first,
    -- and resumes where it stopped).
    history_days_loaded  integer NOT NULL DEFAULT 0 CHECK (history_days_loaded >= 0)
);

-- Legal data of the demo's client tenants (razón social, RFC, domicilio fiscal).
CREATE TABLE demo_tenant_profiles (
    tenant_id   uuid PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    legal_name  text NOT NULL,
    rfc         text NOT NULL CHECK (rfc ~ '^[A-ZÑ&]{3,4}[0-9]{6}[A-Z0-9]{3}$'),
    address     text NOT NULL,
    city        text NOT NULL,
    state       text NOT NULL
);
ALTER TABLE demo_tenant_profiles ENABLE ROW LEVEL SECURITY;
ALTER TABLE demo_tenant_profiles FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON demo_tenant_profiles
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));

-- Device search folds case and accents with centinela_fold() (migration 20261203000200).
