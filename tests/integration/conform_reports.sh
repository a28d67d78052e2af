#!/usr/bin/env bash
# conform_reports: the three reports of edsim-conform, rendered from the
# sample results in tests/fixtures/conform/ (6 cases, clients refclient-good
# and swaks, every verdict).
#
# What it expects:
#   $EDSIM_CONFORM (default: $EDSIM_REPO/edsim-conform) understands
#       edsim-conform --render DIR
#     which reads DIR/results.json (an array of results, conformance/SCHEMA.md
#     section 2) and DIR/cases.json ([{id, title, catalog_rows, protocol}]) and
#     writes DIR/report.json, DIR/junit.xml and DIR/report.html. Its exit status
#     is shown, not checked (it may tell of failing results); a sanitizer
#     report is a FAIL.
#   xmllint (Debian: libxml2-utils), chromium (Debian: chromium), python3.
#     This script installs nothing: a missing tool is a FAIL naming its package.
#
# Checks: report.json's summary; junit.xml is valid against
# conformance/junit.xsd (and a broken copy is not), its counts match its
# testcases and its texts read back unescaped; report.html renders in headless
# chromium with every case, verdict and timeline in the DOM, the transcript's
# "<script>" as text, no request to the network (chromium's net log, with a
# page that does load an image as the control) and no Content-Security-Policy
# complaint (a copy with an external image injected as the control).
# The reports and a screenshot are kept in tests/out/conform_reports/.
. "$(dirname "$0")/lib.bash"
REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}
EDSIM_CONFORM=${EDSIM_CONFORM:-$REPO/edsim-conform}
FIX=$REPO/tests/fixtures/conform
XSD=$REPO/conformance/junit.xsd
D=$T/render
KEEP=$REPO/tests/out/conform_reports

# ---- render ---------------------------------------------------------------------
if [ ! -x "$EDSIM_CONFORM" ]; then
	fail "edsim-conform not found at $EDSIM_CONFORM (make edsim-conform, or set EDSIM_CONFORM)"
	exit 0
fi
mkdir -p "$D"
cp "$FIX/results-two-clients.json" "$D/results.json"
cp "$FIX/cases.json" "$D/cases.json"
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$T/render.sanitizer \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$T/render.sanitizer \
	timeout 60 "$EDSIM_CONFORM" --render "$D" >"$T/render.out" 2>&1
echo "edsim-conform --render: exit status $?"
sed 's/^/    | /' "$T/render.out" | head -20
if ls "$T"/render.sanitizer* >/dev/null 2>&1; then
	fail "edsim-conform --render: sanitizer report"
	head -40 "$T"/render.sanitizer*
else
	pass "edsim-conform --render: no sanitizer report"
fi
for f in report.json junit.xml report.html; do
	if [ -s "$D/$f" ]; then pass "--render writes $f"; else fail "--render writes $f"; fi
done
if [ -d "$REPO/tests/out" ]; then
	rm -rf "$KEEP"
	mkdir -p "$KEEP"
	cp "$D"/report.json "$D"/junit.xml "$D"/report.html "$KEEP"/ 2>/dev/null
fi

# ---- report.json ----------------------------------------------------------------
summary=$(python3 - "$D/report.json" <<'P' 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
print(d["schema"], len(d["cases"]), len(d["results"]), ",".join(d["clients"]))
for c in d["clients"]:
    s = d["summary"][c]
    print(c, " ".join("%s=%d" % (v, s[v]) for v in ("PASS", "WARN", "FAIL", "INFO", "SKIPPED")))
P
)
check "report.json: schema, cases, results, clients and summary" "edsim-conform/1 6 12 refclient-good,swaks
refclient-good PASS=5 WARN=0 FAIL=0 INFO=1 SKIPPED=0
swaks PASS=1 WARN=1 FAIL=2 INFO=1 SKIPPED=1" "$summary"

# ---- junit.xml --------------------------------------------------------------------
if ! command -v xmllint >/dev/null; then
	fail "xmllint is missing: install libxml2-utils"
else
	out=$(xmllint --noout --schema "$XSD" "$D/junit.xml" 2>&1)
	check "junit.xml is valid against conformance/junit.xsd" 0 "$?"
	echo "$out" | sed 's/^/    | /'
	# validity FILE: "valid" or "invalid" against junit.xsd
	validity() { xmllint --noout --schema "$XSD" "$1" >/dev/null 2>&1 && echo valid || echo invalid; }
	sed 's/<skipped message="[^"]*"/<skipped/' "$D/junit.xml" >"$T/bad1.xml"
	check "control: junit.xsd rejects a <skipped> without a message" invalid "$(validity "$T/bad1.xml")"
	sed 's/<system-out>/<error>/; s#</system-out>#</error>#' "$D/junit.xml" >"$T/bad2.xml"
	check "control: junit.xsd rejects an element outside the subset" invalid \
		"$(validity "$T/bad2.xml")"
fi
junit=$(python3 - "$D/junit.xml" <<'P' 2>&1
import sys, xml.etree.ElementTree as ET
root = ET.parse(sys.argv[1]).getroot()
def counts(cases):
    return (len(cases), sum(c.find("failure") is not None for c in cases),
            sum(c.find("skipped") is not None for c in cases))
def attrs(e):
    return tuple(int(e.get(k)) for k in ("tests", "failures", "skipped"))
every = []
for s in root.findall("testsuite"):
    cases = s.findall("testcase")
    every += cases
    ok = attrs(s) == counts(cases) and s.get("errors") == "0"
    ok = ok and all(c.get("classname") == s.get("name") for c in cases)
    print(s.get("name"), "tests=%d failures=%d skipped=%d" % attrs(s), "consistent" if ok else "INCONSISTENT")
print("testsuites", "consistent" if attrs(root) == counts(every) else "INCONSISTENT")
c = root.find("testsuite[@name='swaks']/testcase[@name='oci.smtp.server-error']")
print(c.find("failure").get("message"))
print("remedy: Treat 4xx replies" in c.find("failure").text)
print("<rcpt@example.net> & gave up" in c.find("system-err").text)
P
)
check "junit.xml: counts match the testcases, failure and output texts read back" "refclient-good tests=6 failures=0 skipped=0 consistent
swaks tests=6 failures=2 skipped=1 consistent
testsuites consistent
FAIL: delivered-once, retried
True
True" "$junit"

# ---- report.html: static -----------------------------------------------------------
html=$(cat "$D/report.html")
external=$(grep -Eo '(src|href|action|srcset)="[^"#][^"]*"|url\(|@import' "$D/report.html" | head -5)
check "report.html: every link is an anchor within the file" "" "$external"
check "report.html: no http:// or https:// anywhere" 0 "$(grep -Ec 'https?://' "$D/report.html")"
check_contains "report.html: a Content-Security-Policy that forbids fetching" \
	"content=\"default-src 'none'; style-src 'unsafe-inline'\"" "$html"

# ---- report.html: in chromium ------------------------------------------------------
if ! command -v chromium >/dev/null; then
	fail "chromium is missing: install chromium to render report.html"
	exit 0
fi
NCHROME=0
# chrome ARGS... URL: headless chromium with a fresh profile, every host name
# unresolvable, console messages on stderr ($T/chrome-N.err) and the net log
# in $T/chrome-N.net.json; N is $NCHROME after the call.
chrome() {
	NCHROME=$((NCHROME + 1))
	timeout 90 chromium --headless --disable-gpu --no-sandbox --user-data-dir="$T/chrome-$NCHROME" \
		--no-first-run --disable-background-networking --disable-component-update --disable-sync \
		--disable-default-apps --host-resolver-rules="MAP * ~NOTFOUND" \
		--enable-logging=stderr --v=0 --log-net-log="$T/chrome-$NCHROME.net.json" \
		"$@" 2>"$T/chrome-$NCHROME.err"
}
# page_requests N: the URLs the page of run N asked the network for, one a
# line (the browser's own background requests, "not an origin", are left out).
page_requests() {
	python3 - "$T/chrome-$1.net.json" <<'P'
import json, sys
d = json.load(open(sys.argv[1]))
start = d["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"]
for e in d["events"]:
    p = e.get("params", {})
    if e["type"] == start and "url" in p and p.get("initiator") != "not an origin" \
            and not p["url"].startswith(("file:", "data:", "about:")):
        print(p.get("url"))
P
}
console() { grep ':CONSOLE' "$T/chrome-$1.err"; }

chrome --dump-dom "file://$D/report.html" >"$T/dom.html"
check "chromium renders report.html (exit status)" 0 "$?"
dom=$(cat "$T/dom.html")
n=$NCHROME
check_contains "the DOM is the whole page" "</body></html>" "$dom"
while read -r id; do
	check_contains "the DOM has case $id" "id=\"case-$id\"" "$dom"
done < <(python3 -c 'import json,sys; print("\n".join(c["id"] for c in json.load(open(sys.argv[1]))))' "$FIX/cases.json")
while read -r kase client verdict; do
	# the cell's link, with its tooltip (a SKIPPED or INFO result's reason), if any
	cell=$(grep -o "href=\"#case-$kase--$client\"[^>]*>[A-Z]*" <<<"$dom" | head -1)
	check "the matrix shows $verdict for $client in $kase" "$verdict" "${cell##*>}"
done < <(python3 -c 'import json,sys
for r in json.load(open(sys.argv[1])): print(r["case"], r["client"], r["verdict"])' "$FIX/results-two-clients.json")
check_contains "a SKIPPED cell's tooltip gives the reason" "title=\"" \
	"$(grep -o 'href="#case-oci.https.too-many-requests--swaks"[^>]*>' <<<"$dom")"
check "the DOM has a timeline per result that is not SKIPPED" 11 "$(grep -o '<svg ' <<<"$dom" | wc -l)"
attempts=$(python3 -c 'import json,sys
print(sum(len(r["attempts"]) for r in json.load(open(sys.argv[1]))))' "$FIX/results-two-clients.json")
check "the DOM has a bar per attempt" "$attempts" "$(grep -o '<rect class="bar ' <<<"$dom" | wc -l)"
check_contains "the transcript's <script> is text" 'EHLO &lt;script&gt;alert("x")&lt;/script&gt;' "$dom"
check_not_contains "no <script> element in the DOM" "<script" "$dom"
check "report.html made no network request" "" "$(page_requests "$n")"
check "report.html: no console message (no blocked load, no error)" "" "$(console "$n")"

# the controls: the net log does show a page's request, the console a blocked one
printf '<!DOCTYPE html><img src="http://edsim-probe.invalid/x.png">\n' >"$T/control.html"
chrome --dump-dom "file://$T/control.html" >/dev/null
check "control: the net log shows a page's request" "http://edsim-probe.invalid/x.png" \
	"$(page_requests "$NCHROME")"
sed 's#</body>#<img src="http://edsim-probe.invalid/y.png"></body>#' "$D/report.html" >"$T/injected.html"
chrome --dump-dom "file://$T/injected.html" >/dev/null
check "control: report.html's policy blocks an injected external image" "" "$(page_requests "$NCHROME")"
check_contains "control: the console reports the blocked image" "Content Security Policy" \
	"$(console "$NCHROME")"

chrome --window-size=1280,2400 --screenshot="$T/report.png" "file://$D/report.html" >/dev/null
size=$(stat -c %s "$T/report.png" 2>/dev/null || echo 0)
if [ "$size" -gt 20000 ]; then pass "chromium takes a screenshot ($size bytes)"; else
	fail "chromium takes a screenshot ($size bytes)"
fi
[ -d "$KEEP" ] && cp "$T/report.png" "$KEEP/" 2>/dev/null
exit 0
