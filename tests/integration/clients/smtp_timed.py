#!/usr/bin/env python3
"""smtp_timed.py PORT SOURCE_IP [COMMAND...] - a plain SMTP client that times replies.

Connects from SOURCE_IP (any 127.x.y.z works on Linux loopback) to
127.0.0.1:PORT, reads the greeting, then sends each COMMAND with CRLF and
reads its whole reply. Prints one line per reply:

    SECONDS|LINE1 // LINE2 // ...

SECONDS is the time from sending the command (or connecting, for the
greeting) to the last line of its reply, with 3 decimals. A closed
connection shows as the line <closed>; once closed, nothing more is sent.
Every read is bounded by a 10 s timeout (shown as <timeout>).
"""
import socket
import sys
import time


def main():
    port, source = int(sys.argv[1]), sys.argv[2]
    commands = sys.argv[3:]
    start = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
    f = s.makefile("rb")

    def reply():
        lines = []
        while True:
            try:
                raw = f.readline()
            except socket.timeout:
                lines.append("<timeout>")
                return lines, True
            except ConnectionResetError:
                lines.append("<closed>")
                return lines, True
            if not raw:
                lines.append("<closed>")
                return lines, True
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            lines.append(line)
            if len(line) < 4 or line[3] != "-":
                return lines, False

    lines, closed = reply()
    print("%.3f|%s" % (time.monotonic() - start, " // ".join(lines)), flush=True)
    for c in commands:
        if closed:
            break
        t = time.monotonic()
        try:
            s.sendall((c + "\r\n").encode())
        except OSError:
            print("%.3f|<closed>" % 0.0)
            break
        lines, closed = reply()
        print("%.3f|%s" % (time.monotonic() - t, " // ".join(lines)), flush=True)
    s.close()


if __name__ == "__main__":
    main()
