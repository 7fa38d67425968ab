//! Writing an environment out: flow logs in the forms AWS delivers them, the inventory as
//! the AWS CLI prints it, and the truth.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use flate2::Compression;
use flate2::write::GzEncoder;
use flowfence_flowlog::{Layout, ParquetRecordWriter, Record, Unit, decode_block};
use rayon::prelude::*;
use serde_json::{Value, json};

use crate::env::{ACCOUNT, Edge, Endpoint, Environment, Peer, REGION, Rule, Shape};
use crate::flows::{FileFlows, Format, WINDOW, WINDOWS_PER_FILE};
use crate::rng::Rng;

/// The flow log id in generated file names.
pub const FLOW_LOG_ID: &str = "fl-0a1b2c3d4e5f67890";

/// The forms flow logs are delivered in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// S3 text, default format, `.log.gz` with a header line.
    S3TextV2,
    /// S3 text, every v2-v5 field (custom format), `.log.gz` with a header line.
    S3TextV5,
    /// S3 Parquet (v5 fields), Hive-compatible key layout.
    S3Parquet,
    /// `aws logs filter-log-events` output of a CloudWatch Logs flow log (default format).
    CloudWatch,
    /// Amazon Security Lake: OCSF 1.1 Network Activity Parquet (source version 2) under
    /// `aws/VPC_FLOW/2.0/region=/accountId=/eventDay=/`.
    SecurityLake,
    /// `aws logs create-export-task` objects of a CloudWatch Logs flow log in `format`:
    /// `exportedlogs/<task-id>/<eni>-all/000000.gz`, each line an ingestion time and a
    /// record, no header.
    CloudWatchExport(Format),
}

/// A span of time to generate.
#[derive(Clone, Copy, Debug)]
pub struct Span {
    /// First window's start, Unix seconds (a multiple of the file length).
    pub start: u64,
    /// Number of five-minute files.
    pub files: u64,
    /// Connection rate multiplier.
    pub scale: f64,
    /// Where the training window ends, as a fraction of the span: files from there on go
    /// under `continuation/`, the others under `training/` (`None`: all in one tree).
    pub continuation_from: Option<f64>,
}

impl Span {
    /// The folder file `i` is written under.
    fn folder(&self, i: u64, dir: &Path) -> PathBuf {
        match self.continuation_from {
            None => dir.to_path_buf(),
            Some(f) if (i as f64) < f * self.files as f64 => dir.join("training"),
            Some(_) => dir.join("continuation"),
        }
    }
}

/// Unix seconds of midnight UTC on a date.
pub fn unix_day(year: i64, month: u32, day: u32) -> u64 {
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (i64::from(month) + 9) % 12;
    let doy = (153 * mp + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    ((era * 146_097 + doe - 719_468) * 86_400) as u64
}

fn civil(unix: u64) -> (i64, u32, u32, u32, u32) {
    let days = (unix / 86_400) as i64;
    let secs = unix % 86_400;
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (
        year,
        month,
        day,
        (secs / 3600) as u32,
        ((secs % 3600) / 60) as u32,
    )
}

/// The S3 key AWS would give the object delivered for the file starting at `start`.
fn s3_key(form: Form, start: u64, rng: &mut Rng) -> String {
    let (y, m, d, hh, mm) = civil(start + WINDOWS_PER_FILE * WINDOW);
    let hash = format!("{:08x}", rng.next_u64() as u32);
    let file = format!(
        "{ACCOUNT}_vpcflowlogs_{REGION}_{FLOW_LOG_ID}_{y:04}{m:02}{d:02}T{hh:02}{mm:02}Z_{hash}"
    );
    match form {
        Form::SecurityLake => format!(
            "aws/VPC_FLOW/2.0/region={REGION}/accountId={ACCOUNT}/eventDay={y:04}{m:02}{d:02}/{hash}{hh:02}{mm:02}.gz.parquet"
        ),
        Form::S3Parquet => format!(
            "AWSLogs/aws-account-id={ACCOUNT}/aws-service=vpcflowlogs/aws-region={REGION}/year={y:04}/month={m:02}/day={d:02}/{file}.log.parquet"
        ),
        _ => format!("AWSLogs/{ACCOUNT}/vpcflowlogs/{REGION}/{y:04}/{m:02}/{d:02}/{file}.log.gz"),
    }
}

/// What was written.
#[derive(Debug, Default)]
pub struct Written {
    /// Files.
    pub files: Vec<PathBuf>,
    /// Records.
    pub records: u64,
    /// Text bytes (before compression).
    pub text_bytes: u64,
}

impl Written {
    fn add(mut self, other: Written) -> Written {
        self.files.extend(other.files);
        self.records += other.records;
        self.text_bytes += other.text_bytes;
        self
    }
}

/// Writes `span` of the environment's traffic under `dir` in `form`. Files are generated
/// in parallel; each file's content depends only on the seed and its start time.
pub fn write_logs(
    env: &Environment,
    seed: u64,
    form: Form,
    span: Span,
    dir: &Path,
) -> anyhow::Result<Written> {
    if form == Form::CloudWatch {
        return write_cloudwatch(env, seed, span, dir);
    }
    if let Form::CloudWatchExport(format) = form {
        return write_cloudwatch_export(env, seed, span, format, dir);
    }
    let file_secs = WINDOWS_PER_FILE * WINDOW;
    let written = (0..span.files)
        .into_par_iter()
        .map(|i| -> anyhow::Result<Written> {
            let start = span.start + i * file_secs;
            let stream = start / file_secs;
            let progress = i as f64 / span.files as f64;
            let flows = FileFlows::generate(env, seed, stream, start, span.scale, progress);
            let format = if form == Form::S3TextV2 {
                Format::V2
            } else {
                Format::V5
            };
            let mut text = String::with_capacity(flows.len() * 260);
            text.push_str(format.fields());
            text.push('\n');
            flows.write_lines(env, format, &mut text);
            let path = span.folder(i, dir).join(s3_key(
                form,
                start,
                &mut Rng::fork(seed ^ 0x5eed, stream),
            ));
            std::fs::create_dir_all(path.parent().expect("keys have folders"))?;
            let file = std::fs::File::create(&path).with_context(|| path.display().to_string())?;
            let mut out = std::io::BufWriter::new(file);
            if form == Form::S3Parquet {
                write_parquet(&text, &mut out)?;
            } else if form == Form::SecurityLake {
                write_ocsf(&text, &mut out)?;
            } else {
                let mut gz = GzEncoder::new(out, Compression::new(5));
                gz.write_all(text.as_bytes())?;
                out = gz.finish()?;
            }
            out.flush()?;
            Ok(Written {
                files: vec![path],
                records: flows.len() as u64,
                text_bytes: text.len() as u64,
            })
        })
        .try_reduce(Written::default, |a, b| Ok(a.add(b)))?;
    let mut written = written;
    written.files.sort();
    Ok(written)
}

/// The layout generated text declares on its header line.
fn header_layout(text: &str) -> anyhow::Result<Arc<Layout>> {
    let header = text.lines().next().unwrap_or_default();
    Ok(Arc::new(
        Layout::from_header_line(header).context("header")?,
    ))
}

/// Each record of generated text, parsed by the flowfence parser; a line it rejects is an
/// error (generated text must be valid).
fn each_record(
    text: &str,
    layout: &Arc<Layout>,
    sink: &mut impl FnMut(&Record<'_>),
) -> anyhow::Result<()> {
    let outcome = decode_block(text.as_bytes(), layout, Unit::Line, sink);
    anyhow::ensure!(
        outcome.tally.is_empty(),
        "generated text did not parse: {:?}",
        outcome.tally.examples()
    );
    Ok(())
}

/// Parses generated text with the flowfence parser and writes it as AWS-shaped Parquet.
fn write_parquet(text: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let layout = header_layout(text)?;
    let mut buf = Vec::new();
    let mut writer = ParquetRecordWriter::new(&mut buf, Arc::clone(&layout))?;
    each_record(text, &layout, &mut |r: &Record<'_>| writer.push(r))?;
    writer.finish()?;
    out.write_all(&buf)?;
    Ok(())
}

/// Parses generated text with the flowfence parser and writes it as Security Lake does.
fn write_ocsf(text: &str, out: &mut impl Write) -> anyhow::Result<()> {
    let mut columns = crate::ocsf::OcsfColumns::default();
    each_record(text, &header_layout(text)?, &mut |r: &Record<'_>| {
        columns.push(r)
    })?;
    out.write_all(&columns.into_parquet()?)?;
    Ok(())
}

/// `aws logs filter-log-events` output: one event per record, default format, one log
/// stream per interface (`eni-...-all`), as the CLI prints it.
fn write_cloudwatch(
    env: &Environment,
    seed: u64,
    span: Span,
    dir: &Path,
) -> anyhow::Result<Written> {
    let file_secs = WINDOWS_PER_FILE * WINDOW;
    let mut events = Vec::new();
    let mut records = 0;
    for i in 0..span.files {
        let start = span.start + i * file_secs;
        let progress = i as f64 / span.files as f64;
        let flows = FileFlows::generate(env, seed, start / file_secs, start, span.scale, progress);
        records += flows.len() as u64;
        for (n, (eni, line)) in flows.lines(env, Format::V2).into_iter().enumerate() {
            let ts = start * 1000 + n as u64;
            events.push(json!({
                "logStreamName": format!("{eni}-all"),
                "timestamp": ts,
                "message": line,
                "ingestionTime": ts + 312_000,
                "eventId": format!("{:056}", ts * 1000 + n as u64),
            }));
        }
    }
    let doc = json!({ "events": events, "searchedLogStreams": [] });
    std::fs::create_dir_all(dir)?;
    let path = dir.join("filter-log-events.json");
    let text = serde_json::to_string_pretty(&doc)?;
    std::fs::write(&path, &text)?;
    Ok(Written {
        files: vec![path],
        records,
        text_bytes: text.len() as u64,
    })
}

/// The task id in generated export paths.
pub const EXPORT_TASK_ID: &str = "2e4c9c8f-2f7a-4c35-9d4f-6f0a1b2c3d4e";

/// `create-export-task` output: per log stream (`eni-...-all`), one gzip object of lines
/// `<ingestion time, ISO-8601> <record>`, in time order.
fn write_cloudwatch_export(
    env: &Environment,
    seed: u64,
    span: Span,
    format: Format,
    dir: &Path,
) -> anyhow::Result<Written> {
    let file_secs = WINDOWS_PER_FILE * WINDOW;
    let mut streams: std::collections::BTreeMap<String, String> = Default::default();
    let mut records = 0;
    for i in 0..span.files {
        let start = span.start + i * file_secs;
        let progress = i as f64 / span.files as f64;
        let flows = FileFlows::generate(env, seed, start / file_secs, start, span.scale, progress);
        records += flows.len() as u64;
        for (n, (eni, line)) in flows.lines(env, format).into_iter().enumerate() {
            // Ingested a few minutes after the window, as CloudWatch does.
            let ms = (start + file_secs) * 1000 + n as u64;
            let (y, m, d, hh, mm) = civil(ms / 1000);
            let text = streams.entry(eni).or_default();
            let _ = std::fmt::Write::write_fmt(
                text,
                format_args!(
                    "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{:02}.{:03}Z {line}\n",
                    ms / 1000 % 60,
                    ms % 1000
                ),
            );
        }
    }
    let mut written = Written {
        records,
        ..Written::default()
    };
    for (eni, text) in streams {
        let folder = dir
            .join("exportedlogs")
            .join(EXPORT_TASK_ID)
            .join(format!("{eni}-all"));
        std::fs::create_dir_all(&folder)?;
        let path = folder.join("000000.gz");
        let mut gz = GzEncoder::new(std::fs::File::create(&path)?, Compression::new(5));
        gz.write_all(text.as_bytes())?;
        gz.finish()?;
        written.text_bytes += text.len() as u64;
        written.files.push(path);
    }
    Ok(written)
}

fn rule_json(rule: &Rule) -> Value {
    let mut perm = json!({ "IpProtocol": rule.protocol, "IpRanges": [], "Ipv6Ranges": [], "PrefixListIds": [], "UserIdGroupPairs": [] });
    match (rule.from, rule.to) {
        (Some(from), Some(to)) => {
            perm["FromPort"] = json!(from);
            perm["ToPort"] = json!(to);
        }
        // Every ICMP type and code, as AWS writes it.
        _ if rule.protocol == "icmp" => {
            perm["FromPort"] = json!(-1);
            perm["ToPort"] = json!(-1);
        }
        _ => {}
    }
    match &rule.peer {
        Peer::Cidr(c) => perm["IpRanges"] = json!([{ "CidrIp": c }]),
        Peer::Group(g) => perm["UserIdGroupPairs"] = json!([{ "GroupId": g, "UserId": ACCOUNT }]),
    }
    perm
}

/// Writes `describe-network-interfaces.json`, `describe-security-groups.json`,
/// `describe-prefix-lists.json` and (elbv2) `describe-load-balancers.json` as the AWS CLI
/// prints them.
pub fn write_inventory(env: &Environment, dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let group_name = |id: &str| {
        env.groups
            .iter()
            .find(|g| g.id == id)
            .map_or("", |g| g.name)
    };
    let interfaces: Vec<Value> = env
        .interfaces
        .iter()
        .map(|i| {
            let mut v = json!({
                "AvailabilityZone": if i.az_id == "use1-az1" { "us-east-1a" } else { "us-east-1b" },
                "Description": i.description,
                "Groups": i.groups.iter().map(|g| json!({"GroupName": group_name(g), "GroupId": g})).collect::<Vec<_>>(),
                "InterfaceType": i.interface_type,
                "Ipv6Addresses": [],
                "MacAddress": "02:00:00:00:00:00",
                "NetworkInterfaceId": i.id,
                "OwnerId": ACCOUNT,
                "PrivateIpAddress": i.ip.to_string(),
                "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": i.ip.to_string()}],
                "RequesterManaged": i.requester.is_some(),
                "SourceDestCheck": i.interface_type != "nat_gateway",
                "Status": "in-use",
                "SubnetId": i.subnet,
                "TagSet": i.asg.map(|a| vec![json!({"Key": "aws:autoscaling:groupName", "Value": a})]).unwrap_or_default(),
                "VpcId": env.vpc,
            });
            if let Some(r) = i.requester {
                v["RequesterId"] = json!(r);
            }
            if let Some(public) = i.public_ip {
                let association = json!({
                    "IpOwnerId": "amazon",
                    "PublicDnsName": format!("ec2-{}.compute-1.amazonaws.com", public.to_string().replace('.', "-")),
                    "PublicIp": public.to_string(),
                });
                v["Association"] = association.clone();
                v["PrivateIpAddresses"][0]["Association"] = association;
            }
            if let Some(prefix) = i.pod_prefix {
                v["Ipv4Prefixes"] = json!([{ "Ipv4Prefix": format!("{prefix}/28") }]);
            }
            if let Some(inst) = &i.instance {
                v["Attachment"] = json!({
                    "AttachmentId": format!("eni-attach-{}", &i.id[4..]),
                    "DeleteOnTermination": true,
                    "DeviceIndex": 0,
                    "InstanceId": inst,
                    "InstanceOwnerId": ACCOUNT,
                    "Status": "attached",
                });
            }
            v
        })
        .collect();
    let groups: Vec<Value> = env
        .groups
        .iter()
        .map(|g| {
            json!({
                "Description": g.description,
                "GroupId": g.id,
                "GroupName": g.name,
                "IpPermissions": g.ingress.iter().map(rule_json).collect::<Vec<_>>(),
                "IpPermissionsEgress": g.egress.iter().map(rule_json).collect::<Vec<_>>(),
                "OwnerId": ACCOUNT,
                "VpcId": env.vpc,
            })
        })
        .collect();
    let prefix_lists = json!({ "PrefixLists": [{
        "Cidrs": env.s3_cidrs,
        "PrefixListId": env.s3_prefix_list,
        "PrefixListName": format!("com.amazonaws.{REGION}.s3"),
    }]});
    let write = |name: &str, v: Value| -> anyhow::Result<()> {
        std::fs::write(dir.join(name), serde_json::to_string_pretty(&v)? + "\n")?;
        Ok(())
    };
    write(
        "describe-network-interfaces.json",
        json!({ "NetworkInterfaces": interfaces }),
    )?;
    write(
        "describe-security-groups.json",
        json!({ "SecurityGroups": groups }),
    )?;
    write("describe-prefix-lists.json", prefix_lists)?;
    // `aws autoscaling describe-auto-scaling-groups` and `aws ec2
    // describe-launch-template-versions`: each tier's group launches from a template
    // whose one version puts instances in the groups today's members have.
    let mut asgs: Vec<Value> = Vec::new();
    let mut versions: Vec<Value> = Vec::new();
    let mut tiers: Vec<&'static str> = env.interfaces.iter().filter_map(|i| i.asg).collect();
    tiers.dedup();
    for asg in tiers {
        let members: Vec<&crate::env::Interface> = env
            .interfaces
            .iter()
            .filter(|i| i.asg == Some(asg))
            .collect();
        let template = format!(
            "lt-{:017x}",
            asg.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
                (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
            })
        );
        asgs.push(json!({
            "AutoScalingGroupName": asg,
            "AutoScalingGroupARN": format!("arn:aws:autoscaling:{REGION}:{ACCOUNT}:autoScalingGroup:00000000-0000-0000-0000-000000000000:autoScalingGroupName/{asg}"),
            "LaunchTemplate": {"LaunchTemplateId": template, "LaunchTemplateName": asg, "Version": "$Latest"},
            "MinSize": members.len(),
            "MaxSize": members.len() * 2,
            "DesiredCapacity": members.len(),
            "Instances": members.iter().map(|m| json!({
                "InstanceId": m.instance,
                "AvailabilityZone": if m.az_id == "use1-az1" { "us-east-1a" } else { "us-east-1b" },
                "LifecycleState": "InService",
                "HealthStatus": "Healthy",
                "LaunchTemplate": {"LaunchTemplateId": template, "LaunchTemplateName": asg, "Version": "1"},
            })).collect::<Vec<_>>(),
            "VPCZoneIdentifier": members.iter().map(|m| m.subnet.as_str()).collect::<Vec<_>>().join(","),
        }));
        versions.push(json!({
            "LaunchTemplateId": template,
            "LaunchTemplateName": asg,
            "VersionNumber": 1,
            "CreateTime": "2026-10-01T12:00:00+00:00",
            "CreatedBy": format!("arn:aws:iam::{ACCOUNT}:root"),
            "DefaultVersion": true,
            "LaunchTemplateData": {
                "ImageId": "ami-0123456789abcdef0",
                "InstanceType": "m6i.large",
                "SecurityGroupIds": members[0].groups,
            },
        }));
    }
    if !asgs.is_empty() {
        write(
            "describe-auto-scaling-groups.json",
            json!({ "AutoScalingGroups": asgs }),
        )?;
        write(
            "describe-launch-template-versions.json",
            json!({ "LaunchTemplateVersions": versions }),
        )?;
    }
    // `aws elbv2 describe-load-balancers`: the public load balancer and its scheme.
    let albs: Vec<&crate::env::Interface> =
        env.interfaces.iter().filter(|i| i.role == "alb").collect();
    if let Some(first) = albs.first() {
        let key = first
            .description
            .strip_prefix("ELB ")
            .expect("load balancer interfaces name it");
        let name = key.split('/').nth(1).unwrap_or(key);
        let lb = json!({
            "LoadBalancerArn": format!("arn:aws:elasticloadbalancing:{REGION}:{ACCOUNT}:loadbalancer/{key}"),
            "DNSName": format!("{name}-1234567890.{REGION}.elb.amazonaws.com"),
            "CanonicalHostedZoneId": "Z35SXDOTRQ7X7K",
            "LoadBalancerName": name,
            "Scheme": "internet-facing",
            "VpcId": env.vpc,
            "State": {"Code": "active"},
            "Type": "application",
            "AvailabilityZones": albs.iter().map(|i| json!({
                "ZoneName": if i.az_id == "use1-az1" { "us-east-1a" } else { "us-east-1b" },
                "SubnetId": i.subnet,
                "LoadBalancerAddresses": [],
            })).collect::<Vec<_>>(),
            "SecurityGroups": first.groups,
            "IpAddressType": "ipv4",
        });
        write(
            "describe-load-balancers.json",
            json!({ "LoadBalancers": [lb] }),
        )?;
    }
    Ok(())
}

/// One connection of `truth.json`: (client, server, protocol, port), by role name
/// (`web`), or `internet`, `office:CIDR`, `partner:CIDRS`, `aws-service:NAME`.
pub type TrueEdge = (String, String, u8, u16);

/// `truth.json` read back: which interfaces have which role, and the connections roles
/// make. The tests' reference for what flowfence must recover.
#[derive(Clone, Debug, serde::Deserialize)]
pub struct Truth {
    /// Interface ids per role.
    pub roles: std::collections::BTreeMap<String, Vec<String>>,
    edges: Vec<TruthEdgeJson>,
}

#[derive(Clone, Debug, serde::Deserialize)]
struct TruthEdgeJson {
    client: String,
    server: String,
    protocol: u8,
    port: u16,
    #[serde(default)]
    onset: f64,
}

impl Truth {
    /// Reads a `truth.json` [`write_truth`] wrote.
    pub fn read(path: &Path) -> anyhow::Result<Truth> {
        Ok(serde_json::from_slice(&std::fs::read(path)?)?)
    }

    /// The role of an interface.
    pub fn role_of(&self, eni: &str) -> Option<&str> {
        self.roles
            .iter()
            .find(|(_, ids)| ids.iter().any(|i| i == eni))
            .map(|(r, _)| r.as_str())
    }

    /// The connections.
    pub fn edges(&self) -> std::collections::BTreeSet<TrueEdge> {
        self.edges_before(f64::INFINITY)
    }

    /// The connections that started before `fraction` of the generated span: what a
    /// plan learned from that part of the logs can know.
    pub fn edges_before(&self, fraction: f64) -> std::collections::BTreeSet<TrueEdge> {
        self.edges
            .iter()
            .filter(|e| e.onset < fraction)
            .map(|e| (e.client.clone(), e.server.clone(), e.protocol, e.port))
            .collect()
    }
}

/// Writes `truth.json`: the roles' interfaces and the connections between roles.
pub fn write_truth(env: &Environment, seed: u64, path: &Path) -> anyhow::Result<()> {
    let name = |e: Endpoint| match e {
        Endpoint::Role(r) | Endpoint::Member(r, _) | Endpoint::Pod(r) => r.to_string(),
        Endpoint::Internet => "internet".into(),
        Endpoint::Partner => "partner:198.51.100.0/24,192.0.2.0/24".into(),
        Endpoint::Office => "office:203.0.113.0/24".into(),
        Endpoint::S3 => "aws-service:S3".into(),
    };
    let mut roles = serde_json::Map::new();
    for i in &env.interfaces {
        let list = roles.entry(i.role).or_insert_with(|| json!([]));
        list.as_array_mut().expect("array").push(json!(i.id));
    }
    let edge = |e: &Edge| {
        let mut v = json!({"client": name(e.client), "server": name(e.server), "protocol": e.protocol, "port": e.port});
        if e.onset > 0.0 {
            v["onset"] = json!(e.onset);
        }
        v
    };
    // Needs are what worked (a one-way flow is its sender's need); refused and rejected
    // attempts never did, so are not needs.
    let (needs, attempts): (Vec<&Edge>, Vec<&Edge>) = env
        .edges
        .iter()
        .partition(|e| matches!(e.shape, Shape::Exchange | Shape::OneWay));
    let edges: Vec<Value> = needs.into_iter().map(edge).collect();
    let attempts: Vec<Value> = attempts
        .into_iter()
        .map(|e| {
            let mut v = edge(e);
            v["shape"] = json!(e.shape);
            v
        })
        .collect();
    let mut truth = json!({
        "seed": seed,
        "vpc": env.vpc,
        "roles": roles,
        "edges": edges,
        "note": "Every accepted connection in the logs is one of these edges; scans are REJECTed.",
    });
    if !attempts.is_empty() {
        truth["attempts"] = json!(attempts);
        truth["note"] = json!(
            "Every accepted connection in the logs is one of these edges, or one of the attempts, which never worked and are not needs; scans are REJECTed."
        );
    }
    std::fs::write(path, serde_json::to_string_pretty(&truth)? + "\n")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_round_trip() {
        let t = unix_day(2026, 11, 2);
        assert_eq!(t, 1_793_577_600);
        assert_eq!(civil(t + 3600 * 5 + 60 * 7), (2026, 11, 2, 5, 7));
        assert_eq!(civil(unix_day(2024, 2, 29)), (2024, 2, 29, 0, 0));
    }
}
