//! The loader on real-shaped `describe-*` output from public projects
//! (`../shared/inventory-samples`) and on the bundled sample's inventory.

use std::path::{Path, PathBuf};

use flowfence_inventory::{InternetPorts, Inventory, InventoryError, Issue, Owner, Peer, Protocol};

/// The shared samples, or `None` (the test then skips: see `flowfence_testdata::shared`).
fn shared() -> Option<PathBuf> {
    flowfence_testdata::shared("inventory-samples")
}

/// The JSON blocks of an AWS CLI example page: each follows an `Output::` line, indented.
fn rst_outputs(dir: &Path, name: &str) -> Vec<String> {
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    let mut blocks = Vec::new();
    let mut lines = text.lines().peekable();
    while let Some(line) = lines.next() {
        if line.trim() != "Output::" {
            continue;
        }
        let mut block = Vec::new();
        while let Some(l) = lines.peek() {
            if !l.is_empty() && !l.starts_with(' ') {
                break;
            }
            block.push(lines.next().unwrap());
        }
        let indent = block
            .iter()
            .filter(|l| !l.trim().is_empty())
            .map(|l| l.len() - l.trim_start().len())
            .min()
            .unwrap_or(0);
        let json = block
            .iter()
            .map(|l| l.get(indent..).unwrap_or(""))
            .collect::<Vec<_>>()
            .join("\n");
        // Some examples are `--output text`: not what flowfence reads.
        if json.trim_start().starts_with('{') {
            blocks.push(without_trailing_commas(&json));
        }
    }
    assert!(!blocks.is_empty(), "{name} has no Output:: block");
    blocks
}

/// The documentation's examples are hand-edited and one has a trailing comma, which the
/// real CLI never prints (and the loader, rightly, refuses): repair that typo only.
fn without_trailing_commas(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    let chars: Vec<char> = json.chars().collect();
    for (i, &c) in chars.iter().enumerate() {
        if c == ','
            && chars[i + 1..]
                .iter()
                .find(|c| !c.is_whitespace())
                .is_some_and(|n| matches!(n, '}' | ']'))
        {
            continue;
        }
        out.push(c);
    }
    out
}

fn load_rst(inventory: &mut Inventory, dir: &Path, name: &str) {
    for (i, block) in rst_outputs(dir, name).iter().enumerate() {
        inventory
            .add_json(&format!("{name}#{i}"), block)
            .unwrap_or_else(|e| panic!("{e}"));
    }
}

#[test]
fn cloudmapper_interfaces_and_groups() {
    let Some(dir) = shared() else { return };
    let inv = Inventory::load(&[
        dir.join("cloudmapper-ec2-describe-network-interfaces.json"),
        dir.join("cloudmapper-ec2-describe-security-groups.json"),
    ])
    .unwrap();
    let eni = inv.interface("eni-00000001").unwrap();
    assert!(eni.requester_managed);
    assert_eq!(eni.vpc_id.as_deref(), Some("vpc-12345678"));
    assert_eq!(
        eni.primary_address(),
        Some("172.31.48.168".parse().unwrap())
    );
    assert!(matches!(&eni.owner, Owner::EcsTask(arn) if arn.contains(":attachment/")));
    assert_eq!(eni.groups[0].id, "sg-00000008");
    // Its public address, on the interface and on its primary private address: once.
    assert_eq!(
        eni.public_addresses,
        ["3.80.3.41".parse::<std::net::IpAddr>().unwrap()]
    );
    assert!(eni.is_internet_facing());
    // The default group: inbound all from itself, outbound all to anywhere.
    let default = inv
        .groups()
        .find(|g| g.is_default())
        .expect("a default group");
    assert!(default.ingress.iter().any(|r| r.protocol == Protocol::All
        && r.peer
            == Peer::Group {
                id: default.id.clone(),
                account: r.peer_account()
            }));
    assert!(default.egress.iter().any(|r| r.protocol == Protocol::All
        && matches!(&r.peer, Peer::Cidr(c) if c.to_string() == "0.0.0.0/0")));
    assert_eq!(
        inv.interface_by_address(Some("vpc-12345678"), "172.31.48.168".parse().unwrap())
            .map(|i| i.id.as_str()),
        Some("eni-00000001")
    );
}

/// Test helper: the account a group peer names.
trait PeerAccount {
    fn peer_account(&self) -> Option<String>;
}

impl PeerAccount for flowfence_inventory::Rule {
    fn peer_account(&self) -> Option<String> {
        match &self.peer {
            Peer::Group { account, .. } => account.clone(),
            _ => None,
        }
    }
}

#[test]
fn awscli_examples_bundled_permissions_and_multiple_addresses() {
    let Some(dir) = shared() else { return };
    let mut inv = Inventory::default();
    load_rst(
        &mut inv,
        &dir,
        "awscli-example-describe-security-groups.rst",
    );
    load_rst(
        &mut inv,
        &dir,
        "awscli-example-describe-network-interfaces.rst",
    );
    let sg = inv.group("sg-903004f8").unwrap();
    assert_eq!(sg.name, "MySecurityGroup");
    // `-1` without ports, from a group with its account.
    assert!(sg.ingress.iter().any(|r| r.protocol == Protocol::All
        && r.ports.is_none()
        && r.peer
            == Peer::Group {
                id: "sg-903004f8".into(),
                account: Some("123456789012".into())
            }));
    let ssh = sg
        .ingress
        .iter()
        .find(|r| r.ports == Some((22, 22)))
        .unwrap();
    assert_eq!(ssh.protocol, Protocol::Number(6));
    assert_eq!(ssh.peer, Peer::Cidr("203.0.113.0/24".parse().unwrap()));
    assert_eq!(ssh.description.as_deref(), Some("Access from NY office"));
    // Every interface has its addresses; one has a secondary, listed after the primary.
    assert_eq!(inv.interfaces().count(), 3);
    for i in inv.interfaces() {
        assert!(!i.addresses.is_empty(), "{}", i.id);
    }
    let two = inv.interface("eni-b9a5ac93").unwrap();
    assert_eq!(
        two.addresses,
        [
            "10.0.1.55".parse::<std::net::IpAddr>().unwrap(),
            "10.0.1.117".parse().unwrap()
        ]
    );
    assert_eq!(
        inv.interface_by_address(None, "10.0.1.117".parse().unwrap())
            .map(|i| i.id.as_str()),
        Some("eni-b9a5ac93")
    );
}

#[test]
fn security_group_rules_add_their_ids_to_described_rules() {
    let Some(dir) = shared() else { return };
    let mut inv = Inventory::default();
    load_rst(
        &mut inv,
        &dir,
        "awscli-example-describe-security-group-rules.rst",
    );
    let g = inv.group("sg-1234567890abcdef0").unwrap();
    assert_eq!(g.ingress.len(), 1);
    assert_eq!(
        g.ingress[0].rule_id.as_deref(),
        Some("sgr-abcdef01234567890")
    );
    assert_eq!(g.ingress[0].ports, None);
    // Two egress rules (IPv4 and IPv6 all), the second example repeats one of them.
    assert_eq!(g.egress.len(), 2);
    assert!(g.egress.iter().all(|r| r.rule_id.is_some()));
}

#[test]
fn prefix_lists_in_both_shapes() {
    let Some(dir) = shared() else { return };
    let mut inv = Inventory::default();
    load_rst(&mut inv, &dir, "awscli-example-describe-prefix-lists.rst");
    let s3 = inv.prefix_list("pl-63a5400a").unwrap();
    assert!(s3.is_aws_managed());
    assert_eq!(s3.service(), Some("s3"));
    assert_eq!(
        inv.prefix_list_containing("54.231.10.1".parse().unwrap())
            .map(|p| p.id.as_str()),
        Some("pl-63a5400a")
    );

    load_rst(
        &mut inv,
        &dir,
        "awscli-example-describe-managed-prefix-lists.rst",
    );
    let entries = &rst_outputs(&dir, "awscli-example-get-managed-prefix-list-entries.rst")[0];
    // The entries' list is named by the file, as the CLI output doesn't say.
    assert!(matches!(
        inv.add_json("entries.json", entries),
        Err(InventoryError::EntriesWithoutId { .. })
    ));
    inv.add_json("pl-0123456abcabcabc1.json", entries).unwrap();
    let vpcs = inv.prefix_list("pl-0123456abcabcabc1").unwrap();
    assert_eq!(vpcs.name, "vpc-cidrs");
    assert_eq!(vpcs.max_entries, Some(10));
    assert_eq!(vpcs.cidrs.len(), 2);
    assert!(!vpcs.is_aws_managed());
}

#[test]
fn bundled_sample_inventory() {
    let dir = flowfence_testdata::sample_logs().join("inventory");
    let inv = Inventory::load(&[
        dir.join("describe-network-interfaces.json"),
        dir.join("describe-security-groups.json"),
        dir.join("describe-prefix-lists.json"),
    ])
    .unwrap();
    assert!(inv.issues().is_empty(), "{:?}", inv.issues());
    let owners: Vec<String> = inv.interfaces().map(|i| i.owner.to_string()).collect();
    for expected in [
        "load balancer app/web-alb/50dc6c495c0c9188",
        "RDS database",
        "ElastiCache orders-cache-0001-001",
        "NAT gateway nat-0f1e2d3c4b5a69788",
    ] {
        assert!(
            owners.iter().any(|o| o == expected),
            "{expected} not in {owners:?}"
        );
    }
    let nat = inv
        .interfaces()
        .find(|i| i.interface_type == "nat_gateway")
        .unwrap();
    assert!(!nat.has_security_groups());
    let default = inv.groups().find(|g| g.is_default()).unwrap();
    assert!(inv.members(&default.id).count() >= 6);
    // The monitoring group's rule references the default group: a trap for migrations.
    assert!(inv.groups().any(|g| !g.is_default()
        && g.ingress.iter().any(|r| r.peer
            == Peer::Group {
                id: default.id.clone(),
                account: Some("123456789012".into())
            })));
}

#[test]
fn issues_are_reported_not_fatal() {
    let mut inv = Inventory::default();
    inv.add_json("enis.json", r#"{"NetworkInterfaces": [
        {"NetworkInterfaceId": "eni-a", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.0.5", "Groups": [{"GroupId": "sg-gone"}]},
        {"NetworkInterfaceId": "eni-b", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.0.5", "Groups": []}]}"#).unwrap();
    inv.add_json(
        "sgs.json",
        r#"{"SecurityGroups": [{"GroupId": "sg-1", "GroupName": "app",
        "IpPermissions": [{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443,
            "UserIdGroupPairs": [{"GroupId": "sg-peer", "UserId": "999999999999"}],
            "PrefixListIds": [{"PrefixListId": "pl-unknown"}],
            "IpRanges": [{"CidrIp": "10.0.0.18/16"}]}]}]}"#,
    )
    .unwrap();
    let issues = inv.issues();
    assert!(issues.contains(&Issue::InterfaceGroupMissing {
        interface: "eni-a".into(),
        group: "sg-gone".into()
    }));
    assert!(issues.contains(&Issue::ReferencedGroupMissing {
        group: "sg-1".into(),
        referenced: "sg-peer".into(),
        account: Some("999999999999".into())
    }));
    assert!(issues.contains(&Issue::PrefixListMissing {
        group: "sg-1".into(),
        prefix_list: "pl-unknown".into()
    }));
    assert!(
        issues.iter().any(
            |i| matches!(i, Issue::AddressConflict { interfaces, .. } if interfaces.len() == 2)
        )
    );
    // AWS canonicalises CIDRs.
    assert!(
        inv.group("sg-1")
            .unwrap()
            .ingress
            .iter()
            .any(|r| r.peer == Peer::Cidr("10.0.0.0/16".parse().unwrap()))
    );
    assert_eq!(
        issues[0].to_string(),
        "eni-a is in sg-gone, which the inventory doesn't describe"
    );
}

#[test]
fn unsupported_and_broken_files_name_the_file() {
    let mut inv = Inventory::default();
    let e = inv
        .add_json("x.json", r#"{"Reservations": []}"#)
        .unwrap_err();
    assert_eq!(
        e.to_string(),
        "x.json: not the output of a describe-network-interfaces, describe-security-groups, describe-security-group-rules, prefix-list, describe-load-balancers, describe-auto-scaling-groups, describe-launch-template-versions, describe-launch-configurations, eks describe-cluster or describe-nodegroup, ecs describe-services or describe-tasks, or lambda list-functions call (top-level keys: Reservations)"
    );
    let e = inv
        .add_json("y.json", "{\n  \"SecurityGroups\": [ {")
        .unwrap_err();
    assert!(
        e.to_string().starts_with("y.json: EOF while parsing"),
        "{e}"
    );
    let e = inv.add_json("z.json", r#"{"SecurityGroups": [{"GroupId": "sg-1", "IpPermissions": [{"IpProtocol": "tcp", "IpRanges": [{"CidrIp": "10.0.0.0/33"}]}]}]}"#).unwrap_err();
    assert_eq!(e.to_string(), "z.json: `10.0.0.0/33` is not a CIDR");
}

#[test]
fn icmp_type_ranges_keep_minus_one_and_all_traffic_has_no_ports() {
    let mut inv = Inventory::default();
    inv.add_json("sg.json", r#"{"SecurityGroups": [{"GroupId": "sg-1", "GroupName": "ping",
        "IpPermissions": [
            {"IpProtocol": "icmp", "FromPort": -1, "ToPort": -1, "IpRanges": [{"CidrIp": "10.0.0.0/8"}]},
            {"IpProtocol": "icmpv6", "FromPort": -1, "ToPort": -1, "Ipv6Ranges": [{"CidrIpv6": "fd00::/8"}]},
            {"IpProtocol": "-1", "IpRanges": [{"CidrIp": "10.1.0.0/16"}]}]}]}"#).unwrap();
    let rules = &inv.group("sg-1").unwrap().ingress;
    let ports: Vec<(Protocol, Option<(i32, i32)>)> =
        rules.iter().map(|r| (r.protocol, r.ports)).collect();
    assert_eq!(
        ports,
        [
            (Protocol::Number(1), Some((-1, -1))),
            (Protocol::Number(58), Some((-1, -1))),
            (Protocol::All, None)
        ]
    );
}

/// A directory is its `*.json` files (other files ignored); one without any is an
/// error that names it, as is a file that isn't inventory.
#[test]
fn a_directory_loads_its_json_files_and_an_empty_one_is_named() {
    let sample = flowfence_testdata::sample_logs().join("inventory");
    let dir = tempfile::tempdir().unwrap();
    for f in std::fs::read_dir(&sample).unwrap() {
        let f = f.unwrap().path();
        std::fs::copy(&f, dir.path().join(f.file_name().unwrap())).unwrap();
    }
    std::fs::write(dir.path().join("notes.txt"), "not inventory").unwrap();
    let from_dir = Inventory::load(&[dir.path()]).unwrap();
    let from_sample = Inventory::load(&[&sample]).unwrap();
    assert!(from_dir.interfaces().count() > 5);
    assert_eq!(
        from_dir.interfaces().map(|i| &i.id).collect::<Vec<_>>(),
        from_sample.interfaces().map(|i| &i.id).collect::<Vec<_>>()
    );

    let empty = tempfile::tempdir().unwrap();
    let err = Inventory::load(&[empty.path()]).unwrap_err();
    assert!(matches!(err, InventoryError::NoFiles { .. }));
    assert_eq!(
        err.to_string(),
        format!("{}: no *.json inventory files", empty.path().display())
    );
}

/// EKS prefix delegation: pods take addresses from /28s (and /80s) delegated to the
/// node's interface, which the CLI lists under `Ipv4Prefixes`/`Ipv6Prefixes`.
#[test]
fn delegated_prefixes_hold_pod_addresses() {
    let json = r#"{"NetworkInterfaces": [{
        "NetworkInterfaceId": "eni-node", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.10.12",
        "PrivateIpAddresses": [{"Primary": true, "PrivateIpAddress": "10.0.10.12"}],
        "Ipv4Prefixes": [{"Ipv4Prefix": "10.0.10.64/28"}],
        "Ipv6Prefixes": [{"Ipv6Prefix": "2600:1f18:1:2:9a3c::/80"}],
        "Groups": [{"GroupId": "sg-1", "GroupName": "nodes"}]
    }, {
        "NetworkInterfaceId": "eni-other", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.10.80",
        "Groups": [{"GroupId": "sg-1", "GroupName": "nodes"}]
    }]}"#;
    let mut inventory = Inventory::default();
    inventory.add_json("eni.json", json).unwrap();
    let find = |a: &str| {
        inventory
            .interface_by_address(Some("vpc-1"), a.parse().unwrap())
            .map(|i| i.id.as_str())
    };
    assert_eq!(find("10.0.10.12"), Some("eni-node"));
    assert_eq!(find("10.0.10.64"), Some("eni-node"));
    assert_eq!(find("10.0.10.79"), Some("eni-node"));
    assert_eq!(find("2600:1f18:1:2:9a3c::17"), Some("eni-node"));
    // Just past the /28: another interface's primary address, then nobody's.
    assert_eq!(find("10.0.10.80"), Some("eni-other"));
    assert_eq!(find("10.0.10.81"), None);
    assert_eq!(
        inventory
            .interface_by_address(Some("vpc-2"), "10.0.10.70".parse().unwrap())
            .map(|i| i.id.as_str()),
        None
    );

    let bad = json.replace("10.0.10.64/28", "10.0.10.64/33");
    let err = Inventory::default()
        .add_json("eni.json", &bad)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("eni.json") && err.contains("10.0.10.64/33"),
        "{err}"
    );
}

/// A private address found in exactly one other VPC is that VPC's interface (a peer
/// across VPC peering); found in two other VPCs, it is nobody's.
#[test]
fn peered_vpc_interfaces_resolve_when_unambiguous() {
    let eni = |id: &str, vpc: &str, ip: &str| {
        format!(
            r#"{{"NetworkInterfaceId": "{id}", "VpcId": "{vpc}", "PrivateIpAddress": "{ip}", "Groups": [{{"GroupId": "sg-{id}"}}]}}"#
        )
    };
    let mut inventory = Inventory::default();
    let json = format!(
        r#"{{"NetworkInterfaces": [{}, {}, {}, {}]}}"#,
        eni("eni-a", "vpc-a", "10.0.0.5"),
        eni("eni-b", "vpc-b", "10.1.0.7"),
        eni("eni-c", "vpc-c", "10.2.0.9"),
        eni("eni-d", "vpc-d", "10.2.0.9"),
    );
    inventory.add_json("enis.json", &json).unwrap();
    let other = |a: &str| {
        inventory
            .interface_in_another_vpc("vpc-a", a.parse().unwrap())
            .map(|i| i.id.as_str())
    };
    assert_eq!(other("10.1.0.7"), Some("eni-b"));
    assert_eq!(other("10.2.0.9"), None, "two VPCs reuse it");
    assert_eq!(other("10.0.0.5"), None, "vpc-a's own");
    assert_eq!(other("10.9.9.9"), None);
}

/// An interface of a load balancer whose scheme `describe-load-balancers` says is
/// internet-facing serves the internet, public address or not; an internal one doesn't.
#[test]
fn load_balancer_schemes_say_which_interfaces_face_the_internet() {
    let eni = |id: &str, description: &str| {
        format!(
            r#"{{"NetworkInterfaceId": "{id}", "VpcId": "vpc-1", "PrivateIpAddress": "10.0.0.{}", "InterfaceType": "interface",
                "RequesterId": "amazon-elb", "RequesterManaged": true, "Description": "{description}",
                "Groups": [{{"GroupId": "sg-1"}}]}}"#,
            id.len()
        )
    };
    let mut inventory = Inventory::default();
    inventory
        .add_json(
            "enis.json",
            &format!(
                r#"{{"NetworkInterfaces": [{}, {}, {}]}}"#,
                eni("eni-pub", "ELB app/web/50dc6c495c0c9188"),
                eni("eni-internal", "ELB net/inside/0a1b2c3d4e5f6789"),
                eni("eni-classic", "ELB legacy-web")
            ),
        )
        .unwrap();
    inventory
        .add_json(
            "elbv2.json",
            r#"{"LoadBalancers": [
                {"LoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/web/50dc6c495c0c9188", "Scheme": "internet-facing", "Type": "application"},
                {"LoadBalancerArn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/inside/0a1b2c3d4e5f6789", "Scheme": "internal", "Type": "network"}
            ]}"#,
        )
        .unwrap();
    inventory
        .add_json(
            "elb.json",
            r#"{"LoadBalancerDescriptions": [{"LoadBalancerName": "legacy-web", "Scheme": "internet-facing"}]}"#,
        )
        .unwrap();
    let facing = |id: &str| inventory.internet_ports(inventory.interface(id).unwrap());
    assert_eq!(facing("eni-pub"), InternetPorts::Any);
    assert_eq!(facing("eni-internal"), InternetPorts::None);
    assert_eq!(facing("eni-classic"), InternetPorts::Any);
    let err = Inventory::default()
        .add_json(
            "elbv2.json",
            r#"{"LoadBalancers": [{"LoadBalancerArn": "web"}]}"#,
        )
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("elbv2.json: `web` is not a load balancer ARN"),
        "{err}"
    );
}
