#!/usr/bin/env bash
# relay_dkim: messages From a configured domain are stored (and relayed)
# with a DKIM-Signature (rsa-sha256, relaxed/relaxed) that an independent
# verifier (python3-dkim, dkim_verify.py) accepts, over SMTP and over HTTPS
# submitEmail, also after relaying to a second edsim; a tampered copy fails;
# other domains are not signed; a missing key file stops edsim at start.
. "$(dirname "$0")/lib.bash"

VERIFY=$HERE/dkim_verify.py
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/key.pem" 2>"$T/openssl.err" &&
	openssl pkey -in "$T/key.pem" -pubout -out "$T/pub.pem" 2>>"$T/openssl.err"
check "openssl makes an RSA 2048 key pair" 0 $?
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$T/other-key.pem" 2>/dev/null &&
	openssl pkey -in "$T/other-key.pem" -pubout -out "$T/other-pub.pem" 2>/dev/null

# verify FILE [PUB]: dkim_verify.py's output line and exit status, "dkim: pass 0".
verify() {
	local out rc
	out=$(/usr/bin/python3 "$VERIFY" "$1" "${2:-$T/pub.pem}" 2>"$1.verify-err")
	rc=$?
	echo "$out $rc"
}
# sig_tags FILE: the tags of the first header field if it is DKIM-Signature, as
# "d=... s=... a=... c=..." (unfolded), or "no DKIM-Signature first: <first line>".
sig_tags() {
	python3 - "$1" <<'P'
import re, sys
raw = open(sys.argv[1], "rb").read().decode("utf-8", "replace")
head = raw.split("\r\n\r\n", 1)[0]
fields = re.split(r"\r\n(?![ \t])", head)
first = fields[0]
if not first.lower().startswith("dkim-signature:"):
    print("no DKIM-Signature first: %r" % first[:60])
    sys.exit()
value = re.sub(r"\r\n[ \t]+", " ", first.split(":", 1)[1])
tags = {}
for part in value.split(";"):
    if "=" in part:
        k, v = part.split("=", 1)
        tags[k.strip()] = re.sub(r"\s+", "", v)
print(" ".join("%s=%s" % (k, tags.get(k)) for k in ("v", "d", "s", "a", "c")),
      "h-has-from=%s" % ("from" in tags.get("h", "").lower().split(":")), "bh=%s" % bool(tags.get("bh")),
      "b=%s" % bool(tags.get("b")))
P
}
EXPECT_TAGS="v=1 d=example.com s=sel1 a=rsa-sha256 c=relaxed/relaxed h-has-from=True bh=True b=True"
has_dkim() { grep -c -i '^DKIM-Signature:' "$1"; }

# --- the downstream: a second edsim in capture mode ------------------------------
cfg=$(write_config down.yaml <<'Y'
auth: { required: false }
Y
)
edsim_start down --config "$cfg" || { fail "edsim down did not start"; exit 1; }
DOWN_SMTP=$SMTP_PORT DOWN_CONTROL=$CONTROL_PORT

cfg=$(write_config up.yaml <<Y
auth: { required: false }
dkim: [{ domain: example.com, selector: sel1, key: "$T/key.pem" }]
relay: { mode: smarthost, host: 127.0.0.1, port: $DOWN_SMTP, tls: none }
Y
)
edsim_start up --config "$cfg" || { fail "edsim up did not start"; exit 1; }
UP_CONTROL=$CONTROL_PORT
UP_HTTPS=$(ready_field "$T/up/state/edsim.ready" https)

# raw_of PORT MESSAGE-ID FILE: fetches the raw message with that Message-ID from
# the edsim whose control port is PORT; false when there is none (yet).
raw_of() {
	local id
	id=$(curl -s "http://127.0.0.1:$1/api/v1/messages?limit=1000" |
		json "[m['id'] for m in d['messages'] if m['message_id'] == '$2'][0]" 2>/dev/null) || return 1
	curl -s -o "$3" "http://127.0.0.1:$1/api/v1/messages/$id/raw"
}

# --- over SMTP (swaks), From someone@example.com ----------------------------------
# A body that canonicalisation has to get right: trailing blanks, tabs inside
# lines, a dot-stuffed line, a long line, and empty lines at the end.
{
	printf 'From: Some One <someone@example.com>\r\n'
	printf 'To: rcpt@example.net\r\n'
	printf 'Subject: dkim over smtp,\r\n\tfolded subject\r\n'
	printf 'Message-ID: <dkim-smtp@example.com>\r\n'
	printf 'Date: Wed, 25 Nov 2026 10:00:00 +0000\r\n'
	printf '\r\n'
	printf 'Hello DKIM.   \r\n'
	printf 'a\t tab  inside \t line\r\n'
	printf '.a line starting with a dot\r\n'
	printf '%s\r\n' "$(printf 'x%.0s' $(seq 1 300))"
	printf '\r\n\r\n'
} >"$T/smtp.eml"
swaks --server "127.0.0.1:$SMTP_PORT" --from someone@example.com --to rcpt@example.net \
	--data "@$T/smtp.eml" --timeout 20 >"$T/swaks-smtp" 2>&1
check "swaks sends From someone@example.com" 0 $?
raw_of "$UP_CONTROL" "<dkim-smtp@example.com>" "$T/smtp-raw.eml"
check "the stored message (GET /raw) starts with a DKIM-Signature: d=example.com s=sel1 rsa-sha256 relaxed/relaxed" \
	"$EXPECT_TAGS" "$(sig_tags "$T/smtp-raw.eml")"
check "exactly one DKIM-Signature" 1 "$(has_dkim "$T/smtp-raw.eml")"
check "dkim_verify.py: the stored message verifies" "dkim: pass 0" "$(verify "$T/smtp-raw.eml")"
[ -s "$T/smtp-raw.eml.verify-err" ] && sed 's/^/    /' "$T/smtp-raw.eml.verify-err"
check "dkim_verify.py with another public key: fail" "dkim: fail 1" "$(verify "$T/smtp-raw.eml" "$T/other-pub.pem")"
# sent_data FILE: the message data a swaks transcript shows, dot-unstuffed, CRLF line ends.
sent_data() {
	python3 -c 'import re,sys
lines, on = [], False
for l in open(sys.argv[1], encoding="utf-8", errors="replace").read().split("\n"):
    m = re.match(r"^ [~-]> ?(.*)$", l)
    if re.match(r"^<[~-] +354 ", l):
        on = True
    elif on and m and m.group(1) == ".":
        break
    elif on and m:
        s = m.group(1)
        lines.append(s[1:] if s.startswith(".") else s)
sys.stdout.buffer.write("".join(x + "\r\n" for x in lines).encode())' "$1"
}
sent_data "$T/swaks-smtp" >"$T/smtp-sent.eml"
check "the stored message is the DKIM-Signature field, then exactly what was sent" same \
	"$(python3 -c 'import sys
raw = open(sys.argv[1], "rb").read(); sent = open(sys.argv[2], "rb").read()
i = raw.find(b"\r\n", 0)
while raw[i + 2:i + 3] in (b" ", b"\t"):
    i = raw.find(b"\r\n", i + 2)
print("same" if raw[i + 2:] == sent and len(sent) > 100 else "differs")' "$T/smtp-raw.eml" "$T/smtp-sent.eml" 2>&1)"

# tampered copies: one body character, one signed header
python3 -c 'import sys
raw = open(sys.argv[1], "rb").read()
h, b = raw.split(b"\r\n\r\n", 1)
open(sys.argv[2], "wb").write(h + b"\r\n\r\n" + b.replace(b"Hello DKIM", b"Hello DKIN", 1))
open(sys.argv[3], "wb").write(raw.replace(b"Subject: dkim over smtp", b"Subject: dkim over smtP", 1))' \
	"$T/smtp-raw.eml" "$T/tampered-body.eml" "$T/tampered-subject.eml"
check "a copy with one body character changed: fail" "dkim: fail 1" "$(verify "$T/tampered-body.eml")"
check "a copy with the Subject changed: fail" "dkim: fail 1" "$(verify "$T/tampered-subject.eml")"

# --- over HTTPS submitEmail ---------------------------------------------------------
body='{"sender": {"compartmentId": "ocid1.compartment.oc1..c", "senderAddress": {"email": "someone@example.com", "name": "Some One"}},
 "recipients": {"to": [{"email": "rcpt@example.net", "name": "R"}]}, "subject": "dkim over https",
 "bodyText": "plain text part\nsecond line  ", "bodyHtml": "<p>html part</p>", "messageId": "<dkim-https@example.com>"}'
status=$(curl -s -o "$T/https-answer" -w '%{http_code}' --cacert "$CA" -H 'Content-Type: application/json' \
	--data-binary "$body" "https://127.0.0.1:$UP_HTTPS/20220926/actions/submitEmail")
check "submitEmail From someone@example.com answers 200" 200 "$status"
[ "$status" != 200 ] && sed 's/^/    /' "$T/https-answer"
raw_of "$UP_CONTROL" "<dkim-https@example.com>" "$T/https-raw.eml"
check "the HTTPS message starts with the same kind of DKIM-Signature" "$EXPECT_TAGS" "$(sig_tags "$T/https-raw.eml")"
check "dkim_verify.py: the HTTPS message verifies" "dkim: pass 0" "$(verify "$T/https-raw.eml")"
[ -s "$T/https-raw.eml.verify-err" ] && sed 's/^/    /' "$T/https-raw.eml.verify-err"
python3 -c 'import sys
raw = open(sys.argv[1], "rb").read()
open(sys.argv[2], "wb").write(raw.replace(b"html part", b"html parT", 1))' "$T/https-raw.eml" "$T/https-tampered.eml"
check "the HTTPS message with its HTML changed: fail" "dkim: fail 1" "$(verify "$T/https-tampered.eml")"

# --- other domains: no signature ---------------------------------------------------------
swaks --server "127.0.0.1:$SMTP_PORT" --from someone@other.org --to rcpt@example.net \
	--header 'Message-Id: <dkim-other@other.org>' --header 'Subject: not signed' --timeout 20 >"$T/swaks-other" 2>&1
check "swaks sends From someone@other.org" 0 $?
raw_of "$UP_CONTROL" "<dkim-other@other.org>" "$T/other-raw.eml"
check "From other.org: no DKIM-Signature" 0 "$(has_dkim "$T/other-raw.eml")"
swaks --server "127.0.0.1:$SMTP_PORT" --from someone@sub.example.com --to rcpt@example.net \
	--header 'Message-Id: <dkim-sub@example.com>' --header 'Subject: subdomain' --timeout 20 >"$T/swaks-sub" 2>&1
raw_of "$UP_CONTROL" "<dkim-sub@example.com>" "$T/sub-raw.eml"
check "From sub.example.com (not the configured domain): no DKIM-Signature" 0 "$(has_dkim "$T/sub-raw.eml")"
swaks --server "127.0.0.1:$SMTP_PORT" --from someone@Example.COM --to rcpt@example.net \
	--header 'Message-Id: <dkim-case@example.com>' --header 'Subject: case' --timeout 20 >"$T/swaks-case" 2>&1
raw_of "$UP_CONTROL" "<dkim-case@example.com>" "$T/case-raw.eml"
check "From someone@Example.COM (domain case differs): signed and verifies" "1 dkim: pass 0" \
	"$(has_dkim "$T/case-raw.eml") $(verify "$T/case-raw.eml")"

# --- relayed to the downstream edsim: still verifies there ----------------------------------
delivered_up() {
	[ "$(curl -s "http://127.0.0.1:$UP_CONTROL/api/v1/queue" | json "d['messages']" 2>/dev/null)" == 0 ] &&
		[ "$(curl -s "http://127.0.0.1:$DOWN_CONTROL/api/v1/messages" | json "len(d['messages'])" 2>/dev/null)" -ge 5 ]
}
wait_until 100 0.1 delivered_up
check "upstream: every recipient delivered to the smarthost" "delivered delivered delivered delivered delivered" \
	"$(curl -s "http://127.0.0.1:$UP_CONTROL/api/v1/messages" | json "' '.join(sorted(r['state'] for m in d['messages'] for r in m['to']))" 2>&1)"
for m in smtp https; do
	raw_of "$DOWN_CONTROL" "<dkim-$m@example.com>" "$T/down-$m.eml"
	check "downstream received the $m message with its DKIM-Signature" "$EXPECT_TAGS" \
		"$(grep -i -A0 '^DKIM-Signature' "$T/down-$m.eml" >/dev/null && python3 -c 'import sys
raw = open(sys.argv[1], "rb").read()
i = raw.lower().find(b"\r\ndkim-signature:")
open(sys.argv[1] + ".sig", "wb").write(raw[i + 2:] if i >= 0 and not raw.lower().startswith(b"dkim-signature:") else raw)' "$T/down-$m.eml" && sig_tags "$T/down-$m.eml.sig")"
	check "downstream: the relayed $m message verifies" "dkim: pass 0" "$(verify "$T/down-$m.eml")"
	[ -s "$T/down-$m.eml.verify-err" ] && sed 's/^/    /' "$T/down-$m.eml.verify-err"
done
raw_of "$DOWN_CONTROL" "<dkim-other@other.org>" "$T/down-other.eml"
check "downstream: the other.org message arrived without a DKIM-Signature" "yes 0" \
	"$([ -s "$T/down-other.eml" ] && echo yes || echo no) $(has_dkim "$T/down-other.eml")"

edsim_stop up
edsim_stop down

# --- configuration errors: a missing or unusable key file ---------------------------------------
# try_start NAME CONFIG: runs edsim on CONFIG (20 s at most); sets RC, ERR, READY, SANITIZER.
try_start() {
	local dir=$T/cfg-$1
	mkdir -p "$dir"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$dir/sanitizer \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$dir/sanitizer \
		timeout 20 "$EDSIM" --config "$2" --state-dir "$dir/state" --smtp 127.0.0.1:0 \
		--smtps 127.0.0.1:0 --https 127.0.0.1:0 --control 127.0.0.1:0 >"$dir/stdout" 2>"$dir/stderr"
	RC=$?
	ERR=$(cat "$dir/stderr")
	READY=$([ -e "$dir/state/edsim.ready" ] && echo yes || echo no)
	SANITIZER=$(ls "$dir"/sanitizer* 2>/dev/null | head -1)
}
missing=$T/no-such-dir/missing-key.pem
cfg=$(write_config missing-key.yaml <<Y
dkim: [{ domain: example.com, selector: sel1, key: "$missing" }]
Y
)
try_start missing "$cfg"
echo "    stderr: $ERR"
check "missing key file: edsim exits with status 1 (not 0, not a timeout or crash)" 1 "$RC"
check_contains "missing key file: the error names the file" "$missing" "$ERR"
check "missing key file: no edsim.ready" no "$READY"
check "missing key file: no sanitizer report" "" "$SANITIZER"

printf 'this is not a PEM key\n' >"$T/garbage.pem"
cfg=$(write_config garbage-key.yaml <<Y
dkim: [{ domain: example.com, selector: sel1, key: "$T/garbage.pem" }]
Y
)
try_start garbage "$cfg"
echo "    stderr: $ERR"
check "a file that is no key: edsim exits with status 1" 1 "$RC"
check_contains "a file that is no key: the error names the file" "$T/garbage.pem" "$ERR"
check "a file that is no key: no edsim.ready" no "$READY"
check "a file that is no key: no sanitizer report" "" "$SANITIZER"
