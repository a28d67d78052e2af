#!/usr/bin/env bash
# health: `edsim health`, the readiness probe that asks the control API.
# Exit 0 against a running edsim (found by --control, --state-dir and
# --config), 1 against a dead address or a missing ready file (with the
# reason naming it), 1 while draining, 2 for a bad command line; --wait
# polls until an edsim started at the same time is up, and gives up after
# its duration. A scenario's `{stage: connect, connection: 1}` rule still
# fires on the first real SMTP connection after any number of health calls,
# while a bare TCP connect to either SMTP port uses it up (and one to the
# HTTPS port does not); reset and a new scenario count from 1 again.
. "$(dirname "$0")/lib.bash"

# health ARGS...: runs `edsim health`; stdout to $T/out, stderr to $T/err, the status in $rc.
health() {
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$T/health-sanitizer \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$T/health-sanitizer \
		"$EDSIM" health "$@" >"$T/out" 2>"$T/err"
	rc=$?
}
# free_port: a loopback port nobody listens on (bound, then released).
free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# readline FD: one reply line from a raw connection, without its CR.
readline() { local l=""; read -r -t 5 -u "$1" l; printf '%s' "${l%$'\r'}"; }
# probe PORT: what a TCP readiness check does: connect, then close at once.
probe() {
	exec 5<>"/dev/tcp/127.0.0.1/$1"
	exec 5>&-
}
# rule_acted: how many kept transcripts (connections 1-60) say the scenario's rule acted at connect.
rule_acted() {
	python3 - "$CONTROL_PORT" <<'P'
import json, sys, urllib.request, urllib.error
n = 0
for c in range(1, 61):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/api/v1/connections/%d/transcript" % (sys.argv[1], c)) as r:
            n += any("acts at stage connect" in l["line"] for l in json.load(r)["lines"])
    except urllib.error.HTTPError:
        pass
print(n)
P
}
# acted N: rule_acted says N (the probe has been accepted and met the rule).
acted() { [ "$(rule_acted)" == "$1" ]; }
GREETING="220 localhost ESMTP Email Delivery simulator (edsim) ready"
REFUSED="421 Too many connections, try again later"

# --- the command line ------------------------------------------------------------
health --bogus
check "an unknown flag: exit 2" 2 "$rc"
check_contains "an unknown flag is named" "edsim health: unknown argument '--bogus'" "$(cat "$T/err")"
health --wait soon
check "--wait with no duration: exit 2" 2 "$rc"
check_contains "--wait's problem is said" "--wait: expected a duration" "$(cat "$T/err")"
health --control localhost
check "--control without a port: exit 2" 2 "$rc"
health --control
check "--control without a value: exit 2" 2 "$rc"
health --help
check "--help: exit 0" 0 "$rc"
check_contains "--help prints the usage" "usage: edsim health" "$(cat "$T/out")"
check_contains "edsim --help lists the health command" "edsim health [--control HOST:PORT" \
	"$("$EDSIM" --help)"

# --- nobody there ------------------------------------------------------------------
dead=$(free_port)
health --control "127.0.0.1:$dead"
check "a dead address: exit 1" 1 "$rc"
check "a dead address: the reason names it" "edsim health: 127.0.0.1:$dead: connection refused" \
	"$(cat "$T/err")"
check "a dead address: nothing on stdout" "" "$(cat "$T/out")"
health --state-dir "$T/nowhere"
check "a state directory without a ready file: exit 1" 1 "$rc"
check_contains "the reason names the ready file" "edsim health: $T/nowhere/edsim.ready: no such file" \
	"$(cat "$T/err")"
start=$(date +%s.%N)
health --control "127.0.0.1:$dead" --wait 1s
took=$(python3 -c "import sys; print(float(sys.argv[2]) - float(sys.argv[1]))" "$start" "$(date +%s.%N)")
check "--wait 1s on a dead address: exit 1" 1 "$rc"
check "--wait 1s: it says it gave up" "edsim health: 127.0.0.1:$dead: connection refused (gave up after 1s)" \
	"$(cat "$T/err")"
check "--wait 1s gives up after about 1 s (took $took s)" True \
	"$(python3 -c "import sys; print(1 <= float(sys.argv[1]) < 3)" "$took")"

# --- --wait while edsim starts ------------------------------------------------------
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$T/health-sanitizer \
	"$EDSIM" health --state-dir "$T/w/state" --wait 20s >"$T/wait-out" 2>"$T/wait-err" &
waiter=$!
sleep 0.5
check "health --wait is still waiting before edsim starts" 0 "$(kill -0 "$waiter" 2>/dev/null; echo $?)"
edsim_start w || exit 1
wait "$waiter"
check "health --wait exits 0 once the edsim started beside it is up" 0 $?
check "health --wait prints the health report" ok \
	"$(json "d['status']" <"$T/wait-out" 2>&1)"
edsim_stop w

# --- a running edsim with a first-connection scenario --------------------------------
cat >"$T/first.yaml" <<'Y'
edsim: 1
name: health.first-connection
rules:
  - when: { stage: connect, connection: 1 }
    do: { reply: oci.smtp.too-many-connections }
Y
edsim_start h --scenario "$T/first.yaml" || exit 1
HTTPS_PORT=$(ready_field "$T/h/state/edsim.ready" https)

health --control "127.0.0.1:$CONTROL_PORT"
check "by --control: exit 0" 0 "$rc"
check "by --control: the report on one line says ok, not draining" "ok False 1" \
	"$(json "d['status'], d['draining'], len(open('$T/out').read().splitlines())" <"$T/out" 2>&1)"
check "nothing on stderr" "" "$(cat "$T/err")"
health --state-dir "$T/h/state"
check "by --state-dir (the ready file): exit 0" 0 "$rc"
check "by --state-dir: status ok" ok "$(json "d['status']" <"$T/out" 2>&1)"
health --state-dir "$T/h/state" --quiet
check "--quiet: exit 0" 0 "$rc"
check "--quiet: nothing printed" "" "$(cat "$T/out" "$T/err")"
cfg=$(write_config fixed.yaml <<Y
listen: { control: 127.0.0.1:$CONTROL_PORT }
Y
)
health --config "$cfg" --wait 5s
check "by --config (its listen.control): exit 0" 0 "$rc"
cfg=$(write_config any-port.yaml <<Y
listen: { control: 127.0.0.1:0 }
state_dir: $T/h/state
Y
)
health --config "$cfg"
check "by --config with control port 0 (its state_dir's ready file): exit 0" 0 "$rc"
for i in 1 2 3 4 5; do health --state-dir "$T/h/state" -q; done

dialog_check "after six health calls the first SMTP connection still gets the rule's 421" \
	plain "$SMTP_PORT" <<S
< $REFUSED
closed
S
dialog_check "the second connection is greeted" plain "$SMTP_PORT" <<S
< $GREETING
> QUIT
< 221 2.0.0 Bye
S

api POST /api/v1/reset >/dev/null
probe "$HTTPS_PORT"
curl -sk -o /dev/null "https://127.0.0.1:$HTTPS_PORT/"
check "an HTTPS request is answered (404 for /)" 404 \
	"$(curl -sk -o /dev/null -w '%{http_code}' "https://127.0.0.1:$HTTPS_PORT/")"
dialog_check "after reset, connections to the HTTPS port are not counted: 421" plain "$SMTP_PORT" <<S
< $REFUSED
closed
S

api POST /api/v1/reset >/dev/null
probe "$SMTP_PORT"
poll 50 acted 1
check "a bare TCP connect to the SMTP port is connection 1: the rule acts on it" 1 "$(rule_acted)"
dialog_check "so the client's first real connection is the 2nd and is greeted" plain "$SMTP_PORT" <<S
< $GREETING
> QUIT
< 221 2.0.0 Bye
S

api POST /api/v1/reset >/dev/null
probe "$SMTPS_PORT"
poll 50 acted 1
check "a bare TCP connect to the SMTPS port is connection 1, with no TLS handshake" 1 "$(rule_acted)"
dialog_check "after the SMTPS probe the first real connection is greeted" plain "$SMTP_PORT" <<S
< $GREETING
> QUIT
< 221 2.0.0 Bye
S

curl -s -X PUT --data-binary "@$T/first.yaml" "http://127.0.0.1:$CONTROL_PORT/api/v1/scenario" >/dev/null
dialog_check "PUT /api/v1/scenario counts from 1 again: the next connection gets 421" \
	plain "$SMTP_PORT" <<S
< $REFUSED
closed
S
edsim_stop h

# --- draining: a session in the middle of a message keeps edsim up -------------------
cfg=$(write_config drain.yaml <<'Y'
auth: { required: false }
limits: { drain_timeout: 10s }
Y
)
edsim_start d --config "$cfg" || exit 1
exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT"
check "drain: greeting" "$GREETING" "$(readline 3)"
printf 'HELO client.example\r\n' >&3
check_contains "drain: HELO" "250" "$(readline 3)"
printf 'MAIL FROM:<a@example.com>\r\nRCPT TO:<b@example.net>\r\nDATA\r\n' >&3
readline 3 >/dev/null
readline 3 >/dev/null
check_contains "drain: DATA goes ahead" "354" "$(readline 3)"
kill -TERM "${EDSIM_PID[d]}"
draining() { health --control "127.0.0.1:$CONTROL_PORT" && false || grep -q draining "$T/err"; }
poll 50 draining
check "while draining: exit 1" 1 "$rc"
check "while draining: the reason says so" \
	"edsim health: 127.0.0.1:$CONTROL_PORT: draining (edsim is shutting down)" "$(cat "$T/err")"
printf 'Subject: drain\r\n\r\nhello\r\n.\r\n' >&3
check_contains "drain: the message in flight is accepted" "250" "$(readline 3)"
check_contains "drain: then 421 4.3.0" "421 4.3.0" "$(readline 3)"
exec 3>&-
edsim_reap d # it is shutting down already: no second SIGTERM
health --control "127.0.0.1:$CONTROL_PORT"
check "after the exit: exit 1, connection refused" \
	"1 edsim health: 127.0.0.1:$CONTROL_PORT: connection refused" "$rc $(cat "$T/err")"

if ls "$T"/health-sanitizer* >/dev/null 2>&1; then
	fail "edsim health: sanitizer report"
	cat "$T"/health-sanitizer* | head -40
else
	pass "edsim health: no sanitizer report"
fi
