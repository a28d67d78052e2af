#!/usr/bin/env bash
# relay_webhooks: events posted to webhook receivers (webhook_receiver.py):
# signed bodies equal to GET /api/v1/events entries, an events filter,
# retries of a failing receiver with the same delivery id and growing gaps
# (counted in GET /api/v1/health), and intake that a dead or stalled
# receiver does not slow down.
. "$(dirname "$0")/lib.bash"

RECEIVER=$HERE/webhook_receiver.py
declare -A RECV_PID=()
# receiver NAME [args]: starts webhook_receiver.py, log $T/NAME.log, sets PORT_<NAME>.
receiver() {
	local name=$1 i
	shift
	python3 "$RECEIVER" --port-file "$T/$name.port" --log "$T/$name.log" "$@" >"$T/$name.err" 2>&1 &
	RECV_PID[$name]=$!
	for i in $(seq 1 100); do
		[ -s "$T/$name.port" ] && break
		sleep 0.05
	done
	printf -v "PORT_$name" '%s' "$(cat "$T/$name.port" 2>/dev/null)"
	touch "$T/$name.log"
	[ -s "$T/$name.port" ]
}
stop_receivers() {
	local n
	for n in "${!RECV_PID[@]}"; do
		kill "${RECV_PID[$n]}" 2>/dev/null
		wait "${RECV_PID[$n]}" 2>/dev/null
		unset "RECV_PID[$n]"
	done
}
STALL_PID=
trap 'stop_receivers; [ -n "$STALL_PID" ] && kill "$STALL_PID" 2>/dev/null; cleanup_all' EXIT

# lines NAME: how many POSTs receiver NAME logged.
lines() { wc -l <"$T/$1.log"; }
# rlog NAME EXPR: EXPR evaluated with L = the receiver's log entries (a list).
rlog() { python3 -c "import json,sys; L=[json.loads(l) for l in open(sys.argv[1]) if l.strip()]; print($2)" "$T/$1.log" 2>&1; }
health() { api GET /api/v1/health | json "$1" 2>&1; }

receiver all --secret s3cret || { fail "receiver all did not start"; exit 1; }
receiver bounces --secret s3cret || { fail "receiver bounces did not start"; exit 1; }

scen=$(write_config bounce-scenario.yaml <<'Y'
edsim: 1
name: test.relay-bounce
rules:
  - when: { stage: relay, recipient: "bounce@*" }
    do: { downstream: "550 5.1.1 User unknown" }
Y
)
cfg=$(write_config hooks.yaml <<Y
auth: { required: false }
webhooks:
  - { url: "http://127.0.0.1:$PORT_all/hook", secret: s3cret }
  - { url: "http://127.0.0.1:$PORT_bounces/hook", secret: s3cret, events: [bounced] }
Y
)
edsim_start hooks --config "$cfg" --scenario "$scen" || { fail "edsim hooks did not start"; exit 1; }

swaks --server "127.0.0.1:$SMTP_PORT" --from sender@example.com --to ok@example.net \
	--header 'Subject: hook ok' --timeout 20 >"$T/swaks-ok" 2>&1
check "swaks sends to ok@example.net" 0 $?
swaks --server "127.0.0.1:$SMTP_PORT" --from sender@example.com --to bounce@example.net \
	--header 'Subject: hook bounce' --timeout 20 >"$T/swaks-bounce" 2>&1
check "swaks sends to bounce@example.net" 0 $?
id_ok=$(api GET "/api/v1/messages?subject=hook%20ok" | json "d['messages'][0]['id']")
id_bounce=$(api GET "/api/v1/messages?subject=hook%20bounce" | json "d['messages'][0]['id']")

# every event the API lists has reached the receiver "all", and no hook is pending
api_events() { api GET /api/v1/events >"$T/events.json"; json "len(d['events'])" <"$T/events.json"; }
all_arrived() {
	local n
	n=$(api_events)
	[ "$(health "d['webhooks']['pending']")" == 0 ] && [ "$(lines all)" -ge "$n" ] && [ "$(lines bounces)" -ge 1 ]
}
wait_until 100 0.1 all_arrived
sleep 0.3 # anything extra would show now
api GET /api/v1/events >"$T/events.json"
echo "    events listed by the API: $(json "[(e['id'], e['type']) for e in d['events']]" <"$T/events.json")"
echo "    posted to receiver all:    $(rlog all "[(e['body'].get('id'), e['event']) if isinstance(e['body'], dict) else e['body'] for e in L]")"

check "receiver all: an accepted event for each message" "True True" \
	"$(rlog all "any(e['event'] == 'accepted' and e['body']['message'] == '$id_ok' for e in L), any(e['event'] == 'accepted' and e['body']['message'] == '$id_bounce' for e in L)")"
check "receiver all: delivered for ok@example.net (capture mode)" True \
	"$(rlog all "any(e['event'] == 'delivered' and e['body']['message'] == '$id_ok' and e['body']['recipient'] == 'ok@example.net' and e['body']['destination'] == 'capture' for e in L)")"
check "receiver all: bounced for bounce@example.net with the rule's reply" True \
	"$(rlog all "any(e['event'] == 'bounced' and e['body']['message'] == '$id_bounce' and e['body']['recipient'] == 'bounce@example.net' and e['body']['reply'] == '550 5.1.1 User unknown' and e['body']['code'] == 550 and e['body'].get('rule') for e in L)")"
check "receiver all: every POST has a valid signature (s3cret)" "True" \
	"$(rlog all "len(L) > 0 and all(e['signature_ok'] is True for e in L) or [e for e in L if e['signature_ok'] is not True][:2]")"
check "receiver all: X-Edsim-Event is the body's type, every time" True \
	"$(rlog all "all(isinstance(e['body'], dict) and e['event'] == e['body'].get('type') for e in L)")"
check "receiver all: every delivery id is distinct (no retries needed)" True \
	"$(rlog all "len(set(e['delivery'] for e in L)) == len(L) and all(e['delivery'] for e in L)")"
check "receiver all: each body is the same JSON as the API's event with its id" True \
	"$(python3 -c 'import json,sys
api = {e["id"]: e for e in json.load(open(sys.argv[1]))["events"]}
L = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
bad = [e["body"] for e in L if not isinstance(e["body"], dict) or api.get(e["body"].get("id")) != e["body"]]
print(True if not bad else "differ: %s / api: %s" % (bad[:1], [api.get(b.get("id")) if isinstance(b, dict) else None for b in bad[:1]]))' "$T/events.json" "$T/all.log" 2>&1)"
check "receiver all: same id/type/message as the API's events" True \
	"$(python3 -c 'import json,sys
api = {e["id"]: (e["type"], e["message"]) for e in json.load(open(sys.argv[1]))["events"]}
L = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
print(all(isinstance(e["body"], dict) and api.get(e["body"].get("id")) == (e["body"].get("type"), e["body"].get("message")) for e in L))' "$T/events.json" "$T/all.log" 2>&1)"
check "receiver all: got every event the API lists, once each" True \
	"$(python3 -c 'import json,sys
api = sorted(e["id"] for e in json.load(open(sys.argv[1]))["events"])
got = sorted(e["body"]["id"] for e in (json.loads(l) for l in open(sys.argv[2]) if l.strip()) if isinstance(e["body"], dict))
print(True if api == got else "api %s, received %s" % (api, got))' "$T/events.json" "$T/all.log" 2>&1)"

check "receiver bounces (events: [bounced]): exactly one POST, a bounced event" "['bounced']" \
	"$(rlog bounces "[e['event'] for e in L]")"
check "receiver bounces: for bounce@example.net, signature valid" "bounce@example.net True" \
	"$(rlog bounces "L[0]['body']['recipient'], L[0]['signature_ok']")"
check "receiver bounces: the body equals the API's bounced event" True \
	"$(python3 -c 'import json,sys
api = {e["id"]: e for e in json.load(open(sys.argv[1]))["events"]}
L = [json.loads(l) for l in open(sys.argv[2]) if l.strip()]
print(all(api.get(e["body"]["id"]) == e["body"] for e in L))' "$T/events.json" "$T/bounces.log" 2>&1)"
n_sent=$(($(lines all) + $(lines bounces)))
check "health: webhooks sent = POSTs received, no failures, none dropped or pending" "$n_sent 0 0 0" \
	"$(health "d['webhooks']['sent'], d['webhooks']['failed_attempts'], d['webhooks']['dropped'], d['webhooks']['pending']" | tr -d '(),')"
edsim_stop hooks

# --- a receiver failing its first two requests: the same delivery three times --------
receiver flaky --secret s3cret --fail-first 2 || { fail "receiver flaky did not start"; exit 1; }
cfg=$(write_config flaky.yaml <<Y
auth: { required: false }
webhooks:
  - { url: "http://127.0.0.1:$PORT_flaky/hook", secret: s3cret, events: [accepted] }
Y
)
edsim_start flaky --config "$cfg" || { fail "edsim flaky did not start"; exit 1; }
swaks --server "127.0.0.1:$SMTP_PORT" --from sender@example.com --to r@example.net \
	--header 'Subject: flaky' --timeout 20 >"$T/swaks-flaky" 2>&1
check "swaks sends one message" 0 $?
first() { [ "$(lines flaky)" -ge 1 ]; }
wait_until 100 0.1 first
sleep 0.3
check "after the first failure: health shows 1 pending, 0 sent, 1 failed attempt" "1 0 1" \
	"$(health "d['webhooks']['pending'], d['webhooks']['sent'], d['webhooks']['failed_attempts']" | tr -d '(),')"
three() { [ "$(lines flaky)" -ge 3 ]; }
wait_until 100 0.1 three
sent_done() { [ "$(health "d['webhooks']['sent']")" == 1 ]; }
wait_until 30 0.1 sent_done
sleep 1.2 # a fourth request would come after a further backoff; none is due
echo "    flaky receiver log: $(rlog flaky "[(round(e['time'] - L[0]['time'], 2), e['status'], e['delivery']) for e in L]")"
check "receiver flaky: three POSTs: 500, 500, 200" "[500, 500, 200]" "$(rlog flaky "[e['status'] for e in L]")"
check "receiver flaky: the same X-Edsim-Delivery id each time" True \
	"$(rlog flaky "len(L) == 3 and len(set(e['delivery'] for e in L)) == 1 and L[0]['delivery'] is not None")"
check "receiver flaky: the same body and a valid signature each time" True \
	"$(rlog flaky "len(L) == 3 and all(e['body'] == L[0]['body'] and e['signature_ok'] is True for e in L)")"
check "receiver flaky: the first gap is about 1 s (0.9 to 1.8)" True \
	"$(rlog flaky "0.9 <= L[1]['time'] - L[0]['time'] <= 1.8 or round(L[1]['time'] - L[0]['time'], 2)")"
check "receiver flaky: the second gap is about 2 s (1.9 to 3.2)" True \
	"$(rlog flaky "1.9 <= L[2]['time'] - L[1]['time'] <= 3.2 or round(L[2]['time'] - L[1]['time'], 2)")"
check "health: webhooks sent 1, failed_attempts 2, dropped 0, pending 0" "1 2 0 0" \
	"$(health "d['webhooks']['sent'], d['webhooks']['failed_attempts'], d['webhooks']['dropped'], d['webhooks']['pending']" | tr -d '(),')"
edsim_stop flaky

# --- intake is not slowed by a dead or a stalled receiver ----------------------------------
# stall: a listener that accepts connections and never answers.
python3 -c 'import socket, sys, time
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 0)); s.listen(1024)
open(sys.argv[1] + ".tmp", "w").write(str(s.getsockname()[1])); __import__("os").replace(sys.argv[1] + ".tmp", sys.argv[1])
held = []
while True:
    c, _ = s.accept(); held.append(c)' "$T/stall.port" &
STALL_PID=$!
wait_until 50 0.1 test -s "$T/stall.port"
STALL_PORT=$(cat "$T/stall.port")
DEAD_PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')

# timed NAME: 200 messages with smtp-source into the last started edsim; sets t (seconds).
timed() {
	local start end rc
	start=$(date +%s.%N)
	smtp-source -m 200 -s 5 -f a@example.com -t b@example.net "127.0.0.1:$SMTP_PORT" >"$T/source-$1" 2>&1
	rc=$?
	end=$(date +%s.%N)
	check "smtp-source sends 200 messages ($1)" 0 "$rc"
	t=$(python3 -c "print('%.3f' % ($end - $start))")
}
stored() { api GET "/api/v1/messages?limit=1000" | json "len(d['messages'])" 2>&1; }

cfg=$(write_config plain.yaml <<'Y'
auth: { required: false }
Y
)
edsim_start base --config "$cfg" || { fail "edsim base did not start"; exit 1; }
timed base
t_base=$t
check "without webhooks: 200 messages stored" 200 "$(stored)"
edsim_stop base

for kind in dead stall; do
	port=$DEAD_PORT
	[ $kind == stall ] && port=$STALL_PORT
	cfg=$(write_config "$kind.yaml" <<Y
auth: { required: false }
webhooks:
  - { url: "http://127.0.0.1:$port/hook", secret: s3cret }
Y
)
	edsim_start "$kind" --config "$cfg" || { fail "edsim $kind did not start"; continue; }
	timed "$kind"
	echo "    200 messages: ${t_base}s without webhooks, ${t}s with a $kind receiver"
	check "$kind receiver: 200 messages stored" 200 "$(stored)"
	check "$kind receiver: intake time < 2 x without webhooks + 1 s" True \
		"$(python3 -c "print($t < 2 * $t_base + 1 or 'took $t s, base $t_base s')")"
	check "$kind receiver: deliveries are pending or failed, none sent" True \
		"$(health "d['webhooks']['sent'] == 0 and (d['webhooks']['pending'] > 0 or d['webhooks']['failed_attempts'] > 0) or d['webhooks']")"
	check "$kind receiver: the control API still answers at once" 200 \
		"$(curl -s -m 2 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$CONTROL_PORT/api/v1/health")"
	start=$(date +%s.%N)
	edsim_stop "$kind"
	check "$kind receiver: edsim stops within 5 s despite pending deliveries" True \
		"$(python3 -c "e = $(date +%s.%N) - $start; print(e < 5 or 'took %.1f s' % e)")"
done
stop_receivers
