#!/usr/bin/env python3
"""TLS in front of moto, with a throw-away CA, for tests of `custom_ca_bundle`.

    python3 testbed/tls_relay.py --upstream http://127.0.0.1:MOTOPORT --dir DIR [--port 0]

Writes DIR/ca.pem (a CA made for this run; it signs the relay's certificate for
127.0.0.1) and prints exactly one line `READY https://127.0.0.1:PORT DIR/ca.pem` once
the socket listens, then relays each TLS connection's bytes to moto and back until
SIGTERM/SIGINT. Only ever binds 127.0.0.1. Certificates come from `cryptography`,
which moto already requires.
"""
import argparse
import datetime
import ipaddress
import os
import signal
import socket
import ssl
import sys
import threading
import urllib.parse

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_certs(d):
    now = datetime.datetime.now(datetime.timezone.utc)
    span = (now - datetime.timedelta(hours=1), now + datetime.timedelta(days=1))
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "golden test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(span[0]).not_valid_after(span[1])
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                                       content_commitment=False, key_encipherment=False,
                                       data_encipherment=False, key_agreement=False,
                                       encipher_only=False, decipher_only=False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
            .issuer_name(ca_name).public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(span[0]).not_valid_after(span[1])
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    os.makedirs(d, exist_ok=True)
    pem = lambda c: c.public_bytes(serialization.Encoding.PEM)
    with open(os.path.join(d, "ca.pem"), "wb") as f:
        f.write(pem(ca))
    with open(os.path.join(d, "relay.pem"), "wb") as f:
        f.write(pem(leaf))
    with open(os.path.join(d, "relay.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))


def pipe(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(conn, ctx, upstream):
    try:
        tls = ctx.wrap_socket(conn, server_side=True)
    except (ssl.SSLError, OSError):
        conn.close()  # a client that does not trust the CA gives up here
        return
    try:
        up = socket.create_connection(upstream, timeout=10)
        up.settimeout(None)
    except OSError:
        tls.close()
        return
    threading.Thread(target=pipe, args=(up, tls), daemon=True).start()
    pipe(tls, up)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("--port", type=int, default=0)
    a = p.parse_args()
    up = urllib.parse.urlsplit(a.upstream)
    if up.scheme != "http" or up.hostname != "127.0.0.1":
        p.error("--upstream must be http://127.0.0.1:PORT")
    make_certs(a.dir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(os.path.join(a.dir, "relay.pem"), os.path.join(a.dir, "relay.key"))
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("127.0.0.1", a.port))
    srv.listen(64)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(f"READY https://127.0.0.1:{srv.getsockname()[1]} {os.path.join(a.dir, 'ca.pem')}", flush=True)
    try:
        while True:
            conn, _ = srv.accept()
            threading.Thread(target=serve, args=(conn, ctx, (up.hostname, up.port)), daemon=True).start()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
