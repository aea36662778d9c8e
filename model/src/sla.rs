//! Business time for SLA clocks: a calendar of contracted hours in a time zone, with holidays,
//! and the two pure questions the clocks ask of it — how much business time lies between two
//! instants, and which instant lies N business seconds after another — both with pauses
//! (waiting on the customer, maintenance windows) subtracted.
//!
//! Hours are given per ISO weekday (1 = Monday … 7 = Sunday) as local `[start, end)` intervals
//! within the day (`"24:00"` ends a day; an overnight shift is two intervals, one each side of
//! midnight, which this module treats as one continuous stretch). Each local date is turned into
//! UTC instants on its own, so a DST change moves the hours with the wall clock: a 09:00–19:00
//! day is 10 real hours on either side of a change, and a 00:00–24:00 day is 23 or 25.
//! A local time that does not exist (the hour skipped in spring) maps to the first instant after
//! the gap; one that exists twice (the hour repeated in autumn) maps to its first occurrence.
//!
//! The worked example of the SLA issue: with Monday–Friday 09:00–19:00, a critical ticket opened
//! Friday 18:50 with a 30-minute response target is due Monday 09:20 (10 minutes on Friday,
//! 20 on Monday).

pub mod clock;

use chrono::{DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveTime, TimeZone, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};

/// Minutes in a day: the end of a `"24:00"` interval.
pub(crate) const DAY_MINUTES: u16 = 24 * 60;

/// How far ahead a due date is searched (a calendar whose holidays close it for years has none).
const MAX_DAYS: i64 = 3 * 366;

/// Why a calendar or an interval was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum CalendarError {
    #[error("unknown time zone '{0}' (an IANA name such as America/Mexico_City)")]
    TimeZone(String),
    #[error("hours: '{0}' is not a weekday (1 = Monday … 7 = Sunday)")]
    Weekday(String),
    #[error("hours: '{0}' is not a time HH:MM between 00:00 and 24:00")]
    Time(String),
    #[error(
        "hours: interval {start}–{end} is empty or reversed (an overnight shift is two intervals)"
    )]
    Interval { start: String, end: String },
    #[error("hours: no business time in the week")]
    NoHours,
    #[error("holidays: '{0}' is not a date YYYY-MM-DD")]
    Date(String),
}

/// A local interval as written in a policy: `["09:00", "19:00"]`.
pub type IntervalSpec = [String; 2];

/// A holiday as written in a policy: closed all day, or open only `hours`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HolidaySpec {
    pub date: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hours: Option<Vec<IntervalSpec>>,
}

/// A calendar as written in a policy: `{timezone, hours: {"1": [["09:00","19:00"]], ...},
/// holidays: [{date, hours?}]}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CalendarSpec {
    pub timezone: String,
    pub hours: BTreeMap<String, Vec<IntervalSpec>>,
    #[serde(default)]
    pub holidays: Vec<HolidaySpec>,
}

impl CalendarSpec {
    /// The default of the seeds: Monday–Friday 09:00–19:00, Mexico City, no holidays.
    pub fn default_business_hours() -> CalendarSpec {
        let day = || vec![["09:00".to_owned(), "19:00".to_owned()]];
        CalendarSpec {
            timezone: "America/Mexico_City".into(),
            hours: (1..=5).map(|d| (d.to_string(), day())).collect(),
            holidays: Vec::new(),
        }
    }
}

/// Local minutes `[start, end)` within one day, sorted and merged.
type DayHours = Vec<(u16, u16)>;

/// A validated business calendar.
#[derive(Debug, Clone, PartialEq)]
pub struct Calendar {
    tz: Tz,
    /// Index 0 = Monday.
    week: [DayHours; 7],
    holidays: HashMap<NaiveDate, DayHours>,
}

/// An instant range `[start, end)`.
pub type Span = (DateTime<Utc>, DateTime<Utc>);

impl Calendar {
    /// Validates a calendar as written in a policy.
    pub fn from_spec(spec: &CalendarSpec) -> Result<Calendar, CalendarError> {
        let tz: Tz = spec
            .timezone
            .parse()
            .map_err(|_| CalendarError::TimeZone(spec.timezone.clone()))?;
        let mut week: [DayHours; 7] = Default::default();
        for (day, intervals) in &spec.hours {
            let index = day
                .parse::<usize>()
                .ok()
                .filter(|d| (1..=7).contains(d))
                .ok_or_else(|| CalendarError::Weekday(day.clone()))?;
            week[index - 1] = parse_day(intervals)?;
        }
        if week.iter().all(Vec::is_empty) {
            return Err(CalendarError::NoHours);
        }
        let mut holidays = HashMap::new();
        for holiday in &spec.holidays {
            let date = NaiveDate::parse_from_str(&holiday.date, "%Y-%m-%d")
                .map_err(|_| CalendarError::Date(holiday.date.clone()))?;
            let hours = match &holiday.hours {
                Some(intervals) => parse_day(intervals)?,
                None => Vec::new(),
            };
            holidays.insert(date, hours);
        }
        Ok(Calendar { tz, week, holidays })
    }

    /// Business time in `[from, to)` outside every pause (pauses may overlap and be unsorted).
    /// Zero when `to <= from`.
    pub fn business_between(
        &self,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
        pauses: &[Span],
    ) -> Duration {
        if to <= from {
            return Duration::zero();
        }
        let pauses = merge(pauses);
        let mut total = Duration::zero();
        for date in self
            .dates_from(from)
            .take_while(|d| self.day_start(*d) < to)
        {
            for (start, end) in self.open_spans(date, &pauses) {
                let (start, end) = (start.max(from), end.min(to));
                if start < end {
                    total += end - start;
                }
            }
        }
        total
    }

    /// The instant `amount` of business time after `from`, pauses subtracted; `None` when an
    /// open-ended pause (ending at `DateTime::<Utc>::MAX_UTC`) or the calendar's holidays keep
    /// it from ever arriving (searched [`MAX_DAYS`] ahead). Zero means `from` itself.
    pub fn add_business(
        &self,
        from: DateTime<Utc>,
        amount: Duration,
        pauses: &[Span],
    ) -> Option<DateTime<Utc>> {
        if amount <= Duration::zero() {
            return Some(from);
        }
        let pauses = merge(pauses);
        let mut left = amount;
        for date in self.dates_from(from).take(MAX_DAYS as usize) {
            for (start, end) in self.open_spans(date, &pauses) {
                let start = start.max(from);
                if start >= end {
                    continue;
                }
                if end - start >= left {
                    return Some(start + left);
                }
                left -= end - start;
            }
        }
        None
    }

    /// Local dates from the one holding `from` onwards.
    fn dates_from(&self, from: DateTime<Utc>) -> impl Iterator<Item = NaiveDate> {
        let first = from.with_timezone(&self.tz).date_naive();
        first.iter_days()
    }

    /// The instant a local date starts.
    fn day_start(&self, date: NaiveDate) -> DateTime<Utc> {
        self.local_instant(date, 0)
    }

    /// The contracted hours of one local date as instants, minus the (merged) pauses.
    fn open_spans(&self, date: NaiveDate, pauses: &[Span]) -> Vec<Span> {
        let hours = self
            .holidays
            .get(&date)
            .unwrap_or(&self.week[date.weekday().num_days_from_monday() as usize]);
        let mut spans = Vec::with_capacity(hours.len());
        for &(start, end) in hours {
            let (start, end) = (
                self.local_instant(date, start),
                self.local_instant(date, end),
            );
            if start < end {
                subtract(start, end, pauses, &mut spans);
            }
        }
        spans
    }

    /// The instant of a local date and minute of the day (1440 = the next day's midnight).
    fn local_instant(&self, date: NaiveDate, minute: u16) -> DateTime<Utc> {
        local_instant(&self.tz, date, minute)
    }
}

/// The instant of a local date and minute of the day in `tz` (1440 = the next day's midnight).
/// A skipped local time maps to the first instant after the gap; a repeated one to its first
/// occurrence.
pub(crate) fn local_instant(tz: &Tz, date: NaiveDate, minute: u16) -> DateTime<Utc> {
    let (date, minute) = if minute >= DAY_MINUTES {
        (date.succ_opt().unwrap_or(date), minute - DAY_MINUTES)
    } else {
        (date, minute)
    };
    let time = NaiveTime::from_hms_opt(u32::from(minute / 60), u32::from(minute % 60), 0)
        .unwrap_or(NaiveTime::MIN);
    let mut local = date.and_time(time);
    // Gaps are ≤ 2 hours in every zone the tz database knows; a minute step finds the end
    // exactly.
    for _ in 0..=180 {
        match tz.from_local_datetime(&local) {
            LocalResult::Single(t) => return t.with_timezone(&Utc),
            LocalResult::Ambiguous(first, _) => return first.with_timezone(&Utc),
            LocalResult::None => local += Duration::minutes(1),
        }
    }
    Utc.from_utc_datetime(&local)
}

/// Parses and merges one day's intervals.
fn parse_day(intervals: &[IntervalSpec]) -> Result<DayHours, CalendarError> {
    let mut day = Vec::with_capacity(intervals.len());
    for [start, end] in intervals {
        let (s, e) = (parse_minute(start)?, parse_minute(end)?);
        if s >= e {
            return Err(CalendarError::Interval {
                start: start.clone(),
                end: end.clone(),
            });
        }
        day.push((s, e));
    }
    day.sort_unstable();
    let mut merged: DayHours = Vec::with_capacity(day.len());
    for (s, e) in day {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    Ok(merged)
}

/// `"HH:MM"` → minutes of the day; `"24:00"` is the end of the day.
pub(crate) fn parse_minute(text: &str) -> Result<u16, CalendarError> {
    let bad = || CalendarError::Time(text.to_owned());
    let (h, m) = text.split_once(':').ok_or_else(bad)?;
    if h.len() != 2 || m.len() != 2 {
        return Err(bad());
    }
    let (h, m): (u16, u16) = (h.parse().map_err(|_| bad())?, m.parse().map_err(|_| bad())?);
    match (h, m) {
        (24, 0) => Ok(DAY_MINUTES),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(bad()),
    }
}

/// Sorts and merges overlapping or touching spans, dropping empty ones.
fn merge(spans: &[Span]) -> Vec<Span> {
    let mut sorted: Vec<Span> = spans.iter().copied().filter(|(s, e)| s < e).collect();
    sorted.sort_unstable();
    let mut merged: Vec<Span> = Vec::with_capacity(sorted.len());
    for (s, e) in sorted {
        match merged.last_mut() {
            Some(last) if s <= last.1 => last.1 = last.1.max(e),
            _ => merged.push((s, e)),
        }
    }
    merged
}

/// Pushes the parts of `[start, end)` outside the merged `pauses` onto `out`.
fn subtract(mut start: DateTime<Utc>, end: DateTime<Utc>, pauses: &[Span], out: &mut Vec<Span>) {
    for &(ps, pe) in pauses {
        if pe <= start {
            continue;
        }
        if ps >= end {
            break;
        }
        if ps > start {
            out.push((start, ps));
        }
        start = start.max(pe);
        if start >= end {
            return;
        }
    }
    out.push((start, end));
}

#[cfg(test)]
mod tests;
