#!/usr/bin/env bash
# scenario_more: the stages data-body and idle, the actions trickle, tls-fail
# and set, a scenario's settings and its virtual clock.
. "$(dirname "$0")/lib.bash"

scenario() { cat >"$T/sc-$1"; echo "$T/sc-$1"; }
cfg=$(write_config open.yaml <<'Y'
auth: { required: false }
limits: { command_timeout: 1s }
Y
)
# converse PORT BODY_LINES: EHLO, MAIL, RCPT, DATA, a message of BODY_LINES
# lines, NOOP; prints each reply on its own line and the seconds the answer
# to the data took ("took N"); "<closed>" when the line went dead.
converse() {
	python3 - "$1" "$2" <<'P'
import socket, sys, time
port, lines = int(sys.argv[1]), int(sys.argv[2])
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
def reply():
    while True:
        l = f.readline()
        if not l:
            return "<closed>"
        if l[3:4] != b"-":
            return l.decode().rstrip()
print(reply())
for c in (b"EHLO client.test", b"MAIL FROM:<a@example.com>", b"RCPT TO:<b@example.net>", b"DATA"):
    s.sendall(c + b"\r\n")
    print(reply())
t = time.time()
try:
    s.sendall(b"Subject: body\r\n\r\n" + b"".join(b"line %03d of the message body\r\n" % i for i in range(lines)) + b".\r\n")
    print(reply())
    print("took %.2f" % (time.time() - t))
    s.sendall(b"NOOP\r\n")
    print(reply())
except OSError:
    print("<closed>")
P
}

# ---- data-body ---------------------------------------------------------------------------
sc=$(scenario body.yaml <<'Y'
edsim: 1
name: body
rules:
  - when: { stage: data-body, offset: 300, connection: 1 }
    do: { drop: true }
  - when: { stage: data-body, offset: 100, connection: 2 }
    do: { delay: 600ms, reply: "452 4.3.1 Insufficient system storage" }
  - when: { stage: data-body, offset: 100, connection: 3 }
    do: { delay: 600ms }
Y
)
edsim_start body --config "$cfg" --scenario "$sc" || exit 1
out=$(converse "$SMTP_PORT" 40)
check "data-body drop: the line goes dead in the middle of the data" "<closed>" "$(sed -n 6p <<<"$out")"
out=$(converse "$SMTP_PORT" 40)
check "data-body reply: 452 before the data has ended" "452 4.3.1 Insufficient system storage" "$(sed -n 6p <<<"$out")"
took=$(sed -n 's/^took //p' <<<"$out")
check "data-body delay: the answer waited" yes "$(python3 -c "print('yes' if float('$took') >= 0.55 else 'no')")"
check "data-body: the session goes on after the early answer" "250 2.0.0 Ok" "$(sed -n 8p <<<"$out")"
out=$(converse "$SMTP_PORT" 40)
check_contains "data-body stall: the transfer resumes and the message is accepted" "250 2.0.0 Ok: queued as" "$(sed -n 6p <<<"$out")"
took=$(sed -n 's/^took //p' <<<"$out")
check "data-body stall: it lasted the delay" yes "$(python3 -c "print('yes' if float('$took') >= 0.55 else 'no')")"
check "only the stalled message is stored" 1 "$(api GET /api/v1/messages | json "len(d['messages'])")"
check_contains "the dropped transfer is an event" '"type": "dropped"' "$(api GET /api/v1/events)"
edsim_stop body

# ---- idle --------------------------------------------------------------------------------
sc=$(scenario idle.yaml <<'Y'
edsim: 1
name: idle
rules:
  - when: { stage: idle, connection: 1 }
    do: { reply: "250 2.0.0 still here" }
  - when: { stage: idle, connection: 2 }
    do: { accept: true }
Y
)
edsim_start idle --config "$cfg" --scenario "$sc" || exit 1
idle_conv() {
	python3 - "$SMTP_PORT" <<'P'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
print(f.readline().decode().rstrip())
s.settimeout(2.5)
try:
    l = f.readline()
    print(l.decode().rstrip() if l else "<closed>")
except socket.timeout:
    print("<silence>")
s.settimeout(5)
s.sendall(b"NOOP\r\n")
print(f.readline().decode().rstrip() or "<closed>")
P
}
out=$(idle_conv)
check "idle: a rule answers a silent client instead of the 421" "250 2.0.0 still here" "$(sed -n 2p <<<"$out")"
check "idle: the line stays open after the rule's answer" "250 2.0.0 Ok" "$(sed -n 3p <<<"$out")"
out=$(idle_conv)
check "idle accept: no timeout reply at all" "<silence>" "$(sed -n 2p <<<"$out")"
out=$(idle_conv)
check "idle without a rule: the native 421 timeout" "421 Timeout waiting for data from client" "$(sed -n 2p <<<"$out")"
edsim_stop idle

# ---- trickle and tls-fail ----------------------------------------------------------------
sc=$(scenario slow.yaml <<'Y'
edsim: 1
name: slow
rules:
  - when: { stage: connect, connection: 1 }
    do: { tls-fail: true }
  - when: { stage: starttls, connection: 2 }
    do: { tls-fail: true }
  - when: { stage: mail, connection: 3 }
    do: { reply: "451 4.3.0 This reply arrives slowly", trickle: 40 }
Y
)
edsim_start slow --config "$cfg" --scenario "$sc" || exit 1
out=$(timeout 10 openssl s_client -connect 127.0.0.1:"$SMTPS_PORT" -CAfile "$CA" </dev/null 2>&1)
check_contains "tls-fail at connect: the implicit TLS handshake fails" "Cipher is (NONE)" "$out"
out=$(printf '> EHLO client.test\n<~ 250 ENHANCEDSTATUSCODES\n> STARTTLS\n< 220 2.0.0 Ready to start TLS\nclosed\n' |
	expect -f "$HERE/expect/dialog.exp" plain 127.0.0.1 "$SMTP_PORT" "$CA" 2>&1)
check "tls-fail at starttls: 220, then the line goes dead" 0 $?
echo "$out"
out=$(python3 - "$SMTP_PORT" <<'P'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO x\r\n")
while f.readline()[3:4] == b"-":
    pass
t = time.time()
s.sendall(b"MAIL FROM:<a@example.com>\r\nNOOP\r\n")
print(f.readline().decode().rstrip())
print("%.2f" % (time.time() - t))
print(f.readline().decode().rstrip())
P
)
check "trickle: the whole reply arrives" "451 4.3.0 This reply arrives slowly" "$(sed -n 1p <<<"$out")"
check "trickle: 37 bytes at 40 bytes a second take most of a second" yes \
	"$(python3 -c "print('yes' if float('$(sed -n 2p <<<"$out")') >= 0.7 else 'no')")"
check "trickle: the pipelined NOOP is answered after it" "250 2.0.0 Ok" "$(sed -n 3p <<<"$out")"
edsim_stop slow

# ---- settings, the virtual clock and set -------------------------------------------------
sc=$(scenario quota.yaml <<'Y'
edsim: 1
name: quota
settings:
  limits: { per_minute: 2, command_timeout: 1h }
clock: { speed: 60 }
rules:
  - when: { stage: mail, connection: 5 }
    do: { set: { limits: { per_minute: 0 } } }
Y
)
edsim_start quota --config "$cfg" --scenario "$sc" || exit 1
# mail [N]: N messages (default 1), each on a new connection, from one
# process (so three fit in a virtual minute whatever the machine's speed);
# prints, per message, the reply to MAIL when it is not 250, else the reply
# to the final dot.
mail() {
	python3 - "$SMTP_PORT" "${1:-1}" <<'P'
import socket, sys
for _ in range(int(sys.argv[2])):
    s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=10)
    f = s.makefile("rb")
    def reply():
        while True:
            l = f.readline()
            if l[3:4] != b"-":
                return l.decode().rstrip()
    reply()
    s.sendall(b"EHLO client.test\r\n"); reply()
    s.sendall(b"MAIL FROM:<a@example.com>\r\n"); r = reply()
    if r.startswith("250"):
        s.sendall(b"RCPT TO:<b@example.net>\r\n"); reply()
        s.sendall(b"DATA\r\n"); reply()
        s.sendall(b"Subject: q\r\n\r\nx\r\n.\r\n"); r = reply()
    print(r, flush=True)
    s.sendall(b"QUIT\r\n")
    s.close()
P
}
mapfile -t r < <(mail 3)
check_contains "settings: the 1st message within the quota" "250 2.0.0 Ok: queued" "${r[0]}"
check_contains "settings: the 2nd message within the quota" "250 2.0.0 Ok: queued" "${r[1]}"
check "settings: the 3rd gets the per-minute quota of the scenario" "455 Maximum messages sent per minute reached : limit is 2" "${r[2]}"
sleep 1.2 # a minute at speed 60
check_contains "clock speed 60: the minute is over after 1.2 s" "250 2.0.0 Ok: queued" "$(mail)"
check_contains "set: the rule on connection 5 lifts the quota" "250 2.0.0 Ok: queued" "$(mail)"
check_contains "set: it stays lifted" "250 2.0.0 Ok: queued" "$(mail)"
api POST /api/v1/reset >/dev/null
mapfile -t r < <(mail 3)
check "reset: the scenario's settings again, without the rule's set" "455 Maximum messages sent per minute reached : limit is 2" "${r[2]}"
edsim_stop quota
