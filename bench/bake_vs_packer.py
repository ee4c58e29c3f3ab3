#!/usr/bin/env python3
"""Bake the same image with `terraform apply` of a golden_ami and with Packer's amazon-ebs,
alternating, on the local test bed, and print the figures as Markdown.

    python3 bench/bake_vs_packer.py [--provider PATH] [--runs 5] [--warmup 1] [--quick]

For each state profile (instant, and run 5 s / stop 5 s / image 10 s / terminate 3 s) it
starts moto (testbed/moto_ec2.py, holding states for the profile's times and logging when a
client first sees each state change), a counting proxy in front of it
(testbed/fault_proxy.py, no faults) and a local sshd (testbed/sshd.py). Then, alternating:
  * `packer build` of bench/packer/bake.json (Packer 1.6.6 from Debian, custom_endpoint_ec2,
    ssh_host, ssh_port), and
  * `terraform apply` of the same bake as one golden_ami, then a no-op `terraform apply`
    (what Terraform costs by itself), then `terraform destroy` (not timed).
Both do the same provisioning: an inline shell step, a 1 MiB file upload, and `uname -a`
(so the commands' own time is a few ms: every second above the state times is the tool's).
One uncounted warm-up bake of each comes first (--warmup); the provider's, the first in
its working directory, is reported on its own as the cold bake. Per bake it records wall time, EC2 calls (counted at the proxy), how late each state change
was noticed (from moto's event log), and the provider's peak RSS (VmHWM of every
terraform-provider-golden process, sampled from /proc every 20 ms). Under the held profile it
also applies 10 golden_ami resources at once. Last, it runs bench/upload_throughput.py.

--quick (for CI): the instant profile only, one run each, 10 resources instant, an 8 MiB
upload; it checks that everything works, its figures mean little. Needs what
scripts/setup.sh installs (moto, sshd, terraform, packer) and a built provider (default:
target/release/..., else target/release-bench/release/..., else target/debug/...).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

from common import ROOT, console_fingerprints, find_provider, start, terraform_env

SOURCE_AMI = "ami-0a11ce0000000a001"
PROFILES = {"instant": (0, 0, 0, 0), "5/5/10/3": (5, 5, 10, 3)}  # run, stop, image, terminate


def need(tool, install):
    if not shutil.which(tool):
        sys.exit(f"{tool} not found: {install}")


class RssSampler:
    """Peak resident set of every process whose command name starts with `name`."""

    def __init__(self, name):
        self.name, self.peak_kib, self._stop = name[:15], 0, threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join()

    def _run(self):
        while not self._stop.is_set():
            for pid in os.listdir("/proc"):
                if not pid.isdigit():
                    continue
                try:
                    with open(f"/proc/{pid}/status") as f:
                        st = f.read()
                except OSError:
                    continue
                if not st.startswith(f"Name:\t{self.name}"):
                    continue
                for line in st.splitlines():
                    if line.startswith("VmHWM:"):
                        self.peak_kib = max(self.peak_kib, int(line.split()[1]))
            self._stop.wait(0.02)


class Bed:
    """moto + counting proxy + sshd for one state profile."""

    def __init__(self, work, holds):
        self.work, self.procs = work, []
        self.events = f"{work}/events.jsonl"
        open(self.events, "w").close()
        run, stop, image, term = holds
        moto, (self.moto,) = start(
            [sys.executable, f"{ROOT}/testbed/moto_ec2.py", "--port", "0", "--console-file",
             f"{work}/console.txt", "--sshd-dir", f"{work}/sshd", "--events", self.events, "--hold-run", str(run),
             "--hold-stop", str(stop), "--hold-image", str(image), "--hold-terminate", str(term)],
            f"{work}/moto.log")
        self.procs.append(moto)
        proxy, (self.endpoint,) = start(
            [sys.executable, f"{ROOT}/testbed/fault_proxy.py", "--upstream", self.moto, "--port", "0",
             "--control"], f"{work}/proxy.log")
        self.procs.append(proxy)
        sshd, (self.port, self.user, hostkey) = start(
            [sys.executable, f"{ROOT}/testbed/sshd.py", "--ec2", self.moto, "--port", "0", "--dir",
             f"{work}/sshd"], f"{work}/sshd.log")
        self.procs.append(sshd)
        with open(hostkey) as f:
            self.host_key = f.read().strip()
        console_fingerprints(hostkey, f"{work}/console.txt")
        # moto's first call after start is slow (it loads the catalogue): not part of a bake.
        urllib.request.urlopen(urllib.request.Request(
            f"{self.moto}/", method="POST", data=b"Action=DescribeRegions&Version=2016-11-15",
            headers={"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/ec2/"
                     "aws4_request, SignedHeaders=host, Signature=" + "0" * 64}), timeout=30).read()

    def reset_counts(self):
        req = urllib.request.Request(f"{self.endpoint}/_faults", method="DELETE")
        urllib.request.urlopen(req, timeout=5).read()
        return os.path.getsize(self.events)

    def counts(self, events_from):
        with urllib.request.urlopen(f"{self.endpoint}/_faults", timeout=5) as r:
            calls = json.load(r)["requests"]
        with open(self.events) as f:
            f.seek(events_from)
            events = [json.loads(line) for line in f if line.strip()]
        return calls, events

    def stop(self):
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            p.wait(timeout=10)


def terraform_dir(work, name, bed, remote, payload, count):
    d = f"{work}/{name}"
    os.makedirs(d)
    # Every bake pins the bed's own host key. With the default (a generated key handed to
    # cloud-init) the bed's one sshd restarts to present each new key: a test-bed cost, not the
    # provider's, and several build instances at once would need several keys at a time.
    pin = f'\n    host_key = "{bed.host_key}"'
    with open(f"{d}/main.tf", "w") as f:
        f.write(f'''terraform {{
  required_providers {{
    golden = {{ source = "golden-ami/golden" }}
  }}
}}
provider "golden" {{
  region = "us-east-1"
  endpoints {{
    ec2 = "{bed.endpoint}"
  }}
}}
resource "golden_ami" "bench" {{
  count         = {count}
  name_prefix   = "golden-bench-${{count.index}}-"
  instance_type = "t3.micro"
  source_ami    = "{SOURCE_AMI}"
  tags = {{
    Name = "bench"
  }}
  ssh {{
    username = "{bed.user}"
    host     = "127.0.0.1"
    port     = {bed.port}{pin}
  }}
  provision {{
    shell {{
      inline = ["mkdir -p {remote}/golden-${{count.index}}", "echo built > {remote}/golden-${{count.index}}/marker"]
    }}
  }}
  provision {{
    file {{
      source      = "{payload}"
      destination = "{remote}/golden-${{count.index}}/payload.bin"
    }}
  }}
  provision {{
    shell {{
      inline = ["uname -a > {remote}/golden-${{count.index}}/uname"]
    }}
  }}
}}
''')
    return d


def packer_template(work, bed, remote, payload):
    t = {
        "builders": [{
            "type": "amazon-ebs", "region": "us-east-1", "access_key": "test", "secret_key": "test",
            "custom_endpoint_ec2": bed.endpoint, "skip_region_validation": True,
            "skip_credential_validation": True, "skip_metadata_api_check": True,
            "source_ami": SOURCE_AMI, "instance_type": "t3.micro",
            "ssh_username": bed.user, "ssh_host": "127.0.0.1", "ssh_port": int(bed.port),
            "ami_name": "packer-bench-{{timestamp}}-{{uuid}}", "tags": {"Name": "bench"},
        }],
        "provisioners": [
            {"type": "shell", "inline": [f"mkdir -p {remote}/packer",
                                         f"echo built > {remote}/packer/marker"]},
            {"type": "file", "source": payload, "destination": f"{remote}/packer/payload.bin"},
            {"type": "shell", "inline": [f"uname -a > {remote}/packer/uname"]},
        ],
    }
    path = f"{work}/packer.json"
    with open(path, "w") as f:
        json.dump(t, f, indent=2)
    return path


def timed(cmd, cwd, env, log):
    t0 = time.monotonic()
    r = subprocess.run(cmd, cwd=cwd, env=env, stdout=open(log, "a"), stderr=subprocess.STDOUT)
    took = time.monotonic() - t0
    if r.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed (exit {r.returncode}); see {log}")
    return took


def med(xs):
    return statistics.median(xs) if xs else float("nan")


def profile_run(name, holds, provider, runs, warmup, tens, out, keep):
    work = tempfile.mkdtemp(prefix="golden-bench-")
    bed = Bed(work, holds)
    try:
        remote = f"{work}/remote"
        os.makedirs(remote)
        payload = f"{work}/payload.bin"
        with open(payload, "wb") as f:
            f.write(os.urandom(1 << 20))
        env = dict(terraform_env(work, provider), PACKER_CACHE_DIR=f"{work}/packer_cache")
        if keep:
            env.update(GOLDEN_LOG="debug", GOLDEN_LOG_FILE=f"{work}/provider.log")
        one = terraform_dir(work, "one", bed, remote, payload, 1)
        ten = terraform_dir(work, "ten", bed, remote, payload, 10) if tens else None
        for d in filter(None, (one, ten)):
            timed(["terraform", "init", "-input=false"], d, env, f"{work}/terraform.log")
        template = packer_template(work, bed, remote, payload)
        tf_apply = ["terraform", "apply", "-auto-approve", "-input=false"]
        tf_destroy = ["terraform", "destroy", "-auto-approve", "-input=false"]
        log = f"{work}/terraform.log"
        r = {"packer": [], "golden": [], "noop": [], "packer_calls": [], "golden_calls": [],
             "packer_lag": [], "golden_lag": [], "rss_kib": [], "packer_rss_kib": []}
        # Warm-up, not counted in the medians: one bake each. The provider learns the
        # states' times in its working directory (as it would in a user's); this first
        # bake, with nothing learned yet, is reported on its own as "cold".
        for _ in range(warmup):
            mark = bed.reset_counts()
            timed(["packer", "build", "-color=false", template], work, env, f"{work}/packer.log")
            mark = bed.reset_counts()
            r["cold"] = timed(tf_apply, one, env, log)
            r["cold_calls"], _ = bed.counts(mark)
            timed(tf_destroy, one, env, log)
        for _ in range(runs):
            mark = bed.reset_counts()
            with RssSampler("packer") as rss:
                r["packer"].append(timed(["packer", "build", "-color=false", template], work, env,
                                         f"{work}/packer.log"))
            r["packer_rss_kib"].append(rss.peak_kib)
            calls, events = bed.counts(mark)
            r["packer_calls"].append(calls)
            r["packer_lag"].append(events)

            mark = bed.reset_counts()
            with RssSampler("terraform-provider-golden") as rss:
                r["golden"].append(timed(tf_apply, one, env, log))
            r["rss_kib"].append(rss.peak_kib)
            calls, events = bed.counts(mark)
            r["golden_calls"].append(calls)
            r["golden_lag"].append(events)
            r["noop"].append(timed(tf_apply, one, env, log))
            timed(tf_destroy, one, env, log)
        if ten:
            # Warm, as the single bakes are: what this directory learned of the states' times.
            learned = f"{one}/.terraform/golden-journal/timings.json"
            if os.path.exists(learned):
                os.makedirs(f"{ten}/.terraform/golden-journal", exist_ok=True)
                shutil.copy(learned, f"{ten}/.terraform/golden-journal/timings.json")
            mark = bed.reset_counts()
            with RssSampler("terraform-provider-golden") as rss:
                r["ten"] = timed(tf_apply, ten, env, log)
            r["ten_rss_kib"] = rss.peak_kib
            r["ten_calls"], _ = bed.counts(mark)
            timed(tf_destroy, ten, env, log)
        out[name] = r
    finally:
        bed.stop()
        if keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def total(calls):
    return sum(calls.values())


def lag_table(r):
    kinds = ["run", "stop", "image", "terminate"]
    rows = []
    for tool in ("packer", "golden"):
        per = {k: [e["lag_s"] for run in r[f"{tool}_lag"] for e in run if e["kind"] == k] for k in kinds}
        rows.append(f"| {tool} | " + " | ".join(f"{med(per[k]):.2f}" for k in kinds) + " |")
    return rows


def report(out, provider, runs):
    p = []
    say = p.append
    say(f"provider: `{os.path.relpath(provider, ROOT)}`, runs per tool: {runs}, "
        f"Packer: {subprocess.run(['packer', 'version'], capture_output=True, text=True).stdout.strip()}, "
        f"{subprocess.run(['terraform', 'version'], capture_output=True, text=True).stdout.splitlines()[0]}")
    say("")
    say("| profile (run/stop/image/terminate s) | Packer bake s | golden apply s | no-op apply s "
        "| golden share s | target | EC2 calls Packer / golden | peak RSS provider MiB |")
    say("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for name, r in out.items():
        pk, gd, noop = med(r["packer"]), med(r["golden"]), med(r["noop"])
        share = med([g - n for g, n in zip(r["golden"], r["noop"])])
        holds = PROFILES[name]
        floor = sum(holds)
        if sum(holds):
            target = f"apply ≤ 1.1 × {floor:g} = {1.1 * floor:.1f}: {gd / floor:.2f}×"
        else:
            target = f"share ≤ 0.5 × Packer: {share / pk:.2f}×"
        say(f"| {name} | {pk:.2f} | {gd:.2f} | {noop:.2f} | {share:.2f} | {target} | "
            f"{med([total(c) for c in r['packer_calls']]):.0f} / {med([total(c) for c in r['golden_calls']]):.0f} "
            f"| {max(r['rss_kib']) / 1024:.1f} |")
    say("")
    for name, r in out.items():
        if not sum(PROFILES[name]):
            continue
        say(f"State change noticed after (median s, profile {name}):")
        say("")
        say("| tool | run | stop | image | terminate |")
        say("| --- | --- | --- | --- | --- |")
        p.extend(lag_table(r))
        say("")
    for name, r in out.items():
        if "ten" in r:
            one = med(r["golden"])
            say(f"10 golden_ami in one apply (profile {name}): {r['ten']:.2f} s = "
                f"{r['ten'] / one:.2f} × one bake ({one:.2f} s); {total(r['ten_calls'])} EC2 calls; "
                f"provider peak RSS {r['ten_rss_kib'] / 1024:.1f} MiB")
            say("")
    last = next(reversed(out.values()))
    actions = sorted(set(last["packer_calls"][-1]) | set(last["golden_calls"][-1]))
    say("EC2 calls of the last bake, by action:")
    say("")
    say("| action | Packer | golden |")
    say("| --- | --- | --- |")
    for a in actions:
        say(f"| {a} | {last['packer_calls'][-1].get(a, 0)} | {last['golden_calls'][-1].get(a, 0)} |")
    say("")
    for name, r in out.items():
        if "cold" in r:
            say(f"cold golden bake ({name}, the directory's first: nothing learned yet): "
                f"{r['cold']:.2f} s, {total(r['cold_calls'])} EC2 calls")
    say("")
    for name, r in out.items():
        say(f"runs ({name}): packer {[round(x, 2) for x in r['packer']]} s, "
            f"golden {[round(x, 2) for x in r['golden']]} s, no-op {[round(x, 2) for x in r['noop']]} s; "
            f"EC2 calls packer {[total(c) for c in r['packer_calls']]}, "
            f"golden {[total(c) for c in r['golden_calls']]}")
    return "\n".join(p)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--provider")
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--warmup", type=int, default=1, help="uncounted bakes of each tool first")
    ap.add_argument("--quick", action="store_true", help="CI: instant profile, one run, small upload")
    ap.add_argument("--no-upload", action="store_true", help="skip bench/upload_throughput.py")
    ap.add_argument("--profile", choices=list(PROFILES), action="append", help="only these")
    ap.add_argument("--keep", action="store_true",
                    help="keep the work directories, with a debug provider log (provider.log)")
    a = ap.parse_args()
    need("packer", "bash scripts/setup.sh (apt-get install -y packer)")
    need("terraform", "bash scripts/setup.sh")
    provider = find_provider(a.provider)
    runs = 1 if a.quick else a.runs
    out = {}
    profiles = a.profile or (["instant"] if a.quick else list(PROFILES))
    for name in profiles:
        print(f"profile {name} ...", file=sys.stderr, flush=True)
        profile_run(name, PROFILES[name], provider, runs, 0 if a.quick else a.warmup, tens=a.quick or sum(PROFILES[name]) > 0,
                    out=out, keep=a.keep)
    print(report(out, provider, runs))
    if not a.no_upload:
        print()
        upload = [sys.executable, f"{ROOT}/bench/upload_throughput.py", "--provider", provider]
        if a.quick:
            upload += ["--size-mib", "8", "--runs", "1", "--warmup", "0"]
        sys.stdout.flush()
        subprocess.run(upload, check=True)


if __name__ == "__main__":
    main()
