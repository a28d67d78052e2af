#!/usr/bin/env python3
"""replay_scenario.py - reads a scenario for edsim-replay (python3 stdlib only).

  replay_scenario.py SCENARIO CATALOG [HOST PORT]

Reads the scenario file SCENARIO (edsim's scenario language, see
scenarios/README.md) and the catalog CATALOG (scenarios/catalog/oci.yaml), and
prints what edsim-replay needs to know, one fact a line, fields separated by
TABs (a TAB, a newline or a backslash inside a field is written \\t, \\n, \\\\):

  name      NAME                  title     TITLE
  setting   KEY VALUE             (hostname, per_minute, per_day, message_bytes,
                                   auth_required, users)
  suppression ADDRESS             (settings.suppressions)
  rule      N LINE                (rule N of the file starts at line LINE)
  when      N KEY VALUE           (stage, connection, command, attempt, times,
                                   sender, recipient, user, client_ip, mechanism,
                                   probability)
  do        N KEY VALUE           (delay in seconds, close, drop, accept,
                                   discard, suppress, set: 0 or 1,
                                   use_quota: a number of messages)
  reply     N catalog ID CODE ENHANCED TEXT CLOSES
  reply     N literal LINE        (one fact per line of a literal reply)
  client_ip ADDRESS               (with HOST PORT: the local address the kernel
                                   picks to reach them, without connecting)

There is no yaml module here, so the file is read by a small reader of the
YAML that scenarios use: block mappings and sequences, flow mappings and
sequences ({a: b, c: [x, y]}), plain, single- and double-quoted scalars,
literal and folded block scalars, comments. Exit status 2, with a message on
standard error, when a file cannot be read.
"""
import re
import socket
import sys


class YamlError(Exception):
    pass


def unescape_double(s):
    table = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"', "/": "/", " ": " "}
    return re.sub(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|.)",
                  lambda m: chr(int(m.group(1)[1:], 16)) if m.group(1)[0] in "xu" and len(m.group(1)) > 1
                  else table.get(m.group(1), m.group(1)), s)


def strip_comment(s):
    """s without a trailing comment (a # at the start or after a blank, outside quotes)."""
    quote, i = None, 0
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                if quote == "'" and s.startswith("''", i):
                    i += 1
                else:
                    quote = None
        elif c in "\"'" and (i == 0 or s[i - 1] in " \t[{,:"):
            quote = c
        elif c == "#" and (i == 0 or s[i - 1] in " \t"):
            return s[:i].rstrip()
        i += 1
    return s.rstrip()


def balanced(s):
    depth, quote, i = 0, None, 0
    while i < len(s):
        c = s[i]
        if quote:
            if c == "\\" and quote == '"':
                i += 1
            elif c == quote:
                quote = None
        elif c in "\"'":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
        i += 1
    return depth <= 0 and quote is None


def scalar(s):
    s = s.strip()
    if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
        return unescape_double(s[1:-1])
    if len(s) >= 2 and s[0] == "'" and s[-1] == "'":
        return s[1:-1].replace("''", "'")
    if s in ("~", "null", ""):
        return None
    return s


class Flow:
    """A flow collection or scalar: {a: 1, b: [x, y]}."""

    def __init__(self, text, lineno):
        self.s, self.i, self.lineno = text, 0, lineno

    def ws(self):
        while self.i < len(self.s) and self.s[self.i] in " \t\n":
            self.i += 1

    def error(self, what):
        raise YamlError("line %d: %s in %r" % (self.lineno, what, self.s))

    def value(self):
        self.ws()
        if self.i >= len(self.s):
            return None
        c = self.s[self.i]
        if c == "{":
            self.i += 1
            m = {}
            while True:
                self.ws()
                if self.s.startswith("}", self.i):
                    self.i += 1
                    return m
                key = self.atom(key=True)
                self.ws()
                if self.s.startswith(":", self.i):
                    self.i += 1
                    m[key] = self.value()
                else:
                    m[key] = None
                self.ws()
                if self.s.startswith(",", self.i):
                    self.i += 1
                elif not self.s.startswith("}", self.i):
                    self.error("expected , or }")
        if c == "[":
            self.i += 1
            items = []
            while True:
                self.ws()
                if self.s.startswith("]", self.i):
                    self.i += 1
                    return items
                items.append(self.value())
                self.ws()
                if self.s.startswith(",", self.i):
                    self.i += 1
                elif not self.s.startswith("]", self.i):
                    self.error("expected , or ]")
        return self.atom()

    def atom(self, key=False):
        self.ws()
        c = self.s[self.i] if self.i < len(self.s) else ""
        if c in "\"'":
            j = self.i + 1
            while j < len(self.s):
                if c == '"' and self.s[j] == "\\":
                    j += 2
                    continue
                if self.s[j] == c:
                    if c == "'" and self.s.startswith("''", j):
                        j += 2
                        continue
                    break
                j += 1
            if j >= len(self.s):
                self.error("unterminated quote")
            text = self.s[self.i:j + 1]
            self.i = j + 1
            return scalar(text)
        start = self.i
        while self.i < len(self.s):
            ch = self.s[self.i]
            if ch in ",]}":
                break
            if ch == ":" and key and (self.i + 1 >= len(self.s) or self.s[self.i + 1] in " \t\n,}"):
                break
            if ch == ":" and not key and (self.i + 1 >= len(self.s) or self.s[self.i + 1] in " \t\n"):
                self.error("':' in a flow value")
            self.i += 1
        return scalar(self.s[start:self.i])


class Yaml:
    """Block YAML as scenarios write it; mappings get the key __line__ (1-based)."""

    def __init__(self, text):
        self.lines = text.replace("\t", "    ").split("\n")
        self.i = 0

    @staticmethod
    def indent(line):
        return len(line) - len(line.lstrip(" "))

    def skip(self):
        while self.i < len(self.lines):
            s = self.lines[self.i].strip()
            if s == "" or s.startswith("#") or s in ("---",) or s.startswith("%YAML"):
                self.i += 1
                continue
            if s == "...":
                self.i = len(self.lines)
            break

    def peek(self):
        self.skip()
        if self.i >= len(self.lines):
            return None, None
        line = self.lines[self.i]
        return self.indent(line), line.strip()

    def document(self):
        ind, _ = self.peek()
        if ind is None:
            return None
        v = self.node(ind)
        ind, rest = self.peek()
        if ind is not None:
            raise YamlError("line %d: unexpected %r" % (self.i + 1, rest))
        return v

    def node(self, min_indent):
        ind, s = self.peek()
        if ind is None or ind < min_indent:
            return None
        if s == "-" or s.startswith("- "):
            return self.seq(ind)
        if self.key_split(s) is not None:
            return self.map(ind)
        return self.inline(strip_comment(s), ind - 1)

    @staticmethod
    def key_split(s):
        """(key, rest) when s is 'key: rest' (or 'key:'), else None."""
        m = re.match(r'^("(?:[^"\\]|\\.)*"|\'(?:[^\']|\'\')*\'|[^\s#\'"{\[][^#]*?)\s*:(?:\s+(.*)|$)', s)
        if not m:
            return None
        return scalar(m.group(1)), (m.group(2) or "")

    def seq(self, ind):
        items = []
        while True:
            cur, s = self.peek()
            if cur != ind or not (s == "-" or s.startswith("- ")):
                break
            rest = s[1:]
            col = ind + 1 + (len(rest) - len(rest.lstrip(" ")))
            rest = rest.strip()
            if strip_comment(rest) == "":
                self.i += 1
                items.append(self.node(ind + 1))
            elif self.key_split(rest) is not None and not rest.startswith(("{", "[")):
                self.lines[self.i] = " " * col + rest  # a mapping that starts on the dash line
                items.append(self.map(col))
            else:
                items.append(self.inline(strip_comment(rest), ind))
        return items

    def map(self, ind):
        m = {"__line__": self.i + 1}
        while True:
            cur, s = self.peek()
            if cur is None or cur < ind:
                break
            if cur > ind:
                raise YamlError("line %d: unexpected indentation" % (self.i + 1))
            if s == "-" or s.startswith("- "):
                break
            kv = self.key_split(s)
            if kv is None:
                raise YamlError("line %d: expected 'key: value', got %r" % (self.i + 1, s))
            key, rest = kv
            rest = strip_comment(rest).strip() if not rest.lstrip().startswith(("|", ">")) else rest.strip()
            if rest == "":
                self.i += 1
                nind, ns = self.peek()
                if nind is not None and nind > ind:
                    m[key] = self.node(ind + 1)
                elif nind == ind and (ns == "-" or ns.startswith("- ")):
                    m[key] = self.seq(ind)
                else:
                    m[key] = None
            elif rest[0] in "|>":
                m[key] = self.block_scalar(strip_comment(rest), ind)
            else:
                m[key] = self.inline(rest, ind)
        return m

    def inline(self, rest, ind):
        """A value written on the current line (continued on more lines if needed)."""
        lineno = self.i + 1
        self.i += 1
        if rest.startswith(("{", "[")):
            while not balanced(rest) and self.i < len(self.lines):
                rest += " " + strip_comment(self.lines[self.i].strip())
                self.i += 1
            f = Flow(rest, lineno)
            v = f.value()
            f.ws()
            if f.i != len(f.s):
                f.error("unexpected text after the collection")
            return v
        if rest[0] in "\"'":
            while not self.quote_closed(rest) and self.i < len(self.lines):
                rest += " " + self.lines[self.i].strip()
                self.i += 1
            return scalar(strip_comment(rest))
        # a plain scalar, possibly continued on more-indented lines
        parts = [rest]
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() == "" or self.indent(line) <= ind or line.strip().startswith("#"):
                break
            parts.append(strip_comment(line.strip()))
            self.i += 1
        return scalar(" ".join(parts))

    @staticmethod
    def quote_closed(s):
        q = s[0]
        body = s[1:]
        if q == '"':
            body = re.sub(r"\\.", "", body)
        else:
            body = body.replace("''", "")
        return q in body

    def block_scalar(self, head, ind):
        self.i += 1
        style, chomp = head[0], ""
        for c in head[1:]:
            if c in "+-":
                chomp = c
        lines = []
        content = None
        while self.i < len(self.lines):
            line = self.lines[self.i]
            if line.strip() == "":
                lines.append("")
                self.i += 1
                continue
            cur = self.indent(line)
            if cur <= ind:
                break
            if content is None:
                content = cur
            if cur < content:
                break
            lines.append(line[content:])
            self.i += 1
        while lines and lines[-1] == "" and chomp != "+":
            lines.pop()
        # give back trailing blank lines to the caller
        if style == "|":
            text = "\n".join(lines)
        else:
            out, para = [], []
            for l in lines:
                if l == "":
                    out.append(" ".join(para))
                    para = []
                else:
                    para.append(l)
            out.append(" ".join(para))
            text = "\n".join(p for p in out)
        if chomp != "-":
            text += "\n"
        return text


def load_catalog(path):
    """SMTP rows of the catalog, as catalog_drive.py reads them."""
    rows, row = {}, None
    for line in open(path, encoding="utf-8"):
        m = re.match(r"^  - id:\s*(.*?)\s*$", line)
        if m:
            row = {"id": scalar(m.group(1))}
            rows[row["id"]] = row
            continue
        m = re.match(r"^    ([a-z_]+):\s*(.*?)\s*$", line)
        if m and row is not None:
            row[m.group(1)] = scalar(m.group(2))
    return rows


def duration(v):
    m = re.match(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*(ms|s|m|h|d)?\s*$", str(v))
    if not m:
        raise YamlError("bad duration %r" % v)
    n = float(m.group(1))
    return n * {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]


def truth(v):
    return "1" if str(v).lower() in ("true", "yes", "on", "1") else "0"


def field(v):
    return str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def out(*fields):
    print("\t".join(field(f) for f in fields))


def client_ip(host, port):
    try:
        family, _, _, _, addr = socket.getaddrinfo(host, int(port), 0, socket.SOCK_STREAM)[0]
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.connect(addr)
        ip = s.getsockname()[0]
        s.close()
        return ip
    except OSError:
        return None


def main(argv):
    if len(argv) not in (3, 5):
        sys.stderr.write(__doc__)
        return 2
    path, catalog_path = argv[1], argv[2]
    try:
        text = open(path, encoding="utf-8").read()
    except OSError as e:
        sys.stderr.write("%s: %s\n" % (path, e.strerror))
        return 2
    try:
        catalog = load_catalog(catalog_path)
    except OSError as e:
        sys.stderr.write("%s: %s (the catalog; give --catalog FILE)\n" % (catalog_path, e.strerror))
        return 2
    try:
        doc = Yaml(text).document()
        if not isinstance(doc, dict):
            raise YamlError("the file is not a YAML mapping")
        out("name", doc.get("name") or "")
        out("title", doc.get("title") or "")
        settings = doc.get("settings") or {}
        if not isinstance(settings, dict):
            raise YamlError("settings: expected a mapping")
        if settings.get("hostname"):
            out("setting", "hostname", settings["hostname"])
        limits = settings.get("limits") or {}
        for key in ("per_minute", "per_day", "message_bytes"):
            if isinstance(limits, dict) and limits.get(key) is not None:
                out("setting", key, limits[key])
        auth = settings.get("auth")
        if isinstance(auth, dict) and auth.get("required") is not None:
            out("setting", "auth_required", truth(auth["required"]))
        users = settings.get("users")
        if isinstance(users, list):
            out("setting", "users", " ".join(str(u.get("name")) for u in users if isinstance(u, dict)))
        for a in settings.get("suppressions") or []:
            out("suppression", a)
        rules = doc.get("rules") or []
        if not isinstance(rules, list):
            raise YamlError("rules: expected a list")
        for n, rule in enumerate(rules, 1):
            if not isinstance(rule, dict) or not isinstance(rule.get("when"), dict) \
                    or not isinstance(rule.get("do"), dict):
                raise YamlError("rule %d: expected a mapping with 'when' and 'do' mappings" % n)
            out("rule", n, rule["__line__"])
            for key, v in rule["when"].items():
                if key != "__line__":
                    out("when", n, key, "" if v is None else v)
            act = rule["do"]
            for key in ("close", "drop", "accept", "discard", "suppress"):
                if act.get(key) is not None:
                    out("do", n, key, truth(act[key]))
            if act.get("set") is not None:
                out("do", n, "set", "1")
            if act.get("use_quota") is not None:
                out("do", n, "use_quota", int(act["use_quota"]))
            if act.get("delay") is not None:
                out("do", n, "delay", duration(act["delay"]))
            reply = act.get("reply")
            if reply is None:
                continue
            reply = str(reply)
            if reply[:1].isalpha():
                row = catalog.get(reply)
                if row is None or row.get("protocol") != "smtp":
                    raise YamlError("rule %d: do.reply: '%s' is not an SMTP row of the catalog" % (n, reply))
                out("reply", n, "catalog", reply, row["code"], row.get("enhanced") or "",
                    row.get("text") or "", truth(row.get("closes")))
            else:
                for line in reply.split("\n"):
                    line = line.rstrip("\r")
                    if line:
                        out("reply", n, "literal", line)
    except YamlError as e:
        sys.stderr.write("%s: %s\n" % (path, e))
        return 2
    if len(argv) == 5:
        ip = client_ip(argv[3], argv[4])
        if ip:
            out("client_ip", ip)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
