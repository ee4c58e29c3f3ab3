#!/usr/bin/env python3
"""Checks, through boto3, that the test bed's EC2 deprecates images as EC2 does.

    python3 testbed/check_deprecation.py http://127.0.0.1:PORT

Exits 0 when every check holds, else prints the first that did not and exits 1.
Run by tests/e2e.rs against a fresh bed.
"""
import datetime
import sys

import boto3
import botocore.exceptions


def main(endpoint):
    ec2 = boto3.client("ec2", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="test", aws_secret_access_key="test")
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]

    def shown():
        return ec2.describe_images(ImageIds=[image])["Images"][0].get("DeprecationTime")

    def refused(code, **kwargs):
        try:
            ec2.enable_image_deprecation(ImageId=image, **kwargs)
        except botocore.exceptions.ClientError as e:
            got = e.response["Error"]["Code"]
            assert got == code, f"expected {code}, got {got}"
            return
        raise AssertionError(f"EnableImageDeprecation {kwargs} was accepted")

    utc = datetime.timezone.utc
    assert shown() is None, "no deprecation time before one is set"
    year = datetime.datetime.now(utc).year + 4
    # Seconds are rounded to the nearest minute.
    r = ec2.enable_image_deprecation(
        ImageId=image, DeprecateAt=datetime.datetime(year, 1, 1, 0, 0, 31, tzinfo=utc))
    assert r["Return"] is True, r
    assert shown() == f"{year}-01-01T00:01:00.000Z", shown()
    ec2.enable_image_deprecation(
        ImageId=image, DeprecateAt=datetime.datetime(year, 6, 1, 12, 30, 29, tzinfo=utc))
    assert shown() == f"{year}-06-01T12:30:00.000Z", shown()
    # In the past, or more than 10 years ahead: refused, nothing changed.
    refused("InvalidParameterValue", DeprecateAt=datetime.datetime(2020, 1, 1, tzinfo=utc))
    refused("InvalidParameterValue",
            DeprecateAt=datetime.datetime.now(utc) + datetime.timedelta(days=11 * 366))
    assert shown() == f"{year}-06-01T12:30:00.000Z", shown()
    # Listing (not only by id) shows it too.
    listed = {i["ImageId"]: i.get("DeprecationTime")
              for i in ec2.describe_images(Owners=["amazon"])["Images"]}
    assert listed[image] == f"{year}-06-01T12:30:00.000Z", listed
    r = ec2.disable_image_deprecation(ImageId=image)
    assert r["Return"] is True, r
    assert shown() is None, shown()
    # Unknown images answer as EC2 does.
    try:
        ec2.disable_image_deprecation(ImageId="ami-00000000000000000")
        raise AssertionError("DisableImageDeprecation of an unknown image was accepted")
    except botocore.exceptions.ClientError as e:
        assert e.response["Error"]["Code"] == "InvalidAMIID.NotFound", e.response


if __name__ == "__main__":
    try:
        main(sys.argv[1])
    except Exception as e:  # noqa: BLE001 - any failure is a failed check
        print(f"check failed: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
    print("ok")
