#!/usr/bin/env bash
# quick.sh - make bench-quick: the current edsim against the baseline, in
# about a minute, as a guard against silent performance regressions.
#
#   bench/quick.sh            (or: make bench-quick)
#
# The baseline is the commit bench/RESULTS.md was measured at (its row
# "| edsim commit | <sha> ... |"; without that row, the last commit that
# changed bench/RESULTS.md), or BASE=<commit>. Its binary is built once in a
# temporary git worktree (make -j2 edsim, not timed as part of any figure)
# and cached as bench/.cache/edsim-<full sha>; BASE_BIN=<file> uses a
# binary built elsewhere. The current binary is ./edsim (EDSIM=<file>).
#
# Measured, current and baseline side by side in one invocation, runs
# interleaved (the order of current and baseline alternating between
# repetitions), every run a fresh process with a fresh state dir:
#   SMTP intake   smtp-source -s SESSIONS -m MSGS -l 2048 [-d] into smtp-sink,
#                 edsim durable and edsim store: {path: ':memory:'}, new
#                 connection per message and connections reused (-d):
#                 messages/s, ratio to smtp-sink in the same repetition, and
#                 server CPU per message (user+system, all threads, from
#                 /proc/PID/stat; the headline: on 2 shared cores throughput
#                 is noisy); edsim must have stored every message
#   start-up      READY_N warm starts each: ms from exec to STATE/edsim.ready
#                 (and to the SMTP port accepting), VmRSS once ready (medians)
#   HTTPS         wrk -tTHREADS -cCONNS -dDURATION with bench/submit.lua (OCI
#                 submitEmail, keep-alive TLS, durable store): accepted/s, p99
#                 latency, edsim CPU per request
# Figures are the best of REPS repetitions (highest rate, lowest CPU); a
# repetition after the first is left out when the time so far and what it
# would take (as long as the slowest one before) would pass BUDGET s (80; a
# busy machine). The
# table goes to stdout, progress to stderr. REGRESSION lines name what is
# worse than the baseline by more than TOL_CPU (10) % CPU per message or
# request, TOL_RATE (15) % msg/s or accepted/s, TOL_RSS (10) % idle RSS,
# TOL_READY (25) % and 5 ms start-up, TOL_P99 (50) % and 2 ms p99. They do
# not fail the run; lost messages, an error from smtp-source or wrk, a server
# that does not start or exits non-zero do (exit 1).
#
# Only loopback, only free ports; every process it starts is stopped on
# exit, its temporary directory (under bench/) and worktree removed, also on
# failure or interrupt.
#
# Environment: EDSIM, BASE, BASE_BIN, MSGS (5000), REPS (2), BUDGET (80),
# SESSIONS (20), READY_N (5), HTTPS (1; 0 leaves it out), DURATION (4s), CONNS (64),
# THREADS (2), RUN_TIMEOUT (60 s per load run), BUILD_TIMEOUT (600 s), the
# TOL_* above.
set -u
set -o pipefail

BENCH=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$BENCH/lib.sh"
ROOT=$(cd "$BENCH/.." && pwd)
EDSIM=${EDSIM:-$ROOT/edsim}
BASE=${BASE:-}
BASE_BIN=${BASE_BIN:-}
MSGS=${MSGS:-5000}
REPS=${REPS:-2}
BUDGET=${BUDGET:-80}
SESSIONS=${SESSIONS:-20}
READY_N=${READY_N:-5}
HTTPS=${HTTPS:-1}
DURATION=${DURATION:-4s}
CONNS=${CONNS:-64}
THREADS=${THREADS:-2}
RUN_TIMEOUT=${RUN_TIMEOUT:-60}
BUILD_TIMEOUT=${BUILD_TIMEOUT:-600}
WRK=${WRK:-wrk}
SMTP_SOURCE=${SMTP_SOURCE:-/usr/sbin/smtp-source}
SMTP_SINK=${SMTP_SINK:-/usr/sbin/smtp-sink}
CACHE=$BENCH/.cache
export TOL_CPU=${TOL_CPU:-10} TOL_RATE=${TOL_RATE:-15} TOL_RSS=${TOL_RSS:-10}
export TOL_READY=${TOL_READY:-25} TOL_P99=${TOL_P99:-50}

log() { printf '[quick %s] %s\n' "$(date +%T)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

T_START=$(now)
need_tools "apt-get install -y postfix sqlite3 curl python3 git wrk" \
	"$SMTP_SOURCE" "$SMTP_SINK" python3 sqlite3 curl git
[ "$HTTPS" == 0 ] || need_tools "apt-get install -y wrk" "$WRK"
[ -x "$EDSIM" ] || die "no $EDSIM (run: make edsim)"
set_duration

# ---- the baseline commit and its binary ---------------------------------------
baseline_resolve
CUR_SHORT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo "?")
# ./edsim is built from the working tree: say so when its sources differ from HEAD
[ -z "$(git -C "$ROOT" status --porcelain --untracked-files=no -- sim scenarios/catalog 2>/dev/null)" ] ||
	CUR_SHORT="$CUR_SHORT+changes"

bench_setup
baseline_build
declare -A BIN=([cur]=$EDSIM [base]=$BASE_BIN)
T_MEASURE=$(now)

CONFIG=$TMP/bench.yaml
bench_config "$CONFIG"
CONFIG_MEM=$TMP/bench-memory.yaml
bench_config "$CONFIG_MEM" "store: {path: ':memory:'}"
CONFIG_HTTPS=$TMP/bench-https.yaml
bench_config "$CONFIG_HTTPS" "https: {auth: off}"
RES=$TMP/results
: >"$RES"

# the order of current and baseline in repetition REP
order() { if [ $(($1 % 2)) == 1 ]; then echo cur base; else echo base cur; fi; }
# over_budget SECS: true when SECS more would end the script after BUDGET s
over_budget() { awk "BEGIN { exit !($(now) - $T_START + $1 > $BUDGET) }"; }
# slowest SECS_VAR START: SECS_VAR = max(SECS_VAR, now - START)
slowest() {
	local d
	d=$(num %.3f "$(now) - $2")
	printf -v "$1" '%s' "$(num %.3f "($d > ${!1} ? $d : ${!1})")"
}
LEFT_OUT=''
# left_out WHAT REP: notes that WHAT's repetitions from REP on are left out
left_out() {
	local r="repetitions $2-$REPS"
	[ "$2" == "$REPS" ] && r="repetition $2"
	LEFT_OUT="${LEFT_OUT:+$LEFT_OUT, }$1 $r"
	log "leaving out $1 $r: it would end the run after BUDGET=$BUDGET s"
}
# one HTTPS repetition: current and baseline, DURATION each and about 1.5 s around each
HTTPS_SECS=0
[ "$HTTPS" == 0 ] || HTTPS_SECS=$(num %.1f "2 * ($DUR_S + 1.5)")

# ---- start-up time and idle RSS -----------------------------------------------
for who in $(order 1); do
	measure_ready "${BIN[$who]}" "$CONFIG" "$TMP/ready-$who" "$READY_N" --https off >"$TMP/ready-$who.env" ||
		die "start-up measurement of the $who binary failed"
	log "start-up ($who): $(grep -E '^READY_(FILE_MEDIAN_MS|MEDIAN_MS|IDLE_KB_MEDIAN)=' "$TMP/ready-$who.env" | tr '\n' ' ')"
done

# ---- SMTP intake ---------------------------------------------------------------
smtp_load() { run_source "$mode" "$ED_SMTP" "$1"; }

REP_SECS=0
for rep in $(seq 1 "$REPS"); do
	if [ "$rep" -gt 1 ] && over_budget "$(num %.1f "$REP_SECS + $HTTPS_SECS")"; then
		left_out SMTP "$rep"
		break
	fi
	t_rep=$(now)
	for mode in conn reuse; do
		sink_run "$mode" "sink_${mode}_$rep"
		echo "smtp sink sink $mode $rep $ELAPSED ${SINK_CPU_MS:-?} - - $SRC_RC $SRC_ERRLINES 0 1" >>"$RES"
		log "sink_${mode}_$rep: $RATE msg/s, CPU ${SINK_CPU_MS:-?} ms"
		for store in file memory; do
			cfg=$CONFIG
			[ "$store" == memory ] && cfg=$CONFIG_MEM
			for who in $(order "$rep"); do
				tag=${who}_${store}_${mode}_$rep
				edsim_run "$tag" "$store" off smtp_load "${BIN[$who]}" --config "$cfg" ||
					die "edsim ($who) $tag did not start"
				echo "smtp $who $store $mode $rep $ELAPSED ${ED_CPU_MS:-?} ${ED_STORED:-?} $ED_RC $SRC_RC $SRC_ERRLINES $ED_WARNS $ED_ALIVE" >>"$RES"
				log "$tag: $(num %.0f "$MSGS / $ELAPSED") msg/s, CPU ${ED_CPU_MS:-?} ms, stored ${ED_STORED:-?}, exit $ED_RC"
			done
		done
	done
	slowest REP_SECS "$t_rep"
done

# ---- HTTPS submitEmail ---------------------------------------------------------
https_load() {
	[ -n "$ED_HTTPS" ] || die "edsim $1: no https port in edsim.ready"
	run_wrk "$ED_HTTPS" "$1"
}

if [ "$HTTPS" != 0 ]; then
	for rep in $(seq 1 "$REPS"); do
		if [ "$rep" -gt 1 ] && over_budget "$REP_SECS"; then
			left_out HTTPS "$rep"
			break
		fi
		t_rep=$(now) REP_SECS=0
		for who in $(order "$rep"); do
			tag=${who}_https_$rep
			edsim_run "$tag" file 127.0.0.1:0 https_load "${BIN[$who]}" --config "$CONFIG_HTTPS" ||
				die "edsim ($who) $tag did not start"
			echo "https $who file - $rep $TMP/$tag.wrk ${ED_CPU_MS:-?} ${ED_STORED:-?} $ED_RC $WRK_RC $(wc -l <"$TMP/$tag.wrk.err") $ED_WARNS $ED_ALIVE" >>"$RES"
			log "$tag: $(sed -n 's/^Requests\/sec: *//p' "$TMP/$tag.wrk") req/s, CPU ${ED_CPU_MS:-?} ms, stored ${ED_STORED:-?}, exit $ED_RC"
		done
		slowest REP_SECS "$t_rep"
	done
fi

# ---- the table -------------------------------------------------------------------
T_END=$(now)
export MSGS REPS SESSIONS CONNS THREADS DURATION READY_N BUDGET
export Q_LEFT_OUT="$LEFT_OUT"
export Q_HEAD="current $CUR_SHORT vs baseline $BASE_SHORT ($BASE_FROM)"
Q_TIMES="measured in $(num %.0f "$T_END - $T_MEASURE") s, baseline build ${BUILD_S} s, $(num %.0f "$T_END - $T_START") s in all"
export Q_TIMES
python3 - "$RES" "$TMP/ready-cur.env" "$TMP/ready-base.env" <<'EOF'
import os, re, sys
E = os.environ
msgs, reps, conns = int(E["MSGS"]), int(E["REPS"]), int(E["CONNS"])
tol = {k: float(E["TOL_" + k]) for k in ("CPU", "RATE", "RSS", "READY", "P99")}
failed, notes, regressions = [], [], []
WHO = {"cur": "current", "base": "baseline", "sink": ""}
MODE = {"conn": "new conn", "reuse": "reused"}
STORE = {"file": "edsim durable", "memory": "edsim :memory:", "sink": "smtp-sink"}


def num(x):
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


def fmt(v, nd=0):
    return "n/a" if v is None else ("{:,.%df}" % nd).format(v)


def pct(cur, base):
    return None if cur is None or not base else (cur / base - 1) * 100


def check(cur, base, name, what, unit, tol_pct, higher_worse=True, abs_min=0.0, nd=0, note=""):
    """A REGRESSION line when cur is worse than base beyond tol_pct % (and abs_min)."""
    d = pct(cur, base)
    if d is None:
        return
    bad = d > tol_pct and cur - base > abs_min if higher_worse else d < -tol_pct
    if bad:
        regressions.append("REGRESSION: %s: %s %s%s vs %s%s baseline (%+.0f%%; threshold %s%.0f%%%s)%s" % (
            name, what, fmt(cur, nd), unit, fmt(base, nd), unit, d, "+" if higher_worse else "-", tol_pct,
            " and %g%s" % (abs_min, unit.strip()) if abs_min else "", note))


def check_exit(run, alive, rc, warns):
    """An edsim run's end: alive through the load, exit 0 on SIGTERM, no warnings."""
    if alive != "1":
        failed.append("%s: edsim died during the load" % run)
    elif rc != "0":
        failed.append("%s: edsim exit status %s after SIGTERM" % (run, rc))
    if warns != "0":
        notes.append("%s: %s warn/error log lines" % (run, warns))

def best(xs, f):
    xs = [x for x in xs if x is not None]
    return f(xs) if xs else None


# ---- SMTP
smtp, sink_rate = {}, {}
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] != "smtp":
        continue
    who, store, mode, rep, el, cpu, stored, rc, src_rc, src_err, warns, alive = f[1:]
    el = num(el)
    rate = msgs / el if el else None
    cpu = num(cpu)
    run = "%s %s %s, rep %s" % (STORE[store], WHO[who], MODE[mode], rep)
    if src_rc != "0" or src_err != "0":
        failed.append("%s: smtp-source exit %s, %s stderr lines" % (run, src_rc, src_err))
    if who != "sink":
        if stored != str(msgs):
            failed.append("%s: LOST MESSAGES: stored %s of %d" % (run, stored, msgs))
        check_exit(run, alive, rc, warns)
    else:
        sink_rate[(mode, rep)] = rate
    smtp.setdefault((store, mode, who), []).append(dict(
        rep=rep, rate=rate, cpu=None if cpu is None else cpu * 1000 / msgs))

out = []
w = out.append
w("bench-quick: %s, best of %d reps" % (E["Q_HEAD"], reps))
if E.get("Q_LEFT_OUT"):
    w("(busy machine: left out %s, to end within BUDGET=%s s)" % (E["Q_LEFT_OUT"], E["BUDGET"]))
w("SMTP: smtp-source -s %s -m %d -l 2048 [-d]; CPU = server user+sys, all threads" % (E["SESSIONS"], msgs))
w("%-35s %8s %7s %11s   %s" % ("", "msg/s", "/ sink", "CPU µs/msg", "current vs baseline"))
for mode in ("conn", "reuse"):
    for store in ("sink", "file", "memory"):
        for who in (("sink",) if store == "sink" else ("cur", "base")):
            rs = smtp.get((store, mode, who), [])
            for r in rs:
                sr = sink_rate.get((mode, r["rep"]))
                r["ratio"] = r["rate"] / sr if r["rate"] and sr else None
            rate, cpu = best([r["rate"] for r in rs], max), best([r["cpu"] for r in rs], min)
            ratio = best([r["ratio"] for r in rs], max) if store != "sink" else None
            vs = ""
            if who == "cur":
                b = smtp.get((store, mode, "base"), [])
                brate, bcpu = best([r["rate"] for r in b], max), best([r["cpu"] for r in b], min)
                dc, dr = pct(cpu, bcpu), pct(rate, brate)
                vs = "CPU %s, msg/s %s" % ("n/a" if dc is None else "%+.0f%%" % dc, "n/a" if dr is None else "%+.0f%%" % dr)
                name = "%s, %s" % (STORE[store], MODE[mode])
                check(cpu, bcpu, name, "CPU", " µs/msg", tol["CPU"])
                check(rate, brate, name, "throughput", " msg/s", tol["RATE"], higher_worse=False,
                      note="; throughput is noisy on shared cores, look at CPU first")
            label = STORE[store] if who in ("sink", "cur") else ""
            w("%-16s %-9s %-8s %8s %7s %11s   %s" % (label, MODE[mode] if who in ("sink", "cur") else "",
                                                  WHO[who], fmt(rate), "" if store == "sink" else fmt(ratio, 2), fmt(cpu), vs))

# ---- start-up and idle RSS
ready = {}
for who, path in (("cur", sys.argv[2]), ("base", sys.argv[3])):
    kv = dict(re.findall(r"^(READY_[A-Z_]+)=(\S+)$", open(path).read(), re.M)) if os.path.exists(path) else {}
    ready[who] = dict(rss=num(kv.get("READY_IDLE_KB_MEDIAN")), file=num(kv.get("READY_FILE_MEDIAN_MS")),
                      accept=num(kv.get("READY_MEDIAN_MS")))


def mib(kb):
    return "n/a" if kb is None else "%.1f MiB" % (kb / 1024)


c, b = ready["cur"], ready["base"]
w("")
w("idle RSS: current %s, baseline %s; ready (exec to edsim.ready): current %s ms, baseline %s ms "
  "(SMTP port accepting: %s / %s ms); medians of %s starts" % (
      mib(c["rss"]), mib(b["rss"]), fmt(c["file"], 1), fmt(b["file"], 1), fmt(c["accept"], 1),
      fmt(b["accept"], 1), E["READY_N"]))
check(c["rss"], b["rss"], "idle RSS", "VmRSS", " kB", tol["RSS"])
check(c["file"], b["file"], "start-up", "ready in", " ms", tol["READY"], abs_min=5, nd=1)

# ---- HTTPS
https = {}
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] != "https":
        continue
    who, _, _, rep, wrkf, cpu, stored, rc, wrk_rc, wrk_err, warns, alive = f[1:]
    run = "HTTPS %s, rep %s" % (WHO[who], rep)
    kv = {k: int(v) for k, v in re.findall(r"^WRK_([A-Z0-9_]+)=([0-9]+)$", open(wrkf).read(), re.M)}
    req, ok, dur = kv.get("REQUESTS", 0), kv.get("STATUS_200", 0), kv.get("DURATION_US", 0) / 1e6
    errs = sum(kv.get("ERR_" + e, 0) for e in ("CONNECT", "READ", "WRITE", "TIMEOUT"))
    st, cpu = num(stored), num(cpu)
    if wrk_rc != "0" or wrk_err != "0" or not req:
        failed.append("%s: wrk exit %s, %s stderr lines, %d requests" % (run, wrk_rc, wrk_err, req))
    if req - ok:
        failed.append("%s: %d of %d answers were not 200" % (run, req - ok, req))
    if errs:
        failed.append("%s: %d wrk socket errors" % (run, errs))
    if st is None or st < ok:
        failed.append("%s: LOST MESSAGES: %s stored, %d answered 200" % (run, stored, ok))
    elif st > ok + conns:
        notes.append("%s: %d stored but only %d answered 200" % (run, st, ok))
    check_exit(run, alive, rc, warns)
    https.setdefault(who, []).append(dict(
        acc=ok / dur if dur else None, p99=kv.get("LAT_P99_US", 0) / 1000 if req else None,
        cpu=cpu * 1000 / req if cpu is not None and req else None))
if https:
    w("")
    w("HTTPS submitEmail, durable store (wrk -t%s -c%d -d%s, bench/submit.lua):" % (E["THREADS"], conns, E["DURATION"]))
    w("%-35s %8s %7s %11s   %s" % ("", "accept/s", "p99 ms", "CPU µs/req", "current vs baseline"))
    agg = {}
    for who in ("cur", "base"):
        rs = https.get(who, [])
        agg[who] = (best([r["acc"] for r in rs], max), best([r["p99"] for r in rs], min),
                    best([r["cpu"] for r in rs], min))
    for who in ("cur", "base"):
        acc, p99, cpu = agg[who]
        vs = ""
        if who == "cur":
            ba, bp, bc = agg["base"]
            vs = "CPU %s, accepted/s %s, p99 %s" % tuple(
                "n/a" if d is None else "%+.0f%%" % d for d in (pct(cpu, bc), pct(acc, ba), pct(p99, bp)))
            check(cpu, bc, "HTTPS submitEmail", "CPU", " µs/req", tol["CPU"])
            check(acc, ba, "HTTPS submitEmail", "throughput", " accepted/s", tol["RATE"], higher_worse=False)
            check(p99, bp, "HTTPS submitEmail", "p99", " ms", tol["P99"], abs_min=2, nd=2)
        w("%-16s %-9s %-8s %8s %7s %11s   %s" % ("", "", WHO[who], fmt(acc), fmt(p99, 2), fmt(cpu), vs))

w("")
for n in notes:
    w("note: " + n)
out.extend(regressions)
if not regressions:
    w("verdict: no regression beyond the thresholds (CPU +%.0f%%, throughput -%.0f%%, idle RSS +%.0f%%, "
      "start-up +%.0f%%, p99 +%.0f%%)" % (tol["CPU"], tol["RATE"], tol["RSS"], tol["READY"], tol["P99"]))
for f in failed:
    w("FAILED: " + f)
w("(%s)" % E["Q_TIMES"])
print("\n".join(out))
sys.exit(1 if failed else 0)
EOF
