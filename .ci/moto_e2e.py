#!/usr/bin/env python3
"""The CLI export run for real against moto's EC2 API on 127.0.0.1.

1. Start moto_server; recreate the bundled sample's VPC there: its subnets, security
   groups (same names and rules), and interfaces (same addresses and groups).
2. Rewrite the sample's v5 logs to the interface ids moto gave, and write the inventory
   from moto's own describe-* output (plus what moto can't create: the NAT gateway's
   group-less interface, AWS-managed prefix lists, and tags with the reserved aws: prefix).
3. flowfence propose -> flowfence export --format cli -> `migrate.sh prepare` and
   `migrate.sh finish` with the AWS CLI pointed at moto.
4. describe-security-groups / describe-network-interfaces must match the plan's final
   state: every interface in its planned groups, every group with exactly its planned
   rules, the default group with no rules and no members. The launchers too: the
   sample's auto scaling groups and launch templates are recreated (web-asg launching
   $Latest, app-asg $Default, so both ways a new version takes effect run), and after
   `finish` each group launches a template version naming exactly its new group.

Usage: moto_e2e.py --venv DIR --flowfence BIN --sample sample-logs --work DIR
"""
import argparse
import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

from moto_server import moto_server


def rule_set(permissions, names):
    """(protocol, from, to, peer) for every peer of every permission; group ids and
    `new:NAME` both become `group:NAME`."""
    out = set()
    for p in permissions:
        proto = str(p["IpProtocol"])
        ports = (p.get("FromPort"), p.get("ToPort")) if proto != "-1" else (None, None)
        for r in p.get("IpRanges", []):
            out.add((proto, *ports, r["CidrIp"]))
        for r in p.get("Ipv6Ranges", []):
            out.add((proto, *ports, r["CidrIpv6"]))
        for r in p.get("PrefixListIds", []):
            out.add((proto, *ports, r["PrefixListId"]))
        for r in p.get("UserIdGroupPairs", []):
            out.add((proto, *ports, "group:" + names(r["GroupId"])))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", required=True)
    ap.add_argument("--flowfence", required=True)
    ap.add_argument("--sample", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    sample, work = Path(args.sample), Path(args.work)
    work.mkdir(parents=True, exist_ok=True)

    with moto_server(args.venv) as port:
        endpoint = f"http://127.0.0.1:{port}"
        env = dict(
            os.environ,
            AWS_ACCESS_KEY_ID="testing",
            AWS_SECRET_ACCESS_KEY="testing",
            AWS_DEFAULT_REGION="us-east-1",
            AWS_ENDPOINT_URL=endpoint,
            PATH=f"{args.venv}/bin:{os.environ['PATH']}",
        )
        os.environ.update({k: env[k] for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")})
        run(sample, work, endpoint, env, args.flowfence)


def run(sample, work, endpoint, env, flowfence):
    import boto3

    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1")
    inv = sample / "inventory"
    enis = json.load(open(inv / "describe-network-interfaces.json"))["NetworkInterfaces"]
    groups = json.load(open(inv / "describe-security-groups.json"))["SecurityGroups"]

    # 1. The VPC, its subnets and groups.
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]
    sg = {}
    for g in groups:
        if g["GroupName"] == "default":
            sg[g["GroupId"]] = default["GroupId"]
        else:
            sg[g["GroupId"]] = ec2.create_security_group(
                GroupName=g["GroupName"], Description=g["Description"], VpcId=vpc
            )["GroupId"]

    def mapped(perms):
        out = []
        for p in perms:
            p = json.loads(json.dumps(p))
            for pair in p.get("UserIdGroupPairs", []):
                pair["GroupId"] = sg[pair["GroupId"]]
                pair.pop("UserId", None)
            for key in ("IpRanges", "Ipv6Ranges", "PrefixListIds", "UserIdGroupPairs"):
                if not p.get(key):
                    p.pop(key, None)
            out.append(p)
        return out

    for g in groups:
        new = sg[g["GroupId"]]
        # Start from nothing: moto's own default rules go, the sample's come in.
        current = ec2.describe_security_groups(GroupIds=[new])["SecurityGroups"][0]
        if current["IpPermissions"]:
            ec2.revoke_security_group_ingress(GroupId=new, IpPermissions=current["IpPermissions"])
        if current["IpPermissionsEgress"]:
            ec2.revoke_security_group_egress(GroupId=new, IpPermissions=current["IpPermissionsEgress"])
        if g["IpPermissions"]:
            ec2.authorize_security_group_ingress(GroupId=new, IpPermissions=mapped(g["IpPermissions"]))
        if g["IpPermissionsEgress"]:
            ec2.authorize_security_group_egress(GroupId=new, IpPermissions=mapped(g["IpPermissionsEgress"]))

    subnets, eni_map, tags, nat = {}, {}, {}, []
    for e in enis:
        if e["InterfaceType"] == "nat_gateway":
            nat.append(e)  # moto can't make a group-less interface: carried over as is
            continue
        cidr = ".".join(e["PrivateIpAddress"].split(".")[:3]) + ".0/24"
        if cidr not in subnets:
            subnets[cidr] = ec2.create_subnet(VpcId=vpc, CidrBlock=cidr)["Subnet"]["SubnetId"]
        new = ec2.create_network_interface(
            SubnetId=subnets[cidr],
            PrivateIpAddress=e["PrivateIpAddress"],
            Groups=[sg[g["GroupId"]] for g in e["Groups"]],
            Description=e["Description"],
        )["NetworkInterface"]["NetworkInterfaceId"]
        eni_map[e["NetworkInterfaceId"]] = new
        tags[new] = e.get("TagSet", [])

    # The launchers: each template as the sample has it (groups mapped), each auto
    # scaling group empty (moto would launch instances) and naming its template as the
    # sample does, except app-asg on $Default.
    autoscaling = boto3.client("autoscaling", endpoint_url=endpoint, region_name="us-east-1")
    lt_ids = {}
    for v in json.load(open(inv / "describe-launch-template-versions.json"))["LaunchTemplateVersions"]:
        data = dict(v["LaunchTemplateData"])
        data["SecurityGroupIds"] = [sg[g] for g in data.get("SecurityGroupIds", [])]
        lt_ids[v["LaunchTemplateId"]] = ec2.create_launch_template(
            LaunchTemplateName=v["LaunchTemplateName"], LaunchTemplateData=data
        )["LaunchTemplate"]["LaunchTemplateId"]
    any_subnet = next(iter(subnets.values())) if subnets else None
    for a in json.load(open(inv / "describe-auto-scaling-groups.json"))["AutoScalingGroups"]:
        version = "$Default" if a["AutoScalingGroupName"] == "app-asg" else a["LaunchTemplate"]["Version"]
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=a["AutoScalingGroupName"],
            LaunchTemplate={"LaunchTemplateId": lt_ids[a["LaunchTemplate"]["LaunchTemplateId"]], "Version": version},
            MinSize=0, MaxSize=0, DesiredCapacity=0,
            VPCZoneIdentifier=any_subnet,
        )

    # 2. The inventory from moto, and the logs with moto's ids.
    moto_inv = work / "inventory"
    moto_inv.mkdir(exist_ok=True)
    described = ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]}])
    for e in described["NetworkInterfaces"]:
        e["TagSet"] = tags.get(e["NetworkInterfaceId"], [])
    for e in nat:
        e["VpcId"] = vpc
    described["NetworkInterfaces"] += nat
    (moto_inv / "describe-network-interfaces.json").write_text(json.dumps(described, indent=1, default=str))
    (moto_inv / "describe-security-groups.json").write_text(
        json.dumps(ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}]), indent=1, default=str)
    )
    (moto_inv / "describe-prefix-lists.json").write_text((inv / "describe-prefix-lists.json").read_text())
    (moto_inv / "describe-auto-scaling-groups.json").write_text(
        json.dumps(autoscaling.describe_auto_scaling_groups(), indent=1, default=str)
    )
    (moto_inv / "describe-launch-template-versions.json").write_text(
        json.dumps(
            {"LaunchTemplateVersions": [
                v for lt in lt_ids.values()
                for v in ec2.describe_launch_template_versions(LaunchTemplateId=lt)["LaunchTemplateVersions"]
            ]},
            indent=1,
            default=str,
        )
    )
    logs = work / "logs"
    logs.mkdir(exist_ok=True)
    for f in sorted((sample / "logs" / "s3-text-v5").rglob("*.log.gz")):
        text = gzip.decompress(f.read_bytes()).decode()
        for old, new in eni_map.items():
            text = text.replace(old, new)
        (logs / f.name).write_bytes(gzip.compress(text.encode()))

    # 3. Propose, export the script, run both phases against moto.
    def ff(*a):
        subprocess.run([flowfence, *a], check=True)

    plan_path, script = work / "plan.json", work / "migrate.sh"
    ff("propose", "-q", "--logs", str(logs), "--inventory", str(moto_inv), "-o", str(plan_path))
    ff("export", "--plan", str(plan_path), "--format", "cli", "-o", str(script))
    plan = json.load(open(plan_path))
    moved = [i for i in plan["interfaces"] if not i["requester_managed"]]
    assert moved, "the plan moves no interface"
    for phase in ("prepare", "finish"):
        print(f"== migrate.sh {phase}", flush=True)
        subprocess.run(["bash", str(script), phase], check=True, env=env)

    # 4. moto's state against the plan's final state.
    final_groups = {g["GroupId"]: g for g in ec2.describe_security_groups(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["SecurityGroups"]}
    by_name = {g["GroupName"]: gid for gid, g in final_groups.items()}
    names = lambda gid: final_groups[gid]["GroupName"] if gid in final_groups else gid
    plan_names = {g["ref"]: g["name"] for g in plan["groups"]}
    plan_name = lambda ref: plan_names.get(ref, names(ref))
    problems = []
    for g in plan["groups"]:
        gid = g["ref"] if g["ref"].startswith("sg-") else by_name.get(g["name"])
        if gid is None:
            problems.append(f"group {g['name']} was not created")
            continue
        actual = final_groups[gid]
        for key, planned in (("IpPermissions", g["ingress"]), ("IpPermissionsEgress", g["egress"])):
            want = rule_set(planned, plan_name)
            got = rule_set(actual[key], names)
            if want != got:
                problems.append(f"{g['name']} {key}: planned {sorted(want)}, moto has {sorted(got)}")
    interfaces = {
        e["NetworkInterfaceId"]: e
        for e in ec2.describe_network_interfaces(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["NetworkInterfaces"]
    }
    for i in moved:
        want = sorted(plan_name(g) for g in i["groups_after"])
        got = sorted(g["GroupName"] for g in interfaces[i["interface_id"]]["Groups"])
        if want != got:
            problems.append(f"{i['interface_id']}: planned groups {want}, moto has {got}")
    left = [e for e, x in interfaces.items() if any(g["GroupName"] == "default" for g in x["Groups"])]
    if left:
        problems.append(f"still in the default group: {left}")
    launchers = plan.get("launchers", [])
    if len(launchers) != 2:
        problems.append(f"the plan names {len(launchers)} launchers, not web-asg and app-asg")
    for l in launchers:
        asg = autoscaling.describe_auto_scaling_groups(AutoScalingGroupNames=[l["name"]])["AutoScalingGroups"][0]
        spec = asg["LaunchTemplate"]
        versions = ec2.describe_launch_template_versions(LaunchTemplateId=spec["LaunchTemplateId"])["LaunchTemplateVersions"]
        latest = max(v["VersionNumber"] for v in versions)
        if spec["Version"] not in ("$Latest", str(latest)):
            problems.append(f"{l['name']} launches version {spec['Version']}, not the newest ({latest})")
        newest = next(v for v in versions if v["VersionNumber"] == latest)
        want = sorted(plan_name(g) for g in l["groups_after"])
        got = sorted(names(g) for g in newest["LaunchTemplateData"].get("SecurityGroupIds", []))
        if want != got:
            problems.append(f"{l['name']}: its newest template version names {got}, the plan {want}")
        if len(versions) != 3:
            problems.append(f"{l['name']}: {len(versions)} template versions, not 3 (today's, prepare's, finish's)")
    d = final_groups[default["GroupId"]]
    if d["IpPermissions"] or d["IpPermissionsEgress"]:
        problems.append("the default group still has rules")
    for p in problems:
        print("MISMATCH:", p)
    print(
        f"moto end to end: {len(moved)} interfaces moved, "
        f"{sum(1 for g in plan['groups'] if g['new'])} groups created, "
        f"{len(launchers)} launchers' templates versioned, {len(problems)} mismatches"
    )
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
