-- Requester scope: a requester (solicitante) belongs to one or more sites of its tenant and sees
-- only those sites' objects, plus its own tickets.
--
-- `Store::begin` sets `centinela.requester` (transaction-local) to the user's id for a requester
-- and to '' otherwise. Site-bound tables add a policy on top of tenant isolation that calls
-- `centinela_site_visible(site_id)`: true for everyone but a requester, and for a requester only
-- on the sites in its `user_sites` rows.

CREATE TABLE user_sites (
    user_id    uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site_id    uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    tenant_id  uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    PRIMARY KEY (user_id, site_id)
);
CREATE INDEX user_sites_site ON user_sites (site_id);

ALTER TABLE user_sites ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_sites FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON user_sites
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));

-- Who opened a ticket (a requester always sees its own tickets). NULL for alert tickets.
ALTER TABLE tickets ADD COLUMN created_by uuid REFERENCES users (id) ON DELETE SET NULL;
CREATE INDEX tickets_created_by ON tickets (created_by) WHERE created_by IS NOT NULL;

-- The requesting user of this transaction, NULL when the caller is not a requester.
CREATE FUNCTION centinela_requester() RETURNS uuid
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT nullif(current_setting('centinela.requester', true), '')::uuid
$$;

-- Whether the caller may see rows of `site` (tenant isolation is checked by its own policy).
-- user_sites itself is under tenant isolation, which the requester's scope passes.
CREATE FUNCTION centinela_site_visible(site uuid) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE AS $$
    SELECT centinela_requester() IS NULL
        OR (site IS NOT NULL AND EXISTS (
                SELECT 1 FROM user_sites
                 WHERE user_sites.user_id = centinela_requester()
                   AND user_sites.site_id = site))
$$;
