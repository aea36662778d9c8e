//! RouterOS value formats (protocol reference §4.2, §4.3, §5.1).
//!
//! Why: every value on the wire is a string, and the formats changed between versions —
//! durations come as `1w2d3h4m5s` or `1d02:03:04`, dates as `nov/24/2016 21:07:05` (≤ 7.9) or
//! `2016-11-24 21:07:05` (≥ 7.10), log times in five shapes relative to the router's clock.
//! Parsers here accept every known shape and return `None` for anything else; the formatters
//! produce what a router of each generation would send (the simulator uses them).

use std::time::Duration;

use chrono::{Datelike, NaiveDate, NaiveDateTime, NaiveTime};

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Units of the `1w2d3h4m5s6ms7us8ns` grammar, in the only order they may appear.
/// `ms`/`us`/`ns` come first in the list so `m` does not swallow the `m` of `ms`.
const UNITS: [(&str, usize); 8] = [
    ("ms", 5),
    ("us", 6),
    ("ns", 7),
    ("w", 0),
    ("d", 1),
    ("h", 2),
    ("m", 3),
    ("s", 4),
];

fn unit_duration(rank: usize, n: u64) -> Option<Duration> {
    let secs = |mult: u64| n.checked_mul(mult).map(Duration::from_secs);
    match rank {
        0 => secs(7 * 86_400),
        1 => secs(86_400),
        2 => secs(3_600),
        3 => secs(60),
        4 => secs(1),
        5 => Some(Duration::from_millis(n)),
        6 => Some(Duration::from_micros(n)),
        _ => Some(Duration::from_nanos(n)),
    }
}

/// Splits leading ASCII digits off `s`: `("12", "h…")`.
fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

/// Parses a RouterOS duration in either grammar of §4.3: `4d15h20m38s`, `9ms445us`,
/// `1d02:03:04`, `14:40:26`, `00:00:00.5`. `none`, empty and negative values → `None`.
pub fn parse_duration(s: &str) -> Option<Duration> {
    let s = s.trim();
    if s.is_empty() || s == "none" {
        return None;
    }
    let mut rest = s;
    let mut total = Duration::ZERO;
    let mut next_rank = 0;
    while !rest.is_empty() {
        let (digits, after) = split_digits(rest);
        if digits.is_empty() {
            return None;
        }
        if after.starts_with(':') {
            // The clock form may follow weeks and days only.
            return (next_rank <= 2)
                .then(|| parse_clock(rest))
                .flatten()
                .and_then(|clock| total.checked_add(clock));
        }
        let n: u64 = digits.parse().ok()?;
        let &(unit, rank) = UNITS.iter().find(|(unit, _)| after.starts_with(unit))?;
        if rank < next_rank {
            return None;
        }
        total = total.checked_add(unit_duration(rank, n)?)?;
        next_rank = rank + 1;
        rest = &after[unit.len()..];
    }
    Some(total)
}

/// `H:MM:SS` or `HH:MM:SS`, optionally with a decimal fraction of a second.
fn parse_clock(s: &str) -> Option<Duration> {
    let (clock, fraction) = match s.split_once('.') {
        Some((clock, fraction)) => (clock, Some(fraction)),
        None => (s, None),
    };
    let mut parts = clock.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    let widths_ok = (1..=2).contains(&h.len()) && m.len() == 2 && sec.len() == 2;
    let all_digits = [h, m, sec]
        .iter()
        .all(|p| p.bytes().all(|b| b.is_ascii_digit()));
    if parts.next().is_some() || !widths_ok || !all_digits {
        return None;
    }
    let (h, m, sec): (u64, u64, u64) = (h.parse().ok()?, m.parse().ok()?, sec.parse().ok()?);
    if m >= 60 || sec >= 60 {
        return None;
    }
    let whole = Duration::from_secs(h * 3_600 + m * 60 + sec);
    match fraction {
        None => Some(whole),
        Some(f) if !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()) => {
            let nanos: String = f.chars().chain(std::iter::repeat('0')).take(9).collect();
            Some(whole + Duration::from_nanos(nanos.parse().ok()?))
        }
        Some(_) => None,
    }
}

/// Whole weeks, days, hours, minutes and seconds of `d`.
fn split_whole(d: Duration) -> [u64; 5] {
    let s = d.as_secs();
    [
        s / 604_800,
        s / 86_400 % 7,
        s / 3_600 % 24,
        s / 60 % 60,
        s % 60,
    ]
}

/// `1w2d3h4m5s` style (v7 uptime), sub-second parts as `ms`/`us`/`ns`; `0s` for zero.
pub fn format_duration_units(d: Duration) -> String {
    let nanos = d.subsec_nanos();
    let whole = split_whole(d);
    let parts = whole.into_iter().chain([
        u64::from(nanos / 1_000_000),
        u64::from(nanos / 1_000 % 1_000),
        u64::from(nanos % 1_000),
    ]);
    let units = ["w", "d", "h", "m", "s", "ms", "us", "ns"];
    let out: String = parts
        .zip(units)
        .filter(|(n, _)| *n > 0)
        .map(|(n, unit)| format!("{n}{unit}"))
        .collect();
    if out.is_empty() { "0s".to_owned() } else { out }
}

/// `1w2d03:04:05` style (v6 uptime), a fraction of a second as `.5`; `00:00:00` for zero.
pub fn format_duration_clock(d: Duration) -> String {
    let [w, days, h, m, s] = split_whole(d);
    let mut out = String::new();
    if w > 0 {
        out.push_str(&format!("{w}w"));
    }
    if days > 0 {
        out.push_str(&format!("{days}d"));
    }
    out.push_str(&format!("{h:02}:{m:02}:{s:02}"));
    let nanos = d.subsec_nanos();
    if nanos > 0 {
        let fraction = format!("{nanos:09}");
        out.push('.');
        out.push_str(fraction.trim_end_matches('0'));
    }
    out
}

/// `true`/`false` (what replies use) and `yes`/`no` (older versions, console); any ASCII case.
pub fn parse_bool(s: &str) -> Option<bool> {
    match s.trim().to_ascii_lowercase().as_str() {
        "true" | "yes" => Some(true),
        "false" | "no" => Some(false),
        _ => None,
    }
}

fn parse_month(name: &str) -> Option<u32> {
    let lower = name.to_ascii_lowercase();
    let index = MONTHS.iter().position(|m| *m == lower)?;
    u32::try_from(index + 1).ok()
}

fn parse_number<T: std::str::FromStr>(s: &str, max_len: usize) -> Option<T> {
    let ok = !s.is_empty() && s.len() <= max_len && s.bytes().all(|b| b.is_ascii_digit());
    ok.then(|| s.parse().ok()).flatten()
}

/// A date part of a time stamp: `mmm/dd[/yyyy]` or `[yyyy-]mm-dd`; a missing year is
/// `default_year` (`None` = the year is required).
fn parse_date(s: &str, default_year: Option<i32>) -> Option<NaiveDate> {
    let (year, month, day) = if s.contains('/') {
        let parts: Vec<&str> = s.split('/').collect();
        let year = match parts.as_slice() {
            [_, _] => default_year?,
            [_, _, y] => parse_number(y, 4)?,
            _ => return None,
        };
        (year, parse_month(parts[0])?, parse_number(parts[1], 2)?)
    } else {
        let parts: Vec<&str> = s.split('-').collect();
        match parts.as_slice() {
            [m, d] => (default_year?, parse_number(m, 2)?, parse_number(d, 2)?),
            [y, m, d] => (
                parse_number(y, 4)?,
                parse_number(m, 2)?,
                parse_number(d, 2)?,
            ),
            _ => return None,
        }
    };
    NaiveDate::from_ymd_opt(year, month, day)
}

fn parse_time(s: &str) -> Option<NaiveTime> {
    let mut parts = s.split(':');
    let (h, m, sec) = (parts.next()?, parts.next()?, parts.next()?);
    if parts.next().is_some() {
        return None;
    }
    NaiveTime::from_hms_opt(
        parse_number(h, 2)?,
        parse_number(m, 2)?,
        parse_number(sec, 2)?,
    )
}

/// `mmm/dd/yyyy HH:MM:SS` (month in any case: `Feb/11/2015 13:24:13`, `nov/24/2016 21:07:05`)
/// or `YYYY-MM-DD HH:MM:SS` (≥ 7.10).
pub fn parse_date_time(s: &str) -> Option<NaiveDateTime> {
    let (date, time) = s.trim().split_once(' ')?;
    Some(parse_date(date, None)?.and_time(parse_time(time)?))
}

/// `nov/24/2016 21:07:05` (lowercase month), as RouterOS ≤ 7.9 sends dates.
pub fn format_date_time_v6(t: NaiveDateTime) -> String {
    let month = MONTHS[t.month0() as usize % 12];
    format!("{month}/{}", t.format("%d/%Y %H:%M:%S"))
}

/// `2016-11-24 21:07:05`, as RouterOS ≥ 7.10 sends dates.
pub fn format_date_time_v7(t: NaiveDateTime) -> String {
    t.format("%Y-%m-%d %H:%M:%S").to_string()
}

/// A log entry's `time` in any §5.1 shape, resolved against the router's local time `now`:
/// `HH:MM:SS` (today), `mmm/dd HH:MM:SS` and `MM-DD HH:MM:SS` (this year),
/// `mmm/dd/yyyy HH:MM:SS` and `YYYY-MM-DD HH:MM:SS` (complete).
pub fn parse_log_time(s: &str, now: NaiveDateTime) -> Option<NaiveDateTime> {
    match s.trim().split_once(' ') {
        None => Some(now.date().and_time(parse_time(s.trim())?)),
        Some((date, time)) => Some(parse_date(date, Some(now.year()))?.and_time(parse_time(time)?)),
    }
}

/// `"7.16 (stable)"` → `(7, 16, 0)`; `"6.44beta41"` → `(6, 44, 0)`; `"7.23.7 (long-term)"` →
/// `(7, 23, 7)`. A pre-release suffix ends the version; missing parts are zero.
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let token = s.split_whitespace().next()?;
    let mut numbers = [0u32; 3];
    let mut count = 0;
    for (slot, part) in numbers.iter_mut().zip(token.split('.')) {
        let (digits, suffix) = split_digits(part);
        *slot = digits.parse().ok()?;
        count += 1;
        if !suffix.is_empty() {
            break;
        }
    }
    (count > 0).then_some((numbers[0], numbers[1], numbers[2]))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|date| date.and_hms_opt(h, mi, s))
            .expect("valid test date")
    }

    #[test]
    fn durations() {
        let ms = Duration::from_millis;
        let secs = Duration::from_secs;
        let cases: &[(&str, Option<Duration>)] = &[
            ("3d3h42m53s", Some(secs(272_573))),
            ("15w3d3h42m53s", Some(secs(9_344_573))),
            ("42m53s", Some(secs(2_573))),
            ("7w6d9h34m", Some(secs(4_786_440))),
            ("1w2d3h4m5s", Some(secs(788_645))),
            (
                "4d15h20m38s",
                Some(secs(4 * 86_400 + 15 * 3_600 + 20 * 60 + 38)),
            ),
            ("1d02:03:04", Some(secs(93_784))),
            ("1w2d03:04:05", Some(secs(788_645))),
            ("00:00:00", Some(secs(0))),
            ("14:40:26", Some(secs(14 * 3_600 + 40 * 60 + 26))),
            ("01:22:53", Some(secs(4_973))),
            ("1:02:03", Some(secs(3_723))),
            ("00:00:01.25", Some(ms(1_250))),
            ("9ms445us", Some(Duration::from_micros(9_445))),
            ("12m29s740ms", Some(ms(749_740))),
            ("15m", Some(secs(900))),
            ("0s", Some(secs(0))),
            ("1s5ns", Some(Duration::new(1, 5))),
            (" 5s ", Some(secs(5))),
            ("none", None),
            ("", None),
            ("-29ms481us", None),
            ("5", None),
            ("5x", None),
            ("3h2d", None),
            ("1s1s", None),
            ("1h02:03:04", None),
            ("1:2:3", None),
            ("00:60:00", None),
            ("00:00:00.", None),
            ("00:00:00:00", None),
            ("99999999999999999999w", None),
        ];
        for &(input, expected) in cases {
            assert_eq!(parse_duration(input), expected, "{input:?}");
        }
    }

    #[test]
    fn duration_formatting() {
        let cases: &[(u64, u32, &str, &str)] = &[
            (0, 0, "0s", "00:00:00"),
            (788_645, 0, "1w2d3h4m5s", "1w2d03:04:05"),
            (93_784, 0, "1d2h3m4s", "1d02:03:04"),
            (4_786_440, 0, "7w6d9h34m", "7w6d09:34:00"),
            (0, 9_445_000, "9ms445us", "00:00:00.009445"),
            (1, 500_000_000, "1s500ms", "00:00:01.5"),
        ];
        for &(secs, nanos, units, clock) in cases {
            let d = Duration::new(secs, nanos);
            assert_eq!(format_duration_units(d), units);
            assert_eq!(format_duration_clock(d), clock);
            assert_eq!(parse_duration(units), Some(d), "{units}");
            assert_eq!(parse_duration(clock), Some(d), "{clock}");
        }
    }

    #[test]
    fn booleans() {
        let cases = [
            ("true", Some(true)),
            ("yes", Some(true)),
            ("TRUE", Some(true)),
            ("false", Some(false)),
            ("no", Some(false)),
            ("", None),
            ("1", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_bool(input), expected, "{input:?}");
        }
    }

    #[test]
    fn dates() {
        let cases = [
            ("Feb/11/2015 13:24:13", Some(at(2015, 2, 11, 13, 24, 13))),
            ("nov/24/2016 21:07:05", Some(at(2016, 11, 24, 21, 7, 5))),
            ("JUL/19/2022 11:25:54", Some(at(2022, 7, 19, 11, 25, 54))),
            ("2024-09-20 13:00:27", Some(at(2024, 9, 20, 13, 0, 27))),
            ("feb/29/2023 00:00:00", None),
            ("nov/24 21:07:05", None),
            ("11-24 21:07:05", None),
            ("2024-09-20", None),
            ("foo/01/2020 00:00:00", None),
            ("2024-09-20 25:00:00", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_date_time(input), expected, "{input:?}");
        }
        let t = at(2016, 11, 24, 21, 7, 5);
        assert_eq!(format_date_time_v6(t), "nov/24/2016 21:07:05");
        assert_eq!(format_date_time_v7(t), "2016-11-24 21:07:05");
        let early = at(2015, 2, 1, 3, 4, 5);
        assert_eq!(format_date_time_v6(early), "feb/01/2015 03:04:05");
        assert_eq!(format_date_time_v7(early), "2015-02-01 03:04:05");
    }

    #[test]
    fn log_times() {
        let now = at(2026, 4, 17, 12, 0, 0);
        let cases = [
            ("21:38:04", Some(at(2026, 4, 17, 21, 38, 4))),
            ("sep/15 09:54:33", Some(at(2026, 9, 15, 9, 54, 33))),
            ("Jan/02/1970 02:00:09", Some(at(1970, 1, 2, 2, 0, 9))),
            ("2026-04-16 09:37:56", Some(at(2026, 4, 16, 9, 37, 56))),
            ("1970-01-02 02:00:09", Some(at(1970, 1, 2, 2, 0, 9))),
            ("04-15 08:00:00", Some(at(2026, 4, 15, 8, 0, 0))),
            ("", None),
            ("yesterday", None),
            ("sep/15", None),
            ("13/15 09:54:33", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_log_time(input, now), expected, "{input:?}");
        }
    }

    #[test]
    fn versions() {
        let cases = [
            ("7.16 (stable)", Some((7, 16, 0))),
            ("6.44beta41", Some((6, 44, 0))),
            ("7.23.7 (long-term)", Some((7, 23, 7))),
            ("6.40.8 (bugfix)", Some((6, 40, 8))),
            ("7.1beta4 (development)", Some((7, 1, 0))),
            ("7.1rc3", Some((7, 1, 0))),
            ("6.27", Some((6, 27, 0))),
            ("7", Some((7, 0, 0))),
            ("", None),
            ("stable", None),
        ];
        for (input, expected) in cases {
            assert_eq!(parse_version(input), expected, "{input:?}");
        }
    }

    proptest! {
        #[test]
        fn duration_formats_round_trip(secs in 0u64..100_000_000, nanos in 0u32..1_000_000_000) {
            let d = Duration::new(secs, nanos);
            prop_assert_eq!(parse_duration(&format_duration_units(d)), Some(d));
            prop_assert_eq!(parse_duration(&format_duration_clock(d)), Some(d));
        }

        #[test]
        fn date_formats_round_trip(days in 0u64..60_000, secs in 0u32..86_400) {
            let date = NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch") + chrono::Days::new(days);
            let t = date.and_time(NaiveTime::from_num_seconds_from_midnight_opt(secs, 0).expect("time"));
            prop_assert_eq!(parse_date_time(&format_date_time_v6(t)), Some(t));
            prop_assert_eq!(parse_date_time(&format_date_time_v7(t)), Some(t));
            prop_assert_eq!(parse_log_time(&format_date_time_v7(t), t), Some(t));
        }

        #[test]
        fn parsers_never_panic(s in "\\PC{0,24}") {
            let now = at(2026, 1, 1, 0, 0, 0);
            let _ = (parse_duration(&s), parse_date_time(&s), parse_log_time(&s, now), parse_version(&s));
        }
    }
}
