-- The demo's tenant profiles move into the tenants' own profile columns (issue 11 added them),
-- where the API and the dashboard read them; the side table goes.
SELECT set_config('centinela.scope', '*', true);

UPDATE tenants t
SET legal_name = coalesce(t.legal_name, p.legal_name),
    rfc = coalesce(t.rfc, p.rfc),
    address = coalesce(t.address, p.address),
    city = coalesce(t.city, p.city),
    state = coalesce(t.state, p.state)
FROM demo_tenant_profiles p
WHERE p.tenant_id = t.id;

DROP TABLE demo_tenant_profiles;
