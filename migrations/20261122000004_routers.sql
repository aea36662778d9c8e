-- Routers (devices of kind 'routeros'): where to reach them, and their credentials sealed with
-- AES-256-GCM under the engine's master key (never stored or returned in clear). Plus the
-- per-tenant settings of the log heuristics (absent rows mean the built-in defaults).

-- A router's tenant is its device's tenant: the composite key makes a mismatch impossible.
CREATE UNIQUE INDEX devices_id_tenant ON devices (id, tenant_id);

CREATE TABLE router_targets (
    device_id           uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL,
    host                text NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
    port                integer NOT NULL CHECK (port BETWEEN 1 AND 65535),
    tls                 boolean NOT NULL DEFAULT false,
    -- Routers ship self-signed certificates: verification is opt-in.
    verify_tls          boolean NOT NULL DEFAULT false,
    sealed_credentials  bytea NOT NULL,
    -- The highest `/log` entry id already taken in, so a reconnect does not ingest twice.
    last_log_id         bigint,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    FOREIGN KEY (device_id, tenant_id) REFERENCES devices (id, tenant_id) ON DELETE CASCADE
);
CREATE INDEX router_targets_tenant ON router_targets (tenant_id);

CREATE TABLE log_rules (
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind            text NOT NULL CHECK (kind IN ('brute_force', 'wan_instability', 'link_down')),
    enabled         boolean NOT NULL,
    threshold       integer NOT NULL CHECK (threshold BETWEEN 1 AND 10000),
    window_seconds  integer NOT NULL CHECK (window_seconds BETWEEN 1 AND 86400),
    severity        text NOT NULL CHECK (severity IN ('warning', 'critical')),
    auto_ticket     boolean NOT NULL,
    updated_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind)
);

ALTER TABLE router_targets ENABLE ROW LEVEL SECURITY;
ALTER TABLE router_targets FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON router_targets
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));

ALTER TABLE log_rules ENABLE ROW LEVEL SECURITY;
ALTER TABLE log_rules FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON log_rules
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));
