# lib.sh - helpers the benchmark scripts share (sourced, bash).
#
#   forget_pid PID          drops PID from the PIDS array the caller's cleanup kills
#   free_port               a free TCP port on 127.0.0.1
#   wait_port PORT SECS     returns 0 once 127.0.0.1:PORT accepts a connection
#   now, calc EXPR          wall time in seconds; python3 arithmetic
#   num FORMAT EXPR         awk arithmetic, printf FORMAT (no python start-up: for
#                           the figures taken between runs)
#   cpu_ms PID              user+system CPU time of the process (all threads) in ms
#   status_kb PID FIELD     a /proc/PID/status field in kB (VmRSS, VmHWM, ...)
#   run_source MODE PORT TAG
#                           smtp-source (MODE reuse: -d) with SESSIONS, MSGS,
#                           RUN_TIMEOUT, SMTP_SOURCE into 127.0.0.1:PORT; output in
#                           TMP/TAG.source.{out,err}; sets SRC_START, SRC_END,
#                           ELAPSED, SRC_RC, SRC_ERRLINES
#   bench_setup             makes TMP (under bench/, on the same disk as /work) and
#                           PIDS; on exit bench_cleanup kills every pid in PIDS,
#                           runs the caller's cleanup_extra (when defined) and
#                           removes TMP; SIGINT/SIGTERM exit 130
#   need_tools HINT TOOL... dies (HINT: how to install) unless every TOOL is found
#   bench_config FILE [LINE...]
#                           edsim's benchmark config: auth: {required: false},
#                           limits: {connections_per_ip: 1000}, then the LINEs
#   stop_pid PID            SIGTERM, wait (SIGKILL after STOP_TIMEOUT s, 30);
#                           sets STOP_RC (exit status), STOP_MS (SIGTERM to exit)
#   edsim_start DIR HTTPS CMD...
#                           CMD... --state-dir DIR/state, port 0 for SMTP, SMTPS,
#                           control, --https HTTPS; waits for DIR/state/edsim.ready;
#                           sets ED_PID, ED_SMTP, ED_HTTPS, ED_CONTROL, ED_IDLE_KB
#   edsim_run TAG STORE HTTPS LOAD CMD...
#                           one run in TMP/TAG: edsim_start, then the function LOAD
#                           with TAG (the load: it reads ED_SMTP/ED_HTTPS), then
#                           counts the store (STORE file: sqlite3 on edsim.db after
#                           SIGTERM; memory: DELETE /api/v1/messages before it) and
#                           the warn/error log lines; sets ED_DIR, ED_PEAK_KB,
#                           ED_CPU_MS, ED_STORED, ED_ALIVE, ED_RC, ED_STOP_MS,
#                           ED_WARNS (the lines, counted, in TMP/TAG.warnings)
#   sink_run MODE TAG       one smtp-sink run (SMTP_SINK) loaded by run_source; sets
#                           SINK_CPU_MS and RATE (MSGS / ELAPSED)
#   set_duration            DUR_S from DURATION (10s, 2m, 1h; a bare number is s)
#   run_wrk PORT TAG        wrk (WRK, THREADS, CONNS, DURATION, bench/submit.lua)
#                           against https://127.0.0.1:PORT; output in TMP/TAG.wrk;
#                           sets WRK_RC, WRK_CPU_MS
#   measure_ready EDSIM CONFIG DIR N [ARG...]
#                           start-up time and idle RSS of N warm starts (and 1 cold,
#                           3 early-SIGTERM probes) as READY_* assignments on stdout
# The caller defines log, die and (after bench_setup) uses TMP and PIDS.
# shellcheck disable=SC2034 # the ED_*, SINK_*, WRK_* results are the caller's

forget_pid() {
	local i
	for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" == "$1" ] && unset "PIDS[$i]"; done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	# shellcheck disable=SC2016
	timeout "$2" bash -c 'until (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; do sleep 0.01; done' _ "$1"
}

now() { date +%s.%N; }
calc() { python3 -c "print($*)"; }
num() { awk "BEGIN { printf \"$1\\n\", $2 }"; }
# utime + stime: fields 14 and 15 of /proc/PID/stat, 12 and 13 after the ") "
cpu_ms() {
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk -v hz="$(getconf CLK_TCK)" '{ printf "%d\n", ($12 + $13) * 1000 / hz + 0.5 }'
}
status_kb() { sed -n "s/^$2:[[:space:]]*\([0-9]*\) kB/\1/p" "/proc/$1/status" 2>/dev/null; }

run_source() {
	local mode=$1 port=$2 tag=$3 flags=() pid
	[ "$mode" == reuse ] && flags=(-d)
	SRC_START=$(now)
	# in the background and waited for, so that a signal to the script is
	# handled at once (and its cleanup kills smtp-source)
	timeout "$RUN_TIMEOUT" "$SMTP_SOURCE" -s "$SESSIONS" -m "$MSGS" -l 2048 "${flags[@]}" \
		-f bench@example.com -t sink@example.net "127.0.0.1:$port" \
		>"$TMP/$tag.source.out" 2>"$TMP/$tag.source.err" &
	pid=$!
	PIDS+=("$pid")
	wait "$pid"
	SRC_RC=$?
	SRC_END=$(now)
	forget_pid "$pid"
	ELAPSED=$(num %.6f "$SRC_END - $SRC_START")
	SRC_ERRLINES=$(wc -l <"$TMP/$tag.source.err")
	if [ "$SRC_RC" != 0 ] || [ "$SRC_ERRLINES" != 0 ]; then
		log "$tag: smtp-source exit $SRC_RC, $SRC_ERRLINES stderr line(s):"
		head -5 "$TMP/$tag.source.err" >&2
	fi
}

bench_setup() {
	TMP=$(mktemp -d "$BENCH/.tmp.XXXXXX") || die "mktemp"
	PIDS=()
	WATCHDOG=
	trap bench_cleanup EXIT
	trap 'exit 130' INT TERM
}

bench_cleanup() {
	local p
	for p in "${PIDS[@]}"; do
		[ -n "$p" ] && kill -9 "$p" 2>/dev/null
	done
	[ -n "$WATCHDOG" ] && kill -TERM "$WATCHDOG" 2>/dev/null
	wait 2>/dev/null
	baseline_cleanup
	if declare -F cleanup_extra >/dev/null; then cleanup_extra; fi
	rm -rf "$TMP"
}

need_tools() {
	local hint=$1 tool
	shift
	for tool in "$@"; do
		command -v "$tool" >/dev/null 2>&1 || die "missing $tool ($hint)"
	done
}

bench_config() {
	local file=$1
	shift
	{
		echo 'auth: {required: false}'
		echo 'limits: {connections_per_ip: 1000}'
		[ $# == 0 ] || printf '%s\n' "$@"
	} >"$file"
}

stop_pid() {
	local pid=$1 t
	# the watchdog: SIGKILL after STOP_TIMEOUT s; SIGTERM stops it (and its sleep)
	(
		s=
		trap 'kill "$s" 2>/dev/null; exit 0' TERM
		sleep "${STOP_TIMEOUT:-30}" &
		s=$!
		wait "$s" && kill -9 "$pid" 2>/dev/null
	) &
	WATCHDOG=$!
	t=$(now)
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	STOP_RC=$?
	STOP_MS=$(num %.1f "($(now) - $t) * 1000")
	kill -TERM "$WATCHDOG" 2>/dev/null
	wait "$WATCHDOG" 2>/dev/null
	WATCHDOG=
	forget_pid "$pid"
}

ready_port() { sed -n "s/.*\"$2\": *\([0-9]*\).*/\1/p" "$1"; }

edsim_start() {
	local dir=$1 https=$2 i
	shift 2
	mkdir -p "$dir"
	"$@" --state-dir "$dir/state" --smtp 127.0.0.1:0 --smtps 127.0.0.1:0 --https "$https" \
		--control 127.0.0.1:0 >"$dir/stderr" 2>&1 &
	ED_PID=$!
	PIDS+=("$ED_PID")
	for i in $(seq 1 1000); do
		[ -s "$dir/state/edsim.ready" ] && break
		kill -0 "$ED_PID" 2>/dev/null || break
		sleep 0.01
	done
	ED_SMTP=$(ready_port "$dir/state/edsim.ready" smtp 2>/dev/null)
	ED_HTTPS=$(ready_port "$dir/state/edsim.ready" https 2>/dev/null)
	ED_CONTROL=$(ready_port "$dir/state/edsim.ready" control 2>/dev/null)
	ED_IDLE_KB=$(status_kb "$ED_PID" VmRSS)
	if [ -z "$ED_SMTP" ] || [ -z "$ED_CONTROL" ]; then
		cat "$dir/stderr" >&2
		return 1
	fi
}

edsim_run() {
	local tag=$1 store=$2 https=$3 load=$4
	shift 4
	ED_DIR=$TMP/$tag ED_PEAK_KB='' ED_CPU_MS='' ED_STORED='' ED_ALIVE=1
	edsim_start "$ED_DIR" "$https" "$@" || return 1
	"$load" "$tag"
	if kill -0 "$ED_PID" 2>/dev/null; then
		ED_PEAK_KB=$(status_kb "$ED_PID" VmHWM)
		ED_CPU_MS=$(cpu_ms "$ED_PID")
		if [ "$store" == memory ]; then
			# DELETE returns the number deleted (cheap; the instance stops right after)
			ED_STORED=$(curl -s -m 60 -X DELETE "http://127.0.0.1:$ED_CONTROL/api/v1/messages" |
				sed -n 's/.*"deleted": *\([0-9]*\).*/\1/p')
		fi
	else
		ED_ALIVE=0
		log "$tag: EDSIM DIED DURING THE LOAD"
	fi
	stop_pid "$ED_PID"
	ED_RC=$STOP_RC ED_STOP_MS=$STOP_MS
	[ "$store" == file ] && ED_STORED=$(sqlite3 "$ED_DIR/state/edsim.db" 'select count(*) from messages' 2>/dev/null)
	# the "no users configured" warning is expected with this config
	ED_WARNS=$(grep -E ' (warn|error|err|fatal):' "$ED_DIR/stderr" | grep -vc 'no users configured')
	grep -E ' (warn|error|err|fatal):' "$ED_DIR/stderr" | grep -v 'no users configured' |
		sed 's/^edsim [0-9:.]* //' | sort | uniq -c | sort -rn | head -5 >"$TMP/$tag.warnings"
	if [ -s "$TMP/$tag.warnings" ]; then
		log "$tag: edsim logged $ED_WARNS warning/error line(s):"
		cat "$TMP/$tag.warnings" >&2
	fi
	return 0
}

sink_run() {
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
	SINK_CPU_MS=$(cpu_ms "$pid")
	stop_pid "$pid"
	RATE=$(num %.1f "$MSGS / $ELAPSED")
}

set_duration() {
	case $DURATION in
	*ms) die "DURATION: use s, m or h" ;;
	*s) DUR_S=${DURATION%s} ;;
	*m) DUR_S=$((${DURATION%m} * 60)) ;;
	*h) DUR_S=$((${DURATION%h} * 3600)) ;;
	*) DUR_S=$DURATION; DURATION=${DURATION}s ;;
	esac
}

run_wrk() {
	local port=$1 tag=$2 times TIMEFORMAT='%U %S'
	times=$( { time timeout "$((DUR_S + RUN_TIMEOUT))" "$WRK" -t"$THREADS" -c"$CONNS" -d"$DURATION" \
		--latency -s "$BENCH/submit.lua" "https://127.0.0.1:$port" >"$TMP/$tag.wrk" 2>"$TMP/$tag.wrk.err"; } 2>&1)
	WRK_RC=$?
	# user+system CPU of wrk (the time builtin counts the waited-for child of timeout)
	WRK_CPU_MS=$(calc "round(($(echo "$times" | tail -1 | sed 's/ / + /')) * 1000)" 2>/dev/null)
	if [ "$WRK_RC" != 0 ] || [ -s "$TMP/$tag.wrk.err" ]; then
		log "$tag: wrk exit $WRK_RC:"
		head -5 "$TMP/$tag.wrk.err" >&2
	fi
}

# One python process launches edsim READY_N+1 times; the clock starts right
# before the fork/exec and stops when a TCP connect to the SMTP port succeeds
# (polled in a tight loop, no sleep). Run 0 is cold (the certificate/key pair is
# generated); its pair is then copied into each fresh state dir of the warm runs.
# The idle RSS (VmRSS) is read as soon as the ready file exists (warm runs).
# ARGs (e.g. --https off) are passed on to edsim.
measure_ready() {
	python3 - "$@" <<'EOF'
import os, shutil, signal, socket, statistics, subprocess, sys, time
edsim, config, base, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
extra = sys.argv[5:]

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
                          "--control", "127.0.0.1:%d" % control] + extra,
                         stdout=errf, stderr=errf)
    elapsed = ready_file = rss = None
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
                try:
                    rss = int(open("/proc/%d/status" % p.pid).read().split("VmRSS:", 1)[1].split()[0])
                except (OSError, IndexError, ValueError):
                    pass
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
    return elapsed, rc, internal, state, ready_file, rss

cold, cold_rc, cold_internal, cold_state, cold_rf, _ = one(0, None)
warm, rcs, internals, rfs, rss = [], [cold_rc], [], [], []
for i in range(1, n + 1):
    e, rc, internal, _, rf, kb = one(i, cold_state)
    warm.append(e); rcs.append(rc); internals.append(internal); rfs.append(rf); rss.append(kb)
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
print("READY_IDLE_KB_MEDIAN=%s" % statistics.median([k for k in rss if k] or [0]))
print("READY_EXIT_CODES='%s'" % " ".join(str(r) for r in sorted(set(rcs))))
EOF
}

# ---- the baseline binary (bench/quick.sh, bench/https.sh) ----------------------
# baseline_resolve: BASE (a commit; default: the one bench/RESULTS.md names in
# its "| edsim commit | <sha>" row, else the last commit that changed it) or
# BASE_BIN (a binary built elsewhere) -> BASE, BASE_SHORT, BASE_FROM, BASE_BIN
# (bench/.cache/edsim-<full sha> unless given), SHA.
# baseline_build: builds BASE_BIN in a temporary git worktree when it is not
# cached yet (make -j2 edsim, BUILD_TIMEOUT s); sets BUILD_S. Call it after
# bench_setup: bench_cleanup stops the build and removes the worktree.
baseline_resolve() {
	CACHE=${CACHE:-$BENCH/.cache}
	BUILD_TIMEOUT=${BUILD_TIMEOUT:-600}
	BASE_FROM="BASE"
	if [ -z "$BASE" ]; then
		BASE=$(sed -En 's/.*edsim commit \| ([0-9a-f]{7,40}).*/\1/p' "$BENCH/RESULTS.md" 2>/dev/null | head -1)
		BASE_FROM="bench/RESULTS.md"
		if [ -z "$BASE" ]; then
			BASE=$(git -C "$ROOT" log -1 --format=%h -- bench/RESULTS.md)
			BASE_FROM="last commit of bench/RESULTS.md"
		fi
	fi
	[ -n "$BASE" ] || die "no baseline commit (set BASE=<commit>)"
	if [ -n "$BASE_BIN" ]; then
		[ -x "$BASE_BIN" ] || die "BASE_BIN=$BASE_BIN: not an executable file"
		BASE_SHORT=$BASE BASE_FROM="BASE_BIN $BASE_BIN"
	else
		SHA=$(git -C "$ROOT" rev-parse --verify -q "$BASE^{commit}") || die "baseline $BASE: no such commit"
		BASE_SHORT=$(git -C "$ROOT" rev-parse --short "$SHA")
		BASE_BIN=$CACHE/edsim-$SHA
	fi
}

BUILD_WT='' BUILD_PID=''
baseline_cleanup() {
	# timeout passes the SIGTERM on to make's whole process group
	if [ -n "$BUILD_PID" ]; then
		kill -TERM "$BUILD_PID" 2>/dev/null
		wait "$BUILD_PID" 2>/dev/null
	fi
	[ -z "$BUILD_WT" ] || git -C "$ROOT" worktree remove --force "$BUILD_WT" >/dev/null 2>&1
}

baseline_build() {
	local t rc
	BUILD_S=0
	if [ ! -x "$BASE_BIN" ]; then
		log "building the baseline $BASE_SHORT (not cached yet) in a temporary worktree"
		t=$(now)
		BUILD_WT=$TMP/base
		git -C "$ROOT" worktree add --detach "$BUILD_WT" "$SHA" >"$TMP/build.log" 2>&1 ||
			{ cat "$TMP/build.log" >&2; die "git worktree add $BASE_SHORT failed"; }
		# a make of its own (not the jobserver of a calling make), in the background
		# and waited for, so that a signal stops it at once
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL timeout "$BUILD_TIMEOUT" \
			make -C "$BUILD_WT" -j2 edsim >>"$TMP/build.log" 2>&1 &
		BUILD_PID=$!
		wait "$BUILD_PID"
		rc=$?
		BUILD_PID=
		if [ "$rc" != 0 ]; then
			tail -20 "$TMP/build.log" >&2
			die "building the baseline $BASE_SHORT failed"
		fi
		mkdir -p "$CACHE"
		if ! cp "$BUILD_WT/edsim" "$BASE_BIN.$$" || ! mv -f "$BASE_BIN.$$" "$BASE_BIN"; then
			die "cannot write $BASE_BIN"
		fi
		git -C "$ROOT" worktree remove --force "$BUILD_WT" >/dev/null 2>&1
		BUILD_WT=
		BUILD_S=$(calc "round($(now) - $t, 1)")
		log "built the baseline in $BUILD_S s (cached as ${BASE_BIN#"$ROOT"/})"
	fi
}
