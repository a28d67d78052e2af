#!/usr/bin/env bash
# conform_runner: edsim-conform's self-test. The reference client with
# --policy good passes every case of the OCI suite that it meets (the few a
# single-connection client to rcpt@example.net cannot meet are INFO,
# "condition not exercised"); with --policy naive it fails exactly the cases
# whose expect needs a retry (outcome delivered-once-after-retry). The same
# good client started 3 s late gets the same verdict in every case. A
# typical Python app (tests/integration/clients/python_app.py: smtplib,
# login(), backoff with jitter), declared SMTP-only, gets no FAIL: its HTTPS
# cases are SKIPPED and its AUTH mechanism fallback after 535 a WARN; given
# without the declaration, an HTTPS case it answers over SMTP is SKIPPED.
# Also: --list, usage and setup errors (exit 2), SKIPPED with a reason, the
# budget, --baseline and --strict, a smoke subset with swaks, report.json's
# summary, junit.xml against conformance/junit.xsd.
. "$(dirname "$0")/lib.bash"

SUITE=$EDSIM_REPO/scenarios/oci
conform_setup

# --- --list and usage ---------------------------------------------------------------
out=$(conform --list --suite "$SUITE")
check "--list exits 0" 0 "$?"
nfiles=$(find "$SUITE" -name '*.yaml' | wc -l)
check "--list prints one line per scenario file ($nfiles)" "$nfiles" "$(wc -l <<<"$out")"
check_contains "--list names a case, its protocol, catalog row and title" \
	"oci.smtp.server-error" "$(grep '^oci.smtp.server-error ' <<<"$out")"
check_contains "--list: an HTTPS case says https" "https" "$(grep '^oci.https.too-many-requests ' <<<"$out")"
conform --suite "$SUITE" >/dev/null 2>&1
check "no --client or --out: usage error, exit 2" 2 "$?"
conform --client no-such-client --suite "$SUITE" --out "$T/x" >"$T/err" 2>&1
check "an unknown client: exit 2" 2 "$?"
check_contains "an unknown client is named" "unknown client 'no-such-client'" "$(cat "$T/err")"
mkdir -p "$T/badsuite"
printf 'edsim: 1\nname: bad\nrules:\n  - when: {stage: nowhere}\n    do: {drop: true}\n' >"$T/badsuite/bad.yaml"
conform --client swaks --suite "$T/badsuite" --out "$T/x" >"$T/err" 2>&1
check "a bad suite file: exit 2" 2 "$?"
check_contains "a bad suite file: file:line:col" "bad.yaml:4:19: unknown stage 'nowhere'" "$(cat "$T/err")"
conform --client swaks --suite "$SUITE" --case oci.nope --out "$T/x" >"$T/err" 2>&1
check "an unknown --case: exit 2" 2 "$?"

# --- the whole suite: good, naive and good started late side by side ---------------
REFCLIENT=$(dirname "$CONFORM")/refclient
LATE="sleep 3; $REFCLIENT --policy good --protocol {protocol} --smtp-host {smtp_host} --smtp-port {smtp_port}"
LATE="$LATE --https-url {https_url} --ca {ca} --user '{user}' --password '{password}' --from {from} --to {to}"
LATE="$LATE --subject '{subject}' --message-id '{message_id}' --eml {eml}"
start=$(date +%s.%N)
conform --client refclient-good --client refclient-naive --client "$LATE" --suite "$SUITE" --out "$T/full" \
	--jobs 4 >"$T/full.out" 2>&1
rc=$?
secs=$(python3 -c "print('%.1f' % ($(date +%s.%N) - $start))")
echo "    the whole OCI suite, two clients, --jobs 4: $secs s"
check "naive fails cases, so the exit status is 1" 1 "$rc"
tail -4 "$T/full.out" | sed 's/^/    /'
verdicts=$(python3 - "$T/full/report.json" "$SUITE" <<'P'
import json, sys, os, re
rep = json.load(open(sys.argv[1]))
needs_retry = set()
for root, _, files in os.walk(sys.argv[2]):
    for f in files:
        if f.endswith(".yaml"):
            t = open(os.path.join(root, f)).read()
            name = re.search(r"^name: *(\S+)", t, re.M).group(1)
            if re.search(r"^\s*outcome: *delivered-once-after-retry", t, re.M):
                needs_retry.add(name)
by = lambda client: {r["case"]: r for r in rep["results"] if r["client"] == client}
good, naive, late = by("refclient-good"), by("refclient-naive"), by("sleep")
unmet = lambda r: r["verdict"] == "INFO" and (r["reason"] or "").startswith("condition not exercised")
print("good-not-pass", sorted(c for c, r in good.items() if r["verdict"] != "PASS" and not unmet(r)))
print("naive-fail-wrong", sorted(c for c, r in naive.items()
      if (r["verdict"] == "FAIL") != (c in needs_retry) or r["verdict"] not in ("PASS", "FAIL") and not unmet(r)))
print("counts", len(good), len(naive), len(needs_retry))
print("summary", rep["summary"]["refclient-good"]["PASS"] + rep["summary"]["refclient-good"]["INFO"],
      rep["summary"]["refclient-naive"]["FAIL"])
print("unmet", sorted(c for c, r in good.items() if unmet(r)))
print("late-differs", sorted(c for c in good if late[c]["verdict"] != good[c]["verdict"]))
P
)
check "refclient --policy good passes every case it meets" "good-not-pass []" "$(sed -n 1p <<<"$verdicts")"
check "refclient --policy naive fails exactly the cases that need a retry" "naive-fail-wrong []" \
	"$(sed -n 2p <<<"$verdicts")"
check_contains "every case graded for both clients" "counts $nfiles $nfiles" "$(sed -n 3p <<<"$verdicts")"
check "report.json summary agrees" "summary $nfiles $(sed -n 's/^counts [0-9]* [0-9]* //p' <<<"$verdicts")" \
	"$(sed -n 4p <<<"$verdicts")"
# A single connection to rcpt@example.net never meets a burst of connections,
# a seeded draw that lets the first message through, or a bounce rule for
# bounce*@ recipients: INFO, never PASS or FAIL.
check "good: INFO 'condition not exercised' exactly where a single message cannot meet the condition" \
	"unmet ['oci.relay.hard-bounce', 'oci.smtp.composite.connection-burst', 'oci.smtp.composite.random-chaos']" \
	"$(sed -n 5p <<<"$verdicts")"
check "good started 3 s late ('sleep 3; refclient --policy good ...'): no verdict changes" "late-differs []" \
	"$(sed -n 6p <<<"$verdicts")"
check "report.json: schema edsim-conform/1, three clients" \
	"edsim-conform/1 ['refclient-good', 'refclient-naive', 'sleep']" \
	"$(json "d['schema'] + ' ' + str(d['clients'])" <"$T/full/report.json")"
/usr/bin/python3 - "$T/full/report.json" "$EDSIM_REPO/conformance/report.schema.json" \
	>"$T/jsonschema" 2>&1 <<'P'
import json, sys
import jsonschema  # Debian's python3-jsonschema
schema = json.load(open(sys.argv[-1]))
for f in sys.argv[1:-1]:
    jsonschema.validate(json.load(open(f)), schema)
P
check "report.json validates against conformance/report.schema.json (python3-jsonschema)" 0 "$?"
[ -s "$T/jsonschema" ] && tail -5 "$T/jsonschema"
xmllint --noout --schema "$EDSIM_REPO/conformance/junit.xsd" "$T/full/junit.xml" >"$T/xmllint" 2>&1
check "junit.xml validates against conformance/junit.xsd" 0 "$?"
check "junit.xml: one testcase per case and client" "$((3 * nfiles))" "$(grep -c '<testcase ' "$T/full/junit.xml")"
check_contains "report.html names the cases" "oci.smtp.composite.server-error-twice" "$(cat "$T/full/report.html")"
check "a check prints expected: and actual: (naive, server-error)" True "$(python3 - "$T/full/report.json" <<'P'
import json, sys
rep = json.load(open(sys.argv[1]))
r = [r for r in rep["results"] if r["client"] == "refclient-naive" and r["case"] == "oci.smtp.server-error"][0]
bad = [c for c in r["checks"] if c["verdict"] == "FAIL"]
print(bool(bad) and all(c["expected"] and c["actual"] and c.get("remedy") for c in bad))
P
)"

# --- --baseline: only what got worse counts ----------------------------------------
conform --client refclient-naive --suite "$SUITE" --case oci.smtp.server-error --case oci.smtp.auth-invalid \
	--out "$T/base" --baseline "$T/full/report.json" >"$T/base.out" 2>&1
check "--baseline: naive's known failures did not get worse: exit 0" 0 "$?"
check "--baseline: report.json lists nothing worse" "[]" "$(json "d['baseline']['worse']" <"$T/base/report.json")"

# --- SKIPPED, the budget, swaks smoke -------------------------------------------------
conform --client swaks --suite "$SUITE" --case oci.smtp.auth-invalid --case oci.smtp.server-error \
	--case oci.https.missing-subject --case oci.smtp.composite.server-error-twice --out "$T/swaks" >"$T/swaks.out" 2>&1
check "swaks on a smoke subset: it fails the retry cases, exit 1" 1 "$?"
sw=$(json "' '.join('%s=%s' % (r['case'], r['verdict']) for r in d['results'])" <"$T/swaks/report.json")
check_contains "swaks: auth-invalid passes (gives up, exits non-zero naming 535)" "oci.smtp.auth-invalid=PASS" "$sw"
check_contains "swaks: server-error fails (it does not retry)" "oci.smtp.server-error=FAIL" "$sw"
check_contains "swaks: the HTTPS case is SKIPPED" "oci.https.missing-subject=SKIPPED" "$sw"
check_contains "SKIPPED carries the reason" "does not speak the HTTPS API" \
	"$(json "[r['reason'] for r in d['results'] if r['verdict'] == 'SKIPPED'][0]" <"$T/swaks/report.json")"

# The expect adapter: an Expect script typing into openssl s_client.
conform --client openssl-expect --suite "$SUITE" --case oci.smtp.auth-invalid --case oci.smtp.server-error \
	--case oci.smtp.suppressed --out "$T/expect" --jobs 3 >"$T/expect.out" 2>&1
check "openssl-expect (kind expect): fails the retry case, exit 1" 1 "$?"
check "openssl-expect: auth-invalid PASS, server-error FAIL, suppressed PASS" \
	"oci.smtp.auth-invalid=PASS oci.smtp.server-error=FAIL oci.smtp.suppressed=PASS" \
	"$(json "' '.join('%s=%s' % (r['case'], r['verdict']) for r in sorted(d['results'], key=lambda r: r['case']))" <"$T/expect/report.json")"

# Several clients in one run and one report (the matrix): an MTA (Postfix,
# kind mta), nodemailer and the OCI SDK (their node modules are installed by
# conform_clients.sh, which runs before this script).
conform --client postfix --client nodemailer --client oci-sdk --suite "$SUITE" \
	--case oci.smtp.composite.server-error-twice --case oci.smtp.auth-invalid \
	--case oci.https.composite.429-twice-then-200 --out "$T/matrix" --jobs 4 >"$T/matrix.out" 2>&1
mx=$(python3 - "$T/matrix/report.json" <<'P'
import json, sys
rep = json.load(open(sys.argv[1]))
v = {(r["client"], r["case"]): r for r in rep["results"]}
def d(c, k):
    return [x["verdict"] for x in v[(c, k)]["checks"] if x["id"].startswith("delivered")]
print(rep["clients"])
print(v[("postfix", "oci.smtp.composite.server-error-twice")]["verdict"] in ("PASS", "WARN"),
      d("postfix", "oci.smtp.composite.server-error-twice"))
# The SDK waits 1 s, then 2 s, each plus up to 1 s at random: now and then
# the second gap is not 10 % longer than the first, and "backoff" WARNs.
def jittered(r):
    warns = {c["id"] for c in r["checks"] if c["verdict"] == "WARN"}
    return "PASS" if r["verdict"] == "WARN" and warns == {"backoff"} else r["verdict"]
print(jittered(v[("oci-sdk", "oci.https.composite.429-twice-then-200")]),
      v[("nodemailer", "oci.smtp.auth-invalid")]["verdict"],
      v[("nodemailer", "oci.smtp.composite.server-error-twice")]["verdict"],
      v[("oci-sdk", "oci.smtp.auth-invalid")]["verdict"],
      v[("postfix", "oci.https.composite.429-twice-then-200")]["verdict"])
P
)
check "matrix: three clients in one report" "['postfix', 'nodemailer', 'oci-sdk']" "$(sed -n 1p <<<"$mx")"
check "Postfix (mta) relays server-error-twice once, after its own retries" "True ['PASS']" "$(sed -n 2p <<<"$mx")"
check "oci-sdk passes 429-twice; nodemailer passes auth-invalid, fails server-error-twice; protocol mismatches SKIPPED" \
	"PASS PASS FAIL SKIPPED SKIPPED" "$(sed -n 3p <<<"$mx")"
check "the HTML matrix has a column per client" 3 \
	"$(grep -o '<th[^>]*>\(postfix\|nodemailer\|oci-sdk\)</th>' "$T/matrix/report.html" | sort -u | wc -l)"

# Python's smtplib, curl's command line and msmtp on a success case and a refusal.
conform --client smtplib --client curl --client msmtp --suite "$SUITE" --case oci.relay.dropped-connection --case oci.smtp.auth-invalid \
	--out "$T/small" --jobs 4 >"$T/small.out" 2>&1
sm=$(python3 - "$T/small/report.json" <<'P'
import json, sys
rep = json.load(open(sys.argv[1]))
v = {(r["client"], r["case"]): r for r in rep["results"]}
rep_check = lambda c, k: [x["verdict"] for x in v[(c, k)]["checks"] if x["id"] == "report"]
print(v[("smtplib", "oci.relay.dropped-connection")]["verdict"], v[("curl", "oci.relay.dropped-connection")]["verdict"],
      rep_check("smtplib", "oci.smtp.auth-invalid"), v[("curl", "oci.smtp.auth-invalid")]["verdict"] != "SKIPPED",
      v[("msmtp", "oci.relay.dropped-connection")]["verdict"], v[("msmtp", "oci.smtp.auth-invalid")]["verdict"])
P
)
check "smtplib, curl and msmtp deliver the relay case; smtplib reports the 535; curl takes part; msmtp gives up on the 535" \
	"PASS PASS ['PASS'] True PASS PASS" "$sm"

# A typical Python app (smtplib, login(), retries with backoff and jitter),
# ad hoc and declared SMTP-only, through the whole OCI suite: nothing FAILs.
APP="python3 $HERE/clients/python_app.py {smtp_host} {smtp_port} '{user}' '{password}' {from} {to} {eml} {ca}"
conform --client "smtp: $APP" --suite "$SUITE" --out "$T/app" --jobs 4 >"$T/app.out" 2>&1
check "the Python app through the whole suite: exit 0 (no FAIL)" 0 "$?"
app=$(python3 - "$T/app/report.json" <<'P'
import json, sys
rep = json.load(open(sys.argv[1]))
res = rep["results"]
print(sorted(r["case"] for r in res if r["verdict"] == "FAIL"))
print(all(r["verdict"] == "SKIPPED" for r in res if r["protocol"] == "https"),
      sum(r["protocol"] == "https" for r in res))
warn = {r["case"]: [c["id"] for c in r["checks"] if c["verdict"] == "WARN"] for r in res if r["verdict"] == "WARN"}
print(warn)
auth = [r for r in res if r["case"].startswith("oci.smtp.auth-") and r["case"] != "oci.smtp.auth-required"]
print(sorted((r["case"], [c["actual"] for c in r["checks"] if c["id"] == "attempts"][0]) for r in auth))
P
)
check "the Python app: no FAIL" "[]" "$(sed -n 1p <<<"$app")"
check_contains "the Python app: declared SMTP-only, every HTTPS case SKIPPED" "True" "$(sed -n 2p <<<"$app")"
check "the Python app: the one WARN is the AUTH mechanism fallback after 535 (smtplib's login())" \
	"{'oci.smtp.auth-invalid': ['auth-fallback']}" "$(sed -n 3p <<<"$app")"
check "the Python app: PLAIN then LOGIN on one session is one attempt, in the six AUTH refusal cases" \
	"[('oci.smtp.auth-bad-base64', '1'), ('oci.smtp.auth-invalid', '1'), ('oci.smtp.auth-mechanism-mismatch', '1'), ('oci.smtp.auth-method-unsupported', '1'), ('oci.smtp.auth-no-nul', '1'), ('oci.smtp.auth-no-second-nul', '1')]" \
	"$(sed -n 4p <<<"$app")"
# The same app without the declaration: an HTTPS case it answers over SMTP is
# SKIPPED, with the reason, not FAILed.
conform --client "$APP" --suite "$SUITE" --case oci.https.missing-subject --case oci.https.composite.500-then-200 \
	--out "$T/app2" --jobs 2 >"$T/app2.out" 2>&1
check "the app undeclared: HTTPS cases it answered over SMTP are SKIPPED (exit 0)" "0 SKIPPED SKIPPED" \
	"$? $(json "' '.join(r['verdict'] for r in d['results'])" <"$T/app2/report.json")"
check_contains "the app undeclared: the reason says it acted only over SMTP" \
	"the client acted only over SMTP (1 attempt(s)); this is an HTTPS case" \
	"$(json "d['results'][0]['reason']" <"$T/app2/report.json")"

# A bad client definition names its file, line and column.
mkdir -p "$T/defs"
printf 'name: broken\nkind: command\nprotocols: [smtp, carrier-pigeon]\ncommand: "true"\n' >"$T/defs/broken.yaml"
conform --client broken --clients-dir "$T/defs" --suite "$SUITE" --out "$T/x" >"$T/err" 2>&1
check "a bad client definition: exit 2" 2 "$?"
check_contains "a bad client definition: file:line:col" "broken.yaml:3:19: protocols: expected smtp or https" "$(cat "$T/err")"
printf 'name: late\nkind: command\nprotocols: [smtp]\ncommand: "true"\nsettle: 5s\n' >"$T/defs/late.yaml"
conform --client late --clients-dir "$T/defs" --suite "$SUITE" --out "$T/x" >"$T/err" 2>&1
check_contains "settle is only for kind mta: file:line:col" "late.yaml:5:9: settle: only for kind mta" "$(cat "$T/err")"

start=$(date +%s)
conform --client 'sleep 30' --suite "$SUITE" --case oci.smtp.server-error --budget 2s --out "$T/budget" \
	>"$T/budget.out" 2>&1
check "a client that hangs: the case FAILs (exit 1)" 1 "$?"
check "the budget stops it (the run took under 10 s)" True "$([ $(($(date +%s) - start)) -lt 10 ] && echo True || echo False)"
check "the budget check says so" "FAIL" \
	"$(json "[c['verdict'] for c in d['results'][0]['checks'] if c['id'] == 'budget'][0]" <"$T/budget/report.json")"

# --strict turns WARN into FAIL: the curl client retries with no backoff (--retry uses 1 s steps)
# is not reliable enough to assert here; check the flag reaches the report instead.
conform --client refclient-good --suite "$SUITE" --case oci.smtp.server-error --strict --out "$T/strict" >/dev/null 2>&1
check "--strict: good still passes (exit 0) and the report says strict" "0 True" \
	"$? $(json "d['strict']" <"$T/strict/report.json")"

if ls "$SAN"/conform* >/dev/null 2>&1; then
	fail "edsim-conform: sanitizer report"
	head -40 "$SAN"/conform*
else
	pass "edsim-conform: no sanitizer report"
fi
rm -rf "$EDSIM_REPO/tests/out/conform" && mkdir -p "$EDSIM_REPO/tests/out" && cp -r "$T/full" "$EDSIM_REPO/tests/out/conform" 2>/dev/null
