//! What to read: an `s3://bucket/prefix` location and the window (dates, accounts,
//! regions) that narrows it.

use std::fmt;

/// `s3://bucket/prefix`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct S3Uri {
    /// The bucket.
    pub bucket: String,
    /// The key prefix (may be empty).
    pub prefix: String,
}

impl S3Uri {
    /// Parses `s3://bucket[/prefix]`; `None` for anything else.
    pub fn parse(s: &str) -> Option<S3Uri> {
        let rest = s.strip_prefix("s3://")?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        if bucket.is_empty() {
            return None;
        }
        Some(S3Uri {
            bucket: bucket.to_string(),
            prefix: prefix.to_string(),
        })
    }

    /// Whether a command-line path names S3.
    pub fn is_s3(s: &str) -> bool {
        s.starts_with("s3://")
    }
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.prefix)
    }
}

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

/// Today (UTC).
pub fn today() -> Day {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    civil_from_days((secs / 86_400) as i64)
}

/// The days from `since` to `until`, both included.
pub fn days(since: Day, until: Day) -> Vec<Day> {
    (days_from_civil(since)..=days_from_civil(until))
        .map(civil_from_days)
        .collect()
}

/// Which part of an archive to read. Empty lists mean every account or region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// First day (UTC), included.
    pub since: Option<Day>,
    /// Last day, included (default: today, when `since` is given).
    pub until: Option<Day>,
    /// Accounts.
    pub accounts: Vec<String>,
    /// Regions.
    pub regions: Vec<String>,
}

impl Window {
    /// Whether a delivery date falls in the window.
    pub fn holds(&self, day: Day) -> bool {
        self.since.is_none_or(|s| day >= s) && self.until.is_none_or(|u| day <= u)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uris_and_days() {
        assert_eq!(
            S3Uri::parse("s3://logs/flow/AWSLogs/"),
            Some(S3Uri {
                bucket: "logs".into(),
                prefix: "flow/AWSLogs/".into()
            })
        );
        assert_eq!(S3Uri::parse("s3://logs").unwrap().prefix, "");
        assert_eq!(S3Uri::parse("s3:///x"), None);
        assert_eq!(S3Uri::parse("/tmp/x"), None);
        assert_eq!(parse_day("2026-02-28"), Some((2026, 2, 28)));
        assert_eq!(parse_day("2026-02-30"), None);
        assert_eq!(
            days((2026, 2, 27), (2026, 3, 2)),
            [(2026, 2, 27), (2026, 2, 28), (2026, 3, 1), (2026, 3, 2)]
        );
    }
}
