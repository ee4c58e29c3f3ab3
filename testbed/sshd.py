#!/usr/bin/env python3
"""A per-test OpenSSH sshd standing in for the build instance.

    python3 testbed/sshd.py [--dir DIR] [--port 0]

Writes a host key and sshd_config into DIR (a fresh temp dir by default), starts
`/usr/sbin/sshd -D -e` on 127.0.0.1, prints `READY PORT USER HOSTKEY_PUB_PATH` on stdout once
the port accepts TCP, relays sshd's log to stderr, and stops sshd on SIGTERM/SIGINT.

It logs in the user running it (sshd can only switch to other users as root), and accepts
exactly the key pairs moto holds (DIR/authorized_keys, which testbed/moto_ec2.py started with
`--sshd-dir DIR` keeps), as cloud-init would install the launch key pair on EC2.

Host keys: DIR/ssh_host_ed25519_key is the bed's own key (the one READY names); sshd presents
DIR/host_keys/ssh_host_ed25519_key, which starts as a copy of it. testbed/moto_ec2.py, started
with `--sshd-dir DIR`, plays cloud-init on each RunInstances: it writes the user data's
cloud-config `ssh_keys` ed25519 pair there (or the bed's own key back, without one) and sends
this sshd SIGHUP, so the "instance" presents the host key its user data gave it, as on EC2.
A restart (a reboot, `Bed::restart_sshd`) keeps the key the last launch installed.
Sessions see the instance's sandbox root and power commands (testbed/instance_os.py).
"""
import argparse
import getpass
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import instance_os  # noqa: E402
SSHD = "/usr/sbin/sshd"


def free_port():
    # Racy by nature (sshd binds later), but sshd fails loudly if someone took it meanwhile.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def listening(pidfile, pid, port):
    try:
        with open(pidfile) as f:
            if f.read().strip() != str(pid):
                return False
        with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
            return s.recv(8).startswith(b"SSH-2.0-")
    except OSError:
        return False


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ec2", help="moto endpoint (unused: moto_ec2.py --sshd-dir keeps the keys)")
    p.add_argument("--dir", help="state directory (created); default: a fresh temp dir")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    a = p.parse_args()

    d = os.path.abspath(a.dir or tempfile.mkdtemp(prefix="golden-sshd-"))
    os.makedirs(d, exist_ok=True)
    port = a.port or free_port()
    user = getpass.getuser()
    hostkey = os.path.join(d, "ssh_host_ed25519_key")
    if not os.path.exists(hostkey):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "golden-testbed",
                        "-f", hostkey], check=True)
    presented = os.path.join(d, "host_keys", "ssh_host_ed25519_key")
    os.makedirs(os.path.dirname(presented), mode=0o700, exist_ok=True)
    for suffix in ("", ".pub"):
        if not os.path.exists(presented + suffix):
            with open(hostkey + suffix, "rb") as src:
                body = src.read()
            fd = os.open(presented + suffix, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as f:
                f.write(body)
    root = os.geteuid() == 0
    config = os.path.join(d, "sshd_config")
    with open(config, "w") as f:
        f.write(f"""\
ListenAddress 127.0.0.1
Port {port}
HostKey {presented}
PidFile {os.path.join(d, "sshd.pid")}
# The key pairs moto holds, kept there by testbed/moto_ec2.py --sshd-dir (its "login keys").
AuthorizedKeysFile {os.path.join(d, "authorized_keys")}
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin {"prohibit-password" if root else "no"}
Subsystem sftp internal-sftp
# Parallel tests and provisioners open many connections/sessions at once.
MaxStartups 100
MaxSessions 100
LogLevel VERBOSE
# The instance's OS (testbed/instance_os.py): its sandbox root and power commands.
# SHLVL=1: bash sources ~/.bashrc for a command sshd runs only as a top-level shell
# (SHLVL < 2 once it counts itself). A build instance's is stock; the bed user's is this
# machine's (here root's, with `pyenv init`: tens of processes and ~0.3 CPU-s per session,
# which made fifty bakes at once measure the bed instead of the provider).
SetEnv GOLDEN_TIMER_ROOT={instance_os.root(d)} PATH={instance_os.bin_dir(d)}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin SHLVL=1
""")
    os.makedirs(instance_os.root(d), exist_ok=True)
    if root:
        # Privilege-separation directory; it is missing until the sshd service has run once.
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)

    # -D: stay in the foreground (our child); -e: log to stderr, which we relay.
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stdin=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)

    def relay():
        for line in proc.stderr:
            sys.stderr.buffer.write(line)
            sys.stderr.buffer.flush()

    relayer = threading.Thread(target=relay, daemon=True)
    relayer.start()

    stopping = []

    def stop(signum, frame):
        stopping.append(signum)
        proc.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    # Ready = sshd wrote its PidFile (it does so only after binding) and sends its banner.
    # A bare TCP accept is not enough: if someone else holds the port, connect() succeeds
    # while our sshd is failing to bind.
    pidfile = os.path.join(d, "sshd.pid")
    deadline = time.monotonic() + 10
    while not listening(pidfile, proc.pid, port):
        if proc.poll() is not None:
            relayer.join(1)  # let sshd's own complaint reach stderr first
            if stopping:
                return 0
            print(f"sshd exited with {proc.returncode} before listening", file=sys.stderr)
            return 1
        if time.monotonic() > deadline:
            proc.terminate()
            print("sshd did not listen within 10 s", file=sys.stderr)
            return 1
        time.sleep(0.05)
    print(f"READY {port} {user} {hostkey}.pub", flush=True)
    code = proc.wait()
    relayer.join(1)
    return 0 if stopping else (code or 1)  # sshd dying on its own is an error


if __name__ == "__main__":
    sys.exit(main())
