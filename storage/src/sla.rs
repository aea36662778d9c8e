//! SLA policies (versioned, per tenant over an MSP-wide default) and what the clocks read of a
//! ticket's history. The clocks themselves are pure: `centinela_model::sla::clock`.

use crate::{Result, StorageError};
use centinela_model::TicketStatus;
use centinela_model::sla::clock::{self, Clocks, Fact, History, Targets};
use centinela_model::sla::{Calendar, CalendarError, CalendarSpec, HolidaySpec, IntervalSpec};
use chrono::{DateTime, Utc};
use serde::Serialize;
use sqlx::PgConnection;
use sqlx::types::Json;
use std::collections::{BTreeMap, HashMap};
use uuid::Uuid;

/// One version of a policy.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Policy {
    pub id: Uuid,
    /// `null`: the MSP-wide default.
    pub tenant_id: Option<Uuid>,
    pub version: i32,
    pub timezone: String,
    #[schema(value_type = BTreeMap<String, Vec<Vec<String>>>)]
    pub hours: Json<BTreeMap<String, Vec<IntervalSpec>>>,
    #[schema(value_type = Vec<Object>)]
    pub holidays: Json<Vec<HolidaySpec>>,
    #[schema(value_type = Targets)]
    pub targets: Json<Targets>,
    pub reminder_min: i32,
    pub created_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
}

impl Policy {
    pub fn spec(&self) -> CalendarSpec {
        CalendarSpec {
            timezone: self.timezone.clone(),
            hours: self.hours.0.clone(),
            holidays: self.holidays.0.clone(),
        }
    }

    /// The policy's calendar (validated when it was written).
    pub fn calendar(&self) -> std::result::Result<Calendar, CalendarError> {
        Calendar::from_spec(&self.spec())
    }
}

const COLUMNS: &str = "id, tenant_id, version, timezone, hours, holidays, targets, reminder_min, \
    created_by, created_at";

/// What a new version holds.
#[derive(Debug, Clone)]
pub struct NewPolicy {
    pub tenant_id: Option<Uuid>,
    pub spec: CalendarSpec,
    pub targets: Targets,
    pub reminder_min: i32,
    pub created_by: Option<Uuid>,
}

/// The newest version that governs `tenant`: its own, else the default's.
pub async fn current(conn: &mut PgConnection, tenant: Uuid) -> Result<Policy> {
    sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM sla_policies WHERE tenant_id = $1 OR tenant_id IS NULL
         ORDER BY tenant_id NULLS LAST, version DESC LIMIT 1"
    ))
    .bind(tenant)
    .fetch_optional(conn)
    .await?
    .ok_or(StorageError::NotFound)
}

pub async fn get(conn: &mut PgConnection, id: Uuid) -> Result<Policy> {
    sqlx::query_as(sqlf!("SELECT {COLUMNS} FROM sla_policies WHERE id = $1"))
        .bind(id)
        .fetch_optional(conn)
        .await?
        .ok_or(StorageError::NotFound)
}

/// Several versions by id (for a page of tickets).
pub async fn many(conn: &mut PgConnection, ids: &[Uuid]) -> Result<HashMap<Uuid, Policy>> {
    let rows: Vec<Policy> = sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM sla_policies WHERE id = ANY($1)"
    ))
    .bind(ids)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|p| (p.id, p)).collect())
}

/// The newest version of each policy visible to the scope (the default's and each tenant's),
/// or only `tenant`'s and the default's; with `all_versions`, every version, newest first.
pub async fn list(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    all_versions: bool,
) -> Result<Vec<Policy>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {COLUMNS} FROM sla_policies p
         WHERE ($1::uuid IS NULL OR tenant_id IS NULL OR tenant_id = $1)
           AND ($2 OR version = (SELECT max(version) FROM sla_policies q
                                 WHERE q.tenant_id IS NOT DISTINCT FROM p.tenant_id))
         ORDER BY tenant_id NULLS FIRST, version DESC
         LIMIT 1000"
    ))
    .bind(tenant)
    .bind(all_versions)
    .fetch_all(conn)
    .await?)
}

/// Stores the next version of the tenant's (or the default's) policy. Versions of one tenant
/// are serialised by a transaction-level advisory lock on the tenant.
pub async fn insert(conn: &mut PgConnection, new: &NewPolicy) -> Result<Policy> {
    let key = new.tenant_id.unwrap_or(Uuid::nil());
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('sla:' || $1::text, 0))")
        .bind(key)
        .execute(&mut *conn)
        .await?;
    sqlx::query_as(sqlf!(
        "INSERT INTO sla_policies (id, tenant_id, version, timezone, hours, holidays, targets,
             reminder_min, created_by)
         VALUES ($1, $2,
             1 + coalesce((SELECT max(version) FROM sla_policies
                           WHERE tenant_id IS NOT DISTINCT FROM $2), 0),
             $3, $4, $5, $6, $7, $8)
         RETURNING {COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(new.tenant_id)
    .bind(&new.spec.timezone)
    .bind(Json(&new.spec.hours))
    .bind(Json(&new.spec.holidays))
    .bind(Json(&new.targets))
    .bind(new.reminder_min)
    .bind(new.created_by)
    .fetch_one(conn)
    .await
    .map_err(StorageError::classify)
}

/// Whether the tenant has a policy of its own.
pub async fn tenant_has_own(conn: &mut PgConnection, tenant: Uuid) -> Result<bool> {
    let row: (bool,) =
        sqlx::query_as("SELECT EXISTS (SELECT 1 FROM sla_policies WHERE tenant_id = $1)")
            .bind(tenant)
            .fetch_one(conn)
            .await?;
    Ok(row.0)
}

/// Moves the open tickets governed by `policy`'s line (its tenant's; for the default, every
/// tenant without a policy of its own) to `policy`. Returns the tickets moved.
pub async fn apply(conn: &mut PgConnection, policy: &Policy) -> Result<Vec<Uuid>> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(sqlf!(
        "UPDATE tickets t SET sla_policy_id = $1, updated_at = now()
         WHERE t.status IN {OPEN} AND t.sla_policy_id IS DISTINCT FROM $1
           AND (($2::uuid IS NOT NULL AND t.tenant_id = $2)
                OR ($2::uuid IS NULL AND NOT EXISTS (
                    SELECT 1 FROM sla_policies p WHERE p.tenant_id = t.tenant_id)))
         RETURNING t.id",
        OPEN = crate::tickets::OPEN_STATUSES
    ))
    .bind(policy.id)
    .bind(policy.tenant_id)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// What the clocks read of one ticket's history.
#[derive(Debug, Clone, Default)]
pub struct Recorded {
    pub facts: Vec<Fact>,
    /// The status before the first move, and the priority before the first change (the ticket
    /// row holds only the current ones).
    pub first_status: Option<String>,
    pub first_priority: Option<String>,
}

/// The clocks' view of tickets' histories: status moves, priority changes and public staff
/// comments, by ticket.
pub async fn facts(conn: &mut PgConnection, tickets: &[Uuid]) -> Result<HashMap<Uuid, Recorded>> {
    type Row = (
        Uuid,
        DateTime<Utc>,
        String,
        Option<String>,
        Option<String>,
        bool,
        bool,
    );
    let rows: Vec<Row> = sqlx::query_as(
        "SELECT ticket_id, at, kind, from_value, to_value, internal, by_staff FROM ticket_events
         WHERE ticket_id = ANY($1) AND kind IN ('status', 'priority', 'comment')
         ORDER BY ticket_id, at, id",
    )
    .bind(tickets)
    .fetch_all(conn)
    .await?;
    let mut out: HashMap<Uuid, Recorded> = HashMap::new();
    for (ticket, at, kind, from, to, internal, by_staff) in rows {
        let entry = out.entry(ticket).or_default();
        let fact = match (kind.as_str(), to) {
            ("status", Some(to)) => {
                if entry.first_status.is_none() {
                    entry.first_status = from;
                }
                match to.parse::<TicketStatus>() {
                    Ok(to) => Fact::Status { at, to },
                    Err(_) => continue,
                }
            }
            ("priority", Some(to)) => {
                if entry.first_priority.is_none() {
                    entry.first_priority = from;
                }
                Fact::Priority { at, to }
            }
            ("comment", _) if by_staff && !internal => Fact::StaffReply { at },
            _ => continue,
        };
        entry.facts.push(fact);
    }
    Ok(out)
}

/// A ticket's history for the clocks.
pub fn history(ticket: &crate::tickets::Ticket, recorded: Recorded) -> History {
    let status = recorded
        .first_status
        .as_deref()
        .unwrap_or(&ticket.status)
        .parse()
        .unwrap_or(TicketStatus::New);
    History {
        created_at: ticket.created_at,
        status,
        priority: recorded
            .first_priority
            .unwrap_or_else(|| ticket.priority.clone()),
        facts: recorded.facts,
    }
}

/// A ticket's clocks at an instant, with what the escalation needs to look ahead.
#[derive(Debug, Clone)]
pub struct Evaluated {
    pub clocks: Clocks,
    pub version: i32,
    /// Business time between two breach reminders.
    pub reminder: chrono::Duration,
    pub calendar: Calendar,
    /// Maintenance spans covering the ticket (past and announced).
    pub maintenance: Vec<centinela_model::sla::Span>,
}

impl Evaluated {
    /// The instant `left` of business time after `now` (maintenance ahead subtracted).
    pub fn after(&self, now: DateTime<Utc>, left: chrono::Duration) -> Option<DateTime<Utc>> {
        self.calendar.add_business(now, left, &self.maintenance)
    }

    /// The end of the maintenance span covering `now`, if one does.
    pub fn maintenance_end(&self, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        self.maintenance
            .iter()
            .filter(|(s, e)| *s <= now && now < *e)
            .map(|(_, e)| *e)
            .max()
    }
}

/// Both clocks of each ticket at `now` and what goes with them. Tickets whose policy is not
/// visible or invalid are left out.
pub async fn evaluate(
    conn: &mut PgConnection,
    tickets: &[crate::tickets::Ticket],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, Evaluated>> {
    if tickets.is_empty() {
        return Ok(HashMap::new());
    }
    let mut ids: Vec<Uuid> = tickets.iter().filter_map(|t| t.sla_policy_id).collect();
    ids.sort_unstable();
    ids.dedup();
    let policies = many(conn, &ids).await?;
    let mut calendars: HashMap<Uuid, Calendar> = HashMap::new();
    for (id, policy) in &policies {
        if let Ok(calendar) = policy.calendar() {
            calendars.insert(*id, calendar);
        }
    }
    let ticket_ids: Vec<Uuid> = tickets.iter().map(|t| t.id).collect();
    let mut recorded = facts(conn, &ticket_ids).await?;
    let mut tenants: Vec<Uuid> = tickets.iter().map(|t| t.tenant_id).collect();
    tenants.sort_unstable();
    tenants.dedup();
    let windows = crate::maintenance::of_tenants(conn, &tenants).await?;
    let mut out = HashMap::with_capacity(tickets.len());
    for ticket in tickets {
        let Some(policy_id) = ticket.sla_policy_id else {
            continue;
        };
        let (Some(policy), Some(calendar)) = (policies.get(&policy_id), calendars.get(&policy_id))
        else {
            continue;
        };
        let history = history(ticket, recorded.remove(&ticket.id).unwrap_or_default());
        let maintenance = crate::maintenance::spans_for(
            &windows,
            ticket.tenant_id,
            ticket.site_id,
            ticket.device_id,
            ticket.created_at,
            now,
        );
        let clocks = clock::clocks(calendar, &policy.targets.0, &history, &maintenance, now);
        out.insert(
            ticket.id,
            Evaluated {
                clocks,
                version: policy.version,
                reminder: chrono::Duration::minutes(i64::from(policy.reminder_min)),
                calendar: calendar.clone(),
                maintenance,
            },
        );
    }
    Ok(out)
}

/// Both clocks of each ticket at `now`, with the policy version each runs under. Tickets whose
/// policy is not visible or invalid are left out.
pub async fn clocks_of(
    conn: &mut PgConnection,
    tickets: &[crate::tickets::Ticket],
    now: DateTime<Utc>,
) -> Result<HashMap<Uuid, (Clocks, i32)>> {
    Ok(evaluate(conn, tickets, now)
        .await?
        .into_iter()
        .map(|(id, e)| (id, (e.clocks, e.version)))
        .collect())
}

/// Fills the SLA fields of tickets for an answer: due dates (null while paused), minutes left
/// (negative once over), whether paused, and the policy version.
pub async fn annotate(
    conn: &mut PgConnection,
    tickets: &mut [crate::tickets::Ticket],
    now: DateTime<Utc>,
) -> Result<()> {
    let clocks = clocks_of(conn, tickets, now).await?;
    for ticket in tickets.iter_mut() {
        if let Some((c, version)) = clocks.get(&ticket.id) {
            fill(ticket, c, *version);
        }
    }
    Ok(())
}

/// Sets a ticket's SLA fields from its clocks.
pub fn fill(ticket: &mut crate::tickets::Ticket, c: &Clocks, version: i32) {
    ticket.response_due_at = c.response.due_at;
    ticket.resolution_due_at = c.resolution.due_at;
    ticket.response_remaining_min = Some(c.response.remaining_min());
    ticket.resolution_remaining_min = Some(c.resolution.remaining_min());
    ticket.sla_paused = c.response.paused || c.resolution.paused;
    ticket.sla_policy_version = Some(version);
}

/// Recomputes a ticket's stored due dates from its history (after a move, a priority change or
/// a comment), so that lists sort and count overdue tickets by them.
pub async fn store_due(conn: &mut PgConnection, ticket: Uuid) -> Result<()> {
    let row = crate::tickets::by_id(conn, ticket).await?;
    let clocks = clocks_of(conn, std::slice::from_ref(&row), Utc::now()).await?;
    let Some((c, _)) = clocks.get(&ticket) else {
        return Ok(());
    };
    set_due(conn, ticket, c.response.due_at, c.resolution.due_at).await
}

/// A just-written ticket's clocks evaluated once at `now`: its stored due dates updated when
/// they moved (an assignment in the same transaction, a maintenance window covering it), and
/// its SLA fields filled for the answer — [`store_due`] and [`annotate`] in one evaluation.
pub async fn settle(
    conn: &mut PgConnection,
    ticket: &mut crate::tickets::Ticket,
    now: DateTime<Utc>,
) -> Result<()> {
    let evaluated = evaluate(conn, std::slice::from_ref(ticket), now).await?;
    let Some(e) = evaluated.get(&ticket.id) else {
        return Ok(());
    };
    let due = (e.clocks.response.due_at, e.clocks.resolution.due_at);
    if due != (ticket.response_due_at, ticket.resolution_due_at) {
        set_due(conn, ticket.id, due.0, due.1).await?;
    }
    fill(ticket, &e.clocks, e.version);
    Ok(())
}

/// Stores a ticket's due dates (`None` while its clock is paused).
async fn set_due(
    conn: &mut PgConnection,
    ticket: Uuid,
    respond: Option<DateTime<Utc>>,
    resolve: Option<DateTime<Utc>>,
) -> Result<()> {
    sqlx::query("UPDATE tickets SET response_due_at = $2, resolution_due_at = $3 WHERE id = $1")
        .bind(ticket)
        .bind(respond)
        .bind(resolve)
        .execute(conn)
        .await?;
    Ok(())
}

/// mk-monitor's `tiempo_promedio_resolucion_severa_min`: the mean wall-clock minutes from
/// opening to the first move to `resolved` of critical alerts opened since `since`.
pub async fn critical_alert_resolution_mean_min(
    conn: &mut PgConnection,
    tenant: Option<Uuid>,
    since: DateTime<Utc>,
) -> Result<Option<f64>> {
    let row: (Option<f64>,) = sqlx::query_as(
        "SELECT avg(extract(epoch FROM r.first_resolved - a.opened_at) / 60.0)::float8
         FROM alerts a
         JOIN LATERAL (SELECT min(e.at) AS first_resolved FROM alert_events e
                       WHERE e.alert_id = a.id AND e.kind = 'status' AND e.to_value = 'resolved') r
           ON r.first_resolved IS NOT NULL
         WHERE a.severity = 'critical' AND a.opened_at >= $2
           AND ($1::uuid IS NULL OR a.tenant_id = $1)",
    )
    .bind(tenant)
    .bind(since)
    .fetch_one(conn)
    .await?;
    Ok(row.0)
}

/// A stored escalation step.
#[derive(Debug, Clone, Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct SlaEvent {
    pub id: Uuid,
    pub tenant_id: Uuid,
    pub ticket_id: Uuid,
    /// `response` or `resolution`.
    pub clock: String,
    /// `warning`, `breached` or `reminder`.
    pub step: String,
    /// The reminder's number; 0 for the warning and the breach.
    pub seq: i32,
    pub priority: String,
    pub target_min: i32,
    pub used_min: i32,
    pub due_at: Option<DateTime<Utc>>,
    pub fired_at: DateTime<Utc>,
    /// Who should be told (the assignee; for a breach and its reminders, also the admins).
    pub notify: Vec<Uuid>,
}

const EVENT_COLUMNS: &str = "id, tenant_id, ticket_id, clock, step, seq, priority, target_min, \
    used_min, due_at, fired_at, notify";

/// A step to store.
#[derive(Debug, Clone)]
pub struct NewStep {
    pub tenant_id: Uuid,
    pub ticket_id: Uuid,
    pub clock: clock::ClockKind,
    pub step: clock::Step,
    pub priority: String,
    pub target_min: i64,
    pub used_min: i64,
    pub due_at: Option<DateTime<Utc>>,
    pub fired_at: DateTime<Utc>,
    pub notify: Vec<Uuid>,
}

/// Stores a step unless it (or a later step of the same clock) is already stored: `None` then,
/// and the caller announces nothing. Exactly once, whatever restarts or engines race.
pub async fn record_step(conn: &mut PgConnection, step: &NewStep) -> Result<Option<SlaEvent>> {
    let minutes = |m: i64| i32::try_from(m).unwrap_or(i32::MAX);
    // Two engines deciding the same clock take turns, so a later step never lands before an
    // earlier one that the other is still committing.
    sqlx::query("SELECT pg_advisory_xact_lock(hashtextextended('sla-step:' || $1::text || $2, 0))")
        .bind(step.ticket_id)
        .bind(step.clock.as_str())
        .execute(&mut *conn)
        .await?;
    Ok(sqlx::query_as(sqlf!(
        "INSERT INTO sla_events (id, tenant_id, ticket_id, clock, step, seq, rank, priority,
             target_min, used_min, due_at, fired_at, notify)
         SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13
         WHERE NOT EXISTS (SELECT 1 FROM sla_events
                           WHERE ticket_id = $3 AND clock = $4 AND rank >= $7)
         ON CONFLICT (ticket_id, clock, rank) DO NOTHING
         RETURNING {EVENT_COLUMNS}"
    ))
    .bind(Uuid::new_v4())
    .bind(step.tenant_id)
    .bind(step.ticket_id)
    .bind(step.clock.as_str())
    .bind(step.step.kind())
    .bind(i32::try_from(step.step.seq()).unwrap_or(i32::MAX))
    .bind(i32::try_from(step.step.rank()).unwrap_or(i32::MAX))
    .bind(&step.priority)
    .bind(minutes(step.target_min))
    .bind(minutes(step.used_min))
    .bind(step.due_at)
    .bind(step.fired_at)
    .bind(&step.notify)
    .fetch_optional(conn)
    .await?)
}

/// The latest step stored per ticket and clock.
pub async fn last_steps(
    conn: &mut PgConnection,
    tickets: &[Uuid],
) -> Result<HashMap<(Uuid, clock::ClockKind), i64>> {
    let rows: Vec<(Uuid, String, i32)> = sqlx::query_as(
        "SELECT ticket_id, clock, max(rank) FROM sla_events WHERE ticket_id = ANY($1)
         GROUP BY ticket_id, clock",
    )
    .bind(tickets)
    .fetch_all(conn)
    .await?;
    Ok(rows
        .into_iter()
        .filter_map(|(ticket, clock, rank)| {
            let kind = match clock.as_str() {
                "response" => clock::ClockKind::Response,
                "resolution" => clock::ClockKind::Resolution,
                _ => return None,
            };
            Some(((ticket, kind), i64::from(rank)))
        })
        .collect())
}

/// A ticket's escalation steps, oldest first.
pub async fn events_of(conn: &mut PgConnection, ticket: Uuid) -> Result<Vec<SlaEvent>> {
    Ok(sqlx::query_as(sqlf!(
        "SELECT {EVENT_COLUMNS} FROM sla_events WHERE ticket_id = $1 ORDER BY fired_at, rank"
    ))
    .bind(ticket)
    .fetch_all(conn)
    .await?)
}

/// Open tickets with a policy, by id after `after` (a scan of every clock, page by page).
pub async fn open_ticket_ids(
    conn: &mut PgConnection,
    after: Option<Uuid>,
    limit: i64,
) -> Result<Vec<Uuid>> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(sqlf!(
        "SELECT id FROM tickets WHERE status IN {OPEN} AND sla_policy_id IS NOT NULL
           AND ($1::uuid IS NULL OR id > $1)
         ORDER BY id LIMIT $2",
        OPEN = crate::tickets::OPEN_STATUSES
    ))
    .bind(after)
    .bind(limit)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}

/// Who is told of a step: the assignee (if active), and for a breach or a reminder also every
/// active admin and superadmin.
pub async fn who_to_tell(
    conn: &mut PgConnection,
    assignee: Option<Uuid>,
    admins_too: bool,
) -> Result<Vec<Uuid>> {
    let rows: Vec<(Uuid,)> = sqlx::query_as(
        "SELECT id FROM users
         WHERE active AND ((id = $1) OR ($2 AND role IN ('admin', 'superadmin')))
         ORDER BY (id = $1) DESC, email",
    )
    .bind(assignee)
    .bind(admins_too)
    .fetch_all(conn)
    .await?;
    Ok(rows.into_iter().map(|r| r.0).collect())
}
