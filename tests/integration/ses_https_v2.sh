#!/usr/bin/env bash
# ses_https_v2: the SES v2 API (profile: ses) over real TLS with curl:
# SendEmail with Simple and Raw content and every refusal real input
# causes (status, x-amzn-ErrorType, x-amzn-RequestId, {"message"}), the
# message that lands in the store, GetAccount and PutAccountSendingAttributes,
# the email identities, the sandbox, the send rate and the daily quota, the
# request rate, a suspended account, and the rows only a scenario forces.
. "$(dirname "$0")/lib.bash"

cfg=$(write_config v2.yaml <<'Y'
ses:
  identities: [example.com, alice@verified.org]
  configuration_sets: [marketing]
  max_send_rate: 1000
suppressions: [blocked@example.net]
Y
)
edsim_start v2 --profile ses --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/v2/state/edsim.ready" https)

hdr() { sed -n "s/^$1: *//Ip" "$T/headers" | tr -d '\r'; }
# v2 METHOD PATH [BODY [curl args]]: prints "STATUS|x-amzn-ErrorType|body".
v2() {
	local method=$1 path=$2 body=${3-} args=()
	shift $(($# < 3 ? $# : 3))
	[ -n "$body" ] && args=(-H 'Content-Type: application/json' --data-binary "$body")
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --cacert "$CA" -X "$method" \
		"${args[@]}" "$@" "https://127.0.0.1:$HTTPS_PORT$path" >"$T/status"
	printf '%s|%s|%s\n' "$(cat "$T/status")" "$(hdr x-amzn-ErrorType)" "$(cat "$T/body")"
}
send() { v2 POST /v2/email/outbound-emails "$@"; }
# expect NAME BODY STATUS TYPE MESSAGE: a SendEmail refused exactly so.
expect() {
	check "$1" "$3|$4|{\"message\":$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1], ensure_ascii=False))' "$5")}" \
		"$(send "$2")"
}
FROM='"FromEmailAddress": "Sender <noreply@example.com>"'
TO='"Destination": {"ToAddresses": ["a@example.net"]}'
SIMPLE='"Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}}}'
simple() { printf '{%s, %s, "Content": {"Simple": {"Subject": {"Data": "s"}, "Body": {"Text": {"Data": "b"}}%s}}}' "$FROM" "$TO" "$1"; }
raw() { printf '%b' "$1" | base64 -w0; }

# ---- an accepted Simple message ---------------------------------------------------------
att=$(printf 'attached bytes' | base64 -w0)
body=$(cat <<J
{"FromEmailAddress": "Sender <noreply@example.com>",
 "Destination": {"ToAddresses": ["A <a@example.net>"], "CcAddresses": ["c@example.net"],
                 "BccAddresses": ["hidden@example.net", "blocked@example.net"]},
 "ReplyToAddresses": ["replies@example.com"],
 "ConfigurationSetName": "marketing",
 "EmailTags": [{"Name": "campaign", "Value": "spring-2026"}],
 "Content": {"Simple": {
   "Subject": {"Data": "Grüße aus edsim", "Charset": "UTF-8"},
   "Body": {"Text": {"Data": "plain text\nsecond line", "Charset": "ISO-8859-1"},
            "Html": {"Data": "<p>html</p>"}},
   "Headers": [{"Name": "X-Custom", "Value": "custom value"}],
   "Attachments": [{"RawContent": "$att", "FileName": "note.txt", "ContentType": "text/plain"}]}}}
J
)
out=$(send "$body")
check "SendEmail (Simple): 200, no error type" "200|" "$(cut -d'|' -f1-2 <<<"$out")"
id=$(json "d['MessageId']" <<<"$(cut -d'|' -f3- <<<"$out")")
check "the MessageId has SES's shape" yes \
	"$([[ $id =~ ^0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$ ]] && echo yes || echo "no: $id")"
check "x-amzn-RequestId is a UUID" yes \
	"$([[ $(hdr x-amzn-RequestId) =~ ^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$ ]] && echo yes || echo no)"
check "Content-Type: application/json" "application/json" "$(hdr Content-Type)"
stored=$(api GET "/api/v1/messages/$id")
check "the message is in the store under its MessageId" "noreply@example.com" "$(json "d['from']" <<<"$stored")"
check "the envelope: To, Cc and Bcc; the suppressed one marked" \
	"a@example.net:delivered c@example.net:delivered hidden@example.net:delivered blocked@example.net:suppressed" \
	"$(json "' '.join(r['address'] + ':' + r['state'] for r in d['to'])" <<<"$stored")"
rawmsg=$(api GET "/api/v1/messages/$id/raw" | tr -d '\r')
check_contains "From as written" "From: Sender <noreply@example.com>" "$rawmsg"
check_contains "To as written" "To: A <a@example.net>" "$rawmsg"
check_contains "Cc" "Cc: c@example.net" "$rawmsg"
check_not_contains "never Bcc" "hidden@example.net" "$rawmsg"
check_contains "Reply-To" "Reply-To: replies@example.com" "$rawmsg"
check_contains "a Subject that is not ASCII as RFC 2047 words" "Subject: =?UTF-8?B?R3LDvMOfZSBhdXMgZWRzaW0=?=" "$rawmsg"
check_contains "Message-ID in SES's form" "Message-ID: <$id@email.amazonses.com>" "$rawmsg"
check_contains "the request's own header" "X-Custom: custom value" "$rawmsg"
check_contains "attachments make multipart/mixed" "Content-Type: multipart/mixed" "$rawmsg"
check_contains "text and HTML make multipart/alternative inside" "Content-Type: multipart/alternative" "$rawmsg"
check_contains "the text part with its charset" "Content-Type: text/plain; charset=ISO-8859-1" "$rawmsg"
check_contains "the attachment as a base64 part" 'Content-Disposition: attachment; filename="note.txt"' "$rawmsg"
check_contains "its content" "$att" "$rawmsg"
check "an accepted event for it (stage https)" "accepted|https|200|POST" \
	"$(api GET /api/v1/events | json "[e['type'] + '|' + e['stage'] + '|' + str(e['code']) + '|' + e['command'] for e in d['events'] if e['message'] == '$id' and e['type'] == 'accepted'][0]")"

# ---- Raw content --------------------------------------------------------------------------
msg='From: Raw Sender <noreply@example.com>\r\nTo: r1@example.net, R2 <r2@example.net>\r\nSubject: raw one\r\nMessage-ID: <raw-1@example.com>\r\nX-SES-CONFIGURATION-SET: marketing\r\n\r\nraw body\r\n'
out=$(send "{\"Content\": {\"Raw\": {\"Data\": \"$(raw "$msg")\"}}}")
check "SendEmail (Raw, no Destination, no FromEmailAddress): 200" "200|" "$(cut -d'|' -f1-2 <<<"$out")"
id=$(json "d['MessageId']" <<<"$(cut -d'|' -f3- <<<"$out")")
stored=$(api GET "/api/v1/messages/$id")
check "the envelope is the header's To" "r1@example.net r2@example.net" "$(json "' '.join(r['address'] for r in d['to'])" <<<"$stored")"
check "the sender is the header's From" "noreply@example.com" "$(json "d['from']" <<<"$stored")"
check "the client's Message-ID is kept" "<raw-1@example.com>" "$(json "d['message_id']" <<<"$stored")"
rawmsg=$(api GET "/api/v1/messages/$id/raw" | tr -d '\r')
check_not_contains "X-SES-CONFIGURATION-SET is removed before storing" "X-SES-CONFIGURATION-SET" "$rawmsg"
check_contains "the rest is as sent" "Subject: raw one" "$rawmsg"
out=$(send "{$FROM, \"Destination\": {\"ToAddresses\": [\"only@example.net\"]}, \"Content\": {\"Raw\": {\"Data\": \"$(raw "$msg")\"}}}")
id=$(json "d['MessageId']" <<<"$(cut -d'|' -f3- <<<"$out")")
check "a Destination is the envelope, not the header's To" "only@example.net" \
	"$(api GET "/api/v1/messages/$id" | json "' '.join(r['address'] for r in d['to'])")"

# ---- refusals ---------------------------------------------------------------------------
expect "an unverified From" "{\"FromEmailAddress\": \"Foo Bar <noreply@other.com>\", $TO, $SIMPLE}" \
	400 MessageRejected "Email address is not verified. The following identities failed the check in region US-EAST-1: Foo Bar <noreply@other.com>"
expect "an unknown configuration set" "{$FROM, $TO, \"ConfigurationSetName\": \"nope\", $SIMPLE}" \
	404 NotFoundException "Configuration set <nope> does not exist."
bad='From: noreply@example.com\r\nTo: a@example.net\r\nX-SES-CONFIGURATION-SET: other-set\r\nSubject: x\r\n\r\nb\r\n'
expect "an unknown X-SES-CONFIGURATION-SET in Raw content" "{\"Content\": {\"Raw\": {\"Data\": \"$(raw "$bad")\"}}}" \
	404 NotFoundException "Configuration set <other-set> does not exist."
expect "Template content (no templates)" "{$FROM, $TO, \"Content\": {\"Template\": {\"TemplateName\": \"Welcome\", \"TemplateData\": \"{}\"}}}" \
	404 NotFoundException "Template Welcome does not exist."
expect "no Content" "{$FROM, $TO}" 400 BadRequestException \
	"1 validation error detected: Value null at 'content' failed to satisfy constraint: Member must not be null"
expect "Simple without Subject" "{$FROM, $TO, \"Content\": {\"Simple\": {\"Body\": {\"Text\": {\"Data\": \"b\"}}}}}" 400 BadRequestException \
	"1 validation error detected: Value null at 'content.simple.subject' failed to satisfy constraint: Member must not be null"
expect "Simple without Body" "{$FROM, $TO, \"Content\": {\"Simple\": {\"Subject\": {\"Data\": \"s\"}}}}" 400 BadRequestException \
	"1 validation error detected: Value null at 'content.simple.body' failed to satisfy constraint: Member must not be null"
expect "Raw without Data" "{$FROM, $TO, \"Content\": {\"Raw\": {}}}" 400 BadRequestException \
	"1 validation error detected: Value null at 'content.raw.data' failed to satisfy constraint: Member must not be null"
expect "two kinds of content" "{$FROM, $TO, \"Content\": {\"Simple\": {\"Subject\": {\"Data\": \"s\"}, \"Body\": {}}, \"Raw\": {\"Data\": \"eA==\"}}}" \
	400 BadRequestException "Only one of Simple, Raw or Template content may be specified."
expect "a body that is not JSON" '{"Content": ' 400 SerializationException \
	"Unable to parse the request body as the operation's input."
expect "a member of the wrong type" "{$FROM, \"Destination\": \"a@example.net\", $SIMPLE}" 400 SerializationException \
	"Unable to parse the request body as the operation's input."
expect "Raw Data that is not base64" "{$FROM, $TO, \"Content\": {\"Raw\": {\"Data\": \"not base64!\"}}}" \
	400 BadRequestException "Unable to decode the message: invalid base64."
expect "an attachment that is not base64" "$(simple ', "Attachments": [{"RawContent": "%%%", "FileName": "x.bin"}]')" \
	400 BadRequestException "Unable to decode the message: invalid base64."
many=$(python3 -c "print(', '.join('\"r%d@example.net\"' % i for i in range(51)))")
expect "51 recipients" "{$FROM, \"Destination\": {\"ToAddresses\": [$many]}, $SIMPLE}" \
	400 BadRequestException "Recipient count exceeds 50."
expect "no recipients" "{$FROM, \"Destination\": {}, $SIMPLE}" 400 BadRequestException "There are no recipients specified"
nofrom='To: a@example.net\r\nSubject: no from\r\n\r\nb\r\n'
expect "Raw content without a From anywhere" "{\"Content\": {\"Raw\": {\"Data\": \"$(raw "$nofrom")\"}}}" \
	400 BadRequestException "Missing required header 'From'."
expect "Simple content without FromEmailAddress" "{$TO, $SIMPLE}" 400 BadRequestException "Missing required header 'From'."
expect "an address without @" "{$FROM, \"Destination\": {\"ToAddresses\": [\"nodomain\"]}, $SIMPLE}" \
	400 BadRequestException "Missing final '@domain'"
expect "a local part that is not ASCII" "{$FROM, \"Destination\": {\"ToAddresses\": [\"jö@example.net\"]}, $SIMPLE}" \
	400 BadRequestException "Local address contains control or whitespace"
expect "an address ending in @" "{$FROM, \"Destination\": {\"ToAddresses\": [\"a@\"]}, $SIMPLE}" \
	400 BadRequestException "Missing domain"
expect "a domain that is not ASCII (not Punycode)" "{$FROM, \"Destination\": {\"ToAddresses\": [\"a@bücher.example\"]}, $SIMPLE}" \
	400 BadRequestException "Domain contains control or whitespace"
expect "a header name with a blank" "$(simple ', "Headers": [{"Name": "Bad Name", "Value": "v"}]')" 400 BadRequestException \
	"1 validation error detected: Value 'Bad Name' at 'content.simple.headers.1.member.name' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[!-9;-@A-~]+\$"
long=$(printf 'X%.0s' $(seq 1 127))
expect "a header name of 127 characters" "$(simple ", \"Headers\": [{\"Name\": \"$long\", \"Value\": \"v\"}]")" 400 BadRequestException \
	"1 validation error detected: Value '$long' at 'content.simple.headers.1.member.name' failed to satisfy constraint: Member must have length less than or equal to 126"
expect "a header value that is not ASCII" "$(simple ', "Headers": [{"Name": "X-A", "Value": "é"}]')" 400 BadRequestException \
	"1 validation error detected: Value 'é' at 'content.simple.headers.1.member.value' failed to satisfy constraint: Member must satisfy regular expression pattern: [ -~]*"
expect "an empty header value" "$(simple ', "Headers": [{"Name": "X-A", "Value": ""}]')" 400 BadRequestException \
	"1 validation error detected: Value '' at 'content.simple.headers.1.member.value' failed to satisfy constraint: Member must have length greater than or equal to 1"
longv=$(printf 'v%.0s' $(seq 1 996))
expect "a header value of 996 characters" "$(simple ", \"Headers\": [{\"Name\": \"X-A\", \"Value\": \"$longv\"}]")" 400 BadRequestException \
	"1 validation error detected: Value '$longv' at 'content.simple.headers.1.member.value' failed to satisfy constraint: Member must have length less than or equal to 995"
sixteen=$(python3 -c "print(', '.join('{\"Name\": \"X-H%d\", \"Value\": \"v\"}' % i for i in range(16)))")
expect "16 headers" "$(simple ", \"Headers\": [$sixteen]")" 400 BadRequestException \
	"1 validation error detected: Value at 'content.simple.headers' failed to satisfy constraint: Member must have length less than or equal to 15"
expect "a tag name with a blank" "{$FROM, $TO, $SIMPLE, \"EmailTags\": [{\"Name\": \"bad tag\", \"Value\": \"v\"}]}" \
	400 BadRequestException "Invalid tag name <bad tag>: only alphanumeric ASCII characters, '_', and '-' are allowed."
expect "a tag value with a '!'" "{$FROM, $TO, $SIMPLE, \"EmailTags\": [{\"Name\": \"t\", \"Value\": \"bad!\"}]}" \
	400 BadRequestException "Invalid tag value <bad!>: only alphanumeric ASCII characters, '_', and '-' are allowed."
dup='From: noreply@example.com\r\nTo: a@example.net\r\nSubject: one\r\nSubject: two\r\n\r\nb\r\n'
expect "a raw message with two Subject fields" "{\"Content\": {\"Raw\": {\"Data\": \"$(raw "$dup")\"}}}" \
	400 BadRequestException "Duplicate header 'Subject'."
python3 - "$T/big.json" <<'P'
import base64, sys
msg = b"From: noreply@example.com\r\nTo: a@example.net\r\nSubject: big\r\n\r\n"
msg += b"x" * (41943041 - len(msg))
open(sys.argv[1], "wb").write(b'{"Content": {"Raw": {"Data": "' + base64.b64encode(msg) + b'"}}}')
P
expect "a message one byte over 40 MB" "@$T/big.json" 400 BadRequestException \
	"Message length is more than 41943040 bytes long: '41943041'."
rm -f "$T/big.json"
check "an unknown operation" "404|UnknownOperationException|{\"message\":\"Unknown operation.\"}" \
	"$(v2 GET /v2/email/templates)"
check "a known path with another method" "404|UnknownOperationException|{\"message\":\"Unknown operation.\"}" \
	"$(v2 DELETE /v2/email/account)"
check "a refusal is a rejected event" "rejected|404|UnknownOperationException" \
	"$(api GET /api/v1/events | json "[e['type'] + '|' + str(e['code']) + '|' + str(e['reply']) for e in d['events'] if e['type'] == 'rejected'][-1]")"

# ---- the account ----------------------------------------------------------------------------
acct=$(v2 GET /v2/email/account)
check "GetAccount: 200" "200|" "$(cut -d'|' -f1-2 <<<"$acct")"
check "GetAccount: quota, state and suppression reasons" \
	"50000.0 1000.0 True True HEALTHY False ['BOUNCE', 'COMPLAINT']" \
	"$(cut -d'|' -f3- <<<"$acct" | json "' '.join(str(x) for x in ['%.1f' % d['SendQuota']['Max24HourSend'], '%.1f' % d['SendQuota']['MaxSendRate'], d['SendingEnabled'], d['ProductionAccessEnabled'], d['EnforcementStatus'], d['DedicatedIpAutoWarmupEnabled'], d['SuppressionAttributes']['SuppressedReasons']])")"
check "SentLast24Hours counts the recipients accepted (4 + 2 + 1)" "7.0" \
	"$(cut -d'|' -f3- <<<"$acct" | json "'%.1f' % d['SendQuota']['SentLast24Hours']")"
check_contains "the quota's numbers are JSON doubles" '"Max24HourSend":50000.0' "$acct"
check "PutAccountSendingAttributes false: 200 {}" "200||{}" "$(v2 PUT /v2/email/account/sending '{"SendingEnabled": false}')"
expect "a send while paused" "{$FROM, $TO, $SIMPLE}" 400 SendingPausedException \
	"Sending paused for this account. For more information, please check the inbox of the email address associated with your AWS account."
check "GetAccount shows it" "False" "$(v2 GET /v2/email/account | cut -d'|' -f3- | json "d['SendingEnabled']")"
check "PutAccountSendingAttributes true: 200 {}" "200||{}" "$(v2 PUT /v2/email/account/sending '{"SendingEnabled": true}')"
check "sending again" "200|" "$(send "{$FROM, $TO, $SIMPLE}" | cut -d'|' -f1-2)"
check "PutAccountSendingAttributes with a string" "400|SerializationException" \
	"$(v2 PUT /v2/email/account/sending '{"SendingEnabled": "yes"}' | cut -d'|' -f1-2)"

# ---- identities ---------------------------------------------------------------------------
check "CreateEmailIdentity (an address)" '200||{"IdentityType":"EMAIL_ADDRESS","VerifiedForSendingStatus":true}' \
	"$(v2 POST /v2/email/identities '{"EmailIdentity": "new@fresh.org"}')"
check "CreateEmailIdentity again" '400|AlreadyExistsException|{"message":"Email identity new@fresh.org already exist."}' \
	"$(v2 POST /v2/email/identities '{"EmailIdentity": "new@fresh.org"}')"
check "CreateEmailIdentity (a domain) gives its DKIM attributes" \
	'200||{"IdentityType":"DOMAIN","VerifiedForSendingStatus":true,"DkimAttributes":{"SigningEnabled":false,"Status":"NOT_STARTED","SigningAttributesOrigin":"AWS_SES"}}' \
	"$(v2 POST /v2/email/identities '{"EmailIdentity": "fresh.net"}')"
check "CreateEmailIdentity of a bad domain" '400|BadRequestException|{"message":"Invalid domain name <bad domain>."}' \
	"$(v2 POST /v2/email/identities '{"EmailIdentity": "bad domain"}')"
check "CreateEmailIdentity of a bad address" '400|BadRequestException|{"message":"Missing domain"}' \
	"$(v2 POST /v2/email/identities '{"EmailIdentity": "x@"}')"
check "CreateEmailIdentity without EmailIdentity" \
	"400|BadRequestException|{\"message\":\"1 validation error detected: Value null at 'emailIdentity' failed to satisfy constraint: Member must not be null\"}" \
	"$(v2 POST /v2/email/identities '{}')"
out=$(v2 GET /v2/email/identities/new%40fresh.org)
check "GetEmailIdentity (%-encoded)" "200|EMAIL_ADDRESS True SUCCESS" \
	"$(cut -d'|' -f1 <<<"$out")|$(cut -d'|' -f3- <<<"$out" | json "' '.join(str(x) for x in [d['IdentityType'], d['VerifiedForSendingStatus'], d['VerificationStatus']])")"
check "GetEmailIdentity of a configured one" "SUCCESS" \
	"$(v2 GET /v2/email/identities/example.com | cut -d'|' -f3- | json "d['VerificationStatus']")"
check "GetEmailIdentity of an unknown one" '404|NotFoundException|{"message":"Email identity nobody@x.org does not exist."}' \
	"$(v2 GET /v2/email/identities/nobody@x.org)"
check "ListEmailIdentities" "example.com:DOMAIN alice@verified.org:EMAIL_ADDRESS new@fresh.org:EMAIL_ADDRESS fresh.net:DOMAIN|None" \
	"$(v2 GET /v2/email/identities | cut -d'|' -f3- | json "' '.join(i['IdentityName'] + ':' + i['IdentityType'] for i in d['EmailIdentities']) + '|' + str(d.get('NextToken'))")"
check "ListEmailIdentities with PageSize 2" "example.com alice@verified.org|2" \
	"$(v2 GET '/v2/email/identities?PageSize=2' | cut -d'|' -f3- | json "' '.join(i['IdentityName'] for i in d['EmailIdentities']) + '|' + d['NextToken']")"
check "ListEmailIdentities from the NextToken" "new@fresh.org fresh.net|None" \
	"$(v2 GET '/v2/email/identities?PageSize=2&NextToken=2' | cut -d'|' -f3- | json "' '.join(i['IdentityName'] for i in d['EmailIdentities']) + '|' + str(d.get('NextToken'))")"
check "a NextToken edsim did not give" '400|BadRequestException|{"message":"Invalid NextToken."}' \
	"$(v2 GET '/v2/email/identities?NextToken=99')"
check "PageSize over 1000" "400|BadRequestException|{\"message\":\"1 validation error detected: Value '5000' at 'pageSize' failed to satisfy constraint: Member must have value less than or equal to 1000\"}" \
	"$(v2 GET '/v2/email/identities?PageSize=5000')"
check "a send from the new identity" "200|" \
	"$(send "{\"FromEmailAddress\": \"new@fresh.org\", $TO, $SIMPLE}" | cut -d'|' -f1-2)"
check "DeleteEmailIdentity" "200||{}" "$(v2 DELETE /v2/email/identities/new@fresh.org)"
check "DeleteEmailIdentity again" '404|NotFoundException|{"message":"Email identity new@fresh.org does not exist."}' \
	"$(v2 DELETE /v2/email/identities/new@fresh.org)"
expect "a send from the deleted identity" "{\"FromEmailAddress\": \"new@fresh.org\", $TO, $SIMPLE}" \
	400 MessageRejected "Email address is not verified. The following identities failed the check in region US-EAST-1: new@fresh.org"
edsim_stop v2

# ---- the sandbox, the send rate and the daily quota -------------------------------------------
cfg=$(write_config sandbox.yaml <<'Y'
ses:
  sandbox: true
  identities: [example.com, example.net]
  max_send_rate: 2
  max_24h_send: 3
limits: { requests_per_second: 0 }
Y
)
edsim_start sandbox --profile ses --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/sandbox/state/edsim.ready" https)
check "GetAccount in the sandbox: no production access" "False" \
	"$(v2 GET /v2/email/account | cut -d'|' -f3- | json "d['ProductionAccessEnabled']")"
expect "the sandbox: an unverified recipient" "{$FROM, \"Destination\": {\"ToAddresses\": [\"a@example.net\", \"Who <who@unverified.org>\"]}, $SIMPLE}" \
	400 MessageRejected "Email address is not verified. The following identities failed the check in region US-EAST-1: Who <who@unverified.org>"
check "two recipients in this second" "200|" \
	"$(send "{$FROM, \"Destination\": {\"ToAddresses\": [\"a@example.net\", \"b@example.net\"]}, $SIMPLE}" | cut -d'|' -f1-2)"
expect "a third in the same second: the send rate" "{$FROM, $TO, $SIMPLE}" 429 TooManyRequestsException "Maximum sending rate exceeded."
sleep 1.1
check "the next second: a third recipient in 24 hours" "200|" "$(send "{$FROM, $TO, $SIMPLE}" | cut -d'|' -f1-2)"
sleep 1.1
expect "a fourth: the daily quota" "{$FROM, $TO, $SIMPLE}" 400 LimitExceededException "Daily message quota exceeded."
check "the mailbox simulator does not count against it" "200|" \
	"$(send "{$FROM, \"Destination\": {\"ToAddresses\": [\"success@simulator.amazonses.com\"]}, $SIMPLE}" | cut -d'|' -f1-2)"
edsim_stop sandbox

# ---- the request rate, a suspended account ------------------------------------------------------
cfg=$(write_config suspended.yaml <<'Y'
ses: { sending: suspended, identities: [example.com] }
limits: { requests_per_second: 2 }
Y
)
edsim_start suspended --profile ses --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/suspended/state/edsim.ready" https)
expect "a suspended account" "{$FROM, $TO, $SIMPLE}" 400 AccountSuspendedException \
	"Sending suspended for this account. For more information, please check the inbox of the email address associated with your AWS account."
sleep 1.1 # two requests a second
check "PutAccountSendingAttributes cannot lift a suspension" "400|AccountSuspendedException" \
	"$(v2 PUT /v2/email/account/sending '{"SendingEnabled": true}' | cut -d'|' -f1-2)"
check "GetAccount: SHUTDOWN" "SHUTDOWN False" \
	"$(v2 GET /v2/email/account | cut -d'|' -f3- | json "d['EnforcementStatus'] + ' ' + str(d['SendingEnabled'])")"
sleep 1.1
codes=$(for i in 1 2 3 4; do v2 GET /v2/email/account | cut -d'|' -f1-2; done | sort | uniq -c | awk '{print $1 "x" $2}' | tr '\n' ' ')
check_contains "over limits.requests_per_second: 429 TooManyRequestsException" "429|TooManyRequestsException" "$codes"
sleep 1.1
check "its message" '429|TooManyRequestsException|{"message":"Too Many Requests"}' \
	"$(for i in 1 2 3; do v2 GET /v2/email/account; done | tail -1)"
edsim_stop suspended

# ---- rows only a scenario forces -----------------------------------------------------------------
sc=$(write_config forced.yaml <<'Y'
edsim: 1
name: ses-forced
profile: ses
rules:
  - when: { stage: request, header: { x-force: internal } }
    do: { reply: ses.v2.internal-failure }
  - when: { stage: request, header: { x-force: unavailable } }
    do: { reply: ses.v2.service-unavailable }
  - when: { stage: request, header: { x-force: expired } }
    do: { reply: ses.v2.request-expired }
  - when: { stage: submit, sender: "*@mailfrom.example.com" }
    do: { reply: ses.v2.mail-from-domain-not-verified }
  - when: { stage: submit, sender: "denied@*" }
    do: { reply: ses.v2.access-denied }
  - when: { stage: submit-raw, sender: "literal@*" }
    do: { status: 400, code: MessageRejected, message: "a literal refusal" }
Y
)
edsim_start forced --profile ses --scenario "$sc" || exit 1
HTTPS_PORT=$(ready_field "$T/forced/state/edsim.ready" https)
check "forced InternalFailure" '500|InternalFailure|{"message":"The request processing has failed because of an unknown error, exception or failure."}' \
	"$(v2 GET /v2/email/account '' -H 'x-force: internal')"
check "forced ServiceUnavailable" '503|ServiceUnavailable|{"message":"The request has failed due to a temporary failure of the server."}' \
	"$(v2 GET /v2/email/account '' -H 'x-force: unavailable')"
check "forced RequestExpired" '400|RequestExpired|{"message":"Request has expired."}' \
	"$(v2 GET /v2/email/account '' -H 'x-force: expired')"
check "a forced answer carries x-amzn-RequestId" yes "$([ -n "$(hdr x-amzn-RequestId)" ] && echo yes || echo no)"
expect "forced MailFromDomainNotVerifiedException" "{\"FromEmailAddress\": \"a@mailfrom.example.com\", $TO, $SIMPLE}" \
	400 MailFromDomainNotVerifiedException "Mail FROM domain is not verified."
expect "forced AccessDeniedException" "{\"FromEmailAddress\": \"denied@example.com\", $TO, $SIMPLE}" \
	403 AccessDeniedException "User \`arn:aws:iam::123456789012:user/edsim' is not authorized to perform \`ses:SendEmail' on resource \`arn:aws:ses:us-east-1:123456789012:identity/denied@example.com'"
expect "a literal answer at submit-raw" "{\"Content\": {\"Raw\": {\"Data\": \"$(raw "${msg/noreply/literal}")\"}}}" 400 MessageRejected "a literal refusal"
edsim_stop forced
