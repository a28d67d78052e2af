#!/usr/bin/env bash
# conform.sh - times the whole OCI suite against the reference client.
#
#   bench/conform.sh [RESULTS_FILE]
#
# Runs `edsim-conform --client refclient-good --suite scenarios/oci --jobs 4`
# REPS times (default 3) with the release binaries, and writes the markdown
# section "Conformance suite (issue 6)" to RESULTS_FILE (default: stdout
# only). Target: under 60 s per run on this machine.
set -u
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
REPS=${REPS:-3}
JOBS=${JOBS:-4}
OUTF=${1:-/dev/null}
TMP=$(mktemp -d "$ROOT/bench/.conform.XXXXXX")
trap 'rm -rf "$TMP"' EXIT
make -C "$ROOT" --no-print-directory edsim edsim-conform conformance/clients/refclient >/dev/null || exit 1
ncases=$(find "$ROOT/scenarios/oci" -name '*.yaml' | wc -l)
times=()
rows=""
for i in $(seq 1 "$REPS"); do
	s=$(date +%s.%N)
	"$ROOT/edsim-conform" --client refclient-good --suite "$ROOT/scenarios/oci" --jobs "$JOBS" \
		--out "$TMP/run$i" >"$TMP/run$i.out" 2>&1
	rc=$?
	e=$(date +%s.%N)
	t=$(python3 -c "print('%.1f' % ($e - $s))")
	times+=("$t")
	summary=$(grep '^refclient-good:' "$TMP/run$i.out")
	rows+="| $i | $t | $rc | $summary |"$'\n'
	echo "run $i: $t s, exit $rc, $summary" >&2
done
median=$(printf '%s\n' "${times[@]}" | sort -n | sed -n "$(((REPS + 1) / 2))p")
met=$(python3 -c "print('**met**' if $median < 60 else '**not met**')")
{
	echo "## Conformance suite (issue 6)"
	echo
	echo "Command (alone: \`bench/conform.sh [RESULTS_FILE]\`; run by \`bench/run-all\`):"
	echo
	echo '```'
	echo "./edsim-conform --client refclient-good --suite scenarios/oci --jobs $JOBS --out TMP/runN"
	echo '```'
	echo
	echo "$ncases cases (every scenario file under \`scenarios/oci\`, SMTP, HTTPS and relay), each with its own edsim (release build), the reference client \`conformance/clients/refclient --policy good\`; commit $(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown); machine: $(nproc) cores ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1)), $(date -u '+%Y-%m-%d %H:%M UTC')."
	echo
	echo "| run | wall time (s) | exit | verdicts |"
	echo "|---|---|---|---|"
	printf '%s' "$rows"
	echo
	echo "Target: the whole suite in under 60 s with \`--jobs 4\`: median **$median s**, $met. Most of the time is the retry cases' waits (the reference client's backoff starts at 1 s and the 6-minute stall is cut by its 5 s reply timeout); four cases run at once on the 2 cores."
} | tee -a "$OUTF"
