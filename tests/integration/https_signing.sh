#!/usr/bin/env bash
# https_signing: https.auth verify checks OCI request signatures (RSA-SHA256
# over the listed headers, with x-content-sha256 for the body) against the
# public key of the user named in keyId; that user's approved senders apply.
. "$(dirname "$0")/lib.bash"

openssl genrsa -out "$T/key.pem" 2048 2>/dev/null
openssl rsa -in "$T/key.pem" -pubout -out "$T/pub.pem" 2>/dev/null
openssl genrsa -out "$T/other.pem" 2048 2>/dev/null
cfg=$(write_config verify.yaml <<Y
https: { auth: verify }
users:
  - name: ocid1.user.oc1..signer
    password: unused
    public_key: $T/pub.pem
    approved_senders: [noreply@example.com]
Y
)
edsim_start verify --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/verify/state/edsim.ready" https)
PATH_=/20220926/actions/submitEmail
BODY='{"sender": {"compartmentId": "c", "senderAddress": {"email": "noreply@example.com"}}, "recipients": {"to": [{"email": "a@example.net"}]}, "subject": "signed", "bodyText": "hello"}'

# signed_post KEY BODY [SENT_BODY] [USER]: signs BODY as the OCI SDKs do and
# posts SENT_BODY (default BODY); prints the HTTP status and the answer.
signed_post() {
	local key=$1 body=$2 sent=${3:-$2} user=${4:-ocid1.user.oc1..signer}
	local date hash len host sig signing
	date=$(date -u '+%a, %d %b %Y %H:%M:%S GMT')
	hash=$(printf '%s' "$body" | openssl dgst -sha256 -binary | base64 -w0)
	len=$(printf '%s' "$body" | wc -c)
	host=127.0.0.1:$HTTPS_PORT
	signing=$(printf '(request-target): post %s\ndate: %s\nhost: %s\ncontent-type: application/json\ncontent-length: %s\nx-content-sha256: %s' \
		"$PATH_" "$date" "$host" "$len" "$hash")
	sig=$(printf '%s' "$signing" | openssl dgst -sha256 -sign "$key" | base64 -w0)
	curl -s -w ' %{http_code}' --cacert "$CA" -X POST \
		-H "date: $date" -H "content-type: application/json" -H "x-content-sha256: $hash" \
		-H "authorization: Signature version=\"1\",keyId=\"ocid1.tenancy.oc1..t/$user/aa:bb\",algorithm=\"rsa-sha256\",headers=\"(request-target) date host content-type content-length x-content-sha256\",signature=\"$sig\"" \
		--data-binary "$sent" "https://$host$PATH_"
}

out=$(signed_post "$T/key.pem" "$BODY")
check "a request signed with the user's key is accepted" 200 "${out##* }"
id=$(json "d['envelopeId']" <<<"${out% *}")
check "the message is stored for the signing user" "ocid1.user.oc1..signer" "$(api GET "/api/v1/messages/$id" | json "d['user']")"
out=$(signed_post "$T/key.pem" "$BODY" "${BODY/hello/HELLO}")
check "a body changed after signing is refused: 401" 401 "${out##* }"
check "with the NotAuthenticated code" NotAuthenticated "$(json "d['code']" <<<"${out% *}")"
out=$(signed_post "$T/other.pem" "$BODY")
check "a request signed with another key is refused: 401" 401 "${out##* }"
out=$(signed_post "$T/key.pem" "$BODY" "$BODY" ocid1.user.oc1..stranger)
check "a keyId naming an unknown user is refused: 401" 401 "${out##* }"
status=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$CA" -H 'content-type: application/json' \
	--data-binary "$BODY" "https://127.0.0.1:$HTTPS_PORT$PATH_")
check "an unsigned request is refused: 401" 401 "$status"
unapproved=${BODY/noreply@example.com/other@example.org}
out=$(signed_post "$T/key.pem" "$unapproved")
check "the signing user's approved senders apply: 404" 404 "${out##* }"
edsim_stop verify
