#!/usr/bin/env bash
# pipelining: commands sent in one write are answered in order (RFC 2920),
# including a refused recipient in the middle; swaks --pipeline delivers.
. "$(dirname "$0")/lib.bash"

cfg=$(write_config pipelining.yaml <<'Y'
auth: {required: false}
Y
)
edsim_start main --config "$cfg" || exit 1

dialog_check "MAIL, RCPT, RCPT(invalid), RCPT, DATA in one write: replies in order" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO pipeliner.test
<~ 250-PIPELINING
<~ 250 ENHANCEDSTATUSCODES
>> MAIL FROM:<app@example.com>\r\nRCPT TO:<one@example.net>\r\nRCPT TO:<bad@@x>\r\nRCPT TO:<two@example.net>\r\nDATA\r\n
< 250 2.1.0 Sender OK
< 250 2.1.5 Recipient OK
< 553 <bad@@x> Invalid email address
< 250 2.1.5 Recipient OK
< 354 End data with <CR><LF>.<CR><LF>
> From: app@example.com
> To: one@example.net, two@example.net
> Subject: pipelined-1
>
> hello
> .
<~ 250 2.0.0 Ok: queued as
> QUIT
< 221 2.0.0 Bye
closed
S
check "the pipelined message went to the two valid recipients" "one@example.net two@example.net" \
	"$(api GET "/api/v1/messages?subject=pipelined-1" | json "' '.join(r['address'] for r in d['messages'][0]['to'])")"

# Two whole transactions in one write each: the body, the dot, RSET and the
# next commands follow the DATA without waiting (the session holds input
# while a message is committed, so the replies still come in order).
dialog_check "a whole transaction and the next one pipelined behind the dot: replies in order" plain "$SMTP_PORT" <<'S'
<~ 220 localhost ESMTP
> EHLO pipeliner.test
<~ 250 ENHANCEDSTATUSCODES
>> MAIL FROM:<app@example.com>\r\nRCPT TO:<three@example.net>\r\nDATA\r\n
< 250 2.1.0 Sender OK
< 250 2.1.5 Recipient OK
< 354 End data with <CR><LF>.<CR><LF>
>> Subject: pipelined-2\r\n\r\nbody\r\n.\r\nMAIL FROM:<app@example.com>\r\nRCPT TO:<nobody>\r\nRSET\r\nNOOP\r\nQUIT\r\n
<~ 250 2.0.0 Ok: queued as
< 250 2.1.0 Sender OK
< 553 <nobody> Invalid email address
< 250 2.0.0 Ok
< 250 2.0.0 Ok
< 221 2.0.0 Bye
closed
S
check "the second pipelined message is stored" 1 \
	"$(api GET "/api/v1/messages?subject=pipelined-2" | json "len(d['messages'])")"

out=$(timeout 30 swaks --server 127.0.0.1 --port "$SMTP_PORT" --pipeline \
	--from app@example.com --to one@example.net,two@example.net --header "Subject: pipelined-swaks" 2>&1)
check "swaks --pipeline delivers" 0 $?
echo "$out" | sed 's/^/    /' | tail -20
check_contains "swaks pipelined MAIL, RCPT, RCPT and DATA" " -> MAIL FROM:<app@example.com>
 -> RCPT TO:<one@example.net>
 -> RCPT TO:<two@example.net>
 -> DATA" "$out"
check "the swaks message is stored for both recipients" "one@example.net two@example.net" \
	"$(api GET "/api/v1/messages?subject=pipelined-swaks" | json "' '.join(r['address'] for r in d['messages'][0]['to'])")"
edsim_stop main
