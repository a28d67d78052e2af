#!/usr/bin/env bash
# scenario_check: `edsim check FILE...` prints "FILE: ok (NAME, N rules)" for
# a good scenario and exits 0; for a bad one it prints every problem as
# "FILE:LINE:COL: message" on stderr and exits 1.
#
# The cases are data: each directory tests/data/check/NNNN holds the input
# scenario files, `args` (the arguments of `edsim check`, one a line), a one-line
# `description`, and the golden files expected.status, expected.stdout and
# expected.stderr. A case may hold `binary` with the word "release": it then
# runs the release build ./edsim instead of $EDSIM. One loop below runs every
# case in a copy of its directory and asserts the exact exit status, the exact
# stdout and the exact stderr (a diff on failure) and that no sanitizer report
# was written. tests/data/README.md tells how to add a case.
#
# UPDATE=1 rewrites the three golden files of every case from what edsim prints
# now (review with `git diff tests/data` before committing):
#     UPDATE=1 EDSIM=$PWD/build/asan/edsim tests/run-integration scenario_check
# A run without UPDATE=1 never writes under tests/.
#
# Then every scenario file of the repository must pass (that part is logic: the
# set of files is found, not listed).
. "$(dirname "$0")/lib.bash"
REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}
CASES=$REPO/tests/data/check

# same_file NAME EXPECTED ACTUAL: passes if the two files are byte for byte the
# same, else fails with a unified diff.
same_file() {
	if cmp -s "$2" "$3"; then pass "$1"; else
		fail "$1"
		diff -u --label "expected ${2#"$REPO"/}" --label actual "$2" "$3" | head -60 | sed 's/^/    /'
	fi
}

# run_case DIR: runs one case of tests/data/check and checks its three outputs.
run_case() {
	local dir=$1 id=${1##*/} bin=$EDSIM name part args
	local w=$T/work/$id out=$T/out/$id
	name="check/$id $(head -1 "$dir/description")"
	if [ "$(cat "$dir/binary" 2>/dev/null)" = release ]; then
		bin=$REPO/edsim
		[ -x "$bin" ] || { fail "$name: the release binary $REPO/edsim exists (make edsim)"; return; }
	fi
	mkdir -p "$w" "$out"
	cp -R "$dir/." "$w/"
	mapfile -t args <"$dir/args"
	(cd "$w" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$out/sanitizer \
		UBSAN_OPTIONS=print_stacktrace=1:log_path=$out/sanitizer \
		timeout 20 "$bin" check "${args[@]}" >"$out/stdout" 2>"$out/stderr")
	echo "$?" >"$out/status"
	if [ "${UPDATE:-}" = 1 ]; then
		for part in status stdout stderr; do
			cmp -s "$out/$part" "$dir/expected.$part" 2>/dev/null ||
				{ cp "$out/$part" "$dir/expected.$part" && echo "UPDATED: $dir/expected.$part"; }
		done
	fi
	for part in status stdout stderr; do
		same_file "$name: exact $part" "$dir/expected.$part" "$out/$part"
	done
	if ls "$out"/sanitizer* >/dev/null 2>&1; then
		fail "$name: no sanitizer report"
		head -30 "$(ls "$out"/sanitizer* | head -1)"
	else
		pass "$name: no sanitizer report"
	fi
}

# ---- the cases of tests/data/check ---------------------------------------------------
mapfile -t cases < <(find "$CASES" -mindepth 1 -maxdepth 1 -type d -name '[0-9][0-9][0-9][0-9]' | LC_ALL=C sort)
if [ "${#cases[@]}" -eq 0 ]; then
	fail "tests/data/check holds cases (none found)"
else
	pass "tests/data/check holds ${#cases[@]} cases"
fi
for c in "${cases[@]}"; do run_case "$c"; done

# ---- every scenario file of the repository passes ---------------------------------------
mapfile -t files < <(cd "$REPO" && find scenarios -name '*.yaml' -not -path 'scenarios/catalog/*' | LC_ALL=C sort)
if [ "${#files[@]}" -eq 0 ]; then
	fail "the repository has scenario files to check (none found under scenarios/ outside catalog/)"
else
	pass "the repository has ${#files[@]} scenario files"
	(cd "$REPO" && "$EDSIM" check "${files[@]}" >"$T/repo.out" 2>"$T/repo.err")
	rc=$?
	check "edsim check on all ${#files[@]} repository scenario files: exit status 0" 0 "$rc"
	check "edsim check on the repository scenario files: nothing on stderr" "" "$(head -40 "$T/repo.err")"
	for f in "${files[@]}"; do
		if grep -qxF -- "$f: ok (" <(sed 's/\(: ok (\).*/\1/' "$T/repo.out"); then
			pass "$f: ok"
		else
			fail "$f: ok"
			grep -F -- "$f:" "$T/repo.err" | head -5 | sed 's/^/    /'
		fi
	done
fi
