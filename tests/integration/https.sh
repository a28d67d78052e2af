#!/usr/bin/env bash
# https: the OCI submitEmail API over HTTPS with curl: each status, code and
# message of the catalog that a request causes, opc-request-id, and the
# message that lands in the store.
. "$(dirname "$0")/lib.bash"

cfg=$(write_config https.yaml <<'Y'
users:
  - name: ocid1.user.oc1..api
    password: secret
    approved_senders: [noreply@example.com]
suppressions: [blocked@example.net]
limits: { message_bytes: 4000 }
Y
)
edsim_start api --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/api/state/edsim.ready" https)
URL=https://127.0.0.1:$HTTPS_PORT/20220926/actions/submitEmail

# post BODY [curl args]: prints "STATUS|opc-request-id|body".
post() {
	local body=$1
	shift
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --cacert "$CA" \
		-H 'Content-Type: application/json' "$@" --data-binary "$body" "$URL" >"$T/status"
	printf '%s|%s|%s\n' "$(cat "$T/status")" \
		"$(sed -n 's/^opc-request-id: *//Ip' "$T/headers" | tr -d '\r')" "$(cat "$T/body")"
}
SENDER='"sender": {"compartmentId": "ocid1.compartment.oc1..c", "senderAddress": {"email": "noreply@example.com", "name": "Example"}}'
TO='"recipients": {"to": [{"email": "a@example.net", "name": "A"}], "bcc": [{"email": "blocked@example.net"}]}'
ok_body="{$SENDER, $TO, \"subject\": \"https test\", \"bodyText\": \"plain\", \"bodyHtml\": \"<p>html</p>\", \"messageId\": \"<https-1@example.com>\"}"

out=$(post "$ok_body" -H 'opc-request-id: client-req-1')
check "an accepted submission answers 200" 200 "${out%%|*}"
check "opc-request-id echoes the client's" "client-req-1" "$(cut -d'|' -f2 <<<"$out")"
resp=$(cut -d'|' -f3- <<<"$out")
check "the answer gives the messageId" "<https-1@example.com>" "$(json "d['messageId']" <<<"$resp")"
check "the suppressed recipient is listed" "['blocked@example.net']" "$(json "d['suppressedRecipients']" <<<"$resp")"
id=$(json "d['envelopeId']" <<<"$resp")
stored=$(api GET "/api/v1/messages/$id")
check "the message is in the store under envelopeId" "<https-1@example.com>" "$(json "d['message_id']" <<<"$stored")"
check "its recipients and their states" "a@example.net:delivered blocked@example.net:suppressed" \
	"$(json "' '.join(r['address'] + ':' + r['state'] for r in d['to'])" <<<"$stored")"
check "the submission is an accepted event (stage https)" "accepted|https|200" \
	"$(api GET /api/v1/events | json "[e['type'] + '|' + e['stage'] + '|' + str(e['code']) for e in d['events'] if e['message'] == '$id'][0]")"
raw=$(api GET "/api/v1/messages/$id/raw")
check_contains "From is built from senderAddress" 'From: "Example" <noreply@example.com>' "$raw"
check_contains "To is built from recipients.to" 'To: "A" <a@example.net>' "$raw"
check_not_contains "Bcc never shows in the message" "blocked@example.net" "$raw"
check_contains "text and HTML make multipart/alternative" "multipart/alternative" "$raw"

out=$(post "$ok_body")
check_contains "without one, edsim makes an opc-request-id" "EDSIM" "$(cut -d'|' -f2 <<<"$out")"

# expect_error NAME BODY STATUS CODE MESSAGE
expect_error() {
	local out
	out=$(post "$2")
	check "$1: status" "$3" "${out%%|*}"
	check "$1: code and message" "$4|$5" \
		"$(json "d['code'] + '|' + d['message']" <<<"$(cut -d'|' -f3- <<<"$out")")"
}
expect_error "no sender" "{$TO, \"subject\": \"s\", \"bodyText\": \"b\"}" 400 MissingParameter \
	"Required attribute sender can't be empty or null."
expect_error "no compartment" "{\"sender\": {\"senderAddress\": {\"email\": \"noreply@example.com\"}}, $TO, \"subject\": \"s\", \"bodyText\": \"b\"}" \
	400 MissingParameter "Required attribute sender compartmentId cannot be empty or null."
expect_error "no recipients" "{$SENDER, \"recipients\": {}, \"subject\": \"s\", \"bodyText\": \"b\"}" 400 MissingParameter \
	"Required attribute recipients must contain either to , cc or bcc recipients."
expect_error "an address without email" "{$SENDER, \"recipients\": {\"to\": [{\"name\": \"x\"}]}, \"subject\": \"s\", \"bodyText\": \"b\"}" \
	400 InvalidParameter "Email Address can't be null or empty."
expect_error "a bad address" "{$SENDER, \"recipients\": {\"to\": [{\"email\": \"x@@y\"}]}, \"subject\": \"s\", \"bodyText\": \"b\"}" \
	400 InvalidParameter "Invalid Internet Address : x@@y"
many=$(python3 -c "print(','.join('{\"email\": \"r%d@example.net\"}' % i for i in range(51)))")
expect_error "51 recipients" "{$SENDER, \"recipients\": {\"to\": [$many]}, \"subject\": \"s\", \"bodyText\": \"b\"}" \
	400 InvalidParameter "maxItems: 50, for recipients across the To:, CC: and BCC: fields."
expect_error "no subject" "{$SENDER, $TO, \"bodyText\": \"b\"}" 400 MissingParameter \
	"Required attribute subject can't be empty or null."
expect_error "no body" "{$SENDER, $TO, \"subject\": \"s\"}" 400 MissingParameter \
	"Required attribute body(html/text) is missing. Request must contain either bodyText or bodyHtml"
expect_error "a bad messageId" "{$SENDER, $TO, \"subject\": \"s\", \"bodyText\": \"b\", \"messageId\": \"nope\"}" \
	400 InvalidParameter "Message ID not formed according to RFCs."
expect_error "an empty header key" "{$SENDER, $TO, \"subject\": \"s\", \"bodyText\": \"b\", \"headerFields\": {\"\": \"v\"}}" \
	400 InvalidParameter "Header Key can't be null or empty"
expect_error "a non-ASCII header key" "{$SENDER, $TO, \"subject\": \"s\", \"bodyText\": \"b\", \"headerFields\": {\"X-Caf\\u00e9\": \"v\"}}" \
	400 InvalidParameter "Custom Mail Header Keys should be ASCII only X-Café"
expect_error "a reserved header" "{$SENDER, $TO, \"subject\": \"s\", \"bodyText\": \"b\", \"headerFields\": {\"Subject\": \"v\"}}" \
	400 InvalidParameter "Subject is a reserved mail header which is not allowed"
expect_error "an unapproved sender" "{\"sender\": {\"compartmentId\": \"c\", \"senderAddress\": {\"email\": \"other@example.org\"}}, $TO, \"subject\": \"s\", \"bodyText\": \"b\"}" \
	404 NotAuthorizedOrNotFound "Authorization failed: address other@example.org not authorized or not found"
big=$(python3 -c "print('x' * 5000)")
expect_error "a body over the byte limit" "{$SENDER, $TO, \"subject\": \"s\", \"bodyText\": \"$big\"}" \
	413 RequestEntityTooLarge "Message exceeds byte limit : limit is 4000"
expect_error "a body that is not JSON" "not json" 400 InvalidParameter "Unable to parse the request body as JSON."
out=$(curl -s -w '|%{http_code}' --cacert "$CA" -H 'Content-Type: text/plain' --data-binary "$ok_body" "$URL")
check "a Content-Type other than application/json" '{"code":"InvalidParameter","message":"Content-Type must be application/json."}|400' "$out"

# ---- submitRawEmail: the raw message, the envelope in headers ----------------------------
RAW_URL=https://127.0.0.1:$HTTPS_PORT/20220926/actions/submitRawEmail
# raw [curl header args]: posts a small MIME message; prints "STATUS|body".
raw() {
	printf 'From: noreply@example.com\r\nTo: a@example.net\r\nSubject: raw test\r\nMessage-ID: <raw-1@example.com>\r\n\r\nraw body\r\n' >"$T/raw.eml"
	local status
	status=$(curl -s -o "$T/rawbody" -w '%{http_code}' --cacert "$CA" -H 'Content-Type: message/rfc822' \
		"$@" --data-binary @"$T/raw.eml" "$RAW_URL")
	printf '%s|%s\n' "$status" "$(cat "$T/rawbody")"
}
out=$(raw -H 'compartment-id: ocid1.compartment.oc1..c' -H 'sender: noreply@example.com' \
	-H 'recipients: a@example.net, blocked@example.net')
check "submitRawEmail accepted: 200" 200 "${out%%|*}"
resp=${out#*|}
check "submitRawEmail: the Message-ID of the raw message" "<raw-1@example.com>" "$(json "d['messageId']" <<<"$resp")"
check "submitRawEmail: the suppressed recipient is listed" "['blocked@example.net']" "$(json "d['suppressedRecipients']" <<<"$resp")"
rid=$(json "d['envelopeId']" <<<"$resp")
check "submitRawEmail: stored exactly as sent" "$(cat "$T/raw.eml")" "$(api GET "/api/v1/messages/$rid/raw")"
out=$(raw -H 'sender: noreply@example.com' -H 'recipients: a@example.net')
check "submitRawEmail without compartment-id" '400|{"code":"MissingParameter","message":"Required attribute sender compartmentId cannot be empty or null."}' "$out"
out=$(raw -H 'compartment-id: c' -H 'recipients: a@example.net')
check "submitRawEmail without sender" '400|{"code":"MissingParameter","message":"Required attribute sender can'"'"'t be empty or null."}' "$out"
out=$(raw -H 'compartment-id: c' -H 'sender: noreply@example.com')
check "submitRawEmail without recipients" '400|{"code":"MissingParameter","message":"Required attribute recipients must contain either to , cc or bcc recipients."}' "$out"
out=$(raw -H 'compartment-id: c' -H 'sender: noreply@example.com' -H 'recipients: a@example.net, x@@y')
check "submitRawEmail with a bad recipient" '400|{"code":"InvalidParameter","message":"Invalid Internet Address : x@@y"}' "$out"
out=$(raw -H 'compartment-id: c' -H 'sender: other@example.org' -H 'recipients: a@example.net')
check "submitRawEmail from an unapproved sender" '404|{"code":"NotAuthorizedOrNotFound","message":"Authorization failed: address other@example.org not authorized or not found"}' "$out"

status=$(curl -s -o "$T/nf" -w '%{http_code}' --cacert "$CA" "https://127.0.0.1:$HTTPS_PORT/nowhere")
check "an unknown path: 404 NotAuthorizedOrNotFound" "404|NotAuthorizedOrNotFound" "$status|$(json "d['code']" <"$T/nf")"
status=$(curl -s -o "$T/get" -w '%{http_code}' --cacert "$CA" "$URL")
check "GET on submitEmail: 405 MethodNotAllowed" "405|MethodNotAllowed" "$status|$(json "d['code']" <"$T/get")"
out=$(timeout 10 openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -connect 127.0.0.1:"$HTTPS_PORT" </dev/null 2>&1)
check_contains "TLS 1.1 is refused on the HTTPS port" "Cipher is (NONE)" "$out"
edsim_stop api

# ---- quotas are shared with SMTP -------------------------------------------------------------
cfg=$(write_config quota.yaml <<'Y'
auth: { required: false }
limits: { per_minute: 2 }
Y
)
edsim_start quota --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/quota/state/edsim.ready" https)
URL=https://127.0.0.1:$HTTPS_PORT/20220926/actions/submitEmail
swaks --server 127.0.0.1:"$SMTP_PORT" --from noreply@example.com --to a@example.net >/dev/null 2>&1
out=$(post "$ok_body")
check "after one SMTP message, one HTTPS submission is within the quota of 2" 200 "${out%%|*}"
expect_error "the third message, over HTTPS: LimitExceeded" "$ok_body" 400 LimitExceeded \
	"Maximum messages sent per minute reached : limit is 2"
smtp=$(swaks --server 127.0.0.1:"$SMTP_PORT" --from noreply@example.com --to a@example.net 2>&1)
check_contains "and over SMTP the same quota answers 455" "455 Maximum messages sent per minute reached : limit is 2" "$smtp"
edsim_stop quota

# ---- the request rate: 429 TooManyRequests -----------------------------------------------
cfg=$(write_config rate.yaml <<'Y'
limits: { requests_per_second: 3 }
Y
)
edsim_start rate --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/rate/state/edsim.ready" https)
URL=https://127.0.0.1:$HTTPS_PORT/20220926/actions/submitEmail
codes=$(for i in 1 2 3 4 5; do curl -s -o /dev/null -w '%{http_code} ' --cacert "$CA" \
	-H 'Content-Type: application/json' --data-binary "$ok_body" "$URL"; done)
check "requests_per_second 3: the 4th and 5th requests of a second get 429" "200 200 200 429 429 " "$codes"
expect_error "over the request rate" "$ok_body" 429 TooManyRequests "Too many requests received. Wait and try again."
sleep 1.1
out=$(post "$ok_body")
check "the next second the rate is free again" 200 "${out%%|*}"
edsim_stop rate

# ---- https.auth present: a Signature header is required ------------------------------------
cfg=$(write_config present.yaml <<'Y'
https: { auth: present }
Y
)
edsim_start present --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/present/state/edsim.ready" https)
URL=https://127.0.0.1:$HTTPS_PORT/20220926/actions/submitEmail
expect_error "auth present: no Authorization header" "$ok_body" 401 NotAuthenticated \
	"The required information to complete authentication was not provided or was incorrect."
out=$(post "$ok_body" -H 'Authorization: Signature version="1",keyId="t/u/f",algorithm="rsa-sha256",headers="date",signature="c2ln"')
check "auth present: a well-formed Signature header passes" 200 "${out%%|*}"
edsim_stop present

# SIGTERM while 16 clients keep submitting over keep-alive TLS: edsim stops
# cleanly (exit 0, no sanitizer report: submissions waiting for their sync
# are answered before the API goes away), and every message in the store
# has its "accepted" event.
cfg2=$(write_config https-load.yaml <<'Y'
auth: { required: false }
https: { auth: off }
Y
)
edsim_start load --config "$cfg2" || exit 1
LOAD_PORT=$(ready_field "$T/load/state/edsim.ready" https)
python3 - "$LOAD_PORT" "$CA" >"$T/load.out" 2>&1 <<'PY' &
import http.client, json, ssl, sys, threading, time
port, ca = int(sys.argv[1]), sys.argv[2]
ctx = ssl.create_default_context(cafile=ca)
ctx.check_hostname = False
body = json.dumps({"sender": {"compartmentId": "ocid1.compartment.oc1..c",
                              "senderAddress": {"email": "noreply@example.com"}},
                   "recipients": {"to": [{"email": "a@example.net"}]},
                   "subject": "load", "bodyText": "x"})
deadline = time.monotonic() + 20
def client():
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPSConnection("127.0.0.1", port, context=ctx, timeout=5)
            while time.monotonic() < deadline:
                c.request("POST", "/20220926/actions/submitEmail", body,
                          {"Content-Type": "application/json"})
                c.getresponse().read()
        except Exception:
            return
threads = [threading.Thread(target=client) for _ in range(16)]
for t in threads: t.start()
for t in threads: t.join()
PY
loader=$!
stored_load() { [ "$(sqlite3 "$T/load/state/edsim.db" 'select count(*) from messages' 2>/dev/null || echo 0)" -ge 50 ]; }
wait_until 100 0.1 stored_load
edsim_stop load
kill "$loader" 2>/dev/null
wait "$loader" 2>/dev/null
check "under load: every stored message has its accepted event" \
	"$(sqlite3 "$T/load/state/edsim.db" 'select count(*) from messages')" \
	"$(grep -c '"type": "accepted"' "$T/load/state/events.jsonl")"
