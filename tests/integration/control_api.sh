#!/usr/bin/env bash
# control_api: health, message list filters and order, message details and
# raw, error answers (404, 400, 405 with JSON bodies), events (API and
# events.jsonl), transcripts, and DELETE /api/v1/messages.
. "$(dirname "$0")/lib.bash"
edsim_start ctl || exit 1
state=$T/ctl/state

# req METHOD PATH: writes the body to $T/body, prints "STATUS CONTENT-TYPE".
req() { curl -s -o "$T/body" -w '%{http_code} %{content_type}' -X "$1" "http://127.0.0.1:$CONTROL_PORT$2"; }
body() { json "$1" <"$T/body" 2>&1; }
# mids PATH: the Message-IDs of a message list, in the order served.
mids() { api GET "$1" | json "' '.join(str(m['message_id']) for m in d['messages'])" 2>&1; }
# expect_error NAME METHOD PATH STATUS CODE: an error answer with a JSON body.
expect_error() {
	check "$1: status and content type" "$4 application/json" "$(req "$2" "$3")"
	check "$1: JSON body with code $5 and a message" "$5 True" \
		"$(body "d['code'], isinstance(d.get('message'), str) and len(d['message']) > 0")"
}

# --- health -----------------------------------------------------------------
check "GET /api/v1/health answers 200 with JSON" "200 application/json" "$(req GET /api/v1/health)"
check "health says status ok, not draining" "ok False" "$(body "d['status'], d['draining']")"

# --- two messages through swaks (STARTTLS + AUTH PLAIN) -----------------------
swaks_send() {
	swaks --server "127.0.0.1:$SMTP_PORT" --tls --tls-ca-path "$CA" --auth PLAIN \
		--auth-user u --auth-password p --timeout 20 "$@"
}
# sent_data FILE: the message data a swaks transcript shows, dot-unstuffed,
# with CRLF line ends: exactly what the server must store.
sent_data() {
	python3 -c 'import re,sys
lines, on = [], False
for l in open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n"):
    m = re.match(r"^ [~-]> ?(.*)$", l)
    if re.match(r"^<[~-] +354 ", l):
        on = True
    elif on and m and m.group(1) == ".":
        break
    elif on and m:
        s = m.group(1)
        lines.append(s[1:] if s.startswith(".") else s)
sys.stdout.buffer.write("".join(x + "\r\n" for x in lines).encode())' "$1"
}

swaks_send --from alice@example.com --to bob@example.net --header 'Subject: Quarterly Report' \
	--header 'Message-Id: <ctl-a@example.com>' --body 'Numbers attached.' >"$T/swaks-a" 2>&1
check "swaks delivers message A" 0 $?
check_contains "message A is answered 250 queued" "250 2.0.0 Ok: queued as" "$(cat "$T/swaks-a")"

printf '%s\n' 'From: carol@example.org' 'To: dave@example.com' 'Subject: Lunch plans' \
	'Message-ID: <ctl-b@example.org>' 'X-Folded: first part' '	second part' '' \
	'See you at noon.' '.dotted line' >"$T/b.eml"
swaks_send --from carol@example.org --to dave@example.com --data "@$T/b.eml" >"$T/swaks-b" 2>&1
check "swaks delivers message B" 0 $?
check_contains "message B is answered 250 queued" "250 2.0.0 Ok: queued as" "$(cat "$T/swaks-b")"
sent_data "$T/swaks-a" >"$T/sent-a"
sent_data "$T/swaks-b" >"$T/sent-b"

# --- list filters and order ------------------------------------------------------
check "no filter: both, newest first" "<ctl-b@example.org> <ctl-a@example.com>" "$(mids /api/v1/messages)"
check "limit=1: the newest only" "<ctl-b@example.org>" "$(mids "/api/v1/messages?limit=1")"
check "to=BOB (case-insensitive substring)" "<ctl-a@example.com>" "$(mids "/api/v1/messages?to=BOB")"
check "to=example.com matches the recipient only" "<ctl-b@example.org>" "$(mids "/api/v1/messages?to=example.com")"
check "from=CAROL" "<ctl-b@example.org>" "$(mids "/api/v1/messages?from=CAROL")"
check "from=example matches both, newest first" "<ctl-b@example.org> <ctl-a@example.com>" \
	"$(mids "/api/v1/messages?from=example")"
check "subject=quarterly" "<ctl-a@example.com>" "$(mids "/api/v1/messages?subject=quarterly")"
check "subject=REPORT (substring, case-insensitive)" "<ctl-a@example.com>" "$(mids "/api/v1/messages?subject=REPORT")"
check "subject=lunch%20PLANS (encoded space)" "<ctl-b@example.org>" "$(mids "/api/v1/messages?subject=lunch%20PLANS")"
check "subject with no match: empty list" "" "$(mids "/api/v1/messages?subject=nothing-like-this")"
check "filters combine: from=alice&subject=lunch" "" "$(mids "/api/v1/messages?from=alice&subject=lunch")"
check "filters combine: from=alice&to=bob&limit=1" "<ctl-a@example.com>" "$(mids "/api/v1/messages?from=alice&to=bob&limit=1")"

ida=$(api GET "/api/v1/messages?subject=quarterly" | json "d['messages'][0]['id']")
idb=$(api GET "/api/v1/messages?subject=lunch" | json "d['messages'][0]['id']")
check_contains "swaks saw message A's store id in the 250" "queued as $ida" "$(cat "$T/swaks-a")"

# --- one message ----------------------------------------------------------------
check "GET /api/v1/messages/{id} answers 200 JSON" "200 application/json" "$(req GET "/api/v1/messages/$ida")"
check "message A: envelope fields" \
	"$ida|alice@example.com|['bob@example.net']|u|127.0.0.1|<ctl-a@example.com>|Quarterly Report|delivered" \
	"$(body "'|'.join(map(str, [d['id'], d['from'], [r['address'] for r in d['to']], d['user'], d['client_ip'], d['message_id'], d['subject'], d['state']]))")"
check "message A: size is the length of what was sent" "$(wc -c <"$T/sent-a")" "$(body "d['size']")"
check "message A: received is a UTC timestamp" True \
	"$(body "__import__('re').match(r'^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$', d['received']) is not None")"
check "message A: headers list Subject and Message-Id as sent" "['Quarterly Report'] ['<ctl-a@example.com>']" \
	"$(body "[h['value'] for h in d['headers'] if h['name'] == 'Subject'], [h['value'] for h in d['headers'] if h['name'].lower() == 'message-id']")"
check "message A: body is what followed the header block" \
	"$(python3 -c 'import sys; print(repr(open(sys.argv[1], "rb").read().decode().split("\r\n\r\n", 1)[1]))' "$T/sent-a")" \
	"$(body "repr(d['body'])")"

req GET "/api/v1/messages/$idb" >/dev/null
check "message B: headers in order, folded header unfolded" \
	"[('From', 'carol@example.org'), ('To', 'dave@example.com'), ('Subject', 'Lunch plans'), ('Message-ID', '<ctl-b@example.org>'), ('X-Folded', 'first part\tsecond part')]" \
	"$(body "[(h['name'], h['value']) for h in d['headers']]")"
check "message B: body with the dot-unstuffed line" "$(python3 -c 'import sys; print(repr(open(sys.argv[1], "rb").read().decode().split("\r\n\r\n", 1)[1]))' "$T/sent-b")" \
	"$(body "repr(d['body'])")"
check_contains "message B: body keeps one leading dot" $'\r\n.dotted line\r\n' "$(body "d['body']")"

for m in a b; do
	id=$([ $m == a ] && echo "$ida" || echo "$idb")
	check "message ${m^^}: /raw answers 200 message/rfc822" "200 message/rfc822" \
		"$(curl -s -o "$T/raw-$m" -w '%{http_code} %{content_type}' "http://127.0.0.1:$CONTROL_PORT/api/v1/messages/$id/raw")"
	check "message ${m^^}: /raw is byte for byte the message sent" same \
		"$(cmp "$T/sent-$m" "$T/raw-$m" 2>&1 && echo same)"
done

# --- errors ----------------------------------------------------------------------
expect_error "unknown message id" GET /api/v1/messages/0000000000000000 404 NotFound
expect_error "unknown message id, /raw" GET /api/v1/messages/no-such-id/raw 404 NotFound
expect_error "unknown connection" GET /api/v1/connections/999999/transcript 404 NotFound
expect_error "non-numeric connection" GET /api/v1/connections/abc/transcript 404 NotFound
expect_error "limit=abc" GET "/api/v1/messages?limit=abc" 400 InvalidParameter
expect_error "limit=0" GET "/api/v1/messages?limit=0" 400 InvalidParameter
expect_error "unknown parameter foo=1" GET "/api/v1/messages?foo=1" 400 InvalidParameter
expect_error "since=-1 on events" GET "/api/v1/events?since=-1" 400 InvalidParameter
expect_error "unknown parameter on events" GET "/api/v1/events?limit=5" 400 InvalidParameter
expect_error "unknown path" GET /api/v1/nothing 404 NotFound
expect_error "unknown path under messages" GET "/api/v1/messages/$ida/headers" 404 NotFound
expect_error "POST on /api/v1/health" POST /api/v1/health 405 MethodNotAllowed
expect_error "DELETE on one message" DELETE "/api/v1/messages/$ida" 405 MethodNotAllowed

# --- a refused command: DATA with no recipient ---------------------------------
dialog_out=$(dialog starttls "$SMTP_PORT" <<'S'
> EHLO refused.test
<~ 250-AUTH PLAIN LOGIN
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN AHUAcA==
< 235 2.7.0 Authentication successful
> DATA
< 503 Need RCPT command
> QUIT
< 221 2.0.0 Bye
S
)
check "DATA with no RCPT is answered 503" 0 $?
echo "$dialog_out" | sed 's/^/    /'

# --- events ------------------------------------------------------------------------
check "GET /api/v1/events?since=0 answers 200 JSON" "200 application/json" "$(req GET "/api/v1/events?since=0")"
cp "$T/body" "$T/events.json"
conn_a=$(api GET "/api/v1/messages/$ida" | json "d['connection']")
conn_b=$(api GET "/api/v1/messages/$idb" | json "d['connection']")
check "accepted events: one per message with its connection, user and code 250" \
	"[('accepted', $conn_a, 'u', 250, '$ida'), ('accepted', $conn_b, 'u', 250, '$idb')]" \
	"$(body "[(e['type'], e['connection'], e['user'], e['code'], e['message']) for e in d['events'] if e['type'] == 'accepted']")"
check "refused event for DATA: code 503, command DATA, the reply text" \
	"[('refused', 503, 'DATA', '503 Need RCPT command', 'u')]" \
	"$(body "[(e['type'], e['code'], e['command'], e['reply'], e['user']) for e in d['events'] if e['stage'] != 'relay' and e['type'] != 'accepted']")"
check "delivered events (capture mode): one per accepted message, after it" \
	"[('delivered', 'capture', '$ida', 'bob@example.net'), ('delivered', 'capture', '$idb', 'dave@example.com')]" \
	"$(body "sorted((e['type'], e['destination'], e['message'], e['recipient']) for e in d['events'] if e['stage'] == 'relay')")"
conn_r=$(body "[e['connection'] for e in d['events'] if e['type'] == 'refused'][0]")
check "the refused event names a third connection" True \
	"$(body "$conn_r not in ($conn_a, $conn_b) and all(e['client_ip'] == '127.0.0.1' and e['time'] for e in d['events'] if e['stage'] != 'relay')")"
check "event ids increase from 1" "[1, 2, 3, 4, 5]" "$(body "[e['id'] for e in d['events']]")"
last=$(body "d['events'][-1]['id']")
check "events?since=<last id> is []" "200 []" "$(req GET "/api/v1/events?since=$last" | cut -d' ' -f1) $(body "d['events']")"
# The largest since the API accepts: no event has a greater id (a 400 would do too).
check "events?since=18446744073709551615 (2^64-1) lists no event" "no events" \
	"$(st=$(req GET "/api/v1/events?since=18446744073709551615" | cut -d' ' -f1)
	if [ "$st" == 400 ]; then echo "no events"; else body "'no events' if d['events'] == [] else 'status $st, event ids %s' % [e['id'] for e in d['events']]"; fi)"
check "events?since=1 leaves out event 1" "[2, 3, 4, 5]" "$(req GET "/api/v1/events?since=1" >/dev/null; body "[e['id'] for e in d['events']]")"

events_file_full() { [ "$(wc -l <"$state/events.jsonl" 2>/dev/null)" -ge 5 ]; }
wait_until 30 0.1 events_file_full
sleep 0.3 # one more flush period: anything beyond the 3 events would show
check "state/events.jsonl holds the same events as the API" True \
	"$(python3 -c 'import json,sys
api = json.load(open(sys.argv[1]))["events"]
with open(sys.argv[2]) as f:
    file = [json.loads(l) for l in f if l.strip()]
print(api == file)' "$T/events.json" "$state/events.jsonl" 2>&1)"

# --- transcripts ----------------------------------------------------------------------
check "GET /api/v1/connections/{id}/transcript answers 200 JSON" "200 application/json" \
	"$(req GET "/api/v1/connections/$conn_r/transcript")"
check "transcript: connection, client ip, closed" "$conn_r 127.0.0.1 False" \
	"$(body "d['connection'], d['client_ip'], d['open']")"
check "transcript: DATA came in, 503 went out, in this order" "True" \
	"$(body "(lambda L: ('in', 'DATA') in L and ('out', '503 Need RCPT command') in L and L.index(('in', 'DATA')) < L.index(('out', '503 Need RCPT command')))([(l['dir'], l['line']) for l in d['lines']])")"
check "transcript: the greeting is the first line out" "('out', '220')" \
	"$(body "[(l['dir'], l['line'][:3]) for l in d['lines'] if l['dir'] != 'note'][0]")"
check "transcript: every line has a time and a direction in/out/note" True \
	"$(body "len(d['lines']) >= 6 and all(l['time'] and l['dir'] in ('in', 'out', 'note') for l in d['lines'])")"
check "transcript: times never go backwards" True "$(body "[l['time'] for l in d['lines']] == sorted(l['time'] for l in d['lines'])")"
req GET "/api/v1/connections/$conn_a/transcript" >/dev/null
check "transcript of message A's connection: MAIL in, 250 queued out" True \
	"$(body "('in', 'MAIL FROM:<alice@example.com>') in [(l['dir'], l['line']) for l in d['lines']] and ('out', '250 2.0.0 Ok: queued as $ida') in [(l['dir'], l['line']) for l in d['lines']]")"

# --- DELETE ------------------------------------------------------------------------------
check "DELETE /api/v1/messages answers 200 JSON" "200 application/json" "$(req DELETE /api/v1/messages)"
check "DELETE /api/v1/messages reports 2 deleted" "{'deleted': 2}" "$(body d)"
check "the list is empty after DELETE" "[]" "$(api GET /api/v1/messages | json "d['messages']" 2>&1)"
check "a deleted message answers 404" 404 "$(api_status GET "/api/v1/messages/$ida")"
check "a second DELETE reports 0 deleted" "{'deleted': 0}" "$(api DELETE /api/v1/messages | json d 2>&1)"
edsim_stop ctl
