use super::*;
use proptest::prelude::*;

fn spec(timezone: &str, hours: &[(u8, &[(&str, &str)])]) -> CalendarSpec {
    CalendarSpec {
        timezone: timezone.into(),
        hours: hours
            .iter()
            .map(|(day, intervals)| {
                (
                    day.to_string(),
                    intervals
                        .iter()
                        .map(|(s, e)| [s.to_string(), e.to_string()])
                        .collect(),
                )
            })
            .collect(),
        holidays: Vec::new(),
    }
}

fn office(timezone: &str) -> Calendar {
    let mut s = CalendarSpec::default_business_hours();
    s.timezone = timezone.into();
    Calendar::from_spec(&s).unwrap()
}

fn always(timezone: &str) -> Calendar {
    let days: Vec<(u8, &[(&str, &str)])> =
        (1..=7).map(|d| (d, &[("00:00", "24:00")][..])).collect();
    Calendar::from_spec(&spec(timezone, &days)).unwrap()
}

/// A local wall-clock time in `tz` as an instant.
fn at(tz: &str, text: &str) -> DateTime<Utc> {
    let tz: Tz = tz.parse().unwrap();
    let local = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M").unwrap();
    tz.from_local_datetime(&local)
        .earliest()
        .unwrap()
        .with_timezone(&Utc)
}

const MX: &str = "America/Mexico_City";

#[test]
fn the_worked_examples_of_the_issue() {
    let cal = office(MX);
    // 2026-12-04 is a Friday.
    let due = |from: &str, minutes: i64| {
        cal.add_business(at(MX, from), Duration::minutes(minutes), &[])
            .unwrap()
    };
    assert_eq!(due("2026-12-04 18:50", 30), at(MX, "2026-12-07 09:20"));
    assert_eq!(due("2026-12-05 03:00", 4 * 60), at(MX, "2026-12-07 13:00"));
    assert_eq!(due("2026-12-07 08:00", 30), at(MX, "2026-12-07 09:30"));
    // Zero is the instant itself, inside or outside hours.
    assert_eq!(due("2026-12-05 03:00", 0), at(MX, "2026-12-05 03:00"));
}

#[test]
fn a_holiday_monday_pushes_the_due_date_to_tuesday() {
    let mut s = CalendarSpec::default_business_hours();
    s.holidays.push(HolidaySpec {
        date: "2026-12-07".into(),
        hours: None,
    });
    let cal = Calendar::from_spec(&s).unwrap();
    let due = cal
        .add_business(at(MX, "2026-12-04 18:50"), Duration::minutes(30), &[])
        .unwrap();
    assert_eq!(due, at(MX, "2026-12-08 09:20"));
    // A holiday with reduced hours opens only then.
    s.holidays[0].hours = Some(vec![["10:00".into(), "11:00".into()]]);
    let cal = Calendar::from_spec(&s).unwrap();
    let due = cal
        .add_business(at(MX, "2026-12-04 18:50"), Duration::minutes(90), &[])
        .unwrap();
    assert_eq!(due, at(MX, "2026-12-08 09:20"));
    assert_eq!(
        cal.business_between(at(MX, "2026-12-07 00:00"), at(MX, "2026-12-08 00:00"), &[]),
        Duration::hours(1)
    );
}

#[test]
fn an_overnight_shift_is_one_stretch_across_midnight() {
    let cal = Calendar::from_spec(&spec(
        MX,
        &[(1, &[("22:00", "24:00")]), (2, &[("00:00", "06:00")])],
    ))
    .unwrap();
    // Monday 2026-12-07 23:30 + 2 h → Tuesday 01:30.
    let due = cal
        .add_business(at(MX, "2026-12-07 23:30"), Duration::hours(2), &[])
        .unwrap();
    assert_eq!(due, at(MX, "2026-12-08 01:30"));
    assert_eq!(
        cal.business_between(at(MX, "2026-12-07 00:00"), at(MX, "2026-12-09 00:00"), &[]),
        Duration::hours(8)
    );
}

#[test]
fn dst_days_follow_the_wall_clock() {
    // America/Tijuana: 2026-03-08 springs forward (02:00 → 03:00), 2026-11-01 falls back.
    const TJ: &str = "America/Tijuana";
    let cal = always(TJ);
    let day = |d: &str, next: &str| {
        cal.business_between(
            at(TJ, &format!("{d} 00:00")),
            at(TJ, &format!("{next} 00:00")),
            &[],
        )
    };
    assert_eq!(day("2026-03-08", "2026-03-09"), Duration::hours(23));
    assert_eq!(day("2026-11-01", "2026-11-02"), Duration::hours(25));
    assert_eq!(day("2026-11-02", "2026-11-03"), Duration::hours(24));
    // Office hours keep their local times: 10 real hours a day on both sides of the change.
    let cal = office(TJ);
    assert_eq!(
        cal.business_between(at(TJ, "2026-03-06 00:00"), at(TJ, "2026-03-10 00:00"), &[]),
        Duration::hours(20)
    );
    let due = cal
        .add_business(at(TJ, "2026-03-06 18:00"), Duration::hours(2), &[])
        .unwrap();
    assert_eq!(due, at(TJ, "2026-03-09 10:00"));
    // A day whose hours start inside the skipped hour starts at the end of the gap.
    let early = Calendar::from_spec(&spec(TJ, &[(7, &[("02:30", "04:00")])])).unwrap();
    assert_eq!(
        early.business_between(at(TJ, "2026-03-08 00:00"), at(TJ, "2026-03-09 00:00"), &[]),
        Duration::hours(1)
    );
}

#[test]
fn pauses_are_subtracted_even_when_they_overlap() {
    let cal = office(MX);
    let from = at(MX, "2026-12-07 09:00");
    let pauses = [
        (at(MX, "2026-12-07 10:00"), at(MX, "2026-12-07 11:00")),
        (at(MX, "2026-12-07 10:30"), at(MX, "2026-12-07 12:00")),
        (at(MX, "2026-12-07 20:00"), at(MX, "2026-12-08 09:30")),
    ];
    assert_eq!(
        cal.business_between(from, at(MX, "2026-12-08 10:00"), &pauses),
        Duration::hours(10) - Duration::hours(2) + Duration::minutes(30)
    );
    assert_eq!(
        cal.add_business(from, Duration::hours(3), &pauses),
        Some(at(MX, "2026-12-07 14:00"))
    );
    // Paused with no end: the clock never comes due.
    let open = [(at(MX, "2026-12-07 10:00"), DateTime::<Utc>::MAX_UTC)];
    assert_eq!(cal.add_business(from, Duration::hours(3), &open), None);
    assert_eq!(
        cal.business_between(from, at(MX, "2026-12-09 10:00"), &open),
        Duration::hours(1)
    );
}

#[test]
fn specs_are_validated_with_a_reason() {
    let bad = |hours: &[(u8, &[(&str, &str)])], tz: &str| Calendar::from_spec(&spec(tz, hours));
    assert_eq!(
        bad(&[(1, &[("09:00", "19:00")])], "Mars/Olympus"),
        Err(CalendarError::TimeZone("Mars/Olympus".into()))
    );
    assert!(matches!(
        bad(&[(8, &[("09:00", "19:00")])], MX),
        Err(CalendarError::Weekday(_))
    ));
    assert!(matches!(
        bad(&[(1, &[("9:00", "19:00")])], MX),
        Err(CalendarError::Time(_))
    ));
    assert!(matches!(
        bad(&[(1, &[("24:30", "19:00")])], MX),
        Err(CalendarError::Time(_))
    ));
    assert!(matches!(
        bad(&[(1, &[("22:00", "06:00")])], MX),
        Err(CalendarError::Interval { .. })
    ));
    assert_eq!(bad(&[], MX), Err(CalendarError::NoHours));
    let mut s = CalendarSpec::default_business_hours();
    s.holidays.push(HolidaySpec {
        date: "2026-13-01".into(),
        hours: None,
    });
    assert!(matches!(
        Calendar::from_spec(&s),
        Err(CalendarError::Date(_))
    ));
    // The policy shape round-trips through JSON.
    let json = serde_json::to_value(CalendarSpec::default_business_hours()).unwrap();
    assert_eq!(json["hours"]["1"][0][1], "19:00");
    let back: CalendarSpec = serde_json::from_value(json).unwrap();
    assert_eq!(back, CalendarSpec::default_business_hours());
}

/// Calendars the properties run over: office hours in a DST zone and in one without, a
/// Saturday half day with a holiday, an overnight shift, and 24/7.
fn calendars() -> Vec<Calendar> {
    let mut holiday = spec(
        "America/Tijuana",
        &[
            (1, &[("09:00", "13:00"), ("12:00", "19:00")]),
            (3, &[("08:00", "12:00"), ("14:00", "18:00")]),
            (6, &[("09:00", "14:00")]),
        ],
    );
    holiday.holidays.push(HolidaySpec {
        date: "2026-11-02".into(),
        hours: Some(vec![["10:00".into(), "11:00".into()]]),
    });
    vec![
        office("America/Tijuana"),
        office(MX),
        Calendar::from_spec(&holiday).unwrap(),
        Calendar::from_spec(&spec(
            "America/Tijuana",
            &[(5, &[("20:00", "24:00")]), (6, &[("00:00", "04:00")])],
        ))
        .unwrap(),
        always("America/Tijuana"),
    ]
}

/// Instants around the autumn 2026 DST change of Tijuana (a 40-day window).
fn instant() -> impl Strategy<Value = DateTime<Utc>> {
    let base = at("America/Tijuana", "2026-10-15 00:00").timestamp();
    (0i64..40 * 86_400).prop_map(move |s| DateTime::from_timestamp(base + s, 0).unwrap())
}

fn pauses() -> impl Strategy<Value = Vec<Span>> {
    prop::collection::vec((instant(), 0i64..3 * 86_400), 0..4).prop_map(|v| {
        v.into_iter()
            .map(|(s, len)| (s, s + Duration::seconds(len)))
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn adding_then_measuring_gives_back_the_amount(
        which in 0usize..5, from in instant(), minutes in 0i64..5_000, pauses in pauses()
    ) {
        let cal = &calendars()[which];
        let amount = Duration::minutes(minutes);
        let due = cal.add_business(from, amount, &pauses).expect("every calendar has hours");
        prop_assert!(due >= from);
        prop_assert_eq!(cal.business_between(from, due, &pauses), amount);
        // Nothing earlier is due: one second less of business time is not enough.
        if minutes > 0 {
            prop_assert!(cal.business_between(from, due - Duration::seconds(1), &pauses) < amount);
        }
    }

    #[test]
    fn business_time_adds_up_over_consecutive_ranges(
        which in 0usize..5, a in instant(), b in instant(), c in instant(), pauses in pauses()
    ) {
        let cal = &calendars()[which];
        let mut v = [a, b, c];
        v.sort();
        let [a, b, c] = v;
        prop_assert_eq!(
            cal.business_between(a, b, &pauses) + cal.business_between(b, c, &pauses),
            cal.business_between(a, c, &pauses)
        );
        // Never more than the wall-clock time, and pauses only take away.
        prop_assert!(cal.business_between(a, c, &pauses) <= c - a);
        prop_assert!(cal.business_between(a, c, &pauses) <= cal.business_between(a, c, &[]));
    }

    #[test]
    fn around_the_clock_business_time_is_wall_time_minus_pauses(
        a in instant(), b in instant(), pauses in pauses()
    ) {
        let cal = always("America/Tijuana");
        let (a, b) = (a.min(b), a.max(b));
        let merged = merge(&pauses);
        let paused: Duration = merged
            .iter()
            .map(|(s, e)| ((*e).min(b) - (*s).max(a)).max(Duration::zero()))
            .sum();
        prop_assert_eq!(cal.business_between(a, b, &pauses), (b - a) - paused);
    }

    #[test]
    fn overlapping_pauses_count_once(
        which in 0usize..5, a in instant(), b in instant(), pauses in pauses()
    ) {
        let cal = &calendars()[which];
        let (a, b) = (a.min(b), a.max(b));
        let mut doubled = pauses.clone();
        doubled.extend(pauses.iter().rev().copied());
        prop_assert_eq!(
            cal.business_between(a, b, &doubled),
            cal.business_between(a, b, &merge(&pauses))
        );
    }
}
