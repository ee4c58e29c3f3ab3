"""What the test bed's EC2 does with volumes, image copies, deregistration protection and
spot capacity: loaded by testbed/moto_ec2.py, which calls `install(...)`.

Stock moto 5.2.1 (see ../shared/LOCAL-EC2.md) launches an 8 GiB root whatever the AMI maps,
makes every image one unencrypted 15 GiB snapshot, ignores CopyImage's `Encrypted`/`KmsKeyId`,
answers the deregistration-protection calls with HTTP 500 and always has spot capacity. Each
section below names the part of the Amazon EC2 API Reference (or User Guide) it follows.
"""
import datetime

from moto.core.responses import ActionResult
from moto.ec2.exceptions import EC2ClientError, InvalidParameterDependency
from moto.ec2.models import amis as moto_amis
from moto.ec2.models import instances as moto_instances
from moto.ec2.models.elastic_block_store import Snapshot
from moto.ec2.responses import amis as moto_ami_responses
from moto.ec2.responses import instances as moto_instance_responses
from moto.ec2.utils import random_snapshot_id
from moto.kms.models import kms_backends

# Knobs set by install(); see moto_ec2.py's --no-spot-capacity and --deregistration-cooldown.
SETTINGS = {"no_spot_capacity": set(), "cooldown_s": 24 * 3600.0, "refuse_copy": set(),
            "copy_pending_s": {}}


def _error(code, message):
    return EC2ClientError(code, message)


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def _stamp(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.000Z")


# --- the image's own block device mapping ---------------------------------------------------
# API Reference, "Image" data type: `blockDeviceMapping` lists every device of the image: EBS
# devices with their snapshot (or none: an empty volume made at each launch), size, type,
# encryption, IOPS and throughput; instance-store devices by `virtualName`. Images without a
# mapping of their own (the catalogue) keep moto_ec2.py's single-root answer.
_catalogue_mapping = moto_amis.Ami.block_device_mappings.fget


def _mapping(self):
    own = self.__dict__.get("_mapping")
    return own if own is not None else _catalogue_mapping(self)


moto_amis.Ami.block_device_mappings = property(_mapping)
moto_amis.Ami.state_reason = None


def _forget_auto_snapshot(ami):
    """moto's Ami() always makes a 15 GiB snapshot; an image with a real mapping drops it."""
    ami.ec2_backend.snapshots.pop(ami.ebs_snapshot.id, None)


def _snapshot_of(backend, snapshot_id):
    snap = backend.snapshots.get(snapshot_id)
    if snap is None:
        raise _error("InvalidSnapshot.NotFound", f"The snapshot '{snapshot_id}' does not exist.")
    return snap


def _ebs_entry(device, snap_id, size, vtype, delete, encrypted, iops=None, throughput=None):
    ebs = {"DeleteOnTermination": bool(delete), "VolumeSize": int(size),
           "VolumeType": vtype or "gp2", "Encrypted": bool(encrypted)}
    if snap_id:
        ebs["SnapshotId"] = snap_id
    if iops:
        ebs["Iops"] = int(iops)
    if throughput:
        ebs["Throughput"] = int(throughput)
    return {"DeviceName": device, "Ebs": ebs}


def _name_taken(backend, name):
    """API Reference, "Error codes": InvalidAMIName.Duplicate, "The specified AMI name is
    already in use by another AMI" (an image of this account in this Region; CreateImage,
    CopyImage and RegisterImage). Stock moto accepts duplicates."""
    if name and any(a.name == name and a.owner_id == backend.account_id
                    for a in backend.amis.values()):
        raise _error("InvalidAMIName.Duplicate", f"AMI name {name} is already in use by AMI "
                     + next(a.id for a in backend.amis.values() if a.name == name))


def _flag(value):
    return value is True or str(value).lower() == "true"


# --- RunInstances: the AMI's mapping merged with the request's ------------------------------
# API Reference, "RunInstances" BlockDeviceMapping.N and "BlockDeviceMapping"/"EbsBlockDevice":
# the instance gets the AMI's devices; an entry for the same device name overrides the AMI's
# (size, type, IOPS, throughput, encryption, KMS key, delete-on-termination), `NoDevice`
# suppresses it, new names add devices. "VolumeSize ... must be equal to or larger than the
# snapshot size" (EC2 answers InvalidBlockDeviceMapping); a volume from an encrypted snapshot
# is encrypted; `KmsKeyId` requires `Encrypted` (InvalidParameterDependency, as moto's
# CreateVolume answers); io1/io2 need `Iops`. Stock moto ignores the AMI's mapping and
# checks each request entry alone (refusing a root override without size or snapshot).
def _parse_bdm(self):
    return [dict(m) for m in self._get_param("BlockDeviceMappings", [])]


def _merged_mapping(backend, image_id, requested):
    ami = backend.amis.get(image_id)
    base = {m["DeviceName"]: m for m in (ami.block_device_mappings if ami else [])}
    out = {name: {"DeviceName": name, "Ebs": dict(m["Ebs"])} if "Ebs" in m else dict(m)
           for name, m in base.items()}
    for req in requested:
        name = req.get("DeviceName")
        if "NoDevice" in req:
            out.pop(name, None)
            continue
        if "VirtualName" in req and "Ebs" not in req:
            out[name] = {"DeviceName": name, "VirtualName": req["VirtualName"]}
            continue
        ebs = dict(out.get(name, {}).get("Ebs", {}))
        for key, value in (req.get("Ebs") or {}).items():
            if value is not None:
                ebs[key] = value
        out[name] = {"DeviceName": name, "Ebs": ebs}
    return list(out.values())


def _volumes_for(backend, mapping):
    """Checks a merged mapping as EC2 does; returns the EBS volumes to create, in order."""
    volumes = []
    for m in mapping:
        ebs = m.get("Ebs")
        if ebs is None:
            continue  # instance store: no EBS volume
        size = ebs.get("VolumeSize")
        snap = _snapshot_of(backend, ebs["SnapshotId"]) if ebs.get("SnapshotId") else None
        if size is None and snap is None:
            raise _error("MissingParameter", "The request must contain the parameter size or "
                         f"snapshotId (device {m['DeviceName']})")
        if snap is not None and size is not None and int(size) < snap.volume.size:
            raise _error("InvalidBlockDeviceMapping",
                         f"Volume of size {size}GB is smaller than snapshot '{snap.id}', "
                         f"expect size >= {snap.volume.size}GB")
        encrypted = _flag(ebs.get("Encrypted")) or (snap is not None and snap.encrypted)
        kms = ebs.get("KmsKeyId")
        if kms and not _flag(ebs.get("Encrypted")):
            raise InvalidParameterDependency("KmsKeyId", "Encrypted")
        if kms is None and snap is not None and snap.encrypted:
            kms = snap.kms_key_id
        vtype = ebs.get("VolumeType") or "gp2"
        if vtype in ("io1", "io2") and not ebs.get("Iops"):
            raise _error("InvalidParameterCombination", f"The parameter iops must be "
                         f"specified for {vtype} volumes.")
        volumes.append({
            "device": m["DeviceName"], "size": int(size if size is not None else snap.volume.size),
            "snapshot_id": snap.id if snap else None, "encrypted": encrypted, "kms": kms,
            "type": vtype, "iops": ebs.get("Iops"), "throughput": ebs.get("Throughput"),
            "delete": _flag(ebs.get("DeleteOnTermination", True)),
        })
    return volumes


_chained_run_instances = moto_instances.InstanceBackend.run_instances


def _run_instances(self, image_id, count, user_data, security_group_names, **kwargs):
    # moto hands over InstanceMarketOptions.MarketType alone ("spot"), or {} without it.
    spot = kwargs.get("instance_market_options") == "spot"
    itype = kwargs.get("instance_type", "m1.small")
    if spot and (
            "*" in SETTINGS["no_spot_capacity"] or itype in SETTINGS["no_spot_capacity"]):
        # API Reference, "Error codes": InsufficientInstanceCapacity, "There is not enough
        # capacity to fulfill your request" (for spot: no spot capacity matches the request).
        raise _error("InsufficientInstanceCapacity",
                     f"There is no Spot capacity available that matches your request "
                     f"({itype}).")
    volumes = _volumes_for(self, _merged_mapping(self, image_id,
                                                 kwargs.get("block_device_mappings") or []))
    volume_tags = (kwargs.get("tags") or {}).get("volume", {})
    kwargs["block_device_mappings"] = []  # we attach the volumes ourselves (moto: none)
    reservation = _chained_run_instances(self, image_id, count, user_data,
                                         security_group_names, **kwargs)
    # User Guide, "Troubleshoot instance launch issues" ("Instance terminates immediately"):
    # a volume whose KMS key is missing or unusable makes the instance go from pending to
    # terminated, state reason Client.InvalidKMSKey.InvalidState; RunInstances itself succeeds.
    bad_key = next((v["kms"] for v in volumes if v["kms"] and _resolve_kms(
        self.account_id, self.region_name, v["kms"]) is None), None)
    for instance in reservation.instances:
        if bad_key is not None:
            instance.terminate()
            instance.state_reason = moto_instances.StateReason(
                "Client.InvalidKMSKey.InvalidState: The KMS key provided is in an incorrect "
                f"state ({bad_key})", "Client.InvalidKMSKey.InvalidState")
            continue
        for v in volumes:
            volume = self.create_volume(
                size=v["size"], zone_name=instance._placement.zone, snapshot_id=v["snapshot_id"],
                encrypted=v["encrypted"], kms_key_id=v["kms"], volume_type=v["type"],
                iops=v["iops"], throughput=v["throughput"])
            volume.add_tags(volume_tags)
            self.attach_volume(volume.id, instance.id, v["device"], v["delete"])
    return reservation


moto_instance_responses.InstanceResponse._parse_block_device_mapping = _parse_bdm
moto_instances.InstanceBackend.run_instances = _run_instances


# --- CreateImage: a snapshot per EBS volume of the instance ---------------------------------
# API Reference, "CreateImage": the image holds the instance's root and attached EBS volumes
# (a snapshot of each, size, type and encryption carried over) plus the request's
# BlockDeviceMappings: for a device the instance has, "the only option that can be changed
# ... is DeleteOnTermination" (size and encryption can't be changed: InvalidBlockDeviceMapping);
# `NoDevice` leaves a device out; a new device name adds an empty volume (or instance store)
# made at each launch. TagSpecifications of type `snapshot` tag every snapshot (stock moto: 500).
def _create_image(self):
    instance_id = self._get_param("InstanceId")
    name = self._get_param("Name")
    description = self._get_param("Description", "")
    specs = self._get_param("TagSpecifications", [])
    requested = self._get_param("BlockDeviceMappings", [])
    self.error_on_dryrun()
    backend = self.ec2_backend
    _name_taken(backend, name)
    instance = backend.get_instance(instance_id)
    attached = dict(instance.block_device_mapping.items())
    for req in requested:
        have = attached.get(req.get("DeviceName"))
        ebs = req.get("Ebs") or {}
        if have is None or "NoDevice" in req:
            continue
        volume = backend.get_volume(have.volume_id)
        if ebs.get("VolumeSize") is not None and int(ebs["VolumeSize"]) != volume.size:
            raise _error("InvalidBlockDeviceMapping", "CreateImage can't change the size of "
                         f"{req['DeviceName']}; resize the instance's volume first")
        if "Encrypted" in ebs and _flag(ebs["Encrypted"]) != bool(volume.encrypted):
            raise _error("InvalidBlockDeviceMapping", "CreateImage can't change the "
                         f"encryption of {req['DeviceName']}; use CopyImage")
    image_specs = [s for s in specs if s.get("ResourceType") == "image"]
    snapshot_tags = {t["Key"]: t["Value"] for s in specs
                     if s.get("ResourceType") == "snapshot" for t in s.get("Tags", [])}
    ami = backend.create_image(instance_id, name, description, tag_specifications=image_specs)
    _forget_auto_snapshot(ami)
    ami.root_device_name = instance.root_device_name  # the image boots from the same device
    by_name = {r.get("DeviceName"): r for r in requested}
    mapping = []
    for device, bdt in sorted(attached.items(), key=lambda kv: kv[0] != instance.root_device_name):
        req = by_name.get(device, {})
        if "NoDevice" in req:
            continue
        volume = backend.get_volume(bdt.volume_id)
        snap = backend.create_snapshot(volume.id, f"Created by CreateImage({instance_id}) for "
                                       f"{ami.id}", from_ami=ami.id)
        snap.kms_key_id = volume.kms_key_id if volume.encrypted else None
        snap.add_tags(snapshot_tags)
        delete = (req.get("Ebs") or {}).get("DeleteOnTermination", bdt.delete_on_termination)
        mapping.append(_ebs_entry(device, snap.id, volume.size, volume.volume_type, delete,
                                  volume.encrypted, volume.iops, volume.throughput))
        if device == instance.root_device_name:
            ami.ebs_snapshot = snap
            ami.root_volume_type = volume.volume_type
    for req in requested:
        if req.get("DeviceName") in attached or "NoDevice" in req:
            continue
        if "VirtualName" in req:
            mapping.append({"DeviceName": req["DeviceName"], "VirtualName": req["VirtualName"]})
            continue
        ebs = req.get("Ebs") or {}
        if ebs.get("VolumeSize") is None and ebs.get("SnapshotId") is None:
            raise _error("MissingParameter", "The request must contain the parameter size or "
                         f"snapshotId (device {req.get('DeviceName')})")
        mapping.append(_ebs_entry(req["DeviceName"], ebs.get("SnapshotId"),
                                  ebs.get("VolumeSize") or _snapshot_of(
                                      backend, ebs["SnapshotId"]).volume.size,
                                  ebs.get("VolumeType"), ebs.get("DeleteOnTermination", True),
                                  _flag(ebs.get("Encrypted")), ebs.get("Iops"),
                                  ebs.get("Throughput")))
    ami.__dict__["_mapping"] = mapping
    return ActionResult({"ImageId": ami.id})


moto_ami_responses.AmisResponse.create_image = _create_image


# --- CopyImage: encrypted copies with the destination's KMS key -----------------------------
# API Reference, "CopyImage": `Encrypted` "specifies whether the destination snapshots of the
# copied image should be encrypted. You can encrypt a copy of an unencrypted snapshot, but you
# cannot create an unencrypted copy of an encrypted snapshot. The default KMS key for Amazon EBS
# is used unless you specify a non-default KMS key using KmsKeyId"; `KmsKeyId`: "If you specify
# a KMS key, you must also set the encrypted state to true ... The specified KMS key must exist
# in the destination Region." `CopyImageTags` copies the source's user tags; TagSpecifications
# tag the new image and its snapshots. A key that does not exist in the destination Region does
# not fail the call: the copy is registered and then fails (state `failed`, a state reason, no
# snapshots left), as EC2 reports asynchronous copy failures; clients must watch for it.
def _resolve_kms(account, region, key):
    try:
        return kms_backends[account][region].describe_key(key).arn
    except Exception:  # moto's KMS NotFoundException and friends: the key is not usable
        return None


def _copy_image(self):
    from moto.ec2.models import ec2_backends

    source_id = self._get_param("SourceImageId")
    source_region = self._get_param("SourceRegion")
    name = self._get_param("Name")
    description = self._get_param("Description")
    encrypt = _flag(self._get_param("Encrypted", False))
    kms = self._get_param("KmsKeyId")
    copy_tags = _flag(self._get_param("CopyImageTags", False))
    specs = self._get_param("TagSpecifications", [])
    minutes = self._get_param("SnapshotCopyCompletionDurationMinutes")
    self.error_on_dryrun()
    if kms and not encrypt:
        raise InvalidParameterDependency("KmsKeyId", "Encrypted")
    backend = self.ec2_backend
    # The fault switch (--refuse-copy REGION): EC2 refusing a copy into a Region, as it does
    # for a Region not enabled for the account ("OptInRequired", API Reference "Error codes").
    if backend.region_name in SETTINGS["refuse_copy"]:
        raise _error("OptInRequired", f"copies into {backend.region_name} are refused (test bed)")
    # API Reference, "CopyImage": SnapshotCopyCompletionDurationMinutes is given "in 15 minute
    # increments"; stock moto ignores it. The EBS User Guide ("Time-based copies") bounds it at
    # 15 minutes to 48 hours.
    if minutes is not None and (int(minutes) % 15 or not 15 <= int(minutes) <= 2880):
        raise _error("InvalidParameterValue",
                     f"SnapshotCopyCompletionDurationMinutes {minutes}: 15-minute steps, 15-2880")
    source_backend = ec2_backends[backend.account_id][source_region]
    source = source_backend.describe_images(ami_ids=[source_id])[0]
    _name_taken(backend, name or source.name)
    ami = backend.copy_image(source_id, source_region, name, description)
    _forget_auto_snapshot(ami)
    # --copy-pending REGION=S: the copy stays `pending` that long there (a copy takes minutes
    # on EC2), so parallel copies show in the bench.
    hold = SETTINGS["copy_pending_s"].get(backend.region_name)
    if hold:
        import time
        ami.__dict__["_hold_until"] = time.monotonic() + hold
    ami.root_device_name = source.root_device_name
    ami.root_volume_type = getattr(source, "root_volume_type", "gp2")
    if copy_tags:
        ami.add_tags({t["key"]: t["value"] for t in source.get_tags()})
    for s in specs:
        if s.get("ResourceType") == "image":
            ami.add_tags({t["Key"]: t["Value"] for t in s.get("Tags", [])})
    snapshot_tags = {t["Key"]: t["Value"] for s in specs
                     if s.get("ResourceType") == "snapshot" for t in s.get("Tags", [])}
    key_arn = None
    if kms:
        key_arn = _resolve_kms(backend.account_id, backend.region_name, kms)
        if key_arn is None:
            ami.state = "failed"
            ami.state_reason = {"Code": "Client.InvalidKMSKey.NotFound",
                                "Message": f"Copy failed: the KMS key {kms} does not exist in "
                                           f"{backend.region_name}"}
            ami.__dict__["_mapping"] = []
            return ActionResult({"ImageId": ami.id})
    mapping = []
    for m in source.block_device_mappings:
        ebs = m.get("Ebs")
        if ebs is None or not ebs.get("SnapshotId"):
            mapping.append({k: (dict(v) if isinstance(v, dict) else v) for k, v in m.items()})
            continue
        src = _snapshot_of(source_backend, ebs["SnapshotId"])
        encrypted = bool(src.encrypted) or encrypt
        key = None
        if encrypted:
            if key_arn is None and src.encrypted and source_region == backend.region_name:
                key_arn = src.kms_key_id
            if key_arn is None:
                if not backend.default_kms_key_id:
                    backend._create_default_encryption_key()
                key_arn = backend.default_kms_key_id
            key = key_arn
        snap = Snapshot(backend, random_snapshot_id(), volume=src.volume,
                        description=f"Copied for DestinationAmi {ami.id} from SourceAmi "
                                    f"{source_id} for SourceSnapshot {src.id}",
                        encrypted=encrypted, kms_key_id=key, from_ami=ami.id)
        snap.add_tags(snapshot_tags)
        backend.snapshots[snap.id] = snap
        entry = {"DeviceName": m["DeviceName"], "Ebs": dict(ebs)}
        entry["Ebs"].update(SnapshotId=snap.id, Encrypted=encrypted)
        mapping.append(entry)
        if m["DeviceName"] == ami.root_device_name:
            ami.ebs_snapshot = snap
    ami.__dict__["_mapping"] = mapping
    return ActionResult({"ImageId": ami.id})


moto_ami_responses.AmisResponse.copy_image = _copy_image


# --- deregistration protection --------------------------------------------------------------
# API Reference, "EnableImageDeregistrationProtection" (ImageId, WithCooldown: "If true,
# enforces deregistration protection for 24 hours after deregistration protection is
# disabled") and "DisableImageDeregistrationProtection"; both answer `<return>true</return>`.
# "When deregistration protection is enabled, the AMI can't be deregistered": DeregisterImage is
# refused (the reference names no code; we answer OperationNotPermitted). The Image data type's
# `deregistrationProtection` is shown as the User Guide ("Protect an AMI from deregistration")
# shows it: `disabled`, `enabled-with-cooldown`, `enabled-without-cooldown`, or
# `disabled-until <time>` while a cooldown runs. --deregistration-cooldown shortens the 24 hours
# so tests can watch a cooldown end.
def _protection_get(self):
    state = self.__dict__.get("_protection", "disabled")
    until = self.__dict__.get("_protected_until")
    if state == "disabled" and until is not None:
        if _now() < until:
            return f"disabled-until {_stamp(until)}"
        self.__dict__["_protected_until"] = None
    return state


moto_amis.Ami.deregistration_protection = property(_protection_get)


def _enable_protection(self):
    image_id = self._get_param("ImageId")
    cooldown = _flag(self._get_param("WithCooldown", False))
    self.error_on_dryrun()
    ami = self.ec2_backend.describe_images(ami_ids=[image_id])[0]
    ami.__dict__["_protection"] = ("enabled-with-cooldown" if cooldown
                                   else "enabled-without-cooldown")
    ami.__dict__["_protected_until"] = None
    return ActionResult({"Return": "true"})


def _disable_protection(self):
    image_id = self._get_param("ImageId")
    self.error_on_dryrun()
    ami = self.ec2_backend.describe_images(ami_ids=[image_id])[0]
    if ami.__dict__.get("_protection") == "enabled-with-cooldown":
        ami.__dict__["_protected_until"] = _now() + datetime.timedelta(
            seconds=SETTINGS["cooldown_s"])
    ami.__dict__["_protection"] = "disabled"
    return ActionResult({"Return": "true"})


_orig_deregister = moto_amis.AmiBackend.deregister_image


def _deregister_image(self, ami_id):
    ami = self.amis.get(ami_id)
    if ami is not None and ami.deregistration_protection != "disabled":
        raise _error("OperationNotPermitted", f"The AMI {ami_id} can't be deregistered: "
                     f"deregistration protection is {ami.deregistration_protection}")
    return _orig_deregister(self, ami_id)


moto_ami_responses.AmisResponse.enable_image_deregistration_protection = _enable_protection
moto_ami_responses.AmisResponse.disable_image_deregistration_protection = _disable_protection
moto_amis.AmiBackend.deregister_image = _deregister_image


def install(no_spot_capacity="", deregistration_cooldown=None, refuse_copy="", copy_pending=""):
    SETTINGS["refuse_copy"] = {r for r in (refuse_copy or "").split(",") if r}
    SETTINGS["copy_pending_s"] = {r: float(s) for r, s in
                                  (p.split("=", 1) for p in (copy_pending or "").split(",") if p)}
    """Applies moto_ec2.py's command-line knobs (the patches above apply at import)."""
    SETTINGS["no_spot_capacity"] = {t for t in (no_spot_capacity or "").split(",") if t}
    if deregistration_cooldown is not None:
        SETTINGS["cooldown_s"] = float(deregistration_cooldown)
