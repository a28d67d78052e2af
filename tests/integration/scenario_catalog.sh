#!/usr/bin/env bash
# scenario_catalog: the repository's one-rule scenarios, one per SMTP catalog
# row (scenarios/oci/smtp/<catalog id>.yaml). Each is given to a fresh edsim
# with --scenario; a standard conversation reaches the rule's stage (read from
# the file), and the reply there must be exactly the catalog line for the id,
# placeholders filled ({user}: anonymous, {limit}: 0, {recipient} / {address}:
# the addresses used). One PASS or FAIL per file.
. "$(dirname "$0")/lib.bash"
REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}
CATALOG=$REPO/scenarios/catalog/oci.yaml
DRIVE=$HERE/clients/catalog_drive.py

NOAUTH=$(write_config noauth.yaml <<'Y'
auth: {required: false}
Y
)
AUTH=$(write_config auth.yaml <<'Y'
auth: {required: true}
Y
)

mapfile -t files < <(cd "$REPO" && ls scenarios/oci/smtp/oci.smtp.*.yaml 2>/dev/null | LC_ALL=C sort)
if [ "${#files[@]}" -eq 0 ]; then
	fail "no scenario files scenarios/oci/smtp/oci.smtp.*.yaml in $REPO (one per SMTP catalog row is expected)"
	exit 1
fi

# Every documented SMTP row of the catalog has its file; the inferred rows
# (protocol replies such as 250 Sender OK) are listed when they have none.
missing_in() { # SOURCE: the SMTP ids of that source with no scenario file
	local id
	python3 "$DRIVE" ids "$CATALOG" "$1" | while read -r id; do
		[ -f "$REPO/scenarios/oci/smtp/$id.yaml" ] || printf '%s ' "$id"
	done
}
ndoc=$(python3 "$DRIVE" ids "$CATALOG" documented | wc -l)
check "the catalog parses into documented SMTP rows (found $ndoc)" yes "$([ "$ndoc" -ge 20 ] && echo yes || echo no)"
check "every documented SMTP catalog row has scenarios/oci/smtp/<id>.yaml; missing:" "" "$(missing_in documented)"
inferred_missing=$(missing_in inferred)
[ -z "$inferred_missing" ] || echo "note: inferred SMTP rows without a scenario file: $inferred_missing"

# stop_quietly NAME: SIGTERM; prints a problem (exit status, sanitizer report), or nothing.
stop_quietly() {
	local pid=${EDSIM_PID[$1]} rc
	kill -TERM "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	unset "EDSIM_PID[$1]"
	[ "$rc" -eq 0 ] || echo "edsim exited with status $rc after SIGTERM"
	if ls "${EDSIM_DIR[$1]}"/sanitizer* >/dev/null 2>&1; then
		echo "sanitizer report:"
		head -30 "${EDSIM_DIR[$1]}"/sanitizer*
	fi
}

n=0
for f in "${files[@]}"; do
	n=$((n + 1))
	id=$(basename "$f" .yaml)
	stage=$(sed -n '/^rules:/,/^[A-Za-z_]/p' "$REPO/$f" | sed 's/\(^\|[[:space:]]\)#.*//' |
		sed -n 's/.*[{ ,]stage: *["'"'"']\{0,1\}\([a-z-]*\).*/\1/p' | head -1)
	if [ -z "$stage" ]; then
		fail "$f: no 'stage:' found"
		continue
	fi
	cfg=$NOAUTH
	[ "$stage" = auth ] && cfg=$AUTH
	if ! edsim_start "c$n" --config "$cfg" --scenario "$REPO/$f" >"$T/start.out" 2>&1; then
		fail "$f: edsim did not start with it"
		head -10 "$T/start.out" | sed 's/^/    /'
		edsim_kill "c$n"
		continue
	fi
	dir=$T/c$n
	result=$(timeout 30 python3 "$DRIVE" drive "$CATALOG" "$REPO/$f" "$stage" "$SMTP_PORT" \
		"$CONTROL_PORT" "$dir/state/edsim-cert.pem" 2>&1)
	rc=$?
	stop_quietly "c$n" >"$T/stop.out" 2>&1
	problems=$(cat "$T/stop.out")
	if [ "$rc" -eq 0 ] && [ -z "$problems" ]; then
		pass "$f: stage $stage replies ${result#ok: }"
	else
		fail "$f (stage $stage)"
		printf '%s\n' "$result" "$problems" | sed '/^$/d; s/^/    /'
	fi
done
