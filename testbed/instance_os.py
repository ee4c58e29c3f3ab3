#!/usr/bin/env python3
"""The build instance's operating system on the test bed: its boot, its power-off, its disk.

    python3 testbed/instance_os.py halt   --dir SSHD_DIR          # the instance goes down
    python3 testbed/instance_os.py reboot --dir SSHD_DIR          # ... and comes back up
    python3 testbed/instance_os.py poweroff --dir SSHD_DIR        # (what the sandbox's
                                                                  #  poweroff/shutdown run)

The bed has one "instance": testbed/sshd.py's sshd, as the user running it. Its root file
system is a sandbox directory, SSHD_DIR/root, and its commands include SSHD_DIR/bin, where
`poweroff`, `halt` and `shutdown -P|-h now` act through the EC2 API. Both reach the instance's
processes through the environment (GOLDEN_TIMER_ROOT, the root the golden_ami timer writes
under, and PATH): set for SSH sessions by sshd.py (`SetEnv`) and for boot scripts here.

Boot, as cloud-init does it (its cloud_final_modules, in this order): the scripts in
ROOT/var/lib/cloud/scripts/per-boot at every boot (scripts_per_boot), then on the first boot
the user data's shell scripts (scripts_user: a `#!` user data, or the text/x-shellscript parts
of a multipart one). testbed/moto_ec2.py (with --sshd-dir) boots each instance RunInstances
launches, and halts them all when it exits; a test's reboot (tests/support `Bed::stop_sshd`/`restart_sshd`) halts and reboots
the last one launched. An instance's processes form one process group, killed when it halts,
stops or terminates.

Power-off, as EC2 does it (EC2 User Guide, "Change the instance initiated shutdown behavior"):
an OS-initiated shutdown stops the instance, or terminates it when its
InstanceInitiatedShutdownBehavior is `terminate` (read back with DescribeInstanceAttribute).
"""
import argparse
import email
import os
import signal
import subprocess
import sys
import threading

HERE = os.path.dirname(os.path.abspath(__file__))
PER_BOOT = os.path.join("var", "lib", "cloud", "scripts", "per-boot")


def root(d):
    return os.path.join(d, "root")


def bin_dir(d):
    return os.path.join(d, "bin")


def env_path(d):
    return bin_dir(d) + ":" + os.environ.get("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")


def prepare(d, ec2):
    """The sandbox root and its power commands (idempotent)."""
    os.makedirs(root(d), exist_ok=True)
    os.makedirs(bin_dir(d), exist_ok=True)
    os.makedirs(os.path.join(d, "boot"), exist_ok=True)
    with open(os.path.join(d, "boot", "ec2"), "w") as f:
        f.write(ec2)
    me = os.path.abspath(__file__)
    body = f'#!/bin/sh\nexec "{sys.executable}" "{me}" poweroff --dir "{d}" --as "$(basename "$0")" "$@"\n'
    for name in ("poweroff", "halt", "shutdown"):
        path = os.path.join(bin_dir(d), name)
        tmp = f"{path}.{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "w") as f:
            f.write(body)
        os.chmod(tmp, 0o755)
        os.replace(tmp, path)


def shell_scripts(user_data):
    """The user data's shell scripts, in order, as cloud-init's scripts_user runs them."""
    text = user_data.lstrip()
    if text.startswith("#!"):
        return [user_data]
    if not text.lower().startswith(("content-type: multipart", "mime-version")):
        return []
    msg = email.message_from_string(user_data)
    out = []
    for part in msg.walk():
        if part.get_content_type() == "text/x-shellscript":
            out.append(part.get_payload(decode=True).decode("utf-8", "replace"))
    return out


def _pgid_file(d, instance):
    return os.path.join(d, "boot", f"{instance}.pgid")


def boot(d, instance, user_data=None):
    """Boots `instance`: per-boot scripts, then (first boot: user_data given) the user scripts.

    Waits for the scripts themselves (at most 20 s); what they start in the background lives
    on in the instance's process group.
    """
    r = root(d)
    scripts = []
    pb = os.path.join(r, PER_BOOT)
    if os.path.isdir(pb):
        scripts += [os.path.join(pb, n) for n in sorted(os.listdir(pb))]
    udir = os.path.join(d, "boot", instance)
    if user_data is not None:
        os.makedirs(udir, exist_ok=True)
        for i, body in enumerate(shell_scripts(user_data)):
            p = os.path.join(udir, f"part-{i:03d}")
            with open(p, "w") as f:
                f.write(body)
            os.chmod(p, 0o700)
            scripts.append(p)
    with open(os.path.join(d, "boot", "last"), "w") as f:
        f.write(instance)
    env = dict(os.environ, GOLDEN_TIMER_ROOT=r, PATH=env_path(d), GOLDEN_BED_INSTANCE=instance)
    # One leader per boot: its process group is the instance's.
    runner = "for s in \"$@\"; do sh \"$s\"; done"
    with open(os.path.join(d, "boot", f"{instance}.log"), "ab") as log:
        proc = subprocess.Popen(["sh", "-c", runner, "boot", *scripts], cwd=r, env=env,
                                stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                                start_new_session=True)
    with open(_pgid_file(d, instance), "w") as f:
        f.write(str(proc.pid))
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        pass


def halt(d, instance):
    """Ends every process of `instance` (its boot's process group)."""
    try:
        with open(_pgid_file(d, instance)) as f:
            pgid = int(f.read().strip())
    except (OSError, ValueError):
        return
    try:
        os.remove(_pgid_file(d, instance))
    except OSError:
        pass
    if pgid == os.getpgid(0):
        return  # never our own group (a poweroff runs in it: EC2 ends it)
    try:
        os.killpg(pgid, signal.SIGKILL)
    except OSError:
        pass


def halt_all(d):
    """Ends every instance's processes: the bed goes away."""
    try:
        names = os.listdir(os.path.join(d, "boot"))
    except OSError:
        return
    for n in names:
        if n.endswith(".pgid"):
            halt(d, n[:-len(".pgid")])


def last(d):
    try:
        with open(os.path.join(d, "boot", "last")) as f:
            return f.read().strip()
    except OSError:
        return None


def poweroff(d, instance, as_name, args):
    """An OS-initiated shutdown of `instance`, through the EC2 API."""
    if as_name == "shutdown" and not ({"-P", "-h", "--poweroff", "--halt"} & set(args)
                                      and {"now", "+0"} & set(args)):
        print(f"test bed: only `shutdown -P now` is emulated, not {args}", file=sys.stderr)
        return 1
    import boto3  # installed with moto

    with open(os.path.join(d, "boot", "ec2")) as f:
        endpoint = f.read().strip()
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    attr = ec2.describe_instance_attribute(InstanceId=instance,
                                           Attribute="instanceInitiatedShutdownBehavior")
    behaviour = attr.get("InstanceInitiatedShutdownBehavior", {}).get("Value", "stop")
    print(f"test bed: {instance} powers off (shutdown behaviour {behaviour})", file=sys.stderr)
    if behaviour == "terminate":
        ec2.terminate_instances(InstanceIds=[instance])
    else:
        ec2.stop_instances(InstanceIds=[instance])
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("action", choices=["halt", "reboot", "poweroff"])
    p.add_argument("--dir", required=True, help="testbed/sshd.py's directory")
    p.add_argument("--as", dest="as_name", default="poweroff")
    p.add_argument("args", nargs="*")
    # shutdown's own flags (-P, -h) are passed on, not ours.
    a, extra = p.parse_known_args()
    a.args += extra
    d = os.path.abspath(a.dir)
    if a.action == "poweroff":
        instance = os.environ.get("GOLDEN_BED_INSTANCE") or last(d)
        if not instance:
            print("test bed: no instance to power off", file=sys.stderr)
            return 1
        return poweroff(d, instance, a.as_name, a.args)
    instance = last(d)
    if instance is None:
        return 0
    halt(d, instance)
    if a.action == "reboot":
        boot(d, instance)
    return 0


if __name__ == "__main__":
    sys.exit(main())
