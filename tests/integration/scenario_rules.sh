#!/usr/bin/env bash
# scenario_rules: what scenario rules do at each stage, with scenario files
# given to edsim with --scenario: catalog replies with their placeholders
# filled, literal (multi-line) replies, close, drop, delay, the counters
# connection / command / attempt / times, the matchers sender / recipient /
# user / client_ip / mechanism, accept / discard / suppress, a forced 250 at
# data-end, and the rule named in the events and the transcript.
. "$(dirname "$0")/lib.bash"
TIMED=$HERE/clients/smtp_timed.py

scenario() { cat >"$T/sc-$1"; echo "$T/sc-$1"; }
# msg FROM TO SUBJECT [MESSAGE-ID]: a small message as dialog lines, with the final dot.
msg() {
	printf '> From: %s\n> To: %s\n> Subject: %s\n' "$1" "$2" "$3"
	[ -n "${4:-}" ] && printf '> Message-ID: %s\n' "$4"
	printf '>\n> hello\n> .\n'
}
# count_messages QUERY: how many stored messages match the query of GET /api/v1/messages.
count_messages() { api GET "/api/v1/messages?$1" | json "len(d['messages'])"; }
# event_with FIELD VALUE: the newest event whose FIELD equals VALUE, as "type stage code rule connection".
event_with() {
	api GET /api/v1/events | python3 -c '
import json, sys
f, v = sys.argv[1], sys.argv[2]
hits = [e for e in json.load(sys.stdin)["events"] if str(e.get(f)) == v]
if hits:
    e = hits[-1]
    print(e["type"], e["stage"], e["code"], e["rule"], e["connection"])' "$1" "$2"
}
# elapsed LINE: the seconds of a smtp_timed.py line; reply LINE: its reply text.
elapsed() { printf '%s' "${1%%|*}"; }
reply_of() { printf '%s' "${1#*|}"; }
# check_time NAME LINE MIN MAX: the smtp_timed.py LINE took from MIN to MAX seconds.
# MIN gets 20 ms of slack: the server's event loop times its delay from its
# cached clock, which can be a few ms older than the moment the client sent.
check_time() {
	local secs
	secs=$(elapsed "$2")
	if python3 -c "import sys; s = float(sys.argv[1] or 'nan'); sys.exit(0 if float(sys.argv[2]) - 0.02 <= s < float(sys.argv[3]) else 1)" "$secs" "$3" "$4"; then
		pass "$1 ($secs s)"
	else
		fail "$1 ($secs s)"
		echo "    expected from $3 to $4 s; line: $2"
	fi
}

NOAUTH=$(write_config noauth.yaml <<'Y'
auth: {required: false}
Y
)

# ==== 1. one rule per stage; connection N selects rule N ===========================
# Rule N starts at line 2N+2.
sc=$(scenario stages.yaml <<'Y'
edsim: 1
name: stages
rules:
  - when: {stage: connect, connection: 1}
    do: {reply: oci.smtp.too-many-connections}
  - when: {stage: ehlo, connection: 2}
    do: {reply: oci.smtp.processing-error}
  - when: {stage: starttls, connection: 3}
    do: {reply: oci.smtp.tls-unavailable}
  - when: {stage: auth, connection: 4}
    do: {reply: oci.smtp.auth-invalid}
  - when: {stage: mail, connection: 5}
    do: {reply: oci.smtp.rate-minute}
  - when: {stage: rcpt, connection: 6}
    do: {reply: oci.smtp.invalid-address}
  - when: {stage: data, connection: 7}
    do: {reply: oci.smtp.need-rcpt}
  - when: {stage: data-end, connection: 8}
    do: {reply: oci.smtp.parse-error}
  - when: {stage: rset, connection: 9}
    do: {reply: oci.smtp.server-error}
  - when: {stage: quit, connection: 10}
    do: {reply: oci.smtp.mail-system-failure}
  - when: {stage: data-end, connection: 11}
    do: {reply: oci.smtp.suppressed}
  - when: {stage: mail, connection: 12}
    do: {reply: oci.smtp.sender-not-authorized}
Y
)
edsim_start stages --config "$NOAUTH" --scenario "$sc" || exit 1

dialog_check "connect: oci.smtp.too-many-connections replaces the greeting and closes" plain "$SMTP_PORT" <<'S'
< 421 Too many connections, try again later
closed
S

dialog_check "ehlo: oci.smtp.processing-error, the session goes on without EHLO done" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
< 451 Error in Processing
> MAIL FROM:<a@example.com>
< 503 5.5.1 Bad sequence of commands
> QUIT
< 221 2.0.0 Bye
closed
S

dialog_check "starttls: oci.smtp.tls-unavailable, the session stays in clear" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> STARTTLS
< 454 4.7.0 TLS not available due to temporary reason
> NOOP
< 250 2.0.0 Ok
S

dialog_check "auth: oci.smtp.auth-invalid for good credentials" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $ANY_AUTH
< 535 Authentication credentials invalid
S

dialog_check "mail: oci.smtp.rate-minute shows per_minute (0 by default)" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<a@example.com>
< 455 Maximum messages sent per minute reached : limit is 0
> RCPT TO:<b@example.net>
< 503 5.5.1 Bad sequence of commands
S

dialog_check "rcpt: oci.smtp.invalid-address shows the refused recipient in brackets" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<b@example.net>
< 553 <b@example.net> Invalid email address
> DATA
< 503 Need RCPT command
S

dialog_check "data: oci.smtp.need-rcpt although a recipient was accepted" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<b@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 503 Need RCPT command
> NOOP
< 250 2.0.0 Ok
S

{
	cat <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<b@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg a@example.com b@example.net stage-data-end
	cat <<'S'
< 554 Message parse error
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
S
} | dialog_check "data-end: oci.smtp.parse-error after the final dot, transaction reset" plain "$SMTP_PORT"
check "data-end: the refused message is not stored" 0 "$(count_messages subject=stage-data-end)"

dialog_check "rset: oci.smtp.server-error" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> RSET
< 451 Server error
> NOOP
< 250 2.0.0 Ok
S

dialog_check "quit: oci.smtp.mail-system-failure, then closed" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> QUIT
< 421 4.3.0 Mail system failure, closing transmission channel
closed
S

{
	cat <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<b@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg a@example.com b@example.net stage-suppressed
	echo "< 254 4.7.1 Suppression for user anonymous to b@example.net"
} | dialog_check "data-end: oci.smtp.suppressed fills {user} (anonymous) and {recipient}" plain "$SMTP_PORT"

dialog_check "mail: oci.smtp.sender-not-authorized fills {address} with the sender" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<someone@example.org>
< 535 Authorization failed: address someone@example.org not authorized
S

dialog_check "connection 13: no rule left, native behaviour at every stage" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RSET
< 250 2.0.0 Ok
> QUIT
< 221 2.0.0 Bye
closed
S

# The rule that acted: named in the events and in the transcript.
ev=$(event_with code 455)
check "events: the mail refusal names its rule" "refused mail 455 rule 5 (line 12)" "${ev% *}"
conn=${ev##* }
t=$(transcript "$conn")
check_contains "transcript: a note names the rule and the stage, before the reply" \
	$'in MAIL FROM:<a@example.com>\nnote rule 5 (line 12) acts at stage mail\nout 455 Maximum messages sent per minute reached : limit is 0' "$t"
ev=$(event_with rule "rule 1 (line 4)")
check "events: the connect refusal names rule 1 (line 4)" "refused connect 421 rule 1 (line 4)" "${ev% *}"
check_contains "transcript of connection ${ev##* }: rule 1 acts at stage connect" \
	"note rule 1 (line 4) acts at stage connect" "$(transcript "${ev##* }")"
ev=$(event_with code 554)
check "events: the data-end refusal is 'rejected' and names rule 8 (line 18)" "rejected data-end 554 rule 8 (line 18)" "${ev% *}"
t=$(transcript 13)
check "transcript of the native connection 13: no rule acts" "in QUIT|0" \
	"$(printf '%s\n' "$t" | grep -c '^in QUIT$' | sed 's/^1$/in QUIT/')|$(printf '%s\n' "$t" | grep -c '^note rule')"
edsim_stop stages

# ==== 2. placeholders from the configuration: {limit} ===============================
sc=$(scenario limits.yaml <<'Y'
edsim: 1
name: limits
rules:
  - when: {stage: mail, sender: "minute@*"}
    do: {reply: oci.smtp.rate-minute}
  - when: {stage: mail, sender: "day@*"}
    do: {reply: oci.smtp.rate-day}
Y
)
cfg=$(write_config limits.yaml <<'Y'
auth: {required: false}
limits: {per_minute: 37, per_day: 1234}
Y
)
edsim_start limits --config "$cfg" --scenario "$sc" || exit 1
dialog_check "{limit} is the configured per_minute / per_day" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<minute@example.com>
< 455 Maximum messages sent per minute reached : limit is 37
> MAIL FROM:<day@example.com>
< 455 Maximum messages sent per day reached : limit is 1234
> MAIL FROM:<other@example.com>
< 250 2.1.0 Sender OK
S
edsim_stop limits

# ==== 3. literal replies, close, drop, delay; sender and recipient globs ===============
sc=$(scenario actions.yaml <<'Y'
edsim: 1
name: actions
rules:
  - when: {stage: mail, sender: "multi@*"}
    do:
      reply: "451 4.3.0 first line\n451 4.3.0 second line\n451 4.3.0 third line"
  - when: {stage: mail, sender: "close@*"}
    do: {reply: "452 4.3.1 closing now", close: true}
  - when: {stage: mail, sender: "drop@*"}
    do: {drop: true}
  - when: {stage: mail, sender: "slow@*"}
    do: {delay: 1s}
  - when: {stage: rcpt, recipient: "slow@*"}
    do: {reply: "450 4.2.0 slow no", delay: 1500ms}
  - when: {stage: rcpt, recipient: "*@blocked.test"}
    do: {reply: "550 5.1.1 blocked domain"}
  - when: {stage: mail, sender: "bye@*"}
    do: {reply: "421 4.3.2 going away"}
  - when: {stage: mail, sender: "native-close@*"}
    do: {close: true}
  - when: {stage: mail, sender: "catalog-close@*"}
    do: {reply: oci.smtp.server-error, close: true}
Y
)
edsim_start actions --config "$NOAUTH" --scenario "$sc" || exit 1

dialog_check "a literal 3-line reply arrives as 451-, 451-, 451 (sender glob, any case)" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<MULTI@Example.COM>
< 451-4.3.0 first line
< 451-4.3.0 second line
< 451 4.3.0 third line
> MAIL FROM:<other@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<a@blocked.test>
< 550 5.1.1 blocked domain
> RCPT TO:<a@not-blocked.test>
< 250 2.1.5 Recipient OK
> RCPT TO:<a@blocked.test.example>
< 250 2.1.5 Recipient OK
S

dialog_check "close: true closes after the literal reply" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<close@example.com>
< 452 4.3.1 closing now
closed
S

dialog_check "close: true with a catalog reply closes after it" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<catalog-close@example.com>
< 451 Server error
closed
S

dialog_check "close: true alone: the native reply, then closed" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<native-close@example.com>
< 250 2.1.0 Sender OK
closed
S

dialog_check "a literal 421 closes the connection (RFC 5321)" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<bye@example.com>
< 421 4.3.2 going away
closed
S

dialog_check "drop closes without any reply" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<drop@example.com>
closed
S
drop_conn=$(connection_with "MAIL FROM:<drop@example.com>")
t=$(transcript "$drop_conn")
check_contains "drop: the transcript says the rule dropped the connection" \
	$'note rule 3 (line 9) acts at stage mail\nnote rule 3 (line 9) drops the connection' "$t"
check "drop: nothing was sent after MAIL (transcript from MAIL on, notes left out)" "in MAIL FROM:<drop@example.com>" \
	"$(printf '%s\n' "$t" | sed -n '/MAIL FROM:<drop@/,$p' | grep -v '^note ')"

mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<slow@example.com>" \
	"RCPT TO:<slow@example.net>" "RCPT TO:<fast@example.net>" QUIT)
check "delay 1s at mail: then the native reply" "250 2.1.0 Sender OK" "$(reply_of "${r[2]:-}")"
check_time "delay 1s at mail: the reply took >= 1 s and < 4 s" "${r[2]:-}" 1.0 4.0
check "delay 1500ms with a literal reply at rcpt" "450 4.2.0 slow no" "$(reply_of "${r[3]:-}")"
check_time "delay 1500ms at rcpt: the reply took >= 1.5 s and < 4.5 s" "${r[3]:-}" 1.5 4.5
check "after a delayed reply the session goes on at once" "250 2.1.5 Recipient OK" "$(reply_of "${r[4]:-}")"
check_time "a command without a rule is not delayed" "${r[4]:-}" 0 0.5
check "QUIT after the delays" "221 2.0.0 Bye" "$(reply_of "${r[5]:-}")"
edsim_stop actions

# ==== 4. counters: connection, command, attempt, times ==================================
sc=$(scenario counters.yaml <<'Y'
edsim: 1
name: counters
rules:
  - when: {stage: connect, connection: 2}
    do: {reply: "554 5.3.2 second connection refused", close: true}
  - when: {stage: mail, command: 3}
    do: {reply: "451 4.3.0 third command"}
  - when: {stage: rset, times: 2}
    do: {reply: "452 4.3.0 rset refused"}
  - when: {stage: data-end, attempt: 1}
    do: {reply: "451 4.3.0 first attempt, try again"}
Y
)
edsim_start counters --config "$NOAUTH" --scenario "$sc" || exit 1
{
	cat <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> NOOP
< 250 2.0.0 Ok
> MAIL FROM:<a@example.com>
< 451 4.3.0 third command
> RSET
< 452 4.3.0 rset refused
> RSET
< 452 4.3.0 rset refused
> RSET
< 250 2.0.0 Ok
> RSET
< 250 2.0.0 Ok
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<b@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg a@example.com b@example.net retry-test "<retry-1@example.com>"
	cat <<'S'
< 451 4.3.0 first attempt, try again
> QUIT
< 221 2.0.0 Bye
closed
S
} | dialog_check "connection 1: command 3 refused, times 2 fires twice then native, attempt 1 refused" plain "$SMTP_PORT"
check "attempt 1: the refused message is not stored" 0 "$(count_messages subject=retry-test)"

dialog_check "connection 2: refused at connect" plain "$SMTP_PORT" <<'S'
< 554 5.3.2 second connection refused
closed
S

{
	cat <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<b@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg a@example.com b@example.net retry-test "<retry-1@example.com>"
	cat <<'S'
<~ 250 2.0.0 Ok: queued as
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<b@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg a@example.com b@example.net other-test "<other-1@example.com>"
	cat <<'S'
< 451 4.3.0 first attempt, try again
> RSET
< 250 2.0.0 Ok
S
} | dialog_check "connection 3: greeted, MAIL as command 2 passes, the retry is accepted, another message's 1st attempt refused" plain "$SMTP_PORT"
check "the retried message is stored exactly once" 1 "$(count_messages subject=retry-test)"
check "the other message (first attempt) is not stored" 0 "$(count_messages subject=other-test)"

dialog_check "connection 4: greeted (connection: 2 fires on the 2nd only)" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> NOOP
< 250 2.0.0 Ok
> NOOP
< 250 2.0.0 Ok
> MAIL FROM:<a@example.com>
< 503 5.5.1 Bad sequence of commands
S
edsim_stop counters

# ==== 5. matchers user / mechanism / client_ip; accept, suppress, discard, forced 250 =====
USERS="users: [{name: alice, password: secret, approved_senders: [alice@example.com]}, {name: bob, password: secret, approved_senders: [bob@example.com]}]"
cfg=$(write_config users.yaml <<Y
$USERS
Y
)
ALICE=$(b64 '\0alice\0secret')
BOB=$(b64 '\0bob\0secret')
sc=$(scenario matchers.yaml <<'Y'
edsim: 1
name: matchers
rules:
  - when: {stage: mail, user: bob}
    do: {reply: "451 4.7.0 bob is paused"}
  - when: {stage: auth, mechanism: login}
    do: {reply: "504 5.7.4 LOGIN disabled here"}
  - when: {stage: mail, sender: "guest@partner.test"}
    do: {accept: true}
  - when: {stage: rcpt, recipient: "*@suppressed.test"}
    do: {suppress: true}
  - when: {stage: data-end, recipient: "void@*"}
    do: {discard: true}
  - when: {stage: data-end, recipient: "forced@*"}
    do: {reply: "250 2.0.0 forced ok"}
  - when: {stage: data-end, recipient: "sup254@*"}
    do: {reply: oci.smtp.suppressed}
  - when: {stage: ehlo, client_ip: 127.0.0.2}
    do: {reply: "554 5.7.1 not from 127.0.0.2"}
Y
)
edsim_start matchers --config "$cfg" --scenario "$sc" || exit 1
AUTH_ALICE="> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $ALICE
< 235 2.7.0 Authentication successful"

dialog_check "user: bob's MAIL is refused, alice's is not" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $BOB
< 235 2.7.0 Authentication successful
> MAIL FROM:<bob@example.com>
< 451 4.7.0 bob is paused
S
dialog_check "user: alice's MAIL passes" starttls "$SMTP_PORT" <<S
$AUTH_ALICE
> MAIL FROM:<alice@example.com>
< 250 2.1.0 Sender OK
S

dialog_check "mechanism: AUTH LOGIN is refused (case-insensitive), AUTH PLAIN is not" starttls "$SMTP_PORT" <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH LOGIN
< 504 5.7.4 LOGIN disabled here
> AUTH PLAIN $ALICE
< 235 2.7.0 Authentication successful
S

dialog_check "accept: an unapproved sender is let through at MAIL; others are still refused" starttls "$SMTP_PORT" <<S
$AUTH_ALICE
> MAIL FROM:<guest@partner.test>
< 250 2.1.0 Sender OK
> RSET
< 250 2.0.0 Ok
> MAIL FROM:<intruder@partner.test>
< 535 Authorization failed: address intruder@partner.test not authorized
S

{
	cat <<S
$AUTH_ALICE
> MAIL FROM:<alice@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<x@suppressed.test>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg alice@example.com x@suppressed.test suppress-rule
	echo "< 254 4.7.1 Suppression for user alice to x@suppressed.test"
} | dialog_check "suppress: RCPT 250, then the 254 suppression reply after DATA" starttls "$SMTP_PORT"
check "suppress: the recipient is stored with state suppressed" "x@suppressed.test suppressed" \
	"$(api GET "/api/v1/messages?subject=suppress-rule" | json "' '.join(r['address'] + ' ' + r['state'] for m in d['messages'] for r in m['to'])")"

{
	cat <<S
$AUTH_ALICE
> MAIL FROM:<alice@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<void@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg alice@example.com void@example.net discard-rule
	echo "<~ 250 2.0.0 Ok: queued as "
} | dialog_check "discard: answered 250 Ok: queued as ..." starttls "$SMTP_PORT"
check "discard: nothing is stored" 0 "$(count_messages subject=discard-rule)"
ev=$(event_with type discarded)
check "discard: a 'discarded' event names rule 5 (line 12)" "discarded data-end 250 rule 5 (line 12)" "${ev% *}"

{
	cat <<S
$AUTH_ALICE
> MAIL FROM:<alice@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<forced@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg alice@example.com forced@example.net forced-250
	echo "< 250 2.0.0 forced ok"
	cat <<S
> MAIL FROM:<alice@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<sup254@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg alice@example.com sup254@example.net forced-254
	echo "< 254 4.7.1 Suppression for user alice to sup254@example.net"
} | dialog_check "a forced 250 at data-end replies its text; a forced catalog 254 fills {user} with the user" starttls "$SMTP_PORT"
check "a forced 250 at data-end stores the message" 1 "$(count_messages subject=forced-250)"
ev=$(api GET /api/v1/events | json "' '.join('%s/%s/%s' % (e['type'], e['code'], e['rule']) for e in d['events'] if e['type'] == 'accepted' and e['rule'] == 'rule 6 (line 14)')")
check "a forced 250: an 'accepted' event names rule 6 (line 14)" "accepted/250/rule 6 (line 14)" "$ev"

mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.2 "EHLO client.test" QUIT)
check "client_ip: a connection from 127.0.0.2 is refused at EHLO" "554 5.7.1 not from 127.0.0.2" "$(reply_of "${r[1]:-}")"
mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" QUIT)
check_contains "client_ip: a connection from 127.0.0.1 is not" "250-localhost Hello client.test" "$(reply_of "${r[1]:-}")"
edsim_stop matchers

# ==== 6. placeholders of the protocol rows: {helo}, {id}, {challenge} =====================
sc=$(scenario inferred.yaml <<'Y'
edsim: 1
name: inferred
rules:
  - when: {stage: ehlo, connection: 1}
    do: {reply: oci.smtp.ehlo-ok}
  - when: {stage: data-end, connection: 2}
    do: {reply: oci.smtp.accepted}
  - when: {stage: auth, connection: 3}
    do: {reply: oci.smtp.auth-challenge}
Y
)
edsim_start inferred --config "$NOAUTH" --scenario "$sc" || exit 1
dialog_check "oci.smtp.ehlo-ok forced at ehlo fills {helo} with the EHLO argument" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
< 250 localhost Hello client.test
S
{
	cat <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> MAIL FROM:<a@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<b@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	msg a@example.com b@example.net forced-accepted
	echo "<~ 250 2.0.0 Ok: queued as "
	echo "> QUIT"
	echo "< 221 2.0.0 Bye"
} | dialog plain "$SMTP_PORT" >"$T/accepted.out"
check "oci.smtp.accepted forced at data-end: the message is stored" 1 "$(count_messages subject=forced-accepted)"
stored=$(api GET "/api/v1/messages?subject=forced-accepted" | json "d['messages'][0]['id'] if d['messages'] else ''")
check "oci.smtp.accepted forced at data-end fills {id} with the stored message's id" \
	"ok: 250 2.0.0 Ok: queued as $stored" "$(grep 'queued as' "$T/accepted.out")"
mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "AUTH PLAIN" QUIT)
ch=$(reply_of "${r[2]:-}")
check "oci.smtp.auth-challenge forced at auth: a 334 reply with {challenge} filled (got '$ch')" yes \
	"$([[ $ch == "334 "* && $ch != *"{"* ]] && echo yes || echo no)"
edsim_stop inferred

# ==== 7. delay at data-end (the message arrives in a read after DATA's) ====================
sc=$(scenario delayend.yaml <<'Y'
edsim: 1
name: delayend
rules:
  - when: {stage: data-end, recipient: "later@*"}
    do: {reply: "451 4.3.0 not yet", delay: 700ms}
  - when: {stage: data-end, recipient: "slow-ok@*"}
    do: {delay: 700ms}
Y
)
edsim_start delayend --config "$NOAUTH" --scenario "$sc" || exit 1
body=$'From: a@example.com\r\nTo: x@example.net\r\nSubject: delayed-end\r\n\r\nhello\r\n.'
mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<a@example.com>" \
	"RCPT TO:<later@example.net>" DATA "$body" NOOP \
	"MAIL FROM:<a@example.com>" "RCPT TO:<slow-ok@example.net>" DATA "$body" NOOP 2>&1)
check "delay 700ms at data-end with a literal reply: the reply" "451 4.3.0 not yet" "$(reply_of "${r[5]:-}")"
check_time "delay 700ms at data-end: the reply took >= 0.7 s" "${r[5]:-}" 0.7 4
check "delay at data-end: the session goes on" "250 2.0.0 Ok" "$(reply_of "${r[6]:-}")"
check_contains "delay 700ms alone at data-end: then the native 250" "250 2.0.0 Ok: queued as " "$(reply_of "${r[10]:-}")"
check_time "delay alone at data-end: the reply took >= 0.7 s" "${r[10]:-}" 0.7 4
check "delay at data-end: only the natively accepted message is stored" 1 "$(count_messages subject=delayed-end 2>/dev/null)"
edsim_stop delayend

# ==== 8. use_quota: the quota is used up when the client reaches the stage ================
sc=$(scenario usequota.yaml <<'Y'
edsim: 1
name: usequota
settings:
  limits: {per_minute: 2}
rules:
  - when: {stage: mail, times: 1}
    do: {use_quota: 2}
  - when: {stage: submit, times: 1}
    do: {use_quota: 2}
Y
)
edsim_start usequota --config "$NOAUTH" --scenario "$sc" || exit 1
HTTPS_PORT=$(ready_field "$T/usequota/state/edsim.ready" https)
mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<a@example.com>" QUIT)
check "use_quota 2 at the first MAIL: that MAIL meets the native 455" \
	"455 Maximum messages sent per minute reached : limit is 2" "$(reply_of "${r[2]:-}")"
check "use_quota: the event is the native refusal, with the rule that used the quota" \
	"refused mail 455" "$(event_with code 455 | cut -d' ' -f1-3)"
api POST /api/v1/reset >/dev/null
mapfile -t r < <(python3 "$TIMED" "$SMTP_PORT" 127.0.0.1 "EHLO client.test" "MAIL FROM:<a@example.com>" QUIT)
check "use_quota: a reset restarts the rule's times and forgets the usage; MAIL meets the 455 again" \
	"455 Maximum messages sent per minute reached : limit is 2" "$(reply_of "${r[2]:-}")"
api POST /api/v1/reset >/dev/null
body='{"sender":{"senderAddress":{"email":"a@example.com"},"compartmentId":"ocid1.compartment.oc1..x"},"recipients":{"to":[{"email":"b@example.net"}]},"subject":"q","bodyText":"q"}'
out=$(curl -s --cacert "$CA" -H 'Content-Type: application/json' -d "$body" \
	"https://127.0.0.1:$HTTPS_PORT/20220926/actions/submitEmail")
check "use_quota 2 at the first submitEmail: 400 LimitExceeded" \
	"LimitExceeded Maximum messages sent per minute reached : limit is 2" \
	"$(json "d['code'] + ' ' + d['message']" <<<"$out")"
edsim_stop usequota
