//! `flowfence inventory fetch`: the inventory from the AWS APIs, for every account and
//! region asked, written as the AWS CLI (v1, from PyPI) writes it, one file per call:
//!
//! ```text
//! OUT/ACCOUNT/REGION/ec2-describe-network-interfaces.json
//! OUT/ACCOUNT/REGION/ec2-describe-security-groups.json
//! OUT/ACCOUNT/REGION/ec2-describe-security-group-rules.json
//! OUT/ACCOUNT/REGION/ec2-describe-managed-prefix-lists.json
//! OUT/ACCOUNT/REGION/ec2-get-managed-prefix-list-entries-pl-....json   (one per list)
//! OUT/ACCOUNT/REGION/ec2-describe-launch-template-versions-lt-....json (per template
//!                              an auto scaling group or EKS node group launches)
//! OUT/ACCOUNT/REGION/autoscaling-describe-auto-scaling-groups.json
//! OUT/ACCOUNT/REGION/autoscaling-describe-launch-configurations.json
//! OUT/ACCOUNT/REGION/elbv2-describe-load-balancers.json
//! OUT/ACCOUNT/REGION/elbv2-describe-listeners-NAME-ID.json            (per balancer)
//! OUT/ACCOUNT/REGION/elbv2-describe-target-groups.json
//! OUT/ACCOUNT/REGION/elbv2-describe-target-group-attributes-NAME-ID.json (per group)
//! OUT/ACCOUNT/REGION/eks-describe-cluster-CLUSTER.json                 (per cluster)
//! OUT/ACCOUNT/REGION/eks-describe-nodegroup-CLUSTER-NODEGROUP.json     (per node group)
//! OUT/ACCOUNT/REGION/ecs-describe-services-CLUSTER.json                (per cluster with
//!                              services; `.2`, `.3`, ... for each further ten services)
//! OUT/ACCOUNT/REGION/ecs-describe-tasks-CLUSTER.json                   (per cluster with
//!                              tasks; `.2`, ... for each further hundred tasks)
//! OUT/ACCOUNT/REGION/lambda-list-functions.json
//! ```
//!
//! (The `list-*` calls that find the clusters, node groups, services and tasks are made
//! but not written: the describe calls' files hold everything they say.)
//!
//! so a run over the saved folder and a live run read the same bytes. The calls go
//! through the SDK's clients (standard credential chain or `--profile`, a role per
//! account assumed through STS, paginated, the SDK's retries for throttling); each
//! response's own bytes are decoded by botocore's rules over its service model
//! (`decode`), which is what makes the files the CLI's. An account or region that fails
//! is reported by name and the others go on; a region whose EKS, ECS or Lambda calls
//! fail keeps its other files, the failure named the same way.

mod calls;
mod decode;
mod model;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_config::{BehaviorVersion, Region, SdkConfig};

use crate::calls::{CallError, Caller, caller, paged, single};
pub use crate::decode::DecodeError;
use crate::decode::Json;
pub use crate::model::Service;

/// What to fetch.
#[derive(Clone, Debug, Default)]
pub struct FetchOptions {
    /// The folder to write into (created).
    pub out: PathBuf,
    /// Regions; none: the configured region.
    pub regions: Vec<String>,
    /// Every region enabled for the account (`ec2 describe-regions`).
    pub all_regions: bool,
    /// A role to assume per account; none: the caller's own account.
    pub role_arns: Vec<String>,
    /// A named profile instead of the default credential chain.
    pub profile: Option<String>,
    /// Write each region's line (as [`FetchReport::summary`] has it) to standard error
    /// as soon as the region is done: a fetch of many accounts and regions takes minutes.
    pub progress: bool,
}

/// How many regions of an account are fetched at once.
const REGIONS_AT_ONCE: usize = 8;

/// One account and region fetched.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The account id.
    pub account: String,
    /// The region.
    pub region: String,
    /// The files written, with the items each holds (interfaces, groups, ...).
    pub files: Vec<(PathBuf, usize)>,
    /// How long it took.
    pub elapsed: Duration,
}

/// An account or region that failed.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The account id, or the role ARN when it couldn't be assumed.
    pub account: String,
    /// The region, when one region failed.
    pub region: Option<String>,
    /// What failed.
    pub error: String,
}

/// What a fetch did.
#[derive(Clone, Debug, Default)]
pub struct FetchReport {
    /// Accounts and regions written.
    pub fetched: Vec<Fetched>,
    /// Accounts and regions that failed (the others were written).
    pub failures: Vec<Failure>,
    /// The whole fetch.
    pub elapsed: Duration,
}

/// Why nothing could be fetched.
#[derive(Debug, thiserror::Error)]
pub enum FetchError {
    /// No region configured and none asked.
    #[error(
        "no region: pass --region, --all-regions, or configure one (AWS_REGION, the profile's region)"
    )]
    NoRegion,
    /// The async runtime the calls run on couldn't start.
    #[error("cannot start the runtime for the AWS calls: {0}")]
    Runtime(std::io::Error),
    /// The output folder can't be written.
    #[error("{path}: {source}")]
    Write {
        /// The file or folder.
        path: PathBuf,
        /// The error.
        source: std::io::Error,
    },
}

/// Fetches the inventory of every account and region `options` asks for.
pub async fn fetch(options: &FetchOptions) -> Result<FetchReport, FetchError> {
    let started = Instant::now();
    let mut loader = aws_config::defaults(BehaviorVersion::latest());
    if let Some(p) = &options.profile {
        loader = loader.profile_name(p);
    }
    let base = loader.load().await;
    // STS and `describe-regions` need a region before any is fetched: the configured
    // one, else the first asked.
    let home = base
        .region()
        .cloned()
        .or_else(|| options.regions.first().map(|r| Region::new(r.clone())))
        .ok_or(FetchError::NoRegion)?;
    let base = base.to_builder().region(home).build();
    let mut report = FetchReport::default();
    let accounts: Vec<Option<&String>> = if options.role_arns.is_empty() {
        vec![None]
    } else {
        options.role_arns.iter().map(Some).collect()
    };
    for role in accounts {
        let config = match role {
            None => base.clone(),
            Some(arn) => {
                let provider = aws_config::sts::AssumeRoleProvider::builder(arn)
                    .session_name("flowfence-inventory-fetch")
                    .configure(&base)
                    .build()
                    .await;
                base.to_builder()
                    .credentials_provider(
                        aws_credential_types::provider::SharedCredentialsProvider::new(provider),
                    )
                    .build()
            }
        };
        let account = match account_id(&config).await {
            Ok(a) => a,
            Err(e) => {
                report.failures.push(Failure {
                    account: role
                        .cloned()
                        .unwrap_or_else(|| "the caller's account".into()),
                    region: None,
                    error: e.to_string(),
                });
                continue;
            }
        };
        let regions = match regions(&config, options).await {
            Ok(r) => r,
            Err(e) => {
                report.failures.push(Failure {
                    account: account.clone(),
                    region: None,
                    error: e.to_string(),
                });
                continue;
            }
        };
        // Regions at once: each is a handful of calls, mostly waiting on the network.
        let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(REGIONS_AT_ONCE));
        let mut running = tokio::task::JoinSet::new();
        for region in regions {
            let dir = options.out.join(&account).join(&region);
            let regional = config
                .to_builder()
                .region(Region::new(region.clone()))
                .build();
            let slots = slots.clone();
            running.spawn(async move {
                let _slot = slots.acquire_owned().await;
                let started = Instant::now();
                let result = fetch_region(&regional, &dir).await;
                (region, started.elapsed(), result)
            });
        }
        while let Some(done) = running.join_next().await {
            let (region, elapsed, result) = done.map_err(|e| FetchError::Runtime(e.into()))?;
            match result {
                Ok((files, missing)) => {
                    // Written, but without a launcher service's files: named, so the
                    // launchers it would have shown are read as unseen, not absent.
                    report.failures.extend(missing.into_iter().map(|e| Failure {
                        account: account.clone(),
                        region: Some(region.clone()),
                        error: e.to_string(),
                    }));
                    let fetched = Fetched {
                        account: account.clone(),
                        region,
                        files,
                        elapsed,
                    };
                    if options.progress {
                        eprintln!("{}", fetched.line());
                    }
                    report.fetched.push(fetched);
                }
                Err(FetchFailure::Setup(e)) => return Err(e),
                Err(FetchFailure::Call(e)) => report.failures.push(Failure {
                    account: account.clone(),
                    region: Some(region),
                    error: e.to_string(),
                }),
            }
        }
    }
    // Regions end in any order: the report's is the accounts' and regions' own.
    report
        .fetched
        .sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    report
        .failures
        .sort_by(|a, b| (&a.account, &a.region).cmp(&(&b.account, &b.region)));
    report.elapsed = started.elapsed();
    Ok(report)
}

/// A call that failed (the account or region is skipped), or a local failure (the
/// fetch stops).
enum FetchFailure {
    Call(CallError),
    Setup(FetchError),
}

impl From<CallError> for FetchFailure {
    fn from(e: CallError) -> FetchFailure {
        FetchFailure::Call(e)
    }
}

/// The account `config`'s credentials belong to (`sts get-caller-identity`).
async fn account_id(config: &SdkConfig) -> Result<String, CallError> {
    let sts = caller!(Service::Sts, aws_sdk_sts, config);
    let (out, _) = single!(sts, "GetCallerIdentity", sts.client.get_caller_identity());
    Ok(out.account().unwrap_or_default().to_string())
}

/// The regions to fetch for an account: those asked, every region enabled for it
/// (`--all-regions`), or the configured one.
async fn regions(config: &SdkConfig, options: &FetchOptions) -> Result<Vec<String>, CallError> {
    if !options.all_regions {
        if !options.regions.is_empty() {
            return Ok(options.regions.clone());
        }
        return Ok(config.region().map(|r| r.to_string()).into_iter().collect());
    }
    let ec2 = ec2_caller(config);
    let (out, _) = single!(ec2, "DescribeRegions", ec2.client.describe_regions());
    let mut names: Vec<String> = out
        .regions()
        .iter()
        .filter_map(|r| r.region_name().map(String::from))
        .collect();
    names.sort();
    Ok(names)
}

fn ec2_caller(config: &SdkConfig) -> Caller<aws_sdk_ec2::Client> {
    caller!(Service::Ec2, aws_sdk_ec2, config)
}

/// A local write failure at `path`: it stops the fetch (the output can't be kept).
fn unwritable(path: &Path) -> impl FnOnce(std::io::Error) -> FetchFailure + '_ {
    move |source| {
        FetchFailure::Setup(FetchError::Write {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// Writes `json` as the CLI prints it; returns the path and the items of its list.
fn write(dir: &Path, name: &str, json: &Json) -> Result<(PathBuf, usize), FetchFailure> {
    let path = dir.join(format!("{name}.json"));
    let mut text = json.to_cli_text();
    text.push('\n');
    std::fs::write(&path, text).map_err(unwritable(&path))?;
    // What it holds: the items of its lists (not the failures a describe call lists),
    // or one for a described resource (`{"cluster": {...}}`).
    let items = match json {
        Json::Object(members) => members
            .iter()
            .map(|(k, v)| match v {
                Json::List(l) if k != "failures" => l.len(),
                Json::Object(_) => 1,
                _ => 0,
            })
            .sum(),
        _ => 0,
    };
    Ok((path, items))
}

/// Every call of one account and region, into `dir`: the files, and the launcher
/// services (EKS; ECS and Lambda) whose calls failed. Those are optional: a role that
/// may read EC2 but not EKS, ECS or Lambda (or a region without them) still gets the
/// inventory the plan needs, and the failure is named. Any other failed call fails the
/// region.
async fn fetch_region(
    config: &SdkConfig,
    dir: &Path,
) -> Result<(Vec<(PathBuf, usize)>, Vec<CallError>), FetchFailure> {
    let mut missing = Vec::new();
    std::fs::create_dir_all(dir).map_err(unwritable(dir))?;
    let mut files = Vec::new();
    let ec2 = ec2_caller(config);
    let c = &ec2.client;
    let json = paged!(
        ec2,
        "DescribeNetworkInterfaces",
        c.describe_network_interfaces()
    );
    files.push(write(dir, &ec2.file("DescribeNetworkInterfaces"), &json)?);
    let json = paged!(ec2, "DescribeSecurityGroups", c.describe_security_groups());
    files.push(write(dir, &ec2.file("DescribeSecurityGroups"), &json)?);
    let json = paged!(
        ec2,
        "DescribeSecurityGroupRules",
        c.describe_security_group_rules()
    );
    files.push(write(dir, &ec2.file("DescribeSecurityGroupRules"), &json)?);
    let lists = paged!(
        ec2,
        "DescribeManagedPrefixLists",
        c.describe_managed_prefix_lists()
    );
    files.push(write(dir, &ec2.file("DescribeManagedPrefixLists"), &lists)?);
    for id in ids(&lists, "PrefixLists", "PrefixListId") {
        let json = paged!(
            ec2,
            "GetManagedPrefixListEntries",
            c.get_managed_prefix_list_entries().prefix_list_id(&id)
        );
        files.push(write(
            dir,
            &format!("{}-{id}", ec2.file("GetManagedPrefixListEntries")),
            &json,
        )?);
    }

    let autoscaling = caller!(Service::AutoScaling, aws_sdk_autoscaling, config);
    let a = &autoscaling.client;
    let groups = paged!(
        autoscaling,
        "DescribeAutoScalingGroups",
        a.describe_auto_scaling_groups()
    );
    files.push(write(
        dir,
        &autoscaling.file("DescribeAutoScalingGroups"),
        &groups,
    )?);
    let json = paged!(
        autoscaling,
        "DescribeLaunchConfigurations",
        a.describe_launch_configurations()
    );
    files.push(write(
        dir,
        &autoscaling.file("DescribeLaunchConfigurations"),
        &json,
    )?);
    // EKS's node groups launch templates of their own (their auto scaling groups
    // launch EKS's copies).
    let node_templates = match fetch_eks(config, dir).await {
        Ok((eks_files, templates)) => {
            files.extend(eks_files);
            templates
        }
        Err(FetchFailure::Call(e)) => {
            missing.push(e);
            Vec::new()
        }
        Err(setup) => return Err(setup),
    };
    // The templates the groups launch (by id, or by name when the group names it so).
    let mut templates = launch_templates(&groups);
    for t in node_templates {
        if !templates.contains(&t) {
            templates.push(t);
        }
    }
    for (id, name) in templates {
        let by_name = if id.is_none() { name.clone() } else { None };
        let json = paged!(
            ec2,
            "DescribeLaunchTemplateVersions",
            c.describe_launch_template_versions()
                .set_launch_template_id(id.clone())
                .set_launch_template_name(by_name.clone())
        );
        let key = id.or(name).unwrap_or_default();
        files.push(write(
            dir,
            &format!("{}-{key}", ec2.file("DescribeLaunchTemplateVersions")),
            &json,
        )?);
    }

    let elbv2 = caller!(Service::Elbv2, aws_sdk_elasticloadbalancingv2, config);
    let json = paged!(
        elbv2,
        "DescribeLoadBalancers",
        elbv2.client.describe_load_balancers(),
        set_marker,
        next_marker
    );
    files.push(write(dir, &elbv2.file("DescribeLoadBalancers"), &json)?);
    // Each balancer's listeners (the call takes one balancer), by NAME-ID.
    for arn in ids(&json, "LoadBalancers", "LoadBalancerArn") {
        let json = paged!(
            elbv2,
            "DescribeListeners",
            elbv2.client.describe_listeners().load_balancer_arn(&arn),
            set_marker,
            next_marker
        );
        files.push(write(
            dir,
            &format!("{}-{}", elbv2.file("DescribeListeners"), name_id(&arn)),
            &json,
        )?);
    }
    let json = paged!(
        elbv2,
        "DescribeTargetGroups",
        elbv2.client.describe_target_groups(),
        set_marker,
        next_marker
    );
    files.push(write(dir, &elbv2.file("DescribeTargetGroups"), &json)?);
    let target_groups = json;
    // Each group's attributes (client IP preservation), by NAME-ID: the output doesn't
    // name the group.
    for arn in ids(&target_groups, "TargetGroups", "TargetGroupArn") {
        let (_, json) = single!(
            elbv2,
            "DescribeTargetGroupAttributes",
            elbv2
                .client
                .describe_target_group_attributes()
                .target_group_arn(&arn)
        );
        files.push(write(
            dir,
            &format!(
                "{}-{}",
                elbv2.file("DescribeTargetGroupAttributes"),
                name_id(&arn)
            ),
            &json,
        )?);
    }
    for fetched in [
        fetch_ecs(config, dir).await,
        fetch_lambda(config, dir).await,
    ] {
        match fetched {
            Ok(more) => files.extend(more),
            Err(FetchFailure::Call(e)) => missing.push(e),
            Err(setup) => return Err(setup),
        }
    }
    Ok((files, missing))
}

/// A launch template as a launcher names it: (id, name).
type TemplateKey = (Option<String>, Option<String>);

/// EKS clusters (their cluster security group) and managed node groups; returns the
/// files and the launch templates the node groups name.
async fn fetch_eks(
    config: &SdkConfig,
    dir: &Path,
) -> Result<(Vec<(PathBuf, usize)>, Vec<TemplateKey>), FetchFailure> {
    let mut files = Vec::new();
    let mut templates = Vec::new();
    let eks = caller!(Service::Eks, aws_sdk_eks, config);
    let e = &eks.client;
    let clusters = paged!(eks, "ListClusters", e.list_clusters());
    for cluster in strings(&clusters, "clusters") {
        let (_, json) = single!(eks, "DescribeCluster", e.describe_cluster().name(&cluster));
        files.push(write(
            dir,
            &format!("{}-{cluster}", eks.file("DescribeCluster")),
            &json,
        )?);
        let groups = paged!(
            eks,
            "ListNodegroups",
            e.list_nodegroups().cluster_name(&cluster)
        );
        for group in strings(&groups, "nodegroups") {
            let call = e.describe_nodegroup().cluster_name(&cluster);
            let (_, json) = single!(eks, "DescribeNodegroup", call.nodegroup_name(&group));
            files.push(write(
                dir,
                &format!("{}-{cluster}-{group}", eks.file("DescribeNodegroup")),
                &json,
            )?);
            if let Some(t) = node_group_template(&json)
                && !templates.contains(&t)
            {
                templates.push(t);
            }
        }
    }
    Ok((files, templates))
}

/// ECS services and their tasks (which interface is whose).
async fn fetch_ecs(config: &SdkConfig, dir: &Path) -> Result<Vec<(PathBuf, usize)>, FetchFailure> {
    let mut files = Vec::new();

    let ecs = caller!(Service::Ecs, aws_sdk_ecs, config);
    let c = &ecs.client;
    let clusters = paged!(ecs, "ListClusters", c.list_clusters());
    for cluster in strings(&clusters, "clusterArns") {
        let short = cluster.rsplit('/').next().unwrap_or_default();
        let services = paged!(ecs, "ListServices", c.list_services().cluster(&cluster));
        // DescribeServices takes ten services a call, DescribeTasks a hundred tasks.
        for (n, chunk) in strings(&services, "serviceArns").chunks(10).enumerate() {
            let call = c.describe_services().cluster(&cluster);
            let (_, json) = single!(
                ecs,
                "DescribeServices",
                call.set_services(Some(chunk.to_vec()))
            );
            let name = format!("{}-{short}{}", ecs.file("DescribeServices"), part(n));
            files.push(write(dir, &name, &json)?);
        }
        let tasks = paged!(ecs, "ListTasks", c.list_tasks().cluster(&cluster));
        for (n, chunk) in strings(&tasks, "taskArns").chunks(100).enumerate() {
            let call = c.describe_tasks().cluster(&cluster);
            let (_, json) = single!(ecs, "DescribeTasks", call.set_tasks(Some(chunk.to_vec())));
            let name = format!("{}-{short}{}", ecs.file("DescribeTasks"), part(n));
            files.push(write(dir, &name, &json)?);
        }
    }

    Ok(files)
}

/// Lambda functions (their VPC configurations).
async fn fetch_lambda(
    config: &SdkConfig,
    dir: &Path,
) -> Result<Vec<(PathBuf, usize)>, FetchFailure> {
    let lambda = caller!(Service::Lambda, aws_sdk_lambda, config);
    let json = paged!(
        lambda,
        "ListFunctions",
        lambda.client.list_functions(),
        set_marker,
        next_marker
    );
    Ok(vec![write(dir, &lambda.file("ListFunctions"), &json)?])
}

/// The suffix of the `n`th (from 0) file of a call split over several: none for the
/// first, `.2`, `.3`, ... after.
fn part(n: usize) -> String {
    if n == 0 {
        String::new()
    } else {
        format!(".{}", n + 1)
    }
}

/// The strings of the list `key` of `json` (`list-*` calls' names and ARNs).
fn strings(json: &Json, key: &str) -> Vec<String> {
    json.items(key)
        .filter_map(|i| i.as_str().map(String::from))
        .collect()
}

/// `NAME-ID` of an ARN ending `/NAME/ID` (load balancers, target groups): the part of
/// the file names of calls made per resource.
fn name_id(arn: &str) -> String {
    let mut parts = arn.rsplit('/');
    let id = parts.next().unwrap_or_default();
    format!("{}-{id}", parts.next().unwrap_or_default())
}

/// The `field` of every item of the list `key` of `json`.
fn ids(json: &Json, key: &str, field: &str) -> Vec<String> {
    json.items(key)
        .filter_map(|i| i.get(field)?.as_str().map(String::from))
        .collect()
}

/// The launch template a node group names (`nodegroup.launchTemplate`), if its own.
fn node_group_template(json: &Json) -> Option<TemplateKey> {
    let spec = json.get("nodegroup")?.get("launchTemplate")?;
    let key = template_key(spec, "id", "name");
    (key != (None, None)).then_some(key)
}

/// A template reference's (id, name), from its fields `id` and `name`.
fn template_key(spec: &Json, id: &str, name: &str) -> TemplateKey {
    let text = |field| spec.get(field).and_then(Json::as_str).map(String::from);
    (text(id), text(name))
}

/// The launch templates auto scaling groups name (`LaunchTemplate`, or a mixed
/// instances policy's), as (id, name), once each.
fn launch_templates(groups: &Json) -> Vec<TemplateKey> {
    let mut out = Vec::new();
    for g in groups.items("AutoScalingGroups") {
        let spec = g.get("LaunchTemplate").or_else(|| {
            g.get("MixedInstancesPolicy")?
                .get("LaunchTemplate")?
                .get("LaunchTemplateSpecification")
        });
        if let Some(spec) = spec {
            let key = template_key(spec, "LaunchTemplateId", "LaunchTemplateName");
            if !out.contains(&key) {
                out.push(key);
            }
        }
    }
    out
}

/// [`fetch`] on a runtime of its own, for callers without one.
pub fn fetch_blocking(options: &FetchOptions) -> Result<FetchReport, FetchError> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(FetchError::Runtime)?;
    runtime.block_on(fetch(options))
}

/// The calls made once per resource (a file each, the resource's id or `NAME-ID` after
/// the call's name): summed in the summary.
const PER_RESOURCE: [&str; 8] = [
    "get-managed-prefix-list-entries",
    "describe-launch-template-versions",
    "describe-listeners",
    "describe-target-group-attributes",
    "describe-cluster",
    "describe-nodegroup",
    "describe-services",
    "describe-tasks",
];

impl Fetched {
    /// `ACCOUNT REGION: N files in S s (what they hold)`: items per call, the calls
    /// made per resource summed, empty calls left out.
    pub fn line(&self) -> String {
        let mut held: Vec<(String, usize)> = Vec::new();
        for (path, n) in &self.files {
            let stem = path
                .file_stem()
                .and_then(|s| s.to_str())
                .unwrap_or_default();
            let call = stem.split_once('-').map_or(stem, |(_, call)| call);
            let call = PER_RESOURCE
                .iter()
                .find(|c| call.starts_with(*c) && call.len() > c.len())
                .map_or(call, |c| c);
            match held.iter_mut().find(|(c, _)| c == call) {
                Some((_, total)) => *total += n,
                None => held.push((call.to_string(), *n)),
            }
        }
        let held: Vec<String> = held
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(call, n)| format!("{n} {call}"))
            .collect();
        format!(
            "{} {}: {} files in {:.1} s ({})",
            self.account,
            self.region,
            self.files.len(),
            self.elapsed.as_secs_f64(),
            if held.is_empty() {
                "all empty".to_string()
            } else {
                held.join(", ")
            }
        )
    }
}

impl FetchReport {
    /// What was fetched, for a person: a line per account and region with what its
    /// files hold, then every failure by name.
    pub fn summary(&self) -> String {
        let mut out = String::new();
        for f in &self.fetched {
            out.push_str(&f.line());
            out.push('\n');
        }
        out.push_str(&self.totals());
        out
    }

    /// The failures by name and the totals: the summary without a line per region
    /// (which [`FetchOptions::progress`] printed as each ended).
    pub fn totals(&self) -> String {
        let mut out = String::new();
        for f in &self.failures {
            match &f.region {
                Some(r) => out.push_str(&format!("FAILED {} {r}: {}\n", f.account, f.error)),
                None => out.push_str(&format!("FAILED {}: {}\n", f.account, f.error)),
            }
        }
        out.push_str(&format!(
            "fetched {} account-regions, {} failures, in {:.1} s\n",
            self.fetched.len(),
            self.failures.len(),
            self.elapsed.as_secs_f64()
        ));
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The summary: a line per account and region with what its files hold (per-list
    /// and per-template calls summed, empty calls left out), then each failure by name.
    #[test]
    fn the_summary_says_what_each_region_holds_and_who_failed() {
        let file = |name: &str, n| (PathBuf::from(format!("out/1/r/{name}.json")), n);
        let report = FetchReport {
            fetched: vec![Fetched {
                account: "123456789012".into(),
                region: "eu-west-1".into(),
                files: vec![
                    file("ec2-describe-network-interfaces", 4),
                    file("ec2-describe-security-group-rules", 0),
                    file("ec2-get-managed-prefix-list-entries-pl-0a1b2c3d", 2),
                    file("ec2-get-managed-prefix-list-entries-pl-4e5f6a7b", 3),
                    file("ec2-describe-launch-template-versions-lt-0123abcd", 2),
                ],
                elapsed: Duration::from_millis(1250),
            }],
            failures: vec![
                Failure {
                    account: "arn:aws:iam::222222222222:role/audit".into(),
                    region: None,
                    error: "sts GetCallerIdentity: AccessDenied".into(),
                },
                Failure {
                    account: "123456789012".into(),
                    region: Some("ap-east-1".into()),
                    error: "ec2 DescribeNetworkInterfaces: AuthFailure".into(),
                },
            ],
            elapsed: Duration::from_millis(3000),
        };
        assert_eq!(
            report.summary(),
            "123456789012 eu-west-1: 5 files in 1.2 s (4 describe-network-interfaces, 5 get-managed-prefix-list-entries, 2 describe-launch-template-versions)\n\
             FAILED arn:aws:iam::222222222222:role/audit: sts GetCallerIdentity: AccessDenied\n\
             FAILED 123456789012 ap-east-1: ec2 DescribeNetworkInterfaces: AuthFailure\n\
             fetched 1 account-regions, 2 failures, in 3.0 s\n"
        );
    }
}
