-- Core schema of Centinela: tenants, sites, users, devices, thresholds, alerts, tickets, audit.
-- Every tenant-owned row carries tenant_id and is guarded by row-level security (see
-- 20261122000002_rls.sql). Times are timestamptz (UTC on output).

CREATE TABLE tenants (
    id          uuid PRIMARY KEY,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    plan        text NOT NULL DEFAULT 'basic' CHECK (plan IN ('basic', 'inter', 'pro')),
    status      text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended')),
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE sites (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name        text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    address     text,
    city        text,
    state       text,
    zip         text,
    lat         double precision CHECK (lat BETWEEN -90 AND 90),
    lon         double precision CHECK (lon BETWEEN -180 AND 180),
    -- Enrollment secret for agents of this site (shown to staff only).
    site_key    text NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX sites_tenant ON sites (tenant_id);

CREATE TABLE users (
    id             uuid PRIMARY KEY,
    email          text NOT NULL,
    name           text NOT NULL,
    role           text NOT NULL CHECK (role IN ('superadmin', 'admin', 'technician', 'client_admin', 'requester')),
    tenant_id      uuid REFERENCES tenants (id) ON DELETE CASCADE,
    -- argon2id PHC string.
    password_hash  text NOT NULL,
    active         boolean NOT NULL DEFAULT true,
    created_at     timestamptz NOT NULL DEFAULT now(),
    -- Staff roles have no tenant; tenant roles must have one.
    CHECK ((role IN ('superadmin', 'admin', 'technician')) = (tenant_id IS NULL))
);
CREATE UNIQUE INDEX users_email ON users (lower(email));

CREATE TABLE refresh_tokens (
    id          uuid PRIMARY KEY,
    user_id     uuid NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);

CREATE TABLE devices (
    id              uuid PRIMARY KEY,
    tenant_id       uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    site_id         uuid NOT NULL REFERENCES sites (id) ON DELETE CASCADE,
    name            text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    kind            text NOT NULL CHECK (kind IN ('agent', 'routeros')),
    -- SHA-256 of the device token. Tokens are 256-bit random secrets, so a fast hash is enough
    -- (no dictionary to defend against) and the broker's auth check stays cheap.
    token_hash      bytea NOT NULL,
    inventory       jsonb,
    inventory_at    timestamptz,
    last_seen_at    timestamptz,
    created_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX devices_tenant ON devices (tenant_id);
CREATE INDEX devices_site ON devices (site_id);

CREATE TABLE thresholds (
    id               uuid PRIMARY KEY,
    tenant_id        uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    scope            text NOT NULL CHECK (scope IN ('tenant', 'site', 'device')),
    scope_id         uuid NOT NULL,
    metric           text NOT NULL,
    op               text NOT NULL CHECK (op IN ('>', '>=', '<', '<=', '==', '!=')),
    warning          double precision,
    critical         double precision,
    for_seconds      integer NOT NULL DEFAULT 0 CHECK (for_seconds >= 0),
    clear_margin     double precision NOT NULL DEFAULT 0 CHECK (clear_margin >= 0),
    auto_ticket      boolean NOT NULL DEFAULT false,
    ticket_priority  text CHECK (ticket_priority IN ('low', 'medium', 'high', 'critical')),
    created_at       timestamptz NOT NULL DEFAULT now(),
    CHECK (warning IS NOT NULL OR critical IS NOT NULL)
);
CREATE INDEX thresholds_tenant ON thresholds (tenant_id);
-- One rule per metric and scope target: "the most specific scope wins" needs no tie-break.
CREATE UNIQUE INDEX thresholds_unique_target ON thresholds (scope, scope_id, metric);

CREATE SEQUENCE ticket_number_seq;

CREATE TABLE tickets (
    id                       uuid PRIMARY KEY,
    -- TKT- + 6 digits, from one sequence shared by every source.
    number                   text NOT NULL UNIQUE
                             DEFAULT 'TKT-' || lpad(nextval('ticket_number_seq')::text, 6, '0'),
    tenant_id                uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    site_id                  uuid REFERENCES sites (id) ON DELETE SET NULL,
    device_id                uuid REFERENCES devices (id) ON DELETE SET NULL,
    alert_id                 uuid,
    source                   text NOT NULL CHECK (source IN ('portal', 'email', 'agent', 'alert', 'api')),
    subject                  text NOT NULL,
    description              text NOT NULL DEFAULT '',
    affected_person          text NOT NULL DEFAULT '',
    affected_person_contact  text NOT NULL DEFAULT '',
    additional_emails        text[] NOT NULL DEFAULT '{}',
    priority                 text NOT NULL CHECK (priority IN ('low', 'medium', 'high', 'critical')),
    category                 text,
    status                   text NOT NULL DEFAULT 'new' CHECK (status IN ('new', 'pending_approval', 'assigned', 'in_progress', 'waiting_customer', 'resolved', 'closed', 'reopened', 'cancelled')),
    assigned_to              uuid REFERENCES users (id) ON DELETE SET NULL,
    response_due_at          timestamptz,
    resolution_due_at        timestamptz,
    created_at               timestamptz NOT NULL DEFAULT now(),
    updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX tickets_tenant_created ON tickets (tenant_id, created_at DESC);
-- Exactly one ticket per alert.
CREATE UNIQUE INDEX tickets_alert ON tickets (alert_id) WHERE alert_id IS NOT NULL;

CREATE TABLE alerts (
    id                  uuid PRIMARY KEY,
    tenant_id           uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    device_id           uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    -- The metric series (or rule) the alert is about; one firing alert per device + key.
    key                 text NOT NULL,
    threshold_id        uuid REFERENCES thresholds (id) ON DELETE SET NULL,
    severity            text NOT NULL CHECK (severity IN ('warning', 'critical')),
    state               text NOT NULL CHECK (state IN ('firing', 'cleared')),
    status              text NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'in_progress', 'resolved')),
    title               text NOT NULL,
    description         text NOT NULL,
    recommended_action  text NOT NULL,
    value               double precision NOT NULL,
    threshold           double precision,
    opened_at           timestamptz NOT NULL,
    cleared_at          timestamptz,
    acked_by            uuid REFERENCES users (id) ON DELETE SET NULL,
    acked_at            timestamptz,
    ticket_id           uuid REFERENCES tickets (id) ON DELETE SET NULL,
    updated_at          timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX alerts_one_firing_per_key ON alerts (device_id, key) WHERE state = 'firing';
CREATE INDEX alerts_tenant_opened ON alerts (tenant_id, opened_at DESC);
ALTER TABLE tickets ADD CONSTRAINT tickets_alert_fk FOREIGN KEY (alert_id) REFERENCES alerts (id) ON DELETE SET NULL;

-- Every state/status change of an alert, with who (NULL = the engine) and when.
CREATE TABLE alert_events (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    alert_id    uuid NOT NULL REFERENCES alerts (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    kind        text NOT NULL CHECK (kind IN ('opened', 'severity_changed', 'cleared', 'ack', 'status')),
    from_value  text,
    to_value    text,
    value       double precision,
    comment     text
);
CREATE INDEX alert_events_alert ON alert_events (alert_id, at);

CREATE TABLE ticket_events (
    id          bigserial PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    ticket_id   uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    at          timestamptz NOT NULL DEFAULT now(),
    actor_id    uuid REFERENCES users (id) ON DELETE SET NULL,
    kind        text NOT NULL CHECK (kind IN ('created', 'status', 'comment', 'alert_cleared', 'alert_updated', 'assigned')),
    from_value  text,
    to_value    text,
    comment     text
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id, at);

-- Device log lines (agent `events`, router logs).
CREATE TABLE device_logs (
    ts          timestamptz NOT NULL,
    tenant_id   uuid NOT NULL,
    device_id   uuid NOT NULL REFERENCES devices (id) ON DELETE CASCADE,
    level       text NOT NULL,
    source      text NOT NULL,
    message     text NOT NULL
);
CREATE INDEX device_logs_device_ts ON device_logs (device_id, ts DESC);

CREATE TABLE audit_log (
    id           bigserial PRIMARY KEY,
    at           timestamptz NOT NULL DEFAULT now(),
    tenant_id    uuid REFERENCES tenants (id) ON DELETE CASCADE,
    actor_id     uuid,
    action       text NOT NULL,
    target_type  text NOT NULL,
    target_id    text,
    details      jsonb NOT NULL DEFAULT '{}'
);
CREATE INDEX audit_log_at ON audit_log (at DESC);

-- The engine's MQTT certificate authority (singleton). The key is sealed under the master key.
CREATE TABLE pki (
    id          smallint PRIMARY KEY CHECK (id = 1),
    cert_pem    text NOT NULL,
    sealed_key  bytea NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
