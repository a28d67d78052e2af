#!/usr/bin/env bash
# scenario_files: every composite and example scenario in the repository is
# played against an edsim serving it (tools/edsim-replay over STARTTLS with
# AUTH), and its conversation goes as the scenario says: the forced replies
# at their stages, the native ones elsewhere. The per-condition files are
# covered by scenario_catalog.sh; the 6-minute stall is left out here.
. "$(dirname "$0")/lib.bash"

replay=$EDSIM_REPO/tools/edsim-replay
n=0
for file in "$EDSIM_REPO"/scenarios/oci/smtp/composite/*.yaml "$EDSIM_REPO"/scenarios/examples/*.yaml; do
	name=$(basename "$file" .yaml)
	case $name in *stall-then-timeout) continue ;; esac
	n=$((n + 1))
	# A file that configures users names the one to log in as.
	user=$(sed -n 's/^ *- name: *\(ocid1[^ ]*\).*/\1/p' "$file" | head -n 1)
	password=$(sed -n 's/^ *password: *\([^ ]*\).*/\1/p' "$file" | head -n 1)
	edsim_start "$name" --scenario "$file" || { fail "$name: edsim does not start"; continue; }
	out=$(timeout 60 "$replay" --port "$SMTP_PORT" --starttls --ca "$CA" \
		--user "${user:-ocid1.user.oc1..replay}" --password "${password:-secret}" \
		--from noreply@example.com --to someone@example.net "$file" 2>&1)
	rc=$?
	check "$name: the conversation goes as the scenario says" 0 "$rc"
	[ "$rc" -ne 0 ] && echo "$out" | tail -15
	edsim_stop "$name"
done
if [ "$n" -ge 8 ]; then pass "$n scenario files played"; else fail "only $n scenario files found"; fi
