#!/usr/bin/env python3
"""catalog_drive.py - helpers for scenario_catalog.sh (python3 stdlib only).

  catalog_drive.py ids CATALOG [documented|inferred]
      prints the id of every SMTP row of the catalog (or only of those with
      that source), one a line.

  catalog_drive.py drive CATALOG SCENARIO STAGE PORT CONTROL_PORT CAFILE
      SCENARIO forces the catalog row named by its file name
      (scenarios/oci/smtp/<id>.yaml) with a single rule at STAGE. Drives a
      standard SMTP conversation to 127.0.0.1:PORT that reaches STAGE (with
      STARTTLS and AUTH PLAIN for stage auth, or when the rule matches a user),
      reads the reply at that stage and compares it with the catalog line for
      the id, placeholders filled. When the catalog says the reply closes the
      connection, the connection must then close. Prints "ok: LINE" and exits
      0, or prints what differs and exits 1.

The catalog and the scenario file are read with small regular expressions
(there is no yaml module here): catalog rows are "  - id: ..." followed by
"    key: value" lines; in the scenario file, the keys of the rule are found
wherever they are (flow or block style).
"""
import base64
import json
import re
import socket
import ssl
import sys
import time
import urllib.request

SENDER = "sender@example.com"
RECIPIENT = "rcpt@example.net"
HELO = "client.test"
HOSTNAME = "localhost"
MESSAGE_BYTES = 2097152
TIMEOUT = 10


def unquote(v):
    v = v.strip()
    if v == "null" or v == "~":
        return None
    if len(v) >= 2 and v[0] == '"' and v[-1] == '"':
        return re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), v[1:-1])
    if len(v) >= 2 and v[0] == "'" and v[-1] == "'":
        return v[1:-1].replace("''", "'")
    return v


def load_catalog(path):
    rows, row = {}, None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^  - id:\s*(.*?)\s*$", line)
        if m:
            row = {"id": unquote(m.group(1))}
            rows[row["id"]] = row
            continue
        m = re.match(r"^    ([a-z_]+):\s*(.*?)\s*$", line)
        if m and row is not None:
            row[m.group(1)] = unquote(m.group(2))
    return rows


def smtp_rows(rows):
    return [r for r in rows.values() if r.get("protocol") == "smtp"]


def rule_value(text, key):
    """The value of KEY in the scenario's rules (flow or block style), or None."""
    m = re.search(r"(?:^|[\s{,])%s:\s*(\"[^\"]*\"|'[^']*'|[^,}\n#]+)" % re.escape(key), text, re.M)
    return unquote(m.group(1)) if m else None


def rules_section(text, key="rules"):
    """The lines of a top-level key (rules: by default), comments removed."""
    out, inside = [], False
    for line in text.splitlines():
        if re.match(r"^[A-Za-z_]", line):
            inside = line.startswith(key + ":")
        if inside:
            out.append(re.sub(r"(^|\s)#.*$", "", line))
    return "\n".join(out) + "\n"


def concrete(glob, default):
    """An address matching a glob pattern (each * and ? becomes 'x')."""
    if glob is None:
        return default
    return re.sub(r"\[[^]]*\]", "x", glob).replace("*", "x").replace("?", "x")


class Conn:
    def __init__(self, port, source="127.0.0.1"):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT,
                                             source_address=(source, 0))
        self.buf = b""
        self.commands = 0

    def readline(self):
        while b"\n" not in self.buf:
            try:
                data = self.sock.recv(4096)
            except (ConnectionResetError, ssl.SSLError, OSError):
                data = b""
            if not data:
                return None
            self.buf += data
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode("utf-8", "replace").rstrip("\r")

    def reply(self):
        lines = []
        while True:
            line = self.readline()
            if line is None:
                return lines, True
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines, False

    def send(self, text, count=True):
        if count:
            self.commands += 1
        self.sock.sendall((text + "\r\n").encode())

    def command(self, text):
        self.send(text)
        return self.reply()

    def starttls(self, cafile):
        ctx = ssl.create_default_context(cafile=cafile)
        ctx.check_hostname = False
        self.sock = ctx.wrap_socket(self.sock, server_hostname=HOSTNAME)
        self.buf = b""

    def closes_within(self, secs):
        self.sock.settimeout(secs)
        try:
            while True:
                data = self.sock.recv(4096)
                if not data:
                    return True, ""
                return False, data.decode("utf-8", "replace").strip()
        except socket.timeout:
            return False, "(still open after %ss)" % secs
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True, ""


class Failure(Exception):
    pass


def expect_ok(what, lines, closed, prefix):
    if closed or not lines or not lines[-1].startswith(prefix):
        raise Failure("%s: expected %s..., got %s" % (what, prefix, " / ".join(lines) + (" <closed>" if closed else "")))


def newest_message_id(control_port):
    with urllib.request.urlopen("http://127.0.0.1:%s/api/v1/messages?limit=1" % control_port, timeout=5) as r:
        msgs = json.load(r)["messages"]
    return msgs[0]["id"] if msgs else None


def drive(catalog, scenario, stage, port, control_port, cafile):
    cid = re.sub(r"\.yaml$", "", scenario.rsplit("/", 1)[-1])
    rows = load_catalog(catalog)
    row = rows.get(cid)
    if row is None or row.get("protocol") != "smtp":
        raise Failure("'%s' (the file name) is not an SMTP row of the catalog" % cid)
    whole = open(scenario, encoding="utf-8").read()
    text = rules_section(whole)
    # The scenario's settings: override the configuration (limits, hostname).
    settings = rules_section(whole, "settings")
    configured = {}
    for key in ("per_minute", "per_day", "message_bytes", "hostname"):
        v = rule_value(settings, key)
        if v is not None:
            configured[key] = v
    nrules = len(re.findall(r"(?:^|[\s{,-])when:", text))
    if nrules != 1:
        raise Failure("expected a single rule, found %d 'when:'" % nrules)
    reply_id = rule_value(text, "reply")
    if reply_id != cid:
        raise Failure("the rule's reply is %r, not the file's id %r" % (reply_id, cid))

    sender = concrete(rule_value(text, "sender"), SENDER)
    recipient = concrete(rule_value(text, "recipient"), RECIPIENT)
    user = rule_value(text, "user")
    source = rule_value(text, "client_ip") or "127.0.0.1"
    mechanism = (rule_value(text, "mechanism") or "PLAIN").upper()
    command_no = int(rule_value(text, "command") or 0)
    connection_no = int(rule_value(text, "connection") or 1)
    authed_user = None

    for _ in range(connection_no - 1):  # earlier connections, for `connection: N`
        c = Conn(port, source)
        c.reply()
        c.command("QUIT")
        c.sock.close()

    c = Conn(port, source)
    got = None

    def at_stage(cmd):
        """Sends the stage's command (after NOOPs for `command: N`) and returns its reply."""
        while command_no and c.commands < command_no - 1:
            lines, closed = c.command("NOOP")
            expect_ok("NOOP", lines, closed, "250")
        if command_no and c.commands != command_no - 1:
            raise Failure("cannot make the stage's command the command number %d" % command_no)
        return c.command(cmd)

    if stage == "connect":
        if command_no:
            raise Failure("command: at stage connect")
        got = c.reply()
    else:
        lines, closed = c.reply()
        expect_ok("greeting", lines, closed, "220")
        if stage == "ehlo":
            got = at_stage("EHLO " + HELO)
        else:
            lines, closed = c.command("EHLO " + HELO)
            expect_ok("EHLO", lines, closed, "250")
            if stage == "starttls":
                got = at_stage("STARTTLS")
            elif stage == "quit":
                got = at_stage("QUIT")
            elif stage == "rset":
                got = at_stage("RSET")
            else:
                if stage == "auth" or user is not None:
                    lines, closed = c.command("STARTTLS")
                    expect_ok("STARTTLS", lines, closed, "220")
                    c.starttls(cafile)
                    lines, closed = c.command("EHLO " + HELO)
                    expect_ok("EHLO after STARTTLS", lines, closed, "250")
                    name = user or "user"
                    payload = base64.b64encode(b"\0" + name.encode() + b"\0secret").decode()
                    if stage == "auth":
                        if mechanism == "LOGIN":
                            got = at_stage("AUTH LOGIN " + base64.b64encode(name.encode()).decode())
                        else:
                            got = at_stage("AUTH %s %s" % (mechanism, payload))
                    else:
                        lines, closed = c.command("AUTH PLAIN " + payload)
                        expect_ok("AUTH PLAIN", lines, closed, "235")
                        authed_user = name
                if got is None:
                    if stage == "mail":
                        got = at_stage("MAIL FROM:<%s>" % sender)
                    else:
                        lines, closed = c.command("MAIL FROM:<%s>" % sender)
                        expect_ok("MAIL", lines, closed, "250")
                        if stage == "rcpt":
                            got = at_stage("RCPT TO:<%s>" % recipient)
                        else:
                            lines, closed = c.command("RCPT TO:<%s>" % recipient)
                            expect_ok("RCPT", lines, closed, "250")
                            if stage == "data":
                                got = at_stage("DATA")
                            elif stage == "data-end":
                                lines, closed = c.command("DATA")
                                expect_ok("DATA", lines, closed, "354")
                                body = ("From: %s\r\nTo: %s\r\nSubject: catalog %s\r\n"
                                        "Message-ID: <%s.%d@example.com>\r\n\r\nhello\r\n."
                                        % (sender, recipient, cid, cid, int(time.time() * 1000)))
                                c.sock.sendall(body.encode() + b"\r\n")
                                got = c.reply()
                            else:
                                raise Failure("unknown stage '%s'" % stage)

    lines, closed = got
    # The catalog line, placeholders filled as the service would.
    limit = configured.get("message_bytes", MESSAGE_BYTES)
    if cid == "oci.smtp.rate-minute":
        limit = configured.get("per_minute", 0)  # limits.per_minute: 0 by default
    elif cid == "oci.smtp.rate-day":
        limit = configured.get("per_day", 0)
    has_mail = stage in ("rcpt", "data", "data-end") or (stage == "mail")
    has_rcpt = stage in ("rcpt", "data", "data-end")
    if cid == "oci.smtp.sender-not-authorized":
        address = sender
    elif stage == "rcpt":
        address = recipient  # the address of the command being refused
    else:
        address = sender if has_mail else ""
    if cid == "oci.smtp.invalid-address":
        address = "<%s>" % address
    message_id = "-"
    if stage == "data-end" and int(row["code"]) < 400:
        message_id = newest_message_id(control_port) or "(no message stored)"
    values = {
        "user": authed_user or "anonymous",
        "recipient": recipient if has_rcpt else "",
        "address": address,
        "sender": sender if has_mail else "",
        "hostname": configured.get("hostname", HOSTNAME),
        "helo": HELO,
        "limit": str(limit),
        "id": message_id,
        "challenge": "VXNlcm5hbWU6" if mechanism == "LOGIN" else "",
    }
    filled = re.sub(r"\{([a-z]+)\}", lambda m: values.get(m.group(1), m.group(0)), row["text"])
    want = "%s %s %s" % (row["code"], row["enhanced"], filled) if row.get("enhanced") else "%s %s" % (row["code"], filled)
    shown = " / ".join(lines) + (" <closed>" if closed else "")
    if lines != [want]:
        raise Failure("at stage %s expected '%s', got '%s'" % (stage, want, shown))
    if row.get("closes") == "true":
        ok, extra = (True, "") if closed else c.closes_within(3)
        if not ok:
            raise Failure("'%s' closes the connection (catalog closes: true), but it did not: %s" % (want, extra))
    return want


def main():
    if sys.argv[1] == "ids":  # ids CATALOG [SOURCE]: SMTP rows, optionally only documented/inferred
        for r in smtp_rows(load_catalog(sys.argv[2])):
            if len(sys.argv) < 4 or r.get("source") == sys.argv[3]:
                print(r["id"])
        return 0
    if sys.argv[1] == "drive":
        try:
            print("ok: " + drive(*sys.argv[2:8]))
            return 0
        except Failure as e:
            print(str(e))
        except (OSError, ValueError) as e:
            print("error: %s" % e)
        return 1
    print(__doc__)
    return 2


if __name__ == "__main__":
    sys.exit(main())
