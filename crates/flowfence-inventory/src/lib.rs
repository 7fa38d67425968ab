//! The account inventory flowfence maps flow logs onto: network interfaces (every private
//! address, VPC, subnet, type, owning resource, groups), security groups with every rule
//! (one peer each), and prefix lists, loaded from the AWS CLI's JSON output:
//!
//! - `aws ec2 describe-network-interfaces`
//! - `aws ec2 describe-security-groups`
//! - `aws ec2 describe-security-group-rules` (optional: adds the `sgr-` ids)
//! - `aws ec2 describe-prefix-lists`, or `describe-managed-prefix-lists` with
//!   `get-managed-prefix-list-entries` saved in a file named after the list (`pl-....json`)
//!
//! Files from several accounts and regions load together, in any order. What doesn't add
//! up (an interface in a group nobody described, a rule naming an absent group) is
//! reported by [`Inventory::issues`], never fatal.
//!
//! ```
//! let mut inventory = flowfence_inventory::Inventory::default();
//! inventory.add_json("groups.json", r#"{"SecurityGroups": [{
//!     "GroupId": "sg-1", "GroupName": "default", "VpcId": "vpc-1",
//!     "IpPermissions": [{"IpProtocol": "-1", "UserIdGroupPairs": [{"GroupId": "sg-1"}]}],
//!     "IpPermissionsEgress": [{"IpProtocol": "-1", "IpRanges": [{"CidrIp": "0.0.0.0/0"}]}]
//! }]}"#).unwrap();
//! let group = inventory.group("sg-1").unwrap();
//! assert!(group.is_default());
//! assert_eq!(group.egress.len(), 1);
//! assert!(inventory.issues().is_empty());
//! ```

mod aws_ranges;
mod load;
mod model;
mod net;
mod permission;

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::path::{Path, PathBuf};

pub use aws_ranges::{AwsIpRanges, AwsRange};
pub use ipnet::IpNet;
pub use model::{
    GroupRef, Interface, Issue, LaunchGroups, LaunchSource, LauncherId, LauncherKind, Owner, Peer,
    PrefixList, Protocol, Rule, SecurityGroup, TemplateGroups,
};
pub use net::{is_private, port_name, protocol_name};
pub use permission::{GroupPair, IpPermission, IpRange, Ipv6Range, PrefixListId};

/// A file that couldn't be loaded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// A directory given as inventory couldn't be listed.
    #[error("{dir}: {source}")]
    ListDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A directory given as inventory holds no `*.json` files.
    #[error("{dir}: no *.json inventory files")]
    NoFiles {
        /// The directory.
        dir: PathBuf,
    },
    /// The file couldn't be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// Not JSON, or not the shape of the AWS CLI's output.
    #[error("{path}: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Where and why (line and column).
        #[source]
        source: serde_json::Error,
    },
    /// JSON, but none of the outputs flowfence reads.
    #[error(
        "{path}: not the output of a describe-network-interfaces, describe-security-groups, \
         describe-security-group-rules, prefix-list, describe-load-balancers, \
         describe-auto-scaling-groups, describe-launch-template-versions, \
         describe-launch-configurations, eks describe-cluster or describe-nodegroup, ecs \
         describe-services or describe-tasks, or lambda list-functions call (top-level keys: \
         {keys})"
    )]
    Unsupported {
        /// The file.
        path: PathBuf,
        /// The keys it has.
        keys: String,
    },
    /// A value that can't be what its field says.
    #[error("{path}: `{value}` is not {what}")]
    BadValue {
        /// The file.
        path: PathBuf,
        /// What was expected.
        what: String,
        /// The value.
        value: String,
    },
    /// `get-managed-prefix-list-entries` output doesn't say which list it is.
    #[error(
        "{path}: prefix list entries without a prefix list id: name the file after the list \
         (e.g. pl-0123456789abcdef0.json)"
    )]
    EntriesWithoutId {
        /// The file.
        path: PathBuf,
    },
}

/// Everything loaded, by id.
#[derive(Clone, Debug, Default)]
pub struct Inventory {
    interfaces: BTreeMap<String, Interface>,
    groups: BTreeMap<String, SecurityGroup>,
    prefix_lists: BTreeMap<String, PrefixList>,
    /// `describe-security-group-rules` output, by group: applied to the group whenever it
    /// is (re)loaded, whatever the order of the files.
    flat_rules: BTreeMap<String, Vec<(bool, Rule)>>,
    /// Interfaces by address (candidates: lookups check they still have it).
    by_address: std::collections::HashMap<IpAddr, Vec<String>>,
    /// Interfaces by delegated prefix (candidates, as above).
    by_prefix: std::collections::HashMap<IpNet, Vec<String>>,
    /// The lengths of the delegated prefixes (AWS delegates /28s and /80s only).
    prefix_lens: std::collections::BTreeSet<u8>,
    /// AWS's published ranges, when given.
    aws_ranges: Option<AwsIpRanges>,
    /// Load balancers' schemes (`internet-facing`, `internal`), by the name their
    /// interfaces' descriptions carry (`app/NAME/ID`, or a Classic one's name).
    load_balancer_schemes: BTreeMap<String, String>,
    /// Load balancers' listener ports, by the same name.
    listener_ports: BTreeMap<String, std::collections::BTreeSet<u16>>,
    /// Target groups: where their targets serve and whether they see the clients' own
    /// addresses by default.
    target_groups: Vec<TargetGroup>,
    /// `preserve_client_ip.enabled` set on target groups, by the attribute file's name
    /// (which carries the group's `NAME-ID`).
    client_ip_attributes: Vec<(String, bool)>,
    /// Files of inventory folders passed over: (file, top-level keys).
    not_read: Vec<(String, String)>,
    /// Auto scaling groups' launch settings, by name.
    auto_scaling_groups: BTreeMap<String, Launch>,
    /// Launch template versions, by template id and by name.
    template_versions: BTreeMap<String, Vec<TemplateVersion>>,
    /// Launch configurations' groups, by name.
    launch_configurations: BTreeMap<String, Vec<String>>,
    /// EKS clusters' cluster security groups, by cluster name.
    cluster_security_groups: BTreeMap<String, String>,
    /// EKS managed node groups, by cluster and name.
    node_groups: BTreeMap<(String, String), NodeGroup>,
    /// ECS services with an `awsvpc` configuration, by cluster ARN and name.
    ecs_services: BTreeMap<(String, String), EcsService>,
    /// ECS task interfaces: the service that started each (cluster ARN and name), by
    /// interface id.
    ecs_task_services: BTreeMap<String, (String, String)>,
    /// Lambda functions in a VPC, by name.
    functions: BTreeMap<String, Function>,
}

/// An EKS managed node group.
#[derive(Clone, Debug)]
struct NodeGroup {
    /// Its own launch template (id or name) and version; none: EKS's.
    template: Option<(String, String)>,
    /// The SSH access group EKS made for it.
    remote_access_group: Option<String>,
}

/// An ECS service's `awsvpc` configuration.
#[derive(Clone, Debug)]
struct EcsService {
    subnets: Vec<String>,
    groups: Vec<String>,
    assign_public_ip: Option<String>,
}

/// A Lambda function's VPC configuration.
#[derive(Clone, Debug)]
struct Function {
    subnets: Vec<String>,
    groups: Vec<String>,
    ipv6_allowed_for_dual_stack: Option<bool>,
}

/// A target group, as far as client addresses go.
#[derive(Clone, Debug)]
struct TargetGroup {
    /// `NAME-ID` of its ARN.
    name_id: String,
    /// Its load balancers, by name (`net/NAME/ID`).
    balancers: Vec<String>,
    vpc_id: Option<String>,
    port: u16,
    /// `preserve_client_ip.enabled` by AWS's defaults for its type and protocol.
    preserves_by_default: bool,
}

/// On which ports internet clients reach an interface with their own addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InternetPorts {
    /// None: internet peers reach it through something that replaces their address.
    None,
    /// Every port it serves (a public address).
    Any,
    /// These ports (a load balancer's listeners, or a client-preserving target group's).
    Ports(std::collections::BTreeSet<u16>),
}

impl InternetPorts {
    /// Whether internet clients reach it on `port`.
    pub fn includes(&self, port: u16) -> bool {
        match self {
            InternetPorts::None => false,
            InternetPorts::Any => true,
            InternetPorts::Ports(p) => p.contains(&port),
        }
    }
}

/// How an auto scaling group names its launch settings.
#[derive(Clone, Debug)]
enum Launch {
    /// A template (id or name) and a version (`3`, `$Latest`, `$Default`).
    Template {
        template: String,
        version: String,
        mixed_instances: bool,
    },
    Configuration(String),
}

/// One launch template version's groups.
#[derive(Clone, Debug)]
struct TemplateVersion {
    template_id: String,
    number: u64,
    default: bool,
    groups: Vec<String>,
    groups_in: TemplateGroups,
}

/// The `pl-` id a file name carries (`pl-0123abcd.json`, or `inventory fetch`'s
/// `ec2-get-managed-prefix-list-entries-pl-0123abcd.json`): `pl-` starting a word,
/// then hex digits.
fn prefix_list_id_in(name: &str) -> Option<&str> {
    name.match_indices("pl-")
        .filter(|(at, _)| {
            name[..*at]
                .chars()
                .next_back()
                .is_none_or(|c| !c.is_ascii_alphanumeric())
        })
        .map(|(at, _)| {
            let hex = name[at + 3..]
                .find(|c: char| !c.is_ascii_hexdigit())
                .map_or(name.len(), |e| at + 3 + e);
            &name[at..hex]
        })
        .filter(|id| id.len() > 3)
        .last()
}

/// `path` itself, or the `*.json` files under the directory `path` (its subfolders
/// too: `inventory fetch` writes ACCOUNT/REGION/), in path order.
fn files_of(path: &Path) -> Result<Vec<PathBuf>, InventoryError> {
    if !path.is_dir() {
        return Ok(vec![path.to_path_buf()]);
    }
    let mut found = Vec::new();
    json_files_under(path, &mut found)?;
    found.sort();
    if found.is_empty() {
        return Err(InventoryError::NoFiles { dir: path.into() });
    }
    Ok(found)
}

fn json_files_under(dir: &Path, found: &mut Vec<PathBuf>) -> Result<(), InventoryError> {
    let list_error = |source| InventoryError::ListDir {
        dir: dir.into(),
        source,
    };
    // An entry that can't be read is an error, not a file quietly left out.
    for entry in std::fs::read_dir(dir).map_err(list_error)? {
        let path = entry.map_err(list_error)?.path();
        if path.is_dir() {
            json_files_under(&path, found)?;
        } else if path.extension().is_some_and(|x| x == "json") {
            found.push(path);
        }
    }
    Ok(())
}

impl Inventory {
    /// Loads every file given, and the `*.json` files under every directory given (in
    /// path order, subfolders included). A directory's file that is no output flowfence reads is passed over
    /// and listed ([`Issue::FileNotRead`]); a file named on its own must be one, and a
    /// file of a known output that is malformed is an error either way.
    pub fn load(paths: &[impl AsRef<Path>]) -> Result<Inventory, InventoryError> {
        let mut inventory = Inventory::default();
        for path in paths {
            let in_folder = path.as_ref().is_dir();
            for file in files_of(path.as_ref())? {
                match inventory.add_file(&file) {
                    Err(InventoryError::Unsupported { path, keys }) if in_folder => {
                        inventory.not_read.push((path.display().to_string(), keys));
                    }
                    other => other?,
                }
            }
        }
        Ok(inventory)
    }

    /// Adds one file of AWS CLI output.
    pub fn add_file(&mut self, path: &Path) -> Result<(), InventoryError> {
        let text = std::fs::read_to_string(path).map_err(|source| InventoryError::Io {
            path: path.into(),
            source,
        })?;
        self.add_json(&path.to_string_lossy(), &text)
    }

    /// Adds AWS CLI output held in memory; `name` is for messages (and, for prefix list
    /// entries, must contain the list's `pl-` id).
    pub fn add_json(&mut self, name: &str, json: &str) -> Result<(), InventoryError> {
        let path = PathBuf::from(name);
        let bad = |b: load::BadValue| InventoryError::BadValue {
            path: path.clone(),
            what: b.what,
            value: b.value,
        };
        let output: load::Output =
            serde_json::from_str(json).map_err(|source| InventoryError::Json {
                path: path.clone(),
                source,
            })?;
        let load::Output {
            network_interfaces,
            security_groups,
            security_group_rules,
            prefix_lists,
            entries,
            load_balancers,
            listeners,
            target_groups,
            attributes,
            load_balancer_descriptions,
            auto_scaling_groups,
            launch_template_versions,
            launch_configurations,
            eks_cluster,
            eks_nodegroup,
            ecs_services,
            ecs_tasks,
            functions,
        } = output;
        if network_interfaces.is_none()
            && security_groups.is_none()
            && security_group_rules.is_none()
            && prefix_lists.is_none()
            && entries.is_none()
            && load_balancers.is_none()
            && listeners.is_none()
            && target_groups.is_none()
            && attributes.is_none()
            && load_balancer_descriptions.is_none()
            && auto_scaling_groups.is_none()
            && launch_template_versions.is_none()
            && launch_configurations.is_none()
            && eks_cluster.is_none()
            && eks_nodegroup.is_none()
            && ecs_services.is_none()
            && ecs_tasks.is_none()
            && functions.is_none()
        {
            let keys = serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(json)
                .map(|m| m.keys().cloned().collect::<Vec<_>>().join(", "))
                .unwrap_or_else(|_| "none: not a JSON object".into());
            return Err(InventoryError::Unsupported { path, keys });
        }
        for lb in load_balancers.unwrap_or_default() {
            let key = lb.key().ok_or_else(|| {
                bad(load::BadValue {
                    what: "a load balancer ARN (arn:aws:elasticloadbalancing:...:loadbalancer/TYPE/NAME/ID)".into(),
                    value: lb.load_balancer_arn.clone(),
                })
            })?;
            self.load_balancer_schemes
                .insert(key.to_string(), lb.scheme.clone().unwrap_or_default());
        }
        for l in listeners.unwrap_or_default() {
            let (Some(key), Some(port)) = (load::load_balancer_key(&l.load_balancer_arn), l.port)
            else {
                continue;
            };
            self.listener_ports
                .entry(key.to_string())
                .or_default()
                .insert(port);
        }
        for tg in target_groups.unwrap_or_default() {
            let Some(port) = tg.port else { continue };
            self.target_groups.push(TargetGroup {
                name_id: tg.name_id(),
                balancers: tg
                    .load_balancer_arns
                    .iter()
                    .filter_map(|a| load::load_balancer_key(a))
                    .map(String::from)
                    .collect(),
                vpc_id: tg.vpc_id.clone(),
                port,
                preserves_by_default: tg.preserves_client_ip_by_default(),
            });
        }
        for a in attributes.iter().flatten() {
            if a.key == "preserve_client_ip.enabled" {
                self.client_ip_attributes
                    .push((name.to_string(), a.value == "true"));
            }
        }
        for asg in auto_scaling_groups.unwrap_or_default() {
            let mixed = asg
                .mixed_instances_policy
                .map(|m| m.launch_template.launch_template_specification);
            let mixed_instances = asg.launch_template.is_none() && mixed.is_some();
            let launch = match (asg.launch_template.or(mixed), asg.launch_configuration_name) {
                (Some(t), _) => Launch::Template {
                    template: t
                        .launch_template_id
                        .or(t.launch_template_name)
                        .unwrap_or_default(),
                    version: t.version.unwrap_or_else(|| "$Default".into()),
                    mixed_instances,
                },
                (None, Some(name)) => Launch::Configuration(name),
                (None, None) => continue,
            };
            self.auto_scaling_groups
                .insert(asg.auto_scaling_group_name, launch);
        }
        for v in launch_template_versions.unwrap_or_default() {
            let data = v.launch_template_data;
            // The primary interface's groups, else the instance's.
            let mut primary = None;
            for (i, raw) in data.network_interfaces.iter().enumerate() {
                let interface: load::AwsTemplateInterface = serde_json::from_value(raw.clone())
                    .map_err(|e| {
                        bad(load::BadValue {
                            what: format!(
                                "launch template {} version {}: network interface {}: {e}",
                                v.launch_template_id,
                                v.version_number,
                                i + 1
                            ),
                            value: raw.to_string(),
                        })
                    })?;
                if interface.device_index.unwrap_or(0) == 0 && !interface.groups.is_empty() {
                    primary = Some(interface.groups);
                }
            }
            let (groups, groups_in) = match primary {
                Some(groups) => (
                    groups,
                    TemplateGroups::PrimaryInterface(data.network_interfaces),
                ),
                None => (data.security_group_ids, TemplateGroups::Instance),
            };
            let version = TemplateVersion {
                template_id: v.launch_template_id.clone(),
                number: v.version_number,
                default: v.default_version,
                groups,
                groups_in,
            };
            for key in std::iter::once(v.launch_template_id).chain(v.launch_template_name) {
                self.template_versions
                    .entry(key)
                    .or_default()
                    .push(version.clone());
            }
        }
        if let Some(c) = eks_cluster
            && let Some(sg) = c
                .resources_vpc_config
                .and_then(|v| v.cluster_security_group_id)
        {
            self.cluster_security_groups.insert(c.name, sg);
        }
        if let Some(g) = eks_nodegroup {
            let template = g.launch_template.and_then(|t| {
                let key = t.id.or(t.name)?;
                Some((key, t.version.unwrap_or_else(|| "$Default".into())))
            });
            self.node_groups.insert(
                (g.cluster_name, g.nodegroup_name),
                NodeGroup {
                    template,
                    remote_access_group: g.resources.and_then(|r| r.remote_access_security_group),
                },
            );
        }
        for service in ecs_services.unwrap_or_default() {
            // Services of the bridge or host network modes have no interfaces of their own.
            let Some(network) = service.network_configuration else {
                continue;
            };
            let awsvpc = network.awsvpc_configuration;
            self.ecs_services.insert(
                (service.cluster_arn, service.service_name),
                EcsService {
                    subnets: awsvpc.subnets,
                    groups: awsvpc.security_groups,
                    assign_public_ip: awsvpc.assign_public_ip,
                },
            );
        }
        for task in ecs_tasks.iter().flatten() {
            if let Some((service, eni)) = task.service_interface() {
                self.ecs_task_services.insert(
                    eni.to_string(),
                    (task.cluster_arn.clone(), service.to_string()),
                );
            }
        }
        for f in functions.unwrap_or_default() {
            let Some(vpc) = f.vpc_config.filter(|v| !v.security_group_ids.is_empty()) else {
                continue;
            };
            self.functions.insert(
                f.function_name,
                Function {
                    subnets: vpc.subnet_ids,
                    groups: vpc.security_group_ids,
                    ipv6_allowed_for_dual_stack: vpc.ipv6_allowed_for_dual_stack,
                },
            );
        }
        for c in launch_configurations.unwrap_or_default() {
            self.launch_configurations
                .insert(c.launch_configuration_name, c.security_groups);
        }
        for lb in load_balancer_descriptions.unwrap_or_default() {
            self.load_balancer_schemes
                .insert(lb.load_balancer_name, lb.scheme.unwrap_or_default());
        }
        for i in network_interfaces.unwrap_or_default() {
            let interface = i.into_model().map_err(bad)?;
            for a in &interface.addresses {
                let ids = self.by_address.entry(*a).or_default();
                if !ids.contains(&interface.id) {
                    ids.push(interface.id.clone());
                }
            }
            for p in &interface.prefixes {
                self.prefix_lens.insert(p.prefix_len());
                let ids = self.by_prefix.entry(p.trunc()).or_default();
                if !ids.contains(&interface.id) {
                    ids.push(interface.id.clone());
                }
            }
            self.interfaces.insert(interface.id.clone(), interface);
        }
        for g in security_groups.unwrap_or_default() {
            let mut group = g.into_model().map_err(bad)?;
            if let Some(flat) = self.flat_rules.get(&group.id) {
                for (egress, rule) in flat {
                    apply_flat_rule(&mut group, *egress, rule);
                }
            }
            self.groups.insert(group.id.clone(), group);
        }
        for r in security_group_rules.unwrap_or_default() {
            let (group_id, egress, rule) = r.into_model().map_err(bad)?;
            // A group known only from its rules still gets them.
            let group = self
                .groups
                .entry(group_id.clone())
                .or_insert_with(|| SecurityGroup {
                    id: group_id.clone(),
                    name: String::new(),
                    description: String::new(),
                    vpc_id: None,
                    account: None,
                    ingress: Vec::new(),
                    egress: Vec::new(),
                    tags: BTreeMap::new(),
                });
            apply_flat_rule(group, egress, &rule);
            self.flat_rules
                .entry(group_id)
                .or_default()
                .push((egress, rule));
        }
        for p in prefix_lists.unwrap_or_default() {
            let list = p.into_model().map_err(bad)?;
            match self.prefix_lists.get_mut(&list.id) {
                // describe-managed-prefix-lists has no CIDRs: keep any loaded from entries.
                Some(known) => {
                    known.name = list.name;
                    known.max_entries = list.max_entries.or(known.max_entries);
                    if !list.cidrs.is_empty() {
                        known.cidrs = list.cidrs;
                    }
                }
                None => {
                    self.prefix_lists.insert(list.id.clone(), list);
                }
            }
        }
        if let Some(entries) = entries {
            let id = prefix_list_id_in(name)
                .ok_or_else(|| InventoryError::EntriesWithoutId { path: path.clone() })?;
            let cidrs = entries
                .iter()
                .map(load::AwsEntry::cidr)
                .collect::<Result<Vec<_>, _>>()
                .map_err(bad)?;
            let list = self
                .prefix_lists
                .entry(id.to_string())
                .or_insert_with(|| PrefixList {
                    id: id.to_string(),
                    name: String::new(),
                    cidrs: Vec::new(),
                    max_entries: None,
                });
            list.cidrs = cidrs;
        }
        Ok(())
    }

    /// Adds AWS's published ranges (`ip-ranges.json`): addresses get a service and
    /// region ([`Inventory::aws_range`]), and an AWS-managed prefix list loaded without
    /// its CIDRs (`describe-managed-prefix-lists` has none) gets its service's ranges in
    /// its region, so addresses in them resolve to the service.
    pub fn add_aws_ip_ranges(&mut self, ranges: AwsIpRanges) {
        for list in self.prefix_lists.values_mut() {
            let Some(rest) = list.name.strip_prefix("com.amazonaws.") else {
                continue;
            };
            let mut parts = rest.split('.');
            if let (Some(region), Some(service), None) = (parts.next(), parts.next(), parts.next())
                && list.cidrs.is_empty()
            {
                list.cidrs = ranges.of_service(service, region);
            }
        }
        self.aws_ranges = Some(ranges);
    }

    /// The internet-facing load balancer `interface` belongs to, by name.
    fn internet_facing_balancer<'a>(&self, interface: &'a Interface) -> Option<&'a str> {
        match &interface.owner {
            Owner::LoadBalancer(name)
                if self
                    .load_balancer_schemes
                    .get(name)
                    .is_some_and(|s| s == "internet-facing") =>
            {
                Some(name)
            }
            _ => None,
        }
    }

    /// On which ports internet clients reach `interface` with their own addresses: any
    /// port for a public address; an internet-facing load balancer's listener ports
    /// (any, when `describe-listeners` wasn't given); for an interface in the VPC of an
    /// internet-facing load balancer whose target groups preserve client addresses
    /// (network load balancers' instance targets, by AWS's defaults), those target
    /// groups' ports.
    pub fn internet_ports(&self, interface: &Interface) -> InternetPorts {
        if interface.is_internet_facing() {
            return InternetPorts::Any;
        }
        if let Some(lb) = self.internet_facing_balancer(interface) {
            return match self.listener_ports.get(lb) {
                Some(ports) => InternetPorts::Ports(ports.clone()),
                None => InternetPorts::Any,
            };
        }
        let ports: std::collections::BTreeSet<u16> = self
            .target_groups
            .iter()
            .filter(|tg| {
                let preserves = self
                    .client_ip_attributes
                    .iter()
                    .find(|(file, _)| file.contains(&tg.name_id))
                    .map_or(tg.preserves_by_default, |(_, on)| *on);
                preserves
                    && tg.vpc_id.as_deref() == interface.vpc_id.as_deref()
                    && tg.balancers.iter().any(|lb| {
                        self.load_balancer_schemes
                            .get(lb)
                            .is_some_and(|s| s == "internet-facing")
                    })
            })
            .map(|tg| tg.port)
            .collect();
        if ports.is_empty() {
            InternetPorts::None
        } else {
            InternetPorts::Ports(ports)
        }
    }

    /// The launchers of `interface`: what starts interfaces like it, as its tags and the
    /// inventory say. A managed node group's instances carry both an auto scaling
    /// group's tag and the node group's: the node group decides. A Lambda interface
    /// serves every function of its subnet with exactly its groups (Lambda shares one
    /// per combination); without the functions' configurations, the one its
    /// description names.
    pub fn launchers_of(&self, interface: &Interface) -> Vec<LauncherId> {
        let id = |kind, name: &str| LauncherId {
            kind,
            name: name.to_string(),
            cluster: None,
        };
        if let Some(group) = interface.tags.get("eks:nodegroup-name") {
            return vec![LauncherId {
                cluster: interface.tags.get("eks:cluster-name").cloned(),
                ..id(LauncherKind::EksNodeGroup, group)
            }];
        }
        if let Some(asg) = interface.tags.get("aws:autoscaling:groupName") {
            return vec![id(LauncherKind::AutoScalingGroup, asg)];
        }
        if let Some((cluster, service)) = self.ecs_task_services.get(&interface.id) {
            return vec![LauncherId {
                cluster: Some(cluster.clone()),
                ..id(LauncherKind::EcsService, service)
            }];
        }
        if let Owner::Lambda(named) = &interface.owner {
            let groups: BTreeSet<&str> = interface.groups.iter().map(|g| g.id.as_str()).collect();
            let sharing: Vec<LauncherId> = self
                .functions
                .iter()
                .filter(|(_, f)| {
                    interface
                        .subnet_id
                        .as_ref()
                        .is_some_and(|s| f.subnets.contains(s))
                        && f.groups.iter().map(String::as_str).collect::<BTreeSet<_>>() == groups
                })
                .map(|(name, _)| id(LauncherKind::LambdaFunction, name))
                .collect();
            if sharing.is_empty() {
                return vec![id(LauncherKind::LambdaFunction, named)];
            }
            return sharing;
        }
        Vec::new()
    }

    /// What `launcher` launches into, when the inventory holds its settings: an auto
    /// scaling group's (`describe-auto-scaling-groups` with
    /// `describe-launch-template-versions` or `describe-launch-configurations`), a node
    /// group's (`eks describe-nodegroup`, and its template's versions), an ECS
    /// service's (`ecs describe-services`), a function's (`lambda list-functions`);
    /// `None` when it doesn't.
    pub fn launch_groups(&self, launcher: &LauncherId) -> Option<LaunchGroups> {
        let name = launcher.name.as_str();
        match launcher.kind {
            LauncherKind::AutoScalingGroup => match self.auto_scaling_groups.get(name)? {
                Launch::Configuration(c) => Some(LaunchGroups {
                    source: LaunchSource::Configuration(c.clone()),
                    cluster: None,
                    groups: self.launch_configurations.get(c)?.clone(),
                }),
                Launch::Template {
                    template,
                    version,
                    mixed_instances,
                } => self.template_launch(template, version, *mixed_instances),
            },
            LauncherKind::EksNodeGroup => {
                let ((cluster_name, _), group) = self.node_groups.iter().find(|((c, n), _)| {
                    n == name && launcher.cluster.as_ref().is_none_or(|want| want == c)
                })?;
                let cluster = Some(cluster_name.clone());
                match &group.template {
                    Some((template, version)) => Some(LaunchGroups {
                        cluster,
                        ..self.template_launch(template, version, false)?
                    }),
                    // EKS's template names the cluster security group and the SSH
                    // access group.
                    None => Some(LaunchGroups {
                        source: LaunchSource::NodeGroupDefaults,
                        groups: self
                            .cluster_security_groups
                            .get(cluster_name)
                            .into_iter()
                            .chain(&group.remote_access_group)
                            .cloned()
                            .collect(),
                        cluster,
                    }),
                }
            }
            LauncherKind::EcsService => {
                let cluster = launcher.cluster.clone()?;
                let s = self
                    .ecs_services
                    .get(&(cluster.clone(), name.to_string()))?;
                Some(LaunchGroups {
                    source: LaunchSource::EcsService {
                        subnets: s.subnets.clone(),
                        assign_public_ip: s.assign_public_ip.clone(),
                    },
                    cluster: Some(cluster),
                    groups: s.groups.clone(),
                })
            }
            LauncherKind::LambdaFunction => {
                let f = self.functions.get(name)?;
                Some(LaunchGroups {
                    source: LaunchSource::LambdaVpc {
                        subnets: f.subnets.clone(),
                        ipv6_allowed_for_dual_stack: f.ipv6_allowed_for_dual_stack,
                    },
                    cluster: None,
                    groups: f.groups.clone(),
                })
            }
        }
    }

    /// The version `version` (`$Latest`, `$Default` or a number) of launch template
    /// `template` (id or name), when its versions were loaded.
    fn template_launch(
        &self,
        template: &str,
        version: &str,
        mixed_instances: bool,
    ) -> Option<LaunchGroups> {
        let versions = self.template_versions.get(template)?;
        let chosen = match version {
            "$Latest" => versions.iter().max_by_key(|v| v.number),
            "$Default" => versions.iter().find(|v| v.default),
            n => versions.iter().find(|v| n.parse() == Ok(v.number)),
        }?;
        Some(LaunchGroups {
            source: LaunchSource::Template {
                template_id: chosen.template_id.clone(),
                version: chosen.number,
                named: version.to_string(),
                mixed_instances,
                groups_in: chosen.groups_in.clone(),
            },
            cluster: None,
            groups: chosen.groups.clone(),
        })
    }

    /// The auto scaling groups and EKS node groups that launch launch template
    /// `template_id` (named by id or by name), by name.
    pub fn template_users(&self, template_id: &str) -> Vec<&str> {
        let is_it = |template: &str| {
            self.template_versions
                .get(template)
                .and_then(|v| v.first())
                .map_or(template == template_id, |v| v.template_id == template_id)
        };
        let groups = self
            .auto_scaling_groups
            .iter()
            .filter(|(_, launch)| match launch {
                Launch::Template { template, .. } => is_it(template),
                Launch::Configuration(_) => false,
            })
            .map(|(name, _)| name.as_str());
        let node_groups = self
            .node_groups
            .iter()
            .filter(|(_, g)| g.template.as_ref().is_some_and(|(t, _)| is_it(t)))
            .map(|((_, name), _)| name.as_str());
        groups.chain(node_groups).collect()
    }

    /// Where `address` is in AWS, when ranges were added.
    pub fn aws_range(&self, address: IpAddr) -> Option<&AwsRange> {
        self.aws_ranges.as_ref()?.lookup(address)
    }

    /// An interface by id.
    pub fn interface(&self, id: &str) -> Option<&Interface> {
        self.interfaces.get(id)
    }

    /// Every interface, by id.
    pub fn interfaces(&self) -> impl Iterator<Item = &Interface> {
        self.interfaces.values()
    }

    /// A security group by id.
    pub fn group(&self, id: &str) -> Option<&SecurityGroup> {
        self.groups.get(id)
    }

    /// Every security group, by id.
    pub fn groups(&self) -> impl Iterator<Item = &SecurityGroup> {
        self.groups.values()
    }

    /// A prefix list by id.
    pub fn prefix_list(&self, id: &str) -> Option<&PrefixList> {
        self.prefix_lists.get(id)
    }

    /// Every prefix list, by id.
    pub fn prefix_lists(&self) -> impl Iterator<Item = &PrefixList> {
        self.prefix_lists.values()
    }

    /// The interface that has `address` in `vpc` (any VPC when `vpc` is `None`; private
    /// ranges repeat across VPCs, so give it when known): one of its addresses, else an
    /// address in one of its delegated prefixes (a pod's).
    pub fn interface_by_address(&self, vpc: Option<&str>, address: IpAddr) -> Option<&Interface> {
        self.holders(address)
            .find(|i| vpc.is_none() || i.vpc_id.as_deref() == vpc)
    }

    /// The interfaces that have `address`, in any VPC: those with it as one of their
    /// addresses first, then those with it in a delegated prefix. Lazy, and one lookup
    /// per delegated prefix length, not a scan of every prefix: this runs for every peer
    /// address, most of them on the internet.
    fn holders(&self, address: IpAddr) -> impl Iterator<Item = &Interface> {
        let exact = self.by_address.get(&address).into_iter().flatten();
        let delegated = self
            .prefix_lens
            .iter()
            .filter_map(move |&len| IpNet::new(address, len).ok())
            .filter_map(|net| self.by_prefix.get(&net.trunc()))
            .flatten();
        exact
            .chain(delegated)
            .filter_map(|id| self.interfaces.get(id))
            .filter(move |i| i.has_address(address))
    }

    /// The interface of another VPC than `vpc` that has `address`, when exactly one VPC
    /// has it: a peer across a VPC peering connection (peered VPCs never overlap, and a
    /// rule may name a peered VPC's group in the same region). `None` when the address
    /// is in several other VPCs (unconnected VPCs reuse private ranges).
    pub fn interface_in_another_vpc(&self, vpc: &str, address: IpAddr) -> Option<&Interface> {
        let mut found: Option<&Interface> = None;
        for i in self.holders(address) {
            match (found, i.vpc_id.as_deref()) {
                (_, Some(v)) if v == vpc => return None,
                (_, None) => return None,
                (None, Some(_)) => found = Some(i),
                (Some(f), Some(v)) if f.vpc_id.as_deref() == Some(v) => {}
                (Some(_), Some(_)) => return None,
            }
        }
        found
    }

    /// The prefix list with a CIDR containing `address` (an AWS service's range).
    pub fn prefix_list_containing(&self, address: IpAddr) -> Option<&PrefixList> {
        self.prefix_lists
            .values()
            .find(|p| p.cidrs.iter().any(|c| c.contains(&address)))
    }

    /// The interfaces in group `id`.
    pub fn members(&self, group: &str) -> impl Iterator<Item = &Interface> {
        let group = group.to_string();
        self.interfaces
            .values()
            .filter(move |i| i.groups.iter().any(|g| g.id == group))
    }

    /// What doesn't add up, sorted.
    pub fn issues(&self) -> Vec<Issue> {
        let mut issues = BTreeSet::new();
        for i in self.interfaces.values() {
            for g in &i.groups {
                if !self.groups.contains_key(&g.id) {
                    issues.insert(Issue::InterfaceGroupMissing {
                        interface: i.id.clone(),
                        group: g.id.clone(),
                    });
                }
            }
        }
        for g in self.groups.values() {
            for rule in g.ingress.iter().chain(&g.egress) {
                match &rule.peer {
                    Peer::Group { id, account } if !self.groups.contains_key(id) => {
                        issues.insert(Issue::ReferencedGroupMissing {
                            group: g.id.clone(),
                            referenced: id.clone(),
                            account: account.clone(),
                        });
                    }
                    Peer::PrefixList(pl)
                        if self.prefix_lists.get(pl).is_none_or(|p| p.cidrs.is_empty()) =>
                    {
                        issues.insert(Issue::PrefixListMissing {
                            group: g.id.clone(),
                            prefix_list: pl.clone(),
                        });
                    }
                    _ => {}
                }
            }
        }
        let mut claims: BTreeMap<(Option<&str>, IpAddr), Vec<String>> = BTreeMap::new();
        for i in self.interfaces.values() {
            for a in &i.addresses {
                claims
                    .entry((i.vpc_id.as_deref(), *a))
                    .or_default()
                    .push(i.id.clone());
            }
        }
        for ((_, address), interfaces) in claims {
            if interfaces.len() > 1 {
                issues.insert(Issue::AddressConflict {
                    address,
                    interfaces,
                });
            }
        }
        for (file, keys) in &self.not_read {
            issues.insert(Issue::FileNotRead {
                file: file.clone(),
                keys: keys.clone(),
            });
        }
        issues.into_iter().collect()
    }
}

/// Gives a rule from `describe-security-group-rules` its place: the same rule from
/// `describe-security-groups` gets the `sgr-` id; a rule not there yet is added.
fn apply_flat_rule(group: &mut SecurityGroup, egress: bool, rule: &Rule) {
    let rules = if egress {
        &mut group.egress
    } else {
        &mut group.ingress
    };
    let same =
        |r: &Rule| r.protocol == rule.protocol && r.ports == rule.ports && r.peer == rule.peer;
    match rules
        .iter_mut()
        .find(|r| same(r) && (r.rule_id.is_none() || r.rule_id == rule.rule_id))
    {
        Some(r) => r.rule_id = rule.rule_id.clone(),
        None => rules.push(rule.clone()),
    }
}
