#!/usr/bin/env python3
"""Checks a golden_channel's parameter through the SSM API (boto3), as a
consumer sees it: GetParameter (what `resolve:ssm:` resolves), its Type and
DataType, GetParameter of `name:1` (the first promotion), and
GetParameterHistory. Or deletes it by hand, or checks that it is gone.

    python3 testbed/check_channel.py ENDPOINT REGION NAME history AMI1,AMI2,...
    python3 testbed/check_channel.py ENDPOINT REGION NAME absent
    python3 testbed/check_channel.py ENDPOINT REGION NAME delete

Exits 0 when every check holds, else prints the first that did not and
exits 1. Run by tests/channel.rs against the test bed's moto server.
"""
import sys

import boto3
import botocore.exceptions


def main(endpoint, region, name, what, arg=None):
    ssm = boto3.client("ssm", endpoint_url=endpoint, region_name=region,
                       aws_access_key_id="test", aws_secret_access_key="test")
    if what == "delete":
        ssm.delete_parameter(Name=name)
        return
    if what == "absent":
        try:
            p = ssm.get_parameter(Name=name)["Parameter"]
        except botocore.exceptions.ClientError as e:
            code = e.response["Error"]["Code"]
            assert code == "ParameterNotFound", f"GetParameter {name}: {code}"
            return
        raise AssertionError(f"{name} still exists: {p}")
    assert what == "history", what
    want = arg.split(",")
    p = ssm.get_parameter(Name=name)["Parameter"]
    assert p["Value"] == want[-1], f"value {p['Value']}, want {want[-1]}"
    assert p["Type"] == "String", f"type {p['Type']}"
    assert p["DataType"] == "aws:ec2:image", f"data type {p.get('DataType')}"
    assert p["Version"] == len(want), f"version {p['Version']}, want {len(want)}"
    first = ssm.get_parameter(Name=f"{name}:1")["Parameter"]
    assert first["Value"] == want[0], f"{name}:1 is {first['Value']}, want {want[0]}"
    hist = ssm.get_parameter_history(Name=name)["Parameters"]
    got = [h["Value"] for h in sorted(hist, key=lambda h: h["Version"])]
    assert got == want, f"history {got}, want {want}"
    kinds = {h.get("DataType") for h in hist}
    assert kinds == {"aws:ec2:image"}, f"history data types {kinds}"


if __name__ == "__main__":
    try:
        main(*sys.argv[1:])
    except AssertionError as e:
        print(f"check_channel: {e}")
        sys.exit(1)
