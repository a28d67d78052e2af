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

# The stall lasts 6 minutes: check that it starts (MAIL gets no reply for a
# while, the transcript names the rule) rather than wait it out.
stall=$EDSIM_REPO/scenarios/oci/smtp/composite/oci.smtp.composite.stall-then-timeout.yaml
edsim_start stall --config "$(write_config stall.yaml <<'Y'
auth: { required: false }
Y
)" --scenario "$stall" || exit 1
out=$(python3 - "$SMTP_PORT" <<'P'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=5)
f = s.makefile("rb")
f.readline()
s.sendall(b"EHLO client.test\r\n")
while f.readline()[3:4] == b"-":
    pass
s.sendall(b"MAIL FROM:<a@example.com>\r\n")
s.settimeout(1.5)
try:
    print(f.readline().decode().rstrip() or "<closed>")
except socket.timeout:
    print("<no reply yet>")
P
)
check "stall-then-timeout: MAIL is held (no reply after 1.5 s)" "<no reply yet>" "$out"
check_contains "stall-then-timeout: the transcript names the stalling rule" "acts at stage mail" \
	"$(api GET /api/v1/connections/1/transcript)"
edsim_stop stall
