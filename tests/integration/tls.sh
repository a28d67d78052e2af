#!/usr/bin/env bash
# tls: STARTTLS and implicit TLS, TLS 1.2 minimum (1.1 refused, 1.2 and 1.3
# accepted), swaks with certificate verification, STARTTLS twice, and
# plaintext pipelined after STARTTLS being discarded.
. "$(dirname "$0")/lib.bash"
edsim_start main || exit 1

deliver() { # SUBJECT: AUTH and one message, after the EHLO
	cat <<S
> AUTH PLAIN $ANY_AUTH
< 235 2.7.0 Authentication successful
> MAIL FROM:<app@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	message_lines app@example.com someone@example.net "$1"
	echo "<~ 250 2.0.0 Ok: queued as"
	printf '> QUIT\n< 221 2.0.0 Bye\n'
}
stored() { api GET "/api/v1/messages?subject=$1" | json "len(d['messages'])"; }

{
	printf '> EHLO starttls-ok.test\n<~ 250 ENHANCEDSTATUSCODES\n'
	deliver tls-starttls
} | dialog_check "STARTTLS on the SMTP port: AUTH and a message work" starttls "$SMTP_PORT"
check "the STARTTLS message is stored" 1 "$(stored tls-starttls)"

{
	cat <<'S'
<~ 220 localhost ESMTP
> EHLO implicit-ok.test
< 250-localhost Hello implicit-ok.test
< 250-PIPELINING
< 250-SIZE 2097152
< 250-8BITMIME
< 250-AUTH PLAIN LOGIN
< 250 ENHANCEDSTATUSCODES
S
	deliver tls-implicit
} | dialog_check "implicit TLS on the SMTPS port: EHLO without STARTTLS, AUTH and a message work" tls "$SMTPS_PORT"
check "the implicit-TLS message is stored" 1 "$(stored tls-implicit)"
id=$(connection_with "EHLO implicit-ok.test")
check_contains "the transcript notes the TLS version and cipher" "note TLS established: TLSv1." "$(transcript "$id")"

# ---- protocol versions -----------------------------------------------------------
out=$(openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -connect "127.0.0.1:$SMTPS_PORT" </dev/null 2>&1)
rc=$?
check "TLS 1.1 on the SMTPS port: openssl s_client fails" yes "$([ $rc -ne 0 ] && echo yes || echo no)"
check_contains "TLS 1.1 on the SMTPS port: no cipher negotiated" "Cipher is (NONE)" "$out"
check_contains "TLS 1.1 on the SMTPS port: the server answers with a protocol version alert" "alert protocol version" "$out"
out=$(openssl s_client -tls1_1 -cipher 'DEFAULT:@SECLEVEL=0' -starttls smtp -connect "127.0.0.1:$SMTP_PORT" </dev/null 2>&1)
rc=$?
check "TLS 1.1 after STARTTLS: openssl s_client fails" yes "$([ $rc -ne 0 ] && echo yes || echo no)"
check_contains "TLS 1.1 after STARTTLS: no cipher negotiated" "Cipher is (NONE)" "$out"
log_has_failure() { grep -q "TLS handshake failed: unsupported protocol" "$T/main/stderr"; }
poll 30 log_has_failure
check "edsim's log shows both TLS 1.1 handshake failures" 2 \
	"$(grep -c "from 127.0.0.1: TLS handshake failed: unsupported protocol" "$T/main/stderr")"
id=$(connection_with "TLS handshake failed")
check_contains "the transcript of the refused connection notes the handshake failure" \
	"note TLS handshake failed: unsupported protocol" "$(transcript "$id")"

for v in 1_2 1_3; do
	name=TLSv${v/_/.}
	out=$(openssl s_client -tls$v -CAfile "$CA" -connect "127.0.0.1:$SMTPS_PORT" </dev/null 2>&1)
	check "$name on the SMTPS port: openssl s_client succeeds" 0 $?
	check_contains "$name on the SMTPS port: negotiated" "New, $name, Cipher is" "$out"
	check_contains "$name on the SMTPS port: the certificate verifies against the CA" "Verify return code: 0 (ok)" "$out"
	out=$(openssl s_client -tls$v -CAfile "$CA" -starttls smtp -connect "127.0.0.1:$SMTP_PORT" </dev/null 2>&1)
	check "$name after STARTTLS: openssl s_client succeeds" 0 $?
	check_contains "$name after STARTTLS: negotiated" "New, $name, Cipher is" "$out"
done

# ---- swaks --------------------------------------------------------------------
out=$(timeout 30 swaks --server 127.0.0.1 --port "$SMTP_PORT" --tls --tls-ca-path "$CA" --tls-verify \
	--auth PLAIN --auth-user ocid1.user.oc1..swaks --auth-password secret \
	--from app@example.com --to someone@example.net --header "Subject: tls-swaks" 2>&1)
check "swaks --tls --tls-verify delivers" 0 $?
check_contains "swaks saw the message queued" "<~  250 2.0.0 Ok: queued as" "$out"
check "the swaks message is stored" 1 "$(stored tls-swaks)"
out=$(timeout 30 swaks --server 127.0.0.1 --port "$SMTPS_PORT" --tls-on-connect --tls-ca-path "$CA" --tls-verify \
	--auth LOGIN --auth-user user --auth-password pass \
	--from app@example.com --to someone@example.net --header "Subject: tls-swaks-implicit" 2>&1)
check "swaks --tls-on-connect --tls-verify with AUTH LOGIN delivers" 0 $?
check "the implicit-TLS swaks message is stored" 1 "$(stored tls-swaks-implicit)"

# ---- STARTTLS misuse -------------------------------------------------------------
dialog_check "STARTTLS twice: 503 5.5.1 TLS already active" starttls "$SMTP_PORT" <<'S'
> STARTTLS
< 503 5.5.1 TLS already active
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> STARTTLS
< 503 5.5.1 TLS already active
> NOOP
< 250 2.0.0 Ok
S
dialog_check "STARTTLS on the implicit-TLS port: 503 5.5.1 TLS already active" tls "$SMTPS_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> STARTTLS
< 503 5.5.1 TLS already active
S
dialog_check "STARTTLS with an argument: 501 5.5.4" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> STARTTLS now
< 501 5.5.4 Syntax error in parameters or arguments
S

# ---- plaintext pipelined after STARTTLS is discarded ---------------------------------
dialog_check "STARTTLS\\r\\nNOOP\\r\\n in one packet: only the 220 arrives before TLS" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO injected.test
<~ 250 ENHANCEDSTATUSCODES
>> STARTTLS\r\nNOOP\r\n
< 220 2.0.0 Ready to start TLS
silent 1
S
id=$(connection_with "EHLO injected.test")
tr=$(transcript "$id")
check_contains "the transcript has the STARTTLS" "in STARTTLS" "$tr"
check_not_contains "the transcript has no NOOP: it was dropped unread" "in NOOP" "$tr"

out=$(python3 - "$SMTP_PORT" "$CA" <<'P' 2>&1
import socket, ssl, sys
port, ca = int(sys.argv[1]), sys.argv[2]
s = socket.create_connection(("127.0.0.1", port), timeout=10)
f = s.makefile("rb")
def reply():
    lines = []
    while True:
        l = f.readline().decode().rstrip("\r\n")
        lines.append(l)
        if len(l) < 4 or l[3] != "-":
            return lines
reply()
s.sendall(b"EHLO injector.test\r\n"); reply()
s.sendall(b"STARTTLS\r\nMAIL FROM:<injected@example.com>\r\nNOOP\r\n")
print("plain:", reply()[0])
ctx = ssl.create_default_context(cafile=ca)
t = ctx.wrap_socket(s, server_hostname="localhost")
tf = t.makefile("rb")
t.sendall(b"EHLO after.test\r\n")
print("tls:", tf.readline().decode().rstrip("\r\n"))
P
)
check "python: STARTTLS with plaintext pipelined behind it gets the 220" "plain: 220 2.0.0 Ready to start TLS" "$(echo "$out" | sed -n 1p)"
check "python: the first reply inside TLS answers the EHLO, not the injected commands" \
	"tls: 250-localhost Hello after.test" "$(echo "$out" | sed -n 2p)"
edsim_stop main
