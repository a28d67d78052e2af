#!/usr/bin/env bash
# conditions_auth: STARTTLS before AUTH, AUTH PLAIN/LOGIN and their decoding
# errors, approved senders (envelope and header From), and the auth-failure
# throttle with its cool-off.
. "$(dirname "$0")/lib.bash"

USER=ocid1.user.oc1..test
GOOD=$(b64 "\\0$USER\\0secret")
WRONG=$(b64 "\\0$USER\\0wrong")
LUSER=$(b64 "$USER")
LPASS=$(b64 secret)
USERS="users: [{name: $USER, password: secret, approved_senders: [noreply@example.com, \"*@notify.example.com\"]}]"

# A high failure limit here so that the negative cases do not trip the throttle;
# the throttle is tested on its own instance below.
cfg=$(write_config main.yaml <<Y
$USERS
limits: {auth_failures_per_ip: 100, auth_failure_window: 2s}
Y
)
edsim_start main --config "$cfg" || exit 1

msg() { message_lines "$1" someone@example.net "$2"; }

dialog_check "AUTH in clear is refused with 530 5.7.0" plain "$SMTP_PORT" <<S
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $GOOD
< 530 5.7.0 Must issue a STARTTLS command first
> AUTH LOGIN
< 530 5.7.0 Must issue a STARTTLS command first
> QUIT
< 221 2.0.0 Bye
S

dialog_check "EHLO over TLS offers exactly 250-AUTH PLAIN LOGIN and no STARTTLS" starttls "$SMTP_PORT" <<S
> EHLO client.test
< 250-localhost Hello client.test
< 250-PIPELINING
< 250-SIZE 2097152
< 250-8BITMIME
< 250-AUTH PLAIN LOGIN
< 250 ENHANCEDSTATUSCODES
> QUIT
< 221 2.0.0 Bye
S

dialog_check "implicit TLS EHLO offers AUTH PLAIN LOGIN" tls "$SMTPS_PORT" <<S
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250-AUTH PLAIN LOGIN
<~ 250 ENHANCEDSTATUSCODES
S

dialog_check "MAIL before AUTH: 535 Authentication required" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<noreply@example.com>
< 535 Authentication required
S

dialog_check "RCPT before AUTH: 535 Authentication required" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> RCPT TO:<someone@example.net>
< 535 Authentication required
S

dialog_check "DATA before AUTH: 535 Authentication required" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> DATA
< 535 Authentication required
S

{
	cat <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $GOOD
< 235 2.7.0 Authentication successful
> MAIL FROM:<noreply@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg noreply@example.com auth-plain-initial
	echo "<~ 250 2.0.0 Ok: queued as"
} | dialog_check "AUTH PLAIN with initial response: 235, message accepted" starttls "$SMTP_PORT"

dialog_check "AUTH PLAIN without initial response: 334 then payload, 235" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN
< 334 
> $GOOD
< 235 2.7.0 Authentication successful
> AUTH PLAIN $GOOD
< 503 5.5.1 Already authenticated
S

dialog_check "AUTH LOGIN without initial response: 334 Username, 334 Password, 235" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH LOGIN
< 334 VXNlcm5hbWU6
> $LUSER
< 334 UGFzc3dvcmQ6
> $LPASS
< 235 2.7.0 Authentication successful
S

dialog_check "AUTH LOGIN with initial response: 334 Password, 235" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH LOGIN $LUSER
< 334 UGFzc3dvcmQ6
> $LPASS
< 235 2.7.0 Authentication successful
S

dialog_check "wrong password / unknown user: 535 Authentication credentials invalid" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $WRONG
< 535 Authentication credentials invalid
> AUTH PLAIN $(b64 '\0nobody\0secret')
< 535 Authentication credentials invalid
> AUTH LOGIN
< 334 VXNlcm5hbWU6
> $LUSER
< 334 UGFzc3dvcmQ6
> $(b64 wrong)
< 535 Authentication credentials invalid
> MAIL FROM:<noreply@example.com>
< 535 Authentication required
S

dialog_check "AUTH decoding errors: 501 texts" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN !!!!
< 501 Invalid command argument, not a valid Base64 string
> AUTH PLAIN
< 334 
> !!!!
< 501 Invalid command argument, not a valid Base64 string
> AUTH LOGIN
< 334 VXNlcm5hbWU6
> !!!!
< 501 Invalid command argument, not a valid Base64 string
> AUTH PLAIN $(b64 abc)
< 501 Invalid command argument, does not contain NUL
> AUTH PLAIN $(b64 '\0abc')
< 501 Invalid command argument, does not contain the second NUL
> AUTH PLAIN
< 334 
> *
< 501 5.0.0 Authentication cancelled
> AUTH PLAIN $GOOD
< 235 2.7.0 Authentication successful
S

dialog_check "AUTH mechanism errors: 504 texts" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH CRAM-MD5
< 504 Method not supported
> AUTH XOAUTH2 dG9rZW4=
< 504 Method not supported
> AUTH
< 504 AUTH mechanism mismatch
> AUTH PLAIN a b
< 504 AUTH mechanism mismatch
> NOOP
< 250 2.0.0 Ok
S

dialog_check "unapproved envelope sender: 535 Authorization failed" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $GOOD
< 235 2.7.0 Authentication successful
> MAIL FROM:<x@other.com>
< 535 Authorization failed: address x@other.com not authorized
> MAIL FROM:<a@notify.example.com.evil.org>
< 535 Authorization failed: address a@notify.example.com.evil.org not authorized
> MAIL FROM:<noreply@example.com>
< 250 2.1.0 Sender OK
S

{
	cat <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $GOOD
< 235 2.7.0 Authentication successful
> MAIL FROM:<a@notify.example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg '"Notifier" <a@notify.example.com>' glob-approved
	echo "<~ 250 2.0.0 Ok: queued as"
} | dialog_check "glob *@notify.example.com approves a@notify.example.com" starttls "$SMTP_PORT"

{
	cat <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $GOOD
< 235 2.7.0 Authentication successful
> MAIL FROM:<noreply@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg a@notify.example.com header-from-mismatch
	cat <<S
< 535 Authorization failed: address a@notify.example.com not authorized
> MAIL FROM:<noreply@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg x@other.com header-from-unapproved
	cat <<S
< 535 Authorization failed: address x@other.com not authorized
> NOOP
< 250 2.0.0 Ok
S
} | dialog_check "header From other than the envelope sender: 535 after the final dot" starttls "$SMTP_PORT"

dialog_check "a message with no From header: 554 after the final dot" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $GOOD
< 235 2.7.0 Authentication successful
> MAIL FROM:<noreply@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
> To: someone@example.net
> Subject: header-from-missing
>
> no From header here
> .
< 554 Message parse error
> QUIT
< 221 2.0.0 Bye
S

check "refused messages are not stored" 0 \
	"$(api GET "/api/v1/messages?subject=header-from" | json "len(d['messages'])")"
check "accepted messages are stored for the user" "$USER $USER" \
	"$(api GET "/api/v1/messages?from=example.com" | json "' '.join(m['user'] for m in d['messages'])")"
edsim_stop main

# ---- the auth-failure throttle: 3 failures within 2 s block the IP for 2 s ----
cfg=$(write_config throttle.yaml <<Y
$USERS
limits: {auth_failures_per_ip: 3, auth_failure_window: 2s}
Y
)
edsim_start throttle --config "$cfg" || exit 1

dialog_check "3 wrong passwords, then AUTH: 421 Too many auth failures and close" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $WRONG
< 535 Authentication credentials invalid
> AUTH PLAIN $WRONG
< 535 Authentication credentials invalid
> AUTH PLAIN $WRONG
< 535 Authentication credentials invalid
> AUTH PLAIN $GOOD
< 421 Too many auth failures, try again later
closed
S
blocked_at=$(date +%s.%N)

dialog_check "a new connection from the blocked IP: 421 at AUTH, even with good credentials" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $GOOD
< 421 Too many auth failures, try again later
closed
S

# The block lasts one window (2 s) from the last failure: still there after
# 1.2 s, then lifted by about 2 s (tried every 0.25 s, at most about 8 s).
try_auth() { # REPLY: the AUTH reply expected
	dialog starttls "$SMTP_PORT" >/dev/null <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $GOOD
< $1
S
}
since_block() { python3 -c "import time; print(round(time.time() - $blocked_at, 2))"; }
sleep "$(python3 -c "print(max(0, 1.2 - $(since_block)))")"
try_auth "421 Too many auth failures, try again later"
check "the block is still there $(since_block)s after the 3rd failure" 0 $?
lifted=no
for i in $(seq 1 25); do
	if try_auth "235 2.7.0 Authentication successful"; then lifted=yes; break; fi
	sleep 0.25
done
check "after the 2 s cool-off AUTH works again (lifted $(since_block)s after the 3rd failure)" yes "$lifted"

dialog_check "unapproved senders count as failures: 3 of them, then MAIL gets 421" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $GOOD
< 235 2.7.0 Authentication successful
> MAIL FROM:<x@other.com>
< 535 Authorization failed: address x@other.com not authorized
> MAIL FROM:<y@other.com>
< 535 Authorization failed: address y@other.com not authorized
> MAIL FROM:<z@other.com>
< 535 Authorization failed: address z@other.com not authorized
> MAIL FROM:<noreply@example.com>
< 421 Too many auth failures, try again later
closed
S
edsim_stop throttle
