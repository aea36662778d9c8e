//! A ticket's two SLA clocks, derived from its append-only history (never from stored
//! counters), so that a priority change, a pause or a reopening recomputes them exactly.
//!
//! - **Response** runs from creation until the first public comment by staff or the first move
//!   to `in_progress`, whichever comes first; it never restarts. A ticket cancelled or resolved
//!   before either stops it too (unmet if past due).
//! - **Resolution** runs from creation until `resolved`; `reopened` resumes it with the time
//!   already used; `closed` and `cancelled` stop it for good.
//! - Both count contracted time only ([`Calendar`]) and pause while the ticket is
//!   `waiting_customer` and while a maintenance window covers it (`maintenance` spans, past and
//!   announced ones, so a due date already accounts for a window ahead).
//! - The target is the one of the ticket's current priority: a change of priority moves the due
//!   date by the difference of targets, with the time already used kept.

use super::{Calendar, Span};
use crate::TicketStatus;
use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// Response and resolution targets of one priority, in business minutes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Target {
    pub response_min: u32,
    pub resolution_min: u32,
}

/// Targets per priority (seed 000's defaults: critical 30 min / 4 h, high 1 h / 8 h, medium
/// 2 h / 16 h, low 4 h / 24 h).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Targets {
    pub critical: Target,
    pub high: Target,
    pub medium: Target,
    pub low: Target,
}

impl Default for Targets {
    fn default() -> Targets {
        let t = |response_min, resolution_min| Target {
            response_min,
            resolution_min,
        };
        Targets {
            critical: t(30, 4 * 60),
            high: t(60, 8 * 60),
            medium: t(2 * 60, 16 * 60),
            low: t(4 * 60, 24 * 60),
        }
    }
}

/// Longest target: a year of minutes.
pub const MAX_TARGET_MIN: u32 = 366 * 24 * 60;

impl Targets {
    /// The targets of a priority word (`low` for anything unknown).
    pub fn of(&self, priority: &str) -> Target {
        match priority {
            "critical" => self.critical,
            "high" => self.high,
            "medium" => self.medium,
            _ => self.low,
        }
    }

    /// Every target positive, response within resolution, none above a year.
    pub fn validate(&self) -> Result<(), String> {
        for (name, t) in [
            ("critical", self.critical),
            ("high", self.high),
            ("medium", self.medium),
            ("low", self.low),
        ] {
            if t.response_min == 0 || t.resolution_min == 0 {
                return Err(format!("targets.{name}: minutes must be positive"));
            }
            if t.response_min > MAX_TARGET_MIN || t.resolution_min > MAX_TARGET_MIN {
                return Err(format!(
                    "targets.{name}: at most {MAX_TARGET_MIN} minutes (a year)"
                ));
            }
            if t.response_min > t.resolution_min {
                return Err(format!(
                    "targets.{name}: response_min must not exceed resolution_min"
                ));
            }
        }
        Ok(())
    }
}

/// One entry of a ticket's history, as far as the clocks care.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fact {
    /// A move to `to`.
    Status { at: DateTime<Utc>, to: TicketStatus },
    /// A new priority.
    Priority { at: DateTime<Utc>, to: String },
    /// A public comment by MSP staff (the engine's notes and internal comments are not facts).
    StaffReply { at: DateTime<Utc> },
}

impl Fact {
    fn at(&self) -> DateTime<Utc> {
        match self {
            Fact::Status { at, .. } | Fact::Priority { at, .. } | Fact::StaffReply { at } => *at,
        }
    }
}

/// What the clocks read of a ticket.
#[derive(Debug, Clone)]
pub struct History {
    pub created_at: DateTime<Utc>,
    /// Status and priority at creation.
    pub status: TicketStatus,
    pub priority: String,
    /// In any order; facts after `now` are ignored.
    pub facts: Vec<Fact>,
}

/// Which clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ClockKind {
    Response,
    Resolution,
}

impl ClockKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ClockKind::Response => "response",
            ClockKind::Resolution => "resolution",
        }
    }
}

/// One clock at an instant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clock {
    pub target: Duration,
    /// Business time used so far (until it stopped).
    pub used: Duration,
    /// When it stopped (answered, resolved, closed, cancelled); `None` while it runs.
    pub stopped_at: Option<DateTime<Utc>>,
    /// Running but paused now (waiting on the customer, or a maintenance window).
    pub paused: bool,
    /// The instant the target is (or was) reached: `None` while paused, and when pauses
    /// announced ahead never end.
    pub due_at: Option<DateTime<Utc>>,
}

impl Clock {
    /// `target - used`, negative once over.
    pub fn remaining(&self) -> Duration {
        self.target - self.used
    }

    /// Over its target (running or stopped late).
    pub fn breached(&self) -> bool {
        self.used > self.target
    }

    /// Stopped within its target.
    pub fn met(&self) -> Option<bool> {
        self.stopped_at.map(|_| !self.breached())
    }

    /// Whole minutes left, rounded towards the deadline's side (a partial minute left counts as
    /// one; a partial minute over counts as one over).
    pub fn remaining_min(&self) -> i64 {
        let s = self.remaining().num_seconds();
        if s >= 0 {
            (s + 59) / 60
        } else {
            s / 60 - i64::from(s % 60 != 0)
        }
    }

    /// The share of the target used (0.75 = the warning step).
    pub fn fraction_used(&self) -> f64 {
        let target = self.target.num_seconds().max(1) as f64;
        self.used.num_seconds() as f64 / target
    }
}

/// Both clocks of a ticket at `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Clocks {
    pub response: Clock,
    pub resolution: Clock,
}

impl Clocks {
    pub fn get(&self, kind: ClockKind) -> &Clock {
        match kind {
            ClockKind::Response => &self.response,
            ClockKind::Resolution => &self.resolution,
        }
    }
}

/// An escalation step of a running clock: the warning at 75 % of its target, the breach at
/// 100 %, then a reminder every `reminder` of business time until the clock stops. Steps are
/// ordered; each fires at most once per clock, and after a gap only the latest one due fires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Step {
    Warning,
    Breached,
    /// The n-th reminder after the breach (1, 2, …).
    Reminder(u32),
}

impl Step {
    /// Position in the order of steps: 0 warning, 1 breached, 1 + n the n-th reminder.
    pub fn rank(self) -> i64 {
        match self {
            Step::Warning => 0,
            Step::Breached => 1,
            Step::Reminder(n) => 1 + i64::from(n),
        }
    }

    /// The step at a rank (negative ranks are the warning).
    pub fn from_rank(rank: i64) -> Step {
        match rank {
            ..=0 => Step::Warning,
            1 => Step::Breached,
            n => Step::Reminder(u32::try_from(n - 1).unwrap_or(u32::MAX)),
        }
    }

    /// `warning`, `breached` or `reminder`.
    pub fn kind(self) -> &'static str {
        match self {
            Step::Warning => "warning",
            Step::Breached => "breached",
            Step::Reminder(_) => "reminder",
        }
    }

    /// The reminder's number; 0 for the warning and the breach.
    pub fn seq(self) -> u32 {
        match self {
            Step::Reminder(n) => n,
            _ => 0,
        }
    }

    /// The business time used when the step falls due.
    pub fn at_used(self, target: Duration, reminder: Duration) -> Duration {
        match self {
            Step::Warning => target * 3 / 4,
            Step::Breached => target,
            Step::Reminder(n) => target + reminder * i32::try_from(n).unwrap_or(i32::MAX),
        }
    }
}

impl Clock {
    /// The latest step due on this clock: `None` before 75 % of its target and once it has
    /// stopped (answered, resolved, closed or cancelled: nobody is chased any more).
    pub fn latest_step(&self, reminder: Duration) -> Option<Step> {
        if self.stopped_at.is_some() || self.used < Step::Warning.at_used(self.target, reminder) {
            return None;
        }
        if self.used < self.target {
            return Some(Step::Warning);
        }
        let reminder_s = reminder.num_seconds().max(60);
        let over = (self.used - self.target).num_seconds();
        let n = u32::try_from(over / reminder_s).unwrap_or(u32::MAX);
        Some(if n == 0 {
            Step::Breached
        } else {
            Step::Reminder(n)
        })
    }

    /// The step after the latest due one and the business time left until it (`None` once the
    /// clock has stopped).
    pub fn next_step(&self, reminder: Duration) -> Option<(Step, Duration)> {
        if self.stopped_at.is_some() {
            return None;
        }
        let next = match self.latest_step(reminder) {
            None => Step::Warning,
            Some(step) => Step::from_rank(step.rank() + 1),
        };
        let left = next.at_used(self.target, reminder) - self.used;
        Some((next, left.max(Duration::zero())))
    }
}

/// The status of the ticket over time: `(from, status)` steps, sorted, up to `now`.
fn timeline(history: &History, now: DateTime<Utc>) -> Vec<(DateTime<Utc>, TicketStatus)> {
    let mut moves: Vec<(DateTime<Utc>, TicketStatus)> = history
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Status { at, to } if *at <= now => Some((*at, *to)),
            _ => None,
        })
        .collect();
    moves.sort_by_key(|(at, _)| *at);
    let mut steps = vec![(history.created_at, history.status)];
    steps.extend(moves);
    steps
}

/// The spans (up to `now`) during which the status satisfies `pred`.
fn spans_where(
    steps: &[(DateTime<Utc>, TicketStatus)],
    now: DateTime<Utc>,
    pred: impl Fn(TicketStatus) -> bool,
) -> Vec<Span> {
    let mut spans = Vec::new();
    for (i, (at, status)) in steps.iter().enumerate() {
        let end = steps.get(i + 1).map(|s| s.0).unwrap_or(now);
        if pred(*status) && *at < end {
            spans.push((*at, end));
        }
    }
    spans
}

/// Computes both clocks at `now` under `calendar` and `targets`.
pub fn clocks(
    calendar: &Calendar,
    targets: &Targets,
    history: &History,
    maintenance: &[Span],
    now: DateTime<Utc>,
) -> Clocks {
    use TicketStatus::*;
    let steps = timeline(history, now);
    let current = steps.last().map(|s| s.1).unwrap_or(history.status);
    let priority = history
        .facts
        .iter()
        .filter_map(|f| match f {
            Fact::Priority { at, to } if *at <= now => Some((*at, to.as_str())),
            _ => None,
        })
        .max_by_key(|(at, _)| *at)
        .map(|(_, p)| p)
        .unwrap_or(history.priority.as_str());
    let target = targets.of(priority);
    let waiting = spans_where(&steps, now, |s| s == WaitingCustomer);
    let in_maintenance = maintenance.iter().any(|(s, e)| *s <= now && now < *e);
    let paused_now = current == WaitingCustomer || in_maintenance;

    // Response: the first answer, or the ticket ending before one.
    let first = |pred: &dyn Fn(&Fact) -> bool| {
        history
            .facts
            .iter()
            .filter(|f| f.at() <= now && pred(f))
            .map(Fact::at)
            .min()
    };
    let answered = [
        first(&|f| matches!(f, Fact::StaffReply { .. })),
        first(&|f| {
            matches!(
                f,
                Fact::Status {
                    to: InProgress | Resolved | Closed | Cancelled,
                    ..
                }
            )
        }),
    ]
    .into_iter()
    .flatten()
    .min()
    .filter(|at| *at >= history.created_at);
    let mut pauses: Vec<Span> = waiting.clone();
    pauses.extend_from_slice(maintenance);
    let response = clock(
        calendar,
        history.created_at,
        Duration::minutes(i64::from(target.response_min)),
        answered,
        &pauses,
        paused_now,
        now,
    );

    // Resolution: resolved spans (until reopened) pause it; closed and cancelled end it.
    let stopped = matches!(current, Resolved | Closed | Cancelled).then(|| {
        // The start of the final run of stopped statuses (resolved → closed counts from resolved).
        let mut at = steps.last().map(|s| s.0).unwrap_or(now);
        for (t, s) in steps.iter().rev() {
            if matches!(s, Resolved | Closed | Cancelled) {
                at = *t;
            } else {
                break;
            }
        }
        at
    });
    pauses.extend(spans_where(&steps, now, |s| s == Resolved));
    let resolution = clock(
        calendar,
        history.created_at,
        Duration::minutes(i64::from(target.resolution_min)),
        stopped,
        &pauses,
        paused_now,
        now,
    );
    Clocks {
        response,
        resolution,
    }
}

fn clock(
    calendar: &Calendar,
    start: DateTime<Utc>,
    target: Duration,
    stopped_at: Option<DateTime<Utc>>,
    pauses: &[Span],
    paused_now: bool,
    now: DateTime<Utc>,
) -> Clock {
    let until = stopped_at.unwrap_or(now).min(now);
    let used = calendar.business_between(start, until, pauses);
    let (paused, due_at) = match stopped_at {
        // Stopped: the due instant it had, with the pauses it actually had.
        Some(stop) => {
            let past: Vec<Span> = pauses
                .iter()
                .filter(|(s, _)| *s < stop)
                .map(|(s, e)| (*s, (*e).min(stop)))
                .collect();
            (false, calendar.add_business(start, target, &past))
        }
        None if paused_now => (true, None),
        None => (false, calendar.add_business(start, target, pauses)),
    };
    Clock {
        target,
        used,
        stopped_at,
        paused,
        due_at,
    }
}

#[cfg(test)]
mod tests;
