#!/usr/bin/env bash
# conform_ses: edsim-conform on the SES suite (scenarios/ses).
#   - coverage: every SES catalog row a client can meet has its scenario,
#     scenarios/ses/{smtp,https}/<row id>.yaml (the SMTP rows SES documents
#     or was observed to send, every ses.v2.* and ses.v1.* error row), named
#     after the row and exercising it; `edsim check` accepts every file.
#   - the whole suite with the reference client: --policy good passes every
#     case and meets each single-row case's own row, --policy naive fails
#     exactly the cases whose expect needs a retry; the time with --jobs 4.
#   - the AWS SDKs side by side with the reference clients in one report, on
#     the retry cases, the composites and some refusals: the AWS SDK for
#     JavaScript v3, boto3 in its default mode and in standard mode and the
#     AWS CLI pass all but boto3's default (legacy) mode on v2's daily quota
#     (400 LimitExceededException, which legacy does not retry); what their
#     own logs say (amz-sdk-request attempt=N; max=M, retries) matches.
#   - the good client started 3 s late gets the same verdicts in the retry
#     cases; the SMTP clients (swaks, curl, msmtp, smtplib, nodemailer,
#     openssl-expect, postfix) on SES SMTP cases, each as measured.
. "$(dirname "$0")/lib.bash"

SUITE=$EDSIM_REPO/scenarios/ses
CLIENTS=$EDSIM_REPO/conformance/clients
conform_setup

# ---- coverage --------------------------------------------------------------------------------
missing=$(python3 - "$EDSIM_REPO" <<'P'
import os, re, sys
import json
repo = sys.argv[1]
rows, cur = [], None
for line in open(os.path.join(repo, "scenarios/catalog/ses.yaml")):
    m = re.match(r"  - id: (\S+)", line)
    if m:
        cur = {"id": m.group(1)}
        rows.append(cur)
    m = re.match(r"    (kind|source): (\S+)", line)
    if m and cur is not None:
        cur[m.group(1)] = m.group(2)
need = [r["id"] for r in rows if r.get("kind") != "success" and (
    r["id"].startswith(("ses.v2.", "ses.v1.")) or
    (r["id"].startswith("ses.smtp.") and r.get("source") in ("documented", "observed")))]
out = []
for rid in need:
    sub = "smtp" if rid.startswith("ses.smtp.") else "https"
    path = os.path.join(repo, "scenarios/ses", sub, rid + ".yaml")
    if not os.path.exists(path):
        out.append(rid + " (no file)")
        continue
    t = open(path).read()
    if not re.search(r"^name: %s$" % re.escape(rid), t, re.M) or \
       not re.search(r"^exercises: \[%s\]$" % re.escape(rid), t, re.M) or \
       not re.search(r"^profile: ses$", t, re.M):
        out.append(rid + " (name, exercises or profile)")
print(len(need), " ".join(out))
P
)
nrows=${missing%% *}
check "the SES catalog has rows a client can meet ($nrows)" yes "$([ "$nrows" -ge 100 ] && echo yes || echo no)"
check "every such row has scenarios/ses/{smtp,https}/<id>.yaml naming and exercising it; missing:" "" \
	"${missing#* }"
[ -z "${missing#* }" ] || echo "    (tools/ses-https-scenarios writes the missing HTTPS ones and lists stale files)"
mapfile -t files < <(find "$SUITE" -name '*.yaml' | LC_ALL=C sort)
out=$("$EDSIM" check "${files[@]}" 2>&1)
check "edsim check accepts every SES scenario file (${#files[@]})" 0 "$?"
check "edsim check: one ok line per file" "${#files[@]}" "$(grep -c ': ok (' <<<"$out")"

# each file against its own profile's catalog: OCI's and SES's in one call
# and in one suite; an unknown profile named at its line and column
mkdir -p "$T/mixed"
cp "$EDSIM_REPO/scenarios/oci/smtp/oci.smtp.server-error.yaml" "$SUITE/smtp/ses.smtp.max-send-rate.yaml" "$T/mixed/"
printf 'edsim: 1\nname: x\nprofile: gmail\n' >"$T/gmail.yaml"
out=$("$EDSIM" check "$T/mixed/oci.smtp.server-error.yaml" "$T/mixed/ses.smtp.max-send-rate.yaml" "$T/gmail.yaml" 2>&1)
check "edsim check, OCI and SES files and an unknown profile: exit 1" 1 "$?"
check_contains "edsim check: the OCI file against OCI's catalog" "oci.smtp.server-error.yaml: ok (oci.smtp.server-error, 1 rule)" "$out"
check_contains "edsim check: the SES file against SES's catalog" "ses.smtp.max-send-rate.yaml: ok (ses.smtp.max-send-rate, 1 rule)" "$out"
check_contains "edsim check: an unknown profile at its line and column" \
	"gmail.yaml:3:10: profile: unknown profile 'gmail' (edsim knows: oci, ses)" "$out"
out=$(conform --list --suite "$T/mixed" 2>&1)
check "edsim-conform --list: a suite of OCI and SES scenarios" "oci.smtp.server-error ses.smtp.max-send-rate" \
	"$(awk '{ print $1 }' <<<"$out" | xargs)"
conform --client refclient-good --suite "$T/mixed" --out "$T/mixed-out" >"$T/mixed.out" 2>&1
check "a mixed suite: each case served by an edsim of its own profile, both PASS" \
	"refclient-good: 2 PASS, 0 WARN, 0 FAIL, 0 INFO, 0 SKIPPED" "$(grep '^refclient-good: ' "$T/mixed.out")"
greets() { grep -q 'ESMTP SimpleEmailService' "$T/mixed-out/cases/refclient-good/$1/evidence.json" && echo yes || echo no; }
check "a mixed suite: SES's greeting in the SES case only (its edsim ran under profile ses)" "yes no" \
	"$(greets ses.smtp.max-send-rate) $(greets oci.smtp.server-error)"

# needs_retry REPORT: the cases whose expect needs a retry, one a line.
needs_retry() {
	grep -rl '^ *outcome: *delivered-once-after-retry' "$SUITE" | xargs sed -n 's/^name: *//p' | LC_ALL=C sort
}
needs_retry >"$T/retry-cases"

# ---- the whole suite: good and naive -----------------------------------------------------------
start=$(date +%s.%N)
conform --client refclient-good --client refclient-naive --suite "$SUITE" --out "$T/full" --jobs 4 \
	>"$T/full.out" 2>&1
rc=$?
secs=$(python3 -c "print('%.1f' % ($(date +%s.%N) - $start))")
echo "    the whole SES suite ($(grep -c . <<<"$(printf '%s\n' "${files[@]}")") cases), good and naive, --jobs 4: $secs s"
check "naive fails cases, so the exit status is 1" 1 "$rc"
tail -3 "$T/full.out" | sed 's/^/    /'
verdicts() { # REPORT: good's non-PASS, naive's wrong verdicts, good's cases not meeting their row
	python3 - "$1" "$T/retry-cases" <<'P'
import json, sys
rep = json.load(open(sys.argv[1]))
retry = set(open(sys.argv[2]).read().split())
by = lambda client: {r["case"]: r for r in rep["results"] if r["client"] == client}
good, naive = by("refclient-good"), by("refclient-naive")
print("good-not-pass", sorted(c for c, r in good.items() if r["verdict"] != "PASS"))
print("naive-wrong", sorted(c for c, r in naive.items() if r["verdict"] != ("FAIL" if c in retry else "PASS")))
def met(r):
    ex = [c for c in r["checks"] if c["id"] == "exercised"]
    return ex and ("met " + r["case"]) in (ex[0].get("actual") or "")
print("row-not-met", sorted(c for c, r in good.items() if ".composite." not in c and not met(r)))
print("counts", len(good), len(naive), sum(1 for c in naive if c in retry))
P
}
v=$(verdicts "$T/full/report.json")
check "refclient --policy good passes every SES case" "good-not-pass []" "$(sed -n 1p <<<"$v")"
check "refclient --policy naive fails exactly the cases that need a retry" "naive-wrong []" "$(sed -n 2p <<<"$v")"
check "each single-row case makes the good client meet its own row" "row-not-met []" "$(sed -n 3p <<<"$v")"
check "every case ran for both clients; the retry cases counted" \
	"counts ${#files[@]} ${#files[@]} $(wc -l <"$T/retry-cases")" "$(sed -n 4p <<<"$v")"

# ---- the AWS SDKs side by side ------------------------------------------------------------------
if ! (cd "$CLIENTS/aws-sdk-js" && node -e 'require("./node_modules/@aws-sdk/client-sesv2/package.json")' 2>/dev/null); then
	(cd "$CLIENTS/aws-sdk-js" && flock package.json timeout 75 npm ci --no-audit --no-fund 2>&1 | tail -n 20)
fi
picks=()
while read -r c; do case $c in ses.v[12].*) picks+=(--case "$c") ;; esac; done <"$T/retry-cases"
for c in ses.v2.composite.paused-then-resumed ses.v2.composite.sandbox-then-verified ses.v2.not-verified \
	ses.v1.sending-paused ses.v2.signature-does-not-match ses.v1.signature-does-not-match \
	ses.v2.validation-null ses.v1.access-denied ses.v2.configuration-set-does-not-exist ses.smtp.max-send-rate; do
	picks+=(--case "$c")
done
start=$(date +%s.%N)
conform --client refclient-good --client refclient-naive --client aws-sdk-js --client boto3 \
	--client boto3-standard --client aws-cli --suite "$SUITE" "${picks[@]}" --out "$T/sdks" --jobs 4 \
	>"$T/sdks.out" 2>&1
check "naive and boto3's legacy mode fail cases, so the exit status is 1" 1 "$?"
secs=$(python3 -c "print('%.1f' % ($(date +%s.%N) - $start))")
echo "    $((${#picks[@]} / 2)) cases, the reference clients and 4 SDK clients, --jobs 4: $secs s"
tail -7 "$T/sdks.out" | sed 's/^/    /'
check "one report: naive fails exactly the retry cases picked" "naive-wrong []" \
	"$(verdicts "$T/sdks/report.json" | sed -n 2p)"
sdk=$(python3 - "$T/sdks/report.json" <<'P'
import json, sys
rep = json.load(open(sys.argv[1]))
expected_fail = {("boto3", "ses.v2.daily-quota")}
for client in ("refclient-good", "aws-sdk-js", "boto3", "boto3-standard", "aws-cli"):
    rs = [r for r in rep["results"] if r["client"] == client]
    wrong = sorted(r["case"] for r in rs if r["case"] != "ses.smtp.max-send-rate" and
                   r["verdict"] != ("FAIL" if (client, r["case"]) in expected_fail else "PASS"))
    smtp = [r["verdict"] for r in rs if r["case"] == "ses.smtp.max-send-rate"]
    print(client, "wrong", wrong, "smtp", smtp)
P
)
check "the reference client passes the picked cases" "refclient-good wrong [] smtp ['PASS']" "$(grep '^refclient-good ' <<<"$sdk")"
check "aws-sdk-js passes every HTTPS case picked (an SMTP case: SKIPPED)" "aws-sdk-js wrong [] smtp ['SKIPPED']" "$(grep '^aws-sdk-js ' <<<"$sdk")"
check "boto3 (legacy) passes all but ses.v2.daily-quota, which FAILs" "boto3 wrong [] smtp ['SKIPPED']" "$(grep '^boto3 ' <<<"$sdk")"
check "boto3-standard passes every HTTPS case picked" "boto3-standard wrong [] smtp ['SKIPPED']" "$(grep '^boto3-standard ' <<<"$sdk")"
check "aws-cli passes every HTTPS case picked" "aws-cli wrong [] smtp ['SKIPPED']" "$(grep '^aws-cli ' <<<"$sdk")"
log() { cat "$T/sdks/cases/$1/$2/client.log" 2>/dev/null; }
check_contains "aws-sdk-js retries the 429 with amz-sdk-request attempt=2; max=3" \
	"200 (amz-sdk-request: attempt=2; max=3)" "$(log aws-sdk-js ses.v2.max-send-rate)"
check_contains "aws-sdk-js retries v2's daily quota (LimitExceededException) as throttling" \
	"sent: MessageId" "$(log aws-sdk-js ses.v2.daily-quota)"
check_contains "boto3 (legacy): attempt=2; max=5 after the 429" "attempt=2; max=5" "$(log boto3 ses.v2.max-send-rate)"
check_contains "boto3 (legacy): v1 Throttling (a 400) retried" "sent: MessageId" "$(log boto3 ses.v1.max-send-rate)"
check_contains "boto3 (legacy): LimitExceededException not retried, reported with its status" \
	"failed: LimitExceededException (HTTP 400): Daily message quota exceeded. after 1 attempt(s)" \
	"$(log boto3 ses.v2.daily-quota)"
check_contains "boto3-standard: attempt=2; max=3, LimitExceededException retried" "attempt=2; max=3" \
	"$(log boto3-standard ses.v2.daily-quota)"
check_contains "aws-cli (standard mode) retries the 429" "Retry needed, retrying request after delay of" \
	"$(cat "$T/sdks/cases/aws-cli/ses.v2.max-send-rate/aws-attempts.txt" 2>/dev/null)"
check_contains "aws-cli reports a refusal by its error code" "An error occurred (SignatureDoesNotMatch)" \
	"$(log aws-cli ses.v1.signature-does-not-match)"
attempts_agree=$(python3 - "$T/sdks" <<'P'
import json, re, sys, os
bad = []
for client in ("aws-sdk-js", "boto3", "boto3-standard"):
    for case in ("ses.v2.max-send-rate", "ses.v1.internal-failure", "ses.v2.composite.429-then-200"):
        d = os.path.join(sys.argv[1], "cases", client, case)
        said = len(re.findall(r"^attempt \d+ at", open(os.path.join(d, "client.log")).read(), re.M))
        seen = len(json.load(open(os.path.join(d, "result.json")))["attempts"])
        if said != seen:
            bad.append((client, case, said, seen))
print(bad)
P
)
check "the SDKs' own count of attempts is edsim's" "[]" "$attempts_agree"

# ---- the good client started 3 s late, in the retry cases ---------------------------------------
REFCLIENT=$(dirname "$CONFORM")/refclient
LATE="sleep 3; $REFCLIENT --policy good --api {api} --smtp-host {smtp_host} --smtp-port {smtp_port}"
LATE="$LATE --https-url {https_url} --ca {ca} --user '{user}' --password '{password}' --from {from} --to {to}"
LATE="$LATE --subject '{subject}' --message-id '{message_id}' --eml {eml} --region {aws_region}"
LATE="$LATE --aws-secret '{aws_secret_access_key}'"
picks=()
while read -r c; do picks+=(--case "$c"); done <"$T/retry-cases"
conform --client "$LATE" --suite "$SUITE" "${picks[@]}" --out "$T/late" --jobs 4 >"$T/late.out" 2>&1
check "the good client 3 s late: exit 0" 0 "$?"
check "the good client 3 s late passes every retry case" "sleep: $(wc -l <"$T/retry-cases") PASS, 0 WARN, 0 FAIL, 0 INFO, 0 SKIPPED" \
	"$(grep '^sleep: ' "$T/late.out")"

# ---- the SMTP clients on SES SMTP -----------------------------------------------------------------
conform --client swaks --client curl --client msmtp --client smtplib --client nodemailer --client openssl-expect \
	--suite "$SUITE" --case ses.smtp.max-send-rate --case ses.smtp.auth-invalid --case ses.smtp.sending-paused \
	--case ses.smtp.not-verified --case ses.v2.max-send-rate --out "$T/smtp" --jobs 4 >"$T/smtp.out" 2>&1
smtp=$(python3 - "$T/smtp/report.json" <<'P'
import json, sys
rep = json.load(open(sys.argv[1]))
order = ["ses.smtp.max-send-rate", "ses.smtp.auth-invalid", "ses.smtp.sending-paused", "ses.smtp.not-verified", "ses.v2.max-send-rate"]
for client in ("swaks", "curl", "msmtp", "smtplib", "nodemailer", "openssl-expect"):
    v = {r["case"]: r["verdict"] for r in rep["results"] if r["client"] == client}
    print(client, " ".join(v.get(c, "-") for c in order))
P
)
# No SMTP client retries a 454 by itself; curl does not name the code it
# failed on; smtplib's login() falls back from PLAIN to LOGIN after the 535.
check "swaks: no retry of the 454; refusals reported" "swaks FAIL PASS PASS PASS SKIPPED" "$(grep '^swaks ' <<<"$smtp")"
check "curl: no retry; exits non-zero without the code" "curl FAIL WARN WARN WARN SKIPPED" "$(grep '^curl ' <<<"$smtp")"
check "msmtp: no retry; refusals reported" "msmtp FAIL PASS PASS PASS SKIPPED" "$(grep '^msmtp ' <<<"$smtp")"
check "smtplib: no retry; AUTH fallback after the 535" "smtplib FAIL WARN PASS PASS SKIPPED" "$(grep '^smtplib ' <<<"$smtp")"
check "nodemailer: no retry; refusals reported" "nodemailer FAIL PASS PASS PASS SKIPPED" "$(grep '^nodemailer ' <<<"$smtp")"
check "openssl-expect: no retry; refusals reported" "openssl-expect FAIL PASS PASS PASS SKIPPED" \
	"$(grep '^openssl-expect ' <<<"$smtp")"
conform --client postfix --suite "$SUITE" --case ses.smtp.max-send-rate --case ses.smtp.composite.daily-quota-until-window \
	--case ses.smtp.sending-paused --out "$T/postfix" --jobs 3 >"$T/postfix.out" 2>&1
check "postfix retries SES's 454s from its queue and bounces the 554" "postfix: 3 PASS, 0 WARN, 0 FAIL, 0 INFO, 0 SKIPPED" \
	"$(grep '^postfix: ' "$T/postfix.out")"

if ls "$SAN"/conform* >/dev/null 2>&1; then
	fail "edsim-conform: sanitizer report"
	head -40 "$SAN"/conform*
else
	pass "edsim-conform: no sanitizer report"
fi
