#!/usr/bin/env bash
# conditions_session: idle timeout, connections per IP, per-minute and
# per-day quotas, store quota, and SIGTERM with open sessions.
. "$(dirname "$0")/lib.bash"

login() {
	cat <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $(b64 "\\0$1\\0pass")
< 235 2.7.0 Authentication successful
S
}
# one_message SUBJECT: a whole accepted transaction for app@example.com.
one_message() {
	cat <<'S'
> MAIL FROM:<app@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	message_lines app@example.com someone@example.net "$1"
	echo "<~ 250 2.0.0 Ok: queued as"
}
now() { date +%s.%N; }
elapsed() { python3 -c "print(round($(now) - $1, 1))"; }
at_least() { python3 -c "print('yes' if $1 >= $2 else 'no')"; }

# ---- idle timeout ----------------------------------------------------------
cfg=$(write_config timeout.yaml <<'Y'
limits: {command_timeout: 1s}
Y
)
edsim_start timeout --config "$cfg" || exit 1
t0=$(now)
dialog_check "idle after the greeting: 421 Timeout waiting for data from client, then close" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
< 421 Timeout waiting for data from client
closed
S
took=$(elapsed "$t0")
check "the timeout came after about 1 s, not before (took ${took}s)" yes "$(at_least "$took" 0.9)"
check "the timeout came well before the 60 s default (took ${took}s)" yes "$(at_least 5 "$took")"

dialog_check "idle in DATA: 421 Timeout waiting for data from client, then close" starttls "$SMTP_PORT" <<S
$(login user)
> MAIL FROM:<app@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
> Subject: idle-in-data
>
> half a message
< 421 Timeout waiting for data from client
closed
S
check "the half message is not stored" 0 \
	"$(api GET "/api/v1/messages?subject=idle-in-data" | json "len(d['messages'])")"

dialog_check "a client that keeps talking is not timed out" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
sleep 0.6
> NOOP
< 250 2.0.0 Ok
sleep 0.6
> NOOP
< 250 2.0.0 Ok
sleep 0.6
> NOOP
< 250 2.0.0 Ok
> QUIT
< 221 2.0.0 Bye
S
edsim_stop timeout

# ---- connections per IP ------------------------------------------------------
cfg=$(write_config conns.yaml <<'Y'
limits: {connections_per_ip: 2}
Y
)
edsim_start conns --config "$cfg" || exit 1
# readline FD: one reply line from a raw connection, without its CR.
readline() { local l=""; read -r -t 5 -u "$1" l; printf '%s' "${l%$'\r'}"; }
exec 3<>"/dev/tcp/127.0.0.1/$SMTP_PORT"
check "1st connection gets the greeting" "220 localhost ESMTP Email Delivery simulator (edsim) ready" "$(readline 3)"
exec 4<>"/dev/tcp/127.0.0.1/$SMTP_PORT"
check "2nd connection gets the greeting" "220 localhost ESMTP Email Delivery simulator (edsim) ready" "$(readline 4)"
dialog_check "3rd simultaneous connection: 421 Too many connections, then close" plain "$SMTP_PORT" <<'S'
< 421 Too many connections, try again later
closed
S
printf 'NOOP\r\n' >&3
check "the 1st connection still works" "250 2.0.0 Ok" "$(readline 3)"
printf 'NOOP\r\n' >&4
check "the 2nd connection still works" "250 2.0.0 Ok" "$(readline 4)"
printf 'QUIT\r\n' >&3
check "the 1st connection quits" "221 2.0.0 Bye" "$(readline 3)"
exec 3>&-
sessions_are() { [ "$(api GET /api/v1/health | json "d['sessions']")" == "$1" ]; }
poll 50 sessions_are 1
dialog_check "once one of them has closed, a new connection is accepted" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> QUIT
< 221 2.0.0 Bye
S
exec 4>&-
edsim_stop conns

# ---- per-minute quota ----------------------------------------------------------
cfg=$(write_config minute.yaml <<'Y'
limits: {per_minute: 2}
Y
)
edsim_start minute --config "$cfg" || exit 1
{
	login alice
	one_message minute-1
	one_message minute-2
	cat <<'S'
> MAIL FROM:<app@example.com>
< 455 Maximum messages sent per minute reached : limit is 2
> NOOP
< 250 2.0.0 Ok
S
} | dialog_check "3rd message of the same user in a minute: 455 per minute at MAIL" starttls "$SMTP_PORT"
dialog_check "the quota follows the user into a new connection" starttls "$SMTP_PORT" <<S
$(login alice)
> MAIL FROM:<app@example.com>
< 455 Maximum messages sent per minute reached : limit is 2
S
{
	login bob
	one_message minute-bob
} | dialog_check "another user still has quota" starttls "$SMTP_PORT"
edsim_stop minute

# ---- per-day quota -------------------------------------------------------------
cfg=$(write_config day.yaml <<'Y'
limits: {per_day: 1}
Y
)
edsim_start day --config "$cfg" || exit 1
{
	login alice
	one_message day-1
	cat <<'S'
> MAIL FROM:<app@example.com>
< 455 Maximum messages sent per day reached : limit is 1
S
} | dialog_check "2nd message of the same user in a day: 455 per day at MAIL" starttls "$SMTP_PORT"
edsim_stop day

# ---- store quota ---------------------------------------------------------------
cfg=$(write_config store.yaml <<'Y'
limits: {store_bytes: 2000}
Y
)
edsim_start store --config "$cfg" || exit 1
# padded SUBJECT N: a message with N filler body lines of 100 bytes.
padded() {
	message_lines app@example.com someone@example.net "$1" | sed '$d'
	for i in $(seq 1 "$2"); do printf '> %098d\n' 0; done
	echo "> ."
}
envelope() {
	cat <<'S'
> MAIL FROM:<app@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
}
{
	login user
	envelope
	padded store-first 9 # about 1 KB
	echo "<~ 250 2.0.0 Ok: queued as"
	envelope
	padded store-too-big 10 # about 1.1 KB more: over 2000
	echo "< 452 System storage error"
	envelope
	padded store-small 2 # about 300 B more: still fits
	echo "<~ 250 2.0.0 Ok: queued as"
} | dialog_check "a message that would take the store over store_bytes: 452 System storage error" starttls "$SMTP_PORT"
check "stored: the first and the small message, not the one over the quota" "store-small store-first" \
	"$(api GET "/api/v1/messages?subject=store-" | json "' '.join(m['subject'] for m in d['messages'])")"
edsim_stop store

# ---- SIGTERM with open sessions ---------------------------------------------------
edsim_start term || exit 1
dialog plain "$SMTP_PORT" >"$T/idle.out" <<S &
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
touch $T/idle.ready
< 421 4.3.0 Mail system failure, closing transmission channel
closed
S
idle_pid=$!
dialog starttls "$SMTP_PORT" >"$T/data.out" <<S &
$(login user)
> MAIL FROM:<app@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
> From: app@example.com
> Subject: term-in-data
>
touch $T/data.ready
wait $T/data.go
> the rest of the message, after SIGTERM
> .
<~ 250 2.0.0 Ok: queued as
< 421 4.3.0 Mail system failure, closing transmission channel
closed
S
data_pid=$!
poll 100 test -f "$T/idle.ready"
poll 100 test -f "$T/data.ready"
term_pid=${EDSIM_PID[term]}
kill -TERM "$term_pid"
wait "$idle_pid"
check "SIGTERM: the idle client reads 421 4.3.0 and the connection closes" 0 $?
sed 's/^/    /' "$T/idle.out"
check "while a transaction is open edsim keeps running, draining" draining \
	"$(api GET /api/v1/health | json "d['status']")"
touch "$T/data.go"
wait "$data_pid"
check "SIGTERM in DATA: the transaction ends with 250, then 421 4.3.0 and close" 0 $?
sed 's/^/    /' "$T/data.out"
exited() { ! kill -0 "$term_pid" 2>/dev/null; }
poll 50 exited
check "edsim exits within 5 s once its sessions are gone" yes "$(exited && echo yes || echo no)"
edsim_stop term
edsim_start term || exit 1
check "the message finished during the drain was kept" 1 \
	"$(api GET "/api/v1/messages?subject=term-in-data" | json "len(d['messages'])")"
edsim_stop term
