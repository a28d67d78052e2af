#!/usr/bin/env bash
# storage_full: a store on a full disk answers "452 System storage error",
# keeps what it had acknowledged, and the server stays up.
#
# The store lives on a 1 MB tmpfs mounted for this test (root is needed, as
# in CI); messages of 200 KB fill it after a few are accepted.
. "$(dirname "$0")/lib.bash"

disk=$T/tiny
mkdir -p "$disk"
if ! mount -t tmpfs -o size=1m tmpfs "$disk" 2>/dev/null; then
	echo "SKIP: cannot mount a tmpfs here (not root?)"
	exit 0
fi
trap 'umount "$disk" 2>/dev/null; cleanup_all' EXIT

cfg=$(write_config full.yaml <<Y
auth: { required: false }
store: { path: $disk/edsim.db }
Y
)
edsim_start full --config "$cfg" || exit 1

python3 - "$SMTP_PORT" >"$T/full.out" <<'P'
import smtplib, sys
port = int(sys.argv[1])
body = "x" * 76 + "\r\n"
msg = ("From: app@example.com\r\nTo: someone@example.net\r\nSubject: fill %d\r\n\r\n"
       + body * (200 * 1024 // len(body)))
s = smtplib.SMTP("127.0.0.1", port, timeout=20)
s.ehlo("client.test")
codes = []
for i in range(12):
    s.mail("app@example.com")
    s.rcpt("someone@example.net")
    code, text = s.data((msg % i).encode())
    codes.append("%d %s" % (code, text.decode()))
    if code != 250:
        break
code, text = s.noop()
print("\n".join(codes))
print("after: %d %s" % (code, text.decode()))
s.quit()
P
out=$(cat "$T/full.out")
echo "$out"
accepted=$(grep -c '^250 2.0.0 Ok: queued as' <<<"$out")
check_contains "a message that does not fit gets 452 System storage error" "452 System storage error" "$out"
check_contains "the session goes on after the 452" "after: 250 2.0.0 Ok" "$out"
if [ "$accepted" -ge 1 ]; then pass "some messages were accepted before the disk filled ($accepted)"; else fail "no message was accepted before the disk filled"; fi
check "every acknowledged message is listed" "$accepted" \
	"$(api GET "/api/v1/messages?subject=fill" | json "len(d['messages'])")"
check_contains "the 452 is recorded as a rejected event" '"code": 452' "$(api GET /api/v1/events)"
check "health still answers ok" ok "$(api GET /api/v1/health | json "d['status']")"
edsim_stop full
