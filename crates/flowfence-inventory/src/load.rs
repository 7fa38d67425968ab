//! The shapes of the AWS CLI's JSON output, and their conversion into the model.
//!
//! Only the fields flowfence uses are read; everything else AWS prints is ignored, so
//! newer CLI versions with more fields load unchanged.

use std::collections::BTreeMap;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::Deserialize;

use crate::model::{GroupRef, Interface, Owner, Peer, PrefixList, Protocol, Rule, SecurityGroup};
use crate::permission::{GroupPair, IpPermission};

/// One file's content: any of the supported outputs (a file may hold several, e.g. a
/// hand-merged export).
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct Output {
    #[serde(default)]
    pub(crate) network_interfaces: Option<Vec<AwsInterface>>,
    #[serde(default)]
    pub(crate) security_groups: Option<Vec<AwsGroup>>,
    #[serde(default)]
    pub(crate) security_group_rules: Option<Vec<AwsGroupRule>>,
    /// `describe-prefix-lists` (with `Cidrs`) or `describe-managed-prefix-lists` (with
    /// `MaxEntries`, no CIDRs).
    #[serde(default)]
    pub(crate) prefix_lists: Option<Vec<AwsPrefixList>>,
    /// `get-managed-prefix-list-entries`: the list's id isn't in the output.
    #[serde(default)]
    pub(crate) entries: Option<Vec<AwsEntry>>,
    /// `elbv2 describe-load-balancers` (application, network, gateway).
    #[serde(default)]
    pub(crate) load_balancers: Option<Vec<AwsLoadBalancer>>,
    /// `elbv2 describe-listeners`.
    #[serde(default)]
    pub(crate) listeners: Option<Vec<AwsListener>>,
    /// `elbv2 describe-target-groups`.
    #[serde(default)]
    pub(crate) target_groups: Option<Vec<AwsTargetGroup>>,
    /// `elbv2 describe-target-group-attributes` (the output doesn't name the group: the
    /// file's name must carry its `NAME-ID`, as `inventory fetch` names it).
    #[serde(default)]
    pub(crate) attributes: Option<Vec<AwsAttribute>>,
    /// `elb describe-load-balancers` (Classic).
    #[serde(default)]
    pub(crate) load_balancer_descriptions: Option<Vec<AwsClassicLoadBalancer>>,
    /// `autoscaling describe-auto-scaling-groups`.
    #[serde(default)]
    pub(crate) auto_scaling_groups: Option<Vec<AwsAutoScalingGroup>>,
    /// `ec2 describe-launch-template-versions`.
    #[serde(default)]
    pub(crate) launch_template_versions: Option<Vec<AwsLaunchTemplateVersion>>,
    /// `autoscaling describe-launch-configurations`.
    #[serde(default)]
    pub(crate) launch_configurations: Option<Vec<AwsLaunchConfiguration>>,
    /// `eks describe-cluster`.
    #[serde(default, rename = "cluster")]
    pub(crate) eks_cluster: Option<AwsEksCluster>,
    /// `eks describe-nodegroup`.
    #[serde(default, rename = "nodegroup")]
    pub(crate) eks_nodegroup: Option<AwsNodegroup>,
    /// `ecs describe-services`.
    #[serde(default, rename = "services")]
    pub(crate) ecs_services: Option<Vec<AwsEcsService>>,
    /// `ecs describe-tasks`: which interface is which service's.
    #[serde(default, rename = "tasks")]
    pub(crate) ecs_tasks: Option<Vec<AwsEcsTask>>,
    /// `lambda list-functions`.
    #[serde(default)]
    pub(crate) functions: Option<Vec<AwsFunction>>,
}

/// An EKS cluster: its cluster security group.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsEksCluster {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) resources_vpc_config: Option<AwsEksVpcConfig>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsEksVpcConfig {
    #[serde(default)]
    pub(crate) cluster_security_group_id: Option<String>,
}

/// An EKS managed node group: the launch template it launches, if its own.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsNodegroup {
    pub(crate) nodegroup_name: String,
    pub(crate) cluster_name: String,
    #[serde(default)]
    pub(crate) launch_template: Option<AwsNodegroupTemplate>,
    #[serde(default)]
    pub(crate) resources: Option<AwsNodegroupResources>,
}

/// `launchTemplate` of a node group: `id`, `name`, `version` (a number, as a string).
#[derive(Debug, Deserialize)]
pub(crate) struct AwsNodegroupTemplate {
    #[serde(default)]
    pub(crate) id: Option<String>,
    #[serde(default)]
    pub(crate) name: Option<String>,
    #[serde(default)]
    pub(crate) version: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsNodegroupResources {
    /// The group EKS makes for SSH access (`remoteAccess`), which its nodes get too.
    #[serde(default)]
    pub(crate) remote_access_security_group: Option<String>,
}

/// An ECS service: the groups its tasks get (`awsvpc` network mode).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsEcsService {
    pub(crate) service_name: String,
    pub(crate) cluster_arn: String,
    #[serde(default)]
    pub(crate) network_configuration: Option<AwsEcsNetwork>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsEcsNetwork {
    pub(crate) awsvpc_configuration: AwsEcsAwsvpc,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsEcsAwsvpc {
    #[serde(default)]
    pub(crate) subnets: Vec<String>,
    #[serde(default)]
    pub(crate) security_groups: Vec<String>,
    #[serde(default)]
    pub(crate) assign_public_ip: Option<String>,
}

/// An ECS task: its service (`group` is `service:NAME`) and interface.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct AwsEcsTask {
    pub(crate) cluster_arn: String,
    #[serde(default)]
    pub(crate) group: Option<String>,
    #[serde(default)]
    pub(crate) attachments: Vec<AwsEcsAttachment>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AwsEcsAttachment {
    #[serde(default, rename = "type")]
    pub(crate) kind: Option<String>,
    #[serde(default)]
    pub(crate) details: Vec<AwsKeyValue>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AwsKeyValue {
    pub(crate) name: String,
    #[serde(default)]
    pub(crate) value: Option<String>,
}

impl AwsEcsTask {
    /// The service that started it, and its interface (`awsvpc` tasks).
    pub(crate) fn service_interface(&self) -> Option<(&str, &str)> {
        let service = self.group.as_deref()?.strip_prefix("service:")?;
        let eni = self
            .attachments
            .iter()
            .filter(|a| a.kind.as_deref() == Some("ElasticNetworkInterface"))
            .flat_map(|a| &a.details)
            .find(|d| d.name == "networkInterfaceId")?
            .value
            .as_deref()?;
        Some((service, eni))
    }
}

/// A Lambda function: the groups and subnets of its VPC configuration.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsFunction {
    pub(crate) function_name: String,
    #[serde(default)]
    pub(crate) vpc_config: Option<AwsFunctionVpc>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsFunctionVpc {
    #[serde(default)]
    pub(crate) subnet_ids: Vec<String>,
    #[serde(default)]
    pub(crate) security_group_ids: Vec<String>,
    #[serde(default)]
    pub(crate) ipv6_allowed_for_dual_stack: Option<bool>,
}

/// An auto scaling group: how it launches instances.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsAutoScalingGroup {
    pub(crate) auto_scaling_group_name: String,
    #[serde(default)]
    pub(crate) launch_template: Option<AwsTemplateSpec>,
    #[serde(default)]
    pub(crate) mixed_instances_policy: Option<AwsMixedInstancesPolicy>,
    #[serde(default)]
    pub(crate) launch_configuration_name: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsMixedInstancesPolicy {
    pub(crate) launch_template: AwsMixedTemplate,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsMixedTemplate {
    pub(crate) launch_template_specification: AwsTemplateSpec,
}

/// A launch template and version, as an auto scaling group names them.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsTemplateSpec {
    #[serde(default)]
    pub(crate) launch_template_id: Option<String>,
    #[serde(default)]
    pub(crate) launch_template_name: Option<String>,
    /// A number, `$Latest` or `$Default`.
    #[serde(default)]
    pub(crate) version: Option<String>,
}

/// One version of a launch template: the groups its instances get.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsLaunchTemplateVersion {
    pub(crate) launch_template_id: String,
    #[serde(default)]
    pub(crate) launch_template_name: Option<String>,
    pub(crate) version_number: u64,
    #[serde(default)]
    pub(crate) default_version: bool,
    #[serde(default)]
    pub(crate) launch_template_data: AwsLaunchTemplateData,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsLaunchTemplateData {
    #[serde(default)]
    pub(crate) security_group_ids: Vec<String>,
    /// Kept as written: a new version that names groups here restates the whole list.
    #[serde(default)]
    pub(crate) network_interfaces: Vec<serde_json::Value>,
}

/// The fields of a launch template's interface that say where groups go.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsTemplateInterface {
    #[serde(default)]
    pub(crate) device_index: Option<u32>,
    #[serde(default)]
    pub(crate) groups: Vec<String>,
}

/// A launch configuration: the groups its instances get.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsLaunchConfiguration {
    pub(crate) launch_configuration_name: String,
    #[serde(default)]
    pub(crate) security_groups: Vec<String>,
}

/// An `elbv2` load balancer: its ARN ends with the `app/NAME/ID` its interfaces'
/// descriptions carry.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsLoadBalancer {
    pub(crate) load_balancer_arn: String,
    #[serde(default)]
    pub(crate) scheme: Option<String>,
}

/// A load balancer's listener: a port it serves clients on.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsListener {
    pub(crate) load_balancer_arn: String,
    #[serde(default)]
    pub(crate) port: Option<u16>,
}

/// One attribute of a target group (or of anything else with `Attributes`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsAttribute {
    #[serde(default)]
    pub(crate) key: String,
    #[serde(default)]
    pub(crate) value: String,
}

/// A target group: the port its targets serve on, and whether they see the clients'
/// own addresses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsTargetGroup {
    #[serde(default)]
    pub(crate) target_group_arn: String,
    #[serde(default)]
    pub(crate) load_balancer_arns: Vec<String>,
    #[serde(default)]
    pub(crate) port: Option<u16>,
    #[serde(default)]
    pub(crate) protocol: Option<String>,
    #[serde(default)]
    pub(crate) target_type: Option<String>,
    #[serde(default)]
    pub(crate) vpc_id: Option<String>,
}

impl AwsTargetGroup {
    /// `NAME-ID` of its ARN (`...:targetgroup/NAME/ID`), as attribute files are named.
    pub(crate) fn name_id(&self) -> String {
        let mut parts = self.target_group_arn.rsplit('/');
        let id = parts.next().unwrap_or_default();
        format!("{}-{id}", parts.next().unwrap_or_default())
    }

    /// Whether targets see the clients' addresses, by AWS's defaults for the
    /// `preserve_client_ip.enabled` attribute: on for instance targets and for IP
    /// targets over UDP, TCP_UDP, QUIC and TCP_QUIC; off for IP targets over TCP and
    /// TLS. (Application load balancers' targets always see the load balancer.)
    pub(crate) fn preserves_client_ip_by_default(&self) -> bool {
        match self.target_type.as_deref() {
            Some("instance") => true,
            Some("ip") => matches!(
                self.protocol.as_deref(),
                Some("UDP" | "TCP_UDP" | "QUIC" | "TCP_QUIC")
            ),
            _ => false,
        }
    }
}

impl AwsLoadBalancer {
    /// `app/NAME/ID`, as `Owner::LoadBalancer` names it.
    pub(crate) fn key(&self) -> Option<&str> {
        load_balancer_key(&self.load_balancer_arn)
    }
}

/// `app/NAME/ID` (or `net/...`) of a load balancer's ARN.
pub(crate) fn load_balancer_key(arn: &str) -> Option<&str> {
    arn.split_once(":loadbalancer/").map(|(_, k)| k)
}

/// A Classic load balancer: its interfaces' descriptions carry its name.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsClassicLoadBalancer {
    pub(crate) load_balancer_name: String,
    #[serde(default)]
    pub(crate) scheme: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsInterface {
    network_interface_id: String,
    #[serde(default)]
    owner_id: Option<String>,
    #[serde(default)]
    vpc_id: Option<String>,
    #[serde(default)]
    subnet_id: Option<String>,
    #[serde(default)]
    availability_zone: Option<String>,
    #[serde(default)]
    interface_type: Option<String>,
    #[serde(default)]
    requester_managed: bool,
    #[serde(default)]
    requester_id: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    private_ip_address: Option<String>,
    #[serde(default)]
    private_ip_addresses: Vec<AwsPrivateIp>,
    #[serde(default)]
    ipv6_addresses: Vec<AwsIpv6>,
    #[serde(default)]
    ipv4_prefixes: Vec<AwsIpv4Prefix>,
    #[serde(default)]
    ipv6_prefixes: Vec<AwsIpv6Prefix>,
    #[serde(default)]
    association: Option<AwsAssociation>,
    #[serde(default)]
    groups: Vec<AwsGroupRef>,
    #[serde(default)]
    attachment: Option<AwsAttachment>,
    #[serde(default)]
    tag_set: Vec<AwsTag>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsPrivateIp {
    private_ip_address: String,
    #[serde(default)]
    primary: bool,
    #[serde(default)]
    association: Option<AwsAssociation>,
}

/// A public address associated with an interface or one of its private addresses.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsAssociation {
    #[serde(default)]
    public_ip: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsIpv6 {
    ipv6_address: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsIpv4Prefix {
    ipv4_prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsIpv6Prefix {
    ipv6_prefix: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsGroupRef {
    group_id: String,
    #[serde(default)]
    group_name: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsAttachment {
    #[serde(default)]
    instance_id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct AwsTag {
    key: String,
    #[serde(default)]
    value: String,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsGroup {
    group_id: String,
    #[serde(default)]
    group_name: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    vpc_id: Option<String>,
    #[serde(default)]
    owner_id: Option<String>,
    #[serde(default)]
    ip_permissions: Vec<IpPermission>,
    #[serde(default)]
    ip_permissions_egress: Vec<IpPermission>,
    #[serde(default)]
    tags: Vec<AwsTag>,
}

/// `describe-security-group-rules`: one rule, one peer, with its `sgr-` id.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsGroupRule {
    security_group_rule_id: String,
    group_id: String,
    #[serde(default)]
    is_egress: bool,
    ip_protocol: String,
    #[serde(default)]
    from_port: Option<i32>,
    #[serde(default)]
    to_port: Option<i32>,
    #[serde(default)]
    cidr_ipv4: Option<String>,
    #[serde(default)]
    cidr_ipv6: Option<String>,
    #[serde(default)]
    prefix_list_id: Option<String>,
    #[serde(default)]
    referenced_group_info: Option<GroupPair>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsPrefixList {
    prefix_list_id: String,
    #[serde(default)]
    prefix_list_name: String,
    #[serde(default)]
    cidrs: Option<Vec<String>>,
    #[serde(default)]
    max_entries: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(crate) struct AwsEntry {
    cidr: String,
}

/// A value that doesn't parse, with what it should have been.
#[derive(Debug)]
pub(crate) struct BadValue {
    pub(crate) what: String,
    pub(crate) value: String,
}

fn bad(what: impl Into<String>, value: &str) -> BadValue {
    BadValue {
        what: what.into(),
        value: value.to_string(),
    }
}

/// Parses a CIDR and clears its host bits, as AWS does (`10.0.0.18/16` is `10.0.0.0/16`).
pub(crate) fn cidr(s: &str) -> Result<IpNet, BadValue> {
    s.parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| bad("a CIDR", s))
}

fn tags(list: Vec<AwsTag>) -> BTreeMap<String, String> {
    list.into_iter().map(|t| (t.key, t.value)).collect()
}

/// The port range of a rule: none for all-traffic rules (AWS prints -1/-1 for their ports
/// in `describe-security-group-rules`); for ICMP, -1 means every type or code and is kept.
fn ports(protocol: Protocol, from: Option<i32>, to: Option<i32>) -> Option<(i32, i32)> {
    match (protocol, from, to) {
        (Protocol::All, _, _) => None,
        // ICMP and ICMPv6 keep -1 ("every type/code"); for ports -1/-1 means all.
        (_, Some(f), Some(t))
            if !(f == -1 && t == -1) || matches!(protocol, Protocol::Number(1 | 58)) =>
        {
            Some((f, t))
        }
        _ => None,
    }
}

impl AwsInterface {
    pub(crate) fn into_model(self) -> Result<Interface, BadValue> {
        let mut addresses: Vec<IpAddr> = Vec::new();
        // Primary first: flow logs show an interface by its primary private IPv4 address.
        let mut private = self.private_ip_addresses;
        private.sort_by_key(|p| !p.primary);
        let listed = private.iter().map(|p| p.private_ip_address.as_str());
        for a in self.private_ip_address.as_deref().into_iter().chain(listed) {
            let ip: IpAddr = a.parse().map_err(|_| bad("an IPv4 address", a))?;
            if !addresses.contains(&ip) {
                addresses.push(ip);
            }
        }
        for a in &self.ipv6_addresses {
            let ip: IpAddr = a
                .ipv6_address
                .parse()
                .map_err(|_| bad("an IPv6 address", &a.ipv6_address))?;
            if !addresses.contains(&ip) {
                addresses.push(ip);
            }
        }
        let v4 = self
            .ipv4_prefixes
            .iter()
            .map(|p| (p.ipv4_prefix.as_str(), "an IPv4 prefix"));
        let v6 = self
            .ipv6_prefixes
            .iter()
            .map(|p| (p.ipv6_prefix.as_str(), "an IPv6 prefix"));
        let prefixes = v4
            .chain(v6)
            .map(|(text, what)| text.parse::<IpNet>().map_err(|_| bad(what, text)))
            .collect::<Result<Vec<_>, _>>()?;
        let mut public_addresses: Vec<IpAddr> = Vec::new();
        let associations = self
            .association
            .iter()
            .chain(private.iter().filter_map(|p| p.association.as_ref()));
        for a in associations.filter_map(|a| a.public_ip.as_deref()) {
            let ip: IpAddr = a.parse().map_err(|_| bad("a public IPv4 address", a))?;
            if !public_addresses.contains(&ip) {
                public_addresses.push(ip);
            }
        }
        let description = self.description.unwrap_or_default();
        let interface_type = self
            .interface_type
            .unwrap_or_else(|| "interface".to_string());
        let instance = self.attachment.and_then(|a| a.instance_id);
        let owner = owner(
            &interface_type,
            self.requester_managed,
            self.requester_id.as_deref(),
            &description,
            instance,
        );
        Ok(Interface {
            id: self.network_interface_id,
            account: self.owner_id,
            vpc_id: self.vpc_id,
            subnet_id: self.subnet_id,
            availability_zone: self.availability_zone,
            interface_type,
            requester_managed: self.requester_managed,
            requester_id: self.requester_id,
            description,
            owner,
            addresses,
            prefixes,
            public_addresses,
            groups: self
                .groups
                .into_iter()
                .map(|g| GroupRef {
                    id: g.group_id,
                    name: g.group_name,
                })
                .collect(),
            tags: tags(self.tag_set),
        })
    }
}

/// The owning resource, from the descriptions AWS services write on the interfaces they
/// create (and the attachment, for instances).
fn owner(
    interface_type: &str,
    requester_managed: bool,
    requester: Option<&str>,
    description: &str,
    instance: Option<String>,
) -> Owner {
    let after = |prefix: &str| {
        description
            .strip_prefix(prefix)
            .map(|s| s.trim().to_string())
    };
    let word = |s: &str| {
        s.split_whitespace()
            .find(|w| w.starts_with("nat-") || w.starts_with("vpce-"))
            .map(str::to_string)
    };
    if let Some(lb) = after("ELB ") {
        return Owner::LoadBalancer(lb);
    }
    if interface_type == "nat_gateway" || description.starts_with("Interface for NAT Gateway") {
        return Owner::NatGateway(word(description).unwrap_or_default());
    }
    if interface_type == "vpc_endpoint" || description.starts_with("VPC Endpoint Interface") {
        return Owner::VpcEndpoint(word(description).unwrap_or_default());
    }
    if description == "RDSNetworkInterface" || requester == Some("amazon-rds") {
        return Owner::Rds;
    }
    if let Some(node) = after("ElastiCache ") {
        return Owner::ElastiCache(node);
    }
    if let Some(name) = after("AWS Lambda VPC ENI-") {
        return Owner::Lambda(name);
    }
    if description.starts_with("arn:aws:ecs:") && description.contains(":attachment/") {
        return Owner::EcsTask(description.to_string());
    }
    if let Some(cluster) = after("Amazon EKS ") {
        return Owner::Eks(cluster);
    }
    match (instance, requester_managed) {
        (Some(id), false) => Owner::Instance(id),
        (_, true) => Owner::OtherService {
            requester: requester.unwrap_or("unknown").to_string(),
            description: description.to_string(),
        },
        (None, false) => Owner::Unattached,
    }
}

/// One rule per source: a permission bundles several.
fn rules_of(p: IpPermission) -> Result<Vec<Rule>, BadValue> {
    let protocol =
        Protocol::parse(&p.ip_protocol).ok_or_else(|| bad("a protocol", &p.ip_protocol))?;
    let ports = ports(protocol, p.from_port, p.to_port);
    let rule = |peer, description: Option<String>| Rule {
        protocol,
        ports,
        peer,
        description: description.filter(|d| !d.is_empty()),
        rule_id: None,
    };
    let mut rules = Vec::new();
    for r in p.ip_ranges {
        rules.push(rule(Peer::Cidr(cidr(&r.cidr_ip)?), r.description));
    }
    for r in p.ipv6_ranges {
        rules.push(rule(Peer::Cidr(cidr(&r.cidr_ipv6)?), r.description));
    }
    for l in p.prefix_list_ids {
        rules.push(rule(Peer::PrefixList(l.prefix_list_id), l.description));
    }
    for g in p.user_id_group_pairs {
        rules.push(rule(
            Peer::Group {
                id: g.group_id,
                account: g.user_id,
            },
            g.description,
        ));
    }
    Ok(rules)
}

impl AwsGroup {
    pub(crate) fn into_model(self) -> Result<SecurityGroup, BadValue> {
        let expand = |perms: Vec<IpPermission>| -> Result<Vec<Rule>, BadValue> {
            let mut rules = Vec::new();
            for p in perms {
                rules.extend(rules_of(p)?);
            }
            Ok(rules)
        };
        Ok(SecurityGroup {
            id: self.group_id,
            name: self.group_name,
            description: self.description,
            vpc_id: self.vpc_id,
            account: self.owner_id,
            ingress: expand(self.ip_permissions)?,
            egress: expand(self.ip_permissions_egress)?,
            tags: tags(self.tags),
        })
    }
}

impl AwsGroupRule {
    /// The group id, whether the rule is egress, and the rule.
    pub(crate) fn into_model(self) -> Result<(String, bool, Rule), BadValue> {
        let protocol = Protocol::parse(&self.ip_protocol)
            .ok_or_else(|| bad("a protocol", &self.ip_protocol))?;
        let peer = match (
            self.cidr_ipv4,
            self.cidr_ipv6,
            self.prefix_list_id,
            self.referenced_group_info,
        ) {
            (Some(c), _, _, _) | (None, Some(c), _, _) => Peer::Cidr(cidr(&c)?),
            (None, None, Some(pl), _) => Peer::PrefixList(pl),
            (None, None, None, Some(g)) => Peer::Group {
                id: g.group_id,
                account: g.user_id,
            },
            (None, None, None, None) => {
                return Err(bad(
                    "a rule with a CIDR, prefix list or group",
                    &self.security_group_rule_id,
                ));
            }
        };
        let rule = Rule {
            protocol,
            ports: ports(protocol, self.from_port, self.to_port),
            peer,
            description: self.description.filter(|d| !d.is_empty()),
            rule_id: Some(self.security_group_rule_id),
        };
        Ok((self.group_id, self.is_egress, rule))
    }
}

impl AwsPrefixList {
    pub(crate) fn into_model(self) -> Result<PrefixList, BadValue> {
        let cidrs = self
            .cidrs
            .unwrap_or_default()
            .iter()
            .map(|c| cidr(c))
            .collect::<Result<_, _>>()?;
        Ok(PrefixList {
            id: self.prefix_list_id,
            name: self.prefix_list_name,
            cidrs,
            max_entries: self.max_entries,
        })
    }
}

impl AwsEntry {
    pub(crate) fn cidr(&self) -> Result<IpNet, BadValue> {
        cidr(&self.cidr)
    }
}
