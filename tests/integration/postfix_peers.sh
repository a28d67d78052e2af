#!/usr/bin/env bash
# postfix_peers: Postfix's smtp-source delivers to edsim, one connection per
# message and reusing connections (-d); every message is stored, whole.
. "$(dirname "$0")/lib.bash"

cfg=$(write_config peers.yaml <<'Y'
auth: { required: false }
limits: { connections_per_ip: 100 }
Y
)
edsim_start peers --config "$cfg" || exit 1

out=$(timeout 60 smtp-source -s 5 -m 100 -l 1024 -S peer-new -f source@example.com \
	-t sink@example.net 127.0.0.1:"$SMTP_PORT" 2>&1)
check "smtp-source (new connection per message) reports no error" "" "$out"
out=$(timeout 60 smtp-source -d -s 5 -m 100 -l 1024 -S peer-reuse -f source@example.com \
	-t sink@example.net 127.0.0.1:"$SMTP_PORT" 2>&1)
check "smtp-source -d (connections reused) reports no error" "" "$out"

list=$(api GET "/api/v1/messages?limit=1000")
check "all 200 messages are stored" 200 "$(echo "$list" | json "len(d['messages'])")"
check "100 of them came one connection per message" 100 \
	"$(echo "$list" | json "len(set(m['connection'] for m in d['messages'] if m['subject'] == 'peer-new'))")"
check "the reused connections carried the other 100" 5 \
	"$(echo "$list" | json "len(set(m['connection'] for m in d['messages'] if m['subject'] == 'peer-reuse'))")"
check "every message has the envelope smtp-source gave" "source@example.com sink@example.net" \
	"$(echo "$list" | json "' '.join(sorted(set(m['from'] + ' ' + m['to'][0]['address'] for m in d['messages'])))")"
id=$(echo "$list" | json "d['messages'][0]['id']")
size=$(api GET "/api/v1/messages/$id/raw" | wc -c)
if [ "$size" -ge 1024 ]; then pass "a stored message holds the 1 KB body ($size bytes)"; else fail "a stored message is only $size bytes"; fi
edsim_stop peers
