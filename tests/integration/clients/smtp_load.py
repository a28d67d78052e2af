#!/usr/bin/env python3
"""smtp_load.py - concurrent SMTP load for edsim integration tests (stdlib only).

Opens --sessions SMTP sessions in threads; each sends --per-session messages,
one after the other, each with a unique Message-ID <PREFIX-S-M@load.test>.
Every session connects and reads its greeting first; with --together the
sessions then wait for each other (a barrier) so that all of them are open at
the same time before any of them sends a message.

  --tls        implicit TLS (SMTPS); --starttls: STARTTLS on the plain port
  --ca FILE    CA certificate to verify the server with (required with TLS)
  --auth U:P   AUTH PLAIN with these credentials (needs TLS)
  --acked FILE after each 250 to DATA, append the Message-ID as one line and
               flush it, so that a reader of FILE sees only acknowledged ids
  --delay S    sleep S seconds before each message

Prints one JSON object on stdout:
  {"sessions": N, "sent": N, "acked": N, "connected_together": N,
   "codes": {"250": N, ...}, "errors": {"what": N}, "acked_ids": [...],
   "failed": [{"message_id": ..., "error": ...}, ...]  (first 20)}
Exit status 0 when every message got 250, 1 otherwise.
"""
import argparse
import collections
import json
import smtplib
import ssl
import sys
import threading
import time


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--sessions", type=int, default=10)
    p.add_argument("--per-session", type=int, default=1)
    p.add_argument("--prefix", default="load")
    p.add_argument("--tls", action="store_true")
    p.add_argument("--starttls", action="store_true")
    p.add_argument("--ca")
    p.add_argument("--auth")
    p.add_argument("--acked")
    p.add_argument("--delay", type=float, default=0.0)
    p.add_argument("--together", action="store_true")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("--from-addr", default="load@example.com")
    p.add_argument("--to-addr", default="sink@example.net")
    return p.parse_args()


class Load:
    def __init__(self, a):
        self.a = a
        self.lock = threading.Lock()
        self.codes = collections.Counter()
        self.errors = collections.Counter()
        self.acked_ids = []
        self.failed = []
        self.sent = 0
        self.connected = 0
        self.barrier = threading.Barrier(a.sessions) if a.together else None
        self.acked_file = open(a.acked, "a", encoding="ascii") if a.acked else None
        self.ctx = None
        if a.tls or a.starttls:
            self.ctx = ssl.create_default_context(cafile=a.ca)
            self.ctx.check_hostname = False  # edsim's certificate names "localhost"

    def note_error(self, what, mid=None):
        with self.lock:
            self.errors[what] += 1
            if mid is not None and len(self.failed) < 20:
                self.failed.append({"message_id": mid, "error": what})

    def message(self, mid, s, m):
        return (
            "From: %s\r\nTo: %s\r\nSubject: load %s %d/%d\r\nMessage-ID: %s\r\n\r\n"
            "Load test message %d of session %d.\r\n.leading dot\r\n"
            % (self.a.from_addr, self.a.to_addr, self.a.prefix, s, m, mid, m, s)
        )

    def connect(self):
        a = self.a
        if a.tls:
            c = smtplib.SMTP_SSL(a.host, a.port, timeout=a.timeout, context=self.ctx)
        else:
            c = smtplib.SMTP(a.host, a.port, timeout=a.timeout)
        c.ehlo("load.test")
        if a.starttls:
            c.starttls(context=self.ctx)
            c.ehlo("load.test")
        if a.auth:
            user, _, password = a.auth.partition(":")
            c.login(user, password)  # edsim offers PLAIN first
        return c

    def session(self, s):
        a = self.a
        try:
            c = self.connect()
        except Exception as e:  # noqa: BLE001 - any failure is a test result
            self.note_error("connect: %s" % type(e).__name__)
            if self.barrier:
                self.barrier.abort()
            return
        with self.lock:
            self.connected += 1
        if self.barrier:
            try:
                self.barrier.wait(timeout=a.timeout)
            except threading.BrokenBarrierError:
                self.note_error("barrier broken")
        for m in range(a.per_session):
            mid = "<%s-%d-%d@load.test>" % (a.prefix, s, m)
            if a.delay:
                time.sleep(a.delay)
            with self.lock:
                self.sent += 1
            try:
                code, resp = c.mail(a.from_addr)
                if code != 250:
                    raise smtplib.SMTPResponseException(code, resp)
                code, resp = c.rcpt(a.to_addr)
                if code != 250:
                    raise smtplib.SMTPResponseException(code, resp)
                code, resp = c.data(self.message(mid, s, m).encode("ascii"))
            except smtplib.SMTPResponseException as e:
                with self.lock:
                    self.codes[str(e.smtp_code)] += 1
                self.note_error("reply %d" % e.smtp_code, mid)
                try:
                    c.rset()
                except Exception:  # noqa: BLE001
                    return
                continue
            except Exception as e:  # noqa: BLE001 - the connection is gone
                self.note_error("connection: %s" % type(e).__name__, mid)
                return
            with self.lock:
                self.codes[str(code)] += 1
                if code == 250:
                    self.acked_ids.append(mid)
                    if self.acked_file:
                        self.acked_file.write(mid + "\n")
                        self.acked_file.flush()
        try:
            c.quit()
        except Exception as e:  # noqa: BLE001
            self.note_error("quit: %s" % type(e).__name__)

    def run(self):
        threads = [threading.Thread(target=self.session, args=(s,)) for s in range(self.a.sessions)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if self.acked_file:
            self.acked_file.close()
        total = self.a.sessions * self.a.per_session
        out = {
            "sessions": self.a.sessions,
            "sent": self.sent,
            "acked": len(self.acked_ids),
            "connected_together": self.connected if self.barrier else None,
            "codes": dict(self.codes),
            "errors": dict(self.errors),
            "acked_ids": sorted(self.acked_ids),
            "failed": self.failed,
        }
        json.dump(out, sys.stdout)
        sys.stdout.write("\n")
        return 0 if len(self.acked_ids) == total and not self.errors else 1


if __name__ == "__main__":
    sys.exit(Load(parse_args()).run())
