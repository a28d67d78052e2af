#!/usr/bin/env bash
# https.sh - OCI submitEmail over keep-alive TLS: requests/s and latency.
#
#   bench/https.sh [RESULTS_FILE]
#
# Target: at least 15 000 accepted submissions/s and p99 latency under 10 ms
# with the durable store, for
#   wrk -t2 -c64 -d10s --latency -s bench/submit.lua https://127.0.0.1:PORT
# (2 threads, 64 keep-alive TLS connections, 10 s). bench/submit.lua posts a
# small valid submitEmail (sender noreply@example.com with a compartmentId,
# one recipient, subject, bodyText) to /20220926/actions/submitEmail and
# counts the answers by status code in wrk's response() callback. Accepted
# submissions/s = (number of 200 answers) / (wrk's run time) = requests/s x
# the share of 200s.
#
# Columns, each run a fresh edsim (fresh state dir, ports 0 read back from
# STATE/edsim.ready), REPS repetitions, the order rotating between them:
#   file      the durable store (state_dir/edsim.db, WAL, synchronous=FULL)
#   mem       store: {path: ':memory:'} (reference)
#   file_nd   (diagnostic, NODELAY=1) the durable store, with TCP_NODELAY
#             set on every accepted socket by an LD_PRELOAD shim (built here
#             with cc from the C text below): edsim sets it on SMTP sockets
#             only; this column shows what the HTTPS API does without the
#             Nagle/delayed-ACK wait. It is not edsim's own behaviour.
#   mem_nd    (diagnostic, NODELAY=1 and MEMORY=1) :memory: with the shim:
#             the cost of the durable store once that wait is gone.
#   ses       (SES=1) the durable store under profile: ses: Amazon SES v2
#             SendEmail (POST /v2/email/outbound-emails, a Simple message
#             of the same size: sender noreply@example.com, one recipient,
#             subject, text body) with https.auth: verify, every request
#             SigV4-signed (bench/sigv4_sign.py signs it once at the start of
#             the run; wrk replays it within the 5-minute skew window and
#             edsim verifies each), the account's quotas lifted
#             (ses: {max_send_rate: 1e9, max_24h_send: -1}); against the
#             file column, OCI submitEmail, in the same run.
#   base      (BASELINE=1) the durable store with the baseline binary: the
#             commit bench/RESULTS.md was measured at (or BASE=<commit>, or
#             BASE_BIN=<file>), built once into bench/.cache/ (bench/lib.sh
#             baseline_build), so that old and new are side by side.
# Config: auth: {required: false}, https: {auth: off},
# limits: {connections_per_ip: 1000} (+ store: {path: ':memory:'} for mem).
#
# Checks per run: after wrk, SIGTERM; the messages the store holds (sqlite3
# 'select count(*) from messages' on edsim.db after the exit; DELETE
# /api/v1/messages count before SIGTERM for :memory:) against the 200s
# counted (the store may hold up to one more per connection: requests in
# flight when wrk stops are stored, their answers not counted); wrk's socket
# errors (connect/read/write/timeout); edsim's exit status, warn/error log
# lines, whether it was still alive after the load; events.jsonl "accepted"
# lines; server CPU (from /proc/PID/stat), idle and peak RSS; wrk's CPU.
#
# Results go to RESULTS_FILE (default bench/.last-https-results.env) as shell
# assignments (bench/run-all renders them); progress goes to stderr. Only
# loopback, only free ports; all processes it starts are stopped on exit,
# its temporary directory (under bench/, on the same disk as /work) removed.
#
# Needs wrk (Debian package wrk: apt-get install -y wrk), sqlite3, curl,
# python3; cc for the NODELAY column (skipped without it).
#
# Environment: EDSIM (default ./edsim), WRK (wrk), REPS (3), DURATION (10s),
# BASELINE (0; 1 adds the base column), BASE, BASE_BIN, SES (1: the ses column),
# CONNS (64), THREADS (2), MEMORY (1: the :memory: column), NODELAY (1: the
# diagnostic columns), RUN_TIMEOUT (60 s beyond DURATION per wrk run).
set -u
set -o pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
EDSIM=${EDSIM:-$ROOT/edsim}
WRK=${WRK:-wrk}
REPS=${REPS:-3}
DURATION=${DURATION:-10s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
MEMORY=${MEMORY:-1}
NODELAY=${NODELAY:-1}
BASELINE=${BASELINE:-0}
SES=${SES:-1}
BASE=${BASE:-}
BASE_BIN=${BASE_BIN:-}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
OUT=${1:-$BENCH/.last-https-results.env}
LUA=$BENCH/submit.lua

log() { printf '[https %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

need_tools "apt-get install -y wrk sqlite3 curl python3" "$WRK" python3 sqlite3 curl
[ -x "$EDSIM" ] || die "no $EDSIM (run: make edsim)"
[ -r "$LUA" ] || die "no $LUA"
set_duration

bench_setup
CONFIG=$TMP/bench-https.yaml
bench_config "$CONFIG" "https: {auth: off}"
CONFIG_MEM=$TMP/bench-https-memory.yaml
bench_config "$CONFIG_MEM" "https: {auth: off}" "store: {path: ':memory:'}"
CONFIG_SES=$TMP/bench-https-ses.yaml
bench_config "$CONFIG_SES" "profile: ses" "https: {auth: verify}" \
	"ses: {max_send_rate: 1000000000, max_24h_send: -1}"
SES_BODY='{"FromEmailAddress":"noreply@example.com","Destination":{"ToAddresses":["sink@example.net"]},'\
'"Content":{"Simple":{"Subject":{"Data":"wrk benchmark"},"Body":{"Text":{"Data":"Hello from wrk.\n"}}}}}'
printf '%s' "$SES_BODY" >"$TMP/ses-body.json"

# The diagnostic shim: TCP_NODELAY on every socket accept()/accept4() returns.
SHIM=
if [ "$NODELAY" == 1 ]; then
	cat >"$TMP/nodelay.c" <<'EOF'
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

static void nodelay(int fd)
{
	int one = 1;

	if (fd >= 0)
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

int accept4(int s, struct sockaddr *a, socklen_t *l, int flags)
{
	static int (*real)(int, struct sockaddr *, socklen_t *, int);
	int fd;

	if (real == NULL)
		real = (int (*)(int, struct sockaddr *, socklen_t *, int))dlsym(RTLD_NEXT, "accept4");
	fd = real(s, a, l, flags);
	nodelay(fd);
	return fd;
}

int accept(int s, struct sockaddr *a, socklen_t *l)
{
	static int (*real)(int, struct sockaddr *, socklen_t *);
	int fd;

	if (real == NULL)
		real = (int (*)(int, struct sockaddr *, socklen_t *))dlsym(RTLD_NEXT, "accept");
	fd = real(s, a, l);
	nodelay(fd);
	return fd;
}
EOF
	if ${CC:-cc} -O2 -shared -fPIC -o "$TMP/nodelay.so" "$TMP/nodelay.c" -ldl 2>"$TMP/nodelay.err"; then
		SHIM=$TMP/nodelay.so
	else
		log "cannot build the TCP_NODELAY shim; leaving out the diagnostic column:"
		head -5 "$TMP/nodelay.err" >&2
		NODELAY=0
	fi
fi

https_load() {
	[ -n "$ED_HTTPS" ] || die "edsim $1: no https port in edsim.ready"
	run_wrk "$ED_HTTPS" "$1"
}

# The SES column's load: the request signed for this edsim's port, now.
ses_load() {
	local AMZ_DATE AMZ_AUTH
	[ -n "$ED_HTTPS" ] || die "edsim $1: no https port in edsim.ready"
	eval "$(python3 "$BENCH/sigv4_sign.py" "127.0.0.1:$ED_HTTPS" /v2/email/outbound-emails \
		"$TMP/ses-body.json" AKIAIOSFODNN7EXAMPLE wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY us-east-1)"
	SES_AUTH=$AMZ_AUTH SES_DATE=$AMZ_DATE SES_BODY=$SES_BODY run_wrk "$ED_HTTPS" "$1"
}

# run_edsim TAG STORE(file|memory|ses) SHIM(0|1) [BINARY]: one run (ses: the
# durable store under profile: ses, signed SES v2 requests).
run_edsim() {
	local tag=$1 store=$2 shim=$3 bin=${4:-$EDSIM} cfg=$CONFIG dir events env=() load=https_load
	[ "$store" == memory ] && cfg=$CONFIG_MEM
	[ "$shim" == 1 ] && env=(env "LD_PRELOAD=$SHIM")
	[ "$store" == ses ] && cfg=$CONFIG_SES && load=ses_load && store=file
	edsim_run "$tag" "$store" 127.0.0.1:0 "$load" "${env[@]}" "$bin" --config "$cfg" ||
		die "edsim $tag did not start"
	dir=$ED_DIR
	if [ "$store" == file ]; then
		echo "H_${tag}_RCPTS=$(sqlite3 "$dir/state/edsim.db" 'select sum(json_array_length(recipients)) from messages' 2>/dev/null)" >>"$OUT"
		echo "H_${tag}_SIZES='$(sqlite3 "$dir/state/edsim.db" 'select min(size)||"-"||max(size) from messages' 2>/dev/null)'" >>"$OUT"
	fi
	events=$(grep -c '"type": *"accepted"' "$dir/state/events.jsonl" 2>/dev/null)
	if [ -s "$TMP/$tag.warnings" ]; then
		echo "H_${tag}_WARNTEXT='$(tr "'\n" '" ' <"$TMP/$tag.warnings" | head -c 600)'" >>"$OUT"
	fi
	# wrk's machine-readable lines (bench/submit.lua's done()), prefixed with the run's tag
	grep -E '^WRK_[A-Z0-9_]+=[0-9.]+$' "$TMP/$tag.wrk" | sed "s/^WRK_/H_${tag}_/" >>"$OUT"
	# the request body, once (base64, for RESULTS.md)
	grep -q '^H_BODY_B64=' "$OUT" || echo "H_BODY_B64='$(sed -n 's/^WRK_BODY=//p' "$TMP/$tag.wrk" | tr -d '\n' | base64 -w0)'" >>"$OUT"
	echo "H_${tag}_RPS_LINE='$(sed -n 's/^Requests\/sec: *//p' "$TMP/$tag.wrk")'" >>"$OUT"
	echo "H_${tag}_WRK_RC=$WRK_RC H_${tag}_WRK_ERRLINES=$(wc -l <"$TMP/$tag.wrk.err") H_${tag}_WRK_CPU_MS=${WRK_CPU_MS:-} H_${tag}_IDLE_KB=$ED_IDLE_KB H_${tag}_PEAK_KB=$ED_PEAK_KB H_${tag}_CPU_MS=$ED_CPU_MS H_${tag}_STORED=${ED_STORED:-?} H_${tag}_ALIVE=$ED_ALIVE H_${tag}_EXIT=$ED_RC H_${tag}_STOP_MS=$ED_STOP_MS H_${tag}_WARNS=$ED_WARNS H_${tag}_EVENTS=${events:-0}" >>"$OUT"
	# one-line summary
	python3 - "$TMP/$tag.wrk" "$tag" "${ED_STORED:-?}" "$ED_RC" "${ED_CPU_MS:-?}" "${ED_PEAK_KB:-?}" <<'EOF' >&2
import re, sys, time
kv = dict(re.findall(r"^WRK_([A-Z0-9_]+)=([0-9.]+)$", open(sys.argv[1]).read(), re.M))
tag, stored, rc, cpu, peak = sys.argv[2:]
req = int(kv.get("REQUESTS", 0)); dur = int(kv.get("DURATION_US", 0)) / 1e6 or float("nan")
ok = int(kv.get("STATUS_200", 0))
print("[https %s] %s: %d requests in %.2f s = %.0f req/s, %d x 200 = %.0f accepted/s; p50 %.2f p90 %.2f p99 %.2f ms; "
      "non-200 %d; socket errors c/r/w/t %s/%s/%s/%s; stored %s; CPU %s ms, peak %s kB; exit %s" % (
      time.strftime("%H:%M:%S"), tag, req, dur, req / dur, ok, ok / dur, int(kv.get("LAT_P50_US", 0)) / 1000,
      int(kv.get("LAT_P90_US", 0)) / 1000, int(kv.get("LAT_P99_US", 0)) / 1000, req - ok,
      kv.get("ERR_CONNECT"), kv.get("ERR_READ"), kv.get("ERR_WRITE"), kv.get("ERR_TIMEOUT"), stored, cpu, peak, rc))
EOF
}

: >"$OUT"
cols=(file)
[ "$MEMORY" == 1 ] && cols+=(mem)
[ "$NODELAY" == 1 ] && cols+=(file_nd)
[ "$NODELAY" == 1 ] && [ "$MEMORY" == 1 ] && cols+=(mem_nd)
[ "$SES" == 1 ] && cols+=(ses)
if [ "$BASELINE" == 1 ]; then
	baseline_resolve
	baseline_build
	cols+=(base)
	echo "H_BASE='$BASE_SHORT'" >>"$OUT"
fi
{
	echo "H_REPS=$REPS"
	echo "H_DURATION=$DURATION"
	echo "H_CONNS=$CONNS"
	echo "H_THREADS=$THREADS"
	echo "H_MEMORY=$MEMORY"
	echo "H_NODELAY=$NODELAY"
	echo "H_COLS='${cols[*]}'"
	echo "H_CMD='wrk -t$THREADS -c$CONNS -d$DURATION --latency -s bench/submit.lua https://127.0.0.1:PORT'"
	echo "H_SES_BODY_B64='$(printf '%s' "$SES_BODY" | base64 -w0)'"
	echo "H_WRK_VERSION='$("$WRK" --version 2>&1 | head -1 | sed 's/ Copyright.*//; s/'"'"'//g')'"
	echo "H_WRK_PKG='$(dpkg-query -W -f '${Version}' wrk 2>/dev/null || echo '?')'"
	echo "H_LOAD_BEFORE='$(cut -d' ' -f1-3 /proc/loadavg)'"
} >>"$OUT"

T_START=$(now)
for rep in $(seq 1 "$REPS"); do
	# rotate the order of the columns between repetitions
	n=${#cols[@]}
	for k in $(seq 0 $((n - 1))); do
		c=${cols[$(((k + rep - 1) % n))]}
		case $c in
		file) run_edsim "file_$rep" file 0 ;;
		mem) run_edsim "mem_$rep" memory 0 ;;
		file_nd) run_edsim "file_nd_$rep" file 1 ;;
		mem_nd) run_edsim "mem_nd_$rep" memory 1 ;;
		base) run_edsim "base_$rep" file 0 "$BASE_BIN" ;;
		ses) run_edsim "ses_$rep" ses 0 ;;
		esac
	done
done
echo "H_LOAD_AFTER='$(cut -d' ' -f1-3 /proc/loadavg)'" >>"$OUT"
echo "H_TOTAL_SECS=$(calc "round($(now) - $T_START, 1)")" >>"$OUT"
log "done in $(calc "round($(now) - $T_START, 1)") s; results in $OUT"
