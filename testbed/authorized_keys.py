#!/usr/bin/env python3
"""sshd AuthorizedKeysCommand: accept every key pair imported into the local EC2 (moto).

    authorized_keys.py ENDPOINT [REGION ...]     (default region: us-east-1)

On a real instance cloud-init installs the launch key pair's public key; here the
"instance" is a local sshd, so we ask moto for every imported key instead
(DescribeKeyPairs IncludePublicKey=true) and print them, one per line.

Stdlib only and no boto3: sshd runs this twice per login, and with a minimal environment
(PATH=/usr/bin:/bin:/usr/sbin:/sbin), so `env` finds Debian's /usr/bin/python3, not a
pyenv/venv one. sshd refuses it if the file or any parent directory is group/world-writable:
keep it in the repo, mode 755.
"""
import sys
import time
import urllib.parse
import urllib.request
import xml.etree.ElementTree as ET


def public_keys(endpoint, region):
    body = urllib.parse.urlencode({
        "Action": "DescribeKeyPairs", "Version": "2016-11-15", "IncludePublicKey": "true",
    }).encode()
    now = time.gmtime()
    # moto routes by the credential scope (service "ec2", region) and never checks the
    # signature; without a SigV4-shaped header the request would land in its S3 backend.
    auth = ("AWS4-HMAC-SHA256 Credential=test/%s/%s/ec2/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, Signature=%s"
            % (time.strftime("%Y%m%d", now), region, "0" * 64))
    req = urllib.request.Request(endpoint.rstrip("/") + "/", data=body, method="POST", headers={
        "Content-Type": "application/x-www-form-urlencoded; charset=utf-8",
        "X-Amz-Date": time.strftime("%Y%m%dT%H%M%SZ", now),
        "Authorization": auth,
    })
    # Generous: a moto busy with fifty bakes answers late, and a refused login costs a retry.
    with urllib.request.urlopen(req, timeout=30) as resp:
        root = ET.fromstring(resp.read())
    # Tags carry the EC2 XML namespace; match on the local name.
    return [el.text.strip() for el in root.iter() if el.tag.rsplit("}", 1)[-1] == "publicKey" and el.text]


def main(argv):
    if len(argv) < 2:
        print("usage: authorized_keys.py ENDPOINT [REGION ...]", file=sys.stderr)
        return 2
    regions = argv[2:] or ["us-east-1"]
    try:
        keys = [k for region in regions for k in public_keys(argv[1], region)]
    except (OSError, ET.ParseError) as e:  # one line in sshd's log beats a traceback
        print(f"authorized_keys.py: DescribeKeyPairs on {argv[1]}: {e}", file=sys.stderr)
        return 1
    if keys:
        print("\n".join(keys))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
