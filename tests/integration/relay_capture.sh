#!/usr/bin/env bash
# relay_capture: the relay in its default capture mode (delivered at once,
# the capture mailbox), scenario rules at stage relay (550 -> bounce, DSN and
# suppression; 451 on the first attempt -> delivered on the second; drop once
# -> deferred, then delivered) with their labels in events, `edsim check` on
# those files, and a kill -9 that leaves a deferred message, resumed at once
# by the next start.
. "$(dirname "$0")/lib.bash"

# send FROM TO SUBJECT: swaks in clear without AUTH; prints the store id.
send() {
	local out=$T/swaks.$3
	swaks --server "127.0.0.1:$SMTP_PORT" --from "$1" --to "$2" --header "Subject: $3" \
		--header "Message-Id: <$3@example.com>" --body "body of $3" --timeout 20 >"$out" 2>&1
	sed -n 's/.*queued as \([0-9a-f]*\).*/\1/p' "$out" | head -1
}
msg() { api GET "/api/v1/messages/$1" | json "$2" 2>&1; }
rstate() { msg "$1" "d['to'][0]['state']"; }
is_state() { [ "$(rstate "$1")" == "$2" ]; }
events() { api GET "/api/v1/events?since=0" >"$T/events.json"; }
ev() { json "$1" <"$T/events.json" 2>&1; }
edsim_check() {
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} "$EDSIM" check "$1" >"$T/check.out" 2>&1
	local rc=$?
	check "edsim check accepts $(basename "$1") (exit 0)" 0 "$rc"
	[ "$rc" -eq 0 ] || sed 's/^/    /' "$T/check.out"
}

AUTHLESS=$(write_config authless.yaml <<'Y'
auth: {required: false}
Y
)

# ============================================================================
# default capture mode
# ============================================================================
edsim_start cap --config "$AUTHLESS" || exit 1
check "GET /api/v1/queue: mode capture by default" capture "$(api GET /api/v1/queue | json "d['mode']" 2>&1)"
idc=$(send sender@example.com "one@example.net,two@example.org" cap-1)
check "a message accepted" True "$([ -n "$idc" ] && echo True || echo False)"
poll 30 is_state "$idc" delivered
check "capture: both recipients delivered at once, destination capture, attempts 1" \
	"one@example.net|delivered|capture|1|250 2.0.0 Delivered to the capture mailbox two@example.org|delivered|capture|1|250 2.0.0 Delivered to the capture mailbox" \
	"$(msg "$idc" "' '.join('|'.join(map(str, [r['address'], r['state'], r['destination'], r['attempts'], r['reply']])) for r in d['to'])")"
check "capture: message state delivered" delivered "$(msg "$idc" "d['state']")"
check "capture: attempts list names capture" True \
	"$(msg "$idc" "len(d['attempts']) >= 1 and all(a['destination'] == 'capture' for a in d['attempts'])")"
check "capture: GET /api/v1/mailbox lists it, state delivered, destination capture, origin intake" \
	"$idc|delivered|capture capture|intake" \
	"$(api GET "/api/v1/mailbox?subject=cap-1" | json "'|'.join([d['messages'][0]['id'], d['messages'][0]['state'], ' '.join(r['destination'] for r in d['messages'][0]['to']), d['messages'][0]['origin']]) if len(d['messages']) == 1 else d" 2>&1)"
check "capture: GET /api/v1/queue: nothing in memory, 2 delivered" "0 2" \
	"$(api GET /api/v1/queue | json "'%d %d' % (d['messages'], d['totals']['delivered'])" 2>&1)"
events
check "capture: delivered events for both recipients, stage relay, destination capture, rule null" \
	"one@example.net|capture|250|None two@example.org|capture|250|None" \
	"$(ev "' '.join(sorted('|'.join(map(str, [e['recipient'], e['destination'], e['code'], e['rule']])) for e in d['events'] if e['type'] == 'delivered' and e['message'] == '$idc' and e['stage'] == 'relay'))")"

# A relay rule loaded with PUT works in capture mode too.
cat >"$T/put.yaml" <<'Y'
edsim: 1
name: relay-put
rules:
  - when: {stage: relay, recipient: "put@*"}
    do: {downstream: "550 5.1.1 User unknown"}
Y
check "PUT /api/v1/scenario with a relay rule: 200" 200 \
	"$(curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary @"$T/put.yaml" "http://127.0.0.1:$CONTROL_PORT/api/v1/scenario")"
idp=$(send sender@example.com "put@example.net" cap-put)
poll 30 is_state "$idp" bounced
check "PUT scenario: put@ bounced by the rule, destination scenario" "bounced|scenario|550 5.1.1 User unknown" \
	"$(msg "$idp" "'|'.join([d['to'][0]['state'], d['to'][0]['destination'], d['to'][0]['reply']])")"
edsim_stop cap

# ============================================================================
# scenario rules at stage relay, loaded with --scenario
# ============================================================================
cat >"$T/relay-rules.yaml" <<'Y'
edsim: 1
name: relay-rules
title: "relay: a bounce, a slow recipient, a dropped connection"
settings:
  retry: {first: 1s, factor: 2, cap: 2s, max_age: 1h}
rules:
  - when: {stage: relay, recipient: "bounce@*"}
    do: {downstream: "550 5.1.1 User unknown"}
  - when: {stage: relay, recipient: "slow@*", attempt: 1}
    do: {downstream: "451 4.7.1 Try again later"}
  - when: {stage: relay, recipient: "drop@*", times: 1}
    do: {downstream: drop}
Y
edsim_check "$T/relay-rules.yaml"
L1=$(grep -n 'bounce@' "$T/relay-rules.yaml" | cut -d: -f1)
L2=$(grep -n 'slow@' "$T/relay-rules.yaml" | cut -d: -f1)
L3=$(grep -n 'drop@' "$T/relay-rules.yaml" | cut -d: -f1)
edsim_start rules --config "$AUTHLESS" --scenario "$T/relay-rules.yaml" || exit 1
check "the scenario is active" "True relay-rules" "$(api GET /api/v1/scenario | json "'%s %s' % (d['active'], d['name'])" 2>&1)"

idb=$(send sender@example.com "bounce@example.net" rule-bounce)
ids=$(send sender@example.com "slow@example.net" rule-slow)
idd=$(send sender@example.com "drop@example.net" rule-drop)
idf=$(send sender@example.com "fine@example.net" rule-fine)

poll 30 is_state "$idb" bounced
check "bounce@: bounced with the rule's reply, destination scenario, attempts 1" \
	"bounced|scenario|550 5.1.1 User unknown|1" \
	"$(msg "$idb" "'|'.join(map(str, [d['to'][0]['state'], d['to'][0]['destination'], d['to'][0]['reply'], d['to'][0]['attempts']]))")"
check "bounce@: message state bounced" bounced "$(msg "$idb" "d['state']")"
check "fine@: no rule, delivered to capture" "delivered|capture" "$(msg "$idf" "d['to'][0]['state'] + '|' + d['to'][0]['destination']")"

# The retry comes 1 s later: the first attempt is read from the attempts list.
poll 50 is_state "$ids" delivered
poll 50 is_state "$idd" delivered
check "slow@: first attempt deferred by the 451 rule, destination scenario" "deferred|scenario|451 4.7.1 Try again later" \
	"$(msg "$ids" "'|'.join([d['attempts'][0]['recipients'][0]['state'], d['attempts'][0]['destination'], d['attempts'][0]['recipients'][0]['reply']])")"
check "drop@: first attempt deferred as a dropped connection, destination scenario" "deferred|scenario" \
	"$(msg "$idd" "'|'.join([d['attempts'][0]['recipients'][0]['state'], d['attempts'][0]['destination']])")"
check_contains "drop@: the first attempt's reply says the connection was dropped" "dropped the connection" \
	"$(msg "$idd" "d['attempts'][0]['recipients'][0]['reply']")"
check "slow@: delivered on attempt 2, to capture" "delivered|capture|2|2" \
	"$(msg "$ids" "'|'.join(map(str, [d['to'][0]['state'], d['to'][0]['destination'], d['to'][0]['attempts'], len(d['attempts'])]))")"
check "drop@: delivered on attempt 2 (times: 1 used up), to capture" "delivered|capture|2" \
	"$(msg "$idd" "'|'.join(map(str, [d['to'][0]['state'], d['to'][0]['destination'], d['to'][0]['attempts']]))")"
check "slow@: the retry came about 1 s later (retry.first from the scenario's settings)" True \
	"$(msg "$ids" "(lambda t: 0.9 <= t[1] - t[0] <= 5)([__import__('datetime').datetime.fromisoformat(a['time'].replace('Z', '+00:00')).timestamp() for a in d['attempts']])")"

events
check "events: bounced for bounce@ labelled rule 1 (line $L1)" "bounced|550|rule 1 (line $L1)|scenario" \
	"$(ev "[e['type'] + '|' + str(e['code']) + '|' + str(e['rule']) + '|' + e['destination'] for e in d['events'] if e['type'] == 'bounced' and e['message'] == '$idb'][0]")"
check "events: deferred for slow@ labelled rule 2 (line $L2), with next_attempt" "deferred|451|rule 2 (line $L2)|True" \
	"$(ev "[e['type'] + '|' + str(e['code']) + '|' + str(e['rule']) + '|' + str(bool(e.get('next_attempt'))) for e in d['events'] if e['type'] == 'deferred' and e['message'] == '$ids'][0]")"
check "events: deferred for drop@ labelled rule 3 (line $L3)" "deferred|rule 3 (line $L3)" \
	"$(ev "[e['type'] + '|' + str(e['rule']) for e in d['events'] if e['type'] == 'deferred' and e['message'] == '$idd'][0]")"
check "events: the later deliveries of slow@ and drop@ carry no rule, attempt 2" "None|2 None|2" \
	"$(ev "' '.join(str(e['rule']) + '|' + str(e['attempt']) for e in d['events'] if e['type'] == 'delivered' and e['message'] in ('$ids', '$idd'))")"

has_dsn() { [ "$(api GET "/api/v1/mailbox?to=sender@example.com" | json "len([m for m in d['messages'] if m['origin'] == 'dsn'])" 2>/dev/null)" == 1 ]; }
poll 50 has_dsn
check "one DSN in the mailbox (for bounce@ only), to sender@, envelope sender empty" \
	"1|sender@example.com|''" \
	"$(api GET "/api/v1/mailbox?to=sender@example.com" | json "(lambda l: '%d|%s|%r' % (len(l), l[0]['to'][0]['address'], l[0]['from']))([m for m in d['messages'] if m['origin'] == 'dsn'])" 2>&1)"
dsn=$(api GET "/api/v1/mailbox?to=sender@example.com" | json "[m for m in d['messages'] if m['origin'] == 'dsn'][0]['id']" 2>/dev/null)
raw=$(api GET "/api/v1/messages/$dsn/raw")
check_contains "DSN: report-type=delivery-status" "report-type=delivery-status" "$raw"
check_contains "DSN: Final-Recipient bounce@" "Final-Recipient: rfc822; bounce@example.net" "$raw"
check_contains "DSN: Status 5.1.1" "Status: 5.1.1" "$raw"
check_contains "DSN: Diagnostic-Code" "Diagnostic-Code: smtp; 550 5.1.1 User unknown" "$raw"
check_contains "DSN: the original Subject" "Subject: rule-bounce" "$raw"
events
check "events: dsn for bounce@ names the report" "$dsn" \
	"$(ev "[str(e['dsn']) for e in d['events'] if e['type'] == 'dsn' and e['message'] == '$idb'][0]")"
check "suppression: bounce@ listed, source bounce, the rule's reply as reason" "bounce@example.net|bounce|550 5.1.1 User unknown" \
	"$(api GET /api/v1/suppressions | json "' '.join(e['address'] + '|' + e['source'] + '|' + e['reason'] for e in d['suppressions'])" 2>&1)"
check "GET /api/v1/queue: totals delivered 3, deferred 2, bounced 1, dsn 1, nothing in memory" "3 2 1 1 0" \
	"$(api GET /api/v1/queue | json "' '.join(str(x) for x in [d['totals']['delivered'], d['totals']['deferred'], d['totals']['bounced'], d['totals']['dsn'], d['messages']])" 2>&1)"
edsim_stop rules

# ============================================================================
# kill -9 with a deferred message, then a restart resumes it
# ============================================================================
cat >"$T/relay-restart.yaml" <<'Y'
edsim: 1
name: relay-restart
settings:
  retry: {first: 1h, factor: 2, cap: 2h, max_age: 3d}
rules:
  - when: {stage: relay, recipient: "later@*"}
    do: {downstream: "451 4.7.1 Try again later"}
Y
edsim_check "$T/relay-restart.yaml"
edsim_start rs --config "$AUTHLESS" --scenario "$T/relay-restart.yaml" || exit 1
idr=$(send sender@example.com "later@example.net" restart-1)
poll 50 is_state "$idr" deferred
check "before the kill: deferred, attempts 1, next attempt an hour away" "deferred 1 True" \
	"$(msg "$idr" "(lambda t: '%s %s %s' % (d['to'][0]['state'], d['to'][0]['attempts'], 3500 <= t(d['to'][0]['next_attempt']) - t(d['to'][0]['updated']) <= 3700))(lambda s: __import__('datetime').datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp())")"
check "before the kill: 1 message in memory, 1 recipient deferred" "1 1" \
	"$(api GET /api/v1/queue | json "'%d %d' % (d['messages'], d['recipients']['deferred'])" 2>&1)"
sleep 0.5 # let the loop commit the delivery record
edsim_kill rs
edsim_start rs --config "$AUTHLESS" || exit 1
check "after the restart: no scenario is active" False "$(api GET /api/v1/scenario | json "d['active']" 2>&1)"
poll 50 is_state "$idr" delivered
check "after the restart: retried at once and delivered to capture, attempt 2" "delivered|capture|2" \
	"$(msg "$idr" "'|'.join(map(str, [d['to'][0]['state'], d['to'][0]['destination'], d['to'][0]['attempts']]))")"
check "after the restart: the attempts list keeps the deferral before the delivery" "deferred delivered" \
	"$(msg "$idr" "' '.join(a['recipients'][0]['state'] for a in d['attempts'])")"
check "GET /api/v1/queue: restart.messages_resumed >= 1" True \
	"$(api GET /api/v1/queue | json "d['restart']['messages_resumed'] >= 1" 2>&1)"
check "GET /api/v1/queue: nothing left in memory" 0 "$(api GET /api/v1/queue | json "d['messages']" 2>&1)"
check "the mailbox has the message once" 1 "$(api GET "/api/v1/mailbox?subject=restart-1" | json "len(d['messages'])" 2>&1)"
edsim_stop rs

# ============================================================================
# a store written by an earlier layout: raw before origin, no attempts column,
# every captured message with a delivery row. It opens, its messages keep
# their records, and new captured messages (one row, no delivery row) list
# beside them in the mailbox.
# ============================================================================
old=$T/old/state
mkdir -p "$old"
sqlite3 "$old/edsim.db" <<'SQL'
PRAGMA page_size=16384; PRAGMA journal_mode=WAL;
CREATE TABLE messages(seq INTEGER PRIMARY KEY, received REAL NOT NULL, client_ip TEXT,
 connection INTEGER, user TEXT, mail_from TEXT, recipients TEXT NOT NULL, message_id TEXT,
 subject TEXT, size INTEGER NOT NULL, state TEXT NOT NULL, raw BLOB NOT NULL);
ALTER TABLE messages ADD COLUMN origin TEXT;
CREATE TABLE delivery(seq INTEGER PRIMARY KEY, state TEXT NOT NULL, final INTEGER NOT NULL,
 captured INTEGER NOT NULL, recipients TEXT NOT NULL, attempts TEXT NOT NULL);
INSERT INTO messages VALUES(7, 1764770400.5, '127.0.0.1', 1, NULL, 'old@example.com',
 '[{"address":"rcpt@example.net","state":"delivered","attempts":0,"destination":"capture"}]',
 '<old-1@example.com>', 'old-1', 12, 'queued', CAST('Subject: x' || char(13,10) AS BLOB), NULL);
INSERT INTO delivery VALUES(7, 'delivered', 1, 1,
 '[{"address":"rcpt@example.net","state":"delivered","attempts":1,"reply":"250 2.0.0 Delivered to the capture mailbox","destination":"capture"}]',
 '[{"time":"2025-12-03T14:00:00.500Z","destination":"capture","recipients":[{"address":"rcpt@example.net","reply":"250 2.0.0 Delivered to the capture mailbox","state":"delivered"}]}]');
SQL
edsim_start old --config "$AUTHLESS" || exit 1
check "an earlier store: its message keeps state, reply and attempts" \
	"delivered|250 2.0.0 Delivered to the capture mailbox|capture" \
	"$(msg 0000000000000007 "'|'.join([d['state'], d['to'][0]['reply'], d['attempts'][0]['destination']])")"
idn=$(send sender@example.com new@example.net new-1)
check "an earlier store: a new message is captured, attempts recorded" "delivered|capture|1" \
	"$(msg "$idn" "'|'.join([d['state'], d['attempts'][0]['destination'], str(d['to'][0]['attempts'])])")"
check "an earlier store: the mailbox lists the old and the new message" "new-1 old-1" \
	"$(api GET "/api/v1/mailbox" | json "' '.join(m['subject'] for m in d['messages'])" 2>&1)"
edsim_stop old
check "an earlier store: the new message has its record in its row, no delivery row" "delivered|1|0" \
	"$(sqlite3 "$old/edsim.db" "SELECT state, attempts IS NOT NULL, (SELECT count(*) FROM delivery d WHERE d.seq = m.seq) FROM messages m WHERE subject = 'new-1'" 2>&1)"
