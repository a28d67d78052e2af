#!/usr/bin/env bash
# sdk_ses: the real AWS SDKs against edsim's SES APIs under `profile: ses`
# with https.auth verify (every request's SigV4 signature checked against
# the account's access key): the AWS SDK for JavaScript v3 (client-sesv2 and
# client-ses, conformance/clients/aws-sdk-js), boto3 (Debian's
# python3-boto3) and the AWS CLI (Debian's awscli) each send a message with
# v2 SendEmail and v1 SendRawEmail, through the conformance drivers, and it
# is stored once; signed with a wrong secret, each gets the signature
# mismatch of the catalog's rows (v1 SignatureDoesNotMatch, v2 as the
# ses.v2.signature-does-not-match row names it) and nothing is stored. Then each plays the two journeys of
# scenarios/ses/https/composite: the account paused (SendingPausedException,
# GetAccount SendingEnabled false), resumed with PutAccountSendingAttributes,
# the send accepted; the sandbox (MessageRejected naming the recipient), the
# recipient verified with CreateEmailIdentity, the send accepted.
. "$(dirname "$0")/lib.bash"

REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}
CLIENTS=$REPO/conformance/clients
SC=$REPO/scenarios/ses/https/composite
SECRET=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY

# ---- the SDKs are there -----------------------------------------------------------------
installed() { # the pinned versions of aws-sdk-js/package.json are installed
	(cd "$CLIENTS/aws-sdk-js" && node -e '
const want = require("./package.json").dependencies;
for (const [name, version] of Object.entries(want))
	if (require(`./node_modules/${name}/package.json`).version !== version) process.exit(1);' 2>/dev/null)
}
if ! installed; then
	echo "installing $CLIENTS/aws-sdk-js/node_modules (npm ci)"
	(cd "$CLIENTS/aws-sdk-js" && flock package.json timeout 75 npm ci --no-audit --no-fund 2>&1 | tail -n 20)
fi
if installed; then pass "aws-sdk-js: the pinned packages are installed"; else
	fail "aws-sdk-js: npm ci in conformance/clients/aws-sdk-js did not install the pinned packages"
	exit 1
fi
check "Debian's boto3 for /usr/bin/python3 (python3-boto3)" 0 \
	"$(/usr/bin/python3 -c 'import boto3' >/dev/null 2>&1; echo $?)"
check_contains "Debian's AWS CLI (awscli) is version 2" "aws-cli/2." "$(/usr/bin/aws --version 2>&1)"

cfg=$(write_config ses.yaml <<'Y'
https: {auth: verify}
Y
)
# start NAME [edsim flags]: edsim under profile ses; the EDSIM_* variables
# the drivers read (as edsim-conform sets them).
start() {
	edsim_start "$1" --profile ses --config "$cfg" "${@:2}" || exit 1
	export EDSIM_HTTPS_URL=https://127.0.0.1:$(ready_field "$T/$1/state/edsim.ready" https)
	export EDSIM_CA=$CA EDSIM_AWS_REGION=us-east-1 EDSIM_AWS_ACCESS_KEY_ID=AKIAIOSFODNN7EXAMPLE
	export EDSIM_AWS_SECRET_ACCESS_KEY=$SECRET EDSIM_FROM=sender@example.com EDSIM_TO=rcpt@example.net
}
export AWS_CONFIG_FILE=/nonexistent AWS_SHARED_CREDENTIALS_FILE=/nonexistent

# send CLIENT API ID [--secret S]: the client's conformance driver sends a
# message with Message-ID <ID> over API (ses-v2 or ses-v1); OUT, STATUS.
send() {
	local client=$1 api=$2 id=$3
	shift 3
	printf 'From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: sdk %s\r\nMessage-ID: <%s>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nhello\r\n' \
		"$id" "$id" >"$T/$id.eml"
	export EDSIM_EML=$T/$id.eml EDSIM_API=$api EDSIM_WORKDIR=$T/$id
	mkdir -p "$EDSIM_WORKDIR"
	case $client in
	aws-sdk-js) OUT=$(NODE_NO_WARNINGS=1 NODE_EXTRA_CA_CERTS=$CA timeout 60 node "$CLIENTS/aws-sdk-js/send.js" "$api" "$@" 2>&1) ;;
	boto3) OUT=$(timeout 60 /usr/bin/python3 "$CLIENTS/boto3/send.py" --api "$api" "$@" 2>&1) ;;
	aws-cli) OUT=$(timeout 60 sh "$CLIENTS/aws-cli/send.sh" "$@" 2>&1) ;;
	esac
	STATUS=$?
	printf '%s\n' "$OUT" | sed "s/^/    $client $api| /"
}
# ops CLIENT OP [ARG]: resume, pause, verify ADDRESS or account through the client.
ops() {
	case $1 in
	aws-sdk-js) NODE_NO_WARNINGS=1 NODE_EXTRA_CA_CERTS=$CA timeout 60 node "$HERE/clients/ses_sdk_ops.js" "${@:2}" 2>&1 ;;
	boto3) timeout 60 /usr/bin/python3 "$HERE/clients/ses_boto3_ops.py" "${@:2}" 2>&1 ;;
	aws-cli) cli_ops "${@:2}" ;;
	esac
}
cli_ops() {
	local aws=(timeout 60 env AWS_ACCESS_KEY_ID="$EDSIM_AWS_ACCESS_KEY_ID"
		AWS_SECRET_ACCESS_KEY="$EDSIM_AWS_SECRET_ACCESS_KEY" AWS_PAGER= /usr/bin/aws sesv2
		--endpoint-url "$EDSIM_HTTPS_URL" --ca-bundle "$CA" --region us-east-1)
	case $1 in
	resume) "${aws[@]}" put-account-sending-attributes --sending-enabled 2>&1 && echo ok ;;
	pause) "${aws[@]}" put-account-sending-attributes --no-sending-enabled 2>&1 && echo ok ;;
	verify) "${aws[@]}" create-email-identity --email-identity "$2" --output text \
		--query '[IdentityType, VerifiedForSendingStatus]' 2>&1 |
		awk '{ print $1 " VerifiedForSendingStatus " tolower($2) }' ;;
	account) "${aws[@]}" get-account --output text --query '[SendingEnabled, ProductionAccessEnabled]' 2>&1 |
		awk '{ print "SendingEnabled " tolower($1) " ProductionAccessEnabled " tolower($2) }' ;;
	esac
}
stored() { api GET /api/v1/messages | message_ids | grep -cxF "<$1>"; }
# row_code ID: the error code of a catalog row (what the SDKs must report).
row_code() {
	sed -n "/^  - id: $1\$/,/^  - id:/s/^    error_code: \"\(.*\)\"/\1/p" "$REPO/scenarios/catalog/ses.yaml"
}
BAD_SIG_V2=$(row_code ses.v2.signature-does-not-match)
BAD_SIG_V1=$(row_code ses.v1.signature-does-not-match)
check "the catalog names the wrong-signature error of v1 SignatureDoesNotMatch" SignatureDoesNotMatch "$BAD_SIG_V1"
check "the catalog names the wrong-signature error of v2 (found: $BAD_SIG_V2)" yes \
	"$([ -n "$BAD_SIG_V2" ] && echo yes || echo no)"

# ---- sends, signed right and wrong --------------------------------------------------------
start sends
for client in aws-sdk-js boto3 aws-cli; do
	for a in ses-v2 ses-v1; do
		send "$client" "$a" "$client-$a-ok@example.com"
		check "$client $a, https.auth verify: sent (exit 0)" 0 "$STATUS"
		check "$client $a: the message is stored once" 1 "$(stored "$client-$a-ok@example.com")"
		send "$client" "$a" "$client-$a-bad@example.com" --secret "wrong$SECRET"
		code=$BAD_SIG_V2
		[ "$a" = ses-v1 ] && code=$BAD_SIG_V1
		check "$client $a, a wrong secret: the send fails" 1 "$([ "$STATUS" -ne 0 ] && echo 1 || echo 0)"
		check_contains "$client $a, a wrong secret: $code (the catalog's row)" "$code" "$OUT"
		check_contains "$client $a, a wrong secret: the row's message" \
			"The request signature we calculated does not match the signature you provided." "$OUT"
		check "$client $a, a wrong secret: nothing stored" 0 "$(stored "$client-$a-bad@example.com")"
	done
done
check "the sends' HTTPS events: 6 accepted, 6 refused 403" "6 6" \
	"$(api GET /api/v1/events | json "' '.join(str(sum(1 for e in d['events'] if e['stage'] == 'https' and x(e))) for x in (lambda e: e['type'] == 'accepted', lambda e: e['code'] == 403))")"
edsim_stop sends

# ---- paused, then resumed through PutAccountSendingAttributes -------------------------------
for client in aws-sdk-js boto3 aws-cli; do
	start "paused-$client" --scenario "$SC/ses.v2.composite.paused-then-resumed.yaml"
	send "$client" ses-v2 "$client-paused@example.com"
	check "$client, paused: the send fails" 1 "$([ "$STATUS" -ne 0 ] && echo 1 || echo 0)"
	check_contains "$client, paused: SendingPausedException" "SendingPausedException" "$OUT"
	check_contains "$client, paused: GetAccount" "SendingEnabled false" "$(ops "$client" account)"
	check "$client: PutAccountSendingAttributes SendingEnabled true" ok "$(ops "$client" resume)"
	check_contains "$client, resumed: GetAccount" "SendingEnabled true" "$(ops "$client" account)"
	send "$client" ses-v2 "$client-paused@example.com"
	check "$client, resumed: the same message is sent (exit 0)" 0 "$STATUS"
	check "$client, resumed: stored once" 1 "$(stored "$client-paused@example.com")"
	edsim_stop "paused-$client"
done

# ---- the sandbox, then the recipient verified through CreateEmailIdentity ---------------------
for client in aws-sdk-js boto3 aws-cli; do
	start "sandbox-$client" --scenario "$SC/ses.v2.composite.sandbox-then-verified.yaml"
	send "$client" ses-v2 "$client-sandbox@example.com"
	check "$client, sandbox: the send fails" 1 "$([ "$STATUS" -ne 0 ] && echo 1 || echo 0)"
	check_contains "$client, sandbox: MessageRejected naming the recipient" \
		"failed the check in region US-EAST-1: rcpt@example.net" "$OUT"
	check_contains "$client, sandbox: GetAccount" "ProductionAccessEnabled false" "$(ops "$client" account)"
	check "$client: CreateEmailIdentity rcpt@example.net, verified at once" \
		"EMAIL_ADDRESS VerifiedForSendingStatus true" "$(ops "$client" verify rcpt@example.net | tail -1)"
	send "$client" ses-v2 "$client-sandbox@example.com"
	check "$client, verified: the same message is sent (exit 0)" 0 "$STATUS"
	check "$client, verified: stored once" 1 "$(stored "$client-sandbox@example.com")"
	edsim_stop "sandbox-$client"
done
