#!/usr/bin/env python3
"""Bakes on ephemeral and crowded runners: a fresh runner with only the state, and fifty
bakes in one apply, clean and with EC2 throttling a share of the calls.

    python3 bench/at_scale.py [--provider PATH] [--count 50] [--throttle 0.1] [--quick] [--keep]

On the test bed of bench/bake_vs_packer.py (moto holding states for run 5 / stop 5 /
image 10 / terminate 3 s, the counting fault proxy, one sshd):
  * Fresh runner: `terraform apply` of one golden_ami in directory A; then a new directory B
    holding the same configuration with a `triggers` change and only A's terraform.tfstate
    (no .terraform/ journal): `terraform init` and the timed `terraform apply` there. Reports
    B's wall time against the held states' sum and B's EC2 calls (the new bake's, and the
    old image's removal apart).
  * One bake: a second apply in A (warm), the reference for the next two.
  * N at once: `count = N` in one apply with `-parallelism=N`, in a directory that starts
    with nothing learned but what A's state would carry (A's journal is copied, as a CI
    runner restoring the state would get the same windows from the state). Wall time against
    the one bake, the provider's peak RSS (VmHWM, every terraform-provider-golden process),
    EC2 calls.
  * N at once, throttled: the same after `terraform destroy`, with the proxy answering a
    share of all calls (--throttle) with EC2's throttling error (RequestLimitExceeded, HTTP
    503). Reports how many images exist afterwards (through the EC2 API) and how many calls
    were throttled.
--quick (for CI): instant profile, N = 5; it checks that everything works, its figures mean
little.
"""
import argparse
from datetime import datetime
import json
import os
import shutil
import subprocess
import sys
import resource
import tempfile
import time
import urllib.request

from bake_vs_packer import PROFILES, Bed, RssSampler, terraform_dir, timed
from common import find_provider, terraform_env


def set_faults(bed, cfg):
    req = urllib.request.Request(f"{bed.endpoint}/_faults", method="POST",
                                 data=json.dumps(cfg).encode(),
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.load(r)


def faults(bed):
    with urllib.request.urlopen(f"{bed.endpoint}/_faults", timeout=5) as r:
        return json.load(r)


def own_images(bed):
    import boto3
    ec2 = boto3.client("ec2", endpoint_url=bed.moto, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    return ec2.describe_images(Owners=["self"])["Images"]


def cpu_seconds(pid):
    """CPU time of a process and the children it reaped (sshd's sessions), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(x) for x in fields[11:15]) / os.sysconf("SC_CLK_TCK")


def machine_busy():
    """Core-seconds the whole machine spent busy and idle so far (/proc/stat)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]
    return (sum(v) - idle) / os.sysconf("SC_CLK_TCK"), idle / os.sysconf("SC_CLK_TCK")


class CpuSplit:
    """Who spent the CPU while a command ran: Terraform with its providers (reaped
    descendants of this process), and each test bed process (moto, proxy, sshd)."""

    def __init__(self, bed):
        self.bed = bed

    def __enter__(self):
        self.t0 = time.monotonic()
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.kids0 = ru.ru_utime + ru.ru_stime
        self.bed0 = [cpu_seconds(p.pid) for p in self.bed.procs]
        self.machine0 = machine_busy()
        return self

    def __exit__(self, *exc):
        ru = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.wall = time.monotonic() - self.t0
        self.terraform = ru.ru_utime + ru.ru_stime - self.kids0
        busy, idle = machine_busy()
        self.busy, self.idle = busy - self.machine0[0], idle - self.machine0[1]
        names = ["moto", "proxy", "sshd"]
        self.bed_cpu = {names[i] if i < len(names) else f"bed{i}": cpu_seconds(p.pid) - b
                        for i, (p, b) in enumerate(zip(self.bed.procs, self.bed0))}

    def line(self):
        parts = [f"terraform+provider {self.terraform:.1f}"] + [
            f"{k} {v:.1f}" for k, v in self.bed_cpu.items()]
        return (f"CPU s over {self.wall:.1f} s wall ({os.cpu_count()} cores): machine busy "
                f"{self.busy:.1f}, idle {self.idle:.1f}; of which " + ", ".join(parts)
                + " (sshd's per-login processes and what they start are not counted)")


def with_triggers(d, value):
    p = f"{d}/main.tf"
    with open(p) as f:
        text = f.read()
    marker = '  instance_type = "t3.micro"\n'
    with open(p, "w") as f:
        f.write(text.replace(marker, f'{marker}  triggers = {{\n    run = "{value}"\n  }}\n', 1))


REMOVAL = {"DeregisterImage", "DeleteSnapshot"}


def bake_span(log):
    """Seconds from the provider's "bake starting" to its "bake finished" (JSON log lines),
    and the EC2 calls logged at DEBUG in between: the bake alone, without Terraform's
    processes, the refresh, the plan and the old image's removal."""
    start = end = None
    calls = 0
    with open(log) as f:
        for line in f:
            try:
                j = json.loads(line)
            except ValueError:
                continue
            msg = j.get("@message")
            if msg == "bake starting":
                start, calls = j["@timestamp"], 0
            elif msg == "EC2 call" and start and not end:
                calls += 1
            elif msg == "bake finished":
                end = j["@timestamp"]
    if not (start and end):
        return None, None
    t = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (t(end) - t(start)).total_seconds(), calls


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--provider")
    ap.add_argument("--count", type=int, default=50)
    ap.add_argument("--throttle", type=float, default=0.1)
    ap.add_argument("--quick", action="store_true", help="CI: instant profile, 5 at once")
    ap.add_argument("--keep", action="store_true", help="keep the work directory")
    ap.add_argument("--payload-kib", type=int, default=1024,
                    help="size of the file each bake uploads (default 1 MiB)")
    ap.add_argument("--fresh-only", action="store_true",
                    help="only the fresh-runner rebake, with its calls by name")
    a = ap.parse_args()
    provider = find_provider(a.provider)
    profile = "instant" if a.quick else "5/5/10/3"
    n = 5 if a.quick else a.count
    holds = PROFILES[profile]
    work = tempfile.mkdtemp(prefix="golden-scale-")
    bed = Bed(work, holds)
    log = f"{work}/terraform.log"
    try:
        remote = f"{work}/remote"
        os.makedirs(remote)
        payload = f"{work}/payload.bin"
        with open(payload, "wb") as f:
            f.write(os.urandom(a.payload_kib << 10))
        env = terraform_env(work, provider)
        if a.keep:
            env.update(GOLDEN_LOG="debug", GOLDEN_LOG_FILE=f"{work}/provider.log")
        apply = ["terraform", "apply", "-auto-approve", "-input=false"]
        destroy = ["terraform", "destroy", "-auto-approve", "-input=false"]

        # Fresh runner.
        da = terraform_dir(work, "a", bed, remote, payload, 1)
        timed(["terraform", "init", "-input=false"], da, env, log)
        timed(apply, da, env, log)
        db = terraform_dir(work, "b", bed, remote, payload, 1)
        with_triggers(db, "2")
        shutil.copy(f"{da}/terraform.tfstate", f"{db}/terraform.tfstate")
        timed(["terraform", "init", "-input=false"], db, env, log)
        bed.reset_counts()
        blog = f"{work}/b-provider.log"
        benv = dict(env, GOLDEN_LOG="info,terraform_provider_golden::ec2::sdk=debug", GOLDEN_LOG_FILE=blog)
        fresh_s = timed(apply, db, benv, log)
        calls, _ = bed.counts(0)
        fresh_bake = sum(v for k, v in calls.items() if k not in REMOVAL)
        fresh_removal = sum(v for k, v in calls.items() if k in REMOVAL)
        bake_s, bake_calls = bake_span(blog)
        bake_line = "the bake's span is not in the provider's log"
        if bake_s is not None:
            ratio = f" ({bake_s / sum(holds):.2f}× the states)" if sum(holds) else ""
            bake_line = (f"the bake alone (\"bake starting\" to \"bake finished\"): "
                         f"{bake_s:.2f} s{ratio}, {bake_calls} calls")
        timed(destroy, db, env, log)
        if a.fresh_only:
            print(f"fresh runner: {fresh_s:.2f} s against {sum(holds)} s of states; "
                  f"{fresh_bake} calls (+{fresh_removal} removing the old image)\n"
                  f"{bake_line}\n{dict(sorted(calls.items()))}")
            return

        # One bake, warm.
        with_triggers(da, "3")
        one_s = timed(apply, da, env, log)
        timed(destroy, da, env, log)

        # N at once.
        dn = terraform_dir(work, "many", bed, remote, payload, n)
        timed(["terraform", "init", "-input=false"], dn, env, log)
        learned = f"{da}/.terraform/golden-journal/timings.json"
        if os.path.exists(learned):
            os.makedirs(f"{dn}/.terraform/golden-journal", exist_ok=True)
            shutil.copy(learned, f"{dn}/.terraform/golden-journal/timings.json")
        many = apply + [f"-parallelism={n}"]
        bed.reset_counts()
        with RssSampler("terraform-provider-golden") as rss, CpuSplit(bed) as cpu:
            many_s = timed(many, dn, env, log)
        many_calls, _ = bed.counts(0)
        many_rss = rss.peak_kib / 1024
        timed(destroy + [f"-parallelism={n}"], dn, env, log)

        # N at once, throttled.
        bed.reset_counts()
        set_faults(bed, {"throttle_fraction": a.throttle, "seed": 15})
        with RssSampler("terraform-provider-golden") as rss:
            throttled_s = timed(many, dn, env, log)
        st = faults(bed)
        set_faults(bed, {})
        made = len(own_images(bed))
        throttled_calls = sum(st["requests"].values())
        injected = sum(st["faults"].values())
        throttled_rss = rss.peak_kib / 1024
        timed(destroy + [f"-parallelism={n}"], dn, env, log)
        left = len(own_images(bed))

        states = sum(holds)
        print(f"profile {profile}, provider {provider}\n")
        print("| scenario | wall s | target | EC2 calls | peak RSS provider MiB |")
        print("| --- | --- | --- | --- | --- |")
        fresh_ratio = f" ({fresh_s / states:.2f}×)" if states else ""
        print(f"| fresh runner (state only), rebake | {fresh_s:.2f} | ≤ 1.1 × {states} = {1.1 * states:.1f} s"
              f"{fresh_ratio}; ≤ 16 calls | {fresh_bake} (+{fresh_removal} removing the old image) | |")
        print(f"| one bake (warm) | {one_s:.2f} | | | |")
        print(f"| {n} at once | {many_s:.2f} | ≤ 1.3 × one bake: {many_s / one_s:.2f}× | {sum(many_calls.values())} | {many_rss:.1f} |")
        print(f"| {n} at once, {a.throttle:.0%} of calls throttled | {throttled_s:.2f} | all {n} made: {made} |"
              f" {throttled_calls} ({injected} throttled) | {throttled_rss:.1f} |")
        print(f"\nfresh runner calls: {dict(sorted(calls.items()))}; {bake_line}")
        print(f"{n} at once: {cpu.line()}")
        if made != n or left != 0:
            sys.exit(f"{made} of {n} images made under throttling; {left} left after destroy")
    finally:
        bed.stop()
        if a.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
