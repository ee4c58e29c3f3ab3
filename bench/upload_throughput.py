#!/usr/bin/env python3
"""Upload throughput: the provider's SFTP upload against OpenSSH's `sftp` put, same sshd,
same file, same run, alternating.

    python3 bench/upload_throughput.py [--provider PATH] [--size-mib 200] [--runs 3] [--warmup 1]

Starts the test bed (testbed/moto_ec2.py, testbed/sshd.py) on 127.0.0.1, writes a random
file, then alternates: `sftp -b` put of the file, `terraform apply` of a golden_ami whose
only step uploads it, and `terraform apply` of the same golden_ami without that step (each
apply destroyed after, untimed). Two figures for the provider: the upload's own duration (the
provider logs it), and the file's cost to the whole apply (apply with it minus apply without:
both plans, which read the file's digest, and the upload). Prints medians and the ratios as a
Markdown table. Needs what scripts/setup.sh installs, and a built provider (default:
target/release/terraform-provider-golden, else target/debug/...).
"""
import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

from common import ROOT, console_fingerprints, find_provider, start, terraform_env


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--provider")
    ap.add_argument("--size-mib", type=int, default=200)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=1, help="untimed rounds first")
    a = ap.parse_args()
    provider = find_provider(a.provider)
    work = tempfile.mkdtemp(prefix="golden-bench-")
    procs = []
    try:
        moto, (endpoint,) = start([sys.executable, f"{ROOT}/testbed/moto_ec2.py", "--port", "0",
                                   "--console-file", f"{work}/console.txt",
                                   "--sshd-dir", f"{work}/sshd"], f"{work}/moto.log")
        procs.append(moto)
        sshd, (port, user, hostkey) = start([sys.executable, f"{ROOT}/testbed/sshd.py", "--ec2", endpoint,
                                             "--port", "0", "--dir", f"{work}/sshd"], f"{work}/sshd.log")
        procs.append(sshd)
        console_fingerprints(hostkey, f"{work}/console.txt")

        # A key OpenSSH's sftp logs in with: imported into EC2, which the sshd trusts.
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", f"{work}/id"], check=True)
        import boto3
        ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                           aws_access_key_id="test", aws_secret_access_key="test")
        ec2.import_key_pair(KeyName="bench", PublicKeyMaterial=open(f"{work}/id.pub", "rb").read())

        payload = f"{work}/payload.bin"
        with open(payload, "wb") as f:
            for _ in range(a.size_mib):
                f.write(os.urandom(1 << 20))
        remote = f"{work}/remote"
        os.makedirs(remote)

        tfdir, bare = f"{work}/tf", f"{work}/tf-bare"
        os.makedirs(tfdir)
        os.makedirs(bare)
        main_tf = f'''terraform {{
  required_providers {{
    golden = {{ source = "golden-ami/golden" }}
  }}
}}
provider "golden" {{
  region = "us-east-1"
  endpoints {{
    ec2 = "{endpoint}"
  }}
}}
resource "golden_ami" "bench" {{
  name_prefix   = "bench-"
  instance_type = "t3.micro"
  source_ami    = "ami-0a11ce0000000a001"
  ssh {{
    username = "{user}"
    host     = "127.0.0.1"
    port     = {port}
  }}
  PROVISION
}}
'''
        step = f'''provision {{
    file {{
      source      = "{payload}"
      destination = "{remote}/by-provider.bin"
    }}
  }}'''
        with open(f"{tfdir}/main.tf", "w") as f:
            f.write(main_tf.replace("PROVISION", step))
        with open(f"{bare}/main.tf", "w") as f:
            f.write(main_tf.replace("PROVISION", ""))
        env = dict(terraform_env(work, provider), GOLDEN_LOG_FILE=f"{work}/provider.log")
        for d in (tfdir, bare):
            subprocess.run(["terraform", "init", "-input=false"], cwd=d, env=env, check=True,
                           stdout=subprocess.DEVNULL)

        def openssh():
            t0 = time.monotonic()
            subprocess.run(["sftp", "-q", "-b", "-", "-i", f"{work}/id", "-P", port,
                            "-o", "StrictHostKeyChecking=no", "-o", "UserKnownHostsFile=/dev/null",
                            f"{user}@127.0.0.1"], input=f"put {payload} {remote}/by-openssh.bin\n",
                           text=True, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            return time.monotonic() - t0

        def apply(d):
            """The apply's wall time, then destroy (untimed)."""
            open(f"{work}/provider.log", "w").close()
            t0 = time.monotonic()
            subprocess.run(["terraform", "apply", "-auto-approve", "-input=false"], cwd=d, env=env,
                           check=True, stdout=subprocess.DEVNULL)
            took = time.monotonic() - t0
            upload = None
            for line in open(f"{work}/provider.log"):
                rec = json.loads(line)
                if rec.get("@message") == "uploaded" and "elapsed_ms" in rec:
                    upload = rec["elapsed_ms"] / 1000
            subprocess.run(["terraform", "destroy", "-auto-approve", "-input=false"], cwd=d, env=env,
                           check=True, stdout=subprocess.DEVNULL)
            return took, upload

        sizes = a.size_mib
        ours, theirs, costs = [], [], []
        for i in range(a.warmup + a.runs):
            sftp_s = openssh()
            with_s, upload = apply(tfdir)
            if upload is None:
                sys.exit("the provider logged no upload")
            without_s, _ = apply(bare)
            if i < a.warmup:
                continue
            theirs.append(sftp_s)
            ours.append(upload)
            costs.append(with_s - without_s)
        # The figures only count if the bytes arrived intact.
        import filecmp
        for copy in ("by-provider.bin", "by-openssh.bin"):
            if not filecmp.cmp(payload, f"{remote}/{copy}", shallow=False):
                sys.exit(f"{copy} differs from the source file")
        mo, mt, mc = statistics.median(ours), statistics.median(theirs), statistics.median(costs)
        print(f"| upload {sizes} MiB to the local sshd | median s | MiB/s |")
        print("| --- | --- | --- |")
        print(f"| OpenSSH `sftp` put | {mt:.2f} | {sizes / mt:.0f} |")
        print(f"| golden_ami file step, the upload ({os.path.relpath(provider, ROOT)}) | {mo:.2f} | {sizes / mo:.0f} |")
        print(f"| golden_ami file step, its cost to the apply (with − without) | {mc:.2f} | {sizes / max(mc, 1e-3):.0f} |")
        print(f"| ratio upload (OpenSSH time / golden upload time) | | **{mt / mo:.2f}** |")
        print(f"| ratio apply cost (OpenSSH time / golden apply cost; target ≥ 0.9) | | **{mt / max(mc, 1e-3):.2f}** |")
        print(f"\nruns: openssh {[round(x, 2) for x in theirs]}, golden upload {[round(x, 2) for x in ours]}, "
              f"apply cost {[round(x, 2) for x in costs]}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
