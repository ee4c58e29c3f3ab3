#!/usr/bin/env python3
"""Copies to several regions run in parallel: the copy step of a bake with three regions
against the slowest single copy.

    python3 bench/region_copies.py [--provider PATH] [--pending us-west-2=4,eu-west-1=6,ap-southeast-2=8] [--keep]

On the test bed of bench/bake_vs_packer.py (instant profile), with moto holding each copy
`pending` for the given seconds in its region (testbed/moto_ec2.py --copy-pending, as a copy
takes minutes on EC2): one `terraform apply` per region with `ami_regions` = that region alone,
then one with all of them. The figure is the bake's `copy_image` step (from the provider's
JSON log: `step done`, `elapsed_ms`), the three-region copy against the slowest single copy;
target ≤ 1.1 ×.
"""
import argparse
import os
import json
import shutil
import sys
import tempfile

from bake_vs_packer import PROFILES, Bed, terraform_dir, timed
from common import find_provider, terraform_env

def copy_step_s(log, start):
    """The copy step's time of the first bake logged after byte `start` of the log."""
    with open(log, errors="replace") as f:
        f.seek(start)
        for line in f:
            try:
                e = json.loads(line)
            except ValueError:
                continue
            if e.get("@message") == "step done" and e.get("step") == "copy_image":
                return e["elapsed_ms"] / 1000
    sys.exit(f"no copy_image step in {log}")


def with_regions(d, regions):
    p = f"{d}/main.tf"
    with open(p) as f:
        text = f.read()
    marker = '  instance_type = "t3.micro"\n'
    listed = ", ".join(f'"{r}"' for r in regions)
    with open(p, "w") as f:
        f.write(text.replace(marker, f"{marker}  ami_regions = [{listed}]\n", 1))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--provider")
    ap.add_argument("--pending", default="us-west-2=4,eu-west-1=6,ap-southeast-2=8")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    a = ap.parse_args()
    provider = find_provider(a.provider)
    pending = dict((r, float(s)) for r, s in (p.split("=") for p in a.pending.split(",")))
    os.environ["TESTBED_COPY_PENDING"] = a.pending  # read by moto_ec2.py at start
    work = tempfile.mkdtemp(prefix="golden-copies-")
    bed = Bed(work, PROFILES["instant"])
    log = f"{work}/terraform.log"
    plog = f"{work}/provider.log"
    try:
        remote = f"{work}/remote"
        os.makedirs(remote)
        payload = f"{work}/payload.bin"
        with open(payload, "wb") as f:
            f.write(b"x")
        env = terraform_env(work, provider)
        env.update(GOLDEN_LOG="info", GOLDEN_LOG_FILE=plog)
        apply = ["terraform", "apply", "-auto-approve", "-input=false"]
        destroy = ["terraform", "destroy", "-auto-approve", "-input=false"]
        rows = []
        for i, regions in enumerate([[r] for r in pending] + [list(pending)]):
            d = terraform_dir(work, f"d{i}", bed, remote, payload, 1)
            with_regions(d, regions)
            timed(["terraform", "init", "-input=false"], d, env, log)
            start = os.path.getsize(plog) if os.path.exists(plog) else 0
            wall = timed(apply, d, env, log)
            rows.append((regions, copy_step_s(plog, start), wall))
            timed(destroy, d, env, log)
        singles = rows[:-1]
        slowest = max(s for _, s, _ in singles)
        regions, together, wall = rows[-1]
        print(f"provider {provider}, copies pending {a.pending}\n")
        print("| regions | copy step s | apply s |")
        print("| --- | --- | --- |")
        for r, s, w in rows:
            print(f"| {', '.join(r)} | {s:.2f} | {w:.2f} |")
        print(f"\n{len(regions)} regions at once: {together:.2f} s against the slowest single copy "
              f"{slowest:.2f} s: {together / slowest:.2f}× (target ≤ 1.1×)")
    finally:
        bed.stop()
        if a.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
