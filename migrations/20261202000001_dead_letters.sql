-- Dead letters: messages and rows the engine acknowledged but cannot store (a timestamp outside
-- the accepted window, a row PostgreSQL refuses with a data error, a message refused at decode).
-- They are kept here with their reason instead of being dropped silently or retried forever.
-- `payload` is bytea because the payload is, by definition, something a text or jsonb column
-- may refuse. Rows older than the metrics retention are deleted by the engine's upkeep.

CREATE TABLE dead_letters (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants(id) ON DELETE CASCADE,
    device_id   uuid NOT NULL REFERENCES devices(id) ON DELETE CASCADE,
    -- What it was: a message kind (telemetry, events, inventory, ...) or a stored row
    -- (metric_point, log_line).
    kind        text NOT NULL,
    -- A bounded reason word (bad_timestamp, invalid_json, data_error, ...).
    reason      text NOT NULL,
    -- The human-readable cause (the decoder's or PostgreSQL's message).
    detail      text NOT NULL,
    payload     bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX dead_letters_device ON dead_letters (device_id, created_at);
CREATE INDEX dead_letters_created ON dead_letters (created_at);

ALTER TABLE dead_letters ENABLE ROW LEVEL SECURITY;
ALTER TABLE dead_letters FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON dead_letters
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));
