#!/usr/bin/env bash
# concurrency: 200 SMTP sessions open at the same time, each delivering one
# message, in clear text without AUTH and then over implicit TLS with AUTH
# PLAIN; every message gets 250 and the store lists exactly those messages.
. "$(dirname "$0")/lib.bash"
cfg=$(write_config concurrency.yaml <<'Y'
limits: { connections_per_ip: 500 }
auth: { required: false }
Y
)
edsim_start conc --config "$cfg" || exit 1
N=200

# expected_ids PREFIX: the Message-IDs smtp_load.py uses for N sessions x 1 message.
expected_ids() { for ((i = 0; i < N; i++)); do echo "<$1-$i-0@load.test>"; done; }

# deliver LABEL PREFIX ARGS...: one smtp_load.py run of N sessions held open together.
deliver() {
	local label=$1 prefix=$2 out rc
	shift 2
	out=$(timeout 180 python3 "$HERE/clients/smtp_load.py" --sessions "$N" --per-session 1 \
		--together --prefix "$prefix" "$@")
	rc=$?
	check "$label: the client ends with status 0 (every message got 250)" 0 "$rc"
	check "$label: $N sessions were open at the same time" "$N" \
		"$(echo "$out" | json "d['connected_together']" 2>&1)"
	check "$label: $N replies 250 to DATA and no other" "{'250': $N}" \
		"$(echo "$out" | json "d['codes']" 2>&1)"
	check "$label: no client errors" "{}" "$(echo "$out" | json "d['errors']" 2>&1)"
	echo "$out" | json "'\n'.join(d['acked_ids'])" >"$T/$prefix.acked" 2>/dev/null
	check "$label: the client saw 250 for each of its $N Message-IDs" "" \
		"$(ids_diff <(expected_ids "$prefix") "$T/$prefix.acked")"
}

deliver "plain" plain --port "$SMTP_PORT"
expected_ids plain >"$T/expected"
api GET "/api/v1/messages?limit=1000" >"$T/list1.json"
message_ids <"$T/list1.json" >"$T/stored1"
check "plain: GET /api/v1/messages?limit=1000 lists $N messages" "$N" "$(wc -l <"$T/stored1")"
check "plain: the store lists exactly the $N Message-IDs sent" "" "$(ids_diff "$T/expected" "$T/stored1")"
check "plain: the messages came on $N different connections, without a user" "$N []" \
	"$(json "len({m['connection'] for m in d['messages']}), sorted({m['user'] for m in d['messages'] if m['user'] is not None})" <"$T/list1.json" 2>&1)"

# The same over implicit TLS with AUTH PLAIN (open mode: any credentials).
deliver "implicit TLS + AUTH PLAIN" tls --port "$SMTPS_PORT" --tls --ca "$CA" --auth "load-user:secret"
expected_ids tls >>"$T/expected"
api GET "/api/v1/messages?limit=1000" >"$T/list2.json"
message_ids <"$T/list2.json" >"$T/stored2"
check "TLS: the store now lists $((2 * N)) messages" "$((2 * N))" "$(wc -l <"$T/stored2")"
check "TLS: the store lists exactly the $((2 * N)) Message-IDs sent" "" "$(ids_diff "$T/expected" "$T/stored2")"
check "TLS: each TLS message records the AUTH user load-user" "$N" \
	"$(json "sum(1 for m in d['messages'] if m['message_id'].startswith('<tls-') and m['user'] == 'load-user')" <"$T/list2.json" 2>&1)"
check "TLS: every message has its own store id" "$((2 * N))" \
	"$(json "len({m['id'] for m in d['messages']})" <"$T/list2.json" 2>&1)"

# One accepted event per message, naming the message's store id.
api GET "/api/v1/events?since=0" >"$T/events.json"
check "events: one accepted event for each stored message" "True" \
	"$(python3 -c 'import json,sys
ev = json.load(open(sys.argv[1]))["events"]
ids = sorted(e["message"] for e in ev if e["type"] == "accepted")
stored = sorted(m["id"] for m in json.load(open(sys.argv[2]))["messages"])
print(ids == stored)' "$T/events.json" "$T/list2.json" 2>&1)"
check "events: no refusal or rejection under load" "[]" \
	"$(json "[e for e in d['events'] if e['type'] not in ('accepted', 'delivered')]" <"$T/events.json" 2>&1 | head -c 2000)"

# All sessions end: the health answer counts none once the clients quit.
sessions_zero() { [ "$(api GET /api/v1/health | json "d['sessions']" 2>/dev/null)" == 0 ]; }
wait_until 100 0.1 sessions_zero
check "health: no session left open after the load" 0 "$(api GET /api/v1/health | json "d['sessions']" 2>&1)"
edsim_stop conc
