//! Layout-aware listing: the window's accounts, regions and days become key prefixes,
//! so reading three days lists three days, not the bucket.
//!
//! Under `.../AWSLogs/` the accounts and then the regions are found with delimited
//! listings (one request each); each day of the window is then listed in full (hourly
//! folders included). Both AWS's key layout and the Hive-compatible one are recognised.

use flowfence_flowlog::DeliveryKey;

use flowfence_flowlog::time::Day;

use crate::location::{S3Uri, Window, days, today};

/// One object.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Object {
    /// Its key.
    pub key: String,
    /// Size in bytes.
    pub size: u64,
    /// Its ETag (identifies the content for resuming).
    pub etag: String,
}

/// Lists keys: with `delimited`, the common prefixes one level below `prefix` (objects
/// at that level too); without, every object under `prefix`.
pub trait Lister {
    /// The error listing can fail with.
    type Error;
    /// Objects and common prefixes under `prefix`.
    fn list(
        &self,
        prefix: &str,
        delimited: bool,
    ) -> Result<(Vec<Object>, Vec<String>), Self::Error>;
}

/// What a window lists.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Listing {
    /// Flow log objects in the window, by key.
    pub objects: Vec<Object>,
    /// Prefixes listed in full (what the listing cost).
    pub listed: Vec<String>,
    /// Keys passed over: not flow log files, or outside the window.
    pub skipped: usize,
}

/// Whether a key names a flow log file.
fn is_log_file(key: &str) -> bool {
    [".log.gz", ".log", ".gz", ".parquet"]
        .iter()
        .any(|ext| key.ends_with(ext))
}

fn day_prefix(region: &str, hive: bool, (y, m, d): Day) -> String {
    if hive {
        format!("{region}year={y:04}/month={m:02}/day={d:02}/")
    } else {
        format!("{region}{y:04}/{m:02}/{d:02}/")
    }
}

/// Lists what `window` selects under `uri`.
pub fn list<L: Lister>(lister: &L, uri: &S3Uri, window: &Window) -> Result<Listing, L::Error> {
    let mut out = Listing::default();
    let base = uri.prefix.as_str();
    if let Some(at) = base.find(SECURITY_LAKE) {
        security_lake(lister, base, at + SECURITY_LAKE.len(), window, &mut out)?;
        return Ok(finish(out));
    }
    let root = match base.find("AWSLogs/") {
        Some(at) if base.len() > at + "AWSLogs/".len() => {
            // Already inside the layout: list it as given and filter by key.
            full(lister, base, window, &mut out)?;
            return Ok(finish(out));
        }
        Some(at) => base[..at + "AWSLogs/".len()].to_string(),
        None if base.is_empty() || base.ends_with('/') => format!("{base}AWSLogs/"),
        None => format!("{base}/AWSLogs/"),
    };
    let (_, accounts) = lister.list(&root, true)?;
    if accounts.is_empty() {
        // No delivery layout here (copied files, say): everything under the prefix.
        full(lister, base, window, &mut out)?;
        return Ok(finish(out));
    }
    for account_prefix in accounts {
        let name = account_prefix[root.len()..].trim_end_matches('/');
        let hive = name.starts_with("aws-account-id=");
        let account = name.strip_prefix("aws-account-id=").unwrap_or(name);
        if !window.accounts.is_empty() && !window.accounts.iter().any(|a| a == account) {
            continue;
        }
        let service = if hive {
            format!("{account_prefix}aws-service=vpcflowlogs/")
        } else {
            format!("{account_prefix}vpcflowlogs/")
        };
        let (_, regions) = lister.list(&service, true)?;
        for region_prefix in regions {
            let name = region_prefix[service.len()..].trim_end_matches('/');
            let region = name.strip_prefix("aws-region=").unwrap_or(name);
            if !window.regions.is_empty() && !window.regions.iter().any(|r| r == region) {
                continue;
            }
            match window.since {
                Some(since) => {
                    for day in days(since, window.until.unwrap_or_else(today)) {
                        full(
                            lister,
                            &day_prefix(&region_prefix, hive, day),
                            window,
                            &mut out,
                        )?;
                    }
                }
                None => full(lister, &region_prefix, window, &mut out)?,
            }
        }
    }
    Ok(finish(out))
}

/// Where Amazon Security Lake keeps VPC flow logs: `aws/VPC_FLOW/{version}/region=/
/// accountId=/eventDay=YYYYMMDD/`.
const SECURITY_LAKE: &str = "VPC_FLOW/";

/// Lists Security Lake's layout under `base` (`root` bytes of it reach `VPC_FLOW/`): its
/// source versions, then the window's regions, accounts and days, each a prefix.
fn security_lake<L: Lister>(
    lister: &L,
    base: &str,
    root: usize,
    window: &Window,
    out: &mut Listing,
) -> Result<(), L::Error> {
    if base.len() > root {
        // Already inside the layout: list it as given and filter by key.
        return full(lister, base, window, out);
    }
    let wanted = |names: &[String], prefix: &str, level: &str| {
        let name = prefix
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or("");
        let value = name.strip_prefix(level).unwrap_or(name);
        names.is_empty() || names.iter().any(|n| n == value)
    };
    let (_, versions) = lister.list(base, true)?;
    for version in versions {
        let (_, regions) = lister.list(&version, true)?;
        for region in regions
            .iter()
            .filter(|r| wanted(&window.regions, r, "region="))
        {
            let (_, accounts) = lister.list(region, true)?;
            for account in accounts
                .iter()
                .filter(|a| wanted(&window.accounts, a, "accountId="))
            {
                match window.since {
                    Some(since) => {
                        for (y, m, d) in days(since, window.until.unwrap_or_else(today)) {
                            let day = format!("{account}eventDay={y:04}{m:02}{d:02}/");
                            full(lister, &day, window, out)?;
                        }
                    }
                    None => full(lister, account, window, out)?,
                }
            }
        }
    }
    Ok(())
}

/// Lists `prefix` in full, keeping the flow log files the window holds.
fn full<L: Lister>(
    lister: &L,
    prefix: &str,
    window: &Window,
    out: &mut Listing,
) -> Result<(), L::Error> {
    let (objects, _) = lister.list(prefix, false)?;
    out.listed.push(prefix.to_string());
    for o in objects {
        let in_window = match DeliveryKey::parse(&o.key) {
            Some(k) => {
                window.holds(k.date)
                    && (window.accounts.is_empty() || window.accounts.contains(&k.account))
                    && (window.regions.is_empty() || window.regions.contains(&k.region))
            }
            None => true,
        };
        if is_log_file(&o.key) && in_window {
            out.objects.push(o);
        } else {
            out.skipped += 1;
        }
    }
    Ok(())
}

fn finish(mut out: Listing) -> Listing {
    out.objects.sort();
    out.objects.dedup();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;

    /// A bucket in memory that records what was listed.
    struct Bucket {
        keys: Vec<String>,
        calls: RefCell<Vec<(String, bool)>>,
    }

    impl Lister for Bucket {
        type Error = ();
        fn list(&self, prefix: &str, delimited: bool) -> Result<(Vec<Object>, Vec<String>), ()> {
            self.calls
                .borrow_mut()
                .push((prefix.to_string(), delimited));
            let mut objects = Vec::new();
            let mut prefixes: Vec<String> = Vec::new();
            for k in self.keys.iter().filter(|k| k.starts_with(prefix)) {
                let rest = &k[prefix.len()..];
                match rest.find('/') {
                    Some(i) if delimited => {
                        let p = format!("{prefix}{}", &rest[..=i]);
                        if !prefixes.contains(&p) {
                            prefixes.push(p);
                        }
                    }
                    _ => objects.push(Object {
                        key: k.clone(),
                        size: 1,
                        etag: "e".into(),
                    }),
                }
            }
            Ok((objects, prefixes))
        }
    }

    fn bucket(keys: &[&str]) -> Bucket {
        Bucket {
            keys: keys.iter().map(|k| k.to_string()).collect(),
            calls: RefCell::new(Vec::new()),
        }
    }

    const AWS: [&str; 5] = [
        "p/AWSLogs/111/vpcflowlogs/us-east-1/2026/11/01/a.log.gz",
        "p/AWSLogs/111/vpcflowlogs/us-east-1/2026/11/02/b.log.gz",
        "p/AWSLogs/111/vpcflowlogs/us-east-1/2026/11/03/05/c.log.gz",
        "p/AWSLogs/111/vpcflowlogs/eu-west-1/2026/11/02/d.log.gz",
        "p/AWSLogs/222/vpcflowlogs/us-east-1/2026/11/02/e.log.gz",
    ];

    fn keys(l: &Listing) -> Vec<&str> {
        l.objects
            .iter()
            .map(|o| o.key.rsplit('/').next().unwrap())
            .collect()
    }

    #[test]
    fn security_lakes_layout_lists_the_windows_regions_accounts_and_days() {
        let b = bucket(&[
            "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111/eventDay=20261101/a.gz.parquet",
            "aws/VPC_FLOW/2.0/region=us-east-1/accountId=111/eventDay=20261102/b.gz.parquet",
            "aws/VPC_FLOW/2.0/region=us-east-1/accountId=222/eventDay=20261102/c.gz.parquet",
            "aws/VPC_FLOW/2.0/region=eu-west-1/accountId=111/eventDay=20261102/d.gz.parquet",
        ]);
        let window = Window {
            since: Some((2026, 11, 2)),
            until: Some((2026, 11, 2)),
            accounts: vec!["111".into()],
            regions: vec!["us-east-1".into()],
        };
        let uri = S3Uri::parse("s3://lake/aws/VPC_FLOW/").unwrap();
        let l = list(&b, &uri, &window).unwrap();
        assert_eq!(keys(&l), ["b.gz.parquet"]);
        assert_eq!(
            l.listed,
            ["aws/VPC_FLOW/2.0/region=us-east-1/accountId=111/eventDay=20261102/"]
        );
        // Without a window, each account's tree in full.
        let l = list(&b, &uri, &Window::default()).unwrap();
        assert_eq!(l.objects.len(), 4);
    }

    #[test]
    fn a_window_lists_its_days_only() {
        let b = bucket(&AWS);
        let window = Window {
            since: Some((2026, 11, 2)),
            until: Some((2026, 11, 3)),
            accounts: vec!["111".into()],
            regions: vec!["us-east-1".into()],
        };
        let uri = S3Uri::parse("s3://b/p/").unwrap();
        let l = list(&b, &uri, &window).unwrap();
        assert_eq!(keys(&l), ["b.log.gz", "c.log.gz"]);
        assert_eq!(
            l.listed,
            [
                "p/AWSLogs/111/vpcflowlogs/us-east-1/2026/11/02/",
                "p/AWSLogs/111/vpcflowlogs/us-east-1/2026/11/03/"
            ]
        );
        // Never a full listing above a day.
        assert!(
            b.calls.borrow().iter().all(|(p, delimited)| *delimited
                || p.ends_with("/11/02/")
                || p.ends_with("/11/03/"))
        );
    }

    #[test]
    fn hive_keys_and_no_window() {
        let b = bucket(&[
            "AWSLogs/aws-account-id=111/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=02/hour=07/a.parquet",
            "AWSLogs/aws-account-id=111/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=03/hour=01/b.parquet",
            "AWSLogs/aws-account-id=111/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=03/notes.txt",
        ]);
        let uri = S3Uri::parse("s3://b").unwrap();
        let all = list(&b, &uri, &Window::default()).unwrap();
        assert_eq!(keys(&all), ["a.parquet", "b.parquet"]);
        assert_eq!(all.skipped, 1);
        let one_day = Window {
            since: Some((2026, 11, 3)),
            until: Some((2026, 11, 3)),
            ..Window::default()
        };
        let l = list(&b, &uri, &one_day).unwrap();
        assert_eq!(keys(&l), ["b.parquet"]);
        assert_eq!(
            l.listed,
            [
                "AWSLogs/aws-account-id=111/aws-service=vpcflowlogs/aws-region=us-east-1/year=2026/month=11/day=03/"
            ]
        );
    }

    #[test]
    fn a_prefix_inside_the_layout_or_outside_any_is_listed_as_given() {
        let b = bucket(&AWS);
        let inside = S3Uri::parse("s3://b/p/AWSLogs/111/vpcflowlogs/us-east-1/2026/11/").unwrap();
        let w = Window {
            until: Some((2026, 11, 2)),
            ..Window::default()
        };
        assert_eq!(
            keys(&list(&b, &inside, &w).unwrap()),
            ["a.log.gz", "b.log.gz"]
        );
        let plain = bucket(&["copies/x.log.gz", "copies/y.parquet"]);
        let uri = S3Uri::parse("s3://b/copies/").unwrap();
        assert_eq!(
            keys(&list(&plain, &uri, &Window::default()).unwrap()),
            ["x.log.gz", "y.parquet"]
        );
    }
}
