#!/usr/bin/env bash
# https_scenarios: scenario rules at the HTTPS stages (request, submit,
# submit-raw) and every scenario file of scenarios/oci/https/.
. "$(dirname "$0")/lib.bash"

scenario() { cat >"$T/sc-$1"; echo "$T/sc-$1"; }
BODY='{"sender": {"compartmentId": "c", "senderAddress": {"email": "noreply@example.com"}}, "recipients": {"to": [{"email": "a@example.net"}]}, "subject": "s", "bodyText": "b"}'
# post PATH BODY [curl args]: prints "STATUS BODY" (STATUS 000: no answer).
post() {
	local path=$1 body=$2
	shift 2
	curl -s -o "$T/out" -w '%{http_code}' --cacert "$CA" -H 'Content-Type: application/json' "$@" \
		--data-binary "$body" "https://127.0.0.1:$HTTPS_PORT/20220926/actions/$path" >"$T/status"
	printf '%s %s\n' "$(cat "$T/status")" "$(cat "$T/out" 2>/dev/null)"
}
start() { edsim_start "$1" --scenario "$2" || exit 1; HTTPS_PORT=$(ready_field "$T/$1/state/edsim.ready" https); }

sc=$(scenario rules.yaml <<'Y'
edsim: 1
name: https-rules
rules:
  - when: { stage: request, attempt: 1, header: { opc-request-id: "retry-*" } }
    do: { reply: oci.https.too-many-requests }
  - when: { stage: request, attempt: 2, header: { opc-request-id: "retry-*" } }
    do: { reply: oci.https.too-many-requests, headers: { Retry-After: "1" } }
  - when: { stage: submit, sender: "drop@*" }
    do: { drop: true }
  - when: { stage: submit, sender: "slow@*" }
    do: { delay: 500ms, status: 500, code: InternalServerError, message: "Internal Server Error" }
  - when: { stage: submit, recipient: "*@held.test" }
    do: { delay: 500ms }
  - when: { stage: submit-raw, method: post, path: "*/submitRawEmail" }
    do: { status: 409, code: ResourceLocked, message: "The requested resource is locked." }
  - when: { stage: submit, sender: "other@*" }
    do: { accept: true }
Y
)
start rules "$sc"
check "attempt 1 of a request id: 429" "429" "$(post submitEmail "$BODY" -H 'opc-request-id: retry-7' | cut -d' ' -f1)"
out=$(curl -s -D - -o /dev/null --cacert "$CA" -H 'opc-request-id: retry-7' --data-binary "$BODY" \
	"https://127.0.0.1:$HTTPS_PORT/20220926/actions/submitEmail" | tr -d '\r')
check_contains "attempt 2: 429 with the rule's Retry-After header" "Retry-After: 1" "$out"
check "attempt 3 of the same request id: 200" "200" "$(post submitEmail "$BODY" -H 'opc-request-id: retry-7' | cut -d' ' -f1)"
check "another request id starts at attempt 1 again" "429" "$(post submitEmail "$BODY" -H 'opc-request-id: retry-8' | cut -d' ' -f1)"
check "drop: the connection closes without an answer" "000" "$(post submitEmail "${BODY/noreply/drop}" | cut -d' ' -f1)"
start_t=$(date +%s.%N)
out=$(post submitEmail "${BODY/noreply/slow}")
took=$(echo "$(date +%s.%N) - $start_t" | bc)
check "delay then a literal answer" '500 {"code":"InternalServerError","message":"Internal Server Error"}' "$out"
check "the answer waited the delay" yes "$(python3 -c "print('yes' if $took >= 0.45 else 'no')")"
out=$(post submitEmail "${BODY/a@example.net/x@held.test}")
check "a delay alone, then the native 200" 200 "${out%% *}"
out=$(post submitRawEmail 'Subject: raw' -H 'compartment-id: c' -H 'sender: noreply@example.com' -H 'recipients: a@example.net')
check "method and path matchers at submit-raw" '409 {"code":"ResourceLocked","message":"The requested resource is locked."}' "$out"
edsim_stop rules

# accept lifts the approved-sender check; the validation still applies
cfg=$(write_config users.yaml <<'Y'
users: [{ name: ocid1.user.oc1..u, password: p, approved_senders: [noreply@example.com] }]
Y
)
edsim_start accept --config "$cfg" --scenario "$sc" || exit 1
HTTPS_PORT=$(ready_field "$T/accept/state/edsim.ready" https)
check "accept: an unapproved sender passes" 200 "$(post submitEmail "${BODY/noreply/other}" | cut -d' ' -f1)"
check "without the rule it is refused" 404 "$(post submitEmail "${BODY/noreply/stranger}" | cut -d' ' -f1)"
edsim_stop accept

# ---- every file of scenarios/oci/https/ -----------------------------------------------------
n=0
for file in "$EDSIM_REPO"/scenarios/oci/https/oci.https.*.yaml; do
	id=$(basename "$file" .yaml)
	n=$((n + 1))
	want=$(python3 - "$EDSIM_REPO/scenarios/catalog/oci.yaml" "$id" "$file" <<'P'
import re, sys
cat, cid, scen = open(sys.argv[1]).read(), sys.argv[2], open(sys.argv[3]).read()
block = cat.split("  - id: " + cid + "\n", 1)[1].split("\n  - id: ", 1)[0]
get = lambda k: re.search(r"^    %s: (.*)$" % k, block, re.M).group(1).strip().strip('"')
limit = {"oci.https.rate-minute": "per_minute", "oci.https.rate-day": "per_day"}.get(cid)
value = re.search(r"%s: (\d+)" % limit, scen).group(1) if limit else "2097152"
message = get("message").replace("{limit}", value).replace("{sender}", "noreply@example.com") \
    .replace("{address}", "noreply@example.com").replace("{header}", "X-Header")
print(get("status"), '{"code":"%s","message":"%s"}' % (get("error_code"), message))
print("transient" if get("kind") == "transient" else "permanent")
P
)
	start "f$n" "$file"
	out=$(post submitEmail "$BODY" -H "opc-request-id: file-$n")
	check "$id: the forced answer" "$(head -n 1 <<<"$want")" "$out"
	if [ "$(tail -n 1 <<<"$want")" = transient ]; then
		check "$id: the retry of the request is accepted" 200 \
			"$(post submitEmail "$BODY" -H "opc-request-id: file-$n" | cut -d' ' -f1)"
	fi
	edsim_stop "f$n"
done
if [ "$n" -ge 19 ]; then pass "$n HTTPS scenario files played"; else fail "only $n HTTPS scenario files"; fi

# ---- composites ---------------------------------------------------------------------------------
start c1 "$EDSIM_REPO/scenarios/oci/https/composite/oci.https.composite.429-twice-then-200.yaml"
codes=$(for i in 1 2 3; do post submitEmail "$BODY" -H 'opc-request-id: c-1' | cut -d' ' -f1; done | tr '\n' ' ')
check "429 twice then 200" "429 429 200 " "$codes"
edsim_stop c1
start c2 "$EDSIM_REPO/scenarios/oci/https/composite/oci.https.composite.500-then-200.yaml"
codes=$(for i in 1 2; do post submitEmail "$BODY" -H 'opc-request-id: c-2' | cut -d' ' -f1; done | tr '\n' ' ')
check "500 then 200" "500 200 " "$codes"
edsim_stop c2
start c3 "$EDSIM_REPO/scenarios/oci/https/composite/oci.https.composite.limit-exceeded-until-window.yaml"
codes=$(for i in 1 2; do post submitEmail "$BODY" | cut -d' ' -f1; done | tr '\n' ' ')
check "LimitExceeded from the first submission (its rule uses the quota of 2 up then)" "400 400 " "$codes"
sleep 1.2
check "after the (virtual) minute, accepted again" 200 "$(post submitEmail "$BODY" | cut -d' ' -f1)"
edsim_stop c3
