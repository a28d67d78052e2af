#!/usr/bin/env bash
# refclient: the conformance reference client (conformance/clients/refclient.c)
# against edsim: plain delivery over SMTP (STARTTLS and implicit TLS) and HTTPS,
# the good policy's retries with growing gaps against 451 twice, 429 twice (the
# same opc-request-id each time, Retry-After honoured) and a stalled MAIL, the
# naive policy's single attempt, no retry after 535, 254 taken as delivered,
# usage errors, and no sanitizer report from the client.
. "$(dirname "$0")/lib.bash"

EDSIM_REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}
REFCLIENT=${REFCLIENT:-$EDSIM_REPO/build/asan/refclient}
[ -x "$REFCLIENT" ] || {
	fail "no refclient at $REFCLIENT (make build/asan/refclient)"
	exit 1
}
SC=$EDSIM_REPO/scenarios/oci
cfg=$(write_config refclient.yaml <<'Y'
auth: {required: true}
users: [{name: conform-user, password: conform-pass, approved_senders: ["*@example.com"]}]
Y
)

# start NAME [--scenario FILE]: edsim with the config; sets HTTPS_URL too.
start() {
	edsim_start "$1" --config "$cfg" "${@:2}" || exit 1
	HTTPS_URL=https://127.0.0.1:$(ready_field "$T/$1/state/edsim.ready" https)
}

# eml ID: writes a message with Message-ID <ID> (and a line that needs dot-stuffing).
eml() {
	printf 'From: sender@example.com\r\nTo: rcpt@example.net\r\nSubject: refclient %s\r\nMessage-ID: <%s>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\nhello\r\n.dot line\r\n' \
		"$1" "$1" >"$T/$1.eml"
}

# send NAME ID POLICY [more args]: runs the client for message <ID>; its stdout in OUT
# and $T/NAME.out, its exit status in STATUS, the time it took (ms) in MS.
send() {
	local name=$1 id=$2 policy=$3 t0
	shift 3
	eml "$id"
	t0=$(date +%s%N)
	ASAN_OPTIONS=detect_leaks=1 "$REFCLIENT" --policy "$policy" --smtp-host 127.0.0.1 \
		--smtp-port "$SMTP_PORT" --smtps-port "$SMTPS_PORT" --https-url "$HTTPS_URL" --ca "$CA" \
		--user conform-user --password conform-pass --from sender@example.com \
		--to rcpt@example.net --subject "refclient $id" --message-id "<$id>" \
		--eml "$T/$id.eml" --seed 7 "$@" >"$T/$name.out" 2>"$T/$name.err"
	STATUS=$?
	MS=$((($(date +%s%N) - t0) / 1000000))
	OUT=$(cat "$T/$name.out")
	sed "s/^/    $name| /" "$T/$name.out"
}

attempts() { grep -c '^attempt ' <<<"$OUT"; }
# stored ID: how many stored messages have Message-ID <ID>.
stored() { api GET /api/v1/messages | message_ids | grep -cxF "<$1>"; }
# gaps STAGE: seconds between successive events at STAGE, one a line ("1.102").
gaps() {
	api GET /api/v1/events | python3 -c '
import json, sys
from datetime import datetime
t = [datetime.strptime(e["time"], "%Y-%m-%dT%H:%M:%S.%fZ") for e in json.load(sys.stdin)["events"]
     if e["stage"] == sys.argv[1]]
print("\n".join("%.3f" % (b - a).total_seconds() for a, b in zip(t, t[1:])))' "$1"
}
# growing_from_1s GAPS...: every gap at least 1 s, each longer than the one before.
growing_from_1s() {
	python3 -c 'import sys; g = [float(x) for x in sys.argv[1:]]
sys.exit(0 if g and g[0] >= 1 and all(b > a for a, b in zip(g, g[1:])) else 1)' "$@"
}

# ---- plain delivery -----------------------------------------------------------------------
start plain
send smtp plain-1@example.com good
check "SMTP (STARTTLS, AUTH PLAIN): exit 0" 0 "$STATUS"
check_contains "SMTP: attempt 1 answered 250" "attempt 1: 250 " "$OUT"
check "SMTP: one attempt, delivered" "delivered after 1 attempt(s)" "$(tail -1 <<<"$OUT")"
check "SMTP: the message is stored once with its Message-ID" 1 "$(stored plain-1@example.com)"
check "SMTP: stored for the authenticated user" "conform-user" \
	"$(api GET /api/v1/messages | json "d['messages'][0]['user']")"
id=$(api GET /api/v1/messages | json "d['messages'][0]['id']")
check_contains "SMTP: the leading dot survives (libcurl dot-stuffs)" $'\r\n.dot line' \
	"$(api GET "/api/v1/messages/$id/raw")"
send smtps plain-2@example.com good --tls implicit
check "SMTPS (implicit TLS): exit 0, stored once" "0 1" "$STATUS $(stored plain-2@example.com)"
send https plain-3@example.com good --protocol https
check "HTTPS: exit 0" 0 "$STATUS"
check_contains "HTTPS: attempt 1 answered 200 with the messageId" \
	"attempt 1: 200 messageId <plain-3@example.com>" "$OUT"
check "HTTPS: the message is stored once with its Message-ID" 1 "$(stored plain-3@example.com)"
check "HTTPS: one accepted event at stage https" "accepted|200" \
	"$(api GET /api/v1/events | json "'|'.join(str(x) for e in d['events'] if e['stage'] == 'https' for x in (e['type'], e['code']))")"
send usage plain-4@example.com good --max-attempts 0
check "a bad option value: exit 2" 2 "$STATUS"
check_contains "a bad option value: the usage on stderr" "usage: refclient" "$(cat "$T/usage.err")"
edsim_stop plain

# ---- 451 twice at the end of DATA ---------------------------------------------------------
start twice --scenario "$SC/smtp/composite/oci.smtp.composite.server-error-twice.yaml"
send twice-good twice-1@example.com good
check "451 twice, good: exit 0 after 3 attempts" "0 3" "$STATUS $(attempts)"
check "451 twice, good: 451, 451, then 250" "451 451 250" \
	"$(sed -n 's/^attempt [0-9]*: \([0-9]*\).*/\1/p' <<<"$OUT" | xargs)"
check "451 twice, good: delivered" "delivered after 3 attempt(s)" "$(tail -1 <<<"$OUT")"
check "451 twice, good: stored once" 1 "$(stored twice-1@example.com)"
g=$(gaps data-end | xargs)
if growing_from_1s $g; then pass "451 twice, good: gaps between tries (edsim's clock) >= 1 s and growing: $g"; else
	fail "451 twice, good: gaps between tries >= 1 s and growing: $g"
fi
edsim_stop twice
start twice-naive --scenario "$SC/smtp/composite/oci.smtp.composite.server-error-twice.yaml"
send twice-naive twice-2@example.com naive
check "451 twice, naive: exit 1 after 1 attempt" "1 1" "$STATUS $(attempts)"
check_contains "451 twice, naive: the failure names 451" "failed: gave up after 1 attempts: 451" "$OUT"
check "451 twice, naive: nothing stored" 0 "$(stored twice-2@example.com)"
edsim_stop twice-naive

# ---- 535 at AUTH: permanent ------------------------------------------------------------------
start auth --scenario "$SC/smtp/oci.smtp.auth-invalid.yaml"
for policy in good naive; do
	send "auth-$policy" "auth-$policy@example.com" "$policy"
	check "535, $policy: exit 1 after 1 attempt" "1 1" "$STATUS $(attempts)"
	check_contains "535, $policy: a permanent failure naming 535" "failed: permanent: 535" "$OUT"
done
edsim_stop auth

# ---- 254 Suppression: delivered ---------------------------------------------------------------
start suppressed --scenario "$SC/smtp/oci.smtp.suppressed.yaml"
send suppressed suppressed-1@example.com good
check "254, good: exit 0 after 1 attempt" "0 1" "$STATUS $(attempts)"
check_contains "254, good: the reply is shown" "attempt 1: 254 4.7.1 Suppression for user conform-user" "$OUT"
check "254, good: stored once" 1 "$(stored suppressed-1@example.com)"
edsim_stop suppressed

# ---- MAIL stalls: the reply timeout, then a new connection --------------------------------------
start stall --scenario "$SC/smtp/composite/oci.smtp.composite.stall-then-timeout.yaml"
send stall stall-1@example.com good --reply-timeout 2
check "stall, good: exit 0 after 2 attempts" "0 2" "$STATUS $(attempts)"
check_contains "stall, good: the stalled attempt has no reply" "attempt 1: no reply:" "$OUT"
check "stall, good: stored once" 1 "$(stored stall-1@example.com)"
check "stall, good: delivered on a second connection" 2 \
	"$(api GET /api/v1/messages | json "d['messages'][0]['connection']")"
if ((MS >= 3000 && MS < 6000)); then pass "stall, good: 2 s reply timeout + 1 s backoff (${MS} ms)"; else
	fail "stall, good: took ${MS} ms, expected 3000..6000"
fi
edsim_stop stall

# ---- HTTPS: 429 twice, then 200 -----------------------------------------------------------------
start h429 --scenario "$SC/https/composite/oci.https.composite.429-twice-then-200.yaml"
send h429 h429-1@example.com good --protocol https
check "429 twice, good: exit 0 after 3 attempts" "0 3" "$STATUS $(attempts)"
check "429 twice, good: 429, 429, then 200" "429 429 200" \
	"$(sed -n 's/^attempt [0-9]*: \([0-9]*\).*/\1/p' <<<"$OUT" | xargs)"
# edsim counts attempts by opc-request-id and echoes it: the third try only
# succeeds if all three carried the same one.
check "429 twice, good: the same opc-request-id on all 3 requests (echoed)" "3 1" \
	"$(grep -o 'opc-request-id [0-9A-F]*' <<<"$OUT" | wc -l) $(grep -o 'opc-request-id [0-9A-F]*' <<<"$OUT" | sort -u | wc -l)"
check "429 twice, good: stored once" 1 "$(stored h429-1@example.com)"
check "429 twice, good: one accepted event at stage https" 1 \
	"$(api GET /api/v1/events | json "sum(1 for e in d['events'] if e['stage'] == 'https' and e['type'] == 'accepted')")"
waits=$(sed -n 's/^waiting \([0-9.]*\)s.*/\1/p' <<<"$OUT" | xargs)
if growing_from_1s $waits; then pass "429 twice, good: waits >= 1 s and growing: $waits"; else
	fail "429 twice, good: waits >= 1 s and growing: $waits"
fi
send h429-naive h429-2@example.com naive --protocol https
check "429, naive: exit 1 after 1 attempt" "1 1" "$STATUS $(attempts)"
check_contains "429, naive: the failure names 429" "failed: gave up after 1 attempts: 429" "$OUT"
edsim_stop h429

# ---- HTTPS: Retry-After is honoured -----------------------------------------------------------
cat >"$T/retry-after.yaml" <<'Y'
edsim: 1
name: refclient.retry-after
title: "429 with Retry-After: 2, then 200"
rules:
  - when: { stage: request, attempt: 1 }
    do: { reply: oci.https.too-many-requests, headers: { Retry-After: "2" } }
Y
start retry --scenario "$T/retry-after.yaml"
send retry retry-1@example.com good --protocol https --base-delay 0.1
check "Retry-After 2: exit 0 after 2 attempts" "0 2" "$STATUS $(attempts)"
check_contains "Retry-After 2: waits 2 s, not the 0.1 s base delay" "waiting 2.0s before attempt 2" "$OUT"
if ((MS >= 2000)); then pass "Retry-After 2: took ${MS} ms"; else fail "Retry-After 2: took only ${MS} ms"; fi
edsim_stop retry

# ---- the client's own sanitizer reports ---------------------------------------------------------
if grep -l -E 'Sanitizer|runtime error' "$T"/*.err >/dev/null 2>&1; then
	fail "refclient: sanitizer report"
	grep -h -A20 -E 'Sanitizer|runtime error' "$T"/*.err | head -60
else
	pass "refclient: no sanitizer report in $(ls "$T"/*.err | wc -l) runs"
fi
