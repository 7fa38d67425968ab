//! Where flow logs come from: files, directories (walked recursively, in name order) and
//! stdin; and what an AWS delivery key says about its object (account, region, date).

use std::fmt;
use std::path::{Path, PathBuf};

/// One input to read.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Source {
    /// A file on disk.
    File(PathBuf),
    /// Standard input (`-` on the command line).
    Stdin,
    /// Bytes already in memory (an object fetched over the network, a test), with the
    /// name messages use for it.
    Memory {
        /// Display name (an S3 key, say).
        name: String,
        /// The content, as stored (gzip and Parquet are detected as for files).
        data: bytes::Bytes,
    },
}

impl Source {
    /// A short name for messages: the path as given, or `<stdin>`.
    pub fn display_name(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "<stdin>".to_string(),
            Source::Memory { name, .. } => name.clone(),
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.display_name())
    }
}

/// A file a directory walk passed over, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Skipped {
    /// The file.
    pub path: PathBuf,
    /// Why it was not read.
    pub why: &'static str,
}

/// The sources found under the paths a user gave.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Discovery {
    /// The sources to read, files in path order within each directory.
    pub sources: Vec<Source>,
    /// Files inside directories that were not read (named explicitly, a file is always read).
    pub skipped: Vec<Skipped>,
}

/// A path that could not be walked.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
#[non_exhaustive]
pub struct DiscoveryError {
    /// The path.
    pub path: PathBuf,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// File names a directory walk reads: what AWS delivers and what people save it as.
const LOG_SUFFIXES: &[&str] = &[
    ".log", ".log.gz", ".gz", ".txt", ".parquet", ".json", ".json.gz", ".jsonl", ".ndjson",
];

/// An object of a CloudWatch Logs export task, once downloaded and unpacked: AWS names
/// them `000000.gz`, `000001.gz`, ... under `<prefix>/<task-id>/<log-stream>/`.
fn is_export_object(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())
}

/// Expands the paths a user gave: `-` is stdin, a file is read whatever its name, a
/// directory is walked recursively and its flow-log-named files read in name order.
pub fn discover(paths: &[PathBuf]) -> Result<Discovery, DiscoveryError> {
    let mut found = Discovery::default();
    for path in paths {
        if path.as_os_str() == "-" {
            found.sources.push(Source::Stdin);
            continue;
        }
        let meta = std::fs::metadata(path).map_err(|source| DiscoveryError {
            path: path.clone(),
            source,
        })?;
        if meta.is_dir() {
            walk(path, &mut found)?;
        } else {
            found.sources.push(Source::File(path.clone()));
        }
    }
    Ok(found)
}

fn walk(dir: &Path, found: &mut Discovery) -> Result<(), DiscoveryError> {
    let err = |source| DiscoveryError {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<(PathBuf, std::fs::FileType)> = std::fs::read_dir(dir)
        .map_err(err)?
        .map(|e| e.and_then(|e| Ok((e.path(), e.file_type()?))))
        .collect::<Result<_, _>>()
        .map_err(err)?;
    entries.sort_by(|a, b| a.0.cmp(&b.0));
    for (path, file_type) in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if file_type.is_dir() {
            walk(&path, found)?;
        } else if LOG_SUFFIXES.iter().any(|s| name.ends_with(s)) || is_export_object(&name) {
            found.sources.push(Source::File(path));
        } else {
            found.skipped.push(Skipped {
                path,
                why: "not a flow log file name",
            });
        }
    }
    Ok(())
}

/// What the S3 key of a delivered flow log object says about it.
///
/// Recognises `.../AWSLogs/{account}/vpcflowlogs/{region}/{yyyy}/{mm}/{dd}/[{HH}/]{file}`
/// and the Hive-compatible `.../AWSLogs/aws-account-id={account}/aws-service=vpcflowlogs/
/// aws-region={region}/year=/month=/day=/[hour=/]{file}`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeliveryKey {
    /// The account that owns the flow log.
    pub account: String,
    /// The flow log's region.
    pub region: String,
    /// Delivery date, `(year, month, day)`.
    pub date: (u16, u8, u8),
    /// Delivery hour, for per-hour partitions.
    pub hour: Option<u8>,
    /// The flow log id (`fl-...`) from the file name, when it follows AWS's naming.
    pub flow_log_id: Option<String>,
}

impl DeliveryKey {
    /// Parses a key or path; `None` when it does not follow a delivery layout.
    pub fn parse(key: &str) -> Option<DeliveryKey> {
        let parts: Vec<&str> = key.split('/').collect();
        if let Some(lake) = DeliveryKey::security_lake(&parts) {
            return Some(lake);
        }
        let at = parts.iter().rposition(|p| *p == "AWSLogs")?;
        let rest = &parts[at + 1..];
        let file = *rest.last()?;
        let dirs = &rest[..rest.len() - 1];
        let (account, service, region, date_parts) = match dirs {
            [a, s, r, date @ ..] if a.starts_with("aws-account-id=") => (
                a.strip_prefix("aws-account-id=")?,
                s.strip_prefix("aws-service=")?,
                r.strip_prefix("aws-region=")?,
                date.iter()
                    .zip(["year=", "month=", "day=", "hour="])
                    .map(|(d, prefix)| d.strip_prefix(prefix))
                    .collect::<Option<Vec<&str>>>()?,
            ),
            [a, s, r, date @ ..] => (*a, *s, *r, date.to_vec()),
            _ => return None,
        };
        if service != "vpcflowlogs" || !(3..=4).contains(&date_parts.len()) {
            return None;
        }
        let num = |s: &str, max: u16| s.parse::<u16>().ok().filter(|n| *n <= max);
        let year = num(date_parts[0], 9999)?;
        let month = num(date_parts[1], 12)? as u8;
        let day = num(date_parts[2], 31)? as u8;
        let hour = match date_parts.get(3) {
            Some(h) => Some(num(h, 23)? as u8),
            None => None,
        };
        // {account}_vpcflowlogs_{region}_{flow-log-id}_{YYYYMMDDTHHmmZ}_{hash}.log.gz
        let flow_log_id = file
            .split('_')
            .nth(3)
            .filter(|id| id.starts_with("fl-"))
            .map(str::to_string);
        Some(DeliveryKey {
            account: account.to_string(),
            region: region.to_string(),
            date: (year, month, day),
            hour,
            flow_log_id,
        })
    }
}

impl DeliveryKey {
    /// Amazon Security Lake's layout: `.../aws/VPC_FLOW/{version}/region={region}/
    /// accountId={account}/eventDay={YYYYMMDD}/{file}`.
    fn security_lake(parts: &[&str]) -> Option<DeliveryKey> {
        let at = parts.iter().rposition(|p| *p == "VPC_FLOW")?;
        let [_version, region, account, day, _file] = parts.get(at + 1..)? else {
            return None;
        };
        let region = region.strip_prefix("region=")?;
        let account = account.strip_prefix("accountId=")?;
        let day = day.strip_prefix("eventDay=")?;
        if day.len() != 8 || !day.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let (year, month, date) = (
            day[..4].parse().ok()?,
            day[4..6].parse().ok().filter(|m| (1..=12).contains(m))?,
            day[6..].parse().ok().filter(|d| (1..=31).contains(d))?,
        );
        Some(DeliveryKey {
            account: account.to_string(),
            region: region.to_string(),
            date: (year, month, date),
            hour: None,
            flow_log_id: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recognises_security_lakes_layout() {
        let k = DeliveryKey::parse(
            "lake/aws/VPC_FLOW/2.0/region=eu-west-1/accountId=123456789012/eventDay=20261102/ab12.gz.parquet",
        )
        .unwrap();
        assert_eq!(
            (k.account.as_str(), k.region.as_str(), k.date),
            ("123456789012", "eu-west-1", (2026, 11, 2))
        );
        assert!(
            DeliveryKey::parse("aws/VPC_FLOW/2.0/region=x/accountId=1/eventDay=2026-11-02/f")
                .is_none()
        );
    }

    #[test]
    fn recognises_both_delivery_layouts() {
        let plain = DeliveryKey::parse(
            "logs/AWSLogs/123456789012/vpcflowlogs/us-east-1/2026/11/02/123456789012_vpcflowlogs_us-east-1_fl-0abc_20261102T0005Z_1a2b3c4d.log.gz",
        )
        .unwrap();
        assert_eq!(plain.account, "123456789012");
        assert_eq!(plain.region, "us-east-1");
        assert_eq!(plain.date, (2026, 11, 2));
        assert_eq!(plain.hour, None);
        assert_eq!(plain.flow_log_id.as_deref(), Some("fl-0abc"));

        let hive = DeliveryKey::parse(
            "AWSLogs/aws-account-id=123456789012/aws-service=vpcflowlogs/aws-region=eu-west-1/year=2026/month=01/day=31/hour=07/x.log.parquet",
        )
        .unwrap();
        assert_eq!(hive.region, "eu-west-1");
        assert_eq!(hive.date, (2026, 1, 31));
        assert_eq!(hive.hour, Some(7));
        assert_eq!(hive.flow_log_id, None);
    }

    #[test]
    fn other_keys_are_not_delivery_keys() {
        assert_eq!(DeliveryKey::parse("some/file.log.gz"), None);
        assert_eq!(
            DeliveryKey::parse(
                "AWSLogs/123456789012/elasticloadbalancing/us-east-1/2026/11/02/x.log.gz"
            ),
            None
        );
        assert_eq!(
            DeliveryKey::parse("AWSLogs/1/vpcflowlogs/r/2026/13/02/x.log.gz"),
            None
        );
    }

    #[test]
    fn walks_directories_in_name_order_and_reports_skips() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("b");
        std::fs::create_dir(&sub).unwrap();
        for name in [
            "b/2.log.gz",
            "a.log",
            "notes.md",
            "c.parquet",
            ".hidden.log",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let found = discover(&[dir.path().to_path_buf(), PathBuf::from("-")]).unwrap();
        let names: Vec<String> = found
            .sources
            .iter()
            .map(|s| match s {
                Source::File(p) => p.strip_prefix(dir.path()).unwrap().display().to_string(),
                other => other.display_name(),
            })
            .collect();
        assert_eq!(names, ["a.log", "b/2.log.gz", "c.parquet", "<stdin>"]);
        assert_eq!(found.skipped.len(), 1);
        assert!(found.skipped[0].path.ends_with("notes.md"));
        assert!(discover(&[dir.path().join("missing")]).is_err());
    }
}
