#!/usr/bin/env bash
# durability: kill -9 in the middle of a load of 1 000 messages loses none
# that were acknowledged. The client writes each Message-ID to the acked file
# only after its 250 arrived; after a restart on the same state directory
# every one of them must be in the store (the store may hold more: committed
# but not yet acknowledged when the kill came).
. "$(dirname "$0")/lib.bash"
cfg=$(write_config durability.yaml <<'Y'
auth: { required: false }
Y
)
edsim_start dur --config "$cfg" || exit 1
state=$T/dur/state
acked=$T/acked
: >"$acked"

# 10 sessions x 100 messages; the small delay spreads the load over ~2 s so
# that the kill lands in its middle.
timeout 120 python3 "$HERE/clients/smtp_load.py" --port "$SMTP_PORT" --sessions 10 \
	--per-session 100 --prefix dur --delay 0.02 --acked "$acked" >"$T/load.json" 2>"$T/load.err" &
load=$!

acked_count() { wc -l <"$acked"; }
enough_acked() { [ "$(acked_count)" -ge 400 ]; }
wait_until 1500 0.01 enough_acked
at_kill=$(acked_count)
edsim_kill dur
echo "edsim killed with SIGKILL when $at_kill messages were acknowledged"
wait "$load"
check "the client ends with failures (the server died under it)" 1 "$?"
check "the kill came in the middle of the load (1 to 999 acknowledged before it)" yes \
	"$([ "$at_kill" -ge 1 ] && [ "$at_kill" -le 999 ] && echo yes || echo "no: $at_kill")"
check "the client's summary counts the same acknowledged messages as the acked file" \
	"$(acked_count)" "$(json "d['acked']" <"$T/load.json" 2>&1)"
n_acked=$(acked_count)

edsim_start dur --config "$cfg" || exit 1
pass "edsim restarts on the state directory left by kill -9"
api GET "/api/v1/messages?limit=2000" >"$T/list.json"
message_ids <"$T/list.json" >"$T/stored"
n_stored=$(wc -l <"$T/stored")
echo "durability: $n_acked acknowledged, $n_stored stored after the restart"
check "every acknowledged Message-ID is in the store after the restart" "" \
	"$(LC_ALL=C comm -23 <(LC_ALL=C sort "$acked") "$T/stored" | head -10)"
check "the store holds no duplicate Message-ID" "" "$(uniq -d "$T/stored" | head -5)"
check "the store holds only messages the client sent" "" \
	"$(grep -v -E '^<dur-[0-9]-([0-9]|[1-9][0-9])@load\.test>$' "$T/stored" | head -5)"
check "each stored message is complete (size equals its raw length)" "[]" \
	"$(python3 -c 'import json,sys,urllib.request
port = sys.argv[2]
bad = []
for m in json.load(open(sys.argv[1]))["messages"][:50]:
    raw = urllib.request.urlopen("http://127.0.0.1:%s/api/v1/messages/%s/raw" % (port, m["id"]), timeout=10).read()
    if len(raw) != m["size"] or m["message_id"].encode() not in raw:
        bad.append(m["id"])
print(bad)' "$T/list.json" "$CONTROL_PORT" 2>&1)"

# The SQLite file itself.
check "the database is in WAL mode" wal "$(sqlite3 "$state/edsim.db" 'PRAGMA journal_mode' 2>&1)"
check "the database passes integrity_check" ok "$(sqlite3 "$state/edsim.db" 'PRAGMA integrity_check' 2>&1)"
check "the database holds as many messages as the API lists" "$n_stored" \
	"$(sqlite3 "$state/edsim.db" 'SELECT count(*) FROM messages' 2>&1)"
check "every stored message has its recipient" "$n_stored" \
	"$(sqlite3 "$state/edsim.db" "SELECT count(*) FROM messages WHERE json_array_length(recipients) = 1" 2>&1)"

# The restarted server accepts and keeps new mail.
out=$(timeout 60 python3 "$HERE/clients/smtp_load.py" --port "$SMTP_PORT" --sessions 2 \
	--per-session 5 --prefix after)
check "after the restart 10 more messages get 250" "{'250': 10}" "$(echo "$out" | json "d['codes']" 2>&1)"
check "the store then lists $((n_stored + 10)) messages" "$((n_stored + 10))" \
	"$(api GET "/api/v1/messages?limit=2000" | message_ids | wc -l)"
edsim_stop dur
check "a clean stop leaves no ready file" no "$([ -e "$state/edsim.ready" ] && echo yes || echo no)"
