#!/bin/sh
# postfix-mta.sh - the "postfix" client of edsim-conform: a private Postfix
# instance that relays the case's message to edsim, the way a Postfix
# null client with a smarthost does (relayhost, mandatory STARTTLS, SASL).
#
#   postfix-mta.sh start    writes main.cf, master.cf and the SASL password
#                           map to $EDSIM_WORKDIR/postfix/etc and starts
#                           `postfix -c $EDSIM_WORKDIR/postfix/etc start`
#   postfix-mta.sh submit   `sendmail -C DIR -i -f FROM TO < EML`
#   postfix-mta.sh stop     prints the queue and the instance's mail log,
#                           stops the instance (and kills what is left of it),
#                           and sums up: exit 0 when the message was sent,
#                           1 when it was bounced or is still queued, with
#                           Postfix's last reason (it names edsim's reply).
#
# Everything comes from the EDSIM_* variables the runner sets: EDSIM_WORKDIR,
# EDSIM_SMTP_HOST, EDSIM_SMTP_PORT, EDSIM_CA, EDSIM_USER, EDSIM_PASSWORD,
# EDSIM_FROM, EDSIM_TO, EDSIM_EML, EDSIM_MESSAGE_ID.
#
# The instance lives in $EDSIM_WORKDIR/postfix: etc (config_directory),
# queue (queue_directory), data (data_directory), maillog (maillog_file).
# It has no inet listener (no smtpd at all): mail enters with sendmail
# through the maildrop and pickup, leaves with the smtp client. Each case has
# its own directories, master pid file and sockets, so instances of
# parallel cases do not meet; /etc/postfix and the system instance are not
# used. Postfix's own DSNs (bounces to the sender) are discarded instead of
# relayed, so that edsim only sees the case's message. Needs root (postfix
# -c with a private config directory, the queue owned by root).
#
# Retries are Postfix's own, made short for a test: minimal_backoff_time 2s,
# maximal_backoff_time 4s, queue_run_delay 1s (retries about 1 s apart:
# qmgr takes a deferred message back when its retry time is at most 1 s
# away). Not 1s: a message deferred for 1 s could be taken back at once,
# while the smtp process that deferred it still held the queue file's lock,
# so qmgr logged "skipped, still being delivered" and put it off for 60 s
# (past a case's budget).
# Nothing else is shortened:
# the SMTP client's reply timeouts are Postfix's defaults, RFC 5321's 5
# minutes for MAIL FROM (10 for the end of data), and the queue lifetime is
# Postfix's 5 days. So a server that stalls a reply for minutes keeps
# Postfix's smtp process waiting, within RFC limits, for that long; the
# retry comes after the timeout (see main.cf below).
#
# Each start begins with an empty instance: what an earlier run into the
# same work directory left (its queue above all) is removed first.
set -u

PATH=$PATH:/usr/sbin:/usr/lib/postfix/sbin
export PATH

die() {
	echo "postfix-mta.sh: $*" >&2
	exit 2
}

: "${EDSIM_WORKDIR:?postfix-mta.sh: EDSIM_WORKDIR is not set}"
D=$EDSIM_WORKDIR/postfix
CONF=$D/etc
QUEUE=$D/queue
LOG=$D/maillog
# data_directory: $D/data, unless the postfix user cannot reach $D (a
# directory above it closed to others, as mktemp -d makes them): Postfix
# opens its lock and PRNG files there as the postfix user. Then it is a
# private directory under /tmp, named in $D/data.path and
# removed by stop.
DATA=$D/data
[ -f "$D/data.path" ] && DATA=$(cat "$D/data.path")
# queue_directory: $D/queue, unless its sockets' paths would pass the
# 108-byte limit of a unix-domain socket name (a deep work directory): then
# a short private directory under /tmp, named in $D/queue.path and removed
# by stop.
[ -f "$D/queue.path" ] && QUEUE=$(cat "$D/queue.path")

case $D in
*[[:space:]]*) die "the work directory must not contain white space: $D" ;;
esac

write_config() {
	: "${EDSIM_SMTP_PORT:?}" "${EDSIM_CA:?}" "${EDSIM_USER:?}" "${EDSIM_PASSWORD:?}"
	host=${EDSIM_SMTP_HOST:-127.0.0.1}
	mkdir -p "$D" || die "cannot create $D"
	if [ ${#QUEUE} -gt 80 ]; then
		QUEUE=$(mktemp -d /tmp/edsim-pfq.XXXXXX) || die "cannot create a queue directory"
		echo "$QUEUE" >"$D/queue.path"
		echo "postfix-mta.sh: the work directory is too deep for socket names; queue_directory = $QUEUE"
	fi
	mkdir -p "$CONF" "$QUEUE" || die "cannot create $D"
	chmod 755 "$D" "$CONF" "$QUEUE"
	if ! setpriv --reuid=postfix --regid=postfix --clear-groups test -x "$D" 2>/dev/null; then
		DATA=$(mktemp -d /tmp/edsim-conform-postfix.XXXXXX) ||
			die "cannot create a data directory"
		echo "$DATA" >"$D/data.path"
		echo "postfix-mta.sh: the postfix user cannot reach $D; data_directory = $DATA"
	fi
	mkdir -p "$DATA" && chown postfix "$DATA" && chmod 700 "$DATA" ||
		die "cannot give $DATA to postfix"
	# The SASL password map: texthash needs no postmap. The password is
	# what follows the first colon, so it may hold colons itself.
	umask 077
	printf '[%s]:%s %s:%s\n' "$host" "$EDSIM_SMTP_PORT" "$EDSIM_USER" "$EDSIM_PASSWORD" \
		>"$CONF/sasl_passwd" || die "cannot write $CONF/sasl_passwd"
	umask 022
	cat >"$CONF/main.cf" <<EOF || die "cannot write $CONF/main.cf"
# written by postfix-mta.sh for an edsim-conform case
compatibility_level = 3.6
queue_directory = $QUEUE
data_directory = $DATA
mail_owner = postfix
setgid_group = postdrop
myhostname = conform.test
mydomain = conform.test
myorigin = \$myhostname
mydestination =
relay_domains =
local_recipient_maps =
local_transport = error:5.1.1 local delivery is disabled
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
biff = no
notify_classes =
delay_warning_time = 0h

# Everything goes to edsim.
relayhost = [$host]:$EDSIM_SMTP_PORT
default_transport = smtp
relay_transport = smtp
# Postfix's own DSNs (null sender) are discarded, not relayed to edsim.
sender_dependent_default_transport_maps = inline:{<>=discard}

# Mandatory STARTTLS with edsim's certificate as CA, AUTH with the case's
# credentials.
smtp_tls_security_level = encrypt
smtp_tls_CAfile = $EDSIM_CA
smtp_tls_loglevel = 1
smtp_sasl_auth_enable = yes
smtp_sasl_password_maps = texthash:$CONF/sasl_passwd
smtp_sasl_security_options = noanonymous
smtp_sasl_tls_security_options = noanonymous

# Short retries for a test: only the waits between attempts are scaled
# down. Postfix's SMTP timeouts stay at their defaults, RFC 5321's minimums
# (section 4.5.3.2: smtp_helo_timeout, smtp_mail_timeout, smtp_rcpt_timeout
# 300s, smtp_data_init_timeout 120s, smtp_data_xfer_timeout 180s,
# smtp_data_done_timeout 600s): a server that holds a reply is waited for
# that long before the delivery is deferred. The queue lifetime stays at
# Postfix's default (5d) too: a lifetime shorter than one such wait would
# expire the message the moment its first attempt times out, before any
# retry (with 5m, a MAIL FROM held for 6 minutes was deferred after 315 s
# and at once "status=expired, returned to sender").
minimal_backoff_time = 2s
maximal_backoff_time = 4s
queue_run_delay = 1s

maillog_file = $LOG
maillog_file_prefixes = $D
EOF
	# Only what a relay needs: no smtpd, no inet listener, no local
	# delivery. Nothing is chrooted.
	cat >"$CONF/master.cf" <<'EOF' || die "cannot write $CONF/master.cf"
# written by postfix-mta.sh: a relay-only instance without any listener
# service type  private unpriv  chroot  wakeup  maxproc command + args
pickup     unix  n       -       n       60      1       pickup
cleanup    unix  n       -       n       -       0       cleanup
qmgr       unix  n       -       n       300     1       qmgr
tlsmgr     unix  -       -       n       1000?   1       tlsmgr
rewrite    unix  -       -       n       -       -       trivial-rewrite
bounce     unix  -       -       n       -       0       bounce
defer      unix  -       -       n       -       0       bounce
trace      unix  -       -       n       -       0       bounce
verify     unix  -       -       n       -       1       verify
flush      unix  n       -       n       1000?   0       flush
proxymap   unix  -       -       n       -       -       proxymap
showq      unix  n       -       n       -       -       showq
error      unix  -       -       n       -       -       error
retry      unix  -       -       n       -       -       error
discard    unix  -       -       n       -       -       discard
scache     unix  -       -       n       -       1       scache
smtp       unix  -       -       n       -       -       smtp
relay      unix  -       -       n       -       -       smtp
postlog    unix-dgram n  -       n       -       1       postlogd
EOF
}

# An earlier run into the same work directory (edsim-conform run again with
# the same --out) leaves its instance behind: a queue that still holds the
# message a run stopped at the budget could not send, a mail log, perhaps
# the private data and queue directories under /tmp if its stop never ran.
# Postfix would deliver that stale message first, on the case's connection
# 1, and the case's own message would meet a scenario that is not its own
# (seen: a stall-then-timeout run after one stopped at the budget graded
# WARN, its message sent at once on connection 2). Each start begins from
# nothing.
fresh_instance() {
	case $DATA in
	"$D/data" | /tmp/edsim-conform-postfix.*) rm -rf "$DATA" ;;
	esac
	case $QUEUE in
	"$D/queue" | /tmp/edsim-pfq.*) rm -rf "$QUEUE" ;;
	esac
	rm -rf "$CONF" "$D/data" "$D/queue" "$LOG" "$D/data.path" "$D/queue.path"
	DATA=$D/data
	QUEUE=$D/queue
}

# Processes of this instance that outlived `postfix stop`: Postfix's
# daemons run in the queue directory, so their /proc/PID/cwd names it.
leftovers() {
	for p in /proc/[0-9]*; do
		cwd=$(readlink "$p/cwd" 2>/dev/null) || continue
		case $cwd in
		"$QUEUE" | "$QUEUE"/*) echo "${p#/proc/}" ;;
		esac
	done
}

# The queue ID of the case's message (from cleanup's message-id= line).
queue_id() {
	[ -n "${EDSIM_MESSAGE_ID:-}" ] || return 1
	grep -F "message-id=$EDSIM_MESSAGE_ID" "$LOG" 2>/dev/null |
		sed -n 's/.* \([0-9A-F][0-9A-F]*\): message-id=.*/\1/p' | tail -n 1
}

summary() {
	qid=$(queue_id)
	if [ -z "$qid" ]; then
		echo "postfix: the message never reached the queue"
		return 1
	fi
	last=$(grep -F " $qid: to=<${EDSIM_TO:-}>" "$LOG" | grep ' status=' | tail -n 1)
	status=$(printf '%s\n' "$last" | sed -n 's/.* status=\([a-z]*\).*/\1/p')
	reason=$(printf '%s\n' "$last" | sed -n 's/.* status=[a-z]* //p')
	# qmgr's "QID: from=<...>, status=expired, returned to sender" ends it.
	if grep -F " $qid: from=<" "$LOG" | grep -q ' status=expired'; then
		echo "postfix: not delivered (expired, returned to sender): $qid $reason"
		return 1
	fi
	case $status in
	sent)
		echo "postfix: delivered: $qid status=sent $reason"
		return 0 ;;
	bounced)
		echo "postfix: not delivered (bounced): $qid $reason" ;;
	deferred)
		echo "postfix: not delivered (still queued, deferred): $qid $reason" ;;
	*)
		echo "postfix: not delivered (no delivery attempt had finished when Postfix stopped): $qid" ;;
	esac
	return 1
}

# sasl_plain: Cyrus SASL has its PLAIN mechanism. Postfix's smtp client
# authenticates through Cyrus SASL, whose PLAIN and LOGIN plugins are in
# libsasl2-modules, only recommended by libsasl2-2: without them every
# attempt is deferred with "SASL authentication failed; ... no mechanism
# available" and never reaches MAIL FROM.
sasl_plain() {
	for f in /usr/lib/sasl2/libplain.so* /usr/lib/*/sasl2/libplain.so*; do
		[ -e "$f" ] && return 0
	done
	return 1
}

case ${1:-} in
start)
	command -v postfix >/dev/null || die "postfix is not installed"
	[ "$(id -u)" = 0 ] || die "a private Postfix instance needs root"
	sasl_plain || die "Cyrus SASL has no PLAIN mechanism, so Postfix cannot authenticate to edsim: install libsasl2-modules"
	[ -z "$(leftovers)" ] || die "an instance already runs in $QUEUE"
	fresh_instance
	write_config
	postfix -c "$CONF" start || die "postfix -c $CONF start failed (see $LOG)"
	[ -n "$(leftovers)" ] || die "the Postfix master of $CONF is not running"
	echo "postfix-mta.sh: Postfix started with $CONF (master $(sed 1q "$QUEUE/pid/master.pid" | tr -d " "))"
	;;
submit)
	: "${EDSIM_FROM:?}" "${EDSIM_TO:?}" "${EDSIM_EML:?}"
	sendmail -C "$CONF" -i -f "$EDSIM_FROM" -- "$EDSIM_TO" <"$EDSIM_EML" ||
		die "sendmail -C $CONF failed (status $?)"
	echo "postfix-mta.sh: submitted $EDSIM_EML from $EDSIM_FROM to $EDSIM_TO"
	;;
stop)
	[ -d "$CONF" ] || die "no instance in $D"
	echo "---- postqueue -p"
	postqueue -c "$CONF" -p 2>&1
	[ -n "$(leftovers)" ] && postfix -c "$CONF" stop 2>&1
	# Whatever is left of this instance (a stuck smtp client, a master
	# that did not stop): by pid, found through the queue directory.
	pids=$(leftovers)
	if [ -n "$pids" ]; then
		echo "postfix-mta.sh: killing leftovers: $(echo $pids)"
		kill -9 $pids 2>/dev/null
	fi
	if [ -f "$D/data.path" ]; then
		rm -rf "$DATA"
		rm -f "$D/data.path"
	fi
	if [ -f "$D/queue.path" ]; then
		rm -rf "$QUEUE"
		rm -f "$D/queue.path"
	fi
	echo "---- $LOG"
	cat "$LOG" 2>/dev/null
	echo "----"
	summary
	;;
status)
	summary
	;;
*)
	echo "usage: postfix-mta.sh start|submit|stop|status" >&2
	exit 2
	;;
esac
