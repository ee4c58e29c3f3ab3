#!/usr/bin/env python3
"""moto 5.2.1 in server mode as a local EC2 API for the golden provider's tests.

    python3 testbed/moto_ec2.py --port 0 [--hold-run S --hold-stop S --hold-image S --hold-terminate S]

Prints exactly one line `READY http://127.0.0.1:PORT` on stdout once the socket listens,
then serves until SIGTERM/SIGINT. Only ever binds 127.0.0.1.

What it changes in stock moto, and why:
  * AMI catalogue: testbed/amis.json (7 images with distinct creation dates) instead of
    moto's ~1170 that all share one date, so DescribeImages is fast and `most_recent` means
    something. moto parses the list *in place* when a region loads it, so a second region or
    /moto-api/reset crashed (HTTP 500); we hand it a fresh deep copy on every load.
  * DescribeImages filter `block-device-mapping.*` (HTTP 500 in stock moto) and a per-image
    root volume type (stock moto reports "standard" for every AMI, so a gp2 filter would lie).
  * Optional holds: instances stay pending/stopping/shutting-down and new images pending for
    N seconds after the transition, so waiters and poll intervals can be exercised.
    Stock moto flips every state instantly.
  * DeleteSecurityGroup answers DependencyViolation while an instance that is not yet
    terminated (shutting-down included) still uses the group, as EC2 does; stock moto deletes it.
  * GetConsoleOutput: --console-file text, posted --console-delay seconds late unless read
    live (`Latest=true`, refused on Xen types such as t2.micro), as EC2 does.
  * With --sshd-dir DIR, RunInstances installs the user data's cloud-config `ssh_keys`
    (ed25519) as the host key of testbed/sshd.py's sshd, as cloud-init does on boot, and
    boots the instance's OS (testbed/instance_os.py): the user data's shell scripts run in a
    sandbox root (DIR/root) where `poweroff`/`shutdown` stop or terminate the instance through
    the API, per its InstanceInitiatedShutdownBehavior; StopInstances/TerminateInstances end
    its processes; CreateImage records the sandbox root's files as the image's content
    (DIR/images/AMI_ID.files, one path a line), so tests see what an image carries.
  * EnableImageDeprecation / DisableImageDeprecation (HTTP 500 in stock moto) and the
    image's `deprecationTime` in DescribeImages, as the EC2 API Reference documents them.
  * Volumes and images as EC2 makes them (testbed/ebs_bed.py): RunInstances launches the AMI's
    block device mapping merged with the request's; CreateImage snapshots every EBS volume of
    the instance (sizes, types, encryption), honours its BlockDeviceMappings and tags the
    snapshots with its `snapshot` TagSpecifications (HTTP 500 in stock moto); CopyImage
    encrypts with the destination's KMS key; deregistration protection; --no-spot-capacity.
  * RunInstances keeps tenancy, placement group, capacity reservation, CPU credits and
    Nitro Enclaves settings and DescribeInstances shows them (testbed/launch_bed.py).
  * ModifyInstanceAttribute EnaSupport / SriovNetSupport on a stopped instance, carried by
    CreateImage, and ModifyImageAttribute ImdsSupport, shown in DescribeImages
    (testbed/network_support_bed.py).
  * With --events FILE: one JSON line per held transition when a client first sees its end
    (`{"kind": "run"|"stop"|"image"|"terminate", "lag_s": ...}`: how long after the hold ended
    the next read of the state came), so benchmarks can measure how fast a client notices.
"""
import argparse
import copy
import email
import datetime
import json
import logging
import os
import signal
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))

# Must be set before moto.ec2 is imported: moto reads the catalogue at import time and
# skips its built-in per-region "latest_amis" lists only while this variable is set.
os.environ.setdefault("MOTO_AMIS_PATH", os.path.join(HERE, "amis.json"))
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

from moto.ec2.models import amis as moto_amis  # noqa: E402
import yaml  # noqa: E402  (installed with moto, through `responses`)
from moto.ec2.exceptions import (  # noqa: E402
    DependencyViolationError,
    EC2ClientError,
    InvalidAMIIdError,
    InvalidParameterValueError,
    UnvailableAMIIdError,
)
from moto.ec2.models import instances as moto_instances  # noqa: E402
from moto.ec2.models import key_pairs as moto_key_pairs  # noqa: E402
from moto.ec2.models import security_groups as moto_groups  # noqa: E402
from moto.core.responses import ActionResult  # noqa: E402
from moto.ec2.responses import amis as moto_ami_responses  # noqa: E402
from moto.ec2.responses import general as moto_general  # noqa: E402
from moto.moto_server.werkzeug_app import (  # noqa: E402
    DomainDispatcherApplication,
    create_backend_app,
)
from werkzeug.serving import make_server  # noqa: E402

sys.path.insert(0, HERE)
import instance_os  # noqa: E402

HOLD = {"run": 0.0, "stop": 0.0, "image": 0.0, "terminate": 0.0}
EVENTS = []  # [open file] with --events
_events_lock = threading.Lock()


def _observed(kind, until):
    """The first read of a state after its hold ended: log how late the client came."""
    if EVENTS:
        lag = time.monotonic() - until
        with _events_lock:
            EVENTS[0].write(json.dumps({"kind": kind, "lag_s": round(lag, 4)}) + "\n")
            EVENTS[0].flush()


# --- AMI catalogue ------------------------------------------------------------------------
class FreshCopies(list):
    """A list that yields deep copies, so moto's in-place parsing never sees its own output."""

    def __iter__(self):
        return iter(copy.deepcopy(self[:]))  # slicing gives a plain list: no recursion


with open(os.environ["MOTO_AMIS_PATH"], encoding="utf-8") as f:
    moto_amis.AMIS = FreshCopies(json.load(f))

_orig_ami_init = moto_amis.Ami.__init__


def _ami_init(self, *args, root_volume_type="gp2", **kwargs):
    # `root_volume_type` is our catalogue's own key; images made by CreateImage/CopyImage
    # default to gp2, which is what EC2 gives for an instance launched with defaults.
    self.root_volume_type = root_volume_type
    _orig_ami_init(self, *args, **kwargs)
    if kwargs.get("instance") is not None or kwargs.get("source_ami") is not None:
        self._hold_until = time.monotonic() + HOLD["image"]


def _ami_bdm(self):
    return [{
        "DeviceName": self.root_device_name,
        "Ebs": {"SnapshotId": self.ebs_snapshot.id, "VolumeSize": 15,
                "DeleteOnTermination": True, "VolumeType": self.root_volume_type,
                "Encrypted": False},
    }]


def _ami_state_get(self):
    until = self.__dict__.get("_hold_until", 0.0)
    if time.monotonic() < until:
        return "pending"
    if until and not self.__dict__.get("_seen"):
        self.__dict__["_seen"] = True
        _observed("image", until)
    return self.__dict__["_real_state"]


def _ami_state_set(self, value):
    self.__dict__["_real_state"] = value


_orig_ami_filter = moto_amis.Ami.get_filter_value
_BDM_FILTERS = {"block-device-mapping.volume-type": "VolumeType",
                "block-device-mapping.snapshot-id": "SnapshotId",
                "block-device-mapping.volume-size": "VolumeSize"}


def _ami_filter(self, filter_name, method_name=None):
    if filter_name == "block-device-mapping.device-name":
        return [m["DeviceName"] for m in self.block_device_mappings]
    if filter_name in _BDM_FILTERS:
        key = _BDM_FILTERS[filter_name]
        return [str(m["Ebs"][key]) for m in self.block_device_mappings
                if key in m.get("Ebs", {})]
    return _orig_ami_filter(self, filter_name, method_name)


moto_amis.Ami.__init__ = _ami_init
moto_amis.Ami.block_device_mappings = property(_ami_bdm)
moto_amis.Ami.state = property(_ami_state_get, _ami_state_set)
moto_amis.Ami.get_filter_value = _ami_filter


# --- image deprecation ----------------------------------------------------------------------
# Stock moto answers both calls with HTTP 500 and shows no deprecation time. What EC2 does,
# per the Amazon EC2 API Reference:
#   * "EnableImageDeprecation": DeprecateAt is a UTC time; "If you specify a value for seconds,
#     Amazon EC2 rounds the seconds to the nearest minute. You can't specify a date in the past.
#     The upper limit for DeprecateAt is 10 years from now" (2 years from creation for public
#     AMIs, not modelled here). The reference names no error code for a refused time; EC2
#     answers InvalidParameterValue, the code the reference's error list gives for a parameter
#     value that is not valid. The answer is `<return>true</return>`.
#   * "DisableImageDeprecation": cancels the deprecation; answers `<return>true</return>`.
#   * The Image data type's `deprecationTime` element: a string, "YYYY-MM-DDTHH:MM:SSZ" with
#     the seconds rounded to the minute; EC2 renders it with milliseconds
#     (`2030-01-01T00:00:00.000Z`), which is what we serve so clients compare times, not text.
# moto's serializer picks `deprecation_time` off the Ami object for `deprecationTime`, so the
# stored string is all DescribeImages needs (absent while None).
moto_amis.Ami.deprecation_time = None
_TEN_YEARS = datetime.timedelta(days=3653)


def _deprecate_at(raw):
    """DeprecateAt as EC2 keeps it: UTC, rounded to the nearest minute; None if unreadable."""
    if isinstance(raw, datetime.datetime):  # moto parses timestamp parameters itself
        t = raw
    else:
        try:
            t = datetime.datetime.fromisoformat(str(raw).strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    if t.tzinfo is None:
        t = t.replace(tzinfo=datetime.timezone.utc)
    t = t.astimezone(datetime.timezone.utc)
    return (t + datetime.timedelta(seconds=30)).replace(second=0, microsecond=0)


def _own_ami(backend, ami_id):
    if ami_id in backend.amis:
        return backend.amis[ami_id]
    if ami_id in backend.deleted_amis:
        raise UnvailableAMIIdError(ami_id)
    raise InvalidAMIIdError(ami_id)


def _enable_image_deprecation(self):
    ami_id = self._get_param("ImageId")
    raw = self._get_param("DeprecateAt")
    self.error_on_dryrun()
    ami = _own_ami(self.ec2_backend, ami_id)
    at = _deprecate_at(raw)
    now = datetime.datetime.now(datetime.timezone.utc)
    if at is None or at < now or at > now + _TEN_YEARS:
        raise InvalidParameterValueError(f"{raw} (DeprecateAt)")
    ami.deprecation_time = at.strftime("%Y-%m-%dT%H:%M:%S.000Z")
    return ActionResult({"Return": True})


def _disable_image_deprecation(self):
    ami_id = self._get_param("ImageId")
    self.error_on_dryrun()
    _own_ami(self.ec2_backend, ami_id).deprecation_time = None
    return ActionResult({"Return": True})


# moto finds an action's handler among the response class's functions at call time.
moto_ami_responses.AmisResponse.enable_image_deprecation = _enable_image_deprecation
moto_ami_responses.AmisResponse.disable_image_deprecation = _disable_image_deprecation


# --- Instance state holds -----------------------------------------------------------------
class HeldState(moto_instances.InstanceState):
    """moto's InstanceState, but a new target state shows as its transitional state for a while.

    moto builds one of these per instance and then assigns `.name`/`.code` on every
    start/stop/terminate; everything that reads the state (responses, filters) goes
    through these properties, so the hold is seen consistently.
    """

    TRANSIT = {"running": ("pending", 0, "run"),
               "stopped": ("stopping", 64, "stop"),
               "terminated": ("shutting-down", 32, "terminate")}
    _name, _code, _until, _transit, _seen = "pending", 0, 0.0, None, True

    def _held(self):
        if self._transit is None:
            return False
        if time.monotonic() < self._until:
            return True
        if not self._seen:
            self._seen = True
            _observed(self._transit[2], self._until)
        return False

    @property
    def name(self):
        return self._transit[0] if self._held() else self._name

    @name.setter
    def name(self, value):
        if value != self._name:  # a reboot (running -> running) is no transition
            t = self.TRANSIT.get(value)
            self._transit = t if t and HOLD[t[2]] > 0 else None
            self._until = time.monotonic() + (HOLD[t[2]] if self._transit else 0)
            self._seen = self._transit is None
        self._name = value

    @property
    def code(self):
        return self._transit[1] if self._held() else self._code

    @code.setter
    def code(self, value):
        self._code = value


# Instance.__init__ looks the class up in its module at call time.
moto_instances.InstanceState = HeldState


# --- security groups in use -------------------------------------------------------------
_orig_delete_group = moto_groups.SecurityGroupBackend.delete_security_group


def _delete_group(self, name=None, group_id=None):
    for inst in self.all_instances():
        if inst.state != "terminated" and any(
                g.id == group_id or (name and g.name == name) for g in inst.security_groups):
            raise DependencyViolationError(
                f"resource {group_id or name} has a dependent object")
    return _orig_delete_group(self, name=name, group_id=group_id)


moto_groups.SecurityGroupBackend.delete_security_group = _delete_group


# --- console output ---------------------------------------------------------------------
# On EC2, cloud-init prints the instance's SSH host key fingerprints to the console, and
# GetConsoleOutput returns them. moto answers a fixed text; with --console-file, whatever
# that file holds at call time (the test bed's sshd fingerprints, in cloud-init's format)
# is appended, so host key verification runs through the EC2 API as it does on AWS.
#
# AWS docs, "Instance console output" (EC2 User Guide, troubleshooting): the buffered output
# is posted shortly after instance state transitions (start, stop, reboot, terminate), and
# only instances built on the Nitro system can return the latest output (`Latest=true`);
# other (Xen) types do not support it. So with --console-delay S, the appended text shows in
# the buffered output only S seconds after launch; `Latest=true` shows it at once on a Nitro
# type and is refused with UnsupportedOperation on a Xen type.
CONSOLE_FILE = []
CONSOLE_DELAY = [0.0]
# Instance families on the Xen hypervisor (no live console output); everything else counts
# as Nitro here. AWS docs, "Instances built on the AWS Nitro System" lists the Nitro ones.
XEN_FAMILIES = {"t1", "t2", "m1", "m2", "m3", "m4", "c1", "c3", "c4", "r3", "r4", "i2", "i3",
                "x1", "x1e", "d2", "g2", "g3", "p2", "p3", "h1", "f1"}
_LAUNCHED = {}  # instance id -> time.monotonic() at RunInstances


def _is_xen(instance_type):
    return (instance_type or "").split(".")[0] in XEN_FAMILIES


def _console_output(self):
    instance = self.ec2_backend.get_instance(self._get_param("InstanceId"))
    latest = str(self._get_param("Latest", "false")).lower() == "true"
    if latest and _is_xen(instance.instance_type):
        raise EC2ClientError("UnsupportedOperation",
                             f"The instance type {instance.instance_type} does not support "
                             "retrieving the latest console output.")
    extra = ""
    launched = _LAUNCHED.get(instance.id, 0.0)
    posted = latest or time.monotonic() - launched >= CONSOLE_DELAY[0]
    if CONSOLE_FILE and posted:
        try:
            with open(CONSOLE_FILE[0]) as f:
                extra = f.read()
        except OSError:
            pass
    return moto_general.ActionResult({
        "InstanceId": instance.id,
        "Timestamp": moto_general.utcnow(),
        "Output": moto_general.Base64EncodedString.from_raw_string(_SAMPLE + extra),
    })


_SAMPLE = moto_general.SAMPLE_CONSOLE_OUTPUT
moto_general.General.get_console_output = _console_output


# --- boot: cloud-init's ssh_keys ---------------------------------------------------------
# With --sshd-dir DIR (testbed/sshd.py's directory), each RunInstances "boots" the one build
# instance this bed has: as cloud-init's cc_ssh module does, a cloud-config `ssh_keys` with an
# ed25519 pair in the user data (plain or in a multipart MIME part) becomes the host key
# sshd presents (DIR/host_keys/ssh_host_ed25519_key); without one, the bed's own key
# (DIR/ssh_host_ed25519_key) is put back, as a fresh instance has its own keys. If the key
# changed, sshd is sent SIGHUP (it re-execs and reloads its keys) and RunInstances answers
# only once sshd listens again, so no client that waits for it sees the old key.
SSHD_DIR = []


def _cloud_configs(text):
    if text.lstrip().startswith("#cloud-config"):
        return [text]
    if not text.lstrip().lower().startswith(("content-type: multipart", "mime-version")):
        return []
    msg = email.message_from_string(text)
    return [part.get_payload(decode=True).decode("utf-8", "replace")
            for part in msg.walk() if part.get_content_type() == "text/cloud-config"]


def _ssh_keys(user_data):
    """The ed25519 host key pair of the user data's cloud-config, or None."""
    pair = None
    for doc in _cloud_configs(user_data):
        try:
            cfg = yaml.safe_load(doc) or {}
        except yaml.YAMLError:
            continue
        keys = cfg.get("ssh_keys") if isinstance(cfg, dict) else None
        if isinstance(keys, dict) and keys.get("ed25519_private") and keys.get("ed25519_public"):
            pair = (keys["ed25519_private"], keys["ed25519_public"])  # later parts win
    return pair


def _boot(instance):
    if not SSHD_DIR:
        return
    d = SSHD_DIR[0]
    try:
        text = instance.user_data.decode() if instance.user_data else ""
    except (UnicodeDecodeError, ValueError):
        text = ""
    pair = _ssh_keys(text)
    if pair is None:
        try:
            with open(os.path.join(d, "ssh_host_ed25519_key")) as f:
                private = f.read()
            with open(os.path.join(d, "ssh_host_ed25519_key.pub")) as f:
                public = f.read()
        except OSError:
            return  # sshd.py has not made its key yet: nothing to put back
        pair = (private, public)
    keys = os.path.join(d, "host_keys")
    os.makedirs(keys, mode=0o700, exist_ok=True)
    key = os.path.join(keys, "ssh_host_ed25519_key")
    try:
        with open(key) as f:
            if f.read() == pair[0]:
                return
    except OSError:
        pass
    for path, body in ((key, pair[0]), (key + ".pub", pair[1].strip() + "\n")):
        tmp = f"{path}.{os.getpid()}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(body)
        os.replace(tmp, path)
    _reload_sshd(d)


_prepare_lock = threading.Lock()
_prepared = []


def _boot_os(instance):
    """cloud-init's scripts, after sshd is up (cloud-final runs last)."""
    if not SSHD_DIR:
        return
    try:
        text = instance.user_data.decode() if instance.user_data else ""
    except (UnicodeDecodeError, ValueError):
        text = ""
    try:
        with _prepare_lock:
            if not _prepared:
                instance_os.prepare(SSHD_DIR[0],
                                    f"http://127.0.0.1:{os.environ.get('MOTO_PORT', '')}")
                _prepared.append(True)
        instance_os.boot(SSHD_DIR[0], instance.id, text)
    except OSError as e:  # the bed's own trouble must not fail RunInstances
        print(f"test bed: booting {instance.id}: {e}", file=sys.stderr)


def _halt_os(instance_ids):
    if SSHD_DIR:
        for i in instance_ids:
            instance_os.halt(SSHD_DIR[0], i)


def _image_content(ami_id):
    """What the image carries: the sandbox root's files at CreateImage, one path a line."""
    if not SSHD_DIR:
        return
    r = instance_os.root(SSHD_DIR[0])
    files = []
    for top, dirs, names in os.walk(r):
        files += [os.path.relpath(os.path.join(top, n), r) for n in names]
    out = os.path.join(SSHD_DIR[0], "images")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, f"{ami_id}.files"), "w") as f:
        f.write("".join(f"/{p}\n" for p in sorted(files)))


def _reload_sshd(d):
    """SIGHUP to the sshd of DIR, if its pid file names a live sshd started on DIR's config."""
    try:
        with open(os.path.join(d, "sshd.pid")) as f:
            pid = int(f.read().strip())
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
    except (OSError, ValueError):
        return  # no sshd running (stopped by the test): it reads the key when it starts
    if os.path.join(d, "sshd_config").encode() not in cmdline:
        return
    # sshd re-execs on SIGHUP and writes its PidFile again once it listens: without the file,
    # wait for it, so RunInstances answers only when the new key is what sshd presents (a
    # client dialling meanwhile would meet the restart, or the old key).
    pidfile = os.path.join(d, "sshd.pid")
    try:
        os.remove(pidfile)
    except OSError:
        pass
    os.kill(pid, signal.SIGHUP)
    deadline = time.monotonic() + 5
    while not os.path.exists(pidfile) and time.monotonic() < deadline:
        time.sleep(0.01)


# --- login keys: what the "instance" accepts ---------------------------------------------
# On EC2 cloud-init installs the launch key pair's public key; the bed's one sshd stands in for
# every instance, so it accepts every key pair that exists (in any region), and none once
# deleted. With --sshd-dir DIR the key pairs' public keys are kept in DIR/authorized_keys,
# rewritten (atomically) on each CreateKeyPair, ImportKeyPair and DeleteKeyPair, and sshd reads
# that file itself: a login costs no process and no request (fifty logins at once used to run
# a Python AuthorizedKeysCommand asking moto twice each).
_KEYS = {}
_KEYS_LOCK = threading.Lock()


def _public_text(material):
    if isinstance(material, bytes):
        material = material.decode("utf-8", "replace")
    return (material or "").strip()


def _write_keys():
    if not SSHD_DIR:
        return
    path = os.path.join(SSHD_DIR[0], "authorized_keys")
    os.makedirs(SSHD_DIR[0], exist_ok=True)
    tmp = f"{path}.{threading.get_ident()}"
    with open(tmp, "w") as f:
        f.write("".join(k + "\n" for k in _KEYS.values() if k))
    os.replace(tmp, path)


def _keys_changed(method, record):
    # The call itself under the lock too: a create and a delete of one name never record in
    # the opposite order of moto's.
    def patched(self, *args, **kwargs):
        with _KEYS_LOCK:
            out = method(self, *args, **kwargs)
            record(self, out, *args, **kwargs)
            _write_keys()
        return out
    return patched


def _added(self, keypair, *args, **kwargs):
    _KEYS[(id(self), keypair.key_name)] = _public_text(keypair.material_public)


def _deleted(self, _out, name, *args, **kwargs):
    _KEYS.pop((id(self), name), None)


moto_key_pairs.KeyPairBackend.create_key_pair = _keys_changed(
    moto_key_pairs.KeyPairBackend.create_key_pair, _added)
moto_key_pairs.KeyPairBackend.import_key_pair = _keys_changed(
    moto_key_pairs.KeyPairBackend.import_key_pair, _added)
moto_key_pairs.KeyPairBackend.delete_key_pair = _keys_changed(
    moto_key_pairs.KeyPairBackend.delete_key_pair, _deleted)


_orig_run_instances = moto_instances.InstanceBackend.run_instances


def _run_instances(self, *args, **kwargs):
    reservation = _orig_run_instances(self, *args, **kwargs)
    for instance in reservation.instances:
        _LAUNCHED[instance.id] = time.monotonic()
        _boot(instance)
        _boot_os(instance)
    return reservation


_orig_stop_instances = moto_instances.InstanceBackend.stop_instances
_orig_terminate_instances = moto_instances.InstanceBackend.terminate_instances


def _stop_instances(self, instance_ids):
    out = _orig_stop_instances(self, instance_ids)
    _halt_os(instance_ids)
    return out


def _terminate_instances(self, instance_ids):
    out = _orig_terminate_instances(self, instance_ids)
    _halt_os(instance_ids)
    return out


_orig_create_image = moto_amis.AmiBackend.create_image


def _create_image(self, *args, **kwargs):
    ami = _orig_create_image(self, *args, **kwargs)
    _image_content(ami.id)
    return ami


moto_instances.InstanceBackend.run_instances = _run_instances
moto_instances.InstanceBackend.stop_instances = _stop_instances
moto_instances.InstanceBackend.terminate_instances = _terminate_instances
moto_amis.AmiBackend.create_image = _create_image


# Volumes, image copies, deregistration protection and spot capacity: testbed/ebs_bed.py.
# Imported after the patches above, whose image mapping and RunInstances it builds on.
sys.path.insert(0, HERE)
import ebs_bed  # noqa: E402
import launch_bed  # noqa: E402,F401  (tenancy, placement group, capacity, credits, enclaves)
import spot_bed  # noqa: E402,F401  (spot requests of spot launches)
import network_support_bed  # noqa: E402,F401  (ENA, SR-IOV, IMDS support on images)


# --- server -------------------------------------------------------------------------------
def main():
    env = lambda k: float(os.environ.get(k, "0"))  # noqa: E731
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--hold-run", type=float, default=env("TESTBED_HOLD_RUN"))
    p.add_argument("--hold-stop", type=float, default=env("TESTBED_HOLD_STOP"))
    p.add_argument("--hold-image", type=float, default=env("TESTBED_HOLD_IMAGE"))
    p.add_argument("--hold-terminate", type=float, default=env("TESTBED_HOLD_TERMINATE"))
    p.add_argument("--verbose", action="store_true", help="log every request to stderr")
    p.add_argument("--console-file", help="text appended to every GetConsoleOutput answer")
    p.add_argument("--console-delay", type=float, default=env("TESTBED_CONSOLE_DELAY"),
                   help="seconds after launch before the buffered output shows that text")
    p.add_argument("--sshd-dir", help="testbed/sshd.py's directory: launches install the "
                   "user data's cloud-config ssh_keys as its host key")
    p.add_argument("--events", help="append a JSON line per held transition's first sighting")
    p.add_argument("--no-spot-capacity", default=os.environ.get("TESTBED_NO_SPOT_CAPACITY", ""),
                   help="instance types (comma-separated, or *) with no spot capacity: spot "
                   "launches of them fail with InsufficientInstanceCapacity")
    p.add_argument("--deregistration-cooldown", type=float, default=None,
                   help="seconds a with-cooldown deregistration protection lasts after it is "
                   "disabled (EC2: 24 hours)")
    p.add_argument("--refuse-copy", default=os.environ.get("TESTBED_REFUSE_COPY", ""),
                   help="regions (comma-separated) into which CopyImage is refused")
    p.add_argument("--copy-pending", default=os.environ.get("TESTBED_COPY_PENDING", ""),
                   help="REGION=SECONDS,...: a copy into REGION stays pending that long")
    a = p.parse_args()
    ebs_bed.install(a.no_spot_capacity, a.deregistration_cooldown, a.refuse_copy, a.copy_pending)
    if a.events:
        EVENTS.append(open(a.events, "a", encoding="utf-8"))
    if a.console_file:
        CONSOLE_FILE.append(a.console_file)
    CONSOLE_DELAY[0] = a.console_delay
    if a.sshd_dir:
        SSHD_DIR.append(os.path.abspath(a.sshd_dir))
        _write_keys()  # none yet: sshd finds an empty file, not a missing one
    HOLD.update(run=a.hold_run, stop=a.hold_stop, image=a.hold_image, terminate=a.hold_terminate)

    if not a.verbose:
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    app = DomainDispatcherApplication(create_backend_app)
    app.debug = True  # as moto_server does: tracebacks of 500s go to stderr
    server = make_server("127.0.0.1", a.port, app, threaded=True)
    port = server.server_port
    os.environ["MOTO_PORT"] = str(port)  # moto builds some self-referencing URLs from it

    def stop(signum, frame):
        raise SystemExit(0)  # unwinds serve_forever in the main thread

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    # The socket is already listening (backlog), so requests sent now are served.
    print(f"READY http://127.0.0.1:{port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()
        if SSHD_DIR:  # the instances' processes go with the bed
            instance_os.halt_all(SSHD_DIR[0])


if __name__ == "__main__":
    sys.exit(main())
