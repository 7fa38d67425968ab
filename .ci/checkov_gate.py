#!/usr/bin/env python3
"""Fails unless checkov's failed checks on flowfence's exports are only those the plan
explains. Usage: checkov_gate.py PLAN.json CHECKOV.json...

Allowed, each printed with its reason:
- rules that name a group or a prefix list: checkov's unrestricted-port checks read a
  rule without a CIDR as open to the world (they don't know `referenced_security_group_id`);
- CKV2_AWS_5 on a new group: it is attached by `aws_network_interface_sg_attachment` or by
  the owning resource (RDS, ElastiCache), neither of which that check models;
- world-open rules the plan itself flags (`widened` of kind world-open or no-prefix-list).
Anything else fails the gate.
"""
import json
import re
import sys


def snake(name):
    words = re.findall(r"[A-Za-z0-9]+", name.lower())
    joined = "_".join(words)
    return joined if joined[:1].isalpha() else "g_" + joined


def camel(name):
    joined = "".join(w[:1].upper() + w[1:] for w in re.findall(r"[A-Za-z0-9]+", name.lower()))
    return joined if joined[:1].isalpha() else "G" + joined


def main():
    plan = json.load(open(sys.argv[1]))
    flagged = [
        w["subject"] for w in plan["widened"] if w["kind"] in ("world-open", "no-prefix-list")
    ]
    bad = 0
    for path in sys.argv[2:]:
        reports = json.load(open(path))
        for report in reports if isinstance(reports, list) else [reports]:
            for check in report.get("results", {}).get("failed_checks", []):
                block = "".join(line for _, line in check.get("code_block") or [])
                resource = check["resource"]
                name = resource.split(".", 1)[-1]
                reason = None
                if check["check_id"] == "CKV2_AWS_5" and resource.startswith("aws_security_group."):
                    reason = "attached by aws_network_interface_sg_attachment or its owning resource"
                elif re.search(r"referenced_security_group_id|prefix_list_id|SecurityGroupId|PrefixListId", block) and not re.search(r"cidr_ipv|CidrIp", block):
                    reason = "names a group or prefix list, not a CIDR"
                elif re.search(r"0\.0\.0\.0/0|::/0", block) and any(
                    name.startswith(snake(s)) or name.startswith(camel(s)) for s in flagged
                ):
                    reason = "world-open rule the plan flags"
                verdict = "allowed" if reason else "FAILED"
                print(f"{verdict}: {check['check_id']} {resource} ({path}){': ' + reason if reason else ''}")
                bad += reason is None
    print(f"checkov gate: {bad} unexplained failed checks")
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
