//! Unix seconds as people read them: civil dates (UTC) and minutes, with no time zone
//! database (flow logs are in UTC).

/// A civil date, `(year, month, day)`.
pub type Day = (u16, u8, u8);

/// Days since 1970-01-01 (Howard Hinnant's `days_from_civil`).
pub fn days_from_civil((y, m, d): Day) -> i64 {
    let (y, m, d) = (i64::from(y), i64::from(m), i64::from(d));
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (`civil_from_days`).
pub fn civil_from_days(z: i64) -> Day {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    (y as u16, m as u8, d as u8)
}

/// Parses `YYYY-MM-DD`.
pub fn parse_day(s: &str) -> Option<Day> {
    let mut it = s.split('-');
    let y: u16 = it.next()?.parse().ok()?;
    let m: u8 = it.next()?.parse().ok()?;
    let d: u8 = it.next()?.parse().ok()?;
    if it.next().is_some() || !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Round trip rejects 2026-02-30.
    (civil_from_days(days_from_civil((y, m, d))) == (y, m, d)).then_some((y, m, d))
}

/// `secs` as `YYYY-MM-DD HH:MM` (UTC).
pub fn utc_minute(secs: u64) -> String {
    let ((y, m, d), h, min, _) = utc_parts(secs);
    format!("{y:04}-{m:02}-{d:02} {h:02}:{min:02}")
}

/// `secs` as ISO 8601 in UTC, `YYYY-MM-DDTHH:MM:SSZ` (what spreadsheets and SQL engines
/// read as a time).
pub fn utc_iso(secs: u64) -> String {
    let ((y, m, d), h, min, s) = utc_parts(secs);
    format!("{y:04}-{m:02}-{d:02}T{h:02}:{min:02}:{s:02}Z")
}

/// The day, hour, minute and second of `secs` (UTC).
fn utc_parts(secs: u64) -> (Day, u64, u64, u64) {
    let day = civil_from_days((secs / 86_400) as i64);
    let rest = secs % 86_400;
    (day, rest / 3600, rest % 3600 / 60, rest % 60)
}

/// A span of seconds as people say it: `45 s`, `20 min`, `1 h 36 min`, `6 h`,
/// `3 days 1 h`, `12 days` (minutes, hours under a week and days rounded to the nearest).
pub fn span(secs: u64) -> String {
    let minutes = (secs + 30) / 60;
    let hours = (secs + 1800) / 3600;
    match secs {
        0..120 => format!("{secs} s"),
        120..3570 => format!("{minutes} min"),
        3570..172_800 if minutes.is_multiple_of(60) => format!("{} h", minutes / 60),
        3570..172_800 => format!("{} h {} min", minutes / 60, minutes % 60),
        172_800..604_800 if !hours.is_multiple_of(24) => {
            format!("{} days {} h", hours / 24, hours % 24)
        }
        172_800..604_800 => format!("{} days", hours / 24),
        _ => format!("{} days", (secs + 43_200) / 86_400),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_minutes_and_spans() {
        assert_eq!(
            utc_minute(1_793_577_600 + 6 * 3600 + 24 * 60 + 59),
            "2026-11-02 06:24"
        );
        assert_eq!(
            utc_iso(1_793_577_600 + 6 * 3600 + 24 * 60 + 59),
            "2026-11-02T06:24:59Z"
        );
        assert_eq!(utc_iso(0), "1970-01-01T00:00:00Z");
        assert_eq!(parse_day("2024-02-29"), Some((2024, 2, 29)));
        assert_eq!(parse_day("2026-02-29"), None);
        assert_eq!(parse_day("2026-02-30"), None);
        assert_eq!(span(59), "59 s");
        assert_eq!(span(1200), "20 min");
        assert_eq!(span(3600), "1 h");
        assert_eq!(span(5757), "1 h 36 min");
        assert_eq!(span(5 * 3600 + 10), "5 h");
        assert_eq!(span(3 * 86_400 + 3300), "3 days 1 h");
        assert_eq!(span(2 * 86_400 + 60), "2 days");
        assert_eq!(span(20 * 86_400), "20 days");
    }
}
