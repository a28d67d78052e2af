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

for tool in "$SMTP_SOURCE" "$SMTP_SINK" python3 sqlite3 curl; do
	command -v "$tool" >/dev/null 2>&1 || die "missing $tool (apt-get install -y postfix sqlite3 curl python3)"
done
[ -x "$EDSIM" ] || die "no $EDSIM (run: make edsim)"

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

# ---- start-up time -----------------------------------------------------------
# One python process launches edsim READY_N+1 times; the clock starts right
# before the fork/exec and stops when a TCP connect to the SMTP port succeeds
# (polled in a tight loop, no sleep). Run 0 is cold (the certificate/key pair is
# generated); its pair is then copied into each fresh state dir of the warm runs.
measure_ready() {
	python3 - "$EDSIM" "$CONFIG" "$TMP/ready" "$READY_N" <<'EOF'
import os, shutil, signal, socket, statistics, subprocess, sys, time
edsim, config, base, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])

def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p

def one(i, cert_from, early=False):
    state = os.path.join(base, "s%d" % i, "state")
    os.makedirs(state)
    if cert_from:
        for f in ("edsim-cert.pem", "edsim-key.pem"):
            shutil.copy2(os.path.join(cert_from, f), state)
    smtp, smtps, control = free_port(), free_port(), free_port()
    errf = open(os.path.join(base, "s%d" % i, "stderr"), "w")
    t0 = time.perf_counter()
    p = subprocess.Popen([edsim, "--config", config, "--state-dir", state,
                          "--smtp", "127.0.0.1:%d" % smtp, "--smtps", "127.0.0.1:%d" % smtps,
                          "--control", "127.0.0.1:%d" % control],
                         stdout=errf, stderr=errf)
    elapsed = ready_file = None
    ready_path = os.path.join(state, "edsim.ready")
    try:
        while time.perf_counter() - t0 < 10:
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", smtp))
                elapsed = (time.perf_counter() - t0) * 1000
                break
            except OSError:
                if p.poll() is not None:
                    break
            finally:
                s.close()
        # The SMTP port accepts before edsim has installed its SIGTERM handler
        # (and before edsim.ready exists): unless this is the early-SIGTERM
        # probe, wait for the ready file (not timed as "accepting") first.
        while not early and elapsed is not None and time.perf_counter() - t0 < 10:
            if os.path.exists(ready_path):
                ready_file = (time.perf_counter() - t0) * 1000
                break
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout=15)
        except subprocess.TimeoutExpired:
            p.kill(); rc = p.wait()
        errf.close()
    if elapsed is None:
        sys.stderr.write(open(errf.name).read())
        raise SystemExit("edsim run %d never accepted on its SMTP port (exit %s)" % (i, rc))
    internal = ""
    for line in open(errf.name):
        if "ready in " in line:
            internal = line.split("ready in ", 1)[1].split(" ms", 1)[0]
    return elapsed, rc, internal, state, ready_file

cold, cold_rc, cold_internal, cold_state, cold_rf = one(0, None)
warm, rcs, internals, rfs = [], [cold_rc], [], []
for i in range(1, n + 1):
    e, rc, internal, _, rf = one(i, cold_state)
    warm.append(e); rcs.append(rc); internals.append(internal); rfs.append(rf)
    shutil.rmtree(os.path.join(base, "s%d" % i))
# probe: SIGTERM right after the first accepted connection
early_rcs = []
for i in range(n + 1, n + 4):
    early_rcs.append(one(i, cold_state, early=True)[1])
    shutil.rmtree(os.path.join(base, "s%d" % i))
print("READY_COLD_FILE_MS=%.2f" % cold_rf)
print("READY_FILE_MEDIAN_MS=%.2f" % statistics.median(rfs))
print("READY_FILE_MAX_MS=%.2f" % max(rfs))
print("READY_EARLY_TERM_EXITS='%s'" % " ".join(str(r) for r in early_rcs))
print("READY_COLD_MS=%.2f" % cold)
print("READY_COLD_INTERNAL_MS=%s" % (cold_internal or "?"))
print("READY_N=%d" % n)
print("READY_MEDIAN_MS=%.2f" % statistics.median(warm))
print("READY_MAX_MS=%.2f" % max(warm))
print("READY_MIN_MS=%.2f" % min(warm))
print("READY_ALL_MS='%s'" % " ".join("%.1f" % x for x in warm))
print("READY_INTERNAL_MS='%s'" % " ".join(internals))
print("READY_EXIT_CODES='%s'" % " ".join(str(r) for r in sorted(set(rcs))))
EOF
}

# ---- throughput runs -----------------------------------------------------------

# run_sink MODE TAG: one smtp-sink baseline run. Sets RATE.
run_sink() {
	local mode=$1 tag=$2 port pid user=()
	port=$(free_port)
	# As root smtp-sink must drop privileges (-u). -a -C -F: no AUTH/XCLIENT/
	# XFORWARD, which edsim does not offer on a plain connection either; like
	# edsim it announces PIPELINING, 8BITMIME, ENHANCEDSTATUSCODES (it also says
	# DSN; it has no STARTTLS). No -c: its per-event counter writes would slow
	# the baseline.
	[ "$(id -u)" == 0 ] && user=(-u nobody)
	"$SMTP_SINK" -a -C -F "${user[@]}" "127.0.0.1:$port" 1000 >"$TMP/$tag.sink.out" 2>&1 &
	pid=$!
	PIDS+=("$pid")
	wait_port "$port" 10 || die "smtp-sink did not listen on $port"
	run_source "$mode" "$port" "$tag"
	local cpu
	cpu=$(cpu_ms "$pid")
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	forget_pid "$pid"
	RATE=$(calc "round($MSGS / $ELAPSED, 1)")
	log "$tag: smtp-sink $MODE_DESC: $MSGS msgs in ${ELAPSED:0:6} s = $RATE msg/s, server CPU $cpu ms (smtp-source rc $SRC_RC)"
	echo "R_${tag}_RATE=$RATE R_${tag}_SECS=$ELAPSED R_${tag}_SRC_RC=$SRC_RC R_${tag}_SRC_ERR=$SRC_ERRLINES R_${tag}_CPU_MS=$cpu" >>"$OUT"
}

# run_edsim MODE TAG STORE(file|memory): one edsim run. Sets RATE.
run_edsim() {
	local mode=$1 tag=$2 store=$3 dir=$TMP/$2 cfg=$CONFIG pid i port control idle peak cpu rc stored t_stop
	[ "$store" == memory ] && cfg=$CONFIG_MEM
	mkdir -p "$dir"
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
	[ -n "$port" ] || die "edsim $tag: no smtp port in edsim.ready"
	idle=$(status_kb "$pid" VmRSS)
	run_source "$mode" "$port" "$tag"
	peak=$(status_kb "$pid" VmHWM)
	cpu=$(cpu_ms "$pid")
	if [ "$store" == memory ]; then
		# count what the store holds: DELETE returns the number deleted (cheap;
		# the instance is stopped right after).
		stored=$(curl -s -m 60 -X DELETE "http://127.0.0.1:$control/api/v1/messages" |
			python3 -c 'import json,sys; print(json.load(sys.stdin)["deleted"])' 2>/dev/null)
	fi
	t_stop=$(now)
	kill -TERM "$pid"
	wait "$pid"
	rc=$?
	forget_pid "$pid"
	t_stop=$(calc "round(($(now) - $t_stop) * 1000, 1)")
	if [ "$store" == file ]; then
		stored=$(sqlite3 "$dir/state/edsim.db" 'select count(*) from messages')
		echo "R_${tag}_RCPTS=$(sqlite3 "$dir/state/edsim.db" 'select sum(json_array_length(recipients)) from messages')" >>"$OUT"
		echo "R_${tag}_SIZES='$(sqlite3 "$dir/state/edsim.db" 'select min(size)||"-"||max(size) from messages')'" >>"$OUT"
		echo "R_${tag}_DBBYTES=$(($(stat -c %s "$dir/state/edsim.db") + $(stat -c %s "$dir/state/edsim.db-wal" 2>/dev/null || echo 0)))" >>"$OUT"
	fi
	RATE=$(calc "round($MSGS / $ELAPSED, 1)")
	local warns
	warns=$(grep -cE ' (warn|error|err|fatal):' "$dir/stderr")
	# the "no users configured" warning is expected with this config
	warns=$((warns - $(grep -c 'no users configured' "$dir/stderr")))
	if [ "$warns" -gt 0 ]; then
		log "$tag: edsim logged $warns warning/error line(s):"
		grep -E ' (warn|error|err|fatal):' "$dir/stderr" | grep -v 'no users configured' | sort | uniq -c | sort -rn | head -5 >&2
	fi
	grep -E ' (warn|error|err|fatal):' "$dir/stderr" | grep -v 'no users configured' |
		sed 's/^edsim [0-9:.]* //' | sort | uniq -c | sort -rn | head -5 >"$TMP/$tag.warnings"
	echo "R_${tag}_RATE=$RATE R_${tag}_SECS=$ELAPSED R_${tag}_SRC_RC=$SRC_RC R_${tag}_SRC_ERR=$SRC_ERRLINES R_${tag}_IDLE_KB=$idle R_${tag}_PEAK_KB=$peak R_${tag}_STORED=${stored:-?} R_${tag}_EXIT=$rc R_${tag}_STOP_MS=$t_stop R_${tag}_WARNS=$warns R_${tag}_CPU_MS=$cpu" >>"$OUT"
	if [ -s "$TMP/$tag.warnings" ]; then
		echo "R_${tag}_WARNTEXT='$(tr "'\n" '" ' <"$TMP/$tag.warnings" | head -c 600)'" >>"$OUT"
	fi
	log "$tag: edsim ($store) $MODE_DESC: $MSGS msgs in ${ELAPSED:0:6} s = $RATE msg/s; stored ${stored:-?}; idle ${idle} kB, peak ${peak} kB; CPU $cpu ms; exit $rc after SIGTERM (${t_stop} ms)"
	[ "${stored:-0}" == "$MSGS" ] || log "$tag: LOST MESSAGES: edsim stored ${stored:-?} of $MSGS"
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
measure_ready >>"$OUT" || die "start-up measurement failed"
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
