#!/usr/bin/env bash
# docs_commands: every command shown in README.md, docs/*.md and HACKING.md
# runs, so the documents cannot drift from edsim. The fenced blocks follow
# the convention written at the top of HACKING.md's "Documents":
#
#   ```sh                run with bash -e -o pipefail; must exit 0
#   ```sh exit=N         run; must exit N
#   ```sh norun          not run (foreground, installs packages, takes minutes):
#                        counted and listed; each command's program must exist
#                        (a make target: `make -n TARGET` succeeds)
#   ```output            what the nearest ```sh block above printed (stdout and
#                        stderr): each line, in order, must match a line of the
#                        output; "..." matches any text, runs of blanks are one
#   ```LANG file=NAME    written to NAME in the block's directory (for later blocks)
#   any other fence      (yaml, json, text, console, none) neither run nor checked
#
# Each document gets a scratch directory laid out like the repository root
# (./edsim and ./edsim-conform are the sanitizer builds; scenarios/, fixtures/,
# conformance/, tools/, sim/ link to the checkout) and its own edsim, started here
# on free loopback ports with its state in var/, as `make run` would be. In
# every block edsim's default ports (sim/default.yaml: 2525, 2465, 8443,
# 8025) are rewritten to that edsim's ports before it runs. Blocks run in
# document order, each in its own bash (a block defines the variables it
# uses), in a process group of its own, bounded by $DOC_BLOCK_TIMEOUT (60 s)
# each and $DOC_TOTAL_TIMEOUT (150 s) for all of them;
# anything a block leaves running is a FAIL and is killed. Every edsim
# started, here or by a block, must leave no sanitizer report.
#
# Also checked: every relative link in the project's documents points to a
# file that exists and, with #anchor, to one of its headings;
# docs/configuration.md names every key of sim/default.yaml; and
# docs/ses.md's table of conditions is scenarios/catalog/ses.yaml's.
. "$(dirname "$0")/lib.bash"

REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}
CONFORM=${EDSIM_CONFORM:-$REPO/build/asan/edsim-conform}
[ -x "$CONFORM" ] || CONFORM=$(dirname "$EDSIM")/edsim-conform
BLOCK_TIMEOUT=${DOC_BLOCK_TIMEOUT:-60}
TOTAL_TIMEOUT=${DOC_TOTAL_TIMEOUT:-150} # seconds for every block together
DOCS=(README.md $(cd "$REPO" && ls docs/*.md) HACKING.md)
SAN=$T/sanitizer
mkdir -p "$SAN"
GROUPS_FILE=$T/groups # process groups of the blocks, killed at exit whatever happens
: >"$GROUPS_FILE"
cleanup_docs() {
	local g
	while read -r g; do [ -n "$g" ] && kill -KILL -- "-$g" 2>/dev/null; done <"$GROUPS_FILE"
	cleanup_all
}
trap cleanup_docs EXIT

for tool in swaks curl jq sqlite3 expect openssl; do
	command -v "$tool" >/dev/null || fail "the documents' commands need $tool (make test installs it)"
done
for f in "${DOCS[@]}"; do
	[ -f "$REPO/$f" ] || fail "$f is missing"
done

# ---- extract: blocks of one document, ports rewritten ----------------------------------
# extract DOC DIR SMTP SMTPS HTTPS CONTROL: writes DIR/NNN.sh (run, norun), NNN.expect
# (an output block, NNN its sh block), NNN.file, and DIR/manifest: one line per block,
# "NNN<TAB>kind<TAB>line<TAB>exit<TAB>name<TAB>first line".
extract() {
	python3 - "$@" <<'PY'
import os, re, sys
doc, out, smtp, smtps, https, control = sys.argv[1:7]
ports = {"2525": smtp, "2465": smtps, "8443": https, "8025": control}
def rewrite(text):
    return re.sub(r"(?<![0-9])(2525|2465|8443|8025)(?![0-9])", lambda m: ports[m.group(1)], text)
lines = open(doc, encoding="utf-8").read().split("\n")
manifest, problems = [], []
last_sh = None
i, n = 0, 0
while i < len(lines):
    m = re.match(r"^( {0,3})```(.*)$", lines[i])
    if not m:
        i += 1
        continue
    indent, info = m.group(1), m.group(2).split()
    start = i + 1
    body = []
    i += 1
    while i < len(lines) and lines[i].strip() != "```":
        body.append(lines[i][len(indent):] if lines[i].startswith(indent) else lines[i].lstrip())
        i += 1
    i += 1
    n += 1
    idx = "%03d" % n
    lang = info[0] if info else ""
    attrs = info[1:]
    text = "\n".join(body) + "\n"
    first = next((l.strip() for l in body if l.strip()), "")
    exit_code, name, kind = "0", "", None
    for a in attrs:
        if a == "norun" and lang == "sh":
            kind = "norun"
        elif a.startswith("exit=") and lang == "sh" and a[5:].isdigit():
            exit_code = a[5:]
        elif a.startswith("file=") and re.fullmatch(r"[A-Za-z0-9._/-]+", a[5:]) and ".." not in a[5:]:
            name = a[5:]
        else:
            problems.append("%s:%d: unknown fence attribute '%s' (```%s)" % (doc, start, a, m.group(2)))
    if lang == "sh":
        kind = kind or "run"
        open(os.path.join(out, idx + ".sh"), "w").write(rewrite(text))
        last_sh = (idx, kind)
    elif lang == "output":
        if last_sh is None or last_sh[1] != "run":
            problems.append("%s:%d: an ```output block with no ```sh block to run above it" % (doc, start))
            continue
        kind = "output"
        open(os.path.join(out, last_sh[0] + ".expect"), "a").write(text)
        idx = last_sh[0]
    elif name:
        kind = "file"
        open(os.path.join(out, idx + ".file"), "w").write(rewrite(text))
    else:
        continue
    manifest.append("\t".join([idx, kind, str(start), exit_code, name or "-", first[:100]]))
open(os.path.join(out, "manifest"), "w").write("\n".join(manifest) + ("\n" if manifest else ""))
for p in problems:
    print(p)
PY
}

# matches EXPECT ACTUAL: each line of EXPECT matches a line of ACTUAL, in order
# ("..." any text, blanks collapsed); prints the first line that does not.
matches() {
	python3 - "$1" "$2" <<'PY'
import re, sys
norm = lambda s: " ".join(s.split())
want = [norm(l) for l in open(sys.argv[1], encoding="utf-8", errors="replace") if l.strip()]
have = [norm(l) for l in open(sys.argv[2], encoding="utf-8", errors="replace")]
pos = 0
for w in want:
    pat = re.compile(".*".join(re.escape(p) for p in w.split("...")))
    while pos < len(have) and not pat.fullmatch(have[pos]):
        pos += 1
    if pos == len(have):
        print(w)
        sys.exit(1)
    pos += 1
PY
}

# program_exists CMDLINE: the program a norun command runs exists (a make target
# that `make -n` accepts, a file in the checkout, or a command on PATH).
program_exists() {
	local -a w
	read -r -a w <<<"$1"
	while [ ${#w[@]} -gt 0 ] && [[ "${w[0]}" =~ ^[A-Za-z_][A-Za-z0-9_]*= ]]; do w=("${w[@]:1}"); done
	[ ${#w[@]} -gt 0 ] || return 0
	local prog=${w[0]} a targets=()
	if [ "$prog" == make ]; then
		for a in "${w[@]:1}"; do
			[[ "$a" == -* || "$a" == *=* ]] || targets+=("$a")
		done
		env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -n -C "$REPO" "${targets[@]}" >/dev/null 2>&1
	elif [[ "$prog" == */* ]]; then
		[ -x "$REPO/${prog#./}" ]
	else
		command -v "$prog" >/dev/null
	fi
}

# commands FILE: the command lines of a shell block (continuations joined, comments dropped).
commands() { sed -e ':a' -e '/\\$/N; s/\\\n//; ta' "$1" | sed -e 's/[[:space:]]#.*$//' -e '/^[[:space:]]*#/d' -e '/^[[:space:]]*$/d'; }

# ---- run: one document at a time -------------------------------------------------------------
nrun=0
nnorun=0
norun_list=()
for doc in "${DOCS[@]}"; do
	[ -f "$REPO/$doc" ] || continue
	key=$(echo "$doc" | tr '/.' '__')
	work=$T/work/$key
	blocks=$T/blocks/$key
	mkdir -p "$work/tmp" "$blocks"
	ln -s "$(readlink -f "$EDSIM")" "$work/edsim"
	ln -s "$(readlink -f "$CONFORM")" "$work/edsim-conform"
	for d in scenarios fixtures conformance tools sim; do ln -s "$REPO/$d" "$work/$d"; done

	edsim_start "$key" || {
		fail "$doc: its edsim starts"
		continue
	}
	HTTPS_PORT=$(ready_field "$T/$key/state/edsim.ready" https)
	ln -s "$T/$key/state" "$work/var"
	problems=$(cd "$REPO" && extract "$doc" "$blocks" "$SMTP_PORT" "$SMTPS_PORT" "$HTTPS_PORT" "$CONTROL_PORT")
	if [ -n "$problems" ]; then
		fail "$doc: its fenced blocks follow the convention"
		echo "$problems" | sed 's/^/    /'
	fi

	while IFS=$'\t' read -r idx kind line want name first; do
		case $kind in
		file)
			mkdir -p "$(dirname "$work/$name")"
			cp "$blocks/$idx.file" "$work/$name"
			;;
		norun)
			nnorun=$((nnorun + 1))
			norun_list+=("$doc:$line: $first")
			missing=""
			while read -r c; do
				program_exists "$c" || missing="$missing${missing:+; }$c"
			done < <(commands "$blocks/$idx.sh")
			check "$doc:$line (norun): every command's program exists" "" "$missing"
			;;
		run)
			nrun=$((nrun + 1))
			left=$((TOTAL_TIMEOUT - SECONDS))
			if [ "$left" -le 0 ]; then
				fail "$doc:$line: not run, the ${TOTAL_TIMEOUT}s for all blocks are used up"
				continue
			fi
			[ "$left" -lt "$BLOCK_TIMEOUT" ] && limit=$left || limit=$BLOCK_TIMEOUT
			{
				echo "echo \$\$ >'$blocks/$idx.pid'"
				cat "$blocks/$idx.sh"
			} >"$blocks/$idx.run"
			start=$SECONDS
			(cd "$work" && TMPDIR=$work/tmp \
				ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$SAN/block \
				UBSAN_OPTIONS=print_stacktrace=1:log_path=$SAN/block \
				timeout -k 5 "$limit" setsid bash -e -o pipefail "$blocks/$idx.run" \
				</dev/null >"$blocks/$idx.out" 2>&1)
			rc=$?
			pgid=$(cat "$blocks/$idx.pid" 2>/dev/null)
			[ -n "$pgid" ] && echo "$pgid" >>"$GROUPS_FILE"
			echo "--- $doc:$line ($((SECONDS - start)) s, exit $rc): $first"
			sed 's/^/    | /' "$blocks/$idx.out" | head -40
			if [ "$rc" -eq 124 ]; then
				fail "$doc:$line: still running after ${limit}s"
			else
				check "$doc:$line exits $want" "$want" "$rc"
			fi
			if [ -f "$blocks/$idx.expect" ]; then
				if miss=$(matches "$blocks/$idx.expect" "$blocks/$idx.out"); then
					pass "$doc:$line prints what the document shows"
				else
					fail "$doc:$line prints what the document shows"
					echo "    not in the output, or not in this order: $miss"
				fi
			fi
			if [ -n "$pgid" ] && kill -0 -- "-$pgid" 2>/dev/null; then
				fail "$doc:$line leaves processes running:"
				ps -o pid,args -g "$pgid" | sed 's/^/    /'
				kill -KILL -- "-$pgid" 2>/dev/null
			fi
			;;
		esac
	done <"$blocks/manifest"

	edsim_stop "$key"
done

if ls "$SAN"/* >/dev/null 2>&1; then
	fail "an edsim started by the documents' commands wrote a sanitizer report"
	cat "$SAN"/* | head -60
else
	pass "no sanitizer report from the documents' commands"
fi

# ---- links and keys ------------------------------------------------------------------------
links=$(cd "$REPO" && python3 - README.md HACKING.md docs/*.md scenarios/README.md conformance/README.md \
	conformance/SCHEMA.md bench/*.md tests/FRESH.md <<'PY'
import os, re, sys
def slug(h):
    h = re.sub(r"[`*_]|\[|\]\([^)]*\)", "", h.strip().lower())
    return re.sub(r"[^\w\- ]", "", h).replace(" ", "-")
def anchors(path):
    out, seen, fence = set(), {}, False
    for l in open(path, encoding="utf-8"):
        if l.startswith("```"):
            fence = not fence
        m = re.match(r"^#{1,6} (.*)", l)
        if m and not fence:
            s = slug(m.group(1))
            k = seen.get(s, 0)
            out.add(s if k == 0 else "%s-%d" % (s, k))
            seen[s] = k + 1
    return out
for doc in sys.argv[1:]:
    if not os.path.exists(doc):
        continue
    text = re.sub(r"```.*?```", "", open(doc, encoding="utf-8").read(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        path, _, anchor = target.partition("#")
        full = os.path.normpath(os.path.join(os.path.dirname(doc), path)) if path else doc
        if not os.path.exists(full):
            print("%s: %s: no such file" % (doc, target))
        elif anchor and os.path.isfile(full) and anchor not in anchors(full):
            print("%s: %s: no such heading" % (doc, target))
PY
) || links="$links (the check failed)"
check "every relative link in the documents points to a file and a heading that exist" "" "$links"

keys=$(cd "$REPO" && python3 - <<'PY'
import re
doc = open("docs/configuration.md", encoding="utf-8").read()
missing, stack = [], []
for l in open("sim/default.yaml", encoding="utf-8"):
    l = l.split("#")[0].rstrip()
    if not l.strip():
        continue
    ind = len(l) - len(l.lstrip())
    names = [m for m in re.findall(r"([a-z][a-z_0-9]*):", l)]
    for k in names:
        if not re.search(r"\b%s\b" % re.escape(k), doc):
            missing.append(k)
print(" ".join(sorted(set(missing))))
PY
) || keys="(the check failed)"
check "docs/configuration.md names every key of sim/default.yaml" "" "$keys"

table=$(cd "$REPO" && cp docs/ses.md "$T/ses.md" && tools/catalog-table scenarios/catalog/ses.yaml \
	--update "$T/ses.md" && diff docs/ses.md "$T/ses.md" | head -5) || table="(the check failed)"
check "docs/ses.md's condition table is the catalog's (tools/catalog-table --update)" "" "$table"

echo "docs: $nrun blocks run, $nnorun not run (norun):"
for b in "${norun_list[@]}"; do echo "    $b"; done
