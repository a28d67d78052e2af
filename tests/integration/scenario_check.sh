#!/usr/bin/env bash
# scenario_check: `edsim check FILE...` prints "FILE: ok (NAME, N rules)" for
# a good scenario and exits 0; for a bad one it prints every problem as
# "FILE:LINE:COL: message" on stderr and exits 1. One bad file per message of
# sim/core/scenario.c, each asserting the exact whole stderr. Then every scenario
# file of the repository must pass.
. "$(dirname "$0")/lib.bash"
REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}

# run_check FILE...: runs `edsim check` in $T/work; sets RC, OUT, ERR, SANITIZER.
W=$T/work
mkdir -p "$W"
NRUN=0
run_check() {
	NRUN=$((NRUN + 1))
	local log=$T/check-$NRUN
	(cd "$W" && ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$log.sanitizer \
		UBSAN_OPTIONS=print_stacktrace=1:log_path=$log.sanitizer \
		timeout 20 "$EDSIM" check "$@" >"$log.out" 2>"$log.err")
	RC=$?
	OUT=$(cat "$log.out")
	ERR=$(cat "$log.err")
	SANITIZER=$(ls "$log".sanitizer* 2>/dev/null | head -1)
}
# scen FILE < yaml: writes a scenario file into $T/work.
scen() { cat >"$W/$1"; }
# expect_errors NAME FILE LINE...: `edsim check FILE` exits 1, prints nothing on
# stdout, and its stderr is exactly the given lines (in that order).
expect_errors() {
	local name=$1 file=$2
	shift 2
	run_check "$file"
	check "$name: exit status 1" 1 "$RC"
	check "$name: exact error" "$(printf '%s\n' "$@")" "$ERR"
	check "$name: nothing on stdout" "" "$OUT"
	[ -z "$SANITIZER" ] || { fail "$name: sanitizer report"; head -30 "$SANITIZER"; }
}

# ---- good files ---------------------------------------------------------------
scen good.yaml <<'Y'
edsim: 1
name: good-one
title: A good scenario
profile: oci
description: one rule of each kind of matcher
exercises: [oci.smtp.server-error, oci.smtp.suppressed]
seed: 42
rules:
  - when: {stage: mail, sender: "*@example.com", connection: 1, command: 3, times: 2, probability: 0.5}
    do: {reply: oci.smtp.server-error, delay: 250ms}
  - when: {stage: rcpt, recipient: "x@*"}
    do: {suppress: true}
  - when: {stage: data-end, attempt: 1}
    do: {reply: "451 4.3.0 first line\n451 4.3.0 second line", close: true}
  - when: {stage: auth, mechanism: plain, user: u, client_ip: 127.0.0.1}
    do: {drop: true}
expect:
  outcome: delivered-once-after-retry
  attempts: {min: 2, max: 3}
  min_gap: 1s
  backoff: growing
  gives_up: false
  report: {failure: false, code: 451}
Y
run_check good.yaml
check "good file: exit status 0" 0 "$RC"
check "good file: 'FILE: ok (NAME, N rules)' on stdout" "good.yaml: ok (good-one, 4 rules)" "$OUT"
check "good file: nothing on stderr" "" "$ERR"

scen one-rule.yaml <<'Y'
edsim: 1
name: single
rules:
  - when: {stage: connect}
    do: {reply: oci.smtp.too-many-connections}
Y
run_check one-rule.yaml
check "one rule: exit status 0" 0 "$RC"
check "one rule: singular 'rule'" "one-rule.yaml: ok (single, 1 rule)" "$OUT"

scen no-rules.yaml <<'Y'
edsim: 1
name: empty
Y
run_check no-rules.yaml
check "no rules at all: ok with 0 rules" "0|no-rules.yaml: ok (empty, 0 rules)" "$RC|$OUT"

# ---- the header -----------------------------------------------------------------
scen unknown-top-key.yaml <<'Y'
edsim: 1
name: t
colour: blue
Y
expect_errors "unknown top-level key" unknown-top-key.yaml \
	"unknown-top-key.yaml:3:1: unknown key 'colour': expected one of edsim, name, title, profile, description, exercises, seed, rules, expect, settings, clock"

scen no-version.yaml <<'Y'
name: t
rules: []
Y
expect_errors "missing edsim: 1" no-version.yaml \
	"no-version.yaml:1:1: missing 'edsim: 1' (the scenario language version)"

scen wrong-version.yaml <<'Y'
edsim: 2
name: t
Y
expect_errors "edsim: 2" wrong-version.yaml \
	"wrong-version.yaml:1:8: edsim: expected 1, the only version of the scenario language"

scen no-name.yaml <<'Y'
edsim: 1
rules: []
Y
expect_errors "missing name" no-name.yaml "no-name.yaml:1:1: missing 'name'"

# ---- when -------------------------------------------------------------------------
scen unknown-stage.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: helo
    do:
      reply: oci.smtp.server-error
Y
expect_errors "unknown stage" unknown-stage.yaml \
	"unknown-stage.yaml:5:14: unknown stage 'helo': expected connect, ehlo, starttls, auth, mail, rcpt, data, data-body, data-end, rset, quit, idle, request, submit, submit-raw or relay"

scen relay-reply.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: relay
    do:
      reply: oci.smtp.server-error
Y
expect_errors "relay stage needs downstream" relay-reply.yaml \
	"relay-reply.yaml:7:7: do: at stage relay, give downstream: a reply line such as \"550 5.1.1 User unknown\", or drop"

scen relay-bad.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: relay
      connection: 2
    do:
      downstream: "99 nope"
  - when:
      stage: rcpt
    do:
      downstream: drop
  - when:
      stage: relay
    do:
      downstream: "451 4.7.1 Try again later"
      close: true
Y
expect_errors "relay stage: matchers, downstream text, stage and sole action" relay-bad.yaml \
	"relay-bad.yaml:5:7: when: at stage relay, match on sender, recipient, attempt, times and probability
relay-bad.yaml:8:19: do.downstream: expected one reply line such as \"451 4.7.1 Try again later\" (code 200 to 599), or drop
relay-bad.yaml:12:19: do.downstream: only at stage relay
relay-bad.yaml:16:7: do: at stage relay, downstream is the only action"

scen no-stage.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      connection: 1
    do:
      reply: oci.smtp.server-error
Y
expect_errors "missing stage" no-stage.yaml \
	"no-stage.yaml:5:7: when: missing 'stage' (connect, ehlo, starttls, auth, mail, rcpt, data, data-body, data-end, rset, quit, idle, request, submit, submit-raw or relay)"

scen attempt-at-mail.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
      attempt: 1
    do:
      reply: oci.smtp.server-error
Y
expect_errors "attempt outside data-end" attempt-at-mail.yaml \
	"attempt-at-mail.yaml:6:16: when.attempt: only at stage data-end, where the message is known (by its Message-ID, else by its envelope), at the HTTPS stages (by opc-request-id) and at stage relay (per recipient)"

scen sender-at-ehlo.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: ehlo
      sender: "*@example.com"
    do:
      reply: oci.smtp.server-error
Y
expect_errors "sender at stage ehlo" sender-at-ehlo.yaml \
	"sender-at-ehlo.yaml:6:15: when.sender: only at stages mail, rcpt, data, data-body, data-end, submit, submit-raw and relay"

scen recipient-at-mail.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
      recipient: "*@example.net"
    do:
      reply: oci.smtp.server-error
Y
expect_errors "recipient at stage mail" recipient-at-mail.yaml \
	"recipient-at-mail.yaml:6:18: when.recipient: only at stages rcpt, data, data-body, data-end, submit, submit-raw and relay"

scen mechanism-at-mail.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
      mechanism: PLAIN
    do:
      reply: oci.smtp.server-error
Y
expect_errors "mechanism at stage mail" mechanism-at-mail.yaml \
	"mechanism-at-mail.yaml:6:18: when.mechanism: only at stage auth"

scen command-at-connect.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: connect
      command: 1
    do:
      reply: oci.smtp.server-error
Y
expect_errors "command at stage connect" command-at-connect.yaml \
	"command-at-connect.yaml:6:16: when.command: not at stage connect or the HTTPS stages"

scen count-zero.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
      connection: 0
    do:
      reply: oci.smtp.server-error
Y
expect_errors "a count of 0" count-zero.yaml \
	"count-zero.yaml:6:19: when.connection: counts start at 1"

scen times-zero.yaml <<'Y'
edsim: 1
name: t
rules:
  - when: {stage: mail, times: 0}
    do: {reply: oci.smtp.server-error}
Y
expect_errors "times: 0" times-zero.yaml "times-zero.yaml:4:32: when.times: counts start at 1"

scen count-negative.yaml <<'Y'
edsim: 1
name: t
rules:
  - when: {stage: mail, command: -2}
    do: {reply: oci.smtp.server-error}
Y
expect_errors "a negative count" count-negative.yaml \
	"count-negative.yaml:4:34: when.command: expected a non-negative integer"

scen bad-probability.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
      probability: 1.5
    do:
      reply: oci.smtp.server-error
Y
expect_errors "probability 1.5" bad-probability.yaml \
	"bad-probability.yaml:6:20: when.probability: expected a number from 0 to 1"

scen text-probability.yaml <<'Y'
edsim: 1
name: t
rules:
  - when: {stage: mail, probability: half}
    do: {reply: oci.smtp.server-error}
Y
expect_errors "probability 'half'" text-probability.yaml \
	"text-probability.yaml:4:38: when.probability: expected a number from 0 to 1"

scen unknown-when-key.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
      senders: x
    do:
      reply: oci.smtp.server-error
Y
expect_errors "unknown when key" unknown-when-key.yaml \
	"unknown-when-key.yaml:6:7: unknown key 'senders': expected one of stage, connection, command, attempt, times, sender, recipient, user, client_ip, mechanism, probability, offset, method, path, header"

# ---- do ---------------------------------------------------------------------------
scen unknown-id.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
    do:
      reply: oci.smtp.no-such-thing
Y
expect_errors "unknown catalog id" unknown-id.yaml \
	"unknown-id.yaml:7:14: do.reply: unknown catalog id 'oci.smtp.no-such-thing'"

scen https-id.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
    do:
      reply: oci.https.internal-error
Y
expect_errors "HTTPS catalog id in reply" https-id.yaml \
	"https-id.yaml:7:14: do.reply: 'oci.https.internal-error' is not an SMTP condition"

scen bad-literal.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
    do:
      reply: "45 try later"
Y
expect_errors "literal reply '45 try later'" bad-literal.yaml \
	"bad-literal.yaml:7:14: do.reply: '45 try later' is not a reply line: expected a code from 200 to 599, a space and text"

scen bad-literal-code.yaml <<'Y'
edsim: 1
name: t
rules:
  - when: {stage: mail}
    do: {reply: "199 too low"}
Y
expect_errors "literal reply code 199" bad-literal-code.yaml \
	"bad-literal-code.yaml:5:17: do.reply: '199 too low' is not a reply line: expected a code from 200 to 599, a space and text"

scen bad-literal-second.yaml <<'Y'
edsim: 1
name: t
rules:
  - when: {stage: mail}
    do:
      reply: |
        451 4.3.0 first
        451-no
Y
expect_errors "second literal line '451-no'" bad-literal-second.yaml \
	"bad-literal-second.yaml:6:14: do.reply: '451-no' is not a reply line: expected a code from 200 to 599, a space and text"

scen drop-reply.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
    do:
      drop: true
      reply: oci.smtp.server-error
Y
expect_errors "drop with reply" drop-reply.yaml \
	"drop-reply.yaml:7:7: do: drop closes without a reply; it cannot go with reply or close"

scen drop-close.yaml <<'Y'
edsim: 1
name: t
rules:
  - when: {stage: mail}
    do: {drop: true, close: true}
Y
expect_errors "drop with close" drop-close.yaml \
	"drop-close.yaml:5:9: do: drop closes without a reply; it cannot go with reply or close"

scen discard-at-rcpt.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: rcpt
    do:
      discard: true
Y
expect_errors "discard outside data-end" discard-at-rcpt.yaml \
	"discard-at-rcpt.yaml:7:16: do.discard: only at stage data-end"

scen suppress-at-data-end.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: data-end
    do:
      suppress: true
Y
expect_errors "suppress outside rcpt" suppress-at-data-end.yaml \
	"suppress-at-data-end.yaml:7:17: do.suppress: only at stage rcpt"

scen accept-reply.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
    do:
      accept: true
      reply: "250 2.1.0 fine"
Y
expect_errors "accept with reply" accept-reply.yaml \
	"accept-reply.yaml:7:15: do.accept: the native reply is kept; give reply or accept, not both"

scen no-action.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
    do:
      close: false
Y
expect_errors "no action" no-action.yaml \
	"no-action.yaml:7:7: do: expected at least one action (reply, close, drop, delay, accept, discard, suppress, set, use_quota or tls-fail)"

scen quota-at-ehlo.yaml <<'Y'
edsim: 1
name: t
rules:
  - when: { stage: ehlo }
    do: { use_quota: 2 }
  - when: { stage: mail }
    do: { use_quota: 0 }
  - when: { stage: relay }
    do: { downstream: "250 ok", use_quota: 1 }
Y
expect_errors "use_quota: where the user is known, at least 1, not at relay" quota-at-ehlo.yaml \
	"quota-at-ehlo.yaml:5:22: do.use_quota: only at stages mail, rcpt, data, data-body, data-end, submit and submit-raw (where the user is known)" \
	"quota-at-ehlo.yaml:7:22: do.use_quota: expected a number of messages, at least 1" \
	"quota-at-ehlo.yaml:9:9: do: at stage relay, downstream is the only action"

scen bad-delay.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
    do:
      delay: 5 parsecs
Y
expect_errors "bad duration" bad-delay.yaml \
	"bad-delay.yaml:7:14: do.delay: expected a duration such as 500ms, 60s, 10m, 1h or 3d, found '5 parsecs'"

scen unknown-do-key.yaml <<'Y'
edsim: 1
name: t
rules:
  - when:
      stage: mail
    do:
      replay: oci.smtp.server-error
Y
expect_errors "unknown do key" unknown-do-key.yaml \
	"unknown-do-key.yaml:7:7: unknown key 'replay': expected one of reply, delay, close, drop, accept, discard, suppress, trickle, tls-fail, set, status, code, message, headers, downstream, use_quota"

scen bad-flag.yaml <<'Y'
edsim: 1
name: t
rules:
  - when: {stage: mail}
    do: {close: maybe}
Y
expect_errors "close: maybe" bad-flag.yaml "bad-flag.yaml:5:17: do.close: expected true or false"

scen rule-no-do.yaml <<'Y'
edsim: 1
name: t
rules:
  - when: {stage: mail}
Y
expect_errors "rule without do" rule-no-do.yaml "rule-no-do.yaml:4:5: rule: missing 'do'"

# ---- data-body, trickle, tls-fail, clock, settings and set ------------------------------
scen offset.yaml <<'Y'
edsim: 1
name: offset-at-mail
rules:
  - when: {stage: mail, offset: 10}
    do: {drop: true}
Y
expect_errors "offset outside data-body" offset.yaml \
	"offset.yaml:4:33: when.offset: only at stage data-body"

scen trickle-alone.yaml <<'Y'
edsim: 1
name: trickle-alone
rules:
  - when: {stage: mail}
    do: {trickle: 10}
Y
expect_errors "trickle without a reply" trickle-alone.yaml \
	"trickle-alone.yaml:5:19: do.trickle: slows a reply; give the reply too"

scen trickle-zero.yaml <<'Y'
edsim: 1
name: trickle-zero
rules:
  - when: {stage: mail}
    do: {reply: oci.smtp.server-error, trickle: 0}
Y
expect_errors "trickle of 0 bytes a second" trickle-zero.yaml \
	"trickle-zero.yaml:5:49: do.trickle: expected bytes a second, at least 1"

scen tls-fail-stage.yaml <<'Y'
edsim: 1
name: tls-fail-at-mail
rules:
  - when: {stage: mail}
    do: {tls-fail: true}
Y
expect_errors "tls-fail outside starttls and connect" tls-fail-stage.yaml \
	"tls-fail-stage.yaml:5:20: do.tls-fail: only at stages starttls and connect"

scen tls-fail-reply.yaml <<'Y'
edsim: 1
name: tls-fail-with-reply
rules:
  - when: {stage: starttls}
    do: {tls-fail: true, reply: "454 4.7.0 no"}
Y
expect_errors "tls-fail with a reply" tls-fail-reply.yaml \
	"tls-fail-reply.yaml:5:20: do.tls-fail: the handshake fails instead of a reply; give no reply or drop"

scen clock.yaml <<'Y'
edsim: 1
name: bad-clock
clock: {speed: 0.5, pace: 2}
Y
expect_errors "clock: unknown key and a speed below 1" clock.yaml \
	"clock.yaml:3:21: unknown key 'pace': expected one of speed" \
	"clock.yaml:3:16: clock.speed: expected a number from 1 to 1000000"

scen settings.yaml <<'Y'
edsim: 1
name: bad-settings
settings:
  state_dir: /tmp/elsewhere
  limits: {per_minute: many}
Y
expect_errors "settings: a start-only key and a bad value" settings.yaml \
	"settings.yaml:4:3: settings: 'state_dir' cannot change while edsim runs: expected hostname, limits, users, suppressions, auth or retry" \
	"settings.yaml:5:24: limits.per_minute: expected a non-negative integer, found 'many'"

scen set.yaml <<'Y'
edsim: 1
name: bad-set
rules:
  - when: {stage: mail}
    do: {set: {listen: {smtp: 127.0.0.1:25}}}
Y
expect_errors "set: a start-only key" set.yaml \
	"set.yaml:5:16: do.set: 'listen' cannot change while edsim runs: expected hostname, limits, users, suppressions, auth or retry"

# ---- expect -------------------------------------------------------------------------
scen bad-outcome.yaml <<'Y'
edsim: 1
name: t
expect:
  outcome: delivered-twice
Y
expect_errors "unknown expect.outcome" bad-outcome.yaml \
	"bad-outcome.yaml:4:12: expect.outcome: expected delivered-once, delivered-once-after-retry, not-delivered or suppressed"

scen attempts-range.yaml <<'Y'
edsim: 1
name: t
expect:
  outcome: delivered-once-after-retry
  attempts:
    min: 5
    max: 2
Y
expect_errors "attempts min > max" attempts-range.yaml \
	"attempts-range.yaml:6:5: expect.attempts: min is above max"

scen report-code.yaml <<'Y'
edsim: 1
name: t
expect:
  outcome: not-delivered
  report:
    failure: true
    code: 700
Y
expect_errors "expect.report.code 700" report-code.yaml \
	"report-code.yaml:7:11: expect.report.code: expected a reply code from 200 to 599"

# ---- files that do not parse or do not exist ------------------------------------------
scen syntax.yaml <<'Y'
edsim: 1
name: t
rules: [
Y
expect_errors "YAML syntax error" syntax.yaml \
	"syntax.yaml:4:1: YAML syntax error: did not find expected node content while parsing a flow node"

run_check does-not-exist.yaml
check "missing file: exit status 1" 1 "$RC"
check "missing file: exact error" "does-not-exist.yaml:1:1: cannot read the file" "$ERR"

# ---- several files at once: every error of every file, good files still ok ------------
scen many-a.yaml <<'Y'
edsim: 3
rules:
  - when: {stage: nowhere}
    do: {reply: oci.smtp.nothing}
Y
scen many-b.yaml <<'Y'
edsim: 1
name: b
rules:
  - when: {stage: data, attempt: 2}
    do: {discard: true}
  - when: {stage: rcpt, probability: 2}
    do: {drop: true, reply: "451 x"}
Y
run_check many-a.yaml good.yaml many-b.yaml does-not-exist.yaml one-rule.yaml
check "several files: exit status 1" 1 "$RC"
check "several files: the good ones are ok, in order" \
	"$(printf '%s\n' "good.yaml: ok (good-one, 4 rules)" "one-rule.yaml: ok (single, 1 rule)")" "$OUT"
check "several files: every error of every file" "$(printf '%s\n' \
	"many-a.yaml:1:8: edsim: expected 1, the only version of the scenario language" \
	"many-a.yaml:1:1: missing 'name'" \
	"many-a.yaml:3:19: unknown stage 'nowhere': expected connect, ehlo, starttls, auth, mail, rcpt, data, data-body, data-end, rset, quit, idle, request, submit, submit-raw or relay" \
	"many-a.yaml:4:17: do.reply: unknown catalog id 'oci.smtp.nothing'" \
	"many-b.yaml:4:34: when.attempt: only at stage data-end, where the message is known (by its Message-ID, else by its envelope), at the HTTPS stages (by opc-request-id) and at stage relay (per recipient)" \
	"many-b.yaml:5:19: do.discard: only at stage data-end" \
	"many-b.yaml:6:38: when.probability: expected a number from 0 to 1" \
	"many-b.yaml:7:9: do: drop closes without a reply; it cannot go with reply or close" \
	"does-not-exist.yaml:1:1: cannot read the file")" "$ERR"

# ---- the release binary agrees ---------------------------------------------------------
if [ -x "$REPO/edsim" ]; then
	rel_out=$(cd "$W" && "$REPO/edsim" check good.yaml wrong-version.yaml bad-literal.yaml 2>"$T/rel.err")
	rel_rc=$?
	check "release ./edsim check: exit status 1" 1 "$rel_rc"
	check "release ./edsim check: good.yaml ok" "good.yaml: ok (good-one, 4 rules)" "$rel_out"
	check "release ./edsim check: exact errors" "$(printf '%s\n' \
		"wrong-version.yaml:1:8: edsim: expected 1, the only version of the scenario language" \
		"bad-literal.yaml:7:14: do.reply: '45 try later' is not a reply line: expected a code from 200 to 599, a space and text")" \
		"$(cat "$T/rel.err")"
else
	fail "the release binary $REPO/edsim exists (make edsim)"
fi

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
