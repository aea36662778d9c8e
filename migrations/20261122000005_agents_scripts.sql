-- Agents and remote scripts: the interval an agent was enrolled with (for offline detection),
-- the engine's command signing key (Ed25519; private half sealed under the master key),
-- scripts with their approval, and every run with its result.

ALTER TABLE devices ADD COLUMN heartbeat_s integer CHECK (heartbeat_s BETWEEN 1 AND 86400);

CREATE TABLE command_keys (
    id              smallint PRIMARY KEY CHECK (id = 1),
    public_key      bytea NOT NULL CHECK (length(public_key) = 32),
    sealed_private  bytea NOT NULL,
    created_at      timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scripts (
    id           uuid PRIMARY KEY,
    -- NULL: a global script of the MSP, usable on every tenant's devices.
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    name         text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    interpreter  text NOT NULL CHECK (interpreter IN ('powershell', 'bash', 'sh', 'python')),
    body         text NOT NULL CHECK (length(body) BETWEEN 1 AND 65536),
    timeout_s    integer NOT NULL CHECK (timeout_s BETWEEN 1 AND 3600),
    created_by   uuid,
    created_at   timestamptz NOT NULL DEFAULT now(),
    -- Set by an admin; cleared whenever the body, interpreter or timeout change.
    approved_by  uuid,
    approved_at  timestamptz,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX scripts_tenant ON scripts (tenant_id);

CREATE TABLE script_runs (
    id            uuid PRIMARY KEY,
    tenant_id     uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    device_id     uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    script_id     uuid REFERENCES scripts (id) ON DELETE SET NULL,
    script_name   text NOT NULL,
    requested_by  uuid,
    requested_at  timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    status        text NOT NULL CHECK (status IN ('sent', 'completed', 'timeout', 'refused', 'failed', 'expired')),
    exit_code     integer,
    stdout        text,
    stderr        text,
    duration_ms   bigint,
    reason        text,
    finished_at   timestamptz
);
CREATE INDEX script_runs_device ON script_runs (device_id, requested_at DESC);
CREATE INDEX script_runs_pending ON script_runs (expires_at) WHERE status = 'sent';

ALTER TABLE scripts ENABLE ROW LEVEL SECURITY;
ALTER TABLE scripts FORCE ROW LEVEL SECURITY;
-- Global scripts are readable by every scope; only staff ('*') may write them.
CREATE POLICY tenant_isolation ON scripts
    USING (tenant_id IS NULL OR centinela_visible(tenant_id))
    WITH CHECK (centinela_visible(tenant_id));

ALTER TABLE script_runs ENABLE ROW LEVEL SECURITY;
ALTER TABLE script_runs FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON script_runs
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));
