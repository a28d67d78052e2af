#!/usr/bin/env bash
# sdk_oci: the official OCI TypeScript SDK (oci-emaildataplane + oci-common,
# versions pinned in tests/sdk/package.json) against edsim's HTTPS
# submission API with https.auth verify: a submitEmail that lands in the
# store with its fields, a validation error and a wrong key as the SDK's
# OciError, and the SDK's default retry on 429 TooManyRequests.
#
# The SDK is installed into tests/sdk/node_modules (npm ci) when it is
# missing or not the pinned version; a failed install is a FAIL.
. "$(dirname "$0")/lib.bash"

SDK=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}/tests/sdk

# ---- the SDK, installed when missing ------------------------------------------------------
# sdk_installed: the pinned versions of package.json are in node_modules.
sdk_installed() {
	(cd "$SDK" && node -e '
const want = require("./package.json").dependencies;
for (const [name, version] of Object.entries(want))
	if (require(`./node_modules/${name}/package.json`).version !== version) process.exit(1);
require("oci-common"); require("oci-emaildataplane");' 2>/dev/null)
}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	fail "node and npm are on the PATH (needed for the OCI TypeScript SDK)"
	exit 1
fi
start=$(date +%s.%N)
if ! sdk_installed; then
	echo "installing the OCI TypeScript SDK into $SDK/node_modules (npm ci)"
	# flock on package.json: two runs at once do not install over each other.
	(cd "$SDK" && flock "$SDK/package.json" timeout 75 npm ci --no-audit --no-fund 2>&1 | tail -n 20)
fi
took=$(python3 -c "print('%.1f' % ($(date +%s.%N) - $start))")
if sdk_installed; then
	pass "the pinned OCI TypeScript SDK is installed in tests/sdk/node_modules (${took}s)"
else
	fail "the OCI TypeScript SDK could not be installed with npm ci in $SDK (see the npm output above)"
	exit 1
fi

# ---- keys and edsim ------------------------------------------------------------------------
openssl genrsa -out "$T/key.pem" 2048 2>/dev/null
openssl rsa -in "$T/key.pem" -pubout -out "$T/pub.pem" 2>/dev/null
openssl genrsa -out "$T/other.pem" 2048 2>/dev/null
# The OCI API key fingerprint: MD5 of the DER public key, colon-separated.
FINGERPRINT=$(openssl rsa -in "$T/key.pem" -pubout -outform DER 2>/dev/null | openssl md5 -c | sed 's/^.*= *//')
OTHER_FINGERPRINT=$(openssl rsa -in "$T/other.pem" -pubout -outform DER 2>/dev/null | openssl md5 -c | sed 's/^.*= *//')
TENANCY=ocid1.tenancy.oc1..sdk
SDK_USER=ocid1.user.oc1..sdk

users_yaml() {
	cat <<Y
https: { auth: verify }
users:
  - name: $SDK_USER
    password: unused
    public_key: $T/pub.pem
    approved_senders: [noreply@example.com]
Y
}

# sdk MODE [VAR=value...]: runs tests/sdk/oci_submit.js MODE against the last
# started edsim as the SDK user; prints its JSON line (stderr to $T/sdk.err).
sdk() {
	local mode=$1
	shift
	env EDSIM_ENDPOINT="https://127.0.0.1:$HTTPS_PORT" NODE_EXTRA_CA_CERTS="$CA" \
		OCI_TENANCY=$TENANCY OCI_USER=$SDK_USER OCI_FINGERPRINT="$FINGERPRINT" \
		OCI_KEY_FILE="$T/key.pem" "$@" \
		timeout 60 node "$SDK/oci_submit.js" "$mode" 2>"$T/sdk.err"
	local rc=$?
	sed 's/^/    sdk stderr: /' "$T/sdk.err" >&2
	return $rc
}
# field JSON EXPR: a value of the script's answer (d is the JSON object).
field() { json "$2" <<<"$1"; }
message_count() { api GET /api/v1/messages | json "len(d['messages'])"; }

cfg=$(write_config verify.yaml < <(users_yaml))
edsim_start sdk --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/sdk/state/edsim.ready" https)

# ---- 1. submitEmail through the SDK lands in the store ------------------------------------
out=$(sdk ok SUBJECT="sdk subject 1" BODY_TEXT="Body text sent by the OCI TypeScript SDK.")
echo "    sdk ok: $out"
check "SDK submitEmail succeeds" True "$(field "$out" "d['ok']")"
envelope=$(field "$out" "d.get('envelopeId') or ''")
echo "    messageId=$(field "$out" "d.get('messageId')") envelopeId=$envelope"
check "the response has an envelopeId" yes "${envelope:+yes}"
check "the response's messageId is the stored message's" \
	"$(field "$out" "d.get('messageId')")" "$(api GET "/api/v1/messages/$envelope" | json "d['message_id']")"
check "one attempt, signed over x-date (request-target) host Content-Type Content-Length x-content-sha256" \
	"1|x-date (request-target) host Content-Type Content-Length x-content-sha256" \
	"$(field "$out" "str(len(d['attempts'])) + '|' + str(d['attempts'][0]['signedHeaders'])")"
check "keyId is tenancy/user/fingerprint" "$TENANCY/$SDK_USER/$FINGERPRINT" \
	"$(field "$out" "d['attempts'][0]['keyId']")"
check "opc-request-id: the SDK's own comes back in the response" \
	"$(field "$out" "d['attempts'][0]['opcRequestId']")" "$(field "$out" "d.get('opcRequestId')")"
stored=$(api GET "/api/v1/messages/$envelope")
check "stored: from, to, subject, user" \
	"noreply@example.com|rcpt@example.net cc@example.net|sdk subject 1|$SDK_USER" \
	"$(json "d['from'] + '|' + ' '.join(r['address'] for r in d['to']) + '|' + str(d['subject']) + '|' + str(d['user'])" <<<"$stored")"
raw=$(api GET "/api/v1/messages/$envelope/raw")
check_contains "the raw message has the body text" "Body text sent by the OCI TypeScript SDK." "$raw"
check_contains "the raw message has the From built from senderAddress" 'From: "SDK Sender" <noreply@example.com>' "$raw"
check_contains "the raw message has the Subject" "Subject: sdk subject 1" "$raw"

# ---- 2. a validation error reaches the caller as the SDK's OciError ------------------------
out=$(sdk nosubject)
echo "    sdk nosubject: $out"
check "no subject: the SDK throws an OciError with statusCode 400 and serviceCode MissingParameter" \
	"False|OciError|True|400|MissingParameter" \
	"$(field "$out" "'|'.join(str(d.get(k)) for k in ('ok', 'errorClass', 'isOciError', 'statusCode', 'serviceCode'))")"
check "no subject: the message of the catalog" "Required attribute subject can't be empty or null." \
	"$(field "$out" "d.get('message')")"
check "no subject: the SDK does not retry a 400 (one attempt)" 1 "$(field "$out" "len(d['attempts'])")"

# ---- 4. a request signed with another key is refused ----------------------------------------
out=$(sdk ok OCI_KEY_FILE="$T/other.pem" OCI_FINGERPRINT="$OTHER_FINGERPRINT")
echo "    sdk other key: $out"
check "another key: the SDK throws an OciError with statusCode 401 and serviceCode NotAuthenticated" \
	"False|OciError|True|401|NotAuthenticated" \
	"$(field "$out" "'|'.join(str(d.get(k)) for k in ('ok', 'errorClass', 'isOciError', 'statusCode', 'serviceCode'))")"
check "another key: the SDK does not retry a 401 (one attempt)" 1 "$(field "$out" "len(d['attempts'])")"
check "only the accepted submission is stored" 1 "$(message_count)"
edsim_stop sdk

# ---- 3. the SDK's default retry on 429 TooManyRequests (twice) ------------------------------
# Emulated 429s (see "EMULATED" in tests/sdk/oci_submit.js): edsim runs with
# limits.requests_per_second: 1 and the script takes the window's one place
# with a filler request right before the SDK's 1st and 2nd attempt; the 3rd
# attempt finds a free window. The retry decision, backoff and re-signing
# are the SDK's own, and every attempt is signature-checked (auth: verify).
cfg=$(write_config rate.yaml < <(users_yaml; echo 'limits: { requests_per_second: 1 }'))
edsim_start rate --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/rate/state/edsim.ready" https)
out=$(sdk retry429 SUBJECT="sdk retry")
echo "    sdk retry429: $out"
check "429 twice: the SDK call still succeeds" True "$(field "$out" "d['ok']")"
check "the SDK made three attempts: 429 TooManyRequests, 429 TooManyRequests, 200" \
	"429 TooManyRequests,429 TooManyRequests,200 None" \
	"$(field "$out" "','.join('%s %s' % (a['status'], a.get('code')) for a in d['attempts'])")"
check "the filler requests took the rate window (404 each)" "[404, 404]" "$(field "$out" "d.get('fillers')")"
check "every attempt carries the same opc-request-id, the one answered" "1|True" \
	"$(field "$out" "'%d|%s' % (len(set(a['opcRequestId'] for a in d['attempts'])), d['attempts'][0]['opcRequestId'] == d.get('opcRequestId'))")"
check "every attempt says opc-client-retries: true" "true true true" \
	"$(field "$out" "' '.join(str(a['opcClientRetries']) for a in d['attempts'])")"
check "the SDK backed off: >= 1 s before the 2nd attempt, >= 2 s before the 3rd" "True True" \
	"$(field "$out" "'%s %s' % tuple(b['at_ms'] - a['at_ms'] >= ms for a, b, ms in zip(d['attempts'], d['attempts'][1:3], (1000, 2000)))")"
echo "    the call took $(field "$out" "d['elapsed_ms']") ms"
rid=$(field "$out" "d.get('envelopeId') or ''")
check "the retried submission is stored once, for the SDK user" "1|sdk retry|$SDK_USER" \
	"$(message_count)|$(api GET "/api/v1/messages/$rid" | json "str(d['subject']) + '|' + str(d['user'])")"
edsim_stop rate

# ---- 3b. the same with the repository's 429-twice scenario ----------------------------------
cfg=$(write_config scen.yaml < <(users_yaml))
edsim_start scen429 --config "$cfg" \
	--scenario "$EDSIM_REPO/scenarios/oci/https/composite/oci.https.composite.429-twice-then-200.yaml" || exit 1
HTTPS_PORT=$(ready_field "$T/scen429/state/edsim.ready" https)
out=$(sdk ok SUBJECT="sdk scenario retry")
echo "    sdk with the 429-twice scenario: $out"
check "the 429-twice scenario: the SDK call succeeds" True "$(field "$out" "d['ok']")"
check "the 429-twice scenario: three attempts, 429, 429, then 200" \
	"429 TooManyRequests,429 TooManyRequests,200 None" \
	"$(field "$out" "','.join('%s %s' % (a['status'], a.get('code')) for a in d['attempts'])")"
check "the 429-twice scenario: stored once" 1 "$(message_count)"
edsim_stop scen429
