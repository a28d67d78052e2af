#!/usr/bin/env bash
# conditions_message: 554 Message parse error for content that is not an
# RFC 5322 message (no header section, header section over header_bytes, a
# malformed header line), and 250 for a well-formed one.
. "$(dirname "$0")/lib.bash"

cfg=$(write_config message.yaml <<'Y'
limits: {header_bytes: 1024}
Y
)
edsim_start main --config "$cfg" || exit 1

# transaction SUBJECT-TAG: AUTH and envelope up to the 354, over STARTTLS.
transaction() {
	cat <<S
> EHLO client.test
<~ 250 ENHANCEDSTATUSCODES
> AUTH PLAIN $ANY_AUTH
< 235 2.7.0 Authentication successful
> MAIL FROM:<app@example.com>
< 250 2.1.0 Sender OK
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
}
# then: after the 554 the session goes on, and a second transaction works.
still_usable() {
	cat <<'S'
> RSET
< 250 2.0.0 Ok
> MAIL FROM:<app@example.com>
< 250 2.1.0 Sender OK
S
}
stored() { api GET "/api/v1/messages?subject=$1" | json "len(d['messages'])"; }

{
	transaction
	cat <<'S'
> hello world
> this is a body without any header section
> Subject: parse-no-headers
> .
< 554 Message parse error
S
	still_usable
} | dialog_check "no header section (first line 'hello world'): 554 Message parse error" starttls "$SMTP_PORT"

{
	transaction
	cat <<'S'
>  From: app@example.com
> Subject: parse-leading-blank
>
> body
> .
< 554 Message parse error
S
} | dialog_check "a first line that is a continuation line: 554 Message parse error" starttls "$SMTP_PORT"

{
	transaction
	echo "> From: app@example.com"
	echo "> Subject: parse-too-large"
	for i in $(seq 1 25); do printf '> X-Filler-%02d: %080d\n' "$i" 0; done # 25 x 96 B = 2.4 KB
	cat <<'S'
>
> body
> .
< 554 Message parse error
S
	still_usable
} | dialog_check "a 2.4 KB header section with header_bytes 1024: 554 Message parse error" starttls "$SMTP_PORT"

{
	transaction
	cat <<'S'
> From: app@example.com
> this is not a header
> Subject: parse-malformed
>
> body
> .
< 554 Message parse error
S
	still_usable
} | dialog_check "a malformed line between two headers: 554 Message parse error" starttls "$SMTP_PORT"

{
	transaction
	cat <<'S'
> From: app@example.com
> To: someone@example.net
> Subject: parse-valid
>  folded onto a second line
> Message-ID: <parse-valid-1@example.com>
> X-Filler: 0000000000000000000000000000000000000000000000000000000000000000000000000000
>
> this is not a header: but it is in the body
> hello world
> .
<~ 250 2.0.0 Ok: queued as
S
} | dialog_check "a valid message (folded header, colon in the body): 250" starttls "$SMTP_PORT"

# header_lines SUBJECT TOTAL: From, Subject and filler headers of exactly TOTAL
# bytes (CRLFs included, the blank line after them not).
header_lines() {
	python3 - "$1" "$2" <<'P'
import sys
subject, total = sys.argv[1], int(sys.argv[2])
lines = ["From: app@example.com", "Subject: " + subject]
left = total - sum(len(l) + 2 for l in lines)
i = 0
while left > 0:
    i += 1
    name = "X-Filler-%02d: " % i
    n = min(100, left - len(name) - 2)
    if left - (len(name) + n + 2) < 20 and left - (len(name) + n + 2) > 0:
        n = left - len(name) - 2  # the last line takes the rest
    lines.append(name + "0" * n)
    left -= len(name) + n + 2
assert left == 0
for l in lines:
    print("> " + l)
P
}

{
	transaction
	header_lines parse-exact-limit 1024
	cat <<'S'
>
> body
> .
<~ 250 2.0.0 Ok: queued as
S
	still_usable
	cat <<'S'
> RCPT TO:<someone@example.net>
< 250 2.1.5 Recipient OK
> DATA
< 354 End data with <CR><LF>.<CR><LF>
S
	header_lines parse-over-limit 1025
	cat <<'S'
>
> body
> .
< 554 Message parse error
S
} | dialog_check "header section of 1024 bytes (header_bytes 1024): 250; of 1025 bytes: 554" starttls "$SMTP_PORT"

check "the unparseable messages are not stored" "0 0 0 0" \
	"$(stored parse-no-headers) $(stored parse-leading-blank) $(stored parse-too-large) $(stored parse-malformed)"
check "the valid message is stored with its unfolded subject" "parse-valid folded onto a second line" \
	"$(api GET "/api/v1/messages?subject=parse-valid" | json "d['messages'][0]['subject']")"
check "the message with 1024 header bytes is stored, the one with 1025 is not" "1 0" \
	"$(stored parse-exact-limit) $(stored parse-over-limit)"
edsim_stop main
