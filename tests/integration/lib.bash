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
		--control 127.0.0.1:0 "$@" >>"$dir/stderr" 2>&1 &
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
	local name=$1 pid=${EDSIM_PID[$1]} rc
	kill -TERM "$pid" 2>/dev/null
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
