#!/usr/bin/env bash
# ses_https_v1: the SES v1 Query API (profile: ses, POST / with a form) over
# real TLS with curl: SendEmail and SendRawEmail and every refusal real
# input causes (<ErrorResponse> with Type, Code, Message and RequestId), the
# stored message, GetSendQuota, GetSendStatistics, the identity actions, the
# sandbox, Throttling with both messages, a paused and a suspended account,
# the request rate, unknown and missing actions, and the rows only a
# scenario forces.
. "$(dirname "$0")/lib.bash"

cfg=$(write_config v1.yaml <<'Y'
ses:
  identities: [example.com, alice@verified.org]
  configuration_sets: [marketing]
  max_send_rate: 1000
Y
)
edsim_start v1 --profile ses --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/v1/state/edsim.ready" https)

hdr() { sed -n "s/^$1: *//Ip" "$T/headers" | tr -d '\r'; }
# v1 NAME=VALUE...: posts the form (each pair %-encoded; @FILE reads a
# value from a file as curl does); the answer is in $T/body.
v1() {
	local args=()
	for a in "$@"; do args+=(--data-urlencode "$a"); done
	curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' --cacert "$CA" "${args[@]}" \
		"https://127.0.0.1:$HTTPS_PORT/" >"$T/status"
}
# xml EXPR: evaluates a Python expression over the answer's XML, its
# elements reachable as x('Name') (the first one's text, namespace-free).
xml() {
	python3 - "$T/body" "$1" <<'P'
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
ns = '{http://ses.amazonaws.com/doc/2010-12-01/}'
def x(name):
    e = root.find('.//' + ns + name)
    return None if e is None else (e.text or '')
def xs(name):
    return [e.text for e in root.iter(ns + name)]
tag = root.tag.replace(ns, '')
print(eval(sys.argv[2]))
P
}
# err: "STATUS|Type|Code|Message" of an error answer.
err() { echo "$(cat "$T/status")|$(xml "x('Type') + '|' + x('Code') + '|' + x('Message')")"; }
# expect NAME STATUS TYPE CODE MESSAGE NAME=VALUE...: a call refused exactly so.
expect() {
	local name=$1 want="$2|$3|$4|$5"
	shift 5
	v1 "$@"
	check "$name" "$want" "$(err)"
}
SEND=(Action=SendEmail "Source=Sender <noreply@example.com>" Destination.ToAddresses.member.1=a@example.net
	Message.Subject.Data=s Message.Body.Text.Data=b)
raw() { printf '%b' "$1" | base64 -w0; }

# ---- SendEmail --------------------------------------------------------------------------------
v1 Action=SendEmail "Source=Sender <noreply@example.com>" "Destination.ToAddresses.member.1=A <a@example.net>" \
	Destination.ToAddresses.member.2=b@example.net Destination.CcAddresses.member.1=c@example.net \
	Destination.BccAddresses.member.1=hidden@example.net ReplyToAddresses.member.1=replies@example.com \
	"Message.Subject.Data=Hello from v1" Message.Body.Text.Data="text body" \
	"Message.Body.Html.Data=<p>html & more</p>" ConfigurationSetName=marketing \
	Tags.member.1.Name=campaign Tags.member.1.Value=spring
check "SendEmail: 200" 200 "$(cat "$T/status")"
check "Content-Type: text/xml" "text/xml" "$(hdr Content-Type)"
check "the answer: SendEmailResponse > SendEmailResult > MessageId, ResponseMetadata > RequestId" \
	"SendEmailResponse|$(hdr x-amzn-RequestId)" "$(xml "tag + '|' + x('RequestId')")"
id=$(xml "x('MessageId')")
check "the MessageId has SES's shape" yes \
	"$([[ $id =~ ^0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$ ]] && echo yes || echo "no: $id")"
check "the answer's XML, whole" \
	"<SendEmailResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">|  <SendEmailResult>|    <MessageId>$id</MessageId>|  </SendEmailResult>|  <ResponseMetadata>|    <RequestId>$(hdr x-amzn-RequestId)</RequestId>|  </ResponseMetadata>|</SendEmailResponse>" \
	"$(tr '\n' '|' <"$T/body" | sed 's/|$//')"
stored=$(api GET "/api/v1/messages/$id")
check "stored: the envelope" "a@example.net b@example.net c@example.net hidden@example.net" \
	"$(json "' '.join(r['address'] for r in d['to'])" <<<"$stored")"
rawmsg=$(api GET "/api/v1/messages/$id/raw" | tr -d '\r')
check_contains "From" "From: Sender <noreply@example.com>" "$rawmsg"
check_contains "To" "To: A <a@example.net>," "$rawmsg"
check_contains "Subject" "Subject: Hello from v1" "$rawmsg"
check_contains "Reply-To" "Reply-To: replies@example.com" "$rawmsg"
check_not_contains "never Bcc" "hidden@example.net" "$rawmsg"
check_contains "text and HTML: multipart/alternative" "multipart/alternative" "$rawmsg"
check_contains "the HTML body as sent" "<p>html & more</p>" "$rawmsg"
curl -s -o "$T/body" -w '%{http_code}' --cacert "$CA" \
	-d 'Action=SendEmail&Source=noreply%40example.com&Destination.ToAddresses.member.1=a%40example.net&Message.Subject.Data=plus+means+space&Message.Body.Text.Data=b' \
	"https://127.0.0.1:$HTTPS_PORT/" >"$T/status"
check "a form's '+' is a space" "plus means space" \
	"$(api GET "/api/v1/messages/$(xml "x('MessageId')")" | json "d['subject']")"

# ---- SendRawEmail -------------------------------------------------------------------------------
msg='From: Raw <noreply@example.com>\r\nTo: r1@example.net\r\nSubject: raw v1\r\nMessage-ID: <raw-v1@example.com>\r\nX-SES-CONFIGURATION-SET: marketing\r\n\r\nbody ?>\r\n'
v1 Action=SendRawEmail "RawMessage.Data=$(raw "$msg")"
check "SendRawEmail (no Source, no Destinations): 200 SendRawEmailResponse" "200|SendRawEmailResponse" \
	"$(cat "$T/status")|$(xml tag)"
id=$(xml "x('MessageId')")
stored=$(api GET "/api/v1/messages/$id")
check "its envelope: the header's From and To" "noreply@example.com r1@example.net" \
	"$(json "d['from'] + ' ' + ' '.join(r['address'] for r in d['to'])" <<<"$stored")"
check_not_contains "X-SES-CONFIGURATION-SET removed" "X-SES-CONFIGURATION-SET" "$(api GET "/api/v1/messages/$id/raw")"
v1 Action=SendRawEmail Source=alice@verified.org Destinations.member.1=d1@example.net \
	Destinations.member.2=d2@example.net "RawMessage.Data=$(raw "$msg")"
id=$(xml "x('MessageId')")
check "Source and Destinations make the envelope" "alice@verified.org d1@example.net d2@example.net" \
	"$(api GET "/api/v1/messages/$id" | json "d['from'] + ' ' + ' '.join(r['address'] for r in d['to'])")"

# ---- refusals ---------------------------------------------------------------------------------
v1 Action=SendEmail "Source=Foo Bar <noreply@other.com>" Destination.ToAddresses.member.1=a@example.net \
	Message.Subject.Data=s Message.Body.Text.Data=b
check "an unverified Source" "400|Sender|MessageRejected|Email address is not verified. The following identities failed the check in region US-EAST-1: Foo Bar <noreply@other.com>" "$(err)"
check "the error's RequestId is x-amzn-RequestId" "$(hdr x-amzn-RequestId)" "$(xml "x('RequestId')")"
check "the error's XML, whole" \
	"<ErrorResponse xmlns=\"http://ses.amazonaws.com/doc/2010-12-01/\">|  <Error>|    <Type>Sender</Type>|    <Code>MessageRejected</Code>|    <Message>Email address is not verified. The following identities failed the check in region US-EAST-1: Foo Bar &lt;noreply@other.com&gt;</Message>|  </Error>|  <RequestId>$(hdr x-amzn-RequestId)</RequestId>|</ErrorResponse>" \
	"$(tr '\n' '|' <"$T/body" | sed 's/|$//')"
v1 Action=SendEmail Source=noreply@example.com ReturnPath=bounces@unverified.org \
	Destination.ToAddresses.member.1=a@example.net Message.Subject.Data=s Message.Body.Text.Data=b
check "an unverified ReturnPath" "400|Sender|MessageRejected|Email address is not verified. The following identities failed the check in region US-EAST-1: bounces@unverified.org" "$(err)"
expect "an unknown configuration set" 400 Sender ConfigurationSetDoesNotExist "Configuration set <nope> does not exist." \
	"${SEND[@]}" ConfigurationSetName=nope
expect "no Source" 400 Sender ValidationError \
	"1 validation error detected: Value null at 'source' failed to satisfy constraint: Member must not be null" \
	Action=SendEmail Destination.ToAddresses.member.1=a@example.net Message.Subject.Data=s Message.Body.Text.Data=b
expect "no subject" 400 Sender ValidationError \
	"1 validation error detected: Value null at 'message.subject.data' failed to satisfy constraint: Member must not be null" \
	Action=SendEmail Source=noreply@example.com Destination.ToAddresses.member.1=a@example.net Message.Body.Text.Data=b
expect "no body" 400 Sender ValidationError \
	"1 validation error detected: Value null at 'message.body' failed to satisfy constraint: Member must not be null" \
	Action=SendEmail Source=noreply@example.com Destination.ToAddresses.member.1=a@example.net Message.Subject.Data=s
expect "SendRawEmail without RawMessage.Data" 400 Sender ValidationError \
	"1 validation error detected: Value null at 'rawMessage.data' failed to satisfy constraint: Member must not be null" \
	Action=SendRawEmail Source=noreply@example.com
expect "RawMessage.Data that is not base64" 400 Sender InvalidParameterValue "Unable to decode the message: invalid base64." \
	Action=SendRawEmail "RawMessage.Data=not base64"
expect "a raw message without From and no Source" 400 Sender InvalidParameterValue "Missing required header 'From'." \
	Action=SendRawEmail "RawMessage.Data=$(raw 'To: a@example.net\r\nSubject: x\r\n\r\nb\r\n')"
expect "no destination" 400 Sender InvalidParameterValue "There are no recipients specified" \
	Action=SendEmail Source=noreply@example.com Message.Subject.Data=s Message.Body.Text.Data=b
many=()
for i in $(seq 1 51); do many+=("Destination.ToAddresses.member.$i=r$i@example.net"); done
expect "51 recipients" 400 Sender InvalidParameterValue "Recipient count exceeds 50." \
	Action=SendEmail Source=noreply@example.com "${many[@]}" Message.Subject.Data=s Message.Body.Text.Data=b
expect "a recipient without @" 400 Sender InvalidParameterValue "Missing final '@domain'" \
	"${SEND[@]}" Destination.CcAddresses.member.1=nodomain
expect "a ReturnPath without @" 400 Sender InvalidParameterValue "Missing final '@domain'" \
	"${SEND[@]}" ReturnPath=bounces
expect "a local part with a blank" 400 Sender InvalidParameterValue "Local address contains control or whitespace" \
	"${SEND[@]}" "Destination.CcAddresses.member.1=a b@example.net"
expect "an address ending in @" 400 Sender InvalidParameterValue "Missing domain" \
	"${SEND[@]}" Destination.BccAddresses.member.1=a@
expect "a domain that is not ASCII" 400 Sender InvalidParameterValue "Domain contains control or whitespace" \
	"${SEND[@]}" ReplyToAddresses.member.1=a@bücher.example
expect "a tag name with a blank" 400 Sender InvalidParameterValue \
	"Invalid tag name <bad tag>: only alphanumeric ASCII characters, '_', and '-' are allowed." \
	"${SEND[@]}" "Tags.member.1.Name=bad tag" Tags.member.1.Value=v
expect "a tag without a value" 400 Sender InvalidParameterValue \
	"Invalid tag value <>: only alphanumeric ASCII characters, '_', and '-' are allowed." \
	"${SEND[@]}" Tags.member.1.Name=t
expect "a raw message with two Content-Type fields" 400 Sender InvalidParameterValue "Duplicate header 'Content-Type'." \
	Action=SendRawEmail "RawMessage.Data=$(raw 'From: noreply@example.com\r\nTo: a@example.net\r\nContent-Type: text/plain\r\nContent-Type: text/html\r\n\r\nb\r\n')"
python3 - "$T/big.b64" <<'P'
import base64, sys
msg = b"From: noreply@example.com\r\nTo: a@example.net\r\nSubject: big\r\n\r\n"
msg += b"x" * (10485761 - len(msg))
open(sys.argv[1], "wb").write(base64.b64encode(msg))
P
expect "a message one byte over 10 MB" 400 Sender InvalidParameterValue \
	"Message length is more than 10485760 bytes long: '10485761'." Action=SendRawEmail "RawMessage.Data@$T/big.b64"
rm -f "$T/big.b64"
expect "an unknown Action" 400 Sender InvalidAction "Could not find operation SendBounce for version 2010-12-01" Action=SendBounce
expect "no Action" 400 Sender MissingAction "The request is missing an action or a required parameter." Source=x

# ---- the account and statistics ----------------------------------------------------------------
v1 Action=GetSendQuota
check "GetSendQuota" "200|GetSendQuotaResponse|50000.0|1000.0|8.0" \
	"$(cat "$T/status")|$(xml "tag + '|' + x('Max24HourSend') + '|' + x('MaxSendRate') + '|' + x('SentLast24Hours')")"
v1 Action=GetSendStatistics
check "GetSendStatistics: this quarter hour's attempts and rejects" "200|1|8|2" \
	"$(cat "$T/status")|$(xml "str(len(xs('member'))) + '|' + x('DeliveryAttempts') + '|' + x('Rejects')")"
check "its Timestamp is ISO 8601, to the minute" yes \
	"$([[ $(xml "x('Timestamp')") =~ ^20[0-9]{2}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:00Z$ ]] && echo yes || echo no)"

# ---- identities ---------------------------------------------------------------------------------
v1 Action=VerifyEmailIdentity EmailAddress=new@fresh.org
check "VerifyEmailIdentity: an empty result" "200|VerifyEmailIdentityResponse|" \
	"$(cat "$T/status")|$(xml "tag")|$(xml "x('VerifyEmailIdentityResult')")"
check_contains "written <VerifyEmailIdentityResult/>" "<VerifyEmailIdentityResult/>" "$(cat "$T/body")"
expect "VerifyEmailIdentity of a bad address" 400 Sender InvalidParameterValue "Missing final '@domain'" \
	Action=VerifyEmailIdentity EmailAddress=nobody
expect "VerifyEmailIdentity without EmailAddress" 400 Sender ValidationError \
	"1 validation error detected: Value null at 'emailAddress' failed to satisfy constraint: Member must not be null" \
	Action=VerifyEmailIdentity
v1 Action=VerifyDomainIdentity Domain=fresh.net
token=$(xml "x('VerificationToken')")
check "VerifyDomainIdentity: a 44-character token" "200|44" "$(cat "$T/status")|${#token}"
v1 Action=VerifyDomainIdentity Domain=fresh.net
check "the same token again" "$token" "$(xml "x('VerificationToken')")"
expect "VerifyDomainIdentity of a bad domain" 400 Sender InvalidParameterValue "Invalid domain name <bad domain>." \
	Action=VerifyDomainIdentity "Domain=bad domain"
v1 Action=ListIdentities
check "ListIdentities" "example.com alice@verified.org new@fresh.org fresh.net|None" "$(xml "' '.join(xs('member')) + '|' + str(x('NextToken'))")"
v1 Action=ListIdentities IdentityType=Domain
check "ListIdentities of domains" "example.com fresh.net" "$(xml "' '.join(xs('member'))")"
v1 Action=ListIdentities MaxItems=2
check "ListIdentities, 2 at a time" "example.com alice@verified.org|2" "$(xml "' '.join(xs('member')) + '|' + x('NextToken')")"
v1 Action=ListIdentities MaxItems=2 NextToken=2
check "the next page" "new@fresh.org fresh.net|None" "$(xml "' '.join(xs('member')) + '|' + str(x('NextToken'))")"
expect "a NextToken edsim did not give" 400 Sender InvalidParameterValue "Invalid NextToken." Action=ListIdentities NextToken=xyz
expect "an IdentityType SES does not have" 400 Sender ValidationError \
	"1 validation error detected: Value 'Mailbox' at 'identityType' failed to satisfy constraint: Member must satisfy enum value set: [EmailAddress, Domain]" \
	Action=ListIdentities IdentityType=Mailbox
expect "MaxItems over 1000" 400 Sender ValidationError \
	"1 validation error detected: Value '5000' at 'maxItems' failed to satisfy constraint: Member must have value less than or equal to 1000" \
	Action=ListIdentities MaxItems=5000
v1 Action=GetIdentityVerificationAttributes Identities.member.1=example.com Identities.member.2=new@fresh.org \
	Identities.member.3=unknown@nowhere.org
check "GetIdentityVerificationAttributes: the known ones, a token for the domain" \
	"example.com new@fresh.org|Success Success|1" \
	"$(xml "' '.join(xs('key')) + '|' + ' '.join(xs('VerificationStatus')) + '|' + str(len(xs('VerificationToken')))")"
ids=()
for i in $(seq 1 101); do ids+=("Identities.member.$i=i$i@example.com"); done
expect "GetIdentityVerificationAttributes of 101 identities" 400 Sender ValidationError \
	"1 validation error detected: Value at 'identities' failed to satisfy constraint: Member must have length less than or equal to 100" \
	Action=GetIdentityVerificationAttributes "${ids[@]}"
v1 Action=DeleteIdentity Identity=new@fresh.org
check "DeleteIdentity" "200|DeleteIdentityResponse" "$(cat "$T/status")|$(xml tag)"
v1 Action=DeleteIdentity Identity=new@fresh.org
check "DeleteIdentity of an unknown one: 200 all the same" "200" "$(cat "$T/status")"
expect "a send from the deleted identity" 400 Sender MessageRejected \
	"Email address is not verified. The following identities failed the check in region US-EAST-1: new@fresh.org" \
	Action=SendEmail Source=new@fresh.org Destination.ToAddresses.member.1=a@example.net \
	Message.Subject.Data=s Message.Body.Text.Data=b
edsim_stop v1

# ---- the sandbox and Throttling ------------------------------------------------------------------
cfg=$(write_config sandbox.yaml <<'Y'
ses:
  sandbox: true
  identities: [example.com, example.net]
  max_send_rate: 1
  max_24h_send: 2
Y
)
edsim_start sandbox --profile ses --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/sandbox/state/edsim.ready" https)
expect "the sandbox: an unverified recipient" 400 Sender MessageRejected \
	"Email address is not verified. The following identities failed the check in region US-EAST-1: who@unverified.org" \
	"${SEND[@]}" Destination.ToAddresses.member.2=who@unverified.org
v1 "${SEND[@]}"
check "a first message" 200 "$(cat "$T/status")"
expect "the same second: Throttling, Maximum sending rate exceeded." 400 Sender Throttling "Maximum sending rate exceeded." "${SEND[@]}"
sleep 1.1
v1 "${SEND[@]}"
check "the next second: a second recipient in 24 hours" 200 "$(cat "$T/status")"
sleep 1.1
expect "a third: Throttling, Daily message quota exceeded." 400 Sender Throttling "Daily message quota exceeded." "${SEND[@]}"
v1 Action=GetSendQuota
check "GetSendQuota in the sandbox" "2.0|1.0|2.0" "$(xml "x('Max24HourSend') + '|' + x('MaxSendRate') + '|' + x('SentLast24Hours')")"
edsim_stop sandbox

# ---- paused, suspended, the request rate -----------------------------------------------------------
cfg=$(write_config paused.yaml <<'Y'
ses: { sending: paused, identities: [example.com] }
limits: { requests_per_second: 2 }
Y
)
edsim_start paused --profile ses --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/paused/state/edsim.ready" https)
expect "a paused account: MessageRejected" 400 Sender MessageRejected \
	"Sending paused for this account. For more information, please check the inbox of the email address associated with your AWS account." \
	"${SEND[@]}"
sleep 1.1
for i in 1 2 3; do v1 Action=GetSendQuota; done
check "over limits.requests_per_second: Throttling, Rate exceeded" "400|Sender|Throttling|Rate exceeded" "$(err)"
edsim_stop paused
cfg=$(write_config suspended.yaml <<'Y'
ses: { sending: suspended, identities: [example.com] }
Y
)
edsim_start suspended --profile ses --config "$cfg" || exit 1
HTTPS_PORT=$(ready_field "$T/suspended/state/edsim.ready" https)
expect "a suspended account: MessageRejected" 400 Sender MessageRejected \
	"Sending suspended for this account. For more information, please check the inbox of the email address associated with your AWS account." \
	"${SEND[@]}"
edsim_stop suspended

# ---- rows only a scenario forces ------------------------------------------------------------------
sc=$(write_config forced.yaml <<'Y'
edsim: 1
name: ses-forced-v1
profile: ses
rules:
  - when: { stage: request, header: { x-force: internal } }
    do: { reply: ses.v1.internal-failure }
  - when: { stage: request, header: { x-force: unavailable } }
    do: { reply: ses.v1.service-unavailable }
  - when: { stage: submit, sender: "*@mailfrom.example.com" }
    do: { reply: ses.v1.mail-from-domain-not-verified }
  - when: { stage: submit-raw, sender: "denied@*" }
    do: { reply: ses.v1.access-denied }
Y
)
edsim_start forced --profile ses --scenario "$sc" || exit 1
HTTPS_PORT=$(ready_field "$T/forced/state/edsim.ready" https)
curl -s -o "$T/body" -w '%{http_code}' --cacert "$CA" -H 'x-force: internal' -d Action=GetSendQuota \
	"https://127.0.0.1:$HTTPS_PORT/" >"$T/status"
check "forced InternalFailure: Type Receiver" \
	"500|Receiver|InternalFailure|The request processing has failed because of an unknown error, exception or failure." "$(err)"
curl -s -o "$T/body" -w '%{http_code}' --cacert "$CA" -H 'x-force: unavailable' -d Action=GetSendQuota \
	"https://127.0.0.1:$HTTPS_PORT/" >"$T/status"
check "forced ServiceUnavailable: Type Receiver" \
	"503|Receiver|ServiceUnavailable|The request has failed due to a temporary failure of the server." "$(err)"
expect "forced MailFromDomainNotVerifiedException" 400 Sender MailFromDomainNotVerifiedException "Mail FROM domain is not verified." \
	Action=SendEmail Source=a@mailfrom.example.com Destination.ToAddresses.member.1=a@example.net Message.Subject.Data=s Message.Body.Text.Data=b
expect "forced AccessDenied at submit-raw" 403 Sender AccessDenied \
	"User \`arn:aws:iam::123456789012:user/edsim' is not authorized to perform \`ses:SendEmail' on resource \`arn:aws:ses:us-east-1:123456789012:identity/denied@example.com'" \
	Action=SendRawEmail "RawMessage.Data=$(raw 'From: denied@example.com\r\nTo: a@example.net\r\n\r\nb\r\n')"
edsim_stop forced
