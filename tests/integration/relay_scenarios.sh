#!/usr/bin/env bash
# relay_scenarios: every scenario file in scenarios/oci/relay is served by an
# edsim in capture mode and one message to bounce1@example.net and
# ok@example.net goes through it; each file's recipients end as its
# description says (delivered, deferred then delivered, bounced with a DSN
# and a suppression entry, or expired with Status 4.4.7 and no suppression).
. "$(dirname "$0")/lib.bash"

AUTHLESS=$(write_config authless.yaml <<'Y'
auth: {required: false}
limits: {command_timeout: 1h}
Y
)
send() {
	swaks --server "127.0.0.1:$SMTP_PORT" --from sender@example.com --to "$1" \
		--header "Subject: $2" --header "Message-Id: <$2@example.com>" --timeout 20 2>&1
}
drained() { [ "$(api GET /api/v1/queue | json "d['messages']" 2>/dev/null)" == 0 ]; }
# outcome: "address=state/attempts[/expired]" for each recipient, the gaps
# between attempts (rounded to 0.5 s), DSN statuses and suppressions.
outcome() {
	local id=$1
	api GET "/api/v1/messages/$id" >"$T/msg.json"
	api GET /api/v1/mailbox >"$T/mailbox.json"
	api GET /api/v1/suppressions >"$T/supp.json"
	python3 - "$T/msg.json" "$T/mailbox.json" "$T/supp.json" <<'P'
import json, sys, datetime
m = json.load(open(sys.argv[1]))
box = json.load(open(sys.argv[2]))["messages"]
supp = json.load(open(sys.argv[3]))["suppressions"]
def t(s): return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()
rc = " ".join("%s=%s/%d%s" % (r["address"], r["state"], r["attempts"], "/expired" if r.get("expired") else "")
              for r in sorted(m["to"], key=lambda r: r["address"]))
times = sorted({a["time"] for a in m["attempts"]})
gaps = [round((t(b) - t(a)) * 2) / 2 for a, b in zip(times, times[1:])]
dsns = [d for d in box if d["origin"] == "dsn"]
print(rc)
print("gaps", gaps)
print("dsn", len(dsns), [d["to"][0]["address"] for d in dsns])
print("suppressed", sorted(s["address"] for s in supp))
P
}

for file in "$EDSIM_REPO"/scenarios/oci/relay/*.yaml; do
	name=$(basename "$file" .yaml)
	edsim_start "$name" --config "$AUTHLESS" --scenario "$file" || { fail "$name: edsim does not start"; continue; }
	out=$(send "bounce1@example.net,ok@example.net" "$name")
	check_contains "$name: the message is accepted" "250 2.0.0 Ok: queued as" "$out"
	id=$(sed -n 's/.*queued as \([0-9a-f]*\).*/\1/p' <<<"$out" | head -1)
	poll 150 drained || fail "$name: the relay did not finish within 15 s"
	res=$(outcome "$id")
	case $name in
	oci.relay.hard-bounce)
		check "$name: bounce1 bounced at once, ok delivered" \
			"bounce1@example.net=bounced/1 ok@example.net=delivered/1" "$(sed -n 1p <<<"$res")"
		check "$name: one DSN, to the sender" "dsn 1 ['sender@example.com']" "$(sed -n 3p <<<"$res")"
		check "$name: bounce1 is on the suppression list" "suppressed ['bounce1@example.net']" "$(sed -n 4p <<<"$res")"
		out=$(send bounce1@example.net "$name-again")
		check_contains "$name: the next message to bounce1 gets the 254 suppression reply" \
			"254 4.7.1 Suppression for user" "$out"
		;;
	oci.relay.soft-bounce-twice)
		check "$name: both delivered on the third attempt" \
			"bounce1@example.net=delivered/3 ok@example.net=delivered/3" "$(sed -n 1p <<<"$res")"
		check "$name: retries 1 s then 2 s apart (1 and 2 minutes at speed 60)" "gaps [1.0, 2.0]" "$(sed -n 2p <<<"$res")"
		check "$name: no DSN, no suppression" "dsn 0 [] suppressed []" "$(sed -n 3,4p <<<"$res" | tr '\n' ' ' | sed 's/ $//')"
		;;
	oci.relay.dropped-connection)
		check "$name: both delivered on the second attempt" \
			"bounce1@example.net=delivered/2 ok@example.net=delivered/2" "$(sed -n 1p <<<"$res")"
		check "$name: the retry came 1 s later" "gaps [1.0]" "$(sed -n 2p <<<"$res")"
		;;
	oci.relay.expired)
		check "$name: both expired after 5 attempts (0, 1, 3, 5, 6 s)" \
			"bounce1@example.net=bounced/5/expired ok@example.net=bounced/5/expired" "$(sed -n 1p <<<"$res")"
		check "$name: one DSN to the sender, nobody suppressed" "dsn 1 ['sender@example.com'] suppressed []" \
			"$(sed -n 3,4p <<<"$res" | tr '\n' ' ' | sed 's/ $//')"
		dsn=$(api GET /api/v1/mailbox | json "[m['id'] for m in d['messages'] if m['origin'] == 'dsn'][0]")
		check_contains "$name: the DSN says Status 4.4.7" "Status: 4.4.7" "$(api GET "/api/v1/messages/$dsn/raw")"
		;;
	*)
		fail "$name: this test does not know what to expect of it"
		;;
	esac
	edsim_stop "$name"
done
