#!/usr/bin/env bash
# conform_clients: the ready-made client definitions postfix, nodemailer and
# oci-sdk (conformance/clients/*.yaml), run by hand the way edsim-conform
# runs them, without the runner: an edsim per case with the runner's
# configuration and the case's scenario, the definition's commands with
# their placeholders filled in and the EDSIM_* variables set, through
# /bin/sh -c in the case directory with PATH = definitions dir : PATH,
# output in the case's client.log.
#
#   postfix     server-error-twice: Postfix retries and delivers once;
#               sender-not-authorized: bounced on the 5xx, no retry, its DSN
#               not relayed, `stop` exits 1 naming the code. Both instances
#               run at the same time (independent instances); a second
#               start in the same work directory begins with an empty queue.
#   nodemailer  connection-burst: delivered once; auth-invalid: exit 1
#               naming 535, one AUTH.
#   oci-sdk     429-twice-then-200: the SDK retries and delivers once;
#               sender-not-authorized: 404, not retried, exit 1.
#
# node_modules of conformance/clients/nodemailer and .../oci-sdk are
# installed with npm ci when missing or not the pinned versions.
. "$(dirname "$0")/lib.bash"

REPO=${EDSIM_REPO:-$(cd "$HERE/../.." && pwd)}
CLIENTS=$REPO/conformance/clients
SCEN=$REPO/scenarios/oci
USER_NAME=ocid1.user.oc1..conform
USER_PASSWORD=conform-password

# ---- node modules, installed when missing -------------------------------------------------
# installed DIR: the pinned versions of DIR/package.json are in DIR/node_modules.
installed() {
	(cd "$1" && node -e '
const want = require("./package.json").dependencies;
for (const [name, version] of Object.entries(want))
	if (require(`./node_modules/${name}/package.json`).version !== version) process.exit(1);' 2>/dev/null)
}
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
	fail "node and npm are on the PATH (needed for nodemailer and the OCI SDK)"
	exit 1
fi
for dir in nodemailer oci-sdk; do
	if ! installed "$CLIENTS/$dir"; then
		echo "installing $CLIENTS/$dir/node_modules (npm ci)"
		# flock on package.json: two runs at once do not install over each other.
		(cd "$CLIENTS/$dir" && flock "$CLIENTS/$dir/package.json" timeout 75 npm ci --no-audit --no-fund 2>&1 | tail -n 20)
	fi
	if installed "$CLIENTS/$dir"; then
		pass "$dir: the pinned packages are installed in conformance/clients/$dir/node_modules"
	else
		fail "$dir: npm ci in conformance/clients/$dir did not install the pinned packages"
	fi
done

# ---- a case as edsim-conform sets it up ---------------------------------------------------
# case_start NAME SCENARIO: edsim with the runner's configuration and the
# scenario, the message file, and $T/NAME/case.env with the EDSIM_* variables.
case_start() {
	local name=$1 scenario=$2 dir=$T/$1 tag
	mkdir -p "$dir"
	cat >"$dir/edsim.yaml" <<Y
auth: {required: true}
limits: {connections_per_ip: 50}
users:
  - name: $USER_NAME
    password: $USER_PASSWORD
    approved_senders: ["*@example.com"]
Y
	edsim_start "$name" --config "$dir/edsim.yaml" --scenario "$scenario" || return 1
	tag=$(od -An -N4 -tx1 /dev/urandom | tr -d ' \n')
	local id
	id=$(basename "$scenario" .yaml)
	cat >"$dir/case.env" <<E
export EDSIM_SMTP_HOST=127.0.0.1
export EDSIM_SMTP_PORT=$SMTP_PORT
export EDSIM_SMTPS_PORT=$SMTPS_PORT
export EDSIM_HTTPS_URL=https://127.0.0.1:$(ready_field "$dir/state/edsim.ready" https)
export EDSIM_USER='$USER_NAME'
export EDSIM_PASSWORD='$USER_PASSWORD'
export EDSIM_FROM=sender@example.com
export EDSIM_TO=rcpt@example.net
export EDSIM_SUBJECT='edsim-conform $id $tag'
export EDSIM_MESSAGE_ID='<$id.$tag@conform.edsim>'
export EDSIM_EML=$dir/message.eml
export EDSIM_CA=$CA
export EDSIM_WORKDIR=$dir
export EDSIM_CONTROL_URL=http://127.0.0.1:$CONTROL_PORT
export EDSIM_PROTOCOL=$([[ $id == oci.https.* ]] && echo https || echo smtp)
export EDSIM_CLIENTS_DIR=$CLIENTS
E
	(
		. "$dir/case.env"
		printf 'Date: %s\r\nFrom: <%s>\r\nTo: <%s>\r\nSubject: %s\r\nMessage-ID: %s\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=us-ascii\r\n\r\nThis message was sent by conform_clients.sh for case %s.\r\n' \
			"$(date -u '+%a, %d %b %Y %H:%M:%S +0000')" "$EDSIM_FROM" "$EDSIM_TO" "$EDSIM_SUBJECT" \
			"$EDSIM_MESSAGE_ID" "$id" >"$EDSIM_EML"
	)
}

# var NAME VAR: a variable of case NAME.
var() { (. "$T/$1/case.env" && eval "echo \"\$$2\""); }

# def_value CLIENT KEY: the one-line, double-quoted KEY of CLIENT's definition.
def_value() { sed -n "s/^$2: \"\(.*\)\"\$/\1/p" "$CLIENTS/$1.yaml"; }

# client NAME CLIENT KEY: runs the definition's KEY command for case NAME as
# the runner does; output appended to $T/NAME/client.log; its exit status.
client() {
	local name=$1 cmd
	cmd=$(def_value "$2" "$3")
	if [ -z "$cmd" ]; then
		echo "no $3 in $CLIENTS/$2.yaml"
		return 127
	fi
	(
		. "$T/$name/case.env"
		for p in smtp_host smtp_port smtps_port https_url user password from to subject \
			message_id eml ca workdir control_url protocol clients_dir; do
			v=EDSIM_${p^^}
			cmd=${cmd//\{$p\}/${!v}}
		done
		cd "$EDSIM_WORKDIR" && PATH=$CLIENTS:$PATH timeout 60 /bin/sh -c "$cmd" \
			</dev/null >>"$EDSIM_WORKDIR/client.log" 2>&1
	)
}

# capi NAME PATH: GET on case NAME's control API.
capi() { curl -s "$(var "$1" EDSIM_CONTROL_URL)$2"; }
# events NAME: "stage code" of every event, space-separated.
events() { capi "$1" "/api/v1/events?since=0" | json "' '.join('%s:%s' % (e['stage'], e['code']) for e in d['events'])"; }
# stored NAME: the Message-IDs of the stored messages, space-separated.
stored() { capi "$1" "/api/v1/messages?limit=1000" | json "' '.join(m['message_id'] for m in d['messages'])"; }
# decided NAME: as the runner's mta_decided: accepted, or a 5xx outside the relay.
decided() {
	capi "$1" "/api/v1/events?since=0" |
		json "any(e['type'] == 'accepted' or (e.get('code') or 0) >= 500 and e.get('stage') != 'relay' for e in d['events'])" |
		grep -q True
}
# gaps NAME STAGE: seconds between the events at STAGE, space-separated.
gaps() {
	capi "$1" "/api/v1/events?since=0" | python3 -c '
import datetime, json, sys
t = [datetime.datetime.fromisoformat(e["time"].replace("Z", "+00:00")).timestamp()
     for e in json.load(sys.stdin)["events"] if e["stage"] == sys.argv[1]]
print(" ".join("%.2f" % (b - a) for a, b in zip(t, t[1:])))' "$2"
}
log_of() { cat "$T/$1/client.log" 2>/dev/null; }
show_log() { sed 's/^/    | /' "$T/$1/client.log" | tail -n "${2:-15}"; }

# ---- postfix: two cases at once --------------------------------------------------------------
if [ "$(id -u)" != 0 ] || ! PATH=$PATH:/usr/sbin command -v postfix >/dev/null; then
	fail "postfix: needs root and the postfix package (CI runs as root with it installed)"
else
	case_start pf_retry "$SCEN/smtp/composite/oci.smtp.composite.server-error-twice.yaml" || exit 1
	case_start pf_5xx "$SCEN/smtp/oci.smtp.sender-not-authorized.yaml" || exit 1
	client pf_retry postfix start
	rc1=$?
	client pf_5xx postfix start
	rc2=$?
	check "postfix: start exits 0 for both cases (two private instances)" "0 0" "$rc1 $rc2"
	check "postfix: the instances have their own master (pid files)" 2 \
		"$(cat "$T"/pf_retry/postfix/queue/pid/master.pid "$T"/pf_5xx/postfix/queue/pid/master.pid 2>/dev/null | tr -d ' ' | sort -u | wc -l)"
	client pf_retry postfix submit
	rc1=$?
	client pf_5xx postfix submit
	rc2=$?
	check "postfix: submit (sendmail -C) exits 0 for both" "0 0" "$rc1 $rc2"
	started=$(date +%s)
	wait_until 150 0.2 decided pf_retry
	wait_until 50 0.2 decided pf_5xx
	echo "    decided after $(($(date +%s) - started)) s"
	sleep 1.5 # as the runner: let a retry or a duplicate show
	client pf_retry postfix stop
	rc1=$?
	client pf_5xx postfix stop
	rc2=$?

	# server-error-twice: delivered after Postfix's own retries.
	check "postfix server-error-twice: 451, 451, then accepted at the end of DATA" \
		"data-end:451 data-end:451 data-end:250" "$(events pf_retry | tr ' ' '\n' | grep '^data-end' | xargs)"
	check "postfix server-error-twice: stored once, with the case's Message-ID" \
		"$(var pf_retry EDSIM_MESSAGE_ID)" "$(stored pf_retry)"
	g=$(gaps pf_retry data-end)
	check "postfix server-error-twice: retries at least 1 s apart ($g s)" True \
		"$(python3 -c "print(all(float(x) >= 0.9 for x in '$g'.split()) and len('$g'.split()) == 2)")"
	check "postfix server-error-twice: stop exits 0 (sent)" 0 "$rc1"
	check_contains "postfix server-error-twice: stop sums up" "postfix: delivered:" "$(log_of pf_retry)"
	check_contains "postfix server-error-twice: the log shows the deferral" \
		"status=deferred (host 127.0.0.1[127.0.0.1] said: 451 Server error" "$(log_of pf_retry)"
	check_contains "postfix server-error-twice: over mandatory STARTTLS" "TLS connection established" "$(log_of pf_retry)"

	# sender-not-authorized: a 5xx is bounced at once; the DSN is not relayed.
	code=$(capi pf_5xx "/api/v1/events?since=0" | json "[e['code'] for e in d['events'] if (e.get('code') or 0) >= 500][0]")
	check "postfix sender-not-authorized: one 5xx from edsim, nothing stored" "5|" \
		"${code:0:1}|$(stored pf_5xx)"
	check "postfix sender-not-authorized: one transaction only (no retry, no DSN relayed to edsim)" 1 \
		"$(capi pf_5xx "/api/v1/events?since=0" | json "len([e for e in d['events'] if e['stage'] == 'mail'])")"
	check "postfix sender-not-authorized: stop exits 1 (not delivered)" 1 "$rc2"
	check_contains "postfix sender-not-authorized: stop names the bounce and edsim's $code" \
		"postfix: not delivered (bounced):" "$(grep '^postfix: ' "$T/pf_5xx/client.log")"
	check_contains "postfix sender-not-authorized: ... with the code" "said: $code " \
		"$(grep '^postfix: ' "$T/pf_5xx/client.log")"
	check_contains "postfix sender-not-authorized: Postfix's DSN was discarded" \
		"postfix/discard" "$(log_of pf_5xx)"

	# Run again in the same work directory (edsim-conform with the same
	# --out): start begins with an empty instance. A message an earlier run
	# left queued (here one dropped into the maildrop of the stopped
	# instance) would otherwise be sent first, on the case's connection 1.
	(. "$T/pf_retry/case.env" && printf 'Subject: stale\r\n\r\nleft by an earlier run\r\n' |
		PATH=$PATH:/usr/sbin sendmail -C "$EDSIM_WORKDIR/postfix/etc" -i -f "$EDSIM_FROM" -- "$EDSIM_TO") \
		>/dev/null 2>&1
	check "postfix: a stale message waits in the stopped instance's maildrop" 1 \
		"$(find "$T/pf_retry/postfix/queue/maildrop" -type f | wc -l)"
	client pf_retry postfix start
	rc1=$?
	check "postfix: start again in the same work directory exits 0" 0 "$rc1"
	check "postfix: ... with an empty queue (the stale message is gone)" \
		"Mail queue is empty" "$(PATH=$PATH:/usr/sbin postqueue -c "$T/pf_retry/postfix/etc" -p 2>&1)"
	check "postfix: ... and a mail log of its own" "" \
		"$(grep -F "$(var pf_retry EDSIM_MESSAGE_ID)" "$T/pf_retry/postfix/maillog")"
	client pf_retry postfix stop

	# Nothing of either instance is left.
	left=$(for p in /proc/[0-9]*; do
		case $(readlink "$p/cwd" 2>/dev/null) in "$T"/pf_*) echo "${p#/proc/}" ;; esac
	done)
	check "postfix: no process of either instance is left after stop" "" "$left"
	check "postfix: the data directories outside the case ($T is 0700) are removed" "" \
		"$(cat "$T"/pf_*/postfix/data.path 2>/dev/null)"
	for n in pf_retry pf_5xx; do
		echo "    --- $n client.log (end)"
		show_log "$n" 6
		edsim_stop "$n"
	done
fi

# ---- nodemailer ----------------------------------------------------------------------------
case_start nm_ok "$SCEN/smtp/composite/oci.smtp.composite.connection-burst.yaml" || exit 1
client nm_ok nodemailer command
check "nodemailer connection-burst: exits 0" 0 "$?"
check "nodemailer connection-burst: stored once, with the case's Message-ID" \
	"$(var nm_ok EDSIM_MESSAGE_ID)" "$(stored nm_ok)"
check_contains "nodemailer connection-burst: prints the acceptance" "accepted: 250" "$(log_of nm_ok)"
show_log nm_ok 3
edsim_stop nm_ok

case_start nm_auth "$SCEN/smtp/oci.smtp.auth-invalid.yaml" || exit 1
client nm_auth nodemailer command
check "nodemailer auth-invalid: exits 1" 1 "$?"
check_contains "nodemailer auth-invalid: names 535" "failed: 535 Authentication credentials invalid" "$(log_of nm_auth)"
check "nodemailer auth-invalid: one AUTH, nothing stored" "auth:535|" \
	"$(events nm_auth | tr ' ' '\n' | grep '^auth' | xargs)|$(stored nm_auth)"
check_not_contains "nodemailer auth-invalid: the output has no credentials" "$USER_PASSWORD" "$(log_of nm_auth)"
show_log nm_auth 3
edsim_stop nm_auth

# ---- oci-sdk -------------------------------------------------------------------------------
case_start sdk_429 "$SCEN/https/composite/oci.https.composite.429-twice-then-200.yaml" || exit 1
client sdk_429 oci-sdk command
check "oci-sdk 429-twice-then-200: exits 0" 0 "$?"
check "oci-sdk 429-twice-then-200: three requests, 429, 429, 200" "https:429 https:429 https:200" \
	"$(events sdk_429 | tr ' ' '\n' | grep '^https' | xargs)"
check "oci-sdk 429-twice-then-200: stored once, with the case's Message-ID and subject" \
	"$(var sdk_429 EDSIM_MESSAGE_ID)|$(var sdk_429 EDSIM_SUBJECT)" \
	"$(capi sdk_429 "/api/v1/messages" | json "'|'.join([' '.join(m['message_id'] for m in d['messages']), ' '.join(str(m['subject']) for m in d['messages'])])")"
check "oci-sdk 429-twice-then-200: prints each attempt" "429 TooManyRequests|429 TooManyRequests|200" \
	"$(grep '^attempt ' "$T/sdk_429/client.log" | sed 's/^attempt [0-9]* at [0-9.]* s: \([0-9]*\)\( [A-Za-z]*\)\{0,1\}.*/\1\2/' | paste -sd '|')"
g=$(gaps sdk_429 https)
check "oci-sdk 429-twice-then-200: the SDK backed off >= 1 s, longer the second time ($g s)" True \
	"$(python3 -c "g = [float(x) for x in '$g'.split()]; print(len(g) == 2 and g[0] >= 1 and g[1] > g[0])")"
show_log sdk_429 4
edsim_stop sdk_429

case_start sdk_404 "$SCEN/https/oci.https.sender-not-authorized.yaml" || exit 1
client sdk_404 oci-sdk command
check "oci-sdk sender-not-authorized: exits 1" 1 "$?"
check "oci-sdk sender-not-authorized: one request (not retried), nothing stored" "https:404|" \
	"$(events sdk_404 | tr ' ' '\n' | grep '^https' | xargs)|$(stored sdk_404)"
check_contains "oci-sdk sender-not-authorized: names the status and code" \
	"failed: 404 NotAuthorizedOrNotFound" "$(log_of sdk_404)"
show_log sdk_404 3
edsim_stop sdk_404
