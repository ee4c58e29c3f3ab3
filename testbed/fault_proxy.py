#!/usr/bin/env python3
"""Fault-injecting HTTP proxy between an EC2 client and testbed/moto_ec2.py.

    python3 testbed/fault_proxy.py --upstream http://127.0.0.1:MOTOPORT [--port 0] [--control]
        [--throttle-fraction F] [--throttle-status 503]
        [--error-fraction F --error-status 500|503]
        [--fail-action A --fail-code C --fail-status 400 --fail-times 1 --fail-after-forward]
        [--delay-ms N [--delay-action A]] [--seed N] [--verbose]
        [--not-found-for S [--not-found-actions A,B,...]]

Prints exactly one line `READY http://127.0.0.1:PORT` on stdout once the socket listens,
then serves until SIGTERM/SIGINT. Only ever binds 127.0.0.1.

Why: moto answers every call at once and never fails spuriously, so the provider's retry,
throttling and cleanup paths would otherwise only ever run against real AWS.

Per EC2 call (a request with an `Action`, from the form body or the query string), in order:
  1. delay_ms (only for delay_action if set): sleep, then carry on. Applies to injected
     faults too, and the sleep happens even if the client has given up meanwhile, so a
     client-side timeout still leaves the call executed upstream, as on real AWS.
  2. fail_action: fail that Action fail_times times (-1: always) with fail_code/fail_status.
     With fail_after_forward the call is forwarded first and its answer thrown away: the
     resource exists upstream but the client sees an error (a lost response).
  3. One random draw u: u < throttle_fraction -> RequestLimitExceeded;
     else u < throttle_fraction + error_fraction -> InternalError (500) / Unavailable (503).
  Anything else, requests without an Action and /moto-api/* are relayed unchanged.

Eventual consistency (--not-found-for S, see `Fresh`): for S seconds after a create, a call
of one of not_found_actions that names the new object's id answers EC2's not-found error for
it, as EC2 may right after a create ("Eventual consistency", Amazon EC2 API Reference);
counted per action in the control state's "not_found".

Control endpoint (only with --control), on the same port:
  GET /_faults     {"config": {...}, "fail_remaining": n, "requests": {Action: n},
                    "faults": {Action: n}}
  POST /_faults    JSON object that replaces the whole config (omitted keys take their
                   defaults, unknown keys are refused with 400); fail_times counts anew.
                   Answers like GET. Counters are kept.
  DELETE /_faults  resets the counters.
"""
import argparse
import http.client
import json
import random
import re
import signal
import sys
import threading
import time
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from xml.sax.saxutils import escape

DEFAULTS = {
    "throttle_fraction": 0.0,
    # Real EC2 throttles with 503, and botocore's legacy retry rules only match that pair.
    # 400 checks that a client classifies throttling by the error code alone.
    "throttle_status": 503,
    "error_fraction": 0.0,
    "error_status": 503,
    "fail_action": None,
    "fail_code": "UnauthorizedOperation",
    "fail_status": 400,
    "fail_times": 1,
    "fail_after_forward": False,
    "delay_ms": 0,
    "delay_action": None,
    "seed": None,
    "not_found_for": 0.0,
    "not_found_actions": "DescribeInstances,DescribeImages,TerminateInstances,DeregisterImage,"
                         "DeleteSecurityGroup",
}
ERROR_CODES = {500: ("InternalError", "An internal error has occurred."),
               503: ("Unavailable", "The server is overloaded and can't handle the request.")}
# Connection-scoped headers: each hop has its own connection, and bodies are re-framed
# with Content-Length (http.client has already undone any chunking).
HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "proxy-authenticate",
              "proxy-authorization", "te", "trailer", "transfer-encoding", "upgrade", "expect"}


def validated(cfg):
    unknown = set(cfg) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown keys: {sorted(unknown)}")
    c = {**DEFAULTS, **cfg}
    for k in ("throttle_fraction", "error_fraction"):
        if not 0 <= float(c[k]) <= 1:
            raise ValueError(f"{k} must be within 0..1")
        c[k] = float(c[k])
    if c["throttle_fraction"] + c["error_fraction"] > 1:
        raise ValueError("throttle_fraction + error_fraction must not exceed 1")
    if c["error_status"] not in ERROR_CODES:
        raise ValueError("error_status must be 500 or 503")
    c["not_found_for"] = float(c["not_found_for"])
    for k in ("throttle_status", "fail_status", "fail_times", "delay_ms"):
        c[k] = int(c[k])
    c["fail_after_forward"] = bool(c["fail_after_forward"])
    return c


class Faults:
    """Config, counters and the random generator, shared by all handler threads."""

    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.requests, self.faults = {}, {}
        self.set(cfg)

    def set(self, cfg):
        cfg = validated(cfg)
        with self.lock:
            self.cfg, self.fail_remaining = cfg, cfg["fail_times"]
            self.rng = random.Random(cfg["seed"])

    def reset_counters(self):
        with self.lock:
            self.requests, self.faults = {}, {}

    def state(self):
        with self.lock:
            return {"config": self.cfg, "fail_remaining": self.fail_remaining,
                    "requests": dict(self.requests), "faults": dict(self.faults),
                    "not_found": dict(FRESH.counts)}

    def decide(self, action):
        """Count the call; return (config snapshot, fault or None, forward first?)."""
        with self.lock:
            c = self.cfg
            self.requests[action] = self.requests.get(action, 0) + 1
            fault, after = None, False
            if action == c["fail_action"] and self.fail_remaining != 0:
                if self.fail_remaining > 0:  # -1: fail forever
                    self.fail_remaining -= 1
                fault = (c["fail_status"], c["fail_code"], f"Injected {c['fail_code']} for {action}.")
                after = c["fail_after_forward"]
            elif c["throttle_fraction"] or c["error_fraction"]:
                # One draw per call, so a seed replays the same sequence for the same calls.
                u = self.rng.random()
                if u < c["throttle_fraction"]:
                    fault = (c["throttle_status"], "RequestLimitExceeded", "Request limit exceeded.")
                elif u < c["throttle_fraction"] + c["error_fraction"]:
                    fault = (c["error_status"], *ERROR_CODES[c["error_status"]])
            if fault:
                self.faults[action] = self.faults.get(action, 0) + 1
            return c, fault, after


class Fresh:
    """Eventual consistency: ids created in the last `not_found_for` seconds are not found.

    The Amazon EC2 API Reference ("Eventual consistency in the Amazon EC2 API") warns that a
    resource may not be visible to the calls that follow its creation at once, and that such
    a call then fails with the resource's not-found code (InvalidInstanceID.NotFound,
    InvalidAMIID.NotFound, InvalidGroup.NotFound).
    """

    # Create action -> (element of its answer holding the new id, the not-found code).
    CREATES = {"RunInstances": ("instanceId", "InvalidInstanceID.NotFound"),
               "CreateImage": ("imageId", "InvalidAMIID.NotFound"),
               "CreateSecurityGroup": ("groupId", "InvalidGroup.NotFound")}

    def __init__(self):
        self.lock = threading.Lock()
        self.born = {}  # id -> (time.monotonic() of its create, not-found code)
        self.counts = {}

    def record(self, action, status, body):
        """After a create's answer: remember the first id it names."""
        if action not in self.CREATES or status != 200:
            return
        tag, code = self.CREATES[action]
        m = re.search(rf"<{tag}>([^<]+)</{tag}>".encode(), body)
        if m:
            with self.lock:
                self.born[m.group(1).decode()] = (time.monotonic(), code)

    def hides(self, cfg, action, params):
        """(id, code) when this call names an id still too new to be seen, else None."""
        if cfg["not_found_for"] <= 0 or action not in cfg["not_found_actions"].split(","):
            return None
        now = time.monotonic()
        with self.lock:
            for values in params.values():
                for v in values:
                    born = self.born.get(v)
                    if born and now - born[0] < cfg["not_found_for"]:
                        self.counts[action] = self.counts.get(action, 0) + 1
                        return v, born[1]
        return None


def ec2_error_xml(code, message):
    # The shape EC2 (and botocore's / the Rust SDK's ec2 query parsers) use: note RequestID.
    return ('<?xml version="1.0" encoding="UTF-8"?>\n<Response><Errors><Error>'
            f"<Code>{escape(code)}</Code><Message>{escape(message)}</Message>"
            f"</Error></Errors><RequestID>{uuid.uuid4()}</RequestID></Response>").encode()


FRESH = Fresh()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive towards the client; every answer is sized
    # Headers and body are two writes: with Nagle on, the body waits for the client's delayed
    # ACK (40 ms on Linux), which would add 40 ms to every EC2 call on a kept-alive connection.
    disable_nagle_algorithm = True

    def do_ANY(self):
        try:
            body = self.read_body()
        except ValueError as e:
            return self.reply(400, [("Content-Type", "text/plain")], str(e).encode())
        path = urllib.parse.urlsplit(self.path).path
        if self.server.control and path == "/_faults":
            return self.control(body)
        action = None if path.startswith("/moto-api/") else self.action(body)
        if action is None:
            return self.reply(*self.forward(body))
        cfg, fault, after = self.server.faults.decide(action)
        hidden = FRESH.hides(cfg, action, self.params(body))
        if hidden:
            self.log(f"{action}: {hidden[0]} not visible yet: {hidden[1]}")
            return self.reply(400, [("Content-Type", "text/xml;charset=UTF-8")],
                              ec2_error_xml(hidden[1], f"The ID '{hidden[0]}' does not exist"))
        if cfg["delay_ms"] > 0 and cfg["delay_action"] in (None, action):
            time.sleep(cfg["delay_ms"] / 1000)
        if fault and after:
            self.forward(body)  # executed upstream; the answer is "lost"
        if fault:
            self.log(f"{action}: injected {fault[0]} {fault[1]}" + (" after forwarding" if after else ""))
            return self.reply(fault[0], [("Content-Type", "text/xml;charset=UTF-8")],
                              ec2_error_xml(fault[1], fault[2]))
        status, headers, answer = self.forward(body)
        FRESH.record(action, status, answer)
        self.reply(status, headers, answer)

    do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = do_OPTIONS = do_ANY

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers, up to the empty line that ends the body
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()  # the CRLF after each chunk
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def params(self, body):
        params = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            params.update(urllib.parse.parse_qs(body.decode("utf-8", "replace")))
        return params

    def action(self, body):
        return self.params(body).get("Action", [None])[0]

    def forward(self, body):
        """Send the request upstream as received; return (status, headers, body)."""
        up = self.server.upstream
        # A fresh connection per call: moto's werkzeug server closes after every response
        # anyway, and a POST must never be re-sent on a stale pooled connection.
        conn = http.client.HTTPConnection(up.hostname, up.port, timeout=300)
        try:
            conn.putrequest(self.command, self.path, skip_host=True, skip_accept_encoding=True)
            for k, v in self.headers.items():  # Host and Authorization stay as signed
                if k.lower() not in HOP_BY_HOP and k.lower() != "content-length":
                    conn.putheader(k, v)
            if body or self.command in ("POST", "PUT", "PATCH"):
                conn.putheader("Content-Length", str(len(body)))
            conn.endheaders(body or None)
            r = conn.getresponse()
            return r.status, [(k, v) for k, v in r.getheaders()
                              if k.lower() not in HOP_BY_HOP and k.lower() != "content-length"], r.read()
        except OSError as e:
            return 502, [("Content-Type", "text/plain")], f"fault_proxy: upstream: {e}".encode()
        finally:
            conn.close()

    def reply(self, status, headers, body):
        try:
            self.send_response_only(status)
            for k, v in headers:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
            self.wfile.flush()
        except OSError:
            self.close_connection = True  # the client gave up (timeout); nothing to tell it

    def control(self, body):
        f = self.server.faults
        try:
            if self.command == "POST":
                cfg = json.loads(body or b"{}")
                if not isinstance(cfg, dict):
                    raise ValueError("expected a JSON object")
                f.set(cfg)
            elif self.command == "DELETE":
                f.reset_counters()
            elif self.command != "GET":
                return self.reply(405, [("Allow", "GET, POST, DELETE")], b"")
        except (ValueError, TypeError) as e:
            return self.reply(400, [("Content-Type", "text/plain")], f"{e}\n".encode())
        self.log(f"{self.command} /_faults -> {f.cfg}")
        self.reply(200, [("Content-Type", "application/json")], json.dumps(f.state()).encode())

    def log(self, msg):
        if self.server.verbose:
            sys.stderr.write(f"fault_proxy: {msg}\n")

    def log_message(self, fmt, *args):
        self.log(fmt % args)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--upstream", required=True, help="moto's URL, http://127.0.0.1:PORT")
    p.add_argument("--port", type=int, default=0, help="0 picks a free port")
    p.add_argument("--control", action="store_true", help="serve GET/POST/DELETE /_faults")
    p.add_argument("--verbose", action="store_true", help="log requests and faults to stderr")
    for k, v in DEFAULTS.items():
        flag = "--" + k.replace("_", "-")
        if isinstance(v, bool):
            p.add_argument(flag, action="store_true")
        else:
            p.add_argument(flag, type=type(v) if v is not None else str, default=v)
    a = p.parse_args()
    cfg = {k: getattr(a, k) for k in DEFAULTS}
    if cfg["seed"] is not None:
        cfg["seed"] = int(cfg["seed"])
    up = urllib.parse.urlsplit(a.upstream)
    if up.scheme != "http" or up.hostname != "127.0.0.1":
        p.error("--upstream must be http://127.0.0.1:PORT")

    server = ThreadingHTTPServer(("127.0.0.1", a.port), Handler)
    server.daemon_threads = True
    server.upstream, server.control, server.verbose = up, a.control, a.verbose
    try:
        server.faults = Faults(cfg)
    except ValueError as e:
        p.error(str(e))

    def stop(signum, frame):
        raise SystemExit(0)  # unwinds serve_forever in the main thread

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    print(f"READY http://127.0.0.1:{server.server_port}", flush=True)
    try:
        server.serve_forever()
    finally:
        server.server_close()


if __name__ == "__main__":
    sys.exit(main())
