#!/usr/bin/env python3
"""A Terraform provider network mirror on 127.0.0.1, over HTTPS with a CA of its own.

    python3 testbed/provider_mirror.py --root DIR --ca-file CA.pem [--port 0]

Generates a throw-away CA and a certificate for 127.0.0.1 signed by it, writes the CA to
CA.pem (a client trusts it with SSL_CERT_FILE=CA.pem, as Terraform does on Linux), serves DIR
read-only (the provider network mirror protocol is static files: HOST/NS/TYPE/index.json,
HOST/NS/TYPE/VERSION.json and the archives they name), prints `READY https://127.0.0.1:PORT/`
on stdout, and logs each request (`GET /path 200`) on stderr. Stops on SIGTERM/SIGINT.
"""
import argparse
import datetime
import functools
import http.server
import ipaddress
import signal
import ssl
import sys
import tempfile
import os

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def certificates(ca_file, key_dir):
    """The CA (written to ca_file) and the server's chain and key (written into key_dir)."""
    now = datetime.datetime.now(datetime.timezone.utc)
    start, end = now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "golden test mirror CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(start).not_valid_after(end)
          .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(start).not_valid_after(end)
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    pem = serialization.Encoding.PEM
    with open(ca_file, "wb") as f:
        f.write(ca.public_bytes(pem))
    chain, keyfile = os.path.join(key_dir, "server.pem"), os.path.join(key_dir, "server.key")
    with open(chain, "wb") as f:
        f.write(cert.public_bytes(pem) + ca.public_bytes(pem))
    with open(keyfile, "wb") as f:
        f.write(key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    return chain, keyfile


class Handler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, fmt, *args):
        pass

    def log_request(self, code="-", size="-"):
        print(f"{self.command} {self.path} {code}", file=sys.stderr, flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", required=True)
    ap.add_argument("--ca-file", required=True)
    ap.add_argument("--port", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as keys:
        chain, key = certificates(args.ca_file, keys)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(chain, key)
        handler = functools.partial(Handler, directory=args.root)
        server = http.server.ThreadingHTTPServer(("127.0.0.1", args.port), handler)
        server.socket = ctx.wrap_socket(server.socket, server_side=True)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"READY https://127.0.0.1:{server.server_address[1]}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
