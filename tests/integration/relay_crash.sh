#!/usr/bin/env bash
# relay_crash: kill -9 of a relaying edsim. 1 000 messages (unique
# Message-IDs) go into an upstream edsim that relays them to a downstream
# edsim (capture mode, slowed by a 50 ms delay at the end of DATA). The
# upstream is killed while it relays, restarted on the same state directory,
# and must finish the queue: every acknowledged message reaches the
# downstream at least once (duplicates are allowed and reported).
. "$(dirname "$0")/lib.bash"
SECONDS=0

slow=$(write_config slow.yaml <<'Y'
edsim: 1
name: test.slow-downstream
rules:
  - when: { stage: data-end }
    do: { delay: 50ms }
Y
)
cfg=$(write_config down.yaml <<'Y'
auth: { required: false }
limits: { connections_per_ip: 200 }
Y
)
edsim_start down --config "$cfg" --scenario "$slow" || { fail "edsim down did not start"; exit 1; }
DOWN_SMTP=$SMTP_PORT DOWN_CONTROL=$CONTROL_PORT

cfg=$(write_config up.yaml <<Y
auth: { required: false }
relay: { mode: smarthost, host: 127.0.0.1, port: $DOWN_SMTP, tls: none, connections: 10, timeout: 10s }
retry: { first: 1s, factor: 2, cap: 2s }
Y
)
edsim_start up --config "$cfg" || { fail "edsim up did not start"; exit 1; }
UP_CONTROL=$CONTROL_PORT

up() { curl -s -m 5 "http://127.0.0.1:$UP_CONTROL$1"; }
down() { curl -s -m 10 "http://127.0.0.1:$DOWN_CONTROL$1"; }
down_count() { down "/api/v1/messages?limit=100000" | json "len(d['messages'])" 2>/dev/null || echo 0; }

acked=$T/acked
: >"$acked"
timeout 120 python3 "$HERE/clients/smtp_load.py" --port "$SMTP_PORT" --sessions 10 \
	--per-session 100 --prefix crash --acked "$acked" >"$T/load.json" 2>"$T/load.err" &
load=$!

# kill when the downstream has some but not all of them
enough() { [ "$(down_count)" -ge 250 ]; }
wait_until 300 0.1 enough
at_kill_down=$(down_count)
at_kill_acked=$(wc -l <"$acked")
edsim_kill up
echo "    upstream killed with SIGKILL: $at_kill_acked acknowledged, $at_kill_down at the downstream (after ${SECONDS}s)"
wait "$load"
load_rc=$?
n_acked=$(wc -l <"$acked")
echo "    client: $(json "'sent %d, acked %d, errors %s' % (d['sent'], d['acked'], d['errors'])" <"$T/load.json" 2>&1)"
check "the kill came while relaying (1 to 999 at the downstream)" yes \
	"$([ "$at_kill_down" -ge 1 ] && [ "$at_kill_down" -le 999 ] && echo yes || echo "no: $at_kill_down")"
check "the client's summary agrees with the acked file" "$n_acked" "$(json "d['acked']" <"$T/load.json" 2>&1)"
[ "$load_rc" -eq 0 ] && echo "    (the client had finished all 1000 messages before the kill)"

edsim_start up --config "$cfg" || { fail "edsim up did not restart"; exit 1; }
pass "the upstream restarts on the state directory left by kill -9"
UP_CONTROL=$CONTROL_PORT
up /api/v1/queue >"$T/queue-at-restart.json"
echo "    queue right after the restart: $(json "d['messages'], d['recipients'], d['restart']" <"$T/queue-at-restart.json" 2>&1)"

drained() {
	[ "$(up /api/v1/queue | json "d['messages'] == 0 and d['recipients']['deferred'] == 0 and d['recipients']['queued'] == 0 and d['recipients']['sending'] == 0" 2>/dev/null)" == True ]
}
wait_until 400 0.1 drained
check "the restarted upstream empties its queue (0 messages, none deferred)" 0 $?
up /api/v1/queue >"$T/queue.json"
echo "    queue at the end: $(tr -d ' \n' <"$T/queue.json")"
echo "    restart counters: $(json "'messages_resumed=%d recipients_resent=%d' % (d['restart']['messages_resumed'], d['restart']['recipients_resent'])" <"$T/queue.json" 2>&1)"
check "restart counters: some unfinished messages were taken up again" True \
	"$(json "d['restart']['messages_resumed'] >= 1 or d['restart']" <"$T/queue.json" 2>&1)"
check "restart counters: resent recipients <= resumed messages (one recipient each)" True \
	"$(json "d['restart']['recipients_resent'] <= d['restart']['messages_resumed'] or d['restart']" <"$T/queue.json" 2>&1)"

# the upstream's store: every acknowledged message, each delivered
up "/api/v1/messages?limit=100000" >"$T/up-list.json"
check "upstream: every acknowledged message is in its store" "" \
	"$(LC_ALL=C comm -23 <(LC_ALL=C sort -u "$acked") <(message_ids <"$T/up-list.json" | LC_ALL=C sort -u) | head -5)"
check "upstream: every stored message is delivered (none bounced or pending)" "{'delivered'}" \
	"$(json "set(r['state'] for m in d['messages'] for r in m['to'])" <"$T/up-list.json" 2>&1)"
n_up=$(json "len(d['messages'])" <"$T/up-list.json")

# the downstream: let messages still in its 50 ms delay land, then count per Message-ID
sleep 0.5
settled_down() {
	local a b
	a=$(down_count)
	sleep 0.3
	b=$(down_count)
	[ "$a" == "$b" ]
}
wait_until 20 0.2 settled_down
down "/api/v1/messages?limit=100000" >"$T/down-list.json"
message_ids <"$T/down-list.json" >"$T/down-ids"
lost=$(LC_ALL=C comm -23 <(LC_ALL=C sort -u "$acked") <(LC_ALL=C sort -u "$T/down-ids") | wc -l)
n_down=$(wc -l <"$T/down-ids")
n_distinct=$(LC_ALL=C sort -u "$T/down-ids" | wc -l)
echo "    acknowledged: $n_acked, upstream stored: $n_up, downstream received: $n_down ($n_distinct distinct)"
echo "duplicates: $((n_down - n_distinct))"
check "no acknowledged message lost: every one reached the downstream at least once (lost: $lost)" 0 "$lost"
check "every message the upstream stored reached the downstream" "" \
	"$(LC_ALL=C comm -23 <(message_ids <"$T/up-list.json" | LC_ALL=C sort -u) <(LC_ALL=C sort -u "$T/down-ids") | head -5)"
check "the downstream holds only messages the client sent" "" \
	"$(grep -v -E '^<crash-[0-9]-([0-9]|[1-9][0-9])@load\.test>$' "$T/down-ids" | head -5)"
check "downstream copies are complete (subject and recipient as sent)" "[]" \
	"$(json "[m['message_id'] for m in d['messages'] if not m['subject'].startswith('load crash ') or [r['address'] for r in m['to']] != ['sink@example.net']][:5]" <"$T/down-list.json" 2>&1)"
echo "    took ${SECONDS}s"

edsim_stop up
edsim_stop down
