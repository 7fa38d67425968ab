//! Command-line flags. Doc comments here are the `--help` text.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use flowfence_s3::{Day, days_from_civil, parse_day};

/// Derive least-privilege AWS security groups from VPC flow logs.
///
/// flowfence reads the flow logs of a VPC (S3 text or Parquet, gzip, CloudWatch Logs
/// exports) and works out which connections were actually accepted.
#[derive(Debug, Parser)]
#[command(
    name = "flowfence",
    version,
    propagate_version = true,
    max_term_width = 100
)]
pub(crate) struct Cli {
    #[command(subcommand)]
    pub(crate) command: Command,

    #[command(flatten)]
    pub(crate) global: GlobalArgs,
}

/// Flags every command takes.
#[derive(Debug, Args)]
pub(crate) struct GlobalArgs {
    /// Worker threads (default: one per core).
    #[arg(long, global = true, value_name = "N")]
    pub(crate) threads: Option<usize>,

    /// Quiet: no progress bar and no summary on stderr (results still go to stdout or
    /// -o, and `run` still prints its report).
    #[arg(short, long, global = true)]
    pub(crate) quiet: bool,
}

#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Parse flow logs and write the records as NDJSON, CSV or Parquet.
    ///
    /// Reads files, directories (recursively: *.log, *.log.gz, *.parquet, *.json[.gz],
    /// *.jsonl) and `-` for stdin. Gzip is detected from the content. The layout of
    /// each text file comes from its header line; header-less input (CloudWatch Logs,
    /// Firehose) uses --format, or the default version 2 format.
    ///
    /// Lines that cannot be parsed are counted by reason and the first ones are shown
    /// at the end, with file and line; --strict stops at the first one instead.
    ///
    /// Examples:
    ///
    ///   flowfence parse AWSLogs/ --output none
    ///
    ///   flowfence parse flows.log.gz -o flows.parquet --output parquet
    ///
    ///   aws logs filter-log-events --log-group-name vpc-flow | flowfence parse - \
    ///       --format '${version} ${account-id} ${interface-id} ${srcaddr} ...'
    #[command(verbatim_doc_comment)]
    Parse(ParseArgs),

    /// Map accepted flows onto interfaces: the observed connections table.
    ///
    /// For each network interface, which connections it serves and which it opens, on
    /// which protocol and service port, with which peers (another interface, a VPC
    /// address, an AWS service, the internet). Direction and service port come from TCP
    /// flags, then from which port stays fixed while the peer's varies, then from port
    /// ranges; what stays undecided is listed as ambiguous.
    ///
    /// Writes CSV (or Parquet with -o FILE.parquet): interface_id, side (server|client),
    /// protocol, port, peer_kind, peer, flows, packets, bytes, first_seen, last_seen,
    /// peer_ports, basis.
    ///
    /// Also writes, on request, the REJECT summary (--rejected: what is already blocked,
    /// per interface, protocol and port), the coverage gaps (--gaps: NODATA/SKIPDATA
    /// per interface) and a partial result (--partial) that `flowfence merge` combines
    /// with others.
    ///
    /// Examples:
    ///
    ///   flowfence aggregate --logs sample-logs/logs --inventory sample-logs/inventory -o conn.csv
    ///
    ///   # one partial per day, merged later (no inventory needed yet)
    ///   flowfence aggregate --logs AWSLogs/.../2026/11/20 --partial day-20.parquet
    #[command(verbatim_doc_comment)]
    Aggregate(AggregateArgs),

    /// Merge partial results of `flowfence aggregate --partial` into one.
    ///
    /// Partial results of batches of files, days or shards of an archive merge into
    /// exactly what one run over all their logs gives (in any order). The merged
    /// partial goes to -o; with --inventory, the observed connections table (and the
    /// REJECT and coverage summaries) can be written from it as well.
    ///
    /// Examples:
    ///
    ///   flowfence merge day-20.parquet day-21.parquet -o week.parquet
    ///
    ///   flowfence merge day-*.parquet -o all.parquet --inventory inventory/ --connections conn.csv
    #[command(verbatim_doc_comment)]
    Merge(MergeArgs),

    /// Propose least-privilege security groups and the plan that empties the default
    /// groups.
    ///
    /// Every interface in a VPC's default group (--vpc: one VPC's) moves to a new group
    /// whose rules allow exactly what the logs show: alike interfaces share a group (an
    /// auto scaling group, load balancer or cache cluster stays together), peers are named
    /// by group (new or existing), AWS services by prefix list, other addresses by the
    /// smallest covering CIDRs (exact unless --widen-v4/--widen-v6 allow more); public
    /// sources that are many and spread open to 0.0.0.0/0 and are flagged, and so do an
    /// internet-facing role's ports and internet egress (per port). Attempts that never
    /// worked (rejected by the server's groups, refused, unanswered) are findings, not
    /// rules. A group over
    /// the rules quota (--max-rules, counted as AWS counts) is widened step by step,
    /// cheapest first, and every step is listed. Rules in other groups that name a
    /// default group are rewritten to the new groups. --group sg-... also tightens an
    /// existing group in place; --tighten custom, every custom group. The plan is JSON:
    /// groups with final rules (AWS IpPermission shape) and evidence, interfaces
    /// before/after, the steps (nothing destructive before the observation pause),
    /// dropped rows, what widened, findings, and the forecast: by default the last 20% of
    /// the window is held out, a plan learned without it replayed on it, and what would
    /// have broken reported by cause, with the discovery curve and whether the window was
    /// long enough (--holdout).
    ///
    /// Examples:
    ///
    ///   flowfence propose --logs sample-logs/logs --inventory sample-logs/inventory -o plan.json
    ///
    ///   flowfence propose --logs training/ --inventory inventory/ --tighten custom --holdout 6h
    ///
    ///   flowfence propose --connections conn.csv --inventory inventory/ --group sg-0123456789abcdef0 --min-flows 3
    #[command(verbatim_doc_comment)]
    Propose(ProposeArgs),

    /// Show what an S3 window would read: objects, bytes and days, listing only the
    /// prefixes the window's accounts, regions and days select.
    ///
    /// Examples:
    ///
    ///   flowfence ls s3://my-flow-logs/ --since 2026-11-01 --until 2026-11-03
    ///
    ///   flowfence ls s3://my-flow-logs/prefix/ --account 123456789012 --region eu-west-1 --keys
    #[command(verbatim_doc_comment)]
    Ls(LsArgs),

    /// Write a plan in the form teams apply or review: Terraform, CloudFormation, an AWS
    /// CLI script, one rule per row (CSV, Parquet), or the reviewer's report (Markdown,
    /// HTML). `propose --format` writes the same directly.
    ///
    /// Examples:
    ///
    ///   flowfence export --plan plan.json --format terraform -o migration.tf
    ///
    ///   flowfence export --plan plan.json --format markdown -o plan.md
    #[command(verbatim_doc_comment)]
    Export(ExportArgs),

    /// The whole job in one command: read the logs, build the connections table,
    /// propose the plan and replay the logs against it, with a summary of each stage.
    ///
    /// DIR holds `logs/` and `inventory/` (as `sample-logs/` does); --logs and
    /// --inventory name them elsewhere. Takes every option of `propose`. Exits 1 if the
    /// plan would break an observed connection.
    ///
    /// Examples:
    ///
    ///   flowfence run sample-logs/ -o plan.json
    ///
    ///   flowfence run --logs /data/flowlogs --inventory inventory/ --min-flows 3 -o plan.json
    #[command(verbatim_doc_comment)]
    Run(RunArgs),

    /// Replay the logs against a plan's final state: does every accepted connection stay
    /// allowed?
    ///
    /// Evaluates security group semantics (stateful; the client's egress and the
    /// server's ingress must both allow a connection) for every observed connection, and
    /// counts, for the current state and the plan's, the (client, server, port)
    /// combinations among interfaces with groups that are allowed but never happened.
    /// Each connection that would break is named with the roles at its ends and why it
    /// is new to the plan: a new peer of a kind the plan serves, a new port between known
    /// peers, a new pair of roles, or an interface the plan doesn't move. Run it on logs
    /// newer than the plan's to see what tomorrow brought. Exits 1 if a connection would
    /// break.
    ///
    /// Examples:
    ///
    ///   flowfence verify --plan plan.json --logs sample-logs/logs --inventory sample-logs/inventory
    ///
    ///   flowfence verify --plan plan.json --logs s3://bucket/AWSLogs/ --since 2026-12-01 --inventory inventory/
    #[command(verbatim_doc_comment)]
    Verify(VerifyArgs),

    /// The account's inventory: fetch it from the AWS APIs.
    #[command(subcommand)]
    Inventory(InventoryCommand),
}

/// `flowfence inventory ...`.
#[derive(Debug, Subcommand)]
pub(crate) enum InventoryCommand {
    /// Fetch the inventory from the AWS APIs, as the AWS CLI would write it.
    ///
    /// For every account and region asked: network interfaces, security groups and
    /// their rules, managed prefix lists with their entries, auto scaling groups, the
    /// launch template versions they launch, launch configurations, load balancers with
    /// their listeners and target groups, EKS clusters and managed node groups, ECS
    /// services and their tasks, and Lambda functions.
    /// One file per call, in OUT/ACCOUNT/REGION/, holding exactly the JSON
    /// `aws ec2 describe-...` prints, so `--inventory OUT` reads the saved folder as it
    /// reads the CLI's own files. Credentials: the standard chain (environment, profile,
    /// SSO, IMDS) or --profile; with --role-arn, each account's role is assumed through
    /// STS. Calls are paginated and retried on throttling; an account's regions are
    /// fetched eight at a time, each region's line printed as it ends. An account or
    /// region that fails is named at the end and the others are written (a region whose
    /// EKS, ECS or Lambda calls fail keeps its other files); the exit status is then 1.
    /// AWS_ENDPOINT_URL points every call at another endpoint (a test server).
    ///
    /// Examples:
    ///
    ///   flowfence inventory fetch -o inventory/ --region eu-west-1
    ///
    ///   flowfence inventory fetch -o inventory/ --all-regions \
    ///       --role-arn arn:aws:iam::111111111111:role/audit --role-arn arn:aws:iam::222222222222:role/audit
    ///
    ///   flowfence propose --logs logs/ --inventory inventory/ -o plan.json
    #[command(verbatim_doc_comment)]
    Fetch(FetchArgs),
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// The folder to write into (ACCOUNT/REGION/ folders are made in it).
    #[arg(short, long, value_name = "DIR")]
    pub(crate) out: PathBuf,
    /// A region to fetch (repeatable; default: the configured region).
    #[arg(long = "region", value_name = "REGION")]
    pub(crate) regions: Vec<String>,
    /// Every region enabled for each account.
    #[arg(long, conflicts_with = "regions")]
    pub(crate) all_regions: bool,
    /// A role to assume in each account to fetch (repeatable; default: the caller's own
    /// account with its own credentials).
    #[arg(long = "role-arn", value_name = "ARN")]
    pub(crate) role_arns: Vec<String>,
    /// A named AWS profile (default: the standard credential chain).
    #[arg(long)]
    pub(crate) profile: Option<String>,
}

#[derive(Debug, Args)]
pub(crate) struct ParseArgs {
    /// Files, directories, `-` (stdin) or `s3://bucket/prefix` to read.
    #[arg(required = true, value_name = "PATH")]
    pub(crate) paths: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) input: InputArgs,

    #[command(flatten)]
    pub(crate) legacy_layout: LegacyLayoutArg,

    /// What to write: records as NDJSON (one object per record, AWS field names as
    /// keys, null for `-`), CSV, Parquet (AWS's delivery schema), or nothing (only the
    /// summary).
    #[arg(long, value_enum, default_value_t = OutputArg::Ndjson)]
    pub(crate) output: OutputArg,

    /// Write the output to FILE instead of stdout.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,

    /// Also write the summary as JSON to FILE (records, rejections by reason, first
    /// examples), for scripts and batch jobs.
    #[arg(long, value_name = "FILE")]
    pub(crate) stats_json: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) s3: S3Args,
}

/// How flow logs are read: shared by every command that reads them.
#[derive(Debug, Args)]
pub(crate) struct InputArgs {
    /// Field layout of header-less input: the flow log's format string
    /// (`${version} ${srcaddr} ...`) or field names separated by spaces or commas.
    #[arg(long, value_name = "FIELDS")]
    pub(crate) log_format: Option<String>,

    /// How to read the input; `auto` detects Parquet, JSON and text per file.
    #[arg(long, value_enum, default_value_t = InputFormatArg::Auto)]
    pub(crate) input_format: InputFormatArg,

    /// Stop at the first rejected line and exit with status 65.
    #[arg(long)]
    pub(crate) strict: bool,
}

/// How much memory the evidence store may hold: every command that reads logs into one.
#[derive(Debug, Args)]
pub(crate) struct StoreArgs {
    /// Keep the evidence store within about this much memory while logs are read
    /// (512M, 4G; default: a quarter of physical memory): past it, sorted runs of
    /// connections move to temporary files and are merged back exactly when the store
    /// is read, so the table and partial results are the same bytes. Writing a partial
    /// result (`--partial`, `merge`) streams them back, and building the table reads
    /// each interface back as a stream with its rows held to a quarter of the limit
    /// (past it they spill too), so both stay within about the limit.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub(crate) memory_limit: Option<u64>,
}

/// `--format FIELDS`, the layout flag's spelling before `--log-format`, kept hidden (for
/// one release) on the commands where `--format` means nothing else.
#[derive(Debug, Args)]
pub(crate) struct LegacyLayoutArg {
    #[arg(
        long = "format",
        hide = true,
        value_name = "FIELDS",
        conflicts_with = "log_format"
    )]
    pub(crate) format: Option<String>,
}

impl InputArgs {
    /// These flags, with the old `--format FIELDS` spelling taken as `--log-format`.
    pub(crate) fn with_legacy(mut self, legacy: LegacyLayoutArg) -> InputArgs {
        self.log_format = self.log_format.or(legacy.format);
        self
    }
}

#[derive(Debug, Args)]
pub(crate) struct AggregateArgs {
    /// Flow logs: files, directories or `-` (stdin).
    #[arg(long = "logs", required = true, num_args = 1.., value_name = "PATH")]
    pub(crate) logs: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) input: InputArgs,

    #[command(flatten)]
    pub(crate) legacy_layout: LegacyLayoutArg,

    /// Write the table to FILE instead of stdout: CSV, or Parquet when FILE ends in
    /// `.parquet`.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,

    /// Also write a partial result (Parquet) for `flowfence merge`. With --partial and
    /// no -o, no table is written and --inventory is not needed.
    #[arg(long, value_name = "FILE.parquet")]
    pub(crate) partial: Option<PathBuf>,

    /// Resumable run: between batches, save what was read so far and which sources are
    /// done to FILE (written atomically), and again when the run ends; a rerun with the
    /// same FILE skips what is done and gives the same result as one uninterrupted run.
    /// Runs spilled under --memory-limit are kept in FILE.runs/, and FILE names them
    /// beside what is in memory; until anything spills, FILE is a partial result.
    #[arg(long, value_name = "FILE.parquet")]
    pub(crate) checkpoint: Option<PathBuf>,

    /// Save the checkpoint at most once per SECONDS (a crash loses about that much
    /// reading). A save writes what is in memory (the whole store until it spills), so
    /// it also waits at least 9 times as long as the last save took: saving stays under
    /// a tenth of the run.
    #[arg(
        long,
        default_value_t = 60,
        value_name = "SECONDS",
        requires = "checkpoint"
    )]
    pub(crate) checkpoint_every: u64,

    #[command(flatten)]
    pub(crate) s3: S3Args,

    #[command(flatten)]
    pub(crate) table: TableArgs,

    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Where and what to read in S3, for `s3://bucket/prefix` log paths.
#[derive(Debug, Args)]
#[command(next_help_heading = "S3 (for s3://bucket/prefix paths)")]
pub(crate) struct S3Args {
    /// An S3-compatible endpoint (path-style addressing); AWS_ENDPOINT_URL also works.
    #[arg(long, value_name = "URL")]
    pub(crate) endpoint_url: Option<String>,

    /// A named AWS profile (default: the standard chain: environment, profile, SSO, IMDS).
    #[arg(long, value_name = "NAME")]
    pub(crate) profile: Option<String>,

    /// The bucket's region for signing (default: the chain's, else us-east-1).
    #[arg(long, value_name = "REGION")]
    pub(crate) bucket_region: Option<String>,

    /// Only traffic from this day (UTC, YYYY-MM-DD) or Unix time on: s3:// paths list
    /// only the days from it (key prefixes); propose and run also leave out connections
    /// last seen before it (listed as dropped).
    #[arg(long, value_name = "YYYY-MM-DD|UNIX_SECONDS", value_parser = parse_since)]
    pub(crate) since: Option<u64>,

    /// Last delivery day to read (default: today when --since is given).
    #[arg(long, value_name = "YYYY-MM-DD", value_parser = parse_until)]
    pub(crate) until: Option<Day>,

    /// Only this account's logs (repeatable).
    #[arg(long = "account", value_name = "ID")]
    pub(crate) accounts: Vec<String>,

    /// Only this region's logs (repeatable).
    #[arg(long = "region", value_name = "REGION")]
    pub(crate) regions: Vec<String>,

    /// GETs in flight at once.
    #[arg(long, default_value_t = 8, value_name = "N")]
    pub(crate) concurrency: usize,

    /// Objects fetched per batch, at most this many MiB (bounds memory; one object
    /// larger than that is a batch of its own).
    #[arg(long, default_value_t = 256, value_name = "MIB")]
    pub(crate) batch_mib: u64,

    /// Attempts per request (throttling, timeouts, truncated bodies) before an object
    /// is reported failed.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub(crate) attempts: u32,

    /// Stop at the first object that still fails (default: report it and go on);
    /// --strict does too.
    #[arg(long)]
    pub(crate) s3_strict: bool,
}

#[derive(Debug, Args)]
pub(crate) struct LsArgs {
    /// `s3://bucket/prefix` locations.
    #[arg(required = true, value_name = "s3://BUCKET/PREFIX")]
    pub(crate) locations: Vec<String>,

    /// Also list every object.
    #[arg(long)]
    pub(crate) keys: bool,

    #[command(flatten)]
    pub(crate) s3: S3Args,
}

#[derive(Debug, Args)]
pub(crate) struct MergeArgs {
    /// Partial results written by `flowfence aggregate --partial` (or by merge).
    #[arg(required = true, value_name = "PARTIAL")]
    pub(crate) partials: Vec<PathBuf>,

    /// The merged partial result (Parquet).
    #[arg(
        short = 'o',
        long = "out",
        required = true,
        value_name = "FILE.parquet"
    )]
    pub(crate) out: PathBuf,

    /// Also write the observed connections table (CSV, or Parquet for *.parquet); needs
    /// --inventory.
    #[arg(long, value_name = "FILE")]
    pub(crate) connections: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) table: TableArgs,

    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// Where `propose` and `verify` find the traffic and the account: flow logs, or the
/// connections table `aggregate` wrote from them, and the inventory.
#[derive(Debug, Args)]
pub(crate) struct TrafficArgs {
    /// Flow logs: files, directories or `-` (stdin).
    #[arg(long = "logs", required_unless_present = "connections", num_args = 1.., value_name = "PATH")]
    pub(crate) logs: Vec<PathBuf>,

    /// Instead of logs: the connections table, as `flowfence aggregate` writes it or as
    /// a SQL engine writes a table with its columns (Athena, Spark, DuckDB): CSV (with
    /// or without its header line) or Parquet, one file or several, or a folder of part
    /// files (names starting with `.` or `_` are left out).
    #[arg(long, conflicts_with = "logs", num_args = 1.., value_name = "FILE|DIR")]
    pub(crate) connections: Vec<PathBuf>,

    /// The account's inventory (as for `aggregate`), or `live`: fetched from the AWS
    /// APIs now (the caller's account in its configured region, as `inventory fetch`).
    #[arg(long = "inventory", required = true, num_args = 1.., value_name = "FILE")]
    pub(crate) inventory: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) aws_ranges: AwsRangesArg,

    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

/// AWS's published address ranges.
#[derive(Debug, Args)]
pub(crate) struct AwsRangesArg {
    /// AWS's ip-ranges.json (download it from https://ip-ranges.amazonaws.com/ip-ranges.json):
    /// internet peers in AWS's ranges are named by service and region in the plan, and
    /// AWS-managed prefix lists the inventory lists without entries
    /// (describe-managed-prefix-lists) get their service's ranges, so S3 and DynamoDB
    /// addresses become prefix-list rules.
    #[arg(long = "aws-ip-ranges", value_name = "ip-ranges.json")]
    pub(crate) path: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct ProposeArgs {
    #[command(flatten)]
    pub(crate) traffic: TrafficArgs,

    #[command(flatten)]
    pub(crate) input: InputArgs,

    #[command(flatten)]
    pub(crate) plan: PlanArgs,

    /// What to write: the plan (json), or an export of it.
    #[arg(long, value_enum, default_value_t = PlanFormatArg::Json)]
    pub(crate) format: PlanFormatArg,

    /// Write the plan to FILE instead of stdout.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) s3: S3Args,
}

/// What to migrate and how rules are shaped (`propose` and `run`).
#[derive(Debug, Args)]
pub(crate) struct PlanArgs {
    /// Only this VPC's default group.
    #[arg(long, value_name = "vpc-...")]
    pub(crate) vpc: Option<String>,

    /// Also tighten this existing group in place: its rules become what its members
    /// were seen to need (repeatable).
    #[arg(long = "group", value_name = "sg-...")]
    pub(crate) groups: Vec<String>,

    /// Which groups get least privilege: `default` empties the default groups (their
    /// members move to new groups) and tightens only the --group ones; `custom` (or
    /// `all`) also tightens in place every custom group with members in scope, egress
    /// as strictly as ingress, except groups a controller owns (unless --force-group
    /// names them) and groups that share a member with another: the plan's findings
    /// say which were left alone and why.
    #[arg(long, value_enum, default_value_t = TightenArg::Default, value_name = "WHAT")]
    pub(crate) tighten: TightenArg,

    /// Tighten this --group even though a controller owns it (EKS's cluster group, the
    /// Kubernetes cloud provider's or the AWS Load Balancer Controller's groups, as their
    /// tags say): it will rewrite the rules on its next sync (repeatable).
    #[arg(long = "force-group", value_name = "sg-...")]
    pub(crate) force_groups: Vec<String>,

    /// Leave out connections seen in fewer flow records (listed in the plan's `dropped`).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) min_flows: u64,

    /// Unobserved ports a merged port range may include (0: only adjacent ports merge).
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub(crate) port_gap: u16,

    /// Cover a rule's IPv4 peers that share a /LEN block with one CIDR, at most /LEN
    /// wide (32: exact, the default; 24 allows up to a /24 per block).
    #[arg(long, default_value_t = 32, value_name = "LEN", value_parser = clap::value_parser!(u8).range(0..=32))]
    pub(crate) widen_v4: u8,

    /// The same for IPv6 peers (128: exact).
    #[arg(long, default_value_t = 128, value_name = "LEN", value_parser = clap::value_parser!(u8).range(0..=128))]
    pub(crate) widen_v6: u8,

    /// Egress to internet addresses: `world` allows 0.0.0.0/0 (and ::/0 where IPv6
    /// egress was seen) on each port the workload reached the internet on, since CDNs,
    /// SaaS and mirrors change address from day to day (each is listed under
    /// `widened`); `exact` keeps the addresses seen, aggregated exactly.
    #[arg(long, value_enum, default_value_t = InternetEgressArg::World, value_name = "HOW")]
    pub(crate) internet_egress: InternetEgressArg,

    /// Rules per group and direction (AWS's default quota: 60). Over it, CIDRs and
    /// then port ranges are widened, cheapest first, and each step is reported.
    #[arg(long, default_value_t = 60, value_name = "N")]
    pub(crate) max_rules: usize,

    /// Hold out the window's tail: learn a plan without it, replay the tail against that
    /// plan and report what would have broken, by cause (the plan's `forecast`, with the
    /// discovery curve and whether the window was long enough). A fraction of the
    /// window (0.2, 20%), a duration (90m, 6h, 2d, 1w), or 0 for none. The plan itself
    /// is learned from the whole window.
    #[arg(long, default_value = "0.2", value_name = "FRACTION|DURATION")]
    pub(crate) holdout: flowfence_propose::Holdout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum InternetEgressArg {
    /// 0.0.0.0/0 and ::/0 on the ports used.
    World,
    /// The addresses seen.
    Exact,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum PlanFormatArg {
    /// The plan as JSON (the contract other tools read).
    Json,
    /// Terraform: new groups, rules, interface attachments, the default groups emptied
    /// behind a variable.
    Terraform,
    /// A CloudFormation template (YAML).
    Cloudformation,
    /// An AWS CLI script in two phases (`prepare`, then `finish` after observing).
    Cli,
    /// One rule per row with its evidence (CSV).
    Csv,
    /// One rule per row with its evidence (Parquet; needs -o).
    Parquet,
    /// The reviewer's report (Markdown).
    Markdown,
    /// The reviewer's report (HTML).
    Html,
}

impl PlanFormatArg {
    pub(crate) fn format(self) -> flowfence_export::Format {
        use flowfence_export::Format;
        match self {
            PlanFormatArg::Json => Format::Json,
            PlanFormatArg::Terraform => Format::Terraform,
            PlanFormatArg::Cloudformation => Format::CloudFormation,
            PlanFormatArg::Cli => Format::Cli,
            PlanFormatArg::Csv => Format::Csv,
            PlanFormatArg::Parquet => Format::Parquet,
            PlanFormatArg::Markdown => Format::Markdown,
            PlanFormatArg::Html => Format::Html,
        }
    }
}

#[derive(Debug, Args)]
pub(crate) struct ExportArgs {
    /// A plan written by `flowfence propose` (JSON).
    #[arg(long, required = true, value_name = "FILE")]
    pub(crate) plan: PathBuf,

    /// What to write.
    #[arg(long, value_enum)]
    pub(crate) format: PlanFormatArg,

    /// Write to FILE instead of stdout.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub(crate) struct RunArgs {
    /// A directory with `logs/` and `inventory/` inside.
    #[arg(value_name = "DIR", required_unless_present_all = ["logs", "inventory"])]
    pub(crate) dir: Option<PathBuf>,

    /// Flow logs (default: DIR/logs).
    #[arg(long = "logs", num_args = 1.., value_name = "PATH")]
    pub(crate) logs: Vec<PathBuf>,

    /// The inventory (default: DIR/inventory).
    #[arg(long = "inventory", num_args = 1.., value_name = "FILE")]
    pub(crate) inventory: Vec<PathBuf>,

    #[command(flatten)]
    pub(crate) aws_ranges: AwsRangesArg,

    #[command(flatten)]
    pub(crate) input: InputArgs,

    #[command(flatten)]
    pub(crate) legacy_layout: LegacyLayoutArg,

    #[command(flatten)]
    pub(crate) plan: PlanArgs,

    /// Write the plan (JSON) to FILE.
    #[arg(short = 'o', long = "out", value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,

    #[command(flatten)]
    pub(crate) s3: S3Args,

    #[command(flatten)]
    pub(crate) store: StoreArgs,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    /// A plan written by `flowfence propose`.
    #[arg(long, required = true, value_name = "FILE")]
    pub(crate) plan: PathBuf,

    #[command(flatten)]
    pub(crate) traffic: TrafficArgs,

    #[command(flatten)]
    pub(crate) input: InputArgs,

    #[command(flatten)]
    pub(crate) legacy_layout: LegacyLayoutArg,

    #[command(flatten)]
    pub(crate) s3: S3Args,
}

/// What building the table needs and the summaries beside it.
#[derive(Debug, Args)]
pub(crate) struct TableArgs {
    /// The account's inventory: AWS CLI JSON output of describe-network-interfaces,
    /// describe-security-groups and optionally describe-security-group-rules and
    /// describe-prefix-lists (files, or directories of *.json). Needed for the table.
    #[arg(long = "inventory", num_args = 1.., value_name = "FILE")]
    pub(crate) inventory: Vec<PathBuf>,

    /// Write REJECT traffic per interface, protocol and destination port (what is
    /// already blocked) to FILE (CSV, or Parquet for *.parquet).
    #[arg(long, value_name = "FILE")]
    pub(crate) rejected: Option<PathBuf>,

    /// Write NODATA/SKIPDATA counts per interface (coverage gaps) to FILE (CSV, or
    /// Parquet for *.parquet).
    #[arg(long, value_name = "FILE")]
    pub(crate) gaps: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum InputFormatArg {
    /// Detect per file.
    Auto,
    /// Space-separated flow log lines, plain or gzip.
    Text,
    /// CloudWatch Logs subscription documents or `filter-log-events` output.
    CloudwatchJson,
    /// One JSON object per line with the record in `message`.
    JsonLines,
    /// Apache Parquet as S3 delivers it.
    Parquet,
    /// Amazon Security Lake's OCSF Network Activity Parquet (also detected from the
    /// schema); any other file is an error.
    Ocsf,
}

impl OutputArg {
    pub(crate) fn format(self) -> flowfence_flowlog::RecordFormat {
        use flowfence_flowlog::RecordFormat;
        match self {
            OutputArg::Ndjson => RecordFormat::Ndjson,
            OutputArg::Csv => RecordFormat::Csv,
            OutputArg::Parquet => RecordFormat::Parquet,
            OutputArg::None => RecordFormat::None,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum TightenArg {
    /// Empty the default groups; tighten only the --group ones.
    Default,
    /// Also tighten every custom group in scope.
    #[value(alias = "all")]
    Custom,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
pub(crate) enum OutputArg {
    /// One JSON object per record.
    Ndjson,
    /// A header row of field names, then one row per record.
    Csv,
    /// Parquet in AWS's delivery schema.
    Parquet,
    /// Parse only; print the summary.
    None,
}

/// `--since`: Unix seconds, or a day (its first second, UTC).
/// `512M`, `4G`, `1.5GiB`, `100K` or bytes: powers of 1024.
fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let t = t
        .strip_suffix("iB")
        .or_else(|| t.strip_suffix('B'))
        .unwrap_or(t);
    let (number, unit) = match t.char_indices().last() {
        Some((at, c)) if c.is_ascii_alphabetic() => (&t[..at], c.to_ascii_uppercase()),
        _ => (t, ' '),
    };
    let shift = match unit {
        ' ' => 0,
        'K' => 10,
        'M' => 20,
        'G' => 30,
        'T' => 40,
        _ => return Err(format!("{s}: expected a size like 512M, 4G or bytes")),
    };
    let n: f64 = number
        .parse()
        .map_err(|_| format!("{s}: expected a size like 512M, 4G or bytes"))?;
    if !(n > 0.0 && n.is_finite()) {
        return Err(format!("{s}: a size must be more than 0"));
    }
    Ok((n * (1u64 << shift) as f64) as u64)
}

fn parse_since(s: &str) -> Result<u64, String> {
    if let Ok(secs) = s.parse::<u64>() {
        return Ok(secs);
    }
    let day = parse_day(s).ok_or("expected YYYY-MM-DD or Unix seconds")?;
    Ok(days_from_civil(day).max(0) as u64 * 86_400)
}

/// `--until`: a day.
fn parse_until(s: &str) -> Result<Day, String> {
    parse_day(s).ok_or_else(|| "expected a date, YYYY-MM-DD".to_string())
}

#[cfg(test)]
mod tests {
    /// clap's own consistency checks (unique names, valid defaults) over every command.
    #[test]
    fn the_command_line_is_consistent() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
