#!/usr/bin/env bash
# quickstart.sh - the README's quick start, the way a new user follows it:
# `make run` (installs what is missing, builds, starts edsim in the
# foreground on its fixed ports), then the README's own example commands,
# taken from the README's first ```sh block that runs swaks (the swaks
# message over STARTTLS with AUTH, then curl on the control API), then a
# check that edsim stored and captured that message, then SIGTERM.
#
# The quick start listens on fixed ports (2525, 2465, 8443, 8025): when one
# of them is already taken this script fails at once, naming it. fresh-check
# runs it in a network namespace of its own, where they are always free.
# make run runs in its own process group; every exit path kills what is
# left of it. Prints one PASS or FAIL line per check and exits 1 on a FAIL.
# Run it from a checkout: tests/quickstart.sh
set -u
cd "$(dirname "$0")/.."
T=$(mktemp -d /tmp/edsim-quickstart.XXXXXX)
RUN_PID=""
failed=0
pass() { echo "PASS: $*"; }
fail() {
	echo "FAIL: $*"
	failed=1
}
cleanup() {
	if [ -n "$RUN_PID" ]; then
		kill -KILL -- "-$RUN_PID" 2>/dev/null
		wait "$RUN_PID" 2>/dev/null
	fi
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM HUP
finish() {
	[ "$failed" -eq 0 ] && echo "quickstart: PASS" || echo "quickstart: FAIL"
	exit "$failed"
}

# ---- the ports must be free ---------------------------------------------------------------
for port in 2525 2465 8443 8025; do
	if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
		fail "port 127.0.0.1:$port is already taken: the quick start needs 2525, 2465, 8443 and 8025 free (stop what listens there, or let fresh-check run this in its own network namespace)"
		finish
	fi
done

# ---- the README's example commands -------------------------------------------------------
awk '/^```sh$/ { inb = 1; b = ""; next }
	inb && /^```$/ { inb = 0; if (b ~ /swaks --server/) { printf "%s", b; exit } next }
	inb { b = b $0 "\n" }' README.md >"$T/example.sh"
if grep -q '^swaks --server' "$T/example.sh" && grep -q '^curl ' "$T/example.sh"; then
	pass "the README has the quick start's swaks and curl commands"
else
	fail "the README's quick start has no \`\`\`sh block with the swaks and curl commands"
	finish
fi
sed 's/^/    | /' "$T/example.sh"

# ---- make run ------------------------------------------------------------------------------
rm -f var/edsim.ready
setsid make run >"$T/run.log" 2>&1 </dev/null &
RUN_PID=$!
ready=""
for _ in $(seq 1 1200); do # 10 minutes: make run may install packages and build
	if [ -f var/edsim.ready ]; then
		ready=1
		break
	fi
	kill -0 "$RUN_PID" 2>/dev/null || break
	sleep 0.5
done
if [ -n "$ready" ]; then
	pass "make run starts edsim (var/edsim.ready is written)"
else
	fail "make run did not start edsim; its output:"
	tail -n 40 "$T/run.log" | sed 's/^/    | /'
	finish
fi
EDSIM_PID=$(sed -n 's/.*"pid": *\([0-9]*\).*/\1/p' var/edsim.ready)

# ---- the README's commands against it ------------------------------------------------------
bash -e "$T/example.sh" >"$T/example.out" 2>&1
rc=$?
sed 's/^/    | /' "$T/example.out"
if [ "$rc" -eq 0 ]; then pass "the README's swaks and curl commands exit 0"; else
	fail "the README's swaks and curl commands: exit status $rc"
fi
if grep -q '^<~  235 ' "$T/example.out" && grep -q '^ ~> QUIT' "$T/example.out"; then
	pass "swaks sends the message over TLS with AUTH and gets 250"
else
	fail "swaks did not complete the TLS transaction"
fi
# what curl printed: the output after swaks's last line
sed -n '/^=== Connection closed/,$p' "$T/example.out" >"$T/messages.json"
if grep -q '"address": *"someone@example.net"' "$T/messages.json" &&
	grep -q '"from": *"noreply@example.com"' "$T/messages.json"; then
	pass "curl on the control API lists the message (from noreply@example.com to someone@example.net)"
else
	fail "the control API does not list the message"
fi
captured=""
for _ in $(seq 1 50); do
	if curl -s --max-time 5 "127.0.0.1:8025/api/v1/mailbox?to=someone@example.net" | grep -q '"someone@example.net"'; then
		captured=1
		break
	fi
	sleep 0.2
done
if [ -n "$captured" ]; then pass "the message is in the capture mailbox"; else
	fail "the message never reached the capture mailbox"
fi

# ---- stop ----------------------------------------------------------------------------------
kill -TERM -- "-$RUN_PID" 2>/dev/null
stopped=""
for _ in $(seq 1 100); do
	if ! kill -0 "$EDSIM_PID" 2>/dev/null; then
		stopped=1
		break
	fi
	sleep 0.1
done
if [ -n "$stopped" ]; then pass "edsim stops on SIGTERM"; else
	fail "edsim still runs 10 s after SIGTERM"
fi
if grep -qi 'AddressSanitizer\|runtime error' "$T/run.log"; then
	fail "make run's output has a sanitizer report"
fi
finish
