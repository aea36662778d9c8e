use super::*;
use crate::sla::CalendarSpec;
use chrono::TimeZone;
use chrono_tz::Tz;

const MX: &str = "America/Mexico_City";

fn office() -> Calendar {
    Calendar::from_spec(&CalendarSpec::default_business_hours()).unwrap()
}

/// A Mexico City wall-clock time. 2026-12-04 is a Friday, 2026-12-07 a Monday.
fn at(text: &str) -> DateTime<Utc> {
    let tz: Tz = MX.parse().unwrap();
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&local)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

fn ticket(created: &str, priority: &str, facts: Vec<Fact>) -> History {
    History {
        created_at: at(created),
        status: TicketStatus::New,
        priority: priority.into(),
        facts,
    }
}

fn status(when: &str, to: TicketStatus) -> Fact {
    Fact::Status { at: at(when), to }
}

fn run(history: &History, maintenance: &[Span], now: &str) -> Clocks {
    clocks(
        &office(),
        &Targets::default(),
        history,
        maintenance,
        at(now),
    )
}

#[test]
fn friday_evening_critical_is_due_monday_morning() {
    let t = ticket("2026-12-04 18:50", "critical", vec![]);
    let c = run(&t, &[], "2026-12-04 18:55");
    assert_eq!(c.response.due_at, Some(at("2026-12-07 09:20")));
    assert_eq!(c.response.used, Duration::minutes(5));
    assert_eq!(c.response.remaining_min(), 25);
    // 4 h: 10 minutes on Friday, 230 on Monday.
    assert_eq!(c.resolution.due_at, Some(at("2026-12-07 12:50")));
    assert!(!c.response.paused && c.response.stopped_at.is_none());
    // Over the weekend nothing is used.
    let c = run(&t, &[], "2026-12-06 12:00");
    assert_eq!(c.response.used, Duration::minutes(10));
}

#[test]
fn the_first_staff_reply_stops_the_response_clock_for_good() {
    let t = ticket(
        "2026-12-04 18:50",
        "critical",
        vec![
            Fact::StaffReply {
                at: at("2026-12-07 09:10"),
            },
            status("2026-12-07 09:15", TicketStatus::InProgress),
            status("2026-12-07 09:30", TicketStatus::WaitingCustomer),
            status("2026-12-07 10:00", TicketStatus::InProgress),
        ],
    );
    let c = run(&t, &[], "2026-12-08 18:00");
    assert_eq!(c.response.stopped_at, Some(at("2026-12-07 09:10")));
    assert_eq!(c.response.used, Duration::minutes(20));
    assert_eq!(c.response.met(), Some(true));
    assert_eq!(c.response.due_at, Some(at("2026-12-07 09:20")));
    // Before the reply the clock ran; the reply is in the future of that instant.
    let before = run(&t, &[], "2026-12-07 09:05");
    assert_eq!(before.response.stopped_at, None);
    assert_eq!(before.response.used, Duration::minutes(15));
}

#[test]
fn waiting_on_the_customer_pauses_both_clocks() {
    let t = ticket(
        "2026-12-07 10:00",
        "high",
        vec![
            status("2026-12-07 10:10", TicketStatus::InProgress),
            status("2026-12-07 11:00", TicketStatus::WaitingCustomer),
            status("2026-12-07 14:00", TicketStatus::InProgress),
        ],
    );
    // While waiting: paused, no due date, time frozen at one hour.
    let c = run(&t, &[], "2026-12-07 12:00");
    assert!(c.resolution.paused);
    assert_eq!(c.resolution.due_at, None);
    assert_eq!(c.resolution.used, Duration::minutes(60));
    // After: 1 h before and 1 h after the pause used. Of the 8 h target, Monday gives
    // 10:00–11:00 and 14:00–19:00 (6 h) and Tuesday 09:00–11:00 the other 2 h.
    let c = run(&t, &[], "2026-12-07 15:00");
    assert_eq!(c.resolution.used, Duration::minutes(120));
    assert_eq!(c.resolution.due_at, Some(at("2026-12-08 11:00")));
    assert!(!c.resolution.paused);
    // The response clock had stopped at in_progress, before the pause.
    assert_eq!(c.response.used, Duration::minutes(10));
}

#[test]
fn a_priority_change_keeps_the_time_used_and_takes_the_new_target() {
    let t = ticket(
        "2026-12-07 10:00",
        "low",
        vec![Fact::Priority {
            at: at("2026-12-07 10:10"),
            to: "critical".into(),
        }],
    );
    let c = run(&t, &[], "2026-12-07 10:15");
    assert_eq!(c.response.target, Duration::minutes(30));
    assert_eq!(c.response.remaining_min(), 15);
    assert_eq!(c.response.due_at, Some(at("2026-12-07 10:30")));
    // Before the change, the low target applied.
    let c = run(&t, &[], "2026-12-07 10:05");
    assert_eq!(c.response.due_at, Some(at("2026-12-07 14:00")));
}

#[test]
fn reopening_resumes_resolution_with_the_time_already_used() {
    let t = ticket(
        "2026-12-07 10:00",
        "critical",
        vec![
            status("2026-12-07 10:05", TicketStatus::InProgress),
            status("2026-12-07 11:00", TicketStatus::Resolved),
            status("2026-12-07 13:00", TicketStatus::Reopened),
            status("2026-12-07 13:00", TicketStatus::InProgress),
        ],
    );
    let resolved = run(&t, &[], "2026-12-07 12:00");
    assert_eq!(resolved.resolution.stopped_at, Some(at("2026-12-07 11:00")));
    assert_eq!(resolved.resolution.met(), Some(true));
    assert_eq!(resolved.resolution.used, Duration::minutes(60));
    let c = run(&t, &[], "2026-12-07 14:00");
    assert_eq!(c.resolution.stopped_at, None);
    assert_eq!(c.resolution.used, Duration::minutes(120));
    assert_eq!(c.resolution.due_at, Some(at("2026-12-07 16:00")));
    // Closed after resolved: stopped at the resolution, not at the close.
    let mut closed = t.clone();
    closed
        .facts
        .push(status("2026-12-07 15:00", TicketStatus::Resolved));
    closed
        .facts
        .push(status("2026-12-08 10:00", TicketStatus::Closed));
    let c = run(&closed, &[], "2026-12-09 10:00");
    assert_eq!(c.resolution.stopped_at, Some(at("2026-12-07 15:00")));
    assert_eq!(c.resolution.used, Duration::minutes(180));
}

#[test]
fn maintenance_windows_pause_and_are_counted_ahead() {
    let t = ticket("2026-12-07 10:00", "critical", vec![]);
    let window = [(at("2026-12-07 10:10"), at("2026-12-07 10:40"))];
    // Announced ahead: the due date already skips it.
    let c = run(&t, &window, "2026-12-07 10:05");
    assert_eq!(c.response.due_at, Some(at("2026-12-07 11:00")));
    // Inside it: paused.
    let c = run(&t, &window, "2026-12-07 10:20");
    assert!(c.response.paused && c.resolution.paused);
    assert_eq!(c.response.due_at, None);
    assert_eq!(c.response.used, Duration::minutes(10));
}

#[test]
fn a_ticket_cancelled_late_was_not_answered_in_time() {
    let t = ticket(
        "2026-12-07 10:00",
        "critical",
        vec![status("2026-12-07 11:00", TicketStatus::Cancelled)],
    );
    let c = run(&t, &[], "2026-12-07 12:00");
    assert_eq!(c.response.stopped_at, Some(at("2026-12-07 11:00")));
    assert!(c.response.breached());
    assert_eq!(c.response.met(), Some(false));
    assert_eq!(c.response.remaining_min(), -30);
}

#[test]
fn remaining_minutes_round_towards_the_deadline() {
    let clock = |used_s: i64| Clock {
        target: Duration::minutes(30),
        used: Duration::seconds(used_s),
        stopped_at: None,
        paused: false,
        due_at: None,
    };
    assert_eq!(clock(0).remaining_min(), 30);
    assert_eq!(clock(1).remaining_min(), 30);
    assert_eq!(clock(60).remaining_min(), 29);
    assert_eq!(clock(1800).remaining_min(), 0);
    assert_eq!(clock(1801).remaining_min(), -1);
    assert_eq!(clock(1860).remaining_min(), -1);
    assert_eq!(clock(1861).remaining_min(), -2);
    assert!((clock(1350).fraction_used() - 0.75).abs() < 1e-9);
}

#[test]
fn targets_are_validated() {
    assert!(Targets::default().validate().is_ok());
    let mut t = Targets::default();
    t.high.response_min = 0;
    assert!(t.validate().unwrap_err().contains("targets.high"));
    let mut t = Targets::default();
    t.low.response_min = t.low.resolution_min + 1;
    assert!(t.validate().is_err());
}

#[test]
fn escalation_steps_follow_business_time() {
    let reminder = Duration::minutes(60);
    // Critical, response 30 min: warning at 22.5 min, breach at 30, reminders every 60.
    let t = ticket("2026-12-07 09:00", "critical", vec![]);
    let step = |now: &str| run(&t, &[], now).response.latest_step(reminder);
    assert_eq!(step("2026-12-07 09:22"), None);
    assert_eq!(step("2026-12-07 09:23"), Some(Step::Warning));
    assert_eq!(step("2026-12-07 09:30"), Some(Step::Breached));
    assert_eq!(step("2026-12-07 10:29"), Some(Step::Breached));
    assert_eq!(step("2026-12-07 10:30"), Some(Step::Reminder(1)));
    // Overnight is not business time: Tuesday 09:00 is 600 min used, 9 reminders past.
    assert_eq!(step("2026-12-08 09:00"), Some(Step::Reminder(9)));
    let c = run(&t, &[], "2026-12-07 09:10").response;
    let (next, left) = c.next_step(reminder).unwrap();
    assert_eq!((next, left.num_seconds()), (Step::Warning, 12 * 60 + 30));
    let c = run(&t, &[], "2026-12-07 09:45").response;
    assert_eq!(
        c.next_step(reminder).unwrap(),
        (Step::Reminder(1), Duration::minutes(45))
    );
    // A stopped clock is chased no more.
    let answered = ticket(
        "2026-12-07 09:00",
        "critical",
        vec![status("2026-12-07 09:40", TicketStatus::InProgress)],
    );
    let c = run(&answered, &[], "2026-12-07 11:00").response;
    assert!(c.breached());
    assert_eq!(
        (c.latest_step(reminder), c.next_step(reminder)),
        (None, None)
    );
    for rank in 0..5 {
        assert_eq!(Step::from_rank(rank).rank(), rank);
    }
}
