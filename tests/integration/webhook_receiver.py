#!/usr/bin/env python3
"""webhook_receiver.py - a small receiver of edsim's webhooks for integration tests.

    python3 webhook_receiver.py --port-file FILE --log FILE [--secret S] [--fail-first N]

Binds 127.0.0.1 on a free port and writes that port to --port-file (written
to a temporary name and renamed, so a reader never sees a partial file).
Every POST is answered 500 while fewer than N requests have been seen
(--fail-first), 200 afterwards, and appends one JSON line to --log:

    {"time": unix seconds (float), "event": X-Edsim-Event,
     "delivery": X-Edsim-Delivery, "signature_ok": true/false, or null without
     --secret, "status": the status answered, "body": the parsed JSON body
     (or the raw text when it is not JSON)}

The signature checked is X-Edsim-Signature == "sha256=" + hex HMAC-SHA256
(secret, X-Edsim-Timestamp "." body). Requests are served on threads
(ThreadingHTTPServer); the log is written under a lock, one flushed line per
request. SIGTERM and SIGINT stop the server and exit with status 0.
Standard library only.
"""

import argparse
import hashlib
import hmac
import json
import os
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Receiver(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, log_path, secret, fail_first):
        super().__init__(("127.0.0.1", 0), Handler)
        self.secret = secret.encode() if secret is not None else None
        self.fail_first = fail_first
        self.lock = threading.Lock()
        self.seen = 0
        self.log = open(log_path, "a", encoding="utf-8")

    def next_status(self):
        """The status for the next request (500 for the first fail_first)."""
        with self.lock:
            self.seen += 1
            return 500 if self.seen <= self.fail_first else 200

    def signature_ok(self, headers, body):
        if self.secret is None:
            return None
        stamp = headers.get("X-Edsim-Timestamp", "")
        mac = hmac.new(self.secret, stamp.encode() + b"." + body, hashlib.sha256)
        expected = "sha256=" + mac.hexdigest()
        return hmac.compare_digest(expected, headers.get("X-Edsim-Signature", ""))

    def record(self, entry):
        line = json.dumps(entry, ensure_ascii=False)
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as curl expects

    def do_POST(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length > 0 else b""
        status = self.server.next_status()
        try:
            parsed = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError):
            parsed = body.decode("utf-8", "replace")
        self.server.record({
            "time": time.time(),
            "event": self.headers.get("X-Edsim-Event"),
            "delivery": self.headers.get("X-Edsim-Delivery"),
            "signature_ok": self.server.signature_ok(self.headers, body),
            "status": status,
            "body": parsed,
        })
        reply = b"ok\n" if status == 200 else b"failing on purpose\n"
        self.send_response(status)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def log_message(self, format, *args):  # quiet: the JSON log is the record
        pass


def write_port(path, port):
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="ascii") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main():
    ap = argparse.ArgumentParser(description="Receives edsim webhooks and logs them.")
    ap.add_argument("--port-file", required=True)
    ap.add_argument("--log", required=True)
    ap.add_argument("--secret")
    ap.add_argument("--fail-first", type=int, default=0)
    args = ap.parse_args()

    server = Receiver(args.log, args.secret, args.fail_first)

    def stop(signum, frame):
        # shutdown() waits for serve_forever(), which runs in this thread:
        # hand it to another one.
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    write_port(args.port_file, server.server_address[1])
    try:
        server.serve_forever()
    finally:
        server.server_close()
        server.log.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
