#!/usr/bin/env bash
# conditions_envelope: address syntax, SIZE and DATA size limits, recipient
# limit, suppressions (254, one and two lines), command errors, long lines.
. "$(dirname "$0")/lib.bash"

cfg=$(write_config envelope.yaml <<'Y'
limits: {message_bytes: 10000, recipients: 3}
suppressions: [blocked@example.net, blocked2@example.net]
Y
)
edsim_start main --config "$cfg" || exit 1

# sized_message SUBJECT TOTAL: dialog lines of a message whose DATA content
# (each line with its CRLF, before the final dot) is exactly TOTAL bytes.
sized_message() {
	python3 - "$1" "$2" <<'P'
import sys
subject, total = sys.argv[1], int(sys.argv[2])
lines = ["From: a@example.com", "To: ok@example.net", "Subject: " + subject, ""]
left = total - sum(len(l) + 2 for l in lines)
while left > 0:
    n = min(100, left) - 2
    if n < 1:  # too short for a line of its own: lengthen the previous one
        lines[-1] += "y" * (left)
        break
    lines.append("x" * n)
    left -= n + 2
for l in lines:
    print("> " + l if l else ">")
print("> .")
P
}

# Prologue of every authenticated dialog over STARTTLS.
login() {
	cat <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $ANY_AUTH
< 235 2.7.0 Authentication successful
S
}

dialog_check "EHLO advertises the configured SIZE 10000" plain "$SMTP_PORT" <<S
<~ 220 localhost ESMTP
> EHLO client.test
< 250-localhost Hello client.test
< 250-PIPELINING
< 250-SIZE 10000
S

{
	login
	cat <<'S'
> MAIL FROM:<bad@@x>
< 553 <bad@@x> Invalid email address
> MAIL FROM:<no-at-sign>
< 553 <no-at-sign> Invalid email address
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<bad@@x>
< 553 <bad@@x> Invalid email address
> RCPT TO:<a..b@example.net>
< 553 <a..b@example.net> Invalid email address
> RCPT TO:<user@-example.net>
< 553 <user@-example.net> Invalid email address
> DATA
< 503 Need RCPT command
> RCPT TO:<ok@example.net>
< 250 2.1.5 Recipient OK
S
} | dialog_check "invalid addresses: 553 <address> Invalid email address; DATA after only refused RCPTs: 503" starttls "$SMTP_PORT"

{
	login
	cat <<'S'
> MAIL FROM:<a@example.com> SIZE=20000
< 552 Exceeds byte limit
> MAIL FROM:<a@example.com> SIZE=10001
< 552 Exceeds byte limit
> MAIL FROM:<a@example.com> SIZE=10000
< 250 2.1.0 Sender OK
S
} | dialog_check "MAIL SIZE= over the limit: 552 Exceeds byte limit (SIZE equal to the limit is fine)" starttls "$SMTP_PORT"

{
	login
	cat <<'S'
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> DATA
< 503 Need RCPT command
S
} | dialog_check "DATA with no RCPT: 503 Need RCPT command" starttls "$SMTP_PORT"

{
	login
	cat <<'S'
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<ok@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	sized_message size-over 10001
	cat <<'S'
< 552 Exceeds byte limit
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<ok@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	sized_message size-exact 10000
	echo "<~ 250 2.0.0 Ok: queued as"
} | dialog_check "DATA of 10001 bytes: 552 after the dot; 10000 bytes: accepted" starttls "$SMTP_PORT"
check "the oversized message is not stored" 0 \
	"$(api GET "/api/v1/messages?subject=size-over" | json "len(d['messages'])")"
check "the message of exactly 10000 bytes is stored with size 10000" 10000 \
	"$(api GET "/api/v1/messages?subject=size-exact" | json "d['messages'][0]['size']")"

{
	login
	cat <<'S'
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<r1@example.net>
< 250 2.1.5 Recipient OK
> RCPT TO:<r2@example.net>
< 250 2.1.5 Recipient OK
> RCPT TO:<r3@example.net>
< 250 2.1.5 Recipient OK
> RCPT TO:<r4@example.net>
< 452 4.5.3 Too many recipients
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	message_lines a@example.com r1@example.net too-many-rcpts
	echo "<~ 250 2.0.0 Ok: queued as"
} | dialog_check "a 4th RCPT: 452 4.5.3 Too many recipients, the first 3 get the message" starttls "$SMTP_PORT"
check "the message went to the 3 accepted recipients" "r1@example.net r2@example.net r3@example.net" \
	"$(api GET "/api/v1/messages?subject=too-many-rcpts" | json "' '.join(r['address'] for r in d['messages'][0]['to'])")"

{
	login
	cat <<'S'
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<ok@example.net>
< 250 2.1.5 Recipient OK
> RCPT TO:<blocked@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	message_lines a@example.com ok@example.net suppress-one
	cat <<'S'
< 254 4.7.1 Suppression for user user to blocked@example.net
> NOOP
< 250 2.0.0 Ok
S
} | dialog_check "one suppressed recipient: 254 4.7.1 Suppression for user user to blocked@example.net" starttls "$SMTP_PORT"
check "stored with recipient states delivered (capture) / suppressed" "ok@example.net=delivered blocked@example.net=suppressed" \
	"$(api GET "/api/v1/messages?subject=suppress-one" | json "' '.join(r['address'] + '=' + r['state'] for r in d['messages'][0]['to'])")"
check "the stored message belongs to the authenticated user" user \
	"$(api GET "/api/v1/messages?subject=suppress-one" | json "d['messages'][0]['user']")"

{
	login
	cat <<'S'
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<blocked@example.net>
< 250 2.1.5 Recipient OK
> RCPT TO:<ok@example.net>
< 250 2.1.5 Recipient OK
> RCPT TO:<Blocked2@Example.NET>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	message_lines a@example.com ok@example.net suppress-two
	cat <<'S'
< 254-4.7.1 Suppression for user user to blocked@example.net
< 254 4.7.1 Suppression for user user to Blocked2@Example.NET
> NOOP
< 250 2.0.0 Ok
S
} | dialog_check "two suppressed recipients: a two-line 254 reply" starttls "$SMTP_PORT"
check "stored with recipient states suppressed / delivered (capture) / suppressed" \
	"blocked@example.net=suppressed ok@example.net=delivered Blocked2@Example.NET=suppressed" \
	"$(api GET "/api/v1/messages?subject=suppress-two" | json "' '.join(r['address'] + '=' + r['state'] for r in d['messages'][0]['to'])")"

{
	login
	cat <<'S'
> FOO bar
< 500 5.5.2 Command not recognized
> RCPT TO:<ok@example.net>
< 503 5.5.1 Bad sequence of commands
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> MAIL FROM:<a@example.com>
< 503 5.5.1 Bad sequence of commands
> RSET
< 250 2.0.0 Ok
> RCPT TO:<ok@example.net>
< 503 5.5.1 Bad sequence of commands
S
} | dialog_check "unknown command: 500 5.5.2; RCPT before MAIL and nested MAIL: 503 5.5.1" starttls "$SMTP_PORT"

long=$(printf 'NOOP %01100d' 0)
dialog_check "a command line over 1000 bytes: 500 5.5.6 Line too long, the session continues" plain "$SMTP_PORT" <<S
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> $long
< 500 5.5.6 Line too long
> NOOP
< 250 2.0.0 Ok
> MAIL FROM:<a@example.com>
< 535 Authentication required
> QUIT
< 221 2.0.0 Bye
closed
S

long_in_parts=$(printf 'x%.0s' $(seq 1 1500))
dialog_check "an over-long line sent in pieces gets one 500 5.5.6 and the session continues" plain "$SMTP_PORT" <<S
<~ 220 localhost ESMTP
>> MAIL FROM:<$long_in_parts
sleep 0.3
>> $long_in_parts
sleep 0.3
>> >\r\n
< 500 5.5.6 Line too long
> NOOP
< 250 2.0.0 Ok
S
edsim_stop main
