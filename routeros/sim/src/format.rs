//! Value formats that differ between RouterOS 6.49 and 7.16 (reference §4.2, §4.3, §5.1).
//!
//! Everything on the wire is a string; the version decides the shape of durations
//! (`1d02:03:04` vs `1d2h3m4s`), dates (`nov/24/2016 21:07:05` vs `2016-11-24 21:07:05`) and
//! log times. The generic conversions come from `centinela_routeros::values`, so the client's
//! parser and the simulator's formatter are tested against each other.

use std::time::Duration;

use centinela_routeros::values;
use chrono::{Datelike, NaiveDate, NaiveDateTime};

use crate::RouterVersion;

/// `version` of `/system/resource`.
pub(crate) fn version_string(version: RouterVersion) -> &'static str {
    match version {
        RouterVersion::V6_49 => "6.49.10 (long-term)",
        RouterVersion::V7_16 => "7.16 (stable)",
    }
}

/// The bare version number (`current-firmware` and similar).
pub(crate) fn version_number(version: RouterVersion) -> &'static str {
    match version {
        RouterVersion::V6_49 => "6.49.10",
        RouterVersion::V7_16 => "7.16",
    }
}

/// `build-time`: capitalised month on 6.49 (`Sep/06/2023 06:32:31`), ISO on 7.16.
pub(crate) fn build_time(version: RouterVersion) -> String {
    let (date, time) = match version {
        RouterVersion::V6_49 => (NaiveDate::from_ymd_opt(2023, 9, 6), (6, 32, 31)),
        RouterVersion::V7_16 => (NaiveDate::from_ymd_opt(2024, 9, 20), (13, 0, 27)),
    };
    let Some(when) = date.and_then(|d| d.and_hms_opt(time.0, time.1, time.2)) else {
        return String::new();
    };
    let text = date_time(version, when);
    match version {
        RouterVersion::V6_49 => capitalise(&text),
        RouterVersion::V7_16 => text,
    }
}

/// A duration in whole seconds: `1w2d03:04:05` on 6.49, `1w2d3h4m5s` on 7.16.
pub(crate) fn duration(version: RouterVersion, seconds: f64) -> String {
    let whole = Duration::from_secs(seconds.max(0.0) as u64);
    match version {
        RouterVersion::V6_49 => values::format_duration_clock(whole),
        RouterVersion::V7_16 => values::format_duration_units(whole),
    }
}

/// A date-time property (`last-link-up-time`, …).
pub(crate) fn date_time(version: RouterVersion, t: NaiveDateTime) -> String {
    match version {
        RouterVersion::V6_49 => values::format_date_time_v6(t),
        RouterVersion::V7_16 => values::format_date_time_v7(t),
    }
}

/// `/system/clock` `date`: `oct/19/2024` on 6.49, `2024-10-19` on 7.16.
pub(crate) fn clock_date(version: RouterVersion, now: NaiveDateTime) -> String {
    match version {
        RouterVersion::V6_49 => now.format("%b/%d/%Y").to_string().to_lowercase(),
        RouterVersion::V7_16 => now.format("%Y-%m-%d").to_string(),
    }
}

/// A log entry's `time` relative to the router's `now` (§5.1): `HH:MM:SS` for today; else
/// `mmm/dd HH:MM:SS` (this year) or `mmm/dd/yyyy HH:MM:SS` on 6.49, ISO on 7.16.
pub(crate) fn log_time(version: RouterVersion, t: NaiveDateTime, now: NaiveDateTime) -> String {
    if t.date() == now.date() {
        return t.format("%H:%M:%S").to_string();
    }
    match version {
        RouterVersion::V6_49 if t.year() == now.year() => {
            t.format("%b/%d %H:%M:%S").to_string().to_lowercase()
        }
        _ => date_time(version, t),
    }
}

/// A sensor or voltage value: `41`, `24.1` (no unit, no trailing `.0`).
pub(crate) fn decimal(value: f64) -> String {
    let rounded = (value * 10.0).round() / 10.0;
    format!("{rounded}")
}

/// An item id: `*` + uppercase hex.
pub(crate) fn id(n: u64) -> String {
    format!("*{n:X}")
}

/// `true` / `false`, as replies use.
pub(crate) fn boolean(b: bool) -> &'static str {
    if b { "true" } else { "false" }
}

fn capitalise(s: &str) -> String {
    let mut chars = s.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use RouterVersion::{V6_49, V7_16};

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32, s: u32) -> NaiveDateTime {
        NaiveDate::from_ymd_opt(y, mo, d)
            .and_then(|d| d.and_hms_opt(h, mi, s))
            .expect("valid")
    }

    #[test]
    fn per_version_formats() {
        let uptime = 788_645.0; // 1w2d3h4m5s
        assert_eq!(duration(V6_49, uptime), "1w2d03:04:05");
        assert_eq!(duration(V7_16, uptime), "1w2d3h4m5s");
        assert_eq!(duration(V7_16, 0.4), "0s");
        assert_eq!(build_time(V6_49), "Sep/06/2023 06:32:31");
        assert_eq!(build_time(V7_16), "2024-09-20 13:00:27");
        let t = at(2016, 11, 24, 21, 7, 5);
        assert_eq!(date_time(V6_49, t), "nov/24/2016 21:07:05");
        assert_eq!(date_time(V7_16, t), "2016-11-24 21:07:05");
        assert_eq!(clock_date(V6_49, t), "nov/24/2016");
        assert_eq!(clock_date(V7_16, t), "2016-11-24");
    }

    #[test]
    fn log_time_shapes() {
        let now = at(2024, 10, 19, 21, 54, 32);
        let today = at(2024, 10, 19, 9, 5, 1);
        let this_year = at(2024, 9, 15, 9, 54, 33);
        let last_year = at(2023, 1, 2, 2, 0, 9);
        let table = [
            (V6_49, today, "09:05:01"),
            (V7_16, today, "09:05:01"),
            (V6_49, this_year, "sep/15 09:54:33"),
            (V6_49, last_year, "jan/02/2023 02:00:09"),
            (V7_16, this_year, "2024-09-15 09:54:33"),
            (V7_16, last_year, "2023-01-02 02:00:09"),
        ];
        for (version, t, expected) in table {
            assert_eq!(log_time(version, t, now), expected, "{version:?} {t}");
        }
    }

    #[test]
    fn small_values() {
        assert_eq!(decimal(41.0), "41");
        assert_eq!(decimal(24.1), "24.1");
        assert_eq!(decimal(24.149), "24.1");
        assert_eq!(id(0), "*0");
        assert_eq!(id(0x1CB36), "*1CB36");
        assert_eq!(boolean(true), "true");
    }
}
