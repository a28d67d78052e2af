#!/usr/bin/env bash
# data_chunks: message data split anywhere across TCP reads is stored the
# same: byte by byte, the end-of-data line split in its middle, a dot-stuffed
# line starting a read, bare LF line ends, a line longer than 8 KB, and many
# lines in one read. Each way sends the same message (dot-stuffed on the
# wire); the stored raw text must be the message itself with CRLF line ends.
. "$(dirname "$0")/lib.bash"
cfg=$(write_config chunks.yaml <<'Y'
auth: { required: false }
Y
)
edsim_start chunks --config "$cfg" || exit 1

python3 - "$SMTP_PORT" "$CONTROL_PORT" >"$T/chunks.out" 2>&1 <<'PY'
import json, socket, sys, time, urllib.request
smtp, control = int(sys.argv[1]), int(sys.argv[2])

def lines(way):
    long_line = "L" * 9000
    return ["Subject: " + way, "Message-ID: <" + way + "@example.com>", "",
            "first line", "..one dot stays", ".", "x" * 3, long_line, "", "last line"]

def expected(way):
    return ("\r\n".join(lines(way)) + "\r\n").encode()

def wire(way, eol):
    body = eol.join("." + l if l.startswith(".") else l for l in lines(way)) + eol
    return (body + "." + eol).encode()

def reply(f):
    line = f.readline()
    while line[3:4] == b"-":
        line = f.readline()
    return line.decode().strip()

def send(way, data, pieces):
    s = socket.create_connection(("127.0.0.1", smtp), timeout=20)
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    f = s.makefile("rb")
    reply(f)
    for cmd in ("EHLO t.example", "MAIL FROM:<a@example.com>", "RCPT TO:<b@example.net>", "DATA"):
        s.sendall((cmd + "\r\n").encode())
        reply(f)
    for p in pieces(data):
        s.sendall(p)
        time.sleep(0.002)
    r = reply(f)
    s.sendall(b"QUIT\r\n")
    reply(f)
    s.close()
    return r

def at(cuts):
    def split(data):
        out, last = [], 0
        for c in sorted(cuts(data)):
            out.append(data[last:c])
            last = c
        out.append(data[last:])
        return [p for p in out if p]
    return split

ways = {
    "whole": ("\r\n", lambda d: [d]),
    "bytes": ("\r\n", lambda d: [d[i:i + 1] for i in range(len(d))] if len(d) < 200 else
              [d[:-40]] + [d[i:i + 1] for i in range(len(d) - 40, len(d))]),
    "end-split": ("\r\n", at(lambda d: [len(d) - 2, len(d) - 4])),
    "dot-first": ("\r\n", at(lambda d: [d.index(b"\r\n...one") + 2])),
    "cr-lf-split": ("\r\n", at(lambda d: [d.index(b"first line\r") + 11])),
    "bare-lf": ("\n", lambda d: [d]),
    "long-line-split": ("\r\n", at(lambda d: [d.index(b"LLL") + 100, d.index(b"LLL") + 8500])),
}
result = {}
for way, (eol, pieces) in ways.items():
    r = send(way, wire(way, eol), pieces)
    mid = r.rsplit(" ", 1)[-1]
    raw = urllib.request.urlopen("http://127.0.0.1:%d/api/v1/messages/%s/raw" % (control, mid)).read()
    result[way] = [r.split(" ")[0], raw == expected(way)]
    if raw != expected(way):
        sys.stderr.write("%s: stored %r... expected %r...\n" % (way, raw[:120], expected(way)[:120]))
print(json.dumps(result))
PY
res=$(tail -1 "$T/chunks.out")
for way in whole bytes end-split dot-first cr-lf-split bare-lf long-line-split; do
	check "data split as '$way': 250 and the stored text is the message" "['250', True]" \
		"$(echo "$res" | json "d['$way']" 2>&1)"
done
grep -v "^{" "$T/chunks.out" | head -20
edsim_stop chunks
