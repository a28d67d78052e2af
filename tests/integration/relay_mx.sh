#!/usr/bin/env bash
# relay_mx: relay mode mx against a local dnsmasq (MX, A fallback, NXDOMAIN,
# null MX, a dead preferred MX) with Postfix's smtp-sink as every next hop;
# a DNS server that stops answering defers instead of bouncing.
. "$(dirname "$0")/lib.bash"

# free_port udp+tcp | tcp: a port free on 127.0.0.1 (for both, with udp+tcp).
free_port() {
	python3 - "$1" <<'P'
import socket, sys
both = sys.argv[1] == "udp+tcp"
for _ in range(50):
    t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    t.bind(("127.0.0.1", 0))
    port = t.getsockname()[1]
    if both:
        u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            u.bind(("127.0.0.1", port))
        except OSError:
            t.close()
            continue
        u.close()
    t.close()
    print(port)
    break
P
}
# dns_answers PORT: true when a DNS server on 127.0.0.1:PORT answers a UDP query.
dns_answers() {
	python3 - "$1" <<'P'
import socket, struct, sys
q = struct.pack(">HHHHHH", 0x1234, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in "plain.test".split(".")) + b"\0"
q += struct.pack(">HH", 1, 1)
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(0.3)
try:
    s.sendto(q, ("127.0.0.1", int(sys.argv[1])))
    data = s.recv(512)
    sys.exit(0 if data[:2] == b"\x12\x34" else 1)
except OSError:
    sys.exit(1)
P
}
tcp_listening() { python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.3).close()' "$1" 2>/dev/null; }

DNS_PORT=$(free_port udp+tcp)
SINK_PORT=$(free_port tcp)
if [ -z "$DNS_PORT" ] || [ -z "$SINK_PORT" ]; then fail "no free ports"; exit 1; fi

DNS_PID='' SINK_PID=''
stop_helpers() {
	[ -n "$DNS_PID" ] && kill "$DNS_PID" 2>/dev/null && wait "$DNS_PID" 2>/dev/null
	[ -n "$SINK_PID" ] && kill "$SINK_PID" 2>/dev/null && wait "$SINK_PID" 2>/dev/null
	DNS_PID='' SINK_PID=''
}
trap 'stop_helpers; cleanup_all' EXIT

# later.test is first asked for while dnsmasq is stopped; dead.test has only a dead MX.
start_dns() {
	/usr/sbin/dnsmasq -k --conf-file=/dev/null --no-resolv --no-hosts --listen-address=127.0.0.1 \
		--bind-interfaces --port="$DNS_PORT" --pid-file= --user="$(id -un)" --log-facility=/dev/null \
		--local=/test/ \
		--mx-host=two.test,mx1.two.test,10 --mx-host=two.test,mx2.two.test,20 \
		--host-record=mx1.two.test,127.0.0.1 --host-record=mx2.two.test,127.0.0.2 \
		--host-record=plain.test,127.0.0.1 --mx-host=nullmx.test,.,0 \
		--mx-host=back.test,dead.back.test,5 --host-record=dead.back.test,127.0.0.2 \
		--mx-host=back.test,live.back.test,10 --host-record=live.back.test,127.0.0.1 \
		--mx-host=dead.test,mx.dead.test,10 --host-record=mx.dead.test,127.0.0.2 \
		--host-record=later.test,127.0.0.1 \
		>>"$T/dnsmasq.log" 2>&1 &
	DNS_PID=$!
}
start_dns
mkdir -p "$T/sink"
smtp-sink -u "$(id -un)" -d "$T/sink/%M" "127.0.0.1:$SINK_PORT" 100 >"$T/sink.log" 2>&1 &
SINK_PID=$!
wait_until 50 0.1 dns_answers "$DNS_PORT"
check "dnsmasq answers on 127.0.0.1:$DNS_PORT" 0 $?
wait_until 50 0.1 tcp_listening "$SINK_PORT"
check "smtp-sink listens on 127.0.0.1:$SINK_PORT" 0 $?

cfg=$(write_config mx.yaml <<Y
auth: { required: false }
relay: { mode: mx, resolver: "127.0.0.1:$DNS_PORT", port: $SINK_PORT, tls: none, timeout: 5s }
retry: { first: 2s, factor: 2, cap: 4s }
Y
)
edsim_start up --config "$cfg" || { fail "edsim up did not start"; cat "$T/dnsmasq.log"; exit 1; }

# send ID TO... : one message with Message-ID <ID@mx.test> from sender@example.com.
send() {
	local id=$1 args=()
	shift
	args=(--to "$(IFS=,; echo "$*")")
	swaks --server "127.0.0.1:$SMTP_PORT" --from sender@example.com "${args[@]}" \
		--header "Message-Id: <$id@mx.test>" --header "Subject: $id" --body "body of $id" \
		--timeout 20 >"$T/swaks-$id" 2>&1
	check "swaks sends $id ($*)" 0 $?
}
# msg ID EXPR: EXPR evaluated on the stored message (d) with Message-ID <ID@mx.test>.
msg() {
	local mid
	mid=$(api GET "/api/v1/messages?subject=$1" |
		json "[m['id'] for m in d['messages'] if m['message_id'] == '<$1@mx.test>'][0]" 2>/dev/null) || return 1
	api GET "/api/v1/messages/$mid" | json "$2" 2>&1
}
# settled ID: no recipient of message ID is queued or sending.
settled() { [ "$(msg "$1" "all(r['state'] not in ('queued', 'sending') for r in d['to'])")" == True ]; }
# sunk ID: how many messages smtp-sink dumped with this Message-ID.
sunk() { grep -l -i "^Message-Id: <$1@mx.test>" "$T"/sink/* 2>/dev/null | wc -l; }

# --- MX two.test: mx1 (preference 10) answers ----------------------------------
send mx-two a@two.test
wait_until 100 0.1 settled mx-two
check "a@two.test: delivered, one attempt" "delivered 1" "$(msg mx-two "d['to'][0]['state'], d['to'][0]['attempts']")"
dest=$(msg mx-two "d['to'][0]['destination']")
check_contains "a@two.test: destination names the MX host mx1.two.test" "mx1.two.test" "$dest"
check_contains "a@two.test: destination names its address 127.0.0.1" "127.0.0.1" "$dest"
check_contains "a@two.test: the reply is smtp-sink's 250" "250" "$(msg mx-two "d['to'][0]['reply']")"
check "smtp-sink received the message once" 1 "$(sunk mx-two)"
check "a@two.test: the attempt names mx1" True \
	"$(msg mx-two "len(d['attempts']) == 1 and 'mx1.two.test' in d['attempts'][0]['destination'] and d['attempts'][0]['recipients'][0]['state'] == 'delivered'")"

# --- back.test: preferred MX dead.back.test (127.0.0.2) refuses -> live.back.test --
send mx-back b@back.test
wait_until 100 0.1 settled mx-back
check "b@back.test: delivered although the preferred MX is dead" delivered "$(msg mx-back "d['to'][0]['state']")"
dest=$(msg mx-back "d['to'][0]['destination']")
check_contains "b@back.test: delivered via live.back.test" "live.back.test" "$dest"
check_not_contains "b@back.test: not via dead.back.test" "dead.back.test" "$dest"
check "smtp-sink received it once" 1 "$(sunk mx-back)"
check "b@back.test: one attempt of the recipient, via live" "1 True" \
	"$(msg mx-back "d['to'][0]['attempts'], len(d['attempts']) == 1 and 'live.back.test' in d['attempts'][0]['destination']" | tr -d '(),')"

# --- plain.test: no MX, A record fallback ----------------------------------------
send mx-plain c@plain.test
wait_until 100 0.1 settled mx-plain
check "c@plain.test (no MX): delivered via the A record" delivered "$(msg mx-plain "d['to'][0]['state']")"
check_contains "c@plain.test: destination names plain.test [127.0.0.1]" "plain.test [127.0.0.1]" \
	"$(msg mx-plain "d['to'][0]['destination']")"
check "smtp-sink received it once" 1 "$(sunk mx-plain)"

# --- nope.test: NXDOMAIN -> permanent bounce, DSN, suppression -------------------
send mx-nope d@nope.test
wait_until 100 0.1 settled mx-nope
check "d@nope.test (NXDOMAIN): bounced" bounced "$(msg mx-nope "d['to'][0]['state']")"
reply=$(msg mx-nope "d['to'][0]['reply']")
check_contains "d@nope.test: the reply names the domain" "nope.test" "$reply"
check "d@nope.test: the reply is permanent (5xx)" 5 "${reply:0:1}"
check "d@nope.test: not expired" False "$(msg mx-nope "bool(d['to'][0].get('expired'))")"
check "nothing for nope.test reached smtp-sink" 0 "$(sunk mx-nope)"
nope_id=$(msg mx-nope "d['id']")
has_suppression() { [ "$(api GET "/api/v1/suppressions?address=$1" | json "len(d['suppressions'])" 2>/dev/null)" == 1 ]; }
wait_until 30 0.1 has_suppression d@nope.test
check "d@nope.test is on the suppression list, source bounce, reason the reply" "bounce True" \
	"$(api GET "/api/v1/suppressions?address=d@nope.test" | json "d['suppressions'][0]['source'], d['suppressions'][0]['reason'] == '''$reply'''" 2>&1)"
# dsn_event: the report id of the dsn event for the bounced message, or nothing.
dsn_event() { api GET /api/v1/events | json "' '.join(e['dsn'] for e in d['events'] if e['type'] == 'dsn' and e['message'] == '$nope_id')" 2>/dev/null; }
has_dsn_event() { [ -n "$(dsn_event)" ]; }
wait_until 30 0.1 has_dsn_event
dsn_id=$(dsn_event)
check "one dsn event names a report for the bounced message" True "$([[ -n "$dsn_id" && "$dsn_id" != *" "* ]] && echo True || echo "False ($dsn_id)")"
dsn_stored() { [ "$(api_status GET "/api/v1/messages/$dsn_id")" == 200 ]; }
wait_until 30 0.1 dsn_stored
check "the DSN is stored: origin dsn, from \"\", to the original sender" "dsn||['sender@example.com']" \
	"$(api GET "/api/v1/messages/$dsn_id" | json "'%s|%s|%s' % (d['origin'], d['from'], [r['address'] for r in d['to']])" 2>&1)"
dsn_raw=$(api GET "/api/v1/messages/$dsn_id/raw")
check_contains "the DSN is multipart/report delivery-status" "report-type=delivery-status" "$dsn_raw"
check_contains "the DSN names the final recipient" "Final-Recipient: rfc822; d@nope.test" "$dsn_raw"
check_contains "the DSN says Action: failed" "Action: failed" "$dsn_raw"
check_contains "the DSN's Status is the enhanced code 5.1.2" "Status: 5.1.2" "$dsn_raw"
check_contains "the DSN comes from MAILER-DAEMON" "MAILER-DAEMON@" "$(grep -i '^From:' <<<"$dsn_raw")"
check_contains "the DSN's subject" "Undelivered Mail Returned to Sender" "$(grep -i '^Subject:' <<<"$dsn_raw")"
check_contains "the DSN quotes the original header" "Message-Id: <mx-nope@mx.test>" "$dsn_raw"
check_contains "the DSN's diagnostic names nope.test" "nope.test" "$(grep -i '^Diagnostic-Code' <<<"$dsn_raw")"
check "the DSN's recipient is delivered to the capture mailbox" "delivered capture" \
	"$(api GET "/api/v1/messages/$dsn_id" | json "d['to'][0]['state'], d['to'][0].get('destination')" 2>&1 | tr -d "(),'")"
check "the DSN is in the capture mailbox" True \
	"$(api GET /api/v1/mailbox | json "'$dsn_id' in [m['id'] for m in d['messages']]" 2>&1)"

# --- nullmx.test: "MX 0 ." -> bounced ---------------------------------------------
send mx-null e@nullmx.test
wait_until 100 0.1 settled mx-null
check "e@nullmx.test (null MX): bounced" bounced "$(msg mx-null "d['to'][0]['state']")"
reply=$(msg mx-null "d['to'][0]['reply']")
check "e@nullmx.test: the reply is permanent (5xx)" 5 "${reply:0:1}"
check_contains "e@nullmx.test: the reply says null MX" "null MX" "$reply"
check "nothing for nullmx.test reached smtp-sink" 0 "$(sunk mx-null)"
wait_until 30 0.1 has_suppression e@nullmx.test
check "e@nullmx.test is on the suppression list" 0 $?

# --- dead.test: its only MX refuses connections -> deferred, not bounced --------------
send mx-dead i@dead.test
wait_until 100 0.1 settled mx-dead
check "i@dead.test (only MX refuses): deferred" deferred "$(msg mx-dead "d['to'][0]['state']")"
reply=$(msg mx-dead "d['to'][0]['reply']")
check "i@dead.test: the reply is not permanent (no 5xx)" True "$([[ -n "$reply" && "$reply" != 5* ]] && echo True || echo "False ($reply)")"
check_contains "i@dead.test: the destination names mx.dead.test" "mx.dead.test" "$(msg mx-dead "d['to'][0]['destination']")"

# --- two domains in one message: two destinations, both delivered ------------------
send mx-both f@two.test g@plain.test
wait_until 100 0.1 settled mx-both
check "two domains: both recipients delivered" "delivered delivered" \
	"$(msg mx-both "' '.join(r['state'] for r in d['to'])")"
check "two domains: destinations mx1.two.test and plain.test" "True True" \
	"$(msg mx-both "'mx1.two.test' in [r for r in d['to'] if r['address'] == 'f@two.test'][0]['destination'], 'plain.test' in [r for r in d['to'] if r['address'] == 'g@plain.test'][0]['destination']")"
check "two domains: two attempts, one per destination" 2 "$(msg mx-both "len(d['attempts'])")"
check "two domains: message state delivered" delivered "$(msg mx-both "d['state']")"
check "smtp-sink received two transactions for it" 2 "$(sunk mx-both)"

# --- a later submission to a suppressed address is refused ------------------------
swaks --server "127.0.0.1:$SMTP_PORT" --from sender@example.com --to d@nope.test --timeout 20 >"$T/swaks-supp" 2>&1
check_contains "sending to the bounced d@nope.test again: 254 Suppression" "Suppression for user" "$(cat "$T/swaks-supp")"

# --- dnsmasq stopped: a domain not looked up before is deferred -------------------
kill "$DNS_PID" 2>/dev/null
wait "$DNS_PID" 2>/dev/null
DNS_PID=
send mx-nodns h@later.test
wait_until 150 0.1 settled mx-nodns
state=$(msg mx-nodns "d['to'][0]['state']")
check "h@later.test with the DNS server down: deferred" deferred "$state"
check "h@later.test: has a next_attempt" True "$(msg mx-nodns "'next_attempt' in d['to'][0]")"
check "a deferred event with next_attempt for h@later.test" True \
	"$(api GET /api/v1/events | json "any(e['type'] == 'deferred' and e['recipient'] == 'h@later.test' and e.get('next_attempt') for e in d['events'])" 2>&1)"
reply=$(msg mx-nodns "d['to'][0]['reply']")
check "h@later.test: the reply is not permanent (no 5xx)" True "$([[ "$reply" != 5* ]] && echo True || echo "False ($reply)")"
check "h@later.test is not suppressed" 0 \
	"$(api GET "/api/v1/suppressions?address=h@later.test" | json "len(d['suppressions'])" 2>&1)"
later_id=$(msg mx-nodns "d['id']")
check "no DSN for the deferred h@later.test" "[]" \
	"$(api GET /api/v1/events | json "[e['id'] for e in d['events'] if e['message'] == '$later_id' and e['type'] in ('dsn', 'bounced')]" 2>&1)"
check "queue: two messages with a deferred recipient (dead.test, later.test)" "2 2" \
	"$(api GET /api/v1/queue | json "d['recipients']['deferred'], d['messages']" 2>&1 | tr -d '(),')"

# --- dnsmasq back: the deferred h@later.test is retried (retry.first 2s) and delivered --
start_dns
wait_until 50 0.1 dns_answers "$DNS_PORT"
check "dnsmasq answers again" 0 $?
later_done() { [ "$(msg mx-nodns "d['to'][0]['state']")" == delivered ]; }
wait_until 150 0.1 later_done
check "h@later.test: delivered by a later attempt once DNS answers" "delivered True" \
	"$(msg mx-nodns "d['to'][0]['state'], d['to'][0]['attempts'] >= 2" | tr -d '(),')"
check "h@later.test: via its A record" "later.test [127.0.0.1]" \
	"$(msg mx-nodns "d['to'][0]['destination'].rsplit(':', 1)[0]")"
check "smtp-sink received h@later.test's message once" 1 "$(sunk mx-nodns)"
check "i@dead.test: still deferred after more attempts, never bounced" "deferred True" \
	"$(msg mx-dead "d['to'][0]['state'], d['to'][0]['attempts'] >= 2" | tr -d '(),')"
check "queue totals: at least 6 delivered, 2 bounced, 2 DSNs" "True 2 2" \
	"$(api GET /api/v1/queue | json "d['totals']['delivered'] >= 6, d['totals']['bounced'], d['totals']['dsn']" 2>&1 | tr -d '(),')"

edsim_stop up
stop_helpers
