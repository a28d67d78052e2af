#!/usr/bin/env python3
"""python_app.py HOST PORT USER PASSWORD FROM TO EML CA - a typical Python app's mail code.

What many apps (and Django's SMTP backend) do, with nothing but the standard
library: smtplib over STARTTLS with certificate verification, login() (which
tries every mechanism the server advertises, PLAIN then LOGIN), sendmail().
Any 2xx at the end of the data is success (smtplib raises for anything but
250, such as OCI's 254 suppression reply). It retries what is temporary - a 4xx reply, a dropped connection, a timeout -
with exponential backoff and jitter (1 s, 2 s, 4 s ... times 1 to 1.25, at
most 6 tries), and gives up at once on a 5xx. Exit 0 when the message was
accepted; 1 with the last reply ("failed: 535 ...") on stderr otherwise.

The conformance runner's self-test grades it through the whole OCI suite as
an ad-hoc SMTP-only client ('smtp: python3 python_app.py ...'): it must get
no FAIL, its HTTPS cases SKIPPED and its AUTH mechanism fallback a WARN.
"""
import random
import smtplib
import socket
import ssl
import sys
import time

TRIES = 6
TIMEOUT = 20  # seconds for each socket operation


class Permanent(Exception):
    pass


def send_once(host, port, user, password, sender, rcpt, data, ctx):
    with smtplib.SMTP(host, port, timeout=TIMEOUT) as s:
        s.starttls(context=ctx)
        s.login(user, password)
        refused = s.sendmail(sender, [rcpt], data)
        if refused:
            raise Permanent("refused: %r" % refused)


def code_of(e):
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return min(code for code, _ in e.recipients.values())
    return getattr(e, "smtp_code", 0)


def describe(e):
    if isinstance(e, smtplib.SMTPRecipientsRefused):
        return "; ".join("%d %s" % (c, t.decode(errors="replace")) for c, t in e.recipients.values())
    if isinstance(e, smtplib.SMTPResponseException):
        text = e.smtp_error
        return "%d %s" % (e.smtp_code, text.decode(errors="replace") if isinstance(text, bytes) else text)
    return "%s: %s" % (type(e).__name__, e)


def main():
    host, port, user, password, sender, rcpt, eml, ca = sys.argv[1:9]
    ctx = ssl.create_default_context(cafile=ca)
    with open(eml, "rb") as f:
        data = f.read()
    for n in range(TRIES):
        try:
            send_once(host, int(port), user, password, sender, rcpt, data, ctx)
            print("sent after %d tries" % (n + 1))
            return 0
        except Permanent as e:
            print("failed: %s" % e, file=sys.stderr)
            return 1
        except (smtplib.SMTPException, OSError, socket.timeout) as e:
            code = code_of(e)
            if 200 <= code < 300:  # smtplib wants 250; OCI's 254 accepts with a suppression
                print("sent after %d tries: %s" % (n + 1, describe(e)))
                return 0
            print("try %d: %s" % (n + 1, describe(e)), file=sys.stderr)
            if code >= 500:
                print("failed: %s" % describe(e), file=sys.stderr)
                return 1
            if n + 1 < TRIES:
                time.sleep(2 ** n * random.uniform(1.0, 1.25))
    print("failed: gave up after %d tries" % TRIES, file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
