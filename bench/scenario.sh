#!/usr/bin/env bash
# scenario.sh - cost of the scenario engine on SMTP throughput.
#
#   bench/scenario.sh [RESULTS_FILE]
#
# Target: with a 20-rule scenario loaded, SMTP throughput (the smtp-source
# benchmark) stays within 10% of the throughput with no scenario, i.e.
# (rate with scenario) / (rate without) >= 0.90.
#
# The scenario (written into the temp dir, loaded with `edsim --scenario`)
# has 20 realistic rules at every SMTP stage edsim serves for this traffic
# (connect, ehlo, mail, rcpt, data, data-end, rset, quit), none of which
# holds for smtp-source's traffic (sender bench@example.com, recipient
# sink@example.net, client 127.0.0.1, no AUTH, fewer than 1000000
# connections/commands): the engine evaluates every rule of the stage each
# time a stage is reached, no rule acts, edsim sends its native replies, and
# the comparison is of the matching cost only.
#
# For each repetition and each client mode
#   conn   a new connection per message   (smtp-source without -d)
#   reuse  connections are reused         (smtp-source -d)
# it sends MSGS messages with
#   smtp-source -s 20 -m MSGS -l 2048 -f bench@example.com -t sink@example.net [-d]
# to fresh edsim processes, interleaved:
#   file_none   durable store (state_dir/edsim.db), no scenario
#   file_scn    durable store, the 20-rule scenario
#   mem_none    store: {path: ':memory:'}, no scenario
#   mem_scn     :memory:, the 20-rule scenario
#   mem_empty   :memory:, a scenario with no rules (diagnostic, EMPTY=1):
#               separates the cost of the rules from that of having a
#               scenario loaded at all
# (without/with order alternates between repetitions). Config for all:
# auth: {required: false}, limits: {connections_per_ip: 1000}.
#
# Checks per run: the scenario is active (GET /api/v1/scenario on the control
# port: "active": true, 20 rules; "active": false without) before and after
# the load; every message was stored (sqlite3 count after SIGTERM; DELETE
# /api/v1/messages count for :memory:); no event names a rule and all MSGS
# events are "accepted" (state_dir/events.jsonl); smtp-source exit status and
# stderr; edsim exit status after SIGTERM.
#
# Results go to RESULTS_FILE (default bench/.last-scenario-results.env) as
# shell assignments (bench/run-all renders them); progress goes to stderr.
# Only loopback, only free ports (port 0, read back from edsim.ready); all
# processes it starts are stopped on exit, its temporary directory (under
# bench/) is removed.
#
# Environment: EDSIM (default ./edsim), MSGS (20000), REPS (5), SESSIONS (20),
# MEMORY (1: also the :memory: columns), EMPTY (1: also the no-rule column),
# RUN_TIMEOUT (300 s per smtp-source run).
set -u
set -o pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
EDSIM=${EDSIM:-$ROOT/edsim}
MSGS=${MSGS:-20000}
REPS=${REPS:-5}
SESSIONS=${SESSIONS:-20}
MEMORY=${MEMORY:-1}
EMPTY=${EMPTY:-1}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
OUT=${1:-$BENCH/.last-scenario-results.env}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
NRULES=20

log() { printf '[scenario %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

for tool in "$SMTP_SOURCE" python3 sqlite3 curl; do
	command -v "$tool" >/dev/null 2>&1 || die "missing $tool (apt-get install -y postfix sqlite3 curl python3)"
done
[ -x "$EDSIM" ] || die "no $EDSIM (run: make edsim)"
[ "$MEMORY" == 1 ] || EMPTY=0

TMP=$(mktemp -d "$BENCH/.tmp.XXXXXX") || die "mktemp"
declare -a PIDS=()
cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM



# scenario_state CONTROL_PORT: prints "active=<0|1> rules=<n>" from
# GET /api/v1/scenario.
scenario_state() {
	curl -s -m 10 "http://127.0.0.1:$1/api/v1/scenario" | python3 -c '
import json, sys
try:
    d = json.load(sys.stdin)
    print("active=%d rules=%s" % (1 if d.get("active") is True else 0, d.get("rules", 0)))
except Exception:
    print("active=? rules=?")'
}

CONFIG=$TMP/bench.yaml
cat >"$CONFIG" <<'EOF'
auth: {required: false}
limits: {connections_per_ip: 1000}
EOF
CONFIG_MEM=$TMP/bench-memory.yaml
cat >"$CONFIG_MEM" <<'EOF'
auth: {required: false}
limits: {connections_per_ip: 1000}
store: {path: ':memory:'}
EOF

# The 20 rules: realistic conditions and actions, matchers that never hold
# for the benchmark's traffic (see the header). Matchers that are cheap to
# reject (connection/command counters) and ones that are not (globs run
# through fnmatch against the sender and every recipient, string compares
# of client_ip and user) are both represented.
SCENARIO=$TMP/bench-20-rules.yaml
cat >"$SCENARIO" <<'EOF'
edsim: 1
name: bench.twenty-rules-never-matching
title: "20 rules at every SMTP stage that never match the benchmark traffic"
profile: oci
description: >-
  Used by bench/scenario.sh to measure the cost of rule matching: every rule
  is evaluated at its stage, none holds for smtp-source's traffic (sender
  bench@example.com, recipient sink@example.net, client 127.0.0.1, no AUTH),
  so edsim sends its native replies and stores every message.
seed: 7
rules:
  # connect (2)
  - when: { stage: connect, connection: 1000000 }
    do: { reply: oci.smtp.too-many-connections }
  - when: { stage: connect, client_ip: 10.9.9.9 }
    do: { delay: 2s }
  # ehlo (2)
  - when: { stage: ehlo, client_ip: 10.9.9.9 }
    do: { delay: 1s }
  - when: { stage: ehlo, connection: 1000000, command: 1 }
    do: { reply: oci.smtp.exec-problem }
  # mail (3)
  - when: { stage: mail, sender: "nobody-*@nowhere.test" }
    do: { reply: oci.smtp.sender-not-authorized }
  - when: { stage: mail, user: nobody }
    do: { reply: oci.smtp.rate-day }
  - when: { stage: mail, sender: "*@legacy.nowhere.test", client_ip: 10.9.9.9 }
    do: { accept: true }
  # rcpt (3)
  - when: { stage: rcpt, recipient: "*@never.test" }
    do: { suppress: true }
  - when: { stage: rcpt, recipient: "bounce-*@never.test", times: 3 }
    do: { reply: oci.smtp.invalid-address }
  - when: { stage: rcpt, sender: "nobody-*@nowhere.test", recipient: "*@busy.never.test" }
    do: { reply: "450 4.2.1 Mailbox busy", close: true }
  # data (2)
  - when: { stage: data, recipient: "*@never.test" }
    do: { reply: oci.smtp.need-rcpt }
  - when: { stage: data, user: nobody, connection: 1000000 }
    do: { drop: true }
  # data-end (4)
  - when: { stage: data-end, recipient: "*@blackhole.never.test" }
    do: { discard: true }
  - when: { stage: data-end, sender: "nobody-*@nowhere.test", attempt: 1 }
    do: { reply: oci.smtp.server-error }
  - when: { stage: data-end, client_ip: 10.9.9.9, probability: 0.25 }
    do: { reply: oci.smtp.storage-error }
  - when: { stage: data-end, user: nobody }
    do: { drop: true }
  # rset (2)
  - when: { stage: rset, connection: 1000000 }
    do: { reply: oci.smtp.mail-system-failure }
  - when: { stage: rset, client_ip: 10.9.9.9 }
    do: { close: true }
  # quit (2)
  - when: { stage: quit, user: nobody }
    do: { delay: 500ms }
  - when: { stage: quit, command: 1000000 }
    do: { drop: true }
EOF
SCENARIO_EMPTY=$TMP/bench-no-rules.yaml
cat >"$SCENARIO_EMPTY" <<'EOF'
edsim: 1
name: bench.no-rules
title: "A scenario without rules (diagnostic)"
rules: []
EOF

check_out=$("$EDSIM" check "$SCENARIO" "$SCENARIO_EMPTY" 2>&1) || die "edsim check refused the benchmark scenario: $check_out"
n=$(grep -c "^rules:" "$SCENARIO"); r=$(grep -c "^  - when:" "$SCENARIO")
[ "$n" == 1 ] && [ "$r" == "$NRULES" ] || die "the scenario has $r rules, not $NRULES"
log "$check_out"


# run_edsim MODE TAG STORE(file|memory) SCN(none|scn|empty): one edsim run.
run_edsim() {
	local mode=$1 tag=$2 store=$3 scn=$4 dir=$TMP/$2 cfg=$CONFIG pid i port control
	local peak cpu rc stored before after want rule_events accepted extra=()
	[ "$store" == memory ] && cfg=$CONFIG_MEM
	case $scn in
	scn) extra=(--scenario "$SCENARIO"); want="active=1 rules=$NRULES" ;;
	empty) extra=(--scenario "$SCENARIO_EMPTY"); want="active=1 rules=0" ;;
	*) want="active=0 rules=0" ;;
	esac
	mkdir -p "$dir"
	"$EDSIM" --config "$cfg" --state-dir "$dir/state" --smtp 127.0.0.1:0 --smtps 127.0.0.1:0 \
		--https off --control 127.0.0.1:0 "${extra[@]}" >"$dir/stderr" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	for i in $(seq 1 200); do
		[ -s "$dir/state/edsim.ready" ] && break
		kill -0 "$pid" 2>/dev/null || { cat "$dir/stderr" >&2; die "edsim $tag did not start"; }
		sleep 0.05
	done
	port=$(sed -n 's/.*"smtp": *\([0-9]*\).*/\1/p' "$dir/state/edsim.ready")
	control=$(sed -n 's/.*"control": *\([0-9]*\).*/\1/p' "$dir/state/edsim.ready")
	[ -n "$port" ] && [ -n "$control" ] || die "edsim $tag: no smtp/control port in edsim.ready"
	before=$(scenario_state "$control")
	run_source "$mode" "$port" "$tag"
	after=$(scenario_state "$control")
	peak=$(status_kb "$pid" VmHWM)
	cpu=$(cpu_ms "$pid")
	if [ "$store" == memory ]; then
		stored=$(curl -s -m 60 -X DELETE "http://127.0.0.1:$control/api/v1/messages" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["deleted"])' 2>/dev/null)
	fi
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	forget_pid "$pid"
	[ "$store" == file ] && stored=$(sqlite3 "$dir/state/edsim.db" 'select count(*) from messages')
	# events.jsonl holds every event of the run (the control API keeps only
	# the latest): none may name a rule, all MSGS must be "accepted".
	rule_events=$(grep -c '"rule": *"' "$dir/state/events.jsonl" 2>/dev/null)
	accepted=$(grep -c '"type": *"accepted"' "$dir/state/events.jsonl" 2>/dev/null)
	local ok=1
	[ "$before" == "$want" ] && [ "$after" == "$want" ] || ok=0
	RATE=$(calc "round($MSGS / $ELAPSED, 1)")
	echo "R_${tag}_RATE=$RATE R_${tag}_SECS=$ELAPSED R_${tag}_SRC_RC=$SRC_RC R_${tag}_SRC_ERR=$SRC_ERRLINES R_${tag}_PEAK_KB=$peak R_${tag}_STORED=${stored:-?} R_${tag}_EXIT=$rc R_${tag}_CPU_MS=$cpu R_${tag}_RULE_EVENTS=${rule_events:-?} R_${tag}_ACCEPTED=${accepted:-?} R_${tag}_SCN_BEFORE='$before' R_${tag}_SCN_AFTER='$after' R_${tag}_SCN_OK=$ok" >>"$OUT"
	log "$tag: $MSGS msgs in ${ELAPSED:0:6} s = $RATE msg/s; stored ${stored:-?}; accepted events ${accepted:-?}, rule events ${rule_events:-?}; scenario [$before] -> [$after]; CPU $cpu ms, peak ${peak} kB; exit $rc"
	[ "$ok" == 1 ] || log "$tag: SCENARIO STATE WRONG: wanted [$want], got [$before] then [$after]"
	[ "${stored:-0}" == "$MSGS" ] || log "$tag: LOST MESSAGES: edsim stored ${stored:-?} of $MSGS"
	[ "${rule_events:-1}" == 0 ] || log "$tag: A RULE ACTED ($rule_events events name a rule)"
}

: >"$OUT"
{
	echo "S_MSGS=$MSGS"
	echo "S_REPS=$REPS"
	echo "S_SESSIONS=$SESSIONS"
	echo "S_MEMORY=$MEMORY"
	echo "S_EMPTY=$EMPTY"
	echo "S_NRULES=$NRULES"
	echo "S_CMD_BASE='smtp-source -s $SESSIONS -m $MSGS -l 2048 -f bench@example.com -t sink@example.net [-d] 127.0.0.1:PORT'"
	echo "S_LOAD_BEFORE='$(cut -d' ' -f1-3 /proc/loadavg)'"
	# the scenario text, base64 so that run-all can quote it in RESULTS.md
	echo "S_SCENARIO_B64='$(base64 -w0 "$SCENARIO")'"
} >>"$OUT"

T_START=$(now)
for rep in $(seq 1 "$REPS"); do
	# alternate which of the pair runs first, so that drift favours neither
	if [ $((rep % 2)) == 1 ]; then order=(none scn); else order=(scn none); fi
	for mode in conn reuse; do
		for s in "${order[@]}"; do run_edsim "$mode" "file_${s}_${mode}_$rep" file "$s"; done
		if [ "$MEMORY" == 1 ]; then
			for s in "${order[@]}"; do run_edsim "$mode" "mem_${s}_${mode}_$rep" memory "$s"; done
			[ "$EMPTY" == 1 ] && run_edsim "$mode" "mem_empty_${mode}_$rep" memory empty
		fi
	done
done
echo "S_LOAD_AFTER='$(cut -d' ' -f1-3 /proc/loadavg)'" >>"$OUT"
echo "S_TOTAL_SECS=$(calc "round($(now) - $T_START, 1)")" >>"$OUT"
log "done in $(calc "round($(now) - $T_START, 1)") s; results in $OUT"
