#!/usr/bin/env python3
"""Checks, through boto3, that the test bed's EC2 handles volumes, images, copies, protection,
spot capacity and spot requests as the EC2 API Reference documents them (testbed/ebs_bed.py,
testbed/spot_bed.py).

    python3 testbed/check_images.py
    python3 testbed/check_images.py --dump ENDPOINT REGION,...   (JSON of each Region's images)

Starts its own bed (testbed/moto_ec2.py with --no-spot-capacity and a short
--deregistration-cooldown), stops it at the end. Exits 0 when every check holds, else prints
the first that did not and exits 1. Run by tests/e2e.rs.
"""
import os
import subprocess
import sys
import time

import boto3
import botocore.exceptions

HERE = os.path.dirname(os.path.abspath(__file__))
COOLDOWN_S = 2.0


def client(endpoint, service, region="us-east-1"):
    return boto3.client(service, endpoint_url=endpoint, region_name=region,
                        aws_access_key_id="test", aws_secret_access_key="test")


def refused(code, call, **kwargs):
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as e:
        got = e.response["Error"]["Code"]
        assert got == code, f"{call.__name__}: expected {code}, got {got}"
        return
    raise AssertionError(f"{call.__name__} {kwargs} was accepted; expected {code}")


def volumes_of(ec2, instance_id):
    vols = ec2.describe_volumes(
        Filters=[{"Name": "attachment.instance-id", "Values": [instance_id]}])["Volumes"]
    return {v["Attachments"][0]["Device"]: v for v in vols}


def snapshot(ec2, snap_id):
    return ec2.describe_snapshots(SnapshotIds=[snap_id])["Snapshots"][0]


def mapping(ec2, image_id):
    image = ec2.describe_images(ImageIds=[image_id])["Images"][0]
    return {m["DeviceName"]: m for m in image["BlockDeviceMappings"]}, image


def check(endpoint):
    ec2 = client(endpoint, "ec2")
    west = client(endpoint, "ec2", "us-west-2")
    key = client(endpoint, "kms")
    east_key = key.create_key(Description="golden test east")["KeyMetadata"]["Arn"]
    west_key = client(endpoint, "kms", "us-west-2").create_key(
        Description="golden test west")["KeyMetadata"]["Arn"]
    source = ec2.describe_images(Owners=["amazon"])["Images"][0]
    root = source["RootDeviceName"]
    root_size = source["BlockDeviceMappings"][0]["Ebs"]["VolumeSize"]

    # RunInstances: the AMI's root, overridden; an added io1 volume; a suppressed device.
    run = ec2.run_instances(ImageId=source["ImageId"], MinCount=1, MaxCount=1,
                            InstanceType="t3.micro", BlockDeviceMappings=[
                                {"DeviceName": root, "Ebs": {
                                    "VolumeSize": root_size + 5, "VolumeType": "gp3",
                                    "Encrypted": True, "KmsKeyId": east_key}},
                                {"DeviceName": "/dev/sdf", "Ebs": {
                                    "VolumeSize": 5, "VolumeType": "io1", "Iops": 100,
                                    "DeleteOnTermination": True}},
                            ], TagSpecifications=[{"ResourceType": "volume", "Tags": [
                                {"Key": "golden:build-id", "Value": "check"}]}])
    instance = run["Instances"][0]["InstanceId"]
    vols = volumes_of(ec2, instance)
    assert set(vols) == {root, "/dev/sdf"}, vols
    r = vols[root]
    assert (r["Size"], r["VolumeType"], r["Encrypted"], r["KmsKeyId"]) == (
        root_size + 5, "gp3", True, east_key), r
    assert r["SnapshotId"] == source["BlockDeviceMappings"][0]["Ebs"]["SnapshotId"], r
    assert (vols["/dev/sdf"]["Size"], vols["/dev/sdf"]["Iops"]) == (5, 100), vols["/dev/sdf"]
    assert {"Key": "golden:build-id", "Value": "check"} in r["Tags"], r
    refused("InvalidBlockDeviceMapping", ec2.run_instances, ImageId=source["ImageId"],
            MinCount=1, MaxCount=1, BlockDeviceMappings=[
                {"DeviceName": root, "Ebs": {"VolumeSize": root_size - 1}}])
    missing_key = "arn:aws:kms:us-east-1:123456789012:key/00000000-0000-0000-0000-000000000000"
    gone = ec2.run_instances(ImageId=source["ImageId"], MinCount=1, MaxCount=1,
                             BlockDeviceMappings=[{"DeviceName": root, "Ebs": {
                                 "Encrypted": True, "KmsKeyId": missing_key}}])["Instances"][0]
    seen = ec2.describe_instances(InstanceIds=[gone["InstanceId"]])["Reservations"][0][
        "Instances"][0]
    assert seen["State"]["Name"] == "terminated", seen["State"]
    assert seen["StateReason"]["Code"] == "Client.InvalidKMSKey.InvalidState", seen
    assert not volumes_of(ec2, gone["InstanceId"]), "no volume for a failed launch"
    refused("InvalidParameterDependency", ec2.run_instances, ImageId=source["ImageId"],
            MinCount=1, MaxCount=1, BlockDeviceMappings=[
                {"DeviceName": "/dev/sdh", "Ebs": {"VolumeSize": 1, "KmsKeyId": east_key}}])

    # CreateImage: a snapshot per volume, sizes and encryption carried over; a new empty
    # device; size changes refused; snapshot tags applied.
    refused("InvalidBlockDeviceMapping", ec2.create_image, InstanceId=instance, Name="xyz",
            BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "Ebs": {"VolumeSize": 50}}])
    image_id = ec2.create_image(
        InstanceId=instance, Name="golden-check", BlockDeviceMappings=[
            {"DeviceName": "/dev/sdg", "Ebs": {"VolumeSize": 7, "VolumeType": "gp3"}},
            {"DeviceName": "/dev/sdf", "Ebs": {"DeleteOnTermination": False}}],
        TagSpecifications=[{"ResourceType": "snapshot",
                            "Tags": [{"Key": "role", "Value": "check"}]}])["ImageId"]
    m, made = mapping(ec2, image_id)
    assert set(m) == {root, "/dev/sdf", "/dev/sdg"}, m
    assert made["RootDeviceName"] == root, made["RootDeviceName"]
    root_snap = snapshot(ec2, m[root]["Ebs"]["SnapshotId"])
    assert (root_snap["VolumeSize"], root_snap["Encrypted"], root_snap["KmsKeyId"]) == (
        root_size + 5, True, east_key), root_snap
    assert {"Key": "role", "Value": "check"} in root_snap.get("Tags", []), root_snap
    assert m["/dev/sdf"]["Ebs"]["DeleteOnTermination"] is False, m
    assert snapshot(ec2, m["/dev/sdf"]["Ebs"]["SnapshotId"])["VolumeSize"] == 5
    assert "SnapshotId" not in m["/dev/sdg"]["Ebs"] and m["/dev/sdg"]["Ebs"]["VolumeSize"] == 7
    refused("InvalidSnapshot.InUse", ec2.delete_snapshot, SnapshotId=root_snap["SnapshotId"])
    refused("InvalidAMIName.Duplicate", ec2.create_image, InstanceId=instance,
            Name="golden-check")

    # Launching the new image gives its devices.
    again = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1)["Instances"][0]
    vols = volumes_of(ec2, again["InstanceId"])
    assert set(vols) == {root, "/dev/sdf", "/dev/sdg"}, vols
    assert vols[root]["Encrypted"] and vols[root]["Size"] == root_size + 5, vols[root]
    assert vols["/dev/sdg"]["Size"] == 7 and not vols["/dev/sdg"].get("SnapshotId"), \
        vols["/dev/sdg"]

    # CopyImage: encrypted with the destination's key, or its default key; a missing key
    # fails the copy; KmsKeyId without Encrypted is refused.
    plain = ec2.create_image(InstanceId=again["InstanceId"], Name="plain",
                             BlockDeviceMappings=[{"DeviceName": "/dev/sdf", "NoDevice": ""}])
    pm, _ = mapping(ec2, plain["ImageId"])
    assert "/dev/sdf" not in pm, pm
    copy = west.copy_image(SourceImageId=image_id, SourceRegion="us-east-1", Name="copy",
                           Encrypted=True, KmsKeyId=west_key,
                           TagSpecifications=[{"ResourceType": "snapshot",
                                               "Tags": [{"Key": "role", "Value": "copy"}]}])
    cm, cimage = mapping(west, copy["ImageId"])
    assert set(cm) == set(m), cm
    for device in (root, "/dev/sdf"):
        s = snapshot(west, cm[device]["Ebs"]["SnapshotId"])
        assert (s["Encrypted"], s["KmsKeyId"]) == (True, west_key), s
        assert {"Key": "role", "Value": "copy"} in s.get("Tags", []), s
    default = west.copy_image(SourceImageId=plain["ImageId"], SourceRegion="us-east-1",
                              Name="default-key", Encrypted=True)
    dm, _ = mapping(west, default["ImageId"])
    s = snapshot(west, dm[root]["Ebs"]["SnapshotId"])
    assert s["Encrypted"] and s["KmsKeyId"] not in (None, west_key), s
    missing = "arn:aws:kms:us-west-2:123456789012:key/00000000-0000-0000-0000-000000000000"
    failed = west.copy_image(SourceImageId=image_id, SourceRegion="us-east-1", Name="bad",
                             Encrypted=True, KmsKeyId=missing)
    _, fimage = mapping(west, failed["ImageId"])
    assert fimage["State"] == "failed" and "KMS" in fimage["StateReason"]["Message"], fimage
    assert fimage["BlockDeviceMappings"] == [], fimage
    refused("InvalidParameterDependency", west.copy_image, SourceImageId=image_id,
            SourceRegion="us-east-1", Name="xyz", KmsKeyId=west_key)

    # Deregistration protection, without and with cooldown.
    def shown(c, i):
        return c.describe_images(ImageIds=[i])["Images"][0].get("DeregistrationProtection")

    assert shown(ec2, image_id) == "disabled", shown(ec2, image_id)
    ec2.enable_image_deregistration_protection(ImageId=image_id)
    assert shown(ec2, image_id) == "enabled-without-cooldown"
    refused("OperationNotPermitted", ec2.deregister_image, ImageId=image_id)
    ec2.disable_image_deregistration_protection(ImageId=image_id)
    assert shown(ec2, image_id) == "disabled"
    west.enable_image_deregistration_protection(ImageId=copy["ImageId"], WithCooldown=True)
    assert shown(west, copy["ImageId"]) == "enabled-with-cooldown"
    west.disable_image_deregistration_protection(ImageId=copy["ImageId"])
    assert shown(west, copy["ImageId"]).startswith("disabled-until "), shown(west, copy["ImageId"])
    refused("OperationNotPermitted", west.deregister_image, ImageId=copy["ImageId"])
    time.sleep(COOLDOWN_S + 0.5)
    assert shown(west, copy["ImageId"]) == "disabled"
    west.deregister_image(ImageId=copy["ImageId"])
    # A deregistered image's snapshots become deletable, in every region.
    for device in (root, "/dev/sdf"):
        west.delete_snapshot(SnapshotId=cm[device]["Ebs"]["SnapshotId"])

    # Sharing by Organization and OU; snapshot createVolumePermission.
    org = "arn:aws:organizations::123456789012:organization/o-abcdefghij"
    ou = "arn:aws:organizations::123456789012:ou/o-abcdefghij/ou-ab12-cdefghij"
    ec2.modify_image_attribute(ImageId=image_id, LaunchPermission={"Add": [
        {"OrganizationArn": org}, {"OrganizationalUnitArn": ou}, {"UserId": "210987654321"}]})
    perms = ec2.describe_image_attribute(ImageId=image_id, Attribute="launchPermission")
    got = perms["LaunchPermissions"]
    for p in ({"OrganizationArn": org}, {"OrganizationalUnitArn": ou},
              {"UserId": "210987654321"}):
        assert p in got, got
    ec2.modify_snapshot_attribute(SnapshotId=root_snap["SnapshotId"],
                                  Attribute="createVolumePermission", OperationType="add",
                                  UserIds=["210987654321"])
    cvp = ec2.describe_snapshot_attribute(SnapshotId=root_snap["SnapshotId"],
                                          Attribute="createVolumePermission")
    assert {"UserId": "210987654321"} in cvp["CreateVolumePermissions"], cvp

    # Spot capacity: none for t3.micro, some for t3.small; on demand always.
    spot = {"MarketType": "spot"}
    refused("InsufficientInstanceCapacity", ec2.run_instances, ImageId=source["ImageId"],
            MinCount=1, MaxCount=1, InstanceType="t3.micro", InstanceMarketOptions=spot)
    ok = ec2.run_instances(ImageId=source["ImageId"], MinCount=1, MaxCount=1,
                           InstanceType="t3.small", InstanceMarketOptions=spot)
    assert ok["Instances"][0].get("InstanceLifecycle") == "spot", ok["Instances"][0]
    check_spot_requests(ec2, source["ImageId"])
    ec2.run_instances(ImageId=source["ImageId"], MinCount=1, MaxCount=1,
                      InstanceType="t3.micro")

    # Terminating removes the volumes marked delete-on-termination, keeps the others.
    ec2.terminate_instances(InstanceIds=[again["InstanceId"]])
    left = ec2.describe_volumes(Filters=[{"Name": "attachment.instance-id",
                                          "Values": [again["InstanceId"]]}])["Volumes"]
    kept = {v["Size"] for v in ec2.describe_volumes()["Volumes"]}
    assert not left, left
    assert 5 in kept, kept  # /dev/sdf was mapped DeleteOnTermination=false in the image


def check_spot_requests(ec2, image_id):
    """testbed/spot_bed.py: a spot launch makes a one-time request (API Reference,
    "RunInstances" InstanceMarketOptions, "SpotInstanceRequest"), tagged by its
    TagSpecification, closed when its instance terminates, cancelled and still listed."""
    run = ec2.run_instances(
        ImageId=image_id, MinCount=1, MaxCount=1, InstanceType="t3.small",
        InstanceMarketOptions={"MarketType": "spot", "SpotOptions": {
            "MaxPrice": "0.05", "SpotInstanceType": "one-time",
            "InstanceInterruptionBehavior": "terminate"}},
        TagSpecifications=[{"ResourceType": "spot-instances-request",
                            "Tags": [{"Key": "team", "Value": "images"}]}])
    inst = ec2.describe_instances(InstanceIds=[run["Instances"][0]["InstanceId"]])[
        "Reservations"][0]["Instances"][0]
    assert inst.get("InstanceLifecycle") == "spot", inst
    rid = inst.get("SpotInstanceRequestId")
    assert rid and rid.startswith("sir-"), inst
    found = ec2.describe_spot_instance_requests(
        Filters=[{"Name": "tag:team", "Values": ["images"]}])["SpotInstanceRequests"]
    assert [r["SpotInstanceRequestId"] for r in found] == [rid], found
    req = found[0]
    assert (req["State"], req["Status"]["Code"], req["Type"]) == \
        ("active", "fulfilled", "one-time"), req
    assert req["InstanceId"] == inst["InstanceId"] and float(req["SpotPrice"]) == 0.05, req
    refused("InvalidParameterValue", ec2.run_instances, ImageId=image_id, MinCount=1,
            MaxCount=1, InstanceMarketOptions={"MarketType": "spot",
                                               "SpotOptions": {"MaxPrice": "cheap"}})
    # Cancelling leaves the instance running and the request listed as cancelled.
    ec2.cancel_spot_instance_requests(SpotInstanceRequestIds=[rid])
    req = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[rid])[
        "SpotInstanceRequests"][0]
    assert (req["State"], req["Status"]["Code"]) == \
        ("cancelled", "request-canceled-and-instance-running"), req
    state = ec2.describe_instances(InstanceIds=[inst["InstanceId"]])[
        "Reservations"][0]["Instances"][0]["State"]["Name"]
    assert state in ("pending", "running"), state
    refused("InvalidSpotInstanceRequestID.NotFound", ec2.cancel_spot_instance_requests,
            SpotInstanceRequestIds=["sir-00000000"])
    # A one-time request whose instance terminates is closed.
    other = ec2.run_instances(ImageId=image_id, MinCount=1, MaxCount=1,
                              InstanceType="t3.small",
                              InstanceMarketOptions={"MarketType": "spot"})["Instances"][0]
    other_rid = ec2.describe_instances(InstanceIds=[other["InstanceId"]])[
        "Reservations"][0]["Instances"][0]["SpotInstanceRequestId"]
    ec2.terminate_instances(InstanceIds=[other["InstanceId"], inst["InstanceId"]])
    req = ec2.describe_spot_instance_requests(SpotInstanceRequestIds=[other_rid])[
        "SpotInstanceRequests"][0]
    assert (req["State"], req["Status"]["Code"]) == \
        ("closed", "instance-terminated-by-user"), req


def main():
    bed = subprocess.Popen(
        [sys.executable, os.path.join(HERE, "moto_ec2.py"), "--port", "0",
         "--no-spot-capacity", "t3.micro", "--deregistration-cooldown", str(COOLDOWN_S)],
        stdout=subprocess.PIPE, text=True)
    try:
        line = bed.stdout.readline().strip()
        assert line.startswith("READY "), f"the bed did not start: {line!r}"
        check(line.split()[1])
    except AssertionError as e:
        print(f"check_images: {e}", file=sys.stderr)
        return 1
    finally:
        bed.terminate()
        bed.wait(timeout=10)
    print("check_images: ok")
    return 0


def dump(endpoint, regions):
    """This account's images in each Region as EC2 shows them (the e2e tests' view of a bake
    with copies): id, state, tags, launch permissions, deprecation, deregistration protection, and per snapshot its encryption, key,
    tags and createVolumePermission; plus the snapshots left in the Region."""
    out = {}
    for region in regions:
        ec2 = client(endpoint, "ec2", region)
        images = []
        for img in ec2.describe_images(Owners=["self"])["Images"]:
            perms = ec2.describe_image_attribute(ImageId=img["ImageId"],
                                                 Attribute="launchPermission")
            launch = sorted(p.get("UserId") or p.get("OrganizationArn")
                            or p.get("OrganizationalUnitArn") or p.get("Group")
                            for p in perms.get("LaunchPermissions", []))
            images.append({"id": img["ImageId"], "state": img["State"],
                           "tags": {t["Key"]: t["Value"] for t in img.get("Tags", [])},
                           "launch": launch,
                           "deprecation": img.get("DeprecationTime"),
                           "protection": img.get("DeregistrationProtection"),
                           "snapshots": [m["Ebs"]["SnapshotId"]
                                         for m in img.get("BlockDeviceMappings", [])
                                         if m.get("Ebs", {}).get("SnapshotId")]})
        snaps = {}
        for snap in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]:
            vol = ec2.describe_snapshot_attribute(SnapshotId=snap["SnapshotId"],
                                                  Attribute="createVolumePermission")
            snaps[snap["SnapshotId"]] = {
                "encrypted": snap.get("Encrypted", False), "kms": snap.get("KmsKeyId"),
                "tags": {t["Key"]: t["Value"] for t in snap.get("Tags", [])},
                "volume_users": sorted(p.get("UserId") or p.get("Group")
                                       for p in vol.get("CreateVolumePermissions", []))}
        out[region] = {"images": images, "snapshots": snaps}
    return out


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--dump":
        import json
        print(json.dumps(dump(sys.argv[2], sys.argv[3].split(","))))
        sys.exit(0)
    sys.exit(main())
