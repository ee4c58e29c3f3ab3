"""What the benchmarks share: starting the test bed's processes, finding the built provider,
and a Terraform that installs it from a local mirror, as a user's would from a registry."""
import os
import shutil
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def start(cmd, log):
    """Starts a test bed process; returns it and the words after READY on its first line."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=open(log, "w"), text=True)
    line = p.stdout.readline()
    if not line.startswith("READY"):
        sys.exit(f"{cmd[1]} did not start; see {log}")
    return p, line.split()[1:]


def find_provider(given):
    """The provider to measure: `given`, else the newest kind of build there is."""
    provider = given or next(
        (p for p in (f"{ROOT}/target/release/terraform-provider-golden",
                     f"{ROOT}/target/release-bench/release/terraform-provider-golden",
                     f"{ROOT}/target/debug/terraform-provider-golden") if os.path.exists(p)), None)
    if not provider:
        sys.exit("build the provider first: cargo build --release")
    return os.path.abspath(provider)


def console_fingerprints(hostkey, path):
    """Writes the sshd's host key fingerprints as cloud-init prints them on the console."""
    fp = subprocess.run(["ssh-keygen", "-lf", hostkey], capture_output=True, text=True,
                        check=True).stdout
    with open(path, "w") as f:
        f.write(f"-----BEGIN SSH HOST KEY FINGERPRINTS-----\n{fp}"
                "-----END SSH HOST KEY FINGERPRINTS-----\n")


def terraform_env(work, provider):
    """Puts `provider` in a filesystem mirror under `work`; returns the environment whose
    Terraform installs it from there and talks to the test bed with dummy credentials."""
    mirror = f"{work}/mirror/registry.terraform.io/golden-ami/golden/0.1.0/linux_amd64"
    os.makedirs(mirror)
    shutil.copy(provider, f"{mirror}/terraform-provider-golden_v0.1.0")
    with open(f"{work}/terraformrc", "w") as f:
        f.write(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{work}/mirror"\n'
                f'    include = ["registry.terraform.io/golden-ami/golden"]\n  }}\n}}\n')
    env = dict(os.environ, TF_CLI_CONFIG_FILE=f"{work}/terraformrc", CHECKPOINT_DISABLE="1",
               AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_EC2_METADATA_DISABLED="true")
    env.pop("TF_LOG", None)
    return env
