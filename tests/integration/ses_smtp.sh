#!/usr/bin/env bash
# ses_smtp: the SES profile's SMTP interface, every row of SES's reply table
# from real input over real TLS: the greeting and EHLO shape, TLS before
# AUTH, the SMTP password derived from the secret key for the region,
# 250 Ok <message id>, address syntax, 50 recipients, the size limit,
# unverified identities (sender always, recipients in the sandbox, the list
# truncated with ...), sending paused and suspended, the send rate and the
# daily quota counted per recipient, X-SES-* headers, a duplicated header,
# the idle timeout and too many connections.
. "$(dirname "$0")/lib.bash"

KEY=AKIAIOSFODNN7EXAMPLE
# ses.md 8.6: the SMTP passwords of the documentation's example secret key
PASS_US_EAST_1='BLBM/9hSUELfq8Gw+rU1YcBjkOxGbhT2XG763xVLGWL9'
PASS_US_WEST_2='BF2PynzbSCAjX08zhZZnP/kW+T9P5zs/1Er0pi5vTEmd'
GOOD=$(b64 "\\0$KEY\\0$PASS_US_EAST_1")
WEST=$(b64 "\\0$KEY\\0$PASS_US_WEST_2")
REJECTED='554 Message rejected: Email address is not verified. The following identities failed the check in region US-EAST-1:'

# the start of a transaction after EHLO over TLS
authed() {
	printf '> EHLO client.test\n<~ 250 Ok\n> AUTH PLAIN %s\n< 235 Authentication successful.\n' "$GOOD"
}
# send FROM TO... : MAIL, RCPT for each recipient, DATA
send() {
	local from=$1
	shift
	printf '> MAIL FROM:<%s>\n< 250 Ok\n' "$from"
	for r in "$@"; do printf '> RCPT TO:<%s>\n< 250 Ok\n' "$r"; done
	printf '> DATA\n< 354 End data with <CR><LF>.<CR><LF>\n'
}

cfg=$(write_config main.yaml <<Y
ses:
  identities: [example.com, sender@example.org]
  configuration_sets: [tracked]
  max_send_rate: 1000
Y
)
edsim_start main --profile ses --config "$cfg" || exit 1

dialog_check "greeting and EHLO before TLS: SES's shape, STARTTLS offered, no AUTH" plain "$SMTP_PORT" <<S
< 220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-EDSIM00000 edsim
> EHLO client.test
< 250-email-smtp.amazonaws.com
< 250-8BITMIME
< 250-SIZE 10485760
< 250-STARTTLS
< 250 Ok
> AUTH PLAIN $GOOD
< 530 Must issue a STARTTLS command first
> MAIL FROM:<sender@example.com>
< 530 Authentication required
> QUIT
< 221 Bye
closed
S

dialog_check "EHLO over TLS: AUTH PLAIN LOGIN, no STARTTLS, 250 Ok last" starttls "$SMTP_PORT" <<S
> EHLO client.test
< 250-email-smtp.amazonaws.com
< 250-8BITMIME
< 250-SIZE 10485760
< 250-AUTH PLAIN LOGIN
< 250 Ok
> MAIL FROM:<sender@example.com>
< 530 Authentication required
S

dialog_check "implicit TLS: the same greeting and AUTH" tls "$SMTPS_PORT" <<S
< 220 email-smtp.amazonaws.com ESMTP SimpleEmailService-d-EDSIM00000 edsim
> EHLO client.test
<~ 250-AUTH PLAIN LOGIN
< 250 Ok
S

dialog_check "the password of another region, a wrong one, an unknown key: 535" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 Ok
> AUTH PLAIN $WEST
< 535 Authentication Credentials Invalid
> AUTH PLAIN $(b64 "\\0$KEY\\0wrong")
< 535 Authentication Credentials Invalid
> AUTH PLAIN $(b64 "\\0AKIANOBODY\\0$PASS_US_EAST_1")
< 535 Authentication Credentials Invalid
> AUTH LOGIN
< 334 VXNlcm5hbWU6
> $(b64 "$KEY")
< 334 UGFzc3dvcmQ6
> $(b64 "$PASS_US_EAST_1")
< 235 Authentication successful.
S

{
	authed
	send sender@example.com someone@gmail.com
	message_lines sender@example.com someone@gmail.com accepted
	echo "<~ 250 Ok 0100"
} | dialog_check "a verified domain's sender: 250 Ok and SES's message id" starttls "$SMTP_PORT"
id=$(api GET "/api/v1/messages?subject=accepted" | json "d['messages'][0]['id']")
check_contains "the message id has SES's shape (0100..., a UUID, -000000)" \
	"ok" "$(echo "$id" | grep -Eq '^0100[0-9a-f]{12}-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}-000000$' && echo ok)"
check "the control API finds the message by its SES id" "$id" \
	"$(api GET "/api/v1/messages/$id" | json "d['id']")"
check_contains "the reply the client saw carries the same id" "250 Ok $id" \
	"$(api GET /api/v1/events | json "'\n'.join(e['reply'] or '' for e in d['events'])")"
check "the relay's delivered event names the message by the same id" "$id" \
	"$(api GET /api/v1/events | json "[e['message'] for e in d['events'] if e['type'] == 'delivered'][0]")"

dialog_check "address syntax: 553 Invalid email address (MAIL), address unknown (RCPT)" starttls "$SMTP_PORT" <<S
$(authed)
> MAIL FROM:<not an address>
< 553 <not an address> Invalid email address
> MAIL FROM:<sender@example.com>
< 250 Ok
> RCPT TO:<a@@b>
< 553 <a@@b> address unknown
S

{
	authed
	printf '> MAIL FROM:<sender@example.com>\n< 250 Ok\n'
	for i in $(seq 1 50); do printf '> RCPT TO:<r%d@gmail.com>\n< 250 Ok\n' "$i"; done
	printf '> RCPT TO:<r51@gmail.com>\n< 554 Too many recipients\n'
} | dialog_check "a 51st recipient: 554 Too many recipients" starttls "$SMTP_PORT"

{
	authed
	send nobody@unverified.test someone@gmail.com
	printf '> From: "Nobody" <nobody@unverified.test>\n> To: someone@gmail.com\n> Subject: unverified\n>\n> hi\n> .\n'
	echo "< $REJECTED nobody@unverified.test"
} | dialog_check "an unverified sender: 554 after DATA, region in upper case" starttls "$SMTP_PORT"

{
	authed
	send sender@example.com someone@gmail.com
	printf '> From: other@elsewhere.test\n> Sender: agent@third.test\n> To: someone@gmail.com\n> Subject: header identities\n>\n> hi\n> .\n'
	echo "< $REJECTED other@elsewhere.test, agent@third.test"
} | dialog_check "From and Sender must be verified too, each listed once" starttls "$SMTP_PORT"

{
	authed
	send sender@example.org someone@gmail.com
	message_lines sender@example.org someone@gmail.com verified-address
	echo "<~ 250 Ok 0100"
	send other@example.org someone@gmail.com
	message_lines other@example.org someone@gmail.com unverified-address
	echo "< $REJECTED other@example.org"
} | dialog_check "a verified address covers itself, not its domain" starttls "$SMTP_PORT"

{
	authed
	send sender@example.com someone@gmail.com
	printf '> From: sender@example.com\n> To: someone@gmail.com\n> Subject: ses headers\n> X-SES-CONFIGURATION-SET: tracked\n> X-SES-MESSAGE-TAGS: campaign=spring\n> X-Kept: yes\n>\n> hi\n> .\n'
	echo "<~ 250 Ok 0100"
	send sender@example.com someone@gmail.com
	printf '> From: sender@example.com\n> To: someone@gmail.com\n> Subject: unknown set\n> X-SES-CONFIGURATION-SET: missing-set\n>\n> hi\n> .\n'
	echo "< 554 Configuration Set does not exist: Configuration set <missing-set> does not exist."
	send sender@example.com someone@gmail.com
	printf '> From: sender@example.com\n> To: someone@gmail.com\n> Subject: twice\n> Content-Type: text/plain\n> Content-Type: text/html\n>\n> hi\n> .\n'
	echo "< 554 Transaction failed: Duplicate header 'Content-Type'."
} | dialog_check "X-SES headers: a known set passes, an unknown one 554; a duplicated Content-Type 554" starttls "$SMTP_PORT"
id=$(api GET "/api/v1/messages?subject=ses%20headers" | json "d['messages'][0]['id']")
raw=$(api GET "/api/v1/messages/$id/raw")
check_not_contains "X-SES-* fields are removed before the message is stored and relayed" "X-SES-" "$raw"
check_contains "other fields stay" "X-Kept: yes" "$raw"

{
	authed
	send sender@example.com someone@gmail.com
	printf '> From: sender@example.com\n> To: someone@gmail.com\n> Subject: broken\n> this is not a header field\n>\n> hi\n> .\n'
	echo "< 554 Transaction failed: Illegal header."
} | dialog_check "a malformed header section: 554 Transaction failed" starttls "$SMTP_PORT"

# scenario_settings NAME SES-SETTINGS: a fresh start (POST /api/v1/reset
# forgets the quotas' counts), then a scenario with those ses: settings.
scenario_settings() {
	api POST /api/v1/reset >/dev/null
	printf 'edsim: 1\nprofile: ses\nname: %s\nsettings:\n  ses: %s\nrules: []\n' "$1" "$2" >"$T/$1.yaml"
	curl -s -o /dev/null -w '%{http_code}' -X PUT --data-binary "@$T/$1.yaml" \
		"http://127.0.0.1:$CONTROL_PORT/api/v1/scenario"
}

check "a scenario's settings pause sending: 200" 200 "$(scenario_settings paused '{sending: paused}')"
{
	authed
	send sender@example.com someone@gmail.com
	message_lines sender@example.com someone@gmail.com paused
	echo "< 554 Message rejected: Sending paused for this account. For more information, please check the inbox of the email address associated with your AWS account."
} | dialog_check "sending paused: 554 after DATA" starttls "$SMTP_PORT"

check "a scenario's settings suspend sending: 200" 200 "$(scenario_settings suspended '{sending: suspended}')"
{
	authed
	send nobody@unverified.test someone@gmail.com
	message_lines nobody@unverified.test someone@gmail.com suspended
	echo "< 554 Message rejected: Sending suspended for this account. For more information, please check the inbox of the email address associated with your AWS account."
} | dialog_check "sending suspended: 554, before the identity check" starttls "$SMTP_PORT"

check "the sandbox: 200" 200 "$(scenario_settings sandbox '{sandbox: true, max_send_rate: 1000}')"
{
	authed
	send sender@example.com friend@example.com stranger@gmail.com success@simulator.amazonses.com
	message_lines sender@example.com stranger@gmail.com sandboxed
	echo "< $REJECTED stranger@gmail.com"
	send sender@example.com friend@example.com success+label@simulator.amazonses.com
	message_lines sender@example.com friend@example.com sandbox-ok
	echo "<~ 250 Ok 0100"
} | dialog_check "the sandbox: an unverified recipient is refused, verified ones and the simulator pass" starttls "$SMTP_PORT"

{
	authed
	printf '> MAIL FROM:<sender@example.com>\n< 250 Ok\n'
	for i in $(seq 1 30); do printf '> RCPT TO:<a-rather-long-recipient-address-%02d@gmail.com>\n< 250 Ok\n' "$i"; done
	printf '> DATA\n< 354 End data with <CR><LF>.<CR><LF>\n'
	message_lines sender@example.com many@gmail.com many
	echo "<~ 554 Message rejected"
} | dialog_check "thirty unverified recipients in the sandbox: 554" starttls "$SMTP_PORT" >/dev/null
line=$(api GET /api/v1/events | json "[e['reply'] for e in d['events'] if e['reply'] and 'long-recipient' in e['reply']][-1]")
check_contains "a long list of failed identities is truncated" "a-rather-long-recipient-address-01@gmail.com, " "$line"
check_contains "... ends a truncated list" "..." "${line: -3}"
check_not_contains "the last recipient is not shown" "address-30@" "$line"

check "a send rate of 2 recipients a second: 200" 200 "$(scenario_settings rate '{max_send_rate: 2}')"
{
	authed
	send sender@example.com a@gmail.com b@gmail.com
	message_lines sender@example.com a@gmail.com rate-1
	echo "<~ 250 Ok 0100"
	send sender@example.com c@gmail.com
	message_lines sender@example.com c@gmail.com rate-2
	echo "< 454 Throttling failure: Maximum sending rate exceeded."
} | dialog_check "the send rate counts recipients: 454 after DATA" starttls "$SMTP_PORT"

check "a daily quota of 2: 200" 200 "$(scenario_settings daily '{max_send_rate: 1000, max_24h_send: 2}')"
{
	authed
	send sender@example.com a@gmail.com b@gmail.com
	message_lines sender@example.com a@gmail.com daily-1
	echo "<~ 250 Ok 0100"
	send sender@example.com success@simulator.amazonses.com
	message_lines sender@example.com success@simulator.amazonses.com daily-simulator
	echo "<~ 250 Ok 0100"
	send sender@example.com c@gmail.com
	message_lines sender@example.com c@gmail.com daily-2
	echo "< 454 Throttling failure: Daily message quota exceeded."
} | dialog_check "the daily quota counts recipients (not the simulator's): 454 after DATA" starttls "$SMTP_PORT"
api DELETE /api/v1/scenario >/dev/null
edsim_stop main

cfg=$(write_config small.yaml <<Y
limits: {message_bytes: 2000, command_timeout: 1s, connections_per_ip: 1}
Y
)
edsim_start small --profile ses --config "$cfg" || exit 1
{
	authed
	send sender@example.com someone@gmail.com
	printf '> From: sender@example.com\n> To: someone@gmail.com\n> Subject: big\n>\n'
	for i in $(seq 1 40); do printf '> %s\n' "0123456789012345678901234567890123456789012345678901234567890123456789"; done
	printf '> .\n< 552 Message is too long.\n'
} | dialog_check "a message over the size limit: 552 Message is too long." starttls "$SMTP_PORT"

dialog_check "silence: 451 4.4.2 Timeout waiting for data from client., then close" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 Ok
< 451 4.4.2 Timeout waiting for data from client.
closed
S

exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT"
read -r -t 5 first <&3
dialog_check "a second connection from one IP over the limit: 421" plain "$SMTP_PORT" <<S
< 421 Too many concurrent SMTP connections
closed
S
exec 3<&-
check_contains "the first connection got the greeting" "220 email-smtp.amazonaws.com" "$first"
edsim_stop small

cfg=$(write_config west.yaml <<Y
ses: {region: us-west-2}
Y
)
edsim_start west --profile ses --config "$cfg" || exit 1
dialog_check "credentials are regional: us-west-2 takes its own password, not us-east-1's" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 Ok
> AUTH PLAIN $GOOD
< 535 Authentication Credentials Invalid
> AUTH PLAIN $WEST
< 235 Authentication successful.
> MAIL FROM:<nobody@unverified.test>
< 250 Ok
> RCPT TO:<someone@gmail.com>
< 250 Ok
> DATA
< 354 End data with <CR><LF>.<CR><LF>
$(message_lines nobody@unverified.test someone@gmail.com west)
< 554 Message rejected: Email address is not verified. The following identities failed the check in region US-WEST-2: nobody@unverified.test
S
edsim_stop west
