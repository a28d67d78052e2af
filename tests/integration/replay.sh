#!/usr/bin/env bash
# replay: tools/edsim-replay plays a scenario's conversation against edsim and
# checks every reply against the scenario: a forced 451 at data-end is the
# expected reply (exit 0), a reply other than the scenario's stops the replay
# (exit 1, "stopped:" naming both), literal multi-line replies, drop and a
# closing 421, rules counting connections, --step, STARTTLS and implicit TLS
# with AUTH, certificate verification, colours only on a terminal, setup errors.
. "$(dirname "$0")/lib.bash"
REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}
REPLAY=$REPO/tools/edsim-replay
SC=$REPO/scenarios
SERVER_ERROR=$SC/oci/smtp/oci.smtp.server-error.yaml

# load FILE: loads a scenario on the last started edsim (its counters start over).
load() { curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$1" "http://127.0.0.1:$CONTROL_PORT/api/v1/scenario"; }
# replay ARGS...: runs edsim-replay, sets OUT (its output) and RC.
replay() {
	OUT=$(timeout 60 "$REPLAY" "$@" </dev/null 2>&1)
	RC=$?
}
show() { printf '%s\n' "$OUT" | sed 's/^/    | /'; }
stopped_line() { printf '%s\n' "$OUT" | grep '^stopped:'; }

# ---- plain TCP, no AUTH required --------------------------------------------------
cfg=$(write_config noauth.yaml <<'Y'
auth: { required: false }
Y
)
edsim_start plain --config "$cfg" --scenario "$SERVER_ERROR" || exit 1
PLAIN_PORT=$SMTP_PORT

replay --port "$PLAIN_PORT" "$SERVER_ERROR"
show
check "server-error (rule at data-end): the replay exits 0" 0 "$RC"
check_contains "server-error: the replay shows the 451 that came back" "S: 451 Server error" "$OUT"
check_contains "server-error: the 451 is the expected reply, from rule 1 (line 15)" \
	"expected: 451 Server error [rule 1 (line 15): reply oci.smtp.server-error] -- ok" "$OUT"
check_contains "server-error: the other steps expect the native code (MAIL: 250)" \
	"expected: 250 [native reply] -- ok" "$OUT"
check_contains "server-error: the message sent carries a Message-ID" "C: Message-ID: <replay." "$OUT"
check_contains "server-error: the session ends with QUIT and 221" "S: 221 2.0.0 Bye" "$OUT"
check_contains "server-error: the replay ends matched" "matched: every reply was the one the scenario expects" "$OUT"
check "no colour when stdout is not a terminal: no ESC byte in the output" 0 \
	"$(printf '%s' "$OUT" | grep -c $'\e')"
id=$(connection_with "EHLO replay.client.test")
check_contains "edsim's transcript names the same rule and line as the replay" \
	"note rule 1 (line 15) acts at stage data-end" "$(transcript "$id")"
check "the refused message was not stored" 0 "$(api GET /api/v1/messages | json "len(d['messages'])")"

# A scenario expecting another reply than the one edsim (server-error) gives.
replay --port "$PLAIN_PORT" "$SC/oci/smtp/oci.smtp.storage-error.yaml"
show
check "mismatch (edsim serves server-error, the replay plays storage-error): exit 1" 1 "$RC"
line=$(stopped_line)
check_contains "mismatch: 'stopped:' names the expected reply" '"452 System storage error"' "$line"
check_contains "mismatch: 'stopped:' names the reply that came" 'got "451 Server error"' "$line"
check "mismatch: 'stopped:' is the last line (nothing is sent after it)" "$line" "$(printf '%s\n' "$OUT" | tail -1)"
check_not_contains "mismatch: no QUIT after the mismatch" "C: QUIT" "$OUT"
check_contains "mismatch: a hint asks whether edsim serves this scenario" "is edsim serving this scenario?" "$OUT"

# Literal replies: a two-line greeting on connection 1, a custom 250 at data-end.
check "example.literal-replies loads" 200 "$(load "$SC/examples/example.literal-replies.yaml")"
replay --port "$PLAIN_PORT" "$SC/examples/example.literal-replies.yaml"
show
check "literal replies: exit 0" 0 "$RC"
check_contains "literal replies: the greeting's first line is expected with a dash" \
	"expected: 220-mx.example.test ESMTP ready / 220 Mail from this host is recorded by edsim [rule 1 (line 22): literal reply] -- ok" "$OUT"
check_contains "literal replies: the custom 250 at data-end" \
	"expected: 250 2.0.0 Stored under the file's own words [rule 5 (line 41): literal reply] -- ok" "$OUT"
check_contains "literal replies: rules the replay cannot reach are named" \
	"rule 2 (line 28): at mail, connection 2 -> reply" "$OUT"

# drop at data-end: the connection closing is the reply.
check "drop-after-data loads" 200 "$(load "$SC/oci/smtp/composite/oci.smtp.composite.drop-after-data.yaml")"
replay --port "$PLAIN_PORT" "$SC/oci/smtp/composite/oci.smtp.composite.drop-after-data.yaml"
show
check "drop at data-end: exit 0" 0 "$RC"
check_contains "drop at data-end: the closed connection is the expected reply" \
	"expected: <connection closed> [rule 1 (line 16): drop] -- ok" "$OUT"

# A closing 421 in place of the greeting, counted by connection.
TMC=$SC/oci/smtp/oci.smtp.too-many-connections.yaml
check "too-many-connections loads" 200 "$(load "$TMC")"
replay --port "$PLAIN_PORT" "$TMC"
show
check "421 in place of the greeting (connection 1): exit 0" 0 "$RC"
check_contains "421: the reply, then the connection closes, both expected" \
	"expected: <connection closed> [rule 1 (line 14): reply oci.smtp.too-many-connections] -- ok" "$OUT"
replay --port "$PLAIN_PORT" "$TMC"
show
check "a second replay is connection 2, where the rule does not act: exit 1" 1 "$RC"
check_contains "second replay: 'stopped:' names the 421 expected and the 220 got" \
	'got "220 localhost ESMTP Email Delivery simulator (edsim) ready"' "$(stopped_line)"
check_contains "second replay: a hint says how to start the counters over" "POST /api/v1/reset" "$OUT"
replay --port "$PLAIN_PORT" --connection 3 "$TMC"
check "with --connection 3 the replay expects the native greeting: exit 0" 0 "$RC"

# --step: waits for Enter before each command; q stops.
check "server-error loads again" 200 "$(load "$SERVER_ERROR")"
OUT=$(printf '\n\n\n\n\n\n\n\n\n\n' | timeout 60 "$REPLAY" --port "$PLAIN_PORT" --step "$SERVER_ERROR" 2>&1)
RC=$?
show
check "--step with Enter for every command: exit 0" 0 "$RC"
check_contains "--step prompts before MAIL FROM" "[Enter] send MAIL FROM   (q: stop)" "$OUT"
check_contains "--step prompts before the message data" "[Enter] send the message and the final dot" "$OUT"
OUT=$(printf '\n\nq\n' | timeout 60 "$REPLAY" --port "$PLAIN_PORT" --step "$SERVER_ERROR" 2>&1)
RC=$?
check "--step, q at the third prompt: exit 3" 3 "$RC"
check_contains "--step, q: stopped by the user" "stopped by the user" "$OUT"
check_not_contains "--step, q: MAIL FROM was not sent" "C: MAIL FROM" "$OUT"

# Colours on a terminal (so that the check without one above means something);
# TERM is set, as on a terminal: with TERM=dumb (some CI runners) there are none.
OUT=$(TERM=xterm expect -c "log_user 1; set timeout 60; spawn -noecho $REPLAY --port $PLAIN_PORT $SERVER_ERROR; expect eof" 2>&1)
check "on a terminal the output is coloured (ESC bytes)" yes \
	"$([ "$(printf '%s' "$OUT" | grep -c $'\e\\[32m')" -gt 0 ] && echo yes || echo no)"
OUT=$(TERM=xterm NO_COLOR=1 expect -c "log_user 1; set timeout 60; spawn -noecho $REPLAY --port $PLAIN_PORT $SERVER_ERROR; expect eof" 2>&1)
check "on a terminal with NO_COLOR: no ESC byte" 0 "$(printf '%s' "$OUT" | grep -c $'\e')"

# ---- STARTTLS, implicit TLS and AUTH (edsim's defaults: AUTH required) -------------
edsim_start tls --scenario "$SERVER_ERROR" || exit 1
replay --port "$SMTP_PORT" --starttls --ca "$CA" --user ocid1.user.oc1..replay --password s3cret-pw "$SERVER_ERROR"
show
check "STARTTLS + AUTH PLAIN, server-error: exit 0" 0 "$RC"
check_contains "STARTTLS: the 220 before the handshake" "S: 220 2.0.0 Ready to start TLS" "$OUT"
check_contains "STARTTLS: EHLO again after the handshake offers AUTH" "S: 250-AUTH PLAIN LOGIN" "$OUT"
check_contains "AUTH PLAIN: 235" "S: 235 2.7.0 Authentication successful" "$OUT"
check_contains "STARTTLS + AUTH: the 451 at data-end is the expected reply" \
	"expected: 451 Server error [rule 1 (line 15): reply oci.smtp.server-error] -- ok" "$OUT"
check_not_contains "AUTH: the password is not shown" "s3cret-pw" "$OUT"
check_not_contains "AUTH: the base64 payload is not shown" "$(b64 '\0ocid1.user.oc1..replay\0s3cret-pw')" "$OUT"
id=$(connection_with "EHLO replay.client.test")
tr=$(transcript "$id")
check_contains "edsim's transcript: TLS was established on the replay's connection" "note TLS established: TLSv1." "$tr"
check_contains "edsim's transcript: the replay authenticated" "AUTH PLAIN" "$tr"

check "server-error loads (counters start over)" 200 "$(load "$SERVER_ERROR")"
replay --port "$SMTPS_PORT" --tls --ca "$CA" --user ocid1.user.oc1..replay --password s3cret-pw "$SERVER_ERROR"
show
check "implicit TLS + AUTH PLAIN, server-error: exit 0" 0 "$RC"
check_contains "implicit TLS: the 451 is the expected reply" "expected: 451 Server error [rule 1" "$OUT"

replay --port "$SMTP_PORT" "$SERVER_ERROR"
show
check "no credentials while edsim requires AUTH: exit 1" 1 "$RC"
check_contains "no credentials: stopped at MAIL on the 535" 'got "535 Authentication required"' "$(stopped_line)"
check_contains "no credentials: a hint names --user and --password" "give --user and --password" "$OUT"

other_ca=$T/plain/state/edsim-cert.pem
replay --port "$SMTPS_PORT" --tls --ca "$other_ca" --user u --password p "$SERVER_ERROR"
show
check "a certificate that does not verify against --ca: exit 1" 1 "$RC"
check_contains "bad certificate: the greeting never came" 'got "<connection closed>"' "$(stopped_line)"
check_contains "bad certificate: openssl's reason is shown" "openssl said:" "$OUT"

# ---- setup errors ------------------------------------------------------------------
free_port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
replay --port "$free_port" "$SERVER_ERROR"
check "nothing listening: exit 2" 2 "$RC"
check_contains "nothing listening: cannot connect" "cannot connect to 127.0.0.1:$free_port" "$OUT"
replay --port "$free_port" --tls "$SERVER_ERROR"
check "nothing listening (implicit TLS): exit 2" 2 "$RC"
replay --tls --starttls "$SERVER_ERROR"
check "--tls with --starttls: exit 2" 2 "$RC"
check_contains "--tls with --starttls: a usage message" "exclude each other" "$OUT"
replay --port "$SMTP_PORT" "$T/no-such-scenario.yaml"
check "a missing scenario file: exit 2" 2 "$RC"
check_contains "a missing scenario file: says so" "cannot read the scenario" "$OUT"

edsim_stop plain
edsim_stop tls
