//! Small inventories for unit tests, in the AWS CLI's JSON.

use flowfence_aggregate::Table;

use crate::rules::{RuleSpec, RuleTarget};
use flowfence_inventory::Inventory;
use serde_json::{Value, json};

/// One `describe-network-interfaces` entry in vpc-1.
pub(crate) fn interface(
    id: &str,
    ip: &str,
    groups: &[&str],
    kind: &str,
    name: Option<&str>,
) -> Value {
    let tags: Vec<Value> = name
        .map(|n| json!({"Key": "Name", "Value": n}))
        .into_iter()
        .collect();
    json!({
        "NetworkInterfaceId": id, "VpcId": "vpc-1", "InterfaceType": kind,
        "PrivateIpAddress": ip, "PrivateIpAddresses": [{"PrivateIpAddress": ip}],
        "Groups": groups.iter().map(|g| json!({"GroupId": g, "GroupName": g})).collect::<Vec<_>>(),
        "RequesterManaged": false, "Description": "", "TagSet": tags
    })
}

/// One `describe-security-groups` entry in vpc-1.
pub(crate) fn group(id: &str, name: &str, ingress: Value, egress: Value) -> Value {
    json!({"GroupId": id, "GroupName": name, "VpcId": "vpc-1", "Description": "",
           "IpPermissions": ingress, "IpPermissionsEgress": egress})
}

/// The inventory of these interfaces and groups.
pub(crate) fn inventory(interfaces: Vec<Value>, groups: Vec<Value>) -> Inventory {
    let mut inv = Inventory::default();
    inv.add_json(
        "interfaces.json",
        &json!({ "NetworkInterfaces": interfaces }).to_string(),
    )
    .unwrap();
    inv.add_json(
        "groups.json",
        &json!({ "SecurityGroups": groups }).to_string(),
    )
    .unwrap();
    inv
}

/// A connections table of these CSV rows (the columns `aggregate` writes).
pub(crate) fn table(rows: &[&str]) -> Table {
    let mut csv = flowfence_aggregate::COLUMNS.join(",");
    csv.push('\n');
    for r in rows {
        csv.push_str(r);
        csv.push('\n');
    }
    Table::from_csv(&csv).unwrap()
}

/// A TCP rule on one port.
pub(crate) fn tcp(port: i32, target: RuleTarget) -> RuleSpec {
    RuleSpec {
        protocol: 6,
        from: port,
        to: port,
        target,
    }
}
