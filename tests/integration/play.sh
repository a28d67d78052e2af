#!/usr/bin/env bash
# play: `edsim play FILE` runs a scenario in the foreground with a live log
# of every line in and out, the rule that acts, and commands to try.
. "$(dirname "$0")/lib.bash"

dir=$T/play
mkdir -p "$dir"
scenario=$EDSIM_REPO/scenarios/oci/smtp/oci.smtp.server-error.yaml
ASAN_OPTIONS=detect_leaks=1:log_path=$dir/sanitizer "$EDSIM" play "$scenario" \
	--state-dir "$dir/state" --smtp 127.0.0.1:0 --smtps off --https off --control 127.0.0.1:0 \
	>"$dir/out" 2>"$dir/err" &
pid=$!
EDSIM_PID[play]=$pid
for _ in $(seq 1 100); do [ -f "$dir/state/edsim.ready" ] && break; sleep 0.05; done
SMTP_PORT=$(ready_field "$dir/state/edsim.ready" smtp)
CONTROL_PORT=$(ready_field "$dir/state/edsim.ready" control)
CA=$dir/state/edsim-cert.pem

timeout 20 swaks --server 127.0.0.1:"$SMTP_PORT" --tls --tls-ca-path "$CA" --auth PLAIN \
	--auth-user u --auth-password p --from a@example.com --to b@example.net \
	--header "Message-Id: <play-1@example.com>" >"$dir/swaks1" 2>&1
timeout 20 swaks --server 127.0.0.1:"$SMTP_PORT" --tls --tls-ca-path "$CA" --auth PLAIN \
	--auth-user u --auth-password p --from a@example.com --to b@example.net \
	--header "Message-Id: <play-1@example.com>" >"$dir/swaks2" 2>&1
sleep 0.3
kill -TERM "$pid"
wait "$pid"
rc=$?
unset "EDSIM_PID[play]"
out=$(cat "$dir/out")
echo "$out" | head -40

check "edsim play exits 0 on SIGTERM" 0 "$rc"
check_contains "the banner names the scenario" "edsim play: scenario oci.smtp.server-error (1 rule)" "$out"
check_contains "the banner gives the SMTP address" "SMTP with STARTTLS  127.0.0.1:$SMTP_PORT" "$out"
check_contains "it prints a swaks command to try" "swaks --server 127.0.0.1:$SMTP_PORT --tls --tls-ca-path $CA" "$out"
check_contains "it prints an openssl s_client command" "openssl s_client -starttls smtp -crlf -quiet -CAfile $CA -connect 127.0.0.1:$SMTP_PORT" "$out"
check_contains "it prints a curl command" "curl -s http://127.0.0.1:$CONTROL_PORT/api/v1/events" "$out"
check_contains "lines from the client are shown" "#1 C: MAIL FROM:<a@example.com>" "$out"
check_contains "lines to the client are shown" "#1 S: 250 2.1.0 Sender OK" "$out"
check_contains "the rule that acts is shown" "#1 ** rule 1 (line" "$out"
check_contains "the forced reply is shown" "#1 S: 451 Server error" "$out"
check_contains "the retry on connection 2 is accepted" "#2 S: 250 2.0.0 Ok: queued as" "$out"
check_not_contains "no colour codes when the output is not a terminal" $'\033[' "$out"
if ls "$dir"/sanitizer* >/dev/null 2>&1; then fail "edsim play: sanitizer report"; cat "$dir"/sanitizer*; else pass "edsim play: no sanitizer report"; fi
