//! Maintenance windows: when one covers an instant, and its occurrences over a range. A window
//! is one-off (`starts_at`..`ends_at`, instants) or recurring in a time zone:
//!
//! - `{"weekly": {"days": [1, 3], "start": "02:00", "end": "04:00"}}` — ISO weekdays (1 = Monday);
//! - `{"monthly": {"day": 15, "start": "22:00", "end": "02:00"}}` — a day of the month (a day past
//!   the month's end means its last day: `31` is the last day of every month).
//!
//! Times are local `HH:MM` (`"24:00"` ends the day). An `end` at or before `start` runs past
//! midnight into the next day. Occurrences are computed date by date in local time, so a window
//! keeps its wall-clock hours across a DST change (a local time skipped in spring starts at the
//! end of the gap).

use crate::sla::{DAY_MINUTES, Span, local_instant, parse_minute};
use chrono::{DateTime, Datelike, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};

/// A recurrence as written by a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum RecurrenceSpec {
    Weekly {
        /// ISO weekdays, 1 = Monday … 7 = Sunday.
        days: Vec<u8>,
        start: String,
        end: String,
    },
    Monthly {
        /// 1–31; past the month's end means its last day.
        day: u8,
        start: String,
        end: String,
    },
}

/// Why a window's schedule was refused (the message names the field).
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ScheduleError {
    #[error("timezone: unknown time zone '{0}' (an IANA name such as America/Mexico_City)")]
    TimeZone(String),
    #[error("recurrence.{field}: '{value}' is not a time HH:MM between 00:00 and 24:00")]
    Time { field: &'static str, value: String },
    #[error("recurrence.days: give 1 to 7 ISO weekdays (1 = Monday … 7 = Sunday)")]
    Days,
    #[error("recurrence.day: a day of the month from 1 to 31")]
    Day,
    #[error("recurrence: start and end are the same time (a whole day is 00:00–24:00)")]
    Empty,
    #[error("ends_at: must be after starts_at")]
    Reversed,
    #[error("give either starts_at and ends_at, or a recurrence")]
    Shape,
}

/// Longest a one-off window may last.
pub const MAX_ONE_OFF_DAYS: i64 = 31;

/// What repeats.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Repeat {
    /// Bit i set = ISO weekday i + 1.
    Weekly(u8),
    Monthly(u8),
}

/// A validated schedule.
#[derive(Debug, Clone, PartialEq)]
pub enum Schedule {
    Once(Span),
    Recurring {
        tz: Tz,
        repeat: Repeat,
        /// Minutes of the local day.
        start: u16,
        /// Minutes after `start` the window lasts (overnight runs into the next day).
        length: u16,
    },
}

impl Schedule {
    /// A one-off window.
    pub fn once(
        starts_at: DateTime<Utc>,
        ends_at: DateTime<Utc>,
    ) -> Result<Schedule, ScheduleError> {
        if ends_at <= starts_at {
            return Err(ScheduleError::Reversed);
        }
        Ok(Schedule::Once((starts_at, ends_at)))
    }

    /// A recurring window in `timezone`.
    pub fn recurring(spec: &RecurrenceSpec, timezone: &str) -> Result<Schedule, ScheduleError> {
        let tz: Tz = timezone
            .parse()
            .map_err(|_| ScheduleError::TimeZone(timezone.to_owned()))?;
        let (repeat, start, end) = match spec {
            RecurrenceSpec::Weekly { days, start, end } => {
                if days.is_empty() || days.len() > 7 || days.iter().any(|d| !(1..=7).contains(d)) {
                    return Err(ScheduleError::Days);
                }
                let mask = days.iter().fold(0u8, |m, d| m | 1 << (d - 1));
                (Repeat::Weekly(mask), start, end)
            }
            RecurrenceSpec::Monthly { day, start, end } => {
                if !(1..=31).contains(day) {
                    return Err(ScheduleError::Day);
                }
                (Repeat::Monthly(*day), start, end)
            }
        };
        let time = |field: &'static str, value: &str| {
            parse_minute(value).map_err(|_| ScheduleError::Time {
                field,
                value: value.to_owned(),
            })
        };
        let (s, e) = (time("start", start)?, time("end", end)?);
        let s = if s == DAY_MINUTES { 0 } else { s };
        let length = if e > s { e - s } else { e + DAY_MINUTES - s };
        if length == 0 || (e == s && e != DAY_MINUTES) {
            return Err(ScheduleError::Empty);
        }
        Ok(Schedule::Recurring {
            tz,
            repeat,
            start: s,
            length,
        })
    }

    /// Occurrences overlapping `[from, to)`, sorted (clipped to nothing: whole occurrences).
    pub fn occurrences(&self, from: DateTime<Utc>, to: DateTime<Utc>) -> Vec<Span> {
        match self {
            Schedule::Once((s, e)) => {
                if *s < to && from < *e {
                    vec![(*s, *e)]
                } else {
                    Vec::new()
                }
            }
            Schedule::Recurring {
                tz,
                repeat,
                start,
                length,
            } => {
                if to <= from {
                    return Vec::new();
                }
                // An occurrence starting the day before `from` may still run; a day's start
                // is at most a day and a DST hour from its local date.
                let first = from.with_timezone(tz).date_naive() - Duration::days(2);
                let last = to.with_timezone(tz).date_naive() + Duration::days(1);
                let mut out = Vec::new();
                for date in first.iter_days().take_while(|d| *d <= last) {
                    if !repeat.matches(date) {
                        continue;
                    }
                    let s = local_instant(tz, date, *start);
                    let end_minute = u32::from(*start) + u32::from(*length);
                    let (end_date, end_minute) = if end_minute > u32::from(DAY_MINUTES) {
                        (
                            date.succ_opt().unwrap_or(date),
                            end_minute - u32::from(DAY_MINUTES),
                        )
                    } else {
                        (date, end_minute)
                    };
                    let e = local_instant(tz, end_date, end_minute as u16);
                    if s < e && s < to && from < e {
                        out.push((s, e));
                    }
                }
                out
            }
        }
    }

    /// The occurrence covering `at`, if any.
    pub fn covering(&self, at: DateTime<Utc>) -> Option<Span> {
        self.occurrences(at, at + Duration::seconds(1))
            .into_iter()
            .find(|(s, e)| *s <= at && at < *e)
    }

    /// The first occurrence that has not ended by `at` (the current one, or the next).
    pub fn next_after(&self, at: DateTime<Utc>) -> Option<Span> {
        // Monthly windows on the 31st recur at least every 31 days; look 62 days ahead.
        self.occurrences(at, at + Duration::days(62))
            .into_iter()
            .find(|(_, e)| *e > at)
    }
}

impl Repeat {
    fn matches(&self, date: NaiveDate) -> bool {
        match self {
            Repeat::Weekly(mask) => mask & (1 << date.weekday().num_days_from_monday()) != 0,
            Repeat::Monthly(day) => {
                let last = last_day_of_month(date);
                date.day() == u32::from(*day).min(last)
            }
        }
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    let (y, m) = (date.year(), date.month());
    let next = if m == 12 {
        NaiveDate::from_ymd_opt(y + 1, 1, 1)
    } else {
        NaiveDate::from_ymd_opt(y, m + 1, 1)
    };
    next.and_then(|n| n.pred_opt()).map_or(28, |d| d.day())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().to_utc()
    }

    fn weekly(days: &[u8], start: &str, end: &str) -> RecurrenceSpec {
        RecurrenceSpec::Weekly {
            days: days.to_vec(),
            start: start.into(),
            end: end.into(),
        }
    }

    #[test]
    fn weekly_windows_follow_local_hours() {
        // Sundays 02:00–04:00 in Mexico City (UTC-6, no DST since 2022).
        let s =
            Schedule::recurring(&weekly(&[7], "02:00", "04:00"), "America/Mexico_City").unwrap();
        let spans = s.occurrences(utc("2026-12-01T00:00:00Z"), utc("2026-12-15T00:00:00Z"));
        assert_eq!(
            spans,
            vec![
                (utc("2026-12-06T08:00:00Z"), utc("2026-12-06T10:00:00Z")),
                (utc("2026-12-13T08:00:00Z"), utc("2026-12-13T10:00:00Z")),
            ]
        );
        assert!(s.covering(utc("2026-12-06T09:59:59Z")).is_some());
        assert!(s.covering(utc("2026-12-06T10:00:00Z")).is_none());
        assert_eq!(
            s.next_after(utc("2026-12-06T10:00:00Z")).unwrap().0,
            utc("2026-12-13T08:00:00Z")
        );
    }

    #[test]
    fn overnight_windows_run_into_the_next_day() {
        let s = Schedule::recurring(&weekly(&[5], "22:00", "02:00"), "UTC").unwrap();
        // Friday 2026-12-04 22:00 → Saturday 02:00; Saturday 01:00 is covered.
        assert_eq!(
            s.covering(utc("2026-12-05T01:00:00Z")),
            Some((utc("2026-12-04T22:00:00Z"), utc("2026-12-05T02:00:00Z")))
        );
        let whole = Schedule::recurring(&weekly(&[1], "00:00", "24:00"), "UTC").unwrap();
        assert!(whole.covering(utc("2026-12-07T23:59:00Z")).is_some());
        assert!(whole.covering(utc("2026-12-08T00:00:00Z")).is_none());
    }

    #[test]
    fn windows_keep_wall_clock_hours_across_dst() {
        // Tijuana moves to PDT (UTC-7) on 2027-03-14; 03:00–05:00 local every Sunday.
        let s = Schedule::recurring(&weekly(&[7], "03:00", "05:00"), "America/Tijuana").unwrap();
        let spans = s.occurrences(utc("2027-03-06T00:00:00Z"), utc("2027-03-15T00:00:00Z"));
        assert_eq!(
            spans,
            vec![
                (utc("2027-03-07T11:00:00Z"), utc("2027-03-07T13:00:00Z")),
                (utc("2027-03-14T10:00:00Z"), utc("2027-03-14T12:00:00Z")),
            ]
        );
        // 02:00–03:00 does not exist that Sunday: the window starts at the end of the gap.
        let gap = Schedule::recurring(&weekly(&[7], "02:30", "04:00"), "America/Tijuana").unwrap();
        assert_eq!(
            gap.covering(utc("2027-03-14T10:30:00Z")),
            Some((utc("2027-03-14T10:00:00Z"), utc("2027-03-14T11:00:00Z")))
        );
    }

    #[test]
    fn monthly_day_31_is_the_last_day_of_short_months() {
        let spec = RecurrenceSpec::Monthly {
            day: 31,
            start: "23:00".into(),
            end: "24:00".into(),
        };
        let s = Schedule::recurring(&spec, "UTC").unwrap();
        let starts: Vec<_> = s
            .occurrences(utc("2027-01-01T00:00:00Z"), utc("2027-05-01T00:00:00Z"))
            .into_iter()
            .map(|(s, _)| s)
            .collect();
        assert_eq!(
            starts,
            vec![
                utc("2027-01-31T23:00:00Z"),
                utc("2027-02-28T23:00:00Z"),
                utc("2027-03-31T23:00:00Z"),
                utc("2027-04-30T23:00:00Z"),
            ]
        );
    }

    #[test]
    fn bad_schedules_name_the_field() {
        let bad = |spec: RecurrenceSpec, tz: &str| Schedule::recurring(&spec, tz).unwrap_err();
        assert_eq!(
            bad(weekly(&[], "01:00", "02:00"), "UTC"),
            ScheduleError::Days
        );
        assert_eq!(
            bad(weekly(&[8], "01:00", "02:00"), "UTC"),
            ScheduleError::Days
        );
        assert_eq!(
            bad(weekly(&[1], "25:00", "02:00"), "UTC").to_string(),
            "recurrence.start: '25:00' is not a time HH:MM between 00:00 and 24:00"
        );
        assert_eq!(
            bad(weekly(&[1], "02:00", "02:00"), "UTC"),
            ScheduleError::Empty
        );
        assert!(matches!(
            bad(weekly(&[1], "01:00", "02:00"), "Mars/Olympus"),
            ScheduleError::TimeZone(_)
        ));
        let t = utc("2026-12-01T00:00:00Z");
        assert_eq!(Schedule::once(t, t).unwrap_err(), ScheduleError::Reversed);
    }
}
