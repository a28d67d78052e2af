#!/usr/bin/env bash
# scenario_api: GET / PUT / DELETE /api/v1/scenario and POST /api/v1/reset:
# no scenario, a valid one made active, an invalid one refused with its
# located errors while the previous one stays, back to native behaviour,
# reset restarting the counters, and seeded probabilities that repeat.
. "$(dirname "$0")/lib.bash"
TIMED=$HERE/clients/smtp_timed.py

# req METHOD PATH [BODY-FILE]: sets STATUS and BODY.
req() {
	local data=()
	[ -n "${3:-}" ] && data=(--data-binary "@$3" -H 'Content-Type: application/yaml')
	STATUS=$(curl -s -o "$T/body" -w '%{http_code}' -X "$1" "${data[@]}" "http://127.0.0.1:$CONTROL_PORT$2")
	BODY=$(cat "$T/body")
}
body() { printf '%s' "$BODY" | json "$1"; }
file() { cat >"$T/$1"; echo "$T/$1"; }
# first_reply: the first reply line of a new plain connection after EHLO + MAIL.
mail_reply() {
	python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<a@example.com>" QUIT |
		sed -n '3s/^[^|]*|//p'
}
greeting() { python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 QUIT | sed -n '1s/^[^|]*|//p'; }

cfg=$(write_config noauth.yaml <<'Y'
auth: {required: false}
Y
)
edsim_start api --config "$cfg" || exit 1

req GET /api/v1/scenario
check "GET with no scenario: 200" 200 "$STATUS"
check "GET with no scenario: {\"active\": false}" "{'active': False}" "$(body d)"

A=$(file a.yaml <<'Y'
edsim: 1
name: api-a
title: Scenario A
exercises: [oci.smtp.server-error]
rules:
  - when: {stage: mail}
    do: {reply: oci.smtp.server-error}
  - when: {stage: rcpt}
    do: {reply: "450 4.2.0 not now"}
Y
)
req PUT /api/v1/scenario "$A"
check "PUT a valid scenario: 200" 200 "$STATUS"
check "PUT answers active, name, title, rules count, exercises" \
	"True|api-a|Scenario A|2|['oci.smtp.server-error']" \
	"$(body "'|'.join(str(x) for x in (d['active'], d['name'], d['title'], d['rules'], d['exercises']))")"
req GET /api/v1/scenario
check "GET shows the active scenario" "True|api-a|2" "$(body "'|'.join(str(x) for x in (d['active'], d['name'], d['rules']))")"
check "GET gives back the YAML text as sent" "$(cat "$A")" "$(body "d['text'].rstrip('\n')")"
check "the new rule acts on the next connection" "451 Server error" "$(mail_reply)"

BAD=$(file bad.yaml <<'Y'
edsim: 1
name: api-bad
rules:
  - when: {stage: mail}
    do: {reply: oci.smtp.nothing-like-this}
Y
)
req PUT /api/v1/scenario "$BAD"
check "PUT an invalid scenario: 400" 400 "$STATUS"
check "PUT an invalid scenario: code InvalidScenario" InvalidScenario "$(body "d['code']")"
check "PUT an invalid scenario: message 'scenario:LINE:COL: ...'" \
	"scenario:5:17: do.reply: unknown catalog id 'oci.smtp.nothing-like-this'" \
	"$(body "d['message'].rstrip('\n')")"

BAD2=$(file bad2.yaml <<'Y'
edsim: 2
rules:
  - when: {stage: nowhere}
    do: {drop: true}
Y
)
req PUT /api/v1/scenario "$BAD2"
check "PUT with several errors: 400 and every error, one a line" \
	"400|scenario:1:8: edsim: expected 1, the only version of the scenario language
scenario:1:1: missing 'name'
scenario:3:19: unknown stage 'nowhere': expected connect, ehlo, starttls, auth, mail, rcpt, data, data-body, data-end, rset, quit, idle, request, submit, submit-raw or relay" \
	"$STATUS|$(body "d['message'].rstrip('\n')")"

printf 'edsim: 1\nname: x\nrules: [\n' >"$T/syntax.yaml"
req PUT /api/v1/scenario "$T/syntax.yaml"
check "PUT a YAML syntax error: 400 InvalidScenario" "400|InvalidScenario" "$STATUS|$(body "d['code']")"
check_contains "PUT a YAML syntax error: located message" "scenario:4:1: YAML syntax error" "$(body "d['message']")"

: >"$T/empty.yaml"
req PUT /api/v1/scenario "$T/empty.yaml"
check "PUT an empty body: 400 InvalidScenario" "400|InvalidScenario" "$STATUS|$(body "d['code']")"

req GET /api/v1/scenario
check "after refused PUTs the previous scenario is still active" "True|api-a" "$(body "'|'.join(str(x) for x in (d['active'], d['name']))")"
check "... and still acts" "451 Server error" "$(mail_reply)"

req POST /api/v1/scenario
check "POST /api/v1/scenario: 405" 405 "$STATUS"

req DELETE /api/v1/scenario
check "DELETE: 200 {\"active\": false}" "200|{'active': False}" "$STATUS|$(body d)"
req GET /api/v1/scenario
check "GET after DELETE: {\"active\": false}" "{'active': False}" "$(body d)"
check "after DELETE: native behaviour" "250 2.1.0 Sender OK" "$(mail_reply)"

# ---- POST /api/v1/reset: messages and events cleared, counters restarted ------------
C=$(file c.yaml <<'Y'
edsim: 1
name: api-c
rules:
  - when: {stage: connect, connection: 1}
    do: {reply: "421 4.3.2 first connection refused"}
Y
)
req PUT /api/v1/scenario "$C"
check "PUT scenario C: 200" 200 "$STATUS"
check "connection: 1 fires on the first connection after PUT" "421 4.3.2 first connection refused" "$(greeting)"
check "... and not on the second" "220 localhost ESMTP Email Delivery simulator (edsim) ready" "$(greeting)"
{
	cat <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<b@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	message_lines a@example.com b@example.net before-reset
	echo "<~ 250 2.0.0 Ok: queued as"
} | dialog_check "a message before the reset" plain "$SMTP_PORT"
check "one message stored before the reset" 1 "$(api GET /api/v1/messages | json "len(d['messages'])")"
check "events recorded before the reset" yes "$(api GET /api/v1/events | json "'yes' if d['events'] else 'no'")"
req POST /api/v1/reset
check "POST /api/v1/reset: 200 {\"deleted\": 1}" "200|{'deleted': 1}" "$STATUS|$(body d)"
check "after reset: no messages" 0 "$(api GET /api/v1/messages | json "len(d['messages'])")"
check "after reset: no events" 0 "$(api GET /api/v1/events | json "len(d['events'])")"
check "after reset: the scenario is still active" "True|api-c" "$(api GET /api/v1/scenario | json "'|'.join(str(x) for x in (d['active'], d['name']))")"
check "after reset: connection: 1 fires again on the next connection" "421 4.3.2 first connection refused" "$(greeting)"
check "... and not on the one after" "220 localhost ESMTP Email Delivery simulator (edsim) ready" "$(greeting)"
req PUT /api/v1/scenario "$C"
check "PUT again also restarts the counters" "421 4.3.2 first connection refused" "$(greeting)"

# ---- seeded probabilities ----------------------------------------------------------------
seeded() { # SEED: a scenario file with a probability-0.5 rule at mail
	file "seed-$1.yaml" <<Y
edsim: 1
name: seeded-$1
seed: $1
rules:
  - when: {stage: mail, probability: 0.5}
    do: {reply: "451 4.3.0 unlucky"}
Y
}
S7=$(seeded 7)
S8=$(seeded 8)
# twenty: 20 MAIL commands (each followed by RSET) on one connection; prints
# the MAIL replies as a string of L (451 unlucky) and N (250 Sender OK).
twenty() {
	local cmds=("EHLO client.test") i
	for i in $(seq 1 20); do cmds+=("MAIL FROM:<a@example.com>" RSET); done
	python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "${cmds[@]}" QUIT | sed -n '3,42p' | sed -n '1~2s/^[^|]*|//p' |
		while read -r line; do
			case $line in
			"451 4.3.0 unlucky") printf L ;;
			"250 2.1.0 Sender OK") printf N ;;
			*) printf '?' ;;
			esac
		done
}
req PUT /api/v1/scenario "$S7"
run1=$(twenty)
req PUT /api/v1/scenario "$S7"
run2=$(twenty)
check "seed 7: 20 replies, each 451 or 250" "20 0" "${#run1} $(tr -cd '?' <<<"$run1" | wc -c)"
check "seed 7: the same sequence after PUT of the same scenario ($run1)" "${run1:-(none)}" "$run2"
case $run1 in *L*N* | *N*L*) mixed=yes ;; *) mixed=no ;; esac
check "seed 7, probability 0.5: not all the same reply ($run1)" yes "$mixed"
run3=$(twenty)
check "seed 7: the sequence goes on (the next 20 differ from the first 20)" yes "$([ "$run3" != "$run1" ] && echo yes || echo no)"
api POST /api/v1/reset >/dev/null
run4=$(twenty)
check "seed 7: POST /api/v1/reset restarts the random sequence" "${run1:-(none)}" "$run4"
req PUT /api/v1/scenario "$S8"
run8=$(twenty)
check "seed 8 gives another sequence than seed 7 ($run8)" yes "$([ "$run8" != "$run1" ] && echo yes || echo no)"
edsim_stop api

edsim_start fresh --config "$cfg" --scenario "$S7" || exit 1
run5=$(twenty)
check "seed 7: a fresh edsim started with --scenario gives the same sequence" "${run1:-(none)}" "$run5"
edsim_stop fresh

# ---- the scenario deleted or replaced while a delayed rule waits ---------------------------
D=$(file delayed.yaml <<'Y'
edsim: 1
name: delayed
rules:
  - when: {stage: mail}
    do: {reply: "451 4.3.0 late", delay: 1500ms}
Y
)
for how in DELETE PUT; do
	edsim_start "swap-$how" --config "$cfg" --scenario "$D" || exit 1
	python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<a@example.com>" NOOP >"$T/swap.out" 2>&1 &
	client=$!
	sleep 0.7 # MAIL is waiting for its delayed reply now
	if [ "$how" = DELETE ]; then req DELETE /api/v1/scenario; else req PUT /api/v1/scenario "$A"; fi
	check "$how /api/v1/scenario while a delayed rule waits: 200" 200 "$STATUS"
	wait "$client"
	mail=$(sed -n '3s/^[^|]*|//p' "$T/swap.out")
	# The waiting command runs again at once and meets what is active now:
	# nothing after DELETE (the native 250), scenario A's rule after PUT.
	if [ "$how" = DELETE ]; then want="250 2.1.0 Sender OK"; else want="451 Server error"; fi
	case $mail in "$want") ok=yes ;; *) ok=no ;; esac
	check "$how while a delayed rule waits: MAIL still gets a reply (got '$mail')" yes "$ok"
	check "$how while a delayed rule waits: the session goes on" "250 2.0.0 Ok" "$(sed -n '4s/^[^|]*|//p' "$T/swap.out")"
	check "$how while a delayed rule waits: edsim is still up" 200 "$(api_status GET /api/v1/health)"
	edsim_stop "swap-$how"
done
