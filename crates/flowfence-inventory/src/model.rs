//! What the inventory holds: interfaces, security groups with their rules, prefix lists,
//! and the inconsistencies found while loading them.

use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;

/// A network interface (`describe-network-interfaces`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Interface {
    /// `eni-...`
    pub id: String,
    /// The account that owns it.
    pub account: Option<String>,
    /// `vpc-...`
    pub vpc_id: Option<String>,
    /// `subnet-...`
    pub subnet_id: Option<String>,
    /// Availability zone name.
    pub availability_zone: Option<String>,
    /// `interface`, `nat_gateway`, `network_load_balancer`, `vpc_endpoint`, `lambda`, ...
    /// (an open set: kept as AWS spells it).
    pub interface_type: String,
    /// Created and managed by an AWS service: its groups are changed on the owning
    /// resource, not on the interface.
    pub requester_managed: bool,
    /// The service or account that created it (`amazon-rds`, `amazon-elb`, an account id).
    pub requester_id: Option<String>,
    /// The description AWS wrote (names the owning resource for managed interfaces).
    pub description: String,
    /// The resource the interface belongs to, as far as it can be told.
    pub owner: Owner,
    /// Every private address: IPv4 (primary first) and IPv6.
    pub addresses: Vec<IpAddr>,
    /// Prefixes delegated to it (`Ipv4Prefixes`, `Ipv6Prefixes`: /28 and /80 with EKS
    /// prefix delegation): every address in them is the interface's, its pods' addresses.
    pub prefixes: Vec<IpNet>,
    /// Public IPv4 addresses associated with it (`Association.PublicIp`): an
    /// internet-facing load balancer's, or an instance's reachable from the internet.
    pub public_addresses: Vec<IpAddr>,
    /// Its security groups, in the order AWS lists them.
    pub groups: Vec<GroupRef>,
    /// Tags (`TagSet`).
    pub tags: BTreeMap<String, String>,
}

impl Interface {
    /// The primary private IPv4 address, the one flow logs show for the interface.
    pub fn primary_address(&self) -> Option<IpAddr> {
        self.addresses.first().copied()
    }

    /// Whether `address` is the interface's: one of its addresses, or in a delegated
    /// prefix.
    pub fn has_address(&self, address: IpAddr) -> bool {
        self.addresses.contains(&address) || self.prefixes.iter().any(|p| p.contains(&address))
    }

    /// Reachable from the internet: it has a public address (an internet-facing load
    /// balancer's interfaces all do).
    pub fn is_internet_facing(&self) -> bool {
        !self.public_addresses.is_empty()
    }

    /// NAT gateways (and other group-less interfaces) are paths, not endpoints to secure.
    pub fn has_security_groups(&self) -> bool {
        !self.groups.is_empty()
    }
}

/// A security group as an interface lists it.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct GroupRef {
    /// `sg-...`
    pub id: String,
    /// Its name.
    pub name: String,
}

/// What an interface belongs to, from its attachment, requester and description.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Owner {
    /// An EC2 instance.
    Instance(String),
    /// An Elastic Load Balancing load balancer (`app/name/id`, `net/name/id` or a name).
    LoadBalancer(String),
    /// An RDS database instance or cluster (AWS doesn't name it on the interface).
    Rds,
    /// An ElastiCache node (`cluster-0001-001`).
    ElastiCache(String),
    /// A NAT gateway (`nat-...`).
    NatGateway(String),
    /// An interface VPC endpoint (`vpce-...`).
    VpcEndpoint(String),
    /// A Lambda function's interface (the description's suffix).
    Lambda(String),
    /// An ECS task attachment (`arn:aws:ecs:...:attachment/...`).
    EcsTask(String),
    /// An EKS cluster's interface (the cluster name).
    Eks(String),
    /// Managed by an AWS service flowfence doesn't recognise: requester and description.
    OtherService {
        /// `RequesterId`.
        requester: String,
        /// `Description`.
        description: String,
    },
    /// Not attached to anything.
    Unattached,
}

impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Instance(id) => write!(f, "instance {id}"),
            Owner::LoadBalancer(name) => write!(f, "load balancer {name}"),
            Owner::Rds => f.write_str("RDS database"),
            Owner::ElastiCache(name) => write!(f, "ElastiCache {name}"),
            Owner::NatGateway(id) => write!(f, "NAT gateway {id}"),
            Owner::VpcEndpoint(id) => write!(f, "VPC endpoint {id}"),
            Owner::Lambda(name) => write!(f, "Lambda {name}"),
            Owner::EcsTask(arn) => write!(f, "ECS task {arn}"),
            Owner::Eks(cluster) => write!(f, "EKS cluster {cluster}"),
            Owner::OtherService {
                requester,
                description,
            } => {
                write!(f, "{requester} ({description})")
            }
            Owner::Unattached => f.write_str("unattached"),
        }
    }
}

/// A security group (`describe-security-groups`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SecurityGroup {
    /// `sg-...`
    pub id: String,
    /// Name (`default` for a VPC's default group).
    pub name: String,
    /// Description.
    pub description: String,
    /// `vpc-...`
    pub vpc_id: Option<String>,
    /// The account that owns it.
    pub account: Option<String>,
    /// Inbound rules, one source each.
    pub ingress: Vec<Rule>,
    /// Outbound rules, one destination each.
    pub egress: Vec<Rule>,
    /// Tags.
    pub tags: BTreeMap<String, String>,
}

impl SecurityGroup {
    /// A VPC's default group (named `default`; it can't be deleted).
    pub fn is_default(&self) -> bool {
        self.name == "default"
    }

    /// The controller that creates this group and rewrites its rules on every sync, if
    /// its tags or name say one does (a rule tightened by hand lasts until then): the EKS
    /// cluster security group, the Kubernetes cloud provider's `k8s-elb-` groups, the
    /// AWS Load Balancer Controller's groups.
    pub fn managed_by(&self) -> Option<&'static str> {
        // `kubernetes.io/cluster/NAME = owned` alone is no sign: eksctl tags the node
        // groups it creates (the user's) that way too.
        let tagged = |key: &str| self.tags.contains_key(key);
        if tagged("aws:eks:cluster-name") || self.name.starts_with("eks-cluster-sg-") {
            Some("EKS (the cluster security group)")
        } else if tagged("elbv2.k8s.aws/cluster") {
            Some("the AWS Load Balancer Controller")
        } else if self.name.starts_with("k8s-elb-") {
            Some("the Kubernetes cloud provider")
        } else {
            None
        }
    }
}

/// The IP protocol a rule allows.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Protocol {
    /// `-1`: every protocol and port.
    All,
    /// An IANA protocol number (`tcp` is 6, `udp` 17, `icmp` 1, `icmpv6` 58).
    Number(u8),
}

impl Protocol {
    /// Parses `IpProtocol`: a name, a number, or `-1`.
    pub fn parse(s: &str) -> Option<Protocol> {
        Some(match s.to_ascii_lowercase().as_str() {
            "-1" | "all" => Protocol::All,
            "tcp" => Protocol::Number(6),
            "udp" => Protocol::Number(17),
            "icmp" => Protocol::Number(1),
            "icmpv6" => Protocol::Number(58),
            n => Protocol::Number(n.parse().ok()?),
        })
    }
}

/// Who a rule allows traffic from (ingress) or to (egress).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Peer {
    /// An IPv4 or IPv6 CIDR, canonical (host bits cleared, as AWS stores it).
    Cidr(IpNet),
    /// A prefix list (`pl-...`).
    PrefixList(String),
    /// Another (or the same) security group, possibly in another account or VPC.
    Group {
        /// `sg-...`
        id: String,
        /// The owning account, when AWS names it.
        account: Option<String>,
    },
}

/// One rule of a security group, with one peer.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rule {
    /// The protocol.
    pub protocol: Protocol,
    /// First and last port (ICMP: type and code); `None` for all ports.
    pub ports: Option<(i32, i32)>,
    /// The source (ingress) or destination (egress).
    pub peer: Peer,
    /// The rule's description.
    pub description: Option<String>,
    /// The `sgr-` id, when `describe-security-group-rules` output was loaded.
    pub rule_id: Option<String>,
}

/// A prefix list: AWS-managed (`com.amazonaws.us-east-1.s3`) or customer-managed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PrefixList {
    /// `pl-...`
    pub id: String,
    /// Name.
    pub name: String,
    /// Its CIDRs, when known.
    pub cidrs: Vec<IpNet>,
    /// For customer-managed lists: the entries a rule referencing it counts for.
    pub max_entries: Option<u32>,
}

impl PrefixList {
    /// AWS's own lists for gateway endpoints and services (`com.amazonaws.<region>.<service>`).
    pub fn is_aws_managed(&self) -> bool {
        self.name.starts_with("com.amazonaws.")
    }

    /// The AWS service an AWS-managed list stands for (`s3`, `dynamodb`).
    pub fn service(&self) -> Option<&str> {
        self.name.strip_prefix("com.amazonaws.")?.split('.').nth(1)
    }

    /// How many rules a rule referencing this list counts for against a group's quota:
    /// a customer-managed list its maximum entries, an AWS-managed one its weight (S3
    /// and DynamoDB 1, CloudFront's origin-facing list 55).
    pub fn weight(&self) -> usize {
        let entries = || {
            self.max_entries
                .map_or(self.cidrs.len(), |m| m as usize)
                .max(1)
        };
        if !self.is_aws_managed() {
            return entries();
        }
        match self.service() {
            Some("s3" | "dynamodb") => 1,
            _ if self.name.contains("cloudfront") => 55,
            _ => entries(),
        }
    }
}

/// Something in the inventory that doesn't add up. Reported, never fatal.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Issue {
    /// An interface is in a group the inventory doesn't describe.
    InterfaceGroupMissing {
        /// `eni-...`
        interface: String,
        /// `sg-...`
        group: String,
    },
    /// A rule references a group the inventory doesn't describe (another account's, a
    /// peered VPC's, or an incomplete inventory).
    ReferencedGroupMissing {
        /// The group with the rule.
        group: String,
        /// The referenced group.
        referenced: String,
        /// The referenced group's account, when the rule names it.
        account: Option<String>,
    },
    /// A rule references a prefix list whose entries weren't loaded.
    PrefixListMissing {
        /// The group with the rule.
        group: String,
        /// `pl-...`
        prefix_list: String,
    },
    /// Two interfaces of one VPC claim the same address.
    AddressConflict {
        /// The address.
        address: IpAddr,
        /// The interfaces.
        interfaces: Vec<String>,
    },
    /// A file of an inventory folder that is no output flowfence reads (say,
    /// `describe-auto-scaling-groups` saved beside the EC2 files): passed over.
    FileNotRead {
        /// The file.
        file: String,
        /// Its top-level keys.
        keys: String,
    },
}

impl fmt::Display for Issue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Issue::InterfaceGroupMissing { interface, group } => {
                write!(
                    f,
                    "{interface} is in {group}, which the inventory doesn't describe"
                )
            }
            Issue::ReferencedGroupMissing {
                group,
                referenced,
                account,
            } => {
                write!(f, "a rule of {group} references {referenced}")?;
                if let Some(a) = account {
                    write!(f, " (account {a})")?;
                }
                f.write_str(", which the inventory doesn't describe")
            }
            Issue::PrefixListMissing { group, prefix_list } => {
                write!(
                    f,
                    "a rule of {group} references {prefix_list}, whose entries weren't loaded"
                )
            }
            Issue::FileNotRead { file, keys } => {
                write!(
                    f,
                    "{file}: not an output flowfence reads (top-level keys: {keys}); not read"
                )
            }
            Issue::AddressConflict {
                address,
                interfaces,
            } => {
                write!(f, "{address} is claimed by {}", interfaces.join(", "))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(name: &str, tags: &[(&str, &str)]) -> SecurityGroup {
        SecurityGroup {
            id: "sg-1".into(),
            name: name.into(),
            description: String::new(),
            vpc_id: None,
            account: None,
            ingress: Vec::new(),
            egress: Vec::new(),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// Groups a controller rewrites are told by their tags or names; others aren't.
    #[test]
    fn controllers_own_the_groups_their_tags_and_names_say() {
        let by = |name, tags| group(name, tags).managed_by();
        assert_eq!(
            by(
                "eks-cluster-sg-demo-123",
                &[("aws:eks:cluster-name", "demo")]
            ),
            Some("EKS (the cluster security group)")
        );
        assert_eq!(
            by(
                "k8s-traffic-demo-1a2b",
                &[("elbv2.k8s.aws/cluster", "demo")]
            ),
            Some("the AWS Load Balancer Controller")
        );
        assert_eq!(
            by("k8s-elb-a1b2c3", &[]),
            Some("the Kubernetes cloud provider")
        );
        // A cluster tag alone (eksctl's node groups carry one) and ordinary groups are
        // the user's.
        assert_eq!(
            by("nodes", &[("kubernetes.io/cluster/demo", "owned")]),
            None
        );
        assert_eq!(by("web", &[("Name", "web")]), None);
    }
}

/// What kind of resource launches interfaces.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "kebab-case")]
pub enum LauncherKind {
    /// An EC2 auto scaling group (tag `aws:autoscaling:groupName`).
    AutoScalingGroup,
    /// An EKS managed node group (tag `eks:nodegroup-name`): its auto scaling group and
    /// launch template belong to EKS and change through the node group.
    EksNodeGroup,
    /// An ECS service whose tasks have interfaces of their own (`awsvpc`).
    EcsService,
    /// A Lambda function in a VPC.
    LambdaFunction,
}

impl fmt::Display for LauncherKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            LauncherKind::AutoScalingGroup => "auto scaling group",
            LauncherKind::EksNodeGroup => "EKS node group",
            LauncherKind::EcsService => "ECS service",
            LauncherKind::LambdaFunction => "Lambda function",
        })
    }
}

/// A launcher: what starts interfaces like one it has, with its own settings' groups.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LauncherId {
    /// What it is.
    pub kind: LauncherKind,
    /// Its name (an ECS service's or node group's within its cluster).
    pub name: String,
    /// The cluster: an EKS node group's (its name), an ECS service's (its ARN); `None`
    /// when the interface doesn't say (a node group is then found by name alone).
    pub cluster: Option<String>,
}

/// Where a launcher's next interfaces get their groups.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum LaunchSource {
    /// A launch template version.
    Template {
        /// `lt-...`.
        template_id: String,
        /// The version the group launches (`$Latest`/`$Default` resolved).
        version: u64,
        /// The version as the group names it: a number, `$Latest` or `$Default`. It
        /// says what makes a new version take effect: nothing (`$Latest`), making it
        /// the default, or pointing the group at it.
        named: String,
        /// The group names the template in a mixed instances policy.
        mixed_instances: bool,
        /// Where the version puts the groups.
        groups_in: TemplateGroups,
    },
    /// A launch configuration, by name.
    Configuration(String),
    /// EKS's own launch template, for a node group created without one of yours (it
    /// can't take one later: a new node group replaces it).
    NodeGroupDefaults,
    /// An ECS service's `awsvpc` network configuration (`update-service` changes it;
    /// running tasks keep theirs until replaced).
    EcsService {
        /// Its subnets.
        subnets: Vec<String>,
        /// `ENABLED` or `DISABLED`, when set.
        assign_public_ip: Option<String>,
    },
    /// A Lambda function's VPC configuration (`update-function-configuration`).
    LambdaVpc {
        /// Its subnets.
        subnets: Vec<String>,
        /// `Ipv6AllowedForDualStack`, when set.
        ipv6_allowed_for_dual_stack: Option<bool>,
    },
}

/// Where a launch template version names its instances' groups: a new version must
/// name them in the same place (AWS refuses both at once).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateGroups {
    /// `SecurityGroupIds`, for the instance.
    Instance,
    /// `NetworkInterfaces[DeviceIndex 0].Groups`: the interfaces as the version lists
    /// them (a new version that names groups there restates the whole list).
    PrimaryInterface(Vec<serde_json::Value>),
}

/// What a launcher launches into, when the inventory holds its settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LaunchGroups {
    /// The template version or configuration.
    pub source: LaunchSource,
    /// The cluster, for an EKS node group (its name) or an ECS service (its ARN).
    pub cluster: Option<String>,
    /// The groups new instances' primary interfaces get.
    pub groups: Vec<String>,
}

impl fmt::Display for LaunchSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            LaunchSource::Template {
                template_id,
                version,
                ..
            } => write!(f, "launch template {template_id} version {version}"),
            LaunchSource::Configuration(name) => write!(f, "launch configuration {name}"),
            LaunchSource::NodeGroupDefaults => f.write_str("EKS's own launch template"),
            LaunchSource::EcsService { .. } => f.write_str("the service's network configuration"),
            LaunchSource::LambdaVpc { .. } => f.write_str("the function's VPC configuration"),
        }
    }
}
