//! AWS's published address ranges (`ip-ranges.json`, from
//! `https://ip-ranges.amazonaws.com/ip-ranges.json`): which service and region an
//! address belongs to.
//!
//! The file lists every range under `AMAZON` and again under the service that uses it
//! (`EC2`, `S3`, `CLOUDFRONT`, ...); a lookup gives the most specific range, a named
//! service before `AMAZON`.

use std::collections::{BTreeSet, HashMap};
use std::net::IpAddr;
use std::path::Path;

use ipnet::IpNet;
use serde::Deserialize;

use crate::InventoryError;

/// Where an address is in AWS: a service in a region (`GLOBAL` for CloudFront's edge).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AwsRange {
    /// The range.
    pub prefix: IpNet,
    /// `EC2`, `S3`, `CLOUDFRONT`, ..., or `AMAZON` for a range no service names.
    pub service: String,
    /// `us-east-1`, or `GLOBAL`.
    pub region: String,
}

/// `ip-ranges.json`, indexed for lookups.
#[derive(Clone, Debug, Default)]
pub struct AwsIpRanges {
    /// Ranges by network (the prefix truncated), several services sharing one.
    by_prefix: HashMap<IpNet, Vec<AwsRange>>,
    /// The prefix lengths present, so a lookup tries each once.
    lens: BTreeSet<u8>,
    /// The file's `createDate`.
    pub created: String,
}

#[derive(Deserialize)]
struct File {
    #[serde(default, rename = "createDate")]
    create_date: String,
    prefixes: Vec<V4>,
    #[serde(default)]
    ipv6_prefixes: Vec<V6>,
}

#[derive(Deserialize)]
struct V4 {
    ip_prefix: String,
    region: String,
    service: String,
}

#[derive(Deserialize)]
struct V6 {
    ipv6_prefix: String,
    region: String,
    service: String,
}

impl AwsIpRanges {
    /// Reads `ip-ranges.json`; an error names the file, and the value that isn't a
    /// prefix.
    pub fn load(path: &Path) -> Result<AwsIpRanges, InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Io {
            path: path.into(),
            source,
        })?;
        AwsIpRanges::parse(&text).map_err(|e| match e {
            ParseError::Json(source) => InventoryError::Json {
                path: path.into(),
                source,
            },
            ParseError::Prefix(value) => InventoryError::BadValue {
                path: path.into(),
                what: "an address prefix (ip_prefix, ipv6_prefix)".into(),
                value,
            },
        })
    }

    fn parse(text: &str) -> Result<AwsIpRanges, ParseError> {
        let file: File = serde_json::from_str(text).map_err(ParseError::Json)?;
        let mut ranges = AwsIpRanges {
            created: file.create_date,
            ..AwsIpRanges::default()
        };
        let v4 = file
            .prefixes
            .into_iter()
            .map(|p| (p.ip_prefix, p.service, p.region));
        let v6 = file
            .ipv6_prefixes
            .into_iter()
            .map(|p| (p.ipv6_prefix, p.service, p.region));
        for (prefix, service, region) in v4.chain(v6) {
            let net: IpNet = prefix.parse().map_err(|_| ParseError::Prefix(prefix))?;
            let net = net.trunc();
            ranges.lens.insert(net.prefix_len());
            ranges.by_prefix.entry(net).or_default().push(AwsRange {
                prefix: net,
                service,
                region,
            });
        }
        Ok(ranges)
    }

    /// The most specific range holding `address`: the longest prefix, and a named service
    /// before `AMAZON`.
    pub fn lookup(&self, address: IpAddr) -> Option<&AwsRange> {
        self.lens
            .iter()
            .rev()
            .filter_map(|&len| IpNet::new(address, len).ok())
            .filter_map(|net| self.by_prefix.get(&net.trunc()))
            .flat_map(|ranges| {
                // Within one prefix, a named service before AMAZON, then by name.
                let mut sorted: Vec<&AwsRange> = ranges.iter().collect();
                sorted.sort_by_key(|r| (r.service == "AMAZON", &r.service, &r.region));
                sorted
            })
            .next()
    }

    /// Every range of `service` in `region` (what an AWS-managed prefix list such as
    /// `com.amazonaws.us-east-1.s3` holds).
    pub fn of_service(&self, service: &str, region: &str) -> Vec<IpNet> {
        let mut nets: Vec<IpNet> = self
            .by_prefix
            .values()
            .flatten()
            .filter(|r| r.service.eq_ignore_ascii_case(service) && r.region == region)
            .map(|r| r.prefix)
            .collect();
        nets.sort_unstable();
        nets.dedup();
        nets
    }
}

enum ParseError {
    Json(serde_json::Error),
    Prefix(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) const SAMPLE: &str = r#"{
      "syncToken": "1764979200", "createDate": "2026-12-01-12-00-00",
      "prefixes": [
        {"ip_prefix": "52.216.0.0/15", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
        {"ip_prefix": "52.216.0.0/15", "region": "us-east-1", "service": "S3", "network_border_group": "us-east-1"},
        {"ip_prefix": "3.80.0.0/12", "region": "us-east-1", "service": "AMAZON", "network_border_group": "us-east-1"},
        {"ip_prefix": "3.80.0.0/12", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"},
        {"ip_prefix": "13.32.0.0/15", "region": "GLOBAL", "service": "CLOUDFRONT", "network_border_group": "GLOBAL"},
        {"ip_prefix": "13.32.0.0/15", "region": "GLOBAL", "service": "AMAZON", "network_border_group": "GLOBAL"},
        {"ip_prefix": "15.0.0.0/8", "region": "us-west-2", "service": "AMAZON", "network_border_group": "us-west-2"}
      ],
      "ipv6_prefixes": [
        {"ipv6_prefix": "2600:1f18::/33", "region": "us-east-1", "service": "EC2", "network_border_group": "us-east-1"}
      ]
    }"#;

    #[test]
    fn the_most_specific_service_names_an_address() {
        let r = AwsIpRanges::parse(SAMPLE).ok().unwrap();
        let at = |a: &str| {
            r.lookup(a.parse().unwrap())
                .map(|x| (x.service.as_str(), x.region.as_str()))
        };
        assert_eq!(at("52.217.4.1"), Some(("S3", "us-east-1")));
        assert_eq!(at("3.85.0.9"), Some(("EC2", "us-east-1")));
        assert_eq!(at("13.33.1.1"), Some(("CLOUDFRONT", "GLOBAL")));
        assert_eq!(at("15.1.2.3"), Some(("AMAZON", "us-west-2")));
        assert_eq!(at("2600:1f18:4::1"), Some(("EC2", "us-east-1")));
        assert_eq!(at("198.51.100.7"), None);
        assert_eq!(
            r.of_service("s3", "us-east-1"),
            ["52.216.0.0/15".parse::<IpNet>().unwrap()]
        );
        assert_eq!(r.created, "2026-12-01-12-00-00");
    }

    #[test]
    fn a_bad_prefix_is_named() {
        let dir = std::env::temp_dir().join(format!("ff-ranges-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("ip-ranges.json");
        std::fs::write(&path, SAMPLE.replace("3.80.0.0/12", "3.80.0.0/40")).unwrap();
        let err = AwsIpRanges::load(&path).unwrap_err().to_string();
        assert!(
            err.contains("ip-ranges.json")
                && err.contains("`3.80.0.0/40` is not an address prefix"),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
