-- SLA policies (issue 13): contracted hours, holidays and per-priority targets, per tenant over
-- an MSP-wide default (tenant_id NULL). A change makes a new version (a new row); every ticket
-- keeps the version it was opened under until `apply` moves the open ones to the newest.

-- The back-fills below touch RLS-protected tables: the engine's scope for this transaction.
SELECT set_config('centinela.scope', '*', true);

CREATE TABLE sla_policies (
    id            uuid PRIMARY KEY,
    tenant_id     uuid REFERENCES tenants (id) ON DELETE CASCADE,
    version       integer NOT NULL CHECK (version >= 1),
    timezone      text NOT NULL,
    -- {"1": [["09:00","19:00"]], ...}: ISO weekday → local intervals.
    hours         jsonb NOT NULL,
    -- [{"date": "2026-12-25", "hours": [["09:00","14:00"]]?}]
    holidays      jsonb NOT NULL DEFAULT '[]',
    -- {"critical": {"response_min": 30, "resolution_min": 240}, "high": ..., ...}
    targets       jsonb NOT NULL,
    -- Business minutes between two breach reminders.
    reminder_min  integer NOT NULL DEFAULT 60 CHECK (reminder_min BETWEEN 5 AND 10080),
    created_by    uuid REFERENCES users (id) ON DELETE SET NULL,
    created_at    timestamptz NOT NULL DEFAULT now()
);
-- One version number per tenant (and one sequence for the default set).
CREATE UNIQUE INDEX sla_policies_version
    ON sla_policies (coalesce(tenant_id, '00000000-0000-0000-0000-000000000000'::uuid), version);

-- The default of seed 000: Monday–Friday 09:00–19:00 in Mexico City; critical 30 min / 4 h,
-- high 1 h / 8 h, medium 2 h / 16 h, low 4 h / 24 h.
INSERT INTO sla_policies (id, tenant_id, version, timezone, hours, holidays, targets)
VALUES (
    gen_random_uuid(), NULL, 1, 'America/Mexico_City',
    '{"1": [["09:00","19:00"]], "2": [["09:00","19:00"]], "3": [["09:00","19:00"]],
      "4": [["09:00","19:00"]], "5": [["09:00","19:00"]]}',
    '[]',
    '{"critical": {"response_min": 30, "resolution_min": 240},
      "high": {"response_min": 60, "resolution_min": 480},
      "medium": {"response_min": 120, "resolution_min": 960},
      "low": {"response_min": 240, "resolution_min": 1440}}'
);

ALTER TABLE sla_policies ENABLE ROW LEVEL SECURITY;
ALTER TABLE sla_policies FORCE ROW LEVEL SECURITY;
-- Everyone reads the default and its tenant's; only staff ('*') write (centinela_visible(NULL)
-- is true for '*' only).
CREATE POLICY tenant_isolation ON sla_policies
    USING (tenant_id IS NULL OR centinela_visible(tenant_id))
    WITH CHECK (centinela_visible(tenant_id));

-- The version each ticket runs under (NULL for tickets older than policies: the default's
-- first version is used for them).
ALTER TABLE tickets ADD COLUMN sla_policy_id uuid REFERENCES sla_policies (id);
UPDATE tickets SET sla_policy_id = (SELECT id FROM sla_policies WHERE tenant_id IS NULL AND version = 1);

-- Whether a history entry was made by MSP staff: a public staff comment stops the response
-- clock. Set by a trigger from the actor's role at the time (users are RLS-scoped, so the
-- clocks read this flag instead of joining users).
ALTER TABLE ticket_events ADD COLUMN by_staff boolean NOT NULL DEFAULT false;
CREATE FUNCTION centinela_event_by_staff() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    NEW.by_staff := NEW.actor_id IS NOT NULL AND EXISTS (
        SELECT 1 FROM users u
        WHERE u.id = NEW.actor_id AND u.role IN ('superadmin', 'admin', 'technician'));
    RETURN NEW;
END
$$;
CREATE TRIGGER ticket_events_by_staff BEFORE INSERT ON ticket_events
    FOR EACH ROW EXECUTE FUNCTION centinela_event_by_staff();
UPDATE ticket_events e SET by_staff = true
    FROM users u WHERE u.id = e.actor_id AND u.role IN ('superadmin', 'admin', 'technician');
