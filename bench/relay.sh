#!/usr/bin/env bash
# relay.sh - end-to-end relay benchmark for edsim (issue 5).
#
#   bench/relay.sh [RESULTS_FILE]
#
# smtp-source sends MSGS messages into edsim, which relays them to Postfix's
# smtp-sink (relay.mode: smarthost, tls: none). Target: with the durable
# store, at least 5 000 messages/s sustained and p99 queue latency
# (accept -> delivered) under 1 s.
#
# Columns, side by side in one invocation (REPS repetitions, the order
# rotating between repetitions), for each client mode
#   reuse  smtp-source -d (connections reused)
#   conn   smtp-source without -d (a new connection per message):
#     sink           smtp-source straight into smtp-sink (the ceiling)
#     capture        edsim, default relay mode capture (no network hop)
#     smarthost_cN   edsim -> smtp-sink with relay.connections N, for each N
#                    in RELAY_CONNS
# Every run uses fresh processes and a fresh state dir (default durable
# store STATE/edsim.db) in a temp dir under bench/ (same disk as /work).
#
# Measured: intake (MSGS / smtp-source's wall time); after the queue has
# drained and edsim got SIGTERM, from STATE/edsim.db: sustained end-to-end
# rate = MSGS / (last delivery - first accept) and queue latency per message
# (delivery.recipients[].updated - messages.received) p50/p90/p99/max;
# GET /api/v1/queue polled every POLL s (backlog over time, max backlog,
# drained to 0); server CPU (/proc/PID/stat); smtp-sink's message counter
# (-c); edsim's exit status and warn/error log lines.
#
# Writes the markdown section "## Relay end to end (issue 5)" to
# RESULTS_FILE (default bench/RELAY-RESULTS.md) and stdout; progress to
# stderr. The per-run figures are kept in bench/.last-relay-runs.jsonl and
# bench/.last-relay-meta.env (render again with: python3
# bench/relay_latency.py report bench/.last-relay-runs.jsonl
# bench/.last-relay-meta.env OUT.md). Only loopback, free ports; every process it starts is stopped
# and its temp dir removed on exit, also on failure or interrupt.
#
# Environment: EDSIM (default ./edsim), MSGS (20000), REPS (3), SESSIONS
# (20), RELAY_CONNS ("20 5"), CLIENTS ("reuse conn"), POLL (0.2),
# DRAIN_TIMEOUT (60 s), RUN_TIMEOUT (120 s per smtp-source run).
set -u
set -o pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
EDSIM=${EDSIM:-$ROOT/edsim}
MSGS=${MSGS:-20000}
REPS=${REPS:-3}
SESSIONS=${SESSIONS:-20}
RELAY_CONNS=${RELAY_CONNS:-20 5}
CLIENTS=${CLIENTS:-reuse conn}
POLL=${POLL:-0.2}
DRAIN_TIMEOUT=${DRAIN_TIMEOUT:-60}
RUN_TIMEOUT=${RUN_TIMEOUT:-120}
OUT=${1:-$BENCH/RELAY-RESULTS.md}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
HELPER=$BENCH/relay_latency.py

log() { printf '[relay %s] %s\n' "$(date +%T)" "$*" >&2; }
die() {
	log "ERROR: $*"
	[ -n "${META:-}" ] && [ -f "$META" ] && echo "LAST_ERROR=$*" >>"$META"
	exit 1
}

for tool in "$SMTP_SOURCE" "$SMTP_SINK" python3 curl; do
	command -v "$tool" >/dev/null 2>&1 || die "missing $tool (apt-get install -y postfix curl python3)"
done
[ -x "$EDSIM" ] || die "no $EDSIM (run: make edsim)"
[ -r "$HELPER" ] || die "no $HELPER"
case $OUT in /*) ;; *) OUT=$PWD/$OUT ;; esac

TMP=$(mktemp -d "$BENCH/.tmp.XXXXXX") || die "mktemp"
declare -a PIDS=()
RUNS=$TMP/runs.jsonl
META=$TMP/meta.env
T_START=$(date +%s.%N)
REPORTED=0

report() {
	# renders whatever runs exist (also after a failure); once
	[ "$REPORTED" == 1 ] && return
	REPORTED=1
	{
		echo "M_LOAD=${LOAD_BEFORE:-?} / $(cut -d' ' -f1-3 /proc/loadavg)"
		echo "TOTAL_SECS=$(python3 -c "print(round($(date +%s.%N) - $T_START, 1))")"
		echo "SCRIPT_RC=${1:-0}"
	} >>"$META"
	python3 "$HELPER" report "$RUNS" "$META" "$OUT" || log "report failed"
	# the raw figures, to render the section again:
	#   python3 bench/relay_latency.py report bench/.last-relay-runs.jsonl bench/.last-relay-meta.env OUT.md
	cp "$RUNS" "$BENCH/.last-relay-runs.jsonl" 2>/dev/null
	cp "$META" "$BENCH/.last-relay-meta.env" 2>/dev/null
}

cleanup() {
	local rc=$? p
	# TERM first (timeout passes it on to smtp-source and reaps it), then KILL
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -TERM "$p" 2>/dev/null
	done
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -0 "$p" 2>/dev/null && sleep 0.3 && break
	done
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	wait 2>/dev/null
	[ -s "$META" ] && report "$rc"
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM





# As root smtp-sink must drop privileges (-u). -a -C -F: no AUTH, XCLIENT,
# XFORWARD (as in bench/smtp-source.sh); -c: its message counter (mesg=),
# used to check that every relayed message arrived (in every column, so the
# ceiling run pays the same small cost).
SINK_USER=()
[ "$(id -u)" == 0 ] && SINK_USER=(-u nobody)

# start_sink TAG: starts smtp-sink on a free port; sets SINK_PID, SINK_PORT.
start_sink() {
	SINK_PORT=$(free_port)
	"$SMTP_SINK" -c -a -C -F "${SINK_USER[@]}" "127.0.0.1:$SINK_PORT" 1000 >"$TMP/$1.sink.out" 2>&1 &
	SINK_PID=$!
	PIDS+=("$SINK_PID")
	wait_port "$SINK_PORT" 10 || die "smtp-sink did not listen on $SINK_PORT"
}

stop_sink() {
	SINK_CPU=$(cpu_ms "$SINK_PID")
	kill -TERM "$SINK_PID" 2>/dev/null
	wait "$SINK_PID" 2>/dev/null
	forget_pid "$SINK_PID"
}


# run_ceiling CLIENT REP: smtp-source straight into smtp-sink.
run_ceiling() {
	local client=$1 rep=$2 tag=sink_$1_$2
	start_sink "$tag"
	run_source "$client" "$SINK_PORT" "$tag"
	stop_sink
	python3 "$HELPER" stats runs="$RUNS" tag="$tag" col=sink client="$client" rep="$rep" msgs="$MSGS" \
		src_secs="$ELAPSED" src_start="$SRC_START" src_end="$SRC_END" src_rc="$SRC_RC" src_err="$SRC_ERRLINES" \
		edsim_cpu_ms="$SINK_CPU" sink_out="$TMP/$tag.sink.out" >&2
}

# run_edsim COL CLIENT REP: COL = capture | smarthost_cN.
run_edsim() {
	local col=$1 client=$2 rep=$3 tag=$1_$2_$3 dir cfg pid i port control poller drained rc cpu peak warns
	dir=$TMP/$tag
	cfg=$dir/bench-relay.yaml
	mkdir -p "$dir"
	SINK_PID= SINK_CPU=
	{
		echo "auth: {required: false}"
		echo "limits: {connections_per_ip: 1000}"
	} >"$cfg"
	if [ "$col" != capture ]; then
		start_sink "$tag"
		echo "relay: {mode: smarthost, host: 127.0.0.1, port: $SINK_PORT, tls: none, connections: ${col#smarthost_c}}" >>"$cfg"
	fi
	"$EDSIM" --config "$cfg" --state-dir "$dir/state" --smtp 127.0.0.1:0 --smtps 127.0.0.1:0 \
		--https off --control 127.0.0.1:0 >"$dir/stderr" 2>&1 &
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
	python3 "$HELPER" poll "$control" "$dir/poll" "$POLL" &
	poller=$!
	PIDS+=("$poller")
	run_source "$client" "$port" "$tag"
	python3 "$HELPER" drain "$control" "$MSGS" "$DRAIN_TIMEOUT" >"$dir/drained" 2>"$dir/drain.err" &
	i=$!
	PIDS+=("$i")
	wait "$i"
	forget_pid "$i"
	drained=$(cat "$dir/drained")
	[ -n "$drained" ] || { log "$tag: QUEUE NOT DRAINED:"; cat "$dir/drain.err" >&2; }
	sleep "$POLL" # one more sample of the drained queue
	kill -TERM "$poller" 2>/dev/null
	wait "$poller" 2>/dev/null
	forget_pid "$poller"
	cpu=$(cpu_ms "$pid")
	peak=$(status_kb "$pid" VmHWM)
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
	else
		log "$tag: EDSIM DIED DURING THE RUN"
	fi
	wait "$pid"
	rc=$?
	forget_pid "$pid"
	[ -n "$SINK_PID" ] && stop_sink
	warns=$(grep -E ' (warn|error|err|fatal):' "$dir/stderr" | grep -vc 'no users configured')
	grep -E ' (warn|error|err|fatal):' "$dir/stderr" | grep -v 'no users configured' |
		sed 's/^edsim [0-9:.]* //' | sort | uniq -c | sort -rn | head -5 >"$dir/warnings"
	if [ -s "$dir/warnings" ]; then
		log "$tag: edsim logged $warns warning/error line(s):"
		cat "$dir/warnings" >&2
	fi
	python3 "$HELPER" stats runs="$RUNS" tag="$tag" col="$col" client="$client" rep="$rep" msgs="$MSGS" \
		src_secs="$ELAPSED" src_start="$SRC_START" src_end="$SRC_END" src_rc="$SRC_RC" src_err="$SRC_ERRLINES" \
		drained_at="$drained" edsim_cpu_ms="$cpu" sink_cpu_ms="$SINK_CPU" peak_kb="$peak" exit="$rc" \
		warns="$warns" warntext="$(tr '\n' ' ' <"$dir/warnings" | head -c 600)" \
		db="$dir/state/edsim.db" poll="$dir/poll" sink_out="$([ -n "$SINK_PID" ] && echo "$TMP/$tag.sink.out")" >&2
	rm -rf "$dir"
}

# ---- metadata -------------------------------------------------------------------
COLS="sink capture"
for n in $RELAY_CONNS; do COLS="$COLS smarthost_c$n"; done
LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
mem_total=$(free -h 2>/dev/null | awk '/^Mem:/ {print "total " $2 ", used " $3 ", free " $4}')
disk=$(df -h "$TMP" | awk 'NR==2 {print $1 " (" $2 " total, " $4 " free), mounted on " $6}')
postfix_ver=$(dpkg-query -W -f '${Version}' postfix 2>/dev/null || echo '?')
{
	echo "MSGS=$MSGS"
	echo "REPS=$REPS"
	echo "SESSIONS=$SESSIONS"
	echo "COLS=$COLS"
	echo "CLIENTS=$CLIENTS"
	echo "POLL=$POLL"
	echo "DRAIN_TIMEOUT=$DRAIN_TIMEOUT"
	echo "RELAY_CONNS=$RELAY_CONNS"
	echo "SRC_CMD=smtp-source -s $SESSIONS -m $MSGS -l 2048 [-d] -f bench@example.com -t sink@example.net 127.0.0.1:PORT"
	echo "SINK_CMD=smtp-sink -c -a -C -F ${SINK_USER[*]} 127.0.0.1:SINKPORT 1000"
	echo "EDSIM_CMD=./edsim --config bench-relay.yaml --state-dir TMP/state --smtp 127.0.0.1:0 --smtps 127.0.0.1:0 --https off --control 127.0.0.1:0"
	echo 'CONFIG_TEXT=auth: {required: false}\nlimits: {connections_per_ip: 1000}\nrelay: {mode: smarthost, host: 127.0.0.1, port: SINKPORT, tls: none, connections: N}   # smarthost columns only'
	echo "M_NPROC=$(nproc)"
	echo "M_CPU=$(grep -c '^processor' /proc/cpuinfo) x $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)"
	echo "M_MEM=${mem_total:-?}"
	echo "M_KERNEL=$(uname -srm)"
	echo "M_DISK=$disk"
	echo "M_DATE=$(date -u '+%Y-%m-%d %H:%M:%S UTC')"
	echo "M_EDSIM=$("$EDSIM" --version 2>&1 | head -1) ($EDSIM, built $(date -u -r "$EDSIM" '+%Y-%m-%d %H:%M UTC'))"
	echo "M_POSTFIX=Postfix $postfix_ver"
} >"$META"


log "columns: $COLS; clients: $CLIENTS; $MSGS msgs x $REPS reps; results to $OUT"
: >"$RUNS"
ncols=$(echo "$COLS" | wc -w)
for rep in $(seq 1 "$REPS"); do
	for client in $CLIENTS; do
		set -- $COLS
		cols=("$@")
		for k in $(seq 0 $((ncols - 1))); do
			c=${cols[$(((k + rep - 1) % ncols))]}
			case $c in
			sink) run_ceiling "$client" "$rep" ;;
			*) run_edsim "$c" "$client" "$rep" ;;
			esac
		done
	done
done
log "done in $(calc "round($(now) - $T_START, 1)") s"
exit 0
