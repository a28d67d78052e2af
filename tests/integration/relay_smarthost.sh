#!/usr/bin/env bash
# relay_smarthost: the relay in smarthost mode. (1) to Postfix's smtp-sink in
# clear, and SIGTERM while closing idle connections wait for the answer to
# QUIT (the sink stopped); (2) to a second edsim with STARTTLS and AUTH: delivered, deferred
# twice then delivered (growing retry gaps), bounced on 5xx (DSN and
# suppression), expired after max_age (DSN 4.4.7, no suppression), dropped
# connection then delivered, wrong password deferred; (3) the suppression is
# honoured on SMTP (254) and HTTPS, and lifted by DELETE; (4) the suppressions
# API, the configuration's entries and persistence across a restart.
. "$(dirname "$0")/lib.bash"

free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# Ports of every edsim started here, by name.
declare -A CP=() SP=() HP=()
start() {
	edsim_start "$@" || return 1
	CP[$1]=$CONTROL_PORT
	SP[$1]=$SMTP_PORT
	HP[$1]=$(ready_field "$T/$1/state/edsim.ready" https)
}
# capi NAME METHOD PATH [curl args]: the control API of edsim NAME.
capi() {
	local n=$1 m=$2 p=$3
	shift 3
	curl -s -X "$m" "$@" "http://127.0.0.1:${CP[$n]}$p"
}
capi_status() { curl -s -o "$T/capi.body" -w '%{http_code}' -X "$2" "${@:4}" "http://127.0.0.1:${CP[$1]}$3"; }

# send NAME FROM TO(comma list) SUBJECT: swaks to edsim NAME in clear without
# AUTH; prints the store id from "queued as ID" (nothing when refused).
send() {
	local out=$T/swaks.$4
	swaks --server "127.0.0.1:${SP[$1]}" --from "$2" --to "$3" --header "Subject: $4" \
		--header "Message-Id: <$4@example.com>" --body "body of $4" --timeout 20 >"$out" 2>&1
	sed -n 's/.*queued as \([0-9a-f]*\).*/\1/p' "$out" | head -1
}
# msg NAME ID EXPR: EXPR evaluated on GET /api/v1/messages/ID of edsim NAME.
msg() { capi "$1" GET "/api/v1/messages/$2" | json "$3" 2>&1; }
# rstate NAME ID ADDR: the state of one recipient.
rstate() { msg "$1" "$2" "[r['state'] for r in d['to'] if r['address'] == '$3'][0]"; }
is_state() { [ "$(rstate "$1" "$2" "$3")" == "$4" ]; }
# snap_state NAME ID ADDR STATE: true when the recipient has STATE; the message
# as seen then is kept in $T/snap.json (retries may change it a moment later).
snap_state() {
	capi "$1" GET "/api/v1/messages/$2" >"$T/snap.json"
	[ "$(json "[r['state'] for r in d['to'] if r['address'] == '$3'][0]" <"$T/snap.json" 2>/dev/null)" == "$4" ]
}
snap() { json "$1" <"$T/snap.json" 2>&1; }
queue_empty() { [ "$(capi "$1" GET /api/v1/queue | json "d['messages']" 2>/dev/null)" == 0 ]; }
# events NAME: the events of edsim NAME, to $T/events.json.
events() { capi "$1" GET "/api/v1/events?since=0" >"$T/events.json"; }
ev() { json "$1" <"$T/events.json" 2>&1; }
# TS(s): a Python expression turning an API timestamp (2024-01-02T03:04:05.678Z) into seconds.
TS="(lambda s: __import__('datetime').datetime.fromisoformat(s.replace('Z', '+00:00')).timestamp())"

# ============================================================================
# 1. smtp-sink as a plain smarthost
# ============================================================================
SINK_PORT=$(free_port)
mkdir -p "$T/sink"
smtp-sink -u "$(id -un)" -d "$T/sink/%M" "127.0.0.1:$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
SINK_PID=$!
sink_up() { (exec 3<>"/dev/tcp/127.0.0.1/$SINK_PORT") 2>/dev/null; }
poll 100 sink_up
check "smtp-sink listens on 127.0.0.1:$SINK_PORT" 0 $?

cfg=$(write_config sink.yaml <<Y
auth: {required: false}
relay: {mode: smarthost, host: 127.0.0.1, port: $SINK_PORT, tls: none}
Y
)
start sh --config "$cfg" || exit 1

id1=$(send sh sender@example.com "a@example.net,b@example.net,c@example.org" sink-1)
id2=$(send sh sender@example.com "d@example.net" sink-2)
id3=$(send sh other@example.com "e@example.net,f@example.net" sink-3)
check "three messages accepted by the upstream" 3 "$(printf '%s\n' "$id1" "$id2" "$id3" | grep -c .)"

poll 100 queue_empty sh
check "GET /api/v1/queue: 0 messages in memory once relayed" 0 "$(capi sh GET /api/v1/queue | json "d['messages']" 2>&1)"
check "GET /api/v1/queue: mode smarthost, nothing queued/sending/deferred" "smarthost 0 0 0" \
	"$(capi sh GET /api/v1/queue | json "d['mode'], d['recipients']['queued'], d['recipients']['sending'], d['recipients']['deferred']" 2>&1 | tr -d "(),'")"
check "GET /api/v1/queue: totals delivered 6, bounced 0" "6 0" \
	"$(capi sh GET /api/v1/queue | json "d['totals']['delivered'], d['totals']['bounced']" 2>&1 | tr -d "(),")"

n=0
for id in "$id1" "$id2" "$id3"; do
	n=$((n + 1))
	check "sink-$n: every recipient delivered, reply 250, destination 127.0.0.1 and port $SINK_PORT, attempts 1" True \
		"$(msg sh "$id" "all(r['state'] == 'delivered' and r['reply'].startswith('250') and '127.0.0.1' in r['destination'] and '$SINK_PORT' in r['destination'] and r['attempts'] == 1 for r in d['to']) and len(d['to']) > 0")"
	check "sink-$n: message state delivered, one entry in attempts" "delivered 1" \
		"$(msg sh "$id" "d['state'] + ' ' + str(len(d['attempts']))")"
	check "sink-$n: the attempt lists every recipient as delivered" True \
		"$(msg sh "$id" "sorted(r['address'] for r in d['attempts'][0]['recipients']) == sorted(r['address'] for r in d['to']) and all(r['state'] == 'delivered' for r in d['attempts'][0]['recipients'])")"
done
check "sink-1: the three recipients, in order" "a@example.net b@example.net c@example.org" \
	"$(msg sh "$id1" "' '.join(r['address'] for r in d['to'])")"
check "sink-1: the attempt's destination names 127.0.0.1 and the port" True \
	"$(msg sh "$id1" "'127.0.0.1' in d['attempts'][0]['destination'] and '$SINK_PORT' in d['attempts'][0]['destination']")"

sink_files() { find "$T/sink" -type f | wc -l; }
three_files() { [ "$(sink_files)" -ge 3 ]; }
poll 50 three_files
check "smtp-sink dumped exactly 3 messages" 3 "$(sink_files)"
f1=$(grep -l "^Subject: sink-1" -r "$T/sink" | head -1)
check "a dump holds Subject: sink-1" True "$([ -n "$f1" ] && echo True || echo False)"
check "sink-1's dump has one X-Rcpt-Args per recipient (one transaction)" 3 "$(grep -c '^X-Rcpt-Args:' "$f1" 2>/dev/null)"
check "sink-1's dump: MAIL FROM the original sender (no SIZE: smtp-sink offers none)" "X-Mail-Args: <sender@example.com>" \
	"$(grep '^X-Mail-Args:' "$f1" 2>/dev/null)"
check "sink-1's dump: EHLO with the default name (hostname localhost)" "X-Helo-Args: localhost" "$(grep '^X-Helo-Args:' "$f1" 2>/dev/null)"
check_contains "sink-1's dump: the body" "body of sink-1" "$(cat "$f1" 2>/dev/null)"
check "sink-3's dump: both recipients" "2" "$(grep -l "^Subject: sink-3" -r "$T/sink" | head -1 | xargs -r grep -c '^X-Rcpt-Args:')"

events sh
for id in "$id1" "$id2" "$id3"; do
	check "events for $id: relayed and delivered, stage relay" "True True True" \
		"$(ev "any(e['type'] == 'relayed' and e['message'] == '$id' for e in d['events']), any(e['type'] == 'delivered' and e['message'] == '$id' for e in d['events']), all(e['stage'] == 'relay' for e in d['events'] if e['message'] == '$id' and e['type'] in ('relayed', 'delivered'))" | tr -d "(),")"
done
check "six delivered events for sink-1..3, each with recipient, code 250 and attempt 1" \
	"a@example.net b@example.net c@example.org d@example.net e@example.net f@example.net|True" \
	"$(ev "' '.join(sorted(e['recipient'] for e in d['events'] if e['type'] == 'delivered')) + '|' + str(all(e['code'] == 250 and e['attempt'] == 1 and '$SINK_PORT' in e['destination'] for e in d['events'] if e['type'] == 'delivered'))")"
edsim_stop sh

# --- SIGTERM while connections say QUIT ---------------------------------------------
# Connections left idle for relay.idle say QUIT; with the sink stopped
# (SIGSTOP) they wait for its answer (up to a second), and the SIGTERM comes
# then: edsim must still free every one of them (it once left them behind
# at shutdown, a leak).
cfg=$(write_config sink-quit.yaml <<Y
auth: {required: false}
relay: {mode: smarthost, host: 127.0.0.1, port: $SINK_PORT, tls: none, connections: 10, idle: 3s}
Y
)
start shq --config "$cfg" || exit 1
smtp_load --port "${SP[shq]}" --sessions 10 --per-session 3 --together --prefix quit >"$T/quit-load.json" 2>&1
check "quit: 30 messages accepted" 30 "$(json "d['acked']" <"$T/quit-load.json" 2>&1)"
conns() { capi shq GET /api/v1/queue | json "d['connections']" 2>/dev/null; }
# the connection count is taken when the queue is seen empty with its
# connections still open (a slow machine may see it late: relay.idle is 3 s)
n_conns=
relayed_idle() {
	local n
	n=$(capi shq GET /api/v1/queue | json "d['connections'] if d['messages'] == 0 else 0" 2>/dev/null)
	[ "${n:-0}" -gt 0 ] && n_conns=$n
}
poll 100 relayed_idle
kill -STOP "$SINK_PID"
none_open() { [ "$(conns)" == 0 ]; }
# the idle timers fire within 3 s; poll every 20 ms so that the SIGTERM
# comes well inside the second the connections wait for the sink's answer
wait_until 300 0.02 none_open
closed=$?
edsim_stop shq
check "quit: the messages went over several connections, all closed after relay.idle" "True 0" \
	"$([ "${n_conns:-0}" -ge 2 ] && echo True || echo "False ($n_conns)") $closed"
kill -CONT "$SINK_PID" 2>/dev/null
kill "$SINK_PID" 2>/dev/null
wait "$SINK_PID" 2>/dev/null

# ============================================================================
# 2. a second edsim as smarthost: STARTTLS and AUTH
# ============================================================================
cfg=$(write_config down.yaml <<'Y'
users: [{name: relayuser, password: relaypass, approved_senders: ["*@example.com"]}]
auth: {required: true}
Y
)
start down --config "$cfg" || exit 1
DOWN_CA=$T/down/state/edsim-cert.pem
# scenario TEXT: loads TEXT as the downstream's scenario.
scenario() {
	printf '%s\n' "$1" >"$T/scn.yaml"
	check "downstream scenario loaded: $2" 200 "$(capi_status down PUT /api/v1/scenario --data-binary @"$T/scn.yaml")"
}
down_count() { capi down GET "/api/v1/messages?subject=$1" | json "len(d['messages'])" 2>&1; }

up_cfg() { # NAME PASSWORD RETRY
	write_config "$1.yaml" <<Y
auth: {required: false}
relay: {mode: smarthost, host: 127.0.0.1, port: ${SP[down]}, tls: encrypt, user: relayuser, password: $2, ca: $DOWN_CA}
retry: $3
Y
}
start up --config "$(up_cfg up relaypass "{first: 1s, factor: 2, cap: 2s, max_age: 1h}")" || exit 1

# --- a. delivered the first time ------------------------------------------------
ida=$(send up sender@example.com "first@example.net" relay-a)
poll 100 is_state up "$ida" first@example.net delivered
check "a: delivered, attempts 1, reply 250, destination the downstream" \
	"delivered 1 250 True" \
	"$(msg up "$ida" "' '.join([d['to'][0]['state'], str(d['to'][0]['attempts']), d['to'][0]['reply'][:3], str('${SP[down]}' in d['to'][0]['destination'])])")"
check "a: message state delivered, one attempt" "delivered 1" "$(msg up "$ida" "d['state'] + ' ' + str(len(d['attempts']))")"
down_a=$(capi down GET "/api/v1/messages?subject=relay-a")
check "a: the downstream stored it once, user relayuser, envelope kept" \
	"1 relayuser sender@example.com ['first@example.net'] <relay-a@example.com>" \
	"$(json "' '.join(map(str, [len(d['messages']), d['messages'][0]['user'], d['messages'][0]['from'], [r['address'] for r in d['messages'][0]['to']], d['messages'][0]['message_id']]))" <<<"$down_a" 2>&1)"
conn=$(json "d['messages'][0]['connection']" <<<"$down_a" 2>/dev/null)
CONTROL_PORT=${CP[down]}
tr_a=$(transcript "$conn")
check "a: downstream transcript: EHLO, STARTTLS, EHLO again, AUTH PLAIN, MAIL in this order" True \
	"$(python3 -c 'import sys
L = [l[3:] for l in sys.stdin.read().split("\n") if l.startswith("in ")]
def at(p):
    return next(i for i, l in enumerate(L) if l.upper().startswith(p))
e1 = at("EHLO"); s = at("STARTTLS"); e2 = next(i for i, l in enumerate(L) if i > s and l.upper().startswith("EHLO"))
print(e1 < s < e2 < at("AUTH PLAIN") < at("MAIL FROM:<SENDER@EXAMPLE.COM>"))' <<<"$tr_a" 2>&1)"
check_contains "a: MAIL FROM carries SIZE (the downstream offers it)" "in MAIL FROM:<sender@example.com> SIZE=" "$tr_a"
check_contains "a: downstream answered AUTH with 235" "out 235 2.7.0 Authentication successful" "$tr_a"
check_contains "a: downstream answered the final dot with 250 queued" "out 250 2.0.0 Ok: queued as" "$tr_a"

# --- wrong password on another upstream -------------------------------------------
start upbad --config "$(up_cfg upbad wrongpass "{first: 1h, factor: 2, cap: 2h, max_age: 1d}")" || exit 1
idw=$(send upbad sender@example.com "wrongpw@example.net" relay-wrongpw)
poll 100 is_state upbad "$idw" wrongpw@example.net deferred
check "wrong password: the recipient is deferred" deferred "$(rstate upbad "$idw" wrongpw@example.net)"
check_contains "wrong password: the reply mentions AUTH" "AUTH" "$(msg upbad "$idw" "d['to'][0].get('reply')")"
check_contains "wrong password: the reply carries the downstream's 535" "535" "$(msg upbad "$idw" "d['to'][0].get('reply')")"
check "wrong password: next_attempt given, attempts 1" "True 1" \
	"$(msg upbad "$idw" "str(bool(d['to'][0].get('next_attempt'))) + ' ' + str(d['to'][0]['attempts'])")"
check "wrong password: the downstream stored nothing" 0 "$(down_count relay-wrongpw)"
edsim_stop upbad

# --- b. deferred twice, then delivered ---------------------------------------------
scenario "edsim: 1
name: twice-451
rules:
  - when: {stage: data-end, times: 2}
    do: {reply: \"451 4.7.1 Try again later\"}" "451 twice at data-end"
idb=$(send up sender@example.com "retry@example.net" relay-b)
poll 30 snap_state up "$idb" retry@example.net deferred
check "b: deferred after the first attempt" deferred "$(snap "d['to'][0]['state']")"
check "b: the deferral's reply is the downstream's 451" "451 4.7.1 Try again later" "$(snap "d['to'][0]['reply']")"
check "b: a deferred recipient has next_attempt" True "$(snap "bool(d['to'][0].get('next_attempt'))")"
check "b: message state deferred" deferred "$(snap "d['state']")"
poll 100 is_state up "$idb" retry@example.net delivered
check "b: delivered in the end, attempts 3" "delivered 3" "$(msg up "$idb" "d['to'][0]['state'] + ' ' + str(d['to'][0]['attempts'])")"
check "b: three entries in attempts: deferred, deferred, delivered" "deferred deferred delivered" \
	"$(msg up "$idb" "' '.join(a['recipients'][0]['state'] for a in d['attempts'])")"
gaps=$(msg up "$idb" "' '.join('%.3f' % g for g in (lambda t: [t[1] - t[0], t[2] - t[1]])([$TS(a['time']) for a in d['attempts']]))")
echo "    gaps between attempts: $gaps"
check "b: gaps >= 0.9 s then >= 1.9 s, growing" True \
	"$(python3 -c 'import sys; g = [float(x) for x in sys.argv[1:]]; print(len(g) == 2 and g[0] >= 0.9 and g[1] >= 1.9 and g[1] > g[0])' $gaps 2>&1)"
check "b: the downstream stored it exactly once" 1 "$(down_count relay-b)"
events up
check "b: events: 2 deferred (with next_attempt), 1 delivered for the message" "2 True 1" \
	"$(ev "' '.join(map(str, [len([e for e in d['events'] if e['type'] == 'deferred' and e['message'] == '$idb']), all(e.get('next_attempt') for e in d['events'] if e['type'] == 'deferred' and e['message'] == '$idb'), len([e for e in d['events'] if e['type'] == 'delivered' and e['message'] == '$idb'])]))")"

# --- c. bounced on 5xx ---------------------------------------------------------------
scenario "edsim: 1
name: gone-550
rules:
  - when: {stage: rcpt, recipient: \"gone@*\"}
    do: {reply: \"550 5.1.1 User unknown\"}" "550 at RCPT for gone@*"
idc=$(send up sender@example.com "gone@example.net,ok@example.net" relay-c)
final_c() { [ "$(msg up "$idc" "d['state']")" == completed ]; }
poll 100 final_c
check "c: gone@ bounced with the downstream's reply" "bounced|550 5.1.1 User unknown" \
	"$(msg up "$idc" "[r['state'] + '|' + r['reply'] for r in d['to'] if r['address'] == 'gone@example.net'][0]")"
check "c: ok@ delivered in the same transaction" delivered "$(rstate up "$idc" ok@example.net)"
check "c: message state completed (mixed final states), one attempt" "completed 1" \
	"$(msg up "$idc" "d['state'] + ' ' + str(len(d['attempts']))")"
check "c: gone@ is not expired" False "$(msg up "$idc" "[r.get('expired', False) for r in d['to'] if r['address'] == 'gone@example.net'][0]")"
dsn_list() { capi up GET "/api/v1/mailbox?to=sender@example.com" | json "[m for m in d['messages'] if m['origin'] == 'dsn']" 2>/dev/null; }
has_dsn() { [ "$(capi up GET "/api/v1/mailbox?to=sender@example.com" | json "len([m for m in d['messages'] if m['origin'] == 'dsn'])" 2>/dev/null)" == 1 ]; }
poll 50 has_dsn
mb=$(capi up GET "/api/v1/mailbox?to=sender@example.com")
check "c: one DSN in the mailbox, to the original sender, envelope sender empty, delivered to capture" \
	"1|['sender@example.com']|''|dsn|Undelivered Mail Returned to Sender|delivered|capture" \
	"$(json "(lambda l: '|'.join(map(str, [len(l), [r['address'] for r in l[0]['to']], repr(l[0]['from']), l[0]['origin'], l[0]['subject'], l[0]['state'], l[0]['to'][0]['destination']])))([m for m in d['messages'] if m['origin'] == 'dsn'])" <<<"$mb" 2>&1)"
dsnc=$(json "[m for m in d['messages'] if m['origin'] == 'dsn'][0]['id']" <<<"$mb" 2>/dev/null)
raw=$(capi up GET "/api/v1/messages/$dsnc/raw")
check_contains "c: DSN is multipart/report" "multipart/report" "$raw"
check_contains "c: DSN report-type=delivery-status" "report-type=delivery-status" "$raw"
check_contains "c: DSN From MAILER-DAEMON" "MAILER-DAEMON@" "$(grep -i '^From:' <<<"$raw")"
check_contains "c: DSN Subject" "Subject: Undelivered Mail Returned to Sender" "$raw"
check_contains "c: DSN To the original sender" "sender@example.com" "$(grep -i '^To:' <<<"$raw")"
check_contains "c: DSN has a message/delivery-status part" "Content-Type: message/delivery-status" "$raw"
check_contains "c: DSN Final-Recipient" "Final-Recipient: rfc822; gone@example.net" "$raw"
check_contains "c: DSN Action: failed" "Action: failed" "$raw"
check_contains "c: DSN Status: 5.1.1" "Status: 5.1.1" "$raw"
check_contains "c: DSN Diagnostic-Code" "Diagnostic-Code: smtp; 550 5.1.1 User unknown" "$raw"
check_contains "c: DSN has a text/rfc822-headers part" "text/rfc822-headers" "$raw"
check_contains "c: DSN returns the original Subject" "Subject: relay-c" "$raw"
check_not_contains "c: DSN does not report ok@ (delivered)" "Final-Recipient: rfc822; ok@example.net" "$raw"
check "c: GET /api/v1/suppressions lists gone@ with source bounce and the reply as reason" \
	"gone@example.net|bounce|550 5.1.1 User unknown|True" \
	"$(capi up GET "/api/v1/suppressions?address=gone@example.net" | json "'|'.join(map(str, [d['suppressions'][0]['address'], d['suppressions'][0]['source'], d['suppressions'][0]['reason'], bool(d['suppressions'][0]['time'])])) if len(d['suppressions']) == 1 else d" 2>&1)"
check "c: ok@ is not suppressed" "[]" "$(capi up GET "/api/v1/suppressions?address=ok@example.net" | json "d['suppressions']" 2>&1)"
events up
check "c: event bounced for gone@ with code 550 and the reply" "bounced|550|550 5.1.1 User unknown" \
	"$(ev "[e['type'] + '|' + str(e['code']) + '|' + e['reply'] for e in d['events'] if e['type'] == 'bounced' and e['message'] == '$idc'][0]")"
check "c: event dsn for gone@ naming the report" "dsn|gone@example.net|$dsnc" \
	"$(ev "[e['type'] + '|' + e['recipient'] + '|' + str(e['dsn']) for e in d['events'] if e['type'] == 'dsn' and e['message'] == '$idc'][0]")"
check "c: event suppression-added for gone@, stage bounce" "True" \
	"$(ev "any(e['type'] == 'suppression-added' and e['stage'] == 'bounce' and e.get('recipient') == 'gone@example.net' for e in d['events'])")"
check "c: GET /api/v1/queue: totals bounced 1, dsn 1" "1 1" \
	"$(capi up GET /api/v1/queue | json "d['totals']['bounced'], d['totals']['dsn']" 2>&1 | tr -d "(),")"

# ============================================================================
# 3. the suppression is honoured, then lifted
# ============================================================================
CA=$T/up/state/edsim-cert.pem
{
	cat <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $ANY_AUTH
< 235 2.7.0 Authentication successful
> MAIL FROM:<sender@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<gone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	message_lines sender@example.com gone@example.net relay-supp
	cat <<'S'
< 254 4.7.1 Suppression for user user to gone@example.net
> QUIT
< 221 2.0.0 Bye
S
} | dialog_check "3: SMTP to gone@ on the upstream: 254 4.7.1 Suppression for user user to gone@example.net" starttls "${SP[up]}"
ids=$(capi up GET "/api/v1/messages?subject=relay-supp" | json "d['messages'][0]['id']" 2>/dev/null)
check "3: stored with gone@ suppressed, message state suppressed" "suppressed suppressed" \
	"$(msg up "$ids" "d['to'][0]['state'] + ' ' + d['state']")"
events up
check "3: event suppressed for gone@ (stage relay)" "True" \
	"$(ev "any(e['type'] == 'suppressed' and e['message'] == '$ids' and e['recipient'] == 'gone@example.net' for e in d['events'])")"

URL=https://127.0.0.1:${HP[up]}/20220926/actions/submitEmail
body='{"sender": {"compartmentId": "ocid1.compartment.oc1..c", "senderAddress": {"email": "sender@example.com"}}, "recipients": {"to": [{"email": "gone@example.net"}, {"email": "ok2@example.net"}]}, "subject": "relay-https", "bodyText": "over https"}'
status=$(curl -sk -o "$T/https.body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "$body" "$URL")
check "3: HTTPS submitEmail with gone@ and ok2@: 200" 200 "$status"
check "3: HTTPS answer lists gone@ in suppressedRecipients" "['gone@example.net']" "$(json "d['suppressedRecipients']" <"$T/https.body" 2>&1)"
idh=$(json "d['envelopeId']" <"$T/https.body" 2>/dev/null)
poll 100 is_state up "$idh" ok2@example.net delivered
check "3: HTTPS message: gone@ suppressed, ok2@ delivered" "gone@example.net=suppressed ok2@example.net=delivered" \
	"$(msg up "$idh" "' '.join(r['address'] + '=' + r['state'] for r in d['to'])")"
check "3: the downstream got the HTTPS message once" 1 "$(down_count relay-https)"

check "3: DELETE /api/v1/suppressions/gone@example.net: 200" 200 "$(capi_status up DELETE /api/v1/suppressions/gone@example.net)"
check "3: ... answers {deleted: 1}" "{'deleted': 1}" "$(json d <"$T/capi.body" 2>&1)"
check "3: gone@ is no longer listed" "[]" "$(capi up GET "/api/v1/suppressions?address=gone@example.net" | json "d['suppressions']" 2>&1)"
check "3: downstream scenario removed" 200 "$(capi_status down DELETE /api/v1/scenario)"
idg=$(send up sender@example.com "gone@example.net" relay-again)
poll 100 is_state up "$idg" gone@example.net delivered
check "3: a new message to gone@ is relayed again and delivered" "delivered 1" \
	"$(msg up "$idg" "d['to'][0]['state'] + ' ' + str(d['to'][0]['attempts'])")"
check "3: ... and the downstream has it" 1 "$(down_count relay-again)"
events up
check "3: events: relayed for the new message, suppression-removed for gone@" "True True" \
	"$(ev "any(e['type'] == 'relayed' and e['message'] == '$idg' for e in d['events']), any(e['type'] == 'suppression-removed' and e.get('recipient') == 'gone@example.net' for e in d['events'])" | tr -d "(),")"

# --- e. dropped connection at data-end, then delivered --------------------------------
scenario "edsim: 1
name: drop-data-end
rules:
  - when: {stage: data-end}
    do: {drop: true}" "drop at data-end"
ide=$(send up sender@example.com "dropped@example.net" relay-e)
poll 50 snap_state up "$ide" dropped@example.net deferred
check "e: deferred after the dropped connection" deferred "$(snap "d['to'][0]['state']")"
reply_e=$(snap "d['to'][0]['reply']")
echo "    reply: $reply_e"
check "e: the reply says the connection was closed or lost" True \
	"$(python3 -c 'import sys; r = sys.argv[1].lower(); print("connection" in r and ("closed" in r or "lost" in r))' "$reply_e")"
check "e: downstream scenario removed" 200 "$(capi_status down DELETE /api/v1/scenario)"
poll 100 is_state up "$ide" dropped@example.net delivered
check "e: delivered once the scenario is gone, after at least 2 attempts" "delivered True" \
	"$(msg up "$ide" "d['to'][0]['state'] + ' ' + str(d['to'][0]['attempts'] >= 2 and len(d['attempts']) == d['to'][0]['attempts'])")"
check "e: the downstream stored it exactly once" 1 "$(down_count relay-e)"
edsim_stop up

# --- d. expired after max_age ------------------------------------------------------------
scenario "edsim: 1
name: always-451
rules:
  - when: {stage: data-end}
    do: {reply: \"451 4.7.1 Try again later\"}" "451 at every data-end"
start upexp --config "$(up_cfg upexp relaypass "{first: 1s, factor: 1, cap: 1s, max_age: 3s}")" || exit 1
idd=$(send upexp sender@example.com "late@example.net" relay-d)
poll 100 is_state upexp "$idd" late@example.net bounced
check "d: bounced with expired: true" "bounced True" \
	"$(msg upexp "$idd" "d['to'][0]['state'] + ' ' + str(d['to'][0].get('expired'))")"
age=$(msg upexp "$idd" "'%.2f' % ($TS(d['to'][0]['updated']) - $TS(d['received']))")
echo "    bounced after $age s, attempts $(msg upexp "$idd" "d['to'][0]['attempts']")"
check "d: bounced roughly 3-6 s after acceptance" True \
	"$(python3 -c 'import sys; a = float(sys.argv[1]); print(2.9 <= a <= 6.5)' "$age" 2>&1)"
check "d: every attempt met the 451" True \
	"$(msg upexp "$idd" "len(d['attempts']) >= 3 and all(a['recipients'][0]['reply'] == '451 4.7.1 Try again later' for a in d['attempts'])")"
has_dsn_exp() { [ "$(capi upexp GET "/api/v1/mailbox?to=sender@example.com" | json "len([m for m in d['messages'] if m['origin'] == 'dsn'])" 2>/dev/null)" == 1 ]; }
poll 50 has_dsn_exp
dsnd=$(capi upexp GET "/api/v1/mailbox?to=sender@example.com" | json "[m for m in d['messages'] if m['origin'] == 'dsn'][0]['id']" 2>/dev/null)
rawd=$(capi upexp GET "/api/v1/messages/$dsnd/raw")
check_contains "d: a DSN with Status: 4.4.7" "Status: 4.4.7" "$rawd"
check_contains "d: DSN Final-Recipient late@" "Final-Recipient: rfc822; late@example.net" "$rawd"
check_contains "d: DSN Action: failed" "Action: failed" "$rawd"
check "d: late@ is NOT on the suppression list" "[]" "$(capi upexp GET /api/v1/suppressions | json "d['suppressions']" 2>&1)"
check "d: GET /api/v1/queue: totals expired 1, bounced 1, dsn 1" "1 1 1" \
	"$(capi upexp GET /api/v1/queue | json "d['totals']['expired'], d['totals']['bounced'], d['totals']['dsn']" 2>&1 | tr -d "(),")"
events upexp
check "d: no suppression-added event" False "$(ev "any(e['type'] == 'suppression-added' for e in d['events'])")"
check "d: the downstream stored nothing" 0 "$(down_count relay-d)"
edsim_stop upexp
capi down DELETE /api/v1/scenario >/dev/null
edsim_stop down

# ============================================================================
# 4. the suppressions API
# ============================================================================
cfg=$(write_config sup.yaml <<'Y'
auth: {required: false}
suppressions: [cfg@example.net]
Y
)
start sup --config "$cfg" || exit 1
check "4: the configuration's entry, source configuration" "cfg@example.net|configuration" \
	"$(capi sup GET /api/v1/suppressions | json "'|'.join(e['address'] + '|' + e['source'] for e in d['suppressions'])" 2>&1)"
check "4: POST a valid entry: 201" 201 \
	"$(capi_status sup POST /api/v1/suppressions -H 'Content-Type: application/json' --data-binary '{"address": "api1@example.net", "reason": "complaint"}')"
check "4: ... answers {address, reason, source api}" "api1@example.net|complaint|api" \
	"$(json "d['address'] + '|' + d['reason'] + '|' + d['source']" <"$T/capi.body" 2>&1)"
check "4: POST a second entry: 201" 201 \
	"$(capi_status sup POST /api/v1/suppressions --data-binary '{"address": "api2@example.net", "reason": "unsubscribed"}')"
check "4: POST without an address: 400" 400 "$(capi_status sup POST /api/v1/suppressions --data-binary '{"reason": "x"}')"
check "4: ... code InvalidParameter" InvalidParameter "$(json "d['code']" <"$T/capi.body" 2>&1)"
check "4: POST an implausible address: 400 InvalidParameter" "400 InvalidParameter" \
	"$(capi_status sup POST /api/v1/suppressions --data-binary '{"address": "not-an-address"}') $(json "d['code']" <"$T/capi.body" 2>&1)"
check "4: POST a body that is not JSON: 400 InvalidParameter" "400 InvalidParameter" \
	"$(capi_status sup POST /api/v1/suppressions --data-binary 'nonsense') $(json "d['code']" <"$T/capi.body" 2>&1)"
check "4: GET ?address=api1@example.net: just that entry, with its reason" "api1@example.net|complaint|api" \
	"$(capi sup GET "/api/v1/suppressions?address=api1@example.net" | json "'|'.join(e['address'] + '|' + e['reason'] + '|' + e['source'] for e in d['suppressions'])" 2>&1)"
check "4: GET ?address= of an unknown address: empty" "[]" \
	"$(capi sup GET "/api/v1/suppressions?address=nobody@example.net" | json "d['suppressions']" 2>&1)"
check "4: all three listed" "api1@example.net api2@example.net cfg@example.net" \
	"$(capi sup GET /api/v1/suppressions | json "' '.join(sorted(e['address'] for e in d['suppressions']))" 2>&1)"
check "4: DELETE an unknown address: 404" 404 "$(capi_status sup DELETE /api/v1/suppressions/nobody@example.net)"
check "4: DELETE all: 200, deletes the two API entries" "200 2" \
	"$(capi_status sup DELETE /api/v1/suppressions) $(json "d['deleted']" <"$T/capi.body" 2>&1)"
check "4: the configuration's entry survives DELETE all" "cfg@example.net|configuration" \
	"$(capi sup GET /api/v1/suppressions | json "'|'.join(e['address'] + '|' + e['source'] for e in d['suppressions'])" 2>&1)"
capi_status sup POST /api/v1/suppressions --data-binary '{"address": "keep@example.net", "reason": "kept across restarts"}' >/dev/null
edsim_stop sup
start sup --config "$cfg" || exit 1
check "4: after a restart with the same state dir: the API entry and the configuration's" \
	"cfg@example.net|configuration keep@example.net|api|kept across restarts" \
	"$(capi sup GET /api/v1/suppressions | json "' '.join(sorted(e['address'] + '|' + e['source'] + ('|' + e['reason'] if e['source'] == 'api' else '') for e in d['suppressions']))" 2>&1)"
edsim_stop sup
