-- SLA escalation steps and maintenance windows (issue 13).

-- Each escalation step of a ticket's clock, stored before it is announced on /ws/noc: the
-- warning at 75 % of the target, the breach at 100 %, then reminders. One row per step: the
-- unique key makes a step fire exactly once, whatever restarts or engines race.
CREATE TABLE sla_events (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    ticket_id   uuid NOT NULL REFERENCES tickets (id) ON DELETE CASCADE,
    clock       text NOT NULL CHECK (clock IN ('response', 'resolution')),
    step        text NOT NULL CHECK (step IN ('warning', 'breached', 'reminder')),
    -- The reminder's number (1, 2, …); 0 for the warning and the breach.
    seq         integer NOT NULL DEFAULT 0 CHECK (seq >= 0),
    -- 0 warning, 1 breached, 1 + seq a reminder: steps of one clock fire in this order only.
    rank        integer NOT NULL CHECK (rank >= 0),
    priority    text NOT NULL,
    -- The clock's target and the business minutes used when the step fired.
    target_min  integer NOT NULL,
    used_min    integer NOT NULL,
    -- The instant the clock is (was) due.
    due_at      timestamptz,
    fired_at    timestamptz NOT NULL DEFAULT now(),
    -- Who should be told: the assignee; for a breach and its reminders also the admins.
    -- Mail delivery reads this later.
    notify      uuid[] NOT NULL DEFAULT '{}',
    UNIQUE (ticket_id, clock, rank)
);
CREATE INDEX sla_events_tenant_fired ON sla_events (tenant_id, fired_at DESC);
ALTER TABLE sla_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE sla_events FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON sla_events
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));
-- Who is chased and when is the MSP's business: requesters see none.
CREATE POLICY requester_none ON sla_events AS RESTRICTIVE
    USING ((SELECT centinela_requester()) IS NULL)
    WITH CHECK ((SELECT centinela_requester()) IS NULL);

-- Maintenance windows: one-off (starts_at..ends_at) or recurring (weekly/monthly in a time
-- zone). While one covers a tenant, site or device, its alerts carry `suppressed_by` (no ticket)
-- and the SLA clocks of its tickets pause.
CREATE TABLE maintenance_windows (
    id          uuid PRIMARY KEY,
    tenant_id   uuid NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    scope       text NOT NULL CHECK (scope IN ('tenant', 'site', 'device')),
    scope_id    uuid NOT NULL,
    description text NOT NULL CHECK (char_length(description) BETWEEN 1 AND 500),
    starts_at   timestamptz,
    ends_at     timestamptz,
    -- {"weekly": {"days": [7], "start": "02:00", "end": "04:00"}}
    -- | {"monthly": {"day": 1, "start": "22:00", "end": "02:00"}}
    recurrence  jsonb,
    timezone    text NOT NULL DEFAULT 'America/Mexico_City',
    created_by  uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now(),
    CHECK ((recurrence IS NULL AND starts_at IS NOT NULL AND ends_at IS NOT NULL
            AND ends_at > starts_at)
           OR (recurrence IS NOT NULL AND starts_at IS NULL AND ends_at IS NULL))
);
CREATE INDEX maintenance_windows_tenant ON maintenance_windows (tenant_id);
ALTER TABLE maintenance_windows ENABLE ROW LEVEL SECURITY;
ALTER TABLE maintenance_windows FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON maintenance_windows
    USING (centinela_visible(tenant_id)) WITH CHECK (centinela_visible(tenant_id));
-- Requesters never write windows. They may read their tenant's: their tickets' clocks pause
-- under them (the API itself answers requesters 403 on /api/maintenance-windows).
CREATE POLICY requester_no_insert ON maintenance_windows AS RESTRICTIVE FOR INSERT
    WITH CHECK ((SELECT centinela_requester()) IS NULL);
CREATE POLICY requester_no_update ON maintenance_windows AS RESTRICTIVE FOR UPDATE
    USING ((SELECT centinela_requester()) IS NULL);
CREATE POLICY requester_no_delete ON maintenance_windows AS RESTRICTIVE FOR DELETE
    USING ((SELECT centinela_requester()) IS NULL);

-- An alert raised while a window covers its device: `{"kind": "maintenance", "id": …}`.
-- `pending_ticket_priority`: the priority of the ticket the alert would have opened, opened
-- when the window ends with the condition still firing (NULL: no ticket due).
ALTER TABLE alerts ADD COLUMN suppressed_by jsonb;
ALTER TABLE alerts ADD COLUMN pending_ticket_priority text;
CREATE INDEX alerts_suppressed_firing ON alerts ((suppressed_by ->> 'id'))
    WHERE state = 'firing' AND suppressed_by IS NOT NULL;
-- An alert's history records when a window suppressed it and when it became normal.
ALTER TABLE alert_events DROP CONSTRAINT alert_events_kind_check;
ALTER TABLE alert_events ADD CONSTRAINT alert_events_kind_check
    CHECK (kind IN ('opened', 'severity_changed', 'cleared', 'ack', 'status', 'suppressed',
                    'unsuppressed'));
