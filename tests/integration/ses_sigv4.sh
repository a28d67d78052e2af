#!/usr/bin/env bash
# ses_sigv4: https.auth under profile: ses. verify checks AWS Signature
# Version 4 with the configured access keys, region and service "ses":
# curl's own signer (--aws-sigv4) is the independent client for both APIs,
# a small stdlib Python signer makes the requests curl will not (a skewed
# clock, a scope of another day, a body changed after signing), and hand
# written Authorization headers the malformed ones; every failure gets its
# row's exact status, code and message. present only asks for a
# well-formed header.
. "$(dirname "$0")/lib.bash"

KEY=AKIAIOSFODNN7EXAMPLE
SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
cfg=$(write_config verify.yaml <<Y
https: { auth: verify }
ses:
  access_keys: [{ id: $KEY, secret: $SECRET }, { id: AKIDSECOND, secret: second-secret }]
  identities: [example.com]
Y
)
edsim_start verify --profile ses --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/verify/state/edsim.ready" https)
BASE=https://127.0.0.1:$HTTPS_PORT
SEND='{"FromEmailAddress": "noreply@example.com", "Destination": {"ToAddresses": ["a@example.net"]}, "Content": {"Simple": {"Subject": {"Data": "signed"}, "Body": {"Text": {"Data": "b"}}}}}'

hdr() { sed -n "s/^$1: *//Ip" "$T/headers" | tr -d '\r'; }
# call ARGS...: curl with ARGS; prints "STATUS|x-amzn-ErrorType|body".
call() {
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --cacert "$CA" "$@" >"$T/status"
	printf '%s|%s|%s\n' "$(cat "$T/status")" "$(hdr x-amzn-ErrorType)" "$(cat "$T/body")"
}
# signed SCOPE USER:SECRET ARGS...: curl signing with --aws-sigv4.
signed() {
	local scope=$1 user=$2
	shift 2
	call --aws-sigv4 "$scope" --user "$user" "$@"
}
v2err() { printf '%s|%s|{"message":%s}' "$1" "$2" "$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$3")"; }
# xerr: "STATUS|Type|Code|Message" of a v1 error answer.
xerr() {
	echo "$(cat "$T/status")|$(python3 - "$T/body" <<'P'
import sys, xml.etree.ElementTree as ET
ns = '{http://ses.amazonaws.com/doc/2010-12-01/}'
e = ET.parse(sys.argv[1]).getroot().find(ns + 'Error')
print('|'.join(e.find(ns + k).text for k in ('Type', 'Code', 'Message')))
P
)"
}
# pysign METHOD PATH BODY [DATE] [SCOPE_DATE] [SENT_BODY]: a SigV4 request
# signed in Python (stdlib), sent by curl; DATE is X-Amz-Date.
pysign() {
	local method=$1 path=$2 body=$3 date=${4:-} scope_date=${5:-} sent=${6-$3} auth
	[ -n "$date" ] || date=$(date -u +%Y%m%dT%H%M%SZ)
	auth=$(python3 - "$method" "$path" "$body" "$date" "${scope_date:-${date:0:8}}" "127.0.0.1:$HTTPS_PORT" "$KEY" "$SECRET" <<'P'
import hashlib, hmac, sys
method, path, body, date, sdate, host, key, secret = sys.argv[1:9]
h = lambda k, m: hmac.new(k, m.encode(), hashlib.sha256).digest()
canon = "\n".join([method, path, "", "host:" + host, "x-amz-date:" + date, "",
                   "host;x-amz-date", hashlib.sha256(body.encode()).hexdigest()])
scope = "%s/us-east-1/ses/aws4_request" % sdate
sts = "\n".join(["AWS4-HMAC-SHA256", date, scope, hashlib.sha256(canon.encode()).hexdigest()])
k = h(h(h(h(("AWS4" + secret).encode(), sdate), "us-east-1"), "ses"), "aws4_request")
sig = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
print("AWS4-HMAC-SHA256 Credential=%s/%s, SignedHeaders=host;x-amz-date, Signature=%s" % (key, scope, sig))
P
)
	call -X "$method" -H "X-Amz-Date: $date" -H "Authorization: $auth" -H 'Content-Type: application/json' \
		${sent:+--data-binary "$sent"} "$BASE$path"
}

# ---- curl's signer: both APIs -----------------------------------------------------------------
out=$(signed aws:amz:us-east-1:ses "$KEY:$SECRET" "$BASE/v2/email/account")
check "v2 GetAccount signed by curl: 200" "200|" "$(cut -d'|' -f1-2 <<<"$out")"
out=$(signed aws:amz:us-east-1:ses "$KEY:$SECRET" -H 'Content-Type: application/json' --data-binary "$SEND" "$BASE/v2/email/outbound-emails")
check "v2 SendEmail signed by curl: 200" "200|" "$(cut -d'|' -f1-2 <<<"$out")"
id=$(cut -d'|' -f3- <<<"$out" | json "d['MessageId']")
check "the message is stored under the signing key" "$KEY" "$(api GET "/api/v1/messages/$id" | json "d['user']")"
out=$(signed aws:amz:us-east-1:ses "AKIDSECOND:second-secret" "$BASE/v2/email/account")
check "the second access key: 200" "200|" "$(cut -d'|' -f1-2 <<<"$out")"
signed aws:amz:us-east-1:ses "$KEY:$SECRET" -d Action=GetSendQuota "$BASE/" >/dev/null
check "v1 GetSendQuota (a signed form) signed by curl: 200" 200 "$(cat "$T/status")"
signed aws:amz:us-east-1:ses "$KEY:$SECRET" --data-urlencode Action=SendRawEmail \
	--data-urlencode "RawMessage.Data=$(printf 'From: noreply@example.com\r\nTo: a@example.net\r\nSubject: v1 signed\r\n\r\nb\r\n' | base64 -w0)" \
	"$BASE/" >/dev/null
check "v1 SendRawEmail signed by curl: 200" 200 "$(cat "$T/status")"
out=$(signed aws:amz:us-east-1:ses "$KEY:$SECRET" "$BASE/v2/email/identities/example.com")
check "a GET with a path parameter: 200" "200|" "$(cut -d'|' -f1-2 <<<"$out")"
out=$(signed aws:amz:us-east-1:ses "$KEY:$SECRET" "$BASE/v2/email/identities?PageSize=1")
check "a GET with a query string: 200" "200|" "$(cut -d'|' -f1-2 <<<"$out")"

# ---- each failure, exactly --------------------------------------------------------------------
SDM="The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."
check "a wrong secret (v2): InvalidSignatureException" "$(v2err 403 InvalidSignatureException "$SDM")" \
	"$(signed aws:amz:us-east-1:ses "$KEY:wrong-secret" -H 'Content-Type: application/json' --data-binary "$SEND" "$BASE/v2/email/outbound-emails")"
signed aws:amz:us-east-1:ses "$KEY:wrong-secret" -d Action=GetSendQuota "$BASE/" >/dev/null
check "a wrong secret (v1): SignatureDoesNotMatch, Type Sender" "403|Sender|SignatureDoesNotMatch|$SDM" "$(xerr)"
check "an unknown access key (v2): UnrecognizedClientException" \
	"$(v2err 403 UnrecognizedClientException "The security token included in the request is invalid.")" \
	"$(signed aws:amz:us-east-1:ses "AKIDUNKNOWN:$SECRET" "$BASE/v2/email/account")"
signed aws:amz:us-east-1:ses "AKIDUNKNOWN:$SECRET" -d Action=GetSendQuota "$BASE/" >/dev/null
check "an unknown access key (v1): InvalidClientTokenId" \
	"403|Sender|InvalidClientTokenId|The security token included in the request is invalid." "$(xerr)"
check "no Authorization (v2): MissingAuthenticationTokenException" \
	"$(v2err 403 MissingAuthenticationTokenException "Missing Authentication Token")" "$(call "$BASE/v2/email/account")"
call -d Action=GetSendQuota "$BASE/" >/dev/null
check "no Authorization (v1)" "403|Sender|MissingAuthenticationToken|Request is missing Authentication Token" "$(xerr)"
check "signed for another region" \
	"$(v2err 403 InvalidSignatureException "Credential should be scoped to a valid region, not 'eu-west-1'. ")" \
	"$(signed aws:amz:eu-west-1:ses "$KEY:$SECRET" "$BASE/v2/email/account")"
signed aws:amz:eu-west-1:ses "$KEY:$SECRET" -d Action=GetSendQuota "$BASE/" >/dev/null
check "signed for another region (v1, as captured from SES)" \
	"403|Sender|SignatureDoesNotMatch|Credential should be scoped to a valid region, not 'eu-west-1'. " "$(xerr)"
check "signed for another service (email, the host's prefix)" \
	"$(v2err 403 InvalidSignatureException "Credential should be scoped to correct service: 'ses'. ")" \
	"$(signed aws:amz:us-east-1:email "$KEY:$SECRET" "$BASE/v2/email/account")"
check "a body changed after signing" "$(v2err 403 InvalidSignatureException "$SDM")" \
	"$(pysign POST /v2/email/outbound-emails "$SEND" "" "" "${SEND/signed/changed}")"
check "the Python signer's own request: 200" "200|" "$(pysign POST /v2/email/outbound-emails "$SEND" | cut -d'|' -f1-2)"
now=$(date -u +%s)
old=$(date -u -d "@$((now - 600))" +%Y%m%dT%H%M%SZ)
out=$(pysign GET /v2/email/account "" "$old")
check "signed 10 minutes ago: Signature expired" "403|InvalidSignatureException" "$(cut -d'|' -f1-2 <<<"$out")"
check_contains "its text names the request's time" "Signature expired: $old is now earlier than " "$out"
check_contains "and the window" " - 5 min.)" "$out"
future=$(date -u -d "@$((now + 600))" +%Y%m%dT%H%M%SZ)
out=$(pysign GET /v2/email/account "" "$future")
check "signed 10 minutes ahead: Signature not yet current" "403|InvalidSignatureException" "$(cut -d'|' -f1-2 <<<"$out")"
check_contains "its text" "Signature not yet current: $future is still later than " "$out"
date_=$(date -u +%Y%m%dT%H%M%SZ)
check "a scope of another day" \
	"$(v2err 403 InvalidSignatureException "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20200101' != '${date_:0:8}', from '$date_'. ")" \
	"$(pysign GET /v2/email/account "" "$date_" 20200101)"
# hand-written Authorization headers
D=$(date -u +%Y%m%dT%H%M%SZ)
CRED="Credential=$KEY/${D:0:8}/us-east-1/ses/aws4_request"
raw_auth() { call -H "X-Amz-Date: $D" -H "Authorization: $1" "$BASE/v2/email/account"; }
A="AWS4-HMAC-SHA256 $CRED, SignedHeaders=host;x-amz-date"
check "no Signature: IncompleteSignature" \
	"$(v2err 400 IncompleteSignatureException "Authorization header requires 'Signature' parameter. Authorization=$A")" "$(raw_auth "$A")"
call -X POST -H "X-Amz-Date: $D" -H "Authorization: $A" -d Action=GetSendQuota "$BASE/" >/dev/null
check "no Signature (v1): IncompleteSignature" \
	"400|Sender|IncompleteSignature|Authorization header requires 'Signature' parameter. Authorization=$A" "$(xerr)"
A="AWS4-HMAC-SHA256 SignedHeaders=host;x-amz-date, Signature=abc"
check "no Credential: IncompleteSignature" \
	"$(v2err 400 IncompleteSignatureException "Authorization header requires 'Credential' parameter. Authorization=$A")" "$(raw_auth "$A")"
A="AWS4-HMAC-SHA256 $CRED, SignedHeaders=host;x-amz-date, Signature=abc"
check "no X-Amz-Date nor Date" \
	"$(v2err 400 IncompleteSignatureException "Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header. Authorization=$A")" \
	"$(call -H "Authorization: $A" "$BASE/v2/email/account")"
check "an X-Amz-Date not in basic format" \
	"$(v2err 400 IncompleteSignatureException "Date must be in ISO-8601 'basic format'. Got '2026-12-03T10:00:00Z'. See http://en.wikipedia.org/wiki/ISO_8601")" \
	"$(call -H "X-Amz-Date: 2026-12-03T10:00:00Z" -H "Authorization: $A" "$BASE/v2/email/account")"
A="AWS4-HMAC-SHA256 $CRED, SignedHeaders=host;x-amz-date, Signature"
hash=$(printf '%s' "$A" | openssl dgst -sha256 -binary | base64 -w0)
check "a part without '='" \
	"$(v2err 400 IncompleteSignatureException "Invalid key=value pair (missing equal-sign) in Authorization header (hashed with SHA-256 and encoded with Base64): '$hash'.")" "$(raw_auth "$A")"
A="AWS4-HMAC-SHA512 $CRED, SignedHeaders=host;x-amz-date, Signature=abc"
check "another algorithm" "$(v2err 400 IncompleteSignatureException "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA512' (only AWS4-HMAC-SHA256 for now). ")" "$(raw_auth "$A")"
A="AWS4-HMAC-SHA256 Credential=$KEY/${D:0:8}/us-east-1, SignedHeaders=host;x-amz-date, Signature=abc"
check "a Credential of three parts" \
	"$(v2err 400 IncompleteSignatureException "Credential must have exactly 5 slash-delimited elements, e.g. keyid/date/region/service/term, got '$KEY/${D:0:8}/us-east-1'")" \
	"$(raw_auth "$A")"
A="AWS4-HMAC-SHA256 $CRED, SignedHeaders=x-amz-date, Signature=abc"
check "host not signed" \
	"$(v2err 403 InvalidSignatureException "'Host' or ':authority' must be a 'SignedHeader' in the AWS Authorization.")" "$(raw_auth "$A")"
A="AWS4-HMAC-SHA256 Credential=$KEY/${D:0:8}/us-east-1/ses/aws5_request, SignedHeaders=host;x-amz-date, Signature=abc"
check "a scope that does not end in aws4_request" \
	"$(v2err 403 InvalidSignatureException "Credential should be scoped with a valid terminator: 'aws4_request', not 'aws5_request'. ")" \
	"$(raw_auth "$A")"
check "a refused signature is a rejected event" "rejected|403|InvalidSignatureException" \
	"$(api GET /api/v1/events | json "[e['type'] + '|' + str(e['code']) + '|' + str(e['reply']) for e in d['events'] if e['type'] == 'rejected'][-1]")"
edsim_stop verify

# ---- https.auth present ------------------------------------------------------------------------
cfg=$(write_config present.yaml <<Y
https: { auth: present }
ses: { access_keys: [{ id: $KEY, secret: $SECRET }], identities: [example.com] }
Y
)
edsim_start present --profile ses --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/present/state/edsim.ready" https)
BASE=https://127.0.0.1:$HTTPS_PORT
check "present: no Authorization is still refused" \
	"$(v2err 403 MissingAuthenticationTokenException "Missing Authentication Token")" "$(call "$BASE/v2/email/account")"
out=$(signed aws:amz:us-east-1:ses "$KEY:wrong-secret" -H 'Content-Type: application/json' --data-binary "$SEND" "$BASE/v2/email/outbound-emails")
check "present: a wrong secret passes (only the form is checked)" "200|" "$(cut -d'|' -f1-2 <<<"$out")"
id=$(cut -d'|' -f3- <<<"$out" | json "d['MessageId']")
check "present: no user is recorded" "None" "$(api GET "/api/v1/messages/$id" | json "d['user']")"
check "present: an unknown key passes" "200|" \
	"$(signed aws:amz:us-east-1:ses "AKIDUNKNOWN:x" "$BASE/v2/email/account" | cut -d'|' -f1-2)"
D=$(date -u +%Y%m%dT%H%M%SZ)
A="AWS4-HMAC-SHA256 Credential=$KEY/${D:0:8}/us-east-1/ses/aws4_request, SignedHeaders=host;x-amz-date"
check "present: a header without Signature is refused" \
	"$(v2err 400 IncompleteSignatureException "Authorization header requires 'Signature' parameter. Authorization=$A")" \
	"$(call -H "X-Amz-Date: $D" -H "Authorization: $A" "$BASE/v2/email/account")"
edsim_stop present
