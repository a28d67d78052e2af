#!/usr/bin/env bash
# basic: greeting, EHLO capabilities, STARTTLS + AUTH PLAIN, a stored message.
. "$(dirname "$0")/lib.bash"
edsim_start main || exit 1

out=$(dialog plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO client.test
< 250-localhost Hello client.test
< 250-PIPELINING
< 250-SIZE 2097152
< 250-8BITMIME
< 250-STARTTLS
< 250 ENHANCEDSTATUSCODES
> QUIT
< 221 2.0.0 Bye
closed
S
)
check "EHLO in clear offers STARTTLS, not AUTH" 0 $?
echo "$out"

out=$(dialog starttls "$SMTP_PORT" <<'S'
> EHLO client.test
<~ 250-AUTH PLAIN LOGIN
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN AHVzZXIAcGFzcw==
< 235 2.7.0 Authentication successful
> MAIL FROM:<app@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
> From: app@example.com
> To: someone@example.net
> Subject: basic test
> Message-ID: <basic-1@example.com>
>
> ..dot-stuffed line
> .
<~ 250 2.0.0 Ok: queued as
> QUIT
< 221 2.0.0 Bye
S
)
check "a message over STARTTLS with AUTH PLAIN is accepted" 0 $?
echo "$out"

list=$(api GET "/api/v1/messages?subject=basic")
check "the message is in the store" "<basic-1@example.com>" "$(echo "$list" | json "d['messages'][0]['message_id']")"
id=$(echo "$list" | json "d['messages'][0]['id']")
raw=$(api GET "/api/v1/messages/$id/raw")
check_contains "dot-unstuffing keeps one dot" $'\n.dot-stuffed line' "$raw"
edsim_stop main
