#!/usr/bin/env python3
"""smtplib_send.py - the "smtplib" client of edsim-conform.

Sends the case's message once with Python's smtplib: STARTTLS (verifying
edsim's certificate), AUTH with login(), then send_message(). Everything
comes from the EDSIM_* variables the runner sets. Exit 0 when the message
was accepted; on failure, exit 1 with the reply code and text on stderr.
"""
import os
import smtplib
import ssl
import sys

env = os.environ
try:
    ctx = ssl.create_default_context(cafile=env["EDSIM_CA"])
    with smtplib.SMTP(env["EDSIM_SMTP_HOST"], int(env["EDSIM_SMTP_PORT"]), timeout=30) as s:
        s.starttls(context=ctx)
        s.login(env["EDSIM_USER"], env["EDSIM_PASSWORD"])
        with open(env["EDSIM_EML"], "rb") as f:
            refused = s.sendmail(env["EDSIM_FROM"], [env["EDSIM_TO"]], f.read())
    print("accepted" + (" (refused: %r)" % refused if refused else ""))
except smtplib.SMTPResponseException as e:
    text = e.smtp_error.decode(errors="replace") if isinstance(e.smtp_error, bytes) else str(e.smtp_error)
    print("failed: %d %s" % (e.smtp_code, text), file=sys.stderr)
    sys.exit(1)
except smtplib.SMTPRecipientsRefused as e:
    for rcpt, (code, text) in e.recipients.items():
        print("failed: %d %s (%s)" % (code, text.decode(errors="replace"), rcpt), file=sys.stderr)
    sys.exit(1)
except (OSError, smtplib.SMTPException) as e:
    print("failed: %s" % e, file=sys.stderr)
    sys.exit(1)
