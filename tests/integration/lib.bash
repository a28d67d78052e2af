# lib.bash - helpers for integration tests (sourced, bash).
#
#   edsim_start NAME [--config FILE] [more edsim flags]
#       starts $EDSIM on free loopback ports with state in $T/NAME/state and
#       sets SMTP_PORT, SMTPS_PORT, CONTROL_PORT, CA (its certificate), PID_<NAME>
#   edsim_stop NAME      SIGTERM, then checks exit status 0 and no sanitizer report
#   edsim_kill NAME      SIGKILL (no checks)
#   api METHOD PATH      curl on the control API of the last started edsim
#   dialog MODE PORT     runs an SMTP dialog script (stdin) with expect/dialog.exp;
#                        MODE: plain | starttls | tls
#   check NAME EXPECTED ACTUAL, check_contains NAME NEEDLE HAYSTACK
# Every process started here is killed when the script exits, even on failure.
set -u
T=$(mktemp -d /tmp/edsim-test.XXXXXX)
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
declare -A EDSIM_PID=()
declare -A EDSIM_DIR=()
cleanup_all() {
	local pid
	for pid in "${EDSIM_PID[@]}"; do kill -9 "$pid" 2>/dev/null; done
	jobs -p | xargs -r kill -9 2>/dev/null
	rm -rf "$T"
}
trap cleanup_all EXIT

pass() { echo "PASS: $*"; }
fail() { echo "FAIL: $*"; }
check() {
	if [ "$2" == "$3" ]; then pass "$1"; else
		fail "$1"
		echo "    expected: $2"
		echo "    actual:   $3"
	fi
}
check_contains() {
	if [[ "$3" == *"$2"* ]]; then pass "$1"; else
		fail "$1"
		echo "    expected to contain: $2"
		echo "    actual: $(printf '%s' "$3" | head -c 2000)"
	fi
}
check_not_contains() {
	if [[ "$3" != *"$2"* ]]; then pass "$1"; else
		fail "$1"
		echo "    expected not to contain: $2"
	fi
}

ready_field() { sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1"; }

edsim_start() {
	local name=$1
	shift
	local dir=$T/$name
	mkdir -p "$dir"
	rm -f "$dir/state/edsim.ready"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$dir/sanitizer \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$dir/sanitizer \
		"$EDSIM" --state-dir "$dir/state" --smtp 127.0.0.1:0 --smtps 127.0.0.1:0 \
		--https 127.0.0.1:0 --control 127.0.0.1:0 "$@" >>"$dir/stderr" 2>&1 &
	EDSIM_PID[$name]=$!
	EDSIM_DIR[$name]=$dir
	local i
	for i in $(seq 1 200); do
		[ -f "$dir/state/edsim.ready" ] && break
		if ! kill -0 "${EDSIM_PID[$name]}" 2>/dev/null; then
			echo "edsim $name did not start:"
			cat "$dir/stderr"
			return 1
		fi
		sleep 0.05
	done
	SMTP_PORT=$(ready_field "$dir/state/edsim.ready" smtp)
	SMTPS_PORT=$(ready_field "$dir/state/edsim.ready" smtps)
	CONTROL_PORT=$(ready_field "$dir/state/edsim.ready" control)
	CA=$dir/state/edsim-cert.pem
	[ -n "$SMTP_PORT" ]
}

edsim_stop() {
	kill -TERM "${EDSIM_PID[$1]}" 2>/dev/null
	edsim_reap "$1"
}

# edsim_reap NAME: waits for an edsim that was already sent SIGTERM (a
# second signal during its teardown would find the default action again),
# checks its exit status 0 and that it wrote no sanitizer report.
edsim_reap() {
	local name=$1 pid=${EDSIM_PID[$1]} rc
	wait "$pid"
	rc=$?
	unset "EDSIM_PID[$name]"
	check "edsim $name exits with status 0 after SIGTERM" 0 "$rc"
	if ls "${EDSIM_DIR[$name]}"/sanitizer* >/dev/null 2>&1; then
		fail "edsim $name: sanitizer report"
		cat "${EDSIM_DIR[$name]}"/sanitizer* | head -60
	else
		pass "edsim $name: no sanitizer report"
	fi
}

edsim_kill() {
	kill -9 "${EDSIM_PID[$1]}" 2>/dev/null
	wait "${EDSIM_PID[$1]}" 2>/dev/null
	unset "EDSIM_PID[$1]"
}

api() { curl -s -X "$1" "http://127.0.0.1:$CONTROL_PORT$2"; }
api_status() { curl -s -o /dev/null -w '%{http_code}' -X "$1" "http://127.0.0.1:$CONTROL_PORT$2"; }

# json FIELD-EXPRESSION: reads JSON on stdin, prints a value (python3 stdlib).
json() { python3 -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

dialog() { expect -f "$HERE/expect/dialog.exp" "$1" 127.0.0.1 "$2" "$CA"; }

write_config() { cat >"$T/$1"; echo "$T/$1"; }

# b64 TEXT: base64 of TEXT after printf %b escapes (\0 for NUL), one line.
b64() { printf '%b' "$1" | base64 -w0; }

# poll TRIES CMD...: runs CMD every 0.1 s until it succeeds, at most TRIES times.
poll() {
	local tries=$1 i
	shift
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep 0.1
	done
	return 1
}

# transcript N: the lines of connection N's transcript, "dir line" one a line.
transcript() {
	api GET "/api/v1/connections/$1/transcript" |
		json "'\n'.join(l['dir'] + ' ' + l['line'] for l in d.get('lines', []))"
}

# dialog_check NAME MODE PORT < script: runs a dialog, checks it passed, shows its output.
dialog_check() {
	local name=$1 out rc
	out=$(dialog "$2" "$3")
	rc=$?
	check "$name" 0 "$rc"
	echo "$out" | sed 's/^/    /'
	return "$rc"
}

# --- added for concurrency.sh, durability.sh, control_api.sh -----------------
#   smtp_load ARGS...          runs clients/smtp_load.py (see its header)
#   message_ids                reads a GET /api/v1/messages answer on stdin,
#                              prints its Message-IDs one a line, sorted
#   ids_diff EXPECTED ACTUAL   two files of ids; prints the first 10 lines that
#                              differ ("< only expected", "> only actual"),
#                              nothing when both hold the same ids (duplicates count)
#   wait_until TRIES DELAY CMD...  runs CMD until it succeeds, at most TRIES times
smtp_load() { python3 "$HERE/clients/smtp_load.py" "$@"; }
message_ids() {
	python3 -c 'import json,sys
for m in json.load(sys.stdin)["messages"]: print(m["message_id"])' | LC_ALL=C sort
}
ids_diff() { diff <(LC_ALL=C sort "$1") <(LC_ALL=C sort "$2") | grep '^[<>]' | head -10; }
wait_until() {
	local tries=$1 delay=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep "$delay"
	done
	return 1
}

# message_lines FROM TO SUBJECT: a small message as dialog.exp lines, with the final dot.
message_lines() { printf '> From: %s\n> To: %s\n> Subject: %s\n>\n> hello\n> .\n' "$1" "$2" "$3"; }

# AUTH PLAIN payload for user "user", password "pass" (any credentials work without users).
ANY_AUTH=AHVzZXIAcGFzcw==

# connection_with NEEDLE: id of the newest connection whose transcript has a
# line containing NEEDLE (connections 1..500 are searched), or nothing.
connection_with() {
	python3 - "$CONTROL_PORT" "$1" <<'P'
import json, sys, urllib.request, urllib.error
port, needle = sys.argv[1], sys.argv[2]
found = None
misses = 0
for n in range(1, 501):
    try:
        with urllib.request.urlopen("http://127.0.0.1:%s/api/v1/connections/%d/transcript" % (port, n)) as r:
            t = json.load(r)
    except urllib.error.HTTPError:
        misses += 1
        if misses > 20:
            break
        continue
    misses = 0
    if any(needle in l["line"] for l in t["lines"]):
        found = n
if found is not None:
    print(found)
P
}

# conform_setup: defines conform ARGS..., edsim-conform ($EDSIM_CONFORM, by
# default the sanitizer build) run against $EDSIM with its sanitizer reports
# in $SAN ($T/sanitizer).
conform_setup() {
	CONFORM=${EDSIM_CONFORM:-$EDSIM_REPO/build/asan/edsim-conform}
	SAN=$T/sanitizer
	mkdir -p "$SAN"
}
conform() {
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$SAN/conform \
		UBSAN_OPTIONS=print_stacktrace=1:log_path=$SAN/conform \
		"$CONFORM" --edsim "$EDSIM" "$@"
}
