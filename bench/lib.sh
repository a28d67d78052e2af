# lib.sh - helpers the benchmark scripts share (sourced, bash).
#
#   forget_pid PID          drops PID from the PIDS array the caller's cleanup kills
#   free_port               a free TCP port on 127.0.0.1
#   wait_port PORT SECS     returns 0 once 127.0.0.1:PORT accepts a connection
#   now, calc EXPR          wall time in seconds; python3 arithmetic
#   cpu_ms PID              user+system CPU time of the process (all threads) in ms
#   status_kb PID FIELD     a /proc/PID/status field in kB (VmRSS, VmHWM, ...)
#   run_source MODE PORT TAG
#                           smtp-source (MODE reuse: -d) with SESSIONS, MSGS,
#                           RUN_TIMEOUT, SMTP_SOURCE into 127.0.0.1:PORT; output in
#                           TMP/TAG.source.{out,err}; sets SRC_START, SRC_END,
#                           ELAPSED, SRC_RC, SRC_ERRLINES
# The caller defines log, TMP and PIDS.

forget_pid() {
	local i
	for i in "${!PIDS[@]}"; do [ "${PIDS[$i]}" == "$1" ] && unset "PIDS[$i]"; done
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

wait_port() {
	python3 - "$1" "$2" <<'PY'
import socket, sys, time
port, deadline = int(sys.argv[1]), time.monotonic() + float(sys.argv[2])
while time.monotonic() < deadline:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.01)
sys.exit(1)
PY
}

now() { date +%s.%N; }
calc() { python3 -c "print($*)"; }
cpu_ms() {
	python3 -c 'import os,sys; f=open("/proc/%s/stat" % sys.argv[1]).read().rsplit(")",1)[1].split(); print(round((int(f[11])+int(f[12]))*1000/os.sysconf("SC_CLK_TCK")))' "$1" 2>/dev/null
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
	ELAPSED=$(calc "$SRC_END - $SRC_START")
	SRC_ERRLINES=$(wc -l <"$TMP/$tag.source.err")
	if [ "$SRC_RC" != 0 ] || [ "$SRC_ERRLINES" != 0 ]; then
		log "$tag: smtp-source exit $SRC_RC, $SRC_ERRLINES stderr line(s):"
		head -5 "$TMP/$tag.source.err" >&2
	fi
}
