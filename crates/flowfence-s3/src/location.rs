//! What to read: an `s3://bucket/prefix` location and the window (dates, accounts,
//! regions) that narrows it.

use std::fmt;

use flowfence_flowlog::time::{Day, civil_from_days, days_from_civil};

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
        assert_eq!(
            days((2026, 2, 27), (2026, 3, 2)),
            [(2026, 2, 27), (2026, 2, 28), (2026, 3, 1), (2026, 3, 2)]
        );
    }
}
