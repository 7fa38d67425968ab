#!/usr/bin/env python3
"""`flowfence inventory fetch` against moto, compared with the real AWS CLI.

1. Start moto_server, and in front of it a proxy that answers the first two
   DescribeNetworkInterfaces calls with EC2's throttling error (RequestLimitExceeded),
   refuses AssumeRole for roles named `denied` (AccessDenied), and refuses every ECS
   call in us-west-2 (AccessDeniedException, as for a role without ECS permissions).
2. Create an environment there: a VPC, subnets, security groups with rules (one naming
   another group), interfaces, a customer-managed prefix list with entries, a launch
   template with two versions and an auto scaling group launching it, a launch
   configuration, an application load balancer; an EKS cluster with a managed node group
   launching a template of its own (and a node's interface), an ECS service in `awsvpc`
   mode with a task (its interface), a Lambda function in the VPC (and its interface),
   all in the default group.
3. `flowfence inventory fetch` through the proxy, with two roles: one assumed, one
   refused. The refused one must be named and skipped, the throttled calls retried.
4. The same calls with the AWS CLI (`aws ec2 describe-...`, straight to moto), written to
   the same file names: every file must be byte-identical to flowfence's.
5. `flowfence propose` over both folders, with flow logs written for the interfaces,
   and with `--inventory live`: the three plans must be byte-identical, and name the
   node group, the service and the function as launchers with their settings.
6. The plan's CLI export, `prepare` then `finish`, with the AWS CLI pointed at moto: the
   service's and the function's configurations, and the node group's template's newest
   version, name exactly their new groups. (moto has no UpdateNodegroupVersion: a
   wrapper in front of `aws` records that call, checked to name the newest version.)

Usage: moto_fetch.py --venv DIR --flowfence BIN --work DIR
"""
import argparse
import gzip
import http.client
import http.server
import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from pathlib import Path
from urllib.parse import parse_qs

from moto_server import moto_server

ACCOUNT = "123456789012"
REGION = "us-east-1"


class Faults:
    """What the proxy did: how many calls it throttled and refused."""

    throttle_left = 2
    throttled = 0
    refused = 0
    ecs_refused = 0
    calls = 0


def proxy(moto_port):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def do_GET(self):
            self.forward("GET", None)

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            form = parse_qs(body.decode(errors="replace"))
            action = form.get("Action", [""])[0]
            Faults.calls += 1
            if action == "DescribeNetworkInterfaces" and Faults.throttle_left > 0:
                Faults.throttle_left -= 1
                Faults.throttled += 1
                return self.reply(
                    503,
                    "<Response><Errors><Error><Code>RequestLimitExceeded</Code>"
                    "<Message>Request limit exceeded.</Message></Error></Errors>"
                    "<RequestID>throttled</RequestID></Response>",
                )
            if "/us-west-2/ecs/" in self.headers.get("Authorization", ""):
                Faults.ecs_refused += 1
                data = json.dumps({"__type": "AccessDeniedException",
                                   "message": "User is not authorized to perform: ecs:ListClusters"}).encode()
                self.send_response(400)
                self.send_header("Content-Type", "application/x-amz-json-1.1")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
                return
            if action == "AssumeRole" and form.get("RoleArn", [""])[0].endswith("/denied"):
                Faults.refused += 1
                return self.reply(
                    403,
                    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error>'
                    "<Type>Sender</Type><Code>AccessDenied</Code><Message>User is not authorized "
                    "to perform: sts:AssumeRole</Message></Error><RequestId>denied</RequestId></ErrorResponse>",
                )
            self.forward("POST", body)

        def forward(self, method, body):
            if method == "GET":
                Faults.calls += 1
            conn = http.client.HTTPConnection("127.0.0.1", moto_port)
            headers = {k: v for k, v in self.headers.items() if k.lower() not in ("host", "content-length")}
            conn.request(method, self.path, body=body, headers=headers)
            r = conn.getresponse()
            data = r.read()
            self.send_response(r.status)
            for k, v in r.getheaders():
                if k.lower() not in ("content-length", "transfer-encoding", "connection", "server", "date"):
                    self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def reply(self, status, xml):
            data = xml.encode()
            self.send_response(status)
            self.send_header("Content-Type", "text/xml")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def build(endpoint):
    """The environment; returns its interfaces (id, address, group) and the ids the CLI
    calls need."""
    import boto3

    kw = dict(endpoint_url=endpoint, region_name=REGION)
    ec2 = boto3.client("ec2", **kw)
    vpc = ec2.create_vpc(CidrBlock="10.1.0.0/16")["Vpc"]["VpcId"]
    subnets = [
        ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.1.{n}.0/24", AvailabilityZone=f"{REGION}{az}")["Subnet"]["SubnetId"]
        for n, az in ((1, "a"), (2, "b"))
    ]
    default = ec2.describe_security_groups(
        Filters=[{"Name": "vpc-id", "Values": [vpc]}, {"Name": "group-name", "Values": ["default"]}]
    )["SecurityGroups"][0]["GroupId"]
    lb_sg = ec2.create_security_group(GroupName="web-lb", Description="load balancer", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=lb_sg,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "0.0.0.0/0", "Description": "the world & its \"clients\""}]}],
    )
    ec2.authorize_security_group_ingress(
        GroupId=default,
        IpPermissions=[{"IpProtocol": "tcp", "FromPort": 8080, "ToPort": 8080, "UserIdGroupPairs": [{"GroupId": lb_sg}]}],
    )
    pl = ec2.create_managed_prefix_list(
        PrefixListName="office", MaxEntries=5, AddressFamily="IPv4",
        Entries=[{"Cidr": "203.0.113.0/24", "Description": "office"}, {"Cidr": "198.51.100.0/24"}],
    )["PrefixList"]["PrefixListId"]
    enis = []
    for n, (subnet, groups) in enumerate([(subnets[0], [default]), (subnets[1], [default]), (subnets[0], [default]), (subnets[1], [lb_sg])]):
        ip = f"10.1.{1 + n % 2}.{10 + n}"
        e = ec2.create_network_interface(SubnetId=subnet, PrivateIpAddress=ip, Groups=groups, Description=f"interface {n}")["NetworkInterface"]
        enis.append((e["NetworkInterfaceId"], ip, groups))
    lt = ec2.create_launch_template(
        LaunchTemplateName="web", LaunchTemplateData={"ImageId": "ami-12345678", "InstanceType": "t3.micro", "SecurityGroupIds": [default]}
    )["LaunchTemplate"]["LaunchTemplateId"]
    ec2.create_launch_template_version(LaunchTemplateId=lt, SourceVersion="1", LaunchTemplateData={"InstanceType": "t3.small", "SecurityGroupIds": [default]})
    autoscaling = boto3.client("autoscaling", **kw)
    autoscaling.create_launch_configuration(LaunchConfigurationName="old-web", ImageId="ami-12345678", InstanceType="t3.micro", SecurityGroups=[default])
    autoscaling.create_auto_scaling_group(
        AutoScalingGroupName="web-asg", LaunchTemplate={"LaunchTemplateId": lt, "Version": "$Latest"},
        MinSize=0, MaxSize=0, DesiredCapacity=0, VPCZoneIdentifier=",".join(subnets),
    )
    elbv2 = boto3.client("elbv2", **kw)
    alb = elbv2.create_load_balancer(Name="web-alb", Subnets=subnets, SecurityGroups=[lb_sg], Scheme="internet-facing", Type="application")["LoadBalancers"][0]["LoadBalancerArn"]
    tg = elbv2.create_target_group(Name="web", Protocol="HTTP", Port=8080, VpcId=vpc, TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
    elbv2.create_listener(LoadBalancerArn=alb, Protocol="HTTP", Port=80, DefaultActions=[{"Type": "forward", "TargetGroupArn": tg}])

    # Launchers beyond auto scaling groups, each with a member in the default group.
    role = boto3.client("iam", **kw).create_role(RoleName="launcher", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    nodes = ec2.create_launch_template(
        LaunchTemplateName="nodes", LaunchTemplateData={"ImageId": "ami-12345678", "SecurityGroupIds": [default]}
    )["LaunchTemplate"]["LaunchTemplateId"]
    eks = boto3.client("eks", **kw)
    eks.create_cluster(name="demo", roleArn=role, resourcesVpcConfig={"subnetIds": subnets})
    eks.create_nodegroup(clusterName="demo", nodegroupName="workers", nodeRole=role, subnets=subnets, launchTemplate={"id": nodes, "version": "1"})
    node = ec2.create_network_interface(
        SubnetId=subnets[0], PrivateIpAddress="10.1.1.20", Groups=[default], Description="node",
        TagSpecifications=[{"ResourceType": "network-interface", "Tags": [{"Key": "eks:nodegroup-name", "Value": "workers"}, {"Key": "eks:cluster-name", "Value": "demo"}]}],
    )["NetworkInterface"]["NetworkInterfaceId"]
    enis.append((node, "10.1.1.20", [default]))
    ecs = boto3.client("ecs", **kw)
    # moto moves a task a state further on every describe: held still, so the CLI's
    # describe and flowfence's see the same task.
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(
        f"{endpoint}/moto-api/state-manager/set-transition", method="POST",
        data=json.dumps({"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000}}).encode(),
    )).read()
    ecs.create_cluster(clusterName="apps")
    ecs.register_task_definition(
        family="api", networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "api", "image": "nginx", "memory": 512}],
    )
    network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [default], "assignPublicIp": "DISABLED"}}
    ecs.create_service(cluster="apps", serviceName="api", taskDefinition="api", desiredCount=1, launchType="FARGATE", networkConfiguration=network)
    task = ecs.run_task(cluster="apps", taskDefinition="api", launchType="FARGATE", group="service:api", count=1, networkConfiguration=network)["tasks"][0]
    details = {d["name"]: d["value"] for d in task["attachments"][0]["details"]}
    enis.append((details["networkInterfaceId"], details["privateIPv4Address"], [default]))
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("f.py", "def handler(event, context):\n    return 1\n")
    boto3.client("lambda", **kw).create_function(
        FunctionName="thumbs", Runtime="python3.12", Role=role, Handler="f.handler", Code={"ZipFile": code.getvalue()},
        VpcConfig={"SubnetIds": [subnets[1]], "SecurityGroupIds": [default]},
    )
    # moto makes no interface for it: the one Lambda would (its description names it).
    fn = ec2.create_network_interface(
        SubnetId=subnets[1], PrivateIpAddress="10.1.2.30", Groups=[default],
        Description="AWS Lambda VPC ENI-thumbs",
    )["NetworkInterface"]["NetworkInterfaceId"]
    enis.append((fn, "10.1.2.30", [default]))
    return enis, [pl], [lt, nodes]


def write_logs(enis, dir):
    """Twenty minutes of v2 records: every other default-group interface calls the first
    on 5432."""
    dir.mkdir(parents=True, exist_ok=True)
    server_eni, server_ip, _ = enis[0]
    lines = ["version account-id interface-id srcaddr dstaddr srcport dstport protocol packets bytes start end action log-status"]
    start = 1790000000
    default = enis[0][2]
    for n, (eni, ip, groups) in enumerate(e for e in enis[1:] if e[2] == default):
        for k in range(20):
            t = start + 60 * k
            sport = 40000 + 100 * n + k
            for logged in (eni, server_eni):
                lines.append(f"2 {ACCOUNT} {logged} {ip} {server_ip} {sport} 5432 6 10 800 {t} {t + 59} ACCEPT OK")
                lines.append(f"2 {ACCOUNT} {logged} {server_ip} {ip} 5432 {sport} 6 9 700 {t} {t + 59} ACCEPT OK")
    (dir / "flows.log.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--venv", required=True)
    ap.add_argument("--flowfence", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    creds = dict(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION=REGION, AWS_REGION=REGION)
    os.environ.update(creds)
    with moto_server(args.venv) as port:
        sys.exit(run(args, work, f"http://127.0.0.1:{port}", port, creds))


def run(args, work, endpoint, port, creds):
    enis, lists, templates = build(endpoint)
    front = proxy(port)
    front_url = f"http://127.0.0.1:{front.server_address[1]}"
    base_env = dict(os.environ, **creds, PATH=f"{args.venv}/bin:{os.environ['PATH']}")
    for k in ("AWS_PROFILE", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        base_env.pop(k, None)
    base_env["AWS_CONFIG_FILE"] = str(work / "no-config")
    base_env["AWS_SHARED_CREDENTIALS_FILE"] = str(work / "no-credentials")

    # 3. flowfence, through the proxy.
    fetched = work / "fetched"
    started = time.time()
    r = subprocess.run(
        [args.flowfence, "inventory", "fetch", "-o", str(fetched), "--region", REGION,
         "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/audit", "--role-arn", f"arn:aws:iam::{ACCOUNT}:role/denied"],
        env=dict(base_env, AWS_ENDPOINT_URL=front_url), capture_output=True, text=True,
    )
    took = time.time() - started
    print(r.stderr, end="")
    problems = []
    if r.returncode != 1:
        problems.append(f"fetch with a refused role exited {r.returncode}, not 1")
    if "FAILED arn:aws:iam::123456789012:role/denied" not in r.stderr:
        problems.append("the refused role is not named")
    if Faults.throttled != 2:
        problems.append(f"{Faults.throttled} calls throttled, not 2")
    if Faults.refused != 1:
        problems.append(f"{Faults.refused} AssumeRole refused, not 1")

    # A region whose ECS calls are refused: the rest of it is written, the failure named.
    partial = work / "partial"
    r = subprocess.run(
        [args.flowfence, "inventory", "fetch", "-o", str(partial), "--region", "us-west-2"],
        env=dict(base_env, AWS_ENDPOINT_URL=front_url), capture_output=True, text=True,
    )
    written = sorted(p.name for p in (partial / ACCOUNT / "us-west-2").glob("*.json"))
    ecs_named = f"FAILED {ACCOUNT} us-west-2: ecs ListClusters: AccessDeniedException" in r.stderr
    if r.returncode != 1 or not ecs_named:
        problems.append(f"refused ECS calls: exit {r.returncode}, named: {ecs_named}: {r.stderr.strip()[-300:]}")
    if "ec2-describe-network-interfaces.json" not in written or "lambda-list-functions.json" not in written \
            or any(n.startswith("ecs-") for n in written):
        problems.append(f"refused ECS calls: wrote {written}")

    # Every region: one folder per region `ec2 describe-regions` lists.
    everywhere = work / "all-regions"
    started_all = time.time()
    subprocess.run(
        [args.flowfence, "inventory", "fetch", "-q", "-o", str(everywhere), "--all-regions"],
        env=dict(base_env, AWS_ENDPOINT_URL=endpoint), check=True,
    )
    took_all = time.time() - started_all
    regions = json.loads(subprocess.run(["aws", "ec2", "describe-regions", "--endpoint-url", endpoint], env=base_env, capture_output=True, text=True, check=True).stdout)["Regions"]
    folders = sorted(p.name for p in (everywhere / ACCOUNT).iterdir())
    if folders != sorted(r["RegionName"] for r in regions):
        problems.append(f"--all-regions wrote {folders}, describe-regions lists {len(regions)} regions")

    # 4. The AWS CLI, straight to moto, into the same names.
    cli = work / "cli" / ACCOUNT / REGION
    cli.mkdir(parents=True, exist_ok=True)
    calls = [
        ("ec2-describe-network-interfaces", ["ec2", "describe-network-interfaces"]),
        ("ec2-describe-security-groups", ["ec2", "describe-security-groups"]),
        ("ec2-describe-security-group-rules", ["ec2", "describe-security-group-rules"]),
        ("ec2-describe-managed-prefix-lists", ["ec2", "describe-managed-prefix-lists"]),
        ("autoscaling-describe-auto-scaling-groups", ["autoscaling", "describe-auto-scaling-groups"]),
        ("autoscaling-describe-launch-configurations", ["autoscaling", "describe-launch-configurations"]),
        ("elbv2-describe-load-balancers", ["elbv2", "describe-load-balancers"]),
    ]
    all_lists = json.loads(subprocess.run(["aws", "ec2", "describe-managed-prefix-lists", "--endpoint-url", endpoint], env=base_env, capture_output=True, text=True, check=True).stdout)
    for pl in all_lists["PrefixLists"]:
        i = pl["PrefixListId"]
        calls.append((f"ec2-get-managed-prefix-list-entries-{i}", ["ec2", "get-managed-prefix-list-entries", "--prefix-list-id", i]))
    lbs = json.loads(subprocess.run(["aws", "elbv2", "describe-load-balancers", "--endpoint-url", endpoint], env=base_env, capture_output=True, text=True, check=True).stdout)
    for lb in lbs["LoadBalancers"]:
        arn = lb["LoadBalancerArn"]
        name = "-".join(arn.split("/")[-2:])
        calls.append((f"elbv2-describe-listeners-{name}", ["elbv2", "describe-listeners", "--load-balancer-arn", arn]))
    calls.append(("elbv2-describe-target-groups", ["elbv2", "describe-target-groups"]))
    tgs = json.loads(subprocess.run(["aws", "elbv2", "describe-target-groups", "--endpoint-url", endpoint], env=base_env, capture_output=True, text=True, check=True).stdout)
    for tg in tgs["TargetGroups"]:
        arn = tg["TargetGroupArn"]
        name = "-".join(arn.split("/")[-2:])
        calls.append((f"elbv2-describe-target-group-attributes-{name}", ["elbv2", "describe-target-group-attributes", "--target-group-arn", arn]))
    for lt in templates:
        calls.append((f"ec2-describe-launch-template-versions-{lt}", ["ec2", "describe-launch-template-versions", "--launch-template-id", lt]))
    calls.append(("eks-describe-cluster-demo", ["eks", "describe-cluster", "--name", "demo"]))
    calls.append(("eks-describe-nodegroup-demo-workers", ["eks", "describe-nodegroup", "--cluster-name", "demo", "--nodegroup-name", "workers"]))
    services = json.loads(subprocess.run(["aws", "ecs", "list-services", "--cluster", "apps", "--endpoint-url", endpoint], env=base_env, capture_output=True, text=True, check=True).stdout)["serviceArns"]
    calls.append(("ecs-describe-services-apps", ["ecs", "describe-services", "--cluster", "apps", "--services", *services]))
    tasks = json.loads(subprocess.run(["aws", "ecs", "list-tasks", "--cluster", "apps", "--endpoint-url", endpoint], env=base_env, capture_output=True, text=True, check=True).stdout)["taskArns"]
    calls.append(("ecs-describe-tasks-apps", ["ecs", "describe-tasks", "--cluster", "apps", "--tasks", *tasks]))
    calls.append(("lambda-list-functions", ["lambda", "list-functions"]))
    for name, call in calls:
        out = subprocess.run(["aws", *call, "--endpoint-url", endpoint], env=base_env, capture_output=True, check=True).stdout
        (cli / f"{name}.json").write_bytes(out)
    ours = fetched / ACCOUNT / REGION
    names = sorted(p.name for p in cli.iterdir())
    got = sorted(p.name for p in ours.iterdir()) if ours.is_dir() else []
    if names != got:
        problems.append(f"files: the CLI's {names}, flowfence's {got}")
    same = 0
    for n in names:
        a, b = cli / n, ours / n
        if not b.exists():
            continue
        if a.read_bytes() == b.read_bytes():
            same += 1
        else:
            problems.append(f"{n} differs from the CLI's (diff {a} {b})")

    # 5. Plans over both folders.
    logs = work / "logs"
    write_logs(enis, logs)
    plans = []
    for folder in (work / "cli", fetched):
        plan = work / f"plan-{folder.name}.json"
        subprocess.run([args.flowfence, "propose", "-q", "--holdout", "0", "--logs", str(logs), "--inventory", str(folder), "-o", str(plan)], check=True)
        plans.append(plan.read_bytes())
    if plans[0] != plans[1]:
        problems.append("the plans over the CLI's files and the fetched ones differ")
    # `--inventory live`: fetched into a temporary folder by propose itself.
    live = work / "plan-live.json"
    subprocess.run(
        [args.flowfence, "propose", "-q", "--holdout", "0", "--logs", str(logs), "--inventory", "live", "-o", str(live)],
        env=dict(base_env, AWS_ENDPOINT_URL=endpoint), check=True,
    )
    live_same = live.read_bytes() == plans[1]
    if not live_same:
        problems.append("the plan with --inventory live differs from the one over the fetched folder")
    plan = json.loads(plans[1])
    moved = len(plan["interfaces"])
    if moved == 0:
        problems.append("the plan moves no interface")
    # The launchers, each with the settings the inventory gave it.
    launchers = sorted((l["kind"], l["name"], l["settings"]["from"]) for l in plan.get("launchers", []))
    want = [
        ("ecs-service", "api", "ecs-service"),
        ("eks-node-group", "workers", "launch-template"),
        ("lambda-function", "thumbs", "lambda-vpc"),
    ]
    if launchers != want:
        problems.append(f"launchers {launchers}, not {want}")
    problems += run_export(args, work, endpoint, base_env, plan)
    for p in problems:
        print("MISMATCH:", p)
    print(
        f"moto fetch: {len(got)} files for {ACCOUNT}/{REGION} in {took:.1f} s "
        f"({Faults.calls} calls through the proxy, {Faults.throttled} throttled and retried, "
        f"{Faults.refused} role refused and skipped; refused ECS calls in us-west-2 named, the region's other "
        f"{len(written)} files written); --all-regions: {len(folders)} regions in {took_all:.1f} s; "
        f"{same} of {len(names)} files byte-identical "
        f"to the AWS CLI's; plans over both identical: {plans[0] == plans[1]}, and with --inventory live: {live_same} "
        f"({moved} interfaces moved; launchers: {', '.join(f'{k} {n} from {f}' for k, n, f in launchers)}); "
        f"{len(problems)} mismatches"
    )
    return 1 if problems else 0


def run_export(args, work, endpoint, base_env, plan):
    """Step 6: the CLI export against moto; returns what's wrong."""
    script = work / "migrate.sh"
    subprocess.run([args.flowfence, "export", "--plan", str(work / "plan-fetched.json"), "--format", "cli", "-o", str(script)], check=True)
    shim = work / "shim"
    shim.mkdir(exist_ok=True)
    record = work / "eks-calls.txt"
    real = subprocess.run(["which", "aws"], env=base_env, capture_output=True, text=True, check=True).stdout.strip()
    (shim / "aws").write_text(
        "#!/usr/bin/env bash\n"
        "if [ \"$1 $2\" = 'eks update-nodegroup-version' ]; then echo \"$*\" >> " + str(record) + "; exit 0; fi\n"
        f"exec {real} \"$@\"\n"
    )
    (shim / "aws").chmod(0o755)
    env = dict(base_env, AWS_ENDPOINT_URL=endpoint, PATH=f"{shim}:{base_env['PATH']}")
    for phase in ("prepare", "finish"):
        r = subprocess.run(["bash", str(script), phase], env=env, capture_output=True, text=True)
        if r.returncode != 0:
            return [f"migrate.sh {phase} exited {r.returncode}: {r.stderr.strip()[-400:]}"]
    import boto3

    kw = dict(endpoint_url=endpoint, region_name=REGION)
    ec2 = boto3.client("ec2", **kw)
    ids = {g["GroupName"]: g["GroupId"] for g in ec2.describe_security_groups()["SecurityGroups"]}
    launchers = {l["kind"]: l for l in plan["launchers"]}
    after = lambda l: sorted(ids[g.removeprefix("new:")] for g in l["groups_after"])
    problems = []
    service = boto3.client("ecs", **kw).describe_services(cluster="apps", services=["api"])["services"][0]
    got = sorted(service["networkConfiguration"]["awsvpcConfiguration"]["securityGroups"])
    if got != after(launchers["ecs-service"]):
        problems.append(f"service api names {got} after finish, not {after(launchers['ecs-service'])}")
    function = boto3.client("lambda", **kw).get_function_configuration(FunctionName="thumbs")
    got = sorted(function["VpcConfig"]["SecurityGroupIds"])
    if got != after(launchers["lambda-function"]):
        problems.append(f"function thumbs names {got} after finish, not {after(launchers['lambda-function'])}")
    node = launchers["eks-node-group"]
    template = node["settings"]["template_id"]
    versions = ec2.describe_launch_template_versions(LaunchTemplateId=template)["LaunchTemplateVersions"]
    newest = max(versions, key=lambda v: v["VersionNumber"])
    got = sorted(newest["LaunchTemplateData"].get("SecurityGroupIds", []))
    if got != after(node):
        problems.append(f"template {template} version {newest['VersionNumber']} names {got}, not {after(node)}")
    calls = record.read_text().splitlines() if record.exists() else []
    want = f"eks update-nodegroup-version --cluster-name demo --nodegroup-name workers --launch-template id={template},version={newest['VersionNumber']}"
    if not calls or calls[-1] != want:
        problems.append(f"the last node group call was {calls[-1:]}, not {want!r}")
    print(
        f"CLI export against moto: service api and function thumbs name {len(after(launchers['ecs-service']))} and "
        f"{len(after(launchers['lambda-function']))} new groups only; node group workers pointed at template "
        f"version {newest['VersionNumber']} ({len(versions)} versions; {len(calls)} update-nodegroup-version calls)"
    )
    return problems


if __name__ == "__main__":
    main()
