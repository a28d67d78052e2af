#!/usr/bin/env bash
# smtp-source.sh - throughput, memory and start-up benchmark for edsim.
#
#   bench/smtp-source.sh [RESULTS_FILE]
#
# In one run, for each of two client modes
#   conn   a new connection per message   (smtp-source without -d)
#   reuse  connections are reused         (smtp-source -d)
# it sends MSGS messages with
#   smtp-source -s 20 -m MSGS -l 2048 -f bench@example.com -t sink@example.net [-d]
# to
#   edsim (durable)  the SQLite file store (state_dir/edsim.db, WAL, synchronous=FULL)
#   smtp-sink        Postfix's sink, which throws messages away (the baseline)
#   edsim (:memory:) store: {path: ':memory:'} (reference only)
# Every edsim/smtp-sink run is a fresh process (and a fresh state dir).
# Runs are interleaved (sink, durable, memory, per mode, per repetition) so
# that the noise of the machine spreads over all three columns.
#
# It also measures edsim's idle RSS (VmRSS right after start, before load),
# peak RSS (VmHWM just before SIGTERM), checks that edsim stored every message
# (sqlite3 count after SIGTERM; DELETE /api/v1/messages count for :memory:),
# and the time from exec to the SMTP port accepting connections (READY_N warm
# starts with a pre-generated certificate, plus one cold start that generates
# it).
#
# Results go to RESULTS_FILE (default bench/.last-results.env) as shell
# assignments; progress goes to stderr. Only loopback, only free ports; all
# processes it starts are stopped on exit, its temporary directory (under
# bench/, i.e. on the same disk as /work) is removed.
#
# Environment: EDSIM (default ./edsim), MSGS (20000), REPS (5), READY_N (20),
# SESSIONS (20), MEMORY (1: also run the :memory: column), RUN_TIMEOUT (300 s
# per smtp-source run).
set -u
set -o pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
EDSIM=${EDSIM:-$ROOT/edsim}
MSGS=${MSGS:-20000}
REPS=${REPS:-5}
READY_N=${READY_N:-20}
SESSIONS=${SESSIONS:-20}
MEMORY=${MEMORY:-1}
RUN_TIMEOUT=${RUN_TIMEOUT:-300}
OUT=${1:-$BENCH/.last-results.env}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}

log() { printf '[bench %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_tools "apt-get install -y postfix sqlite3 curl python3" "$SMTP_SOURCE" "$SMTP_SINK" python3 sqlite3 curl
[ -x "$EDSIM" ] || die "no $EDSIM (run: make edsim)"

bench_setup
CONFIG=$TMP/bench.yaml
bench_config "$CONFIG"
CONFIG_MEM=$TMP/bench-memory.yaml
bench_config "$CONFIG_MEM" "store: {path: ':memory:'}"

# ---- throughput runs -----------------------------------------------------------

# run_sink MODE TAG: one smtp-sink baseline run. Sets RATE.
run_sink() {
	local mode=$1 tag=$2
	sink_run "$mode" "$tag"
	log "$tag: smtp-sink $MODE_DESC: $MSGS msgs in ${ELAPSED:0:6} s = $RATE msg/s, server CPU $SINK_CPU_MS ms (smtp-source rc $SRC_RC)"
	echo "R_${tag}_RATE=$RATE R_${tag}_SECS=$ELAPSED R_${tag}_SRC_RC=$SRC_RC R_${tag}_SRC_ERR=$SRC_ERRLINES R_${tag}_CPU_MS=$SINK_CPU_MS" >>"$OUT"
}

# The load, then the whole path: polls the control API until the relay has
# reported every message delivered (capture mode: delivered to the capture
# mailbox, "delivered" event emitted). DELIVERED_SECS is from smtp-source's
# start to then (empty after 60 s without).
delivered_total() {
	curl -s -m 5 "http://127.0.0.1:$ED_CONTROL/api/v1/queue" |
		sed -n 's/.*"delivered": *\([0-9]*\).*/\1/p' | tail -1
}
smtp_load() {
	local n i
	run_source "$mode" "$ED_SMTP" "$1"
	DELIVERED_SECS=
	for i in $(seq 1 6000); do
		n=$(delivered_total)
		if [ "${n:-0}" -ge "$MSGS" ]; then
			DELIVERED_SECS=$(num %.4f "$(now) - $SRC_START")
			break
		fi
		sleep 0.01
	done
}

# run_edsim MODE TAG STORE(file|memory): one edsim run. Sets RATE.
run_edsim() {
	local mode=$1 tag=$2 store=$3 cfg=$CONFIG db
	[ "$store" == memory ] && cfg=$CONFIG_MEM
	edsim_run "$tag" "$store" off smtp_load "$EDSIM" --config "$cfg" || die "edsim $tag did not start"
	if [ "$store" == file ]; then
		db=$ED_DIR/state/edsim.db
		echo "R_${tag}_RCPTS=$(sqlite3 "$db" 'select sum(json_array_length(recipients)) from messages')" >>"$OUT"
		echo "R_${tag}_SIZES='$(sqlite3 "$db" 'select min(size)||"-"||max(size) from messages')'" >>"$OUT"
		echo "R_${tag}_DBBYTES=$(($(stat -c %s "$db") + $(stat -c %s "$db-wal" 2>/dev/null || echo 0)))" >>"$OUT"
	fi
	RATE=$(num %.1f "$MSGS / $ELAPSED")
	# every message's events: "accepted" at intake, "delivered" by the relay
	echo "R_${tag}_DELIVERED_SECS=${DELIVERED_SECS:-} R_${tag}_EV_ACCEPTED=$(grep -c '"type": "accepted"' "$ED_DIR/state/events.jsonl") R_${tag}_EV_DELIVERED=$(grep -c '"type": "delivered"' "$ED_DIR/state/events.jsonl")" >>"$OUT"
	echo "R_${tag}_RATE=$RATE R_${tag}_SECS=$ELAPSED R_${tag}_SRC_RC=$SRC_RC R_${tag}_SRC_ERR=$SRC_ERRLINES R_${tag}_IDLE_KB=$ED_IDLE_KB R_${tag}_PEAK_KB=$ED_PEAK_KB R_${tag}_STORED=${ED_STORED:-?} R_${tag}_EXIT=$ED_RC R_${tag}_STOP_MS=$ED_STOP_MS R_${tag}_WARNS=$ED_WARNS R_${tag}_CPU_MS=$ED_CPU_MS" >>"$OUT"
	if [ -s "$TMP/$tag.warnings" ]; then
		echo "R_${tag}_WARNTEXT='$(tr "'\n" '" ' <"$TMP/$tag.warnings" | head -c 600)'" >>"$OUT"
	fi
	log "$tag: edsim ($store) $MODE_DESC: $MSGS msgs in ${ELAPSED:0:6} s = $RATE msg/s; stored ${ED_STORED:-?}; idle ${ED_IDLE_KB} kB, peak ${ED_PEAK_KB} kB; CPU $ED_CPU_MS ms; exit $ED_RC after SIGTERM (${ED_STOP_MS} ms)"
	[ "${ED_STORED:-0}" == "$MSGS" ] || log "$tag: LOST MESSAGES: edsim stored ${ED_STORED:-?} of $MSGS"
}

: >"$OUT"
{
	echo "MSGS=$MSGS"
	echo "REPS=$REPS"
	echo "SESSIONS=$SESSIONS"
	echo "MEMORY=$MEMORY"
	echo "CMD_BASE='smtp-source -s $SESSIONS -m $MSGS -l 2048 -f bench@example.com -t sink@example.net [-d] 127.0.0.1:PORT'"
	echo "SINK_CMD='smtp-sink -a -C -F -u nobody 127.0.0.1:PORT 1000'"
	echo "EDSIM_BIN='$EDSIM'"
} >>"$OUT"

T_START=$(now)
log "start-up time: 1 cold + $READY_N warm starts"
measure_ready "$EDSIM" "$CONFIG" "$TMP/ready" "$READY_N" >>"$OUT" || die "start-up measurement failed"
grep '^READY_' "$OUT" | sed 's/^/    /' >&2

for rep in $(seq 1 "$REPS"); do
	for mode in conn reuse; do
		if [ "$mode" == conn ]; then MODE_DESC="new connection per message"; else MODE_DESC="reused connections (-d)"; fi
		run_sink "$mode" "sink_${mode}_$rep"
		run_edsim "$mode" "file_${mode}_$rep" file
		[ "$MEMORY" == 1 ] && run_edsim "$mode" "mem_${mode}_$rep" memory
	done
done
echo "TOTAL_SECS=$(calc "round($(now) - $T_START, 1)")" >>"$OUT"
log "done in $(calc "round($(now) - $T_START, 1)") s; results in $OUT"
