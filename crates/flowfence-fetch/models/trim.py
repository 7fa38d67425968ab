#!/usr/bin/env python3
"""Writes the trimmed response models flowfence-fetch decodes with.

The AWS CLI turns a response into JSON through botocore's service model: member names,
member order, which XML elements are lists, which text is a number or a boolean. These
files are that model cut down to the responses `flowfence inventory fetch` reads, taken
from the botocore the AWS CLI from PyPI ships (regenerate when adding a call):

    python3 trim.py ~/.cache/flowfence/moto/lib/python3*/site-packages/botocore/data
"""
import gzip
import json
import sys
from pathlib import Path

CALLS = {
    ("ec2", "2016-11-15"): [
        "DescribeNetworkInterfaces",
        "DescribeSecurityGroups",
        "DescribeSecurityGroupRules",
        "DescribeManagedPrefixLists",
        "GetManagedPrefixListEntries",
        "DescribeLaunchTemplateVersions",
        "DescribeRegions",
    ],
    ("autoscaling", "2011-01-01"): [
        "DescribeAutoScalingGroups",
        "DescribeLaunchConfigurations",
    ],
    ("elbv2", "2015-12-01"): ["DescribeLoadBalancers", "DescribeListeners", "DescribeTargetGroups",
                             "DescribeTargetGroupAttributes"],
    ("sts", "2011-06-15"): ["GetCallerIdentity"],
    ("eks", "2017-11-01"): ["ListClusters", "DescribeCluster", "ListNodegroups", "DescribeNodegroup"],
    ("ecs", "2014-11-13"): ["ListClusters", "ListServices", "DescribeServices", "ListTasks",
                           "DescribeTasks"],
    ("lambda", "2015-03-31"): ["ListFunctions"],
}
KEEP = ("type", "flattened", "location", "locationName", "xmlAttribute", "resultWrapper")


def ref(r):
    return {k: r[k] for k in ("shape", *KEEP) if k in r}


def main(data):
    here = Path(__file__).parent
    for (service, version), operations in CALLS.items():
        folder = Path(data) / service / version
        model = json.loads(gzip.decompress((folder / "service-2.json.gz").read_bytes()))
        pages = json.loads((folder / "paginators-1.json").read_text())["pagination"]
        shapes, todo = {}, []
        ops = {}
        for name in operations:
            op = model["operations"][name]
            out = {"output": ref(op["output"])}
            page = pages.get(name)
            if page:
                keys = page["result_key"]
                out["result_keys"] = keys if isinstance(keys, list) else [keys]
                out["output_token"] = page["output_token"]
            ops[name] = out
            todo.append(op["output"]["shape"])
        while todo:
            name = todo.pop()
            if name in shapes:
                continue
            s = model["shapes"][name]
            t = {k: s[k] for k in KEEP if k in s}
            if s["type"] == "structure":
                t["members"] = [[m, ref(r)] for m, r in s["members"].items()]
                todo += [r["shape"] for r in s["members"].values()]
            elif s["type"] == "list":
                t["member"] = ref(s["member"])
                todo.append(s["member"]["shape"])
            elif s["type"] == "map":
                t["key"], t["value"] = ref(s["key"]), ref(s["value"])
                todo += [s["key"]["shape"], s["value"]["shape"]]
            shapes[name] = t
        out = {
            "protocol": model["metadata"]["protocol"],
            "operations": ops,
            "shapes": dict(sorted(shapes.items())),
        }
        (here / f"{service}.json").write_text(json.dumps(out, separators=(",", ":"), sort_keys=False) + "\n")
        print(service, len(shapes), "shapes")


if __name__ == "__main__":
    main(sys.argv[1])
