#!/usr/bin/env bash
# scenario_rules: what scenario rules do at each stage, with scenario files
# given to edsim with --scenario: catalog replies with their placeholders
# filled, literal (multi-line) replies, close, drop, delay, the counters
# connection / command / attempt / times, the matchers sender / recipient /
# user / client_ip / mechanism, accept / discard / suppress, a forced 250 at
# data-end, the rule named in the events and the transcript, delay at
# data-end and use_quota.
#
# The SMTP cases are data: each directory tests/data/rules/NNNN is one edsim
# run, started with its scenario.yaml (--scenario) and config.yaml (--config),
# then played its dialogs NN.dialog in order on that same edsim (the order
# matters: rules count connections and commands). A dialog is a script of
# expect/dialog.exp: "> " lines sent, "< " lines the exact reply expected
# ("<~ " a prefix), "closed"; its "# name:" line names the check and its
# "# mode:" line says plain, starttls or tls. tests/data/README.md has more.
#
# What a dialog cannot say is logic and stays here, as hooks the loop calls:
# after_NNNN_DD after dialog DD of case NNNN, after_NNNN after its last dialog
# (the stored messages, the events and transcripts, timings, source
# addresses). The last two parts (delay at data-end, use_quota) are timings
# and an HTTPS request, not dialogs: they stay code below the loop.
#
# UPDATE=1 does not apply here: a dialog interleaves what is sent with what is
# expected, and its "<~" prefixes are chosen by hand, so there is no golden
# output file to regenerate; a mismatch names the expected and the actual line.
. "$(dirname "$0")/lib.bash"
REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}
CASES=$REPO/tests/data/rules
TIMED=$HERE/clients/smtp_timed.py

scenario() { cat >"$T/sc-$1"; echo "$T/sc-$1"; }
# count_messages QUERY: how many stored messages match the query of GET /api/v1/messages.
count_messages() { api GET "/api/v1/messages?$1" | json "len(d['messages'])"; }
# event_with FIELD VALUE: the newest event whose FIELD equals VALUE, as "type stage code rule connection".
event_with() {
	api GET /api/v1/events | python3 -c '
import json, sys
f, v = sys.argv[1], sys.argv[2]
hits = [e for e in json.load(sys.stdin)["events"] if str(e.get(f)) == v]
if hits:
    e = hits[-1]
    print(e["type"], e["stage"], e["code"], e["rule"], e["connection"])' "$1" "$2"
}
# elapsed LINE: the seconds of a smtp_timed.py line; reply LINE: its reply text.
elapsed() { printf '%s' "${1%%|*}"; }
reply_of() { printf '%s' "${1#*|}"; }
# check_time NAME LINE MIN MAX: the smtp_timed.py LINE took from MIN to MAX seconds.
# MIN gets 20 ms of slack: the server's event loop times its delay from its
# cached clock, which can be a few ms older than the moment the client sent.
check_time() {
	local secs
	secs=$(elapsed "$2")
	if python3 -c "import sys; s = float(sys.argv[1] or 'nan'); sys.exit(0 if float(sys.argv[2]) - 0.02 <= s < float(sys.argv[3]) else 1)" "$secs" "$3" "$4"; then
		pass "$1 ($secs s)"
	else
		fail "$1 ($secs s)"
		echo "    expected from $3 to $4 s; line: $2"
	fi
}
# dialog_out NNNN DD: the file holding what dialog DD of case NNNN printed.
dialog_out() { echo "$T/rules-$1/$2.out"; }

# run_rules_case DIR: one edsim with the case's scenario and configuration, its
# dialogs in order (one check each, then the hook after_NNNN_DD if defined),
# the hook after_NNNN if defined, then edsim stopped (two checks).
run_rules_case() {
	local id=${1##*/} f dd what mode rc
	local w=$T/rules-$id
	mkdir -p "$w"
	cp -R "$1/." "$w/"
	local args=(--scenario "$w/scenario.yaml")
	[ -f "$w/config.yaml" ] && args=(--config "$w/config.yaml" "${args[@]}")
	if ! edsim_start "rules-$id" "${args[@]}"; then
		fail "rules/$id: edsim starts with the case's scenario and configuration"
		return
	fi
	for f in "$w"/[0-9][0-9].dialog; do
		[ -f "$f" ] || continue
		dd=$(basename "$f" .dialog)
		what=$(sed -n 's/^# name: //p' "$f" | head -1)
		mode=$(sed -n 's/^# mode: //p' "$f" | head -1)
		dialog "${mode:-plain}" "$SMTP_PORT" <"$f" >"$(dialog_out "$id" "$dd")"
		rc=$?
		check "rules/$id/$dd: $what" 0 "$rc"
		sed 's/^/    /' "$(dialog_out "$id" "$dd")"
		if declare -F "after_${id}_$dd" >/dev/null; then "after_${id}_$dd"; fi
	done
	if declare -F "after_$id" >/dev/null; then "after_$id"; fi
	edsim_stop "rules-$id"
}

# ---- hooks: the checks of the data cases that are logic ---------------------------

# 0001, one rule per stage: the refused message is not stored; the rule that
# acted is named in the events and in the transcript.
after_0001_08() {
	check "data-end: the refused message is not stored" 0 "$(count_messages subject=stage-data-end)"
}
after_0001() {
	local ev conn t
	ev=$(event_with code 455)
	check "events: the mail refusal names its rule" "refused mail 455 rule 5 (line 12)" "${ev% *}"
	conn=${ev##* }
	t=$(transcript "$conn")
	check_contains "transcript: a note names the rule and the stage, before the reply" \
		$'in MAIL FROM:<a@example.com>\nnote rule 5 (line 12) acts at stage mail\nout 455 Maximum messages sent per minute reached : limit is 0' "$t"
	ev=$(event_with rule "rule 1 (line 4)")
	check "events: the connect refusal names rule 1 (line 4)" "refused connect 421 rule 1 (line 4)" "${ev% *}"
	check_contains "transcript of connection ${ev##* }: rule 1 acts at stage connect" \
		"note rule 1 (line 4) acts at stage connect" "$(transcript "${ev##* }")"
	ev=$(event_with code 554)
	check "events: the data-end refusal is 'rejected' and names rule 8 (line 18)" "rejected data-end 554 rule 8 (line 18)" "${ev% *}"
	t=$(transcript 13)
	check "transcript of the native connection 13: no rule acts" "in QUIT|0" \
		"$(printf '%s\n' "$t" | grep -c '^in QUIT$' | sed 's/^1$/in QUIT/')|$(printf '%s\n' "$t" | grep -c '^note rule')"
}

# 0003, actions: what drop leaves in the transcript; delays timed by a client.
after_0003_06() {
	local drop_conn t
	drop_conn=$(connection_with "MAIL FROM:<drop@example.com>")
	t=$(transcript "$drop_conn")
	check_contains "drop: the transcript says the rule dropped the connection" \
		$'note rule 3 (line 9) acts at stage mail\nnote rule 3 (line 9) drops the connection' "$t"
	check "drop: nothing was sent after MAIL (transcript from MAIL on, notes left out)" "in MAIL FROM:<drop@example.com>" \
		"$(printf '%s\n' "$t" | sed -n '/MAIL FROM:<drop@/,$p' | grep -v '^note ')"
}
after_0003() {
	local r
	mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<slow@example.com>" \
		"RCPT TO:<slow@example.net>" "RCPT TO:<fast@example.net>" QUIT)
	check "delay 1s at mail: then the native reply" "250 2.1.0 Sender OK" "$(reply_of "${r[2]:-}")"
	check_time "delay 1s at mail: the reply took >= 1 s and < 4 s" "${r[2]:-}" 1.0 4.0
	check "delay 1500ms with a literal reply at rcpt" "450 4.2.0 slow no" "$(reply_of "${r[3]:-}")"
	check_time "delay 1500ms at rcpt: the reply took >= 1.5 s and < 4.5 s" "${r[3]:-}" 1.5 4.5
	check "after a delayed reply the session goes on at once" "250 2.1.5 Recipient OK" "$(reply_of "${r[4]:-}")"
	check_time "a command without a rule is not delayed" "${r[4]:-}" 0 0.5
	check "QUIT after the delays" "221 2.0.0 Bye" "$(reply_of "${r[5]:-}")"
}

# 0004, counters: which messages the attempt rule let through.
after_0004_01() {
	check "attempt 1: the refused message is not stored" 0 "$(count_messages subject=retry-test)"
}
after_0004_03() {
	check "the retried message is stored exactly once" 1 "$(count_messages subject=retry-test)"
	check "the other message (first attempt) is not stored" 0 "$(count_messages subject=other-test)"
}

# 0005, matchers: what suppress, discard and a forced 250 store and report;
# client_ip needs a connection from another source address.
after_0005_05() {
	check "suppress: the recipient is stored with state suppressed" "x@suppressed.test suppressed" \
		"$(api GET "/api/v1/messages?subject=suppress-rule" | json "' '.join(r['address'] + ' ' + r['state'] for m in d['messages'] for r in m['to'])")"
}
after_0005_06() {
	local ev
	check "discard: nothing is stored" 0 "$(count_messages subject=discard-rule)"
	ev=$(event_with type discarded)
	check "discard: a 'discarded' event names rule 5 (line 12)" "discarded data-end 250 rule 5 (line 12)" "${ev% *}"
}
after_0005_07() {
	local ev
	check "a forced 250 at data-end stores the message" 1 "$(count_messages subject=forced-250)"
	ev=$(api GET /api/v1/events | json "' '.join('%s/%s/%s' % (e['type'], e['code'], e['rule']) for e in d['events'] if e['type'] == 'accepted' and e['rule'] == 'rule 6 (line 14)')")
	check "a forced 250: an 'accepted' event names rule 6 (line 14)" "accepted/250/rule 6 (line 14)" "$ev"
}
after_0005() {
	local r
	mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.2 "EHLO client.test" QUIT)
	check "client_ip: a connection from 127.0.0.2 is refused at EHLO" "554 5.7.1 not from 127.0.0.2" "$(reply_of "${r[1]:-}")"
	mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" QUIT)
	check_contains "client_ip: a connection from 127.0.0.1 is not" "250-localhost Hello client.test" "$(reply_of "${r[1]:-}")"
}

# 0006, placeholders: {id} is the id the store gave; {challenge} is filled.
after_0006_02() {
	local stored
	check "oci.smtp.accepted forced at data-end: the message is stored" 1 "$(count_messages subject=forced-accepted)"
	stored=$(api GET "/api/v1/messages?subject=forced-accepted" | json "d['messages'][0]['id'] if d['messages'] else ''")
	check "oci.smtp.accepted forced at data-end fills {id} with the stored message's id" \
		"ok: 250 2.0.0 Ok: queued as $stored" "$(grep 'queued as' "$(dialog_out 0006 02)")"
}
after_0006() {
	local r ch
	mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "AUTH PLAIN" QUIT)
	ch=$(reply_of "${r[2]:-}")
	check "oci.smtp.auth-challenge forced at auth: a 334 reply with {challenge} filled (got '$ch')" yes \
		"$([[ $ch == "334 "* && $ch != *"{"* ]] && echo yes || echo no)"
}

# ==== the cases of tests/data/rules =====================================================
mapfile -t cases < <(find "$CASES" -mindepth 1 -maxdepth 1 -type d -name '[0-9][0-9][0-9][0-9]' | LC_ALL=C sort)
if [ "${#cases[@]}" -eq 0 ]; then
	fail "tests/data/rules holds cases (none found)"
else
	pass "tests/data/rules holds ${#cases[@]} cases"
fi
for c in "${cases[@]}"; do run_rules_case "$c"; done

NOAUTH=$(write_config noauth.yaml <<'Y'
auth: {required: false}
Y
)

# ==== 7. delay at data-end (the message arrives in a read after DATA's) ====================
sc=$(scenario delayend.yaml <<'Y'
edsim: 1
name: delayend
rules:
  - when: {stage: data-end, recipient: "later@*"}
    do: {reply: "451 4.3.0 not yet", delay: 700ms}
  - when: {stage: data-end, recipient: "slow-ok@*"}
    do: {delay: 700ms}
Y
)
edsim_start delayend --config "$NOAUTH" --scenario "$sc" || exit 1
body=$'From: a@example.com\r\nTo: x@example.net\r\nSubject: delayed-end\r\n\r\nhello\r\n.'
mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<a@example.com>" \
	"RCPT TO:<later@example.net>" DATA "$body" NOOP \
	"MAIL FROM:<a@example.com>" "RCPT TO:<slow-ok@example.net>" DATA "$body" NOOP 2>&1)
check "delay 700ms at data-end with a literal reply: the reply" "451 4.3.0 not yet" "$(reply_of "${r[5]:-}")"
check_time "delay 700ms at data-end: the reply took >= 0.7 s" "${r[5]:-}" 0.7 4
check "delay at data-end: the session goes on" "250 2.0.0 Ok" "$(reply_of "${r[6]:-}")"
check_contains "delay 700ms alone at data-end: then the native 250" "250 2.0.0 Ok: queued as " "$(reply_of "${r[10]:-}")"
check_time "delay alone at data-end: the reply took >= 0.7 s" "${r[10]:-}" 0.7 4
check "delay at data-end: only the natively accepted message is stored" 1 "$(count_messages subject=delayed-end 2>/dev/null)"
edsim_stop delayend

# ==== 8. use_quota: the quota is used up when the client reaches the stage ================
sc=$(scenario usequota.yaml <<'Y'
edsim: 1
name: usequota
settings:
  limits: {per_minute: 2}
rules:
  - when: {stage: mail, times: 1}
    do: {use_quota: 2}
  - when: {stage: submit, times: 1}
    do: {use_quota: 2}
Y
)
edsim_start usequota --config "$NOAUTH" --scenario "$sc" || exit 1
HTTPS_PORT=$(ready_field "$T/usequota/state/edsim.ready" https)
mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<a@example.com>" QUIT)
check "use_quota 2 at the first MAIL: that MAIL meets the native 455" \
	"455 Maximum messages sent per minute reached : limit is 2" "$(reply_of "${r[2]:-}")"
check "use_quota: the event is the native refusal, with the rule that used the quota" \
	"refused mail 455" "$(event_with code 455 | cut -d' ' -f1-3)"
api POST /api/v1/reset >/dev/null
mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<a@example.com>" QUIT)
check "use_quota: a reset restarts the rule's times and forgets the usage; MAIL meets the 455 again" \
	"455 Maximum messages sent per minute reached : limit is 2" "$(reply_of "${r[2]:-}")"
api POST /api/v1/reset >/dev/null
body='{"sender":{"senderAddress":{"email":"a@example.com"},"compartmentId":"ocid1.compartment.oc1..x"},"recipients":{"to":[{"email":"b@example.net"}]},"subject":"q","bodyText":"q"}'
out=$(curl -s --cacert "$CA" -H 'Content-Type: application/json' -d "$body" \
	"https://127.0.0.1:$HTTPS_PORT/20220926/actions/submitEmail")
check "use_quota 2 at the first submitEmail: 400 LimitExceeded" \
	"LimitExceeded Maximum messages sent per minute reached : limit is 2" \
	"$(json "d['code'] + ' ' + d['message']" <<<"$out")"
edsim_stop usequota
