#!/usr/bin/env bash
# config_errors: a bad configuration file stops edsim before it listens, with
# "FILE:LINE:COL: what" on stderr and exit status 1, and no edsim.ready; so do
# TLS files that do not load (checked at start, though the TLS contexts are
# made by the first connection that needs one).
. "$(dirname "$0")/lib.bash"

# try_config NAME FILE: runs edsim on FILE; sets RC, ERR (stderr) and READY (yes/no).
try_config() {
	local dir=$T/cfg-${1//[^A-Za-z0-9]/_}
	mkdir -p "$dir"
	ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1}:log_path=$dir/sanitizer \
	UBSAN_OPTIONS=print_stacktrace=1:log_path=$dir/sanitizer \
		timeout 20 "$EDSIM" --config "$2" --state-dir "$dir/state" --smtp 127.0.0.1:0 \
		--smtps 127.0.0.1:0 --https 127.0.0.1:0 --control 127.0.0.1:0 >"$dir/stdout" 2>"$dir/stderr"
	RC=$?
	ERR=$(cat "$dir/stderr")
	READY=$([ -e "$dir/state/edsim.ready" ] && echo yes || echo no)
	SANITIZER=$(ls "$dir"/sanitizer* 2>/dev/null | head -1)
}
# expect_error NAME FILE PREFIX [MORE]: the whole set of checks for one bad file.
expect_error() {
	local name=$1 file=$2 prefix=$3
	try_config "$name" "$file"
	check "$name: exit status 1" 1 "$RC"
	check "$name: stderr starts with '$prefix'" "$prefix" "${ERR:0:${#prefix}}"
	check "$name: no edsim.ready was written" no "$READY"
	check "$name: no sanitizer report" "" "$SANITIZER"
	[ -n "$SANITIZER" ] && head -30 "$SANITIZER"
}

f=$(write_config unknown-key.yaml <<'Y'
hostname: mail.test
limts: {per_day: 10}
Y
)
expect_error "unknown key limts" "$f" "$f:2:1: unknown key 'limts': expected one of listen, hostname,"

f=$(write_config nested-unknown-key.yaml <<'Y'
limits:
  per_day: 10
  per_hour: 5
Y
)
expect_error "unknown key limits.per_hour" "$f" "$f:3:3: unknown key 'per_hour': expected one of message_bytes,"

f=$(write_config bad-duration.yaml <<'Y'
limits:
  command_timeout: 10x
Y
)
expect_error "bad duration 10x" "$f" \
	"$f:2:20: limits.command_timeout: expected a duration such as 500ms, 60s, 10m, 1h or 3d, found '10x'"

f=$(write_config wrong-type.yaml <<'Y'
users: 5
Y
)
expect_error "users: 5 (wrong type)" "$f" "$f:1:8: users: expected a list of {name, password, approved_senders}"

f=$(write_config negative.yaml <<'Y'
# quotas
limits: {per_day: -1}
Y
)
expect_error "a negative count" "$f" "$f:2:19: limits.per_day: expected a non-negative integer"

f=$(write_config syntax.yaml <<'Y'
hostname: mail.test
limits: {message_bytes: [1, 2}
Y
)
expect_error "YAML syntax error (unclosed flow sequence)" "$f" "$f:2:30: YAML syntax error: did not find expected ',' or ']'"

f=$(write_config tab.yaml <<'Y'
limits:
	per_day: 1
Y
)
expect_error "YAML syntax error (tab indentation)" "$f" "$f:2:1: YAML syntax error: found character that cannot start any token"

f=$(write_config two-errors.yaml <<'Y'
limits:
  command_timeout: soon
users: [{name: ocid1.user.oc1..a, passwd: x}]
Y
)
expect_error "two errors" "$f" "$f:2:20: limits.command_timeout:"
check_contains "two errors: the second one is reported too" "$f:3:35: unknown key 'passwd'" "$ERR"
check_contains "two errors: and the missing password" "$f:3:9: users[].password: expected a string" "$ERR"

expect_error "a missing file" "$T/no-such.yaml" "$T/no-such.yaml: cannot open: No such file or directory"

# --- relay, retry, dkim, webhooks (issue 5) --------------------------------------
f=$(write_config relay-mode.yaml <<'Y'
relay: {mode: carrier-pigeon}
Y
)
expect_error "relay.mode unknown" "$f" "$f:1:15: relay.mode: expected capture, smarthost or mx"

f=$(write_config relay-tls.yaml <<'Y'
relay:
  mode: capture
  tls: always
Y
)
expect_error "relay.tls unknown" "$f" "$f:3:8: relay.tls: expected none, may or encrypt"

f=$(write_config relay-nohost.yaml <<'Y'
relay: {mode: smarthost}
Y
)
expect_error "smarthost without a host" "$f" "$f:1:8: relay.host: mode smarthost needs a host"

f=$(write_config relay-auth-clear.yaml <<'Y'
relay: {mode: smarthost, host: 127.0.0.1, tls: none, user: u, password: p}
Y
)
expect_error "AUTH in clear refused" "$f" "$f:1:8: relay.user: AUTH is sent only under TLS: set relay.tls to may or encrypt"

f=$(write_config relay-port.yaml <<'Y'
relay: {port: 70000}
Y
)
expect_error "relay.port out of range" "$f" "$f:1:15: relay.port: expected a port number (1-65535)"

f=$(write_config retry-factor.yaml <<'Y'
retry: {factor: 0.5}
Y
)
expect_error "retry.factor below 1" "$f" "$f:1:17: retry.factor: expected a number from 1 to 100"

f=$(write_config retry-cap.yaml <<'Y'
retry: {first: 10m, cap: 1m}
Y
)
expect_error "retry.cap below first" "$f" "$f:1:8: retry: expected first > 0 and cap >= first"

f=$(write_config webhook-url.yaml <<'Y'
webhooks:
  - {url: "ftp://127.0.0.1/hook"}
Y
)
expect_error "webhook URL not http(s)" "$f" "$f:2:11: webhooks[].url: expected an http:// or https:// URL"

f=$(write_config dkim-missing.yaml <<'Y'
dkim:
  - {domain: example.com, selector: s1}
Y
)
expect_error "dkim entry without a key" "$f" "$f:2:5: dkim[].key: expected"

f=$(write_config dkim-nofile.yaml <<'Y'
dkim:
  - {domain: example.com, selector: s1, key: /nonexistent/s1.pem}
Y
)
expect_error "dkim key file missing" "$f" "edsim: dkim: cannot read key /nonexistent/s1.pem"

f=$(write_config relay-badhost.yaml <<'Y'
relay: {mode: smarthost, host: "no-such-host.invalid"}
Y
)
expect_error "smarthost that does not resolve" "$f" "edsim: relay.host no-such-host.invalid:"

# --- TLS files: checked at start although the contexts are made on first use --
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj /CN=localhost \
	-days 1 -keyout "$T/key1.pem" -out "$T/cert1.pem" 2>/dev/null
openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$T/key2.pem" 2>/dev/null
echo "not a certificate" >"$T/garbage.pem"
f=$(write_config tls-nofile.yaml <<Y
tls: {cert: /nonexistent/cert.pem, key: $T/key1.pem}
Y
)
expect_error "tls.cert missing" "$f" "edsim: /nonexistent/cert.pem: error:"
f=$(write_config tls-garbage.yaml <<Y
tls: {cert: $T/garbage.pem, key: $T/key1.pem}
Y
)
expect_error "tls.cert not a certificate" "$f" "edsim: $T/garbage.pem: error:"
f=$(write_config tls-mismatch.yaml <<Y
tls: {cert: $T/cert1.pem, key: $T/key2.pem}
Y
)
expect_error "tls.key not the certificate's" "$f" "edsim: $T/key2.pem: error:" "key values mismatch"
check_contains "tls.key not the certificate's: OpenSSL's reason" "key values mismatch" "$ERR"
f=$(write_config relay-ca-garbage.yaml <<Y
relay: {tls: may, ca: $T/garbage.pem}
Y
)
expect_error "relay.ca not a certificate" "$f" "edsim: relay.ca: cannot read $T/garbage.pem"
f=$(write_config tls-good.yaml <<Y
tls: {cert: $T/cert1.pem, key: $T/key1.pem}
Y
)
edsim_start tls-good --config "$f"
out=$(openssl s_client -connect "127.0.0.1:$SMTPS_PORT" -CAfile "$T/cert1.pem" </dev/null 2>&1)
check_contains "a configured pair: its certificate is served (context made on first use)" \
	"Verify return code: 0 (ok)" "$out"
edsim_stop tls-good

# --- profile: the provider edsim plays (sim/profiles.c) ---------------------------
f=$(write_config profile-unknown.yaml <<'Y'
profile: gmail
Y
)
expect_error "an unknown profile" "$f" "edsim: profile: unknown profile 'gmail' (edsim knows: oci, ses)"
f=$(write_config profile-list.yaml <<'Y'
profile: [oci]
Y
)
expect_error "profile not a string" "$f" "$f:1:10: profile: expected a string"
out=$("$EDSIM" --profile nope --state-dir "$T/flag-profile" --smtp 127.0.0.1:0 --smtps off \
	--https off --control off 2>&1)
check "--profile nope: exit status 1" 1 "$?"
check "--profile nope: the profiles edsim knows" \
	"edsim: profile: unknown profile 'nope' (edsim knows: oci, ses)" "$out"
f=$(write_config profile-oci.yaml <<'Y'
profile: oci
Y
)
edsim_start profile-oci --config "$f" --profile oci
check_contains "profile: oci and --profile oci: the OCI greeting" "ESMTP Email Delivery simulator" \
	"$(timeout 5 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1"; IFS= read -r l <&3; echo "$l"' _ "$SMTP_PORT")"
edsim_stop profile-oci

# The same options with a good file do start (so the failures above are the file's).
f=$(write_config good.yaml <<'Y'
hostname: mail.test
limits: {command_timeout: 10s, per_day: 10}
users: [{name: ocid1.user.oc1..a, password: x, approved_senders: [a@example.com]}]
Y
)
edsim_start good --config "$f"
check "a good file: edsim starts and writes edsim.ready" yes \
	"$([ -e "$T/good/state/edsim.ready" ] && echo yes || echo no)"
edsim_stop good
