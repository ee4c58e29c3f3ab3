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
import html
import re
import socket
import sys
import time

# sshd runs this twice per login, so it stays light: a raw HTTP/1.0 request and a pattern
# instead of urllib and an XML parser (which cost ~35 ms of imports per run).
PUBLIC_KEY = re.compile(r"<publicKey>\s*([^<]+?)\s*</publicKey>")


def public_keys(endpoint, region):
    m = re.fullmatch(r"http://([^/:]+)(?::(\d+))?/?", endpoint)
    if not m:
        raise OSError(f"only an http:// endpoint is supported, not {endpoint}")
    host, port = m.group(1), int(m.group(2) or 80)
    body = "Action=DescribeKeyPairs&Version=2016-11-15&IncludePublicKey=true"
    now = time.gmtime()
    # moto routes by the credential scope (service "ec2", region) and never checks the
    # signature; without a SigV4-shaped header the request would land in its S3 backend.
    auth = ("AWS4-HMAC-SHA256 Credential=test/%s/%s/ec2/aws4_request, "
            "SignedHeaders=content-type;host;x-amz-date, Signature=%s"
            % (time.strftime("%Y%m%d", now), region, "0" * 64))
    request = (f"POST / HTTP/1.0\r\nHost: {host}:{port}\r\n"
               "Content-Type: application/x-www-form-urlencoded; charset=utf-8\r\n"
               f"X-Amz-Date: {time.strftime('%Y%m%dT%H%M%SZ', now)}\r\n"
               f"Authorization: {auth}\r\nContent-Length: {len(body)}\r\n\r\n{body}")
    # Generous: a moto busy with fifty bakes answers late, and a refused login costs a retry.
    with socket.create_connection((host, port), timeout=30) as s:
        s.sendall(request.encode())
        chunks = []
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            chunks.append(chunk)
    head, _, reply = b"".join(chunks).decode("utf-8", "replace").partition("\r\n\r\n")
    status = head.split(" ", 2)
    if len(status) < 2 or status[1] != "200":
        raise OSError(f"DescribeKeyPairs answered {head.splitlines()[0] if head else 'nothing'}")
    return [html.unescape(k) for k in PUBLIC_KEY.findall(reply)]


def main(argv):
    if len(argv) < 2:
        print("usage: authorized_keys.py ENDPOINT [REGION ...]", file=sys.stderr)
        return 2
    regions = argv[2:] or ["us-east-1"]
    try:
        keys = [k for region in regions for k in public_keys(argv[1], region)]
    except OSError as e:  # one line in sshd's log beats a traceback
        print(f"authorized_keys.py: DescribeKeyPairs on {argv[1]}: {e}", file=sys.stderr)
        return 1
    if keys:
        print("\n".join(keys))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
